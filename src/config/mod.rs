//! Configuration: `config.yml` overlaid by environment variables, validated into typed settings (BRIEF §7).
//!
//! Loading happens in four steps so that every failure names the key it is about:
//! 1. the YAML file is parsed with `serde_saphyr` into a JSON tree;
//! 2. the environment is overlaid from an explicit table of `SECTION_KEY` variables ([`env`]), plus
//!    `<NAME>_FILE` variables for secrets; environment wins over the file;
//! 3. the tree is deserialised with `serde_path_to_error` into raw structs that refuse unknown keys;
//! 4. the raw values are validated and turned into [`Config`].
//!
//! Secrets (`misp.api_key`, `amqp.password`, `amqp.url`, `misp.proxy_server`, header values) are `secrecy`
//! types whose `Debug` is redacted, and no error message repeats them.

mod env;
mod raw;
mod secret;

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use reqwest::Url;
use secrecy::SecretString;
use serde::Deserialize;

use crate::convert::ConvertOptions;
use crate::error::{Classify, ErrorClass};
use crate::limits::Limits;
use crate::mapping::{FourBytePolicy, MappingOptions};
use crate::misp::client::ClientSettings;
use crate::telemetry::logging::LogFormat;
use crate::worker::WorkerSettings;

pub use secret::{AdditionalHeaders, SecretUrl};

/// Name of the environment variable holding the config file path (the CLI's `--config` wins over it).
pub const CONFIG_FILE_ENV: &str = "CONFIG_FILE";

/// Largest config file accepted.
const MAX_CONFIG_BYTES: u64 = 1024 * 1024;

/// The whole, validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    pub misp: MispConfig,
    amqp: AmqpSection,
    pub connector: ConnectorConfig,
    pub limits: Limits,
    /// Environment variables with a section prefix that are not settings (see [`Config::ignored_environment`]).
    ignored_env: Vec<String>,
}

/// `misp:` — where and how events are written.
#[derive(Debug, Clone)]
pub struct MispConfig {
    /// Base URL of MISP (`https://misp.example.org`), http or https.
    pub url: Url,
    /// The automation key, sent as `Authorization`.
    pub api_key: SecretString,
    /// Our organisation in MISP (id or uuid): events whose `orgc_id` differ get proposals.
    pub organisation_id: String,
    /// Verify MISP's TLS certificate (default true).
    pub ssl_check: bool,
    /// Extra PEM CA bundle to trust for MISP.
    pub ca_file: Option<PathBuf>,
    /// Sharing group for distribution 4.
    pub sharing_group_id: Option<u64>,
    /// Event distribution 0–4.
    pub distribution: u8,
    /// Event threat level 1–4.
    pub threat_level: u8,
    /// Event analysis 0–2.
    pub analysis: u8,
    /// Publish events after writing them.
    pub publish: bool,
    /// Tags added to every event.
    pub extra_tags: Vec<String>,
    /// Timeout of one HTTP request to MISP.
    pub request_timeout: Duration,
    /// `User-Agent` header.
    pub user_agent: String,
    /// HTTP(S) proxy for MISP requests (may contain credentials).
    pub proxy_server: Option<SecretUrl>,
    /// Extra headers on every MISP request.
    pub additional_headers: AdditionalHeaders,
    /// How often MISP metadata (version, organisation, sharing groups) is refreshed.
    pub refresh_interval: Duration,
    /// What to do with 4-byte UTF-8 characters.
    pub four_byte_chars: FourBytePolicy,
}

/// `amqp:` — the queue the worker consumes. Only `run` and `publish` need it.
#[derive(Debug, Clone)]
pub struct AmqpConfig {
    /// Full AMQP URL, credentials included (from `amqp.url` or built from host/port/user/password/vhost).
    pub url: SecretUrl,
    /// Queue consumed by `run` and written by `publish`.
    pub queue: String,
    /// Declare the queue, its dead-letter queue and its retry queue at start.
    pub declare: bool,
    /// Type of the declared queues.
    pub queue_type: QueueType,
    /// Where messages that can never succeed go.
    pub dead_letter_queue: String,
    /// TTL queue for long retry delays (dead-letters back to `queue`).
    pub retry_queue: String,
    /// Where result messages go when a delivery has no `reply_to`.
    pub results_queue: Option<String>,
    /// `basic_qos` prefetch count.
    pub prefetch: u16,
    /// AMQP heartbeat interval.
    pub heartbeat: Duration,
    /// Quorum queues only: deliveries after which RabbitMQ itself dead-letters a message that keeps coming
    /// back (e.g. one that crashes the worker); 0 = no limit.
    pub delivery_limit: u32,
    /// First reconnect delay after a lost connection (doubles up to `reconnect_max`, with jitter).
    pub reconnect_initial: Duration,
    /// Longest reconnect delay.
    pub reconnect_max: Duration,
    /// TLS settings for `amqps://`.
    pub tls: AmqpTls,
    /// Connection name shown in the RabbitMQ management UI.
    pub connection_name: String,
}

/// `amqp.tls:` — TLS for `amqps://` URLs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AmqpTls {
    /// Extra PEM CA bundle to trust.
    pub ca_file: Option<PathBuf>,
    /// Verify the broker certificate: always true (turning it off is refused at load).
    pub verify: bool,
}

/// RabbitMQ queue type for declared queues.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum QueueType {
    /// Replicated, with `x-delivery-count` (default).
    #[default]
    Quorum,
    /// Classic single-node queue.
    Classic,
}

impl QueueType {
    /// Value of the `x-queue-type` argument.
    pub fn as_str(self) -> &'static str {
        match self {
            QueueType::Quorum => "quorum",
            QueueType::Classic => "classic",
        }
    }
}

/// `connector:` — behaviour of the worker process itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectorConfig {
    /// Most stories in flight per worker (upper bound of the adaptive limit).
    pub concurrency: usize,
    /// Lower bound of the adaptive limit.
    pub min_concurrency: usize,
    /// MISP latency above which the adaptive limit shrinks.
    pub latency_target: Duration,
    /// Processing rounds (first delivery + trips through the retry queue) before a message is dead-lettered.
    pub max_attempts: u32,
    /// Quick retries inside one round, for short waits, before the message goes to the retry queue.
    pub in_process_retries: u32,
    /// First in-process retry delay (doubles, with jitter).
    pub in_process_retry_initial: Duration,
    /// Longest in-process wait; a longer one (e.g. a big `Retry-After`) goes through the retry queue.
    pub in_process_retry_max: Duration,
    /// First retry-queue delay (doubles per round, with jitter).
    pub retry_initial_delay: Duration,
    /// Longest retry-queue delay.
    pub retry_max_delay: Duration,
    /// Consecutive MISP transient failures that open the circuit breaker.
    pub breaker_threshold: u32,
    /// How long the breaker stays open before a half-open probe.
    pub breaker_cooldown: Duration,
    /// Deadline for in-flight work on SIGTERM/SIGINT.
    pub shutdown_timeout: Duration,
    /// Log filter (`info`, `debug`, or a `tracing` directive such as `info,lapin=warn`); `RUST_LOG` wins.
    pub log_level: String,
    /// JSON lines or human-readable logs.
    pub log_format: LogFormat,
    /// Port of the metrics/health server; 0 turns it off.
    pub metrics_port: u16,
    /// Address the metrics/health server binds to.
    pub metrics_bind: IpAddr,
}

impl ConnectorConfig {
    /// Socket address of the metrics/health server, or `None` when `metrics_port` is 0.
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        (self.metrics_port != 0).then(|| SocketAddr::new(self.metrics_bind, self.metrics_port))
    }
}

/// The AMQP section is optional: commands that need it ask for it and get an error naming the missing key.
#[derive(Debug, Clone)]
enum AmqpSection {
    Ready(Box<AmqpConfig>),
    Missing {
        key: &'static str,
        env: &'static str,
    },
}

/// Why the configuration is unusable. Every variant names the key, variable or file concerned.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("config file {}: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("config file {}: {size} bytes is more than the {max} accepted", path.display())]
    TooLarge { path: PathBuf, size: u64, max: u64 },
    #[error("config file {}: invalid YAML: {message}", path.display())]
    Yaml { path: PathBuf, message: String },
    #[error("config file {}: the top level must be a mapping of sections (misp:, amqp:, connector:, limits:)", path.display())]
    NotAMapping { path: PathBuf },
    #[error("{var} and {file_var} are both set: use one of them")]
    EnvConflict { var: &'static str, file_var: String },
    #[error("{var}: cannot read secret file {}: {message}", path.display())]
    SecretFile {
        var: String,
        path: PathBuf,
        message: String,
    },
    #[error(
        "{key}: required setting is missing (set {key} in config.yml or the environment variable {env})"
    )]
    Missing {
        key: &'static str,
        env: &'static str,
    },
    #[error("{}: {message}", match env { Some(env) => format!("{env} ({key})"), None => key.clone() })]
    Invalid {
        /// Dotted config path (`misp.distribution`).
        key: String,
        /// The environment variable the value came from, when it did.
        env: Option<&'static str>,
        message: String,
    },
}

impl ConfigError {
    /// The dotted config key this error is about, when it is about one.
    pub fn key(&self) -> Option<&str> {
        match self {
            ConfigError::Missing { key, .. } => Some(key),
            ConfigError::Invalid { key, .. } => Some(key),
            _ => None,
        }
    }
}

impl Classify for ConfigError {
    fn class(&self) -> ErrorClass {
        ErrorClass::Permanent
    }
}

impl Config {
    /// Load `path` (when given) overlaid by `env`. `env` is the process environment in production
    /// ([`Config::from_env`]) and a plain map in tests.
    pub fn load(path: Option<&Path>, env: &HashMap<String, String>) -> Result<Config, ConfigError> {
        let mut root = match path {
            Some(p) => read_yaml(p)?,
            None => serde_json::Map::new(),
        };
        let from_env = env::overlay(&mut root, env)?;
        let mut config = raw::build(root, &from_env)?;
        config.ignored_env = env::unrecognised(env);
        tracing::debug!(config = ?config, file = ?path, "configuration loaded");
        Ok(config)
    }

    /// Load from the process environment, with the file named by `CONFIG_FILE` when set.
    pub fn from_env() -> Result<Config, ConfigError> {
        let env: HashMap<String, String> = std::env::vars_os()
            .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
            .collect();
        let path = env
            .get(CONFIG_FILE_ENV)
            .filter(|p| !p.is_empty())
            .map(PathBuf::from);
        Config::load(path.as_deref(), &env)
    }

    /// The AMQP settings, or an error naming the first missing required key (`amqp.url` or `amqp.queue`).
    pub fn amqp(&self) -> Result<&AmqpConfig, ConfigError> {
        match &self.amqp {
            AmqpSection::Ready(a) => Ok(a),
            AmqpSection::Missing { key, env } => Err(ConfigError::Missing { key, env }),
        }
    }

    /// One line per environment variable that looks like a setting (`MISP_…`, `AMQP_…`, `CONNECTOR_…`,
    /// `LIMITS_…`) but is not one, e.g. `MISP_SSL_VERIFY is not read by misp-connector (did you mean
    /// MISP_SSL_CHECK?)`. Log them as warnings once logging is up.
    pub fn ignored_environment(&self) -> &[String] {
        &self.ignored_env
    }

    /// Settings of the queue worker (`amqp:`, `connector:`, `limits:` and the mapping options), or the error
    /// naming the missing AMQP key.
    pub fn worker_settings(&self) -> Result<WorkerSettings, ConfigError> {
        use secrecy::ExposeSecret;
        let amqp = self.amqp()?;
        let c = &self.connector;
        let mut s = WorkerSettings::new(amqp.url.expose_secret(), amqp.queue.clone());
        s.declare = amqp.declare;
        s.queue_type = match amqp.queue_type {
            QueueType::Quorum => crate::worker::QueueType::Quorum,
            QueueType::Classic => crate::worker::QueueType::Classic,
        };
        s.delivery_limit = amqp.delivery_limit;
        s.dlq = amqp.dead_letter_queue.clone();
        s.retry_queue = amqp.retry_queue.clone();
        s.results_queue = amqp.results_queue.clone();
        s.prefetch = amqp.prefetch;
        s.heartbeat = u16::try_from(amqp.heartbeat.as_secs()).unwrap_or(u16::MAX);
        s.tls = crate::worker::TlsSettings {
            ca_file: amqp.tls.ca_file.clone(),
        };
        s.connection_name = amqp.connection_name.clone();
        s.reconnect_initial = amqp.reconnect_initial;
        s.reconnect_max = amqp.reconnect_max;
        s.concurrency = c.concurrency;
        s.min_concurrency = c.min_concurrency;
        s.latency_target = c.latency_target;
        s.max_attempts = c.max_attempts;
        s.in_process_retries = c.in_process_retries;
        s.backoff_initial = c.in_process_retry_initial;
        s.backoff_in_process_max = c.in_process_retry_max;
        s.retry_delay_initial = c.retry_initial_delay;
        s.retry_delay_max = c.retry_max_delay;
        s.breaker_threshold = c.breaker_threshold;
        s.breaker_cooldown = c.breaker_cooldown;
        s.shutdown_deadline = c.shutdown_timeout;
        s.convert = self.convert_options();
        // Everything was validated at load; the worker's own check stays as a second line of defence.
        s.validate().map_err(|e| ConfigError::Invalid {
            key: e.key.to_string(),
            env: None,
            message: e.message,
        })?;
        Ok(s)
    }

    /// Options for the pure conversion (limits + event settings).
    pub fn convert_options(&self) -> ConvertOptions {
        ConvertOptions {
            limits: self.limits,
            mapping: self.misp.mapping_options(),
        }
    }
}

impl MispConfig {
    /// Event-level settings for the mapping. The sharing group is only passed with distribution 4
    /// (MISP ignores it otherwise).
    pub fn mapping_options(&self) -> MappingOptions {
        MappingOptions {
            distribution: self.distribution,
            sharing_group_id: if self.distribution == 4 {
                self.sharing_group_id
            } else {
                None
            },
            threat_level_id: self.threat_level,
            analysis: self.analysis,
            published: self.publish,
            extra_tags: self.extra_tags.clone(),
            four_byte: self.four_byte_chars,
        }
    }
}

/// One environment variable the configuration reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvVarInfo {
    /// Variable name (`MISP_URL`).
    pub name: &'static str,
    /// Dotted key it sets (`misp.url`).
    pub key: String,
    /// Whether `<name>_FILE` is also accepted (secrets).
    pub accepts_file: bool,
}

/// Every environment variable the configuration reads (the table in `docs/configuration.md`).
pub fn environment_variables() -> Vec<EnvVarInfo> {
    env::ENV_VARS
        .iter()
        .map(|v| EnvVarInfo {
            name: v.name,
            key: env::dotted(v.path),
            accepts_file: v.kind == env::Kind::Secret,
        })
        .collect()
}

impl MispConfig {
    /// Settings for [`crate::misp::client::MispClient`]: URL, key, TLS verification and CA file, timeout,
    /// user agent, proxy and additional headers.
    pub fn client_settings(&self) -> ClientSettings {
        use secrecy::ExposeSecret;
        ClientSettings {
            url: self.url.to_string(),
            api_key: self.api_key.clone(),
            verify_tls: self.ssl_check,
            ca_file: self.ca_file.clone(),
            timeout: self.request_timeout,
            user_agent: self.user_agent.clone(),
            proxy: self
                .proxy_server
                .as_ref()
                .map(|p| p.expose_secret().to_owned()),
            additional_headers: self
                .additional_headers
                .iter()
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect(),
        }
    }
}

/// Read and parse the YAML file into a JSON object tree.
fn read_yaml(path: &Path) -> Result<serde_json::Map<String, serde_json::Value>, ConfigError> {
    let read_err = |source| ConfigError::Read {
        path: path.to_path_buf(),
        source,
    };
    let size = std::fs::metadata(path).map_err(read_err)?.len();
    if size > MAX_CONFIG_BYTES {
        return Err(ConfigError::TooLarge {
            path: path.to_path_buf(),
            size,
            max: MAX_CONFIG_BYTES,
        });
    }
    let text = std::fs::read_to_string(path).map_err(read_err)?;
    if text.trim().is_empty() {
        return Ok(serde_json::Map::new());
    }
    // No snippets: they would quote the file, secrets included.
    let options = serde_saphyr::options! { with_snippet: false };
    let value: serde_json::Value =
        serde_saphyr::from_str_with_options(&text, options).map_err(|e| ConfigError::Yaml {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
    match value {
        serde_json::Value::Object(m) => Ok(m),
        serde_json::Value::Null => Ok(serde_json::Map::new()),
        _ => Err(ConfigError::NotAMapping {
            path: path.to_path_buf(),
        }),
    }
}
