//! JSON shapes of the fake MISP's answers, copied from the recorded responses of MISP 2.5.1.
//!
//! MISP sends ids, timestamps and enum-like numbers as strings and flags as booleans; clients that parse
//! MISP must cope with that, so the fake does exactly the same (transcripts 2, 4, 22, 33, 44, 54, 84, 96).

use serde_json::{Map, Value, json};

use super::model::{Attr, Event, Obj, Proposal, Report, Store, TagRef, User};

/// Options of `/events/view` that change what is rendered.
#[derive(Debug, Clone, Copy, Default)]
pub struct ViewOpts {
    /// `deleted:1` named parameter: include soft-deleted attributes and objects (hidden by default,
    /// notes/misp.md §2.4). Event reports are always listed with their `deleted` flag (transcript 117).
    pub include_deleted: bool,
    /// `metadata:1`: the event without attributes, objects, reports and proposals.
    pub metadata: bool,
}

fn s<T: ToString>(v: T) -> Value {
    Value::String(v.to_string())
}

fn opt(v: &Option<String>) -> Value {
    v.as_ref().map_or(Value::Null, |x| Value::String(x.clone()))
}

/// A tag as embedded in events and attributes (transcript 2).
pub fn tag(store: &Store, r: &TagRef) -> Option<Value> {
    let t = store.tag(r.tag_id)?;
    Some(json!({
        "id": s(t.id), "name": t.name, "colour": t.colour, "exportable": true, "user_id": "0",
        "hide_tag": false, "numerical_value": null, "is_galaxy": false, "is_custom_galaxy": false,
        "local_only": false, "local": r.local, "relationship_type": null,
    }))
}

fn tags(store: &Store, refs: &[TagRef]) -> Vec<Value> {
    refs.iter().filter_map(|r| tag(store, r)).collect()
}

/// An attribute inside an event view (transcript 4), with its open proposals.
/// `open` holds the event's open proposals the viewer may see (computed once per event view).
pub fn attribute_in_event(store: &Store, a: &Attr, open: &[&Proposal]) -> Value {
    let proposals: Vec<Value> = open
        .iter()
        .filter(|p| p.old_id == a.id)
        .map(|p| proposal_in_event(store, p))
        .collect();
    let mut v = json!({
        "id": s(a.id), "type": a.type_, "category": a.category, "to_ids": a.to_ids, "uuid": a.uuid,
        "event_id": s(a.event_id), "distribution": s(a.distribution), "timestamp": s(a.timestamp),
        "comment": a.comment, "sharing_group_id": s(a.sharing_group_id), "deleted": a.deleted,
        "disable_correlation": a.disable_correlation, "object_id": s(a.object_id),
        "object_relation": opt(&a.object_relation), "first_seen": opt(&a.first_seen),
        "last_seen": opt(&a.last_seen), "value": a.value, "Galaxy": [], "ShadowAttribute": proposals,
    });
    if !a.tags.is_empty()
        && let Value::Object(m) = &mut v
    {
        m.insert("Tag".to_owned(), Value::Array(tags(store, &a.tags)));
    }
    v
}

/// An attribute as answered by `/attributes/add` and `/attributes/edit` (transcripts 22, 109).
pub fn attribute_flat(a: &Attr, with_value12: bool) -> Value {
    let mut v = json!({
        "id": s(a.id), "event_id": s(a.event_id), "object_id": s(a.object_id),
        "object_relation": opt(&a.object_relation), "category": a.category, "type": a.type_,
        "to_ids": a.to_ids, "uuid": a.uuid, "timestamp": s(a.timestamp), "distribution": s(a.distribution),
        "sharing_group_id": s(a.sharing_group_id), "comment": a.comment, "deleted": a.deleted,
        "disable_correlation": a.disable_correlation, "first_seen": opt(&a.first_seen),
        "last_seen": opt(&a.last_seen), "value": a.value,
    });
    if with_value12 && let Value::Object(m) = &mut v {
        let (v1, v2) = a.value.split_once('|').unwrap_or((a.value.as_str(), ""));
        m.insert("value1".to_owned(), s(v1));
        m.insert("value2".to_owned(), s(v2));
    }
    v
}

/// An object inside an event view (transcript 96).
pub fn object_in_event(store: &Store, o: &Obj, open: &[&Proposal], opts: ViewOpts) -> Value {
    let attrs: Vec<Value> = o
        .attributes
        .iter()
        .filter_map(|id| store.attrs.get(id))
        .filter(|a| opts.include_deleted || !a.deleted)
        .map(|a| attribute_in_event(store, a, open))
        .collect();
    json!({
        "id": s(o.id), "name": o.name, "meta-category": o.meta_category, "description": o.description,
        "template_uuid": o.template_uuid, "template_version": o.template_version, "event_id": s(o.event_id),
        "uuid": o.uuid, "timestamp": s(o.timestamp), "distribution": s(o.distribution),
        "sharing_group_id": s(o.sharing_group_id), "comment": o.comment, "deleted": o.deleted,
        "first_seen": opt(&o.first_seen), "last_seen": opt(&o.last_seen), "ObjectReference": [],
        "Attribute": attrs,
    })
}

/// An object as answered by `/objects/add` (transcript 91).
pub fn object_flat(store: &Store, o: &Obj) -> Value {
    let attrs: Vec<Value> = o
        .attributes
        .iter()
        .filter_map(|id| store.attrs.get(id))
        .map(|a| attribute_flat(a, true))
        .collect();
    json!({
        "id": s(o.id), "name": o.name, "meta-category": o.meta_category, "description": o.description,
        "template_uuid": o.template_uuid, "template_version": o.template_version, "event_id": s(o.event_id),
        "uuid": o.uuid, "timestamp": s(o.timestamp), "distribution": s(o.distribution),
        "sharing_group_id": s(o.sharing_group_id), "comment": o.comment, "deleted": o.deleted,
        "first_seen": opt(&o.first_seen), "last_seen": opt(&o.last_seen), "Attribute": attrs,
    })
}

/// A report row (transcripts 33, 86).
pub fn report(r: &Report) -> Value {
    json!({
        "id": s(r.id), "uuid": r.uuid, "event_id": s(r.event_id), "name": r.name, "content": r.content,
        "distribution": s(r.distribution), "sharing_group_id": s(r.sharing_group_id),
        "timestamp": s(r.timestamp), "deleted": r.deleted,
    })
}

/// The answer of `/event_reports/add|edit|view` (transcripts 33, 38).
pub fn report_response(store: &Store, r: &Report, with_relationships: bool) -> Value {
    let event = store.events.get(&r.event_id);
    let org = |id: u64| {
        let name = store.org(id).map(|o| o.name.clone()).unwrap_or_default();
        json!({"id": s(id), "name": name})
    };
    let ev = event.map_or(Value::Null, |e| {
        json!({
            "id": s(e.id), "orgc_id": s(e.orgc_id), "org_id": s(e.org_id), "info": e.info,
            "user_id": s(e.org_id), "date": e.date, "Org": org(e.org_id), "Orgc": org(e.orgc_id),
        })
    });
    let mut v = json!({
        "EventReport": report(r), "Event": ev,
        "SharingGroup": {"id": null, "name": null, "uuid": null},
    });
    if with_relationships && let Value::Object(m) = &mut v {
        m.insert("RelationshipInbound".to_owned(), json!([]));
    }
    v
}

fn org_short(store: &Store, id: u64, with_local: bool) -> Value {
    let (name, uuid) = store.org(id).map_or((String::new(), String::new()), |o| {
        (o.name.clone(), o.uuid.clone())
    });
    if with_local {
        json!({"id": s(id), "name": name, "uuid": uuid, "local": true})
    } else {
        json!({"id": s(id), "name": name, "uuid": uuid})
    }
}

/// A proposal embedded in an event view (transcript 47).
pub fn proposal_in_event(store: &Store, p: &Proposal) -> Value {
    let event_uuid = store
        .events
        .get(&p.event_id)
        .map(|e| e.uuid.clone())
        .unwrap_or_default();
    json!({
        "id": s(p.id), "type": p.type_, "category": p.category, "to_ids": p.to_ids, "uuid": p.uuid,
        "event_uuid": event_uuid, "event_id": s(p.event_id), "old_id": s(p.old_id), "comment": p.comment,
        "org_id": s(p.org_id), "proposal_to_delete": p.proposal_to_delete, "timestamp": s(p.timestamp),
        "first_seen": opt(&p.first_seen), "last_seen": opt(&p.last_seen), "value": p.value,
        "Org": org_short(store, p.org_id, true),
    })
}

/// The answer of `/shadow_attributes/add|edit` (transcripts 44, 48).
pub fn proposal_saved(store: &Store, p: &Proposal) -> Value {
    let event_org = store.events.get(&p.event_id).map_or(0, |e| e.orgc_id);
    json!({"ShadowAttribute": {
        "id": s(p.id), "old_id": s(p.old_id), "event_id": s(p.event_id), "type": p.type_,
        "category": p.category, "comment": p.comment, "to_ids": p.to_ids, "uuid": p.uuid,
        "event_org_id": s(event_org), "email": p.email, "deleted": p.deleted, "timestamp": s(p.timestamp),
        "first_seen": opt(&p.first_seen), "last_seen": opt(&p.last_seen), "value": p.value,
    }})
}

/// One entry of `/shadow_attributes/index` (transcripts 54, 55, 113).
pub fn proposal_index_entry(store: &Store, p: &Proposal) -> Value {
    let event_uuid = store
        .events
        .get(&p.event_id)
        .map(|e| e.uuid.clone())
        .unwrap_or_default();
    let (org_name, org_uuid) = store
        .org(p.org_id)
        .map_or((String::new(), String::new()), |o| {
            (o.name.clone(), o.uuid.clone())
        });
    let mut m = Map::new();
    for (k, v) in [
        ("id", s(p.id)),
        ("old_id", s(p.old_id)),
        ("event_id", s(p.event_id)),
        ("type", s(&p.type_)),
        ("category", s(&p.category)),
        ("uuid", s(&p.uuid)),
        ("to_ids", Value::Bool(p.to_ids)),
        ("comment", s(&p.comment)),
        ("org_id", s(p.org_id)),
        ("timestamp", s(p.timestamp)),
        ("first_seen", opt(&p.first_seen)),
        ("last_seen", opt(&p.last_seen)),
        ("deleted", Value::Bool(p.deleted)),
        ("proposal_to_delete", Value::Bool(p.proposal_to_delete)),
        ("disable_correlation", Value::Bool(false)),
        ("value", s(&p.value)),
        ("org_uuid", s(&org_uuid)),
        ("event_uuid", s(event_uuid)),
        (
            "Org",
            json!({"name": org_name, "uuid": org_uuid, "id": s(p.org_id)}),
        ),
    ] {
        m.insert(k.to_owned(), v);
    }
    if p.old_id != 0
        && let Some(a) = store.attrs.get(&p.old_id)
    {
        m.insert("old_uuid".to_owned(), s(&a.uuid));
    }
    json!({ "ShadowAttribute": m })
}

/// The full `{"Event": …}` of `/events/view`, `/events/add`, `/events/edit` (transcripts 2, 4, 47, 96).
pub fn event(store: &Store, e: &Event, viewer: &User, opts: ViewOpts) -> Value {
    let owner_view = viewer.site_admin || viewer.org_id == e.orgc_id;
    let mut m = Map::new();
    for (k, v) in [
        ("id", s(e.id)),
        ("orgc_id", s(e.orgc_id)),
        ("org_id", s(e.org_id)),
        ("date", s(&e.date)),
        ("threat_level_id", s(e.threat_level_id)),
        ("info", s(&e.info)),
        ("published", Value::Bool(e.published)),
        ("uuid", s(&e.uuid)),
        ("attribute_count", s(store.attribute_count(e))),
        ("analysis", s(e.analysis)),
        ("timestamp", s(e.timestamp)),
        ("distribution", s(e.distribution)),
        ("proposal_email_lock", Value::Bool(false)),
        ("locked", Value::Bool(false)),
        ("publish_timestamp", s(e.publish_timestamp)),
        ("sharing_group_id", s(e.sharing_group_id)),
        ("disable_correlation", Value::Bool(e.disable_correlation)),
        ("extends_uuid", s(&e.extends_uuid)),
        ("protected", Value::Null),
        ("Org", org_short(store, e.org_id, true)),
        ("Orgc", org_short(store, e.orgc_id, true)),
    ] {
        m.insert(k.to_owned(), v);
    }
    // Transcript 61: another organisation does not see the creator's e-mail.
    if viewer.site_admin || viewer.org_id == e.org_id {
        m.insert("event_creator_email".to_owned(), s(&e.creator_email));
    }
    if !opts.metadata {
        // The event's open proposals this viewer may see, gathered once (not once per attribute).
        let open: Vec<&Proposal> = store
            .proposals
            .values()
            .filter(|p| {
                p.event_id == e.id && !p.deleted && (owner_view || p.org_id == viewer.org_id)
            })
            .collect();
        let attrs: Vec<Value> = e
            .attributes
            .iter()
            .filter_map(|id| store.attrs.get(id))
            .filter(|a| opts.include_deleted || !a.deleted)
            .map(|a| attribute_in_event(store, a, &open))
            .collect();
        let objects: Vec<Value> = e
            .objects
            .iter()
            .filter_map(|id| store.objects.get(id))
            .filter(|o| opts.include_deleted || !o.deleted)
            .map(|o| object_in_event(store, o, &open, opts))
            .collect();
        let reports: Vec<Value> = e
            .reports
            .iter()
            .filter_map(|id| store.reports.get(id))
            .map(report)
            .collect();
        let proposals: Vec<Value> = open
            .iter()
            .filter(|p| p.old_id == 0)
            .map(|p| proposal_in_event(store, p))
            .collect();
        m.insert("Attribute".to_owned(), Value::Array(attrs));
        m.insert("ShadowAttribute".to_owned(), Value::Array(proposals));
        m.insert("RelatedEvent".to_owned(), json!([]));
        m.insert("Galaxy".to_owned(), json!([]));
        m.insert("Object".to_owned(), Value::Array(objects));
        m.insert("EventReport".to_owned(), Value::Array(reports));
        m.insert("CryptographicKey".to_owned(), json!([]));
    }
    m.insert("Tag".to_owned(), Value::Array(tags(store, &e.tags)));
    if e.distribution == 4
        && let Some(sg) = store
            .sharing_groups
            .iter()
            .find(|g| g.id == e.sharing_group_id)
    {
        m.insert(
            "SharingGroup".to_owned(),
            json!({"id": s(sg.id), "name": sg.name, "uuid": sg.uuid, "releasability": "", "description": "", "active": true, "roaming": false}),
        );
    }
    json!({ "Event": m })
}

/// `/sharing_groups/view/{id}` (transcript 84).
pub fn sharing_group(store: &Store, id: u64) -> Option<Value> {
    let sg = store.sharing_groups.iter().find(|g| g.id == id)?;
    let creator = org_short(store, 1, false);
    let members: Vec<Value> = sg
        .org_ids
        .iter()
        .filter(|o| **o != 1)
        .enumerate()
        .map(|(i, o)| {
            json!({"id": s(i + 1), "sharing_group_id": s(sg.id), "org_id": s(o), "extend": false,
                   "Organisation": org_short(store, *o, true)})
        })
        .collect();
    let a = store
        .org(1)
        .map(|o| (o.name.clone(), o.uuid.clone()))
        .unwrap_or_default();
    Some(json!({
        "SharingGroup": {
            "id": s(sg.id), "name": sg.name, "releasability": "", "description": "", "uuid": sg.uuid,
            "organisation_uuid": a.1, "org_id": "1", "sync_user_id": "1", "active": true,
            "created": "2026-11-22 18:58:11", "modified": "2026-11-22 18:58:11", "local": false,
            "roaming": false, "sync_org_name": a.0, "sync_org": creator,
        },
        "Organisation": {"id": "1", "name": a.0, "uuid": a.1, "local": true, "type": "ADMIN"},
        "SharingGroupOrg": members,
        "SharingGroupServer": [{"id": "1", "sharing_group_id": s(sg.id), "server_id": "0", "all_orgs": false,
            "Server": {"id": "0", "name": "Local instance", "url": ""}}],
    }))
}
