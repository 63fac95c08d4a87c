//! Unit tests of the content mapping, one per rule.

use serde_json::{Value, json};
use uuid::Uuid;

use super::*;

const EVENT: Uuid = Uuid::from_u128(0x1234_5678_9abc_4def_8123_4567_89ab_cdef);

fn obj(v: Value) -> Object {
    Object::from_value(v).expect("valid test object")
}

fn map(objects: Vec<Value>) -> ContentOutput {
    let objects: Vec<Object> = objects.into_iter().map(obj).collect();
    map_content(EVENT, &objects)
}

fn indicator(pattern: &str) -> Value {
    json!({
        "type": "indicator", "id": "indicator--11111111-1111-4111-8111-111111111111",
        "name": "Bad thing", "pattern": pattern, "pattern_type": "stix",
        "valid_from": "2024-01-01T00:00:00Z"
    })
}

fn pairs(out: &ContentOutput) -> Vec<(String, String)> {
    out.attributes
        .iter()
        .map(|a| (a.type_.clone(), a.value.clone()))
        .collect()
}

fn object_rel(o: &MispObject) -> Vec<(String, String, String)> {
    o.attributes
        .iter()
        .map(|a| {
            (
                a.object_relation.clone().unwrap_or_default(),
                a.type_.clone(),
                a.value.clone(),
            )
        })
        .collect()
}

fn s(x: &str) -> String {
    x.to_owned()
}

#[test]
fn simple_indicator_patterns_become_ids_attributes() {
    let cases = [
        (
            "[ipv4-addr:value = '198.51.100.1']",
            "ip-dst",
            "198.51.100.1",
        ),
        ("[ipv6-addr:value = '2001:db8::1']", "ip-dst", "2001:db8::1"),
        (
            "[domain-name:value = 'evil.example']",
            "domain",
            "evil.example",
        ),
        (
            "[url:value = 'https://evil.example/x']",
            "url",
            "https://evil.example/x",
        ),
        (
            "[email-addr:value = 'a@evil.example']",
            "email-dst",
            "a@evil.example",
        ),
        (
            "[file:hashes.MD5 = 'D41D8CD98F00B204E9800998ECF8427E']",
            "md5",
            "d41d8cd98f00b204e9800998ecf8427e",
        ),
        ("[file:hashes.'SHA-1' = 'aa']", "sha1", "aa"),
        ("[file:hashes.'SHA-256' = 'bb']", "sha256", "bb"),
        ("[file:hashes.'SHA-512' = 'cc']", "sha512", "cc"),
        ("[file:hashes.SSDEEP = '3:a:b']", "ssdeep", "3:a:b"),
        ("[file:hashes.TLSH = 'T1AB']", "tlsh", "t1ab"),
        ("[file:name = 'evil.exe']", "filename", "evil.exe"),
        ("[mutex:name = 'Global\\\\x']", "mutex", "Global\\x"),
        (
            "[windows-registry-key:key = 'HKLM\\\\Run']",
            "regkey",
            "HKLM\\Run",
        ),
        ("[autonomous-system:number = 666]", "AS", "666"),
        (
            "[mac-addr:value = 'd2:fb:49:24:37:18']",
            "mac-address",
            "d2:fb:49:24:37:18",
        ),
        ("[user-agent:value = 'curl/8']", "user-agent", "curl/8"),
    ];
    for (pattern, type_, value) in cases {
        let out = map(vec![indicator(pattern)]);
        assert_eq!(pairs(&out), vec![(s(type_), s(value))], "{pattern}");
        let a = &out.attributes[0];
        assert!(a.to_ids, "{pattern}");
        assert_eq!(a.comment, "Bad thing");
        assert_eq!(
            a.first_seen.as_deref(),
            Some("2024-01-01T00:00:00.000000+00:00")
        );
        assert!(
            crate::misp::types::is_valid_category(&a.type_, &a.category),
            "{pattern}"
        );
        assert!(out.objects.is_empty(), "{pattern}");
        assert!(out.warnings.is_empty(), "{pattern}: {:?}", out.warnings);
    }
}

#[test]
fn or_patterns_give_one_attribute_per_value() {
    let out = map(vec![indicator(
        "[ipv4-addr:value = '1.1.1.1' OR ipv4-addr:value = '2.2.2.2'] OR [domain-name:value = 'a.example'] OR [url:value IN ('http://x/', 'http://y/')]",
    )]);
    assert_eq!(
        pairs(&out),
        vec![
            (s("ip-dst"), s("1.1.1.1")),
            (s("ip-dst"), s("2.2.2.2")),
            (s("domain"), s("a.example")),
            (s("url"), s("http://x/")),
            (s("url"), s("http://y/")),
        ]
    );
}

#[test]
fn and_on_one_object_type_becomes_an_object() {
    let out = map(vec![indicator(
        "[file:name = 'a.exe' AND file:hashes.'SHA-256' = 'AB' AND file:size = 12]",
    )]);
    assert!(out.attributes.is_empty());
    assert_eq!(out.objects.len(), 1);
    let o = &out.objects[0];
    assert_eq!(o.name, "file");
    assert_eq!(
        o.template_uuid.to_string(),
        "688c46fb-5edb-40a3-8273-1af7923e2215"
    );
    assert_eq!(
        object_rel(o),
        vec![
            (s("filename"), s("filename"), s("a.exe")),
            (s("sha256"), s("sha256"), s("ab")),
            (s("size-in-bytes"), s("size-in-bytes"), s("12")),
        ]
    );
    // IOC types keep to_ids, descriptive ones do not.
    assert!(o.attributes[0].to_ids && o.attributes[1].to_ids);
    assert!(!o.attributes[2].to_ids);
    // Observations AND-ed on one type describe one object too.
    let out = map(vec![indicator(
        "[file:name = 'a.exe'] AND [file:hashes.MD5 = 'aa']",
    )]);
    assert_eq!(out.objects.len(), 1);
    assert_eq!(out.objects[0].attributes.len(), 2);
}

#[test]
fn multi_property_patterns_choose_templates() {
    let cases = [
        (
            "[network-traffic:dst_ref.value = '5.6.7.8' AND network-traffic:dst_port = 443]",
            "ip-port",
        ),
        (
            "[network-traffic:src_ref.value = '1.2.3.4' AND network-traffic:dst_ref.value = '5.6.7.8' AND network-traffic:protocols[0] = 'tcp']",
            "network-traffic",
        ),
        (
            "[domain-name:value = 'a.example' AND domain-name:resolves_to_refs[*].value = '1.2.3.4']",
            "domain-ip",
        ),
        (
            "[email-addr:value = 'a@b.example' AND email-addr:display_name = 'A']",
            "email",
        ),
        (
            "[email-message:subject = 'hi' AND email-message:from_ref.value = 'a@b.example' AND email-message:to_refs[*].value = 'c@d.example']",
            "email",
        ),
        (
            "[x509-certificate:hashes.'SHA-1' = 'aa' AND x509-certificate:issuer = 'CN=x']",
            "x509",
        ),
        (
            "[autonomous-system:number = 1 AND autonomous-system:name = 'X']",
            "asn",
        ),
        (
            "[user-account:user_id = '1001' AND user-account:account_login = 'jdoe']",
            "user-account",
        ),
        (
            "[windows-registry-key:key = 'HKLM\\\\x' AND windows-registry-key:values[0].name = 'v']",
            "registry-key",
        ),
        (
            "[process:pid = 1 AND process:command_line = 'x']",
            "process",
        ),
        (
            "[software:name = 'x' AND software:version = '1']",
            "software",
        ),
        (
            "[directory:path = '/tmp' AND directory:path_enc = 'UTF-8']",
            "directory",
        ),
    ];
    for (pattern, name) in cases {
        let out = map(vec![indicator(pattern)]);
        assert_eq!(out.objects.len(), 1, "{pattern}: {out:?}");
        assert_eq!(out.objects[0].name, name, "{pattern}");
        for a in &out.objects[0].attributes {
            assert!(
                crate::misp::types::is_valid_category(&a.type_, &a.category),
                "{pattern} {}",
                a.type_
            );
        }
    }
}

#[test]
fn unmapped_properties_of_a_mapped_object_warn() {
    let out = map(vec![indicator(
        "[url:value = 'http://x/' AND url:x_port = 3]",
    )]);
    assert_eq!(out.warnings.len(), 1);
    assert!(out.warnings[0].message.contains("x_port"));
}

#[test]
fn complex_patterns_stay_raw_stix2_pattern() {
    for pattern in [
        "[url:value LIKE '%evil%']",
        "[file:name MATCHES '^a']",
        "[ipv4-addr:value != '1.1.1.1']",
        "[file:size > 10]",
        "[ipv4-addr:value = '1.1.1.1'] WITHIN 60 SECONDS",
        "[ipv4-addr:value = '1.1.1.1'] FOLLOWEDBY [url:value = 'http://x/']",
        "[file:name = 'a' AND (file:size = 1 OR file:size = 2)]",
        "[file:name = 'a' AND url:value = 'http://x/']",
        "[x-custom:foo = 'bar']",
        "[file:x_unknown = 'bar']",
        "[ipv4-addr:value NOT = '1.1.1.1']",
        "[file:name IN ('a', 'b') AND file:size = 1]",
    ] {
        let out = map(vec![indicator(pattern)]);
        assert_eq!(
            pairs(&out),
            vec![(s("stix2-pattern"), s(pattern))],
            "{pattern}"
        );
        assert!(out.attributes[0].to_ids);
        assert_eq!(out.attributes[0].category, "Payload installation");
        assert!(out.objects.is_empty());
    }
}

#[test]
fn invalid_and_huge_patterns_are_kept_raw_with_a_warning() {
    let out = map(vec![indicator("[ipv4-addr:value = ")]);
    assert_eq!(out.attributes[0].type_, "stix2-pattern");
    assert_eq!(out.warnings.len(), 1);
    assert!(out.warnings[0].message.contains("invalid STIX pattern"));
    let many = (0..300)
        .map(|i| format!("[url:value = 'http://x/{i}']"))
        .collect::<Vec<_>>()
        .join(" OR ");
    let out = map(vec![indicator(&many)]);
    assert_eq!(pairs(&out), vec![(s("stix2-pattern"), many.clone())]);
    assert!(out.warnings[0].message.contains("more than"));
    // Too long to parse, and too long for MISP too: a warning for each, nothing sent.
    let huge = format!("[url:value = '{}']", "a".repeat(pattern_max() + 1));
    let out = map(vec![indicator(&huge)]);
    assert!(out.attributes.is_empty());
    assert!(out.warnings[0].message.contains("limit"));
    assert_eq!(out.warnings.len(), 2);
    // Beyond MISP's value limit nothing is sent, with a warning.
    let giant = format!("[url:value LIKE '{}']", "a".repeat(MAX_VALUE_BYTES));
    let out = map(vec![indicator(&giant)]);
    assert!(out.attributes.is_empty());
    assert!(out.warnings.iter().any(|w| w.message.contains("exceeds")));
}

fn pattern_max() -> usize {
    crate::stix::pattern::MAX_PATTERN_LEN
}

#[test]
fn non_stix_pattern_types() {
    for (pt, t) in [
        ("snort", "snort"),
        ("suricata", "suricata"),
        ("yara", "yara"),
        ("sigma", "sigma"),
    ] {
        let mut i = indicator("rule x { condition: true }");
        i["pattern_type"] = json!(pt);
        let out = map(vec![i]);
        assert_eq!(pairs(&out), vec![(s(t), s("rule x { condition: true }"))]);
        assert!(out.attributes[0].to_ids);
    }
    let mut i = indicator("/evil/");
    i["pattern_type"] = json!("pcre");
    let out = map(vec![i]);
    assert_eq!(out.attributes[0].type_, "other");
    assert!(!out.attributes[0].to_ids);
    assert!(out.attributes[0].comment.starts_with("pcre pattern"));
}

#[test]
fn indicator_without_pattern_warns() {
    let out = map(vec![
        json!({"type": "indicator", "id": "indicator--1", "name": "x"}),
    ]);
    assert!(out.attributes.is_empty());
    assert_eq!(out.warnings.len(), 1);
}

#[test]
fn indicator_times_and_labels() {
    let mut i = indicator("[domain-name:value = 'a.example']");
    i["valid_until"] = json!("2024-02-01T00:00:00Z");
    i["description"] = json!("details");
    i["labels"] = json!([
        "malicious-activity",
        "misp:type=\"domain\"",
        "  two\nwords "
    ]);
    let out = map(vec![i]);
    let a = &out.attributes[0];
    assert_eq!(
        a.last_seen.as_deref(),
        Some("2024-02-01T00:00:00.000000+00:00")
    );
    assert_eq!(a.comment, "Bad thing: details");
    let tags: Vec<&str> = a.tags.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(tags, vec!["malicious-activity", "two words"]);
    // valid_until before valid_from is dropped (MISP refuses last_seen < first_seen).
    let mut i = indicator("[domain-name:value = 'b.example']");
    i["valid_until"] = json!("2023-01-01T00:00:00Z");
    let out = map(vec![i]);
    assert!(out.attributes[0].last_seen.is_none());
}

#[test]
fn scos_become_non_ids_attributes_and_objects() {
    let out = map(vec![
        json!({"type": "ipv4-addr", "id": "ipv4-addr--1", "value": "1.2.3.4"}),
        json!({"type": "domain-name", "id": "domain-name--1", "value": "a.example"}),
        json!({"type": "url", "id": "url--1", "value": "http://a.example/"}),
        json!({"type": "email-addr", "id": "email-addr--1", "value": "x@a.example"}),
        json!({"type": "mac-addr", "id": "mac-addr--1", "value": "00:11:22:33:44:55"}),
        json!({"type": "autonomous-system", "id": "autonomous-system--1", "number": 64500}),
        json!({"type": "mutex", "id": "mutex--1", "name": "m"}),
        json!({"type": "windows-registry-key", "id": "windows-registry-key--1", "key": "HKLM\\Run"}),
        json!({"type": "file", "id": "file--1", "hashes": {"MD5": "AA"}}),
        json!({"type": "file", "id": "file--2", "name": "b.exe", "hashes": {"SHA-256": "BB"}, "size": 3}),
        json!({"type": "x509-certificate", "id": "x509-certificate--1", "serial_number": "01", "issuer": "CN=i"}),
        json!({"type": "software", "id": "software--1", "name": "s", "version": "1"}),
        json!({"type": "user-account", "id": "user-account--1", "user_id": "1001"}),
        json!({"type": "process", "id": "process--1", "pid": 4, "command_line": "x"}),
        json!({"type": "artifact", "id": "artifact--1", "mime_type": "application/zip", "hashes": {"MD5": "cc"}}),
        json!({"type": "directory", "id": "directory--1", "path": "/tmp"}),
    ]);
    assert_eq!(
        pairs(&out),
        vec![
            (s("ip-dst"), s("1.2.3.4")),
            (s("domain"), s("a.example")),
            (s("url"), s("http://a.example/")),
            (s("email"), s("x@a.example")),
            (s("mac-address"), s("00:11:22:33:44:55")),
            (s("AS"), s("64500")),
            (s("mutex"), s("m")),
            (s("regkey"), s("HKLM\\Run")),
            (s("md5"), s("aa")),
        ]
    );
    assert!(out.attributes.iter().all(|a| !a.to_ids));
    let names: Vec<&str> = out.objects.iter().map(|o| o.name.as_str()).collect();
    assert_eq!(
        names,
        vec![
            "file",
            "x509",
            "software",
            "user-account",
            "process",
            "artifact",
            "directory"
        ]
    );
    assert!(
        out.objects
            .iter()
            .flat_map(|o| &o.attributes)
            .all(|a| !a.to_ids)
    );
}

#[test]
fn composite_scos_fold_their_references() {
    let out = map(vec![
        json!({"type": "ipv4-addr", "id": "ipv4-addr--s", "value": "10.0.0.1"}),
        json!({"type": "ipv4-addr", "id": "ipv4-addr--d", "value": "10.0.0.2"}),
        json!({"type": "network-traffic", "id": "network-traffic--1", "src_ref": "ipv4-addr--s",
               "dst_ref": "ipv4-addr--d", "src_port": 1234, "dst_port": 80, "protocols": ["tcp"]}),
        json!({"type": "email-addr", "id": "email-addr--f", "value": "f@a.example", "display_name": "F"}),
        json!({"type": "email-message", "id": "email-message--1", "is_multipart": false,
               "from_ref": "email-addr--f", "subject": "hello"}),
        json!({"type": "domain-name", "id": "domain-name--1", "value": "a.example", "resolves_to_refs": ["ipv4-addr--x"]}),
        json!({"type": "ipv4-addr", "id": "ipv4-addr--x", "value": "10.0.0.3"}),
    ]);
    // The referenced addresses are inside the objects, not repeated standalone.
    assert!(out.attributes.is_empty(), "{:?}", pairs(&out));
    assert_eq!(out.objects.len(), 3);
    assert_eq!(out.objects[0].name, "network-traffic");
    assert_eq!(
        object_rel(&out.objects[0]),
        vec![
            (s("dst_port"), s("port"), s("80")),
            (s("dst_ip"), s("ip-dst"), s("10.0.0.2")),
            (s("protocols"), s("text"), s("TCP")),
            (s("src_port"), s("port"), s("1234")),
            (s("src_ip"), s("ip-src"), s("10.0.0.1")),
        ]
    );
    assert_eq!(out.objects[1].name, "email");
    assert!(object_rel(&out.objects[1]).contains(&(s("from"), s("email-src"), s("f@a.example"))));
    assert!(object_rel(&out.objects[1]).contains(&(
        s("from-display-name"),
        s("email-src-display-name"),
        s("F")
    )));
    assert_eq!(out.objects[2].name, "domain-ip");
}

#[test]
fn observed_data_sets_first_and_last_seen() {
    let out = map(vec![
        json!({"type": "observed-data", "id": "observed-data--1", "first_observed": "2024-01-01T00:00:00Z",
               "last_observed": "2024-01-02T00:00:00Z", "number_observed": 1, "object_refs": ["url--1"]}),
        json!({"type": "url", "id": "url--1", "value": "http://a.example/"}),
    ]);
    assert_eq!(out.attributes.len(), 1);
    assert_eq!(
        out.attributes[0].first_seen.as_deref(),
        Some("2024-01-01T00:00:00.000000+00:00")
    );
    assert_eq!(
        out.attributes[0].last_seen.as_deref(),
        Some("2024-01-02T00:00:00.000000+00:00")
    );
}

#[test]
fn observed_data_with_embedded_objects() {
    let out = map(vec![json!({
        "type": "observed-data", "id": "observed-data--1", "first_observed": "2017-01-01T00:00:00Z",
        "last_observed": "2017-01-01T00:00:00Z", "number_observed": 1,
        "objects": {
            "0": {"type": "ipv4-addr", "value": "198.51.100.3"},
            "1": {"type": "network-traffic", "dst_ref": "0", "dst_port": 22},
            "2": {"type": "file", "hashes": {"SHA-256": "AB"}}
        }
    })]);
    assert_eq!(pairs(&out), vec![(s("sha256"), s("ab"))]);
    assert_eq!(out.objects.len(), 1);
    assert_eq!(out.objects[0].name, "ip-port");
}

#[test]
fn duplicates_are_merged_and_to_ids_ored() {
    let out = map(vec![
        json!({"type": "domain-name", "id": "domain-name--1", "value": "a.example"}),
        indicator("[domain-name:value = 'a.example']"),
        json!({"type": "domain-name", "id": "domain-name--2", "value": "a.example"}),
    ]);
    assert_eq!(out.attributes.len(), 1);
    assert!(out.attributes[0].to_ids);
    assert_eq!(out.attributes[0].comment, "Bad thing");
}

#[test]
fn uuids_are_v5_of_the_event_and_stable_keys() {
    let out = map(vec![
        indicator("[file:name = 'a.exe' AND file:hashes.MD5 = 'aa']"),
        json!({"type": "url", "id": "url--11111111-1111-4111-8111-111111111111", "value": "http://x/"}),
    ]);
    let a = &out.attributes[0];
    assert_eq!(a.uuid, Uuid::new_v5(&EVENT, b"url|http://x/"));
    let o = &out.objects[0];
    let key = "object:indicator--11111111-1111-4111-8111-111111111111:file";
    assert_eq!(o.uuid, Uuid::new_v5(&EVENT, key.as_bytes()));
    assert_eq!(
        o.attributes[0].uuid,
        Uuid::new_v5(&EVENT, format!("{key}/filename/a.exe").as_bytes())
    );
    // Never the STIX id, and another event gives other uuids.
    assert_ne!(a.uuid.to_string(), "11111111-1111-4111-8111-111111111111");
    let other = map_content(
        Uuid::from_u128(7),
        &[obj(indicator("[url:value = 'http://x/']"))],
    );
    assert_ne!(other.attributes[0].uuid, a.uuid);
}

#[test]
fn two_objects_of_one_indicator_get_distinct_uuids() {
    let out = map(vec![indicator(
        "[file:name = 'a' AND file:size = 1] OR [file:name = 'b' AND file:size = 2]",
    )]);
    assert_eq!(out.objects.len(), 2);
    assert_ne!(out.objects[0].uuid, out.objects[1].uuid);
}

#[test]
fn named_sdos_become_tags() {
    let out = map(vec![
        json!({"type": "malware", "id": "malware--1", "name": "Emotet", "is_family": true}),
        json!({"type": "threat-actor", "id": "threat-actor--1", "name": "APT \"X\"\n"}),
        json!({"type": "intrusion-set", "id": "intrusion-set--1", "name": "APT28"}),
        json!({"type": "tool", "id": "tool--1", "name": "Mimikatz"}),
        json!({"type": "campaign", "id": "campaign--1", "name": "C1"}),
        json!({"type": "attack-pattern", "id": "attack-pattern--1", "name": "Spearphishing Attachment",
               "external_references": [{"source_name": "mitre-attack", "external_id": "T1566.001"}]}),
        json!({"type": "malware", "id": "malware--2", "name": "Emotet"}),
        json!({"type": "malware", "id": "malware--3"}),
    ]);
    assert_eq!(
        out.tags,
        vec![
            "misp-galaxy:stix-2.1-malware=\"Emotet\"",
            "misp-galaxy:stix-2.1-threat-actor=\"APT 'X'\"",
            "misp-galaxy:stix-2.1-intrusion-set=\"APT28\"",
            "misp-galaxy:stix-2.1-tool=\"Mimikatz\"",
            "misp-galaxy:stix-2.1-campaign=\"C1\"",
            "misp-galaxy:stix-2.1-attack-pattern=\"Spearphishing Attachment\"",
            "misp-galaxy:mitre-attack-pattern=\"Spearphishing Attachment - T1566.001\"",
        ]
    );
    assert!(out.attributes.is_empty());
}

#[test]
fn attack_ids_and_cves() {
    assert!(sdo::is_attack_technique("T1566"));
    assert!(sdo::is_attack_technique("T1566.001"));
    assert!(!sdo::is_attack_technique("T15"));
    assert!(!sdo::is_attack_technique("TA0001"));
    assert!(!sdo::is_attack_technique("T1566.01"));
    assert_eq!(
        sdo::cve_id("cve-2021-44228").as_deref(),
        Some("CVE-2021-44228")
    );
    assert_eq!(sdo::cve_id("CVE-2021-4"), None);
    assert_eq!(sdo::cve_id("Log4Shell"), None);
}

#[test]
fn vulnerabilities_become_attributes() {
    let out = map(vec![
        json!({"type": "vulnerability", "id": "vulnerability--1", "name": "CVE-2021-44228", "description": "Log4Shell"}),
        json!({"type": "vulnerability", "id": "vulnerability--2", "name": "Follina",
               "external_references": [{"source_name": "cve", "external_id": "CVE-2022-30190"}]}),
        json!({"type": "vulnerability", "id": "vulnerability--3", "name": "Some bug"}),
    ]);
    assert_eq!(
        pairs(&out),
        vec![
            (s("vulnerability"), s("CVE-2021-44228")),
            (s("vulnerability"), s("CVE-2022-30190")),
            (s("vulnerability"), s("Some bug")),
        ]
    );
    assert_eq!(out.attributes[0].comment, "Log4Shell");
    assert_eq!(out.attributes[1].comment, "Follina");
    assert!(
        out.attributes
            .iter()
            .all(|a| !a.to_ids && a.category == "External analysis")
    );
}

#[test]
fn misp_custom_attributes() {
    let out = map(vec![
        json!({"type": "x-misp-attribute", "id": "x-misp-attribute--1", "labels": ["misp:to_ids=\"True\""],
               "x_misp_type": "btc", "x_misp_value": "1E38", "x_misp_category": "Financial fraud", "x_misp_comment": "c"}),
        json!({"type": "x-misp-object-iban", "id": "x-misp-object-iban--1", "x_misp_value": "LU12",
               "labels": ["misp:type=\"iban\"", "misp:category=\"Nonsense\""]}),
        json!({"type": "x-misp-attribute", "id": "x-misp-attribute--2", "x_misp_type": "no-such-type", "x_misp_value": "v"}),
    ]);
    assert_eq!(
        pairs(&out),
        vec![(s("btc"), s("1E38")), (s("iban"), s("LU12"))]
    );
    assert!(out.attributes[0].to_ids);
    assert_eq!(out.attributes[0].category, "Financial fraud");
    // An invalid category falls back to the type's default.
    assert_eq!(out.attributes[1].category, "Financial fraud");
    assert_eq!(out.warnings.len(), 1);
}

#[test]
fn unknown_and_unmappable_objects_are_skipped_quietly() {
    let out = map(vec![
        json!({"type": "relationship", "id": "relationship--1", "source_ref": "a", "target_ref": "b"}),
        json!({"type": "note", "id": "note--1", "content": "x"}),
        json!({"type": "identity", "id": "identity--1"}),
        json!({"type": "x-taranis-news-item", "id": "x-taranis-news-item--1"}),
        json!({"type": "file", "id": "file--1", "x_unknown": 1}),
        json!({"type": "ipv4-addr", "id": "ipv4-addr--1"}),
        json!({"type": "observed-data", "id": "observed-data--1", "object_refs": ["missing--1", 3]}),
    ]);
    assert_eq!(out, ContentOutput::default());
}

#[test]
fn oversized_values_are_skipped_with_a_warning() {
    let big = "a".repeat(MAX_VALUE_BYTES + 1);
    let out = map(vec![json!({"type": "url", "id": "url--1", "value": big})]);
    assert!(out.attributes.is_empty());
    assert_eq!(out.warnings.len(), 1);
}

#[test]
fn attribute_count_is_bounded() {
    let objects: Vec<Object> = (0..MAX_ATTRIBUTES + 10)
        .map(|i| {
            obj(json!({"type": "url", "id": format!("url--{i}"), "value": format!("http://x/{i}")}))
        })
        .collect();
    let out = map_content(EVENT, &objects);
    assert_eq!(out.attributes.len(), MAX_ATTRIBUTES);
    assert_eq!(out.warnings.len(), 1);
}

#[test]
fn tag_sanitising() {
    assert_eq!(safe_tag("  a \t b\n"), Some(s("a b")));
    assert_eq!(safe_tag("\u{0}\u{1}  "), None);
    assert_eq!(
        safe_tag(&"x".repeat(1000)).map(|t| t.chars().count()),
        Some(MAX_TAG_CHARS)
    );
    assert_eq!(quoted_tag_value("a\"b"), Some(s("a'b")));
    assert_eq!(
        bounded_comment(&"é".repeat(2000)).chars().count(),
        MAX_COMMENT_CHARS + 1
    );
}

#[test]
fn mapping_is_deterministic() {
    let objects = vec![
        indicator("[ipv4-addr:value = '1.1.1.1'] OR [file:name = 'a' AND file:size = 1]"),
        json!({"type": "malware", "id": "malware--1", "name": "M"}),
        json!({"type": "url", "id": "url--1", "value": "http://x/"}),
    ];
    let a = map(objects.clone());
    let b = map(objects);
    assert_eq!(a, b);
    let ja = serde_json::to_string(&a.attributes).expect("serialises");
    let jb = serde_json::to_string(&b.attributes).expect("serialises");
    assert_eq!(ja, jb);
}

proptest::proptest! {
    #[test]
    fn any_pattern_maps_without_panic_and_deterministically(p in "\\PC{0,160}") {
        let objects = vec![obj(indicator(&p))];
        let a = map_content(EVENT, &objects);
        let b = map_content(EVENT, &objects);
        proptest::prop_assert_eq!(&a, &b);
        for attr in &a.attributes {
            proptest::prop_assert!(crate::misp::types::is_valid_category(&attr.type_, &attr.category));
        }
    }

    #[test]
    fn pattern_shaped_input_never_panics(
        t in "(ipv4-addr|file|url|domain-name|network-traffic|x-foo)",
        path in "(value|name|hashes\\.MD5|src_ref\\.value|dst_port|values\\[0\\]\\.name)",
        op in "(=|!=|LIKE|IN|MATCHES|>)",
        v in "[a-z0-9.']{0,12}",
        n in 1usize..5,
    ) {
        let one = format!("{t}:{path} {op} '{v}'");
        let p = format!("[{}]", vec![one; n].join(" AND "));
        let objects = vec![obj(indicator(&p))];
        let _ = map_content(EVENT, &objects);
    }
}

#[test]
fn pe_files_give_file_pe_and_section_objects() {
    let out = map(vec![json!({
        "type": "file", "id": "file--1", "name": "putty.exe",
        "extensions": {"windows-pebinary-ext": {
            "pe_type": "exe", "imphash": "AB", "number_of_sections": 2,
            "sections": [
                {"name": ".text", "size": 10, "hashes": {"MD5": "CC"}},
                {"name": ".rsrc", "entropy": 7.5}
            ]
        }}
    })]);
    let names: Vec<&str> = out.objects.iter().map(|o| o.name.as_str()).collect();
    // A lone filename stays an attribute; the PE parts are objects.
    assert_eq!(pairs(&out), vec![(s("filename"), s("putty.exe"))]);
    assert_eq!(names, vec!["pe", "pe-section", "pe-section"]);
    assert_eq!(
        object_rel(&out.objects[0]),
        vec![
            (s("imphash"), s("imphash"), s("ab")),
            (s("number-sections"), s("counter"), s("2")),
            (s("type"), s("text"), s("exe")),
        ]
    );
    assert_eq!(
        object_rel(&out.objects[1]),
        vec![
            (s("md5"), s("md5"), s("cc")),
            (s("name"), s("text"), s(".text")),
            (s("size-in-bytes"), s("size-in-bytes"), s("10")),
        ]
    );
    // The same in a pattern.
    let out = map(vec![indicator(
        "[file:name = 'a.exe' AND file:extensions.'windows-pebinary-ext'.imphash = 'ab' AND file:extensions.'windows-pebinary-ext'.sections[0].name = '.text']",
    )]);
    let names: Vec<&str> = out.objects.iter().map(|o| o.name.as_str()).collect();
    assert_eq!(names, vec!["pe", "pe-section"]);
    assert_eq!(pairs(&out), vec![(s("filename"), s("a.exe"))]);
    let pe_uuids: std::collections::HashSet<_> = out.objects.iter().map(|o| o.uuid).collect();
    assert_eq!(pe_uuids.len(), 2);
}

#[test]
fn location_malware_analysis_and_identity_become_objects() {
    let out = map(vec![
        json!({"type": "location", "id": "location--1", "name": "Paris", "country": "FR", "city": "Paris",
               "latitude": 48.8566, "precision": 1000.0}),
        json!({"type": "malware-analysis", "id": "malware-analysis--1", "product": "VT", "result": "malicious",
               "modules": ["static"], "submitted": "2024-01-25T10:00:00Z"}),
        json!({"type": "identity", "id": "identity--1", "name": "ACME", "identity_class": "organization",
               "sectors": ["financial-services"]}),
    ]);
    let names: Vec<&str> = out.objects.iter().map(|o| o.name.as_str()).collect();
    assert_eq!(names, vec!["geolocation", "malware-analysis", "identity"]);
    assert_eq!(
        object_rel(&out.objects[0]),
        vec![
            (s("city"), s("text"), s("Paris")),
            (s("countrycode"), s("text"), s("FR")),
            (s("latitude"), s("float"), s("48.8566")),
            (s("accuracy-radius"), s("float"), s("1.0")),
        ]
    );
    assert_eq!(out.objects[0].comment, "Paris");
    assert!(object_rel(&out.objects[1]).contains(&(s("module"), s("text"), s("static"))));
    assert_eq!(
        object_rel(&out.objects[2]),
        vec![
            (s("identity_class"), s("text"), s("organization")),
            (s("name"), s("text"), s("ACME")),
        ]
    );
    assert!(out.attributes.is_empty());
}

#[test]
fn tlp_markings_of_content_become_attribute_tags() {
    let mut i = indicator("[domain-name:value = 'a.example']");
    i["object_marking_refs"] = json!([
        "marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1",
        "marking-definition--0000aaaa-0000-4000-8000-000000000001",
        "marking-definition--unknown"
    ]);
    let out = map(vec![
        json!({"type": "marking-definition", "id": "marking-definition--0000aaaa-0000-4000-8000-000000000001",
               "definition_type": "tlp", "definition": {"tlp": "green"}}),
        i,
    ]);
    let tags: Vec<&str> = out.attributes[0]
        .tags
        .iter()
        .map(|t| t.name.as_str())
        .collect();
    assert_eq!(tags, vec!["tlp:red", "tlp:green"]);
}

#[test]
fn misp_custom_objects() {
    let out = map(vec![
        // Known template: an object, categories/to_ids as given when valid.
        json!({"type": "x-misp-object", "id": "x-misp-object--1", "x_misp_name": "file",
        "x_misp_attributes": [
            {"object_relation": "filename", "type": "filename", "value": "a.exe", "to_ids": true},
            {"object_relation": "md5", "type": "md5", "value": "AA", "category": "Nonsense"},
            {"object_relation": "x", "type": "no-such-type", "value": "v"},
            {"object_relation": "y", "type": "text"}
        ]}),
        // Unknown template: standalone values kept, the rest dropped with a warning.
        json!({"type": "x-misp-object", "id": "x-misp-object--2", "labels": ["misp:name=\"btc-wallet\""],
        "x_misp_attributes": [
            {"object_relation": "wallet-address", "to_ids": true, "type": "btc", "value": "1E38"},
            {"object_relation": "balance_BTC", "type": "float", "value": 2.25}
        ]}),
        // The story mapping's own objects are not content.
        json!({"type": "x-misp-object", "id": "x-misp-object--3", "x_misp_name": "taranis-story",
               "x_misp_attributes": [{"object_relation": "title", "type": "text", "value": "t"}]}),
        json!({"type": "x-misp-object", "id": "x-misp-object--4", "x_misp_attributes": "nonsense"}),
    ]);
    assert_eq!(out.objects.len(), 1);
    assert_eq!(
        object_rel(&out.objects[0]),
        vec![
            (s("filename"), s("filename"), s("a.exe")),
            (s("md5"), s("md5"), s("aa")),
        ]
    );
    assert!(out.objects[0].attributes[0].to_ids);
    assert!(!out.objects[0].attributes[1].to_ids);
    assert_eq!(out.objects[0].attributes[1].category, "Payload delivery");
    assert_eq!(pairs(&out), vec![(s("btc"), s("1E38"))]);
    assert!(out.attributes[0].to_ids);
    assert_eq!(out.attributes[0].comment, "btc-wallet wallet-address");
    assert_eq!(out.warnings.len(), 1);
    assert!(out.warnings[0].message.contains("btc-wallet"));
}

/// Arbitrary JSON values for property values (bounded depth).
fn arb_value() -> impl proptest::strategy::Strategy<Value = Value> {
    use proptest::prelude::*;
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        "\\PC{0,24}".prop_map(Value::String),
        "(ipv4-addr|file|url|process)--[0-3]".prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            proptest::collection::btree_map(
                "[a-z_]{1,10}|hashes|value|src_ref|object_refs|x_misp_[a-z]{1,5}",
                inner,
                0..4
            )
            .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

proptest::proptest! {
    #[test]
    fn arbitrary_content_objects_never_panic_and_are_deterministic(
        objs in proptest::collection::vec(
            (
                "(ipv4-addr|domain-name|url|file|process|network-traffic|email-message|observed-data|indicator|malware|vulnerability|x-misp-object|x-misp-attribute|location|identity|windows-registry-key|x509-certificate)",
                proptest::collection::btree_map("[a-z_]{1,12}|value|name|hashes|pattern|x_misp_attributes|src_ref|object_refs|objects|labels|resolves_to_refs|extensions", arb_value(), 0..6),
            ),
            0..6,
        )
    ) {
        let objects: Vec<Object> = objs
            .into_iter()
            .enumerate()
            .filter_map(|(i, (t, props))| {
                let mut m: serde_json::Map<String, Value> = props.into_iter().collect();
                m.insert("type".into(), json!(t));
                m.insert("id".into(), json!(format!("{t}--{}", i % 4)));
                Object::from_value(Value::Object(m))
            })
            .collect();
        let a = map_content(EVENT, &objects);
        let b = map_content(EVENT, &objects);
        proptest::prop_assert_eq!(&a, &b);
        for attr in a.attributes.iter().chain(a.objects.iter().flat_map(|o| o.attributes.iter())) {
            proptest::prop_assert!(crate::misp::types::is_valid_category(&attr.type_, &attr.category));
            proptest::prop_assert!(attr.value.len() <= MAX_VALUE_BYTES);
        }
    }
}

#[test]
fn templateless_observables_keep_only_standalone_values() {
    let out = map(vec![
        json!({"type": "mutex", "id": "mutex--1", "name": "MutexTest",
                              "x_misp_description": "Test mutex", "x_misp_operating_system": "Unix"}),
    ]);
    assert_eq!(pairs(&out), vec![(s("mutex"), s("MutexTest"))]);
    assert!(out.objects.is_empty());
    // misp-stix custom relations that name a value type keep it inside objects.
    let out = map(vec![
        json!({"type": "url", "id": "url--1", "value": "https://www.circl.lu/team",
                              "x_misp_domain": "circl.lu", "x_misp_host": "www.circl.lu", "x_misp_port": "443"}),
    ]);
    assert_eq!(out.objects.len(), 1);
    assert_eq!(
        object_rel(&out.objects[0]),
        vec![
            (s("url"), s("url"), s("https://www.circl.lu/team")),
            (s("domain"), s("domain"), s("circl.lu")),
            (s("host"), s("hostname"), s("www.circl.lu")),
            (s("port"), s("port"), s("443")),
        ]
    );
}
