//! The sync plan: what to write to MISP for one story, given what MISP holds. Pure, no I/O.
//!
//! * absent → [`Plan::Create`] (one `/events/add` with attributes, objects, report and tags);
//! * held and owned by us → [`Plan::Stale`] (MISP holds a newer story version), [`Plan::Unchanged`]
//!   (nothing differs) or [`Plan::Update`] (one `/events/edit` carrying only what changed, removed items
//!   soft-deleted, plus tag removals);
//! * held by another organisation → [`Plan::Propose`]: shadow attributes for standalone attributes and
//!   our own extension event for objects and the report.
//!
//! The story version travels in MISP as a version-marker attribute (see [`stamp`]) and in the event
//! `timestamp`, which MISP uses as a compare-and-set guard on edit (see `docs/sync.md`).

use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Map, Value, json};
use uuid::Uuid;

use crate::misp::client::{RemoteAttribute, RemoteEvent, RemoteObject, ShadowAttribute};
use crate::misp::event::{Attribute, DISTRIBUTION_INHERIT, Event, MispObject};

/// Name of the version marker (uuid key and comment).
pub const VERSION_MARKER_KEY: &str = "misp-connector:story-version";
/// Comment of the version marker attribute.
pub const VERSION_MARKER_COMMENT: &str =
    "misp-connector: version of the story this event was last synced from (do not edit)";
/// Value of the marker when the story carries no version at all.
pub const UNKNOWN_VERSION: &str = "unknown";

/// The uuid of the version marker attribute of an event.
pub fn marker_uuid(event_uuid: Uuid) -> Uuid {
    Uuid::new_v5(&event_uuid, VERSION_MARKER_KEY.as_bytes())
}

/// The uuid of our extension event of a foreign event `parent`.
pub fn extension_uuid(parent: Uuid, organisation_id: &str) -> Uuid {
    Uuid::new_v5(
        &parent,
        format!("extension:{}", organisation_id.trim()).as_bytes(),
    )
}

/// The event as it is sent: the mapped event plus the version marker attribute, and `timestamp` set to the
/// story version in seconds (the create timestamp; updates compute their own, see [`edit_timestamp`]).
pub fn stamp(event: &Event, version: Option<DateTime<Utc>>) -> Event {
    let mut ev = event.clone();
    let marker = marker_uuid(ev.uuid);
    ev.attributes.retain(|a| a.uuid != marker);
    ev.attributes.push(Attribute {
        uuid: marker,
        type_: "text".into(),
        category: "Internal reference".into(),
        value: version.map_or_else(|| UNKNOWN_VERSION.to_owned(), format_version),
        to_ids: false,
        comment: VERSION_MARKER_COMMENT.into(),
        distribution: DISTRIBUTION_INHERIT,
        object_relation: None,
        disable_correlation: true,
        deleted: false,
        first_seen: None,
        last_seen: None,
        tags: Vec::new(),
    });
    ev.timestamp = version.map(version_seconds).filter(|t| *t > 0);
    ev
}

/// Largest timestamp MISP can store (its `timestamp` columns are signed 32-bit integers).
pub const MAX_MISP_TIMESTAMP: i64 = i32::MAX as i64;

/// A version in whole seconds, kept below [`MAX_MISP_TIMESTAMP`] so `held + 1` still fits.
fn version_seconds(v: DateTime<Utc>) -> i64 {
    v.timestamp().clamp(0, MAX_MISP_TIMESTAMP - 1)
}

/// The marker's text form of a version (RFC 3339, nanoseconds, UTC).
pub fn format_version(v: DateTime<Utc>) -> String {
    v.to_rfc3339_opts(SecondsFormat::Nanos, true)
}

/// The story version MISP holds, from the marker attribute (`None` when absent or unknown).
pub fn held_version(held: &RemoteEvent) -> Option<DateTime<Utc>> {
    let marker = marker_uuid(held.uuid);
    held.attributes
        .iter()
        .find(|a| a.uuid == marker && !a.deleted)
        .and_then(|a| DateTime::parse_from_rfc3339(a.value.trim()).ok())
        .map(|d| d.with_timezone(&Utc))
}

/// The `timestamp` sent with an edit: newer than what MISP holds (so the edit applies only if nobody wrote
/// since we read — MISP refuses `timestamp <= stored`) and never below the story version in seconds (so a
/// racing worker with an older version, which computes a smaller value from the same state, is refused).
pub fn edit_timestamp(version: Option<DateTime<Utc>>, held: &RemoteEvent) -> i64 {
    let v = version.map_or(0, version_seconds);
    v.max(held.timestamp.saturating_add(1))
        .min(MAX_MISP_TIMESTAMP)
}

/// What to write.
#[derive(Debug, Clone, PartialEq)]
pub enum Plan {
    /// `POST /events/add` with this body.
    Create { body: Value },
    /// `POST /events/edit/{uuid}` with this body; `remove_tags` are in it with `deleted: true` and are
    /// detached separately if MISP still shows them afterwards.
    Update {
        body: Value,
        remove_tags: Vec<String>,
        /// Human-readable list of what differs (for logs and tests).
        changes: Vec<String>,
    },
    /// MISP already holds this version with this content.
    Unchanged,
    /// MISP holds a newer version of the story.
    Stale { held: DateTime<Utc> },
    /// The event belongs to another organisation.
    Propose(Box<ProposalPlan>),
}

/// Proposals on a foreign event plus our extension event.
#[derive(Debug, Clone, PartialEq)]
pub struct ProposalPlan {
    /// Bodies for `/shadow_attributes/add/{event id}`.
    pub adds: Vec<Value>,
    /// `(attribute id, changed fields)` for `/shadow_attributes/edit/{attribute id}`.
    pub edits: Vec<(String, Value)>,
    /// Attribute ids for `/shadow_attributes/delete/{attribute id}`.
    pub deletes: Vec<String>,
    /// Our extension event (stamped), synced like any owned event.
    pub extension: Event,
}

/// Plan the sync of `new` (already [`stamp`]ed) against what MISP holds.
///
/// `proposals` are the event's shadow attributes (only looked at when the event is foreign);
/// `organisation_id` is ours (numeric id or uuid).
pub fn plan(
    new: &Event,
    version: Option<DateTime<Utc>>,
    held: Option<&RemoteEvent>,
    proposals: &[ShadowAttribute],
    organisation_id: &str,
) -> Plan {
    match held {
        None => Plan::Create {
            body: json!({ "Event": new }),
        },
        Some(h) if h.is_owned_by(organisation_id) => plan_owned(new, version, h),
        // The owner syncs the same story with this connector and already holds a newer version.
        Some(h) if newer_than(held_version(h), version) => Plan::Stale {
            held: held_version(h).unwrap_or_default(),
        },
        Some(h) => Plan::Propose(Box::new(plan_proposals(
            new,
            version,
            h,
            proposals,
            organisation_id,
        ))),
    }
}

/// Is the held version strictly newer than ours (both known)?
pub fn newer_than(held: Option<DateTime<Utc>>, ours: Option<DateTime<Utc>>) -> bool {
    matches!((held, ours), (Some(h), Some(v)) if h > v)
}

/// Plan the update of an event we own.
pub fn plan_owned(new: &Event, version: Option<DateTime<Utc>>, held: &RemoteEvent) -> Plan {
    if let (Some(v), Some(h)) = (version, held_version(held))
        && h > v
    {
        return Plan::Stale { held: h };
    }
    let mut changes = Vec::new();
    let mut ev = Map::new();
    ev.insert("uuid".into(), json!(new.uuid));
    ev.insert("info".into(), json!(new.info));
    ev.insert("date".into(), json!(new.date));
    ev.insert("distribution".into(), json!(new.distribution));
    ev.insert(
        "sharing_group_id".into(),
        json!(new.sharing_group_id.unwrap_or(0)),
    );
    ev.insert("threat_level_id".into(), json!(new.threat_level_id));
    ev.insert("analysis".into(), json!(new.analysis));
    ev.insert("published".into(), json!(new.published));
    ev.insert("timestamp".into(), json!(edit_timestamp(version, held)));
    if let Some(x) = new.extends_uuid {
        ev.insert("extends_uuid".into(), json!(x));
    }

    // Event fields.
    let field = |name: &str, differs: bool, changes: &mut Vec<String>| {
        if differs {
            changes.push(format!("event {name}"));
        }
    };
    field("info", held.info != new.info, &mut changes);
    field("date", held.date != new.date, &mut changes);
    field(
        "distribution",
        held.distribution != i64::from(new.distribution),
        &mut changes,
    );
    field(
        "sharing_group_id",
        new.distribution == 4
            && held.sharing_group_id != new.sharing_group_id.map_or(0, |s| s as i64),
        &mut changes,
    );
    field(
        "threat_level_id",
        held.threat_level_id != i64::from(new.threat_level_id),
        &mut changes,
    );
    field(
        "analysis",
        held.analysis != i64::from(new.analysis),
        &mut changes,
    );
    field("published", held.published != new.published, &mut changes);
    field(
        "extends_uuid",
        new.extends_uuid.map(|u| u.to_string())
            != held.extends_uuid.as_ref().map(|s| s.to_lowercase()),
        &mut changes,
    );

    // Standalone attributes.
    let held_attrs: HashMap<Uuid, &RemoteAttribute> = held
        .attributes
        .iter()
        .filter(|a| !a.deleted)
        .map(|a| (a.uuid, a))
        .collect();
    let mut attrs = Vec::new();
    for a in &new.attributes {
        match held_attrs.get(&a.uuid) {
            Some(h) if attribute_equal(a, h) => {}
            Some(_) => {
                changes.push(format!("attribute {} changed", a.uuid));
                attrs.push(attribute_body(a));
            }
            None => {
                changes.push(format!("attribute {} added", a.uuid));
                attrs.push(attribute_body(a));
            }
        }
    }
    let new_attr_ids: BTreeSet<Uuid> = new.attributes.iter().map(|a| a.uuid).collect();
    for h in held.attributes.iter().filter(|h| !h.deleted) {
        if !new_attr_ids.contains(&h.uuid) {
            changes.push(format!("attribute {} removed", h.uuid));
            attrs.push(deleted_attribute_body(h));
        }
    }

    // Objects.
    let held_objs: HashMap<Uuid, &RemoteObject> = held
        .objects
        .iter()
        .filter(|o| !o.deleted)
        .map(|o| (o.uuid, o))
        .collect();
    let mut objs = Vec::new();
    for o in &new.objects {
        match held_objs.get(&o.uuid) {
            Some(h) => {
                if let Some(body) = object_update(o, h) {
                    changes.push(format!("object {} ({}) changed", o.uuid, o.name));
                    objs.push(body);
                }
            }
            None => {
                changes.push(format!("object {} ({}) added", o.uuid, o.name));
                objs.push(object_body(o, &[]));
            }
        }
    }
    let new_obj_ids: BTreeSet<Uuid> = new.objects.iter().map(|o| o.uuid).collect();
    for h in held.objects.iter().filter(|o| !o.deleted) {
        if !new_obj_ids.contains(&h.uuid) {
            changes.push(format!("object {} ({}) removed", h.uuid, h.name));
            objs.push(deleted_object_body(h));
        }
    }

    // Event reports.
    let mut reports = Vec::new();
    for r in &new.reports {
        let held_r = held.reports.iter().find(|h| h.uuid == r.uuid && !h.deleted);
        let same = held_r.is_some_and(|h| {
            h.name == r.name
                && h.content == r.content
                && h.distribution == i64::from(r.distribution)
        });
        if !same {
            changes.push(format!(
                "report {} {}",
                r.uuid,
                if held_r.is_some() { "changed" } else { "added" }
            ));
            let mut b = serde_json::to_value(r).unwrap_or(Value::Null);
            b["deleted"] = json!(false);
            reports.push(b);
        }
    }
    for h in held.reports.iter().filter(|h| !h.deleted) {
        if !new.reports.iter().any(|r| r.uuid == h.uuid) {
            changes.push(format!("report {} removed", h.uuid));
            reports.push(json!({"uuid": h.uuid, "name": h.name, "deleted": true}));
        }
    }

    // Tags: a Tag list in an edit body is merged — absent tags stay (transcript 31) — so tags that left the
    // story are sent with `deleted: true` (MISP's EventTag::handleEventTag); the executor falls back to
    // `/tags/removeTagFromObject` (transcript 115) for any that MISP still shows after the edit.
    let held_tags: BTreeSet<&str> = held
        .tags
        .iter()
        .filter(|t| !t.local)
        .map(|t| t.name.as_str())
        .collect();
    let new_tags: BTreeSet<&str> = new.tags.iter().map(|t| t.name.as_str()).collect();
    let add_tags: Vec<Value> = new_tags
        .difference(&held_tags)
        .map(|t| json!({ "name": t }))
        .collect();
    let remove_tags: Vec<String> = held_tags
        .difference(&new_tags)
        .map(|t| (*t).to_owned())
        .collect();
    for t in &add_tags {
        changes.push(format!("tag {} added", t["name"]));
    }
    for t in &remove_tags {
        changes.push(format!("tag {t:?} removed"));
    }

    if changes.is_empty() {
        return Plan::Unchanged;
    }
    if !attrs.is_empty() {
        ev.insert("Attribute".into(), Value::Array(attrs));
    }
    if !objs.is_empty() {
        ev.insert("Object".into(), Value::Array(objs));
    }
    if !reports.is_empty() {
        ev.insert("EventReport".into(), Value::Array(reports));
    }
    let mut tag_list = add_tags;
    tag_list.extend(
        remove_tags
            .iter()
            .map(|t| json!({ "name": t, "deleted": true })),
    );
    if !tag_list.is_empty() {
        ev.insert("Tag".into(), Value::Array(tag_list));
    }
    Plan::Update {
        body: json!({ "Event": Value::Object(ev) }),
        remove_tags,
        changes,
    }
}

/// Attribute JSON for an edit: `deleted: false` is explicit so a previously soft-deleted item comes back.
fn attribute_body(a: &Attribute) -> Value {
    let mut b = serde_json::to_value(a).unwrap_or(Value::Null);
    b["deleted"] = json!(false);
    b
}

fn deleted_attribute_body(h: &RemoteAttribute) -> Value {
    let mut b = json!({
        "uuid": h.uuid,
        "type": h.type_,
        "category": h.category,
        "value": h.value,
        "deleted": true,
    });
    if let Some(rel) = &h.object_relation {
        b["object_relation"] = json!(rel);
    }
    b
}

fn object_body(o: &MispObject, removed: &[&RemoteAttribute]) -> Value {
    let mut b = serde_json::to_value(o).unwrap_or(Value::Null);
    b["deleted"] = json!(false);
    let mut attrs: Vec<Value> = o.attributes.iter().map(attribute_body).collect();
    attrs.extend(removed.iter().map(|h| deleted_attribute_body(h)));
    b["Attribute"] = Value::Array(attrs);
    b
}

fn deleted_object_body(h: &RemoteObject) -> Value {
    json!({
        "uuid": h.uuid,
        "name": h.name,
        "meta-category": h.meta_category,
        "template_uuid": h.template_uuid,
        "template_version": h.template_version,
        "deleted": true,
        "Attribute": h.attributes.iter().filter(|a| !a.deleted).map(deleted_attribute_body).collect::<Vec<_>>(),
    })
}

/// The edit body of a changed object (whole object, attributes that left it soft-deleted), or `None`.
fn object_update(o: &MispObject, h: &RemoteObject) -> Option<Value> {
    let held_attrs: HashMap<Uuid, &RemoteAttribute> = h
        .attributes
        .iter()
        .filter(|a| !a.deleted)
        .map(|a| (a.uuid, a))
        .collect();
    let meta_same = h.name == o.name
        && h.meta_category == o.meta_category
        && h.template_uuid
            .eq_ignore_ascii_case(&o.template_uuid.to_string())
        && h.template_version == o.template_version
        && h.comment == o.comment
        && h.distribution == i64::from(o.distribution);
    let attrs_same = o.attributes.iter().all(|a| {
        held_attrs
            .get(&a.uuid)
            .is_some_and(|h| attribute_equal(a, h))
    });
    let new_ids: BTreeSet<Uuid> = o.attributes.iter().map(|a| a.uuid).collect();
    let removed: Vec<&RemoteAttribute> = held_attrs
        .values()
        .filter(|h| !new_ids.contains(&h.uuid))
        .copied()
        .collect();
    if meta_same && attrs_same && removed.is_empty() {
        None
    } else {
        Some(object_body(o, &removed))
    }
}

/// Types whose values MISP lower-cases.
fn lowercased_by_misp(type_: &str) -> bool {
    matches!(
        type_,
        "md5"
            | "sha1"
            | "sha224"
            | "sha256"
            | "sha384"
            | "sha512"
            | "sha512/224"
            | "sha512/256"
            | "sha3-224"
            | "sha3-256"
            | "sha3-384"
            | "sha3-512"
            | "imphash"
            | "tlsh"
            | "domain"
            | "hostname"
            | "authentihash"
            | "vhash"
            | "pehash"
            | "impfuzzy"
            | "telfhash"
            | "ja3-fingerprint-md5"
            | "jarm-fingerprint"
            | "hassh-md5"
            | "hasshserver-md5"
    )
}

/// Compare values the way MISP stores them (trimmed, hashes/domains lower-cased, IPs canonical).
pub fn same_value(type_: &str, ours: &str, theirs: &str) -> bool {
    let (a, b) = (ours.trim(), theirs.trim());
    if a == b {
        return true;
    }
    if lowercased_by_misp(type_) {
        return a.eq_ignore_ascii_case(b);
    }
    if matches!(type_, "ip-src" | "ip-dst")
        && let (Ok(x), Ok(y)) = (a.parse::<std::net::IpAddr>(), b.parse::<std::net::IpAddr>())
    {
        return x == y;
    }
    false
}

fn same_time(ours: &Option<String>, theirs: &Option<String>) -> bool {
    match (ours, theirs) {
        (None, _) => true,
        (Some(a), Some(b)) => {
            a == b
                || matches!(
                    (DateTime::parse_from_rfc3339(a), DateTime::parse_from_rfc3339(b)),
                    (Ok(x), Ok(y)) if x == y
                )
        }
        (Some(_), None) => false,
    }
}

/// Does MISP's copy already say what ours says?
pub fn attribute_equal(a: &Attribute, h: &RemoteAttribute) -> bool {
    let held_tags: BTreeSet<&str> = h.tags.iter().map(|t| t.name.as_str()).collect();
    a.type_ == h.type_
        && a.category == h.category
        && same_value(&a.type_, &a.value, &h.value)
        && a.to_ids == h.to_ids
        && a.comment == h.comment
        && i64::from(a.distribution) == h.distribution
        && a.disable_correlation == h.disable_correlation
        && a.object_relation == h.object_relation
        && same_time(&a.first_seen, &h.first_seen)
        && same_time(&a.last_seen, &h.last_seen)
        && a.tags.iter().all(|t| held_tags.contains(t.name.as_str()))
}

/// Does a proposal propose exactly this attribute content?
fn proposal_matches(p: &ShadowAttribute, a: &Attribute) -> bool {
    p.type_ == a.type_
        && p.category == a.category
        && same_value(&a.type_, &a.value, &p.value)
        && p.to_ids == a.to_ids
        && p.comment == a.comment
}

/// Our extension event of the foreign event `parent`: the story's objects, report and tags (MISP has no
/// proposals for them), every uuid re-derived from the extension's uuid so none collides with the parent's.
pub fn extension_event(new: &Event, parent: Uuid, organisation_id: &str) -> Event {
    let ext_uuid = extension_uuid(parent, organisation_id);
    let rekey = |u: Uuid| Uuid::new_v5(&ext_uuid, u.to_string().as_bytes());
    let mut ext = new.clone();
    ext.uuid = ext_uuid;
    ext.extends_uuid = Some(parent);
    ext.attributes.clear();
    for o in &mut ext.objects {
        o.uuid = rekey(o.uuid);
        for a in &mut o.attributes {
            a.uuid = rekey(a.uuid);
        }
    }
    for r in &mut ext.reports {
        r.uuid = rekey(r.uuid);
    }
    ext
}

/// Plan proposals for a foreign event. `new` is stamped; the extension is stamped here.
pub fn plan_proposals(
    new: &Event,
    version: Option<DateTime<Utc>>,
    held: &RemoteEvent,
    proposals: &[ShadowAttribute],
    organisation_id: &str,
) -> ProposalPlan {
    let ours: Vec<&ShadowAttribute> = proposals
        .iter()
        .filter(|p| p.is_from(organisation_id))
        .collect();
    let marker = marker_uuid(new.uuid);
    let held_attrs: BTreeMap<Uuid, &RemoteAttribute> = held
        .attributes
        .iter()
        .filter(|a| !a.deleted)
        .map(|a| (a.uuid, a))
        .collect();
    let mut adds = Vec::new();
    let mut edits = Vec::new();
    for a in new.attributes.iter().filter(|a| a.uuid != marker) {
        match held_attrs.get(&a.uuid) {
            None => {
                // Skip when a pending proposal for this uuid exists, or the owner already discarded
                // exactly this content.
                let known = ours.iter().any(|p| {
                    p.is_new_attribute()
                        && p.uuid == Some(a.uuid)
                        && (!p.deleted || proposal_matches(p, a))
                });
                if !known {
                    let mut b = json!({
                        "uuid": a.uuid,
                        "type": a.type_,
                        "category": a.category,
                        "value": a.value,
                        "to_ids": a.to_ids,
                        "comment": a.comment,
                    });
                    if let Some(f) = &a.first_seen {
                        b["first_seen"] = json!(f);
                    }
                    if let Some(l) = &a.last_seen {
                        b["last_seen"] = json!(l);
                    }
                    adds.push(b);
                }
            }
            Some(h) => {
                let mut fields = Map::new();
                if a.type_ != h.type_ {
                    fields.insert("type".into(), json!(a.type_));
                }
                if a.category != h.category {
                    fields.insert("category".into(), json!(a.category));
                }
                if !same_value(&a.type_, &a.value, &h.value) {
                    fields.insert("value".into(), json!(a.value));
                }
                if a.to_ids != h.to_ids {
                    fields.insert("to_ids".into(), json!(a.to_ids));
                }
                if a.comment != h.comment {
                    fields.insert("comment".into(), json!(a.comment));
                }
                if fields.is_empty() {
                    continue;
                }
                let known = ours.iter().any(|p| {
                    p.old_id == h.id
                        && !p.proposal_to_delete
                        && (!p.deleted || proposal_matches(p, a))
                });
                if !known {
                    edits.push((h.id.clone(), Value::Object(fields)));
                }
            }
        }
    }
    // Deletions: only attributes we introduced (an add proposal of ours with that uuid was accepted).
    let new_ids: BTreeSet<Uuid> = new.attributes.iter().map(|a| a.uuid).collect();
    let mut deletes = Vec::new();
    for h in held_attrs.values() {
        if new_ids.contains(&h.uuid) || h.id.is_empty() {
            continue;
        }
        let introduced = ours
            .iter()
            .any(|p| p.is_new_attribute() && p.uuid == Some(h.uuid));
        let already = ours
            .iter()
            .any(|p| p.old_id == h.id && p.proposal_to_delete);
        if introduced && !already {
            deletes.push(h.id.clone());
        }
    }
    let mut unstamped = new.clone();
    unstamped.attributes.retain(|a| a.uuid != marker);
    let extension = stamp(
        &extension_event(&unstamped, held.uuid, organisation_id),
        version,
    );
    ProposalPlan {
        adds,
        edits,
        deletes,
        extension,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::misp::event::{EventReport, Tag};

    const ORG: &str = "1";

    fn attr(key: &str, type_: &str, value: &str) -> Attribute {
        Attribute {
            uuid: Uuid::new_v5(&event_uuid(), key.as_bytes()),
            type_: type_.into(),
            category: "Network activity".into(),
            value: value.into(),
            to_ids: true,
            comment: String::new(),
            distribution: 5,
            object_relation: None,
            disable_correlation: false,
            deleted: false,
            first_seen: None,
            last_seen: None,
            tags: Vec::new(),
        }
    }

    fn event_uuid() -> Uuid {
        Uuid::parse_str("5f0c2b1e-7a3d-4c1e-9b2a-0d1e2f3a4b5c").unwrap()
    }

    fn news_object(key: &str, title: &str) -> MispObject {
        let mut a = attr(&format!("{key}/title"), "text", title);
        a.object_relation = Some("title".into());
        a.category = "Other".into();
        a.to_ids = false;
        MispObject {
            uuid: Uuid::new_v5(&event_uuid(), key.as_bytes()),
            name: "taranis-news-item".into(),
            meta_category: "misc".into(),
            description: "news item".into(),
            template_uuid: Uuid::parse_str("e4b7e5e3-2c4c-4edf-b9a3-2c2a32844e62").unwrap(),
            template_version: "2".into(),
            distribution: 5,
            comment: String::new(),
            deleted: false,
            attributes: vec![a],
        }
    }

    fn event() -> Event {
        Event {
            uuid: event_uuid(),
            info: "Story".into(),
            date: "2026-11-20".into(),
            distribution: 0,
            sharing_group_id: None,
            threat_level_id: 4,
            analysis: 0,
            published: false,
            timestamp: None,
            extends_uuid: None,
            attributes: vec![
                attr("a1", "ip-dst", "198.51.100.7"),
                attr(
                    "a2",
                    "sha256",
                    "E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855",
                ),
            ],
            objects: vec![news_object("n1", "first"), news_object("n2", "second")],
            reports: vec![EventReport {
                uuid: Uuid::new_v5(&event_uuid(), b"event-report"),
                name: "Story".into(),
                content: "# Story".into(),
                distribution: 5,
                deleted: false,
            }],
            tags: vec![Tag::new("tlp:amber"), Tag::new("taranis:story")],
        }
    }

    fn v(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    /// What MISP would hold after storing `ev` (ids as strings, lower-cased hashes), owned by `orgc`.
    fn held(ev: &Event, orgc: &str, timestamp: i64) -> RemoteEvent {
        let mut j = serde_json::to_value(ev).unwrap();
        j["id"] = json!("7");
        j["orgc_id"] = json!(orgc);
        j["timestamp"] = json!(timestamp.to_string());
        j["distribution"] = json!(ev.distribution.to_string());
        let mut n = 100;
        let mut fix = |a: &mut Value| {
            n += 1;
            a["id"] = json!(n.to_string());
            if a["type"] == "sha256" {
                a["value"] = json!(a["value"].as_str().unwrap().to_lowercase());
            }
        };
        for a in j["Attribute"].as_array_mut().into_iter().flatten() {
            fix(a);
        }
        for o in j["Object"].as_array_mut().into_iter().flatten() {
            for a in o["Attribute"].as_array_mut().into_iter().flatten() {
                fix(a);
            }
        }
        serde_json::from_value(j).unwrap()
    }

    fn update_parts(p: Plan) -> (Value, Vec<String>, Vec<String>) {
        match p {
            Plan::Update {
                body,
                remove_tags,
                changes,
            } => (body, remove_tags, changes),
            other => panic!("expected Update, got {other:?}"),
        }
    }

    const V1: &str = "2026-11-20T10:00:00.250Z";
    const V2: &str = "2026-11-20T10:00:00.750Z";
    const V3: &str = "2026-11-21T08:00:00Z";

    #[test]
    fn absent_event_is_created_with_marker_and_version_timestamp() {
        let new = stamp(&event(), Some(v(V1)));
        let Plan::Create { body } = plan(&new, Some(v(V1)), None, &[], ORG) else {
            panic!("expected Create");
        };
        let ev = &body["Event"];
        assert_eq!(ev["timestamp"], json!(v(V1).timestamp()));
        assert_eq!(ev["distribution"], json!(0));
        assert_eq!(ev["published"], json!(false));
        assert_eq!(ev["Object"].as_array().unwrap().len(), 2);
        assert_eq!(ev["EventReport"].as_array().unwrap().len(), 1);
        let marker = ev["Attribute"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["uuid"] == json!(marker_uuid(event_uuid())))
            .unwrap();
        assert_eq!(marker["value"], json!("2026-11-20T10:00:00.250000000Z"));
        assert_eq!(marker["to_ids"], json!(false));
        assert_eq!(marker["disable_correlation"], json!(true));
    }

    #[test]
    fn same_version_same_content_is_unchanged() {
        let new = stamp(&event(), Some(v(V1)));
        let h = held(&new, ORG, 1_795_370_000);
        assert_eq!(plan(&new, Some(v(V1)), Some(&h), &[], ORG), Plan::Unchanged);
        // Owned by uuid as well.
        let mut h2 = h.clone();
        h2.orgc_id = "9".into();
        h2.orgc = Some(crate::misp::client::RemoteOrg {
            id: "9".into(),
            name: "x".into(),
            uuid: "A6EFA1FC-A068-42B2-A647-98A4E5567C24".into(),
        });
        assert_eq!(
            plan(
                &new,
                Some(v(V1)),
                Some(&h2),
                &[],
                "a6efa1fc-a068-42b2-a647-98a4e5567c24"
            ),
            Plan::Unchanged
        );
    }

    #[test]
    fn newer_held_version_is_stale_even_within_the_same_second() {
        let held_ev = stamp(&event(), Some(v(V2)));
        let h = held(&held_ev, ORG, v(V2).timestamp());
        let mut older = event();
        older.info = "older title".into();
        let new = stamp(&older, Some(v(V1)));
        assert_eq!(
            plan(&new, Some(v(V1)), Some(&h), &[], ORG),
            Plan::Stale { held: v(V2) }
        );
    }

    #[test]
    fn unknown_version_is_never_stale() {
        let h = held(&stamp(&event(), Some(v(V3))), ORG, 5);
        let mut e = event();
        e.info = "changed".into();
        let new = stamp(&e, None);
        let (body, _, _) = update_parts(plan(&new, None, Some(&h), &[], ORG));
        assert_eq!(body["Event"]["timestamp"], json!(6));
    }

    #[test]
    fn newer_version_updates_only_what_changed() {
        let h = held(&stamp(&event(), Some(v(V1))), ORG, v(V1).timestamp());
        let mut e = event();
        e.attributes[0].value = "198.51.100.8".into();
        e.objects.remove(1); // news item removed from the story
        e.objects[0].attributes[0].value = "first, edited".into();
        e.reports[0].content = "# Story v2".into();
        e.tags = vec![Tag::new("tlp:green"), Tag::new("taranis:story")];
        let new = stamp(&e, Some(v(V3)));
        let (body, remove_tags, changes) =
            update_parts(plan(&new, Some(v(V3)), Some(&h), &[], ORG));
        let ev = &body["Event"];
        assert_eq!(ev["timestamp"], json!(v(V3).timestamp()));
        assert_eq!(
            ev["published"],
            json!(false),
            "published is always explicit"
        );
        let attrs = ev["Attribute"].as_array().unwrap();
        // the changed ip and the marker; the (case-different) sha256 is not resent
        assert_eq!(attrs.len(), 2, "{attrs:?}");
        assert!(
            attrs
                .iter()
                .any(|a| a["value"] == "198.51.100.8" && a["deleted"] == false)
        );
        assert!(
            attrs
                .iter()
                .any(|a| a["uuid"] == json!(marker_uuid(event_uuid())))
        );
        let objs = ev["Object"].as_array().unwrap();
        assert_eq!(objs.len(), 2);
        let removed = objs.iter().find(|o| o["deleted"] == true).unwrap();
        assert_eq!(removed["uuid"], json!(Uuid::new_v5(&event_uuid(), b"n2")));
        assert_eq!(removed["Attribute"][0]["deleted"], json!(true));
        let changed = objs.iter().find(|o| o["deleted"] == false).unwrap();
        assert_eq!(changed["Attribute"][0]["value"], json!("first, edited"));
        let reports = ev["EventReport"].as_array().unwrap();
        assert_eq!(reports.len(), 1);
        assert_eq!(
            reports[0]["uuid"],
            json!(e.reports[0].uuid),
            "report updated in place"
        );
        assert_eq!(
            ev["Tag"],
            json!([{"name": "tlp:green"}, {"name": "tlp:amber", "deleted": true}])
        );
        assert_eq!(remove_tags, vec!["tlp:amber".to_owned()]);
        assert!(changes.len() >= 6, "{changes:?}");
    }

    #[test]
    fn removed_standalone_attribute_and_report_are_soft_deleted() {
        let h = held(&stamp(&event(), Some(v(V1))), ORG, 10);
        let mut e = event();
        e.attributes.remove(0);
        e.reports.clear();
        let new = stamp(&e, Some(v(V3)));
        let (body, _, _) = update_parts(plan(&new, Some(v(V3)), Some(&h), &[], ORG));
        let attrs = body["Event"]["Attribute"].as_array().unwrap();
        let del = attrs.iter().find(|a| a["deleted"] == true).unwrap();
        assert_eq!(del["uuid"], json!(Uuid::new_v5(&event_uuid(), b"a1")));
        assert_eq!(body["Event"]["EventReport"][0]["deleted"], json!(true));
    }

    #[test]
    fn held_timestamp_ahead_of_version_gives_held_plus_one() {
        let h = held(&stamp(&event(), Some(v(V1))), ORG, 1_900_000_000);
        let mut e = event();
        e.info = "new".into();
        let new = stamp(&e, Some(v(V3)));
        let (body, _, _) = update_parts(plan(&new, Some(v(V3)), Some(&h), &[], ORG));
        assert_eq!(body["Event"]["timestamp"], json!(1_900_000_001));
        assert_eq!(edit_timestamp(Some(v(V3)), &h), 1_900_000_001);
    }

    #[test]
    fn timestamps_stay_within_misp_range() {
        let far = v("9999-12-31T23:59:59Z");
        let new = stamp(&event(), Some(far));
        assert_eq!(new.timestamp, Some(MAX_MISP_TIMESTAMP - 1));
        let h = held(&stamp(&event(), None), ORG, 5);
        assert_eq!(edit_timestamp(Some(far), &h), MAX_MISP_TIMESTAMP - 1);
        assert_eq!(
            stamp(&event(), Some(v("1960-01-01T00:00:00Z"))).timestamp,
            None
        );
    }

    #[test]
    fn same_value_normalises_like_misp() {
        assert!(same_value("md5", "ABC", "abc"));
        assert!(same_value("domain", " Evil.Example ", "evil.example"));
        assert!(same_value("ip-dst", "2001:db8:0:0:0:0:0:1", "2001:db8::1"));
        assert!(!same_value("text", "ABC", "abc"));
        assert!(!same_value("ip-dst", "192.0.2.1", "192.0.2.2"));
    }

    fn proposal(
        old_id: &str,
        uuid: Option<Uuid>,
        a: &Attribute,
        deleted: bool,
        to_delete: bool,
    ) -> ShadowAttribute {
        ShadowAttribute {
            id: "1".into(),
            old_id: old_id.into(),
            event_id: "7".into(),
            uuid,
            type_: a.type_.clone(),
            category: a.category.clone(),
            value: a.value.clone(),
            to_ids: a.to_ids,
            comment: a.comment.clone(),
            org_id: "2".into(),
            org_uuid: String::new(),
            deleted,
            proposal_to_delete: to_delete,
        }
    }

    #[test]
    fn foreign_event_gets_proposals_and_an_extension() {
        // The owner (org 1) holds a1 (unchanged), a2 with another value, and x9 which we introduced earlier.
        let mut owner = event();
        owner.attributes[1].value = "00".repeat(32);
        let x9 = attr("x9", "domain", "gone.example");
        owner.attributes.push(x9.clone());
        let h = held(&owner, "1", 10);
        let a2_id = h
            .attributes
            .iter()
            .find(|a| a.uuid == owner.attributes[1].uuid)
            .unwrap()
            .id
            .clone();
        let x9_id = h
            .attributes
            .iter()
            .find(|a| a.uuid == x9.uuid)
            .unwrap()
            .id
            .clone();
        let mut e = event();
        let a3 = attr("a3", "url", "http://new.example/x");
        e.attributes.push(a3.clone());
        let new = stamp(&e, Some(v(V1)));
        let accepted_x9 = proposal("0", Some(x9.uuid), &x9, true, false);
        let Plan::Propose(p) = plan(
            &new,
            Some(v(V1)),
            Some(&h),
            std::slice::from_ref(&accepted_x9),
            "2",
        ) else {
            panic!("expected Propose");
        };
        assert_eq!(p.adds.len(), 1);
        assert_eq!(p.adds[0]["uuid"], json!(a3.uuid));
        assert_eq!(
            p.edits,
            vec![(a2_id.clone(), json!({"value": e.attributes[1].value}))]
        );
        assert_eq!(p.deletes, vec![x9_id.clone()]);
        let ext = &p.extension;
        assert_eq!(ext.uuid, extension_uuid(event_uuid(), "2"));
        assert_eq!(ext.extends_uuid, Some(event_uuid()));
        assert_eq!(ext.objects.len(), 2);
        assert!(
            ext.objects
                .iter()
                .all(|o| o.uuid != e.objects[0].uuid && o.uuid != e.objects[1].uuid)
        );
        assert_ne!(ext.reports[0].uuid, e.reports[0].uuid);
        assert_eq!(ext.attributes.len(), 1, "only the version marker");
        assert_eq!(ext.attributes[0].uuid, marker_uuid(ext.uuid));

        // Replay: the same proposals are pending now → nothing new is proposed.
        let pending = vec![
            accepted_x9,
            proposal("0", Some(a3.uuid), &a3, false, false),
            proposal(
                &a2_id,
                Some(e.attributes[1].uuid),
                &e.attributes[1],
                false,
                false,
            ),
            proposal(&x9_id, Some(x9.uuid), &x9, false, true),
        ];
        let Plan::Propose(p2) = plan(&new, Some(v(V1)), Some(&h), &pending, "2") else {
            panic!("expected Propose");
        };
        assert!(
            p2.adds.is_empty() && p2.edits.is_empty() && p2.deletes.is_empty(),
            "{p2:?}"
        );

        // Another org's proposals do not count as ours.
        let mut theirs = pending.clone();
        for t in &mut theirs {
            t.org_id = "3".into();
        }
        let Plan::Propose(p3) = plan(&new, Some(v(V1)), Some(&h), &theirs, "2") else {
            panic!("expected Propose");
        };
        assert_eq!((p3.adds.len(), p3.edits.len(), p3.deletes.len()), (1, 1, 0));
    }

    #[test]
    fn discarded_proposal_with_same_content_is_not_repeated_but_new_content_is() {
        let h = held(&event(), "1", 10);
        let mut e = event();
        let a3 = attr("a3", "url", "http://new.example/x");
        e.attributes.push(a3.clone());
        let new = stamp(&e, Some(v(V1)));
        let discarded = proposal("0", Some(a3.uuid), &a3, true, false);
        let Plan::Propose(p) = plan(
            &new,
            Some(v(V1)),
            Some(&h),
            std::slice::from_ref(&discarded),
            "2",
        ) else {
            panic!()
        };
        assert!(p.adds.is_empty());
        let mut e2 = e.clone();
        e2.attributes.last_mut().unwrap().value = "http://new.example/y".into();
        let new2 = stamp(&e2, Some(v(V3)));
        let Plan::Propose(p) = plan(&new2, Some(v(V3)), Some(&h), &[discarded], "2") else {
            panic!()
        };
        assert_eq!(p.adds.len(), 1);
    }

    #[test]
    fn extension_of_the_same_story_is_stale_or_unchanged_like_an_owned_event() {
        let h = held(&event(), "1", 10);
        let new = stamp(&event(), Some(v(V1)));
        let Plan::Propose(p) = plan(&new, Some(v(V1)), Some(&h), &[], "2") else {
            panic!()
        };
        let ext_held = held(&p.extension, "2", 20);
        assert_eq!(
            plan_owned(&p.extension, Some(v(V1)), &ext_held),
            Plan::Unchanged
        );
        // The owner syncs the same story with this connector and holds a newer version: stale.
        let owner_newer = held(&stamp(&event(), Some(v(V3))), "1", 10);
        assert_eq!(
            plan(&new, Some(v(V1)), Some(&owner_newer), &[], "2"),
            Plan::Stale { held: v(V3) }
        );
        let older = stamp(&event(), Some(v("2026-01-01T00:00:00Z")));
        let Plan::Propose(po) = plan(&older, Some(v("2026-01-01T00:00:00Z")), Some(&h), &[], "2")
        else {
            panic!()
        };
        assert!(matches!(
            plan_owned(&po.extension, Some(v("2026-01-01T00:00:00Z")), &ext_held),
            Plan::Stale { .. }
        ));
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;

        fn arb_event() -> impl Strategy<Value = Event> {
            (
                proptest::collection::vec(
                    (
                        "[a-z]{1,6}",
                        prop::sample::select(vec!["ip-dst", "domain", "md5", "text"]),
                        "[ -~]{0,12}",
                    ),
                    0..6,
                ),
                proptest::collection::vec("[a-z:]{1,8}", 0..4),
                0usize..3,
                any::<bool>(),
                "[ -~]{0,20}",
            )
                .prop_map(|(attrs, tags, n_objects, published, info)| {
                    let mut e = event();
                    e.info = info;
                    e.published = published;
                    e.attributes = attrs
                        .iter()
                        .enumerate()
                        .map(|(i, (k, t, v))| attr(&format!("{i}{k}"), t, v))
                        .collect();
                    e.objects.truncate(n_objects);
                    e.tags = tags
                        .into_iter()
                        .map(Tag::new)
                        .collect::<BTreeSet<_>>()
                        .into_iter()
                        .collect();
                    e
                })
        }

        proptest! {
            #[test]
            fn what_misp_holds_is_unchanged(e in arb_event(), secs in 0i64..2_000_000_000) {
                let version = DateTime::from_timestamp(secs, 0);
                let new = stamp(&e, version);
                let h = held(&new, ORG, 5);
                prop_assert_eq!(plan(&new, version, Some(&h), &[], ORG), Plan::Unchanged);
            }

            #[test]
            fn any_pair_plans_without_panic_and_never_writes_an_older_version(
                a in arb_event(), b in arb_event(), va in 1i64..2_000_000_000, vb in 1i64..2_000_000_000
            ) {
                let (va, vb) = (DateTime::from_timestamp(va, 0), DateTime::from_timestamp(vb, 0));
                let h = held(&stamp(&a, va), ORG, 5);
                let new = stamp(&b, vb);
                match plan(&new, vb, Some(&h), &[], ORG) {
                    Plan::Stale { held } => prop_assert!(Some(held) > vb),
                    Plan::Update { body, .. } => {
                        prop_assert!(vb >= va);
                        let ts = body["Event"]["timestamp"].as_i64().unwrap_or(0);
                        prop_assert!(ts > h.timestamp);
                    }
                    Plan::Unchanged => prop_assert!(vb >= va),
                    other => prop_assert!(false, "unexpected {:?}", other),
                }
                // Foreign: never panics, never proposes the marker.
                let fh = held(&stamp(&a, va), "9", 5);
                if let Plan::Propose(p) = plan(&new, vb, Some(&fh), &[], ORG) {
                    prop_assert!(p.adds.iter().all(|x| x["uuid"] != json!(marker_uuid(e_uuid()))));
                }
            }
        }

        fn e_uuid() -> Uuid {
            event_uuid()
        }
    }
}
