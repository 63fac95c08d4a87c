//! STIX cyber-observable properties → MISP object relations and attribute types.
//!
//! One table serves both sources of observable data: the properties of an SCO (flattened with
//! [`flatten_sco`]) and the comparisons of an indicator pattern. Both are `(path, value)` pairs with the same
//! path syntax (`hashes.SHA-256`, `to_refs[*].value`, `extensions.socket-ext.socket_type`), so an SCO and the
//! pattern describing it map to the same MISP attributes. Relation names and object templates follow
//! misp-stix's STIX 2.1 → MISP mapping (`reference/notes/misp.md` §4).

use std::borrow::Cow;
use std::net::IpAddr;

use serde_json::{Map, Value};

/// Most properties taken from one observable (flattening stops there).
pub const MAX_PROPS: usize = 256;
/// Deepest nesting followed when flattening an SCO (refs included).
const MAX_FLATTEN_DEPTH: usize = 5;

/// Where observable data comes from: it decides a few types (misp-stix maps `email-addr` in a pattern to
/// `email-dst`, as an observable to `email`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    Pattern,
    Observable,
}

/// One MISP attribute derived from an observable property.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MappedAttr {
    /// Object relation (used when the result is an object).
    pub relation: Cow<'static, str>,
    /// MISP attribute type.
    pub type_: &'static str,
    pub value: String,
}

/// What one observable (an SCO, or the comparisons of a pattern on one object type) becomes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mapped {
    /// The MISP object template used when there is more than one attribute (or a forced object).
    pub object_name: &'static str,
    pub attributes: Vec<MappedAttr>,
    /// Property paths that had no mapping (reported by the caller when they matter).
    pub unmapped: Vec<String>,
}

impl Mapped {
    /// The single attribute this observable is, when it is one indicator-like value.
    pub fn as_single(&self) -> Option<&MappedAttr> {
        match self.attributes.as_slice() {
            [a] if standalone_type(a.type_) && !forced_object(self.object_name) => Some(a),
            _ => None,
        }
    }
}

/// Types that only make sense inside an object (a lone `text` or `datetime` says nothing).
pub(crate) fn standalone_type(t: &str) -> bool {
    !matches!(
        t,
        "text"
            | "datetime"
            | "boolean"
            | "float"
            | "counter"
            | "size-in-bytes"
            | "port"
            | "mime-type"
            | "attachment"
            | "email-dst-display-name"
            | "email-src-display-name"
    )
}

/// Templates misp-stix always builds as objects, whatever the number of properties.
fn forced_object(name: &str) -> bool {
    matches!(
        name,
        "user-account"
            | "x509"
            | "process"
            | "software"
            | "directory"
            | "artifact"
            | "pe"
            | "pe-section"
    )
}

/// Lower-case the `[n]` indices of a path to `[*]`: `values[0].name` → `values[*].name`.
pub fn normalise_path(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    let mut chars = path.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '[' {
            let mut inner = String::new();
            for d in chars.by_ref() {
                if d == ']' {
                    break;
                }
                inner.push(d);
            }
            if inner.chars().all(|d| d.is_ascii_digit()) || inner == "*" {
                out.push_str("[*]");
            } else {
                out.push('[');
                out.push_str(&inner);
                out.push(']');
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// STIX hash algorithm name (`MD5`, `SHA-256`, `SHA3-256`, `SSDEEP`, …) → MISP hash type.
pub fn hash_type(name: &str) -> Option<&'static str> {
    let n: String = name
        .chars()
        .filter(|c| !matches!(c, '-' | '_' | ' ' | '\''))
        .collect::<String>()
        .to_ascii_lowercase();
    Some(match n.as_str() {
        "md5" => "md5",
        "sha1" => "sha1",
        "sha224" => "sha224",
        "sha256" => "sha256",
        "sha384" => "sha384",
        "sha512" => "sha512",
        "sha512/224" => "sha512/224",
        "sha512/256" => "sha512/256",
        "sha3224" => "sha3-224",
        "sha3256" => "sha3-256",
        "sha3384" => "sha3-384",
        "sha3512" => "sha3-512",
        "ssdeep" => "ssdeep",
        "tlsh" => "tlsh",
        "imphash" => "imphash",
        "authentihash" => "authentihash",
        "vhash" => "vhash",
        "telfhash" => "telfhash",
        "pehash" => "pehash",
        "impfuzzy" => "impfuzzy",
        _ => return None,
    })
}

fn is_ip(v: &str) -> bool {
    let v = v.split('/').next().unwrap_or(v);
    v.parse::<IpAddr>().is_ok()
}

/// Paths that carry no MISP information and are skipped silently.
fn ignored(path: &str) -> bool {
    let last = path.rsplit('.').next().unwrap_or(path);
    matches!(
        last,
        "type" | "id" | "spec_version" | "defanged" | "extension_type"
    ) || path.starts_with("object_marking_refs")
        || path.starts_with("granular_markings")
        || path.starts_with("created_by_ref")
}

/// The mapping rule of one property path of one observable type: `(relation, MISP type)`.
fn rule(
    object_type: &str,
    path: &str,
    value: &str,
    source: Source,
) -> Option<(&'static str, &'static str)> {
    // Hashes are shared by every type that has them.
    if let Some(alg) = path.strip_prefix("hashes.") {
        let h = hash_type(alg)?;
        return Some(match object_type {
            "x509-certificate" => match h {
                "md5" => ("x509-fingerprint-md5", "x509-fingerprint-md5"),
                "sha1" => ("x509-fingerprint-sha1", "x509-fingerprint-sha1"),
                "sha256" => ("x509-fingerprint-sha256", "x509-fingerprint-sha256"),
                _ => return None,
            },
            _ => (h, h),
        });
    }
    let r = match (object_type, path) {
        ("ipv4-addr" | "ipv6-addr", "value") => ("ip", "ip-dst"),
        ("domain-name", "value") => ("domain", "domain"),
        ("domain-name", "resolves_to_refs[*].value") if is_ip(value) => ("ip", "ip-dst"),
        ("domain-name", "resolves_to_refs[*].value") => ("domain", "domain"),
        ("url", "value") => ("url", "url"),
        ("mac-addr", "value") => ("mac-address", "mac-address"),
        ("mutex", "name") => ("name", "mutex"),
        ("email-addr", "value") => match source {
            Source::Pattern => ("to", "email-dst"),
            Source::Observable => ("to", "email"),
        },
        ("email-addr", "display_name") => ("to-display-name", "email-dst-display-name"),
        ("autonomous-system", "number") => ("asn", "AS"),
        ("autonomous-system", "name") => ("description", "text"),
        ("windows-registry-key", "key") => ("key", "regkey"),
        ("windows-registry-key", "modified_time" | "modified") => ("last-modified", "datetime"),
        ("windows-registry-key", "values[*].name") => ("name", "text"),
        ("windows-registry-key", "values[*].data") => ("data", "text"),
        ("windows-registry-key", "values[*].data_type") => ("data-type", "text"),
        ("file", "name") => ("filename", "filename"),
        ("file", "size") => ("size-in-bytes", "size-in-bytes"),
        ("file", "mime_type") => ("mimetype", "mime-type"),
        ("file", "name_enc") => ("file-encoding", "text"),
        ("file", "ctime" | "created") => ("creation-time", "datetime"),
        ("file", "mtime" | "modified") => ("modification-time", "datetime"),
        ("file", "atime" | "accessed") => ("access-time", "datetime"),
        ("file", "parent_directory_ref.path") => ("path", "text"),
        ("directory", "path") => ("path", "text"),
        ("directory", "path_enc") => ("path-encoding", "text"),
        ("directory", "ctime" | "created") => ("creation-time", "datetime"),
        ("directory", "mtime" | "modified") => ("modification-time", "datetime"),
        ("directory", "atime" | "accessed") => ("access-time", "datetime"),
        ("artifact", "mime_type") => ("mime_type", "mime-type"),
        ("artifact", "url") => ("url", "url"),
        ("artifact", "encryption_algorithm") => ("encryption_algorithm", "text"),
        ("artifact", "decryption_key") => ("decryption_key", "text"),
        ("x509-certificate", "issuer") => ("issuer", "text"),
        ("x509-certificate", "subject") => ("subject", "text"),
        ("x509-certificate", "serial_number") => ("serial-number", "text"),
        ("x509-certificate", "version") => ("version", "text"),
        ("x509-certificate", "validity_not_before") => ("validity-not-before", "datetime"),
        ("x509-certificate", "validity_not_after") => ("validity-not-after", "datetime"),
        ("x509-certificate", "subject_public_key_algorithm") => ("pubkey-info-algorithm", "text"),
        ("x509-certificate", "subject_public_key_modulus") => ("pubkey-info-modulus", "text"),
        ("x509-certificate", "subject_public_key_exponent") => ("pubkey-info-exponent", "text"),
        ("x509-certificate", "is_self_signed") => ("self_signed", "boolean"),
        ("x509-certificate", "signature_algorithm") => ("signature_algorithm", "text"),
        ("user-account", "user_id") => ("user-id", "text"),
        ("user-account", "account_login") => ("username", "text"),
        ("user-account", "account_type") => ("account-type", "text"),
        ("user-account", "display_name") => ("display-name", "text"),
        ("user-account", "credential") => ("password", "text"),
        ("user-account", "is_service_account") => ("is_service_account", "boolean"),
        ("user-account", "is_privileged") => ("privileged", "boolean"),
        ("user-account", "can_escalate_privs") => ("can_escalate_privs", "boolean"),
        ("user-account", "is_disabled") => ("disabled", "boolean"),
        ("user-account", "account_created") => ("created", "datetime"),
        ("user-account", "account_expires") => ("expires", "datetime"),
        ("user-account", "account_first_login") => ("first_login", "datetime"),
        ("user-account", "account_last_login") => ("last_login", "datetime"),
        ("user-account", "credential_last_changed") => ("password_last_changed", "datetime"),
        ("user-account", "extensions.unix-account-ext.gid") => ("group-id", "text"),
        ("user-account", "extensions.unix-account-ext.groups[*]") => ("group", "text"),
        ("user-account", "extensions.unix-account-ext.home_dir") => ("home_dir", "text"),
        ("user-account", "extensions.unix-account-ext.shell") => ("shell", "text"),
        ("software", "name") => ("name", "text"),
        ("software", "cpe") => ("cpe", "cpe"),
        ("software", "swid") => ("swid", "text"),
        ("software", "languages[*]") => ("language", "text"),
        ("software", "vendor") => ("vendor", "text"),
        ("software", "version") => ("version", "text"),
        ("process", "pid") => ("pid", "text"),
        ("process", "name") => ("name", "text"),
        ("process", "cwd") => ("current-directory", "text"),
        ("process", "created_time" | "created") => ("creation-time", "datetime"),
        ("process", "command_line") => ("command-line", "text"),
        ("process", "is_hidden") => ("hidden", "boolean"),
        ("process", "image_ref.name") => ("image", "filename"),
        ("process", "parent_ref.pid") => ("parent-pid", "text"),
        ("process", "parent_ref.name") => ("parent-process-name", "text"),
        ("process", "parent_ref.command_line") => ("parent-command-line", "text"),
        ("process", "parent_ref.image_ref.name") => ("parent-image", "filename"),
        ("process", "child_refs[*].pid") => ("child-pid", "text"),
        ("network-traffic", "src_ref.value") if is_ip(value) => ("src_ip", "ip-src"),
        ("network-traffic", "src_ref.value") => ("src_hostname", "hostname"),
        ("network-traffic", "dst_ref.value") if is_ip(value) => ("dst_ip", "ip-dst"),
        ("network-traffic", "dst_ref.value") => ("dst_hostname", "hostname"),
        ("network-traffic", "src_port") => ("src_port", "port"),
        ("network-traffic", "dst_port") => ("dst_port", "port"),
        ("network-traffic", "protocols[*]") => ("protocols", "text"),
        ("network-traffic", "src_byte_count") => ("src_bytes_count", "size-in-bytes"),
        ("network-traffic", "dst_byte_count") => ("dst_bytes_count", "size-in-bytes"),
        ("network-traffic", "src_packets") => ("src_packets", "counter"),
        ("network-traffic", "dst_packets") => ("dst_packets", "counter"),
        ("network-traffic", "start") => ("start_time", "datetime"),
        ("network-traffic", "end") => ("end_time", "datetime"),
        ("network-traffic", "is_active") => ("is_active", "boolean"),
        ("network-traffic", "extensions.socket-ext.is_listening") if value == "true" => {
            ("state", "text")
        }
        ("network-traffic", "extensions.socket-ext.address_family") => ("address-family", "text"),
        ("network-traffic", "extensions.socket-ext.protocol_family") => ("domain-family", "text"),
        ("network-traffic", "extensions.socket-ext.socket_type") => ("socket-type", "text"),
        ("network-traffic", "extensions.http-request-ext.request_method") => {
            ("method", "http-method")
        }
        ("network-traffic", "extensions.http-request-ext.request_value") => ("uri", "uri"),
        ("network-traffic", "extensions.http-request-ext.request_header.Host") => {
            ("host", "hostname")
        }
        ("network-traffic", "extensions.http-request-ext.request_header.User-Agent") => {
            ("user-agent", "user-agent")
        }
        ("network-traffic", "extensions.http-request-ext.request_header.Content-Type") => {
            ("content-type", "text")
        }
        ("email-message", "subject") => ("subject", "email-subject"),
        ("email-message", "date") => ("send-date", "datetime"),
        ("email-message", "message_id") => ("message-id", "email-message-id"),
        ("email-message", "body" | "body_multipart[*].body") => ("email-body", "email-body"),
        ("email-message", "from_ref.value" | "sender_ref.value") => ("from", "email-src"),
        ("email-message", "from_ref.display_name" | "sender_ref.display_name") => {
            ("from-display-name", "email-src-display-name")
        }
        ("email-message", "to_refs[*].value") => ("to", "email-dst"),
        ("email-message", "to_refs[*].display_name") => {
            ("to-display-name", "email-dst-display-name")
        }
        ("email-message", "cc_refs[*].value") => ("cc", "email-dst"),
        ("email-message", "cc_refs[*].display_name") => {
            ("cc-display-name", "email-dst-display-name")
        }
        ("email-message", "bcc_refs[*].value") => ("bcc", "email-dst"),
        ("email-message", "bcc_refs[*].display_name") => {
            ("bcc-display-name", "email-dst-display-name")
        }
        ("email-message", "received_lines[*]") => ("header", "email-header"),
        (
            "email-message",
            "additional_header_fields.Reply-To" | "additional_header_fields.Reply-To[*]",
        ) => ("reply-to", "email-reply-to"),
        (
            "email-message",
            "additional_header_fields.X-Mailer" | "additional_header_fields.X-Mailer[*]",
        ) => ("x-mailer", "email-x-mailer"),
        ("email-message", "additional_header_fields.User-Agent") => ("user-agent", "text"),
        ("email-message", "body_multipart[*].body_raw_ref.name") => {
            ("attachment", "email-attachment")
        }
        ("user-agent" | "x-misp-user-agent", "value") => ("user-agent", "user-agent"),
        // `file:extensions.windows-pebinary-ext` (split off by `map_observable_all`).
        ("pe", "pe_type" | "x_misp_type") => ("type", "text"),
        ("pe", "imphash") => ("imphash", "imphash"),
        ("pe", "number_of_sections") => ("number-sections", "counter"),
        ("pe", "optional_header.address_of_entry_point") => ("entrypoint-address", "text"),
        ("pe", "time_date_stamp" | "x_misp_compilation_timestamp") => {
            ("compilation-timestamp", "datetime")
        }
        ("pe", "x_misp_company_name") => ("company-name", "text"),
        ("pe", "x_misp_file_description") => ("file-description", "text"),
        ("pe", "x_misp_file_version") => ("file-version", "text"),
        ("pe", "x_misp_impfuzzy") => ("impfuzzy", "impfuzzy"),
        ("pe", "x_misp_internal_filename") => ("internal-filename", "filename"),
        ("pe", "x_misp_original_filename") => ("original-filename", "filename"),
        ("pe", "x_misp_lang_id") => ("lang-id", "text"),
        ("pe", "x_misp_legal_copyright") => ("legal-copyright", "text"),
        ("pe", "x_misp_product_name") => ("product-name", "text"),
        ("pe", "x_misp_product_version") => ("product-version", "text"),
        ("pe", "x_misp_pehash") => ("pehash", "pehash"),
        ("pe", "x_misp_entrypoint_section_at_position") => {
            ("entrypoint-section-at-position", "text")
        }
        // SDOs misp-stix turns into objects.
        ("location", "city") => ("city", "text"),
        ("location", "country") => ("countrycode", "text"),
        ("location", "region") => ("region", "text"),
        ("location", "administrative_area") => ("region", "text"),
        ("location", "postal_code") => ("zipcode", "text"),
        ("location", "street_address") => ("address", "text"),
        ("location", "latitude") => ("latitude", "float"),
        ("location", "longitude") => ("longitude", "float"),
        ("location", "precision") => ("accuracy-radius", "float"),
        ("location", "description") => ("text", "text"),
        ("malware-analysis", "product") => ("product", "text"),
        ("malware-analysis", "version") => ("version", "text"),
        ("malware-analysis", "configuration_version") => ("configuration_version", "text"),
        ("malware-analysis", "modules[*]") => ("module", "text"),
        ("malware-analysis", "analysis_engine_version") => ("analysis_engine_version", "text"),
        ("malware-analysis", "analysis_definition_version") => {
            ("analysis_definition_version", "text")
        }
        ("malware-analysis", "submitted") => ("submitted_time", "datetime"),
        ("malware-analysis", "analysis_started") => ("start_time", "datetime"),
        ("malware-analysis", "analysis_ended") => ("end_time", "datetime"),
        ("malware-analysis", "result_name") => ("result_name", "text"),
        ("malware-analysis", "result") => ("result", "text"),
        ("identity", "name") => ("name", "text"),
        ("identity", "description") => ("description", "text"),
        ("identity", "identity_class") => ("identity_class", "text"),
        ("identity", "contact_information") => ("contact_information", "text"),
        ("identity", "roles[*]") => ("roles", "text"),
        ("pe-section", "name") => ("name", "text"),
        ("pe-section", "size") => ("size-in-bytes", "size-in-bytes"),
        ("pe-section", "entropy") => ("entropy", "float"),
        _ => return None,
    };
    Some(r)
}

/// The MISP relation of a misp-stix custom property: `x_misp_passport_number` → `passport-number`
/// (also inside an extension: `extensions.windows-pebinary-ext.x_misp_…`). Not inside lists.
fn custom_relation(path: &str) -> Option<String> {
    if path.contains('[') {
        return None;
    }
    let last = path.rsplit('.').next().unwrap_or(path);
    let rest = last.strip_prefix("x_misp_")?;
    let ok = !rest.is_empty()
        && rest.len() <= 64
        && rest
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    ok.then(|| rest.replace('_', "-"))
}

/// The MISP type of a custom relation: the relation itself when it names a type that carries a value on its
/// own (`domain`, `hostname`, `port`, `phone-number`, `md5` …), a few aliases (`host`, `ip`), else `text`.
fn custom_type(relation: &str) -> &'static str {
    const OWN: &[&str] = &[
        "domain",
        "hostname",
        "port",
        "url",
        "uri",
        "link",
        "filename",
        "md5",
        "sha1",
        "sha256",
        "sha512",
        "ssdeep",
        "tlsh",
        "imphash",
        "phone-number",
        "first-name",
        "last-name",
        "middle-name",
        "nationality",
        "passport-number",
        "iban",
        "bic",
        "btc",
        "mac-address",
        "user-agent",
        "mime-type",
        "cpe",
        "AS",
        "email-src",
        "email-dst",
        "ip-src",
        "ip-dst",
        "regkey",
        "mutex",
        "datetime",
        "boolean",
        "float",
        "counter",
        "size-in-bytes",
    ];
    match relation {
        "host" => "hostname",
        "ip" => "ip-dst",
        "e-mail" | "email" => "email",
        r => OWN.iter().find(|t| **t == r).copied().unwrap_or("text"),
    }
}

/// Canonical value for a MISP type: hashes lower-case, `AS` numbers without the prefix (MISP stores them so,
/// and comparing with what MISP holds must not see a change).
pub fn canonical_value(type_: &str, value: &str) -> String {
    let v = value.trim();
    match type_ {
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
        | "authentihash"
        | "vhash"
        | "telfhash"
        | "pehash"
        | "tlsh"
        | "x509-fingerprint-md5"
        | "x509-fingerprint-sha1"
        | "x509-fingerprint-sha256" => v.to_ascii_lowercase(),
        "AS" => {
            let digits = v
                .strip_prefix("AS")
                .or_else(|| v.strip_prefix("as"))
                .unwrap_or(v);
            digits.trim().to_owned()
        }
        _ => v.to_owned(),
    }
}

/// Map the `(path, value)` properties of one observable of `object_type`.
///
/// `None` when the type is not an observable we know. Properties are processed in order; duplicates of the
/// same relation and value are dropped.
pub fn map_observable(
    object_type: &str,
    props: &[(String, String)],
    source: Source,
) -> Option<Mapped> {
    let base = base_object_name(object_type)?;
    let mut attributes: Vec<MappedAttr> = Vec::new();
    let mut unmapped = Vec::new();
    for (path, value) in props {
        let norm = normalise_path(path);
        if ignored(&norm) || value.trim().is_empty() {
            continue;
        }
        match rule(object_type, &norm, value, source) {
            Some((relation, type_)) => {
                let value = if relation == "protocols" {
                    value.trim().to_ascii_uppercase()
                } else if relation == "state" {
                    "listening".to_owned()
                } else if relation == "accuracy-radius" {
                    // STIX precision is in metres, MISP's accuracy radius in kilometres.
                    match value.trim().parse::<f64>() {
                        Ok(m) if m.is_finite() => format!("{:?}", m / 1000.0),
                        _ => continue,
                    }
                } else {
                    canonical_value(type_, value)
                };
                if !attributes
                    .iter()
                    .any(|a| a.relation == relation && a.value == value)
                {
                    attributes.push(MappedAttr {
                        relation: Cow::Borrowed(relation),
                        type_,
                        value,
                    });
                }
            }
            None => match custom_relation(&norm) {
                // misp-stix writes MISP object attributes it has no STIX property for as `x_misp_<relation>`.
                Some(relation) => {
                    let value = value.trim().to_owned();
                    if !attributes
                        .iter()
                        .any(|a| a.relation == relation && a.value == value)
                    {
                        let type_ = custom_type(&relation);
                        attributes.push(MappedAttr {
                            relation: Cow::Owned(relation),
                            type_,
                            value,
                        });
                    }
                }
                None => unmapped.push(path.clone()),
            },
        }
    }
    let object_name = refine_object_name(object_type, base, props, &mut attributes);
    Some(Mapped {
        object_name,
        attributes,
        unmapped,
    })
}

/// Map an observable that may describe several MISP objects: a `file` with a `windows-pebinary-ext` gives
/// the `file`, a `pe` and one `pe-section` per section (as misp-stix does). Other types give one result.
pub fn map_observable_all(
    object_type: &str,
    props: &[(String, String)],
    source: Source,
) -> Vec<Mapped> {
    const PE: &str = "extensions.windows-pebinary-ext.";
    if object_type != "file" || !props.iter().any(|(p, _)| p.starts_with(PE)) {
        return map_observable(object_type, props, source)
            .into_iter()
            .filter(|m| !m.attributes.is_empty())
            .collect();
    }
    let mut base = Vec::new();
    let mut pe = Vec::new();
    let mut sections: Vec<(String, Vec<(String, String)>)> = Vec::new();
    for (path, value) in props {
        let Some(rest) = path.strip_prefix(PE) else {
            base.push((path.clone(), value.clone()));
            continue;
        };
        if let Some(sec) = rest.strip_prefix("sections[") {
            let Some((idx, tail)) = sec.split_once("].") else {
                continue;
            };
            let entry = match sections.iter_mut().position(|(i, _)| i == idx) {
                Some(i) => &mut sections[i].1,
                None => {
                    sections.push((idx.to_owned(), Vec::new()));
                    let last = sections.len() - 1;
                    &mut sections[last].1
                }
            };
            entry.push((tail.to_owned(), value.clone()));
        } else {
            pe.push((rest.to_owned(), value.clone()));
        }
    }
    let mut out: Vec<Mapped> = map_observable("file", &base, source).into_iter().collect();
    out.extend(map_observable("pe", &pe, source));
    for (_, sec) in &sections {
        out.extend(map_observable("pe-section", sec, source));
    }
    out.retain(|m| !m.attributes.is_empty());
    out
}

/// The template of each observable type (refined for network traffic and addresses below).
fn base_object_name(object_type: &str) -> Option<&'static str> {
    Some(match object_type {
        "ipv4-addr" | "ipv6-addr" => "ip-port",
        "domain-name" => "domain-ip",
        "url" => "url",
        "mac-addr" | "mutex" | "user-agent" | "x-misp-user-agent" => "",
        "email-addr" | "email-message" => "email",
        "autonomous-system" => "asn",
        "windows-registry-key" => "registry-key",
        "file" => "file",
        "directory" => "directory",
        "artifact" => "artifact",
        "x509-certificate" => "x509",
        "user-account" => "user-account",
        "software" => "software",
        "process" => "process",
        "network-traffic" => "network-traffic",
        "pe" => "pe",
        "pe-section" => "pe-section",
        "location" => "geolocation",
        "malware-analysis" => "malware-analysis",
        "identity" => "identity",
        _ => return None,
    })
}

fn refine_object_name(
    object_type: &str,
    base: &'static str,
    props: &[(String, String)],
    attributes: &mut [MappedAttr],
) -> &'static str {
    if object_type != "network-traffic" {
        return base;
    }
    let has_ext = |ext: &str| {
        props
            .iter()
            .any(|(p, _)| p.starts_with(&format!("extensions.{ext}")))
    };
    let rename = |attributes: &mut [MappedAttr], f: &dyn Fn(&'static str) -> &'static str| {
        for a in attributes.iter_mut() {
            if let Cow::Borrowed(r) = a.relation {
                a.relation = Cow::Borrowed(f(r));
            }
        }
    };
    if has_ext("http-request-ext") {
        rename(attributes, &|r| match r {
            "src_ip" => "ip-src",
            "dst_ip" => "ip-dst",
            "dst_hostname" => "host",
            "src_port" => "src-port",
            "dst_port" => "dst-port",
            other => other,
        });
        return "http-request";
    }
    if has_ext("socket-ext") {
        rename(attributes, &|r| match r {
            "src_ip" => "ip-src",
            "dst_ip" => "ip-dst",
            "src_hostname" => "hostname-src",
            "dst_hostname" => "hostname-dst",
            "src_port" => "src-port",
            "dst_port" => "dst-port",
            "protocols" => "protocol",
            other => other,
        });
        return "network-socket";
    }
    // Only a destination address and port: misp-stix's ip-port.
    if attributes
        .iter()
        .all(|a| matches!(a.relation.as_ref(), "dst_ip" | "dst_port" | "dst_hostname"))
        && attributes.iter().any(|a| a.relation == "dst_port")
    {
        rename(attributes, &|r| match r {
            "dst_ip" => "ip",
            "dst_hostname" => "hostname",
            "dst_port" => "dst-port",
            other => other,
        });
        return "ip-port";
    }
    base
}

/// Resolves a `*_ref` target: an object of the bundle by id, or of an observed-data's embedded `objects`.
pub type Resolver<'a> = dyn Fn(&str) -> Option<&'a Map<String, Value>> + 'a;

/// Reference properties followed when flattening, per observable type (what misp-stix folds into one object).
pub fn followed_refs(object_type: &str) -> &'static [&'static str] {
    match object_type {
        "network-traffic" => &["src_ref", "dst_ref"],
        "email-message" => &[
            "from_ref",
            "sender_ref",
            "to_refs",
            "cc_refs",
            "bcc_refs",
            "body_raw_ref",
        ],
        "domain-name" => &["resolves_to_refs"],
        "process" => &["image_ref", "parent_ref", "child_refs"],
        "file" => &["parent_directory_ref"],
        _ => &[],
    }
}

/// Flatten an SCO's JSON into `(path, value)` pairs, following the references of [`followed_refs`].
///
/// Bounded by [`MAX_PROPS`] pairs and a nesting depth of 5. Returns the ids of the objects whose properties
/// were folded in (so the caller does not map them a second time on their own).
pub fn flatten_sco<'a>(
    object_type: &str,
    props: &'a Map<String, Value>,
    resolve: &Resolver<'a>,
) -> (Vec<(String, String)>, Vec<String>) {
    let mut out = Vec::new();
    let mut folded = Vec::new();
    let follow = followed_refs(object_type);
    flatten_map(props, "", 0, follow, resolve, &mut out, &mut folded);
    (out, folded)
}

#[allow(clippy::too_many_arguments)]
fn flatten_value<'a>(
    value: &'a Value,
    path: String,
    key: &str,
    depth: usize,
    follow: &[&str],
    resolve: &Resolver<'a>,
    out: &mut Vec<(String, String)>,
    folded: &mut Vec<String>,
) {
    if out.len() >= MAX_PROPS || depth > MAX_FLATTEN_DEPTH {
        return;
    }
    let is_ref = key.ends_with("_ref") || key.ends_with("_refs");
    match value {
        Value::String(s) if is_ref => {
            if follow.contains(&key)
                && let Some(target) = resolve(s)
            {
                folded.push(s.clone());
                flatten_map(target, &path, depth + 1, follow, resolve, out, folded);
            }
        }
        Value::String(s) => out.push((path, s.clone())),
        Value::Number(n) => out.push((path, n.to_string())),
        Value::Bool(b) => out.push((path, b.to_string())),
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                flatten_value(
                    item,
                    format!("{path}[{i}]"),
                    key,
                    depth + 1,
                    follow,
                    resolve,
                    out,
                    folded,
                );
            }
        }
        Value::Object(m) => flatten_map(m, &path, depth + 1, follow, resolve, out, folded),
        Value::Null => {}
    }
}

fn flatten_map<'a>(
    map: &'a Map<String, Value>,
    prefix: &str,
    depth: usize,
    follow: &[&str],
    resolve: &Resolver<'a>,
    out: &mut Vec<(String, String)>,
    folded: &mut Vec<String>,
) {
    if depth > MAX_FLATTEN_DEPTH {
        return;
    }
    for (k, v) in map {
        if out.len() >= MAX_PROPS {
            return;
        }
        let path = if prefix.is_empty() {
            k.clone()
        } else {
            format!("{prefix}.{k}")
        };
        flatten_value(v, path, k, depth, follow, resolve, out, folded);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn props(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(p, v)| ((*p).to_owned(), (*v).to_owned()))
            .collect()
    }

    fn types(m: &Mapped) -> Vec<(&str, &str, &str)> {
        m.attributes
            .iter()
            .map(|a| (a.relation.as_ref(), a.type_, a.value.as_str()))
            .collect()
    }

    #[test]
    fn path_normalisation() {
        assert_eq!(normalise_path("values[0].name"), "values[*].name");
        assert_eq!(normalise_path("to_refs[*].value"), "to_refs[*].value");
        assert_eq!(normalise_path("a[12][3]"), "a[*][*]");
        assert_eq!(normalise_path("a[x]"), "a[x]");
        assert_eq!(normalise_path("a[unterminated"), "a[unterminated]");
    }

    #[test]
    fn hash_names() {
        assert_eq!(hash_type("SHA-256"), Some("sha256"));
        assert_eq!(hash_type("sha256"), Some("sha256"));
        assert_eq!(hash_type("SHA3-512"), Some("sha3-512"));
        assert_eq!(hash_type("SSDEEP"), Some("ssdeep"));
        assert_eq!(hash_type("TLSH"), Some("tlsh"));
        assert_eq!(hash_type("whirlpool"), None);
    }

    #[test]
    fn canonical_values() {
        assert_eq!(canonical_value("md5", " ABCDEF "), "abcdef");
        assert_eq!(canonical_value("AS", "AS666"), "666");
        assert_eq!(canonical_value("AS", "666"), "666");
        assert_eq!(canonical_value("url", "https://X/"), "https://X/");
    }

    #[test]
    fn single_values_are_attributes() {
        let m = map_observable(
            "ipv4-addr",
            &props(&[("value", "1.2.3.4")]),
            Source::Pattern,
        )
        .expect("known");
        assert_eq!(m.as_single().map(|a| a.type_), Some("ip-dst"));
        let m = map_observable("file", &props(&[("hashes.MD5", "AA")]), Source::Pattern)
            .expect("known");
        assert_eq!(
            m.as_single().map(|a| (a.type_, a.value.as_str())),
            Some(("md5", "aa"))
        );
        let m = map_observable(
            "email-addr",
            &props(&[("value", "a@b.c")]),
            Source::Observable,
        )
        .expect("known");
        assert_eq!(m.as_single().map(|a| a.type_), Some("email"));
        // A lone size says nothing: stays an object.
        let m = map_observable("file", &props(&[("size", "3")]), Source::Pattern).expect("known");
        assert!(m.as_single().is_none());
        // x509 is always an object.
        let m = map_observable(
            "x509-certificate",
            &props(&[("hashes.SHA-1", "AB")]),
            Source::Pattern,
        )
        .expect("known");
        assert!(m.as_single().is_none());
        assert_eq!(m.object_name, "x509");
    }

    #[test]
    fn file_object() {
        let m = map_observable(
            "file",
            &props(&[
                ("name", "a.exe"),
                ("hashes.SHA-256", "AB"),
                ("size", "12"),
                ("x_custom", "1"),
                ("type", "file"),
            ]),
            Source::Observable,
        )
        .expect("known");
        assert_eq!(m.object_name, "file");
        assert_eq!(
            types(&m),
            vec![
                ("filename", "filename", "a.exe"),
                ("sha256", "sha256", "ab"),
                ("size-in-bytes", "size-in-bytes", "12")
            ]
        );
        assert_eq!(m.unmapped, vec!["x_custom".to_owned()]);
    }

    #[test]
    fn network_traffic_variants() {
        let m = map_observable(
            "network-traffic",
            &props(&[("dst_ref.value", "5.6.7.8"), ("dst_port", "443")]),
            Source::Pattern,
        )
        .expect("known");
        assert_eq!(m.object_name, "ip-port");
        assert_eq!(
            types(&m),
            vec![("ip", "ip-dst", "5.6.7.8"), ("dst-port", "port", "443")]
        );
        let m = map_observable(
            "network-traffic",
            &props(&[
                ("src_ref.value", "1.2.3.4"),
                ("dst_ref.value", "evil.example"),
                ("protocols[0]", "tcp"),
                ("protocols[1]", "http"),
            ]),
            Source::Pattern,
        )
        .expect("known");
        assert_eq!(m.object_name, "network-traffic");
        assert_eq!(
            types(&m),
            vec![
                ("src_ip", "ip-src", "1.2.3.4"),
                ("dst_hostname", "hostname", "evil.example"),
                ("protocols", "text", "TCP"),
                ("protocols", "text", "HTTP"),
            ]
        );
        let m = map_observable(
            "network-traffic",
            &props(&[
                ("dst_ref.value", "1.2.3.4"),
                ("extensions.socket-ext.socket_type", "SOCK_STREAM"),
                ("protocols[0]", "tcp"),
            ]),
            Source::Pattern,
        )
        .expect("known");
        assert_eq!(m.object_name, "network-socket");
        assert!(types(&m).contains(&("protocol", "text", "TCP")));
        assert!(types(&m).contains(&("ip-dst", "ip-dst", "1.2.3.4")));
        let m = map_observable(
            "network-traffic",
            &props(&[
                ("extensions.http-request-ext.request_method", "GET"),
                (
                    "extensions.http-request-ext.request_header.User-Agent",
                    "curl",
                ),
            ]),
            Source::Pattern,
        )
        .expect("known");
        assert_eq!(m.object_name, "http-request");
    }

    #[test]
    fn misp_custom_properties_become_text_relations() {
        let m = map_observable(
            "user-account",
            &props(&[
                ("user_id", "misp"),
                ("x_misp_passport_number", "AB1"),
                ("x_misp_KnownMalicious", "yes"),
                ("x_misp_", "empty name"),
                ("x_misp_list[0]", "in a list"),
            ]),
            Source::Observable,
        )
        .expect("known");
        assert_eq!(
            types(&m),
            vec![
                ("user-id", "text", "misp"),
                ("passport-number", "passport-number", "AB1"),
                ("KnownMalicious", "text", "yes"),
            ]
        );
        assert_eq!(custom_type("host"), "hostname");
        assert_eq!(custom_type("ip"), "ip-dst");
        assert_eq!(custom_type("domain"), "domain");
        assert_eq!(custom_type("operating-system"), "text");
        assert_eq!(m.unmapped.len(), 2);
    }

    #[test]
    fn unknown_types_are_none() {
        assert!(map_observable("x-custom", &props(&[("value", "1")]), Source::Pattern).is_none());
    }

    #[test]
    fn flatten_follows_only_listed_refs() {
        let ip = json!({"type": "ipv4-addr", "id": "ipv4-addr--1", "value": "1.2.3.4"});
        let nt = json!({
            "type": "network-traffic", "id": "network-traffic--1",
            "src_ref": "ipv4-addr--1", "dst_port": 80, "protocols": ["tcp"],
            "encapsulates_refs": ["network-traffic--2"], "extensions": {"socket-ext": {"is_listening": true}}
        });
        let ip_map = ip.as_object().cloned().expect("object");
        let ip_ref = &ip_map;
        let resolve =
            |id: &str| -> Option<&Map<String, Value>> { (id == "ipv4-addr--1").then_some(ip_ref) };
        let nt_map = nt.as_object().expect("object");
        let (flat, folded) = flatten_sco("network-traffic", nt_map, &resolve);
        assert!(flat.contains(&("src_ref.value".to_owned(), "1.2.3.4".to_owned())));
        assert!(flat.contains(&("dst_port".to_owned(), "80".to_owned())));
        assert!(flat.contains(&("protocols[0]".to_owned(), "tcp".to_owned())));
        assert!(flat.contains(&(
            "extensions.socket-ext.is_listening".to_owned(),
            "true".to_owned()
        )));
        assert!(!flat.iter().any(|(p, _)| p.starts_with("encapsulates")));
        assert_eq!(folded, vec!["ipv4-addr--1".to_owned()]);
    }

    #[test]
    fn flatten_is_bounded() {
        let mut m = Map::new();
        for i in 0..(MAX_PROPS * 2) {
            m.insert(format!("k{i}"), json!("v"));
        }
        let resolve = |_: &str| -> Option<&Map<String, Value>> { None };
        let (flat, _) = flatten_sco("file", &m, &resolve);
        assert_eq!(flat.len(), MAX_PROPS);
        // Deep nesting stops at the depth limit.
        let mut v = json!("leaf");
        for _ in 0..100 {
            v = json!({ "a": v });
        }
        let deep = v.as_object().cloned().expect("object");
        let (flat, _) = flatten_sco("file", &deep, &resolve);
        assert!(flat.is_empty());
    }

    #[test]
    fn self_referencing_refs_terminate() {
        let p =
            json!({"type": "process", "id": "process--1", "parent_ref": "process--1", "pid": 1});
        let pm = p.as_object().cloned().expect("object");
        let pm_ref = &pm;
        let resolve = |_: &str| -> Option<&Map<String, Value>> { Some(pm_ref) };
        let (flat, _) = flatten_sco("process", &pm, &resolve);
        assert!(flat.len() < MAX_PROPS);
        assert!(flat.contains(&("parent_ref.pid".to_owned(), "1".to_owned())));
    }
}
