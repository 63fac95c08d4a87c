//! Error classification shared by every edge of the connector.
//!
//! Each module has its own typed error; all of them can say which [`ErrorClass`] they belong to so the
//! worker knows whether to retry (transient), dead-letter at once (permanent), or re-read MISP (conflict).

use std::fmt;

/// How a failure should be handled by whoever retries work.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorClass {
    /// May succeed later unchanged: network errors, timeouts, 5xx, 429.
    Transient,
    /// Can never succeed as is: invalid input, MISP validation/permission errors.
    Permanent,
    /// Another writer got there first (duplicate uuid, racing add): re-read MISP and plan again.
    Conflict,
}

impl ErrorClass {
    /// Lower-case name used in logs, DLQ headers and metrics labels.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorClass::Transient => "transient",
            ErrorClass::Permanent => "permanent",
            ErrorClass::Conflict => "conflict",
        }
    }
}

impl fmt::Display for ErrorClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Implemented by every error type that can reach the worker.
pub trait Classify {
    /// The class of this error.
    fn class(&self) -> ErrorClass;
}

/// A non-fatal finding during conversion: an object that was skipped, a pattern that could not be mapped, …
///
/// Warnings never stop a conversion; `validate` prints them and `convert` logs them.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Warning {
    /// The STIX id (or JSON path) the warning is about, when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub object_id: Option<String>,
    /// What happened, in one line.
    pub message: String,
}

impl Warning {
    /// A warning about one STIX object.
    pub fn about(object_id: impl Into<String>, message: impl Into<String>) -> Self {
        Warning {
            object_id: Some(object_id.into()),
            message: message.into(),
        }
    }

    /// A warning about the input as a whole.
    pub fn general(message: impl Into<String>) -> Self {
        Warning {
            object_id: None,
            message: message.into(),
        }
    }
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.object_id {
            Some(id) => write!(f, "{id}: {}", self.message),
            None => f.write_str(&self.message),
        }
    }
}
