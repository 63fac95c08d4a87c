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
        name: "ip-port",
        uuid: "9f8cea74-16fe-4968-a2b4-026676949ac6",
        version: "10",
        meta_category: "network",
        description: "An IP address (or domain or hostname) and a port seen as a tuple (or as a triple) in a specific time frame.",
    },
    Template {
        name: "malware-analysis",
        uuid: "8229ee82-7218-4ff5-9eac-57961a6f0288",
        version: "1",
        meta_category: "misc",
        description: "Malware Analysis captures the metadata and results of a particular static or dynamic analysis performed on a malware instance or family.",
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
        name: "process",
        uuid: "02aeef94-ac23-455c-addb-731757ceafb5",
        version: "10",
        meta_category: "misc",
        description: "Object describing a system process.",
    },
    Template {
        name: "registry-key",
        uuid: "8b3228ad-6d82-4fe6-b2ae-05426308f1d5",
        version: "5",
        meta_category: "file",
        description: "Registry key object describing a Windows registry key with value and last-modified timestamp",
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
