//! The MISP REST client (reqwest + rustls): the endpoints of BRIEF §5 only.
//!
//! One [`MispClient`] (cheap to clone) shares one connection pool. Every request carries
//! `Authorization` (marked sensitive so it never shows in debug output), `Accept: application/json` and
//! `Content-Type: application/json`. Redirects are not followed (a redirect would leak the key to another
//! host and MISP never redirects API calls). TLS certificates are verified unless `verify_tls` is false;
//! `ca_file` adds a PEM CA bundle. A proxy is used only when configured: `HTTP(S)_PROXY` environment
//! variables are ignored so that the connector's traffic path is exactly what its configuration says.

mod error;
mod remote;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use reqwest::header::{self, HeaderMap, HeaderName, HeaderValue};
use reqwest::{Method, StatusCode, Url};
use secrecy::{ExposeSecret, SecretString};
use serde_json::Value;
use uuid::Uuid;

pub use error::{MispError, MispErrorKind};
pub use remote::{
    Me, RemoteAttribute, RemoteEvent, RemoteObject, RemoteOrg, RemoteReport, RemoteTag,
    ShadowAttribute, SharingGroup, VersionInfo,
};

/// Largest MISP response body read (events with thousands of attributes stay far below).
pub const MAX_RESPONSE_BYTES: usize = 64 * 1024 * 1024;

/// Everything needed to talk to one MISP (built from `misp.*` configuration).
///
/// `Debug` never shows the key, the proxy URL (it may hold credentials) or header values.
#[derive(Clone)]
pub struct ClientSettings {
    /// Base URL, e.g. `https://misp.example.org` (a path prefix is kept).
    pub url: String,
    pub api_key: SecretString,
    /// Verify the server certificate (SSL_CHECK). Default true.
    pub verify_tls: bool,
    /// Extra CA certificates (PEM bundle) trusted in addition to the system roots.
    pub ca_file: Option<PathBuf>,
    /// Whole-request timeout (REQUEST_TIMEOUT).
    pub timeout: Duration,
    pub user_agent: String,
    /// `http://host:port` (or `https://`, `socks5://` if compiled in) used for every request; `None`: direct.
    pub proxy: Option<String>,
    /// Extra headers sent with every request (ADDITIONAL_HEADERS). Cannot override `Authorization`.
    pub additional_headers: BTreeMap<String, String>,
}

impl std::fmt::Debug for ClientSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientSettings")
            .field("url", &self.url)
            .field("api_key", &"[REDACTED]")
            .field("verify_tls", &self.verify_tls)
            .field("ca_file", &self.ca_file)
            .field("timeout", &self.timeout)
            .field("user_agent", &self.user_agent)
            .field("proxy", &self.proxy.as_ref().map(|_| "[REDACTED]"))
            .field(
                "additional_headers",
                &self.additional_headers.keys().collect::<Vec<_>>(),
            )
            .finish()
    }
}

/// Default User-Agent.
pub fn default_user_agent() -> String {
    format!("misp-connector/{}", env!("CARGO_PKG_VERSION"))
}

impl ClientSettings {
    /// Settings with the defaults: TLS verified, 60 s timeout, no proxy, no extra headers.
    pub fn new(url: impl Into<String>, api_key: SecretString) -> Self {
        ClientSettings {
            url: url.into(),
            api_key,
            verify_tls: true,
            ca_file: None,
            timeout: Duration::from_secs(60),
            user_agent: default_user_agent(),
            proxy: None,
            additional_headers: BTreeMap::new(),
        }
    }
}

/// Called after every request with the endpoint label (`"POST /events/edit"`: method, controller and
/// action, no ids, so it is safe as a metrics label), the HTTP status (`None`: no answer) and the duration.
pub type RequestObserver = Arc<dyn Fn(&str, Option<u16>, Duration) + Send + Sync>;

/// The MISP REST client. Clone freely: clones share the connection pool.
#[derive(Clone)]
pub struct MispClient {
    http: reqwest::Client,
    base: Url,
    observer: Option<RequestObserver>,
    /// Secret strings (key, proxy credentials, extra header values) scrubbed from every error message.
    secrets: Arc<[String]>,
}

impl std::fmt::Debug for MispClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MispClient")
            .field("base", &self.base.as_str())
            .finish_non_exhaustive()
    }
}

fn config_error(what: impl Into<String>) -> MispError {
    MispError::new("client setup", MispErrorKind::Config, what)
}

/// Headers that identify us to MISP; additional headers may not replace them.
const RESERVED_HEADERS: [&str; 4] = ["authorization", "x-misp-auth", "accept", "content-type"];

impl MispClient {
    /// Build the client. Fails (kind [`MispErrorKind::Config`]) on a bad URL, key, header, CA file or proxy.
    pub fn new(settings: &ClientSettings) -> Result<MispClient, MispError> {
        let mut base = Url::parse(settings.url.trim())
            .map_err(|e| config_error(format!("misp.url is not a valid URL: {e}")))?;
        if !matches!(base.scheme(), "http" | "https") {
            return Err(config_error(format!(
                "misp.url must be http:// or https://, not {}://",
                base.scheme()
            )));
        }
        if !base.username().is_empty() || base.password().is_some() {
            return Err(config_error(
                "misp.url must not contain credentials (use misp.api_key)",
            ));
        }
        if !base.path().ends_with('/') {
            let p = format!("{}/", base.path());
            base.set_path(&p);
        }

        let mut headers = HeaderMap::new();
        for (name, value) in &settings.additional_headers {
            let lname = name.to_ascii_lowercase();
            if RESERVED_HEADERS.contains(&lname.as_str()) {
                return Err(config_error(format!(
                    "misp.additional_headers may not set {name}"
                )));
            }
            let n = HeaderName::from_bytes(name.as_bytes()).map_err(|_| {
                config_error(format!(
                    "misp.additional_headers: invalid header name {name:?}"
                ))
            })?;
            let mut v = HeaderValue::from_str(value).map_err(|_| {
                config_error(format!(
                    "misp.additional_headers: invalid value for header {name}"
                ))
            })?;
            // Extra headers often carry gateway tokens: keep them out of debug output too.
            v.set_sensitive(true);
            headers.insert(n, v);
        }
        let key = settings.api_key.expose_secret().trim();
        if key.is_empty() {
            return Err(config_error("misp.api_key is empty"));
        }
        let mut auth = HeaderValue::from_str(key).map_err(|_| {
            config_error("misp.api_key contains characters not allowed in a header")
        })?;
        auth.set_sensitive(true);
        headers.insert(header::AUTHORIZATION, auth);
        headers.insert(header::ACCEPT, HeaderValue::from_static("application/json"));
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );

        let mut builder = reqwest::Client::builder()
            .default_headers(headers)
            .user_agent(settings.user_agent.clone())
            .timeout(settings.timeout)
            .connect_timeout(settings.timeout.min(Duration::from_secs(30)))
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy();
        if let Some(proxy) = settings
            .proxy
            .as_deref()
            .map(str::trim)
            .filter(|p| !p.is_empty())
        {
            let p = reqwest::Proxy::all(proxy).map_err(|e| {
                config_error(format!("misp.proxy_server is not a valid proxy URL: {e}"))
            })?;
            builder = builder.proxy(p);
        }
        if let Some(path) = &settings.ca_file {
            let pem = std::fs::read(path).map_err(|e| {
                config_error(format!("misp.ca_file {}: cannot read: {e}", path.display()))
            })?;
            let certs = reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| {
                config_error(format!(
                    "misp.ca_file {}: not a PEM certificate bundle: {e}",
                    path.display()
                ))
            })?;
            if certs.is_empty() {
                return Err(config_error(format!(
                    "misp.ca_file {}: no certificate found",
                    path.display()
                )));
            }
            for c in certs {
                builder = builder.add_root_certificate(c);
            }
        }
        if !settings.verify_tls {
            tracing::warn!("misp.ssl_check is off: the MISP server certificate is NOT verified");
            builder = builder.tls_danger_accept_invalid_certs(true);
        }
        let http = builder
            .build()
            .map_err(|e| config_error(format!("cannot build the HTTP client: {e}")))?;
        let mut secrets: Vec<String> = vec![key.to_owned()];
        secrets.extend(
            settings
                .additional_headers
                .values()
                .filter(|v| v.len() >= 4)
                .cloned(),
        );
        if let Some(p) = settings
            .proxy
            .as_deref()
            .and_then(|p| Url::parse(p.trim()).ok())
        {
            secrets.extend(p.password().filter(|pw| !pw.is_empty()).map(str::to_owned));
        }
        Ok(MispClient {
            http,
            base,
            observer: None,
            secrets: secrets.into(),
        })
    }

    /// Remove every secret string from an error message.
    fn scrub(&self, mut e: MispError) -> MispError {
        for secret in self.secrets.iter() {
            if e.message.contains(secret.as_str()) {
                e.message = e.message.replace(secret.as_str(), "[REDACTED]");
            }
        }
        e
    }

    /// Build and scrub the error for a non-success answer.
    fn status_error(
        &self,
        endpoint: &str,
        status: StatusCode,
        body: &[u8],
        headers: &HeaderMap,
    ) -> MispError {
        // Scrub the whole body before it is cut to an excerpt, so no partial secret survives the cut.
        let mut text = String::from_utf8_lossy(body).into_owned();
        for secret in self.secrets.iter() {
            text = text.replace(secret.as_str(), "[REDACTED]");
        }
        self.scrub(status_error(endpoint, status, text.as_bytes(), headers))
    }

    /// Report every request (e.g. to Prometheus) through `observer`.
    pub fn with_observer(mut self, observer: RequestObserver) -> Self {
        self.observer = Some(observer);
        self
    }

    /// The MISP base URL.
    pub fn base_url(&self) -> &str {
        self.base.as_str()
    }

    /// Send one request and report it to the observer.
    async fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<(StatusCode, Vec<u8>, HeaderMap), MispError> {
        let started = std::time::Instant::now();
        let label = endpoint_label(&method, path);
        let result = self
            .send_inner(method, path, body)
            .await
            .map_err(|e| self.scrub(e));
        if let Some(observe) = &self.observer {
            let status = match &result {
                Ok((s, _, _)) => Some(s.as_u16()),
                Err(e) => e.status,
            };
            observe(&label, status, started.elapsed());
        }
        result
    }

    /// Send one request; return status, body and selected headers, or a transport error.
    async fn send_inner(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<(StatusCode, Vec<u8>, HeaderMap), MispError> {
        let endpoint = format!("{method} /{path}");
        let url = self.base.join(path).map_err(|e| {
            MispError::new(&endpoint, MispErrorKind::Config, format!("bad path: {e}"))
        })?;
        let mut req = self.http.request(method, url);
        if let Some(b) = body {
            let bytes = serde_json::to_vec(b).map_err(|e| {
                MispError::new(
                    &endpoint,
                    MispErrorKind::Config,
                    format!("cannot encode body: {e}"),
                )
            })?;
            req = req.body(bytes);
        }
        tracing::debug!(endpoint = %endpoint, "MISP request");
        let mut resp = req
            .send()
            .await
            .map_err(|e| transport_error(&endpoint, &e))?;
        let status = resp.status();
        let headers = resp.headers().clone();
        let mut buf = Vec::new();
        loop {
            match resp.chunk().await {
                Ok(Some(chunk)) => {
                    if buf.len() + chunk.len() > MAX_RESPONSE_BYTES {
                        return Err(MispError::new(
                            &endpoint,
                            MispErrorKind::InvalidResponse,
                            format!("response larger than {MAX_RESPONSE_BYTES} bytes"),
                        ));
                    }
                    buf.extend_from_slice(&chunk);
                }
                Ok(None) => break,
                Err(e) => return Err(transport_error(&endpoint, &e)),
            }
        }
        tracing::debug!(endpoint = %endpoint, status = status.as_u16(), bytes = buf.len(), "MISP response");
        Ok((status, buf, headers))
    }

    /// Send and require a 2xx JSON answer.
    async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<Value, MispError> {
        let endpoint = format!("{method} /{path}");
        let (status, bytes, headers) = self.send(method, path, body).await?;
        if !status.is_success() {
            return Err(self.status_error(&endpoint, status, &bytes, &headers));
        }
        serde_json::from_slice(&bytes).map_err(|e| {
            MispError::new(
                &endpoint,
                MispErrorKind::InvalidResponse,
                format!(
                    "HTTP {} but the body is not JSON ({e}): {}",
                    status.as_u16(),
                    error::excerpt(&String::from_utf8_lossy(&bytes))
                ),
            )
        })
    }

    /// `GET /servers/getVersion`: the cheapest authenticated probe.
    pub async fn get_version(&self) -> Result<VersionInfo, MispError> {
        let v = self.call(Method::GET, "servers/getVersion", None).await?;
        decode("GET /servers/getVersion", v)
    }

    /// `GET /users/view/me`: the key's user and organisation.
    pub async fn whoami(&self) -> Result<Me, MispError> {
        let v = self.call(Method::GET, "users/view/me", None).await?;
        Me::from_json(&v).ok_or_else(|| {
            MispError::new(
                "GET /users/view/me",
                MispErrorKind::InvalidResponse,
                "answer has no User.org_id",
            )
        })
    }

    /// `GET /sharing_groups/view/{id}`; `None` when unknown or not visible to the key (404/403).
    pub async fn sharing_group(&self, id: u64) -> Result<Option<SharingGroup>, MispError> {
        let path = format!("sharing_groups/view/{id}");
        let endpoint = format!("GET /{path}");
        let (status, bytes, headers) = self.send(Method::GET, &path, None).await?;
        if status == StatusCode::NOT_FOUND || status == StatusCode::FORBIDDEN {
            let err = self.status_error(&endpoint, status, &bytes, &headers);
            if err.kind == MispErrorKind::Auth {
                return Err(err);
            }
            return Ok(None);
        }
        if !status.is_success() {
            return Err(self.status_error(&endpoint, status, &bytes, &headers));
        }
        let v: Value = parse_json(&endpoint, &bytes)?;
        let sg = v.get("SharingGroup").cloned().unwrap_or(Value::Null);
        decode(&endpoint, sg).map(Some)
    }

    /// `GET /events/view/{uuid}`; `None` when MISP answers 404 (absent or invisible to the key).
    pub async fn view_event(&self, uuid: Uuid) -> Result<Option<RemoteEvent>, MispError> {
        let path = format!("events/view/{uuid}");
        let endpoint = format!("GET /{path}");
        let (status, bytes, headers) = self.send(Method::GET, &path, None).await?;
        if status == StatusCode::NOT_FOUND {
            return Ok(None);
        }
        if !status.is_success() {
            return Err(self.status_error(&endpoint, status, &bytes, &headers));
        }
        event_from(&endpoint, &parse_json(&endpoint, &bytes)?).map(Some)
    }

    /// `POST /events/add`. A duplicate uuid gives kind [`MispErrorKind::AlreadyExists`].
    pub async fn add_event(&self, body: &Value) -> Result<RemoteEvent, MispError> {
        let v = self.call(Method::POST, "events/add", Some(body)).await?;
        event_from("POST /events/add", &v)
    }

    /// `POST /events/edit/{uuid}`. A stale timestamp gives kind [`MispErrorKind::NotNewer`].
    pub async fn edit_event(&self, uuid: Uuid, body: &Value) -> Result<RemoteEvent, MispError> {
        let path = format!("events/edit/{uuid}");
        let v = self.call(Method::POST, &path, Some(body)).await?;
        event_from(&format!("POST /{path}"), &v)
    }

    /// `POST /tags/removeTagFromObject`: detach a tag from an event or attribute (by uuid).
    pub async fn remove_tag(&self, object_uuid: Uuid, tag: &str) -> Result<(), MispError> {
        let body = serde_json::json!({"uuid": object_uuid, "tag": tag});
        let v = self
            .call(Method::POST, "tags/removeTagFromObject", Some(&body))
            .await?;
        check_saved("POST /tags/removeTagFromObject", &v)
    }

    /// `GET /shadow_attributes/index/{event_id}`: every proposal of the event, discarded/accepted ones too.
    pub async fn proposals(&self, event_id: &str) -> Result<Vec<ShadowAttribute>, MispError> {
        let path = format!("shadow_attributes/index/{}", path_segment(event_id));
        let endpoint = format!("GET /{path}");
        let v = self.call(Method::GET, &path, None).await?;
        let Value::Array(items) = v else {
            return Err(MispError::new(
                &endpoint,
                MispErrorKind::InvalidResponse,
                "expected a JSON list",
            ));
        };
        items
            .into_iter()
            .map(|item| {
                let inner = item.get("ShadowAttribute").cloned().unwrap_or(item);
                decode(&endpoint, inner)
            })
            .collect()
    }

    /// `POST /shadow_attributes/add/{event_id}`: propose a new attribute.
    pub async fn propose_add(
        &self,
        event_id: &str,
        attr: &Value,
    ) -> Result<ShadowAttribute, MispError> {
        let path = format!("shadow_attributes/add/{}", path_segment(event_id));
        let body = serde_json::json!({ "ShadowAttribute": attr });
        let v = self.call(Method::POST, &path, Some(&body)).await?;
        shadow_from(&format!("POST /{path}"), v)
    }

    /// `POST /shadow_attributes/edit/{attribute_id}`: propose a change of an existing attribute.
    pub async fn propose_edit(
        &self,
        attribute_id: &str,
        fields: &Value,
    ) -> Result<ShadowAttribute, MispError> {
        let path = format!("shadow_attributes/edit/{}", path_segment(attribute_id));
        let body = serde_json::json!({ "ShadowAttribute": fields });
        let v = self.call(Method::POST, &path, Some(&body)).await?;
        shadow_from(&format!("POST /{path}"), v)
    }

    /// `POST /shadow_attributes/delete/{attribute_id}`: propose the deletion of an attribute.
    pub async fn propose_delete(&self, attribute_id: &str) -> Result<(), MispError> {
        let path = format!("shadow_attributes/delete/{}", path_segment(attribute_id));
        let v = self
            .call(Method::POST, &path, Some(&serde_json::json!({})))
            .await?;
        check_saved(&format!("POST /{path}"), &v)
    }
}

/// `"METHOD /controller/action"` of a path (ids dropped).
fn endpoint_label(method: &Method, path: &str) -> String {
    let mut parts = path.split('/').filter(|p| !p.is_empty()).take(2);
    let controller = parts.next().unwrap_or("");
    let action = parts.next().unwrap_or("");
    format!("{method} /{controller}/{action}")
}

/// Keep ids from MISP from smuggling path segments into our URLs.
fn path_segment(id: &str) -> String {
    id.chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-')
        .collect()
}

fn transport_error(endpoint: &str, e: &reqwest::Error) -> MispError {
    let kind = if e.is_timeout() {
        MispErrorKind::Timeout
    } else {
        MispErrorKind::Connect
    };
    // The error chain says why (refused, DNS, certificate): walk it, it never contains headers.
    let mut msg = e.to_string();
    let mut src = std::error::Error::source(e);
    while let Some(s) = src {
        msg.push_str(": ");
        msg.push_str(&s.to_string());
        src = s.source();
    }
    MispError::new(endpoint, kind, error::excerpt(&msg))
}

fn status_error(endpoint: &str, status: StatusCode, body: &[u8], headers: &HeaderMap) -> MispError {
    let retry_after = retry_after(headers);
    let location = headers.get(header::LOCATION).and_then(|v| v.to_str().ok());
    MispError::from_status(endpoint, status.as_u16(), body, retry_after, location)
}

/// `Retry-After` (seconds or an HTTP date) or MISP's `X-Rate-Limit-Reset` (seconds), capped at one hour.
fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let value = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
    };
    let secs = |v: &str| {
        v.parse::<u64>().ok().or_else(|| {
            let at = chrono::DateTime::parse_from_rfc2822(v).ok()?;
            let delta = at
                .timestamp()
                .saturating_sub(chrono::Utc::now().timestamp());
            Some(u64::try_from(delta).unwrap_or(0))
        })
    };
    value("retry-after")
        .and_then(secs)
        .or_else(|| value("x-rate-limit-reset").and_then(|v| v.parse::<u64>().ok()))
        .map(|s| Duration::from_secs(s.min(3600)))
}

fn parse_json(endpoint: &str, bytes: &[u8]) -> Result<Value, MispError> {
    serde_json::from_slice(bytes).map_err(|e| {
        MispError::new(
            endpoint,
            MispErrorKind::InvalidResponse,
            format!("body is not JSON: {e}"),
        )
    })
}

fn decode<T: serde::de::DeserializeOwned>(endpoint: &str, v: Value) -> Result<T, MispError> {
    serde_json::from_value(v).map_err(|e| {
        MispError::new(
            endpoint,
            MispErrorKind::InvalidResponse,
            format!("unexpected answer: {e}"),
        )
    })
}

fn event_from(endpoint: &str, v: &Value) -> Result<RemoteEvent, MispError> {
    let inner = v.get("Event").cloned().unwrap_or(Value::Null);
    decode(endpoint, inner)
}

fn shadow_from(endpoint: &str, v: Value) -> Result<ShadowAttribute, MispError> {
    let inner = v.get("ShadowAttribute").cloned().unwrap_or(v);
    decode(endpoint, inner)
}

/// MISP answers some failures with HTTP 200 and `{"saved": false, "errors": …}`.
fn check_saved(endpoint: &str, v: &Value) -> Result<(), MispError> {
    let failed = v.get("saved") == Some(&Value::Bool(false)) || v.get("false").is_some();
    if failed {
        let errors = v.get("errors").map(Value::to_string).unwrap_or_default();
        let mut e = MispError::from_status(endpoint, 200, errors.as_bytes(), None, None);
        e.kind = MispErrorKind::Status;
        return Err(e);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, String)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn retry_after_seconds_date_and_misp_reset() {
        assert_eq!(
            retry_after(&headers(&[("retry-after", "30".into())])),
            Some(Duration::from_secs(30))
        );
        assert_eq!(
            retry_after(&headers(&[("retry-after", "999999".into())])),
            Some(Duration::from_secs(3600))
        );
        let soon = (chrono::Utc::now() + chrono::Duration::seconds(120)).to_rfc2822();
        let d = retry_after(&headers(&[("retry-after", soon)])).unwrap();
        assert!((110..=120).contains(&d.as_secs()), "{d:?}");
        let past = "Sun, 06 Nov 1994 08:49:37 GMT".to_owned();
        assert_eq!(
            retry_after(&headers(&[("retry-after", past)])),
            Some(Duration::ZERO)
        );
        assert_eq!(
            retry_after(&headers(&[("x-rate-limit-reset", "42".into())])),
            Some(Duration::from_secs(42))
        );
        assert_eq!(
            retry_after(&headers(&[("retry-after", "soon".into())])),
            None
        );
        assert_eq!(retry_after(&HeaderMap::new()), None);
    }

    #[test]
    fn endpoint_labels_drop_ids() {
        assert_eq!(
            endpoint_label(
                &Method::POST,
                "events/edit/5f0c2b1e-7a3d-4c1e-9b2a-0d1e2f3a4b5c"
            ),
            "POST /events/edit"
        );
        assert_eq!(
            endpoint_label(&Method::GET, "servers/getVersion"),
            "GET /servers/getVersion"
        );
        assert_eq!(path_segment("12/../../x"), "12x");
    }
}
