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

    /// The event a write goes to: 404 "Invalid event." when the user cannot see it, 403 when the user may not
    /// modify it (another organisation's event: #43, #50, #52).
    fn event_to_modify(&self, user: &User, target: &str, url: &str) -> Result<u64, Reply> {
        let Some(id) = self.user_event(user, target) else {
            return Err(Reply::exception(404, "Invalid event.", url));
        };
        if self
            .events
            .get(&id)
            .is_some_and(|e| self.can_modify(user, e))
        {
            Ok(id)
        } else {
            Err(Reply::exception(403, NO_PERMISSION, url))
        }
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
}

mod attributes;
mod events;
mod instance;
mod proposals;
mod reports;
#[cfg(test)]
mod tests;
