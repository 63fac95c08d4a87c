//! Typed MISP errors: what failed (endpoint, status, a short body excerpt) and how to handle it.
//!
//! The classification follows what the real MISP 2.5.1 answers (BRIEF §5, transcripts README):
//! connect errors, timeouts, 5xx and 429 are transient; 403/405 and other 4xx are permanent; a duplicate
//! uuid on `/events/add` (404 + `Location`) is a conflict. Messages never contain the API key.

use std::fmt;
use std::time::Duration;

use crate::error::{Classify, ErrorClass};

/// Longest body excerpt kept in an error message.
pub const EXCERPT_CHARS: usize = 200;

/// What kind of failure a [`MispError`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MispErrorKind {
    /// The client could not be built from its settings (bad URL, header, CA file, proxy).
    Config,
    /// TCP connect / DNS / TLS handshake failed, or the connection dropped.
    Connect,
    /// No answer within `REQUEST_TIMEOUT`.
    Timeout,
    /// MISP refused the API key (403 "Authentication failed", 401).
    Auth,
    /// `/events/add` on a uuid that already exists: 404 with `Location: /events/{id}`.
    AlreadyExists,
    /// `/events/edit` with a timestamp not newer than the stored one (403 "not newer than the local copy").
    NotNewer,
    /// 429 Too Many Requests.
    RateLimited,
    /// Any other non-success HTTP status.
    Status,
    /// A 2xx answer whose body is not the JSON we expect (or exceeds the size bound).
    InvalidResponse,
}

/// A failed MISP request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MispError {
    /// Method and path, e.g. `POST /events/add`.
    pub endpoint: String,
    /// HTTP status when MISP answered.
    pub status: Option<u16>,
    pub kind: MispErrorKind,
    /// What went wrong (body excerpt or transport error), never the API key.
    pub message: String,
    /// `Retry-After` of a 429/503, when MISP (or its proxy) sent one.
    pub retry_after: Option<Duration>,
    /// The numeric event id from the `Location` header of an add conflict.
    pub location_id: Option<String>,
}

impl MispError {
    pub(crate) fn new(endpoint: &str, kind: MispErrorKind, message: impl Into<String>) -> Self {
        MispError {
            endpoint: endpoint.to_owned(),
            status: None,
            kind,
            message: message.into(),
            retry_after: None,
            location_id: None,
        }
    }

    /// Build the error for a non-success HTTP answer.
    pub(crate) fn from_status(
        endpoint: &str,
        status: u16,
        body: &[u8],
        retry_after: Option<Duration>,
        location: Option<&str>,
    ) -> Self {
        let text = String::from_utf8_lossy(body);
        let message = excerpt(&text);
        let lower = text.to_ascii_lowercase();
        let kind = match status {
            401 => MispErrorKind::Auth,
            403 if lower.contains("authentication failed") => MispErrorKind::Auth,
            403 if lower.contains("not newer than the local copy") => MispErrorKind::NotNewer,
            404 if location.is_some() && lower.contains("already exists") => {
                MispErrorKind::AlreadyExists
            }
            429 => MispErrorKind::RateLimited,
            _ => MispErrorKind::Status,
        };
        let location_id = location.and_then(|l| {
            let id = l.trim_end_matches('/').rsplit('/').next()?;
            (!id.is_empty() && id.bytes().all(|b| b.is_ascii_digit())).then(|| id.to_owned())
        });
        MispError {
            endpoint: endpoint.to_owned(),
            status: Some(status),
            kind,
            message,
            retry_after,
            location_id,
        }
    }

    /// True when this is MISP's generic 500 (possibly a racing insert or a utf8mb3 rejection).
    pub fn is_internal_error(&self) -> bool {
        self.status == Some(500)
    }
}

/// A one-line, bounded excerpt of a response body.
pub(crate) fn excerpt(text: &str) -> String {
    let flat: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(EXCERPT_CHARS)
        .collect();
    let flat = flat.trim().to_owned();
    if text.chars().count() > EXCERPT_CHARS {
        format!("{flat}…")
    } else {
        flat
    }
}

impl fmt::Display for MispError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "MISP {}", self.endpoint)?;
        if let Some(s) = self.status {
            write!(f, ": HTTP {s}")?;
        }
        write!(f, " ({})", self.class())?;
        if !self.message.is_empty() {
            write!(f, ": {}", self.message)?;
        }
        if let Some(r) = self.retry_after {
            write!(f, " (retry after {}s)", r.as_secs())?;
        }
        Ok(())
    }
}

impl std::error::Error for MispError {}

impl Classify for MispError {
    fn class(&self) -> ErrorClass {
        match self.kind {
            // A misconfigured client fails every message the same way: not the message's fault, but
            // nothing a retry fixes either; the worker refuses to start on it (start-up checks).
            MispErrorKind::Config => ErrorClass::Permanent,
            // A key revoked or a TLS/network failure while running is an operator problem, not the
            // message's: retry (the worker's circuit breaker stops pulling) instead of dead-lettering.
            MispErrorKind::Connect
            | MispErrorKind::Timeout
            | MispErrorKind::Auth
            | MispErrorKind::RateLimited
            | MispErrorKind::InvalidResponse => ErrorClass::Transient,
            MispErrorKind::AlreadyExists | MispErrorKind::NotNewer => ErrorClass::Conflict,
            MispErrorKind::Status => match self.status {
                Some(s) if s >= 500 => ErrorClass::Transient,
                Some(408) => ErrorClass::Transient,
                _ => ErrorClass::Permanent,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn duplicate_add_is_conflict_with_location_id() {
        let e = MispError::from_status(
            "POST /events/add",
            404,
            br#"{"name":"Event already exists, if you would like to edit it, use the url in the location header."}"#,
            None,
            Some("http://127.0.0.1:8080/events/17"),
        );
        assert_eq!(e.kind, MispErrorKind::AlreadyExists);
        assert_eq!(e.class(), ErrorClass::Conflict);
        assert_eq!(e.location_id.as_deref(), Some("17"));
    }

    #[test]
    fn classes_per_status() {
        let c = |s: u16, body: &str| {
            MispError::from_status("GET /x", s, body.as_bytes(), None, None).class()
        };
        assert_eq!(
            c(500, "An Internal Error Has Occurred."),
            ErrorClass::Transient
        );
        assert_eq!(c(503, ""), ErrorClass::Transient);
        assert_eq!(c(429, ""), ErrorClass::Transient);
        assert_eq!(
            c(403, r#"{"errors":{"value":["bad"]}}"#),
            ErrorClass::Permanent
        );
        assert_eq!(c(405, "Invalid JSON input"), ErrorClass::Permanent);
        assert_eq!(c(404, "Invalid event"), ErrorClass::Permanent);
        assert_eq!(c(400, ""), ErrorClass::Permanent);
        assert_eq!(
            c(
                403,
                "Event could not be saved: Event in the request not newer than the local copy."
            ),
            ErrorClass::Conflict
        );
        assert_eq!(
            c(403, "Authentication failed. Please make sure"),
            ErrorClass::Transient
        );
    }

    #[test]
    fn message_names_endpoint_status_and_is_bounded() {
        let body = "x".repeat(5000);
        let e = MispError::from_status("POST /events/edit/abc", 403, body.as_bytes(), None, None);
        let s = e.to_string();
        assert!(s.starts_with("MISP POST /events/edit/abc: HTTP 403 (permanent): xxx"));
        assert!(s.chars().count() < 300);
    }
}
