//! MISP object templates we build objects from (name, uuid, version, meta-category, description).
//!
//! Values are those of MISP's misp-objects repository as used by misp-stix (`reference/notes/misp.md` §3 and
//! the misp-stix mapping samples in `corpus/stix/misp-stix/`). MISP stores an object even when its template is
//! unknown locally, but a known template lets MISP's UI and Taranis' collector read it as usual.

use uuid::Uuid;

/// One misp-objects template.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Template {
    pub name: &'static str,
    pub uuid: &'static str,
    pub version: &'static str,
    pub meta_category: &'static str,
    pub description: &'static str,
}

impl Template {
    /// The template uuid (the table is checked by a unit test).
    pub fn template_uuid(&self) -> Uuid {
        Uuid::parse_str(self.uuid).unwrap_or(Uuid::nil())
    }
}

/// The templates we use, sorted by name.
pub const TEMPLATES: &[Template] = &[
    Template {
        name: "artifact",
        uuid: "0a46df3a-bd9b-472c-a1e7-6aede7094483",
        version: "3",
        meta_category: "file",
        description: "The Artifact object permits capturing an array of bytes (8-bits), as a base64-encoded string, or linking to a file-like payload. From STIX 2.1 (6.1)",
    },
    Template {
        name: "asn",
        uuid: "4ec55cc6-9e49-4c64-b794-03c25c1a6587",
        version: "6",
        meta_category: "network",
        description: "Autonomous system object describing an autonomous system which can include one or more network operators managing an entity (e.g. ISP) along with their routing policy, routing prefixes or alike.",
    },
    Template {
        name: "attack-pattern",
        uuid: "35928348-56be-4d7f-9752-a80927936351",
        version: "1",
        meta_category: "vulnerability",
        description: "Attack pattern describing a common attack pattern enumeration and classification.",
    },
    Template {
        name: "bank-account",
        uuid: "b4712203-95a8-4883-80e9-b566f5df11c9",
        version: "1",
        meta_category: "financial",
        description: "An object describing bank account information based on account description from goAML 4.0.",
    },
    Template {
        name: "btc-wallet",
        uuid: "22910c83-dd0e-4ed2-9823-45f8cad562a4",
        version: "2",
        meta_category: "financial",
        description: "An object to describe a Bitcoin wallet. Best to be used with bitcoin-transactions.",
    },
    Template {
        name: "course-of-action",
        uuid: "3d1c2c06-68a9-4394-8c8d-258d115f796f",
        version: "1",
        meta_category: "misc",
        description: "An object describing a specific measure taken to prevent or respond to an attack.",
    },
    Template {
        name: "directory",
        uuid: "23ac6a02-1017-4ea6-a4df-148ed563988d",
        version: "1",
        meta_category: "file",
        description: "Directory object describing a directory with meta-information",
    },
    Template {
        name: "domain-ip",
        uuid: "43b3b146-77eb-4931-b4cc-b66c60f28734",
        version: "11",
        meta_category: "network",
        description: "A domain/hostname and IP address seen as a tuple in a specific time frame.",
    },
    Template {
        name: "email",
        uuid: "a0c666e0-fc65-4be8-b48f-3423d788b552",
        version: "19",
        meta_category: "network",
        description: "Email object describing an email with meta-information",
    },
    Template {
        name: "employee",
        uuid: "443b2f15-d7c9-4d3d-bfd2-38f099753e83",
        version: "1",
        meta_category: "misc",
        description: "An employee and related data points",
    },
    Template {
        name: "facebook-account",
        uuid: "b9862b95-7d78-4938-a2b5-13e45c60f25a",
        version: "1",
        meta_category: "misc",
        description: "Facebook account.",
    },
    Template {
        name: "file",
        uuid: "688c46fb-5edb-40a3-8273-1af7923e2215",
        version: "25",
        meta_category: "file",
        description: "File object describing a file with meta-information",
    },
    Template {
        name: "geolocation",
        uuid: "cd6f2238-ba55-4888-82c4-104e6e1acf21",
        version: "8",
        meta_category: "misc",
        description: "An object to describe a geographic location.",
    },
    Template {
        name: "github-user",
        uuid: "4329b5e6-8e6a-4b55-8fd1-9033782017d4",
        version: "1",
        meta_category: "misc",
        description: "GitHub user",
    },
    Template {
        name: "gitlab-user",
        uuid: "39ef3197-08f5-445f-b3b6-9d4d8604071c",
        version: "1",
        meta_category: "misc",
        description: "GitLab user. Gitlab.com user or self-hosted GitLab instance",
    },
    Template {
        name: "http-request",
        uuid: "b4a8d163-8110-4239-bfcf-e08f3a9fdf7b",
        version: "4",
        meta_category: "network",
        description: "A single HTTP request header",
    },
    Template {
        name: "identity",
        uuid: "ae85b960-b507-4de2-a32c-9cfb8f25f990",
        version: "1",
        meta_category: "misc",
        description: "Identities can represent actual individuals, organizations, or groups (e.g., ACME, Inc.) as well as classes of individuals, organizations, systems or groups (e.g., the finance sector).",
    },
    Template {
        name: "intrusion-set",
        uuid: "bfe96eae-e37a-4ecf-8012-1cdb478571a5",
        version: "1",
        meta_category: "misc",
        description: "An Intrusion Set is a grouped set of adversarial behaviors and resources with common properties that is believed to be orchestrated by a single organization",
    },
    Template {
        name: "ip-port",
        uuid: "9f8cea74-16fe-4968-a2b4-026676949ac6",
        version: "10",
        meta_category: "network",
        description: "An IP address (or domain or hostname) and a port seen as a tuple (or as a triple) in a specific time frame.",
    },
    Template {
        name: "legal-entity",
        uuid: "14f5688f-d89c-469f-9878-c48bf6c41c65",
        version: "2",
        meta_category: "misc",
        description: "An object to describe a legal entity.",
    },
    Template {
        name: "malware-analysis",
        uuid: "8229ee82-7218-4ff5-9eac-57961a6f0288",
        version: "1",
        meta_category: "misc",
        description: "Malware Analysis captures the metadata and results of a particular static or dynamic analysis performed on a malware instance or family.",
    },
    Template {
        name: "mutex",
        uuid: "9f5c1a68-2021-4faa-b409-61c899c86466",
        version: "1",
        meta_category: "misc",
        description: "Object to describe mutual exclusion locks (mutex) as seen in memory or computer program",
    },
    Template {
        name: "network-socket",
        uuid: "48bbfd72-ef8e-4649-b14d-41b4b5a0eba2",
        version: "4",
        meta_category: "network",
        description: "Network socket object describes a local or remote network connections based on the socket data structure.",
    },
    Template {
        name: "network-traffic",
        uuid: "16290b18-9af5-4a43-b195-75fe1eef0c35",
        version: "1",
        meta_category: "network",
        description: "Generic network traffic that originates from a source and is addressed to a destination.",
    },
    Template {
        name: "news-agency",
        uuid: "92b3f7fd-c4bc-42af-a73b-033ace439622",
        version: "2",
        meta_category: "misc",
        description: "News agencies compile news and disseminate news in bulk.",
    },
    Template {
        name: "nova-rule",
        uuid: "3c4669ee-c659-40c7-93ea-d4149bded584",
        version: "1",
        meta_category: "detection",
        description: "NOVA prompt detection rule metadata and logic for a single NOVA rule.",
    },
    Template {
        name: "organization",
        uuid: "f750e12b-127a-432c-b022-b3f9153c4e2a",
        version: "3",
        meta_category: "misc",
        description: "An object which describes an organization.",
    },
    Template {
        name: "owasp-crs-rule",
        uuid: "8f0a7d9a-7b5d-4d6e-9d7b-2b2d9d9d1001",
        version: "1",
        meta_category: "network",
        description: "OWASP Core Rule Set (CRS) rule metadata for a WAF detection rule.",
    },
    Template {
        name: "parler-account",
        uuid: "8d5ba58e-cac3-46a6-9d1f-cf236f7e95c9",
        version: "2",
        meta_category: "misc",
        description: "Parler account.",
    },
    Template {
        name: "pe",
        uuid: "cf7adecc-d4f0-4e88-9d90-f978ee151a07",
        version: "6",
        meta_category: "file",
        description: "Object describing a Portable Executable",
    },
    Template {
        name: "pe-section",
        uuid: "198a17d2-a135-4b25-9a32-5aa4e632014a",
        version: "1",
        meta_category: "file",
        description: "Object describing a section of a Portable Executable",
    },
    Template {
        name: "person",
        uuid: "a15b0477-e9d1-4b9c-9546-abe78a4f4248",
        version: "8",
        meta_category: "misc",
        description: "An object which describes a person or an identity.",
    },
    Template {
        name: "process",
        uuid: "02aeef94-ac23-455c-addb-731757ceafb5",
        version: "10",
        meta_category: "misc",
        description: "Object describing a system process.",
    },
    Template {
        name: "reddit-account",
        uuid: "6802f885-2003-494a-b234-61aadce62731",
        version: "2",
        meta_category: "misc",
        description: "Reddit account.",
    },
    Template {
        name: "registry-key",
        uuid: "8b3228ad-6d82-4fe6-b2ae-05426308f1d5",
        version: "5",
        meta_category: "file",
        description: "Registry key object describing a Windows registry key with value and last-modified timestamp",
    },
    Template {
        name: "script",
        uuid: "6bce7d01-dbec-4054-b3c2-3655a19382e2",
        version: "3",
        meta_category: "misc",
        description: "Object describing a computer program written to be run in a special run-time environment. The script or shell script can be used for malicious activities but also as support tools for threat analysts.",
    },
    Template {
        name: "sigma",
        uuid: "aa21a3cd-ab2c-442a-9999-a5e6626591ec",
        version: "1",
        meta_category: "misc",
        description: "An object describing a Sigma rule (or a Sigma rule name).",
    },
    Template {
        name: "software",
        uuid: "b1b5dc0e-73fe-443c-8d9d-0e208de3951e",
        version: "1",
        meta_category: "misc",
        description: "The Software object represents high-level properties associated with software, including software products. STIX 2.1 - 6.14",
    },
    Template {
        name: "suricata",
        uuid: "3c177337-fb80-405a-a6c1-1b2ddea8684a",
        version: "2",
        meta_category: "network",
        description: "An object describing one or more Suricata rule(s) along with version and contextual information.",
    },
    Template {
        name: "telegram-account",
        uuid: "06f02ecf-5afb-42c5-9cb0-b362e222f52c",
        version: "2",
        meta_category: "misc",
        description: "Information related to a telegram account",
    },
    Template {
        name: "twitter-account",
        uuid: "8066563f-881e-4f6a-9d6c-a9d15b8658bb",
        version: "7",
        meta_category: "misc",
        description: "Twitter account.",
    },
    Template {
        name: "url",
        uuid: "60efb77b-40b5-4c46-871b-ed1ed999fce5",
        version: "10",
        meta_category: "network",
        description: "url object describes an url along with its normalized field (like extracted using faup parsing library) and its metadata.",
    },
    Template {
        name: "user-account",
        uuid: "49606b06-22f0-4ac8-8eee-2f12ad46f3d3",
        version: "6",
        meta_category: "misc",
        description: "User-account object, defining aspects of user identification, authentication, privileges and other relevant data points.",
    },
    Template {
        name: "vulnerability",
        uuid: "81650945-f186-437b-8945-9f31715d32da",
        version: "2",
        meta_category: "network",
        description: "Vulnerability object describing common vulnerability enumeration",
    },
    Template {
        name: "wazuh-rule",
        uuid: "5150952e-4a21-4011-aa20-204b6459e657",
        version: "1",
        meta_category: "misc",
        description: "An object describing a Wazuh XML rule using common fields from the official Wazuh rule syntax.",
    },
    Template {
        name: "x509",
        uuid: "d1ab756a-26b5-4349-9f43-765630f0911c",
        version: "14",
        meta_category: "network",
        description: "x509 object describing a X.509 certificate",
    },
    Template {
        name: "yara",
        uuid: "b5acf82e-ecca-4868-82fe-9dbdf4d808c3",
        version: "6",
        meta_category: "misc",
        description: "An object describing a YARA rule (or a YARA rule name) along with its version.",
    },
];

/// The template named `name`.
pub fn template(name: &str) -> Option<&'static Template> {
    TEMPLATES
        .binary_search_by(|t| t.name.cmp(name))
        .ok()
        .map(|i| &TEMPLATES[i])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_is_sorted_and_uuids_parse() {
        for w in TEMPLATES.windows(2) {
            assert!(w[0].name < w[1].name, "{} before {}", w[0].name, w[1].name);
        }
        for t in TEMPLATES {
            assert!(Uuid::parse_str(t.uuid).is_ok(), "{}", t.name);
            assert!(t.version.parse::<u32>().is_ok(), "{}", t.name);
            assert!(!t.description.is_empty());
            assert_eq!(template(t.name), Some(t));
        }
        assert!(template("nope").is_none());
    }
}
