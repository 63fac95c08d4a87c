//! Named SDOs → event tags, `vulnerability` → attribute, misp-stix `x-misp-attribute` → attribute.
//!
//! Tag convention (the one misp-stix uses with `galaxies_as_tags`): `misp-galaxy:stix-2.1-<type>="<name>"`
//! for malware, threat-actor, intrusion-set, attack-pattern, tool and campaign. An attack pattern with a MITRE
//! ATT&CK id (`T1566`, `T1566.001`) also gets `misp-galaxy:mitre-attack-pattern="<name> - <id>"`, the tag name
//! of MISP's own ATT&CK galaxy cluster, so MISP links it to the cluster when the galaxy is installed.
//! Names are made safe ([`quoted_tag_value`]): no double quotes, no control characters, ≤ 255 characters.

use serde_json::Value;

use crate::stix::Object;

use super::observable::{self, MAX_PROPS, canonical_value};
use super::templates;
use super::{Builder, ObjAttr, Timing, bounded_comment, misp_label, quoted_tag_value, safe_tag};

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
    let labels = b.object_tags(&o.props);
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

/// misp-stix's custom attribute (`x-misp-attribute`, or `x-misp-object-<type>` in older output):
/// `x_misp_type`/`x_misp_value`/`x_misp_category`/`x_misp_comment`, type also from the `misp:type` label.
pub(crate) fn map_misp_attribute(b: &mut Builder, o: &Object) {
    let type_ = o
        .text("x_misp_type")
        .or_else(|| misp_label(&o.props, "type"))
        .or_else(|| o.type_.strip_prefix("x-misp-object-"));
    let (Some(type_), Some(value)) = (type_, o.text("x_misp_value")) else {
        tracing::debug!(id = %o.id, "content: x-misp-attribute without type or value");
        return;
    };
    let category = o
        .text("x_misp_category")
        .or_else(|| misp_label(&o.props, "category"));
    let to_ids = misp_label(&o.props, "to_ids").is_some_and(|v| v.eq_ignore_ascii_case("true"))
        || o.get("x_misp_to_ids").and_then(Value::as_bool) == Some(true);
    let comment = o.text("x_misp_comment").unwrap_or("");
    let labels = b.object_tags(&o.props);
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

/// misp-stix's custom object (`x-misp-object`: `x_misp_name`, `x_misp_attributes` [{object_relation, type,
/// value, to_ids?, category?}]). With a template we know it becomes that MISP object; otherwise the attributes
/// that stand on their own (not `text`, `float` …) are kept as standalone attributes, with a warning.
/// `taranis-story` / `taranis-news-item` belong to the story mapping and are skipped here.
pub(crate) fn map_misp_object(b: &mut Builder, o: &Object) {
    let Some(name) = o
        .text("x_misp_name")
        .or_else(|| misp_label(&o.props, "name"))
    else {
        tracing::debug!(id = %o.id, "content: x-misp-object without a name");
        return;
    };
    if matches!(name, "taranis-story" | "taranis-news-item") {
        return;
    }
    let mut attrs: Vec<(String, String, String, bool, Option<String>)> = Vec::new();
    for a in o
        .get("x_misp_attributes")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_object)
        .take(MAX_PROPS)
    {
        let text = |k: &str| match a.get(k) {
            Some(Value::String(s)) => Some(s.trim().to_owned()),
            Some(Value::Number(n)) => Some(n.to_string()),
            Some(Value::Bool(v)) => Some(v.to_string()),
            _ => None,
        };
        let (Some(type_), Some(value)) = (text("type"), text("value")) else {
            continue;
        };
        if value.is_empty() || !crate::misp::types::is_valid_type(&type_) {
            continue;
        }
        let relation = text("object_relation").unwrap_or_else(|| type_.clone());
        let to_ids = match a.get("to_ids") {
            Some(Value::Bool(v)) => *v,
            Some(Value::String(s)) => s.eq_ignore_ascii_case("true") || s == "1",
            _ => false,
        };
        let value = canonical_value(&type_, &value);
        attrs.push((relation, type_, value, to_ids, text("category")));
    }
    if attrs.is_empty() {
        tracing::debug!(id = %o.id, "content: x-misp-object without usable attributes");
        return;
    }
    let comment = o.text("x_misp_comment").unwrap_or("");
    let labels = b.object_tags(&o.props);
    if templates::template(name).is_some() {
        let objattrs: Vec<ObjAttr<'_>> = attrs
            .iter()
            .map(|(relation, type_, value, to_ids, category)| ObjAttr {
                relation,
                type_,
                value,
                to_ids: *to_ids,
                category: category.as_deref(),
            })
            .collect();
        b.object(&o.id, name, &objattrs, comment, &labels);
        return;
    }
    let (mut kept, mut dropped) = (0usize, 0usize);
    for (relation, type_, value, to_ids, category) in &attrs {
        if observable::standalone_type(type_) {
            kept += 1;
            let comment = bounded_comment(&format!("{name} {relation}"));
            b.attribute(
                &o.id,
                type_,
                category.as_deref(),
                value,
                *to_ids,
                &comment,
                &Timing::default(),
                &labels,
            );
        } else {
            dropped += 1;
        }
    }
    if dropped > 0 {
        b.warn(
            &o.id,
            format!(
                "no MISP object template known for {name:?}: {kept} attribute(s) kept standalone, {dropped} dropped"
            ),
        );
    }
}
