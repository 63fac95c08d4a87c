//! The HTTP edge of the fake MISP: CakePHP-style URL parsing, authentication, body decoding, fault
//! injection and request logging, then one call into [`super::rules`] under the store lock.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::Response;
use serde_json::{Map, Value, json};

use super::faults::FaultKind;
use super::input::{self, has_four_byte};
use super::model::User;
use super::render::ViewOpts;
use super::rules::Reply;
use super::server::ConnHandle;
use super::{FakeState, RequestRecord};

/// Largest request body the fake reads (MISP's own limit is PHP's `post_max_size`, 50 MB in the docs).
pub const MAX_BODY_BYTES: usize = 64 * 1024 * 1024;

const AUTH_FAILED: &str = "Authentication failed. Please make sure you pass the API key of an API enabled user along in the Authorization header.";
const INVALID_JSON: &str = "Invalid JSON input. Make sure that the JSON input is a correctly formatted JSON string. This request has been blocked to avoid an unfiltered request.";

/// A parsed CakePHP URL: `/controller/action/arg1/arg2/key:value`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CakeUrl {
    pub controller: String,
    pub action: String,
    pub args: Vec<String>,
    pub named: Vec<(String, String)>,
}

impl CakeUrl {
    /// Parse a path; camelCase controllers are accepted like CakePHP does (`eventReports`,
    /// `shadowAttributes`), and a trailing `.json` is ignored.
    pub fn parse(path: &str) -> CakeUrl {
        let path = path.strip_suffix(".json").unwrap_or(path);
        let mut segments = path.split('/').filter(|s| !s.is_empty());
        let controller = segments.next().map(snake).unwrap_or_default();
        let action = segments.next().unwrap_or("index").to_owned();
        let mut args = Vec::new();
        let mut named = Vec::new();
        for seg in segments {
            let seg = percent_decode(seg);
            match seg.split_once(':') {
                Some((k, v)) if !k.is_empty() => named.push((k.to_owned(), v.to_owned())),
                _ => args.push(seg),
            }
        }
        CakeUrl {
            controller,
            action,
            args,
            named,
        }
    }

    fn arg(&self, i: usize) -> &str {
        self.args.get(i).map_or("", String::as_str)
    }

    fn named(&self, key: &str) -> Option<&str> {
        self.named
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    fn named_flag(&self, key: &str) -> bool {
        self.named(key).is_some_and(|v| v != "0" && !v.is_empty())
    }
}

fn snake(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 4);
    for c in s.chars() {
        if c.is_ascii_uppercase() {
            out.push('_');
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

fn percent_decode(s: &str) -> String {
    if !s.contains('%') {
        return s.to_owned();
    }
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let decoded = match (bytes[i], bytes.get(i + 1), bytes.get(i + 2)) {
            (b'%', Some(h), Some(l)) => hex(*h).zip(hex(*l)).map(|(h, l)| h * 16 + l),
            _ => None,
        };
        match decoded {
            Some(b) => {
                out.push(b);
                i += 3;
            }
            None => {
                out.push(bytes[i]);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex(b: u8) -> Option<u8> {
    (b as char).to_digit(16).and_then(|d| u8::try_from(d).ok())
}

/// The endpoints the fake implements (`Method`, controller, action).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Endpoint {
    GetVersion,
    UsersMe,
    SharingGroupView,
    SharingGroupIndex,
    EventsView,
    EventsAddDescription,
    EventsAdd,
    EventsEdit,
    EventsPublish,
    EventsDelete,
    EventsRestSearch,
    EventsAddTag,
    EventsRemoveTag,
    EventsIndex,
    AttributesRestSearch,
    TagsIndex,
    AttributesAdd,
    AttributesAddTag,
    TagsAttach,
    TagsRemove,
    AttributesEdit,
    ObjectsAdd,
    ReportsAdd,
    ReportsEdit,
    ReportsView,
    ReportsDelete,
    ReportsIndex,
    ProposalsAdd,
    ProposalsEdit,
    ProposalsDelete,
    ProposalsIndex,
    ProposalsAccept,
    ProposalsDiscard,
}

impl Endpoint {
    fn route(method: &Method, url: &CakeUrl) -> Option<Endpoint> {
        use Endpoint::*;
        let get = method == Method::GET || method == Method::HEAD;
        let post = method == Method::POST || method == Method::PUT;
        let has1 = !url.args.is_empty();
        Some(match (url.controller.as_str(), url.action.as_str()) {
            ("servers", "getVersion") if get => GetVersion,
            ("users", "view") if get && url.arg(0) == "me" => UsersMe,
            ("sharing_groups", "view") if get && has1 => SharingGroupView,
            ("sharing_groups", "index") if get => SharingGroupIndex,
            ("events", "view") if get && has1 => EventsView,
            ("events", "add") if get => EventsAddDescription,
            ("events", "add") if post => EventsAdd,
            ("events", "edit") if post && has1 => EventsEdit,
            ("events", "publish") if post && has1 => EventsPublish,
            ("events", "delete") if (post || method == Method::DELETE) && has1 => EventsDelete,
            ("events", "restSearch") if post => EventsRestSearch,
            ("events", "addTag") if post => EventsAddTag,
            ("events", "removeTag") if post && has1 => EventsRemoveTag,
            ("events", "index") if get => EventsIndex,
            ("attributes", "restSearch") if post => AttributesRestSearch,
            ("tags", "index") if get => TagsIndex,
            ("attributes", "addTag") if post && has1 => AttributesAddTag,
            ("tags", "attachTagToObject") if post => TagsAttach,
            ("tags", "removeTagFromObject") if post => TagsRemove,
            ("attributes", "add") if post && has1 => AttributesAdd,
            ("attributes", "edit") if post && has1 => AttributesEdit,
            ("objects", "add") if post && has1 => ObjectsAdd,
            ("event_reports", "add") if post && has1 => ReportsAdd,
            ("event_reports", "edit") if post && has1 => ReportsEdit,
            ("event_reports", "view") if get && has1 => ReportsView,
            ("event_reports", "delete") if (post || method == Method::DELETE) && has1 => {
                ReportsDelete
            }
            ("event_reports", "index") if get => ReportsIndex,
            ("shadow_attributes", "add") if post && has1 => ProposalsAdd,
            ("shadow_attributes", "edit") if post && has1 => ProposalsEdit,
            ("shadow_attributes", "delete") if post && has1 => ProposalsDelete,
            ("shadow_attributes", "index") if get => ProposalsIndex,
            ("shadow_attributes", "accept") if post && has1 => ProposalsAccept,
            ("shadow_attributes", "discard") if post && has1 => ProposalsDiscard,
            _ => return None,
        })
    }

    fn reads_body(self) -> bool {
        use Endpoint::*;
        matches!(
            self,
            EventsAdd
                | EventsEdit
                | EventsRestSearch
                | AttributesRestSearch
                | EventsAddTag
                | TagsAttach
                | TagsRemove
                | AttributesAdd
                | AttributesEdit
                | ObjectsAdd
                | ReportsAdd
                | ReportsEdit
                | ReportsDelete
                | ProposalsAdd
                | ProposalsEdit
        )
    }
}

fn json_response(reply: Reply) -> Response {
    let body = serde_json::to_vec(&reply.body).unwrap_or_default();
    let mut resp = Response::new(Body::from(body));
    *resp.status_mut() =
        StatusCode::from_u16(reply.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let headers = resp.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json; charset=UTF-8"),
    );
    if let Some(loc) = reply.location.and_then(|l| HeaderValue::from_str(&l).ok()) {
        headers.insert(header::LOCATION, loc);
    }
    if let Some(n) = reply.result_count {
        headers.insert("X-Result-Count", HeaderValue::from(n));
    }
    resp
}

fn text_response(status: u16, text: &'static str) -> Response {
    let mut resp = Response::new(Body::from(text));
    *resp.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    resp
}

/// Which configured key (if any) a request carries: MISP reads `Authorization`, overridden by `X-MISP-AUTH`.
fn authenticate<'a>(headers: &HeaderMap, users: &'a [User]) -> Option<&'a User> {
    let raw = headers
        .get("x-misp-auth")
        .or_else(|| headers.get(header::AUTHORIZATION))
        .and_then(|v| v.to_str().ok())?;
    raw.split(',').map(str::trim).find_map(|key| {
        // `^[a-zA-Z0-9]{40}$` (AppController::__loginByAuthKey); a malformed key never matches (#66).
        let well_formed = key.len() == 40 && key.bytes().all(|b| b.is_ascii_alphanumeric());
        if !well_formed {
            return None;
        }
        users.iter().find(|u| u.key == key)
    })
}

fn key_label(headers: &HeaderMap, users: &[User]) -> String {
    match authenticate(headers, users) {
        Some(u) if u.site_admin => "<admin key>".to_owned(),
        Some(u) => format!("<org {} key>", u.org_id),
        None if headers.contains_key(header::AUTHORIZATION)
            || headers.contains_key("x-misp-auth") =>
        {
            "<bad key>".to_owned()
        }
        None => String::new(),
    }
}

/// The one handler behind every URL.
pub async fn handle(
    State(state): State<Arc<FakeState>>,
    ConnectInfo(conn): ConnectInfo<ConnHandle>,
    req: Request,
) -> Response {
    let (parts, body) = req.into_parts();
    let path = parts.uri.path().to_owned();
    let method = parts.method.clone();

    let latency = state.faults.latency();
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    let body = match axum::body::to_bytes(body, MAX_BODY_BYTES).await {
        Ok(b) => b,
        Err(_) => Bytes::new(),
    };
    let mut fault = state.faults.take(&path);
    if let Some(FaultKind::Delay(d)) = fault {
        tokio::time::sleep(d).await;
        fault = None;
    }
    let (response, items) = match fault {
        Some(FaultKind::Drop) => {
            // Kill the connection: hyper fails to write the response and closes the socket.
            conn.kill.store(true, Ordering::SeqCst);
            (text_response(500, ""), 0)
        }
        Some(FaultKind::Status(500)) => (json_response(Reply::internal(&path)), 0),
        Some(FaultKind::Status(code)) => (
            text_response(code, "Service temporarily unavailable (fake-misp fault)"),
            0,
        ),
        Some(FaultKind::TooManyRequests { retry_after_secs }) => {
            let mut r = json_response(Reply::exception(429, "Rate limit exceeded.", &path));
            r.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(retry_after_secs));
            r.headers_mut()
                .insert("X-Rate-Limit-Reset", HeaderValue::from(retry_after_secs));
            (r, 0)
        }
        Some(FaultKind::Delay(_)) | None => {
            let reply = dispatch(&state, &method, &path, &parts.headers, &body).await;
            let items = reply.items;
            (json_response(reply), items)
        }
    };
    let per_item = state.faults.per_attribute_latency();
    if items > 0 && !per_item.is_zero() {
        let extra = per_item.saturating_mul(u32::try_from(items).unwrap_or(u32::MAX));
        tokio::time::sleep(extra.min(Duration::from_secs(60))).await;
    }
    state.record(
        &method,
        &path,
        response.status().as_u16(),
        &parts.headers,
        &body,
    );
    response
}

async fn dispatch(
    state: &FakeState,
    method: &Method,
    path: &str,
    headers: &HeaderMap,
    body: &Bytes,
) -> Reply {
    let url = CakeUrl::parse(path);
    let Some(endpoint) = Endpoint::route(method, &url) else {
        return Reply::exception(404, "Not Found", path); // #80
    };
    let Some(user) = authenticate(headers, &state.users) else {
        return Reply::exception(403, AUTH_FAILED, path); // #64–#67
    };
    let user = user.clone();
    // Without a JSON content type MISP does not parse the body (MISP issue #8841).
    let json_body = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.contains("json"));
    let parsed: Option<Value> =
        if endpoint.reads_body() && json_body && !body.iter().all(u8::is_ascii_whitespace) {
            match serde_json::from_slice::<Value>(body) {
                Ok(v) => Some(v),
                Err(_) => return Reply::exception(405, INVALID_JSON, path), // #68, #69
            }
        } else {
            None
        };
    if parsed.as_ref().is_some_and(has_four_byte) {
        // utf8mb3 columns: PDOException → 500 (BRIEF §4); nothing is stored.
        return Reply::internal(path);
    }
    let empty = Value::Object(Map::new());
    let body_value = parsed.as_ref().unwrap_or(&empty);
    let now = state.now();
    let opts = ViewOpts {
        include_deleted: url.named_flag("deleted"),
        metadata: url.named_flag("metadata"),
    };
    use Endpoint::*;
    if endpoint == EventsAdd {
        return events_add(state, &user, parsed.as_ref(), opts, now).await;
    }
    let mut store = state.lock_store();
    match endpoint {
        GetVersion => store.get_version(&user),
        UsersMe => store.users_me(&user),
        SharingGroupView => store.sharing_group_view(&user, url.arg(0), path),
        SharingGroupIndex => store.sharing_groups_index(&user),
        EventsView => store.events_view(&user, url.arg(0), opts, path),
        EventsAddDescription => Reply::ok(json!({
            "name": "/events/add API description",
            "description": "POST a MISP Event JSON to this API to create an Event. Contained objects can also be included (such as attributes, objects, tags, etc).",
            "mandatory_fields": ["info"],
            "optional_fields": ["threat_level_id", "analysis", "distribution", "sharing_group_id", "uuid", "published", "timestamp", "date", "Attribute", "Object", "Shadow_Attribute", "EventTag"],
            "url": "/events/add",
        })), // #79
        EventsEdit => match parsed.as_ref().and_then(|b| input::unwrap(b, &["Event"])) {
            Some(m) => store.events_edit(&user, url.arg(0), m, opts, path, now),
            None => Reply::exception(405, "No valid event data received.", path),
        },
        EventsPublish => store.events_publish(&user, url.arg(0), path, now),
        EventsDelete => store.events_delete(&user, url.arg(0), path),
        EventsRestSearch => match input::unwrap(body_value, &[]) {
            Some(m) => store.events_rest_search(&user, m),
            None => Reply::exception(
                400,
                "Either specify the search terms in the url, or POST a json with the filter parameters.",
                path,
            ),
        },
        EventsAddTag => {
            let (event, tag) = if url.args.is_empty() {
                // #27: body form {"request": {"Event": {"id", "tag"}}}
                let m = input::unwrap(body_value, &["Event"]);
                let field = |k: &str| m.and_then(|m| input::string(m, k)).unwrap_or_default();
                (field("id"), field("tag"))
            } else {
                (url.arg(0).to_owned(), url.arg(1).to_owned())
            };
            store.events_add_tag(&user, &event, &tag)
        }
        EventsIndex => store.events_index(&user),
        TagsIndex => store.tags_index(),
        AttributesRestSearch => match input::unwrap(body_value, &[]) {
            Some(m) => store.attributes_rest_search(&user, m),
            None => Reply::exception(400, "Invalid input.", path),
        },
        EventsRemoveTag => store.events_remove_tag(&user, url.arg(0), url.arg(1)),
        AttributesAddTag => {
            store.attributes_add_tag(&user, url.arg(0), url.arg(1), url.named_flag("local"))
        }
        TagsAttach | TagsRemove => match input::unwrap(body_value, &[]) {
            Some(m) => store.tags_attach(&user, m, endpoint == TagsAttach, path),
            None => Reply::exception(405, "Invalid input.", path),
        },
        AttributesAdd => store.attributes_add(&user, url.arg(0), body_value, path, now),
        AttributesEdit => store.attributes_edit(&user, url.arg(0), body_value, path, now),
        ObjectsAdd => {
            let template = url.args.get(1).map(String::as_str);
            store.objects_add(&user, url.arg(0), template, body_value, path, now)
        }
        ReportsAdd => store.event_reports_add(&user, url.arg(0), body_value, path, now),
        ReportsEdit => store.event_reports_edit(&user, url.arg(0), body_value, path, now),
        ReportsView => store.event_reports_view(&user, url.arg(0), path),
        ReportsDelete => {
            let hard = url.arg(1) == "1"
                || body_value
                    .get("hard")
                    .is_some_and(|h| h == 1 || h == true || h == "1");
            store.event_reports_delete(&user, url.arg(0), hard, path, now)
        }
        ReportsIndex => store.event_reports_index(&user, url.named("event_id")),
        ProposalsAdd => store.proposals_add(&user, url.arg(0), body_value, path, now),
        ProposalsEdit => store.proposals_edit(&user, url.arg(0), body_value, path, now),
        ProposalsDelete => store.proposals_delete(&user, url.arg(0), path, now),
        ProposalsIndex => {
            let include_deleted = url.named("deleted") != Some("0");
            store.proposals_index(&user, url.args.first().map(String::as_str), include_deleted)
        }
        // #57: this action answers with the absolute URL.
        ProposalsAccept => store.proposals_resolve(
            &user,
            url.arg(0),
            true,
            &format!("{}{path}", state.base_url),
            now,
        ),
        ProposalsDiscard => store.proposals_resolve(
            &user,
            url.arg(0),
            false,
            &format!("{}{path}", state.base_url),
            now,
        ),
        EventsAdd => Reply::internal(path),
    }
}

/// `/events/add`, atomic by default; with the race window armed, the existence check and the insert are
/// two critical sections (MISP's find-then-insert), so a concurrent twin gets the duplicate-key 500.
async fn events_add(
    state: &FakeState,
    user: &User,
    parsed: Option<&Value>,
    opts: ViewOpts,
    now: i64,
) -> Reply {
    let Some(body) = parsed
        .and_then(|b| input::unwrap(b, &["Event"]))
        .filter(|m| !m.is_empty())
    else {
        return Reply::exception(405, "No valid event data received.", "/events/add"); // #74
    };
    let race = state.faults.add_race_window();
    if let Some(window) = race {
        if let Err(r) = state
            .lock_store()
            .events_add_precheck(body, &state.base_url)
        {
            return r;
        }
        tokio::time::sleep(window).await;
    }
    state
        .lock_store()
        .events_add(user, body, opts, &state.base_url, race.is_some(), now)
}

impl FakeState {
    fn record(&self, method: &Method, path: &str, status: u16, headers: &HeaderMap, body: &Bytes) {
        let url = CakeUrl::parse(path);
        let endpoint = format!("{method} /{}/{}", url.controller, url.action);
        let mut log = self.lock_log();
        *log.counts.entry(endpoint).or_insert(0) += 1;
        if log.capacity == 0 {
            return;
        }
        let label = key_label(headers, &self.users);
        let headers: Vec<(String, String)> = headers
            .iter()
            .map(|(k, v)| {
                let value = if k == header::AUTHORIZATION || k.as_str() == "x-misp-auth" {
                    label.clone()
                } else {
                    String::from_utf8_lossy(v.as_bytes()).into_owned()
                };
                (k.as_str().to_owned(), value)
            })
            .collect();
        let cap = log.body_capacity;
        let body = String::from_utf8_lossy(&body[..body.len().min(cap)]).into_owned();
        if log.records.len() >= log.capacity {
            log.records.pop_front();
        }
        log.records.push_back(RequestRecord {
            method: method.to_string(),
            path: path.to_owned(),
            status,
            headers,
            body,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cake_urls() {
        let u = CakeUrl::parse("/events/view/5f0c2b1e-7a3d-4c1e-9b2a-0d1e2f3a4b5c/deleted:1");
        assert_eq!(u.controller, "events");
        assert_eq!(u.action, "view");
        assert_eq!(u.args, vec!["5f0c2b1e-7a3d-4c1e-9b2a-0d1e2f3a4b5c"]);
        assert_eq!(u.named("deleted"), Some("1"));
        let u = CakeUrl::parse("/eventReports/index/event_id:7");
        assert_eq!(u.controller, "event_reports");
        assert_eq!(u.named("event_id"), Some("7"));
        // #26: a tag name in the URL is a CakePHP named parameter, so no tag argument remains.
        let u = CakeUrl::parse("/events/addTag/1/tlp:amber");
        assert_eq!(u.args, vec!["1"]);
        let u = CakeUrl::parse("/shadowAttributes/index.json");
        assert_eq!(
            (u.controller.as_str(), u.action.as_str()),
            ("shadow_attributes", "index")
        );
        assert_eq!(percent_decode("a%20b%zz"), "a b%zz");
    }

    #[test]
    fn routing_is_method_aware() {
        let add = CakeUrl::parse("/events/add");
        assert_eq!(
            Endpoint::route(&Method::POST, &add),
            Some(Endpoint::EventsAdd)
        );
        assert_eq!(
            Endpoint::route(&Method::GET, &add),
            Some(Endpoint::EventsAddDescription)
        );
        assert_eq!(
            Endpoint::route(&Method::GET, &CakeUrl::parse("/no_such_controller/index")),
            None
        );
        assert_eq!(
            Endpoint::route(&Method::GET, &CakeUrl::parse("/events/view")),
            None
        );
    }

    #[test]
    fn authentication_follows_misp_key_rules() {
        let store = crate::fake_misp::model::Store::new(
            "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
            "BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB",
            Vec::new(),
        );
        let users = &store.users;
        let with = |pairs: &[(&'static str, &str)]| {
            let mut h = HeaderMap::new();
            for (k, v) in pairs {
                if let Ok(v) = HeaderValue::from_str(v) {
                    h.insert(*k, v);
                }
            }
            h
        };
        let org = |h: &HeaderMap| authenticate(h, users).map(|u| u.org_id);
        assert_eq!(
            org(&with(&[(
                "authorization",
                "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
            )])),
            Some(1)
        );
        // X-MISP-AUTH wins over Authorization.
        let both = with(&[
            ("authorization", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"),
            ("x-misp-auth", "BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB"),
        ]);
        assert_eq!(org(&both), Some(2));
        // A comma-separated list is tried in order; malformed entries never match.
        let list = with(&[(
            "authorization",
            "short, BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB",
        )]);
        assert_eq!(org(&list), Some(2));
        assert_eq!(org(&with(&[("authorization", "Basic dXNlcjpwYXNz")])), None);
        assert_eq!(
            org(&with(&[(
                "authorization",
                "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA!"
            )])),
            None
        );
        assert_eq!(org(&HeaderMap::new()), None);
        assert_eq!(key_label(&both, users), "<org 2 key>");
        assert_eq!(
            key_label(&with(&[("authorization", "nope")]), users),
            "<bad key>"
        );
        assert_eq!(key_label(&HeaderMap::new(), users), "");
    }
}
