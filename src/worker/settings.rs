//! Everything the queue worker needs to know, independent of where it came from.
//!
//! [`WorkerSettings`] is filled by the configuration layer (`config.yml` + environment); it has sane defaults
//! so tests and the CLI only set what they care about. The AMQP URL may hold a password: it is a secret and is
//! never printed (see [`WorkerSettings::redacted_url`]).

use std::path::PathBuf;
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};

use crate::convert::ConvertOptions;

/// The RabbitMQ queue type used when the worker declares its topology.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum QueueType {
    /// Replicated, durable, with a delivery limit (RabbitMQ ≥ 3.8). The default.
    #[default]
    Quorum,
    /// Classic durable queue.
    Classic,
}

impl QueueType {
    /// The `x-queue-type` argument value.
    pub fn as_str(self) -> &'static str {
        match self {
            QueueType::Quorum => "quorum",
            QueueType::Classic => "classic",
        }
    }
}

/// TLS options for `amqps://` URLs. Verification of the broker certificate is always on.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TlsSettings {
    /// PEM file with the CA certificate(s) that signed the broker's certificate, in addition to the system roots.
    pub ca_file: Option<PathBuf>,
}

/// Settings of the queue worker (`amqp:` and `connector:` sections of the configuration).
#[derive(Clone)]
pub struct WorkerSettings {
    /// `amqp://user:password@host:port/vhost` or `amqps://…`. Secret: may hold a password.
    pub url: SecretString,
    /// The queue stories are consumed from (and `publish` sends to).
    pub queue: String,
    /// Declare the queue topology (main queue, dead-letter queue, retry queue, results queue) at start.
    pub declare: bool,
    /// Type of the declared main queue and dead-letter queue.
    pub queue_type: QueueType,
    /// For quorum queues: deliveries after which RabbitMQ dead-letters a message that keeps coming back
    /// (e.g. one that crashes the worker). `0` = no limit.
    pub delivery_limit: u32,
    /// Dead-letter queue (default `<queue>.dlq`).
    pub dlq: String,
    /// Delayed-retry queue (default `<queue>.retry`): messages wait there for their TTL, then return to `queue`.
    pub retry_queue: String,
    /// Queue for result messages when a message has no `reply_to` (`None` = only `reply_to`).
    pub results_queue: Option<String>,
    /// Messages the broker sends before they are acknowledged (`basic.qos`).
    pub prefetch: u16,
    /// AMQP heartbeat in seconds (`0` = the broker's value).
    pub heartbeat: u16,
    /// TLS options for `amqps://`.
    pub tls: TlsSettings,
    /// Connection name shown by RabbitMQ (`rabbitmqctl list_connections client_properties`).
    pub connection_name: String,
    /// Most stories processed at once by this worker (upper bound of the adaptive limit).
    pub concurrency: usize,
    /// Lower bound of the adaptive limit.
    pub min_concurrency: usize,
    /// MISP latency above which the adaptive limit shrinks.
    pub latency_target: Duration,
    /// Processing rounds (first delivery + trips through the retry queue) before a message is dead-lettered.
    pub max_attempts: u32,
    /// Retries inside one round, for short waits, before the message goes to the retry queue.
    pub in_process_retries: u32,
    /// First in-process retry delay.
    pub backoff_initial: Duration,
    /// Longest in-process wait; a longer one (e.g. a big `Retry-After`) goes through the retry queue.
    pub backoff_in_process_max: Duration,
    /// First retry-queue delay (doubles per round, with jitter).
    pub retry_delay_initial: Duration,
    /// Longest retry-queue delay.
    pub retry_delay_max: Duration,
    /// Consecutive MISP transient failures that open the circuit breaker.
    pub breaker_threshold: u32,
    /// How long the breaker stays open before a half-open probe.
    pub breaker_cooldown: Duration,
    /// How long in-flight stories may take to finish after SIGTERM/SIGINT.
    pub shutdown_deadline: Duration,
    /// First reconnect delay (doubles up to `reconnect_max`, with jitter).
    pub reconnect_initial: Duration,
    /// Longest reconnect delay.
    pub reconnect_max: Duration,
    /// Input limits and mapping options.
    pub convert: ConvertOptions,
}

impl WorkerSettings {
    /// Settings with defaults for everything but the URL and queue.
    pub fn new(url: impl Into<String>, queue: impl Into<String>) -> WorkerSettings {
        let queue = queue.into();
        WorkerSettings {
            url: SecretString::from(url.into()),
            dlq: format!("{queue}.dlq"),
            retry_queue: format!("{queue}.retry"),
            queue,
            declare: true,
            queue_type: QueueType::Quorum,
            delivery_limit: 50,
            results_queue: None,
            prefetch: 32,
            heartbeat: 30,
            tls: TlsSettings::default(),
            connection_name: "misp-connector".into(),
            concurrency: 16,
            min_concurrency: 1,
            latency_target: Duration::from_secs(5),
            max_attempts: 10,
            in_process_retries: 3,
            backoff_initial: Duration::from_millis(500),
            backoff_in_process_max: Duration::from_secs(10),
            retry_delay_initial: Duration::from_secs(30),
            retry_delay_max: Duration::from_secs(30 * 60),
            breaker_threshold: 5,
            breaker_cooldown: Duration::from_secs(30),
            shutdown_deadline: Duration::from_secs(30),
            reconnect_initial: Duration::from_secs(1),
            reconnect_max: Duration::from_secs(60),
            convert: ConvertOptions::default(),
        }
    }

    /// Check the settings for values that cannot work; the message names the offending key.
    pub fn validate(&self) -> Result<(), SettingsError> {
        let url = self.url.expose_secret();
        if !(url.starts_with("amqp://") || url.starts_with("amqps://")) {
            return Err(SettingsError::new(
                "amqp.url",
                "must start with amqp:// or amqps://",
            ));
        }
        if let Err(e) = url.parse::<lapin::uri::AMQPUri>() {
            // The parser's message may echo the URL: keep only its kind.
            let _ = e;
            return Err(SettingsError::new("amqp.url", "is not a valid AMQP URL"));
        }
        for (key, name) in [
            ("amqp.queue", &self.queue),
            ("amqp.dlq", &self.dlq),
            ("amqp.retry_queue", &self.retry_queue),
        ] {
            check_queue_name(key, name)?;
        }
        if let Some(r) = &self.results_queue {
            check_queue_name("amqp.results_queue", r)?;
        }
        if self.dlq == self.queue || self.retry_queue == self.queue || self.dlq == self.retry_queue
        {
            return Err(SettingsError::new(
                "amqp.dlq",
                "the queue, its dead-letter queue and its retry queue must have different names",
            ));
        }
        if self.prefetch == 0 {
            return Err(SettingsError::new("amqp.prefetch", "must be at least 1"));
        }
        if self.concurrency == 0 {
            return Err(SettingsError::new(
                "connector.concurrency",
                "must be at least 1",
            ));
        }
        if self.min_concurrency == 0 || self.min_concurrency > self.concurrency {
            return Err(SettingsError::new(
                "connector.min_concurrency",
                "must be between 1 and connector.concurrency",
            ));
        }
        if self.max_attempts == 0 {
            return Err(SettingsError::new(
                "connector.max_attempts",
                "must be at least 1",
            ));
        }
        if self.breaker_threshold == 0 {
            return Err(SettingsError::new(
                "connector.breaker_threshold",
                "must be at least 1",
            ));
        }
        if self.retry_delay_initial.is_zero() || self.retry_delay_max < self.retry_delay_initial {
            return Err(SettingsError::new(
                "connector.retry_delay_max",
                "retry delays must be positive and max ≥ initial",
            ));
        }
        if self.reconnect_initial.is_zero() || self.reconnect_max < self.reconnect_initial {
            return Err(SettingsError::new(
                "amqp.reconnect_max",
                "reconnect delays must be positive and max ≥ initial",
            ));
        }
        Ok(())
    }

    /// The URL with any password replaced by `***`, for logs.
    pub fn redacted_url(&self) -> String {
        redact_url(self.url.expose_secret())
    }
}

impl std::fmt::Debug for WorkerSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WorkerSettings")
            .field("url", &self.redacted_url())
            .field("queue", &self.queue)
            .field("declare", &self.declare)
            .field("queue_type", &self.queue_type)
            .field("dlq", &self.dlq)
            .field("retry_queue", &self.retry_queue)
            .field("results_queue", &self.results_queue)
            .field("prefetch", &self.prefetch)
            .field("concurrency", &self.concurrency)
            .field("max_attempts", &self.max_attempts)
            .finish_non_exhaustive()
    }
}

/// A setting that cannot work.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid setting {key}: {message}")]
pub struct SettingsError {
    /// The configuration key, e.g. `amqp.prefetch`.
    pub key: &'static str,
    pub message: String,
}

impl SettingsError {
    fn new(key: &'static str, message: impl Into<String>) -> SettingsError {
        SettingsError {
            key,
            message: message.into(),
        }
    }
}

fn check_queue_name(key: &'static str, name: &str) -> Result<(), SettingsError> {
    if name.is_empty() || name.len() > 255 {
        return Err(SettingsError::new(
            key,
            "queue names must be 1 to 255 bytes long",
        ));
    }
    if name.starts_with("amq.") {
        return Err(SettingsError::new(
            key,
            "queue names starting with 'amq.' are reserved by RabbitMQ",
        ));
    }
    Ok(())
}

/// Replace the password of `scheme://user:password@host…` by `***`.
pub fn redact_url(url: &str) -> String {
    let Some(scheme_end) = url.find("://") else {
        return "***".to_owned();
    };
    let rest = &url[scheme_end + 3..];
    let authority_end = rest.find('/').unwrap_or(rest.len());
    let authority = &rest[..authority_end];
    match authority.rfind('@') {
        Some(at) => {
            let userinfo = &authority[..at];
            let user = userinfo.split(':').next().unwrap_or("");
            format!("{}://{}:***@{}", &url[..scheme_end], user, &rest[at + 1..])
        }
        None => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid() {
        let s = WorkerSettings::new("amqp://guest:guest@127.0.0.1:5672/%2f", "stories");
        s.validate().unwrap();
        assert_eq!(s.dlq, "stories.dlq");
        assert_eq!(s.retry_queue, "stories.retry");
        assert_eq!(s.queue_type, QueueType::Quorum);
    }

    #[test]
    fn password_never_in_debug() {
        let s = WorkerSettings::new("amqp://user:s3cret@host:5672/vh", "q");
        let dbg = format!("{s:?}");
        assert!(!dbg.contains("s3cret"), "{dbg}");
        assert!(dbg.contains("user:***@host:5672/vh"), "{dbg}");
    }

    #[test]
    fn redaction() {
        assert_eq!(redact_url("amqp://h:1/v"), "amqp://h:1/v");
        assert_eq!(redact_url("amqps://u:p@h/v"), "amqps://u:***@h/v");
        assert_eq!(redact_url("amqp://u:p:x@y@h"), "amqp://u:***@h");
        assert_eq!(redact_url("garbage"), "***");
    }

    #[test]
    fn invalid_values_name_the_key() {
        let base = WorkerSettings::new("amqp://127.0.0.1", "q");
        let mut s = base.clone();
        s.url = SecretString::from("http://x".to_owned());
        assert_eq!(s.validate().unwrap_err().key, "amqp.url");
        let mut s = base.clone();
        s.prefetch = 0;
        assert_eq!(s.validate().unwrap_err().key, "amqp.prefetch");
        let mut s = base.clone();
        s.dlq = "q".into();
        assert_eq!(s.validate().unwrap_err().key, "amqp.dlq");
        let mut s = base.clone();
        s.queue = "amq.x".into();
        assert_eq!(s.validate().unwrap_err().key, "amqp.queue");
        let mut s = base.clone();
        s.concurrency = 0;
        assert_eq!(s.validate().unwrap_err().key, "connector.concurrency");
        let mut s = base;
        s.max_attempts = 0;
        assert_eq!(s.validate().unwrap_err().key, "connector.max_attempts");
    }
}
