//! Finding stories in a bundle, for all three dialects (BRIEF §3.2).
//!
//! How stories are found, in bundle order of the `report` and `grouping` objects ("containers"):
//!
//! * A grouping whose `object_refs` are all other containers (Taranis' product grouping) is not a story.
//! * A container whose `object_refs` reach an `x-misp-object` named `taranis-story` is in the **presenter**
//!   dialect ([`super::presenter`]): each such taranis-story is one story, with the taranis-news-items of the
//!   container whose `story_id` matches (an item without `story_id` belongs to the only story of its container).
//! * Any other container is one story ([`super::native`]): **native** when it carries the Taranis property
//!   extension, an `x_taranis_*` story property or `x-taranis-news-item` refs, **plain** otherwise.
//!
//! A story's [`objects`](Story::objects) are the content objects reachable from the container's `object_refs`:
//! the referenced objects first, then (breadth first) what their `*_ref`/`*_refs` properties point to — the
//! `object_refs` of an `observed-data`, a relationship's `source_ref`/`target_ref`, a sighting's refs, an SCO's
//! refs — except `created_by_ref` and `object_marking_refs`. Content excludes containers, marking definitions,
//! identities, extension definitions, language content, news items and the presenter's `taranis-*`
//! x-misp-objects. Objects referenced but absent from the bundle are skipped; each object appears once.
//!
//! Copies are bounded by `ObjectBudget` (twice the bundle's object count plus 1,000 over all stories).
//!
//! **Single-story rule:** many producers forget `object_refs`. When a bundle holds exactly one story, every
//! other content object of the bundle is added to it too (after the referenced ones, in bundle order).
//!
//! Two stories with the same id (two versions of one report in a bundle) are merged: the one with the newest
//! [`Story::version`] wins (the first on a tie) and a warning names the other.
//! Timestamps are RFC 3339, read leniently (`+00:00`, no offset = UTC, a space for `T`, a bare date);
//! an unreadable one becomes `None` with a warning.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use serde_json::Value;
use uuid::Uuid;

use crate::error::{Classify, ErrorClass, Warning};
use crate::stix::{Bundle, Object};
use crate::story::{Story, StoryLink, native, presenter, tlp};

/// Why a bundle holds no usable story.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExtractError {
    /// The bundle has no report or grouping that is a story.
    #[error("no story in bundle")]
    NoStory,
}

impl Classify for ExtractError {
    fn class(&self) -> ErrorClass {
        ErrorClass::Permanent
    }
}

/// Every story in the bundle (one per report/grouping or per presenter `taranis-story`), plus warnings.
pub fn extract_stories(bundle: &Bundle) -> Result<(Vec<Story>, Vec<Warning>), ExtractError> {
    let mut warnings = Vec::new();
    let mut stories: Vec<Story> = Vec::new();
    let mut by_id: HashMap<Uuid, usize> = HashMap::new();
    let mut budget = ObjectBudget::for_bundle(bundle);
    for container in bundle.objects.iter().filter(|o| is_container(o)) {
        if is_product_grouping(container) {
            continue;
        }
        if presenter::is_presenter(container, bundle) {
            for story in presenter::stories(container, bundle, &mut budget, &mut warnings) {
                add_story(&mut stories, &mut by_id, story, &mut warnings);
            }
        } else if let Some(story) = native::story(container, bundle, &mut budget, &mut warnings) {
            add_story(&mut stories, &mut by_id, story, &mut warnings);
        }
    }
    if stories.is_empty() {
        return Err(ExtractError::NoStory);
    }
    if let [only] = stories.as_mut_slice() {
        add_unreferenced_content(only, bundle, &mut budget, &mut warnings);
    }
    Ok((stories, warnings))
}

/// Append a story, or merge it with an earlier one of the same id (newest version wins, the first on a tie).
fn add_story(
    stories: &mut Vec<Story>,
    by_id: &mut HashMap<Uuid, usize>,
    story: Story,
    warnings: &mut Vec<Warning>,
) {
    let Some(existing) = by_id.get(&story.id).map(|&i| &mut stories[i]) else {
        by_id.insert(story.id, stories.len());
        stories.push(story);
        return;
    };
    let newer = match (story.version(), existing.version()) {
        (Some(new), Some(old)) => new > old,
        (Some(_), None) => true,
        _ => false,
    };
    let version = |s: &Story| {
        s.version().map_or_else(
            || "without a date".to_owned(),
            |t| format!("of {}", t.to_rfc3339()),
        )
    };
    let (kept, dropped) = if newer {
        (&story, &*existing)
    } else {
        (&*existing, &story)
    };
    warnings.push(Warning::about(
        dropped.source_id.clone(),
        format!(
            "story {} appears more than once: the version {} ({}) is used, the version {} is ignored",
            story.id,
            version(kept),
            kept.source_id,
            version(dropped)
        ),
    ));
    if newer {
        *existing = story;
    }
}

/// The single-story rule: add every content object of the bundle the story does not hold yet.
fn add_unreferenced_content(
    story: &mut Story,
    bundle: &Bundle,
    budget: &mut ObjectBudget,
    warnings: &mut Vec<Warning>,
) {
    let mut seen: HashSet<String> = story.objects.iter().map(|o| o.id.clone()).collect();
    for object in &bundle.objects {
        if is_content(object) && !seen.contains(&object.id) {
            if budget.left == 0 {
                warnings.push(Warning::about(
                    story.source_id.clone(),
                    format!(
                        "story objects cut after {}: more than {} objects in all",
                        story.objects.len(),
                        budget.limit
                    ),
                ));
                return;
            }
            budget.left -= 1;
            seen.insert(object.id.clone());
            story.objects.push(object.clone());
        }
    }
}

/// `report` or `grouping`.
pub(super) fn is_container(o: &Object) -> bool {
    matches!(o.type_.as_str(), "report" | "grouping")
}

/// The type part of a STIX id.
fn ref_type(id: &str) -> &str {
    id.split_once("--").map_or(id, |(t, _)| t)
}

/// A grouping that refers to nothing but other containers (Taranis' product grouping).
fn is_product_grouping(o: &Object) -> bool {
    if o.type_ != "grouping" {
        return false;
    }
    let mut refs = o.strings("object_refs").peekable();
    refs.peek().is_some() && refs.all(|r| matches!(ref_type(r), "report" | "grouping"))
}

/// The MISP object name of an `x-misp-object`: `x_misp_name`, else a `misp:name="…"` label.
pub(super) fn misp_object_name(o: &Object) -> Option<&str> {
    if o.type_ != "x-misp-object" {
        return None;
    }
    if let Some(name) = o.text("x_misp_name") {
        return Some(name);
    }
    o.strings("labels").find_map(|l| {
        l.strip_prefix("misp:name=")
            .map(|n| n.trim().trim_matches('"'))
            .filter(|n| !n.is_empty())
    })
}

/// Whether an object is story content (see the module doc for what is not).
pub(super) fn is_content(o: &Object) -> bool {
    match o.type_.as_str() {
        "report"
        | "grouping"
        | "marking-definition"
        | "identity"
        | "extension-definition"
        | "language-content"
        | "bundle"
        | native::NEWS_ITEM_TYPE => false,
        "x-misp-object" => !misp_object_name(o).is_some_and(|n| n.starts_with("taranis-")),
        _ => true,
    }
}

/// Caps how many objects are copied into the stories of one bundle.
///
/// Stories may share objects, so without a cap a hostile bundle (many reports all referring to one large
/// observed-data) would make extraction copy and walk the same objects once per story. The cap is twice the
/// bundle's object count plus 1,000: every story of a legitimate bundle fits; past it, a story's objects are cut
/// (in their deterministic order) with a warning.
pub(super) struct ObjectBudget {
    left: usize,
    limit: usize,
}

impl ObjectBudget {
    pub(super) fn for_bundle(bundle: &Bundle) -> ObjectBudget {
        let limit = bundle.objects.len().saturating_mul(2).saturating_add(1000);
        ObjectBudget { left: limit, limit }
    }
}

/// The content objects reachable from `refs` (see the module doc), in breadth-first order, each once, at most
/// what the budget allows (a warning about `owner` when cut).
pub(super) fn collect_objects<'a>(
    bundle: &Bundle,
    refs: impl IntoIterator<Item = &'a str>,
    budget: &mut ObjectBudget,
    owner: &str,
    warnings: &mut Vec<Warning>,
) -> Vec<Object> {
    fn add<'b>(
        bundle: &'b Bundle,
        id: &str,
        seen: &mut HashSet<&'b str>,
        out: &mut Vec<&'b Object>,
        cap: usize,
    ) -> bool {
        if let Some(o) = bundle.get(id)
            && is_content(o)
            && !seen.contains(o.id.as_str())
        {
            if out.len() >= cap {
                return false;
            }
            seen.insert(o.id.as_str());
            out.push(o);
        }
        true
    }
    let cap = budget.left;
    let mut seen: HashSet<&str> = HashSet::new();
    let mut out: Vec<&Object> = Vec::new();
    let mut complete = true;
    for r in refs {
        complete &= add(bundle, r, &mut seen, &mut out, cap);
    }
    let mut i = 0;
    while let Some(&o) = out.get(i) {
        for (key, value) in &o.props {
            if key == "created_by_ref" || key == "object_marking_refs" {
                continue;
            }
            if key.ends_with("_ref") {
                if let Some(id) = value.as_str() {
                    complete &= add(bundle, id, &mut seen, &mut out, cap);
                }
            } else if key.ends_with("_refs")
                && let Some(items) = value.as_array()
            {
                for id in items.iter().filter_map(Value::as_str) {
                    complete &= add(bundle, id, &mut seen, &mut out, cap);
                }
            }
        }
        i += 1;
    }
    if !complete {
        warnings.push(Warning::about(
            owner,
            format!(
                "story objects cut after {}: the bundle's stories refer to more than {} objects in all",
                out.len(),
                budget.limit
            ),
        ));
    }
    budget.left -= out.len();
    out.into_iter().cloned().collect()
}

/// Parse an RFC 3339 timestamp leniently; `None` when it cannot be read.
pub fn parse_timestamp(s: &str) -> Option<DateTime<Utc>> {
    let s = s.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.with_timezone(&Utc));
    }
    for format in ["%Y-%m-%dT%H:%M:%S%.f%z", "%Y-%m-%d %H:%M:%S%.f%z"] {
        if let Ok(t) = DateTime::parse_from_str(s, format) {
            return Some(t.with_timezone(&Utc));
        }
    }
    for format in [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%dT%H:%M",
    ] {
        if let Ok(t) = NaiveDateTime::parse_from_str(s, format) {
            return Some(t.and_utc());
        }
    }
    NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|t| t.and_utc())
}

/// A timestamp property; absent or null → `None`; unreadable → `None` and a warning.
pub(super) fn timestamp(
    value: Option<&Value>,
    object_id: &str,
    field: &str,
    warnings: &mut Vec<Warning>,
) -> Option<DateTime<Utc>> {
    match value? {
        Value::Null => None,
        Value::String(s) if s.trim().is_empty() => None,
        Value::String(s) => {
            let t = parse_timestamp(s);
            if t.is_none() {
                warnings.push(Warning::about(
                    object_id,
                    format!(
                        "{field} {} is not an RFC 3339 timestamp; ignored",
                        crate::stix::bundle::quoted_prefix(s)
                    ),
                ));
            }
            t
        }
        other => {
            warnings.push(Warning::about(
                object_id,
                format!(
                    "{field} is {}, expected a timestamp string; ignored",
                    crate::stix::bundle::kind(other)
                ),
            ));
            None
        }
    }
}

/// A scalar as text: strings as they are, numbers and booleans printed; null/absent → `None`.
/// Arrays and objects → `None` and a warning.
pub(super) fn scalar_text(
    value: Option<&Value>,
    object_id: &str,
    field: &str,
    warnings: &mut Vec<Warning>,
) -> Option<String> {
    match value? {
        Value::Null => None,
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        other => {
            warnings.push(Warning::about(
                object_id,
                format!(
                    "{field} is {}, expected text; ignored",
                    crate::stix::bundle::kind(other)
                ),
            ));
            None
        }
    }
}

/// An integer (number, integral float or numeric string); anything else → `None` and a warning.
pub(super) fn integer(
    value: Option<&Value>,
    object_id: &str,
    field: &str,
    warnings: &mut Vec<Warning>,
) -> Option<i64> {
    let v = value?;
    let parsed = match v {
        Value::Null => return None,
        Value::Number(n) => n.as_i64().or_else(|| {
            n.as_f64()
                .filter(|f| f.fract() == 0.0 && f.abs() < 9.0e15)
                .map(|f| f as i64)
        }),
        Value::String(s) => s.trim().parse::<i64>().ok(),
        _ => None,
    };
    if parsed.is_none() {
        warnings.push(Warning::about(
            object_id,
            format!("{field} is not an integer; ignored"),
        ));
    }
    parsed
}

/// Sort and de-duplicate a story's collections and settle its TLP: the most restrictive of the one already
/// found in markings, the `TLP` attribute, and `tlp:*` labels and tags.
pub(super) fn normalise(story: &mut Story) {
    story.attributes.sort_by(|a, b| a.key.cmp(&b.key));
    story.attributes.dedup_by(|b, a| a.key == b.key);
    story.tags.sort_by(|a, b| a.name.cmp(&b.name));
    story.tags.dedup_by(|b, a| a.name == b.name);
    let mut seen = HashSet::new();
    story.labels.retain(|l| seen.insert(l.clone()));
    let mut seen = HashSet::new();
    story
        .links
        .retain(|l| seen.insert((l.url.clone(), l.news_item_id.clone())));

    let from_attributes = story
        .attributes
        .iter()
        .filter(|a| a.key.eq_ignore_ascii_case("tlp"))
        .filter_map(|a| crate::story::Tlp::parse(&a.value));
    let from_labels = story.labels.iter().filter_map(|l| tlp::label_tlp(l));
    let from_tags = story.tags.iter().filter_map(|t| tlp::label_tlp(&t.name));
    story.tlp = story
        .tlp
        .into_iter()
        .chain(from_attributes)
        .chain(from_labels)
        .chain(from_tags)
        .max();
}

/// Append the news items' links (after the story's own links), tagged with the news item id.
pub(super) fn add_news_item_links(story: &mut Story) {
    let mut known: HashSet<(String, Option<String>)> = story
        .links
        .iter()
        .map(|l| (l.url.clone(), l.news_item_id.clone()))
        .collect();
    for n in &story.news_items {
        let url = n.link.trim();
        if url.is_empty() {
            continue;
        }
        let news_item_id = Some(n.id.clone()).filter(|id| !id.is_empty());
        if known.insert((url.to_owned(), news_item_id.clone())) {
            story.links.push(StoryLink {
                url: url.to_owned(),
                news_item_id,
                title: Some(n.title.clone()).filter(|t| !t.is_empty()),
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn container_without_uuid_is_skipped_with_a_warning() {
        let objects = [
            serde_json::json!({"type":"report","id":"report--not-a-uuid","name":"bad"}),
            serde_json::json!({"type":"grouping","id":"grouping--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f","name":"good"}),
        ]
        .into_iter()
        .filter_map(Object::from_value)
        .collect();
        let bundle = Bundle::from_objects(None, objects, Vec::new());
        let (stories, warnings) = extract_stories(&bundle).unwrap();
        assert_eq!(stories.len(), 1);
        assert_eq!(stories[0].title, "good");
        assert_eq!(warnings.len(), 1);
        assert_eq!(warnings[0].object_id.as_deref(), Some("report--not-a-uuid"));

        let only_bad = Bundle::from_objects(
            None,
            vec![
                Object::from_value(serde_json::json!({"type":"report","id":"report--x"})).unwrap(),
            ],
            Vec::new(),
        );
        assert_eq!(
            extract_stories(&only_bad).unwrap_err(),
            ExtractError::NoStory
        );
    }

    #[test]
    fn timestamps_are_read_leniently() {
        let t = Utc.with_ymd_and_hms(2025, 6, 3, 7, 36, 0).unwrap();
        for s in [
            "2025-06-03T07:36:00Z",
            "2025-06-03T07:36:00+00:00",
            "2025-06-03T09:36:00+02:00",
            "2025-06-03T07:36:00.000Z",
            "2025-06-03 07:36:00+00:00",
            "2025-06-03T07:36:00",
            "2025-06-03T07:36",
            " 2025-06-03T07:36:00+0000 ",
        ] {
            assert_eq!(parse_timestamp(s), Some(t), "{s}");
        }
        assert_eq!(
            parse_timestamp("2025-06-03"),
            Some(Utc.with_ymd_and_hms(2025, 6, 3, 0, 0, 0).unwrap())
        );
        assert_eq!(parse_timestamp("yesterday"), None);
        assert_eq!(parse_timestamp("2025-13-03T07:36:00Z"), None);
    }

    #[test]
    fn unreadable_timestamp_warns() {
        let mut w = Vec::new();
        let v = Value::String("soon".into());
        assert_eq!(timestamp(Some(&v), "report--x", "published", &mut w), None);
        assert_eq!(w.len(), 1);
        assert!(w[0].message.contains("published"));
        assert_eq!(
            timestamp(Some(&Value::Null), "report--x", "published", &mut w),
            None
        );
        assert_eq!(w.len(), 1);
    }

    #[test]
    fn integers() {
        let mut w = Vec::new();
        assert_eq!(
            integer(Some(&serde_json::json!(3)), "x", "relevance", &mut w),
            Some(3)
        );
        assert_eq!(
            integer(Some(&serde_json::json!(3.0)), "x", "relevance", &mut w),
            Some(3)
        );
        assert_eq!(
            integer(Some(&serde_json::json!("7")), "x", "relevance", &mut w),
            Some(7)
        );
        assert!(w.is_empty());
        assert_eq!(
            integer(Some(&serde_json::json!(3.5)), "x", "relevance", &mut w),
            None
        );
        assert_eq!(w.len(), 1);
    }

    #[test]
    fn misp_object_names() {
        let by_prop = Object::from_value(
            serde_json::json!({"type":"x-misp-object","id":"x-misp-object--1",
            "x_misp_name":"taranis-story"}),
        )
        .unwrap();
        assert_eq!(misp_object_name(&by_prop), Some("taranis-story"));
        let by_label = Object::from_value(
            serde_json::json!({"type":"x-misp-object","id":"x-misp-object--1",
            "labels":["misp:meta-category=\"misc\"","misp:name=\"taranis-news-item\""]}),
        )
        .unwrap();
        assert_eq!(misp_object_name(&by_label), Some("taranis-news-item"));
        assert!(!is_content(&by_label));
        let file = Object::from_value(
            serde_json::json!({"type":"x-misp-object","id":"x-misp-object--1",
            "x_misp_name":"file"}),
        )
        .unwrap();
        assert!(is_content(&file));
    }
}
