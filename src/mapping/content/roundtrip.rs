//! misp-stix's round trip: STIX SDOs that stand for a MISP *object* (`misp:name="<object>"` label).
//!
//! When misp-stix exports a MISP event, MISP objects that STIX has no cyber-observable for travel as SDOs
//! labelled `misp:name="person"`, `misp:name="course-of-action"`, `misp:name="script"` … (an `identity`, a
//! `course-of-action`, a `malware`/`tool`, an `indicator` with a yara/sigma/suricata rule …); attributes the
//! SDO has no property for are kept as `x_misp_<relation>` properties. A user exporting from one MISP and
//! importing into another expects the same MISP object back, so an SDO carrying such a label, whose template
//! we know ([`super::templates`]), becomes that object:
//! * the SDO's standard properties map through a per-object table ([`standard`]): e.g. an `identity`'s
//!   `contact_information` (`"e-mail: a@b / phone-number: 1"`) is split into `e-mail`/`phone-number`
//!   attributes, a person's `name` into first and last name, an attack pattern's CAPEC reference into `id`;
//! * every `x_misp_<relation>` property becomes relation `<relation>` (underscores → dashes) with the type the
//!   template gives it ([`custom_type`]), else the type the relation names, else `text`. Values that are
//!   objects (attachments with base64 `data`) are skipped: we do not upload files.
//!
//! A named SDO labelled `misp:type="<attribute type>"` instead (a `campaign` that was a `campaign-name`
//! attribute) becomes that attribute ([`map_typed_sdo`]).
//!
//! Any other SDO (no label, or an object name without a template) is mapped the usual way (tags,
//! `vulnerability` attribute, `identity` object …). The table is in `docs/mapping-content.md`.

use serde_json::Value;

use crate::stix::Object;

use super::observable::{self, MAX_PROPS};
use super::{Builder, ObjAttr, Timing, misp_label, templates};

/// Map `o` as the MISP object its `misp:name` label names; `false` (nothing emitted) when it has no such
/// label, the object type does not carry MISP objects, or we have no template for the name.
pub(crate) fn map_labelled(b: &mut Builder, o: &Object) -> bool {
    let Some(name) = misp_label(&o.props, "name") else {
        return false;
    };
    if !carries_objects(&o.type_, o.text("pattern_type"))
        || templates::template(name).is_none()
        // An `identity` object is what the usual identity mapping builds already.
        || (o.type_ == "identity" && name == "identity")
    {
        return false;
    }
    let mut attrs: Vec<(String, String, String)> = Vec::new();
    standard(o, name, &mut attrs);
    custom(o, name, &mut attrs);
    if attrs.is_empty() {
        return false;
    }
    // Indicators keep their detection meaning: rules are `to_ids` where MISP's default says so.
    let is_indicator = o.type_ == "indicator";
    let objattrs: Vec<ObjAttr<'_>> = attrs
        .iter()
        .map(|(relation, type_, value)| ObjAttr {
            relation,
            type_,
            value,
            to_ids: is_indicator && crate::misp::types::default_to_ids(type_),
            category: None,
        })
        .collect();
    let labels = b.object_tags(&o.props);
    b.object(&o.id, name, &objattrs, "", &labels);
    true
}

/// A named SDO labelled `misp:type="<attribute type>"` (misp-stix's export of e.g. a `campaign-name`
/// attribute as a `campaign`) becomes that attribute: value = `name`, category from `misp:category` when valid.
/// `vulnerability` keeps its own mapping (a `vulnerability` attribute already).
pub(crate) fn map_typed_sdo(b: &mut Builder, o: &Object) -> bool {
    if !super::sdo::is_named_sdo(&o.type_) {
        return false;
    }
    let (Some(type_), Some(name)) = (misp_label(&o.props, "type"), o.text("name")) else {
        return false;
    };
    if type_.contains('|') || !crate::misp::types::is_valid_type(type_) {
        return false;
    }
    let category = misp_label(&o.props, "category");
    let comment = o.text("description").unwrap_or("");
    let labels = b.object_tags(&o.props);
    let value = observable::canonical_value(type_, name);
    b.attribute(
        &o.id,
        type_,
        category,
        &value,
        false,
        comment,
        &Timing::default(),
        &labels,
    );
    true
}

/// SDO types misp-stix uses for MISP objects (indicators only for non-STIX rule languages: a STIX pattern
/// is mapped by the pattern table, which already gives the object misp-stix exported).
fn carries_objects(type_: &str, pattern_type: Option<&str>) -> bool {
    match type_ {
        "identity" | "course-of-action" | "attack-pattern" | "vulnerability" | "intrusion-set"
        | "malware" | "tool" | "threat-actor" | "campaign" => true,
        "indicator" => pattern_type.is_some_and(|t| !t.eq_ignore_ascii_case("stix")),
        _ => false,
    }
}

/// The string values of a property: a string, each string of a list, a number or boolean as text.
fn values(v: Option<&Value>) -> Vec<String> {
    let one = |v: &Value| match v {
        Value::String(s) => Some(s.trim().to_owned()).filter(|s| !s.is_empty()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(x) => Some(x.to_string()),
        _ => None,
    };
    match v {
        Some(Value::Array(items)) => items.iter().take(MAX_PROPS).filter_map(one).collect(),
        Some(v) => one(v).into_iter().collect(),
        None => Vec::new(),
    }
}

/// Add one attribute (de-duplicated; at most [`MAX_PROPS`] per SDO, which also bounds the de-duplication).
fn push(attrs: &mut Vec<(String, String, String)>, relation: &str, type_: &str, value: String) {
    if attrs.len() >= MAX_PROPS {
        return;
    }
    let value = if type_ == "datetime" {
        misp_datetime(&value)
    } else {
        observable::canonical_value(type_, &value)
    };
    if !value.is_empty() && !attrs.iter().any(|(r, _, v)| r == relation && *v == value) {
        attrs.push((relation.to_owned(), type_.to_owned(), value));
    }
}

/// An RFC 3339 timestamp in MISP's format; other text unchanged.
fn misp_datetime(s: &str) -> String {
    Timing::from_range(Some(s), None)
        .first_seen
        .unwrap_or_else(|| s.trim().to_owned())
}

/// `(STIX property, relation, type)` of the SDO's standard properties, per MISP object.
fn property_table(
    type_: &str,
    name: &str,
) -> &'static [(&'static str, &'static str, &'static str)] {
    match (type_, name) {
        ("identity", "person") => &[("description", "text", "text"), ("roles", "role", "text")],
        ("identity", "employee") => &[
            ("description", "text", "text"),
            ("roles", "employee-type", "text"),
        ],
        ("identity", "organization") => &[
            ("name", "name", "text"),
            ("description", "description", "text"),
            ("roles", "role", "text"),
            ("sectors", "sector", "text"),
        ],
        ("identity", "legal-entity") => &[
            ("name", "name", "text"),
            ("description", "text", "text"),
            ("sectors", "business", "text"),
        ],
        ("identity", "news-agency") => &[("name", "name", "text")],
        ("course-of-action", _) => &[
            ("name", "name", "text"),
            ("description", "description", "text"),
        ],
        ("attack-pattern", _) => &[("name", "name", "text"), ("description", "summary", "text")],
        ("vulnerability", _) => &[
            ("name", "id", "vulnerability"),
            ("description", "summary", "text"),
        ],
        ("intrusion-set", _) => &[
            ("name", "name", "text"),
            ("description", "description", "text"),
            ("aliases", "aliases", "text"),
            ("goals", "goals", "text"),
            ("resource_level", "resource_level", "text"),
            ("primary_motivation", "primary-motivation", "text"),
            ("secondary_motivations", "secondary-motivation", "text"),
            ("first_seen", "first_seen", "datetime"),
            ("last_seen", "last_seen", "datetime"),
        ],
        ("malware" | "tool", "script") => &[
            ("name", "filename", "filename"),
            ("description", "comment", "text"),
            ("implementation_languages", "language", "text"),
        ],
        ("indicator", "yara") => &[
            ("pattern", "yara", "yara"),
            ("pattern_version", "version", "text"),
            ("description", "comment", "comment"),
            ("name", "yara-rule-name", "text"),
        ],
        ("indicator", "sigma") => &[
            ("pattern", "sigma", "sigma"),
            ("description", "comment", "comment"),
            ("name", "sigma-rule-name", "text"),
        ],
        ("indicator", "suricata") => &[
            ("pattern", "suricata", "suricata"),
            ("pattern_version", "version", "text"),
            ("description", "comment", "comment"),
        ],
        // misp-stix writes the rule id as the indicator's name.
        ("indicator", "nova-rule") => &[
            ("pattern", "raw-rule", "text"),
            ("name", "rule-name", "text"),
            ("description", "description", "text"),
        ],
        ("indicator", "owasp-crs-rule") => &[
            ("pattern", "raw-rule", "text"),
            ("name", "rule-id", "text"),
            ("description", "message", "text"),
        ],
        ("indicator", "wazuh-rule") => &[
            ("pattern", "wazuh-rule", "text"),
            ("name", "rule-id", "text"),
            ("description", "comment", "comment"),
        ],
        _ => &[],
    }
}

/// The standard properties of `o` as attributes of MISP object `name`.
fn standard(o: &Object, name: &str, attrs: &mut Vec<(String, String, String)>) {
    // A person's or employee's name: misp-stix joins first and last name.
    if o.type_ == "identity"
        && matches!(name, "person" | "employee")
        && let Some(full) = o.text("name")
    {
        match full.split_once(char::is_whitespace) {
            Some((first, last)) if !last.trim().is_empty() => {
                push(attrs, "first-name", "first-name", first.to_owned());
                push(attrs, "last-name", "last-name", last.trim().to_owned());
            }
            _ => push(attrs, "first-name", "first-name", full.to_owned()),
        }
    }
    for (property, relation, type_) in property_table(&o.type_, name) {
        if *property == "pattern" {
            if let (Some(p), Some(t)) = (o.text("pattern"), o.text("pattern_type")) {
                push(
                    attrs,
                    relation,
                    type_,
                    super::indicator::unwrap_rule(t, p).to_owned(),
                );
            }
            continue;
        }
        for v in values(o.get(property)) {
            push(attrs, relation, type_, v);
        }
    }
    if o.type_ == "identity" {
        contact_information(o, name, attrs);
    }
    // External references: CAPEC id of an attack pattern, URLs of vulnerabilities and rules.
    let url_relation = match name {
        "vulnerability" => Some("references"),
        "sigma" => Some("reference"),
        "suricata" => Some("ref"),
        _ => None,
    };
    for r in o
        .get("external_references")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_object)
        .take(MAX_PROPS)
    {
        let text = |k: &str| r.get(k).and_then(Value::as_str).map(str::trim);
        if name == "attack-pattern"
            && text("source_name") == Some("capec")
            && let Some(id) = text("external_id")
        {
            let id = id.strip_prefix("CAPEC-").unwrap_or(id);
            push(attrs, "id", "text", id.to_owned());
        }
        if let (Some(relation), Some(url)) = (url_relation, text("url")) {
            push(attrs, relation, "link", url.to_owned());
        }
    }
}

/// `contact_information` as misp-stix writes it: `"<relation>: <value>[; <value>] / <relation>: …"`.
/// Known relations get their type; anything else is kept whole as `contact_information` text.
fn contact_information(o: &Object, name: &str, attrs: &mut Vec<(String, String, String)>) {
    let Some(info) = o.text("contact_information") else {
        return;
    };
    let mut rest: Vec<&str> = Vec::new();
    for piece in info.split(" / ").take(MAX_PROPS) {
        let typed = piece.split_once(": ").and_then(|(relation, value)| {
            let relation = relation.trim();
            let type_ = match (name, relation) {
                ("employee", "email-address") => "target-email",
                (_, "address") => "text",
                (_, "e-mail") => "email-src",
                (_, "phone-number" | "fax-number") => "phone-number",
                (_, "website" | "link") => "link",
                _ => return None,
            };
            Some((relation, type_, value))
        });
        match typed {
            Some((relation, type_, value)) => {
                for v in value
                    .split("; ")
                    .map(str::trim)
                    .filter(|v| !v.is_empty())
                    .take(MAX_PROPS)
                {
                    push(attrs, relation, type_, v.to_owned());
                }
            }
            None => rest.push(piece.trim()),
        }
    }
    if !rest.is_empty() {
        push(attrs, "contact_information", "text", rest.join("; "));
    }
}

/// Every `x_misp_<relation>` property (sorted by name for a stable order; objects such as attachments with
/// base64 data are skipped).
fn custom(o: &Object, name: &str, attrs: &mut Vec<(String, String, String)>) {
    let mut keys: Vec<&String> = o
        .props
        .keys()
        .filter(|k| k.starts_with("x_misp_"))
        .take(MAX_PROPS)
        .collect();
    keys.sort();
    for key in keys {
        let Some(relation) = observable::custom_relation(key) else {
            continue;
        };
        let type_ = custom_type(name, &relation);
        for v in values(o.props.get(key.as_str())) {
            push(attrs, &relation, type_, v);
        }
    }
}

/// The type of a custom relation in MISP object `name`: the template's type where it is not the relation's
/// own name, else [`observable::custom_type`]. Also used for the `x_misp_*` properties of observables.
pub(crate) fn custom_type(name: &str, relation: &str) -> &'static str {
    const TABLE: &[(&str, &str, &str)] = &[
        ("asn", "subnet-announced", "ip-src"),
        ("attack-pattern", "related-weakness", "weakness"),
        ("email", "bcc-display-name", "email-dst-display-name"),
        ("email", "cc-display-name", "email-dst-display-name"),
        ("email", "from-display-name", "email-src-display-name"),
        ("email", "mime-boundary", "email-mime-boundary"),
        ("email", "to-display-name", "email-dst-display-name"),
        ("email", "user-agent", "text"),
        ("employee", "business-unit", "target-org"),
        ("file", "entropy", "float"),
        ("geolocation", "altitude", "float"),
        ("github-user", "follower", "github-username"),
        ("github-user", "following", "github-username"),
        ("github-user", "organisation", "github-organisation"),
        ("github-user", "repository", "github-repository"),
        ("github-user", "username", "github-username"),
        ("employee", "primary-asset", "target-machine"),
        ("employee", "userid", "target-user"),
        ("news-agency", "archive", "link"),
        ("organization", "date-of-inception", "date-of-birth"),
        ("parler-account", "human", "boolean"),
        ("parler-account", "verified", "boolean"),
        ("person", "date-of-birth", "date-of-birth"),
        ("person", "gender", "gender"),
        ("person", "identity-card-number", "identity-card-number"),
        ("person", "passport-country", "passport-country"),
        ("person", "passport-expiration", "passport-expiration"),
        ("person", "place-of-birth", "place-of-birth"),
        ("person", "redress-number", "redress-number"),
        ("vulnerability", "created", "datetime"),
        ("vulnerability", "cvss-score", "float"),
        ("vulnerability", "modified", "datetime"),
        ("vulnerability", "published", "datetime"),
    ];
    TABLE
        .iter()
        .find(|(n, r, _)| *n == name && *r == relation)
        .map(|(_, _, t)| *t)
        .unwrap_or_else(|| observable::custom_type(relation))
}
