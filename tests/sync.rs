//! Sync scenarios against an in-test MISP (tests/common): create → update → unchanged → stale,
//! proposals on a foreign event (replayed without duplicates), racing pushes, soft deletes, the duplicate
//! uuid path and error classification.

mod common;

use std::time::Duration;

use common::{ADMIN_KEY, Fault, MiniMisp, ORG_B_KEY};
use misp_connector::convert::{ConvertOptions, Converted, convert};
use misp_connector::error::ErrorClass;
use misp_connector::misp::client::{ClientSettings, MispClient};
use misp_connector::misp::event::Attribute;
use misp_connector::sync::{Action, SyncSettings, Syncer, plan};
use secrecy::SecretString;
use serde_json::{Value, json};

const STORY: &str = "6b1f2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d";

fn news(id: &str, title: &str) -> Value {
    json!({
        "type": "x-taranis-news-item", "spec_version": "2.1",
        "id": format!("x-taranis-news-item--{id}"),
        "created": "2026-11-20T09:00:00Z", "modified": "2026-11-20T09:00:00Z",
        "title": title, "content": format!("content of {title}"), "link": format!("https://news.example/{id}"),
        "source": "https://news.example/feed", "language": "en", "published": "2026-11-20T08:00:00Z",
        "extensions": {"extension-definition--e674a3c2-5f44-4a04-b23b-7d904d54ec6a": {"extension_type": "new-sdo"}}
    })
}

const N1: &str = "11111111-1111-4111-8111-111111111111";
const N2: &str = "22222222-2222-4222-8222-222222222222";

/// A native story bundle: `title`, `modified`, the news items and indicators given.
fn bundle(title: &str, modified: &str, news_items: &[(&str, &str)], ips: &[&str]) -> Vec<u8> {
    let mut objects = vec![];
    let mut refs = vec![];
    for (id, t) in news_items {
        let n = news(id, t);
        refs.push(n["id"].clone());
        objects.push(n);
    }
    for (i, ip) in ips.iter().enumerate() {
        let id = format!("indicator--0000000{i}-aaaa-4aaa-8aaa-aaaaaaaaaaaa");
        refs.push(json!(id));
        objects.push(json!({
            "type": "indicator", "spec_version": "2.1", "id": id,
            "created": "2026-11-20T09:00:00Z", "modified": "2026-11-20T09:00:00Z",
            "pattern": format!("[ipv4-addr:value = '{ip}']"), "pattern_type": "stix",
            "valid_from": "2026-11-20T09:00:00Z"
        }));
    }
    let report = json!({
        "type": "report", "spec_version": "2.1", "id": format!("report--{STORY}"),
        "created": "2026-11-20T09:00:00Z", "modified": modified, "published": "2026-11-20T09:00:00Z",
        "name": title, "description": "A story.", "labels": ["ransomware"],
        "object_refs": refs,
    });
    objects.insert(0, report);
    serde_json::to_vec(&json!({"type": "bundle", "id": "bundle--9a0b1c2d-3e4f-4a5b-8c6d-7e8f9a0b1c2d", "objects": objects}))
        .unwrap()
}

fn story(bytes: &[u8]) -> Converted {
    let conv = convert(bytes, &ConvertOptions::default()).expect("bundle converts");
    assert_eq!(conv.stories.len(), 1);
    let mut c = conv.stories.into_iter().next().unwrap();
    // Indicator attributes as the content mapping makes them (added here when the mapping has none yet).
    let bundle: Value = serde_json::from_slice(bytes).unwrap();
    for o in bundle["objects"].as_array().unwrap() {
        let Some(p) = o["pattern"].as_str() else {
            continue;
        };
        let ip = p
            .trim_start_matches("[ipv4-addr:value = '")
            .trim_end_matches("']")
            .to_owned();
        if c.event.attributes.iter().any(|a| a.value == ip) {
            continue;
        }
        c.event.attributes.push(Attribute {
            uuid: uuid::Uuid::new_v5(&c.event.uuid, o["id"].as_str().unwrap().as_bytes()),
            type_: "ip-dst".into(),
            category: "Network activity".into(),
            value: ip,
            to_ids: true,
            comment: String::new(),
            distribution: 5,
            object_relation: None,
            disable_correlation: false,
            deleted: false,
            first_seen: None,
            last_seen: None,
            tags: vec![],
        });
    }
    c
}

fn syncer(fake: &MiniMisp, key: &str, org: &str) -> Syncer {
    let mut settings = ClientSettings::new(fake.url(), SecretString::from(key.to_owned()));
    settings.timeout = Duration::from_secs(5);
    let client = MispClient::new(&settings).expect("client");
    Syncer::new(client, SyncSettings::new(org))
}

fn live_objects(ev: &Value, name: &str) -> usize {
    ev["Object"]
        .as_array()
        .map(|o| {
            o.iter()
                .filter(|o| o["name"] == name && o["deleted"] != json!(true))
                .count()
        })
        .unwrap_or(0)
}

#[tokio::test]
async fn create_update_unchanged_stale_sequence() {
    let fake = MiniMisp::start().await;
    let s = syncer(&fake, ADMIN_KEY, "1");
    let v1 = story(&bundle(
        "Title v1",
        "2026-11-20T10:00:00.250Z",
        &[(N1, "first")],
        &["198.51.100.7"],
    ));
    let v2 = story(&bundle(
        "Title v2",
        "2026-11-20T10:00:00.750Z",
        &[(N1, "first")],
        &["198.51.100.7"],
    ));

    let out = s.sync(&v1).await.unwrap();
    assert_eq!(out.action, Action::Created);
    assert_eq!(out.misp_event_uuid.to_string(), STORY);
    assert!(out.misp_event_id.is_some());
    let ev = fake.event(STORY).unwrap();
    assert_eq!(ev["info"], "Title v1");
    assert_eq!(
        ev["distribution"],
        json!(0),
        "distribution 0 is really sent"
    );
    assert_eq!(live_objects(&ev, "taranis-story"), 1);
    assert_eq!(ev["EventReport"].as_array().unwrap().len(), 1);
    assert_eq!(fake.writes(), vec!["/events/add".to_owned()]);

    // A newer version in the same second: updated (the marker orders sub-second versions).
    fake.clear_log();
    assert_eq!(s.sync(&v2).await.unwrap().action, Action::Updated);
    let ev = fake.event(STORY).unwrap();
    assert_eq!(ev["info"], "Title v2");
    assert_eq!(
        ev["EventReport"].as_array().unwrap().len(),
        1,
        "report updated in place"
    );
    assert_eq!(fake.writes(), vec![format!("/events/edit/{STORY}")]);
    let edit: Value = serde_json::from_str(
        &fake
            .seen()
            .iter()
            .find(|r| r.method == "POST")
            .unwrap()
            .body,
    )
    .unwrap();
    assert_eq!(
        edit["Event"]["published"],
        json!(false),
        "published sent explicitly"
    );

    // Redelivery of v2: nothing to write.
    fake.clear_log();
    assert_eq!(s.sync(&v2).await.unwrap().action, Action::Unchanged);
    assert!(
        fake.writes().is_empty(),
        "no write request: {:?}",
        fake.writes()
    );

    // The older v1 arrives late: stale, nothing written.
    assert_eq!(s.sync(&v1).await.unwrap().action, Action::Stale);
    assert!(fake.writes().is_empty());
    assert_eq!(fake.event(STORY).unwrap()["info"], "Title v2");
}

#[tokio::test]
async fn removed_news_item_is_soft_deleted_and_tags_follow_the_story() {
    let fake = MiniMisp::start().await;
    let s = syncer(&fake, ADMIN_KEY, "1");
    let v1 = story(&bundle(
        "T",
        "2026-11-20T10:00:00Z",
        &[(N1, "first"), (N2, "second")],
        &[],
    ));
    assert_eq!(s.sync(&v1).await.unwrap().action, Action::Created);
    assert_eq!(
        live_objects(&fake.event(STORY).unwrap(), "taranis-news-item"),
        2
    );
    // An analyst tag of ours that is not in the story any more is removed.
    fake.state.lock().unwrap().events[0]["Tag"]
        .as_array_mut()
        .unwrap()
        .push(json!({"id": "9", "name": "old:tag", "local": false}));

    let v2 = story(&bundle("T", "2026-11-21T10:00:00Z", &[(N1, "first")], &[]));
    assert_eq!(s.sync(&v2).await.unwrap().action, Action::Updated);
    let ev = fake.event(STORY).unwrap();
    let items: Vec<&Value> = ev["Object"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|o| o["name"] == "taranis-news-item")
        .collect();
    assert_eq!(
        items.len(),
        2,
        "the object is kept (soft delete), never removed"
    );
    assert_eq!(
        items.iter().filter(|o| o["deleted"] == json!(true)).count(),
        1
    );
    assert!(
        fake.writes()
            .contains(&"/tags/removeTagFromObject".to_owned())
    );
    assert!(
        !ev["Tag"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["name"] == "old:tag")
    );
    // And a redelivery of v2 is unchanged (the soft-deleted item is not deleted again).
    fake.clear_log();
    assert_eq!(s.sync(&v2).await.unwrap().action, Action::Unchanged);
    assert!(fake.writes().is_empty());
}

#[tokio::test]
async fn foreign_event_gets_proposals_once_and_an_extension_event() {
    let fake = MiniMisp::start().await;
    let a = syncer(&fake, ADMIN_KEY, "1");
    let b = syncer(&fake, ORG_B_KEY, "2");
    let v1 = story(&bundle(
        "T",
        "2026-11-20T10:00:00Z",
        &[(N1, "first")],
        &["198.51.100.7"],
    ));
    assert_eq!(a.sync(&v1).await.unwrap().action, Action::Created);

    // Org B has a newer version with one more indicator and one more news item.
    let v2 = story(&bundle(
        "T",
        "2026-11-21T10:00:00Z",
        &[(N1, "first"), (N2, "second")],
        &["198.51.100.7", "203.0.113.9"],
    ));
    let out = b.sync(&v2).await.unwrap();
    assert_eq!(out.action, Action::Proposed);
    assert_eq!(out.misp_event_uuid.to_string(), STORY);
    let proposals = fake.proposals();
    assert_eq!(proposals.len(), 1, "{proposals:?}");
    assert_eq!(proposals[0]["value"], "203.0.113.9");
    assert_eq!(proposals[0]["org_id"], "2");
    // The owner's event is untouched; objects and report went to org B's extension event.
    assert_eq!(
        live_objects(&fake.event(STORY).unwrap(), "taranis-news-item"),
        1
    );
    let ext_uuid = plan::extension_uuid(STORY.parse().unwrap(), "2").to_string();
    let ext = fake.event(&ext_uuid).expect("extension event");
    assert_eq!(ext["extends_uuid"], STORY);
    assert_eq!(ext["orgc_id"], "2");
    assert_eq!(live_objects(&ext, "taranis-news-item"), 2);
    assert_eq!(ext["EventReport"].as_array().unwrap().len(), 1);

    // Replayed twice: no duplicate proposals, no writes at all.
    for _ in 0..2 {
        fake.clear_log();
        assert_eq!(b.sync(&v2).await.unwrap().action, Action::Unchanged);
        assert!(fake.writes().is_empty(), "{:?}", fake.writes());
    }
    assert_eq!(fake.proposals().len(), 1);

    // The older version arriving late at org B is stale.
    fake.clear_log();
    assert_eq!(b.sync(&v1).await.unwrap().action, Action::Stale);
    assert!(fake.writes().is_empty());
}

#[tokio::test]
async fn two_concurrent_pushes_of_a_new_story_make_one_event() {
    let fake = MiniMisp::start().await;
    fake.state.lock().unwrap().latency = Duration::from_millis(20);
    let s1 = syncer(&fake, ADMIN_KEY, "1");
    let s2 = syncer(&fake, ADMIN_KEY, "1");
    let v = story(&bundle(
        "T",
        "2026-11-20T10:00:00Z",
        &[(N1, "first")],
        &["198.51.100.7"],
    ));
    let (r1, r2) = tokio::join!(s1.sync(&v), s2.sync(&v));
    let (a1, a2) = (r1.unwrap().action, r2.unwrap().action);
    assert_eq!(fake.events_with_uuid(STORY), 1);
    let mut actions = [a1, a2];
    actions.sort_by_key(|a| a.as_str());
    assert!(actions.contains(&Action::Created), "{actions:?}");
    assert!(
        actions
            .iter()
            .all(|a| matches!(a, Action::Created | Action::Unchanged)),
        "{actions:?}"
    );
    assert_eq!(
        fake.writes().iter().filter(|w| *w == "/events/add").count(),
        2
    );
}

#[tokio::test]
async fn racing_versions_keep_the_newest() {
    let fake = MiniMisp::start().await;
    fake.state.lock().unwrap().latency = Duration::from_millis(10);
    let s1 = syncer(&fake, ADMIN_KEY, "1");
    let s2 = syncer(&fake, ADMIN_KEY, "1");
    let v1 = story(&bundle(
        "old",
        "2026-11-20T10:00:00Z",
        &[(N1, "first")],
        &[],
    ));
    let v2 = story(&bundle(
        "new",
        "2026-11-20T10:00:00.5Z",
        &[(N1, "first")],
        &[],
    ));
    let v3 = story(&bundle(
        "newest",
        "2026-11-20T10:00:00.9Z",
        &[(N1, "first")],
        &[],
    ));
    s1.sync(&v1).await.unwrap();
    let (r3, r2) = tokio::join!(s1.sync(&v3), s2.sync(&v2));
    r3.unwrap();
    r2.unwrap();
    assert_eq!(fake.event(STORY).unwrap()["info"], "newest");
}

#[tokio::test]
async fn duplicate_uuid_on_add_continues_as_update() {
    let fake = MiniMisp::start().await;
    let s = syncer(&fake, ADMIN_KEY, "1");
    let v1 = story(&bundle("T1", "2026-11-20T10:00:00Z", &[(N1, "first")], &[]));
    let v2 = story(&bundle("T2", "2026-11-21T10:00:00Z", &[(N1, "first")], &[]));
    s.sync(&v1).await.unwrap();
    // Our first read misses the event (another worker creates it meanwhile): add answers 404 + Location.
    fake.fault(Fault {
        path_prefix: "/events/view/".into(),
        status: 404,
        headers: vec![],
        body: r#"{"name":"Invalid event","message":"Invalid event","url":"/events/view"}"#.into(),
        delay: Duration::ZERO,
    });
    fake.clear_log();
    assert_eq!(s.sync(&v2).await.unwrap().action, Action::Updated);
    assert_eq!(
        fake.writes(),
        vec!["/events/add".to_owned(), format!("/events/edit/{STORY}")]
    );
    assert_eq!(fake.event(STORY).unwrap()["info"], "T2");
}

#[tokio::test]
async fn racing_insert_500_is_rechecked() {
    let fake = MiniMisp::start().await;
    let s = syncer(&fake, ADMIN_KEY, "1");
    let v1 = story(&bundle("T1", "2026-11-20T10:00:00Z", &[(N1, "first")], &[]));
    s.sync(&v1).await.unwrap();
    fake.fault(Fault {
        path_prefix: "/events/view/".into(),
        status: 404,
        headers: vec![],
        body: "{}".into(),
        delay: Duration::ZERO,
    });
    fake.fault(Fault {
        path_prefix: "/events/add".into(),
        status: 500,
        headers: vec![],
        body: r#"{"name":"An Internal Error Has Occurred.","message":"An Internal Error Has Occurred.","url":"/events/add"}"#.into(),
        delay: Duration::ZERO,
    });
    assert_eq!(s.sync(&v1).await.unwrap().action, Action::Unchanged);
}

#[tokio::test]
async fn errors_are_classified_with_retry_after() {
    let fake = MiniMisp::start().await;
    let s = syncer(&fake, ADMIN_KEY, "1");
    let v = story(&bundle("T", "2026-11-20T10:00:00Z", &[(N1, "first")], &[]));
    fake.fault(Fault {
        path_prefix: "/events/view/".into(),
        status: 429,
        headers: vec![("retry-after", "7".into())],
        body: r#"{"name":"Rate limit exceeded."}"#.into(),
        delay: Duration::ZERO,
    });
    let e = s.sync(&v).await.unwrap_err();
    assert_eq!(e.class, ErrorClass::Transient);
    assert_eq!(e.retry_after, Some(Duration::from_secs(7)));
    assert!(
        e.message.contains("GET /events/view/") && e.message.contains("429"),
        "{}",
        e.message
    );

    fake.fault(Fault {
        path_prefix: "/events/view/".into(),
        status: 503,
        headers: vec![],
        body: "Service Unavailable".into(),
        delay: Duration::ZERO,
    });
    let e = s.sync(&v).await.unwrap_err();
    assert_eq!(e.class, ErrorClass::Transient);

    fake.fault(Fault {
        path_prefix: "/events/add".into(),
        status: 403,
        headers: vec![],
        body: r#"{"saved":false,"errors":{"Event":{"info":["valueNotEmpty"]}}}"#.into(),
        delay: Duration::ZERO,
    });
    let e = s.sync(&v).await.unwrap_err();
    assert_eq!(e.class, ErrorClass::Permanent);
    assert!(
        e.message.contains("POST /events/add: HTTP 403") && e.message.contains("valueNotEmpty"),
        "{}",
        e.message
    );
    assert!(!e.message.contains(ADMIN_KEY));

    fake.fault(Fault {
        path_prefix: "/events/add".into(),
        status: 405,
        headers: vec![],
        body: r#"{"name":"Invalid JSON input."}"#.into(),
        delay: Duration::ZERO,
    });
    assert_eq!(s.sync(&v).await.unwrap_err().class, ErrorClass::Permanent);

    // Nothing was created by the failed attempts; the next one succeeds.
    assert_eq!(s.sync(&v).await.unwrap().action, Action::Created);
}

#[tokio::test]
async fn bad_key_is_reported_by_the_startup_check() {
    let fake = MiniMisp::start().await;
    let settings = ClientSettings::new(fake.url(), SecretString::from("WrongKey".to_owned()));
    let client = MispClient::new(&settings).unwrap();
    let e = misp_connector::sync::startup::check(
        &client,
        &misp_connector::sync::StartupSettings {
            organisation_id: "1".into(),
            distribution: 0,
            sharing_group_id: None,
        },
    )
    .await
    .unwrap_err();
    assert!(e.is_config());
    assert!(e.to_string().contains("refused the API key"), "{e}");
    assert!(!e.to_string().contains("WrongKey"));
}

#[tokio::test]
async fn startup_check_resolves_sharing_group_and_warns_on_org_mismatch() {
    let fake = MiniMisp::start().await;
    let client = MispClient::new(&ClientSettings::new(
        fake.url(),
        SecretString::from(ADMIN_KEY.to_owned()),
    ))
    .unwrap();
    let settings = |org: &str, sg: Option<u64>| misp_connector::sync::StartupSettings {
        organisation_id: org.into(),
        distribution: 4,
        sharing_group_id: sg,
    };
    let meta = misp_connector::sync::startup::check(&client, &settings("1", Some(1)))
        .await
        .unwrap();
    assert_eq!(meta.version, "2.5.1");
    assert_eq!(meta.me.org_id, "1");
    assert_eq!(meta.sharing_group.unwrap().name, "SG A+B");
    assert!(meta.warnings.is_empty());
    let meta = misp_connector::sync::startup::check(&client, &settings("5", Some(1)))
        .await
        .unwrap();
    assert_eq!(meta.warnings.len(), 1);
    let e = misp_connector::sync::startup::check(&client, &settings("1", Some(42)))
        .await
        .unwrap_err();
    assert!(e.to_string().contains("sharing_group_id 42"), "{e}");
    let e = misp_connector::sync::startup::check(&client, &settings("1", None))
        .await
        .unwrap_err();
    assert!(
        e.to_string().contains("misp.sharing_group_id is not set"),
        "{e}"
    );
    // The cache refreshes.
    let cache = misp_connector::sync::MetadataCache::start(client, settings("1", Some(1)))
        .await
        .unwrap();
    let before = cache.current().checked_at;
    tokio::time::sleep(Duration::from_millis(5)).await;
    assert!(cache.refresh().await.unwrap().checked_at > before);
    assert!(cache.current().checked_at > before);
}
