//! Hostile input for the whole conversion (bytes → events): every case ends in a clear one-line error or in
//! bounded output, and never panics. Sizes are chosen so that a quadratic path (the kind fixed here: news
//! items, story tags/attributes, external references, presenter containers with many stories) would make the
//! test crawl instead of finishing in a second; speed itself is measured in benchmarks, not asserted here.

use std::collections::HashSet;

use misp_connector::convert::{Conversion, ConvertError, ConvertOptions, convert};
use misp_connector::error::{Classify, ErrorClass};
use misp_connector::misp::event::Event;
use serde_json::{Value, json};
use uuid::Uuid;

const STORY_EXT: &str = "extension-definition--e94f0bd6-d310-498d-a0ed-cdd848cc6970";

/// A deterministic uuid for test object `i` of kind `ns`.
fn u(ns: &str, i: usize) -> String {
    Uuid::new_v5(&Uuid::NAMESPACE_URL, format!("{ns}{i}").as_bytes()).to_string()
}

fn bundle(objects: Vec<Value>) -> Vec<u8> {
    serde_json::to_vec(
        &json!({"type":"bundle","id":format!("bundle--{}", u("b", 0)),"objects":objects}),
    )
    .unwrap()
}

fn report(i: usize, refs: Vec<String>) -> Value {
    json!({"type":"report","spec_version":"2.1","id":format!("report--{}", u("r", i)),
        "created":"2025-01-01T00:00:00Z","modified":"2025-01-01T00:00:00Z","published":"2025-01-01T00:00:00Z",
        "name":format!("story {i}"),"object_refs":refs})
}

fn indicator(i: usize, pattern: &str) -> Value {
    json!({"type":"indicator","spec_version":"2.1","id":format!("indicator--{}", u("i", i)),
        "created":"2025-01-01T00:00:00Z","modified":"2025-01-01T00:00:00Z","pattern":pattern,
        "pattern_type":"stix","valid_from":"2025-01-01T00:00:00Z"})
}

fn ok(bytes: &[u8]) -> Conversion {
    match convert(bytes, &ConvertOptions::default()) {
        Ok(c) => {
            for s in &c.stories {
                check_event(&s.event);
            }
            c
        }
        Err(e) => panic!("expected a conversion, got: {e}"),
    }
}

fn err(bytes: &[u8]) -> ConvertError {
    match convert(bytes, &ConvertOptions::default()) {
        Ok(c) => panic!("expected an error, got {} stories", c.stories.len()),
        Err(e) => {
            assert_eq!(e.class(), ErrorClass::Permanent);
            assert!(!e.to_string().contains('\n'), "one line: {e}");
            e
        }
    }
}

/// Every uuid of an event is unique and the event serialises.
fn check_event(e: &Event) {
    let mut seen = HashSet::new();
    assert!(seen.insert(e.uuid));
    for r in &e.reports {
        assert!(seen.insert(r.uuid), "report uuid repeated");
    }
    for a in &e.attributes {
        assert!(seen.insert(a.uuid), "attribute uuid repeated");
    }
    for o in &e.objects {
        assert!(seen.insert(o.uuid), "object uuid repeated");
        for a in &o.attributes {
            assert!(seen.insert(a.uuid), "object attribute uuid repeated");
        }
    }
    serde_json::to_vec(e).unwrap();
}

fn relation_values<'a>(e: &'a Event, object: &str, relation: &str) -> Vec<&'a str> {
    e.objects
        .iter()
        .filter(|o| o.name == object)
        .flat_map(|o| &o.attributes)
        .filter(|a| a.object_relation.as_deref() == Some(relation))
        .map(|a| a.value.as_str())
        .collect()
}

#[test]
fn deep_nesting_inside_one_value_is_fine_under_the_limit_and_rejected_over_it() {
    let mut deep = json!({"a": 1});
    for _ in 0..58 {
        deep = json!({ "x": deep });
    }
    let mut r = report(1, vec![]);
    r["x_deep"] = deep;
    assert_eq!(ok(&bundle(vec![r])).stories.len(), 1);

    let mut deep = json!(1);
    for _ in 0..100 {
        deep = json!([deep]);
    }
    let mut r = report(1, vec![]);
    r["x_deep"] = deep;
    let e = err(&bundle(vec![r]));
    assert!(e.to_string().contains("max_depth"), "{e}");
}

#[test]
fn huge_numbers_and_non_json_number_tokens() {
    let base = String::from_utf8(bundle(vec![report(1, vec![])])).unwrap();
    let with = |extra: &str| base.replacen("\"name\"", &format!("\"x_n\":{extra},\"name\""), 1);
    // Out of f64 range: not JSON we can represent.
    let e = err(with("1e400").as_bytes());
    assert!(e.to_string().contains("number out of range"), "{e}");
    for token in ["NaN", "Infinity", "-Infinity", "0x10", "+1", "01"] {
        let e = err(with(token).as_bytes());
        assert!(
            e.to_string().starts_with("input is not valid JSON"),
            "{token}: {e}"
        );
    }
    // A big integer is a float to serde_json: fine in an ignored property, a warning where an integer is due.
    let mut r = report(1, vec![]);
    r["x_big"] = json!(1e300);
    r["extensions"] = json!({STORY_EXT: {"extension_type":"property-extension","relevance":1e30}});
    let c = ok(&bundle(vec![r]));
    assert_eq!(c.stories[0].story.relevance, None);
    assert!(c.warnings.iter().any(|w| w.message.contains("relevance")));
}

#[test]
fn duplicate_keys_keep_the_last_value() {
    let id = format!("report--{}", u("r", 1));
    let text = format!(
        r#"{{"type":"bundle","objects":[{{"type":"report","id":"{id}","name":"first","name":"second","published":"2025-01-01T00:00:00Z","object_refs":[]}}]}}"#
    );
    let c = ok(text.as_bytes());
    assert_eq!(c.stories[0].event.info, "second");
    // A later empty "objects" wins too: no story left, and the error says so.
    let text = format!(
        r#"{{"type":"bundle","objects":[{{"type":"report","id":"{id}","object_refs":[]}}],"objects":[]}}"#
    );
    assert_eq!(err(text.as_bytes()).to_string(), "no story in bundle");
}

#[test]
fn lone_surrogates_are_rejected_and_pairs_decoded() {
    let id = format!("report--{}", u("r", 1));
    for s in [r"a\ud800b", r"a\udc00b", r"\ud800", r"\ud800\u0041"] {
        let text = format!(
            r#"{{"type":"bundle","objects":[{{"type":"report","id":"{id}","name":"{s}","object_refs":[]}}]}}"#
        );
        let e = err(text.as_bytes());
        assert!(
            e.to_string().starts_with("input is not valid JSON"),
            "{s}: {e}"
        );
    }
    let text = format!(
        r#"{{"type":"bundle","objects":[{{"type":"report","id":"{id}","name":"a\ud83d\ude00b","object_refs":[]}}]}}"#
    );
    // The emoji is decoded, then the default 4-byte policy replaces it.
    assert_eq!(ok(text.as_bytes()).stories[0].event.info, "a\u{FFFD}b");
}

#[test]
fn a_hundred_thousand_tiny_objects() {
    let n = 99_999;
    let ids: Vec<String> = (0..n).map(|i| format!("x-tiny--{}", u("t", i))).collect();
    let mut objects = vec![report(1, ids.clone())];
    objects.extend(ids.iter().map(|id| json!({"type":"x-tiny","id":id})));
    let c = ok(&bundle(objects));
    assert_eq!(c.stories.len(), 1);
    assert!(c.stories[0].event.attributes.is_empty());
    // One more object is over the default limit.
    let mut objects = vec![report(1, vec![])];
    objects.extend(
        (0..100_000).map(|i| json!({"type":"x-tiny","id":format!("x-tiny--{}", u("t", i))})),
    );
    let e = err(&bundle(objects));
    assert!(e.to_string().contains("max_objects"), "{e}");
}

#[test]
fn four_byte_characters_in_every_field_are_replaced_everywhere() {
    let e4 = "\u{1F600}";
    let nid = format!("x-taranis-news-item--{}", u("n", 1));
    let mut r = report(1, vec![nid.clone(), format!("indicator--{}", u("i", 1))]);
    r["name"] = json!(e4.repeat(3));
    r["description"] = json!(format!("{e4}<b>x</b>{e4}"));
    r["labels"] = json!([e4, format!("{e4}l")]);
    r["external_references"] = json!([{"source_name": e4, "url": format!("https://e.x/{e4}")}]);
    r["extensions"] = json!({STORY_EXT: {"extension_type":"property-extension","summary":e4,"comments":e4,
        "attributes":{e4: e4, "TLP": e4},"tags":[{"name":e4,"tag_type":e4}]}});
    let item = json!({"type":"x-taranis-news-item","id":nid,"title":e4,"content":e4,"link":format!("https://x.y/{e4}"),
        "author":e4,"source":e4,"language":e4,"hash":e4,"review":e4,"osint_source_id":e4,"story_id":e4});
    let ind = indicator(1, &format!("[domain-name:value = '{e4}.example']"));
    let bytes = bundle(vec![r, item, ind]);
    let c = ok(&bytes);
    let out = serde_json::to_string(&c.stories[0].event).unwrap();
    assert!(
        !out.chars().any(|c| c.len_utf8() == 4),
        "no 4-byte character left"
    );
    assert!(
        !out.contains(r"\ud83d"),
        "not even escaped inside the Taranis JSON strings"
    );
    // The report stays inert.
    assert!(!c.stories[0].event.reports[0].content.contains("<b>"));
    // URLs keep the character, percent-encoded (the same URL); an indicator is dropped rather than mangled.
    let event = &c.stories[0].event;
    assert_eq!(
        relation_values(event, "taranis-news-item", "link"),
        ["https://x.y/%F0%9F%98%80"]
    );
    assert!(
        relation_values(event, "taranis-story", "links")
            .contains(&r#"{"link": "https://e.x/%F0%9F%98%80", "news_item_id": "<no_data>"}"#)
    );
    assert!(event.attributes.iter().all(|a| a.type_ != "domain"));
    assert!(
        c.warnings
            .iter()
            .any(|w| w.message.contains("Attribute[domain]") && w.message.contains("dropped"))
    );

    // `reject` names a field instead.
    let opts = ConvertOptions {
        mapping: misp_connector::mapping::MappingOptions {
            four_byte: misp_connector::mapping::FourBytePolicy::Reject,
            ..Default::default()
        },
        ..Default::default()
    };
    let e = convert(&bytes, &opts).unwrap_err();
    assert!(e.to_string().contains("4-byte"), "{e}");
}

#[test]
fn enormous_object_refs_to_absent_or_repeated_objects() {
    let refs: Vec<String> = (0..200_000)
        .map(|i| format!("indicator--{}", u("absent", i)))
        .collect();
    let c = ok(&bundle(vec![report(1, refs)]));
    assert!(c.stories[0].event.attributes.is_empty());

    let one = format!("indicator--{}", u("i", 1));
    let c = ok(&bundle(vec![
        report(1, vec![one; 200_000]),
        indicator(1, "[ipv4-addr:value = '203.0.113.1']"),
    ]));
    assert_eq!(c.stories[0].story.objects.len(), 1);
    assert_eq!(c.stories[0].event.attributes.len(), 1);
}

#[test]
fn reference_cycles_and_a_self_referencing_report_terminate() {
    let a = format!("x-node--{}", u("a", 1));
    let b = format!("x-node--{}", u("a", 2));
    let rid = format!("report--{}", u("r", 1));
    let c = ok(&bundle(vec![
        report(1, vec![a.clone(), rid.clone()]),
        json!({"type":"x-node","id":a,"parent_ref":b,"child_refs":[b, a]}),
        json!({"type":"x-node","id":b,"parent_ref":a,"child_refs":[a, rid]}),
    ]));
    assert_eq!(c.stories.len(), 1);
    assert_eq!(c.stories[0].story.objects.len(), 2, "each node once");

    // Two groupings that only refer to each other are product groupings, not stories.
    let g1 = format!("grouping--{}", u("g", 1));
    let g2 = format!("grouping--{}", u("g", 2));
    let e = err(&bundle(vec![
        json!({"type":"grouping","id":g1,"context":"x","object_refs":[g2]}),
        json!({"type":"grouping","id":g2,"context":"x","object_refs":[g1]}),
    ]));
    assert_eq!(e.to_string(), "no story in bundle");
}

#[test]
fn ten_thousand_stories_in_one_bundle() {
    let n = 10_000;
    let mut objects: Vec<Value> = (0..n)
        .map(|i| report(i, vec![format!("indicator--{}", u("i", 0))]))
        .collect();
    objects.push(indicator(0, "[ipv4-addr:value = '203.0.113.1']"));
    let c = ok(&bundle(objects));
    assert_eq!(c.stories.len(), n);
    let uuids: HashSet<Uuid> = c.stories.iter().map(|s| s.event.uuid).collect();
    assert_eq!(uuids.len(), n);
    // The shared indicator gets a different attribute uuid in every event (MISP matches uuids instance-wide).
    let attr_uuids: HashSet<Uuid> = c
        .stories
        .iter()
        .flat_map(|s| &s.event.attributes)
        .map(|a| a.uuid)
        .collect();
    assert_eq!(attr_uuids.len(), n);
}

#[test]
fn twenty_thousand_news_items_in_one_story() {
    let n = 20_000;
    let ids: Vec<String> = (0..n)
        .map(|i| format!("x-taranis-news-item--{}", u("n", i)))
        .collect();
    let mut objects = vec![report(1, ids.clone())];
    objects.extend(ids.iter().enumerate().map(|(i, id)| {
        json!({"type":"x-taranis-news-item","id":id,"title":format!("t{i}"),"link":format!("https://e.x/{i}")})
    }));
    let c = ok(&bundle(objects));
    let e = &c.stories[0].event;
    assert_eq!(relation_values(e, "taranis-news-item", "id").len(), n);
    assert_eq!(relation_values(e, "taranis-story", "links").len(), n);
}

#[test]
fn twenty_thousand_labels_tags_attributes_and_links() {
    let n = 20_000;
    let mut r = report(1, vec![]);
    r["labels"] = json!((0..n).map(|i| format!("l{i}")).collect::<Vec<_>>());
    r["external_references"] = json!(
        (0..n)
            .map(|i| json!({"source_name":"s","url":format!("https://e.x/{i}")}))
            .collect::<Vec<_>>()
    );
    let attributes: serde_json::Map<String, Value> =
        (0..n).map(|i| (format!("k{i}"), json!("v"))).collect();
    let tags: Vec<Value> = (0..n)
        .map(|i| json!({"name":format!("t{i}"),"tag_type":"x"}))
        .collect();
    r["extensions"] = json!({STORY_EXT: {"extension_type":"property-extension","attributes":attributes,"tags":tags}});
    let c = ok(&bundle(vec![r]));
    let e = &c.stories[0].event;
    assert_eq!(e.tags.len(), 2 * n);
    assert_eq!(relation_values(e, "taranis-story", "tags").len(), n);
    // + misp_event_uuid
    assert_eq!(
        relation_values(e, "taranis-story", "attributes").len(),
        n + 1
    );
    assert_eq!(relation_values(e, "taranis-story", "links").len(), n);
}

#[test]
fn presenter_container_with_thousands_of_stories_and_shared_content() {
    let n = 4_000;
    let story = |i: usize| {
        json!({"type":"x-misp-object","id":format!("x-misp-object--{}", u("s", i)),"x_misp_name":"taranis-story",
            "x_misp_attributes":[{"object_relation":"id","type":"text","value":u("story", i)},
                                 {"object_relation":"title","type":"text","value":format!("s{i}")}]})
    };
    let mut objects: Vec<Value> = (0..n).map(story).collect();
    let mut refs: Vec<String> = objects
        .iter()
        .map(|o| o["id"].as_str().unwrap().to_owned())
        .collect();
    refs.push(format!("indicator--{}", u("i", 0)));
    objects.push(report(1, refs));
    objects.push(indicator(0, "[ipv4-addr:value = '203.0.113.1']"));
    let c = ok(&bundle(objects));
    assert_eq!(c.stories.len(), n);
    // Every story carries the container's indicator (the budget, 2 × objects + 1,000, is not reached).
    assert!(c.stories.iter().all(|s| s.event.attributes.len() == 1));
}

#[test]
fn presenter_copies_are_bounded_by_the_object_budget() {
    // 200 stories × 200 indicators = 40,000 copies, far over the budget (2 × 401 + 1,000).
    let stories = 200;
    let indicators = 200;
    let mut objects: Vec<Value> = Vec::new();
    let mut refs = Vec::new();
    for i in 0..stories {
        let id = format!("x-misp-object--{}", u("s", i));
        refs.push(id.clone());
        objects.push(
            json!({"type":"x-misp-object","id":id,"x_misp_name":"taranis-story",
            "x_misp_attributes":[{"object_relation":"id","type":"text","value":u("story", i)}]}),
        );
    }
    for i in 0..indicators {
        refs.push(format!("indicator--{}", u("i", i)));
        objects.push(indicator(i, &format!("[ipv4-addr:value = '10.0.0.{i}']")));
    }
    objects.push(report(1, refs));
    let limit = 2 * objects.len() + 1000;
    let c = ok(&bundle(objects));
    assert_eq!(c.stories.len(), stories);
    let copies: usize = c.stories.iter().map(|s| s.story.objects.len()).sum();
    assert_eq!(copies, limit);
    assert_eq!(c.stories[0].story.objects.len(), indicators);
    assert!(
        c.warnings
            .iter()
            .any(|w| w.message.contains("story objects cut"))
    );
}

#[test]
fn a_pattern_nested_thousands_deep_or_huge_is_kept_as_text_or_skipped() {
    let one = |pattern: &str| {
        ok(&bundle(vec![
            report(1, vec![format!("indicator--{}", u("i", 1))]),
            indicator(1, pattern),
        ]))
    };
    for pattern in [
        format!(
            "{}[ipv4-addr:value = '10.0.0.1']{}",
            "(".repeat(5000),
            ")".repeat(5000)
        ),
        format!(
            "[{}ipv4-addr:value = '10.0.0.1'{}]",
            "(".repeat(5000),
            ")".repeat(5000)
        ),
    ] {
        let c = one(&pattern);
        let types: Vec<&str> = c.stories[0]
            .event
            .attributes
            .iter()
            .map(|a| a.type_.as_str())
            .collect();
        assert_eq!(types, ["stix2-pattern"]);
    }
    // Longer than MISP's value column: cutting it would change its meaning, so it is skipped with a warning.
    let huge = (0..20_000)
        .map(|i| format!("[ipv4-addr:value = '10.0.0.{}']", i % 256))
        .collect::<Vec<_>>()
        .join(" OR ");
    let c = one(&huge);
    assert!(c.stories[0].event.attributes.is_empty());
    assert!(c.warnings.iter().any(|w| w.message.contains("skipped")));
}

#[test]
fn wrong_json_types_everywhere_in_a_report_warn() {
    let mut r = report(1, vec![]);
    r["object_refs"] = json!("not a list");
    r["name"] = json!(5);
    r["published"] = json!(123);
    r["labels"] = json!([null, 1, {"a": 1}, "ok"]);
    r["object_marking_refs"] = json!([null, 5]);
    r["external_references"] = json!([null, {"url": null}, {"url": 5}, "x"]);
    r["extensions"] = json!({STORY_EXT: {"summary":[1],"comments":{"a":1},"relevance":"x","attributes":[1,2],"tags":{"name":7}}});
    let c = ok(&bundle(vec![r]));
    let e = &c.stories[0].event;
    assert_eq!(e.info, "5");
    assert_eq!(
        e.date, "2025-01-01",
        "created is used when published is unusable"
    );
    assert!(!c.warnings.is_empty());
}

#[test]
fn impossible_dates_fall_back_deterministically() {
    let mut r = report(1, vec![]);
    r["published"] = json!("99999-01-01T00:00:00Z");
    r["created"] = json!("0000-01-01T00:00:00Z");
    r["modified"] = json!("2025-13-45T99:99:99Z");
    let c = ok(&bundle(vec![r]));
    assert_eq!(c.stories[0].event.date, "1970-01-01");
    assert_eq!(c.stories[0].event.timestamp, None);
    assert!(c.warnings.iter().any(|w| w.message.contains("99999-01-01")));
}

#[test]
fn an_upper_case_report_uuid_gives_the_lower_case_event_uuid() {
    let id = u("r", 1);
    let text = String::from_utf8(bundle(vec![report(1, vec![])]))
        .unwrap()
        .replace(&id, &id.to_uppercase());
    let c = ok(text.as_bytes());
    assert_eq!(c.stories[0].event.uuid.to_string(), id);
    let out = serde_json::to_string(&c.stories[0].event).unwrap();
    assert!(out.contains(&format!("\"uuid\":\"{id}\"")));
}
