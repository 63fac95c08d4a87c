//! Sync scenarios against the project's stateful fake MISP (`fake_misp`): create → update → unchanged →
//! stale, proposals on a foreign event (replayed without duplicates), racing pushes (404 and 500 races),
//! soft deletes, the duplicate uuid path and error classification. The tag-removal fallback uses the tiny
//! in-test MISP of `tests/common` (which, unlike MISP, ignores `deleted` tags in edit bodies).

mod common;

use std::time::Duration;

use common::MiniMisp;
use misp_connector::convert::{ConvertOptions, Converted, convert};
use misp_connector::error::ErrorClass;
use misp_connector::fake_misp::{FakeConfig, FakeMisp};
use misp_connector::mapping::FourBytePolicy;
use misp_connector::misp::client::{ClientSettings, MispClient};
use misp_connector::sync::{
    Action, MetadataCache, StartupSettings, SyncSettings, Syncer, plan, startup,
};
use secrecy::SecretString;
use serde_json::{Value, json};

const STORY: &str = "6b1f2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d";

const N1: &str = "11111111-1111-4111-8111-111111111111";
const N2: &str = "22222222-2222-4222-8222-222222222222";

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

/// A native story bundle: `title`, `modified`, the news items and IPv4 indicators given.
fn bundle(title: &str, modified: &str, news_items: &[(&str, &str)], ips: &[&str]) -> Vec<u8> {
    let mut objects = vec![];
    let mut refs = vec![];
    for (id, t) in news_items {
        let n = news(id, t);
        refs.push(n["id"].clone());
        objects.push(n);
    }
    for ip in ips {
        let last = ip.rsplit('.').next().unwrap_or("0");
        let id = format!("indicator--{:0>8}-aaaa-4aaa-8aaa-aaaaaaaaaaaa", last);
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

fn options() -> ConvertOptions {
    let mut o = ConvertOptions::default();
    // Community distribution, so that org B sees org A's events (distribution 0 would hide them).
    o.mapping.distribution = 1;
    o
}

fn story_with(bytes: &[u8], opts: &ConvertOptions) -> Converted {
    let conv = convert(bytes, opts).expect("bundle converts");
    assert_eq!(conv.stories.len(), 1);
    conv.stories.into_iter().next().unwrap()
}

fn story(bytes: &[u8]) -> Converted {
    story_with(bytes, &options())
}

async fn fake() -> FakeMisp {
    FakeMisp::start(FakeConfig::default())
        .await
        .expect("fake MISP starts")
}

fn syncer_at(url: &str, key: &str, org: &str) -> Syncer {
    let mut settings = ClientSettings::new(url, SecretString::from(key.to_owned()));
    settings.timeout = Duration::from_secs(10);
    let client = MispClient::new(&settings).expect("client");
    Syncer::new(client, SyncSettings::new(org))
}

fn admin(fake: &FakeMisp) -> Syncer {
    syncer_at(&fake.url(), fake.admin_key(), "1")
}

fn event(fake: &FakeMisp, uuid: &str) -> Value {
    fake.state().event(uuid).expect("event exists")["Event"].clone()
}

fn writes(fake: &FakeMisp) -> Vec<String> {
    fake.state()
        .requests()
        .into_iter()
        .filter(|r| r.method == "POST")
        .map(|r| r.path)
        .collect()
}

fn live(items: &Value) -> Vec<&Value> {
    items
        .as_array()
        .map(|v| v.iter().filter(|o| o["deleted"] != json!(true)).collect())
        .unwrap_or_default()
}

fn live_objects(ev: &Value, name: &str) -> usize {
    live(&ev["Object"])
        .into_iter()
        .filter(|o| o["name"] == name)
        .count()
}

fn live_values(ev: &Value) -> Vec<String> {
    live(&ev["Attribute"])
        .into_iter()
        .filter(|a| a["type"] == "ip-dst" || a["type"] == "ip-src")
        .map(|a| a["value"].as_str().unwrap_or_default().to_owned())
        .collect()
}

#[tokio::test]
async fn create_update_unchanged_stale_sequence() {
    let fake = fake().await;
    let s = admin(&fake);
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
    let ev = event(&fake, STORY);
    assert_eq!(out.misp_event_id.as_deref(), ev["id"].as_str());
    assert_eq!(ev["info"], "Title v1");
    assert_eq!(live_objects(&ev, "taranis-story"), 1);
    assert_eq!(live(&ev["EventReport"]).len(), 1);
    assert_eq!(live_values(&ev), vec!["198.51.100.7"]);
    assert_eq!(writes(&fake), vec!["/events/add".to_owned()]);

    // A newer version within the same second: updated (the marker orders sub-second versions).
    fake.state().clear_requests();
    assert_eq!(s.sync(&v2).await.unwrap().action, Action::Updated);
    let ev = event(&fake, STORY);
    assert_eq!(ev["info"], "Title v2");
    assert_eq!(
        ev["EventReport"].as_array().unwrap().len(),
        1,
        "report updated in place"
    );
    assert_eq!(writes(&fake), vec![format!("/events/edit/{STORY}")]);
    let edit = fake
        .state()
        .requests()
        .into_iter()
        .find(|r| r.method == "POST")
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(
        edit["Event"]["published"],
        json!(false),
        "published is sent explicitly"
    );

    // Redelivery of v2: nothing to write.
    fake.state().clear_requests();
    assert_eq!(s.sync(&v2).await.unwrap().action, Action::Unchanged);
    assert!(
        writes(&fake).is_empty(),
        "no write request: {:?}",
        writes(&fake)
    );

    // The older v1 arrives late: stale, nothing written, v2 stays.
    assert_eq!(s.sync(&v1).await.unwrap().action, Action::Stale);
    assert!(writes(&fake).is_empty());
    assert_eq!(event(&fake, STORY)["info"], "Title v2");
}

#[tokio::test]
async fn distribution_zero_is_really_sent() {
    let fake = fake().await;
    let s = admin(&fake);
    let v = story_with(
        &bundle("T", "2026-11-20T10:00:00Z", &[(N1, "first")], &[]),
        &ConvertOptions::default(),
    );
    s.sync(&v).await.unwrap();
    let add = fake
        .state()
        .requests()
        .into_iter()
        .find(|r| r.path == "/events/add")
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(add["Event"]["distribution"], json!(0));
    assert_eq!(event(&fake, STORY)["distribution"], "0");
}

#[tokio::test]
async fn removed_news_item_and_indicator_are_soft_deleted() {
    let fake = fake().await;
    let s = admin(&fake);
    let v1 = story(&bundle(
        "T",
        "2026-11-20T10:00:00Z",
        &[(N1, "first"), (N2, "second")],
        &["198.51.100.7", "203.0.113.9"],
    ));
    assert_eq!(s.sync(&v1).await.unwrap().action, Action::Created);
    assert_eq!(live_objects(&event(&fake, STORY), "taranis-news-item"), 2);

    let v2 = story(&bundle(
        "T",
        "2026-11-21T10:00:00Z",
        &[(N1, "first")],
        &["198.51.100.7"],
    ));
    assert_eq!(s.sync(&v2).await.unwrap().action, Action::Updated);
    let ev = event(&fake, STORY);
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
    assert_eq!(live_values(&ev), vec!["198.51.100.7"]);
    // A redelivery of v2 is unchanged: the soft-deleted items are not deleted again.
    fake.state().clear_requests();
    assert_eq!(s.sync(&v2).await.unwrap().action, Action::Unchanged);
    assert!(writes(&fake).is_empty(), "{:?}", writes(&fake));
    // A news item that comes back is restored.
    let v3 = story(&bundle(
        "T",
        "2026-11-22T10:00:00Z",
        &[(N1, "first"), (N2, "second")],
        &["198.51.100.7"],
    ));
    assert_eq!(s.sync(&v3).await.unwrap().action, Action::Updated);
    assert_eq!(live_objects(&event(&fake, STORY), "taranis-news-item"), 2);
}

#[tokio::test]
async fn tags_follow_the_story() {
    let fake = fake().await;
    let s = admin(&fake);
    let v1 = story(&bundle("T", "2026-11-20T10:00:00Z", &[(N1, "first")], &[]));
    s.sync(&v1).await.unwrap();
    let tags = |fake: &FakeMisp| -> Vec<String> {
        event(fake, STORY)["Tag"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["name"].as_str().unwrap().to_owned())
            .collect()
    };
    assert!(
        tags(&fake).iter().any(|t| t.contains("ransomware")),
        "{:?}",
        tags(&fake)
    );
    let mut v2 = story(&bundle("T", "2026-11-21T10:00:00Z", &[(N1, "first")], &[]));
    v2.event.tags.retain(|t| !t.name.contains("ransomware"));
    v2.event.tags.push(misp_connector::misp::event::Tag::new(
        "misp-connector:test=\"new\"",
    ));
    assert_eq!(s.sync(&v2).await.unwrap().action, Action::Updated);
    let now = tags(&fake);
    assert!(!now.iter().any(|t| t.contains("ransomware")), "{now:?}");
    assert!(
        now.iter().any(|t| t == "misp-connector:test=\"new\""),
        "{now:?}"
    );
    fake.state().clear_requests();
    assert_eq!(s.sync(&v2).await.unwrap().action, Action::Unchanged);
}

#[tokio::test]
async fn tag_removal_falls_back_to_remove_tag_from_object() {
    // The in-test MISP ignores `deleted` tags in edit bodies: the executor must detach them itself.
    let mini = MiniMisp::start().await;
    let s = syncer_at(&mini.url(), common::ADMIN_KEY, "1");
    let v1 = story(&bundle("T", "2026-11-20T10:00:00Z", &[(N1, "first")], &[]));
    s.sync(&v1).await.unwrap();
    let mut v2 = story(&bundle("T", "2026-11-21T10:00:00Z", &[(N1, "first")], &[]));
    let removed = v2.event.tags.remove(0).name;
    assert_eq!(s.sync(&v2).await.unwrap().action, Action::Updated);
    assert!(
        mini.writes()
            .contains(&"/tags/removeTagFromObject".to_owned())
    );
    let ev = mini.event(STORY).unwrap();
    assert!(
        !ev["Tag"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["name"] == removed.as_str())
    );
}

#[tokio::test]
async fn foreign_event_gets_proposals_once_and_an_extension_event() {
    let fake = fake().await;
    let a = admin(&fake);
    let b = syncer_at(&fake.url(), fake.org_b_key(), "2");
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
    let proposals = fake.state().shadow_attributes();
    let values: Vec<String> = proposals
        .iter()
        .map(|p| {
            p["ShadowAttribute"]["value"]
                .as_str()
                .unwrap_or_default()
                .to_owned()
        })
        .collect();
    assert!(values.contains(&"203.0.113.9".to_owned()), "{proposals:?}");
    let n = proposals.len();
    // The owner's event is untouched; objects and the report went to org B's extension event.
    assert_eq!(live_objects(&event(&fake, STORY), "taranis-news-item"), 1);
    let ext_uuid = plan::extension_uuid(STORY.parse().unwrap(), "2").to_string();
    let ext = event(&fake, &ext_uuid);
    assert_eq!(ext["extends_uuid"], STORY);
    assert_eq!(ext["orgc_id"], "2");
    assert_eq!(live_objects(&ext, "taranis-news-item"), 2);
    assert_eq!(live(&ext["EventReport"]).len(), 1);

    // Replayed twice: no duplicate proposals, no writes at all.
    for _ in 0..2 {
        fake.state().clear_requests();
        assert_eq!(b.sync(&v2).await.unwrap().action, Action::Unchanged);
        assert!(writes(&fake).is_empty(), "{:?}", writes(&fake));
    }
    assert_eq!(fake.state().shadow_attributes().len(), n);

    // The older version arriving late at org B is stale.
    assert_eq!(b.sync(&v1).await.unwrap().action, Action::Stale);
    assert!(writes(&fake).is_empty());
}

#[tokio::test]
async fn two_concurrent_pushes_of_a_new_story_make_one_event() {
    let fake = fake().await;
    fake.faults().set_latency(Duration::from_millis(20));
    let (s1, s2) = (admin(&fake), admin(&fake));
    let v = story(&bundle(
        "T",
        "2026-11-20T10:00:00Z",
        &[(N1, "first")],
        &["198.51.100.7"],
    ));
    let (r1, r2) = tokio::join!(s1.sync(&v), s2.sync(&v));
    let mut actions = [r1.unwrap().action, r2.unwrap().action];
    actions.sort_by_key(|a| a.as_str());
    assert_eq!(actions, [Action::Created, Action::Unchanged]);
    assert_eq!(fake.state().event_count(), 1);
    let adds: Vec<u16> = fake
        .state()
        .requests()
        .iter()
        .filter(|r| r.path == "/events/add")
        .map(|r| r.status)
        .collect();
    assert!(adds.len() == 1 || adds.contains(&404), "{adds:?}");
}

#[tokio::test]
async fn racing_insert_500_is_rechecked() {
    let fake = fake().await;
    fake.faults()
        .set_add_race_window(Some(Duration::from_millis(100)));
    let (s1, s2) = (admin(&fake), admin(&fake));
    let v = story(&bundle("T", "2026-11-20T10:00:00Z", &[(N1, "first")], &[]));
    let (r1, r2) = tokio::join!(s1.sync(&v), s2.sync(&v));
    let mut actions = [r1.unwrap().action, r2.unwrap().action];
    actions.sort_by_key(|a| a.as_str());
    assert_eq!(actions, [Action::Created, Action::Unchanged]);
    assert_eq!(fake.state().event_count(), 1);
    let adds: Vec<u16> = fake
        .state()
        .requests()
        .iter()
        .filter(|r| r.path == "/events/add")
        .map(|r| r.status)
        .collect();
    assert_eq!(
        adds.iter().filter(|s| **s == 500).count(),
        1,
        "the loser saw MISP's duplicate-key 500: {adds:?}"
    );
}

#[tokio::test]
async fn racing_versions_keep_the_newest() {
    let fake = fake().await;
    fake.faults().set_latency(Duration::from_millis(10));
    let (s1, s2) = (admin(&fake), admin(&fake));
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
    for _ in 0..3 {
        let (r3, r2) = tokio::join!(s1.sync(&v3), s2.sync(&v2));
        r3.unwrap();
        r2.unwrap();
        assert_eq!(event(&fake, STORY)["info"], "newest");
    }
}

#[tokio::test]
async fn duplicate_uuid_on_add_continues_as_update() {
    let fake = fake().await;
    let s = admin(&fake);
    let v1 = story(&bundle("T1", "2026-11-20T10:00:00Z", &[(N1, "first")], &[]));
    let v2 = story(&bundle("T2", "2026-11-21T10:00:00Z", &[(N1, "first")], &[]));
    s.sync(&v1).await.unwrap();
    // Our first read misses the event (as if another worker created it meanwhile): add answers 404 + Location.
    fake.faults().fail_next(1, 404, Some("/events/view"));
    fake.state().clear_requests();
    assert_eq!(s.sync(&v2).await.unwrap().action, Action::Updated);
    assert_eq!(
        writes(&fake),
        vec!["/events/add".to_owned(), format!("/events/edit/{STORY}")]
    );
    assert_eq!(event(&fake, STORY)["info"], "T2");
}

#[tokio::test]
async fn an_existing_event_invisible_to_us_is_a_permanent_error() {
    let fake = fake().await;
    let a = admin(&fake);
    let v = story_with(
        &bundle("T", "2026-11-20T10:00:00Z", &[(N1, "first")], &[]),
        &ConvertOptions::default(),
    );
    a.sync(&v).await.unwrap(); // distribution 0: org B cannot see it
    let b = syncer_at(&fake.url(), fake.org_b_key(), "2");
    let e = b.sync(&v).await.unwrap_err();
    assert_eq!(e.class, ErrorClass::Permanent);
    assert!(
        e.message.contains("not visible to this API key"),
        "{}",
        e.message
    );
}

#[tokio::test]
async fn errors_are_classified_with_retry_after() {
    let fake = fake().await;
    let s = admin(&fake);
    let v = story(&bundle("T", "2026-11-20T10:00:00Z", &[(N1, "first")], &[]));
    // A story this syncer has not seen starts with the add.
    fake.faults().throttle_next(1, 7, Some("/events/add"));
    let e = s.sync(&v).await.unwrap_err();
    assert_eq!(e.class, ErrorClass::Transient);
    assert_eq!(e.retry_after, Some(Duration::from_secs(7)));
    assert!(
        e.message.contains("POST /events/add") && e.message.contains("429"),
        "{}",
        e.message
    );

    fake.faults().fail_next(1, 503, Some("/events/add"));
    let e = s.sync(&v).await.unwrap_err();
    assert_eq!(e.class, ErrorClass::Transient);
    assert!(
        e.message.contains("POST /events/add: HTTP 503"),
        "{}",
        e.message
    );

    fake.faults().drop_next(1, Some("/events/add"));
    assert_eq!(s.sync(&v).await.unwrap_err().class, ErrorClass::Transient);

    // A MISP validation error is permanent and says what MISP said.
    let mut bad = v.clone();
    bad.event.info = String::new();
    let e = s.sync(&bad).await.unwrap_err();
    assert_eq!(e.class, ErrorClass::Permanent, "{}", e.message);
    assert!(
        e.message.contains("POST /events/add: HTTP 403"),
        "{}",
        e.message
    );
    assert!(!e.message.contains(fake.admin_key()));

    // Nothing was created by the failed attempts; the next one succeeds.
    assert_eq!(s.sync(&v).await.unwrap().action, Action::Created);
}

#[tokio::test]
async fn four_byte_characters_kept_by_policy_fail_with_a_hint() {
    let fake = fake().await;
    let s = admin(&fake);
    let mut opts = options();
    opts.mapping.four_byte = FourBytePolicy::Keep;
    let v = story_with(
        &bundle(
            "Ransomware \u{1F600} wave",
            "2026-11-20T10:00:00Z",
            &[(N1, "first")],
            &[],
        ),
        &opts,
    );
    let e = s.sync(&v).await.unwrap_err();
    assert_eq!(
        e.class,
        ErrorClass::Transient,
        "bounded retries by the worker, then DLQ"
    );
    assert!(e.message.contains("4-byte"), "{}", e.message);
    // The default policy replaces them and MISP accepts the event.
    let v = story(&bundle(
        "Ransomware \u{1F600} wave",
        "2026-11-20T10:00:00Z",
        &[(N1, "first")],
        &[],
    ));
    assert_eq!(s.sync(&v).await.unwrap().action, Action::Created);
}

#[tokio::test]
async fn bad_key_is_reported_by_the_startup_check() {
    let fake = fake().await;
    let settings = ClientSettings::new(fake.url(), SecretString::from("WrongKey".to_owned()));
    let client = MispClient::new(&settings).unwrap();
    let e = startup::check(
        &client,
        &StartupSettings {
            organisation_id: "1".into(),
            distribution: 0,
            sharing_group_id: None,
            publish: false,
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
    let fake = fake().await;
    let client = MispClient::new(&ClientSettings::new(
        fake.url(),
        SecretString::from(fake.admin_key().to_owned()),
    ))
    .unwrap();
    let settings = |org: &str, sg: Option<u64>| StartupSettings {
        organisation_id: org.into(),
        distribution: 4,
        sharing_group_id: sg,
        publish: false,
    };
    let meta = startup::check(&client, &settings("1", Some(1)))
        .await
        .unwrap();
    assert_eq!(meta.version, "2.5.1");
    assert_eq!(meta.me.org_id, "1");
    assert_eq!(meta.sharing_group.unwrap().name, "SG A+B");
    assert!(meta.warnings.is_empty());
    let meta = startup::check(&client, &settings("5", Some(1)))
        .await
        .unwrap();
    assert_eq!(meta.warnings.len(), 1);
    let e = startup::check(&client, &settings("1", Some(42)))
        .await
        .unwrap_err();
    assert!(e.to_string().contains("sharing_group_id 42"), "{e}");
    let e = startup::check(&client, &settings("1", None))
        .await
        .unwrap_err();
    assert!(
        e.to_string().contains("misp.sharing_group_id is not set"),
        "{e}"
    );
    // The metadata cache refreshes on demand and on an interval.
    let cache = MetadataCache::start(client, settings("1", Some(1)))
        .await
        .unwrap();
    let before = cache.current().checked_at;
    tokio::time::sleep(Duration::from_millis(5)).await;
    assert!(cache.refresh().await.unwrap().checked_at > before);
    let calls = fake.state().count("GET /servers/getVersion");
    let token = tokio_util::sync::CancellationToken::new();
    let c2 = cache.clone();
    let t2 = token.clone();
    let task = tokio::spawn(async move { c2.run_refresh(Duration::from_secs(1), t2).await });
    tokio::time::sleep(Duration::from_millis(2300)).await;
    token.cancel();
    task.await.unwrap();
    assert!(fake.state().count("GET /servers/getVersion") >= calls + 2);
}

/// Run the `misp-connector` binary with only these environment variables.
async fn cli(args: &[&str], env: &[(&str, &str)], stdin: Option<&[u8]>) -> (i32, String, String) {
    use tokio::io::AsyncWriteExt;
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_misp-connector"));
    cmd.args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().expect("binary runs");
    if let Some(mut sin) = child.stdin.take() {
        if let Some(b) = stdin {
            sin.write_all(b).await.unwrap();
        }
        drop(sin);
    }
    let out = child.wait_with_output().await.unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test]
async fn push_and_check_commands() {
    let fake = fake().await;
    let url = fake.url();
    let env = [
        ("MISP_URL", url.as_str()),
        ("MISP_API_KEY", fake.admin_key()),
        ("MISP_ORGANISATION_ID", "1"),
        ("MISP_DISTRIBUTION", "1"),
    ];
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bundle.json");
    std::fs::write(
        &file,
        bundle(
            "CLI story",
            "2026-11-20T10:00:00Z",
            &[(N1, "first")],
            &["198.51.100.7"],
        ),
    )
    .unwrap();
    let file = file.to_str().unwrap();

    let (code, out, err) = cli(&["push", file], &env, None).await;
    assert_eq!(code, 0, "stdout: {out}\nstderr: {err}");
    let lines: Vec<Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 1, "{out}");
    assert_eq!(lines[0]["story_id"], STORY);
    assert_eq!(lines[0]["misp_event_uuid"], STORY);
    assert_eq!(lines[0]["action"], "created");
    assert_eq!(lines[0]["misp_event_id"], event(&fake, STORY)["id"]);
    assert!(!err.contains(fake.admin_key()) && !out.contains(fake.admin_key()));

    // At trace level the logs talk about every request but never show the key.
    let mut traced = env.to_vec();
    traced.push(("CONNECTOR_LOG_LEVEL", "trace"));
    let (code, out, err) = cli(&["push", file], &traced, None).await;
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("\"action\":\"unchanged\""), "{out}");
    assert!(
        err.contains("events/view"),
        "no request logged at trace level: {err}"
    );
    assert!(
        !err.contains(fake.admin_key()),
        "the API key leaked into the logs"
    );

    // From stdin, again: unchanged.
    let bytes = std::fs::read(file).unwrap();
    let (code, out, _) = cli(&["push", "-"], &env, Some(&bytes)).await;
    assert_eq!(code, 0);
    assert!(out.contains("\"action\":\"unchanged\""), "{out}");

    // Invalid input: 2.
    let (code, _, err) = cli(&["push", "-"], &env, Some(b"{not json")).await;
    assert_eq!(code, 2, "{err}");
    // Missing required config: 2, naming the key.
    let (code, _, err) = cli(&["push", file], &env[1..], None).await;
    assert_eq!(code, 2);
    assert!(err.contains("misp.url"), "{err}");
    // Bad key: 2 with a clear message, the key not echoed.
    let bad = [
        ("MISP_URL", url.as_str()),
        ("MISP_API_KEY", "WrongKey123"),
        ("MISP_ORGANISATION_ID", "1"),
    ];
    let (code, _, err) = cli(&["push", file], &bad, None).await;
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("refused the API key") && !err.contains("WrongKey123"),
        "{err}"
    );
    // MISP failing while syncing: a failed line and exit 1.
    fake.faults().fail_next(10, 503, Some("/events/view"));
    let (code, out, _) = cli(&["push", file], &env, None).await;
    assert_eq!(code, 1);
    assert!(
        out.contains("\"action\":\"failed\"") && out.contains("HTTP 503"),
        "{out}"
    );
    fake.faults().clear();

    // check: 0 when all is well, 1 when MISP is unreachable.
    let (code, out, err) = cli(&["check"], &env, None).await;
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("version 2.5.1"), "{out}");
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let down_url = format!("http://127.0.0.1:{closed}");
    let down = [
        ("MISP_URL", down_url.as_str()),
        ("MISP_API_KEY", fake.admin_key()),
        ("MISP_ORGANISATION_ID", "1"),
    ];
    let (code, _, err) = cli(&["check"], &down, None).await;
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("cannot reach MISP"), "{err}");
}

/// Versions delivered in any order, several at a time, by several workers: MISP ends with the newest.
#[tokio::test]
async fn shuffled_concurrent_deliveries_converge_on_the_newest_version() {
    let fake = fake().await;
    fake.faults().set_latency(Duration::from_millis(3));
    let workers: Vec<Syncer> = (0..3).map(|_| admin(&fake)).collect();
    // Eight versions, some within the same second, each with different content.
    let stamps = [
        "2026-11-20T10:00:00Z",
        "2026-11-20T10:00:00.100Z",
        "2026-11-20T10:00:00.900Z",
        "2026-11-20T10:00:01Z",
        "2026-11-20T10:00:05Z",
        "2026-11-20T10:00:05.5Z",
        "2026-11-21T00:00:00Z",
        "2026-11-21T00:00:00.001Z",
    ];
    let versions: Vec<Converted> = stamps
        .iter()
        .enumerate()
        .map(|(i, m)| {
            let items: Vec<(&str, &str)> = if i % 2 == 0 {
                vec![(N1, "first")]
            } else {
                vec![(N1, "first"), (N2, "second")]
            };
            let ip = format!("198.51.100.{}", 10 + i);
            story(&bundle(&format!("version {i}"), m, &items, &[ip.as_str()]))
        })
        .collect();
    let newest = versions.len() - 1;
    let mut seed: u64 = 0x5eed;
    for round in 0..4 {
        // A deterministic shuffle per round (xorshift).
        let mut order: Vec<usize> = (0..versions.len()).collect();
        for i in (1..order.len()).rev() {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            order.swap(i, (seed % (i as u64 + 1)) as usize);
        }
        for chunk in order.chunks(3) {
            let futs = chunk
                .iter()
                .zip(workers.iter())
                .map(|(i, w)| w.sync(&versions[*i]));
            for r in futures_util::future::join_all(futs).await {
                r.unwrap_or_else(|e| panic!("round {round}: {e}"));
            }
        }
        let ev = event(&fake, STORY);
        assert_eq!(ev["info"], format!("version {newest}"), "round {round}");
        assert_eq!(
            live_values(&ev),
            vec![format!("198.51.100.{}", 10 + newest)],
            "round {round}"
        );
        assert_eq!(live_objects(&ev, "taranis-news-item"), 2, "round {round}");
        fake.state().clear_requests();
        assert_eq!(
            workers[0].sync(&versions[newest]).await.unwrap().action,
            Action::Unchanged
        );
        assert!(writes(&fake).is_empty());
    }
    assert_eq!(fake.state().event_count(), 1);
}

fn example(name: &str) -> Vec<u8> {
    std::fs::read(format!("{}/examples/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

/// Every example bundle syncs: created, then unchanged on replay; the native update soft-deletes its
/// removed news item; nothing is ever created twice.
#[tokio::test]
async fn examples_sync_end_to_end() {
    let fake = fake().await;
    let s = admin(&fake);
    let mut uuids = std::collections::BTreeSet::new();
    for name in [
        "native-story.json",
        "native-multi-story.json",
        "presenter-story.json",
        "plain-report.json",
    ] {
        let conv = convert(&example(name), &options()).unwrap_or_else(|e| panic!("{name}: {e}"));
        for c in &conv.stories {
            let out = s.sync(c).await.unwrap_or_else(|e| panic!("{name}: {e}"));
            // The native and presenter examples carry the same Taranis story.
            assert!(
                matches!(
                    out.action,
                    Action::Created | Action::Updated | Action::Unchanged
                ),
                "{name}: {out:?}"
            );
            uuids.insert(out.misp_event_uuid);
            let ev = event(&fake, &out.misp_event_uuid.to_string());
            assert_eq!(ev["uuid"], out.misp_event_uuid.to_string());
            assert!(
                live(&ev["Object"])
                    .iter()
                    .any(|o| o["name"] == "taranis-story"),
                "{name}"
            );
            assert_eq!(live(&ev["EventReport"]).len(), 1, "{name}");
        }
        fake.state().clear_requests();
        for c in &conv.stories {
            let again = s.sync(c).await.unwrap();
            assert!(
                matches!(again.action, Action::Unchanged | Action::Stale),
                "{name}: {again:?}"
            );
        }
        assert!(
            writes(&fake).is_empty(),
            "{name}: replay wrote {:?}",
            writes(&fake)
        );
    }
    assert_eq!(fake.state().event_count(), uuids.len());

    // native-story-update: newer, one news item fewer, summary and comments changed.
    let before = convert(&example("native-story.json"), &options())
        .unwrap()
        .stories
        .remove(0);
    let update = convert(&example("native-story-update.json"), &options())
        .unwrap()
        .stories
        .remove(0);
    assert_eq!(before.story.id, update.story.id);
    // The presenter example carries the same Taranis story with a newer version (2026-11-22) than
    // native-story-update (2026-11-01): after it, the update is stale.
    assert_eq!(s.sync(&update).await.unwrap().action, Action::Stale);

    // On a fresh MISP: native-story, then its update.
    let fake = self::fake().await;
    let s = admin(&fake);
    assert_eq!(s.sync(&before).await.unwrap().action, Action::Created);
    let out = s.sync(&update).await.unwrap();
    assert_eq!(out.action, Action::Updated);
    let ev = event(&fake, &out.misp_event_uuid.to_string());
    assert_eq!(
        live_objects(&ev, "taranis-news-item"),
        update.story.news_items.len()
    );
    assert!(
        ev["Object"]
            .as_array()
            .unwrap()
            .iter()
            .any(|o| o["name"] == "taranis-news-item" && o["deleted"] == json!(true)),
        "the removed news item is soft-deleted"
    );
    // The older original arriving late is stale.
    assert_eq!(s.sync(&before).await.unwrap().action, Action::Stale);
}

/// Someone else touching our event (an analyst, an accepted proposal) moves MISP's timestamp to now; a
/// newer story version must still apply, and an older one must still be stale.
#[tokio::test]
async fn foreign_touches_do_not_make_newer_versions_look_stale() {
    let fake = fake().await;
    let s = admin(&fake);
    let v1 = story(&bundle("v1", "2020-01-01T00:00:00Z", &[(N1, "first")], &[]));
    let v2 = story(&bundle("v2", "2020-01-02T00:00:00Z", &[(N1, "first")], &[]));
    s.sync(&v1).await.unwrap();
    // An analyst edits the event without a timestamp: MISP stamps it "now" (years after the story versions).
    let analyst = MispClient::new(&ClientSettings::new(
        fake.url(),
        SecretString::from(fake.admin_key().to_owned()),
    ))
    .unwrap();
    analyst
        .edit_event(
            STORY.parse().unwrap(),
            &json!({"Event": {"uuid": STORY, "info": "analyst title", "published": false}}),
        )
        .await
        .unwrap();
    let touched: i64 = event(&fake, STORY)["timestamp"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(touched > 1_600_000_000);
    // Redelivery of v1: the story is the source of truth, the analyst's title is reverted.
    assert_eq!(s.sync(&v1).await.unwrap().action, Action::Updated);
    assert_eq!(event(&fake, STORY)["info"], "v1");
    // v2 applies although MISP's timestamp is far newer than the story's.
    assert_eq!(s.sync(&v2).await.unwrap().action, Action::Updated);
    assert_eq!(event(&fake, STORY)["info"], "v2");
    let ts: i64 = event(&fake, STORY)["timestamp"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(ts > touched, "{ts} > {touched}");
    assert_eq!(s.sync(&v1).await.unwrap().action, Action::Stale);
}

/// `misp.publish` with a key that may not publish: warned at start, events saved unpublished, and a replay
/// is unchanged instead of rewriting `published` forever.
#[tokio::test]
async fn publish_without_the_permission_is_warned_and_stays_idempotent() {
    let fake = fake().await;
    let client = MispClient::new(&ClientSettings::new(
        fake.url(),
        SecretString::from(fake.org_b_key().to_owned()),
    ))
    .unwrap();
    let meta = startup::check(
        &client,
        &StartupSettings {
            organisation_id: "2".into(),
            distribution: 1,
            sharing_group_id: None,
            publish: true,
        },
    )
    .await
    .unwrap();
    assert_eq!(meta.me.perm_publish, Some(false));
    assert!(
        meta.warnings.iter().any(|w| w.contains("may not publish")),
        "{:?}",
        meta.warnings
    );
    let mut settings = SyncSettings::new("2");
    settings.can_publish = meta.me.perm_publish.unwrap_or(true);
    let s = Syncer::new(client, settings);
    let mut opts = options();
    opts.mapping.published = true;
    let v = story_with(
        &bundle("T", "2026-11-20T10:00:00Z", &[(N1, "first")], &[]),
        &opts,
    );
    assert_eq!(s.sync(&v).await.unwrap().action, Action::Created);
    assert_eq!(event(&fake, STORY)["published"], json!(false));
    fake.state().clear_requests();
    assert_eq!(s.sync(&v).await.unwrap().action, Action::Unchanged);
    assert!(writes(&fake).is_empty());
}

/// Every request the fake saw, as "METHOD /path".
fn requests(fake: &FakeMisp) -> Vec<String> {
    fake.state()
        .requests()
        .into_iter()
        .map(|r| format!("{} {}", r.method, r.path))
        .collect()
}

#[tokio::test]
async fn a_new_story_costs_one_request_and_a_known_one_starts_with_a_read() {
    let fake = fake().await;
    let s = admin(&fake);
    let v1 = story(&bundle("T", "2026-11-20T10:00:00Z", &[(N1, "first")], &[]));
    let v2 = story(&bundle("T2", "2026-11-21T10:00:00Z", &[(N1, "first")], &[]));

    // Never seen by this syncer: straight to the add (no read first).
    assert_eq!(s.sync(&v1).await.unwrap().action, Action::Created);
    assert_eq!(requests(&fake), vec!["POST /events/add".to_owned()]);

    // Seen: read first, then only what changed; a replay reads and writes nothing.
    fake.state().clear_requests();
    assert_eq!(s.sync(&v2).await.unwrap().action, Action::Updated);
    let r = requests(&fake);
    assert!(r[0].starts_with("GET /events/view/"), "{r:?}");
    assert!(!r.iter().any(|x| x == "POST /events/add"), "{r:?}");
    fake.state().clear_requests();
    assert_eq!(s.sync(&v2).await.unwrap().action, Action::Unchanged);
    assert!(writes(&fake).is_empty(), "{:?}", requests(&fake));

    // A fresh process (e.g. after a restart) tries the add, which MISP refuses without writing anything
    // (404 "already exists"), then reads and finds nothing to change.
    let fresh = admin(&fake);
    fake.state().clear_requests();
    assert_eq!(fresh.sync(&v2).await.unwrap().action, Action::Unchanged);
    let r = requests(&fake);
    assert_eq!(r[0], "POST /events/add", "{r:?}");
    assert!(r[1].starts_with("GET /events/view/"), "{r:?}");
    assert_eq!(r.len(), 2, "{r:?}");
    assert_eq!(fake.state().event_count(), 1);
}
