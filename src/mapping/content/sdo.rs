//! Named SDOs → event tags, `vulnerability` → attribute, misp-stix `x-misp-attribute` → attribute.
//!
//! Tag convention (the one misp-stix uses with `galaxies_as_tags`): `misp-galaxy:stix-2.1-<type>="<name>"`
//! for malware, threat-actor, intrusion-set, attack-pattern, tool and campaign. An attack pattern with a MITRE
//! ATT&CK id (`T1566`, `T1566.001`) also gets `misp-galaxy:mitre-attack-pattern="<name> - <id>"`, the tag name
//! of MISP's own ATT&CK galaxy cluster, so MISP links it to the cluster when the galaxy is installed.
//! Names are made safe ([`quoted_tag_value`]): no double quotes, no control characters, ≤ 255 characters.

use serde_json::Value;

use crate::stix::Object;

use super::observable::canonical_value;
use super::{Builder, Timing, bounded_comment, labels_of, quoted_tag_value, safe_tag};

/// SDO types that become event tags.
pub fn is_named_sdo(t: &str) -> bool {
    matches!(
        t,
        "malware" | "threat-actor" | "intrusion-set" | "attack-pattern" | "tool" | "campaign"
    )
}

/// `misp-galaxy:stix-2.1-<type>="<name>"` (+ the ATT&CK tag for attack patterns).
pub(crate) fn map_named_sdo(b: &mut Builder, o: &Object) {
    let Some(name) = o.text("name").and_then(quoted_tag_value) else {
        tracing::debug!(id = %o.id, "content: named SDO without a name");
        return;
    };
    if let Some(tag) = safe_tag(&format!("misp-galaxy:stix-2.1-{}=\"{name}\"", o.type_)) {
        b.tag(tag);
    }
    if o.type_ == "attack-pattern"
        && let Some(tid) = attack_id(o)
        && let Some(tag) = safe_tag(&format!(
            "misp-galaxy:mitre-attack-pattern=\"{name} - {tid}\""
        ))
    {
        b.tag(tag);
    }
}

/// The ATT&CK technique id of an attack pattern (`external_references[].external_id` = `T1234[.123]`).
fn attack_id(o: &Object) -> Option<String> {
    external_references(o)
        .filter_map(|r| r.get("external_id").and_then(Value::as_str))
        .map(str::trim)
        .find(|id| is_attack_technique(id))
        .map(str::to_owned)
}

/// `T` + 4 digits, optionally `.` + 3 digits.
pub fn is_attack_technique(id: &str) -> bool {
    let b = id.as_bytes();
    let digits = |s: &[u8]| s.iter().all(u8::is_ascii_digit);
    match b {
        [b'T', rest @ ..] if rest.len() == 4 => digits(rest),
        [b'T', rest @ ..] if rest.len() == 8 && rest[4] == b'.' => {
            digits(&rest[..4]) && digits(&rest[5..])
        }
        _ => false,
    }
}

/// `CVE-YYYY-NNNN…` (case-insensitive), returned upper-case.
pub fn cve_id(s: &str) -> Option<String> {
    let s = s.trim();
    let up = s.to_ascii_uppercase();
    let rest = up.strip_prefix("CVE-")?;
    let (year, num) = rest.split_once('-')?;
    (year.len() == 4
        && year.bytes().all(|c| c.is_ascii_digit())
        && num.len() >= 4
        && num.len() <= 12
        && num.bytes().all(|c| c.is_ascii_digit()))
    .then_some(up)
}

fn external_references(o: &Object) -> impl Iterator<Item = &serde_json::Map<String, Value>> {
    o.get("external_references")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_object)
}

/// `vulnerability` → a `vulnerability` attribute: the CVE id from the name or from an external reference
/// (`source_name: cve`), else the name itself.
pub(crate) fn map_vulnerability(b: &mut Builder, o: &Object) {
    let name = o.text("name");
    let cve = name.and_then(cve_id).or_else(|| {
        external_references(o)
            .filter_map(|r| r.get("external_id").and_then(Value::as_str))
            .find_map(cve_id)
    });
    let Some(value) = cve.or_else(|| name.map(str::to_owned)) else {
        tracing::debug!(id = %o.id, "content: vulnerability without name");
        return;
    };
    let comment = match (name, o.text("description")) {
        (Some(n), Some(d)) if n != value => format!("{n}: {d}"),
        (_, Some(d)) => d.to_owned(),
        (Some(n), None) if n != value => n.to_owned(),
        _ => String::new(),
    };
    let labels = labels_of(&o.props);
    b.attribute(
        &o.id,
        "vulnerability",
        None,
        &value,
        false,
        &bounded_comment(&comment),
        &Timing::default(),
        &labels,
    );
}

/// The value of a `misp:<key>="<value>"` label.
fn misp_label<'a>(o: &'a Object, key: &str) -> Option<&'a str> {
    o.strings("labels").find_map(|l| {
        l.strip_prefix("misp:")?
            .strip_prefix(key)?
            .strip_prefix("=\"")?
            .strip_suffix('"')
    })
}

/// misp-stix's custom attribute (`x-misp-attribute`, or `x-misp-object-<type>` in older output):
/// `x_misp_type`/`x_misp_value`/`x_misp_category`/`x_misp_comment`, type also from the `misp:type` label.
pub(crate) fn map_misp_attribute(b: &mut Builder, o: &Object) {
    let type_ = o
        .text("x_misp_type")
        .or_else(|| misp_label(o, "type"))
        .or_else(|| o.type_.strip_prefix("x-misp-object-"));
    let (Some(type_), Some(value)) = (type_, o.text("x_misp_value")) else {
        tracing::debug!(id = %o.id, "content: x-misp-attribute without type or value");
        return;
    };
    let category = o
        .text("x_misp_category")
        .or_else(|| misp_label(o, "category"));
    let to_ids = misp_label(o, "to_ids").is_some_and(|v| v.eq_ignore_ascii_case("true"))
        || o.get("x_misp_to_ids").and_then(Value::as_bool) == Some(true);
    let comment = o.text("x_misp_comment").unwrap_or("");
    let labels = labels_of(&o.props);
    let value = canonical_value(type_, value);
    b.attribute(
        &o.id,
        type_,
        category,
        &value,
        to_ids,
        comment,
        &Timing::default(),
        &labels,
    );
}
