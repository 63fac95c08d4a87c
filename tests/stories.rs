//! Story extraction for the three dialects (examples and reference fixtures), multi-story bundles, the
//! presenter's product grouping, the no-story error, and property tests: parse + extract never panic and
//! are deterministic on arbitrary JSON and on mutated corpus bundles.

use std::path::{Path, PathBuf};

use chrono::{TimeZone, Utc};
use misp_connector::error::{Classify, ErrorClass, Warning};
use misp_connector::limits::Limits;
use misp_connector::stix::bundle::parse;
use misp_connector::story::{
    Dialect, ExtractError, Story, StoryAttribute, StoryTag, Tlp, extract_stories,
};
use proptest::prelude::*;
use serde_json::{Value, json};

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// `shared/` beside the repository (CI, `/work/main`), or two levels up from a git worktree.
fn shared() -> PathBuf {
    let beside = root().join("../shared");
    if beside.is_dir() {
        beside
    } else {
        root().join("../../shared")
    }
}

fn stories_of(bytes: &[u8]) -> Result<(Vec<Story>, Vec<Warning>), ExtractError> {
    let bundle = parse(bytes, &Limits::default()).expect("parses");
    extract_stories(&bundle)
}

fn file_stories(path: &Path) -> (Vec<Story>, Vec<Warning>) {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    stories_of(&bytes).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn example(name: &str) -> (Vec<Story>, Vec<Warning>) {
    file_stories(&root().join("examples").join(name))
}

fn bundle(objects: Value) -> Vec<u8> {
    serde_json::to_vec(&json!({"type":"bundle","id":"bundle--6b7fa2f0-8d52-4bcd-a6ad-2c4be3b1f6a8","objects":objects}))
        .unwrap()
}

fn ts(y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32) -> chrono::DateTime<Utc> {
    Utc.with_ymd_and_hms(y, mo, d, h, mi, s).unwrap()
}

fn tag(name: &str, tag_type: &str) -> StoryTag {
    StoryTag {
        name: name.into(),
        tag_type: tag_type.into(),
    }
}

fn attr(key: &str, value: &str) -> StoryAttribute {
    StoryAttribute {
        key: key.into(),
        value: value.into(),
    }
}

// ---------------------------------------------------------------- native

#[test]
fn native_story_example() {
    let (stories, warnings) = example("native-story.json");
    assert!(warnings.is_empty(), "{warnings:?}");
    let [s] = stories.as_slice() else {
        panic!("one story, got {}", stories.len())
    };
    assert_eq!(s.id.to_string(), "ed13a0b1-4f5f-4c43-bdf2-820ee0d43448");
    assert_eq!(s.source_id, "report--ed13a0b1-4f5f-4c43-bdf2-820ee0d43448");
    assert_eq!(s.dialect, Dialect::Native);
    assert_eq!(s.title, "Title");
    assert_eq!(s.description, "");
    assert_eq!(s.summary, "This is a story summary");
    assert_eq!(s.comments, "This is a story comment");
    assert_eq!(s.relevance, Some(0));
    assert_eq!(s.created, Some(ts(2025, 6, 3, 7, 36, 0)));
    assert_eq!(s.published, Some(ts(2025, 6, 3, 7, 36, 0)));
    assert_eq!(
        s.modified.map(|t| t.timestamp_millis()),
        Some(ts(2025, 6, 3, 12, 37, 53).timestamp_millis() + 360)
    );
    assert_eq!(s.version(), s.modified);
    assert_eq!(
        s.attributes,
        vec![
            attr("TLP", "clear"),
            attr("cybersecurity", "yes"),
            attr("test_key", "test_value")
        ]
    );
    assert_eq!(s.tags, vec![tag("TAG", "ORG"), tag("tag2", "misc")]);
    assert_eq!(s.labels, vec!["cybersecurity".to_owned()]);
    assert_eq!(s.tlp, Some(Tlp::Clear));

    assert_eq!(s.news_items.len(), 2);
    let n = &s.news_items[0];
    assert_eq!(n.id, "06cc6fd0-a775-4923-bdef-8cd5381164ce");
    assert_eq!(n.title, "Title news item with attributes");
    assert_eq!(n.content, "Title attributes");
    assert_eq!(
        n.link,
        "https://www.hohoho.at/news/special-case-with-attributes.html"
    );
    assert_eq!(n.author, "Author attributes");
    assert_eq!(n.source, "https://www.test.at/security/rss/news.xml");
    assert_eq!(
        n.hash,
        "b050dbdd99a5645e286ba20324afad2ec35e8a3bbdfa6721b6c9e3f74b8d0ed4"
    );
    assert_eq!(n.osint_source_id, "2fe06fdc-46a6-4688-ba01-3f0931aab7a5");
    assert_eq!(n.story_id, "ed13a0b1-4f5f-4c43-bdf2-820ee0d43448");
    assert_eq!(n.published, Some(ts(2025, 6, 3, 7, 36, 0)));
    assert_eq!(
        n.collected.map(|t| t.timestamp()),
        Some(ts(2025, 6, 3, 8, 1, 11).timestamp())
    );

    // The external reference first, then one link per news item.
    let urls: Vec<(&str, Option<&str>)> = s
        .links
        .iter()
        .map(|l| (l.url.as_str(), l.news_item_id.as_deref()))
        .collect();
    assert_eq!(
        urls,
        vec![
            (
                "https://taranis.example.org/story/ed13a0b1-4f5f-4c43-bdf2-820ee0d43448",
                None
            ),
            (
                "https://www.hohoho.at/news/special-case-with-attributes.html",
                Some("06cc6fd0-a775-4923-bdef-8cd5381164ce")
            ),
            (
                "https://advisories.example.com/2025/06/cve-2025-0001",
                Some(s.news_items[1].id.as_str())
            ),
        ]
    );
    assert_eq!(s.links[0].title.as_deref(), Some("Taranis AI"));

    // object_refs order, then what observed-data and the relationship refer to; no news items, no duplicates.
    let types: Vec<&str> = s.objects.iter().map(|o| o.type_.as_str()).collect();
    assert_eq!(
        types,
        vec![
            "indicator",
            "indicator",
            "indicator",
            "observed-data",
            "vulnerability",
            "relationship",
            "domain-name",
            "ipv4-addr",
            "malware"
        ]
    );
}

#[test]
fn native_update_example_is_the_same_story_newer() {
    let (old, _) = example("native-story.json");
    let (new, _) = example("native-story-update.json");
    assert_eq!(old[0].id, new[0].id);
    assert!(new[0].version() > old[0].version());
    assert_eq!(new[0].news_items.len(), 1);
    assert_eq!(new[0].news_items[0].id, old[0].news_items[0].id);
    assert_ne!(new[0].summary, old[0].summary);
    assert_ne!(new[0].comments, old[0].comments);
}

#[test]
fn native_multi_story_example() {
    let (stories, warnings) = example("native-multi-story.json");
    assert!(warnings.is_empty(), "{warnings:?}");
    let ids: Vec<String> = stories.iter().map(|s| s.id.to_string()).collect();
    assert_eq!(
        ids,
        vec![
            "25476508-0281-503d-9282-e9c467391905",
            "e2a08503-b5a4-5dfb-adab-646a7adf74f4",
            "e55c45cc-3327-5521-954f-444cd0e3a8ba"
        ]
    );
    assert!(
        stories
            .iter()
            .all(|s| s.dialect == Dialect::Native && s.news_items.len() == 1)
    );
    assert_eq!(stories[0].title, "Test Aggregate");
    assert_eq!(stories[2].title, "Test With crayz characters");
    assert_eq!(
        stories[2].summary,
        "Following some utf 16 chars 😢😢 and 🍕 and 😄"
    );
    // TLP from the attribute (green) and, for the second, the TLP 2.0 AMBER marking as well.
    assert_eq!(
        stories.iter().map(|s| s.tlp).collect::<Vec<_>>(),
        vec![Some(Tlp::Green), Some(Tlp::Amber), Some(Tlp::Green)]
    );
    // Each story only holds its own news item; several stories: no bundle-wide objects.
    assert_eq!(stories[1].news_items[0].title, "Test News Item 12");
    assert!(stories.iter().all(|s| s.objects.is_empty()));
    assert_eq!(stories[0].tags.len(), 10);
    assert!(
        stories[0].tags.windows(2).all(|w| w[0].name < w[1].name),
        "tags sorted by name"
    );
}

#[test]
fn top_level_x_taranis_properties_and_grouping() {
    let input = bundle(json!([
        {"type":"grouping","spec_version":"2.1","id":"grouping--AAAAAAAA-1111-4222-8333-444444444444",
         "created":"2025-06-03T07:36:00+00:00","modified":"2025-06-03T08:00:00.5Z","context":"suspicious-activity",
         "name":"  Grouping story  ","x_taranis_summary":"sum","x_taranis_comments":"com","x_taranis_relevance":"5",
         "x_taranis_attributes":{"TLP":{"key":"TLP","value":"amber+strict"}},
         "x_taranis_tags":["apt", {"name":"ORG1","tag_type":"ORG"}],
         "labels":["tlp:green","x","x"],
         "object_refs":["indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f"]},
        {"type":"indicator","spec_version":"2.1","id":"indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f","pattern":"[ipv4-addr:value = '203.0.113.1']"}
    ]));
    let (stories, warnings) = stories_of(&input).unwrap();
    assert!(warnings.is_empty(), "{warnings:?}");
    let s = &stories[0];
    assert_eq!(
        s.id.to_string(),
        "aaaaaaaa-1111-4222-8333-444444444444",
        "lower case"
    );
    assert_eq!(s.dialect, Dialect::Native);
    assert_eq!(s.title, "Grouping story");
    assert_eq!(
        (s.summary.as_str(), s.comments.as_str(), s.relevance),
        ("sum", "com", Some(5))
    );
    assert_eq!(s.tags, vec![tag("ORG1", "ORG"), tag("apt", "")]);
    assert_eq!(s.labels, vec!["tlp:green".to_owned(), "x".to_owned()]);
    assert_eq!(
        s.tlp,
        Some(Tlp::AmberStrict),
        "most restrictive of label green and attribute amber+strict"
    );
    assert_eq!(s.created, Some(ts(2025, 6, 3, 7, 36, 0)));
    assert_eq!(s.objects.len(), 1);
}

#[test]
fn extension_wins_over_top_level_properties() {
    let input = bundle(json!([{
        "type":"report","id":"report--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f","name":"r",
        "x_taranis_summary":"top","x_taranis_comments":"top comments",
        "extensions":{"extension-definition--e94f0bd6-d310-498d-a0ed-cdd848cc6970":
            {"extension_type":"property-extension","summary":"ext"}}
    }]));
    let (stories, _) = stories_of(&input).unwrap();
    assert_eq!(stories[0].summary, "ext");
    assert_eq!(
        stories[0].comments, "top comments",
        "missing in the extension → top-level property"
    );
}

// ---------------------------------------------------------------- TLP

fn tlp_of(markings: Value, extra: Value) -> Option<Tlp> {
    let mut objects = vec![
        json!({"type":"report","id":"report--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f","name":"r",
        "object_marking_refs":markings}),
    ];
    objects.extend(extra.as_array().cloned().unwrap_or_default());
    stories_of(&bundle(Value::Array(objects))).unwrap().0[0].tlp
}

#[test]
fn tlp_from_fixed_marking_ids_without_the_marking_objects() {
    let cases = [
        (
            "marking-definition--613f2e26-407d-48c7-9eca-b8e91df99dc9",
            Tlp::Clear,
        ),
        (
            "marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da",
            Tlp::Green,
        ),
        (
            "marking-definition--f88d31f6-486f-44da-b317-01333bde0b82",
            Tlp::Amber,
        ),
        (
            "marking-definition--5e57c739-391a-4eb3-b6be-7d15ca92d5ed",
            Tlp::Red,
        ),
        (
            "marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487",
            Tlp::Clear,
        ),
        (
            "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb",
            Tlp::Green,
        ),
        (
            "marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421",
            Tlp::Amber,
        ),
        (
            "marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003",
            Tlp::AmberStrict,
        ),
        (
            "marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1",
            Tlp::Red,
        ),
    ];
    for (id, tlp) in cases {
        assert_eq!(tlp_of(json!([id]), json!([])), Some(tlp), "{id}");
    }
    assert_eq!(
        tlp_of(
            json!([
                "marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da",
                "marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1"
            ]),
            json!([])
        ),
        Some(Tlp::Red),
        "most restrictive"
    );
    assert_eq!(
        tlp_of(
            json!(["marking-definition--00000000-0000-4000-8000-000000000000"]),
            json!([])
        ),
        None
    );
}

#[test]
fn tlp_from_marking_objects() {
    let id = "marking-definition--a1b2c3d4-0000-4000-8000-000000000001";
    let with = |m: Value| tlp_of(json!([id]), json!([m]));
    assert_eq!(
        with(
            json!({"type":"marking-definition","id":id,"definition_type":"tlp","definition":{"tlp":"amber"}})
        ),
        Some(Tlp::Amber)
    );
    assert_eq!(
        with(
            json!({"type":"marking-definition","id":id,"extensions":{"extension-definition--60a3c5c5-0d10-413e-aab3-9e08dde9e88d":{"extension_type":"property-extension","tlp_2_0":"red"}}})
        ),
        Some(Tlp::Red)
    );
    assert_eq!(
        with(json!({"type":"marking-definition","id":id,"name":"TLP:AMBER+STRICT"})),
        Some(Tlp::AmberStrict)
    );
    assert_eq!(
        with(
            json!({"type":"marking-definition","id":id,"definition_type":"statement","definition":{"statement":"(c)"}})
        ),
        None
    );
}

// ---------------------------------------------------------------- presenter

#[test]
fn presenter_story_from_taranis_fixture() {
    let path = shared()
        .join("reference/taranis/fixtures/generated/stix_bundle_for_worker_story_list_11.json");
    let (stories, warnings) = file_stories(&path);
    assert!(warnings.is_empty(), "{warnings:?}");
    let [s] = stories.as_slice() else {
        panic!("one story")
    };
    assert_eq!(s.id.to_string(), "ed13a0b1-4f5f-4c43-bdf2-820ee0d43448");
    assert_eq!(
        s.source_id,
        "x-misp-object--a4931523-d966-4c59-aad3-9cea1abcddd8"
    );
    assert_eq!(s.dialect, Dialect::Presenter);
    assert_eq!(s.title, "Title");
    assert_eq!(s.description, "", "<no_data> reads as empty");
    assert_eq!(s.summary, "This is a story summary");
    assert_eq!(s.comments, "This is a story comment");
    assert_eq!(s.tags, vec![tag("TAG", "ORG"), tag("tag2", "misc")]);
    assert_eq!(
        s.attributes,
        vec![
            attr("TLP", "clear"),
            attr("cybersecurity", "yes"),
            attr("misp_event_uuid", "ed13a0b1-4f5f-4c43-bdf2-820ee0d43448"),
            attr("test_key", "test_value")
        ]
    );
    assert_eq!(s.tlp, Some(Tlp::Clear));
    assert!(s.labels.is_empty(), "misp:* labels are not story labels");
    assert_eq!(
        s.links.len(),
        1,
        "the links relation and the news item link are the same link"
    );
    assert_eq!(
        s.links[0].news_item_id.as_deref(),
        Some("06cc6fd0-a775-4923-bdef-8cd5381164ce")
    );
    assert_eq!(s.published, Some(ts(2026, 11, 22, 18, 55, 40)));
    let [n] = s.news_items.as_slice() else {
        panic!("one news item")
    };
    assert_eq!(n.id, "06cc6fd0-a775-4923-bdef-8cd5381164ce");
    assert_eq!(n.title, "Title news item with attributes");
    assert_eq!(
        n.hash,
        "b050dbdd99a5645e286ba20324afad2ec35e8a3bbdfa6721b6c9e3f74b8d0ed4"
    );
    assert_eq!(n.story_id, "ed13a0b1-4f5f-4c43-bdf2-820ee0d43448");
    assert_eq!(n.language, "");
    assert!(
        s.objects.is_empty(),
        "taranis x-misp-objects are not content"
    );

    // The examples/ copy gives the same story.
    assert_eq!(example("presenter-story.json").0, stories);
}

#[test]
fn presenter_product_grouping_is_not_a_story() {
    let path = shared().join(
        "reference/taranis/fixtures/generated/stix_bundle_for_stix_presenter_test_product.json",
    );
    let (stories, warnings) = file_stories(&path);
    assert!(warnings.is_empty(), "{warnings:?}");
    let [s] = stories.as_slice() else {
        panic!(
            "one story (the product grouping is none), got {}",
            stories.len()
        )
    };
    assert_eq!(s.id.to_string(), "dc4ad103-d5ef-4b9d-be56-fcfdfcdbe10e");
    assert_eq!(s.title, "Oktober im Zeichen von \"Coffee with Cops\"");
    assert_eq!(s.news_items.len(), 1);
    assert_eq!(s.news_items[0].id, "d1b68712-4281-4532-88b0-907b3924e938");
    assert_eq!(
        s.tags,
        vec![tag(
            "conclusions",
            "report_09e63054-309a-459e-9dca-7544749e86dc"
        )]
    );
    assert_eq!(s.tlp, Some(Tlp::Clear));
    assert!(
        s.objects.is_empty(),
        "report groups are presenter objects, not content"
    );

    // The product grouping alone is no story.
    let bytes = std::fs::read(&path).unwrap();
    let mut doc: Value = serde_json::from_slice(&bytes).unwrap();
    doc["objects"]
        .as_array_mut()
        .unwrap()
        .retain(|o| o["type"] == "grouping");
    assert_eq!(
        stories_of(&serde_json::to_vec(&doc).unwrap()).unwrap_err(),
        ExtractError::NoStory
    );
}

fn misp_object(id: &str, name: &str, by_label: bool, rel: &[(&str, &str)]) -> Value {
    let attrs: Vec<Value> = rel
        .iter()
        .map(|(r, v)| json!({"type":"text","object_relation":r,"value":v}))
        .collect();
    let mut o = json!({"type":"x-misp-object","id":id,"x_misp_attributes":attrs});
    if by_label {
        o["labels"] = json!([format!("misp:name=\"{name}\"")]);
    } else {
        o["x_misp_name"] = json!(name);
    }
    o
}

#[test]
fn presenter_container_with_several_stories() {
    let s1 = "11111111-1111-4111-8111-111111111111";
    let s2 = "22222222-2222-4222-8222-222222222222";
    let input = bundle(json!([
        {"type":"report","id":"report--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f","name":"product","published":"2025-01-01T00:00:00Z",
         "object_refs":["x-misp-object--00000000-0000-4000-8000-000000000001","x-misp-object--00000000-0000-4000-8000-000000000002",
                        "x-misp-object--00000000-0000-4000-8000-000000000003","x-misp-object--00000000-0000-4000-8000-000000000004",
                        "x-misp-object--00000000-0000-4000-8000-000000000005","x-misp-object--00000000-0000-4000-8000-000000000006"]},
        misp_object("x-misp-object--00000000-0000-4000-8000-000000000001", "taranis-story", false, &[("id", s1), ("title", "one"), ("tags", "{\"name\":\"a\"}")]),
        misp_object("x-misp-object--00000000-0000-4000-8000-000000000002", "taranis-story", true, &[("id", &s2.to_uppercase()), ("title", "two"), ("attributes", "{\"key\":\"TLP\",\"value\":\"red\"}")]),
        misp_object("x-misp-object--00000000-0000-4000-8000-000000000003", "taranis-news-item", false, &[("id", "n1"), ("story_id", s1), ("title", "n1")]),
        misp_object("x-misp-object--00000000-0000-4000-8000-000000000004", "taranis-news-item", true, &[("id", "n2"), ("story_id", s2), ("title", "n2")]),
        misp_object("x-misp-object--00000000-0000-4000-8000-000000000005", "taranis-news-item", false, &[("id", "n3"), ("title", "orphan")]),
        misp_object("x-misp-object--00000000-0000-4000-8000-000000000006", "taranis-story", false, &[("id", "not-a-uuid")])
    ]));
    let (stories, warnings) = stories_of(&input).unwrap();
    assert_eq!(stories.len(), 2);
    assert_eq!(
        (stories[0].id.to_string(), stories[0].title.as_str()),
        (s1.to_owned(), "one")
    );
    assert_eq!(
        (stories[1].id.to_string(), stories[1].title.as_str()),
        (s2.to_owned(), "two")
    );
    assert_eq!(
        stories[0]
            .news_items
            .iter()
            .map(|n| n.id.as_str())
            .collect::<Vec<_>>(),
        vec!["n1"]
    );
    assert_eq!(
        stories[1]
            .news_items
            .iter()
            .map(|n| n.id.as_str())
            .collect::<Vec<_>>(),
        vec!["n2"]
    );
    assert_eq!(stories[1].tlp, Some(Tlp::Red));
    assert_eq!(stories[0].tags, vec![tag("a", "")]);
    let text: Vec<String> = warnings.iter().map(ToString::to_string).collect();
    assert_eq!(text.len(), 2, "{text:?}");
    assert!(text.iter().any(|w| w.contains("not-a-uuid")), "{text:?}");
    assert!(
        text.iter()
            .any(|w| w.contains("n3") && w.contains("belongs to no taranis-story")),
        "{text:?}"
    );
}

#[test]
fn presenter_news_item_without_story_id_joins_the_only_story() {
    let input = bundle(json!([
        {"type":"report","id":"report--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f","name":"x",
         "object_refs":["x-misp-object--00000000-0000-4000-8000-000000000001","x-misp-object--00000000-0000-4000-8000-000000000002"]},
        misp_object("x-misp-object--00000000-0000-4000-8000-000000000001", "taranis-story", false, &[("id", "11111111-1111-4111-8111-111111111111")]),
        misp_object("x-misp-object--00000000-0000-4000-8000-000000000002", "taranis-news-item", false, &[("id", "n1")]),
    ]));
    let (stories, warnings) = stories_of(&input).unwrap();
    assert!(warnings.is_empty(), "{warnings:?}");
    assert_eq!(stories[0].news_items.len(), 1);
}

// ---------------------------------------------------------------- plain

#[test]
fn plain_report_example() {
    let (stories, warnings) = example("plain-report.json");
    assert!(warnings.is_empty(), "{warnings:?}");
    let [s] = stories.as_slice() else {
        panic!("one story")
    };
    assert_eq!(s.dialect, Dialect::Plain);
    assert_eq!(s.title, "Credential phishing wave delivering QuietLoader");
    assert!(s.summary.is_empty() && s.comments.is_empty() && s.news_items.is_empty());
    assert!(s.attributes.is_empty() && s.tags.is_empty() && s.relevance.is_none());
    assert_eq!(s.labels, vec!["phishing".to_owned(), "loader".to_owned()]);
    assert_eq!(s.tlp, Some(Tlp::Amber));
    assert_eq!(s.links.len(), 1);
    assert_eq!(s.links[0].title.as_deref(), Some("Example Vendor blog"));
    // 10 refs + the 3 SCOs of the observed-data; no identity, no marking.
    assert_eq!(s.objects.len(), 13);
    assert!(
        s.objects
            .iter()
            .all(|o| o.type_ != "identity" && o.type_ != "marking-definition")
    );
}

#[test]
fn corpus_reports_are_plain_stories() {
    let path = shared().join("corpus/stix/oasis-examples/threat-reports/apt1.json");
    let path = if path.exists() {
        path
    } else {
        shared().join("corpus/stix/oasis-examples/apt1.json")
    };
    let (stories, _) = file_stories(&path);
    assert_eq!(stories.len(), 1);
    assert_eq!(
        stories[0].id.to_string(),
        "e33ffe07-2f4c-48d8-b0af-ee2619d765cf"
    );
    assert_eq!(stories[0].dialect, Dialect::Plain);
    assert_eq!(
        stories[0].title,
        "APT1: Exposing One of China's Cyber Espionage Units"
    );
    assert!(!stories[0].objects.is_empty());
}

#[test]
fn single_story_rule_adds_unreferenced_content() {
    let input = bundle(json!([
        {"type":"identity","id":"identity--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f","name":"me"},
        {"type":"report","id":"report--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f","name":"r",
         "object_refs":["malware--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f","indicator--00000000-0000-4000-8000-00000000dead"]},
        {"type":"indicator","id":"indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f","pattern":"[url:value = 'http://x.example/']"},
        {"type":"malware","id":"malware--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f","name":"m"},
        {"type":"marking-definition","id":"marking-definition--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f"},
        {"type":"x-taranis-news-item","id":"x-taranis-news-item--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f","title":"unreferenced"}
    ]));
    let (stories, _) = stories_of(&input).unwrap();
    let ids: Vec<&str> = stories[0]
        .objects
        .iter()
        .map(|o| o.type_.as_str())
        .collect();
    assert_eq!(
        ids,
        vec!["malware", "indicator"],
        "referenced first, then the rest; no identity/marking/news item"
    );

    // With two stories each keeps only what it refers to.
    let mut doc: Value = serde_json::from_slice(&input).unwrap();
    doc["objects"].as_array_mut().unwrap().push(
        json!({"type":"report","id":"report--11111111-1111-4111-8111-111111111111","name":"r2"}),
    );
    let (stories, _) = stories_of(&serde_json::to_vec(&doc).unwrap()).unwrap();
    assert_eq!(stories.len(), 2);
    assert_eq!(stories[0].objects.len(), 1);
    assert!(stories[1].objects.is_empty());
}

#[test]
fn same_story_twice_keeps_the_newest_version() {
    // Versions of one report (same STIX id): the parser keeps the newest.
    let report = |modified: &str, name: &str| json!({"type":"report","id":"report--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f","name":name,"modified":modified});
    let input = bundle(json!([
        report("2025-01-01T00:00:00Z", "old"),
        report("2025-02-01T00:00:00Z", "new"),
        report("2024-01-01T00:00:00Z", "older")
    ]));
    let parsed = parse(&input, &Limits::default()).unwrap();
    assert_eq!(parsed.warnings.len(), 2, "{:?}", parsed.warnings);
    let (stories, warnings) = extract_stories(&parsed).unwrap();
    assert_eq!(stories.len(), 1);
    assert_eq!(stories[0].title, "new");
    assert!(warnings.is_empty());

    // A report and a grouping with the same uuid are one story: the newest wins, with a warning.
    let input = bundle(json!([
        {"type":"report","id":"report--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f","name":"old","modified":"2025-01-01T00:00:00Z"},
        {"type":"grouping","id":"grouping--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f","name":"new","modified":"2025-02-01T00:00:00Z"},
        {"type":"report","id":"report--8E2E2D2B-17D4-4CBF-938F-98EE46B3CD3F","name":"oldest","modified":"2024-02-01T00:00:00Z"}
    ]));
    let (stories, warnings) = stories_of(&input).unwrap();
    assert_eq!(stories.len(), 1);
    assert_eq!(stories[0].title, "new");
    assert_eq!(
        stories[0].source_id,
        "grouping--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f"
    );
    assert_eq!(warnings.len(), 2, "{warnings:?}");
    assert!(
        warnings[0].message.contains(
            "the version of 2025-02-01T00:00:00+00:00 (grouping--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f) is used, \
             the version of 2025-01-01T00:00:00+00:00 is ignored"
        ),
        "{}",
        warnings[0]
    );
}

// ---------------------------------------------------------------- errors and warnings

#[test]
fn no_story() {
    let e = stories_of(&bundle(json!([
        {"type":"indicator","id":"indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f","pattern":"[url:value = 'http://x.example/']"}
    ])))
    .unwrap_err();
    assert_eq!(e, ExtractError::NoStory);
    assert_eq!(e.to_string(), "no story in bundle");
    assert_eq!(e.class(), ErrorClass::Permanent);
    assert_eq!(
        stories_of(&bundle(json!([]))).unwrap_err(),
        ExtractError::NoStory
    );
}

#[test]
fn bad_fields_warn_and_stay_empty() {
    let input = bundle(json!([{
        "type":"report","id":"report--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f","name":["not","text"],
        "published":"last tuesday","created":17,"modified":"2025-06-03T07:36:00+00:00",
        "x_taranis_relevance":"very","x_taranis_attributes":"TLP:red","x_taranis_tags":7,
        "external_references":[{"source_name":"no url"},{"url":"  "},{"url":"https://ok.example/","description":"d"}],
        "object_refs":"not-an-array"
    }]));
    let (stories, warnings) = stories_of(&input).unwrap();
    let s = &stories[0];
    assert_eq!(s.title, "");
    assert_eq!((s.published, s.created), (None, None));
    assert_eq!(s.modified, Some(ts(2025, 6, 3, 7, 36, 0)));
    assert_eq!(s.relevance, None);
    assert!(s.attributes.is_empty() && s.tags.is_empty());
    assert_eq!(s.links.len(), 1);
    assert_eq!(s.links[0].title.as_deref(), Some("d"));
    assert_eq!(warnings.len(), 6, "{warnings:#?}");
    assert!(warnings.iter().all(|w| w.object_id.as_deref() == Some("report--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f")));
    assert!(
        warnings
            .iter()
            .any(|w| w.message.contains("published") && w.message.contains("last tuesday"))
    );
}

// ---------------------------------------------------------------- properties

fn arb_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<f64>().prop_map(|f| json!(f)),
        "[a-z:\\-0-9 ]{0,12}".prop_map(Value::String),
        prop_oneof![
            Just("report"),
            Just("grouping"),
            Just("x-misp-object"),
            Just("x-taranis-news-item"),
            Just("indicator"),
            Just("taranis-story"),
            Just("taranis-news-item"),
            Just("misp:name=\"taranis-story\""),
            Just("report--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f"),
            Just("x-misp-object--00000000-0000-4000-8000-000000000001"),
            Just("x-taranis-news-item--00000000-0000-4000-8000-000000000002"),
            Just("11111111-1111-4111-8111-111111111111"),
            Just("marking-definition--5e57c739-391a-4eb3-b6be-7d15ca92d5ed"),
            Just("2025-06-03T07:36:00+00:00"),
            Just("{\"name\":\"t\",\"tag_type\":\"x\"}"),
            Just("{\"key\":\"TLP\",\"value\":\"red\"}"),
            Just("<no_data>")
        ]
        .prop_map(|s| Value::String(s.to_owned())),
    ];
    let keys = prop_oneof![
        Just("type"),
        Just("id"),
        Just("name"),
        Just("object_refs"),
        Just("labels"),
        Just("x_misp_name"),
        Just("x_misp_attributes"),
        Just("object_relation"),
        Just("value"),
        Just("extensions"),
        Just("published"),
        Just("modified"),
        Just("x_taranis_tags"),
        Just("x_taranis_attributes"),
        Just("object_marking_refs"),
        Just("source_ref"),
        Just("external_references"),
        Just("url"),
        Just("story_id"),
        Just("title")
    ]
    .prop_map(str::to_owned);
    leaf.prop_recursive(5, 64, 8, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..8).prop_map(Value::Array),
            prop::collection::btree_map(keys.clone(), inner, 0..8)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn run(bytes: &[u8]) -> String {
    let limits = Limits {
        max_depth: 32,
        max_objects: 500,
        max_string_len: 4096,
        max_bytes: 1 << 20,
    };
    match parse(bytes, &limits) {
        Err(e) => format!("parse error: {e}"),
        Ok(b) => match extract_stories(&b) {
            Err(e) => format!("extract error: {e}; {:?}", b.warnings),
            Ok((stories, warnings)) => format!("{stories:?} {warnings:?} {:?}", b.warnings),
        },
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, .. ProptestConfig::default() })]

    #[test]
    fn arbitrary_json_never_panics_and_is_deterministic(v in arb_json()) {
        let bytes = serde_json::to_vec(&v).unwrap();
        prop_assert_eq!(run(&bytes), run(&bytes));
        let wrapped = serde_json::to_vec(&json!({"type":"bundle","objects":[v.clone(), v]})).unwrap();
        prop_assert_eq!(run(&wrapped), run(&wrapped));
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
        prop_assert_eq!(run(&bytes), run(&bytes));
    }
}

/// The corpus files that hold a report or grouping, read once.
fn corpus_bundles() -> &'static [Vec<u8>] {
    static CORPUS: std::sync::OnceLock<Vec<Vec<u8>>> = std::sync::OnceLock::new();
    CORPUS.get_or_init(read_corpus)
}

fn read_corpus() -> Vec<Vec<u8>> {
    let mut files = Vec::new();
    let mut dirs = vec![shared().join("corpus/stix")];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap().flatten() {
            let p = entry.path();
            if p.is_dir() {
                dirs.push(p);
            } else if p.extension().is_some_and(|x| x == "json") {
                files.push(p);
            }
        }
    }
    files.sort();
    // Prefer files with containers so the mutations reach extraction.
    files.retain(|p| {
        std::fs::read_to_string(p)
            .is_ok_and(|t| t.contains("\"report\"") || t.contains("\"grouping\""))
    });
    files
        .into_iter()
        .filter_map(|p| std::fs::read(p).ok())
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, .. ProptestConfig::default() })]

    /// Corpus bundles with bytes flipped, cut or duplicated: never a panic, same answer twice.
    #[test]
    fn mutated_corpus_bundles_never_panic(
        index in any::<prop::sample::Index>(),
        edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>(), 0u8..3), 1..8),
    ) {
        let corpus = corpus_bundles();
        prop_assume!(!corpus.is_empty());
        let mut bytes = corpus[index.index(corpus.len())].clone();
        for (at, byte, op) in edits {
            if bytes.is_empty() { break; }
            let i = at.index(bytes.len());
            match op {
                0 => bytes[i] = byte,
                1 => bytes.truncate(i),
                _ => { let tail = bytes[i..].to_vec(); bytes.extend_from_slice(&tail[..tail.len().min(64)]); }
            }
        }
        prop_assert_eq!(run(&bytes), run(&bytes));
    }

    /// Corpus bundles with objects shuffled between stories' refs: extraction stays total and deterministic.
    #[test]
    fn corpus_bundles_with_mutated_objects(index in any::<prop::sample::Index>(), junk in arb_json(), at in any::<prop::sample::Index>()) {
        let corpus = corpus_bundles();
        prop_assume!(!corpus.is_empty());
        let bytes = &corpus[index.index(corpus.len())];
        let Ok(mut doc) = serde_json::from_slice::<Value>(bytes) else { return Ok(()); };
        if let Some(objects) = doc.get_mut("objects").and_then(Value::as_array_mut)
            && !objects.is_empty()
        {
            let i = at.index(objects.len());
            if let (Some(o), Value::Object(j)) = (objects[i].as_object_mut(), &junk) {
                for (k, v) in j { o.insert(k.clone(), v.clone()); }
            } else {
                objects[i] = junk;
            }
        }
        let bytes = serde_json::to_vec(&doc).unwrap();
        prop_assert_eq!(run(&bytes), run(&bytes));
    }
}

#[test]
fn shared_objects_are_not_copied_without_bound() {
    // 600 stories all referring to one observed-data with 500 SCOs: the copies stop at 2 × objects + 1000.
    let scos: Vec<Value> = (0..500)
        .map(|i| json!({"type":"ipv4-addr","id":format!("ipv4-addr--00000000-0000-4000-8000-{i:012}"),"value":format!("10.0.{}.{}", i / 256, i % 256)}))
        .collect();
    let refs: Vec<Value> = scos.iter().map(|o| o["id"].clone()).collect();
    let mut objects = vec![
        json!({"type":"observed-data","id":"observed-data--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f","object_refs":refs}),
    ];
    objects.extend(scos);
    for i in 0..600 {
        objects.push(json!({"type":"report","id":format!("report--11111111-1111-4111-8111-{i:012}"),"name":"r",
            "object_refs":["observed-data--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f"]}));
    }
    let total_objects = objects.len();
    let (stories, warnings) = stories_of(&bundle(Value::Array(objects))).unwrap();
    assert_eq!(stories.len(), 600);
    let copied: usize = stories.iter().map(|s| s.objects.len()).sum();
    assert!(copied <= 2 * total_objects + 1000, "{copied}");
    assert_eq!(
        stories[0].objects.len(),
        501,
        "the first stories are complete"
    );
    assert!(stories[599].objects.is_empty());
    assert!(!warnings.is_empty());
    assert!(
        warnings
            .iter()
            .all(|w| w.message.contains("story objects cut")),
        "{:?}",
        warnings[0]
    );
}
