//! Configuration values that may carry credentials and must never reach logs or `Debug` output.
//!
//! API keys and passwords are plain [`secrecy::SecretString`]s. URLs are different: an AMQP URL or a proxy URL
//! is mostly harmless routing information with an optional password inside, and operators need to see the
//! harmless part in logs. [`SecretUrl`] keeps the full URL secret and offers a redacted rendering.
//! [`AdditionalHeaders`] may hold tokens for a reverse proxy in front of MISP: only their names are shown.

use std::collections::BTreeMap;
use std::fmt;

use reqwest::Url;
use secrecy::{ExposeSecret, SecretString};

/// A URL that may contain a password. `Debug` and [`SecretUrl::redacted`] show it with the password replaced
/// by `***`; [`SecretUrl::expose_secret`] gives the real one for the connection.
#[derive(Clone)]
pub struct SecretUrl {
    secret: SecretString,
    redacted: String,
}

impl SecretUrl {
    /// Parse `raw` and check its scheme is one of `schemes`. The error message never repeats the input.
    pub fn parse(raw: &str, schemes: &[&str]) -> Result<Self, String> {
        let url = Url::parse(raw.trim()).map_err(|e| format!("not a valid URL ({e})"))?;
        if !schemes.contains(&url.scheme()) {
            return Err(format!(
                "scheme must be one of {}, got '{}'",
                schemes.join(", "),
                url.scheme()
            ));
        }
        if url.host_str().is_none_or(str::is_empty) {
            return Err("URL has no host".to_string());
        }
        Ok(Self::from_url(url))
    }

    /// Wrap an already parsed URL.
    pub fn from_url(url: Url) -> Self {
        let mut shown = url.clone();
        if shown.password().is_some() {
            // Only fails for URLs that cannot have credentials, which then have no password either.
            let _ = shown.set_password(Some("***"));
        }
        SecretUrl {
            secret: SecretString::from(url.as_str().to_string()),
            redacted: shown.to_string(),
        }
    }

    /// The URL with its password replaced by `***`: safe for logs.
    pub fn redacted(&self) -> &str {
        &self.redacted
    }
}

impl ExposeSecret<str> for SecretUrl {
    /// The full URL, password included: only for opening the connection.
    fn expose_secret(&self) -> &str {
        self.secret.expose_secret()
    }
}

impl fmt::Debug for SecretUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SecretUrl({:?})", self.redacted)
    }
}

/// Extra HTTP headers sent with every MISP request. Values are secret (they often carry tokens).
#[derive(Clone, Default)]
pub struct AdditionalHeaders(BTreeMap<String, SecretString>);

impl AdditionalHeaders {
    /// Build from validated name/value pairs.
    pub fn new(headers: BTreeMap<String, SecretString>) -> Self {
        AdditionalHeaders(headers)
    }

    /// Header names and values (values exposed: only for building the HTTP client).
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v.expose_secret()))
    }

    /// Header names, safe for logs.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.0.keys().map(String::as_str)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }
}

impl fmt::Debug for AdditionalHeaders {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map()
            .entries(self.0.keys().map(|k| (k, "[REDACTED]")))
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn password_is_redacted() {
        let u = SecretUrl::parse("amqp://bob:s3cr3t@rabbit:5672/%2f", &["amqp", "amqps"]);
        let u = u.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(u.redacted(), "amqp://bob:***@rabbit:5672/%2f");
        assert!(!format!("{u:?}").contains("s3cr3t"));
        assert_eq!(u.expose_secret(), "amqp://bob:s3cr3t@rabbit:5672/%2f");
    }

    #[test]
    fn bad_urls_do_not_echo_input() {
        let e = SecretUrl::parse("amqp//bob:s3cr3t@rabbit", &["amqp"]).err();
        assert!(e.is_some_and(|e| !e.contains("s3cr3t")));
        let e = SecretUrl::parse("http://bob:s3cr3t@rabbit", &["amqp"]).err();
        assert!(e.is_some_and(|e| !e.contains("s3cr3t") && e.contains("scheme")));
    }

    #[test]
    fn header_values_are_redacted() {
        let mut m = BTreeMap::new();
        m.insert("X-Token".to_string(), SecretString::from("tok123"));
        let h = AdditionalHeaders::new(m);
        let d = format!("{h:?}");
        assert!(d.contains("X-Token") && !d.contains("tok123"));
    }
}
