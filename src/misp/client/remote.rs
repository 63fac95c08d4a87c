//! What MISP sends back, read leniently.
//!
//! MISP's JSON encodes ids, counts, timestamps and sometimes booleans as strings (`"id": "7"`,
//! `"distribution": "5"`, `"deleted": "0"`), fields are `null` or absent depending on version and path.
//! These types accept all those spellings and default everything we do not strictly need.

use serde::{Deserialize, Deserializer};
use serde_json::Value;
use uuid::Uuid;

/// A string that MISP may send as a string, a number or null.
pub(crate) fn lenient_string<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    Ok(match Value::deserialize(d)? {
        Value::String(s) => s,
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => if b { "1" } else { "0" }.to_owned(),
        _ => String::new(),
    })
}

/// An integer that MISP may send as a string, a number or null (null/garbage → 0).
pub(crate) fn lenient_i64<'de, D: Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
    Ok(match Value::deserialize(d)? {
        Value::Number(n) => n.as_i64().unwrap_or(0),
        Value::String(s) => s.trim().parse().unwrap_or(0),
        Value::Bool(b) => i64::from(b),
        _ => 0,
    })
}

/// A boolean that MISP may send as `true`, `1`, `"1"`, `"true"` or null.
pub(crate) fn lenient_bool<'de, D: Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    Ok(match Value::deserialize(d)? {
        Value::Bool(b) => b,
        Value::Number(n) => n.as_i64().unwrap_or(0) != 0,
        Value::String(s) => matches!(s.trim(), "1" | "true" | "True"),
        _ => false,
    })
}

/// An optional string: null and "" become `None`.
pub(crate) fn lenient_opt_string<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<Option<String>, D::Error> {
    let s = lenient_string(d)?;
    Ok((!s.is_empty()).then_some(s))
}

/// A list that MISP may send as null or omit.
fn lenient_vec<'de, D: Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Vec<T>, D::Error> {
    Ok(Option::<Vec<T>>::deserialize(d)?.unwrap_or_default())
}

/// An organisation reference (`Org`, `Orgc`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct RemoteOrg {
    #[serde(default, deserialize_with = "lenient_string")]
    pub id: String,
    #[serde(default, deserialize_with = "lenient_string")]
    pub name: String,
    #[serde(default, deserialize_with = "lenient_string")]
    pub uuid: String,
}

/// An event as `/events/view`, `/events/add` and `/events/edit` return it (inside `{"Event": …}`).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct RemoteEvent {
    #[serde(default, deserialize_with = "lenient_string")]
    pub id: String,
    pub uuid: Uuid,
    #[serde(default, deserialize_with = "lenient_string")]
    pub orgc_id: String,
    #[serde(default, deserialize_with = "lenient_string")]
    pub org_id: String,
    #[serde(rename = "Orgc", default)]
    pub orgc: Option<RemoteOrg>,
    #[serde(default, deserialize_with = "lenient_string")]
    pub info: String,
    #[serde(default, deserialize_with = "lenient_string")]
    pub date: String,
    #[serde(default, deserialize_with = "lenient_i64")]
    pub distribution: i64,
    #[serde(default, deserialize_with = "lenient_i64")]
    pub sharing_group_id: i64,
    #[serde(default, deserialize_with = "lenient_i64")]
    pub threat_level_id: i64,
    #[serde(default, deserialize_with = "lenient_i64")]
    pub analysis: i64,
    #[serde(default, deserialize_with = "lenient_bool")]
    pub published: bool,
    /// Unix seconds of the last change (MISP's edit guard compares against it).
    #[serde(default, deserialize_with = "lenient_i64")]
    pub timestamp: i64,
    #[serde(default, deserialize_with = "lenient_opt_string")]
    pub extends_uuid: Option<String>,
    #[serde(rename = "Attribute", default, deserialize_with = "lenient_vec")]
    pub attributes: Vec<RemoteAttribute>,
    #[serde(rename = "Object", default, deserialize_with = "lenient_vec")]
    pub objects: Vec<RemoteObject>,
    #[serde(rename = "EventReport", default, deserialize_with = "lenient_vec")]
    pub reports: Vec<RemoteReport>,
    #[serde(rename = "Tag", default, deserialize_with = "lenient_vec")]
    pub tags: Vec<RemoteTag>,
    #[serde(rename = "ShadowAttribute", default, deserialize_with = "lenient_vec")]
    pub shadow_attributes: Vec<ShadowAttribute>,
}

impl RemoteEvent {
    /// Is `organisation_id` (a numeric id or an organisation uuid) the creator org of this event?
    pub fn is_owned_by(&self, organisation_id: &str) -> bool {
        let want = organisation_id.trim();
        !want.is_empty()
            && (self.orgc_id == want
                || self
                    .orgc
                    .as_ref()
                    .is_some_and(|o| o.id == want || o.uuid.eq_ignore_ascii_case(want)))
    }
}

/// An attribute held by MISP (standalone or inside an object).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct RemoteAttribute {
    #[serde(default, deserialize_with = "lenient_string")]
    pub id: String,
    pub uuid: Uuid,
    #[serde(rename = "type", default, deserialize_with = "lenient_string")]
    pub type_: String,
    #[serde(default, deserialize_with = "lenient_string")]
    pub category: String,
    #[serde(default, deserialize_with = "lenient_string")]
    pub value: String,
    #[serde(default, deserialize_with = "lenient_bool")]
    pub to_ids: bool,
    #[serde(default, deserialize_with = "lenient_string")]
    pub comment: String,
    #[serde(default, deserialize_with = "lenient_i64")]
    pub distribution: i64,
    #[serde(default, deserialize_with = "lenient_opt_string")]
    pub object_relation: Option<String>,
    #[serde(default, deserialize_with = "lenient_bool")]
    pub disable_correlation: bool,
    #[serde(default, deserialize_with = "lenient_bool")]
    pub deleted: bool,
    #[serde(default, deserialize_with = "lenient_opt_string")]
    pub first_seen: Option<String>,
    #[serde(default, deserialize_with = "lenient_opt_string")]
    pub last_seen: Option<String>,
    #[serde(default, deserialize_with = "lenient_i64")]
    pub timestamp: i64,
    #[serde(rename = "Tag", default, deserialize_with = "lenient_vec")]
    pub tags: Vec<RemoteTag>,
}

/// An object held by MISP.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct RemoteObject {
    #[serde(default, deserialize_with = "lenient_string")]
    pub id: String,
    pub uuid: Uuid,
    #[serde(default, deserialize_with = "lenient_string")]
    pub name: String,
    #[serde(rename = "meta-category", default, deserialize_with = "lenient_string")]
    pub meta_category: String,
    #[serde(default, deserialize_with = "lenient_string")]
    pub template_uuid: String,
    #[serde(default, deserialize_with = "lenient_string")]
    pub template_version: String,
    #[serde(default, deserialize_with = "lenient_string")]
    pub comment: String,
    #[serde(default, deserialize_with = "lenient_i64")]
    pub distribution: i64,
    #[serde(default, deserialize_with = "lenient_bool")]
    pub deleted: bool,
    #[serde(rename = "Attribute", default, deserialize_with = "lenient_vec")]
    pub attributes: Vec<RemoteAttribute>,
}

/// An Event Report held by MISP.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct RemoteReport {
    #[serde(default, deserialize_with = "lenient_string")]
    pub id: String,
    pub uuid: Uuid,
    #[serde(default, deserialize_with = "lenient_string")]
    pub name: String,
    #[serde(default, deserialize_with = "lenient_string")]
    pub content: String,
    #[serde(default, deserialize_with = "lenient_i64")]
    pub distribution: i64,
    #[serde(default, deserialize_with = "lenient_bool")]
    pub deleted: bool,
}

/// A tag attached to an event or attribute.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct RemoteTag {
    #[serde(default, deserialize_with = "lenient_string")]
    pub id: String,
    #[serde(default, deserialize_with = "lenient_string")]
    pub name: String,
    /// Local tags are never synced and are not ours to manage.
    #[serde(default, deserialize_with = "lenient_bool")]
    pub local: bool,
}

/// A proposal (`/shadow_attributes/index`, `/shadow_attributes/add|edit`).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct ShadowAttribute {
    #[serde(default, deserialize_with = "lenient_string")]
    pub id: String,
    /// `"0"` for a proposed new attribute, else the id of the attribute it proposes to change/delete.
    #[serde(default, deserialize_with = "lenient_string")]
    pub old_id: String,
    #[serde(default, deserialize_with = "lenient_string")]
    pub event_id: String,
    #[serde(default)]
    pub uuid: Option<Uuid>,
    #[serde(rename = "type", default, deserialize_with = "lenient_string")]
    pub type_: String,
    #[serde(default, deserialize_with = "lenient_string")]
    pub category: String,
    #[serde(default, deserialize_with = "lenient_string")]
    pub value: String,
    #[serde(default, deserialize_with = "lenient_bool")]
    pub to_ids: bool,
    #[serde(default, deserialize_with = "lenient_string")]
    pub comment: String,
    #[serde(default, deserialize_with = "lenient_string")]
    pub org_id: String,
    #[serde(default, deserialize_with = "lenient_string")]
    pub org_uuid: String,
    /// Accepted or discarded proposals are `deleted`.
    #[serde(default, deserialize_with = "lenient_bool")]
    pub deleted: bool,
    #[serde(default, deserialize_with = "lenient_bool")]
    pub proposal_to_delete: bool,
}

impl ShadowAttribute {
    /// Was this proposal made by `organisation_id` (numeric id or uuid)?
    pub fn is_from(&self, organisation_id: &str) -> bool {
        let want = organisation_id.trim();
        !want.is_empty() && (self.org_id == want || self.org_uuid.eq_ignore_ascii_case(want))
    }

    /// A proposal of a new attribute (not an edit or deletion of an existing one).
    pub fn is_new_attribute(&self) -> bool {
        self.old_id.is_empty() || self.old_id == "0"
    }
}

/// `/servers/getVersion`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct VersionInfo {
    #[serde(default, deserialize_with = "lenient_string")]
    pub version: String,
    #[serde(default, deserialize_with = "lenient_bool")]
    pub perm_sync: bool,
}

/// `/users/view/me`: the key's user and organisation.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Me {
    pub user_id: String,
    pub email: String,
    pub org_id: String,
    pub org_name: String,
    pub org_uuid: String,
    /// The role's `perm_publish`, when MISP says.
    pub perm_publish: Option<bool>,
}

impl Me {
    pub(crate) fn from_json(v: &Value) -> Option<Me> {
        let user = v.get("User")?;
        let org = v.get("Organisation").or_else(|| user.get("Organisation"));
        let s = |v: Option<&Value>| match v {
            Some(Value::String(s)) => s.clone(),
            Some(Value::Number(n)) => n.to_string(),
            _ => String::new(),
        };
        let org_id = {
            let o = s(user.get("org_id"));
            if o.is_empty() {
                s(org.and_then(|o| o.get("id")))
            } else {
                o
            }
        };
        if org_id.is_empty() {
            return None;
        }
        Some(Me {
            user_id: s(user.get("id")),
            email: s(user.get("email")),
            org_id,
            org_name: s(org.and_then(|o| o.get("name"))),
            org_uuid: s(org.and_then(|o| o.get("uuid"))),
            perm_publish: v
                .get("Role")
                .or_else(|| user.get("Role"))
                .and_then(|r| r.get("perm_publish"))
                .map(|p| match p {
                    Value::Bool(b) => *b,
                    Value::Number(n) => n.as_i64() != Some(0),
                    Value::String(s) => matches!(s.as_str(), "1" | "true"),
                    _ => false,
                }),
        })
    }
}

/// `/sharing_groups/view/{id}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct SharingGroup {
    #[serde(default, deserialize_with = "lenient_string")]
    pub id: String,
    #[serde(default, deserialize_with = "lenient_string")]
    pub name: String,
    #[serde(default, deserialize_with = "lenient_string")]
    pub uuid: String,
    #[serde(default, deserialize_with = "lenient_bool")]
    pub active: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn transcript(name: &str) -> Value {
        let path = format!(
            "{}/../shared/reference/misp/transcripts/{name}",
            env!("CARGO_MANIFEST_DIR")
        );
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    #[test]
    fn reads_transcript_event_with_objects_and_reports() {
        let t = transcript("117_p2_events_view_final.json");
        let ev: RemoteEvent = serde_json::from_value(t["response_body"]["Event"].clone()).unwrap();
        assert_eq!(ev.id, "7");
        assert_eq!(ev.orgc_id, "1");
        assert!(ev.is_owned_by("1"));
        assert!(!ev.is_owned_by("2"));
        assert!(ev.is_owned_by("a6efa1fc-a068-42b2-a647-98a4e5567c24"));
        assert_eq!(ev.timestamp, 1_795_373_939);
        assert_eq!(ev.distribution, 1);
        assert!(!ev.objects.is_empty());
        assert_eq!(
            ev.objects[0].attributes[0].object_relation.as_deref(),
            Some("domain")
        );
        assert!(ev.reports.iter().any(|r| r.deleted));
        assert_eq!(ev.extends_uuid, None);
    }

    #[test]
    fn reads_transcript_proposals_and_version() {
        let t = transcript("55_admin_shadow_attributes_index_event.json");
        let list: Vec<Value> = serde_json::from_value(t["response_body"].clone()).unwrap();
        let sas: Vec<ShadowAttribute> = list
            .iter()
            .map(|v| serde_json::from_value(v["ShadowAttribute"].clone()).unwrap())
            .collect();
        assert_eq!(sas.len(), 4);
        assert!(sas.iter().all(|s| s.is_from("2")));
        assert!(sas.iter().any(|s| s.proposal_to_delete && s.old_id == "1"));
        assert!(sas.iter().any(|s| s.is_new_attribute()));
        let v = transcript("01_getVersion_admin.json");
        let vi: VersionInfo = serde_json::from_value(v["response_body"].clone()).unwrap();
        assert_eq!(vi.version, "2.5.1");
    }

    #[test]
    fn me_reads_user_and_org() {
        let v = serde_json::json!({"User": {"id": "3", "org_id": "2", "email": "b@x"},
            "Role": {"perm_publish": false},
            "Organisation": {"id": "2", "name": "ORG-B", "uuid": "bbbb"}});
        let me = Me::from_json(&v).unwrap();
        assert_eq!((me.org_id.as_str(), me.org_name.as_str()), ("2", "ORG-B"));
        assert_eq!(me.perm_publish, Some(false));
        assert!(Me::from_json(&serde_json::json!({"name": "x"})).is_none());
    }
}
