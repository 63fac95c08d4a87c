//! The Taranis AI objects: one `taranis-story` and one `taranis-news-item` per news item, with exactly the
//! relations, types, categories and JSON-string encodings Taranis' own connector writes
//! (`reference/notes/taranis.md` §1.3), so Taranis' MISP collector reads our events back.
//!
//! Differences from Taranis, on purpose: the news-item `hash` is not an IDS indicator (`to_ids: false`);
//! `link`-typed relations are only sent when they hold a URL (MISP's `link` validation); the story's
//! effective TLP is written into the `TLP` story attribute; uuids are deterministic (see [`super::ids`]).

use std::collections::HashSet;

use uuid::Uuid;

use crate::error::Warning;
use crate::misp::event::{Attribute, DISTRIBUTION_INHERIT, MispObject};
use crate::misp::types;
use crate::story::{NewsItem, Story, Tlp};

use super::ids::uuid_for;
use super::text::{MAX_TEXT_BYTES, is_link_value, py_json_object};

pub const STORY_TEMPLATE_UUID: Uuid = Uuid::from_u128(0xa2716df6_920b_4c4e_85f7_79a009476f3d);
pub const STORY_TEMPLATE_VERSION: &str = "1";
pub const STORY_DESCRIPTION: &str =
    "An object describing a story item from Taranis or similar source";
pub const NEWS_ITEM_TEMPLATE_UUID: Uuid = Uuid::from_u128(0xe4b7e5e3_2c4c_4edf_b9a3_2c2a32844e62);
pub const NEWS_ITEM_TEMPLATE_VERSION: &str = "2";
pub const NEWS_ITEM_DESCRIPTION: &str = "An object describing a news item from Taranis AI";
/// Taranis' placeholder for an empty story text field.
pub const NO_DATA: &str = "<no_data>";
/// The object key (uuid name) of the story object.
pub const STORY_KEY: &str = "taranis-story";

/// Collects the attributes of one object: uuid keys, default categories, empty values dropped (like PyMISP).
struct Builder {
    event: Uuid,
    key: String,
    attrs: Vec<Attribute>,
    /// The uuids in `attrs` (repeats are skipped in O(1), not by scanning `attrs`).
    uuids: HashSet<Uuid>,
}

impl Builder {
    fn new(event: Uuid, key: String) -> Builder {
        Builder {
            event,
            key,
            attrs: Vec::new(),
            uuids: HashSet::new(),
        }
    }

    /// Add `relation` = `value`. Single-valued relations keep one uuid whatever the value (an edit updates the
    /// attribute in place); for `multiple` relations the value is part of the uuid name and repeats are skipped.
    fn add(&mut self, relation: &str, type_: &str, value: &str, multiple: bool) {
        if value.trim().is_empty() {
            return;
        }
        let name = if multiple {
            format!("{}/{relation}/{value}", self.key)
        } else {
            format!("{}/{relation}", self.key)
        };
        let uuid = uuid_for(self.event, &name);
        if !self.uuids.insert(uuid) {
            return;
        }
        self.attrs.push(Attribute {
            uuid,
            type_: type_.to_owned(),
            category: types::default_category(type_).unwrap_or("Other").to_owned(),
            value: value.to_owned(),
            to_ids: false,
            comment: String::new(),
            distribution: DISTRIBUTION_INHERIT,
            object_relation: Some(relation.to_owned()),
            disable_correlation: false,
            deleted: false,
            first_seen: None,
            last_seen: None,
            tags: Vec::new(),
        });
    }

    fn object(self, name: &str, description: &str, template: Uuid, version: &str) -> MispObject {
        MispObject {
            uuid: uuid_for(self.event, &self.key),
            name: name.to_owned(),
            meta_category: "misc".to_owned(),
            description: description.to_owned(),
            template_uuid: template,
            template_version: version.to_owned(),
            distribution: DISTRIBUTION_INHERIT,
            comment: String::new(),
            deleted: false,
            attributes: self.attrs,
        }
    }
}

fn or_no_data(s: &str) -> &str {
    if s.trim().is_empty() { NO_DATA } else { s }
}

/// Taranis' TLP attribute value (`clear`, `green`, `amber`, `amber+strict`, `red`).
pub fn tlp_value(tlp: Tlp) -> &'static str {
    tlp.tag().trim_start_matches("tlp:")
}

/// A JSON-string relation value, unless it would exceed MISP's value size (then dropped with a warning:
/// cutting it would break the JSON the collector parses).
fn json_value(
    pairs: &[(&str, &str)],
    relation: &str,
    story: &Story,
    warnings: &mut Vec<Warning>,
) -> Option<String> {
    let v = py_json_object(pairs);
    if v.len() > MAX_TEXT_BYTES {
        warnings.push(Warning::about(
            story.source_id.clone(),
            format!("taranis-story {relation} entry longer than {MAX_TEXT_BYTES} bytes dropped"),
        ));
        return None;
    }
    Some(v)
}

/// The `taranis-story` object. `story` must be cleaned; `tlp` is the event's effective TLP.
pub fn story_object(
    event: Uuid,
    story: &Story,
    tlp: Option<Tlp>,
    warnings: &mut Vec<Warning>,
) -> MispObject {
    let id = event.hyphenated().to_string();
    let mut b = Builder::new(event, STORY_KEY.to_owned());
    // Template order: comments, description, id, links, summary, tags, title, attributes.
    b.add("comments", "text", or_no_data(&story.comments), false);
    b.add("description", "text", or_no_data(&story.description), false);
    b.add("id", "text", &id, false);
    for link in &story.links {
        if link.url.trim().is_empty() {
            continue;
        }
        let news_item_id = link.news_item_id.as_deref().unwrap_or(NO_DATA);
        let pairs = [("link", link.url.trim()), ("news_item_id", news_item_id)];
        if let Some(v) = json_value(&pairs, "links", story, warnings) {
            b.add("links", "text", &v, true);
        }
    }
    b.add("summary", "text", or_no_data(&story.summary), false);
    for tag in &story.tags {
        if tag.name.trim().is_empty() {
            continue;
        }
        let tag_type = if tag.tag_type.trim().is_empty() {
            "misc"
        } else {
            &tag.tag_type
        };
        let pairs = [("name", tag.name.as_str()), ("tag_type", tag_type)];
        if let Some(v) = json_value(&pairs, "tags", story, warnings) {
            b.add("tags", "text", &v, true);
        }
    }
    b.add("title", "text", or_no_data(&story.title), false);
    let mut attributes: Vec<(String, String)> = story
        .attributes
        .iter()
        .filter(|a| !a.value.trim().is_empty() && !a.key.trim().is_empty())
        // The effective TLP replaces every spelling of the TLP attribute (`TLP`, `tlp`): one TLP, never two.
        .filter(|a| !(tlp.is_some() && a.key.trim().eq_ignore_ascii_case("tlp")))
        .filter(|a| {
            let other_event = a.key == "misp_event_uuid" && a.value.trim() != id;
            if other_event {
                warnings.push(Warning::about(
                    story.source_id.clone(),
                    format!(
                        "story attribute misp_event_uuid {:?} is not the event uuid; written as {id}",
                        a.value
                    ),
                ));
            }
            !other_event
        })
        .map(|a| (a.key.clone(), a.value.clone()))
        .collect();
    if let Some(level) = tlp {
        attributes.push(("TLP".to_owned(), tlp_value(level).to_owned()));
    }
    // Taranis finds the event of a story by this attribute: it always names the event we build.
    if !attributes.iter().any(|(k, _)| k == "misp_event_uuid") {
        attributes.push(("misp_event_uuid".to_owned(), id.clone()));
    }
    attributes.sort();
    for (k, v) in &attributes {
        let pairs = [("key", k.as_str()), ("value", v.as_str())];
        if let Some(v) = json_value(&pairs, "attributes", story, warnings) {
            b.add("attributes", "text", &v, true);
        }
    }
    b.object(
        "taranis-story",
        STORY_DESCRIPTION,
        STORY_TEMPLATE_UUID,
        STORY_TEMPLATE_VERSION,
    )
}

/// The stable key of a news item: its id, else its hash or link, else its position (with a warning).
fn news_item_key(
    item: &NewsItem,
    index: usize,
    story: &Story,
    warnings: &mut Vec<Warning>,
) -> String {
    let id = item.id.trim();
    if !id.is_empty() {
        return format!("taranis-news-item:{id}");
    }
    let fallback = if !item.hash.trim().is_empty() {
        format!("taranis-news-item:hash:{}", item.hash.trim())
    } else if !item.link.trim().is_empty() {
        format!("taranis-news-item:link:{}", item.link.trim())
    } else {
        format!("taranis-news-item:index:{index}")
    };
    warnings.push(Warning::about(
        story.source_id.clone(),
        format!("news item #{index} has no id; keyed as {fallback}"),
    ));
    fallback
}

/// One `taranis-news-item` object per news item (story order; repeated ids are sent once).
pub fn news_item_objects(
    event: Uuid,
    story: &Story,
    warnings: &mut Vec<Warning>,
) -> Vec<MispObject> {
    let story_id = event.hyphenated().to_string();
    let mut out: Vec<MispObject> = Vec::new();
    let mut keys: HashSet<String> = HashSet::new();
    for (index, item) in story.news_items.iter().enumerate() {
        let key = news_item_key(item, index, story, warnings);
        if !keys.insert(key.clone()) {
            warnings.push(Warning::about(
                story.source_id.clone(),
                format!("news item {} appears twice; sent once", item.id),
            ));
            continue;
        }
        let mut b = Builder::new(event, key);
        // Template order: title, link, content, author, hash, id, language, osint_source_id, source, review, story_id.
        b.add("title", "text", &item.title, false);
        link_relation(&mut b, "link", &item.link, item, story, warnings);
        b.add("content", "text", &item.content, true);
        b.add("author", "text", &item.author, true);
        let hash = item.hash.trim().to_ascii_lowercase();
        if hash.len() == 64 && hash.bytes().all(|c| c.is_ascii_hexdigit()) {
            b.add("hash", "sha256", &hash, false);
        } else if !hash.is_empty() {
            warnings.push(Warning::about(
                story.source_id.clone(),
                format!("news item {}: hash is not a SHA-256, not sent", item.id),
            ));
        }
        b.add("id", "text", item.id.trim(), false);
        b.add("language", "text", &item.language, false);
        b.add("osint_source_id", "text", &item.osint_source_id, false);
        if item.source.trim() != "manual" {
            link_relation(&mut b, "source", &item.source, item, story, warnings);
        }
        b.add("review", "text", &item.review, false);
        b.add("story_id", "text", &story_id, false);
        out.push(b.object(
            "taranis-news-item",
            NEWS_ITEM_DESCRIPTION,
            NEWS_ITEM_TEMPLATE_UUID,
            NEWS_ITEM_TEMPLATE_VERSION,
        ));
    }
    out
}

/// A `link`-typed relation: sent only when it is a URL MISP accepts.
fn link_relation(
    b: &mut Builder,
    relation: &str,
    value: &str,
    item: &NewsItem,
    story: &Story,
    warnings: &mut Vec<Warning>,
) {
    let value = value.trim();
    if value.is_empty() {
        return;
    }
    if is_link_value(value) {
        b.add(relation, "link", value, false);
    } else {
        warnings.push(Warning::about(
            story.source_id.clone(),
            format!("news item {}: {relation} is not a URL, not sent", item.id),
        ));
    }
}
