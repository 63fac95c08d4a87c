//! `misp-connector convert` and `validate`: offline, no configuration.
//!
//! `validate` runs the same conversion as `convert` (parse, extract, map) and prints a summary instead of the
//! events, so it accepts exactly what `convert` accepts.
//!
//! Both read one bundle from a file or standard input (never more than `max_bytes + 1` bytes), use the default
//! [`Limits`](misp_connector::limits::Limits) and exit 0 on success. Invalid input (unreadable file, not JSON,
//! not a bundle, over a limit, no story, …) exits 2 with exactly one line on stderr: `misp-connector: <cause>`.
//! Warnings go to stderr, one line each; results go to stdout.

use std::fs::File;
use std::io::{self, Read, Write};

use misp_connector::convert::{ConvertOptions, convert as convert_bundle};
use misp_connector::error::Warning;
use misp_connector::misp::event::EventEnvelope;
use misp_connector::stix::bundle;
use misp_connector::story::{Dialect, Story};

use super::Exit;

/// `convert [FILE|-] [--pretty]`: one `{"Event": …}` JSON per story and line on stdout.
pub fn convert(file: &str, pretty: bool) -> Exit {
    let opts = ConvertOptions::default();
    let bytes = match read_input(file, opts.limits.max_bytes) {
        Ok(b) => b,
        Err(cause) => return invalid(&cause),
    };
    let conversion = match convert_bundle(&bytes, &opts) {
        Ok(c) => c,
        Err(e) => return invalid(&format!("{}: {e}", display_name(file))),
    };
    print_warnings(&conversion.warnings);
    let stdout = io::stdout();
    let mut out = stdout.lock();
    for converted in conversion.stories {
        let envelope = EventEnvelope {
            event: converted.event,
        };
        let json = if pretty {
            serde_json::to_string_pretty(&envelope)
        } else {
            serde_json::to_string(&envelope)
        };
        let written = match json {
            Ok(json) => writeln!(out, "{json}"),
            Err(e) => {
                one_line(&format!(
                    "cannot serialise event {}: {e}",
                    converted.story.id
                ));
                return Exit::Failure;
            }
        };
        if let Err(e) = written {
            return write_failed(&e);
        }
    }
    match out.flush() {
        Ok(()) => Exit::Ok,
        Err(e) => write_failed(&e),
    }
}

/// `validate [FILE|-]`: a human summary of the stories found; exit 0 when there is at least one.
pub fn validate(file: &str) -> Exit {
    let limits = ConvertOptions::default().limits;
    let bytes = match read_input(file, limits.max_bytes) {
        Ok(b) => b,
        Err(cause) => return invalid(&cause),
    };
    let name = display_name(file);
    // Only the bundle id and object count are kept: the parsed bundle is dropped before the conversion runs.
    let (bundle_id, object_count) = match bundle::parse(&bytes, &limits) {
        Ok(b) => (b.id, b.objects.len()),
        Err(e) => return invalid(&format!("{name}: {e}")),
    };
    // The same conversion `convert` runs, so validate accepts exactly what convert accepts.
    let conversion = match convert_bundle(&bytes, &ConvertOptions::default()) {
        Ok(c) => c,
        Err(e) => return invalid(&format!("{name}: {e}")),
    };
    let warnings = &conversion.warnings;
    let stories = &conversion.stories;

    let mut text = String::new();
    text.push_str(&format!(
        "{name}: bundle {} with {} objects, {} {}\n",
        bundle_id.as_deref().unwrap_or("(without id)"),
        object_count,
        stories.len(),
        if stories.len() == 1 {
            "story"
        } else {
            "stories"
        }
    ));
    for converted in stories {
        text.push_str(&summary(&converted.story));
        let e = &converted.event;
        text.push_str(&format!(
            "  MISP event {}: {} attributes, {} objects, {} tags, {} event reports\n",
            e.uuid,
            e.attributes.len(),
            e.objects.len(),
            e.tags.len(),
            e.reports.len()
        ));
    }
    if warnings.is_empty() {
        text.push_str("warnings: none\n");
    } else {
        text.push_str(&format!("warnings: {}\n", warnings.len()));
        for w in warnings {
            text.push_str(&format!("  - {}\n", single_line(&w.to_string())));
        }
    }
    text.push_str("ok\n");
    let stdout = io::stdout();
    let mut out = stdout.lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Ok(()) => Exit::Ok,
        Err(e) => write_failed(&e),
    }
}

/// The summary lines of one story.
fn summary(s: &Story) -> String {
    let count = |pred: &dyn Fn(&str) -> bool| s.objects.iter().filter(|o| pred(&o.type_)).count();
    let indicators = count(&|t| t == "indicator");
    let observables = count(&|t| is_observable(t));
    let title = if s.title.is_empty() {
        "(no title)".to_owned()
    } else {
        format!("{:?}", s.title)
    };
    let dialect = match s.dialect {
        Dialect::Native => "native",
        Dialect::Presenter => "presenter",
        Dialect::Plain => "plain",
    };
    let mut text = format!(
        "story {} ({dialect}, from {}): {}\n",
        s.id,
        s.source_id,
        single_line(&title)
    );
    text.push_str(&format!(
        "  news items: {}, tags: {}, labels: {}, attributes: {}, links: {}, tlp: {}\n",
        s.news_items.len(),
        s.tags.len(),
        s.labels.len(),
        s.attributes.len(),
        s.links.len(),
        s.tlp.map_or("none", |t| t.tag())
    ));
    text.push_str(&format!(
        "  objects: {} (indicators: {indicators}, observables: {observables}, other: {})\n",
        s.objects.len(),
        s.objects.len() - indicators - observables
    ));
    text
}

/// STIX 2.1 cyber-observable (SCO) types.
fn is_observable(t: &str) -> bool {
    matches!(
        t,
        "artifact"
            | "autonomous-system"
            | "directory"
            | "domain-name"
            | "email-addr"
            | "email-message"
            | "file"
            | "ipv4-addr"
            | "ipv6-addr"
            | "mac-addr"
            | "mutex"
            | "network-traffic"
            | "process"
            | "software"
            | "url"
            | "user-account"
            | "windows-registry-key"
            | "x509-certificate"
    )
}

/// Read a whole input file (`-` = standard input), at most `max_bytes` (`limits.max_bytes`); more is an error
/// naming the limit. Shared by every subcommand that reads bundles.
pub(super) fn read_input(file: &str, max_bytes: usize) -> Result<Vec<u8>, String> {
    let name = display_name(file);
    let cap = u64::try_from(max_bytes)
        .unwrap_or(u64::MAX)
        .saturating_add(1);
    let mut bytes = Vec::new();
    let read = if file == "-" {
        io::stdin().lock().take(cap).read_to_end(&mut bytes)
    } else {
        File::open(file).and_then(|f| f.take(cap).read_to_end(&mut bytes))
    };
    if let Err(e) = read {
        return Err(format!("cannot read {name}: {e}"));
    }
    if bytes.len() > max_bytes {
        return Err(format!(
            "{name}: input is larger than the limit max_bytes = {max_bytes}"
        ));
    }
    Ok(bytes)
}

fn display_name(file: &str) -> String {
    if file == "-" {
        "stdin".to_owned()
    } else {
        file.to_owned()
    }
}

fn print_warnings(warnings: &[Warning]) {
    let stderr = io::stderr();
    let mut err = stderr.lock();
    for w in warnings {
        let _ = writeln!(
            err,
            "misp-connector: warning: {}",
            single_line(&w.to_string())
        );
    }
}

/// Longest diagnostic line written, in characters (a warning can quote story text or ids of any length).
const MAX_LINE_CHARS: usize = 2000;

/// One line of terminal-safe text: line breaks become spaces, other control characters (ESC, BEL, …, which
/// could drive the operator's terminal from story text) are written as `\u{…}` escapes, and the line is
/// bounded to [`MAX_LINE_CHARS`] characters.
fn single_line(s: &str) -> String {
    let mut out = String::with_capacity(s.len().min(MAX_LINE_CHARS + 8));
    for (count, c) in s.chars().enumerate() {
        if count == MAX_LINE_CHARS {
            out.push('…');
            break;
        }
        match c {
            '\r' | '\n' => out.push(' '),
            c if c.is_control() => out.extend(c.escape_unicode()),
            c => out.push(c),
        }
    }
    out
}

fn one_line(cause: &str) {
    let _ = writeln!(io::stderr(), "misp-connector: {}", single_line(cause));
}

fn invalid(cause: &str) -> Exit {
    one_line(cause);
    Exit::Invalid
}

fn write_failed(e: &io::Error) -> Exit {
    if e.kind() == io::ErrorKind::BrokenPipe {
        return Exit::Ok;
    }
    one_line(&format!("cannot write to stdout: {e}"));
    Exit::Failure
}
