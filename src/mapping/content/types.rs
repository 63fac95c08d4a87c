//! MISP attribute types: default category, default `to_ids` and allowed categories.
//!
//! Generated from `shared/reference/misp/describeTypes.json` (MISP 2.5.1): every type and category we emit must
//! exist there, or MISP rejects the attribute. The test `types_match_describe_types` re-checks the table.

/// MISP attribute categories, in describeTypes order (bit `i` of [`TypeInfo::categories`] is `CATEGORIES[i]`).
pub const CATEGORIES: [&str; 16] = [
    "Internal reference",
    "Targeting data",
    "Antivirus detection",
    "Payload delivery",
    "Artifacts dropped",
    "Payload installation",
    "Persistence mechanism",
    "Network activity",
    "Payload type",
    "Attribution",
    "External analysis",
    "Financial fraud",
    "Support Tool",
    "Social network",
    "Person",
    "Other",
];

/// What describeTypes says about one attribute type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TypeInfo {
    /// The type name, e.g. `ip-dst`.
    pub name: &'static str,
    /// `sane_defaults[type].default_category`.
    pub default_category: &'static str,
    /// `sane_defaults[type].to_ids`.
    pub to_ids: bool,
    /// Bit set over [`CATEGORIES`]: the categories this type is allowed in.
    pub categories: u16,
}

/// Every MISP attribute type, sorted by name (binary-searchable).
pub const TYPES: &[TypeInfo] = &[
    TypeInfo {
        name: "AS",
        default_category: "Network activity",
        to_ids: false,
        categories: 0x0488,
    },
    TypeInfo {
        name: "aba-rtn",
        default_category: "Financial fraud",
        to_ids: true,
        categories: 0x0800,
    },
    TypeInfo {
        name: "anonymised",
        default_category: "Other",
        to_ids: false,
        categories: 0xffff,
    },
    TypeInfo {
        name: "attachment",
        default_category: "External analysis",
        to_ids: false,
        categories: 0x14bc,
    },
    TypeInfo {
        name: "authentihash",
        default_category: "Payload delivery",
        to_ids: true,
        categories: 0x0038,
    },
    TypeInfo {
        name: "azure-application-id",
        default_category: "Payload delivery",
        to_ids: true,
        categories: 0x0028,
    },
    TypeInfo {
        name: "bank-account-nr",
        default_category: "Financial fraud",
        to_ids: true,
        categories: 0x0800,
    },
    TypeInfo {
        name: "bic",
        default_category: "Financial fraud",
        to_ids: true,
        categories: 0x0800,
    },
    TypeInfo {
        name: "bin",
        default_category: "Financial fraud",
        to_ids: true,
        categories: 0x0800,
    },
    TypeInfo {
        name: "boolean",
        default_category: "Other",
        to_ids: false,
        categories: 0x8000,
    },
    TypeInfo {
        name: "bro",
        default_category: "Network activity",
        to_ids: true,
        categories: 0x0480,
    },
    TypeInfo {
        name: "btc",
        default_category: "Financial fraud",
        to_ids: true,
        categories: 0x0800,
    },
    TypeInfo {
        name: "campaign-id",
        default_category: "Attribution",
        to_ids: false,
        categories: 0x0200,
    },
    TypeInfo {
        name: "campaign-name",
        default_category: "Attribution",
        to_ids: false,
        categories: 0x0200,
    },
    TypeInfo {
        name: "cc-number",
        default_category: "Financial fraud",
        to_ids: true,
        categories: 0x0800,
    },
    TypeInfo {
        name: "cdhash",
        default_category: "Payload delivery",
        to_ids: true,
        categories: 0x0038,
    },
    TypeInfo {
        name: "chrome-extension-id",
        default_category: "Payload delivery",
        to_ids: true,
        categories: 0x0028,
    },
    TypeInfo {
        name: "comment",
        default_category: "Other",
        to_ids: false,
        categories: 0xffff,
    },
    TypeInfo {
        name: "community-id",
        default_category: "Network activity",
        to_ids: true,
        categories: 0x0480,
    },
    TypeInfo {
        name: "cookie",
        default_category: "Network activity",
        to_ids: false,
        categories: 0x0090,
    },
    TypeInfo {
        name: "cortex",
        default_category: "External analysis",
        to_ids: false,
        categories: 0x0400,
    },
    TypeInfo {
        name: "counter",
        default_category: "Other",
        to_ids: false,
        categories: 0x8000,
    },
    TypeInfo {
        name: "country-of-residence",
        default_category: "Person",
        to_ids: false,
        categories: 0x4000,
    },
    TypeInfo {
        name: "cpe",
        default_category: "External analysis",
        to_ids: false,
        categories: 0x8428,
    },
    TypeInfo {
        name: "dash",
        default_category: "Financial fraud",
        to_ids: true,
        categories: 0x0800,
    },
    TypeInfo {
        name: "date-of-birth",
        default_category: "Person",
        to_ids: false,
        categories: 0x4000,
    },
    TypeInfo {
        name: "datetime",
        default_category: "Other",
        to_ids: false,
        categories: 0x8000,
    },
    TypeInfo {
        name: "dkim",
        default_category: "Network activity",
        to_ids: false,
        categories: 0x0080,
    },
    TypeInfo {
        name: "dkim-signature",
        default_category: "Network activity",
        to_ids: false,
        categories: 0x0080,
    },
    TypeInfo {
        name: "dns-soa-email",
        default_category: "Attribution",
        to_ids: false,
        categories: 0x0200,
    },
    TypeInfo {
        name: "dom-hash",
        default_category: "Network activity",
        to_ids: true,
        categories: 0x0480,
    },
    TypeInfo {
        name: "domain",
        default_category: "Network activity",
        to_ids: true,
        categories: 0x0488,
    },
    TypeInfo {
        name: "domain|ip",
        default_category: "Network activity",
        to_ids: true,
        categories: 0x0480,
    },
    TypeInfo {
        name: "edge-extension-id",
        default_category: "Payload delivery",
        to_ids: true,
        categories: 0x0028,
    },
    TypeInfo {
        name: "email",
        default_category: "Social network",
        to_ids: true,
        categories: 0x6288,
    },
    TypeInfo {
        name: "email-attachment",
        default_category: "Payload delivery",
        to_ids: true,
        categories: 0x0008,
    },
    TypeInfo {
        name: "email-body",
        default_category: "Payload delivery",
        to_ids: false,
        categories: 0x0008,
    },
    TypeInfo {
        name: "email-dst",
        default_category: "Network activity",
        to_ids: true,
        categories: 0x2088,
    },
    TypeInfo {
        name: "email-dst-display-name",
        default_category: "Payload delivery",
        to_ids: false,
        categories: 0x0008,
    },
    TypeInfo {
        name: "email-header",
        default_category: "Payload delivery",
        to_ids: false,
        categories: 0x0008,
    },
    TypeInfo {
        name: "email-message-id",
        default_category: "Payload delivery",
        to_ids: false,
        categories: 0x0008,
    },
    TypeInfo {
        name: "email-mime-boundary",
        default_category: "Payload delivery",
        to_ids: false,
        categories: 0x0008,
    },
    TypeInfo {
        name: "email-reply-to",
        default_category: "Payload delivery",
        to_ids: false,
        categories: 0x0008,
    },
    TypeInfo {
        name: "email-src",
        default_category: "Payload delivery",
        to_ids: true,
        categories: 0x2088,
    },
    TypeInfo {
        name: "email-src-display-name",
        default_category: "Payload delivery",
        to_ids: false,
        categories: 0x0008,
    },
    TypeInfo {
        name: "email-subject",
        default_category: "Payload delivery",
        to_ids: false,
        categories: 0x0088,
    },
    TypeInfo {
        name: "email-thread-index",
        default_category: "Payload delivery",
        to_ids: false,
        categories: 0x0008,
    },
    TypeInfo {
        name: "email-x-mailer",
        default_category: "Payload delivery",
        to_ids: false,
        categories: 0x0008,
    },
    TypeInfo {
        name: "eppn",
        default_category: "Network activity",
        to_ids: true,
        categories: 0x2080,
    },
    TypeInfo {
        name: "favicon-mmh3",
        default_category: "Network activity",
        to_ids: true,
        categories: 0x0080,
    },
    TypeInfo {
        name: "filename",
        default_category: "Payload delivery",
        to_ids: true,
        categories: 0x0478,
    },
    TypeInfo {
        name: "filename-pattern",
        default_category: "Payload installation",
        to_ids: true,
        categories: 0x04b8,
    },
    TypeInfo {
        name: "filename|authentihash",
        default_category: "Payload delivery",
        to_ids: true,
        categories: 0x0038,
    },
    TypeInfo {
        name: "filename|impfuzzy",
        default_category: "Payload delivery",
        to_ids: true,
        categories: 0x0038,
    },
    TypeInfo {
        name: "filename|imphash",
        default_category: "Payload delivery",
        to_ids: true,
        categories: 0x0038,
    },
    TypeInfo {
        name: "filename|md5",
        default_category: "Payload delivery",
        to_ids: true,
        categories: 0x0438,
    },
    TypeInfo {
        name: "filename|pehash",
        default_category: "Payload delivery",
        to_ids: true,
        categories: 0x0038,
    },
    TypeInfo {
        name: "filename|sha1",
        default_category: "Payload delivery",
        to_ids: true,
        categories: 0x0438,
    },
    TypeInfo {
        name: "filename|sha224",
        default_category: "Payload delivery",
        to_ids: true,
        categories: 0x0038,
    },
    TypeInfo {
        name: "filename|sha256",
        default_category: "Payload delivery",
        to_ids: true,
        categories: 0x0438,
    },
    TypeInfo {
        name: "filename|sha3-224",
        default_category: "Payload delivery",
        to_ids: true,
        categories: 0x0438,
    },
    TypeInfo {
        name: "filename|sha3-256",
        default_category: "Payload delivery",
        to_ids: true,
        categories: 0x0438,
    },
    TypeInfo {
        name: "filename|sha3-384",
        default_category: "Payload delivery",
        to_ids: true,
        categories: 0x0438,
    },
    TypeInfo {
        name: "filename|sha3-512",
        default_category: "Payload delivery",
        to_ids: true,
        categories: 0x0438,
    },
    TypeInfo {
        name: "filename|sha384",
        default_category: "Payload delivery",
        to_ids: true,
        categories: 0x0038,
    },
    TypeInfo {
        name: "filename|sha512",
        default_category: "Payload delivery",
        to_ids: true,
        categories: 0x0038,
    },
    TypeInfo {
        name: "filename|sha512/224",
        default_category: "Payload delivery",
        to_ids: true,
        categories: 0x0038,
    },
    TypeInfo {
        name: "filename|sha512/256",
        default_category: "Payload delivery",
        to_ids: true,
        categories: 0x0038,
    },
    TypeInfo {
        name: "filename|ssdeep",
        default_category: "Payload delivery",
        to_ids: true,
        categories: 0x0038,
    },
    TypeInfo {
        name: "filename|tlsh",
        default_category: "Payload delivery",
        to_ids: true,
        categories: 0x0038,
    },
    TypeInfo {
        name: "filename|vhash",
        default_category: "Payload delivery",
        to_ids: true,
        categories: 0x0038,
    },
    TypeInfo {
        name: "first-name",
        default_category: "Person",
        to_ids: false,
        categories: 0x4000,
    },
    TypeInfo {
        name: "float",
        default_category: "Other",
        to_ids: false,
        categories: 0x8000,
    },
    TypeInfo {
        name: "frequent-flyer-number",
        default_category: "Person",
        to_ids: false,
        categories: 0x4000,
    },
    TypeInfo {
        name: "full-name",
        default_category: "Person",
        to_ids: false,
        categories: 0x4000,
    },
    TypeInfo {
        name: "gender",
        default_category: "Person",
        to_ids: false,
        categories: 0x4000,
    },
    TypeInfo {
        name: "gene",
        default_category: "Artifacts dropped",
        to_ids: false,
        categories: 0x0010,
    },
    TypeInfo {
        name: "git-commit-id",
        default_category: "Internal reference",
        to_ids: false,
        categories: 0x0001,
    },
    TypeInfo {
        name: "github-organisation",
        default_category: "Social network",
        to_ids: false,
        categories: 0x2000,
    },
    TypeInfo {
        name: "github-repository",
        default_category: "Social network",
        to_ids: false,
        categories: 0x2400,
    },
    TypeInfo {
        name: "github-username",
        default_category: "Social network",
        to_ids: false,
        categories: 0x2000,
    },
    TypeInfo {
        name: "hassh-md5",
        default_category: "Network activity",
        to_ids: true,
        categories: 0x0488,
    },
    TypeInfo {
        name: "hasshserver-md5",
        default_category: "Network activity",
        to_ids: true,
        categories: 0x0488,
    },
    TypeInfo {
        name: "hex",
        default_category: "Other",
        to_ids: false,
        categories: 0x98fd,
    },
    TypeInfo {
        name: "hostname",
        default_category: "Network activity",
        to_ids: true,
        categories: 0x0488,
    },
    TypeInfo {
        name: "hostname|port",
        default_category: "Network activity",
        to_ids: true,
        categories: 0x0088,
    },
    TypeInfo {
        name: "http-method",
        default_category: "Network activity",
        to_ids: false,
        categories: 0x0080,
    },
    TypeInfo {
        name: "iban",
        default_category: "Financial fraud",
        to_ids: true,
        categories: 0x0800,
    },
    TypeInfo {
        name: "identity-card-number",
        default_category: "Person",
        to_ids: false,
        categories: 0x4000,
    },
    TypeInfo {
        name: "impfuzzy",
        default_category: "Payload delivery",
        to_ids: true,
        categories: 0x0038,
    },
    TypeInfo {
        name: "imphash",
        default_category: "Payload delivery",
        to_ids: true,
        categories: 0x0038,
    },
    TypeInfo {
        name: "integer",
        default_category: "Other",
        to_ids: false,
        categories: 0x8000,
    },
    TypeInfo {
        name: "ip-dst",
        default_category: "Network activity",
        to_ids: true,
        categories: 0x0488,
    },
    TypeInfo {
        name: "ip-dst|port",
        default_category: "Network activity",
        to_ids: true,
        categories: 0x0488,
    },
    TypeInfo {
        name: "ip-src",
        default_category: "Network activity",
        to_ids: true,
        categories: 0x0488,
    },
    TypeInfo {
        name: "ip-src|port",
        default_category: "Network activity",
        to_ids: true,
        categories: 0x0488,
    },
    TypeInfo {
        name: "issue-date-of-the-visa",
        default_category: "Person",
        to_ids: false,
        categories: 0x4000,
    },
    TypeInfo {
        name: "ja3-fingerprint-md5",
        default_category: "Network activity",
        to_ids: true,
        categories: 0x0488,
    },
    TypeInfo {
        name: "jabber-id",
        default_category: "Social network",
        to_ids: false,
        categories: 0x2000,
    },
    TypeInfo {
        name: "jarm-fingerprint",
        default_category: "Network activity",
        to_ids: true,
        categories: 0x0488,
    },
    TypeInfo {
        name: "kusto-query",
        default_category: "Artifacts dropped",
        to_ids: false,
        categories: 0x0010,
    },
    TypeInfo {
        name: "last-name",
        default_category: "Person",
        to_ids: false,
        categories: 0x4000,
    },
    TypeInfo {
        name: "link",
        default_category: "External analysis",
        to_ids: false,
        categories: 0x140d,
    },
    TypeInfo {
        name: "mac-address",
        default_category: "Network activity",
        to_ids: false,
        categories: 0x0488,
    },
    TypeInfo {
        name: "mac-eui-64",
        default_category: "Network activity",
        to_ids: false,
        categories: 0x0488,
    },
    TypeInfo {
        name: "malware-sample",
        default_category: "Payload delivery",
        to_ids: true,
        categories: 0x0438,
    },
    TypeInfo {
        name: "malware-type",
        default_category: "Payload delivery",
        to_ids: false,
        categories: 0x0028,
    },
    TypeInfo {
        name: "md5",
        default_category: "Payload delivery",
        to_ids: true,
        categories: 0x0438,
    },
    TypeInfo {
        name: "middle-name",
        default_category: "Person",
        to_ids: false,
        categories: 0x4000,
    },
    TypeInfo {
        name: "mime-type",
        default_category: "Artifacts dropped",
        to_ids: false,
        categories: 0x0038,
    },
    TypeInfo {
        name: "mobile-application-id",
        default_category: "Payload delivery",
        to_ids: true,
        categories: 0x0028,
    },
    TypeInfo {
        name: "mutex",
        default_category: "Artifacts dropped",
        to_ids: true,
        categories: 0x0010,
    },
    TypeInfo {
        name: "named pipe",
        default_category: "Artifacts dropped",
        to_ids: false,
        categories: 0x0010,
    },
    TypeInfo {
        name: "nationality",
        default_category: "Person",
        to_ids: false,
        categories: 0x4000,
    },
    TypeInfo {
        name: "onion-address",
        default_category: "Network activity",
        to_ids: true,
        categories: 0x0488,
    },
    TypeInfo {
        name: "other",
        default_category: "Other",
        to_ids: false,
        categories: 0xfffd,
    },
    TypeInfo {
        name: "passenger-name-record-locator-number",
        default_category: "Person",
        to_ids: false,
        categories: 0x4000,
    },
    TypeInfo {
        name: "passport-country",
        default_category: "Person",
        to_ids: false,
        categories: 0x4000,
    },
    TypeInfo {
        name: "passport-expiration",
        default_category: "Person",
        to_ids: false,
        categories: 0x4000,
    },
    TypeInfo {
        name: "passport-number",
        default_category: "Person",
        to_ids: false,
        categories: 0x4000,
    },
    TypeInfo {
        name: "pattern-in-file",
        default_category: "Payload installation",
        to_ids: true,
        categories: 0x04b8,
    },
    TypeInfo {
        name: "pattern-in-memory",
        default_category: "Payload installation",
        to_ids: true,
        categories: 0x0430,
    },
    TypeInfo {
        name: "pattern-in-traffic",
        default_category: "Network activity",
        to_ids: true,
        categories: 0x04a8,
    },
    TypeInfo {
        name: "payment-details",
        default_category: "Person",
        to_ids: false,
        categories: 0x4000,
    },
    TypeInfo {
        name: "pdb",
        default_category: "Artifacts dropped",
        to_ids: false,
        categories: 0x0010,
    },
    TypeInfo {
        name: "pehash",
        default_category: "Payload delivery",
        to_ids: true,
        categories: 0x0028,
    },
    TypeInfo {
        name: "pgp-private-key",
        default_category: "Person",
        to_ids: false,
        categories: 0xe010,
    },
    TypeInfo {
        name: "pgp-public-key",
        default_category: "Person",
        to_ids: false,
        categories: 0xe010,
    },
    TypeInfo {
        name: "phone-number",
        default_category: "Person",
        to_ids: false,
        categories: 0xc800,
    },
    TypeInfo {
        name: "place-of-birth",
        default_category: "Person",
        to_ids: false,
        categories: 0x4000,
    },
    TypeInfo {
        name: "place-port-of-clearance",
        default_category: "Person",
        to_ids: false,
        categories: 0x4000,
    },
    TypeInfo {
        name: "place-port-of-onward-foreign-destination",
        default_category: "Person",
        to_ids: false,
        categories: 0x4000,
    },
    TypeInfo {
        name: "place-port-of-original-embarkation",
        default_category: "Person",
        to_ids: false,
        categories: 0x4000,
    },
    TypeInfo {
        name: "port",
        default_category: "Network activity",
        to_ids: false,
        categories: 0x8080,
    },
    TypeInfo {
        name: "primary-residence",
        default_category: "Person",
        to_ids: false,
        categories: 0x4000,
    },
    TypeInfo {
        name: "process-state",
        default_category: "Artifacts dropped",
        to_ids: false,
        categories: 0x0010,
    },
    TypeInfo {
        name: "prtn",
        default_category: "Financial fraud",
        to_ids: true,
        categories: 0x0800,
    },
    TypeInfo {
        name: "redress-number",
        default_category: "Person",
        to_ids: false,
        categories: 0x4000,
    },
    TypeInfo {
        name: "regkey",
        default_category: "Persistence mechanism",
        to_ids: true,
        categories: 0x0450,
    },
    TypeInfo {
        name: "regkey|value",
        default_category: "Persistence mechanism",
        to_ids: true,
        categories: 0x0450,
    },
    TypeInfo {
        name: "sha1",
        default_category: "Payload delivery",
        to_ids: true,
        categories: 0x0438,
    },
    TypeInfo {
        name: "sha224",
        default_category: "Payload delivery",
        to_ids: true,
        categories: 0x0038,
    },
    TypeInfo {
        name: "sha256",
        default_category: "Payload delivery",
        to_ids: true,
        categories: 0x0438,
    },
    TypeInfo {
        name: "sha3-224",
        default_category: "Payload delivery",
        to_ids: true,
        categories: 0x0438,
    },
    TypeInfo {
        name: "sha3-256",
        default_category: "Payload delivery",
        to_ids: true,
        categories: 0x0438,
    },
    TypeInfo {
        name: "sha3-384",
        default_category: "Payload delivery",
        to_ids: true,
        categories: 0x0438,
    },
    TypeInfo {
        name: "sha3-512",
        default_category: "Payload delivery",
        to_ids: true,
        categories: 0x0438,
    },
    TypeInfo {
        name: "sha384",
        default_category: "Payload delivery",
        to_ids: true,
        categories: 0x0038,
    },
    TypeInfo {
        name: "sha512",
        default_category: "Payload delivery",
        to_ids: true,
        categories: 0x0038,
    },
    TypeInfo {
        name: "sha512/224",
        default_category: "Payload delivery",
        to_ids: true,
        categories: 0x0038,
    },
    TypeInfo {
        name: "sha512/256",
        default_category: "Payload delivery",
        to_ids: true,
        categories: 0x0038,
    },
    TypeInfo {
        name: "sigma",
        default_category: "Payload installation",
        to_ids: true,
        categories: 0x0038,
    },
    TypeInfo {
        name: "size-in-bytes",
        default_category: "Other",
        to_ids: false,
        categories: 0x8000,
    },
    TypeInfo {
        name: "snort",
        default_category: "Network activity",
        to_ids: true,
        categories: 0x0480,
    },
    TypeInfo {
        name: "special-service-request",
        default_category: "Person",
        to_ids: false,
        categories: 0x4000,
    },
    TypeInfo {
        name: "ssdeep",
        default_category: "Payload delivery",
        to_ids: true,
        categories: 0x0038,
    },
    TypeInfo {
        name: "ssh-fingerprint",
        default_category: "Network activity",
        to_ids: false,
        categories: 0x0080,
    },
    TypeInfo {
        name: "stix2-pattern",
        default_category: "Payload installation",
        to_ids: true,
        categories: 0x00b8,
    },
    TypeInfo {
        name: "suricata",
        default_category: "Network activity",
        to_ids: true,
        categories: 0x0480,
    },
    TypeInfo {
        name: "target-email",
        default_category: "Targeting data",
        to_ids: false,
        categories: 0x0002,
    },
    TypeInfo {
        name: "target-external",
        default_category: "Targeting data",
        to_ids: false,
        categories: 0x0002,
    },
    TypeInfo {
        name: "target-location",
        default_category: "Targeting data",
        to_ids: false,
        categories: 0x0002,
    },
    TypeInfo {
        name: "target-machine",
        default_category: "Targeting data",
        to_ids: false,
        categories: 0x0002,
    },
    TypeInfo {
        name: "target-org",
        default_category: "Targeting data",
        to_ids: false,
        categories: 0x0002,
    },
    TypeInfo {
        name: "target-user",
        default_category: "Targeting data",
        to_ids: false,
        categories: 0x0002,
    },
    TypeInfo {
        name: "telfhash",
        default_category: "Payload delivery",
        to_ids: true,
        categories: 0x0038,
    },
    TypeInfo {
        name: "text",
        default_category: "Other",
        to_ids: false,
        categories: 0xfffd,
    },
    TypeInfo {
        name: "threat-actor",
        default_category: "Attribution",
        to_ids: false,
        categories: 0x0200,
    },
    TypeInfo {
        name: "tlsh",
        default_category: "Payload delivery",
        to_ids: true,
        categories: 0x0028,
    },
    TypeInfo {
        name: "travel-details",
        default_category: "Person",
        to_ids: false,
        categories: 0x4000,
    },
    TypeInfo {
        name: "twitter-id",
        default_category: "Social network",
        to_ids: false,
        categories: 0x2000,
    },
    TypeInfo {
        name: "uri",
        default_category: "Network activity",
        to_ids: true,
        categories: 0x0080,
    },
    TypeInfo {
        name: "url",
        default_category: "Network activity",
        to_ids: true,
        categories: 0x0488,
    },
    TypeInfo {
        name: "user-agent",
        default_category: "Network activity",
        to_ids: false,
        categories: 0x0488,
    },
    TypeInfo {
        name: "uuid",
        default_category: "Other",
        to_ids: false,
        categories: 0x8000,
    },
    TypeInfo {
        name: "vhash",
        default_category: "Payload delivery",
        to_ids: true,
        categories: 0x0038,
    },
    TypeInfo {
        name: "visa-number",
        default_category: "Person",
        to_ids: false,
        categories: 0x4000,
    },
    TypeInfo {
        name: "vulnerability",
        default_category: "External analysis",
        to_ids: false,
        categories: 0x0428,
    },
    TypeInfo {
        name: "weakness",
        default_category: "External analysis",
        to_ids: false,
        categories: 0x0428,
    },
    TypeInfo {
        name: "whois-creation-date",
        default_category: "Attribution",
        to_ids: false,
        categories: 0x0200,
    },
    TypeInfo {
        name: "whois-registrant-email",
        default_category: "Attribution",
        to_ids: false,
        categories: 0x2208,
    },
    TypeInfo {
        name: "whois-registrant-name",
        default_category: "Attribution",
        to_ids: false,
        categories: 0x0200,
    },
    TypeInfo {
        name: "whois-registrant-org",
        default_category: "Attribution",
        to_ids: false,
        categories: 0x0200,
    },
    TypeInfo {
        name: "whois-registrant-phone",
        default_category: "Attribution",
        to_ids: false,
        categories: 0x0200,
    },
    TypeInfo {
        name: "whois-registrar",
        default_category: "Attribution",
        to_ids: false,
        categories: 0x0200,
    },
    TypeInfo {
        name: "windows-scheduled-task",
        default_category: "Artifacts dropped",
        to_ids: false,
        categories: 0x0010,
    },
    TypeInfo {
        name: "windows-service-displayname",
        default_category: "Artifacts dropped",
        to_ids: false,
        categories: 0x0010,
    },
    TypeInfo {
        name: "windows-service-name",
        default_category: "Artifacts dropped",
        to_ids: false,
        categories: 0x0010,
    },
    TypeInfo {
        name: "x509-fingerprint-md5",
        default_category: "Network activity",
        to_ids: true,
        categories: 0x06b8,
    },
    TypeInfo {
        name: "x509-fingerprint-sha1",
        default_category: "Network activity",
        to_ids: true,
        categories: 0x06b8,
    },
    TypeInfo {
        name: "x509-fingerprint-sha256",
        default_category: "Network activity",
        to_ids: true,
        categories: 0x06b8,
    },
    TypeInfo {
        name: "xmr",
        default_category: "Financial fraud",
        to_ids: true,
        categories: 0x0800,
    },
    TypeInfo {
        name: "yara",
        default_category: "Payload installation",
        to_ids: true,
        categories: 0x0038,
    },
    TypeInfo {
        name: "zeek",
        default_category: "Network activity",
        to_ids: true,
        categories: 0x0480,
    },
];

/// The describeTypes entry of a type.
pub fn info(type_: &str) -> Option<&'static TypeInfo> {
    TYPES
        .binary_search_by(|t| t.name.cmp(type_))
        .ok()
        .map(|i| &TYPES[i])
}

/// Whether `category` is allowed for `type_`.
pub fn category_allowed(type_: &str, category: &str) -> bool {
    let Some(t) = info(type_) else { return false };
    CATEGORIES
        .iter()
        .position(|c| *c == category)
        .is_some_and(|i| t.categories & (1 << i) != 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn describe_types() -> serde_json::Value {
        let path =
            crate::mapping::content::tests::shared_dir().join("reference/misp/describeTypes.json");
        let text = std::fs::read_to_string(path).expect("describeTypes.json readable");
        let v: serde_json::Value = serde_json::from_str(&text).expect("describeTypes.json parses");
        v.get("result").cloned().unwrap_or(v)
    }

    #[test]
    fn types_match_describe_types() {
        let d = describe_types();
        let types = d["types"].as_array().expect("types array");
        assert_eq!(types.len(), TYPES.len());
        for t in types {
            let name = t.as_str().expect("type name");
            let info = info(name).unwrap_or_else(|| panic!("{name} missing"));
            let sd = &d["sane_defaults"][name];
            assert_eq!(sd["default_category"].as_str(), Some(info.default_category));
            assert_eq!(sd["to_ids"].as_i64() == Some(1), info.to_ids, "{name}");
            for (i, c) in CATEGORIES.iter().enumerate() {
                let listed = d["category_type_mappings"][*c]
                    .as_array()
                    .is_some_and(|a| a.iter().any(|x| x.as_str() == Some(name)));
                assert_eq!(listed, info.categories & (1 << i) != 0, "{name} in {c}");
            }
        }
    }

    #[test]
    fn lookups() {
        assert_eq!(
            info("ip-dst").map(|t| t.default_category),
            Some("Network activity")
        );
        assert!(info("no-such-type").is_none());
        assert!(category_allowed("md5", "Payload delivery"));
        assert!(!category_allowed("md5", "Person"));
        assert!(!category_allowed("nope", "Other"));
    }
}
