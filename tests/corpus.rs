//! Every public STIX file of the corpus (`shared/corpus/stix/`) converts or is rejected with a clear error,
//! never a panic. Every produced event validates against MISP's `schema-lax.json` and describeTypes, has unique
//! uuids, carries no 4-byte or control character (default policy), and converting twice gives identical bytes.
//! Run with `--nocapture` to see the summary (converted / rejected by reason).

use std::collections::{BTreeMap, BTreeSet};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};

use misp_connector::convert::{ConvertOptions, convert};
use misp_connector::misp::event::{Attribute, Event, EventEnvelope};
use misp_connector::misp::types;
use serde_json::Value;

/// `shared/` beside the repository (CI, `/work/main`) or beside the worktree directory (`/work/wt/<branch>`).
fn shared() -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let near = root.join("../shared");
    if near.is_dir() {
        near
    } else {
        root.join("../../shared")
    }
}

fn json_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            json_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "json") {
            out.push(path);
        }
    }
}

/// MISP's lax event schema. Its numeric fields are typed `string` because it describes MISP's *output*; MISP
/// accepts JSON numbers on input (our `distribution`, `threat_level_id`, `analysis`, `timestamp`,
/// `sharing_group_id` are numbers), so those properties also accept integers here. Nothing else is relaxed.
fn event_schema() -> jsonschema::Validator {
    let text = std::fs::read_to_string(shared().join("reference/misp/schema-lax.json")).unwrap();
    let mut schema: Value = serde_json::from_str(&text).unwrap();
    for def in ["event", "attribute"] {
        let props = schema["defs"][def]["properties"].as_object_mut().unwrap();
        for key in [
            "distribution",
            "threat_level_id",
            "analysis",
            "timestamp",
            "sharing_group_id",
        ] {
            if let Some(p) = props.get_mut(key) {
                *p = serde_json::json!({"type": ["string", "integer"]});
            }
        }
    }
    jsonschema::draft4::new(&schema).unwrap()
}

/// Problems with one event, empty when it is fine.
fn check_event(event: &Event, schema: &jsonschema::Validator) -> Vec<String> {
    let mut problems = Vec::new();
    let value = serde_json::to_value(EventEnvelope {
        event: event.clone(),
    })
    .unwrap();
    for err in schema.iter_errors(&value) {
        problems.push(format!("schema: {err} at {}", err.instance_path()));
    }
    let mut uuids = BTreeSet::new();
    let mut check_uuid = |u: uuid::Uuid, what: &str, problems: &mut Vec<String>| {
        if !uuids.insert(u) {
            problems.push(format!("duplicate uuid {u} ({what})"));
        }
    };
    check_uuid(event.uuid, "event", &mut problems);
    for r in &event.reports {
        check_uuid(r.uuid, "report", &mut problems);
    }
    let check_attr = |a: &Attribute, problems: &mut Vec<String>| {
        if !types::is_valid_category(&a.type_, &a.category) {
            problems.push(format!("invalid type/category {}/{}", a.type_, a.category));
        }
        if a.value.trim().is_empty() {
            problems.push(format!("empty value for {}", a.type_));
        }
    };
    let mut pairs = BTreeSet::new();
    for a in &event.attributes {
        check_uuid(a.uuid, "attribute", &mut problems);
        check_attr(a, &mut problems);
        if !pairs.insert((a.type_.clone(), a.value.clone())) {
            problems.push(format!("duplicate standalone {}|{}", a.type_, a.value));
        }
    }
    for o in &event.objects {
        check_uuid(o.uuid, "object", &mut problems);
        for a in &o.attributes {
            check_uuid(a.uuid, "object attribute", &mut problems);
            check_attr(a, &mut problems);
        }
    }
    let text = serde_json::to_string(&value).unwrap();
    if text.chars().any(|c| c.len_utf8() == 4) {
        problems.push("4-byte character in output".into());
    }
    if text
        .chars()
        .any(|c| c.is_control() && c != '\n' && c != '\t')
    {
        problems.push("control character in output".into());
    }
    problems
}

/// The reason bucket of a rejection: the error message up to the first detail.
fn reason(message: &str) -> String {
    let first = message.split([':', '(']).next().unwrap_or(message).trim();
    first.chars().take(80).collect()
}

#[test]
fn corpus_converts_or_is_rejected_cleanly() {
    let dir = shared().join("corpus/stix");
    let mut files = Vec::new();
    json_files(&dir, &mut files);
    files.sort();
    assert!(
        files.len() > 100,
        "corpus not found under {}",
        dir.display()
    );

    let schema = event_schema();
    let opts = ConvertOptions::default();
    let (mut converted, mut events) = (0usize, 0usize);
    let mut rejected: BTreeMap<String, usize> = BTreeMap::new();
    let mut failures = Vec::new();
    for path in &files {
        let name = path
            .strip_prefix(&dir)
            .unwrap_or(path)
            .display()
            .to_string();
        let bytes = std::fs::read(path).unwrap();
        let run = || {
            convert(&bytes, &opts).map(|c| {
                c.stories
                    .into_iter()
                    .map(|s| s.event)
                    .collect::<Vec<Event>>()
            })
        };
        let first = match catch_unwind(AssertUnwindSafe(run)) {
            Ok(r) => r,
            Err(_) => {
                failures.push(format!("{name}: PANIC"));
                continue;
            }
        };
        match first {
            Ok(evs) => {
                converted += 1;
                events += evs.len();
                for ev in &evs {
                    for p in check_event(ev, &schema) {
                        failures.push(format!("{name}: event {}: {p}", ev.uuid));
                    }
                }
                let again = run().unwrap_or_default();
                if serde_json::to_string(&evs).unwrap() != serde_json::to_string(&again).unwrap() {
                    failures.push(format!("{name}: second conversion differs"));
                }
            }
            Err(e) => {
                let message = e.to_string();
                if message.trim().is_empty() {
                    failures.push(format!("{name}: rejected without a reason"));
                }
                *rejected.entry(reason(&message)).or_default() += 1;
            }
        }
    }
    println!(
        "corpus: {} files, {converted} converted ({events} events), {} rejected",
        files.len(),
        files.len() - converted
    );
    for (why, n) in &rejected {
        println!("  rejected {n:>4}: {why}");
    }
    for f in failures.iter().take(50) {
        println!("  FAIL {f}");
    }
    assert!(
        failures.is_empty(),
        "{} problems, first: {:?}",
        failures.len(),
        failures.first()
    );
    assert!(converted > 0, "nothing in the corpus converted");
}
