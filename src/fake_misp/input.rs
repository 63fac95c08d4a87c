//! Lenient reading of request bodies the way MISP (PHP) reads them: numbers may come as strings or
//! numbers, flags as booleans, 0/1 or "0"/"1", objects may be wrapped (`{"Event": …}`) or flat (transcript 76).

use serde_json::{Map, Value};

/// A string field; numbers are accepted and stringified (PHP does the same).
pub fn string(m: &Map<String, Value>, key: &str) -> Option<String> {
    match m.get(key)? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(if *b { "1" } else { "0" }.to_owned()),
        _ => None,
    }
}

/// A nullable string field: `Some(None)` when sent as `null`.
pub fn nullable(m: &Map<String, Value>, key: &str) -> Option<Option<String>> {
    match m.get(key)? {
        Value::Null => Some(None),
        _ => string(m, key).map(Some),
    }
}

/// An integer field given as number or numeric string.
pub fn int(m: &Map<String, Value>, key: &str) -> Option<i64> {
    match m.get(key)? {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse().ok(),
        Value::Bool(b) => Some(i64::from(*b)),
        _ => None,
    }
}

/// Whether an integer-like field is present but not an integer (MISP validation would fail).
pub fn bad_int(m: &Map<String, Value>, key: &str) -> bool {
    m.get(key).is_some_and(|v| !v.is_null()) && int(m, key).is_none()
}

/// A flag given as bool, 0/1 or "0"/"1"/"true"/"false".
pub fn flag(m: &Map<String, Value>, key: &str) -> Option<bool> {
    match m.get(key)? {
        Value::Bool(b) => Some(*b),
        Value::Number(n) => Some(n.as_i64().unwrap_or(0) != 0),
        Value::String(s) => Some(matches!(s.trim(), "1" | "true" | "True" | "TRUE")),
        _ => None,
    }
}

/// The list under `key` (absent or non-list → empty); a single object is treated as a list of one.
pub fn list<'a>(m: &'a Map<String, Value>, key: &str) -> Vec<&'a Map<String, Value>> {
    match m.get(key) {
        Some(Value::Array(items)) => items.iter().filter_map(Value::as_object).collect(),
        Some(Value::Object(o)) => vec![o],
        _ => Vec::new(),
    }
}

/// Unwrap `{"response": …}` / `{"request": …}` and then `{"<wrapper>": …}` (any of `wrappers`).
pub fn unwrap<'a>(body: &'a Value, wrappers: &[&str]) -> Option<&'a Map<String, Value>> {
    let mut m = body.as_object()?;
    for outer in ["response", "request"] {
        if let Some(Value::Object(inner)) = m.get(outer) {
            m = inner;
        }
    }
    for w in wrappers {
        if let Some(Value::Object(inner)) = m.get(*w) {
            return Some(inner);
        }
    }
    Some(m)
}

/// MISP's RFC 4122 check (Cake's `uuid` rule): 8-4-4-4-12 hex digits.
pub fn valid_uuid(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 36
        && b.iter().enumerate().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => *c == b'-',
            _ => c.is_ascii_hexdigit(),
        })
}

/// Whether any string in the JSON value holds a 4-byte UTF-8 character (outside the BMP). MISP 2.5.1's
/// default schema is utf8mb3 and answers 500 on such text (BRIEF §4).
pub fn has_four_byte(v: &Value) -> bool {
    match v {
        Value::String(s) => s.chars().any(|c| u32::from(c) > 0xFFFF),
        Value::Array(items) => items.iter().any(has_four_byte),
        Value::Object(m) => m
            .iter()
            .any(|(k, v)| k.chars().any(|c| u32::from(c) > 0xFFFF) || has_four_byte(v)),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn lenient_scalars() {
        let v = json!({"a": "12", "b": 12, "c": "x", "d": true, "e": "1", "f": 0, "g": null});
        let m = v.as_object().unwrap_or_else(|| unreachable!());
        assert_eq!(int(m, "a"), Some(12));
        assert_eq!(int(m, "b"), Some(12));
        assert_eq!(int(m, "c"), None);
        assert!(bad_int(m, "c"));
        assert!(!bad_int(m, "g"));
        assert_eq!(flag(m, "d"), Some(true));
        assert_eq!(flag(m, "e"), Some(true));
        assert_eq!(flag(m, "f"), Some(false));
        assert_eq!(string(m, "b").as_deref(), Some("12"));
        assert_eq!(nullable(m, "g"), Some(None));
    }

    #[test]
    fn unwrapping_and_uuid_and_four_byte() {
        let wrapped = json!({"request": {"Event": {"info": "x"}}});
        assert!(unwrap(&wrapped, &["Event"]).is_some_and(|m| m.contains_key("info")));
        let flat = json!({"info": "x"});
        assert!(unwrap(&flat, &["Event"]).is_some_and(|m| m.contains_key("info")));
        assert!(unwrap(&json!([1]), &["Event"]).is_none());
        assert!(valid_uuid("5f0c2b1e-7a3d-4c1e-9b2a-0d1e2f3a4b5c"));
        assert!(!valid_uuid("not-a-uuid"));
        assert!(has_four_byte(&json!({"x": ["ok", "smile \u{1F600}"]})));
        assert!(!has_four_byte(&json!({"x": "é ü 中"})));
    }
}
