//! Property tests of the story → event mapping: arbitrary stories (any Unicode, control characters, emoji,
//! odd URLs, repeated ids) never panic, map deterministically, and give events MISP accepts.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use misp_connector::mapping::{FourBytePolicy, MappingError, MappingOptions, story_to_event};
use misp_connector::misp::event::Event;
use misp_connector::misp::types;
use misp_connector::stix::Object;
use misp_connector::story::{Dialect, NewsItem, Story, StoryAttribute, StoryLink, StoryTag, Tlp};
use proptest::prelude::*;
use uuid::Uuid;

/// Text mixing plain words, HTML/markdown specials, control characters, 3- and 4-byte characters.
fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(String::new()),
        "[a-z ]{0,12}",
        "[<>&\\[\\]()`*_#|~\\\\:/a-z\"'\n\t\r\u{0}\u{7}]{0,20}",
        any::<String>(),
        "(😀|é|中|\u{FFFD}|javascript:|https://x.example/|tlp:amber|TLP:RED|misp:x){0,6}",
    ]
}

fn date() -> impl Strategy<Value = Option<DateTime<Utc>>> {
    prop::option::of((0i64..4_102_444_800).prop_map(|s| DateTime::from_timestamp(s, 0).unwrap()))
}

fn tlp() -> impl Strategy<Value = Option<Tlp>> {
    prop::option::of(prop_oneof![
        Just(Tlp::Clear),
        Just(Tlp::Green),
        Just(Tlp::Amber),
        Just(Tlp::AmberStrict),
        Just(Tlp::Red),
    ])
}

fn news_item() -> impl Strategy<Value = NewsItem> {
    (
        prop_oneof![Just("n1".to_owned()), Just("n2".to_owned()), text()],
        (text(), text(), text(), text()),
        (text(), text(), text()),
        prop_oneof![
            Just("b050dbdd99a5645e286ba20324afad2ec35e8a3bbdfa6721b6c9e3f74b8d0ed4".to_owned()),
            text()
        ],
        (date(), date()),
    )
        .prop_map(
            |(id, (title, content, link, author), (source, language, review), hash, (p, c))| {
                NewsItem {
                    id,
                    title,
                    content,
                    link,
                    author,
                    source,
                    language,
                    published: p,
                    collected: c,
                    hash,
                    review,
                    osint_source_id: String::new(),
                    story_id: String::new(),
                }
            },
        )
}

/// STIX content the story refers to: indicators (simple and odd patterns), SCOs and named SDOs, with
/// arbitrary values, repeated ids and repeated values (duplicates must be merged).
fn stix_object() -> impl Strategy<Value = Object> {
    let kinds = prop_oneof![
        Just("indicator"),
        Just("ipv4-addr"),
        Just("domain-name"),
        Just("url"),
        Just("malware"),
        Just("vulnerability"),
        Just("file"),
    ];
    (kinds, 0u8..4, text()).prop_map(|(kind, n, value)| {
        let id = format!("{kind}--00000000-0000-4000-8000-00000000000{n}");
        let v = serde_json::Value::String(value.clone());
        let json = match kind {
            "indicator" => serde_json::json!({
                "type": kind, "id": id, "pattern_type": "stix",
                "pattern": format!("[ipv4-addr:value = '{}'] OR [domain-name:value = '{}']",
                    value.replace('\'', ""), value.replace('\'', "")),
                "valid_from": "2024-01-01T00:00:00Z",
            }),
            "file" => serde_json::json!({"type": kind, "id": id, "name": v,
                "hashes": {"SHA-256": "aec070645fe53ee3b3763059376134f058cc337247c978add178b6ccdfb0019f"}}),
            "malware" | "vulnerability" => serde_json::json!({"type": kind, "id": id, "name": v}),
            _ => serde_json::json!({"type": kind, "id": id, "value": v}),
        };
        Object::from_value(json).unwrap()
    })
}

fn story() -> impl Strategy<Value = Story> {
    (
        any::<u128>(),
        (text(), text(), text(), text()),
        (date(), date(), date()),
        prop::collection::vec((text(), text()), 0..4),
        prop::collection::vec((text(), text()), 0..4),
        prop::collection::vec(text(), 0..4),
        tlp(),
        prop::collection::vec(
            (text(), prop::option::of(text()), prop::option::of(text())),
            0..4,
        ),
        prop::collection::vec(news_item(), 0..4),
        prop::collection::vec(stix_object(), 0..8),
    )
        .prop_map(
            |(
                id,
                (title, description, summary, comments),
                (published, created, modified),
                attrs,
                tags,
                labels,
                tlp,
                links,
                news_items,
                objects,
            )| {
                let mut attributes: Vec<StoryAttribute> = attrs
                    .into_iter()
                    .map(|(key, value)| StoryAttribute { key, value })
                    .collect();
                attributes.sort();
                attributes.dedup_by(|a, b| a.key == b.key);
                let mut tags: Vec<StoryTag> = tags
                    .into_iter()
                    .map(|(name, tag_type)| StoryTag { name, tag_type })
                    .collect();
                tags.sort();
                tags.dedup_by(|a, b| a.name == b.name);
                Story {
                    id: Uuid::from_u128(id),
                    source_id: format!("report--{}", Uuid::from_u128(id)),
                    dialect: Dialect::Native,
                    title,
                    description,
                    summary,
                    comments,
                    published,
                    created,
                    modified,
                    relevance: None,
                    attributes,
                    tags,
                    labels,
                    tlp,
                    links: links
                        .into_iter()
                        .map(|(url, news_item_id, title)| StoryLink {
                            url,
                            news_item_id,
                            title,
                        })
                        .collect(),
                    news_items,
                    objects,
                }
            },
        )
}

fn all_strings(e: &Event) -> Vec<&str> {
    let mut out = vec![e.info.as_str(), e.date.as_str()];
    out.extend(e.tags.iter().map(|t| t.name.as_str()));
    for r in &e.reports {
        out.push(&r.name);
        out.push(&r.content);
    }
    let attrs = e
        .attributes
        .iter()
        .chain(e.objects.iter().flat_map(|o| o.attributes.iter()));
    for a in attrs {
        out.push(&a.value);
        out.push(&a.comment);
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_stories_map_to_valid_events(story in story()) {
        let opts = MappingOptions::default();
        let (event, _) = story_to_event(&story, &opts).unwrap();
        let (again, _) = story_to_event(&story, &opts).unwrap();
        prop_assert_eq!(serde_json::to_string(&event).unwrap(), serde_json::to_string(&again).unwrap());

        prop_assert_eq!(event.uuid, story.id);
        prop_assert!(!event.info.trim().is_empty());
        prop_assert!(event.info.len() <= 65_535);
        prop_assert_eq!(event.date.len(), 10);
        prop_assert_eq!(event.reports.len(), 1);
        prop_assert!(event.reports[0].name.chars().count() <= 255);
        prop_assert!(!event.reports[0].content.contains('<'));

        let mut uuids = BTreeSet::new();
        prop_assert!(uuids.insert(event.uuid));
        prop_assert!(uuids.insert(event.reports[0].uuid));
        for o in &event.objects {
            prop_assert!(uuids.insert(o.uuid), "duplicate object uuid");
            prop_assert!(!o.attributes.is_empty());
            for a in &o.attributes {
                prop_assert!(uuids.insert(a.uuid), "duplicate attribute uuid {}", a.uuid);
                prop_assert!(types::is_valid_category(&a.type_, &a.category), "{} / {}", a.type_, a.category);
                prop_assert!(!a.value.trim().is_empty());
                prop_assert!(a.value.len() <= 65_535);
                if a.object_relation.as_deref() == Some("hash") {
                    prop_assert!(!a.to_ids);
                }
            }
        }
        let mut pairs = BTreeSet::new();
        for a in &event.attributes {
            prop_assert!(uuids.insert(a.uuid), "duplicate attribute uuid {}", a.uuid);
            prop_assert!(types::is_valid_category(&a.type_, &a.category), "{} / {}", a.type_, a.category);
            prop_assert!(!a.value.trim().is_empty());
            prop_assert!(a.value.len() <= 65_535);
            prop_assert!(pairs.insert((a.type_.clone(), a.value.clone())), "duplicate {}|{}", a.type_, a.value);
        }
        prop_assert_eq!(event.objects.iter().filter(|o| o.name == "taranis-story").count(), 1);
        let tags: Vec<_> = event.tags.iter().map(|t| t.name.clone()).collect();
        let mut sorted = tags.clone();
        sorted.sort();
        sorted.dedup();
        prop_assert_eq!(&tags, &sorted);
        prop_assert!(tags.iter().filter(|t| t.starts_with("tlp:") && Tlp::parse(t).is_some()).count() <= 1);
        for s in all_strings(&event) {
            prop_assert!(!s.chars().any(|c| c.len_utf8() == 4), "4-byte char in {s:?}");
            prop_assert!(!s.chars().any(|c| c.is_control() && c != '\n' && c != '\t'), "control char in {s:?}");
        }
    }

    #[test]
    fn reject_policy_fails_only_on_four_byte_characters(story in story()) {
        let reject = MappingOptions { four_byte: FourBytePolicy::Reject, ..MappingOptions::default() };
        let keep = MappingOptions { four_byte: FourBytePolicy::Keep, ..MappingOptions::default() };
        let kept = story_to_event(&story, &keep).unwrap().0;
        let has_four_byte = all_strings(&kept).iter().any(|s| s.chars().any(|c| c.len_utf8() == 4));
        match story_to_event(&story, &reject) {
            Ok((event, _)) => {
                prop_assert!(!has_four_byte);
                prop_assert_eq!(serde_json::to_string(&event).unwrap(), serde_json::to_string(&kept).unwrap());
            }
            Err(MappingError::FourByteChar { story_id, field }) => {
                prop_assert_eq!(story_id, story.id.hyphenated().to_string());
                prop_assert!(!field.is_empty());
            }
        }
    }
}
