//! Presenter (B) stories: Taranis' STIX presenter output (MISP objects converted by misp-stix).
//!
//! The container (`report`/`grouping`) refers to `x-misp-object`s named `taranis-story` and
//! `taranis-news-item`, whose fields are `x_misp_attributes` items `{object_relation, value, …}`.
//! The STIX ids of these objects are random: the story id is the value of the `id` relation.
//! `tags`, `attributes` and `links` relations hold JSON strings (`{"name","tag_type"}`, `{"key","value"}`,
//! `{"link","news_item_id"}`); Taranis' `<no_data>` placeholder reads as empty.
//! Dates: `created`/`modified` of the taranis-story object (else of the container), `published` of the
//! container. TLP: the markings of the container and of the story object, then the `TLP` attribute.
//! The container's other content objects belong to each of its stories.

use std::collections::{HashMap, HashSet};

use serde_json::Value;
use uuid::Uuid;

use crate::error::Warning;
use crate::stix::bundle::quoted_prefix;
use crate::stix::{Bundle, Object};
use crate::story::extract::{
    ObjectBudget, add_news_item_links, collect_objects, integer, misp_object_name, normalise,
    timestamp,
};
use crate::story::{Dialect, NewsItem, Story, StoryAttribute, StoryLink, StoryTag, tlp};

const STORY: &str = "taranis-story";
const NEWS_ITEM: &str = "taranis-news-item";

/// Whether a container refers to at least one `taranis-story` x-misp-object present in the bundle.
pub(super) fn is_presenter(container: &Object, bundle: &Bundle) -> bool {
    container
        .strings("object_refs")
        .filter_map(|r| bundle.get(r))
        .any(|o| misp_object_name(o) == Some(STORY))
}

/// The relations of an x-misp-object: `(object_relation, value)` in input order.
fn relations(o: &Object) -> Vec<(&str, String)> {
    o.get("x_misp_attributes")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|a| {
            let relation = a.get("object_relation")?.as_str()?;
            let value = match a.get("value")? {
                Value::String(s) => s.clone(),
                Value::Number(n) => n.to_string(),
                Value::Bool(b) => b.to_string(),
                _ => return None,
            };
            Some((relation, value))
        })
        .collect()
}

/// Taranis writes `<no_data>` for empty fields.
fn clean(value: &str) -> &str {
    match value.trim() {
        "<no_data>" | "no_data" => "",
        _ => value,
    }
}

/// The first value of a single-valued relation, cleaned.
fn single(rel: &[(&str, String)], name: &str) -> String {
    rel.iter()
        .find(|(r, _)| *r == name)
        .map(|(_, v)| clean(v).to_owned())
        .unwrap_or_default()
}

/// A uuid-looking id in canonical lower case; anything else trimmed as is.
fn canonical_id(s: &str) -> String {
    Uuid::parse_str(s.trim()).map_or_else(|_| s.trim().to_owned(), |u| u.to_string())
}

/// The stories of one presenter container, in `object_refs` order.
pub(super) fn stories(
    container: &Object,
    bundle: &Bundle,
    budget: &mut ObjectBudget,
    warnings: &mut Vec<Warning>,
) -> Vec<Story> {
    let mut story_objects: Vec<&Object> = Vec::new();
    let mut item_objects: Vec<&Object> = Vec::new();
    let mut seen: HashSet<&str> = HashSet::new();
    for o in container
        .strings("object_refs")
        .filter_map(|r| bundle.get(r))
    {
        let list = match misp_object_name(o) {
            Some(STORY) => &mut story_objects,
            Some(NEWS_ITEM) => &mut item_objects,
            _ => continue,
        };
        if seen.insert(o.id.as_str()) {
            list.push(o);
        }
    }
    let items: Vec<NewsItem> = item_objects
        .iter()
        .map(|o| news_item(o, warnings))
        .collect();
    // News items by the story they name ("" = none); each item is claimed at most by that story.
    let mut by_story: HashMap<String, Vec<usize>> = HashMap::new();
    for (i, item) in items.iter().enumerate() {
        by_story
            .entry(canonical_id(&item.story_id))
            .or_default()
            .push(i);
    }
    let mut claimed = vec![false; items.len()];
    let container_tlp = tlp::object_markings_tlp(container, bundle);
    let only_one = story_objects.len() == 1;

    let mut out = Vec::new();
    for so in &story_objects {
        let rel = relations(so);
        let raw_id = single(&rel, "id");
        let Ok(id) = Uuid::parse_str(raw_id.trim()) else {
            warnings.push(Warning::about(
                so.id.as_str(),
                format!(
                    "taranis-story skipped: its \"id\" relation {} is not a UUID",
                    quoted_prefix(&raw_id)
                ),
            ));
            continue;
        };
        let sid = so.id.as_str();
        let mut story = Story {
            id,
            source_id: so.id.clone(),
            dialect: Dialect::Presenter,
            title: single(&rel, "title").trim().to_owned(),
            description: single(&rel, "description"),
            summary: single(&rel, "summary"),
            comments: single(&rel, "comments"),
            published: timestamp(
                container.get("published"),
                &container.id,
                "published",
                warnings,
            ),
            created: timestamp(so.get("created"), sid, "created", warnings).or_else(|| {
                timestamp(container.get("created"), &container.id, "created", warnings)
            }),
            modified: timestamp(so.get("modified"), sid, "modified", warnings).or_else(|| {
                timestamp(
                    container.get("modified"),
                    &container.id,
                    "modified",
                    warnings,
                )
            }),
            relevance: rel
                .iter()
                .find(|(r, _)| *r == "relevance")
                .and_then(|(_, v)| {
                    integer(Some(&Value::String(v.clone())), sid, "relevance", warnings)
                }),
            attributes: Vec::new(),
            tags: Vec::new(),
            labels: so
                .strings("labels")
                .filter(|l| !l.starts_with("misp:"))
                .map(str::to_owned)
                .collect(),
            tlp: container_tlp.max(tlp::object_markings_tlp(so, bundle)),
            links: Vec::new(),
            news_items: Vec::new(),
            objects: collect_objects(
                bundle,
                container.strings("object_refs"),
                budget,
                sid,
                warnings,
            ),
        };
        for (relation, value) in &rel {
            match *relation {
                "tags" => tag(value, sid, &mut story.tags, warnings),
                "attributes" => attribute(value, sid, &mut story.attributes, warnings),
                "links" => link(value, sid, &mut story.links, warnings),
                _ => {}
            }
        }
        let mut mine: Vec<usize> = by_story.get(&id.to_string()).cloned().unwrap_or_default();
        if only_one {
            mine.extend(by_story.get("").into_iter().flatten());
            mine.sort_unstable();
        }
        for &i in &mine {
            claimed[i] = true;
        }
        story.news_items = mine.iter().map(|&i| items[i].clone()).collect();
        add_news_item_links(&mut story);
        normalise(&mut story);
        out.push(story);
    }
    for ((item, o), claimed) in items.iter().zip(&item_objects).zip(claimed) {
        if !claimed {
            warnings.push(Warning::about(
                o.id.as_str(),
                format!(
                    "taranis-news-item {} belongs to no taranis-story of {} (story_id {}); ignored",
                    item.id,
                    container.id,
                    quoted_prefix(&item.story_id)
                ),
            ));
        }
    }
    out
}

/// One `taranis-news-item` x-misp-object.
fn news_item(o: &Object, warnings: &mut Vec<Warning>) -> NewsItem {
    let rel = relations(o);
    let s = |name: &str| single(&rel, name);
    let mut id = canonical_id(&s("id"));
    if id.is_empty() {
        id = o.uuid().map_or_else(|| o.id.clone(), |u| u.to_string());
        warnings.push(Warning::about(
            o.id.as_str(),
            format!("taranis-news-item has no \"id\" relation; using {id}"),
        ));
    }
    let stamp = |name: &str, warnings: &mut Vec<Warning>| {
        let v = s(name);
        timestamp(Some(&Value::String(v)), &o.id, name, warnings)
    };
    NewsItem {
        id,
        title: s("title"),
        content: s("content"),
        link: s("link"),
        author: s("author"),
        source: s("source"),
        language: s("language"),
        published: stamp("published", warnings),
        collected: stamp("collected", warnings),
        hash: s("hash"),
        review: s("review"),
        osint_source_id: s("osint_source_id"),
        story_id: s("story_id").trim().to_owned(),
    }
}

/// Parse a JSON-string relation into an object; a warning when it is not one.
fn json_object(
    value: &str,
    sid: &str,
    relation: &str,
    warnings: &mut Vec<Warning>,
) -> Option<serde_json::Map<String, Value>> {
    match serde_json::from_str::<Value>(value) {
        Ok(Value::Object(m)) => Some(m),
        _ => {
            warnings.push(Warning::about(
                sid,
                format!(
                    "{relation} value {} is not a JSON object; ignored",
                    quoted_prefix(value)
                ),
            ));
            None
        }
    }
}

fn tag(value: &str, sid: &str, out: &mut Vec<StoryTag>, warnings: &mut Vec<Warning>) {
    let value = clean(value).trim();
    if value.is_empty() {
        return;
    }
    if !value.starts_with('{') {
        out.push(StoryTag {
            name: value.to_owned(),
            tag_type: String::new(),
        });
        return;
    }
    if let Some(m) = json_object(value, sid, "tags", warnings) {
        match m.get("name").and_then(Value::as_str).map(str::trim) {
            Some(name) if !name.is_empty() => out.push(StoryTag {
                name: name.to_owned(),
                tag_type: m
                    .get("tag_type")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .trim()
                    .to_owned(),
            }),
            _ => warnings.push(Warning::about(sid, "tags: a tag has no name; ignored")),
        }
    }
}

fn attribute(value: &str, sid: &str, out: &mut Vec<StoryAttribute>, warnings: &mut Vec<Warning>) {
    let value = clean(value).trim();
    if value.is_empty() {
        return;
    }
    if let Some(m) = json_object(value, sid, "attributes", warnings) {
        let key = m
            .get("key")
            .and_then(Value::as_str)
            .map(str::trim)
            .unwrap_or_default();
        let val = match m.get("value") {
            Some(Value::String(s)) => s.clone(),
            Some(Value::Number(n)) => n.to_string(),
            Some(Value::Bool(b)) => b.to_string(),
            _ => String::new(),
        };
        if !key.is_empty() && !val.trim().is_empty() {
            out.push(StoryAttribute {
                key: key.to_owned(),
                value: val,
            });
        }
    }
}

fn link(value: &str, sid: &str, out: &mut Vec<StoryLink>, warnings: &mut Vec<Warning>) {
    let value = clean(value).trim();
    if value.is_empty() {
        return;
    }
    if !value.starts_with('{') {
        out.push(StoryLink {
            url: value.to_owned(),
            news_item_id: None,
            title: None,
        });
        return;
    }
    if let Some(m) = json_object(value, sid, "links", warnings) {
        let url = m
            .get("link")
            .or_else(|| m.get("url"))
            .and_then(Value::as_str)
            .map(str::trim);
        match url {
            Some(url) if !url.is_empty() => out.push(StoryLink {
                url: url.to_owned(),
                news_item_id: m
                    .get("news_item_id")
                    .and_then(Value::as_str)
                    .map(canonical_id)
                    .filter(|s| !s.is_empty()),
                title: None,
            }),
            _ => warnings.push(Warning::about(sid, "links: a link has no URL; ignored")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_data_is_empty() {
        assert_eq!(clean("<no_data>"), "");
        assert_eq!(clean(" no_data "), "");
        assert_eq!(clean("data"), "data");
    }

    #[test]
    fn json_relations() {
        let mut w = Vec::new();
        let mut tags = Vec::new();
        tag(
            r#"{"name": "TAG", "tag_type": "ORG"}"#,
            "s",
            &mut tags,
            &mut w,
        );
        tag("plain", "s", &mut tags, &mut w);
        tag("{broken", "s", &mut tags, &mut w);
        assert_eq!(tags.len(), 2);
        assert_eq!(tags[0].tag_type, "ORG");
        assert_eq!(w.len(), 1);
        let mut attrs = Vec::new();
        attribute(
            r#"{"key": "TLP", "value": "clear"}"#,
            "s",
            &mut attrs,
            &mut w,
        );
        attribute(r#"{"key": "empty", "value": ""}"#, "s", &mut attrs, &mut w);
        assert_eq!(attrs.len(), 1);
        let mut links = Vec::new();
        link(
            r#"{"link": "https://x.example/a", "news_item_id": "06CC6FD0-A775-4923-BDEF-8CD5381164CE"}"#,
            "s",
            &mut links,
            &mut w,
        );
        assert_eq!(
            links[0].news_item_id.as_deref(),
            Some("06cc6fd0-a775-4923-bdef-8cd5381164ce")
        );
    }
}
