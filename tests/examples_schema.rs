//! Every `examples/*.json` is valid STIX 2.1 per the official OASIS schemas (loaded offline), the native
//! examples also satisfy the project's own `schemas/taranis-story-bundle.schema.json`, and the two
//! extension-definition objects in `schemas/` are valid extension definitions.

use std::path::{Path, PathBuf};

use jsonschema::{Retrieve, Uri, Validator};
use serde_json::Value;

const OASIS_PREFIX: &str =
    "http://raw.githubusercontent.com/oasis-open/cti-stix2-json-schemas/stix2.1/";

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// `shared/` beside the repository (CI, `/work/main`), or two levels up from a git worktree (`/work/wt/<branch>`).
fn shared() -> PathBuf {
    let beside = root().join("../shared");
    if beside.is_dir() {
        beside
    } else {
        root().join("../../shared")
    }
}

fn oasis_dir() -> PathBuf {
    shared().join("reference/stix2.1-schemas")
}

/// Maps the OASIS schemas' `$id` prefix to the vendored copy; everything else is refused (no network).
struct LocalOasis;

impl Retrieve for LocalOasis {
    fn retrieve(
        &self,
        uri: &Uri<String>,
    ) -> Result<Value, Box<dyn std::error::Error + Send + Sync>> {
        let rest = uri
            .as_str()
            .strip_prefix(OASIS_PREFIX)
            .ok_or_else(|| format!("refusing to fetch {uri}: not an OASIS STIX 2.1 schema"))?;
        let text = std::fs::read_to_string(oasis_dir().join(rest))?;
        Ok(serde_json::from_str(&text)?)
    }
}

fn load(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn oasis_validator(relative: &str) -> Validator {
    let schema = load(&oasis_dir().join(relative));
    jsonschema::options()
        .with_retriever(LocalOasis)
        .build(&schema)
        .unwrap_or_else(|e| panic!("OASIS schema {relative}: {e}"))
}

fn errors(validator: &Validator, instance: &Value) -> Vec<String> {
    validator
        .iter_errors(instance)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect()
}

fn examples() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(root().join("examples"))
        .expect("examples/ exists")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    files
}

#[test]
fn the_expected_examples_exist() {
    let names: Vec<String> = examples()
        .iter()
        .filter_map(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        .collect();
    for wanted in [
        "native-story.json",
        "native-multi-story.json",
        "native-story-update.json",
        "presenter-story.json",
        "plain-report.json",
    ] {
        assert!(
            names.iter().any(|n| n == wanted),
            "examples/{wanted} is missing"
        );
    }
}

/// Object types that `schemas/common/bundle.json` lists itself (everything else goes through its custom branch).
const SPEC_TYPES: [&str; 36] = [
    "attack-pattern",
    "campaign",
    "course-of-action",
    "identity",
    "indicator",
    "infrastructure",
    "intrusion-set",
    "malware",
    "malware-analysis",
    "observed-data",
    "relationship",
    "report",
    "sighting",
    "threat-actor",
    "tool",
    "vulnerability",
    "artifact",
    "autonomous-system",
    "directory",
    "domain-name",
    "email-addr",
    "email-message",
    "file",
    "ipv4-addr",
    "ipv6-addr",
    "mac-addr",
    "mutex",
    "network-traffic",
    "process",
    "software",
    "url",
    "user-account",
    "windows-registry-key",
    "x509-certificate",
    "language-content",
    "marking-definition",
];

/// Validate a bundle against the official schemas.
///
/// `bundle.json` checks the envelope and every object of a type it lists. Other objects need their own schema,
/// because `bundle.json` cannot accept them (known limitations of the OASIS schemas): types it does not list
/// (`grouping`, `location`, `note`, `opinion`, `incident`, `extension-definition`) are checked against their own
/// schema file, and a custom SDO such as `x-taranis-news-item` or `x-misp-object` against `core.json` (the SDO
/// common properties): it matches both `core.json` and `cyber-observable-core.json`, so the `oneOf` of the
/// custom branch of `bundle.json` fails for every custom SDO.
struct Stix {
    bundle: Validator,
    per_type: Vec<(&'static str, Validator)>,
    custom_sdo: Validator,
}

impl Stix {
    fn new() -> Stix {
        let mut per_type: Vec<(&'static str, Validator)> =
            ["grouping", "location", "note", "opinion", "incident"]
                .into_iter()
                .map(|t| (t, oasis_validator(&format!("schemas/sdos/{t}.json"))))
                .collect();
        per_type.push((
            "extension-definition",
            oasis_validator("schemas/common/extension-definition.json"),
        ));
        Stix {
            bundle: oasis_validator("schemas/common/bundle.json"),
            per_type,
            custom_sdo: oasis_validator("schemas/common/core.json"),
        }
    }

    fn errors(&self, doc: &Value) -> Vec<String> {
        let mut errs = Vec::new();
        let mut standard = doc.clone();
        if let Some(objects) = standard.get_mut("objects").and_then(Value::as_array_mut) {
            objects.retain(|o| o["type"].as_str().is_some_and(|t| SPEC_TYPES.contains(&t)));
        }
        errs.extend(errors(&self.bundle, &standard));
        for (i, object) in doc["objects"].as_array().into_iter().flatten().enumerate() {
            let t = object["type"].as_str().unwrap_or_default();
            if SPEC_TYPES.contains(&t) {
                continue;
            }
            let validator = self
                .per_type
                .iter()
                .find(|(name, _)| *name == t)
                .map_or(&self.custom_sdo, |(_, v)| v);
            errs.extend(
                errors(validator, object)
                    .into_iter()
                    .map(|e| format!("objects[{i}] ({t}): {e}")),
            );
        }
        errs
    }
}

#[test]
fn every_example_is_valid_stix_2_1() {
    let stix = Stix::new();
    let mut failures = Vec::new();
    for path in examples() {
        let errs = stix.errors(&load(&path));
        if !errs.is_empty() {
            failures.push(format!("{}:\n  {}", path.display(), errs.join("\n  ")));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn the_oasis_validation_rejects_invalid_bundles() {
    let stix = Stix::new();
    let check = |doc: &Value| stix.errors(doc);
    let mut example = load(&root().join("examples/plain-report.json"));
    example["id"] = Value::String("bundle--not-a-uuid".into());
    assert!(!check(&example).is_empty(), "bad bundle id");
    let mut example = load(&root().join("examples/plain-report.json"));
    example["objects"][2]["created"] = Value::String("yesterday".into());
    assert!(!check(&example).is_empty(), "bad timestamp");
    let native = load(&root().join("examples/native-story.json"));
    let item = native["objects"]
        .as_array()
        .and_then(|objects| {
            objects
                .iter()
                .position(|o| o["type"] == "x-taranis-news-item")
        })
        .expect("a news item");
    let mut example = native.clone();
    example["objects"][item]
        .as_object_mut()
        .map(|o| o.remove("modified"));
    assert!(!check(&example).is_empty(), "custom SDO without modified");
    let mut example = native.clone();
    let def = native["objects"]
        .as_array()
        .and_then(|objects| {
            objects
                .iter()
                .position(|o| o["type"] == "extension-definition")
        })
        .expect("an extension definition");
    example["objects"][def]
        .as_object_mut()
        .map(|o| o.remove("schema"));
    assert!(
        !check(&example).is_empty(),
        "extension definition without schema"
    );
}

fn native_validator() -> Validator {
    let schema = load(&root().join("schemas/taranis-story-bundle.schema.json"));
    jsonschema::options()
        .with_retriever(LocalOasis)
        .build(&schema)
        .expect("schemas/taranis-story-bundle.schema.json compiles")
}

#[test]
fn native_examples_follow_the_project_schema() {
    let validator = native_validator();
    for name in [
        "native-story.json",
        "native-multi-story.json",
        "native-story-update.json",
    ] {
        let errs = errors(&validator, &load(&root().join("examples").join(name)));
        assert!(errs.is_empty(), "examples/{name}:\n  {}", errs.join("\n  "));
    }
}

#[test]
fn the_project_schema_rejects_broken_taranis_fields() {
    let validator = native_validator();
    let ext = "extension-definition--e94f0bd6-d310-498d-a0ed-cdd848cc6970";
    let example = load(&root().join("examples/native-story.json"));
    let report_index = example["objects"]
        .as_array()
        .and_then(|objects| objects.iter().position(|o| o["type"] == "report"))
        .expect("native-story.json has a report");

    let mut bad = example.clone();
    bad["objects"][report_index]["extensions"][ext]["relevance"] = Value::String("high".into());
    assert!(
        !errors(&validator, &bad).is_empty(),
        "relevance must be an integer"
    );

    let mut bad = example.clone();
    bad["objects"][report_index]["extensions"][ext]["tags"] =
        serde_json::json!([{"tag_type": "ORG"}]);
    assert!(!errors(&validator, &bad).is_empty(), "a tag needs a name");

    let mut bad = example.clone();
    let item = bad["objects"]
        .as_array()
        .and_then(|objects| {
            objects
                .iter()
                .position(|o| o["type"] == "x-taranis-news-item")
        })
        .expect("a news item");
    bad["objects"][item]["published"] = Value::String("2025-06-03".into());
    assert!(
        !errors(&validator, &bad).is_empty(),
        "news item timestamps are STIX timestamps"
    );

    // The plain report is no native story bundle.
    assert!(
        !errors(
            &validator,
            &load(&root().join("examples/plain-report.json"))
        )
        .is_empty()
    );
}

#[test]
fn extension_definitions_are_valid_and_match_their_file_names() {
    let validator = oasis_validator("schemas/common/extension-definition.json");
    for (id, kind) in [
        (
            "extension-definition--e94f0bd6-d310-498d-a0ed-cdd848cc6970",
            "property-extension",
        ),
        (
            "extension-definition--e674a3c2-5f44-4a04-b23b-7d904d54ec6a",
            "new-sdo",
        ),
    ] {
        let def = load(&root().join("schemas").join(format!("{id}.json")));
        let errs = errors(&validator, &def);
        assert!(errs.is_empty(), "{id}:\n  {}", errs.join("\n  "));
        assert_eq!(def["id"], id);
        assert_eq!(def["extension_types"][0], kind);
        assert!(
            def["schema"]
                .as_str()
                .is_some_and(|s| s.contains("taranis-story-bundle.schema.json")),
            "{id}: schema points at the schema file"
        );
        assert!(
            def["created_by_ref"]
                .as_str()
                .is_some_and(|s| s.starts_with("identity--"))
        );
    }
}
