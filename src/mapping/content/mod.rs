//! STIX content of a story → MISP attributes, objects and tags (BRIEF §4 "STIX content").
//!
//! The story mapping hands over every object a story refers to; this module turns
//! * indicators into attributes (`to_ids: true`), objects, or a raw `stix2-pattern` ([`indicator`]),
//! * cyber observables (direct, or through `observed-data`) into attributes and objects with
//!   `to_ids: false` ([`observable`] holds the shared property table),
//! * named SDOs into event tags and vulnerabilities into `vulnerability` attributes ([`sdo`]).
//!
//! Pure and deterministic: output order follows input order, and every uuid is UUIDv5(event uuid, stable key)
//! ([`item_uuid`]), so the same story always gives the same attributes and MISP matches them on update.
//! Duplicate `(type, value)` attributes are merged (MISP rejects them), OR-ing `to_ids`.
//! Everything is bounded: values, comments, tags, and the total number of attributes.
//! The full STIX → MISP table is in `docs/mapping-content.md`.

pub mod indicator;
pub mod observable;
pub mod sdo;
pub mod templates;

use std::collections::{HashMap, HashSet};

use serde_json::{Map, Value};
use uuid::Uuid;

use crate::error::Warning;
use crate::misp::event::{Attribute, DISTRIBUTION_INHERIT, MispObject, Tag};
use crate::misp::types;
use crate::stix::Object;

use observable::{Mapped, Source};

/// Longest attribute value MISP accepts (bytes); longer values are skipped with a warning.
pub const MAX_VALUE_BYTES: usize = 65_535;
/// Longest comment we write (characters); longer ones are cut.
pub const MAX_COMMENT_CHARS: usize = 1_024;
/// Longest tag name (MISP's `tags.name` is varchar(255)).
pub const MAX_TAG_CHARS: usize = 255;
/// Most tags on one attribute (from labels).
pub const MAX_ATTRIBUTE_TAGS: usize = 16;
/// Most attributes (standalone + inside objects) one story produces; the rest is dropped with a warning.
pub const MAX_ATTRIBUTES: usize = 50_000;
/// Most event tags one story's SDOs produce.
pub const MAX_EVENT_TAGS: usize = 1_000;

/// What the STIX content of a story becomes.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ContentOutput {
    /// Standalone attributes, unique by `(type, value)`, in input order.
    pub attributes: Vec<Attribute>,
    /// MISP objects, in input order.
    pub objects: Vec<MispObject>,
    /// Event tags (named SDOs …), unique, in input order.
    pub tags: Vec<String>,
    /// What was skipped although it looked mappable.
    pub warnings: Vec<Warning>,
}

/// Map the STIX content objects of a story (everything except the report and news items) to MISP.
///
/// Objects of types we do not map (relationships, identities, markings, custom objects …) are skipped
/// silently; `objects` is also the lookup table for references (`object_refs`, `src_ref`, …).
pub fn map_content(event_uuid: Uuid, objects: &[Object]) -> ContentOutput {
    let index: HashMap<&str, &Object> = objects.iter().map(|o| (o.id.as_str(), o)).collect();
    let mut b = Builder::new(event_uuid);
    b.markings = objects
        .iter()
        .filter(|o| o.type_ == "marking-definition")
        .filter_map(|o| Some((o.id.clone(), crate::story::tlp::marking_tlp(o)?.tag())))
        .collect();

    // Pass 1: which SCOs are covered elsewhere (by an observed-data, or folded into a composite SCO).
    let mut via_observed: HashSet<&str> = HashSet::new();
    let mut folded: HashSet<String> = HashSet::new();
    for o in objects {
        if o.type_ == "observed-data" {
            via_observed.extend(o.strings("object_refs"));
        } else if is_sco(&o.type_) && !observable::followed_refs(&o.type_).is_empty() {
            let resolve = |id: &str| index.get(id).map(|t| &t.props);
            let (_, f) = observable::flatten_sco(&o.type_, &o.props, &resolve);
            folded.extend(f);
        }
    }

    // Pass 2: map in input order.
    let mut done_scos: HashSet<&str> = HashSet::new();
    for o in objects {
        match o.type_.as_str() {
            "indicator" => indicator::map_indicator(&mut b, o),
            "observed-data" => {
                map_observed_data(&mut b, o, &index, &folded, &mut done_scos);
            }
            "vulnerability" => sdo::map_vulnerability(&mut b, o),
            t if sdo::is_named_sdo(t) => sdo::map_named_sdo(&mut b, o),
            // SDOs misp-stix turns into objects (geolocation, malware-analysis, identity).
            "location" | "malware-analysis" | "identity" => {
                let resolve = |_: &str| None;
                let comment = o.text("name").unwrap_or("");
                map_sco(
                    &mut b,
                    &o.id,
                    &o.type_,
                    &o.props,
                    &resolve,
                    &Timing::default(),
                    comment,
                    None,
                );
            }
            "x-misp-object" => sdo::map_misp_object(&mut b, o),
            t if t == "x-misp-attribute" || t.starts_with("x-misp-object-") => {
                sdo::map_misp_attribute(&mut b, o)
            }
            t if is_sco(t) => {
                if via_observed.contains(o.id.as_str())
                    || folded.contains(&o.id)
                    || done_scos.contains(o.id.as_str())
                {
                    continue;
                }
                done_scos.insert(o.id.as_str());
                let resolve = |id: &str| index.get(id).map(|t| &t.props);
                map_sco(
                    &mut b,
                    &o.id,
                    &o.type_,
                    &o.props,
                    &resolve,
                    &Timing::default(),
                    "",
                    None,
                );
            }
            _ => tracing::debug!(id = %o.id, type_ = %o.type_, "content: object type not mapped"),
        }
    }
    b.finish()
}

/// STIX cyber-observable types we know how to map.
pub fn is_sco(t: &str) -> bool {
    matches!(
        t,
        "ipv4-addr"
            | "ipv6-addr"
            | "domain-name"
            | "url"
            | "mac-addr"
            | "mutex"
            | "email-addr"
            | "email-message"
            | "autonomous-system"
            | "windows-registry-key"
            | "file"
            | "directory"
            | "artifact"
            | "x509-certificate"
            | "user-account"
            | "software"
            | "process"
            | "network-traffic"
    )
}

/// `first_seen` / `last_seen` for what an object produces.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Timing {
    pub first_seen: Option<String>,
    pub last_seen: Option<String>,
}

impl Timing {
    /// From two RFC 3339 timestamps; `last_seen` only when it is not before `first_seen` (MISP refuses that).
    pub fn from_range(first: Option<&str>, last: Option<&str>) -> Timing {
        let parse = |s: Option<&str>| {
            s.and_then(|s| chrono::DateTime::parse_from_rfc3339(s.trim()).ok())
                .map(|d| d.with_timezone(&chrono::Utc))
        };
        let (f, l) = (parse(first), parse(last));
        let l = match (f, l) {
            (Some(f), Some(l)) if l < f => None,
            (_, l) => l,
        };
        let fmt =
            |d: chrono::DateTime<chrono::Utc>| d.format("%Y-%m-%dT%H:%M:%S%.6f+00:00").to_string();
        Timing {
            first_seen: f.map(fmt),
            last_seen: l.map(fmt),
        }
    }
}

fn map_observed_data<'a>(
    b: &mut Builder,
    od: &'a Object,
    index: &HashMap<&str, &'a Object>,
    folded: &HashSet<String>,
    done: &mut HashSet<&'a str>,
) {
    let timing = Timing::from_range(od.str("first_observed"), od.str("last_observed"));
    // misp-stix's own output says which MISP type an observed-data with one observable was.
    let hint = misp_label(&od.props, "type");
    // STIX 2.1: object_refs into the bundle.
    for id in od.strings("object_refs") {
        let Some(sco) = index.get(id) else {
            continue;
        };
        if !is_sco(&sco.type_) || folded.contains(id) || done.contains(id) {
            continue;
        }
        done.insert(id);
        let resolve = |rid: &str| index.get(rid).map(|t| &t.props);
        map_sco(
            b, &sco.id, &sco.type_, &sco.props, &resolve, &timing, "", hint,
        );
    }
    // STIX 2.0 style: embedded `objects` {"0": {...}} with refs by key.
    if let Some(embedded) = od.get("objects").and_then(Value::as_object) {
        let resolve = |key: &str| embedded.get(key).and_then(Value::as_object);
        let mut folded_keys: HashSet<String> = HashSet::new();
        for (_, v) in embedded.iter() {
            if let Some(m) = v.as_object() {
                let t = m.get("type").and_then(Value::as_str).unwrap_or("");
                if !observable::followed_refs(t).is_empty() {
                    folded_keys.extend(observable::flatten_sco(t, m, &resolve).1);
                }
            }
        }
        for (key, v) in embedded.iter() {
            let Some(m) = v.as_object() else { continue };
            let t = m.get("type").and_then(Value::as_str).unwrap_or("");
            if !is_sco(t) || folded_keys.contains(key) {
                continue;
            }
            let source = format!("{}/{key}", od.id);
            map_sco(b, &source, t, m, &resolve, &timing, "", hint);
        }
    }
}

/// Map one SCO (`to_ids: false`).
#[allow(clippy::too_many_arguments)]
fn map_sco<'a>(
    b: &mut Builder,
    source_id: &str,
    type_: &str,
    props: &'a Map<String, Value>,
    resolve: &observable::Resolver<'a>,
    timing: &Timing,
    comment: &str,
    type_hint: Option<&str>,
) {
    let (flat, _) = observable::flatten_sco(type_, props, resolve);
    let all = observable::map_observable_all(type_, &flat, Source::Observable);
    if all.is_empty() {
        tracing::debug!(id = %source_id, "content: observable without mappable properties");
        return;
    }
    let labels = b.object_tags(props);
    for mapped in &all {
        b.emit(
            source_id, mapped, type_hint, false, comment, timing, &labels,
        );
    }
}

/// The labels of an object that become attribute tags (MISP-internal `misp:*` labels excluded).
pub(crate) fn labels_of(props: &Map<String, Value>) -> Vec<String> {
    props
        .get("labels")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .filter(|l| !is_misp_internal_label(l))
        .filter_map(safe_tag)
        .take(MAX_ATTRIBUTE_TAGS)
        .collect()
}

/// The value of a misp-stix `misp:<key>="<value>"` label.
pub(crate) fn misp_label<'a>(props: &'a Map<String, Value>, key: &str) -> Option<&'a str> {
    props
        .get("labels")?
        .as_array()?
        .iter()
        .filter_map(Value::as_str)
        .find_map(|l| {
            l.strip_prefix("misp:")?
                .strip_prefix(key)?
                .strip_prefix("=\"")?
                .strip_suffix('"')
        })
}

/// Whether a misp-stix `misp:type` hint may refine the type we derived (same kind of value, finer MISP type:
/// `domain` → `hostname`, `url` → `uri`/`link`, `sha224` → `sha512/224`, `ip-dst` → `ip-src` …).
fn same_family(hint: &str, derived: &str) -> bool {
    const FAMILIES: &[&[&str]] = &[
        &["domain", "hostname"],
        &["url", "uri", "link"],
        &["ip-dst", "ip-src"],
        &[
            "email",
            "email-src",
            "email-dst",
            "target-email",
            "email-reply-to",
            "whois-registrant-email",
        ],
        &["filename", "email-attachment"],
        &["AS"],
    ];
    let hashy = |t: &str| {
        t.starts_with("sha")
            || matches!(
                t,
                "md5"
                    | "ssdeep"
                    | "tlsh"
                    | "imphash"
                    | "authentihash"
                    | "vhash"
                    | "telfhash"
                    | "pehash"
                    | "impfuzzy"
            )
    };
    (hashy(hint) && hashy(derived))
        || FAMILIES
            .iter()
            .any(|f| f.contains(&hint) && f.contains(&derived))
}

/// Labels misp-stix writes for its own round trip (`misp:type="…"`, `misp:category="…"`, …).
fn is_misp_internal_label(l: &str) -> bool {
    [
        "misp:type=",
        "misp:category=",
        "misp:to_ids=",
        "misp:name=",
        "misp:meta-category=",
        "misp:tool=",
    ]
    .iter()
    .any(|p| l.starts_with(p))
}

/// A tag name safe for MISP: control characters removed, whitespace collapsed, at most 255 characters;
/// `None` when nothing is left.
pub fn safe_tag(raw: &str) -> Option<String> {
    let mut out = String::new();
    let mut space = false;
    for c in raw.chars() {
        if c.is_whitespace() || c.is_control() {
            space = !out.is_empty();
            continue;
        }
        if space {
            out.push(' ');
            space = false;
        }
        out.push(c);
        if out.chars().count() >= MAX_TAG_CHARS {
            break;
        }
    }
    (!out.is_empty()).then_some(out)
}

/// A value for inside `misp-galaxy:…="VALUE"` tags: no double quotes, safe characters.
pub fn quoted_tag_value(raw: &str) -> Option<String> {
    safe_tag(&raw.replace('"', "'"))
}

/// Cut a comment to [`MAX_COMMENT_CHARS`] characters.
pub(crate) fn bounded_comment(s: &str) -> String {
    let s = s.trim();
    match s.char_indices().nth(MAX_COMMENT_CHARS) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_owned(),
    }
}

/// UUIDv5(event uuid, key): the deterministic uuid of an attribute or object of this event.
pub fn item_uuid(event: Uuid, key: &str) -> Uuid {
    crate::mapping::ids::uuid_for(event, key)
}

/// One attribute of an object to build.
pub(crate) struct ObjAttr<'a> {
    pub relation: &'a str,
    pub type_: &'a str,
    pub value: &'a str,
    pub to_ids: bool,
    /// Used when valid for the type; else the type's default category.
    pub category: Option<&'a str>,
}

/// Collects the output, de-duplicating and bounding it.
pub(crate) struct Builder {
    event: Uuid,
    attributes: Vec<Attribute>,
    by_key: HashMap<(String, String), usize>,
    objects: Vec<MispObject>,
    object_keys: HashSet<String>,
    tags: Vec<String>,
    tag_set: HashSet<String>,
    warnings: Vec<Warning>,
    count: usize,
    truncated: bool,
    /// TLP tag of each marking-definition present in the input (fixed TLP ids are known without it).
    markings: HashMap<String, &'static str>,
}

impl Builder {
    fn new(event: Uuid) -> Builder {
        Builder {
            event,
            attributes: Vec::new(),
            by_key: HashMap::new(),
            objects: Vec::new(),
            object_keys: HashSet::new(),
            tags: Vec::new(),
            tag_set: HashSet::new(),
            warnings: Vec::new(),
            count: 0,
            truncated: false,
            markings: HashMap::new(),
        }
    }

    fn finish(self) -> ContentOutput {
        ContentOutput {
            attributes: self.attributes,
            objects: self.objects,
            tags: self.tags,
            warnings: self.warnings,
        }
    }

    /// Attribute tags of a content object: its labels and the TLP of its `object_marking_refs`.
    pub(crate) fn object_tags(&self, props: &Map<String, Value>) -> Vec<String> {
        let mut tags = labels_of(props);
        let refs = props
            .get("object_marking_refs")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str);
        for id in refs {
            let tlp = crate::story::tlp::fixed_marking(id)
                .map(|t| t.tag())
                .or_else(|| self.markings.get(id).copied());
            if let Some(tag) = tlp
                && tags.len() < MAX_ATTRIBUTE_TAGS
                && !tags.iter().any(|t| t == tag)
            {
                tags.push(tag.to_owned());
            }
        }
        tags
    }

    pub(crate) fn warn(&mut self, id: &str, message: impl Into<String>) {
        self.warnings.push(Warning::about(id, message));
    }

    /// Room for `n` more attributes? Warns once when the cap is reached.
    fn room(&mut self, n: usize) -> bool {
        if self.count + n <= MAX_ATTRIBUTES {
            return true;
        }
        if !self.truncated {
            self.truncated = true;
            self.warnings.push(Warning::general(format!(
                "story produces more than {MAX_ATTRIBUTES} attributes; the rest is dropped"
            )));
        }
        false
    }

    fn value_ok(&mut self, source_id: &str, type_: &str, value: &str) -> bool {
        if value.len() > MAX_VALUE_BYTES {
            self.warn(
                source_id,
                format!(
                    "{type_} value of {} bytes exceeds MISP's limit of {MAX_VALUE_BYTES}; skipped",
                    value.len()
                ),
            );
            return false;
        }
        !value.is_empty()
    }

    /// An event tag (de-duplicated, bounded).
    pub(crate) fn tag(&mut self, name: String) {
        if self.tags.len() >= MAX_EVENT_TAGS || self.tag_set.contains(&name) {
            return;
        }
        self.tag_set.insert(name.clone());
        self.tags.push(name);
    }

    /// A standalone attribute; merged with an existing one of the same `(type, value)`.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn attribute(
        &mut self,
        source_id: &str,
        type_: &str,
        category: Option<&str>,
        value: &str,
        to_ids: bool,
        comment: &str,
        timing: &Timing,
        labels: &[String],
    ) {
        let Some(default_category) = types::default_category(type_) else {
            self.warn(
                source_id,
                format!("unknown MISP attribute type {type_:?}; skipped"),
            );
            return;
        };
        if !self.value_ok(source_id, type_, value) {
            return;
        }
        let key = (type_.to_owned(), value.to_owned());
        if let Some(&i) = self.by_key.get(&key) {
            let a = &mut self.attributes[i];
            a.to_ids |= to_ids;
            if a.comment.is_empty() {
                a.comment = bounded_comment(comment);
            }
            for l in labels {
                if a.tags.len() < MAX_ATTRIBUTE_TAGS && !a.tags.iter().any(|t| &t.name == l) {
                    a.tags.push(Tag::new(l.clone()));
                }
            }
            return;
        }
        if !self.room(1) {
            return;
        }
        let category = category
            .filter(|c| types::is_valid_category(type_, c))
            .unwrap_or(default_category);
        self.count += 1;
        self.by_key.insert(key, self.attributes.len());
        self.attributes.push(Attribute {
            uuid: item_uuid(self.event, &format!("{type_}|{value}")),
            type_: type_.to_owned(),
            category: category.to_owned(),
            value: value.to_owned(),
            to_ids,
            comment: bounded_comment(comment),
            distribution: DISTRIBUTION_INHERIT,
            object_relation: None,
            disable_correlation: false,
            deleted: false,
            first_seen: timing.first_seen.clone(),
            last_seen: timing.last_seen.clone(),
            tags: labels.iter().map(|l| Tag::new(l.clone())).collect(),
        });
    }

    /// A MISP object from `(relation, type, value)` triples. `to_ids` applies the type's default when true.
    pub(crate) fn object(
        &mut self,
        source_id: &str,
        name: &str,
        attrs: &[ObjAttr<'_>],
        comment: &str,
        labels: &[String],
    ) {
        let Some(template) = templates::template(name) else {
            self.warn(
                source_id,
                format!("no MISP object template {name:?}; skipped"),
            );
            return;
        };
        let mut key = format!("object:{source_id}:{name}");
        let mut n = 1;
        while self.object_keys.contains(&key) {
            n += 1;
            key = format!("object:{source_id}:{name}:{n}");
        }
        let mut attributes = Vec::with_capacity(attrs.len());
        let mut seen: HashSet<(&str, &str)> = HashSet::new();
        for a in attrs {
            if !seen.insert((a.relation, a.value)) {
                continue;
            }
            let Some(default_category) = types::default_category(a.type_) else {
                continue;
            };
            if !self.value_ok(source_id, a.type_, a.value) {
                continue;
            }
            let category = a
                .category
                .filter(|c| types::is_valid_category(a.type_, c))
                .unwrap_or(default_category);
            attributes.push(Attribute {
                uuid: item_uuid(self.event, &format!("{key}/{}/{}", a.relation, a.value)),
                type_: a.type_.to_owned(),
                category: category.to_owned(),
                value: a.value.to_owned(),
                to_ids: a.to_ids,
                comment: String::new(),
                distribution: DISTRIBUTION_INHERIT,
                object_relation: Some(a.relation.to_owned()),
                disable_correlation: false,
                deleted: false,
                first_seen: None,
                last_seen: None,
                tags: labels.iter().map(|l| Tag::new(l.clone())).collect(),
            });
        }
        if attributes.is_empty() || !self.room(attributes.len()) {
            return;
        }
        self.count += attributes.len();
        self.object_keys.insert(key.clone());
        self.objects.push(MispObject {
            uuid: item_uuid(self.event, &key),
            name: template.name.to_owned(),
            meta_category: template.meta_category.to_owned(),
            description: template.description.to_owned(),
            template_uuid: template.template_uuid(),
            template_version: template.version.to_owned(),
            distribution: DISTRIBUTION_INHERIT,
            comment: bounded_comment(comment),
            deleted: false,
            attributes,
        });
    }

    /// Emit a mapped observable: one attribute when it is a single indicator-like value, else an object.
    /// Observables whose template is empty (mac-addr, mutex …) become one attribute per value.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn emit(
        &mut self,
        source_id: &str,
        mapped: &Mapped,
        type_hint: Option<&str>,
        to_ids: bool,
        comment: &str,
        timing: &Timing,
        labels: &[String],
    ) {
        if let Some(a) = mapped.as_single() {
            let type_ = type_hint
                .filter(|h| same_family(h, a.type_) && types::is_valid_type(h))
                .unwrap_or(a.type_);
            let value = observable::canonical_value(type_, &a.value);
            self.attribute(
                source_id, type_, None, &value, to_ids, comment, timing, labels,
            );
        } else if mapped.object_name.is_empty() {
            // No template (mac-addr, mutex …): each value on its own; descriptive extras cannot stand alone.
            for a in mapped
                .attributes
                .iter()
                .filter(|a| observable::standalone_type(a.type_))
            {
                self.attribute(
                    source_id, a.type_, None, &a.value, to_ids, comment, timing, labels,
                );
            }
        } else {
            let attrs: Vec<ObjAttr<'_>> = mapped
                .attributes
                .iter()
                .map(|a| ObjAttr {
                    relation: a.relation.as_ref(),
                    type_: a.type_,
                    value: &a.value,
                    to_ids: to_ids && types::default_to_ids(a.type_),
                    category: None,
                })
                .collect();
            self.object(source_id, mapped.object_name, &attrs, comment, labels);
        }
    }
}

#[cfg(test)]
mod tests;
