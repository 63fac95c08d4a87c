//! Message bodies → STIX bundle bytes (BRIEF §3.1).
//!
//! A queue message carries either a raw STIX bundle or the OpenCTI push envelope
//! `{"content": "<base64 bundle>", "work_id": …, "applicant_id": …, …}` (detected by its `content` field).
//! This module only unwraps: the bundle itself is parsed by [`crate::stix`]. Every size is bounded by
//! [`Limits::max_bytes`] before and after base64 decoding, so a hostile message is rejected with a reason.

use std::borrow::Cow;

use base64::Engine as _;
use serde::Deserialize;

use crate::error::{Classify, ErrorClass};
use crate::limits::Limits;

/// An unwrapped message: the bundle bytes plus what the envelope said about its origin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envelope<'a> {
    /// The STIX bundle (borrowed from the body for raw bundles, decoded for envelopes).
    pub bundle: Cow<'a, [u8]>,
    /// OpenCTI's `work_id`, echoed in result messages.
    pub work_id: Option<String>,
    /// OpenCTI's `applicant_id` (the user on whose behalf the bundle was sent).
    pub applicant_id: Option<String>,
    /// Whether the body was an OpenCTI push envelope.
    pub wrapped: bool,
}

/// Why a message body is not usable. Always permanent: the same bytes fail the same way.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EnvelopeError {
    /// The body is larger than `limits.max_bytes`.
    #[error(
        "message body is {size} bytes, larger than the limit of {max} bytes (limits.max_bytes)"
    )]
    TooLarge { size: usize, max: usize },
    /// The body is empty.
    #[error("message body is empty")]
    Empty,
    /// The body is not a JSON object.
    #[error("message body is not a JSON object: {0}")]
    NotJson(String),
    /// The envelope's `content` is not a string.
    #[error("envelope field 'content' must be a base64 string")]
    ContentNotString,
    /// The envelope's `content` is not valid base64.
    #[error("envelope field 'content' is not valid base64: {0}")]
    BadBase64(String),
    /// The decoded bundle is larger than `limits.max_bytes`.
    #[error(
        "envelope content decodes to {size} bytes, larger than the limit of {max} bytes (limits.max_bytes)"
    )]
    DecodedTooLarge { size: usize, max: usize },
    /// An OpenCTI envelope type other than `bundle` (e.g. `event` operations).
    #[error("envelope type '{0}' is not supported (only STIX bundles are)")]
    UnsupportedType(String),
}

impl Classify for EnvelopeError {
    fn class(&self) -> ErrorClass {
        ErrorClass::Permanent
    }
}

/// The fields of the push envelope we read; everything else is skipped without being stored.
#[derive(Deserialize)]
struct Probe {
    #[serde(default)]
    content: Option<serde_json::Value>,
    #[serde(default)]
    work_id: Option<serde_json::Value>,
    #[serde(default)]
    applicant_id: Option<serde_json::Value>,
    #[serde(rename = "type", default)]
    kind: Option<serde_json::Value>,
}

/// Unwrap a message body.
///
/// A body whose top-level object has a `content` field is an OpenCTI push envelope: `content` is base64-decoded
/// and `work_id`/`applicant_id` are kept. Any other JSON object is taken as the bundle itself (the STIX parser
/// judges it). Not JSON, not an object, or over the size limit → [`EnvelopeError`].
pub fn decode<'a>(body: &'a [u8], limits: &Limits) -> Result<Envelope<'a>, EnvelopeError> {
    if body.len() > limits.max_bytes {
        return Err(EnvelopeError::TooLarge {
            size: body.len(),
            max: limits.max_bytes,
        });
    }
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(EnvelopeError::Empty);
    }
    let probe: Probe = serde_json::from_slice(body).map_err(|e| {
        EnvelopeError::NotJson(format!(
            "{} at line {} column {}",
            kind_of(&e),
            e.line(),
            e.column()
        ))
    })?;
    // serde also reads a struct from a JSON array: insist on an object.
    if body.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
        return Err(EnvelopeError::NotJson(
            "not a JSON object at line 1 column 1".into(),
        ));
    }
    let Some(content) = probe.content else {
        return Ok(Envelope {
            bundle: Cow::Borrowed(body),
            work_id: None,
            applicant_id: None,
            wrapped: false,
        });
    };
    if let Some(kind) = probe.kind.as_ref().and_then(|k| k.as_str())
        && kind != "bundle"
    {
        return Err(EnvelopeError::UnsupportedType(truncate(kind, 64)));
    }
    let serde_json::Value::String(content) = content else {
        return Err(EnvelopeError::ContentNotString);
    };
    // base64 inflates by 4/3: bound the encoded length before allocating the decoded buffer.
    let max_encoded = limits.max_bytes.saturating_add(2) / 3 * 4 + 4;
    if content.len() > max_encoded {
        return Err(EnvelopeError::DecodedTooLarge {
            size: content.len() / 4 * 3,
            max: limits.max_bytes,
        });
    }
    let bundle = base64::engine::general_purpose::STANDARD
        .decode(content.trim())
        .map_err(|e| EnvelopeError::BadBase64(e.to_string()))?;
    if bundle.len() > limits.max_bytes {
        return Err(EnvelopeError::DecodedTooLarge {
            size: bundle.len(),
            max: limits.max_bytes,
        });
    }
    Ok(Envelope {
        bundle: Cow::Owned(bundle),
        work_id: probe.work_id.as_ref().and_then(id_string),
        applicant_id: probe.applicant_id.as_ref().and_then(id_string),
        wrapped: true,
    })
}

/// `work_id`/`applicant_id` as a bounded string (OpenCTI sends strings; numbers are tolerated).
fn id_string(v: &serde_json::Value) -> Option<String> {
    match v {
        serde_json::Value::String(s) if !s.is_empty() => Some(truncate(s, 256)),
        serde_json::Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn truncate(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_owned();
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &s[..end])
}

fn kind_of(e: &serde_json::Error) -> &'static str {
    match e.classify() {
        serde_json::error::Category::Io => "read error",
        serde_json::error::Category::Syntax => "invalid JSON",
        serde_json::error::Category::Data => "not a JSON object",
        serde_json::error::Category::Eof => "truncated JSON",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b64(s: &str) -> String {
        base64::engine::general_purpose::STANDARD.encode(s)
    }

    #[test]
    fn raw_bundle_is_borrowed() {
        let body = br#"{"type":"bundle","id":"bundle--1","objects":[]}"#;
        let env = decode(body, &Limits::default()).unwrap();
        assert!(matches!(env.bundle, Cow::Borrowed(_)));
        assert_eq!(&*env.bundle, &body[..]);
        assert!(!env.wrapped);
        assert_eq!(env.work_id, None);
    }

    #[test]
    fn opencti_envelope_is_unwrapped() {
        let bundle = r#"{"type":"bundle","id":"bundle--1","objects":[]}"#;
        let body = format!(
            r#"{{"bundle_type":"QUEUE_BUNDLE","applicant_id":"u-1","action_sequence":1,"entities_types":[],"content":"{}","update":false,"draft_id":null,"work_id":"w-42"}}"#,
            b64(bundle)
        );
        let env = decode(body.as_bytes(), &Limits::default()).unwrap();
        assert_eq!(&*env.bundle, bundle.as_bytes());
        assert_eq!(env.work_id.as_deref(), Some("w-42"));
        assert_eq!(env.applicant_id.as_deref(), Some("u-1"));
        assert!(env.wrapped);
    }

    #[test]
    fn null_work_id_is_none() {
        let body = format!(r#"{{"content":"{}","work_id":null}}"#, b64("{}"));
        let env = decode(body.as_bytes(), &Limits::default()).unwrap();
        assert_eq!(env.work_id, None);
    }

    #[test]
    fn not_json_is_rejected() {
        let err = decode(b"this is not json", &Limits::default()).unwrap_err();
        assert!(matches!(err, EnvelopeError::NotJson(_)), "{err}");
        assert!(err.to_string().contains("line 1"), "{err}");
        assert_eq!(err.class(), ErrorClass::Permanent);
    }

    #[test]
    fn non_object_json_is_rejected() {
        for body in [&b"[1,2]"[..], b"42", b"\"s\"", b"null"] {
            let err = decode(body, &Limits::default()).unwrap_err();
            assert!(matches!(err, EnvelopeError::NotJson(_)), "{err}");
        }
    }

    #[test]
    fn empty_is_rejected() {
        assert_eq!(
            decode(b"  \n", &Limits::default()).unwrap_err(),
            EnvelopeError::Empty
        );
        assert_eq!(
            decode(b"", &Limits::default()).unwrap_err(),
            EnvelopeError::Empty
        );
    }

    #[test]
    fn oversized_body_is_rejected_before_parsing() {
        let limits = Limits {
            max_bytes: 10,
            ..Limits::default()
        };
        let err = decode(b"{\"type\":\"bundle\"}", &limits).unwrap_err();
        assert_eq!(err, EnvelopeError::TooLarge { size: 17, max: 10 });
    }

    #[test]
    fn bad_base64_is_rejected() {
        let err = decode(br#"{"content":"%%%not base64"}"#, &Limits::default()).unwrap_err();
        assert!(matches!(err, EnvelopeError::BadBase64(_)), "{err}");
    }

    #[test]
    fn non_string_content_is_rejected() {
        let err = decode(br#"{"content":{"type":"bundle"}}"#, &Limits::default()).unwrap_err();
        assert_eq!(err, EnvelopeError::ContentNotString);
    }

    #[test]
    fn event_envelopes_are_unsupported() {
        let body = format!(r#"{{"type":"event","content":"{}"}}"#, b64("{}"));
        let err = decode(body.as_bytes(), &Limits::default()).unwrap_err();
        assert_eq!(err, EnvelopeError::UnsupportedType("event".into()));
    }

    #[test]
    fn deep_nesting_does_not_crash() {
        let body = format!("{}{}", "{\"a\":".repeat(10_000), "}".repeat(10_000));
        let err = decode(body.as_bytes(), &Limits::default()).unwrap_err();
        assert!(matches!(err, EnvelopeError::NotJson(_)), "{err}");
    }

    proptest::proptest! {
        #[test]
        fn never_panics(body in proptest::collection::vec(proptest::num::u8::ANY, 0..512)) {
            let _ = decode(&body, &Limits::default());
        }
    }
}
