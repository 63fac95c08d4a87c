//! MISP 2.5.1's behaviour, endpoint by endpoint, as recorded in `shared/reference/misp/transcripts/`.
//!
//! Every rule cites the transcript (`#NN`) it reproduces. Functions take the store, the authenticated user
//! and the already-parsed request, and return a [`Reply`]; no I/O happens here, so the HTTP layer can hold
//! the store's lock for exactly one call.

use serde_json::{Map, Value, json};

use super::input::{self, bad_int, flag, int, list, nullable, string, valid_uuid};
use super::model::{Attr, Event, Obj, Proposal, Report, Store, TagRef, User};
use super::render::{self, ViewOpts};
use super::types;

/// An HTTP answer produced by a rule.
#[derive(Debug, Clone, PartialEq)]
pub struct Reply {
    pub status: u16,
    pub body: Value,
    /// `Location` header (duplicate event on add, #3).
    pub location: Option<String>,
    /// `X-Result-Count` header (restSearch, #58).
    pub result_count: Option<usize>,
    /// Attributes in the request body (for the per-attribute latency model).
    pub items: usize,
}

impl Reply {
    pub fn ok(body: Value) -> Reply {
        Reply {
            status: 200,
            body,
            location: None,
            result_count: None,
            items: 0,
        }
    }

    /// CakePHP's exception body `{"name","message","url"}` (#6, #41, #64, #80).
    pub fn exception(status: u16, message: &str, url: &str) -> Reply {
        Reply {
            status,
            body: json!({"name": message, "message": message, "url": url}),
            ..Reply::ok(Value::Null)
        }
    }

    /// `RestResponseComponent::saveFailResponse`: always 403 (#9, #23, #73).
    pub fn save_fail(name: &str, url: &str, errors: Value, id: Option<String>) -> Reply {
        let mut body =
            json!({"saved": false, "name": name, "message": name, "url": url, "errors": errors});
        if let (Some(id), Value::Object(m)) = (id, &mut body) {
            m.insert("id".to_owned(), Value::String(id));
        }
        Reply {
            status: 403,
            body,
            ..Reply::ok(Value::Null)
        }
    }

    /// `saveSuccessResponse` (#85, #87, #107).
    pub fn save_success(message: &str, url: &str, id: Option<String>) -> Reply {
        let mut body = json!({"saved": true, "success": true, "name": message, "message": message, "url": url});
        if let (Some(id), Value::Object(m)) = (id, &mut body) {
            m.insert("id".to_owned(), Value::String(id));
        }
        Reply::ok(body)
    }

    /// An uncaught PHP exception with `debug=0` (#46; also 4-byte text and duplicate-key races).
    pub fn internal(url: &str) -> Reply {
        Reply::exception(500, "An Internal Error Has Occurred.", url)
    }
}

const NOT_AUTHORISED: &str = "You are not authorised to do that.";
const NO_PERMISSION: &str = "You do not have permission to do that.";
const NOT_NEWER: &str =
    "Event could not be saved: Event in the request not newer than the local copy.";

fn today() -> String {
    chrono::Utc::now().format("%Y-%m-%d").to_string()
}

fn random_uuid() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// Distribution field: 0–4 for events, 0–5 for attributes/objects/reports.
fn distribution(m: &Map<String, Value>, max: i64) -> Result<Option<u8>, ()> {
    match int(m, "distribution") {
        None if bad_int(m, "distribution") => Err(()),
        None => Ok(None),
        Some(d) if (0..=max).contains(&d) => Ok(u8::try_from(d).ok()),
        Some(_) => Err(()),
    }
}

/// Validate and normalise an attribute value for its type (the subset of MISP's
/// `validateAttributeValue` that matters for connectors: IPs, hashes, empties, size).
fn validate_value(type_: &str, value: &str) -> Result<String, String> {
    let v = value.trim();
    if v.is_empty() {
        return Err("valueNotEmpty".to_owned());
    }
    if v.len() > 65535 {
        return Err("The entered string is too long and would get truncated. Please consider adding the data as an attachment instead".to_owned());
    }
    let hex_len = match type_ {
        "md5" => Some(32),
        "sha1" => Some(40),
        "sha224" | "sha512/224" => Some(56),
        "sha256" | "sha512/256" => Some(64),
        "sha384" => Some(96),
        "sha512" => Some(128),
        _ => None,
    };
    if let Some(n) = hex_len {
        if v.len() != n || !v.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(format!(
                "Checksum has an invalid length or format (expected: {n} hexadecimal characters). Please double check the value or select type \"other\"."
            ));
        }
        return Ok(v.to_ascii_lowercase());
    }
    if matches!(type_, "ip-src" | "ip-dst") {
        // #72: "IP address has an invalid format."
        let (ip, prefix) = v.split_once('/').map_or((v, None), |(a, p)| (a, Some(p)));
        let ip_ok = ip.parse::<std::net::IpAddr>().ok();
        let prefix_ok = match (ip_ok, prefix) {
            (Some(_), None) => true,
            (Some(std::net::IpAddr::V4(_)), Some(p)) => p.parse::<u8>().is_ok_and(|p| p <= 32),
            (Some(std::net::IpAddr::V6(_)), Some(p)) => p.parse::<u8>().is_ok_and(|p| p <= 128),
            (None, _) => false,
        };
        if !prefix_ok {
            return Err("IP address has an invalid format.".to_owned());
        }
    }
    Ok(v.to_owned())
}

/// Why an attribute in a payload could not be stored.
#[derive(Debug)]
enum AttrError {
    /// Field → message, as in MISP's validation errors (`{"type":["Invalid type."]}`, #71).
    Invalid(&'static str, String),
}

impl AttrError {
    fn errors(&self) -> Value {
        let AttrError::Invalid(field, msg) = self;
        json!({ *field: [msg] })
    }
}

fn tags_in(m: &Map<String, Value>) -> Vec<(String, bool, bool)> {
    list(m, "Tag")
        .into_iter()
        .filter_map(|t| {
            let name = string(t, "name")?;
            let name = name.trim().to_owned();
            (!name.is_empty()).then(|| {
                (
                    name,
                    flag(t, "local").unwrap_or(false),
                    flag(t, "deleted").unwrap_or(false),
                )
            })
        })
        .collect()
}

/// Attach (or, with `deleted: true`, detach) tags by name; existing tags stay (#31: the Tag list is merged).
fn merge_tags(store: &mut Store, refs: &mut Vec<TagRef>, wanted: Vec<(String, bool, bool)>) {
    for (name, local, deleted) in wanted {
        if deleted {
            if let Some(id) = store.tag_by_name.get(&name).copied() {
                refs.retain(|r| r.tag_id != id);
            }
            continue;
        }
        let id = store.tag_id_for(&name);
        if !refs.iter().any(|r| r.tag_id == id) {
            refs.push(TagRef { tag_id: id, local });
        }
    }
}

impl Store {
    fn user_event(&self, user: &User, id_or_uuid: &str) -> Option<u64> {
        let id = self.find_event(id_or_uuid)?;
        let e = self.events.get(&id)?;
        self.can_see(user, e).then_some(id)
    }

    /// Build a new attribute row from a payload (validation as in MISP's `Attribute::$validate`).
    fn new_attr(
        &self,
        m: &Map<String, Value>,
        event_id: u64,
        object_id: u64,
        now: i64,
    ) -> Result<Attr, AttrError> {
        let type_ = string(m, "type").unwrap_or_default();
        let Some(entry) = types::lookup(&type_) else {
            return Err(AttrError::Invalid("type", "Invalid type.".to_owned()));
        };
        let category = string(m, "category").unwrap_or_else(|| entry.1.to_owned());
        if !types::category_allowed(&type_, &category) {
            return Err(AttrError::Invalid(
                "category",
                "Options depend on the selected type.".to_owned(),
            ));
        }
        let value = validate_value(&type_, &string(m, "value").unwrap_or_default())
            .map_err(|e| AttrError::Invalid("value", e))?;
        let uuid = match string(m, "uuid") {
            Some(u) if !valid_uuid(&u) => {
                return Err(AttrError::Invalid(
                    "uuid",
                    "Please provide a valid RFC 4122 UUID".to_owned(),
                ));
            }
            Some(u) => u.to_ascii_lowercase(),
            None => random_uuid(),
        };
        if self.attr_by_uuid.contains_key(&uuid) {
            return Err(AttrError::Invalid(
                "uuid",
                "The UUID provided is not unique".to_owned(),
            ));
        }
        let dist = distribution(m, 5)
            .map_err(|()| {
                AttrError::Invalid("distribution", "Options: 0, 1, 2, 3, 4, 5".to_owned())
            })?
            .unwrap_or(5);
        Ok(Attr {
            id: 0,
            event_id,
            object_id,
            object_relation: if object_id == 0 {
                None
            } else {
                string(m, "object_relation")
            },
            category,
            type_,
            value,
            to_ids: flag(m, "to_ids").unwrap_or(entry.2),
            uuid,
            timestamp: int(m, "timestamp").unwrap_or(now),
            distribution: dist,
            sharing_group_id: if dist == 4 {
                int(m, "sharing_group_id").unwrap_or(0).max(0) as u64
            } else {
                0
            },
            comment: string(m, "comment").unwrap_or_default(),
            deleted: flag(m, "deleted").unwrap_or(false),
            disable_correlation: flag(m, "disable_correlation").unwrap_or(false),
            first_seen: nullable(m, "first_seen").flatten(),
            last_seen: nullable(m, "last_seen").flatten(),
            tags: Vec::new(),
        })
    }

    fn insert_attr(&mut self, mut a: Attr, tags: Vec<(String, bool, bool)>) -> u64 {
        let id = self.next_attr;
        self.next_attr += 1;
        a.id = id;
        let mut refs = Vec::new();
        merge_tags(self, &mut refs, tags);
        a.tags = refs;
        self.attr_by_uuid.insert(a.uuid.clone(), id);
        self.attrs.insert(id, a);
        id
    }

    /// A live standalone attribute of `event` with the same type, category and value (#24).
    fn duplicate_value(&self, event: &Event, a: &Attr, except: u64) -> bool {
        event.attributes.iter().any(|id| {
            *id != except
                && self.attrs.get(id).is_some_and(|b| {
                    !b.deleted
                        && b.type_ == a.type_
                        && b.category == a.category
                        && b.value == a.value
                })
        })
    }

    /// Update an existing attribute from a payload (`MispAttribute::editAttribute`): an older or equal
    /// timestamp is silently ignored (#16, #19), no timestamp means now (#17), absent fields are kept.
    /// Returns whether anything was written.
    fn edit_attr(
        &mut self,
        id: u64,
        m: &Map<String, Value>,
        standalone_in: Option<u64>,
        now: i64,
    ) -> bool {
        let Some(old) = self.attrs.get(&id).cloned() else {
            return false;
        };
        if let Some(ts) = int(m, "timestamp")
            && ts <= old.timestamp
        {
            return false;
        }
        let mut a = old.clone();
        if let Some(t) = string(m, "type") {
            if types::lookup(&t).is_none() {
                return false;
            }
            a.type_ = t;
        }
        if let Some(c) = string(m, "category") {
            a.category = c;
        }
        if !types::category_allowed(&a.type_, &a.category) {
            return false;
        }
        if let Some(v) = string(m, "value") {
            match validate_value(&a.type_, &v) {
                Ok(v) => a.value = v,
                Err(_) => return false,
            }
        }
        if let Some(c) = string(m, "comment") {
            a.comment = c;
        }
        if let Some(t) = flag(m, "to_ids") {
            a.to_ids = t;
        }
        match distribution(m, 5) {
            Ok(Some(d)) => a.distribution = d,
            Ok(None) => {}
            Err(()) => return false,
        }
        if let Some(d) = flag(m, "deleted") {
            a.deleted = d;
        }
        if let Some(d) = flag(m, "disable_correlation") {
            a.disable_correlation = d;
        }
        if let Some(f) = nullable(m, "first_seen") {
            a.first_seen = f;
        }
        if let Some(l) = nullable(m, "last_seen") {
            a.last_seen = l;
        }
        if let Some(r) = string(m, "object_relation")
            && a.object_id != 0
        {
            a.object_relation = Some(r);
        }
        // Value uniqueness among the event's live standalone attributes (#24 semantics on edit: dropped).
        if let Some(eid) = standalone_in
            && !a.deleted
            && let Some(ev) = self.events.get(&eid)
            && self.duplicate_value(ev, &a, id)
        {
            return false;
        }
        a.timestamp = int(m, "timestamp").unwrap_or(now);
        let mut refs = std::mem::take(&mut a.tags);
        merge_tags(self, &mut refs, tags_in(m));
        a.tags = refs;
        self.attrs.insert(id, a);
        true
    }

    /// Merge one attribute payload into `event_id` (standalone when `object_id == 0`). Attributes whose uuid
    /// belongs to another event are dropped silently (#20); unknown types are dropped (#70).
    fn merge_attr(
        &mut self,
        event_id: u64,
        object_id: u64,
        m: &Map<String, Value>,
        now: i64,
    ) -> Option<u64> {
        if let Some(u) = string(m, "uuid")
            && let Some(existing) = self.attr_by_uuid.get(&u.to_ascii_lowercase()).copied()
        {
            let same_event = self
                .attrs
                .get(&existing)
                .is_some_and(|a| a.event_id == event_id);
            if !same_event {
                return None;
            }
            let standalone = self.attrs.get(&existing).is_some_and(|a| a.object_id == 0);
            self.edit_attr(existing, m, standalone.then_some(event_id), now);
            return Some(existing);
        }
        let a = self.new_attr(m, event_id, object_id, now).ok()?;
        if object_id == 0 && !a.deleted {
            let ev = self.events.get(&event_id)?;
            if self.duplicate_value(ev, &a, 0) {
                return None;
            }
        }
        let id = self.insert_attr(a, tags_in(m));
        if object_id == 0 {
            self.events.get_mut(&event_id)?.attributes.push(id);
        } else {
            self.objects.get_mut(&object_id)?.attributes.push(id);
        }
        Some(id)
    }

    /// Merge one object payload (`MispObject::editObject`): matched by uuid, a uuid of another event is
    /// skipped, an older or equal timestamp skips the whole object, `deleted: true` soft-deletes it with
    /// its attributes.
    fn merge_object(&mut self, event_id: u64, m: &Map<String, Value>, now: i64) {
        let uuid = string(m, "uuid").map(|u| u.to_ascii_lowercase());
        if let Some(u) = &uuid
            && let Some(existing) = self.object_by_uuid.get(u).copied()
        {
            let Some(mut o) = self.objects.get(&existing).cloned() else {
                return;
            };
            if o.event_id != event_id {
                return;
            }
            if let Some(ts) = int(m, "timestamp")
                && ts <= o.timestamp
            {
                return;
            }
            if let Some(v) = string(m, "comment") {
                o.comment = v;
            }
            if let Ok(Some(d)) = distribution(m, 5) {
                o.distribution = d;
            }
            if let Some(f) = nullable(m, "first_seen") {
                o.first_seen = f;
            }
            if let Some(l) = nullable(m, "last_seen") {
                o.last_seen = l;
            }
            let deleted = flag(m, "deleted").unwrap_or(o.deleted);
            o.deleted = deleted;
            o.timestamp = int(m, "timestamp").unwrap_or(now);
            let attrs = o.attributes.clone();
            self.objects.insert(existing, o);
            for a in list(m, "Attribute") {
                self.merge_attr(event_id, existing, a, now);
            }
            if deleted {
                for id in attrs {
                    if let Some(a) = self.attrs.get_mut(&id) {
                        a.deleted = true;
                    }
                }
            }
            return;
        }
        if uuid.as_deref().is_some_and(|u| !valid_uuid(u)) {
            return;
        }
        let name = string(m, "name").unwrap_or_default();
        if name.is_empty() {
            return;
        }
        let id = self.next_object;
        self.next_object += 1;
        let uuid = uuid.unwrap_or_else(random_uuid);
        let o = Obj {
            id,
            event_id,
            uuid: uuid.clone(),
            meta_category: string(m, "meta-category").unwrap_or_default(),
            description: string(m, "description").unwrap_or_else(|| name.clone()),
            name,
            template_uuid: string(m, "template_uuid").unwrap_or_default(),
            template_version: string(m, "template_version").unwrap_or_else(|| "1".to_owned()),
            timestamp: int(m, "timestamp").unwrap_or(now),
            distribution: distribution(m, 5).ok().flatten().unwrap_or(5),
            sharing_group_id: 0,
            comment: string(m, "comment").unwrap_or_default(),
            deleted: flag(m, "deleted").unwrap_or(false),
            first_seen: nullable(m, "first_seen").flatten(),
            last_seen: nullable(m, "last_seen").flatten(),
            attributes: Vec::new(),
        };
        self.objects.insert(id, o);
        self.object_by_uuid.insert(uuid, id);
        if let Some(e) = self.events.get_mut(&event_id) {
            e.objects.push(id);
        }
        for a in list(m, "Attribute") {
            self.merge_attr(event_id, id, a, now);
        }
    }

    /// Merge one embedded Event Report (`Event::_edit` → `editReport(fromPull)`): matched by uuid, updated
    /// only when its timestamp is newer or absent; a new uuid is created (name required, #101).
    fn merge_report(&mut self, event_id: u64, m: &Map<String, Value>, now: i64) {
        let uuid = string(m, "uuid").map(|u| u.to_ascii_lowercase());
        if let Some(u) = &uuid
            && let Some(existing) = self.report_by_uuid.get(u).copied()
        {
            let Some(r) = self.reports.get_mut(&existing) else {
                return;
            };
            if r.event_id != event_id {
                return;
            }
            if let Some(ts) = int(m, "timestamp")
                && ts <= r.timestamp
            {
                return;
            }
            if let Some(n) = string(m, "name")
                && !n.is_empty()
            {
                r.name = n;
            }
            if let Some(c) = string(m, "content") {
                r.content = c;
            }
            if let Ok(Some(d)) = distribution(m, 5) {
                r.distribution = d;
            }
            if let Some(d) = flag(m, "deleted") {
                r.deleted = d;
            }
            r.timestamp = int(m, "timestamp").unwrap_or(now);
            return;
        }
        if uuid.as_deref().is_some_and(|u| !valid_uuid(u)) {
            return;
        }
        let name = string(m, "name").unwrap_or_default();
        if name.is_empty() {
            return;
        }
        self.create_report(event_id, uuid, name, m, now);
    }

    fn create_report(
        &mut self,
        event_id: u64,
        uuid: Option<String>,
        name: String,
        m: &Map<String, Value>,
        now: i64,
    ) -> u64 {
        let id = self.next_report;
        self.next_report += 1;
        let uuid = uuid.unwrap_or_else(random_uuid);
        let r = Report {
            id,
            uuid: uuid.clone(),
            event_id,
            name,
            content: string(m, "content").unwrap_or_default(),
            // #100: a report without distribution gets 0.
            distribution: distribution(m, 5).ok().flatten().unwrap_or(0),
            sharing_group_id: 0,
            timestamp: int(m, "timestamp").unwrap_or(now),
            deleted: flag(m, "deleted").unwrap_or(false),
        };
        self.reports.insert(id, r);
        self.report_by_uuid.insert(uuid, id);
        if let Some(e) = self.events.get_mut(&event_id) {
            e.reports.push(id);
        }
        id
    }

    /// Any direct change (attribute/report add, proposal accept) bumps the event timestamp and unpublishes
    /// it (`Event::unpublishEvent`, notes/misp.md §2.2; seen in #40 after #33).
    fn touch(&mut self, event_id: u64, now: i64) {
        if let Some(e) = self.events.get_mut(&event_id) {
            e.timestamp = now;
            e.published = false;
        }
    }

    // ----------------------------------------------------------------------------------------------
    // servers / users / sharing groups

    /// `GET /servers/getVersion` (#1).
    pub fn get_version(&self, user: &User) -> Reply {
        Reply::ok(json!({
            "version": "2.5.1", "pymisp_recommended_version": "2.5.1", "perm_sync": user.site_admin,
            "perm_sighting": true, "perm_galaxy_editor": user.site_admin, "perm_analyst_data": true,
            "uuid": if user.site_admin { "bcfdcdb7-a2f3-4470-a76f-4ea6b14608f5" } else { "-" },
            "request_encoding": ["gzip"], "filter_sightings": true,
        }))
    }

    /// `GET /users/view/me` (`UsersController::view`): the user, its role and organisation.
    pub fn users_me(&self, user: &User) -> Reply {
        let org = self.org(user.org_id).cloned();
        let (name, uuid) = org.map(|o| (o.name, o.uuid)).unwrap_or_default();
        Reply::ok(json!({
            "User": {"id": user.id.to_string(), "org_id": user.org_id.to_string(), "email": user.email,
                     "role_id": if user.site_admin { "1" } else { "3" }, "disabled": false, "autoalert": false},
            "Role": {"id": if user.site_admin { "1" } else { "3" }, "name": if user.site_admin { "admin" } else { "User" },
                     "perm_add": true, "perm_modify": true, "perm_modify_org": user.site_admin,
                     "perm_publish": user.perm_publish, "perm_sync": user.site_admin, "perm_admin": user.site_admin,
                     "perm_site_admin": user.site_admin, "perm_tagger": true, "perm_tag_editor": user.site_admin,
                     "perm_sighting": true},
            "Organisation": {"id": user.org_id.to_string(), "name": name, "uuid": uuid, "local": true},
        }))
    }

    /// `GET /sharing_groups/view/{id}` (#84); unknown or not authorised → 404.
    pub fn sharing_group_view(&self, user: &User, id: &str, url: &str) -> Reply {
        match id.parse::<u64>() {
            Ok(id) if self.sharing_group_usable(user, id) => {
                match render::sharing_group(self, id) {
                    Some(v) => Reply::ok(v),
                    None => Reply::exception(404, "Invalid sharing group.", url),
                }
            }
            _ => Reply::exception(404, "Invalid sharing group.", url),
        }
    }

    /// `GET /sharing_groups` (notes/misp.md §1.6): `{"response": [...]}` of the groups the user may use.
    pub fn sharing_groups_index(&self, user: &User) -> Reply {
        let items: Vec<Value> = self
            .sharing_groups
            .iter()
            .filter(|g| self.sharing_group_usable(user, g.id))
            .filter_map(|g| render::sharing_group(self, g.id))
            .collect();
        Reply::ok(json!({ "response": items }))
    }

    // ----------------------------------------------------------------------------------------------
    // events

    /// `GET /events/view/{id|uuid}` (#4, #5); unknown or invisible → 404 "Invalid event" (#6, #88).
    pub fn events_view(&self, user: &User, id: &str, opts: ViewOpts, url: &str) -> Reply {
        match self
            .user_event(user, id)
            .and_then(|id| self.events.get(&id))
        {
            Some(e) => Reply::ok(render::event(self, e, user, opts)),
            None => Reply::exception(404, "Invalid event", url),
        }
    }

    /// First half of `/events/add` (`Event::_add` order, notes §2.1): blocklist (#89), then the
    /// existence check on the raw uuid → 404 with `Location` (#3, #42 cross-org).
    pub fn events_add_precheck(
        &self,
        body: &Map<String, Value>,
        base_url: &str,
    ) -> Result<(), Reply> {
        let Some(raw) = string(body, "uuid") else {
            return Ok(());
        };
        if self.blocklist.contains(&raw.to_ascii_lowercase()) {
            return Err(Reply::exception(
                403,
                "Event blocked by event blocklist.",
                "/events/add",
            ));
        }
        if flag(body, "published").unwrap_or(false)
            && list(body, "Attribute").is_empty()
            && list(body, "Object").is_empty()
            && list(body, "EventReport").is_empty()
        {
            return Err(Reply::save_fail(
                "Could not add Event",
                "/events/add",
                json!("Received a published event that was empty. Event add process blocked."),
                None,
            ));
        }
        // The raw (case-sensitive) uuid is compared: an upper-case uuid passes here and fails later.
        if let Some(id) = self.event_by_uuid.get(&raw) {
            let msg = "Event already exists, if you would like to edit it, use the url in the location header.";
            let mut r = Reply::exception(404, msg, "/events/add");
            r.location = Some(format!("{base_url}/events/{id}"));
            return Err(r);
        }
        Ok(())
    }

    /// `POST /events/add` (#2, #20, #70, #73, #75–#77, #83, #90). With `race_lost`, an event that appeared
    /// since the precheck surfaces as MISP's duplicate-key 500 instead of the 404.
    pub fn events_add(
        &mut self,
        user: &User,
        body: &Map<String, Value>,
        opts: ViewOpts,
        base_url: &str,
        race_mode: bool,
        now: i64,
    ) -> Reply {
        if let Err(r) = self.events_add_precheck(body, base_url) {
            if race_mode && r.status == 404 {
                return Reply::internal("/events/add");
            }
            return r;
        }
        let fail = |errors: Value| {
            Reply::save_fail(
                "Could not add Event",
                "/events/add",
                json!({ "Event": errors }),
                None,
            )
        };
        let info = string(body, "info").unwrap_or_default();
        if info.trim().is_empty() {
            return fail(json!({"info": ["valueNotEmpty"]})); // #73
        }
        let uuid = match string(body, "uuid") {
            Some(u) if !valid_uuid(&u) => {
                return fail(json!({"uuid": ["Please provide a valid RFC 4122 UUID"]}));
            } // #77
            Some(u) => u.to_ascii_lowercase(),
            None => random_uuid(), // #75
        };
        if self.event_by_uuid.contains_key(&uuid) {
            // Upper-case duplicate: passes the raw existence check, fails `isUnique` (notes §2.1).
            return fail(json!({"uuid": ["The UUID provided is not unique"]}));
        }
        let Ok(dist) = distribution(body, 4) else {
            return fail(
                json!({"distribution": ["Options: Your organisation only, This community only, Connected communities, All communities, Sharing group"]}),
            );
        };
        let dist = dist.unwrap_or(0);
        let mut sg = 0;
        if dist == 4 {
            let wanted = int(body, "sharing_group_id").unwrap_or(0).max(0) as u64;
            if !self.sharing_group_usable(user, wanted) {
                return Reply::exception(
                    405,
                    "Invalid Sharing Group or not authorised.",
                    "/events/add",
                );
            }
            sg = wanted;
        }
        let threat = int(body, "threat_level_id").unwrap_or(4);
        if !(1..=4).contains(&threat) {
            return fail(json!({"threat_level_id": ["Options : 1, 2, 3, 4"]}));
        }
        let analysis = int(body, "analysis").unwrap_or(0);
        if !(0..=2).contains(&analysis) {
            return fail(json!({"analysis": ["Options : 0, 1, 2"]}));
        }
        let published = flag(body, "published").unwrap_or(false) && user.perm_publish;
        let id = self.next_event;
        self.next_event += 1;
        let event = Event {
            id,
            uuid: uuid.clone(),
            orgc_id: user.org_id,
            org_id: user.org_id,
            creator_email: user.email.clone(),
            date: string(body, "date").unwrap_or_else(today),
            threat_level_id: threat as u8,
            info,
            published,
            analysis: analysis as u8,
            timestamp: int(body, "timestamp").unwrap_or(now), // #2: a client timestamp is kept
            distribution: dist,
            sharing_group_id: sg,
            publish_timestamp: if published { now } else { 0 },
            disable_correlation: flag(body, "disable_correlation").unwrap_or(false),
            extends_uuid: string(body, "extends_uuid").unwrap_or_default(),
            attributes: Vec::new(),
            objects: Vec::new(),
            reports: Vec::new(),
            tags: Vec::new(),
        };
        self.events.insert(id, event);
        self.event_by_uuid.insert(uuid, id);
        let mut refs = Vec::new();
        merge_tags(self, &mut refs, tags_in(body));
        if let Some(e) = self.events.get_mut(&id) {
            e.tags = refs;
        }
        let attrs = list(body, "Attribute");
        let mut items = attrs.len();
        for a in attrs {
            // #20 (uuid used elsewhere) and #70 (unknown type): dropped, the event is still created.
            self.merge_attr(id, 0, a, now);
        }
        for o in list(body, "Object") {
            items += list(o, "Attribute").len();
            self.merge_object(id, o, now);
        }
        for r in list(body, "EventReport") {
            self.merge_report(id, r, now);
        }
        let mut reply = match self.events.get(&id) {
            Some(e) => Reply::ok(render::event(self, e, user, opts)),
            None => Reply::internal("/events/add"),
        };
        reply.items = items;
        reply
    }

    /// `POST /events/edit/{id|uuid}` (#7, #9, #11, #12, #14, #16–#19, #31, #41, #78, #97).
    pub fn events_edit(
        &mut self,
        user: &User,
        target: &str,
        body: &Map<String, Value>,
        opts: ViewOpts,
        url: &str,
        now: i64,
    ) -> Reply {
        let Some(id) = self.user_event(user, target) else {
            return Reply::exception(404, "Invalid event", url); // #78
        };
        let Some(existing) = self.events.get(&id) else {
            return Reply::exception(404, "Invalid event", url);
        };
        if !self.can_modify(user, existing) {
            return Reply::exception(403, NOT_AUTHORISED, url); // #41
        }
        let fail = |errors: Value| {
            Reply::save_fail(
                "Could not edit Event",
                &format!("/events/edit/{id}"),
                errors,
                Some(id.to_string()),
            )
        };
        let ts = int(body, "timestamp");
        if let Some(ts) = ts
            && ts <= existing.timestamp
        {
            return fail(json!(NOT_NEWER)); // #9 (older), #11 (equal)
        }
        let mut e = existing.clone();
        if let Some(info) = string(body, "info") {
            if info.trim().is_empty() {
                return fail(json!({"Event": {"info": ["valueNotEmpty"]}}));
            }
            e.info = info;
        }
        match distribution(body, 4) {
            Ok(Some(d)) => e.distribution = d,
            Ok(None) => {}
            Err(()) => return fail(json!({"Event": {"distribution": ["Options: 0, 1, 2, 3, 4"]}})),
        }
        if let Some(sg) = int(body, "sharing_group_id") {
            e.sharing_group_id = sg.max(0) as u64;
        }
        if e.distribution == 4 {
            if e.sharing_group_id == 0 {
                return fail(json!(
                    "Sharing group chosen as the distribution level, but no sharing group specified. Make sure that the event includes a valid sharing_group_id field."
                ));
            }
            if !self.sharing_group_usable(user, e.sharing_group_id) {
                return fail(json!(
                    "Invalid sharing group or you don't have access to that sharing group."
                ));
            }
        } else {
            e.sharing_group_id = 0;
        }
        if let Some(t) = int(body, "threat_level_id") {
            if !(1..=4).contains(&t) {
                return fail(json!({"Event": {"threat_level_id": ["Options : 1, 2, 3, 4"]}}));
            }
            e.threat_level_id = t as u8;
        }
        if let Some(a) = int(body, "analysis") {
            if !(0..=2).contains(&a) {
                return fail(json!({"Event": {"analysis": ["Options : 0, 1, 2"]}}));
            }
            e.analysis = a as u8;
        }
        if let Some(d) = string(body, "date") {
            e.date = d;
        }
        if let Some(x) = string(body, "extends_uuid") {
            e.extends_uuid = x;
        }
        if let Some(dc) = flag(body, "disable_correlation") {
            e.disable_correlation = dc;
        }
        // `published` absent ⇒ unpublished (Event::_edit l.4173; BRIEF §5).
        let published = flag(body, "published").unwrap_or(false) && user.perm_publish;
        if published && !e.published {
            e.publish_timestamp = now;
        }
        e.published = published;
        e.timestamp = ts.unwrap_or(now); // #7 keeps the request ts, #12 sets now
        let mut refs = std::mem::take(&mut e.tags);
        merge_tags(self, &mut refs, tags_in(body)); // #31: listed tags are added, others stay
        e.tags = refs;
        self.events.insert(id, e);
        let attrs = list(body, "Attribute");
        let mut items = attrs.len();
        for a in attrs {
            self.merge_attr(id, 0, a, now);
        }
        for o in list(body, "Object") {
            items += list(o, "Attribute").len();
            self.merge_object(id, o, now);
        }
        for r in list(body, "EventReport") {
            self.merge_report(id, r, now);
        }
        let mut reply = match self.events.get(&id) {
            Some(e) => Reply::ok(render::event(self, e, user, opts)),
            None => Reply::internal(url),
        };
        reply.items = items;
        reply
    }

    /// `POST /events/publish/{id|uuid}` (#85).
    pub fn events_publish(&mut self, user: &User, target: &str, url: &str, now: i64) -> Reply {
        let Some(id) = self.user_event(user, target) else {
            return Reply::exception(404, "Invalid event.", url);
        };
        let allowed = self
            .events
            .get(&id)
            .is_some_and(|e| self.can_modify(user, e))
            && user.perm_publish;
        if !allowed {
            return Reply::exception(405, "You do not have the permission to do that.", url);
        }
        if let Some(e) = self.events.get_mut(&id) {
            e.published = true;
            e.publish_timestamp = now;
        }
        Reply::save_success("Job queued", url, Some(id.to_string()))
    }

    /// `POST /events/delete/{id|uuid}` (#87): removes the event with everything in it and blocklists its
    /// uuid (#89).
    pub fn events_delete(&mut self, user: &User, target: &str, url: &str) -> Reply {
        let Some(id) = self.user_event(user, target) else {
            return Reply::exception(404, "Invalid event", url);
        };
        if !self
            .events
            .get(&id)
            .is_some_and(|e| self.can_modify(user, e))
        {
            return Reply::exception(403, NOT_AUTHORISED, url);
        }
        let Some(e) = self.events.remove(&id) else {
            return Reply::exception(404, "Invalid event", url);
        };
        self.event_by_uuid.remove(&e.uuid);
        self.blocklist.insert(e.uuid.clone());
        let mut attr_ids = e.attributes.clone();
        for oid in &e.objects {
            if let Some(o) = self.objects.remove(oid) {
                self.object_by_uuid.remove(&o.uuid);
                attr_ids.extend(o.attributes);
            }
        }
        for aid in attr_ids {
            if let Some(a) = self.attrs.remove(&aid) {
                self.attr_by_uuid.remove(&a.uuid);
            }
        }
        for rid in &e.reports {
            if let Some(r) = self.reports.remove(rid) {
                self.report_by_uuid.remove(&r.uuid);
            }
        }
        self.proposals.retain(|_, p| p.event_id != id);
        Reply::save_success("Event deleted.", url, Some(target.to_owned()))
    }

    /// `POST /events/restSearch` with `uuid` / `eventid` (#58–#61, #118): matches the event uuid or any
    /// attribute uuid inside it; unknown → `{"response": []}` (#60).
    pub fn events_rest_search(&self, user: &User, body: &Map<String, Value>) -> Reply {
        let wanted = |key: &str| -> Vec<String> {
            match body.get(key) {
                Some(Value::Array(v)) => v
                    .iter()
                    .filter_map(|x| match x {
                        Value::String(s) => Some(s.to_ascii_lowercase()),
                        Value::Number(n) => Some(n.to_string()),
                        _ => None,
                    })
                    .collect(),
                Some(Value::String(s)) => vec![s.to_ascii_lowercase()],
                Some(Value::Number(n)) => vec![n.to_string()],
                _ => Vec::new(),
            }
        };
        let uuids = wanted("uuid");
        let ids = wanted("eventid");
        let metadata = flag(body, "metadata").unwrap_or(false);
        let mut hits: Vec<u64> = Vec::new();
        for u in &uuids {
            if let Some(id) = self.event_by_uuid.get(u) {
                hits.push(*id);
            } else if let Some(a) = self.attr_by_uuid.get(u).and_then(|a| self.attrs.get(a)) {
                hits.push(a.event_id);
            }
        }
        for i in &ids {
            if let Some(id) = self.find_event(i) {
                hits.push(id);
            }
        }
        if uuids.is_empty() && ids.is_empty() {
            hits.extend(self.events.keys().copied());
        }
        hits.sort_unstable();
        hits.dedup();
        let opts = ViewOpts {
            include_deleted: false,
            metadata,
        };
        let items: Vec<Value> = hits
            .iter()
            .filter_map(|id| self.events.get(id))
            .filter(|e| self.can_see(user, e))
            .map(|e| render::event(self, e, user, opts))
            .collect();
        let mut r = Reply::ok(json!({ "response": items }));
        r.result_count = Some(hits.len().min(items_len(&r.body)));
        r
    }

    /// `POST /events/addTag/{event}/{tag id}` (#26, #28, #53): always 200; errors in `{"saved":false}`.
    /// A tag *name* in the URL is refused as "Invalid Tag." exactly like the recorded MISP (#26).
    pub fn events_add_tag(&mut self, user: &User, target: &str, tag: &str) -> Reply {
        let fail = |msg: &str| Reply::ok(json!({"saved": false, "errors": msg}));
        let Some(id) = self.user_event(user, target) else {
            return fail("Invalid event.");
        };
        if !self
            .events
            .get(&id)
            .is_some_and(|e| self.can_modify(user, e))
        {
            return fail("You don't have permission to do that."); // #53
        }
        let Some(tag_id) = tag.parse::<u64>().ok().filter(|t| self.tag(*t).is_some()) else {
            return fail("Invalid Tag."); // #26, #28
        };
        if let Some(e) = self.events.get_mut(&id) {
            if e.tags.iter().any(|r| r.tag_id == tag_id) {
                return fail("Tag is already attached to this event.");
            }
            e.tags.push(TagRef {
                tag_id,
                local: false,
            });
        }
        Reply::ok(json!({"saved": true, "success": "Tag added.", "check_publish": true}))
    }

    // ----------------------------------------------------------------------------------------------
    // attributes / objects

    /// `POST /attributes/add/{event}` (#22–#24, #43, #71, #72): one attribute (flat or `{"Attribute":…}`)
    /// or a list.
    pub fn attributes_add(
        &mut self,
        user: &User,
        target: &str,
        body: &Value,
        url: &str,
        now: i64,
    ) -> Reply {
        let Some(id) = self.user_event(user, target) else {
            return Reply::exception(404, "Invalid event.", url);
        };
        if !self
            .events
            .get(&id)
            .is_some_and(|e| self.can_modify(user, e))
        {
            return Reply::exception(403, NO_PERMISSION, url); // #43
        }
        let items: Vec<&Map<String, Value>> = match body {
            Value::Array(v) => v.iter().filter_map(Value::as_object).collect(),
            other => input::unwrap(other, &["Attribute"]).into_iter().collect(),
        };
        if items.is_empty() {
            return Reply::exception(405, "You must specify a value for each attribute.", url);
        }
        let mut saved = Vec::new();
        let mut errors = Map::new();
        for (i, m) in items.iter().enumerate() {
            let result = self.new_attr(m, id, 0, now).and_then(|a| {
                let dup = self
                    .events
                    .get(&id)
                    .is_some_and(|e| !a.deleted && self.duplicate_value(e, &a, 0));
                if dup {
                    Err(AttrError::Invalid(
                        "value",
                        "A similar attribute already exists for this event.".to_owned(),
                    ))
                } else {
                    Ok(a)
                }
            });
            match result {
                Ok(mut a) => {
                    a.timestamp = now;
                    let aid = self.insert_attr(a, tags_in(m));
                    if let Some(e) = self.events.get_mut(&id) {
                        e.attributes.push(aid);
                    }
                    saved.push(aid);
                }
                Err(err) => {
                    errors.insert(format!("attribute_{i}"), err.errors());
                }
            }
        }
        if saved.is_empty() {
            let errs = if items.len() == 1 {
                errors
                    .into_iter()
                    .next()
                    .map(|(_, v)| v)
                    .unwrap_or(Value::Null)
            } else {
                Value::Object(errors)
            };
            return Reply::save_fail("Could not add Attribute", "/attributes/add", errs, None); // #23, #24, #71, #72
        }
        self.touch(id, now);
        let rendered: Vec<Value> = saved
            .iter()
            .filter_map(|a| self.attrs.get(a))
            .map(|a| render::attribute_flat(a, true))
            .collect();
        let mut reply = if items.len() == 1 {
            Reply::ok(json!({"Attribute": rendered.into_iter().next(), "AttributeTag": []}))
        } else {
            let mut body = json!({ "Attribute": rendered });
            if !errors.is_empty()
                && let Value::Object(m) = &mut body
            {
                m.insert("errors".to_owned(), Value::Object(errors));
            }
            Reply::ok(body)
        };
        reply.items = items.len();
        reply
    }

    /// `POST /attributes/edit/{id|uuid}` (#109–#111).
    pub fn attributes_edit(
        &mut self,
        user: &User,
        target: &str,
        body: &Value,
        url: &str,
        now: i64,
    ) -> Reply {
        let Some(aid) = self.find_attr(target) else {
            return Reply::exception(404, "Invalid attribute", url);
        };
        let Some(eid) = self.attrs.get(&aid).map(|a| a.event_id) else {
            return Reply::exception(404, "Invalid attribute", url);
        };
        let visible = self.events.get(&eid).is_some_and(|e| self.can_see(user, e));
        if !visible {
            return Reply::exception(404, "Invalid attribute", url);
        }
        if !self
            .events
            .get(&eid)
            .is_some_and(|e| self.can_modify(user, e))
        {
            return Reply::exception(403, NO_PERMISSION, url); // #111
        }
        let Some(m) = input::unwrap(body, &["Attribute"]) else {
            return Reply::exception(405, "Invalid input.", url);
        };
        let standalone = self.attrs.get(&aid).is_some_and(|a| a.object_id == 0);
        if !self.edit_attr(aid, m, standalone.then_some(eid), now) {
            let stored_ts = self.attrs.get(&aid).map_or(0, |a| a.timestamp);
            if int(m, "timestamp").is_some_and(|ts| ts <= stored_ts) {
                return Reply::exception(
                    405,
                    "Attribute could not be saved: Attribute in the request not newer than the local copy.",
                    url,
                ); // #110
            }
            return Reply::save_fail(
                "Could not edit Attribute",
                "/attributes/edit",
                json!("Validation failed"),
                None,
            );
        }
        self.touch(eid, now);
        match self.attrs.get(&aid) {
            Some(a) => Reply::ok(json!({ "Attribute": render::attribute_flat(a, false) })),
            None => Reply::internal(url),
        }
    }

    /// `POST /objects/add/{event}[/{template}]` (#25, #52, #91–#94). Templates are not modelled: without a
    /// template in the URL the body must carry the template metadata (#25), with one any name is accepted.
    pub fn objects_add(
        &mut self,
        user: &User,
        target: &str,
        template: Option<&str>,
        body: &Value,
        url: &str,
        now: i64,
    ) -> Reply {
        let Some(id) = self.user_event(user, target) else {
            return Reply::exception(404, "Invalid event.", url);
        };
        if !self
            .events
            .get(&id)
            .is_some_and(|e| self.can_modify(user, e))
        {
            return Reply::exception(403, NO_PERMISSION, url); // #52
        }
        let Some(m) = input::unwrap(body, &["Object"]) else {
            return Reply::exception(405, "Invalid input.", url);
        };
        let mut m = m.clone();
        if template.is_none() {
            for field in [
                "name",
                "meta-category",
                "description",
                "template_uuid",
                "template_version",
            ] {
                if string(&m, field).is_none_or(|v| v.is_empty()) {
                    return Reply::save_fail(
                        "Could not add Object",
                        "/objects/add",
                        json!(format!(
                            "Object could not be saved.\ntemplate: No valid template found and object lacking template information. ({field})"
                        )),
                        None,
                    );
                }
            }
        } else if string(&m, "name").is_none() {
            m.insert("name".to_owned(), json!(template.unwrap_or_default()));
        }
        if let Some(u) = string(&m, "uuid")
            && self.object_by_uuid.contains_key(&u.to_ascii_lowercase())
        {
            return Reply::save_fail(
                "Could not add Object",
                "/objects/add",
                json!("Object could not be saved.\nuuid: The UUID provided is not unique"),
                None,
            ); // #94
        }
        m.remove("timestamp");
        let before = self.next_object;
        self.merge_object(id, &m, now);
        if self.next_object == before {
            return Reply::save_fail(
                "Could not add Object",
                "/objects/add",
                json!("Object could not be saved."),
                None,
            );
        }
        self.touch(id, now);
        match self.objects.get(&before) {
            Some(o) => Reply::ok(json!({ "Object": render::object_flat(self, o) })),
            None => Reply::internal(url),
        }
    }

    // ----------------------------------------------------------------------------------------------
    // event reports

    /// `POST /event_reports/add/{event_id}` (#33–#35, #50, #98–#102): numeric event id only.
    pub fn event_reports_add(
        &mut self,
        user: &User,
        target: &str,
        body: &Value,
        url: &str,
        now: i64,
    ) -> Reply {
        let fail = |errors: &str| {
            Reply::save_fail(
                "Could not add EventReport",
                "/event_reports/add",
                json!(errors),
                None,
            )
        };
        if target.parse::<u64>().is_err() {
            return fail("numeric"); // #35, #98
        }
        let Some(id) = self.user_event(user, target) else {
            return Reply::exception(404, "Invalid event.", url);
        };
        if !self
            .events
            .get(&id)
            .is_some_and(|e| self.can_modify(user, e))
        {
            return Reply::exception(403, NO_PERMISSION, url); // #50
        }
        let Some(m) = input::unwrap(body, &["EventReport"]) else {
            return fail("This field cannot be left blank");
        };
        let name = string(m, "name").unwrap_or_default();
        if name.is_empty() {
            return fail("This field cannot be left blank"); // #101
        }
        let uuid = string(m, "uuid").map(|u| u.to_ascii_lowercase());
        if let Some(u) = &uuid {
            if !valid_uuid(u) {
                return fail("Please provide a valid RFC 4122 UUID");
            }
            if self.report_by_uuid.contains_key(u) {
                return fail("The UUID provided is not unique"); // #34
            }
        }
        let mut m = m.clone();
        m.remove("timestamp");
        let rid = self.create_report(id, uuid, name, &m, now);
        self.touch(id, now);
        match self.reports.get(&rid) {
            Some(r) => Reply::ok(render::report_response(self, r, false)),
            None => Reply::internal(url),
        }
    }

    fn report_for(&self, user: &User, target: &str, url: &str, modify: bool) -> Result<u64, Reply> {
        let rid = self
            .find_report(target)
            .ok_or_else(|| Reply::exception(404, "Invalid Event Report", url))?;
        let eid = self.reports.get(&rid).map_or(0, |r| r.event_id);
        let event = self
            .events
            .get(&eid)
            .filter(|e| self.can_see(user, e))
            .ok_or_else(|| Reply::exception(404, "Invalid Event Report", url))?;
        if modify && !self.can_modify(user, event) {
            return Err(Reply::exception(401, "Unauthorized", url)); // #51, #104, #105
        }
        Ok(rid)
    }

    /// `POST /event_reports/edit/{id|uuid}` (#36, #37, #51, #104, #106): a client timestamp is ignored.
    pub fn event_reports_edit(
        &mut self,
        user: &User,
        target: &str,
        body: &Value,
        url: &str,
        now: i64,
    ) -> Reply {
        let rid = match self.report_for(user, target, url, true) {
            Ok(r) => r,
            Err(r) => return r,
        };
        let Some(m) = input::unwrap(body, &["EventReport"]) else {
            return Reply::exception(405, "Invalid input.", url);
        };
        let mut eid = 0;
        if let Some(r) = self.reports.get_mut(&rid) {
            if let Some(n) = string(m, "name")
                && !n.is_empty()
            {
                r.name = n;
            }
            if let Some(c) = string(m, "content") {
                r.content = c;
            }
            if let Ok(Some(d)) = distribution(m, 5) {
                r.distribution = d;
            }
            r.timestamp = now; // #106
            eid = r.event_id;
        }
        self.touch(eid, now);
        match self.reports.get(&rid) {
            Some(r) => Reply::ok(render::report_response(self, r, false)),
            None => Reply::internal(url),
        }
    }

    /// `GET /event_reports/view/{id|uuid}` (#38, #103, #108).
    pub fn event_reports_view(&self, user: &User, target: &str, url: &str) -> Reply {
        match self.report_for(user, target, url, false) {
            Ok(rid) => match self.reports.get(&rid) {
                Some(r) => Reply::ok(render::report_response(self, r, true)),
                None => Reply::internal(url),
            },
            Err(r) => r,
        }
    }

    /// `POST /event_reports/delete/{id}[/1]` (#105, #107): soft by default, hard with `/1` or `{"hard":1}`.
    pub fn event_reports_delete(
        &mut self,
        user: &User,
        target: &str,
        hard: bool,
        url: &str,
        now: i64,
    ) -> Reply {
        let rid = match self.report_for(user, target, url, true) {
            Ok(r) => r,
            Err(r) => return r,
        };
        let eid = self.reports.get(&rid).map_or(0, |r| r.event_id);
        if hard {
            if let Some(r) = self.reports.remove(&rid) {
                self.report_by_uuid.remove(&r.uuid);
            }
            if let Some(e) = self.events.get_mut(&eid) {
                e.reports.retain(|r| *r != rid);
            }
        } else if let Some(r) = self.reports.get_mut(&rid) {
            r.deleted = true;
        }
        self.touch(eid, now);
        let how = if hard { "hard" } else { "soft" };
        Reply::save_success(
            &format!("Event Report {rid} {how} deleted"),
            url,
            Some(rid.to_string()),
        )
    }

    /// `GET /event_reports/index/event_id:{id}` (#39).
    pub fn event_reports_index(&self, user: &User, event: Option<&str>) -> Reply {
        let filter = event.and_then(|e| self.find_event(e));
        let items: Vec<Value> = self
            .reports
            .values()
            .filter(|r| filter.is_none_or(|f| r.event_id == f))
            .filter(|r| {
                self.events
                    .get(&r.event_id)
                    .is_some_and(|e| self.can_see(user, e))
            })
            .map(|r| render::report_response(self, r, true))
            .collect();
        Reply::ok(Value::Array(items))
    }

    // ----------------------------------------------------------------------------------------------
    // proposals

    /// `POST /shadow_attributes/add/{event id|uuid}` (#44 wrapped, #45 flat, #46 unknown type → 500, #112).
    pub fn proposals_add(
        &mut self,
        user: &User,
        target: &str,
        body: &Value,
        url: &str,
        now: i64,
    ) -> Reply {
        let Some(eid) = self.user_event(user, target) else {
            return Reply::exception(404, "Invalid Event.", url);
        };
        let Some(m) = input::unwrap(body, &["ShadowAttribute", "Attribute", "Proposal"]) else {
            return Reply::exception(405, "Invalid input.", url);
        };
        let type_ = string(m, "type").unwrap_or_default();
        let Some(entry) = types::lookup(&type_) else {
            // InvalidArgumentException "Unknown attribute type" escapes as a 500 (#46).
            return Reply::internal(url);
        };
        let category = string(m, "category").unwrap_or_else(|| entry.1.to_owned());
        let value = match validate_value(&type_, &string(m, "value").unwrap_or_default()) {
            Ok(v) if types::category_allowed(&type_, &category) => v,
            Ok(_) => {
                return Reply::exception(
                    404,
                    "Could not save the proposal. Errors: [category]: Options depend on the selected type.",
                    url,
                );
            }
            Err(e) => {
                return Reply::exception(
                    404,
                    &format!("Could not save the proposal. Errors: [value]: {e}"),
                    url,
                );
            }
        };
        let uuid = string(m, "uuid")
            .filter(|u| valid_uuid(u))
            .map_or_else(random_uuid, |u| u.to_ascii_lowercase());
        let p = Proposal {
            id: self.next_proposal,
            old_id: 0,
            event_id: eid,
            type_,
            category,
            value,
            comment: string(m, "comment").unwrap_or_default(),
            to_ids: flag(m, "to_ids").unwrap_or(entry.2),
            uuid,
            org_id: user.org_id,
            email: user.email.clone(),
            deleted: false,
            proposal_to_delete: false,
            timestamp: now,
            first_seen: nullable(m, "first_seen").flatten(),
            last_seen: nullable(m, "last_seen").flatten(),
        };
        self.next_proposal += 1;
        let reply = Reply::ok(render::proposal_saved(self, &p));
        self.proposals.insert(p.id, p);
        reply
    }

    fn proposal_base(&self, user: &User, target: &str, url: &str) -> Result<Attr, Reply> {
        let aid = self
            .find_attr(target)
            .ok_or_else(|| Reply::exception(404, "Invalid Attribute", url))?;
        let a = self
            .attrs
            .get(&aid)
            .ok_or_else(|| Reply::exception(404, "Invalid Attribute", url))?;
        let visible = self
            .events
            .get(&a.event_id)
            .is_some_and(|e| self.can_see(user, e));
        if !visible || a.deleted {
            return Err(Reply::exception(404, "Invalid Attribute", url));
        }
        Ok(a.clone())
    }

    /// `POST /shadow_attributes/edit/{attribute id|uuid}` (#48): a proposal with `old_id` and the
    /// attribute's uuid; nothing changed → 405 "Invalid input.".
    pub fn proposals_edit(
        &mut self,
        user: &User,
        target: &str,
        body: &Value,
        url: &str,
        now: i64,
    ) -> Reply {
        let a = match self.proposal_base(user, target, url) {
            Ok(a) => a,
            Err(r) => return r,
        };
        let Some(m) = input::unwrap(body, &["ShadowAttribute", "Attribute", "Proposal"]) else {
            return Reply::exception(405, "Invalid input.", url);
        };
        let mut p = Proposal {
            id: self.next_proposal,
            old_id: a.id,
            event_id: a.event_id,
            type_: a.type_.clone(),
            category: a.category.clone(),
            value: a.value.clone(),
            comment: a.comment.clone(),
            to_ids: a.to_ids,
            uuid: a.uuid.clone(),
            org_id: user.org_id,
            email: user.email.clone(),
            deleted: false,
            proposal_to_delete: false,
            timestamp: now,
            first_seen: a.first_seen.clone(),
            last_seen: a.last_seen.clone(),
        };
        let mut changed = false;
        if let Some(t) = string(m, "type")
            && t != p.type_
        {
            if a.object_id != 0 || types::lookup(&t).is_none() {
                return Reply::internal(url);
            }
            p.type_ = t;
            changed = true;
        }
        if let Some(c) = string(m, "category")
            && c != p.category
        {
            p.category = c;
            changed = true;
        }
        if let Some(v) = string(m, "value")
            && v != p.value
        {
            p.value = v;
            changed = true;
        }
        if let Some(c) = string(m, "comment")
            && c != p.comment
        {
            p.comment = c;
            changed = true;
        }
        if let Some(t) = flag(m, "to_ids")
            && t != p.to_ids
        {
            p.to_ids = t;
            changed = true;
        }
        for (key, field) in [
            ("first_seen", &mut p.first_seen),
            ("last_seen", &mut p.last_seen),
        ] {
            if let Some(v) = nullable(m, key)
                && v != *field
            {
                *field = v;
                changed = true;
            }
        }
        if !changed {
            return Reply::exception(405, "Invalid input.", url);
        }
        // Validation failure on a proposed edit is an InternalErrorException (notes/misp.md §1.5).
        match validate_value(&p.type_, &p.value) {
            Ok(v) if types::category_allowed(&p.type_, &p.category) => p.value = v,
            _ => return Reply::internal(url),
        }
        self.next_proposal += 1;
        let reply = Reply::ok(render::proposal_saved(self, &p));
        self.proposals.insert(p.id, p);
        reply
    }

    /// `POST /shadow_attributes/delete/{attribute id}` (#49): a proposal to delete; always 200.
    pub fn proposals_delete(&mut self, user: &User, target: &str, url: &str, now: i64) -> Reply {
        let a = match self.proposal_base(user, target, url) {
            Ok(a) => a,
            Err(_) => return Reply::ok(json!({"false": true, "errors": "Invalid Attribute."})),
        };
        let p = Proposal {
            id: self.next_proposal,
            old_id: a.id,
            event_id: a.event_id,
            type_: a.type_,
            category: a.category,
            value: a.value,
            comment: String::new(),
            to_ids: a.to_ids,
            uuid: a.uuid,
            org_id: user.org_id,
            email: user.email.clone(),
            deleted: false,
            proposal_to_delete: true,
            timestamp: now,
            first_seen: a.first_seen,
            last_seen: a.last_seen,
        };
        self.next_proposal += 1;
        self.proposals.insert(p.id, p);
        Reply::ok(
            json!({"saved": true, "success": "The proposal to delete the attribute has been saved but sending out the alert e-mails has failed for at least one recipient."}),
        )
    }

    /// `GET /shadow_attributes/index[/{event}][/deleted:0]` (#54, #55, #113): proposals on the user's
    /// organisation's events and the user's own proposals; accepted/discarded ones are included unless
    /// `deleted:0`.
    pub fn proposals_index(
        &self,
        user: &User,
        event: Option<&str>,
        include_deleted: bool,
    ) -> Reply {
        let filter = match event {
            Some(e) => match self.find_event(e) {
                Some(id) => Some(id),
                None => return Reply::ok(json!([])),
            },
            None => None,
        };
        let items: Vec<Value> = self
            .proposals
            .values()
            .filter(|p| filter.is_none_or(|f| p.event_id == f))
            .filter(|p| include_deleted || !p.deleted)
            .filter(|p| {
                user.site_admin
                    || p.org_id == user.org_id
                    || self
                        .events
                        .get(&p.event_id)
                        .is_some_and(|e| e.orgc_id == user.org_id)
            })
            .map(|p| render::proposal_index_entry(self, p))
            .collect();
        Reply::ok(Value::Array(items))
    }

    /// `POST /shadow_attributes/accept/{id}` (#57) and `/discard/{id}`: event owner only.
    pub fn proposals_resolve(
        &mut self,
        user: &User,
        target: &str,
        accept: bool,
        url: &str,
        now: i64,
    ) -> Reply {
        let Some(p) = target
            .parse::<u64>()
            .ok()
            .and_then(|id| self.proposals.get(&id))
            .cloned()
        else {
            return Reply::exception(404, "Invalid proposal.", url);
        };
        if p.deleted {
            return Reply::exception(404, "Invalid proposal.", url);
        }
        if !self
            .events
            .get(&p.event_id)
            .is_some_and(|e| self.can_modify(user, e))
        {
            return Reply::exception(403, NO_PERMISSION, url);
        }
        if accept {
            if p.proposal_to_delete {
                if let Some(a) = self.attrs.get_mut(&p.old_id) {
                    a.deleted = true;
                    a.timestamp = now;
                }
            } else if p.old_id != 0 {
                if let Some(a) = self.attrs.get_mut(&p.old_id) {
                    a.type_ = p.type_.clone();
                    a.category = p.category.clone();
                    a.value = p.value.clone();
                    a.comment = p.comment.clone();
                    a.to_ids = p.to_ids;
                    a.timestamp = now;
                }
            } else if !self.attr_by_uuid.contains_key(&p.uuid) {
                let a = Attr {
                    id: 0,
                    event_id: p.event_id,
                    object_id: 0,
                    object_relation: None,
                    category: p.category.clone(),
                    type_: p.type_.clone(),
                    value: p.value.clone(),
                    to_ids: p.to_ids,
                    uuid: p.uuid.clone(),
                    timestamp: now,
                    distribution: 5,
                    sharing_group_id: 0,
                    comment: p.comment.clone(),
                    deleted: false,
                    disable_correlation: false,
                    first_seen: p.first_seen.clone(),
                    last_seen: p.last_seen.clone(),
                    tags: Vec::new(),
                };
                let aid = self.insert_attr(a, Vec::new());
                if let Some(e) = self.events.get_mut(&p.event_id) {
                    e.attributes.push(aid);
                }
            }
            self.touch(p.event_id, now);
        }
        if let Some(stored) = self.proposals.get_mut(&p.id) {
            stored.deleted = true;
        }
        let msg = if accept {
            "Proposal accepted."
        } else {
            "Proposal discarded."
        };
        Reply::exception(200, msg, url)
    }
}

fn items_len(v: &Value) -> usize {
    v.get("response")
        .and_then(Value::as_array)
        .map_or(0, Vec::len)
}
