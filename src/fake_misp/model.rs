//! The fake MISP's data: users, organisations, tags, events with attributes/objects/reports, proposals.
//!
//! Tables mirror MISP's database (global attribute/object/report tables keyed by id, uuid indexes across the
//! whole instance) because several MISP rules are instance-wide: attribute uuids are unique everywhere
//! (transcript 20), a deleted event's uuid stays blocklisted (89), proposals point at attribute ids (48).

use std::collections::{BTreeMap, HashMap, HashSet};

/// An organisation of the fake instance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Org {
    pub id: u64,
    pub name: String,
    pub uuid: String,
}

/// A user (one per organisation) and what its role allows.
#[derive(Debug, Clone)]
pub struct User {
    pub id: u64,
    pub org_id: u64,
    pub email: String,
    pub key: String,
    /// Site admin: may view and edit every event (transcripts' `admin` key).
    pub site_admin: bool,
    /// `perm_publish` (the "User" role of org B has none).
    pub perm_publish: bool,
}

/// A sharing group the fake knows (`/sharing_groups/view/{id}`, distribution 4).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SharingGroup {
    pub id: u64,
    pub uuid: String,
    pub name: String,
    /// Organisation ids that belong to the group (the creator org 1 is always a member).
    pub org_ids: Vec<u64>,
}

/// A tag definition (`tags` table).
#[derive(Debug, Clone)]
pub struct Tag {
    pub id: u64,
    pub name: String,
    pub colour: String,
}

/// A tag attached to an event or attribute.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TagRef {
    pub tag_id: u64,
    pub local: bool,
}

/// An attribute row (standalone when `object_id == 0`).
#[derive(Debug, Clone)]
pub struct Attr {
    pub id: u64,
    pub event_id: u64,
    pub object_id: u64,
    pub object_relation: Option<String>,
    pub category: String,
    pub type_: String,
    pub value: String,
    pub to_ids: bool,
    pub uuid: String,
    pub timestamp: i64,
    pub distribution: u8,
    pub sharing_group_id: u64,
    pub comment: String,
    pub deleted: bool,
    pub disable_correlation: bool,
    pub first_seen: Option<String>,
    pub last_seen: Option<String>,
    pub tags: Vec<TagRef>,
}

/// An object row; its attributes live in the attribute table.
#[derive(Debug, Clone)]
pub struct Obj {
    pub id: u64,
    pub event_id: u64,
    pub uuid: String,
    pub name: String,
    pub meta_category: String,
    pub description: String,
    pub template_uuid: String,
    pub template_version: String,
    pub timestamp: i64,
    pub distribution: u8,
    pub sharing_group_id: u64,
    pub comment: String,
    pub deleted: bool,
    pub first_seen: Option<String>,
    pub last_seen: Option<String>,
    pub attributes: Vec<u64>,
}

/// An Event Report row.
#[derive(Debug, Clone)]
pub struct Report {
    pub id: u64,
    pub uuid: String,
    pub event_id: u64,
    pub name: String,
    pub content: String,
    pub distribution: u8,
    pub sharing_group_id: u64,
    pub timestamp: i64,
    pub deleted: bool,
}

/// An event row with the ids of what belongs to it.
#[derive(Debug, Clone)]
pub struct Event {
    pub id: u64,
    pub uuid: String,
    pub orgc_id: u64,
    pub org_id: u64,
    pub creator_email: String,
    pub date: String,
    pub threat_level_id: u8,
    pub info: String,
    pub published: bool,
    pub analysis: u8,
    pub timestamp: i64,
    pub distribution: u8,
    pub sharing_group_id: u64,
    pub publish_timestamp: i64,
    pub disable_correlation: bool,
    pub extends_uuid: String,
    /// Standalone attribute ids, in insertion order.
    pub attributes: Vec<u64>,
    pub objects: Vec<u64>,
    pub reports: Vec<u64>,
    pub tags: Vec<TagRef>,
}

/// A proposal (`shadow_attributes` row).
#[derive(Debug, Clone)]
pub struct Proposal {
    pub id: u64,
    /// The attribute this proposal edits or deletes; 0 for a proposed new attribute.
    pub old_id: u64,
    pub event_id: u64,
    pub type_: String,
    pub category: String,
    pub value: String,
    pub comment: String,
    pub to_ids: bool,
    pub uuid: String,
    pub org_id: u64,
    pub email: String,
    /// Accepted or discarded.
    pub deleted: bool,
    pub proposal_to_delete: bool,
    pub timestamp: i64,
    pub first_seen: Option<String>,
    pub last_seen: Option<String>,
}

/// The whole instance.
#[derive(Debug, Default)]
pub struct Store {
    pub orgs: Vec<Org>,
    pub users: Vec<User>,
    pub sharing_groups: Vec<SharingGroup>,
    pub events: BTreeMap<u64, Event>,
    pub event_by_uuid: HashMap<String, u64>,
    pub attrs: HashMap<u64, Attr>,
    pub attr_by_uuid: HashMap<String, u64>,
    pub objects: HashMap<u64, Obj>,
    pub object_by_uuid: HashMap<String, u64>,
    pub reports: HashMap<u64, Report>,
    pub report_by_uuid: HashMap<String, u64>,
    pub tags: Vec<Tag>,
    pub tag_by_name: HashMap<String, u64>,
    pub proposals: BTreeMap<u64, Proposal>,
    pub blocklist: HashSet<String>,
    pub next_event: u64,
    pub next_attr: u64,
    pub next_object: u64,
    pub next_report: u64,
    pub next_tag: u64,
    pub next_proposal: u64,
}

/// Org 1 exactly as in the transcripts.
pub const ORG_A_NAME: &str = "ORGNAME";
pub const ORG_A_UUID: &str = "a6efa1fc-a068-42b2-a647-98a4e5567c24";
/// Org 2 exactly as in the transcripts.
pub const ORG_B_NAME: &str = "ORG-B";
pub const ORG_B_UUID: &str = "bbbbbbbb-0000-4000-8000-000000000002";

/// The TLP tags a fresh MISP with the tlp taxonomy enabled has, with the ids of transcript 32.
const SEED_TAGS: &[(u64, &str, &str)] = &[
    (1, "tlp:red", "#FF2B2B"),
    (2, "tlp:amber", "#FFC000"),
    (3, "tlp:amber+strict", "#FFC000"),
    (4, "tlp:green", "#33FF00"),
    (5, "tlp:white", "#ffffff"),
    (6, "tlp:clear", "#ffffff"),
    (7, "tlp:ex:chr", "#d208f4"),
    (8, "tlp:unclear", "#7e7eae"),
];

impl Store {
    /// A fresh instance with the two organisations/users of the transcripts and the given sharing groups.
    pub fn new(admin_key: &str, org_b_key: &str, sharing_groups: Vec<SharingGroup>) -> Store {
        let mut store = Store {
            orgs: vec![
                Org {
                    id: 1,
                    name: ORG_A_NAME.to_owned(),
                    uuid: ORG_A_UUID.to_owned(),
                },
                Org {
                    id: 2,
                    name: ORG_B_NAME.to_owned(),
                    uuid: ORG_B_UUID.to_owned(),
                },
            ],
            users: vec![
                User {
                    id: 1,
                    org_id: 1,
                    email: "admin@admin.test".to_owned(),
                    key: admin_key.to_owned(),
                    site_admin: true,
                    perm_publish: true,
                },
                User {
                    id: 2,
                    org_id: 2,
                    email: "userb@orgb.test".to_owned(),
                    key: org_b_key.to_owned(),
                    site_admin: false,
                    perm_publish: false,
                },
            ],
            sharing_groups,
            next_event: 1,
            next_attr: 1,
            next_object: 1,
            next_report: 1,
            next_tag: 9,
            next_proposal: 1,
            ..Store::default()
        };
        for (id, name, colour) in SEED_TAGS {
            store.tags.push(Tag {
                id: *id,
                name: (*name).to_owned(),
                colour: (*colour).to_owned(),
            });
            store.tag_by_name.insert((*name).to_owned(), *id);
        }
        store
    }

    pub fn org(&self, id: u64) -> Option<&Org> {
        self.orgs.iter().find(|o| o.id == id)
    }

    pub fn tag(&self, id: u64) -> Option<&Tag> {
        // Tag ids are dense and start at 1.
        self.tags
            .get(usize::try_from(id).ok()?.checked_sub(1)?)
            .filter(|t| t.id == id)
    }

    /// Find or create a tag by exact name (MISP creates unknown tags on event add/edit).
    pub fn tag_id_for(&mut self, name: &str) -> u64 {
        if let Some(id) = self.tag_by_name.get(name) {
            return *id;
        }
        let id = self.tags.len() as u64 + 1;
        self.tags.push(Tag {
            id,
            name: name.to_owned(),
            colour: "#3a5abc".to_owned(),
        });
        self.tag_by_name.insert(name.to_owned(), id);
        self.next_tag = id + 1;
        id
    }

    /// An event by numeric id or uuid (MISP accepts both in URLs). Uuids are compared exactly: the column
    /// collation is case-sensitive (`utf8mb3_bin`), so an upper-case uuid finds nothing.
    pub fn find_event(&self, id_or_uuid: &str) -> Option<u64> {
        if let Ok(id) = id_or_uuid.parse::<u64>() {
            return self.events.contains_key(&id).then_some(id);
        }
        self.event_by_uuid.get(id_or_uuid).copied()
    }

    /// An attribute by numeric id or uuid.
    pub fn find_attr(&self, id_or_uuid: &str) -> Option<u64> {
        if let Ok(id) = id_or_uuid.parse::<u64>() {
            return self.attrs.contains_key(&id).then_some(id);
        }
        self.attr_by_uuid.get(id_or_uuid).copied()
    }

    /// A report by numeric id or uuid.
    pub fn find_report(&self, id_or_uuid: &str) -> Option<u64> {
        if let Ok(id) = id_or_uuid.parse::<u64>() {
            return self.reports.contains_key(&id).then_some(id);
        }
        self.report_by_uuid.get(id_or_uuid).copied()
    }

    /// Whether `user` may see `event` (distribution rules; site admins see everything).
    pub fn can_see(&self, user: &User, event: &Event) -> bool {
        if user.site_admin || event.org_id == user.org_id || event.orgc_id == user.org_id {
            return true;
        }
        match event.distribution {
            1..=3 => true,
            4 => self
                .sharing_groups
                .iter()
                .any(|sg| sg.id == event.sharing_group_id && sg.org_ids.contains(&user.org_id)),
            _ => false,
        }
    }

    /// Whether `user` may modify `event`: site admin, or the creator organisation (`orgc_id`).
    pub fn can_modify(&self, user: &User, event: &Event) -> bool {
        user.site_admin || event.orgc_id == user.org_id
    }

    /// Whether `user` may use sharing group `id`.
    pub fn sharing_group_usable(&self, user: &User, id: u64) -> bool {
        self.sharing_groups
            .iter()
            .any(|sg| sg.id == id && (user.site_admin || sg.org_ids.contains(&user.org_id)))
    }

    /// Number of live (not soft-deleted) attributes of an event, object attributes included.
    pub fn attribute_count(&self, event: &Event) -> usize {
        let standalone = event
            .attributes
            .iter()
            .filter(|id| self.attrs.get(id).is_some_and(|a| !a.deleted))
            .count();
        let in_objects: usize = event
            .objects
            .iter()
            .filter_map(|id| self.objects.get(id))
            .map(|o| {
                o.attributes
                    .iter()
                    .filter(|id| self.attrs.get(id).is_some_and(|a| !a.deleted))
                    .count()
            })
            .sum();
        standalone + in_objects
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seed_tags_have_transcript_ids_and_new_tags_follow() {
        let mut s = Store::new("a", "b", Vec::new());
        assert_eq!(s.tag_id_for("tlp:green"), 4);
        assert_eq!(s.tag_id_for("tlp:white"), 5);
        let new = s.tag_id_for("custom:new-tag=\"x\"");
        assert_eq!(new, 9);
        assert_eq!(
            s.tag(new).map(|t| t.name.as_str()),
            Some("custom:new-tag=\"x\"")
        );
        assert!(s.tag(0).is_none());
        assert!(s.tag(99).is_none());
    }
}
