//! Story → MISP event: the pure mapping of BRIEF §4.
//!
//! Deterministic: the same story and options always give byte-identical JSON; every uuid is
//! UUIDv5(event uuid, stable key) ([`ids::uuid_for`]).
//!
//! * [`taranis`]: the `taranis-story` / `taranis-news-item` objects (Taranis-compatible);
//! * [`report`]: the Event Report markdown;
//! * [`tags`]: event tags and the effective TLP;
//! * [`content`]: indicators, observables and SDOs (STIX content);
//! * [`text`]: the 4-byte policy, control characters, MISP size bounds, encodings;
//! * this module: the event itself and the final pass every attribute goes through (clean, bound, drop empty,
//!   validate type/category, merge duplicates, unique uuids, stable order). See `docs/mapping.md`.

pub mod content;
pub mod ids;
pub mod report;
pub mod tags;
pub mod taranis;
pub mod text;

use std::collections::{BTreeMap, BTreeSet};

use serde::Deserialize;

use chrono::{DateTime, Datelike, Utc};
use uuid::Uuid;

use crate::error::Warning;
use crate::misp::event::{Attribute, Event, MispObject, Tag};
use crate::misp::types;
use crate::story::{NewsItem, Story, StoryAttribute, StoryLink, StoryTag};

use text::{
    MAX_NAME_CHARS, MAX_REPORT_BYTES, MAX_TEXT_BYTES, clean, clean_with, encode_url_four_byte,
    has_four_byte, one_line, truncate_bytes, truncate_chars,
};

/// What to do with 4-byte UTF-8 characters (emoji, …): MISP's default utf8mb3 schema answers 500 on them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FourBytePolicy {
    /// Replace each with U+FFFD (default).
    #[default]
    Replace,
    /// Remove them.
    Strip,
    /// Refuse the story (permanent error).
    Reject,
    /// Send them unchanged (for MISP instances on utf8mb4).
    Keep,
}

/// Event-level settings that come from configuration, not from the story.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MappingOptions {
    /// 0–4; 0 is really sent.
    pub distribution: u8,
    /// Required when distribution is 4.
    pub sharing_group_id: Option<u64>,
    /// 1–4 (default 4, undefined).
    pub threat_level_id: u8,
    /// 0–2 (default 0, initial).
    pub analysis: u8,
    /// Publish the event (default false).
    pub published: bool,
    /// Tags added to every event.
    pub extra_tags: Vec<String>,
    pub four_byte: FourBytePolicy,
}

impl Default for MappingOptions {
    fn default() -> Self {
        MappingOptions {
            distribution: 0,
            sharing_group_id: None,
            threat_level_id: 4,
            analysis: 0,
            published: false,
            extra_tags: Vec::new(),
            four_byte: FourBytePolicy::Replace,
        }
    }
}

/// Why a story cannot become a MISP event.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MappingError {
    /// The 4-byte policy is `reject` and the story holds such a character.
    #[error(
        "story {story_id}: {field} contains a 4-byte UTF-8 character (misp.four_byte_chars policy is reject)"
    )]
    FourByteChar { story_id: String, field: String },
}

/// The info used when neither the story nor any news item has a title.
pub const UNTITLED: &str = "Untitled story";
/// The event date used when the story and its news items carry no date at all (deterministic, never "today").
pub const FALLBACK_DATE: &str = "1970-01-01";

/// Map one story to its MISP event.
///
/// Never panics; fails only when the 4-byte policy is `reject` and the story holds such a character.
pub fn story_to_event(
    story: &Story,
    opts: &MappingOptions,
) -> Result<(Event, Vec<Warning>), MappingError> {
    let event_uuid = story.id;
    let story_id = event_uuid.hyphenated().to_string();
    let mut warnings = Vec::new();
    let cleaned = clean_story(story, opts.four_byte)?;

    let content = content::map_content(event_uuid, &story.objects);
    warnings.extend(content.warnings);

    let extra = clean_all(&opts.extra_tags, opts.four_byte, &story_id, "extra_tags")?;
    let content_tags = clean_all(&content.tags, opts.four_byte, &story_id, "content tags")?;
    let (tag_names, tlp) = tags::event_tags(&cleaned, &extra, &content_tags, &mut warnings);

    let info = event_info(&cleaned, &mut warnings);
    let mut report_name = info.clone();
    truncate_chars(&mut report_name, MAX_NAME_CHARS);
    let mut report = report::event_report(event_uuid, &report_name, &cleaned);
    if truncate_bytes(&mut report.content, MAX_REPORT_BYTES) {
        warnings.push(Warning::about(
            story.source_id.clone(),
            format!("event report longer than {MAX_REPORT_BYTES} bytes truncated"),
        ));
    }

    let mut objects = vec![taranis::story_object(
        event_uuid,
        &cleaned,
        tlp,
        &mut warnings,
    )];
    objects.extend(taranis::news_item_objects(
        event_uuid,
        &cleaned,
        &mut warnings,
    ));
    let taranis_count = objects.len();
    objects.extend(content.objects);

    let mut fin = Finisher {
        policy: opts.four_byte,
        story_id: &story_id,
        source_id: &story.source_id,
        warnings: &mut warnings,
        seen: BTreeSet::new(),
    };
    // Event-level uuids are reserved first so no attribute or object can take them.
    fin.seen.insert(event_uuid);
    fin.seen.insert(report.uuid);
    let attributes = fin.attributes(content.attributes)?;
    let mut kept = Vec::with_capacity(objects.len());
    for (i, obj) in objects.into_iter().enumerate() {
        if let Some(obj) = fin.object(obj)? {
            kept.push((i < taranis_count, obj));
        }
    }
    // Taranis objects first (story, then news items in story order), then content objects by (name, uuid).
    let (taranis_objs, mut content_objs): (Vec<_>, Vec<_>) =
        kept.into_iter().partition(|(t, _)| *t);
    content_objs.sort_by(|a, b| (&a.1.name, a.1.uuid).cmp(&(&b.1.name, b.1.uuid)));
    let objects = taranis_objs
        .into_iter()
        .chain(content_objs)
        .map(|(_, o)| o)
        .collect();

    let sharing_group_id = if opts.distribution == 4 {
        opts.sharing_group_id
    } else {
        None
    };
    let event = Event {
        uuid: event_uuid,
        info,
        date: event_date(story),
        distribution: opts.distribution,
        sharing_group_id,
        threat_level_id: opts.threat_level_id,
        analysis: opts.analysis,
        published: opts.published,
        timestamp: story.version().map(|t| t.timestamp()).filter(|t| *t > 0),
        extends_uuid: None,
        attributes,
        objects,
        reports: vec![report],
        tags: tag_names.into_iter().map(Tag::new).collect(),
    };
    Ok((event, warnings))
}

/// `info`: the title, else the first news item title, else [`UNTITLED`]; one line, bounded to `TEXT`.
fn event_info(story: &Story, warnings: &mut Vec<Warning>) -> String {
    let title = std::iter::once(story.title.as_str())
        .chain(story.news_items.iter().map(|n| n.title.as_str()))
        .map(one_line)
        .find(|t| !t.is_empty());
    let mut info = title.unwrap_or_else(|| UNTITLED.to_owned());
    if truncate_bytes(&mut info, MAX_TEXT_BYTES) {
        warnings.push(Warning::about(
            story.source_id.clone(),
            format!("title longer than {MAX_TEXT_BYTES} bytes truncated"),
        ));
    }
    info
}

/// `date` (`YYYY-MM-DD`, UTC): published, else created, else modified, else the earliest news item
/// published/collected date, else [`FALLBACK_DATE`] (also for a date outside the years 1–9999).
fn event_date(story: &Story) -> String {
    let news =
        |f: fn(&NewsItem) -> Option<DateTime<Utc>>| story.news_items.iter().filter_map(f).min();
    [
        story.published,
        story.created,
        story.modified,
        news(|n| n.published),
        news(|n| n.collected),
    ]
    .into_iter()
    .flatten()
    .find(|d| (1..=9999).contains(&d.year()))
    .map(|d| d.format("%Y-%m-%d").to_string())
    .unwrap_or_else(|| FALLBACK_DATE.to_owned())
}

fn clean_all(
    items: &[String],
    policy: FourBytePolicy,
    story_id: &str,
    field: &str,
) -> Result<Vec<String>, MappingError> {
    items
        .iter()
        .map(|s| clean(s, policy, story_id, field))
        .collect()
}

/// A copy of the story with every text field cleaned ([`text::clean`]); `reject` names the offending field.
fn clean_story(story: &Story, policy: FourBytePolicy) -> Result<Story, MappingError> {
    let sid = story.id.hyphenated().to_string();
    let c = |s: &str, field: &str| clean(s, policy, &sid, field);
    // URLs keep their 4-byte characters, percent-encoded (the same URL), instead of losing them.
    let url = |s: &str, field: &str| c(&encode_url_four_byte(s, policy), field);
    // Every text field is replaced below; the STIX objects (the bulk of a story) are not needed: not cloned.
    let mut out = Story {
        id: story.id,
        source_id: story.source_id.clone(),
        dialect: story.dialect,
        title: String::new(),
        description: String::new(),
        summary: String::new(),
        comments: String::new(),
        published: story.published,
        created: story.created,
        modified: story.modified,
        relevance: story.relevance,
        attributes: Vec::new(),
        tags: Vec::new(),
        labels: Vec::new(),
        tlp: story.tlp,
        links: Vec::new(),
        news_items: Vec::new(),
        objects: Vec::new(),
    };
    out.title = c(&story.title, "title")?;
    out.description = c(&story.description, "description")?;
    out.summary = c(&story.summary, "summary")?;
    out.comments = c(&story.comments, "comments")?;
    out.labels = story
        .labels
        .iter()
        .map(|l| c(l, "labels"))
        .collect::<Result<_, _>>()?;
    out.attributes = story
        .attributes
        .iter()
        .map(|a| {
            Ok(StoryAttribute {
                key: c(&a.key, "attributes.key")?,
                value: clean_with(&a.value, policy, &sid, || {
                    format!("attributes[{}].value", a.key)
                })?,
            })
        })
        .collect::<Result<_, MappingError>>()?;
    out.tags = story
        .tags
        .iter()
        .map(|t| {
            Ok(StoryTag {
                name: c(&t.name, "tags.name")?,
                tag_type: clean_with(&t.tag_type, policy, &sid, || {
                    format!("tags[{}].tag_type", t.name)
                })?,
            })
        })
        .collect::<Result<_, MappingError>>()?;
    out.links = story
        .links
        .iter()
        .map(|l| {
            Ok(StoryLink {
                url: url(&l.url, "links.url")?,
                news_item_id: l
                    .news_item_id
                    .as_deref()
                    .map(|i| c(i, "links.news_item_id"))
                    .transpose()?,
                title: l
                    .title
                    .as_deref()
                    .map(|t| c(t, "links.title"))
                    .transpose()?,
            })
        })
        .collect::<Result<_, MappingError>>()?;
    out.news_items = story
        .news_items
        .iter()
        .map(|n| {
            let f = |s: &str, name: &str| {
                clean_with(s, policy, &sid, || format!("news_items[{}].{name}", n.id))
            };
            Ok(NewsItem {
                id: f(&n.id, "id")?,
                title: f(&n.title, "title")?,
                content: f(&n.content, "content")?,
                link: f(&encode_url_four_byte(&n.link, policy), "link")?,
                author: f(&n.author, "author")?,
                source: f(&encode_url_four_byte(&n.source, policy), "source")?,
                language: f(&n.language, "language")?,
                hash: f(&n.hash, "hash")?,
                review: f(&n.review, "review")?,
                osint_source_id: f(&n.osint_source_id, "osint_source_id")?,
                story_id: f(&n.story_id, "story_id")?,
                published: n.published,
                collected: n.collected,
            })
        })
        .collect::<Result<_, MappingError>>()?;
    Ok(out)
}

/// The final pass over every attribute and object: clean strings, bound sizes, drop empty values, validate
/// type/category against describeTypes, merge duplicate standalone (type, value) pairs, keep uuids unique.
struct Finisher<'a> {
    policy: FourBytePolicy,
    story_id: &'a str,
    source_id: &'a str,
    warnings: &'a mut Vec<Warning>,
    seen: BTreeSet<Uuid>,
}

impl Finisher<'_> {
    fn warn(&mut self, message: String) {
        self.warnings
            .push(Warning::about(self.source_id.to_owned(), message));
    }

    /// Clean, bound and validate one attribute; `None` when it must be dropped.
    fn attribute(&mut self, mut a: Attribute, at: &str) -> Result<Option<Attribute>, MappingError> {
        // Built only for a warning or an error: formatting it for every attribute is measurable.
        let label = |a: &Attribute| format!("{at}[{}]", a.type_);
        if self.policy != FourBytePolicy::Keep && has_four_byte(&a.value) {
            if matches!(a.type_.as_str(), "url" | "link" | "uri") {
                a.value = encode_url_four_byte(&a.value, self.policy);
            } else if self.policy != FourBytePolicy::Reject
                && (a.to_ids || types::default_to_ids(&a.type_))
            {
                // A replaced or stripped indicator is a different indicator (wrong matches, wrong IDS rules).
                self.warn(format!(
                    "{}: indicator value holds a 4-byte UTF-8 character MISP cannot store; attribute dropped",
                    label(&a)
                ));
                return Ok(None);
            }
        }
        a.value = clean_with(a.value.trim(), self.policy, self.story_id, || {
            format!("{}.value", label(&a))
        })?;
        a.comment = clean_with(&a.comment, self.policy, self.story_id, || {
            format!("{}.comment", label(&a))
        })?;
        if a.value.trim().is_empty() {
            return Ok(None);
        }
        if !types::is_valid_type(&a.type_) {
            self.warn(format!(
                "{}: unknown MISP attribute type, attribute dropped",
                label(&a)
            ));
            return Ok(None);
        }
        if !types::is_valid_category(&a.type_, &a.category) {
            let fixed = types::default_category(&a.type_).unwrap_or("Other");
            self.warn(format!(
                "{}: category {:?} not allowed for this type, using {fixed:?}",
                label(&a),
                a.category
            ));
            a.category = fixed.to_owned();
        }
        if truncate_bytes(&mut a.value, MAX_TEXT_BYTES) {
            self.warn(format!(
                "{}: value longer than {MAX_TEXT_BYTES} bytes truncated",
                label(&a)
            ));
        }
        if truncate_bytes(&mut a.comment, MAX_TEXT_BYTES) {
            self.warn(format!(
                "{}: comment longer than {MAX_TEXT_BYTES} bytes truncated",
                label(&a)
            ));
        }
        let mut tags = Vec::with_capacity(a.tags.len());
        for t in &a.tags {
            let mut name = one_line(&clean_with(&t.name, self.policy, self.story_id, || {
                format!("{}.Tag", label(&a))
            })?);
            truncate_chars(&mut name, MAX_NAME_CHARS);
            if !name.is_empty() {
                tags.push(Tag::new(name));
            }
        }
        tags.sort();
        tags.dedup();
        a.tags = tags;
        Ok(Some(a))
    }

    /// Standalone attributes: finished, duplicates (type, value) merged, sorted by (type, value).
    fn attributes(&mut self, attrs: Vec<Attribute>) -> Result<Vec<Attribute>, MappingError> {
        let mut merged: BTreeMap<(String, String), Attribute> = BTreeMap::new();
        for a in attrs {
            let Some(a) = self.attribute(a, "Attribute")? else {
                continue;
            };
            match merged.entry((a.type_.clone(), a.value.clone())) {
                std::collections::btree_map::Entry::Vacant(v) => {
                    v.insert(a);
                }
                std::collections::btree_map::Entry::Occupied(mut o) => {
                    let kept = o.get_mut();
                    kept.to_ids |= a.to_ids;
                    if !a.comment.is_empty() && !kept.comment.split('\n').any(|c| c == a.comment) {
                        if !kept.comment.is_empty() {
                            kept.comment.push('\n');
                        }
                        kept.comment.push_str(&a.comment);
                        truncate_bytes(&mut kept.comment, MAX_TEXT_BYTES);
                    }
                    kept.tags.extend(a.tags);
                    kept.tags.sort();
                    kept.tags.dedup();
                    kept.first_seen = min_opt(kept.first_seen.take(), a.first_seen);
                    kept.last_seen = max_opt(kept.last_seen.take(), a.last_seen);
                }
            }
        }
        let mut out = Vec::with_capacity(merged.len());
        for ((type_, value), a) in merged {
            if self.seen.insert(a.uuid) {
                out.push(a);
            } else {
                self.warn(format!(
                    "attribute {type_}|{value}: uuid {} already used, dropped",
                    a.uuid
                ));
            }
        }
        Ok(out)
    }

    /// One object: its attributes finished; `None` when none is left or its uuid is taken.
    fn object(&mut self, mut o: MispObject) -> Result<Option<MispObject>, MappingError> {
        o.comment = clean_with(&o.comment, self.policy, self.story_id, || {
            format!("Object[{}].comment", o.name)
        })?;
        truncate_bytes(&mut o.comment, MAX_TEXT_BYTES);
        let at = format!("Object[{}]", o.name);
        let mut attrs = Vec::with_capacity(o.attributes.len());
        for a in std::mem::take(&mut o.attributes) {
            let Some(a) = self.attribute(a, &at)? else {
                continue;
            };
            if self.seen.insert(a.uuid) {
                attrs.push(a);
            } else {
                self.warn(format!(
                    "{at}: attribute uuid {} already used, dropped",
                    a.uuid
                ));
            }
        }
        if attrs.is_empty() {
            self.warn(format!("{at}: no attribute left, object dropped"));
            return Ok(None);
        }
        if !self.seen.insert(o.uuid) {
            self.warn(format!(
                "{at}: uuid {} already used, object dropped",
                o.uuid
            ));
            return Ok(None);
        }
        o.attributes = attrs;
        Ok(Some(o))
    }
}

fn min_opt(a: Option<String>, b: Option<String>) -> Option<String> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

fn max_opt(a: Option<String>, b: Option<String>) -> Option<String> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.max(b)),
        (a, b) => a.or(b),
    }
}

#[cfg(test)]
mod tests;
