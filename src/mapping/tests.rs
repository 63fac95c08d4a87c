//! Unit tests of the story → event mapping (Taranis compatibility, fallbacks, policies, final pass).

use std::collections::BTreeSet;

use chrono::{DateTime, TimeZone, Utc};
use serde_json::Value;
use uuid::Uuid;

use super::*;
use crate::misp::event::DISTRIBUTION_INHERIT;
use crate::story::{Dialect, Tlp};

/// `shared/` beside the repository (CI, `/work/main`) or beside the worktree directory (`/work/wt/<branch>`).
fn shared() -> std::path::PathBuf {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let near = root.join("../shared");
    if near.is_dir() {
        near
    } else {
        root.join("../../shared")
    }
}

fn load(path: &str) -> Value {
    let file = shared().join("reference/taranis/fixtures").join(path);
    let text = std::fs::read_to_string(file).unwrap();
    serde_json::from_str(&text).unwrap()
}

fn date(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|d| d.with_timezone(&Utc))
}

fn s(v: &Value, k: &str) -> String {
    v.get(k).and_then(Value::as_str).unwrap_or("").to_owned()
}

/// A story with every field empty (shared by the unit tests of the mapping modules).
pub(super) fn empty_story() -> Story {
    Story {
        id: Uuid::parse_str("ed13a0b1-4f5f-4c43-bdf2-820ee0d43448").unwrap(),
        source_id: "report--ed13a0b1-4f5f-4c43-bdf2-820ee0d43448".into(),
        dialect: Dialect::Native,
        title: String::new(),
        description: String::new(),
        summary: String::new(),
        comments: String::new(),
        published: None,
        created: None,
        modified: None,
        relevance: None,
        attributes: vec![],
        tags: vec![],
        labels: vec![],
        tlp: None,
        links: vec![],
        news_items: vec![],
        objects: vec![],
    }
}

/// Taranis' worker story `story_list.json[11]`, the story behind the reproduced `events/add` payload.
fn taranis_story_11() -> Story {
    let v = load("worker_story_list.json")[11].clone();
    let mut st = empty_story();
    st.id = Uuid::parse_str(&s(&v, "id")).unwrap();
    st.title = s(&v, "title");
    st.description = s(&v, "description");
    st.summary = s(&v, "summary");
    st.comments = s(&v, "comments");
    st.created = date(&s(&v, "created"));
    st.modified = date(&s(&v, "updated"));
    let mut attrs: Vec<StoryAttribute> = v["attributes"]
        .as_object()
        .unwrap()
        .values()
        .map(|a| StoryAttribute {
            key: s(a, "key"),
            value: s(a, "value"),
        })
        .collect();
    attrs.sort();
    st.attributes = attrs;
    st.tlp = Some(Tlp::Clear);
    st.tags = v["tags"]
        .as_object()
        .unwrap()
        .values()
        .map(|t| StoryTag {
            name: s(t, "name"),
            tag_type: s(t, "tag_type"),
        })
        .collect();
    st.links = v["links"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| StoryLink {
            url: s(l, "link"),
            news_item_id: Some(s(l, "news_item_id")),
            title: None,
        })
        .collect();
    st.news_items = v["news_items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| NewsItem {
            id: s(n, "id"),
            title: s(n, "title"),
            content: s(n, "content"),
            link: s(n, "link"),
            author: s(n, "author"),
            source: s(n, "source"),
            language: s(n, "language"),
            published: date(&s(n, "published")),
            collected: date(&s(n, "collected")),
            hash: s(n, "hash"),
            review: s(n, "review"),
            osint_source_id: s(n, "osint_source_id"),
            story_id: s(n, "story_id"),
        })
        .collect();
    st
}

fn relations(o: &MispObject) -> BTreeSet<(String, String, String, String, bool)> {
    o.attributes
        .iter()
        .map(|a| {
            (
                a.object_relation.clone().unwrap_or_default(),
                a.type_.clone(),
                a.category.clone(),
                a.value.clone(),
                a.to_ids,
            )
        })
        .collect()
}

fn payload_relations(o: &Value) -> BTreeSet<(String, String, String, String, bool)> {
    o["Attribute"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                s(a, "object_relation"),
                s(a, "type"),
                s(a, "category"),
                s(a, "value"),
                a["to_ids"].as_bool().unwrap(),
            )
        })
        .collect()
}

fn map(story: &Story) -> (Event, Vec<Warning>) {
    story_to_event(story, &MappingOptions::default()).unwrap()
}

#[test]
fn taranis_objects_match_taranis_own_payload() {
    let payload = load("generated/misp_add_event_payload_for_worker_story_list_11.json");
    let (event, _) = map(&taranis_story_11());
    assert_eq!(event.uuid.to_string(), s(&payload, "uuid"));
    assert_eq!(event.info, s(&payload, "info"));
    let ours = |name: &str| event.objects.iter().find(|o| o.name == name).unwrap();
    let theirs = |name: &str| {
        payload["Object"]
            .as_array()
            .unwrap()
            .iter()
            .find(|o| s(o, "name") == name)
            .unwrap()
            .clone()
    };
    for name in ["taranis-story", "taranis-news-item"] {
        let (o, p) = (ours(name), theirs(name));
        assert_eq!(o.meta_category, s(&p, "meta-category"));
        assert_eq!(o.description, s(&p, "description"));
        assert_eq!(o.template_uuid.to_string(), s(&p, "template_uuid"));
        assert_eq!(o.template_version, s(&p, "template_version"));
        assert_eq!(o.distribution, DISTRIBUTION_INHERIT);
        let mut expected = payload_relations(&p);
        if name == "taranis-news-item" {
            // The one deliberate difference: Taranis' hash is a SHA-256 of title+link, not an IDS indicator.
            let hash = expected.iter().find(|r| r.0 == "hash").unwrap().clone();
            expected.remove(&hash);
            expected.insert((hash.0, hash.1, hash.2, hash.3, false));
        }
        assert_eq!(relations(o), expected, "{name}");
        // Template order, like Taranis' BaseMispObject.
        let rels: Vec<_> = o
            .attributes
            .iter()
            .map(|a| a.object_relation.clone().unwrap())
            .collect();
        let mut theirs_order: Vec<String> = p["Attribute"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| s(a, "object_relation"))
            .collect();
        theirs_order.dedup();
        let mut ours_order = rels.clone();
        ours_order.dedup();
        assert_eq!(ours_order, theirs_order, "{name}");
    }
    // Taranis puts no tags on the event; we add the TLP and the story tags.
    let tags: Vec<_> = event.tags.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(tags, vec!["TAG", "tag2", "tlp:clear"]);
}

#[test]
fn event_fields_from_story_and_options() {
    let st = taranis_story_11();
    let opts = MappingOptions {
        distribution: 4,
        sharing_group_id: Some(7),
        threat_level_id: 2,
        analysis: 1,
        published: true,
        extra_tags: vec!["source:taranis".into()],
        four_byte: FourBytePolicy::Replace,
    };
    let (event, _) = story_to_event(&st, &opts).unwrap();
    assert_eq!(event.date, "2025-06-03");
    assert_eq!(event.distribution, 4);
    assert_eq!(event.sharing_group_id, Some(7));
    assert_eq!(
        (event.threat_level_id, event.analysis, event.published),
        (2, 1, true)
    );
    assert_eq!(event.timestamp, st.modified.map(|d| d.timestamp()));
    assert!(event.tags.iter().any(|t| t.name == "source:taranis"));
    // A sharing group only travels with distribution 4; distribution 0 is really sent.
    let opts = MappingOptions {
        sharing_group_id: Some(7),
        ..MappingOptions::default()
    };
    let (event, _) = story_to_event(&st, &opts).unwrap();
    assert_eq!(event.sharing_group_id, None);
    let json = serde_json::to_value(&event).unwrap();
    assert_eq!(json["distribution"], 0);
    assert_eq!(json["published"], false);
}

#[test]
fn info_fallbacks() {
    let mut st = empty_story();
    assert_eq!(map(&st).0.info, UNTITLED);
    st.news_items = vec![
        NewsItem {
            id: "a".into(),
            title: "  ".into(),
            ..NewsItem::default()
        },
        NewsItem {
            id: "b".into(),
            title: "Second\nitem".into(),
            ..NewsItem::default()
        },
    ];
    assert_eq!(map(&st).0.info, "Second item");
    st.title = "Story title".into();
    let (event, _) = map(&st);
    assert_eq!(event.info, "Story title");
    assert_eq!(event.reports[0].name, "Story title");
}

#[test]
fn date_fallbacks_are_deterministic() {
    let mut st = empty_story();
    let (event, _) = map(&st);
    assert_eq!(event.date, FALLBACK_DATE);
    assert_eq!(event.timestamp, None);
    st.news_items = vec![NewsItem {
        id: "n".into(),
        collected: date("2024-02-03T10:00:00Z"),
        ..NewsItem::default()
    }];
    assert_eq!(map(&st).0.date, "2024-02-03");
    st.modified = date("2024-05-06T23:59:59Z");
    assert_eq!(map(&st).0.date, "2024-05-06");
    st.created = date("2024-04-05T00:00:00Z");
    assert_eq!(map(&st).0.date, "2024-04-05");
    st.published = Some(Utc.with_ymd_and_hms(2024, 3, 4, 12, 0, 0).unwrap());
    let (event, _) = map(&st);
    assert_eq!(event.date, "2024-03-04");
    assert_eq!(
        event.timestamp,
        date("2024-05-06T23:59:59Z").map(|d| d.timestamp())
    );
}

#[test]
fn uuids_are_deterministic_and_unique() {
    let st = taranis_story_11();
    let (a, _) = map(&st);
    let (b, _) = map(&st);
    assert_eq!(
        serde_json::to_string(&a).unwrap(),
        serde_json::to_string(&b).unwrap()
    );
    let ev = st.id;
    assert_eq!(a.reports[0].uuid, ids::uuid_for(ev, "event-report"));
    assert_eq!(a.objects[0].uuid, ids::uuid_for(ev, "taranis-story"));
    assert_eq!(
        a.objects[1].uuid,
        ids::uuid_for(ev, "taranis-news-item:06cc6fd0-a775-4923-bdef-8cd5381164ce")
    );
    let mut all = vec![a.uuid, a.reports[0].uuid];
    for o in &a.objects {
        all.push(o.uuid);
        all.extend(o.attributes.iter().map(|x| x.uuid));
    }
    let set: BTreeSet<_> = all.iter().collect();
    assert_eq!(set.len(), all.len());
    // Single-valued relations keep their uuid when the value changes (updated in place).
    let mut changed = st.clone();
    changed.title = "New title".into();
    let (c, _) = map(&changed);
    let title_uuid = |e: &Event| {
        e.objects[0]
            .attributes
            .iter()
            .find(|x| x.object_relation.as_deref() == Some("title"))
            .unwrap()
            .uuid
    };
    assert_eq!(title_uuid(&a), title_uuid(&c));
}

#[test]
fn story_object_injects_misp_event_uuid_and_effective_tlp() {
    let mut st = empty_story();
    st.tlp = Some(Tlp::Amber);
    st.attributes = vec![
        StoryAttribute {
            key: "TLP".into(),
            value: "clear".into(),
        },
        StoryAttribute {
            key: "misp_event_uuid".into(),
            value: "320d4589-cd71-4722-aa28-ea5530e99830".into(),
        },
        StoryAttribute {
            key: "tlp".into(),
            value: "white".into(),
        },
    ];
    let (event, warnings) = map(&st);
    assert!(
        warnings
            .iter()
            .any(|w| w.message.contains("320d4589-cd71-4722-aa28-ea5530e99830")),
        "{warnings:?}"
    );
    let values: Vec<_> = event.objects[0]
        .attributes
        .iter()
        .filter(|a| a.object_relation.as_deref() == Some("attributes"))
        .map(|a| a.value.as_str())
        .collect();
    assert_eq!(
        values,
        vec![
            r#"{"key": "TLP", "value": "amber"}"#,
            r#"{"key": "misp_event_uuid", "value": "ed13a0b1-4f5f-4c43-bdf2-820ee0d43448"}"#
        ]
    );
    // Empty text fields become Taranis' <no_data>.
    let title = event.objects[0]
        .attributes
        .iter()
        .find(|a| a.object_relation.as_deref() == Some("title"))
        .unwrap();
    assert_eq!(title.value, "<no_data>");
}

#[test]
fn news_item_values_that_misp_would_refuse_are_left_out() {
    let mut st = empty_story();
    st.news_items = vec![NewsItem {
        id: "n1".into(),
        title: "t".into(),
        link: "not a url".into(),
        source: "manual".into(),
        hash: "abc".into(),
        ..NewsItem::default()
    }];
    let (event, warnings) = map(&st);
    let rels: Vec<_> = event.objects[1]
        .attributes
        .iter()
        .map(|a| a.object_relation.clone().unwrap())
        .collect();
    assert_eq!(rels, vec!["title", "id", "story_id"]);
    assert_eq!(warnings.len(), 2, "{warnings:?}");
}

#[test]
fn duplicate_news_items_are_sent_once() {
    let mut st = empty_story();
    let n = NewsItem {
        id: "n1".into(),
        title: "t".into(),
        ..NewsItem::default()
    };
    st.news_items = vec![n.clone(), n];
    let (event, warnings) = map(&st);
    assert_eq!(event.objects.len(), 2);
    assert_eq!(warnings.len(), 1);
}

#[test]
fn four_byte_policy_applies_everywhere() {
    let mut st = empty_story();
    st.title = "Emoji 😀 title".into();
    st.description = "desc 🚀".into();
    st.tags = vec![StoryTag {
        name: "tag 🔥".into(),
        tag_type: "misc".into(),
    }];
    let (event, _) = map(&st);
    let json = serde_json::to_string(&event).unwrap();
    assert!(!json.chars().any(|c| c.len_utf8() == 4));
    assert_eq!(event.info, "Emoji \u{FFFD} title");
    assert!(event.tags.iter().any(|t| t.name == "tag \u{FFFD}"));

    let strip = MappingOptions {
        four_byte: FourBytePolicy::Strip,
        ..MappingOptions::default()
    };
    assert_eq!(story_to_event(&st, &strip).unwrap().0.info, "Emoji title");

    let keep = MappingOptions {
        four_byte: FourBytePolicy::Keep,
        ..MappingOptions::default()
    };
    assert_eq!(story_to_event(&st, &keep).unwrap().0.info, "Emoji 😀 title");

    let reject = MappingOptions {
        four_byte: FourBytePolicy::Reject,
        ..MappingOptions::default()
    };
    let err = story_to_event(&st, &reject).unwrap_err();
    assert_eq!(
        err,
        MappingError::FourByteChar {
            story_id: "ed13a0b1-4f5f-4c43-bdf2-820ee0d43448".into(),
            field: "title".into()
        }
    );
    let mut st2 = empty_story();
    st2.news_items = vec![NewsItem {
        id: "n1".into(),
        content: "🙂".into(),
        ..NewsItem::default()
    }];
    let err = story_to_event(&st2, &reject).unwrap_err();
    assert!(err.to_string().contains("news_items[n1].content"), "{err}");
}

#[test]
fn control_characters_and_sizes_are_bounded() {
    let mut st = empty_story();
    st.title = format!("a\u{0}b{}", "x".repeat(70_000));
    st.news_items = vec![NewsItem {
        id: "n1".into(),
        content: "é".repeat(40_000),
        ..NewsItem::default()
    }];
    let (event, warnings) = map(&st);
    assert!(event.info.starts_with("abx"));
    assert!(event.info.len() <= text::MAX_TEXT_BYTES);
    assert_eq!(event.reports[0].name.chars().count(), 255);
    let content = event.objects[1]
        .attributes
        .iter()
        .find(|a| a.object_relation.as_deref() == Some("content"))
        .unwrap();
    assert!(content.value.len() <= text::MAX_TEXT_BYTES);
    assert!(warnings.iter().any(|w| w.message.contains("truncated")));
}

#[test]
fn report_sections_links_and_html_neutralised() {
    let mut st = empty_story();
    st.title = "T".into();
    st.description = "<script>alert(1)</script>\n<img src=x onerror=alert(1)>".into();
    st.summary = String::new();
    st.comments = "see [here](javascript:alert(1))".into();
    st.news_items = vec![
        NewsItem {
            id: "n1".into(),
            title: "First <b>item</b>".into(),
            link: "https://example.com/a?b=1&c=2".into(),
            ..NewsItem::default()
        },
        NewsItem {
            id: "n2".into(),
            title: "Evil](javascript:alert(1))".into(),
            link: "javascript:alert(1)".into(),
            ..NewsItem::default()
        },
    ];
    st.links = vec![
        StoryLink {
            url: "https://ref.example/x".into(),
            news_item_id: None,
            title: Some("Vendor advisory".into()),
        },
        StoryLink {
            url: "https://example.com/a?b=1&c=2".into(),
            news_item_id: Some("n1".into()),
            title: None,
        },
    ];
    let (event, _) = map(&st);
    let content = &event.reports[0].content;
    assert_eq!(
        content,
        "# Story description\n&lt;script&gt;alert(1)&lt;/script&gt;\n&lt;img src=x onerror=alert(1)&gt;\n\n\
         # Story comment\nsee \\[here\\](javascript:alert(1))\n\n\
         # News items\n- [First &lt;b&gt;item&lt;/b&gt;](https://example.com/a?b=1&amp;c=2)\n\
         - Evil\\](javascript:alert(1)) (javascript:alert(1))\n\n\
         # External links\n- [Vendor advisory](https://ref.example/x)"
    );
    assert!(!content.contains('<'));
    assert_eq!(event.reports[0].distribution, DISTRIBUTION_INHERIT);
    // A story without any text has an empty report, still updated in place.
    let (event, _) = map(&empty_story());
    assert_eq!(event.reports[0].content, "");
}

fn attr(type_: &str, category: &str, value: &str, to_ids: bool, comment: &str) -> Attribute {
    Attribute {
        uuid: ids::uuid_for(Uuid::nil(), &format!("{type_}|{value}")),
        type_: type_.into(),
        category: category.into(),
        value: value.into(),
        to_ids,
        comment: comment.into(),
        distribution: DISTRIBUTION_INHERIT,
        object_relation: None,
        disable_correlation: false,
        deleted: false,
        first_seen: None,
        last_seen: None,
        tags: vec![Tag::new("b"), Tag::new("a")],
    }
}

#[test]
fn final_pass_merges_validates_and_orders() {
    let mut warnings = Vec::new();
    let mut fin = Finisher {
        policy: FourBytePolicy::Replace,
        story_id: "s",
        source_id: "report--s",
        warnings: &mut warnings,
        seen: BTreeSet::new(),
    };
    let mut dup = attr(
        "ip-dst",
        "Network activity",
        "1.2.3.4",
        true,
        "from indicator",
    );
    dup.tags = vec![Tag::new("c")];
    let out = fin
        .attributes(vec![
            attr("url", "Network activity", "http://x", false, ""),
            attr(
                "ip-dst",
                "Network activity",
                " 1.2.3.4 ",
                false,
                "from observable",
            ),
            dup,
            attr("no-such-type", "Other", "v", false, ""),
            attr("domain", "Person", "example.com", true, ""),
            attr("text", "Other", "   ", false, ""),
        ])
        .unwrap();
    let summary: Vec<_> = out
        .iter()
        .map(|a| {
            (
                a.type_.as_str(),
                a.category.as_str(),
                a.value.as_str(),
                a.to_ids,
            )
        })
        .collect();
    assert_eq!(
        summary,
        vec![
            ("domain", "Network activity", "example.com", true),
            ("ip-dst", "Network activity", "1.2.3.4", true),
            ("url", "Network activity", "http://x", false),
        ]
    );
    assert_eq!(out[1].comment, "from observable\nfrom indicator");
    let tags: Vec<_> = out[1].tags.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(tags, vec!["a", "b", "c"]);
    assert_eq!(warnings.len(), 2, "{warnings:?}");
}
