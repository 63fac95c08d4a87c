//! Native (A) and plain (C) stories: one `report`/`grouping` is one story.
//!
//! Taranis fields come from the property extension [`STORY_EXTENSION`] on the container, and, field by field
//! when the extension lacks them, from top-level `x_taranis_summary`, `x_taranis_comments`,
//! `x_taranis_relevance`, `x_taranis_attributes` and `x_taranis_tags`. News items are the
//! [`NEWS_ITEM_TYPE`] objects in `object_refs`. A container without any of these is a plain story: the same
//! fields are read, Taranis-only ones stay empty.
//!
//! Accepted shapes (Taranis itself uses several): `attributes` as `{key: value}`, `{key: {"key","value"}}` or
//! `[{"key","value"}]`; `tags` as `[{"name","tag_type"}]`, `["name"]` or `{name: {"name","tag_type"}}`.
//! Attributes with an empty value are dropped (as Taranis does when it exports to MISP).
//! A news item without `story_id` gets the id of the story whose `object_refs` name it.

use std::collections::HashSet;

use serde_json::{Map, Value};

use crate::error::Warning;
use crate::stix::bundle::kind;
use crate::stix::{Bundle, Object};
use crate::story::extract::{
    ObjectBudget, add_news_item_links, collect_objects, integer, normalise, scalar_text, timestamp,
};
use crate::story::{Dialect, NewsItem, Story, StoryAttribute, StoryLink, StoryTag, tlp};

/// The Taranis story property extension (on `report` / `grouping`).
pub const STORY_EXTENSION: &str = "extension-definition--e94f0bd6-d310-498d-a0ed-cdd848cc6970";
/// The Taranis news item new-SDO extension (on `x-taranis-news-item`).
pub const NEWS_ITEM_EXTENSION: &str = "extension-definition--e674a3c2-5f44-4a04-b23b-7d904d54ec6a";
/// The STIX type of a Taranis news item.
pub const NEWS_ITEM_TYPE: &str = "x-taranis-news-item";

const STORY_FIELDS: [&str; 5] = ["summary", "comments", "relevance", "attributes", "tags"];

/// The story of one container; `None` (with a warning) when its id holds no uuid.
pub(super) fn story(
    container: &Object,
    bundle: &Bundle,
    budget: &mut ObjectBudget,
    warnings: &mut Vec<Warning>,
) -> Option<Story> {
    let cid = container.id.as_str();
    let Some(id) = container.uuid() else {
        warnings.push(Warning::about(
            cid,
            format!("{} skipped: its id holds no UUID", container.type_),
        ));
        return None;
    };
    let ext = container.extension(STORY_EXTENSION);
    let field = |name: &str| -> Option<&Value> {
        ext.and_then(|e| e.get(name))
            .filter(|v| !v.is_null())
            .or_else(|| container.get(&format!("x_taranis_{name}")))
    };

    let refs: Vec<&str> = container.strings("object_refs").collect();
    let mut news_items: Vec<NewsItem> = Vec::new();
    let mut seen: HashSet<&str> = HashSet::new();
    for r in &refs {
        if let Some(o) = bundle.get(r).filter(|o| o.type_ == NEWS_ITEM_TYPE)
            && seen.insert(o.id.as_str())
        {
            news_items.push(news_item(o, &id.to_string(), warnings));
        }
    }
    let taranis = ext.is_some()
        || STORY_FIELDS
            .iter()
            .any(|f| container.get(&format!("x_taranis_{f}")).is_some())
        || !news_items.is_empty();

    let text = |name: &str, warnings: &mut Vec<Warning>| {
        scalar_text(container.get(name), cid, name, warnings).unwrap_or_default()
    };
    let taranis_text = |name: &str, warnings: &mut Vec<Warning>| {
        scalar_text(field(name), cid, name, warnings).unwrap_or_default()
    };
    let mut story = Story {
        id,
        source_id: container.id.clone(),
        dialect: if taranis {
            Dialect::Native
        } else {
            Dialect::Plain
        },
        title: text("name", warnings).trim().to_owned(),
        description: text("description", warnings),
        summary: taranis_text("summary", warnings),
        comments: taranis_text("comments", warnings),
        published: timestamp(container.get("published"), cid, "published", warnings),
        created: timestamp(container.get("created"), cid, "created", warnings),
        modified: timestamp(container.get("modified"), cid, "modified", warnings),
        relevance: integer(field("relevance"), cid, "relevance", warnings),
        attributes: attributes(field("attributes"), cid, warnings),
        tags: tags(field("tags"), cid, warnings),
        labels: container.strings("labels").map(str::to_owned).collect(),
        tlp: tlp::object_markings_tlp(container, bundle),
        links: external_links(container),
        news_items,
        objects: collect_objects(bundle, refs.iter().copied(), budget, cid, warnings),
    };
    add_news_item_links(&mut story);
    normalise(&mut story);
    Some(story)
}

/// The news item id: the uuid of the STIX id, lower case (the whole id when it has no uuid).
fn news_item_id(o: &Object) -> String {
    o.uuid().map_or_else(|| o.id.clone(), |u| u.to_string())
}

/// One `x-taranis-news-item`.
fn news_item(o: &Object, story_id: &str, warnings: &mut Vec<Warning>) -> NewsItem {
    let oid = o.id.as_str();
    let mut text = |name: &str| scalar_text(o.get(name), oid, name, warnings).unwrap_or_default();
    let title = text("title");
    let content = text("content");
    let link = text("link");
    let author = text("author");
    let source = text("source");
    let language = text("language");
    let hash = text("hash");
    let review = text("review");
    let osint_source_id = text("osint_source_id");
    let own_story_id = text("story_id");
    NewsItem {
        id: news_item_id(o),
        title,
        content,
        link,
        author,
        source,
        language,
        published: timestamp(o.get("published"), oid, "published", warnings),
        collected: timestamp(o.get("collected"), oid, "collected", warnings),
        hash,
        review,
        osint_source_id,
        story_id: if own_story_id.trim().is_empty() {
            story_id.to_owned()
        } else {
            own_story_id
        },
    }
}

/// `external_references` with a `url`.
fn external_links(container: &Object) -> Vec<StoryLink> {
    container
        .get("external_references")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|r| {
            let url = r.get("url")?.as_str()?.trim();
            if url.is_empty() {
                return None;
            }
            let title = ["source_name", "description"]
                .iter()
                .find_map(|k| r.get(*k).and_then(Value::as_str))
                .map(str::trim)
                .filter(|t| !t.is_empty())
                .map(str::to_owned);
            Some(StoryLink {
                url: url.to_owned(),
                news_item_id: None,
                title,
            })
        })
        .collect()
}

/// Story attributes from `{key: value}`, `{key: {"key","value"}}` or `[{"key","value"}]`.
fn attributes(
    value: Option<&Value>,
    cid: &str,
    warnings: &mut Vec<Warning>,
) -> Vec<StoryAttribute> {
    let mut out = Vec::new();
    match value {
        None | Some(Value::Null) => {}
        Some(Value::Object(map)) => {
            for (key, v) in map {
                let v = match v {
                    Value::Object(inner) => inner.get("value").unwrap_or(&Value::Null),
                    other => other,
                };
                push_attribute(&mut out, key, v, cid, warnings);
            }
        }
        Some(Value::Array(items)) => {
            for item in items {
                match item
                    .as_object()
                    .and_then(|m| Some((m.get("key")?.as_str()?, m)))
                {
                    Some((key, m)) => push_attribute(
                        &mut out,
                        key,
                        m.get("value").unwrap_or(&Value::Null),
                        cid,
                        warnings,
                    ),
                    None => warnings.push(Warning::about(
                        cid,
                        "attributes: an item is not {\"key\",\"value\"}; ignored",
                    )),
                }
            }
        }
        Some(other) => warnings.push(Warning::about(
            cid,
            format!("attributes is {}, expected an object; ignored", kind(other)),
        )),
    }
    out
}

fn push_attribute(
    out: &mut Vec<StoryAttribute>,
    key: &str,
    value: &Value,
    cid: &str,
    warnings: &mut Vec<Warning>,
) {
    let key = key.trim();
    if key.is_empty() {
        return;
    }
    if let Some(value) = scalar_text(Some(value), cid, &format!("attributes.{key}"), warnings)
        && !value.trim().is_empty()
    {
        out.push(StoryAttribute {
            key: key.to_owned(),
            value,
        });
    }
}

/// Story tags from `[{"name","tag_type"}]`, `["name"]` or `{name: {"name","tag_type"}}`.
fn tags(value: Option<&Value>, cid: &str, warnings: &mut Vec<Warning>) -> Vec<StoryTag> {
    let mut out = Vec::new();
    match value {
        None | Some(Value::Null) => {}
        Some(Value::Array(items)) => {
            for item in items {
                match item {
                    Value::String(name) => push_tag(&mut out, name, None),
                    Value::Object(m) => push_tag_object(&mut out, None, m, cid, warnings),
                    other => warnings.push(Warning::about(
                        cid,
                        format!("tags: an item is {}; ignored", kind(other)),
                    )),
                }
            }
        }
        Some(Value::Object(map)) => {
            for (name, v) in map {
                match v {
                    Value::Object(m) => push_tag_object(&mut out, Some(name), m, cid, warnings),
                    Value::String(tag_type) => push_tag(&mut out, name, Some(tag_type)),
                    _ => push_tag(&mut out, name, None),
                }
            }
        }
        Some(other) => warnings.push(Warning::about(
            cid,
            format!("tags is {}, expected an array; ignored", kind(other)),
        )),
    }
    out
}

fn push_tag_object(
    out: &mut Vec<StoryTag>,
    key: Option<&str>,
    m: &Map<String, Value>,
    cid: &str,
    warnings: &mut Vec<Warning>,
) {
    match m.get("name").and_then(Value::as_str).or(key) {
        Some(name) => push_tag(out, name, m.get("tag_type").and_then(Value::as_str)),
        None => warnings.push(Warning::about(cid, "tags: a tag has no name; ignored")),
    }
}

fn push_tag(out: &mut Vec<StoryTag>, name: &str, tag_type: Option<&str>) {
    let name = name.trim();
    if !name.is_empty() {
        out.push(StoryTag {
            name: name.to_owned(),
            tag_type: tag_type.unwrap_or_default().trim().to_owned(),
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn attribute_shapes() {
        let mut w = Vec::new();
        let flat = attributes(Some(&json!({"TLP":"amber","n":3,"empty":""})), "r", &mut w);
        assert_eq!(flat.len(), 2);
        let nested = attributes(
            Some(&json!({"TLP":{"key":"TLP","value":"clear"}})),
            "r",
            &mut w,
        );
        assert_eq!(nested[0].value, "clear");
        let list = attributes(Some(&json!([{"key":"a","value":"b"}, 5])), "r", &mut w);
        assert_eq!(list.len(), 1);
        assert_eq!(w.len(), 1);
    }

    #[test]
    fn tag_shapes() {
        let mut w = Vec::new();
        let t = tags(
            Some(&json!([{"name":"APT","tag_type":"ORG"}, "plain", {"tag_type":"x"}])),
            "r",
            &mut w,
        );
        assert_eq!(t.len(), 2);
        assert_eq!(w.len(), 1);
        let d = tags(
            Some(&json!({"TAG":{"name":"TAG","tag_type":"ORG"}})),
            "r",
            &mut w,
        );
        assert_eq!(d[0].tag_type, "ORG");
    }
}
