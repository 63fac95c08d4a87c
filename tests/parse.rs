//! `stix::bundle::parse`: every limit, every malformed shape, the invalid corpus, BOM, deep nesting, huge strings.

use std::path::{Path, PathBuf};

use misp_connector::error::{Classify, ErrorClass};
use misp_connector::limits::Limits;
use misp_connector::stix::bundle::{ParseError, parse};

/// `shared/` beside the repository (CI, `/work/main`), or two levels up from a git worktree.
fn shared() -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let beside = root.join("../shared");
    if beside.is_dir() {
        beside
    } else {
        root.join("../../shared")
    }
}

const REPORT: &str = r#"{"type":"report","spec_version":"2.1","id":"report--09e63054-309a-459e-9dca-7544749e86dc","name":"r","published":"2025-01-01T00:00:00Z","object_refs":["indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f"]}"#;
const INDICATOR: &str = r#"{"type":"indicator","spec_version":"2.1","id":"indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f","pattern":"[ipv4-addr:value = '203.0.113.1']","pattern_type":"stix"}"#;

fn bundle_of(objects: &[&str]) -> String {
    format!(
        r#"{{"type":"bundle","id":"bundle--6b7fa2f0-8d52-4bcd-a6ad-2c4be3b1f6a8","objects":[{}]}}"#,
        objects.join(",")
    )
}

fn err(input: &[u8]) -> ParseError {
    err_with(input, &Limits::default())
}

fn err_with(input: &[u8], limits: &Limits) -> ParseError {
    match parse(input, limits) {
        Ok(b) => panic!(
            "expected an error, got a bundle with {} objects",
            b.objects.len()
        ),
        Err(e) => {
            assert_eq!(e.class(), ErrorClass::Permanent);
            let text = e.to_string();
            assert!(!text.contains('\n'), "one-line message: {text}");
            e
        }
    }
}

#[test]
fn a_valid_bundle_parses_with_every_object() {
    let b = parse(
        bundle_of(&[REPORT, INDICATOR]).as_bytes(),
        &Limits::default(),
    )
    .unwrap();
    assert_eq!(
        b.id.as_deref(),
        Some("bundle--6b7fa2f0-8d52-4bcd-a6ad-2c4be3b1f6a8")
    );
    assert_eq!(b.objects.len(), 2);
    assert_eq!(b.objects[0].type_, "report");
    assert!(b.warnings.is_empty());
    assert_eq!(
        b.get("indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f")
            .map(|o| o.type_.as_str()),
        Some("indicator")
    );
}

#[test]
fn a_utf8_bom_is_tolerated() {
    let mut input = b"\xEF\xBB\xBF".to_vec();
    input.extend_from_slice(bundle_of(&[REPORT]).as_bytes());
    assert_eq!(parse(&input, &Limits::default()).unwrap().objects.len(), 1);
}

#[test]
fn size_limit() {
    let input = bundle_of(&[REPORT, INDICATOR]);
    let limits = Limits {
        max_bytes: input.len() - 1,
        ..Limits::default()
    };
    let e = err_with(input.as_bytes(), &limits);
    assert_eq!(
        e,
        ParseError::TooLarge {
            size: input.len(),
            max: input.len() - 1
        }
    );
    assert!(e.to_string().contains("max_bytes"));
    let limits = Limits {
        max_bytes: input.len(),
        ..Limits::default()
    };
    assert!(
        parse(input.as_bytes(), &limits).is_ok(),
        "exactly max_bytes is accepted"
    );
}

#[test]
fn depth_limit_is_checked_before_serde() {
    // 100k and 1M open brackets: rejected by the scan, without recursion.
    for n in [100_000usize, 1_000_000] {
        let input = "[".repeat(n);
        let e = err(input.as_bytes());
        assert_eq!(
            e,
            ParseError::TooDeep {
                max: 64,
                line: 1,
                column: 65
            }
        );
        assert!(e.to_string().contains("max_depth = 64"), "{e}");
    }
    let deep_objects = "{\"a\":".repeat(100_000);
    assert!(matches!(
        err(deep_objects.as_bytes()),
        ParseError::TooDeep { .. }
    ));
}

#[test]
fn depth_limit_counts_real_nesting_only() {
    let nested = |depth: usize| {
        let inner = format!("{}1{}", "[".repeat(depth), "]".repeat(depth));
        bundle_of(&[&format!(
            r#"{{"type":"x-deep","id":"x-deep--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f","v":{inner},"s":"[[[[[[[[[[[[\"{{{{{{{{"}}"#
        )])
    };
    // bundle object (1) + objects array (2) + the object (3) + depth.
    let limits = Limits {
        max_depth: 10,
        ..Limits::default()
    };
    assert!(
        parse(nested(7).as_bytes(), &limits).is_ok(),
        "depth 10 is allowed"
    );
    let e = err_with(nested(8).as_bytes(), &limits);
    assert!(
        matches!(
            e,
            ParseError::TooDeep {
                max: 10,
                line: 1,
                ..
            }
        ),
        "{e:?}"
    );
}

#[test]
fn string_limit_names_path_and_object() {
    let long = "A".repeat(2_000_000);
    let object = format!(
        r#"{{"type":"indicator","id":"indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f","description":"{long}"}}"#
    );
    let input = bundle_of(&[REPORT, &object]);
    let e = err(input.as_bytes());
    assert_eq!(
        e,
        ParseError::StringTooLong {
            path: "$.objects[1].description".into(),
            object_id: Some("indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f".into()),
            len: 2_000_000,
            max: 1024 * 1024,
        }
    );
    assert!(e.to_string().contains("max_string_len"));
}

#[test]
fn string_limit_applies_to_keys_nested_values_and_the_envelope() {
    let limits = Limits {
        max_string_len: 64,
        ..Limits::default()
    };
    let long = "k".repeat(65);
    let key =
        format!(r#"{{"type":"x-a","id":"x-a--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f","{long}":1}}"#);
    match err_with(bundle_of(&[&key]).as_bytes(), &limits) {
        ParseError::StringTooLong { path, len: 65, .. } => {
            assert!(path.starts_with("$.objects[0][\"kkk"), "{path}")
        }
        other => panic!("{other:?}"),
    }
    let nested = format!(
        r#"{{"type":"x-a","id":"x-a--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f","v":[{{"w":["ok","{long}"]}}]}}"#
    );
    match err_with(bundle_of(&[&nested]).as_bytes(), &limits) {
        ParseError::StringTooLong { path, .. } => assert_eq!(path, "$.objects[0].v[0].w[1]"),
        other => panic!("{other:?}"),
    }
    let envelope = format!(r#"{{"type":"bundle","x_note":"{long}","objects":[]}}"#);
    match err_with(envelope.as_bytes(), &limits) {
        ParseError::StringTooLong {
            path, object_id, ..
        } => {
            assert_eq!(path, "$.x_note");
            assert_eq!(object_id, None);
        }
        other => panic!("{other:?}"),
    }
    // Escapes count decoded: 64 × "\u0041" is 64 bytes of text.
    let escaped = format!(
        r#"{{"type":"x-a","id":"x-a--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f","v":"{}"}}"#,
        "\\u0041".repeat(64)
    );
    assert!(parse(bundle_of(&[&escaped]).as_bytes(), &limits).is_ok());
}

#[test]
fn object_count_limit() {
    let limits = Limits {
        max_objects: 1,
        ..Limits::default()
    };
    assert_eq!(
        err_with(bundle_of(&[REPORT, INDICATOR]).as_bytes(), &limits),
        ParseError::TooManyObjects { count: 2, max: 1 }
    );
    assert!(parse(bundle_of(&[REPORT]).as_bytes(), &limits).is_ok());
}

#[test]
fn not_utf8() {
    let mut input = bundle_of(&[REPORT]).into_bytes();
    input.splice(2..2, b"\n\xFF".iter().copied());
    assert_eq!(
        err(&input),
        ParseError::NotUtf8 {
            offset: 3,
            line: 2,
            column: 1
        }
    );
}

#[test]
fn not_json_names_line_and_column() {
    let e = err(b"{\"type\": \"bundle\",\n  \"objects\": [}\n");
    match &e {
        ParseError::InvalidJson {
            line,
            column,
            message,
        } => {
            assert_eq!((*line, *column), (2, 15));
            assert!(!message.contains(" at line "), "{message}");
        }
        other => panic!("{other:?}"),
    }
    assert!(e.to_string().contains("line 2, column 15"), "{e}");
    for input in [
        &b""[..],
        b"   ",
        b"{",
        b"nul",
        b"{\"type\":\"bundle\"} trailing",
        b"\"\\x\"",
    ] {
        assert!(
            matches!(err(input), ParseError::InvalidJson { .. }),
            "{:?}",
            String::from_utf8_lossy(input)
        );
    }
}

#[test]
fn top_level_shapes() {
    assert_eq!(err(b"[]"), ParseError::NotAnObject { found: "an array" });
    assert_eq!(err(b"42"), ParseError::NotAnObject { found: "a number" });
    assert_eq!(err(b"null"), ParseError::NotAnObject { found: "null" });
    assert_eq!(
        err(b"\"bundle\""),
        ParseError::NotAnObject { found: "a string" }
    );
    assert_eq!(
        err(br#"{"type":"report","objects":[]}"#).to_string(),
        "top-level object is not a STIX bundle: \"type\" is \"report\""
    );
    assert_eq!(
        err(br#"{"objects":[]}"#).to_string(),
        "top-level object is not a STIX bundle: no \"type\" property"
    );
    assert!(matches!(
        err(br#"{"type":7,"objects":[]}"#),
        ParseError::NotABundle { .. }
    ));
    assert_eq!(
        err(br#"{"type":"bundle","id":"bundle--6b7fa2f0-8d52-4bcd-a6ad-2c4be3b1f6a8"}"#)
            .to_string(),
        "bundle \"bundle--6b7fa2f0-8d52-4bcd-a6ad-2c4be3b1f6a8\" has no \"objects\" array"
    );
    assert_eq!(
        err(br#"{"type":"bundle","objects":{}}"#),
        ParseError::ObjectsNotArray {
            bundle_id: "(without id)".into(),
            found: "an object"
        }
    );
    // An empty objects array is a bundle (with no story: that is extraction's call).
    assert!(
        parse(br#"{"type":"bundle","objects":[]}"#, &Limits::default())
            .unwrap()
            .objects
            .is_empty()
    );
}

#[test]
fn bad_objects_are_skipped_with_warnings_and_the_rest_kept() {
    let input = bundle_of(&[
        "42",
        r#"{"id":"indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f"}"#,
        r#"{"type":["indicator"],"id":"indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f"}"#,
        r#"{"type":"indicator"}"#,
        r#"{"type":"indicator","id":17}"#,
        r#"{"type":"indicator","id":"indicator--not-a-uuid"}"#,
        r#"{"type":"indicator","id":"malware--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f"}"#,
        REPORT,
        INDICATOR,
        INDICATOR,
    ]);
    let b = parse(input.as_bytes(), &Limits::default()).unwrap();
    assert_eq!(
        b.objects.len(),
        2,
        "report and indicator are kept, the exact duplicate dropped"
    );
    assert_eq!(b.warnings.len(), 8, "{:#?}", b.warnings);
    for (i, w) in b.warnings.iter().take(7).enumerate() {
        let place = w.object_id.as_deref().unwrap_or_default();
        assert!(place.starts_with(&format!("objects[{i}]")), "{w}");
        assert!(w.message.contains("skipped"), "{w}");
    }
    assert!(b.warnings[5].to_string().contains("indicator--not-a-uuid"));
    assert!(
        b.warnings[7]
            .message
            .contains("objects[9] repeats objects[8]; ignored"),
        "{}",
        b.warnings[7]
    );
}

#[test]
fn the_invalid_corpus_is_rejected_or_warned_about() {
    let dir = shared().join("corpus/stix-invalid/cti-stix-validator");
    let read = |name: &str| std::fs::read(dir.join(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
    assert!(matches!(
        err(&read("invalid_braces.json")),
        ParseError::InvalidJson {
            line: 1,
            column: 1,
            ..
        }
    ));
    assert!(matches!(
        err(&read("invalid_comma.json")),
        ParseError::InvalidJson { line: 9, .. }
    ));
    // Valid JSON, but a bare identity, not a bundle.
    for name in ["invalid_identity.json", "invalid_timestamp.json"] {
        assert_eq!(
            err(&read(name)).to_string(),
            "top-level object is not a STIX bundle: \"type\" is \"identity\"",
            "{name}"
        );
    }
    // Wrapped in a bundle, the invalid objects are kept (their content is the mapping's business), never fatal.
    for name in ["invalid_identity.json", "invalid_timestamp.json"] {
        let object = String::from_utf8(read(name)).unwrap();
        let b = parse(bundle_of(&[&object, REPORT]).as_bytes(), &Limits::default()).unwrap();
        assert_eq!(b.objects.len(), 2, "{name}");
    }
}

#[test]
fn every_corpus_file_parses_or_fails_cleanly() {
    let mut files = Vec::new();
    let mut dirs = vec![
        shared().join("corpus/stix"),
        shared().join("corpus/stix-invalid"),
    ];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap().flatten() {
            let p = entry.path();
            if p.is_dir() {
                dirs.push(p);
            } else if p.extension().is_some_and(|x| x == "json") {
                files.push(p);
            }
        }
    }
    assert!(files.len() > 400, "corpus found: {}", files.len());
    let mut bundles = 0;
    for file in &files {
        let bytes = std::fs::read(file).unwrap();
        match parse(&bytes, &Limits::default()) {
            Ok(b) => {
                bundles += 1;
                assert_eq!(
                    parse(&bytes, &Limits::default()).unwrap().objects,
                    b.objects,
                    "{}",
                    file.display()
                );
            }
            Err(e) => assert!(!e.to_string().is_empty()),
        }
    }
    assert!(bundles > 400, "bundles parsed: {bundles}");
}

#[test]
fn versions_of_one_object_keep_the_newest() {
    let version = |modified: &str, name: &str| {
        format!(
            r#"{{"type":"malware","id":"malware--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f","modified":"{modified}","name":"{name}"}}"#
        )
    };
    let input = bundle_of(&[
        &version("2025-01-01T00:00:00.000Z", "v1"),
        REPORT,
        &version("2025-03-01T00:00:00.000Z", "v3"),
        &version("2025-02-01T00:00:00.000Z", "v2"),
    ]);
    let b = parse(input.as_bytes(), &Limits::default()).unwrap();
    assert_eq!(b.objects.len(), 2);
    assert_eq!(
        b.objects[0].str("name"),
        Some("v3"),
        "newest, at the place of the first"
    );
    assert_eq!(
        b.get("malware--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f")
            .and_then(|o| o.str("name")),
        Some("v3")
    );
    assert_eq!(b.warnings.len(), 2);
    assert!(
        b.warnings[0].message.contains("newer version"),
        "{}",
        b.warnings[0]
    );
    assert!(
        b.warnings[1].message.contains("not newer"),
        "{}",
        b.warnings[1]
    );
}
