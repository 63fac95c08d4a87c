//! The MISP event we build and send: `{"Event": {…}}` with attributes, objects, the Event Report and tags.
//!
//! Field names and encodings follow MISP's JSON (`Attribute`, `Object`, `EventReport`, `Tag`,
//! `meta-category`, …). Optional fields are omitted when unset so the JSON stays minimal and stable.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Distribution value meaning "inherit from the event" for attributes, objects and reports.
pub const DISTRIBUTION_INHERIT: u8 = 5;

/// The wrapper MISP expects on `/events/add` and `/events/edit`: `{"Event": {…}}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EventEnvelope {
    #[serde(rename = "Event")]
    pub event: Event,
}

/// A MISP event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// = story id, lower case.
    pub uuid: Uuid,
    pub info: String,
    /// `YYYY-MM-DD`.
    pub date: String,
    /// 0 org only, 1 community, 2 connected, 3 all, 4 sharing group. Always sent (0 included).
    pub distribution: u8,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sharing_group_id: Option<u64>,
    /// 1 high, 2 medium, 3 low, 4 undefined.
    pub threat_level_id: u8,
    /// 0 initial, 1 ongoing, 2 completed.
    pub analysis: u8,
    /// Always sent explicitly: leaving it out of an edit unpublishes the event.
    pub published: bool,
    /// Unix seconds; MISP refuses an edit whose timestamp is not newer than the stored one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<i64>,
    /// Set on our extension event of a foreign-owned event.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub extends_uuid: Option<Uuid>,
    #[serde(rename = "Attribute", default, skip_serializing_if = "Vec::is_empty")]
    pub attributes: Vec<Attribute>,
    #[serde(rename = "Object", default, skip_serializing_if = "Vec::is_empty")]
    pub objects: Vec<MispObject>,
    #[serde(rename = "EventReport", default, skip_serializing_if = "Vec::is_empty")]
    pub reports: Vec<EventReport>,
    #[serde(rename = "Tag", default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<Tag>,
}

/// A MISP attribute (standalone or inside an object).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Attribute {
    /// UUIDv5(event uuid, stable key).
    pub uuid: Uuid,
    #[serde(rename = "type")]
    pub type_: String,
    pub category: String,
    pub value: String,
    pub to_ids: bool,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub comment: String,
    pub distribution: u8,
    /// Relation inside an object (`None` for standalone attributes).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub object_relation: Option<String>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub disable_correlation: bool,
    /// Soft delete: sent on edit for items that left the story.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub deleted: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_seen: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_seen: Option<String>,
    #[serde(rename = "Tag", default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<Tag>,
}

/// A MISP object built from a template.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MispObject {
    /// UUIDv5(event uuid, stable key).
    pub uuid: Uuid,
    pub name: String,
    #[serde(rename = "meta-category")]
    pub meta_category: String,
    pub description: String,
    pub template_uuid: Uuid,
    pub template_version: String,
    pub distribution: u8,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub comment: String,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub deleted: bool,
    #[serde(rename = "Attribute", default)]
    pub attributes: Vec<Attribute>,
}

/// The Event Report (markdown), embedded in the add/edit payload.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EventReport {
    /// UUIDv5(event uuid, "event-report"): updated in place.
    pub uuid: Uuid,
    pub name: String,
    pub content: String,
    pub distribution: u8,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub deleted: bool,
}

/// A tag by name (MISP creates unknown tags on event add/edit for users allowed to).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Tag {
    pub name: String,
}

impl Tag {
    pub fn new(name: impl Into<String>) -> Tag {
        Tag { name: name.into() }
    }
}
