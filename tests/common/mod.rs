//! A tiny in-test MISP for the sync and client tests, until the project's stateful fake (`fake_misp`)
//! lands: real HTTP on 127.0.0.1, two organisations, the behaviours of the transcripts the sync relies on
//! (404 + Location on duplicate add, the edit timestamp guard, merge-by-uuid edits, soft deletes,
//! ownership refusal, shadow attributes, tag removal), a request log and injectable faults.
#![allow(dead_code)]

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

pub const ADMIN_KEY: &str = "AdminKey000000000000000000000000000000A1";
pub const ORG_B_KEY: &str = "OrgBKey0000000000000000000000000000000B2";

/// One request as the fake saw it.
#[derive(Debug, Clone)]
pub struct Seen {
    pub method: String,
    pub path: String,
    pub headers: HeaderMap,
    pub body: String,
}

/// A canned answer served instead of the real one.
#[derive(Debug, Clone)]
pub struct Fault {
    /// Only for requests whose path starts with this.
    pub path_prefix: String,
    pub status: u16,
    pub headers: Vec<(&'static str, String)>,
    pub body: String,
    pub delay: Duration,
}

#[derive(Default)]
pub struct State {
    pub events: Vec<Value>,
    pub proposals: Vec<Value>,
    pub seen: Vec<Seen>,
    pub faults: VecDeque<Fault>,
    pub latency: Duration,
    next_id: u64,
}

#[derive(Clone)]
pub struct MiniMisp {
    pub addr: SocketAddr,
    pub state: Arc<Mutex<State>>,
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

fn j(status: u16, v: Value) -> Response {
    (
        StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
        [("content-type", "application/json")],
        v.to_string(),
    )
        .into_response()
}

fn err(status: u16, msg: &str, url: &str) -> Response {
    j(status, json!({"name": msg, "message": msg, "url": url}))
}

fn org_of(headers: &HeaderMap) -> Option<&'static str> {
    match headers.get("authorization").and_then(|v| v.to_str().ok()) {
        Some(ADMIN_KEY) => Some("1"),
        Some(ORG_B_KEY) => Some("2"),
        _ => None,
    }
}

fn s(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

fn truthy(v: &Value) -> bool {
    matches!(v, Value::Bool(true)) || s(v) == "1" || s(v) == "true"
}

impl MiniMisp {
    pub async fn start() -> MiniMisp {
        let state = Arc::new(Mutex::new(State {
            next_id: 1,
            ..State::default()
        }));
        let st = state.clone();
        let app = axum::Router::new().fallback(
            move |method: Method, uri: Uri, headers: HeaderMap, body: Bytes| {
                let st = st.clone();
                async move { handle(st, method, uri, headers, body).await }
            },
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        MiniMisp { addr, state }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn fault(&self, f: Fault) {
        self.state.lock().unwrap().faults.push_back(f);
    }

    pub fn event(&self, uuid: &str) -> Option<Value> {
        self.state
            .lock()
            .unwrap()
            .events
            .iter()
            .find(|e| e["uuid"] == uuid)
            .cloned()
    }

    pub fn events_with_uuid(&self, uuid: &str) -> usize {
        self.state
            .lock()
            .unwrap()
            .events
            .iter()
            .filter(|e| e["uuid"] == uuid)
            .count()
    }

    pub fn seen(&self) -> Vec<Seen> {
        self.state.lock().unwrap().seen.clone()
    }

    pub fn writes(&self) -> Vec<String> {
        self.seen()
            .into_iter()
            .filter(|s| s.method == "POST")
            .map(|s| s.path)
            .collect()
    }

    pub fn proposals(&self) -> Vec<Value> {
        self.state.lock().unwrap().proposals.clone()
    }

    pub fn clear_log(&self) {
        self.state.lock().unwrap().seen.clear();
    }
}

fn view_of(ev: &Value) -> Value {
    let mut v = ev.clone();
    if let Some(a) = v["Attribute"].as_array_mut() {
        a.retain(|x| !truthy(&x["deleted"]));
    }
    if let Some(o) = v["Object"].as_array_mut() {
        o.retain(|x| !truthy(&x["deleted"]));
        for obj in o.iter_mut() {
            if let Some(a) = obj["Attribute"].as_array_mut() {
                a.retain(|x| !truthy(&x["deleted"]));
            }
        }
    }
    v
}

/// Merge `incoming` items into `list` by uuid (MISP's edit semantics: absent fields kept).
fn merge_by_uuid(
    list: &mut Vec<Value>,
    incoming: &[Value],
    next_id: &mut u64,
    nested: Option<&str>,
) {
    for item in incoming {
        let uuid = item["uuid"].clone();
        let pos = list.iter().position(|x| x["uuid"] == uuid);
        match pos {
            Some(i) => {
                let target = &mut list[i];
                if let (Some(t), Some(src)) = (target.as_object_mut(), item.as_object()) {
                    for (k, v) in src {
                        if Some(k.as_str()) == nested {
                            continue;
                        }
                        t.insert(k.clone(), v.clone());
                    }
                }
                if let Some(n) = nested {
                    let sub: Vec<Value> = item[n].as_array().cloned().unwrap_or_default();
                    let mut cur: Vec<Value> = target[n].as_array().cloned().unwrap_or_default();
                    merge_by_uuid(&mut cur, &sub, next_id, None);
                    target[n] = Value::Array(cur);
                }
            }
            None => {
                let mut new = item.clone();
                new["id"] = json!(next_id.to_string());
                *next_id += 1;
                if new.get("deleted").is_none() {
                    new["deleted"] = json!(false);
                }
                if let Some(n) = nested {
                    let sub: Vec<Value> = item[n].as_array().cloned().unwrap_or_default();
                    let mut cur = Vec::new();
                    merge_by_uuid(&mut cur, &sub, next_id, None);
                    new[n] = Value::Array(cur);
                }
                list.push(new);
            }
        }
    }
}

fn apply(ev: &mut Value, body: &Value, next_id: &mut u64) {
    for k in [
        "info",
        "date",
        "distribution",
        "sharing_group_id",
        "threat_level_id",
        "analysis",
        "published",
        "extends_uuid",
    ] {
        if let Some(v) = body.get(k) {
            ev[k] = v.clone();
        }
    }
    if body.get("published").is_none() {
        ev["published"] = json!(false);
    }
    for (key, nested) in [
        ("Attribute", None),
        ("Object", Some("Attribute")),
        ("EventReport", None),
    ] {
        let incoming: Vec<Value> = body[key].as_array().cloned().unwrap_or_default();
        let mut cur: Vec<Value> = ev[key].as_array().cloned().unwrap_or_default();
        merge_by_uuid(&mut cur, &incoming, next_id, nested);
        ev[key] = Value::Array(cur);
    }
    let mut tags: Vec<Value> = ev["Tag"].as_array().cloned().unwrap_or_default();
    for t in body["Tag"].as_array().cloned().unwrap_or_default() {
        if !tags.iter().any(|x| x["name"] == t["name"]) {
            tags.push(json!({"id": "1", "name": t["name"], "local": false}));
        }
    }
    ev["Tag"] = Value::Array(tags);
}

async fn handle(
    st: Arc<Mutex<State>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = uri.path().to_owned();
    let body_text = String::from_utf8_lossy(&body).into_owned();
    let (fault, latency) = {
        let mut g = st.lock().unwrap();
        g.seen.push(Seen {
            method: method.to_string(),
            path: path.clone(),
            headers: headers.clone(),
            body: body_text.clone(),
        });
        let idx = g
            .faults
            .iter()
            .position(|f| path.starts_with(&f.path_prefix));
        (idx.and_then(|i| g.faults.remove(i)), g.latency)
    };
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    if let Some(f) = fault {
        tokio::time::sleep(f.delay).await;
        let mut resp = j(
            f.status,
            serde_json::from_str(&f.body).unwrap_or(json!(f.body)),
        );
        for (k, v) in f.headers {
            resp.headers_mut()
                .insert(k, HeaderValue::from_str(&v).unwrap());
        }
        return resp;
    }
    let Some(org) = org_of(&headers) else {
        return err(
            403,
            "Authentication failed. Please make sure you pass the API key of an API enabled user along in the Authorization header.",
            &path,
        );
    };
    let parts: Vec<&str> = path.trim_matches('/').split('/').collect();
    let body: Value = if body.is_empty() {
        Value::Null
    } else {
        match serde_json::from_slice(&body) {
            Ok(v) => v,
            Err(_) => return err(405, "Invalid JSON input.", &path),
        }
    };
    let mut g = st.lock().unwrap();
    let State {
        events,
        proposals,
        next_id,
        ..
    } = &mut *g;
    match (method.as_str(), parts.as_slice()) {
        ("GET", ["servers", "getVersion"]) => {
            j(200, json!({"version": "2.5.1", "perm_sync": false}))
        }
        ("GET", ["users", "view", "me"]) => j(
            200,
            json!({"User": {"id": org, "org_id": org, "email": format!("user@org{org}.test")},
                   "Organisation": {"id": org, "name": format!("ORG-{org}"), "uuid": format!("0000000{org}-0000-4000-8000-000000000000")}}),
        ),
        ("GET", ["sharing_groups", "view", id]) => {
            if *id == "1" {
                j(
                    200,
                    json!({"SharingGroup": {"id": "1", "name": "SG A+B", "uuid": "5a5a5a5a-0000-4000-8000-000000000001", "active": true}}),
                )
            } else {
                err(404, "Invalid sharing group", &path)
            }
        }
        ("GET", ["events", "view", uuid]) => match events.iter().find(|e| e["uuid"] == *uuid) {
            Some(e) => j(200, json!({"Event": view_of(e)})),
            None => err(404, "Invalid event", &path),
        },
        ("POST", ["events", "add"]) => {
            let b = body.get("Event").cloned().unwrap_or(body);
            let uuid = s(&b["uuid"]);
            if let Some(e) = events.iter().find(|e| e["uuid"] == uuid.as_str()) {
                let mut resp = err(
                    404,
                    "Event already exists, if you would like to edit it, use the url in the location header.",
                    "/events/add",
                );
                let loc = format!("http://127.0.0.1/events/{}", s(&e["id"]));
                resp.headers_mut()
                    .insert("location", HeaderValue::from_str(&loc).unwrap());
                return resp;
            }
            let id = next_id.to_string();
            *next_id += 1;
            let mut ev = json!({"id": id, "uuid": uuid, "orgc_id": org, "org_id": org,
                "timestamp": b.get("timestamp").map(s).filter(|t| !t.is_empty()).unwrap_or_else(|| now().to_string()),
                "Attribute": [], "Object": [], "EventReport": [], "Tag": []});
            apply(&mut ev, &b, next_id);
            events.push(ev.clone());
            j(200, json!({"Event": view_of(&ev)}))
        }
        ("POST", ["events", "edit", uuid]) => {
            let b = body.get("Event").cloned().unwrap_or(body);
            let Some(ev) = events.iter_mut().find(|e| e["uuid"] == *uuid) else {
                return err(404, "Invalid event", &path);
            };
            if s(&ev["orgc_id"]) != org {
                return err(403, "You are not authorised to do that.", &path);
            }
            let stored: i64 = s(&ev["timestamp"]).parse().unwrap_or(0);
            let sent: Option<i64> = b.get("timestamp").map(s).and_then(|t| t.parse().ok());
            if let Some(t) = sent
                && t <= stored
            {
                return j(
                    403,
                    json!({"saved": false, "name": "Could not edit Event", "message": "Could not edit Event",
                    "url": path, "errors": "Event could not be saved: Event in the request not newer than the local copy.",
                    "id": ev["id"]}),
                );
            }
            apply(ev, &b, next_id);
            ev["timestamp"] = json!(sent.unwrap_or_else(now).to_string());
            j(200, json!({"Event": view_of(ev)}))
        }
        ("POST", ["tags", "removeTagFromObject"]) => {
            let uuid = s(&body["uuid"]);
            let tag = s(&body["tag"]);
            let Some(ev) = events.iter_mut().find(|e| e["uuid"] == uuid.as_str()) else {
                return err(404, "Invalid object", &path);
            };
            if let Some(tags) = ev["Tag"].as_array_mut() {
                tags.retain(|t| t["name"] != tag.as_str());
            }
            ev["timestamp"] = json!(now().to_string());
            j(
                200,
                json!({"saved": true, "success": true, "name": "removed"}),
            )
        }
        ("GET", ["shadow_attributes", "index", event]) => {
            let list: Vec<Value> = proposals
                .iter()
                .filter(|p| s(&p["event_id"]) == *event || p["event_uuid"] == *event)
                .map(|p| json!({"ShadowAttribute": p}))
                .collect();
            j(200, Value::Array(list))
        }
        ("POST", ["shadow_attributes", "add", event]) => {
            let Some(ev) = events
                .iter()
                .find(|e| s(&e["id"]) == *event || e["uuid"] == *event)
            else {
                return err(404, "Invalid event", &path);
            };
            let b = body.get("ShadowAttribute").cloned().unwrap_or(body);
            let id = next_id.to_string();
            *next_id += 1;
            let mut p = b.clone();
            p["id"] = json!(id);
            p["old_id"] = json!("0");
            p["event_id"] = ev["id"].clone();
            p["event_uuid"] = ev["uuid"].clone();
            p["org_id"] = json!(org);
            p["deleted"] = json!(false);
            p["proposal_to_delete"] = json!(false);
            proposals.push(p.clone());
            j(200, json!({"ShadowAttribute": p}))
        }
        ("POST", ["shadow_attributes", verb @ ("edit" | "delete"), attr_id]) => {
            let found = events.iter().find_map(|e| {
                e["Attribute"]
                    .as_array()
                    .and_then(|a| a.iter().find(|a| s(&a["id"]) == *attr_id).cloned())
                    .map(|a| (e.clone(), a))
            });
            let Some((ev, a)) = found else {
                return j(200, json!({"false": true, "errors": "Invalid Attribute."}));
            };
            let mut p = a.clone();
            if *verb == "edit" {
                let b = body.get("ShadowAttribute").cloned().unwrap_or(body);
                if let Some(o) = b.as_object() {
                    for (k, v) in o {
                        p[k] = v.clone();
                    }
                }
            }
            let id = next_id.to_string();
            *next_id += 1;
            p["id"] = json!(id);
            p["old_id"] = json!(attr_id);
            p["event_id"] = ev["id"].clone();
            p["event_uuid"] = ev["uuid"].clone();
            p["org_id"] = json!(org);
            p["deleted"] = json!(false);
            p["proposal_to_delete"] = json!(*verb == "delete");
            proposals.push(p.clone());
            if *verb == "delete" {
                j(
                    200,
                    json!({"saved": true, "success": "The proposal to delete the attribute has been saved"}),
                )
            } else {
                j(200, json!({"ShadowAttribute": p}))
            }
        }
        _ => err(404, "Not Found", &path),
    }
}
