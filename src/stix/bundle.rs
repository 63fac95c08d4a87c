//! Parsing bytes into a [`Bundle`] under [`Limits`].
//!
//! Input comes from other organisations and from the web, so it is bounded before anything expensive
//! happens, in this order:
//!
//! 1. size (`max_bytes`), then a UTF-8 check (a leading UTF-8 BOM is tolerated and dropped);
//! 2. a byte scan that counts `[`/`{` nesting outside strings (aware of `\"` escapes) and rejects input deeper
//!    than `max_depth` *before* serde_json sees it, so a million `[` never recurse;
//! 3. serde_json into a [`Value`], then the shape: a top-level object with `"type": "bundle"` and an `objects`
//!    array of at most `max_objects` items, and no string (value or key) longer than `max_string_len` bytes
//!    (the error names the JSON path and the object id);
//! 4. each array item becomes an [`Object`] on its own: an item that is not an object with string `type` and
//!    `id`, or whose `id` is not `<type>--<uuid>`, is skipped with a [`Warning`] — one bad object never drops
//!    the rest. Several versions of one id (STIX versioning) keep one object: the newest `modified` (else
//!    `created`), the first on a tie, with a warning.

use std::collections::HashMap;
use std::fmt::Write as _;

use serde_json::{Map, Value};
use uuid::Uuid;

use crate::error::{Classify, ErrorClass, Warning};
use crate::limits::Limits;
use crate::stix::Object;

/// A parsed STIX bundle: the objects that could be read, and warnings for those that could not.
#[derive(Debug, Clone, Default)]
pub struct Bundle {
    /// The bundle's `id`, when present.
    pub id: Option<String>,
    /// Objects in input order.
    pub objects: Vec<Object>,
    /// What was skipped and why.
    pub warnings: Vec<Warning>,
    index: HashMap<String, usize>,
}

impl Bundle {
    /// Build a bundle from already parsed objects (indexes them by id; the first of duplicate ids wins).
    pub fn from_objects(
        id: Option<String>,
        objects: Vec<Object>,
        warnings: Vec<Warning>,
    ) -> Bundle {
        let mut index = HashMap::with_capacity(objects.len());
        for (i, o) in objects.iter().enumerate() {
            index.entry(o.id.clone()).or_insert(i);
        }
        Bundle {
            id,
            objects,
            warnings,
            index,
        }
    }

    /// The object with this id.
    pub fn get(&self, id: &str) -> Option<&Object> {
        self.index.get(id).map(|&i| &self.objects[i])
    }
}

/// Why input is not a usable bundle. Every variant names the limit or the place (line/column, JSON path).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    /// More bytes than `limits.max_bytes`.
    #[error("input is {size} bytes, more than the limit max_bytes = {max}")]
    TooLarge { size: usize, max: usize },
    /// Not valid UTF-8.
    #[error("input is not valid UTF-8 at byte {offset} (line {line}, column {column})")]
    NotUtf8 {
        offset: usize,
        line: usize,
        column: usize,
    },
    /// Nested deeper than `limits.max_depth`.
    #[error("JSON nesting deeper than the limit max_depth = {max} at line {line}, column {column}")]
    TooDeep {
        max: usize,
        line: usize,
        column: usize,
    },
    /// Not JSON (syntax error, empty input, trailing data …).
    #[error("input is not valid JSON: {message} at line {line}, column {column}")]
    InvalidJson {
        message: String,
        line: usize,
        column: usize,
    },
    /// The top-level JSON value is not an object.
    #[error("top-level JSON value is {found}, expected a STIX bundle object")]
    NotAnObject { found: &'static str },
    /// The top-level object's `type` is not `bundle`.
    #[error("top-level object is not a STIX bundle: {found}")]
    NotABundle { found: String },
    /// No `objects` property.
    #[error("bundle {bundle_id} has no \"objects\" array")]
    MissingObjects { bundle_id: String },
    /// `objects` is not an array.
    #[error("bundle {bundle_id}: \"objects\" is {found}, expected an array")]
    ObjectsNotArray {
        bundle_id: String,
        found: &'static str,
    },
    /// More than `limits.max_objects` objects.
    #[error("bundle holds {count} objects, more than the limit max_objects = {max}")]
    TooManyObjects { count: usize, max: usize },
    /// A string (value or key) longer than `limits.max_string_len` bytes.
    #[error(
        "string of {len} bytes at {path}{}, longer than the limit max_string_len = {max}",
        object_id.as_ref().map(|id| format!(" (object {id})")).unwrap_or_default()
    )]
    StringTooLong {
        /// JSON path, e.g. `$.objects[3].description`.
        path: String,
        /// The id of the bundle object the string is in, when known.
        object_id: Option<String>,
        len: usize,
        max: usize,
    },
}

impl Classify for ParseError {
    fn class(&self) -> ErrorClass {
        ErrorClass::Permanent
    }
}

const UTF8_BOM: &[u8] = b"\xEF\xBB\xBF";

/// Parse a STIX bundle from bytes.
pub fn parse(bytes: &[u8], limits: &Limits) -> Result<Bundle, ParseError> {
    if bytes.len() > limits.max_bytes {
        return Err(ParseError::TooLarge {
            size: bytes.len(),
            max: limits.max_bytes,
        });
    }
    let bytes = bytes.strip_prefix(UTF8_BOM).unwrap_or(bytes);
    let text = std::str::from_utf8(bytes).map_err(|e| {
        let offset = e.valid_up_to();
        let (line, column) = line_column(bytes, offset);
        ParseError::NotUtf8 {
            offset,
            line,
            column,
        }
    })?;
    check_depth(text.as_bytes(), limits.max_depth)?;
    let value: Value = serde_json::from_str(text).map_err(|e| invalid_json(&e))?;

    let mut top = match value {
        Value::Object(map) => map,
        other => {
            return Err(ParseError::NotAnObject {
                found: kind(&other),
            });
        }
    };
    match top.get("type") {
        Some(Value::String(t)) if t == "bundle" => {}
        Some(Value::String(t)) => {
            return Err(ParseError::NotABundle {
                found: format!("\"type\" is {}", quoted_prefix(t)),
            });
        }
        Some(other) => {
            return Err(ParseError::NotABundle {
                found: format!("\"type\" is {}", kind(other)),
            });
        }
        None => {
            return Err(ParseError::NotABundle {
                found: "no \"type\" property".to_owned(),
            });
        }
    }
    let id = top.get("id").and_then(Value::as_str).map(str::to_owned);
    let bundle_name = id
        .as_deref()
        .map(quoted_prefix)
        .unwrap_or_else(|| "(without id)".to_owned());
    let items = match top.remove("objects") {
        Some(Value::Array(items)) => items,
        Some(other) => {
            return Err(ParseError::ObjectsNotArray {
                bundle_id: bundle_name,
                found: kind(&other),
            });
        }
        None => {
            return Err(ParseError::MissingObjects {
                bundle_id: bundle_name,
            });
        }
    };
    if items.len() > limits.max_objects {
        return Err(ParseError::TooManyObjects {
            count: items.len(),
            max: limits.max_objects,
        });
    }
    check_strings_map(&top, "$", None, limits.max_string_len)?;
    for (i, item) in items.iter().enumerate() {
        let object_id = item
            .get("id")
            .and_then(Value::as_str)
            .filter(|s| s.len() <= limits.max_string_len)
            .map(str::to_owned);
        let mut path = String::new();
        let _ = write!(path, "$.objects[{i}]");
        check_strings(item, &mut path, object_id.as_deref(), limits.max_string_len)?;
    }

    let mut warnings = Vec::new();
    let mut objects = Vec::with_capacity(items.len());
    // id → position in `objects`; it becomes the bundle's index at the end. `input_at[position]` is the input
    // index of the object first read under that id (for the warnings).
    let mut seen: HashMap<String, usize> = HashMap::with_capacity(items.len());
    let mut input_at: Vec<usize> = Vec::with_capacity(items.len());
    for (i, item) in items.into_iter().enumerate() {
        let object = match read_object(i, item) {
            Ok(object) => object,
            Err(w) => {
                warnings.push(w);
                continue;
            }
        };
        let Some(&at) = seen.get(&object.id) else {
            seen.insert(object.id.clone(), objects.len());
            input_at.push(i);
            objects.push(object);
            continue;
        };
        let first = input_at[at];
        let kept = &objects[at];
        if *kept == object {
            warnings.push(Warning::about(
                object.id.clone(),
                format!("objects[{i}] repeats objects[{first}]; ignored"),
            ));
        } else if version(&object) > version(kept) {
            warnings.push(Warning::about(
                object.id.clone(),
                format!(
                    "objects[{i}] is a newer version of objects[{first}] (modified {}); it replaces it",
                    version_text(&object)
                ),
            ));
            objects[at] = object;
        } else {
            warnings.push(Warning::about(
                object.id.clone(),
                format!(
                    "objects[{i}] is another version of objects[{first}] (modified {}, not newer); ignored",
                    version_text(&object)
                ),
            ));
        }
    }
    // Every id in `seen` names the object at its position (a replacing version has the same id), so it is
    // the index `from_objects` would build, without hashing and copying every id a second time.
    Ok(Bundle {
        id,
        objects,
        warnings,
        index: seen,
    })
}

/// The STIX version of an object: `modified`, else `created` (RFC 3339); `None` when neither reads.
fn version(o: &Object) -> Option<chrono::DateTime<chrono::Utc>> {
    ["modified", "created"].iter().find_map(|k| {
        o.str(k)
            .and_then(|s| chrono::DateTime::parse_from_rfc3339(s.trim()).ok())
            .map(|t| t.with_timezone(&chrono::Utc))
    })
}

fn version_text(o: &Object) -> String {
    o.str("modified")
        .or_else(|| o.str("created"))
        .map_or_else(|| "unknown".to_owned(), quoted_prefix)
}

/// One bundle item → an [`Object`], or the warning saying why it was skipped.
fn read_object(index: usize, item: Value) -> Result<Object, Warning> {
    // Only a skipped item needs its place spelled out.
    let place = || format!("objects[{index}]");
    let map = match item {
        Value::Object(map) => map,
        other => {
            return Err(Warning::about(
                place(),
                format!("skipped: {} is not a STIX object", kind(&other)),
            ));
        }
    };
    let type_ = match map.get("type") {
        Some(Value::String(t)) => t.clone(),
        Some(other) => {
            return Err(Warning::about(
                place(),
                format!("skipped: \"type\" is {}, expected a string", kind(other)),
            ));
        }
        None => return Err(Warning::about(place(), "skipped: no \"type\" property")),
    };
    let id = match map.get("id") {
        Some(Value::String(id)) => id.clone(),
        Some(other) => {
            return Err(Warning::about(
                place(),
                format!(
                    "skipped {type_} object: \"id\" is {}, expected a string",
                    kind(other)
                ),
            ));
        }
        None => {
            return Err(Warning::about(
                place(),
                format!("skipped {type_} object: no \"id\" property"),
            ));
        }
    };
    if !is_valid_id(&type_, &id) {
        return Err(Warning::about(
            format!("{} ({})", place(), quoted_prefix(&id)),
            format!("skipped: id is not \"{type_}--<uuid>\""),
        ));
    }
    // `type` and `id` were read above: no second lookup through `Object::from_value`.
    Ok(Object {
        type_,
        id,
        props: map,
    })
}

/// `<type>--<uuid>` with the object's own type.
pub fn is_valid_id(type_: &str, id: &str) -> bool {
    match id.split_once("--") {
        Some((prefix, tail)) => {
            prefix == type_ && !prefix.is_empty() && Uuid::parse_str(tail).is_ok()
        }
        None => false,
    }
}

/// Reject nesting deeper than `max_depth` with a flat byte scan (no recursion).
///
/// Only `[` and `{` outside strings count; string escapes (`\"`, `\\`) are honoured. The scan does not
/// validate JSON, serde_json does that afterwards.
fn check_depth(bytes: &[u8], max_depth: usize) -> Result<(), ParseError> {
    let mut depth: usize = 0;
    let mut offset = 0;
    while let Some(&b) = bytes.get(offset) {
        match b {
            b'"' => {
                // Skip the string in a tight loop: to the next quote not taken by a backslash escape.
                offset += 1;
                while let Some(&c) = bytes.get(offset) {
                    match c {
                        b'\\' => offset += 2,
                        b'"' => break,
                        _ => offset += 1,
                    }
                }
            }
            b'[' | b'{' => {
                depth += 1;
                if depth > max_depth {
                    let (line, column) = line_column(bytes, offset);
                    return Err(ParseError::TooDeep {
                        max: max_depth,
                        line,
                        column,
                    });
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
        offset += 1;
    }
    Ok(())
}

fn check_strings_map(
    map: &Map<String, Value>,
    path: &str,
    object_id: Option<&str>,
    max: usize,
) -> Result<(), ParseError> {
    let mut path = path.to_owned();
    for (key, value) in map {
        let len = path.len();
        push_key(&mut path, key);
        if key.len() > max {
            return Err(too_long(&path, object_id, key.len(), max));
        }
        check_strings(value, &mut path, object_id, max)?;
        path.truncate(len);
    }
    Ok(())
}

/// Walk a value (depth already bounded) and reject any string or key longer than `max` bytes.
fn check_strings(
    value: &Value,
    path: &mut String,
    object_id: Option<&str>,
    max: usize,
) -> Result<(), ParseError> {
    match value {
        Value::String(s) if s.len() > max => Err(too_long(path, object_id, s.len(), max)),
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                let len = path.len();
                let _ = write!(path, "[{i}]");
                check_strings(item, path, object_id, max)?;
                path.truncate(len);
            }
            Ok(())
        }
        Value::Object(map) => {
            for (key, item) in map {
                let len = path.len();
                push_key(path, key);
                if key.len() > max {
                    return Err(too_long(path, object_id, key.len(), max));
                }
                check_strings(item, path, object_id, max)?;
                path.truncate(len);
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

/// Append `.key` (or `["key"]` for keys that are not simple names; long keys are cut).
fn push_key(path: &mut String, key: &str) {
    let simple = !key.is_empty()
        && key.len() <= 64
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if simple {
        path.push('.');
        path.push_str(key);
    } else {
        let _ = write!(path, "[{}]", quoted_prefix(key));
    }
}

fn too_long(path: &str, object_id: Option<&str>, len: usize, max: usize) -> ParseError {
    ParseError::StringTooLong {
        path: path.to_owned(),
        object_id: object_id.map(str::to_owned),
        len,
        max,
    }
}

fn invalid_json(e: &serde_json::Error) -> ParseError {
    let full = e.to_string();
    let suffix = format!(" at line {} column {}", e.line(), e.column());
    let message = full.strip_suffix(&suffix).unwrap_or(&full).to_owned();
    ParseError::InvalidJson {
        message,
        line: e.line(),
        column: e.column(),
    }
}

/// 1-based line and column (in bytes) of a byte offset.
fn line_column(bytes: &[u8], offset: usize) -> (usize, usize) {
    let before = &bytes[..offset.min(bytes.len())];
    let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
    let line_start = before
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(0, |p| p + 1);
    (line, offset - line_start + 1)
}

/// The JSON kind of a value, for messages.
pub(crate) fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// A string for messages: quoted, escaped, at most 80 characters, on one line.
pub(crate) fn quoted_prefix(s: &str) -> String {
    const MAX: usize = 80;
    let cut: String = s.chars().take(MAX).collect();
    let mut out = format!("{cut:?}");
    if s.chars().nth(MAX).is_some() {
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> Limits {
        Limits::default()
    }

    #[test]
    fn parses_minimal_bundle() {
        let b = parse(
            br#"{"type":"bundle","id":"bundle--6b7fa2f0-8d52-4bcd-a6ad-2c4be3b1f6a8","objects":[
                {"type":"indicator","id":"indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f"}]}"#,
            &limits(),
        )
        .unwrap();
        assert_eq!(
            b.id.as_deref(),
            Some("bundle--6b7fa2f0-8d52-4bcd-a6ad-2c4be3b1f6a8")
        );
        assert_eq!(b.objects.len(), 1);
        assert!(b.warnings.is_empty());
        assert!(
            b.get("indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f")
                .is_some()
        );
    }

    #[test]
    fn depth_scan_ignores_brackets_in_strings() {
        assert!(check_depth(br#"{"a":"[[[[[[[[[[\"[[[["}"#, 2).is_ok());
        assert!(check_depth(br#"{"a":"\\"}"#, 1).is_ok());
        let e = check_depth(b"[[[", 2).unwrap_err();
        assert_eq!(
            e,
            ParseError::TooDeep {
                max: 2,
                line: 1,
                column: 3
            }
        );
    }

    #[test]
    fn line_column_counts_from_one() {
        assert_eq!(line_column(b"ab\ncd", 0), (1, 1));
        assert_eq!(line_column(b"ab\ncd", 4), (2, 2));
    }

    #[test]
    fn id_must_match_type_and_hold_a_uuid() {
        assert!(is_valid_id(
            "report",
            "report--09e63054-309a-459e-9dca-7544749e86dc"
        ));
        assert!(!is_valid_id(
            "report",
            "grouping--09e63054-309a-459e-9dca-7544749e86dc"
        ));
        assert!(!is_valid_id("report", "report--nope"));
        assert!(!is_valid_id("report", "report"));
    }

    #[test]
    fn string_error_names_path_and_object() {
        let l = Limits {
            max_string_len: 6,
            ..Limits::default()
        };
        let e = parse(
            br#"{"type":"bundle","objects":[{"type":"x","id":"x--1","name":"abcdefgh"}]}"#,
            &l,
        )
        .unwrap_err();
        assert_eq!(
            e,
            ParseError::StringTooLong {
                path: "$.objects[0].name".into(),
                object_id: Some("x--1".into()),
                len: 8,
                max: 6
            }
        );
        assert_eq!(
            e.to_string(),
            "string of 8 bytes at $.objects[0].name (object x--1), longer than the limit max_string_len = 6"
        );
    }

    #[test]
    fn quoted_prefix_is_bounded() {
        let long = "x".repeat(500);
        assert!(quoted_prefix(&long).chars().count() < 90);
        assert_eq!(quoted_prefix("a\nb"), "\"a\\nb\"");
    }
}
