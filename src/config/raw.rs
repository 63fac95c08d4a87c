//! The serde shape of `config.yml` (after the environment overlay) and its validation into [`Config`].
//!
//! Raw structs mirror the file one to one and refuse unknown keys; [`build`] checks ranges, URLs and
//! cross-key rules and reports each failure with the key (and the environment variable when it came from one).

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use reqwest::Url;
use reqwest::header::{HeaderName, HeaderValue};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Deserializer};
use serde_json::{Map, Value};

use super::env::ENV_VARS;
use super::secret::{AdditionalHeaders, SecretUrl};
use super::{
    AmqpConfig, AmqpSection, AmqpTls, Config, ConfigError, ConnectorConfig, MispConfig, QueueType,
};
use crate::limits::Limits;
use crate::mapping::FourBytePolicy;
use crate::telemetry::logging::{self, LogFormat};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
#[serde(expecting = "a mapping of sections (misp, amqp, connector, limits)")]
struct RawConfig {
    #[serde(default)]
    misp: RawMisp,
    #[serde(default)]
    amqp: RawAmqp,
    #[serde(default)]
    connector: RawConnector,
    #[serde(default)]
    limits: Limits,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, default)]
#[serde(expecting = "a mapping of misp settings")]
struct RawMisp {
    url: Option<String>,
    #[serde(deserialize_with = "secret")]
    api_key: Option<SecretString>,
    #[serde(deserialize_with = "string_or_int")]
    organisation_id: Option<String>,
    #[serde(deserialize_with = "flexible_bool")]
    ssl_check: bool,
    ca_file: Option<PathBuf>,
    sharing_group_id: Option<u64>,
    distribution: u64,
    threat_level: u64,
    analysis: u64,
    #[serde(deserialize_with = "flexible_bool")]
    publish: bool,
    extra_tags: Vec<String>,
    request_timeout: u64,
    user_agent: Option<String>,
    #[serde(deserialize_with = "secret")]
    proxy_server: Option<SecretString>,
    additional_headers: BTreeMap<String, String>,
    refresh_interval: u64,
    four_byte_chars: FourBytePolicy,
}

impl Default for RawMisp {
    fn default() -> Self {
        RawMisp {
            url: None,
            api_key: None,
            organisation_id: None,
            ssl_check: true,
            ca_file: None,
            sharing_group_id: None,
            distribution: 0,
            threat_level: 4,
            analysis: 0,
            publish: false,
            extra_tags: Vec::new(),
            request_timeout: 30,
            user_agent: None,
            proxy_server: None,
            additional_headers: BTreeMap::new(),
            refresh_interval: 3600,
            four_byte_chars: FourBytePolicy::Replace,
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, default)]
#[serde(expecting = "a mapping of amqp settings")]
struct RawAmqp {
    #[serde(deserialize_with = "secret")]
    url: Option<SecretString>,
    host: Option<String>,
    port: Option<u64>,
    user: Option<String>,
    #[serde(deserialize_with = "secret")]
    password: Option<SecretString>,
    vhost: Option<String>,
    #[serde(deserialize_with = "flexible_bool")]
    use_tls: bool,
    queue: Option<String>,
    #[serde(deserialize_with = "flexible_bool")]
    declare: bool,
    queue_type: QueueType,
    dead_letter_queue: Option<String>,
    retry_queue: Option<String>,
    results_queue: Option<String>,
    prefetch: u64,
    heartbeat: u64,
    delivery_limit: u64,
    reconnect_initial_ms: u64,
    reconnect_max: u64,
    tls: RawTls,
    connection_name: Option<String>,
}

impl Default for RawAmqp {
    fn default() -> Self {
        RawAmqp {
            url: None,
            host: None,
            port: None,
            user: None,
            password: None,
            vhost: None,
            use_tls: false,
            queue: None,
            declare: false,
            queue_type: QueueType::Quorum,
            dead_letter_queue: None,
            retry_queue: None,
            results_queue: None,
            prefetch: 64,
            heartbeat: 30,
            delivery_limit: 50,
            reconnect_initial_ms: 1_000,
            reconnect_max: 60,
            tls: RawTls::default(),
            connection_name: None,
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, default)]
#[serde(expecting = "a mapping of amqp.tls settings")]
struct RawTls {
    ca_file: Option<PathBuf>,
    #[serde(deserialize_with = "flexible_bool")]
    verify: bool,
}

impl Default for RawTls {
    fn default() -> Self {
        RawTls {
            ca_file: None,
            verify: true,
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, default)]
#[serde(expecting = "a mapping of connector settings")]
struct RawConnector {
    concurrency: u64,
    min_concurrency: u64,
    latency_target_ms: u64,
    max_attempts: u64,
    in_process_retries: u64,
    in_process_retry_initial_ms: u64,
    in_process_retry_max_ms: u64,
    retry_initial_delay_ms: u64,
    retry_max_delay_ms: u64,
    breaker_threshold: u64,
    breaker_cooldown: u64,
    shutdown_timeout: u64,
    log_level: String,
    log_format: LogFormat,
    metrics_port: u16,
    metrics_bind: IpAddr,
}

/// The placeholder `config.yml.sample` uses for values every operator must set.
const PLACEHOLDER: &str = "ChangeMe";

/// Defaults of the `connector:` section (also used by `docs/configuration.md`).
pub(crate) const DEFAULT_CONCURRENCY: u64 = 16;
pub(crate) const DEFAULT_MAX_ATTEMPTS: u64 = 5;
pub(crate) const DEFAULT_RETRY_INITIAL_DELAY_MS: u64 = 30_000;
pub(crate) const DEFAULT_RETRY_MAX_DELAY_MS: u64 = 1_800_000;
pub(crate) const DEFAULT_IN_PROCESS_RETRY_MAX_MS: u64 = 10_000;
pub(crate) const DEFAULT_METRICS_PORT: u16 = 9095;

impl Default for RawConnector {
    fn default() -> Self {
        RawConnector {
            concurrency: DEFAULT_CONCURRENCY,
            min_concurrency: 1,
            latency_target_ms: 5_000,
            max_attempts: DEFAULT_MAX_ATTEMPTS,
            in_process_retries: 3,
            in_process_retry_initial_ms: 500,
            in_process_retry_max_ms: DEFAULT_IN_PROCESS_RETRY_MAX_MS,
            retry_initial_delay_ms: DEFAULT_RETRY_INITIAL_DELAY_MS,
            retry_max_delay_ms: DEFAULT_RETRY_MAX_DELAY_MS,
            breaker_threshold: 5,
            breaker_cooldown: 30,
            shutdown_timeout: 30,
            log_level: "info".to_string(),
            log_format: LogFormat::Json,
            metrics_port: DEFAULT_METRICS_PORT,
            metrics_bind: IpAddr::from([0, 0, 0, 0]),
        }
    }
}

/// A secret: a string (numbers are accepted and kept as text). Errors never repeat the value.
fn secret<'de, D: Deserializer<'de>>(d: D) -> Result<Option<SecretString>, D::Error> {
    match Value::deserialize(d)? {
        Value::Null => Ok(None),
        Value::String(s) => Ok(Some(SecretString::from(s))),
        Value::Number(n) => Ok(Some(SecretString::from(n.to_string()))),
        _ => Err(serde::de::Error::custom(
            "expected a string (value not shown: it is a secret)",
        )),
    }
}

/// A boolean, also spelt `yes`/`no`, `on`/`off`, `1`/`0` (any case): pycti and shell habits.
fn flexible_bool<'de, D: Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    let v = Value::deserialize(d)?;
    let parsed = match &v {
        Value::Bool(b) => Some(*b),
        Value::Number(n) => match n.as_u64() {
            Some(1) => Some(true),
            Some(0) => Some(false),
            _ => None,
        },
        Value::String(s) => match s.trim().to_ascii_lowercase().as_str() {
            "true" | "yes" | "on" | "1" => Some(true),
            "false" | "no" | "off" | "0" => Some(false),
            _ => None,
        },
        _ => None,
    };
    parsed.ok_or_else(|| {
        serde::de::Error::custom(format!(
            "expected a boolean (true/false, yes/no, on/off, 1/0), got {v}"
        ))
    })
}

/// A string or an integer, kept as a string (MISP organisation ids are numeric, uuids are not).
fn string_or_int<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    match Value::deserialize(d)? {
        Value::Null => Ok(None),
        Value::String(s) => Ok(Some(s)),
        Value::Number(n) if n.is_u64() => Ok(Some(n.to_string())),
        other => Err(serde::de::Error::custom(format!(
            "expected a string or a non-negative integer, got {other}"
        ))),
    }
}

/// The variable that set `key` or one of its parents (`misp.additional_headers.X` ← `MISP_ADDITIONAL_HEADERS`).
fn env_for(from_env: &BTreeMap<String, &'static str>, key: &str) -> Option<&'static str> {
    from_env
        .iter()
        .filter(|(k, _)| key == k.as_str() || key.starts_with(&format!("{k}.")))
        .max_by_key(|(k, _)| k.len())
        .map(|(_, v)| *v)
}

/// Validation context: knows which keys came from the environment so errors name the variable.
struct Check<'a> {
    from_env: &'a BTreeMap<String, &'static str>,
}

impl Check<'_> {
    fn err(&self, key: &str, message: impl Into<String>) -> ConfigError {
        ConfigError::Invalid {
            key: key.to_string(),
            env: env_for(self.from_env, key),
            message: message.into(),
        }
    }

    fn range(&self, key: &str, value: u64, min: u64, max: u64) -> Result<u64, ConfigError> {
        if (min..=max).contains(&value) {
            Ok(value)
        } else {
            Err(self.err(key, format!("must be between {min} and {max}, got {value}")))
        }
    }

    fn positive_secs(&self, key: &str, value: u64) -> Result<Duration, ConfigError> {
        // Upper bound: catches milliseconds given where seconds are expected.
        self.range(key, value, 1, 7 * 24 * 3600)
            .map(Duration::from_secs)
    }

    fn file(&self, key: &str, path: Option<PathBuf>) -> Result<Option<PathBuf>, ConfigError> {
        match path {
            Some(p) if !p.is_file() => Err(self.err(
                key,
                format!("{} does not exist or is not a file", p.display()),
            )),
            other => Ok(other),
        }
    }

    fn queue_name(&self, key: &str, name: String) -> Result<String, ConfigError> {
        if name.trim().is_empty() {
            return Err(self.err(key, "must not be empty"));
        }
        if name.len() > 255 {
            return Err(self.err(key, "must be at most 255 bytes (AMQP short string)"));
        }
        if name.starts_with("amq.") {
            return Err(self.err(key, "names starting with 'amq.' are reserved by RabbitMQ"));
        }
        Ok(name)
    }

    fn missing(key: &'static str) -> ConfigError {
        let env = ENV_VARS
            .iter()
            .find(|v| v.path.join(".") == key)
            .map_or("", |v| v.name);
        ConfigError::Missing { key, env }
    }
}

/// Deserialize and validate the merged tree.
pub(super) fn build(
    mut root: Map<String, Value>,
    from_env: &BTreeMap<String, &'static str>,
) -> Result<Config, ConfigError> {
    // `section:` with nothing below it is YAML null: treat it as an empty section.
    for v in root.values_mut() {
        if v.is_null() {
            *v = Value::Object(Map::new());
        }
    }
    let tree = Value::Object(root);
    let raw: RawConfig = serde_path_to_error::deserialize(&tree).map_err(|e| {
        let key = e.path().to_string();
        let key = if key == "." { String::new() } else { key };
        let env = env_for(from_env, &key);
        let message = e.into_inner().to_string();
        ConfigError::Invalid {
            key: if key.is_empty() {
                "(top level)".to_string()
            } else {
                key
            },
            env,
            message,
        }
    })?;
    let check = Check { from_env };
    let misp = build_misp(&check, raw.misp)?;
    let amqp = build_amqp(&check, raw.amqp)?;
    let connector = build_connector(&check, raw.connector)?;
    let limits = build_limits(&check, raw.limits)?;
    Ok(Config {
        misp,
        amqp,
        connector,
        limits,
        ignored_env: Vec::new(),
    })
}

fn build_misp(c: &Check<'_>, m: RawMisp) -> Result<MispConfig, ConfigError> {
    let url_raw = m.url.ok_or_else(|| Check::missing("misp.url"))?;
    let url = Url::parse(url_raw.trim())
        .map_err(|e| c.err("misp.url", format!("not a valid URL ({e})")))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(c.err(
            "misp.url",
            format!("scheme must be http or https, got '{}'", url.scheme()),
        ));
    }
    if url.password().is_some() || !url.username().is_empty() {
        return Err(c.err(
            "misp.url",
            "must not contain credentials: use misp.api_key (and misp.additional_headers)",
        ));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(c.err("misp.url", "must not have a query or fragment"));
    }

    let api_key = m.api_key.ok_or_else(|| Check::missing("misp.api_key"))?;
    let key = api_key.expose_secret();
    if key.trim().is_empty() {
        return Err(c.err("misp.api_key", "must not be empty"));
    }
    if key == PLACEHOLDER {
        return Err(c.err(
            "misp.api_key",
            "is still the sample's 'ChangeMe': set the MISP automation key",
        ));
    }
    if key.chars().any(char::is_whitespace) || HeaderValue::from_str(key).is_err() {
        return Err(c.err(
            "misp.api_key",
            "contains whitespace or characters not allowed in an HTTP header (value not shown)",
        ));
    }

    let organisation_id = m
        .organisation_id
        .ok_or_else(|| Check::missing("misp.organisation_id"))?;
    let organisation_id = organisation_id.trim().to_string();
    if organisation_id == PLACEHOLDER {
        return Err(c.err(
            "misp.organisation_id",
            "is still the sample's 'ChangeMe': set your organisation's MISP id",
        ));
    }
    if organisation_id.is_empty() || organisation_id.len() > 64 {
        return Err(c.err(
            "misp.organisation_id",
            "must be a MISP organisation id or uuid (1–64 characters)",
        ));
    }

    let ca_file = c.file("misp.ca_file", m.ca_file)?;
    let distribution = c.range("misp.distribution", m.distribution, 0, 4)? as u8;
    let sharing_group_id = match m.sharing_group_id {
        Some(0) => return Err(c.err("misp.sharing_group_id", "must be a positive id")),
        other => other,
    };
    if distribution == 4 && sharing_group_id.is_none() {
        return Err(c.err(
            "misp.sharing_group_id",
            "is required when misp.distribution is 4 (sharing group)",
        ));
    }
    let threat_level = c.range("misp.threat_level", m.threat_level, 1, 4)? as u8;
    let analysis = c.range("misp.analysis", m.analysis, 0, 2)? as u8;

    let mut extra_tags = Vec::with_capacity(m.extra_tags.len());
    for tag in m.extra_tags {
        let tag = tag.trim().to_string();
        if tag.is_empty() || tag.chars().count() > 255 {
            return Err(c.err("misp.extra_tags", "each tag must have 1–255 characters"));
        }
        if !extra_tags.contains(&tag) {
            extra_tags.push(tag);
        }
    }

    let request_timeout = c.positive_secs("misp.request_timeout", m.request_timeout)?;
    let refresh_interval = c.positive_secs("misp.refresh_interval", m.refresh_interval)?;

    let user_agent = m
        .user_agent
        .unwrap_or_else(|| format!("misp-connector/{}", env!("CARGO_PKG_VERSION")));
    if user_agent.trim().is_empty() || HeaderValue::from_str(&user_agent).is_err() {
        return Err(c.err(
            "misp.user_agent",
            "must be a non-empty string valid in an HTTP header",
        ));
    }

    let proxy_server = match m.proxy_server {
        Some(p) if p.expose_secret().trim().is_empty() => None,
        Some(p) => Some(
            SecretUrl::parse(p.expose_secret(), &["http", "https", "socks5", "socks5h"])
                .map_err(|e| c.err("misp.proxy_server", e))?,
        ),
        None => None,
    };

    let mut headers = BTreeMap::new();
    for (name, value) in m.additional_headers {
        let key = format!("misp.additional_headers.{name}");
        let parsed = HeaderName::from_bytes(name.as_bytes())
            .map_err(|_| c.err(&key, "invalid header name"))?;
        if HeaderValue::from_str(&value).is_err() {
            return Err(c.err(&key, "invalid header value (value not shown)"));
        }
        if matches!(
            parsed.as_str(),
            "authorization" | "x-misp-auth" | "content-type" | "accept"
        ) {
            return Err(c.err(
                &key,
                "this header is set by the connector and cannot be overridden",
            ));
        }
        headers.insert(name, SecretString::from(value));
    }

    Ok(MispConfig {
        url,
        api_key,
        organisation_id,
        ssl_check: m.ssl_check,
        ca_file,
        sharing_group_id,
        distribution,
        threat_level,
        analysis,
        publish: m.publish,
        extra_tags,
        request_timeout,
        user_agent,
        proxy_server,
        additional_headers: AdditionalHeaders::new(headers),
        refresh_interval,
        four_byte_chars: m.four_byte_chars,
    })
}

/// Percent-encode a vhost for the URL path (`/` → `%2F`).
fn encode_vhost(vhost: &str) -> String {
    let mut out = String::with_capacity(vhost.len());
    for b in vhost.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn build_amqp(c: &Check<'_>, a: RawAmqp) -> Result<AmqpSection, ConfigError> {
    let parts_given = a.host.is_some()
        || a.port.is_some()
        || a.user.is_some()
        || a.password.is_some()
        || a.vhost.is_some()
        || a.use_tls;
    let url = match a.url {
        Some(_) if parts_given => {
            return Err(c.err(
                "amqp.url",
                "set either amqp.url or amqp.host/port/user/password/vhost/use_tls, not both",
            ));
        }
        Some(u) => Some(
            SecretUrl::parse(u.expose_secret(), &["amqp", "amqps"])
                .map_err(|e| c.err("amqp.url", e))?,
        ),
        None => match &a.host {
            Some(host) => Some(amqp_url_from_parts(c, host, &a)?),
            None if parts_given => {
                return Err(c.err(
                    "amqp.host",
                    "required when amqp.port/user/password/vhost/use_tls are set",
                ));
            }
            None => None,
        },
    };

    let prefetch = c.range("amqp.prefetch", a.prefetch, 1, u64::from(u16::MAX))? as u16;
    let heartbeat = Duration::from_secs(c.range("amqp.heartbeat", a.heartbeat, 1, 3600)?);
    let delivery_limit = c.range("amqp.delivery_limit", a.delivery_limit, 0, 100_000)? as u32;
    let reconnect_initial = Duration::from_millis(c.range(
        "amqp.reconnect_initial_ms",
        a.reconnect_initial_ms,
        1,
        3_600_000,
    )?);
    let reconnect_max = c.positive_secs("amqp.reconnect_max", a.reconnect_max)?;
    if reconnect_max < reconnect_initial {
        return Err(c.err(
            "amqp.reconnect_max",
            "must be at least amqp.reconnect_initial_ms",
        ));
    }
    if !a.tls.verify {
        return Err(c.err(
            "amqp.tls.verify",
            "turning broker certificate verification off is not supported; trust a private CA with amqp.tls.ca_file",
        ));
    }
    let tls = AmqpTls {
        ca_file: c.file("amqp.tls.ca_file", a.tls.ca_file)?,
        verify: a.tls.verify,
    };
    let connection_name = a
        .connection_name
        .unwrap_or_else(|| "misp-connector".to_string());
    if connection_name.trim().is_empty() || connection_name.len() > 255 {
        return Err(c.err("amqp.connection_name", "must have 1–255 bytes"));
    }
    let results_queue = a
        .results_queue
        .filter(|q| !q.trim().is_empty())
        .map(|q| c.queue_name("amqp.results_queue", q))
        .transpose()?;
    let queue = a.queue.map(|q| c.queue_name("amqp.queue", q)).transpose()?;

    let have_url = url.is_some();
    let (Some(url), Some(queue)) = (url, queue) else {
        // Reported by `Config::amqp()` only to the commands that need AMQP; custom queue names given without
        // a queue are still checked below so typos surface early.
        if let Some(dlq) = a.dead_letter_queue {
            c.queue_name("amqp.dead_letter_queue", dlq)?;
        }
        if let Some(rq) = a.retry_queue {
            c.queue_name("amqp.retry_queue", rq)?;
        }
        let missing = if have_url { "amqp.queue" } else { "amqp.url" };
        return Ok(AmqpSection::Missing {
            key: missing,
            env: if missing == "amqp.url" {
                "AMQP_URL"
            } else {
                "AMQP_QUEUE"
            },
        });
    };

    let dead_letter_queue = c.queue_name(
        "amqp.dead_letter_queue",
        a.dead_letter_queue
            .unwrap_or_else(|| format!("{queue}.dlq")),
    )?;
    let retry_queue = c.queue_name(
        "amqp.retry_queue",
        a.retry_queue.unwrap_or_else(|| format!("{queue}.retry")),
    )?;
    for (key, name) in [
        ("amqp.dead_letter_queue", &dead_letter_queue),
        ("amqp.retry_queue", &retry_queue),
    ] {
        if *name == queue {
            return Err(c.err(key, "must differ from amqp.queue"));
        }
    }
    if dead_letter_queue == retry_queue {
        return Err(c.err(
            "amqp.retry_queue",
            "must differ from amqp.dead_letter_queue",
        ));
    }

    Ok(AmqpSection::Ready(Box::new(AmqpConfig {
        url,
        queue,
        declare: a.declare,
        queue_type: a.queue_type,
        dead_letter_queue,
        retry_queue,
        results_queue,
        prefetch,
        heartbeat,
        delivery_limit,
        reconnect_initial,
        reconnect_max,
        tls,
        connection_name,
    })))
}

fn amqp_url_from_parts(c: &Check<'_>, host: &str, a: &RawAmqp) -> Result<SecretUrl, ConfigError> {
    let host = host.trim();
    if host.is_empty() || host.contains(['/', '@', '?', '#', ' ']) {
        return Err(c.err("amqp.host", "must be a host name or IP address"));
    }
    let scheme = if a.use_tls { "amqps" } else { "amqp" };
    let default_port = if a.use_tls { 5671 } else { 5672 };
    let port = c.range(
        "amqp.port",
        a.port.unwrap_or(default_port),
        1,
        u64::from(u16::MAX),
    )?;
    let vhost = encode_vhost(a.vhost.as_deref().unwrap_or("/"));
    let mut url = Url::parse(&format!("{scheme}://{host}:{port}/{vhost}"))
        .map_err(|e| c.err("amqp.host", format!("does not form a valid URL ({e})")))?;
    let user = a.user.as_deref().unwrap_or("guest");
    url.set_username(user)
        .map_err(|()| c.err("amqp.user", "cannot be used in an AMQP URL"))?;
    let password = a.password.as_ref().map_or("guest", |p| p.expose_secret());
    url.set_password(Some(password))
        .map_err(|()| c.err("amqp.password", "cannot be used in an AMQP URL"))?;
    Ok(SecretUrl::from_url(url))
}

fn build_connector(c: &Check<'_>, r: RawConnector) -> Result<ConnectorConfig, ConfigError> {
    let concurrency = c.range("connector.concurrency", r.concurrency, 1, 4096)? as usize;
    let min_concurrency = c.range(
        "connector.min_concurrency",
        r.min_concurrency,
        1,
        concurrency as u64,
    )? as usize;
    let max_attempts = c.range("connector.max_attempts", r.max_attempts, 1, 1000)? as u32;
    let in_process_retries =
        c.range("connector.in_process_retries", r.in_process_retries, 0, 100)? as u32;
    let breaker_threshold = c.range(
        "connector.breaker_threshold",
        r.breaker_threshold,
        1,
        10_000,
    )? as u32;
    let breaker_cooldown = c.positive_secs("connector.breaker_cooldown", r.breaker_cooldown)?;
    let day_ms = 24 * 3600 * 1000;
    let latency_target = c.range(
        "connector.latency_target_ms",
        r.latency_target_ms,
        1,
        day_ms,
    )?;
    let in_process_initial = c.range(
        "connector.in_process_retry_initial_ms",
        r.in_process_retry_initial_ms,
        1,
        day_ms,
    )?;
    let initial = c.range(
        "connector.retry_initial_delay_ms",
        r.retry_initial_delay_ms,
        1,
        day_ms,
    )?;
    let max = c.range(
        "connector.retry_max_delay_ms",
        r.retry_max_delay_ms,
        1,
        day_ms,
    )?;
    if max < initial {
        return Err(c.err(
            "connector.retry_max_delay_ms",
            format!("must be at least connector.retry_initial_delay_ms ({initial})"),
        ));
    }
    let in_process = c.range(
        "connector.in_process_retry_max_ms",
        r.in_process_retry_max_ms,
        1,
        day_ms,
    )?;
    if in_process < in_process_initial {
        return Err(c.err(
            "connector.in_process_retry_max_ms",
            format!(
                "must be at least connector.in_process_retry_initial_ms ({in_process_initial})"
            ),
        ));
    }
    let shutdown_timeout = c.positive_secs("connector.shutdown_timeout", r.shutdown_timeout)?;
    let log_level =
        logging::normalise_level(&r.log_level).map_err(|e| c.err("connector.log_level", e))?;
    Ok(ConnectorConfig {
        concurrency,
        min_concurrency,
        latency_target: Duration::from_millis(latency_target),
        max_attempts,
        in_process_retries,
        in_process_retry_initial: Duration::from_millis(in_process_initial),
        in_process_retry_max: Duration::from_millis(in_process),
        retry_initial_delay: Duration::from_millis(initial),
        retry_max_delay: Duration::from_millis(max),
        breaker_threshold,
        breaker_cooldown,
        shutdown_timeout,
        log_level,
        log_format: r.log_format,
        metrics_port: r.metrics_port,
        metrics_bind: r.metrics_bind,
    })
}

fn build_limits(c: &Check<'_>, l: Limits) -> Result<Limits, ConfigError> {
    for (key, value) in [
        ("limits.max_bytes", l.max_bytes),
        ("limits.max_depth", l.max_depth),
        ("limits.max_objects", l.max_objects),
        ("limits.max_string_len", l.max_string_len),
    ] {
        if value == 0 {
            return Err(c.err(key, "must be positive"));
        }
    }
    if l.max_depth > 1024 {
        return Err(c.err(
            "limits.max_depth",
            "must be at most 1024 (deeper nesting risks the stack)",
        ));
    }
    Ok(l)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vhost_encoding() {
        assert_eq!(encode_vhost("/"), "%2F");
        assert_eq!(encode_vhost("prod"), "prod");
        assert_eq!(encode_vhost("a b/c"), "a%20b%2Fc");
    }
}
