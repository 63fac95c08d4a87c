//! How much of what misp-stix extracts from its own mapping samples does our content mapping produce?
//!
//! For every `shared/corpus/stix/misp-stix/**/X.json` with a sidecar `X.misp-expected.json` (the MISP side of
//! misp-stix's mapping documentation), the bundle is parsed and ALL its objects go through
//! [`map_content`] (most samples have no report, so story extraction would reject them). The expected
//! `(type, value)` pairs — standalone attributes and attributes of objects — are compared with everything we
//! produce (standalone and object attributes), after a light normalisation:
//! * `ip-src`/`ip-dst` count as one class, and so do `email`/`email-src`/`email-dst`;
//! * hashes, e-mail addresses, domains and booleans compare case-insensitively; `AS` without the `AS` prefix;
//!   timestamps by their UTC second; trailing slashes of URLs are NOT normalised;
//! * a composite expected pair (`filename|md5`, `a|b`) is covered by the composite or by both parts.
//!
//! Sidecars that only hold galaxy clusters (no attributes) are counted separately, not in the denominator.
//! The test prints per-directory and total coverage plus the most-missed types, and asserts the total stays at
//! or above the level reached (a regression floor; see `docs/mapping-content.md`).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use misp_connector::limits::Limits;
use misp_connector::mapping::content::map_content;
use misp_connector::stix::bundle;
use serde_json::Value;
use uuid::Uuid;

/// The total coverage (percent) this mapping reached; lowering it needs a reason in the docs.
const FLOOR_PERCENT: f64 = 80.5;

fn shared() -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let near = root.join("../shared");
    if near.join("corpus").is_dir() {
        near
    } else {
        root.join("../../shared")
    }
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            walk(&p, out);
        } else if p.extension().is_some_and(|e| e == "json")
            && !p.to_string_lossy().ends_with(".misp-expected.json")
        {
            out.push(p);
        }
    }
}

/// Expected `(type, value)` pairs of a sidecar (attribute, object, or a list of them).
fn expected_pairs(v: &Value, out: &mut Vec<(String, String)>) {
    match v {
        Value::Array(items) => items.iter().for_each(|i| expected_pairs(i, out)),
        Value::Object(m) => {
            if let Some(attrs) = m.get("Attribute").and_then(Value::as_array) {
                attrs.iter().for_each(|a| expected_pairs(a, out));
            } else if let (Some(t), Some(val)) =
                (m.get("type").and_then(Value::as_str), m.get("value"))
            {
                let val = match val {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                out.push((t.to_owned(), val));
            }
        }
        _ => {}
    }
}

fn type_class(t: &str) -> &str {
    match t {
        "ip-src" | "ip-dst" => "ip",
        "email" | "email-src" | "email-dst" => "email",
        other => other,
    }
}

fn norm_value(t: &str, v: &str) -> String {
    let v = v.trim();
    let hashy = t.starts_with("sha")
        || t.starts_with("x509-fingerprint")
        || matches!(
            t,
            "md5"
                | "imphash"
                | "ssdeep"
                | "tlsh"
                | "authentihash"
                | "vhash"
                | "telfhash"
                | "pehash"
        );
    if hashy
        || matches!(
            t,
            "email" | "email-src" | "email-dst" | "domain" | "hostname" | "boolean"
        )
    {
        return v.to_ascii_lowercase();
    }
    if t == "AS" {
        return v
            .trim_start_matches("AS")
            .trim_start_matches("as")
            .to_owned();
    }
    if t == "datetime" {
        let s = v.trim_end_matches('Z');
        let s = s.split('+').next().unwrap_or(s);
        let s = s.split('.').next().unwrap_or(s);
        return s.replace(' ', "T");
    }
    v.to_owned()
}

fn key(t: &str, v: &str) -> (String, String) {
    (type_class(t).to_owned(), norm_value(t, v))
}

fn covered(expected: &(String, String), produced: &BTreeSet<(String, String)>) -> bool {
    let (t, v) = expected;
    if produced.contains(&key(t, v)) {
        return true;
    }
    // Composite types: both parts produced.
    if let (Some((t1, t2)), Some((v1, v2))) = (t.split_once('|'), v.split_once('|')) {
        return produced.contains(&key(t1, v1)) && produced.contains(&key(t2, v2));
    }
    false
}

#[derive(Default)]
struct Tally {
    files: usize,
    galaxy_only: usize,
    expected: usize,
    covered: usize,
}

#[test]
fn misp_stix_mapping_samples_coverage() {
    let root = shared().join("corpus/stix/misp-stix");
    let mut files = Vec::new();
    walk(&root, &mut files);
    assert!(!files.is_empty(), "no corpus under {}", root.display());

    let event = Uuid::from_u128(0x5eed_0000_0000_4000_8000_0000_0000_0001);
    let mut per_dir: BTreeMap<String, Tally> = BTreeMap::new();
    let mut missing_types: BTreeMap<String, usize> = BTreeMap::new();
    let mut missing_examples: Vec<String> = Vec::new();

    for path in &files {
        let sidecar = PathBuf::from(
            path.to_string_lossy()
                .replace(".json", ".misp-expected.json"),
        );
        let Ok(text) = std::fs::read_to_string(&sidecar) else {
            continue;
        };
        let sidecar: Value = serde_json::from_str(&text).expect("sidecar parses");
        let dir = path
            .parent()
            .and_then(|p| p.strip_prefix(&root).ok())
            .map(|p| p.display().to_string())
            .unwrap_or_default();
        let tally = per_dir.entry(dir).or_default();
        let mut expected = Vec::new();
        expected_pairs(&sidecar, &mut expected);
        if expected.is_empty() {
            tally.galaxy_only += 1;
            continue;
        }
        tally.files += 1;

        let bytes = std::fs::read(path).expect("sample readable");
        let bundle = bundle::parse(&bytes, &Limits::default())
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let out = map_content(event, &bundle.objects);
        let mut produced = BTreeSet::new();
        for a in out
            .attributes
            .iter()
            .chain(out.objects.iter().flat_map(|o| o.attributes.iter()))
        {
            produced.insert(key(&a.type_, &a.value));
            assert!(
                misp_connector::misp::types::is_valid_category(&a.type_, &a.category),
                "{}: {} / {}",
                path.display(),
                a.type_,
                a.category
            );
        }
        for e in &expected {
            tally.expected += 1;
            if covered(e, &produced) {
                tally.covered += 1;
            } else {
                *missing_types.entry(e.0.clone()).or_default() += 1;
                if missing_examples.len() < 40 || std::env::var_os("COVERAGE_VERBOSE").is_some() {
                    let name = path.file_name().map(|n| n.to_string_lossy().into_owned());
                    let short: String = e.1.chars().take(60).collect();
                    missing_examples.push(format!(
                        "{}: {} = {short}",
                        name.unwrap_or_default(),
                        e.0
                    ));
                }
            }
        }
    }

    let pct = |c: usize, e: usize| {
        if e == 0 {
            100.0
        } else {
            100.0 * c as f64 / e as f64
        }
    };
    let (mut files_n, mut galaxy_n, mut exp, mut cov) = (0, 0, 0, 0);
    println!(
        "{:<40} {:>5} {:>7} {:>9} {:>8}",
        "directory", "files", "galaxy", "pairs", "covered"
    );
    for (dir, t) in &per_dir {
        println!(
            "{dir:<40} {:>5} {:>7} {:>9} {:>7.1}%",
            t.files,
            t.galaxy_only,
            format!("{}/{}", t.covered, t.expected),
            pct(t.covered, t.expected)
        );
        files_n += t.files;
        galaxy_n += t.galaxy_only;
        exp += t.expected;
        cov += t.covered;
    }
    let total = pct(cov, exp);
    println!(
        "{:<40} {files_n:>5} {galaxy_n:>7} {:>9} {total:>7.1}%",
        "TOTAL",
        format!("{cov}/{exp}")
    );
    let mut top: Vec<(&String, &usize)> = missing_types.iter().collect();
    top.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
    println!("most-missed types:");
    for (t, n) in top.iter().take(20) {
        println!("  {t:<28} {n}");
    }
    println!("some missing pairs:");
    for m in &missing_examples {
        println!("  {m}");
    }
    assert!(
        total >= FLOOR_PERCENT,
        "coverage {total:.1}% fell below the floor of {FLOOR_PERCENT}%"
    );
}
