//! The fake MISP against the real MISP 2.5.1 recordings: every transcript in `shared/reference/misp/transcripts/`
//! that the fake models is replayed in order against one fake instance (same method, path, body and key
//! role) and must give the recorded status and the recorded key body fields. Then focused tests for the
//! rules the sync relies on (ownership, timestamp guard, merge, soft delete, 4-byte text, races) and for
//! every fault kind, over real HTTP on 127.0.0.1.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use misp_connector::fake_misp::{FakeConfig, FakeMisp};
use serde_json::{Map, Value, json};

const TRANSCRIPTS: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../shared/reference/misp/transcripts"
);
/// Server clock of the recording around transcript 12 (the response of #12 carries it).
const RECORDING_NOW: i64 = 1_795_373_884;
/// A well-formed key nobody has (#64, #65).
const BAD_KEY: &str = "0000000000000000000000000000000000000bad";

/// Transcripts not replayed, with the reason (everything else is replayed and compared).
const NOT_MODELLED: &[(u32, &str)] = &[
    (32, "GET /tags/index is not modelled"),
    (62, "POST /attributes/restSearch is not modelled"),
    (63, "GET /events/index is not modelled"),
    (
        81,
        "sharing groups are configured at start, not created over REST",
    ),
    (
        82,
        "sharing groups are configured at start, not created over REST",
    ),
];

/// Fields that deliberately differ from the recording (documented in docs/fake-misp.md).
fn known_deviation(seq: u32, projected: &mut Value) {
    if let Some(e) = projected.get_mut("Event").and_then(Value::as_object_mut) {
        match seq {
            // The recorded MISP only queued the publish job (its workers never ran it); the fake publishes.
            86 => {
                e.remove("published");
            }
            // #40, #61: org B sees the same event; whether the creator e-mail is shown is not compared.
            _ => {}
        }
    }
}

/// Transcripts whose event `timestamp` is compared (the client sent one, MISP kept it).
const TIMESTAMP_CHECKED: &[u32] = &[2, 4, 7, 8, 9, 10, 11, 14, 15, 16, 18, 19, 31];

struct Transcript {
    seq: u32,
    method: String,
    path: String,
    auth: Option<String>,
    content_type: Option<String>,
    body: Value,
    status: u16,
    location: Option<String>,
    result_count: Option<String>,
    response: Value,
}

fn load_transcripts() -> BTreeMap<u32, Transcript> {
    let mut out = BTreeMap::new();
    let dir =
        std::fs::read_dir(TRANSCRIPTS).unwrap_or_else(|e| panic!("cannot read {TRANSCRIPTS}: {e}"));
    for entry in dir.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if !name.ends_with(".json") || !name.starts_with(|c: char| c.is_ascii_digit()) {
            continue;
        }
        let text = std::fs::read_to_string(entry.path()).unwrap_or_else(|e| panic!("{name}: {e}"));
        let v: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
        let seq = v["seq"]
            .as_u64()
            .unwrap_or_else(|| panic!("{name}: no seq")) as u32;
        let header = |k: &str| v["response_headers"][k].as_str().map(str::to_owned);
        out.insert(
            seq,
            Transcript {
                seq,
                method: v["method"].as_str().unwrap_or("GET").to_owned(),
                path: v["path"].as_str().unwrap_or("/").to_owned(),
                auth: v["auth"].as_str().map(str::to_owned),
                content_type: v["request_headers"]["Content-Type"]
                    .as_str()
                    .map(str::to_owned),
                body: v["request_body"].clone(),
                status: v["status"].as_u64().unwrap_or(0) as u16,
                location: header("Location"),
                result_count: header("X-Result-Count"),
                response: v["response_body"].clone(),
            },
        );
    }
    assert_eq!(out.len(), 118, "expected the 118 recorded exchanges");
    out
}

struct Answer {
    status: u16,
    headers: reqwest::header::HeaderMap,
    body: Value,
}

async fn send_raw(
    client: &reqwest::Client,
    misp: &FakeMisp,
    method: &str,
    path: &str,
    key: Option<&str>,
    content_type: Option<&str>,
    body: Option<Vec<u8>>,
) -> Answer {
    let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap_or(reqwest::Method::GET);
    let mut req = client
        .request(method, format!("{}{path}", misp.url()))
        .header("Accept", "application/json");
    if let Some(k) = key {
        req = req.header("Authorization", k);
    }
    if let Some(ct) = content_type {
        req = req.header("Content-Type", ct);
    }
    if let Some(b) = body {
        req = req.body(b);
    }
    let resp = req.send().await.unwrap_or_else(|e| panic!("{path}: {e}"));
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let bytes = resp.bytes().await.unwrap_or_default();
    let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    Answer {
        status,
        headers,
        body,
    }
}

fn key_for(misp: &FakeMisp, role: Option<&str>) -> Option<String> {
    match role {
        Some("admin") => Some(misp.admin_key().to_owned()),
        Some("orgB") => Some(misp.org_b_key().to_owned()),
        Some("bad") => Some(BAD_KEY.to_owned()),
        Some("malformed") => Some("malformed key!".to_owned()),
        _ => None,
    }
}

async fn replay(client: &reqwest::Client, misp: &FakeMisp, t: &Transcript) -> Answer {
    let body = match &t.body {
        Value::Null => None,
        Value::String(raw) => Some(raw.clone().into_bytes()), // #68, #69, #74: sent verbatim
        other => Some(serde_json::to_vec(other).unwrap_or_default()),
    };
    let key = key_for(misp, t.auth.as_deref());
    send_raw(
        client,
        misp,
        &t.method,
        &t.path,
        key.as_deref(),
        t.content_type.as_deref(),
        body,
    )
    .await
}

// ---------------------------------------------------------------------------------------------------
// projection: the fields compared between the recording and the fake

fn stable_uuid(v: &Value) -> Value {
    match v.as_str() {
        // Uuids chosen by the recording client are compared; uuids MISP generated are random.
        Some(u) if u.contains("-0000-4000-8000-") || u.starts_with("5f0c2b1e-") => json!(u),
        Some(u) if u.len() == 36 => json!("<generated>"),
        _ => v.clone(),
    }
}

fn pick(v: &Value, keys: &[&str]) -> Map<String, Value> {
    let mut m = Map::new();
    for k in keys {
        if let Some(x) = v.get(*k) {
            let x = if *k == "uuid" || *k == "old_uuid" {
                stable_uuid(x)
            } else {
                x.clone()
            };
            m.insert((*k).to_owned(), x);
        }
    }
    m
}

fn tag_names(v: &Value) -> Value {
    let mut names: Vec<String> = v
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|t| t["name"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    json!(names)
}

fn proj_proposal(p: &Value) -> Value {
    let mut m = pick(
        p,
        &[
            "id",
            "old_id",
            "event_id",
            "type",
            "category",
            "value",
            "comment",
            "to_ids",
            "uuid",
            "proposal_to_delete",
            "deleted",
            "org_id",
            "event_org_id",
            "email",
            "old_uuid",
        ],
    );
    if let Some(org) = p.get("Org") {
        m.insert(
            "Org".to_owned(),
            Value::Object(pick(org, &["id", "name", "uuid"])),
        );
    }
    Value::Object(m)
}

fn proj_attr(a: &Value) -> Value {
    let mut m = pick(
        a,
        &[
            "id",
            "type",
            "category",
            "value",
            "to_ids",
            "comment",
            "deleted",
            "object_id",
            "object_relation",
            "uuid",
            "event_id",
            "distribution",
            "value1",
            "value2",
        ],
    );
    if let Some(t) = a.get("Tag") {
        m.insert("Tag".to_owned(), tag_names(t));
    }
    if let Some(sa) = a.get("ShadowAttribute").and_then(Value::as_array) {
        m.insert(
            "ShadowAttribute".to_owned(),
            Value::Array(sa.iter().map(proj_proposal).collect()),
        );
    }
    Value::Object(m)
}

fn proj_list(v: &Value, f: fn(&Value) -> Value) -> Value {
    Value::Array(
        v.as_array()
            .map(|a| a.iter().map(f).collect())
            .unwrap_or_default(),
    )
}

fn proj_object(o: &Value) -> Value {
    let mut m = pick(
        o,
        &[
            "id",
            "name",
            "meta-category",
            "description",
            "template_uuid",
            "template_version",
            "event_id",
            "uuid",
            "deleted",
        ],
    );
    m.insert(
        "Attribute".to_owned(),
        proj_list(&o["Attribute"], proj_attr),
    );
    Value::Object(m)
}

fn proj_report(r: &Value) -> Value {
    Value::Object(pick(
        r,
        &[
            "id",
            "uuid",
            "event_id",
            "name",
            "content",
            "distribution",
            "deleted",
        ],
    ))
}

fn proj_event(e: &Value, with_ts: bool) -> Value {
    let mut keys = vec![
        "id",
        "orgc_id",
        "org_id",
        "info",
        "uuid",
        "published",
        "distribution",
        "sharing_group_id",
        "threat_level_id",
        "analysis",
        "attribute_count",
        "extends_uuid",
    ];
    if with_ts {
        keys.push("timestamp");
    }
    let mut m = pick(e, &keys);
    for (k, org) in [("Org", &e["Org"]), ("Orgc", &e["Orgc"])] {
        m.insert(
            k.to_owned(),
            Value::Object(pick(org, &["id", "name", "uuid"])),
        );
    }
    m.insert(
        "Attribute".to_owned(),
        proj_list(&e["Attribute"], proj_attr),
    );
    m.insert("Object".to_owned(), proj_list(&e["Object"], proj_object));
    m.insert(
        "EventReport".to_owned(),
        proj_list(&e["EventReport"], proj_report),
    );
    m.insert(
        "ShadowAttribute".to_owned(),
        proj_list(&e["ShadowAttribute"], proj_proposal),
    );
    m.insert("Tag".to_owned(), tag_names(&e["Tag"]));
    Value::Object(m)
}

fn project(v: &Value, with_ts: bool) -> Value {
    match v {
        Value::Array(items) => {
            let mut out: Vec<Value> = items.iter().map(|i| project(i, with_ts)).collect();
            out.sort_by_key(|x| x.to_string());
            Value::Array(out)
        }
        Value::Object(m) if m.contains_key("EventReport") => json!({
            "EventReport": proj_report(&m["EventReport"]),
            "Event": pick(&m["Event"], &["id", "orgc_id", "org_id", "info"]),
        }),
        Value::Object(m) if m.contains_key("Event") => {
            json!({ "Event": proj_event(&m["Event"], with_ts) })
        }
        Value::Object(m) if m.contains_key("response") => json!({ "response": m["response"]
            .as_array()
            .map(|a| a.iter().map(|e| proj_event(&e["Event"], false)).collect::<Vec<_>>()) }),
        Value::Object(m) if m.contains_key("ShadowAttribute") => {
            json!({"ShadowAttribute": proj_proposal(&m["ShadowAttribute"])})
        }
        Value::Object(m) if m.contains_key("Attribute") => json!({
            "Attribute": proj_attr(&m["Attribute"]), "AttributeTag": m.get("AttributeTag"),
        }),
        Value::Object(m) if m.contains_key("Object") => {
            json!({ "Object": proj_object(&m["Object"]) })
        }
        Value::Object(m) if m.contains_key("SharingGroup") => {
            let orgs: Vec<Value> = m["SharingGroupOrg"]
                .as_array()
                .map(|a| a.iter().map(|o| o["org_id"].clone()).collect())
                .unwrap_or_default();
            json!({"SharingGroup": pick(&m["SharingGroup"], &["id", "name", "uuid", "org_id"]), "orgs": orgs})
        }
        // Error / save / version bodies: compared whole.
        other => other.clone(),
    }
}

#[tokio::test]
async fn replays_the_recorded_misp_session() {
    let transcripts = load_transcripts();
    let skipped: Vec<u32> = NOT_MODELLED.iter().map(|(s, _)| *s).collect();
    let misp = FakeMisp::start(FakeConfig::default())
        .await
        .unwrap_or_else(|e| panic!("start: {e}"));
    misp.state().set_clock(Some(RECORDING_NOW));
    let client = reqwest::Client::new();
    let mut mismatches = Vec::new();
    let mut replayed = 0;
    for t in transcripts.values() {
        if skipped.contains(&t.seq) {
            continue;
        }
        let answer = replay(&client, &misp, t).await;
        replayed += 1;
        if answer.status != t.status {
            mismatches.push(format!(
                "#{} {} {}: status {} (recorded {}), body {}",
                t.seq, t.method, t.path, answer.status, t.status, answer.body
            ));
            continue;
        }
        if let Some(loc) = &t.location {
            let got = answer
                .headers
                .get("location")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("");
            let want_path = loc.trim_start_matches("http://127.0.0.1:8080");
            if got != format!("{}{want_path}", misp.url()) {
                mismatches.push(format!("#{}: Location {got:?}, recorded {loc:?}", t.seq));
            }
        }
        if let Some(count) = &t.result_count {
            let got = answer
                .headers
                .get("x-result-count")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("");
            if got != count {
                mismatches.push(format!(
                    "#{}: X-Result-Count {got:?}, recorded {count:?}",
                    t.seq
                ));
            }
        }
        let with_ts = TIMESTAMP_CHECKED.contains(&t.seq);
        let mut want = project(&t.response, with_ts);
        // The recording's base URL was http://127.0.0.1:8080 (#57 answers with an absolute URL).
        let rebased: Value = serde_json::from_str(
            &answer
                .body
                .to_string()
                .replace(&misp.url(), "http://127.0.0.1:8080"),
        )
        .unwrap_or(Value::Null);
        let mut got = project(&rebased, with_ts);
        known_deviation(t.seq, &mut want);
        known_deviation(t.seq, &mut got);
        if want != got {
            mismatches.push(format!(
                "#{} {} {}:\n  recorded {want}\n  fake     {got}",
                t.seq, t.method, t.path
            ));
        }
    }
    assert_eq!(replayed, 118 - NOT_MODELLED.len());
    assert!(
        mismatches.is_empty(),
        "{} mismatches:\n{}",
        mismatches.len(),
        mismatches.join("\n")
    );
    misp.shutdown().await;
}
