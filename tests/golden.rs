//! Golden tests: every example bundle (`examples/*.json`) and every bundle under `tests/golden/input/` is
//! converted with fixed options and compared byte for byte with a hand-reviewed `tests/golden/expected/*.json`.
//!
//! `UPDATE_GOLDEN=1 cargo test --test golden` rewrites the expected files; review the diff by hand (BRIEF §4,
//! Taranis' payload) before committing it.

use std::path::{Path, PathBuf};

use misp_connector::convert::{ConvertOptions, convert};
use misp_connector::mapping::MappingOptions;
use misp_connector::misp::event::EventEnvelope;
use serde::Serialize;
use serde_json::json;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The bundles under test, with the name of their expected file.
fn inputs() -> Vec<(String, PathBuf)> {
    let mut out = Vec::new();
    for (dir, prefix) in [("examples", "examples-"), ("tests/golden/input", "")] {
        let Ok(entries) = std::fs::read_dir(root().join(dir)) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.extension().is_some_and(|e| e == "json") {
                let stem = path.file_stem().unwrap().to_string_lossy().into_owned();
                out.push((format!("{prefix}{stem}"), path));
            }
        }
    }
    out.sort();
    out
}

/// Options as an operator would set them: the golden files show every event-level field.
fn options() -> ConvertOptions {
    ConvertOptions {
        mapping: MappingOptions {
            extra_tags: vec!["source:misp-connector".into()],
            ..MappingOptions::default()
        },
        ..ConvertOptions::default()
    }
}

/// The expected file of a converted bundle: the events exactly as serialised for MISP, then the warnings.
#[derive(Serialize)]
struct Golden {
    events: Vec<EventEnvelope>,
    warnings: Vec<String>,
}

/// What the expected file holds: the events (as sent to MISP) and the warnings, or the error.
fn render(bytes: &[u8]) -> String {
    let text = match convert(bytes, &options()) {
        Ok(conv) => serde_json::to_string_pretty(&Golden {
            events: conv
                .stories
                .into_iter()
                .map(|c| EventEnvelope { event: c.event })
                .collect(),
            warnings: conv.warnings.iter().map(ToString::to_string).collect(),
        }),
        Err(e) => serde_json::to_string_pretty(&json!({"error": e.to_string()})),
    };
    text.unwrap() + "\n"
}

#[test]
fn golden_files_match() {
    let update = std::env::var("UPDATE_GOLDEN").is_ok_and(|v| v == "1");
    let inputs = inputs();
    assert!(inputs.len() >= 3, "golden inputs missing: {inputs:?}");
    let mut failures = Vec::new();
    for (name, path) in inputs {
        let bytes = std::fs::read(&path).unwrap();
        let got = render(&bytes);
        // Converting twice gives identical bytes.
        assert_eq!(
            got,
            render(&bytes),
            "{name}: conversion is not deterministic"
        );
        let expected_path = root().join(format!("tests/golden/expected/{name}.json"));
        if update {
            std::fs::write(&expected_path, &got).unwrap();
            continue;
        }
        match std::fs::read_to_string(&expected_path) {
            Ok(expected) if expected == got => {}
            Ok(_) => failures.push(format!(
                "{name}: output differs from {} (UPDATE_GOLDEN=1 to regenerate, then review)",
                expected_path.display()
            )),
            Err(_) => failures.push(format!(
                "{name}: no expected file {}",
                expected_path.display()
            )),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
