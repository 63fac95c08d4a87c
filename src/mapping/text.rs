//! Text hygiene for everything that goes to MISP: the 4-byte UTF-8 policy, control characters, MISP's column
//! sizes, Python-compatible JSON strings for the Taranis objects, and markdown that carries untrusted text
//! without live HTML or links.

use std::fmt::Write as _;

use super::{FourBytePolicy, MappingError};

/// `events.info`, `attributes.value1`/`comment` are MySQL `TEXT` (MISP's `maxTextLength`): 65,535 bytes.
pub const MAX_TEXT_BYTES: usize = 65_535;
/// `event_reports.name` and `tags.name` are `varchar(255)` (characters).
pub const MAX_NAME_CHARS: usize = 255;
/// `event_reports.content` is `mediumtext`: 16 MiB − 1 bytes.
pub const MAX_REPORT_BYTES: usize = 16 * 1024 * 1024 - 1;

/// Clean one string for MISP: CR/LF normalised to `\n`, control characters other than `\n` and `\t` removed
/// (NUL included), then the 4-byte policy applied. `field` names the string in a `reject` error.
pub fn clean(
    s: &str,
    policy: FourBytePolicy,
    story_id: &str,
    field: &str,
) -> Result<String, MappingError> {
    clean_with(s, policy, story_id, || field.to_owned())
}

/// [`clean`] with the field name built only when a `reject` error needs it (callers on hot paths name fields
/// with `format!`, which would otherwise run for every string).
pub fn clean_with(
    s: &str,
    policy: FourBytePolicy,
    story_id: &str,
    field: impl FnOnce() -> String,
) -> Result<String, MappingError> {
    // Fast path: printable ASCII, `\n` and `\t` are kept as they are (most values are exactly that).
    if s.bytes().all(|b| matches!(b, b' '..=b'~' | b'\n' | b'\t')) {
        return Ok(s.to_owned());
    }
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\r' => {
                if chars.peek() != Some(&'\n') {
                    out.push('\n');
                }
            }
            '\n' | '\t' => out.push(c),
            c if c.is_control() => {}
            c if c.len_utf8() == 4 => match policy {
                FourBytePolicy::Replace => out.push('\u{FFFD}'),
                FourBytePolicy::Strip => {}
                FourBytePolicy::Keep => out.push(c),
                FourBytePolicy::Reject => {
                    return Err(MappingError::FourByteChar {
                        story_id: story_id.to_owned(),
                        field: field(),
                    });
                }
            },
            c => out.push(c),
        }
    }
    Ok(out)
}

/// Does `s` hold a 4-byte UTF-8 character?
pub fn has_four_byte(s: &str) -> bool {
    s.chars().any(|c| c.len_utf8() == 4)
}

/// A URL with its 4-byte characters percent-encoded (`%F0%9F%98%80`): the same URL to every client, and
/// storable in MISP's utf8mb3 columns, so no policy has to replace (and break) it. Unchanged under `keep`.
pub fn encode_url_four_byte(url: &str, policy: FourBytePolicy) -> String {
    if policy == FourBytePolicy::Keep || !has_four_byte(url) {
        return url.to_owned();
    }
    let mut out = String::with_capacity(url.len() + 16);
    for c in url.chars() {
        if c.len_utf8() == 4 {
            let mut buf = [0u8; 4];
            for b in c.encode_utf8(&mut buf).bytes() {
                let _ = write!(out, "%{b:02X}");
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// Cut `s` to at most `max` bytes on a character boundary; `true` when something was cut.
pub fn truncate_bytes(s: &mut String, max: usize) -> bool {
    if s.len() <= max {
        return false;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s.truncate(end);
    true
}

/// Cut `s` to at most `max` characters; `true` when something was cut.
pub fn truncate_chars(s: &mut String, max: usize) -> bool {
    match s.char_indices().nth(max) {
        Some((idx, _)) => {
            s.truncate(idx);
            true
        }
        None => false,
    }
}

/// A single line: every run of whitespace (newlines, tabs) becomes one space, trimmed.
pub fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Python's `json.dumps(obj, sort_keys=True)` for a flat object of strings: `", "` and `": "` separators,
/// `ensure_ascii` escapes (`\uXXXX`, lower-case hex, surrogate pairs above U+FFFF). Taranis encodes the
/// `tags`, `attributes` and `links` relations of `taranis-story` this way, and its collector reads them back
/// with `ast.literal_eval`.
pub fn py_json_object(pairs: &[(&str, &str)]) -> String {
    let mut sorted: Vec<&(&str, &str)> = pairs.iter().collect();
    sorted.sort_by(|a, b| a.0.cmp(b.0));
    let mut out = String::from("{");
    for (i, (k, v)) in sorted.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        py_json_string(&mut out, k);
        out.push_str(": ");
        py_json_string(&mut out, v);
    }
    out.push('}');
    out
}

fn py_json_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            ' '..='~' => out.push(c),
            c => {
                let mut buf = [0u16; 2];
                for unit in c.encode_utf16(&mut buf) {
                    let _ = write!(out, "\\u{unit:04x}");
                }
            }
        }
    }
    out.push('"');
}

/// Untrusted text as inert markdown: `&`, `<`, `>` become HTML entities (no live HTML, in the rendered report
/// nor in its raw content) and `\`, `` ` ``, `*`, `_`, `[`, `]`, `~`, `|`, `#` are backslash-escaped (no
/// links, images, MISP `@[…](…)` references, code spans, tables or headings can be injected). Leading
/// whitespace of each line is removed (no indented code blocks). Line structure is kept.
pub fn md_text(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + s.len() / 8);
    for (i, line) in s.split('\n').enumerate() {
        if i > 0 {
            out.push('\n');
        }
        for c in line.trim_start().chars() {
            match c {
                '&' => out.push_str("&amp;"),
                '<' => out.push_str("&lt;"),
                '>' => out.push_str("&gt;"),
                '\\' | '`' | '*' | '_' | '[' | ']' | '~' | '|' | '#' => {
                    out.push('\\');
                    out.push(c);
                }
                c => out.push(c),
            }
        }
    }
    out.trim_end().to_owned()
}

/// Is `url` an absolute URL with a scheme we are willing to render as a link (`http`, `https`, `ftp`)?
pub fn is_web_url(url: &str) -> bool {
    let lower = url.trim().to_ascii_lowercase();
    ["http://", "https://", "ftp://"]
        .iter()
        .any(|p| lower.starts_with(p) && lower.len() > p.len())
        && !url.trim().chars().any(char::is_whitespace)
}

/// Does `value` look like a URL MISP's `link` type accepts (scheme, `:`, no whitespace)?
pub fn is_link_value(value: &str) -> bool {
    let Some((scheme, rest)) = value.split_once(':') else {
        return false;
    };
    let mut sc = scheme.chars();
    sc.next().is_some_and(|c| c.is_ascii_alphabetic())
        && sc.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
        && rest.starts_with("//")
        && rest.len() > 2
        && !value.chars().any(|c| c.is_whitespace() || c.is_control())
}

/// A URL as a markdown link destination: percent-encodes everything that could end or escape the
/// destination (space, parentheses, angle brackets, quotes, backslash, non-ASCII) and writes `&` as `&amp;`.
fn md_url(url: &str) -> String {
    let mut out = String::with_capacity(url.len());
    for b in url.trim().bytes() {
        match b {
            b'&' => out.push_str("&amp;"),
            b'A'..=b'Z'
            | b'a'..=b'z'
            | b'0'..=b'9'
            | b'-'
            | b'.'
            | b'_'
            | b'~'
            | b':'
            | b'/'
            | b'?'
            | b'#'
            | b'@'
            | b'!'
            | b'$'
            | b'+'
            | b','
            | b';'
            | b'='
            | b'%'
            | b'*' => out.push(b as char),
            b => {
                let _ = write!(out, "%{b:02X}");
            }
        }
    }
    out
}

/// One markdown list item linking `url` with the label `title` (falls back to the URL). URLs that are not
/// http(s)/ftp (e.g. `javascript:`) are written as inert text, never as a link.
pub fn md_link_item(title: &str, url: &str) -> String {
    let label = one_line(title);
    let url = url.trim();
    if is_web_url(url) {
        let label = if label.is_empty() { url } else { &label };
        format!("- [{}]({})", md_text(label), md_url(url))
    } else if url.is_empty() {
        format!("- {}", md_text(&label))
    } else if label.is_empty() {
        format!("- {}", md_text(&one_line(url)))
    } else {
        format!("- {} ({})", md_text(&label), md_text(&one_line(url)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(s: &str, p: FourBytePolicy) -> Result<String, MappingError> {
        clean(s, p, "story", "field")
    }

    #[test]
    fn field_name_is_built_only_for_a_reject_error() {
        let mut built = 0;
        let ok = clean_with("plain\tascii\n", FourBytePolicy::Reject, "story", || {
            built += 1;
            "f".to_owned()
        });
        assert_eq!(ok.unwrap(), "plain\tascii\n");
        assert_eq!(built, 0);
        let err = clean_with("x😀", FourBytePolicy::Reject, "story", || {
            "news_items[1].title".to_owned()
        });
        assert_eq!(
            err.unwrap_err(),
            MappingError::FourByteChar {
                story_id: "story".to_owned(),
                field: "news_items[1].title".to_owned()
            }
        );
    }

    #[test]
    fn ascii_fast_path_agrees_with_the_slow_path() {
        // Printable ASCII, \n and \t take the fast path; \r, DEL and other controls do not.
        assert_eq!(
            c("a b~\n\tc", FourBytePolicy::Replace).unwrap(),
            "a b~\n\tc"
        );
        assert_eq!(
            c("a\r\nb\rc\u{7f}d\u{0}e", FourBytePolicy::Replace).unwrap(),
            "a\nb\ncde"
        );
        assert_eq!(c("é\u{85}x", FourBytePolicy::Replace).unwrap(), "éx");
    }

    #[test]
    fn four_byte_policies() {
        let s = "a😀b";
        assert_eq!(c(s, FourBytePolicy::Replace).unwrap(), "a\u{FFFD}b");
        assert_eq!(c(s, FourBytePolicy::Strip).unwrap(), "ab");
        assert_eq!(c(s, FourBytePolicy::Keep).unwrap(), "a😀b");
        let err = c(s, FourBytePolicy::Reject).unwrap_err();
        assert_eq!(
            err,
            MappingError::FourByteChar {
                story_id: "story".into(),
                field: "field".into()
            }
        );
        assert!(err.to_string().contains("field"));
        // 3-byte characters (utf8mb3) are fine.
        assert_eq!(c("Ö€中", FourBytePolicy::Reject).unwrap(), "Ö€中");
    }

    #[test]
    fn urls_percent_encode_four_byte_characters() {
        let url = "https://e.x/a\u{1F600}é?q=\u{1F600}";
        for p in [
            FourBytePolicy::Replace,
            FourBytePolicy::Strip,
            FourBytePolicy::Reject,
        ] {
            assert_eq!(
                encode_url_four_byte(url, p),
                "https://e.x/a%F0%9F%98%80é?q=%F0%9F%98%80"
            );
        }
        assert_eq!(encode_url_four_byte(url, FourBytePolicy::Keep), url);
        assert!(has_four_byte(url));
        assert!(!has_four_byte("Ö€中"));
    }

    #[test]
    fn control_characters_are_removed() {
        assert_eq!(
            c("a\0b\u{7}c\td\r\ne\rf\u{85}g\u{7f}", FourBytePolicy::Keep).unwrap(),
            "abc\td\ne\nfg"
        );
    }

    #[test]
    fn truncation_respects_char_boundaries() {
        let mut s = "aéb".to_owned(); // é is 2 bytes
        assert!(truncate_bytes(&mut s, 2));
        assert_eq!(s, "a");
        let mut s = "abc".to_owned();
        assert!(!truncate_bytes(&mut s, 3));
        let mut s = "éééé".to_owned();
        assert!(truncate_chars(&mut s, 2));
        assert_eq!(s, "éé");
        assert!(!truncate_chars(&mut s, 2));
    }

    #[test]
    fn python_json_matches_json_dumps_sort_keys() {
        // Values observed in Taranis' own output (reproduced payload and a real MISP event).
        assert_eq!(
            py_json_object(&[("value", "clear"), ("key", "TLP")]),
            r#"{"key": "TLP", "value": "clear"}"#
        );
        assert_eq!(
            py_json_object(&[("name", "Österreich"), ("tag_type", "Location")]),
            r#"{"name": "\u00d6sterreich", "tag_type": "Location"}"#
        );
        assert_eq!(
            py_json_object(&[("k", "a\"b\\c\nd\u{1}😀\u{7f}")]),
            r#"{"k": "a\"b\\c\nd\u0001\ud83d\ude00\u007f"}"#
        );
        assert_eq!(py_json_object(&[]), "{}");
    }

    #[test]
    fn markdown_neutralises_html_and_links() {
        let out = md_text("<script>alert(1)</script>");
        assert_eq!(out, "&lt;script&gt;alert(1)&lt;/script&gt;");
        let out = md_text(r#"<img src=x onerror="alert(1)">"#);
        assert!(!out.contains('<') && !out.contains('>'));
        let out = md_text("[click](javascript:alert(1)) ![i](http://x/y.png) @[tag](x)");
        assert_eq!(
            out,
            r"\[click\](javascript:alert(1)) !\[i\](http://x/y.png) @\[tag\](x)"
        );
        // An escape in the input cannot un-escape ours.
        assert_eq!(md_text(r"\[x](y)"), r"\\\[x\](y)");
        // Entities in the input are shown, not decoded.
        assert_eq!(md_text("&lt;b&gt;"), "&amp;lt;b&amp;gt;");
        // Indented code blocks cannot be opened.
        assert_eq!(md_text("    code\n\tx"), "code\nx");
    }

    #[test]
    fn link_items() {
        assert_eq!(
            md_link_item("A [b] title", "https://example.com/a%20b?x=1&y=(2)\"é"),
            "- [A \\[b\\] title](https://example.com/a%20b?x=1&amp;y=%282%29%22%C3%A9)"
        );
        assert_eq!(
            md_link_item("", "https://example.com/"),
            "- [https://example.com/](https://example.com/)"
        );
        assert_eq!(
            md_link_item("x", "javascript:alert(1)"),
            "- x (javascript:alert(1))"
        );
        assert_eq!(
            md_link_item("t", "JaVaScRiPt:alert(1)"),
            "- t (JaVaScRiPt:alert(1))"
        );
        assert_eq!(md_link_item("only title", ""), "- only title");
        assert_eq!(
            md_link_item("<b>x</b>", "https://e.x/<script>"),
            "- [&lt;b&gt;x&lt;/b&gt;](https://e.x/%3Cscript%3E)"
        );
    }

    #[test]
    fn link_values() {
        assert!(is_link_value("https://www.test.at/rss.xml"));
        assert!(is_link_value("ftp://x.y/z"));
        assert!(!is_link_value("manual"));
        assert!(!is_link_value("https://a b"));
        assert!(!is_link_value("javascript:alert(1)"));
        assert!(!is_link_value("https://"));
    }
}
