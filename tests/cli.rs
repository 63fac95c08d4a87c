//! The `convert` and `validate` subcommands, run as a process: exit codes 0/2, one-line errors, stdout shape.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_misp-connector");

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// `shared/` beside the repository (CI, `/work/main`), or two levels up from a git worktree.
fn shared() -> PathBuf {
    let beside = root().join("../shared");
    if beside.is_dir() {
        beside
    } else {
        root().join("../../shared")
    }
}

fn example(name: &str) -> PathBuf {
    root().join("examples").join(name)
}

/// Run the binary with no configuration in the environment.
fn run(args: &[&str], stdin: Option<&[u8]>) -> Output {
    let mut cmd = Command::new(BIN);
    cmd.args(args)
        .env_remove("CONFIG_FILE")
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("binary starts");
    if let Some(input) = stdin {
        let mut pipe = child.stdin.take().expect("stdin");
        // The child may stop reading early (over the size limit): a broken pipe is fine here.
        let _ = pipe.write_all(input);
    }
    child.wait_with_output().expect("binary finishes")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Exit 2, nothing on stdout, exactly one stderr line `misp-connector: …` containing `needle`.
fn assert_invalid(out: &Output, needle: &str) {
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "stderr: {stderr}");
    assert!(out.stdout.is_empty(), "stdout: {}", text(&out.stdout));
    assert_eq!(stderr.lines().count(), 1, "one line: {stderr:?}");
    assert!(stderr.starts_with("misp-connector: "), "{stderr:?}");
    assert!(
        stderr.contains(needle),
        "{stderr:?} should contain {needle:?}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn convert_prints_one_event_per_story_and_line() {
    let out = run(
        &[
            "convert",
            example("native-multi-story.json").to_str().unwrap(),
        ],
        None,
    );
    assert_eq!(out.status.code(), Some(0), "stderr: {}", text(&out.stderr));
    let stdout = text(&out.stdout);
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 3);
    let uuids: Vec<String> = lines
        .iter()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).expect("each line is JSON");
            v["Event"]["uuid"].as_str().expect("Event.uuid").to_owned()
        })
        .collect();
    assert_eq!(
        uuids,
        vec![
            "25476508-0281-503d-9282-e9c467391905",
            "e2a08503-b5a4-5dfb-adab-646a7adf74f4",
            "e55c45cc-3327-5521-954f-444cd0e3a8ba"
        ]
    );
}

#[test]
fn convert_reads_stdin_and_pretty_prints() {
    let bytes = std::fs::read(example("native-story.json")).unwrap();
    let compact = run(&["convert", "-"], Some(&bytes));
    assert_eq!(compact.status.code(), Some(0), "{}", text(&compact.stderr));
    let pretty = run(&["convert", "--pretty"], Some(&bytes));
    assert_eq!(pretty.status.code(), Some(0), "{}", text(&pretty.stderr));
    let pretty_text = text(&pretty.stdout);
    assert!(pretty_text.lines().count() > 10, "indented");
    let a: serde_json::Value = serde_json::from_str(text(&compact.stdout).trim()).unwrap();
    let b: serde_json::Value = serde_json::from_str(pretty_text.trim()).unwrap();
    assert_eq!(a, b);
    assert_eq!(a["Event"]["uuid"], "ed13a0b1-4f5f-4c43-bdf2-820ee0d43448");
    assert_eq!(a["Event"]["info"], "Title");
    // End to end: story, news items, STIX content and the TLP reach the event.
    let names: Vec<&str> = a["Event"]["Object"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|o| o["name"].as_str())
        .collect();
    assert_eq!(
        names.iter().filter(|n| **n == "taranis-news-item").count(),
        2,
        "{names:?}"
    );
    assert!(names.contains(&"taranis-story"), "{names:?}");
    let ip = a["Event"]["Attribute"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|at| at["value"] == "203.0.113.45")
        .expect("the indicator's IP is an attribute");
    assert_eq!(ip["to_ids"], true);
    assert!(
        a["Event"]["Tag"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|t| t["name"] == "tlp:clear")
    );
    // Deterministic: the same bytes twice.
    assert_eq!(run(&["convert", "-"], Some(&bytes)).stdout, compact.stdout);
}

#[test]
fn every_example_converts_and_validates() {
    for name in [
        "native-story.json",
        "native-story-update.json",
        "native-multi-story.json",
        "presenter-story.json",
        "plain-report.json",
    ] {
        let path = example(name);
        let out = run(&["convert", path.to_str().unwrap()], None);
        assert_eq!(out.status.code(), Some(0), "{name}: {}", text(&out.stderr));
        assert!(!out.stdout.is_empty(), "{name}");
        let out = run(&["validate", path.to_str().unwrap()], None);
        assert_eq!(out.status.code(), Some(0), "{name}: {}", text(&out.stderr));
        assert!(text(&out.stdout).ends_with("ok\n"), "{name}");
    }
}

#[test]
fn convert_warnings_go_to_stderr_one_line_each() {
    let input = br#"{"type":"bundle","objects":[42,
        {"type":"report","id":"report--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f","name":"r","published":"someday"}]}"#;
    let out = run(&["convert", "-"], Some(input));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stderr = text(&out.stderr);
    let warnings: Vec<&str> = stderr.lines().collect();
    assert!(warnings.len() >= 2, "{stderr}");
    assert!(
        warnings
            .iter()
            .all(|l| l.starts_with("misp-connector: warning: ")),
        "{stderr}"
    );
    assert!(
        warnings.iter().any(|l| l.contains("objects[0]")),
        "{stderr}"
    );
    assert!(warnings.iter().any(|l| l.contains("someday")), "{stderr}");
    assert_eq!(text(&out.stdout).lines().count(), 1);
}

#[test]
fn validate_summarises_the_stories() {
    let out = run(
        &["validate", example("native-story.json").to_str().unwrap()],
        None,
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(stdout.contains("1 story"), "{stdout}");
    assert!(
        stdout.contains("story ed13a0b1-4f5f-4c43-bdf2-820ee0d43448 (native, from report--ed13a0b1-4f5f-4c43-bdf2-820ee0d43448): \"Title\""),
        "{stdout}"
    );
    assert!(stdout.contains("news items: 2"), "{stdout}");
    assert!(stdout.contains("tlp: tlp:clear"), "{stdout}");
    assert!(stdout.contains("indicators: 3"), "{stdout}");
    assert!(stdout.contains("warnings: none"), "{stdout}");

    let out = run(
        &[
            "validate",
            example("presenter-story.json").to_str().unwrap(),
        ],
        None,
    );
    assert!(
        text(&out.stdout)
            .contains("(presenter, from x-misp-object--a4931523-d966-4c59-aad3-9cea1abcddd8)")
    );
    let out = run(
        &["validate", example("plain-report.json").to_str().unwrap()],
        None,
    );
    assert!(text(&out.stdout).contains("(plain, from report--"));
}

#[test]
fn validate_lists_warnings() {
    let input = br#"{"type":"bundle","objects":[{"type":"indicator","id":"indicator--bad"},
        {"type":"report","id":"report--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f","name":"r"}]}"#;
    let out = run(&["validate", "-"], Some(input));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(stdout.contains("warnings: 1"), "{stdout}");
    assert!(
        stdout.contains("objects[0] (\"indicator--bad\")"),
        "{stdout}"
    );
}

#[test]
fn invalid_inputs_exit_2_with_one_line() {
    let missing = root().join("examples/does-not-exist.json");
    for cmd in ["convert", "validate"] {
        assert_invalid(&run(&[cmd, missing.to_str().unwrap()], None), "cannot read");
        assert_invalid(
            &run(&[cmd, root().join("examples").to_str().unwrap()], None),
            "cannot read",
        );
        assert_invalid(
            &run(
                &[cmd, "-"],
                Some(b"{\"type\": \"bundle\",\n \"objects\": [}"),
            ),
            "not valid JSON",
        );
        assert_invalid(
            &run(
                &[cmd, "-"],
                Some(b"{\"type\": \"bundle\",\n \"objects\": [}"),
            ),
            "line 2, column 14",
        );
        assert_invalid(
            &run(&[cmd, "-"], Some(b"")),
            "stdin: input is not valid JSON",
        );
        assert_invalid(&run(&[cmd, "-"], Some(b"\xFF\xFE")), "not valid UTF-8");
        assert_invalid(
            &run(&[cmd, "-"], Some(b"[1,2]")),
            "top-level JSON value is an array",
        );
        assert_invalid(
            &run(&[cmd, "-"], Some(br#"{"type":"report"}"#)),
            "not a STIX bundle",
        );
        assert_invalid(
            &run(&[cmd, "-"], Some(br#"{"type":"bundle","objects":"x"}"#)),
            "\"objects\" is a string",
        );
        assert_invalid(
            &run(
                &[cmd, "-"],
                Some(br#"{"type":"bundle","objects":[{"type":"indicator","id":"indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f"}]}"#),
            ),
            "no story in bundle",
        );
        assert_invalid(
            &run(&[cmd, "-"], Some("[".repeat(200_000).as_bytes())),
            "max_depth",
        );
        let long = format!(
            r#"{{"type":"bundle","objects":[{{"type":"report","id":"report--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f","name":"{}"}}]}}"#,
            "x".repeat(1024 * 1024 + 1)
        );
        assert_invalid(
            &run(&[cmd, "-"], Some(long.as_bytes())),
            "$.objects[0].name (object report--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f)",
        );
        // A file of the invalid corpus, by path: the error names the file.
        let file = shared().join("corpus/stix-invalid/cti-stix-validator/invalid_comma.json");
        let out = run(&[cmd, file.to_str().unwrap()], None);
        assert_invalid(&out, "invalid_comma.json: input is not valid JSON");
    }
}

#[test]
fn oversized_stdin_is_cut_at_the_limit() {
    // 16 MiB + 2 bytes of spaces: read at most max_bytes + 1, then refuse without parsing.
    let big = vec![b' '; 16 * 1024 * 1024 + 2];
    let out = run(&["convert", "-"], Some(&big));
    assert_invalid(
        &out,
        "stdin: input is larger than the limit max_bytes = 16777216",
    );
}

#[test]
fn oversized_file_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("big.json");
    let file = std::fs::File::create(&path).unwrap();
    file.set_len(16 * 1024 * 1024 + 1).unwrap();
    let out = run(&["validate", path.to_str().unwrap()], None);
    assert_invalid(&out, "input is larger than the limit max_bytes");
    assert!(text(&out.stderr).contains("big.json"));
}
