//! Configuration loading: YAML, environment overlay, `_FILE` secrets, validation errors, redaction.

use std::collections::HashMap;
use std::io::Write;
use std::path::Path;
use std::time::Duration;

use misp_connector::config::{Config, ConfigError, QueueType, environment_variables};
use misp_connector::mapping::FourBytePolicy;
use misp_connector::telemetry::logging::LogFormat;
use secrecy::ExposeSecret;

const KEY: &str = "k3yV4lue0123456789abcdefSECRET";

fn env(pairs: &[(&str, &str)]) -> HashMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// The three required MISP settings, plus `extra`.
fn required_env(extra: &[(&str, &str)]) -> HashMap<String, String> {
    let mut e = env(&[
        ("MISP_URL", "https://misp.example.org"),
        ("MISP_API_KEY", KEY),
        ("MISP_ORGANISATION_ID", "1"),
    ]);
    e.extend(env(extra));
    e
}

fn write_file(content: &str) -> tempfile::NamedTempFile {
    let mut f = tempfile::NamedTempFile::new().unwrap_or_else(|e| panic!("tempfile: {e}"));
    f.write_all(content.as_bytes())
        .unwrap_or_else(|e| panic!("write: {e}"));
    f
}

fn load_yaml(yaml: &str, env: &HashMap<String, String>) -> Result<Config, ConfigError> {
    let f = write_file(yaml);
    Config::load(Some(f.path()), env)
}

fn ok(r: Result<Config, ConfigError>) -> Config {
    r.unwrap_or_else(|e| panic!("config should load: {e}"))
}

fn err(r: Result<Config, ConfigError>) -> String {
    match r {
        Ok(c) => panic!("config should be rejected: {c:?}"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn env_only_minimal_config_has_the_documented_defaults() {
    let c = ok(Config::load(None, &required_env(&[])));
    assert_eq!(c.misp.url.as_str(), "https://misp.example.org/");
    assert_eq!(c.misp.api_key.expose_secret(), KEY);
    assert_eq!(c.misp.organisation_id, "1");
    assert!(c.misp.ssl_check);
    assert_eq!(c.misp.ca_file, None);
    assert_eq!(c.misp.sharing_group_id, None);
    assert_eq!(c.misp.distribution, 0);
    assert_eq!(c.misp.threat_level, 4);
    assert_eq!(c.misp.analysis, 0);
    assert!(!c.misp.publish);
    assert!(c.misp.extra_tags.is_empty());
    assert_eq!(c.misp.request_timeout, Duration::from_secs(30));
    assert_eq!(
        c.misp.user_agent,
        format!("misp-connector/{}", env!("CARGO_PKG_VERSION"))
    );
    assert!(c.misp.proxy_server.is_none());
    assert!(c.misp.additional_headers.is_empty());
    assert_eq!(c.misp.refresh_interval, Duration::from_secs(3600));
    assert_eq!(c.misp.four_byte_chars, FourBytePolicy::Replace);

    assert_eq!(c.connector.concurrency, 16);
    assert_eq!(c.connector.max_attempts, 5);
    assert_eq!(c.connector.min_concurrency, 1);
    assert_eq!(c.connector.latency_target, Duration::from_millis(5000));
    assert_eq!(c.connector.in_process_retries, 3);
    assert_eq!(
        c.connector.in_process_retry_initial,
        Duration::from_millis(500)
    );
    assert_eq!(
        c.connector.retry_initial_delay,
        Duration::from_millis(30_000)
    );
    assert_eq!(
        c.connector.retry_max_delay,
        Duration::from_millis(1_800_000)
    );
    assert_eq!(c.connector.breaker_threshold, 5);
    assert_eq!(c.connector.breaker_cooldown, Duration::from_secs(30));
    assert_eq!(
        c.connector.in_process_retry_max,
        Duration::from_millis(10_000)
    );
    assert_eq!(c.connector.shutdown_timeout, Duration::from_secs(30));
    assert_eq!(c.connector.log_level, "info");
    assert_eq!(c.connector.log_format, LogFormat::Json);
    assert_eq!(c.connector.metrics_port, 9095);
    assert_eq!(
        c.connector.metrics_addr().map(|a| a.to_string()).as_deref(),
        Some("0.0.0.0:9095")
    );
    assert_eq!(c.limits, misp_connector::limits::Limits::default());

    // push/check work without AMQP; run/publish ask for it and get the key named.
    let e = c.amqp().err().map(|e| e.to_string()).unwrap_or_default();
    assert!(e.contains("amqp.url") && e.contains("AMQP_URL"), "{e}");
}

const FULL_YAML: &str = r#"
misp:
  url: https://misp.example.org:8443/base
  api_key: k3yV4lue0123456789abcdefSECRET
  organisation_id: 7
  ssl_check: false
  sharing_group_id: 3
  distribution: 4
  threat_level: 2
  analysis: 1
  publish: true
  extra_tags: ['source:taranis', 'tlp:clear']
  request_timeout: 45
  user_agent: taranis-sync/2
  proxy_server: http://proxyuser:proxypass@proxy.example.org:3128
  additional_headers: {X-Env: prod, X-Proxy-Token: hdrS3cret}
  refresh_interval: 600
  four_byte_chars: strip
amqp:
  url: amqp://bob:amqpPa55@rabbit:5672/%2f
  queue: stories
  declare: true
  queue_type: classic
  results_queue: stories.results
  prefetch: 8
  heartbeat: 10
  delivery_limit: 0
  reconnect_initial_ms: 250
  reconnect_max: 20
  connection_name: worker-a
  tls: {verify: true}
connector:
  concurrency: 4
  min_concurrency: 2
  latency_target_ms: 800
  max_attempts: 9
  in_process_retries: 0
  in_process_retry_initial_ms: 100
  in_process_retry_max_ms: 2000
  retry_initial_delay_ms: 200
  retry_max_delay_ms: 60000
  breaker_threshold: 7
  breaker_cooldown: 9
  shutdown_timeout: 12
  log_level: DEBUG
  log_format: pretty
  metrics_port: 0
  metrics_bind: 127.0.0.1
limits:
  max_bytes: 1000
  max_depth: 10
  max_objects: 20
  max_string_len: 30
"#;

#[test]
fn every_key_from_yaml() {
    let c = ok(load_yaml(FULL_YAML, &HashMap::new()));
    let m = &c.misp;
    assert_eq!(m.url.as_str(), "https://misp.example.org:8443/base");
    assert_eq!(m.api_key.expose_secret(), KEY);
    assert_eq!(m.organisation_id, "7");
    assert!(!m.ssl_check);
    assert_eq!(m.sharing_group_id, Some(3));
    assert_eq!(m.distribution, 4);
    assert_eq!(m.threat_level, 2);
    assert_eq!(m.analysis, 1);
    assert!(m.publish);
    assert_eq!(m.extra_tags, vec!["source:taranis", "tlp:clear"]);
    assert_eq!(m.request_timeout, Duration::from_secs(45));
    assert_eq!(m.user_agent, "taranis-sync/2");
    let proxy = m
        .proxy_server
        .as_ref()
        .map(|p| p.expose_secret().to_string());
    assert_eq!(
        proxy.as_deref(),
        Some("http://proxyuser:proxypass@proxy.example.org:3128/")
    );
    let headers: Vec<(String, String)> = m
        .additional_headers
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    assert_eq!(
        headers,
        vec![
            ("X-Env".to_string(), "prod".to_string()),
            ("X-Proxy-Token".to_string(), "hdrS3cret".to_string())
        ]
    );
    assert_eq!(m.refresh_interval, Duration::from_secs(600));
    assert_eq!(m.four_byte_chars, FourBytePolicy::Strip);

    let a = c.amqp().unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(a.url.expose_secret(), "amqp://bob:amqpPa55@rabbit:5672/%2f");
    assert_eq!(a.url.redacted(), "amqp://bob:***@rabbit:5672/%2f");
    assert_eq!(a.queue, "stories");
    assert!(a.declare);
    assert_eq!(a.queue_type, QueueType::Classic);
    assert_eq!(a.dead_letter_queue, "stories.dlq");
    assert_eq!(a.retry_queue, "stories.retry");
    assert_eq!(a.results_queue.as_deref(), Some("stories.results"));
    assert_eq!(a.prefetch, 8);
    assert_eq!(a.heartbeat, Duration::from_secs(10));
    assert_eq!(a.connection_name, "worker-a");
    assert!(a.tls.verify);
    assert_eq!(a.delivery_limit, 0);
    assert_eq!(a.reconnect_initial, Duration::from_millis(250));
    assert_eq!(a.reconnect_max, Duration::from_secs(20));

    let k = &c.connector;
    assert_eq!(k.concurrency, 4);
    assert_eq!(k.max_attempts, 9);
    assert_eq!(k.retry_initial_delay, Duration::from_millis(200));
    assert_eq!(k.retry_max_delay, Duration::from_millis(60_000));
    assert_eq!(k.in_process_retry_max, Duration::from_millis(2000));
    assert_eq!(k.min_concurrency, 2);
    assert_eq!(k.latency_target, Duration::from_millis(800));
    assert_eq!(k.in_process_retries, 0);
    assert_eq!(k.in_process_retry_initial, Duration::from_millis(100));
    assert_eq!(k.breaker_threshold, 7);
    assert_eq!(k.breaker_cooldown, Duration::from_secs(9));

    let w = c.worker_settings().unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(w.url.expose_secret(), a.url.expose_secret());
    assert_eq!(w.queue, "stories");
    assert!(w.declare);
    assert_eq!(w.queue_type, misp_connector::worker::QueueType::Classic);
    assert_eq!(w.delivery_limit, 0);
    assert_eq!(w.dlq, "stories.dlq");
    assert_eq!(w.retry_queue, "stories.retry");
    assert_eq!(w.results_queue.as_deref(), Some("stories.results"));
    assert_eq!(w.prefetch, 8);
    assert_eq!(w.heartbeat, 10);
    assert_eq!(w.connection_name, "worker-a");
    assert_eq!(w.reconnect_initial, Duration::from_millis(250));
    assert_eq!(w.reconnect_max, Duration::from_secs(20));
    assert_eq!(w.concurrency, 4);
    assert_eq!(w.min_concurrency, 2);
    assert_eq!(w.latency_target, Duration::from_millis(800));
    assert_eq!(w.max_attempts, 9);
    assert_eq!(w.in_process_retries, 0);
    assert_eq!(w.backoff_initial, Duration::from_millis(100));
    assert_eq!(w.backoff_in_process_max, Duration::from_millis(2000));
    assert_eq!(w.retry_delay_initial, Duration::from_millis(200));
    assert_eq!(w.retry_delay_max, Duration::from_millis(60_000));
    assert_eq!(w.breaker_threshold, 7);
    assert_eq!(w.breaker_cooldown, Duration::from_secs(9));
    assert_eq!(w.shutdown_deadline, Duration::from_secs(12));
    assert_eq!(w.convert, c.convert_options());
    assert!(!format!("{w:?}").contains("amqpPa55"));
    assert_eq!(k.shutdown_timeout, Duration::from_secs(12));
    assert_eq!(k.log_level, "debug");
    assert_eq!(k.log_format, LogFormat::Pretty);
    assert_eq!(k.metrics_addr(), None);
    assert_eq!(c.limits.max_bytes, 1000);
    assert_eq!(c.limits.max_depth, 10);
    assert_eq!(c.limits.max_objects, 20);
    assert_eq!(c.limits.max_string_len, 30);

    let opts = c.convert_options();
    assert_eq!(opts.limits, c.limits);
    assert_eq!(opts.mapping.distribution, 4);
    assert_eq!(opts.mapping.sharing_group_id, Some(3));
    assert_eq!(opts.mapping.threat_level_id, 2);
    assert_eq!(opts.mapping.analysis, 1);
    assert!(opts.mapping.published);
    assert_eq!(opts.mapping.extra_tags, m.extra_tags);
    assert_eq!(opts.mapping.four_byte, FourBytePolicy::Strip);
}

#[test]
fn every_misp_seed_parameter_from_env() {
    let e = env(&[
        ("MISP_URL", "http://misp.local"),
        ("MISP_API_KEY", KEY),
        ("MISP_ORGANISATION_ID", "12"),
        ("MISP_SSL_CHECK", "false"),
        ("MISP_SHARING_GROUP_ID", "5"),
        ("MISP_DISTRIBUTION", "4"),
        ("MISP_REQUEST_TIMEOUT", "50"),
        ("MISP_USER_AGENT", "agent 1.0: custom"),
        ("MISP_PROXY_SERVER", "http://proxy:8080"),
        ("MISP_ADDITIONAL_HEADERS", r#"{"X-A": "1", "X-B": "two"}"#),
        ("MISP_REFRESH_INTERVAL", "120"),
        ("MISP_THREAT_LEVEL", "1"),
        ("MISP_ANALYSIS", "2"),
        ("MISP_PUBLISH", "true"),
        ("MISP_EXTRA_TAGS", "a, b"),
        ("MISP_FOUR_BYTE_CHARS", "keep"),
    ]);
    let c = ok(Config::load(None, &e));
    let m = &c.misp;
    assert_eq!(m.url.as_str(), "http://misp.local/");
    assert_eq!(m.organisation_id, "12");
    assert!(!m.ssl_check);
    assert_eq!(m.sharing_group_id, Some(5));
    assert_eq!(m.distribution, 4);
    assert_eq!(m.request_timeout, Duration::from_secs(50));
    assert_eq!(m.user_agent, "agent 1.0: custom");
    assert_eq!(
        m.proxy_server.as_ref().map(|p| p.redacted()),
        Some("http://proxy:8080/")
    );
    assert_eq!(
        m.additional_headers.names().collect::<Vec<_>>(),
        ["X-A", "X-B"]
    );
    assert_eq!(m.refresh_interval, Duration::from_secs(120));
    assert_eq!(m.threat_level, 1);
    assert_eq!(m.analysis, 2);
    assert!(m.publish);
    assert_eq!(m.extra_tags, ["a", "b"]);
    assert_eq!(m.four_byte_chars, FourBytePolicy::Keep);

    let json_tags = ok(Config::load(
        None,
        &required_env(&[("MISP_EXTRA_TAGS", r#"["x,y", "z"]"#)]),
    ));
    assert_eq!(json_tags.misp.extra_tags, ["x,y", "z"]);
}

#[test]
fn env_overrides_yaml_including_distribution_zero() {
    let yaml = "misp:\n  url: https://yaml.example.org\n  api_key: fromyaml\n  organisation_id: 3\n  distribution: 2\n  ssl_check: true\n  request_timeout: 10\nconnector:\n  concurrency: 2\n";
    let e = env(&[
        ("MISP_URL", "https://env.example.org"),
        ("MISP_API_KEY", KEY),
        ("MISP_DISTRIBUTION", "0"),
        ("MISP_SSL_CHECK", "false"),
        ("CONNECTOR_CONCURRENCY", "50"),
        // empty values count as unset: YAML stays in force
        ("MISP_REQUEST_TIMEOUT", ""),
    ]);
    let c = ok(load_yaml(yaml, &e));
    assert_eq!(c.misp.url.host_str(), Some("env.example.org"));
    assert_eq!(c.misp.api_key.expose_secret(), KEY);
    assert_eq!(c.misp.organisation_id, "3");
    assert_eq!(c.misp.distribution, 0);
    assert_eq!(c.misp.mapping_options().distribution, 0);
    assert!(!c.misp.ssl_check);
    assert_eq!(c.misp.request_timeout, Duration::from_secs(10));
    assert_eq!(c.connector.concurrency, 50);
}

#[test]
fn amqp_settings_from_env_and_parts() {
    let c = ok(Config::load(
        None,
        &required_env(&[
            ("AMQP_URL", "amqps://u:p4ss@broker.example.org/prod"),
            ("AMQP_QUEUE", "q1"),
            ("AMQP_DECLARE", "true"),
            ("AMQP_PREFETCH", "128"),
            ("AMQP_DEAD_LETTER_QUEUE", "dead"),
            ("AMQP_RETRY_QUEUE", "later"),
        ]),
    ));
    let a = c.amqp().unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(a.url.redacted(), "amqps://u:***@broker.example.org/prod");
    assert_eq!(a.queue, "q1");
    assert!(a.declare);
    assert_eq!(a.queue_type, QueueType::Quorum);
    assert_eq!(a.prefetch, 128);
    assert_eq!(a.dead_letter_queue, "dead");
    assert_eq!(a.retry_queue, "later");

    let yaml =
        "amqp:\n  host: rabbit\n  user: svc\n  password: 'p@ss/word'\n  vhost: /\n  queue: q\n";
    let c = ok(load_yaml(yaml, &required_env(&[])));
    let a = c.amqp().unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        a.url.expose_secret(),
        "amqp://svc:p%40ss%2Fword@rabbit:5672/%2F"
    );
    assert!(!format!("{a:?}").contains("p%40ss"));

    let yaml = "amqp:\n  host: rabbit\n  use_tls: true\n  queue: q\n";
    let c = ok(load_yaml(yaml, &required_env(&[])));
    let url = c.amqp().map(|a| a.url.redacted().to_string());
    assert_eq!(
        url.ok().as_deref(),
        Some("amqps://guest:***@rabbit:5671/%2F")
    );
}

#[test]
fn amqp_missing_pieces_are_named_only_when_asked() {
    let c = ok(Config::load(
        None,
        &required_env(&[("AMQP_URL", "amqp://localhost")]),
    ));
    let e = c.amqp().err().map(|e| e.to_string()).unwrap_or_default();
    assert!(e.contains("amqp.queue") && e.contains("AMQP_QUEUE"), "{e}");

    let c = ok(Config::load(None, &required_env(&[("AMQP_QUEUE", "q")])));
    let e = c.amqp().err().map(|e| e.to_string()).unwrap_or_default();
    assert!(e.contains("amqp.url"), "{e}");
    let e = c
        .worker_settings()
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(e.contains("amqp.url"), "{e}");

    let e = err(load_yaml(
        "amqp:\n  url: amqp://localhost\n  host: other\n  queue: q\n",
        &required_env(&[]),
    ));
    assert!(e.contains("amqp.url") && e.contains("not both"), "{e}");
}

#[test]
fn secrets_from_files() {
    let key = write_file(&format!("{KEY}\n"));
    let pass = write_file("filePa55\r\n");
    let url = write_file("amqp://a:urlPa55@h/%2f\n");
    let mut e = required_env(&[("AMQP_QUEUE", "q"), ("AMQP_HOST", "h")]);
    e.remove("MISP_API_KEY");
    let path = |f: &tempfile::NamedTempFile| f.path().display().to_string();
    e.insert("MISP_API_KEY_FILE".into(), path(&key));
    e.insert("AMQP_PASSWORD_FILE".into(), path(&pass));
    let c = ok(Config::load(None, &e));
    assert_eq!(c.misp.api_key.expose_secret(), KEY);
    let a = c.amqp().unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(a.url.expose_secret(), "amqp://guest:filePa55@h:5672/%2F");

    let mut e2 = required_env(&[("AMQP_QUEUE", "q")]);
    e2.insert("AMQP_URL_FILE".into(), path(&url));
    let c = ok(Config::load(None, &e2));
    let a = c.amqp().unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(a.url.expose_secret(), "amqp://a:urlPa55@h/%2f");

    // both set: ambiguous
    let mut both = required_env(&[]);
    both.insert("MISP_API_KEY_FILE".into(), path(&key));
    let msg = err(Config::load(None, &both));
    assert!(
        msg.contains("MISP_API_KEY") && msg.contains("MISP_API_KEY_FILE"),
        "{msg}"
    );

    // unreadable and empty files name the variable
    let mut missing = required_env(&[]);
    missing.remove("MISP_API_KEY");
    missing.insert("MISP_API_KEY_FILE".into(), "/nonexistent/key".into());
    let msg = err(Config::load(None, &missing));
    assert!(
        msg.starts_with("MISP_API_KEY_FILE") && msg.contains("/nonexistent/key"),
        "{msg}"
    );
    let empty = write_file("\n");
    missing.insert("MISP_API_KEY_FILE".into(), path(&empty));
    let msg = err(Config::load(None, &missing));
    assert!(
        msg.contains("MISP_API_KEY_FILE") && msg.contains("empty"),
        "{msg}"
    );
}

#[test]
fn invalid_env_values_name_the_variable_and_key() {
    let cases: &[(&str, &str, &str)] = &[
        ("MISP_URL", "not a url", "misp.url"),
        ("MISP_URL", "ftp://misp.example.org", "misp.url"),
        ("MISP_URL", "https://user:pw@misp.example.org", "misp.url"),
        ("MISP_API_KEY", "ChangeMe", "misp.api_key"),
        ("MISP_API_KEY", "two words", "misp.api_key"),
        ("MISP_ORGANISATION_ID", "ChangeMe", "misp.organisation_id"),
        ("MISP_SSL_CHECK", "maybe", "misp.ssl_check"),
        ("MISP_CA_FILE", "/nonexistent/ca.pem", "misp.ca_file"),
        ("MISP_SHARING_GROUP_ID", "abc", "misp.sharing_group_id"),
        ("MISP_SHARING_GROUP_ID", "0", "misp.sharing_group_id"),
        ("MISP_DISTRIBUTION", "5", "misp.distribution"),
        ("MISP_DISTRIBUTION", "-1", "misp.distribution"),
        ("MISP_THREAT_LEVEL", "0", "misp.threat_level"),
        ("MISP_THREAT_LEVEL", "5", "misp.threat_level"),
        ("MISP_ANALYSIS", "3", "misp.analysis"),
        ("MISP_PUBLISH", "sometimes", "misp.publish"),
        ("MISP_EXTRA_TAGS", "[1, 2", "misp.extra_tags"),
        ("MISP_REQUEST_TIMEOUT", "0", "misp.request_timeout"),
        ("MISP_REQUEST_TIMEOUT", "abc", "misp.request_timeout"),
        ("MISP_REQUEST_TIMEOUT", "1.5", "misp.request_timeout"),
        ("MISP_USER_AGENT", "bad\nagent", "misp.user_agent"),
        ("MISP_PROXY_SERVER", "ftp://proxy", "misp.proxy_server"),
        ("MISP_ADDITIONAL_HEADERS", "[1]", "misp.additional_headers"),
        (
            "MISP_ADDITIONAL_HEADERS",
            "{bad json",
            "misp.additional_headers",
        ),
        (
            "MISP_ADDITIONAL_HEADERS",
            r#"{"Bad Name": "x"}"#,
            "misp.additional_headers",
        ),
        (
            "MISP_ADDITIONAL_HEADERS",
            r#"{"Authorization": "x"}"#,
            "misp.additional_headers",
        ),
        (
            "MISP_ADDITIONAL_HEADERS",
            r#"{"X-A": 5}"#,
            "misp.additional_headers",
        ),
        ("MISP_REFRESH_INTERVAL", "0", "misp.refresh_interval"),
        ("MISP_FOUR_BYTE_CHARS", "drop", "misp.four_byte_chars"),
        ("AMQP_URL", "http://rabbit", "amqp.url"),
        ("AMQP_PORT", "70000", "amqp.port"),
        ("AMQP_PREFETCH", "0", "amqp.prefetch"),
        ("AMQP_PREFETCH", "70000", "amqp.prefetch"),
        ("AMQP_HEARTBEAT", "0", "amqp.heartbeat"),
        ("AMQP_QUEUE_TYPE", "stream", "amqp.queue_type"),
        ("AMQP_DECLARE", "perhaps", "amqp.declare"),
        ("AMQP_QUEUE", "amq.reserved", "amqp.queue"),
        ("AMQP_DEAD_LETTER_QUEUE", "q", "amqp.dead_letter_queue"),
        ("AMQP_TLS_VERIFY", "nope", "amqp.tls.verify"),
        ("AMQP_TLS_VERIFY", "false", "amqp.tls.verify"),
        ("AMQP_DELIVERY_LIMIT", "-1", "amqp.delivery_limit"),
        (
            "AMQP_RECONNECT_INITIAL_MS",
            "0",
            "amqp.reconnect_initial_ms",
        ),
        ("AMQP_RECONNECT_MAX", "0", "amqp.reconnect_max"),
        (
            "CONNECTOR_MIN_CONCURRENCY",
            "17",
            "connector.min_concurrency",
        ),
        (
            "CONNECTOR_LATENCY_TARGET_MS",
            "0",
            "connector.latency_target_ms",
        ),
        (
            "CONNECTOR_IN_PROCESS_RETRIES",
            "101",
            "connector.in_process_retries",
        ),
        (
            "CONNECTOR_IN_PROCESS_RETRY_INITIAL_MS",
            "0",
            "connector.in_process_retry_initial_ms",
        ),
        (
            "CONNECTOR_IN_PROCESS_RETRY_MAX_MS",
            "100",
            "connector.in_process_retry_max_ms",
        ),
        (
            "CONNECTOR_BREAKER_THRESHOLD",
            "0",
            "connector.breaker_threshold",
        ),
        (
            "CONNECTOR_BREAKER_COOLDOWN",
            "0",
            "connector.breaker_cooldown",
        ),
        (
            "AMQP_TLS_CA_FILE",
            "/nonexistent/ca.pem",
            "amqp.tls.ca_file",
        ),
        ("CONNECTOR_CONCURRENCY", "0", "connector.concurrency"),
        ("CONNECTOR_MAX_ATTEMPTS", "0", "connector.max_attempts"),
        (
            "CONNECTOR_RETRY_INITIAL_DELAY_MS",
            "0",
            "connector.retry_initial_delay_ms",
        ),
        (
            "CONNECTOR_RETRY_MAX_DELAY_MS",
            "10",
            "connector.retry_max_delay_ms",
        ),
        (
            "CONNECTOR_SHUTDOWN_TIMEOUT",
            "0",
            "connector.shutdown_timeout",
        ),
        ("CONNECTOR_LOG_LEVEL", "loud", "connector.log_level"),
        ("CONNECTOR_LOG_FORMAT", "xml", "connector.log_format"),
        ("CONNECTOR_METRICS_PORT", "70000", "connector.metrics_port"),
        (
            "CONNECTOR_METRICS_BIND",
            "localhost",
            "connector.metrics_bind",
        ),
        ("LIMITS_MAX_BYTES", "0", "limits.max_bytes"),
        ("LIMITS_MAX_DEPTH", "5000", "limits.max_depth"),
        ("LIMITS_MAX_OBJECTS", "many", "limits.max_objects"),
    ];
    for (var, value, key) in cases {
        let mut e = required_env(&[("AMQP_QUEUE", "q")]);
        if var.starts_with("AMQP_PORT") {
            e.insert("AMQP_HOST".into(), "rabbit".into());
        } else {
            e.insert("AMQP_URL".into(), "amqp://rabbit".into());
        }
        e.insert(var.to_string(), value.to_string());
        let msg = err(Config::load(None, &e));
        println!("{msg}");
        let expected = format!("{var} ({key}");
        assert!(
            msg.starts_with(&expected),
            "{var}={value:?}: error should start with {expected:?}: {msg}"
        );
        if *var == "MISP_API_KEY" && *value != "ChangeMe" {
            assert!(!msg.contains(value), "secret echoed: {msg}");
        }
    }
}

#[test]
fn invalid_yaml_values_name_the_key() {
    let cases: &[(&str, &str)] = &[
        (
            "misp:\n  distribution: 9\n",
            "misp.distribution: must be between 0 and 4, got 9",
        ),
        (
            "misp:\n  distribution: 4\n",
            "misp.sharing_group_id: is required when misp.distribution is 4",
        ),
        (
            "misp:\n  threat_level: 0\n",
            "misp.threat_level: must be between 1 and 4",
        ),
        (
            "misp:\n  analysis: 7\n",
            "misp.analysis: must be between 0 and 2",
        ),
        ("misp:\n  request_timeout: -3\n", "misp.request_timeout:"),
        ("misp:\n  extra_tags: ['']\n", "misp.extra_tags:"),
        ("misp:\n  extra_tags: 'one'\n", "misp.extra_tags:"),
        (
            "misp:\n  additional_headers: {'X A': b}\n",
            "misp.additional_headers.X A: invalid header name",
        ),
        (
            "connector:\n  metrics_bind: 'nowhere'\n",
            "connector.metrics_bind:",
        ),
        (
            "connector:\n  retry_initial_delay_ms: 5000\n  retry_max_delay_ms: 100\n",
            "connector.retry_max_delay_ms:",
        ),
        (
            "limits:\n  max_objects: 0\n",
            "limits.max_objects: must be positive",
        ),
        ("amqp: 5\n", "amqp:"),
    ];
    // The organisation id comes from YAML here so the YAML path (not an env variable) is named.
    for (yaml, expected) in cases {
        let mut e = required_env(&[]);
        e.remove("MISP_ORGANISATION_ID");
        let full = if yaml.starts_with("misp:") {
            format!("{yaml}  organisation_id: 1\n")
        } else {
            format!("{yaml}misp:\n  organisation_id: 1\n")
        };
        let msg = err(load_yaml(&full, &e));
        println!("{msg}");
        assert!(
            msg.starts_with(expected),
            "{yaml:?}: expected {expected:?} at the start of: {msg}"
        );
    }
    let mut e = required_env(&[]);
    e.remove("MISP_ORGANISATION_ID");
    let msg = err(load_yaml("misp:\n  organisation_id: [1]\n", &e));
    assert!(msg.starts_with("misp.organisation_id:"), "{msg}");
}

#[test]
fn unknown_keys_are_rejected_with_their_path() {
    let e = required_env(&[]);
    let msg = err(load_yaml("misp:\n  urll: x\n", &e));
    assert!(msg.starts_with("misp") && msg.contains("urll"), "{msg}");
    let msg = err(load_yaml("mips:\n  url: x\n", &e));
    assert!(msg.contains("mips"), "{msg}");
    let msg = err(load_yaml("amqp:\n  tls:\n    verfy: false\n", &e));
    assert!(
        msg.starts_with("amqp.tls") && msg.contains("verfy"),
        "{msg}"
    );
    let msg = err(load_yaml("connector:\n  metrics_host: x\n", &e));
    assert!(
        msg.starts_with("connector") && msg.contains("metrics_host"),
        "{msg}"
    );
    let msg = err(load_yaml("limits:\n  max_size: 3\n", &e));
    assert!(
        msg.starts_with("limits") && msg.contains("max_size"),
        "{msg}"
    );
}

#[test]
fn missing_required_settings_are_named() {
    for (var, key) in [
        ("MISP_URL", "misp.url"),
        ("MISP_API_KEY", "misp.api_key"),
        ("MISP_ORGANISATION_ID", "misp.organisation_id"),
    ] {
        let mut e = required_env(&[]);
        e.remove(var);
        let r = Config::load(None, &e);
        let Err(error) = r else {
            panic!("{var} missing should fail")
        };
        assert_eq!(error.key(), Some(key));
        let msg = error.to_string();
        assert!(msg.starts_with(key) && msg.contains(var), "{msg}");
    }
}

#[test]
fn file_errors_name_the_file() {
    let msg = err(Config::load(
        Some(Path::new("/nonexistent/config.yml")),
        &required_env(&[]),
    ));
    assert!(msg.contains("/nonexistent/config.yml"), "{msg}");
    let msg = err(load_yaml("misp: [unclosed\n", &required_env(&[])));
    assert!(msg.contains("invalid YAML"), "{msg}");
    let msg = err(load_yaml("- a\n- b\n", &required_env(&[])));
    assert!(msg.contains("top level must be a mapping"), "{msg}");
    // A YAML error near a secret does not quote it.
    let msg = err(load_yaml(
        "misp:\n  api_key: \"k3yV4lue0123456789abcdefSECRET\n  url: [\n",
        &required_env(&[]),
    ));
    assert!(!msg.contains(KEY), "{msg}");
    // Empty file and empty sections are fine.
    ok(load_yaml("", &required_env(&[])));
    ok(load_yaml(
        "misp:\namqp:\nconnector:\nlimits:\n",
        &required_env(&[]),
    ));
}

fn sample_path() -> &'static str {
    concat!(env!("CARGO_MANIFEST_DIR"), "/config.yml.sample")
}

#[test]
fn sample_loads_with_required_values_from_env() {
    let e = env(&[("MISP_API_KEY", KEY), ("MISP_ORGANISATION_ID", "1")]);
    let c = ok(Config::load(Some(Path::new(sample_path())), &e));
    assert_eq!(c.misp.url.host_str(), Some("misp.example.org"));
    assert_eq!(
        c.amqp().map(|a| a.queue.clone()).ok().as_deref(),
        Some("misp-connector")
    );
    // The placeholders are refused, so nobody runs the sample by accident.
    let msg = err(Config::load(
        Some(Path::new(sample_path())),
        &HashMap::new(),
    ));
    assert!(
        msg.contains("misp.api_key") && msg.contains("ChangeMe"),
        "{msg}"
    );
}

#[test]
fn sample_and_docs_cover_every_variable() {
    let sample = std::fs::read_to_string(sample_path()).unwrap_or_default();
    let docs = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/docs/configuration.md"
    ))
    .unwrap_or_default();
    for var in environment_variables() {
        let leaf = var.key.rsplit('.').next().unwrap_or_default();
        assert!(
            sample.contains(&format!(" {leaf}:")),
            "config.yml.sample lacks {}",
            var.key
        );
        assert!(
            docs.contains(&format!("`{}`", var.key)),
            "docs lack key {}",
            var.key
        );
        assert!(
            docs.contains(&format!("`{}`", var.name)),
            "docs lack {}",
            var.name
        );
        if var.accepts_file {
            assert!(
                docs.contains(&format!("{}_FILE", var.name)),
                "docs lack {}_FILE",
                var.name
            );
        }
    }
}

fn full_secret_env() -> HashMap<String, String> {
    required_env(&[
        ("AMQP_URL", "amqp://user:amqpPa55w0rd@rabbit/%2f"),
        ("AMQP_QUEUE", "q"),
        ("MISP_PROXY_SERVER", "http://pu:proxyPa55w0rd@proxy:3128"),
        ("MISP_ADDITIONAL_HEADERS", r#"{"X-Token": "headerT0ken"}"#),
    ])
}

const SECRETS: &[&str] = &[KEY, "amqpPa55w0rd", "proxyPa55w0rd", "headerT0ken"];

#[test]
fn debug_output_never_shows_secrets() {
    let c = ok(Config::load(None, &full_secret_env()));
    let debug = format!("{c:?} {:?} {:#?}", c.amqp().ok(), c.misp);
    for s in SECRETS {
        assert!(!debug.contains(s), "Debug shows {s}: {debug}");
    }
    assert!(
        debug.contains("rabbit") && debug.contains("X-Token"),
        "{debug}"
    );
}

#[derive(Clone, Default)]
struct Captured(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if let Ok(mut v) = self.0.lock() {
            v.extend_from_slice(buf);
        }
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn debug_logs_while_loading_never_show_secrets() {
    let captured = Captured::default();
    for format in [LogFormat::Json, LogFormat::Pretty] {
        let w = captured.clone();
        let subscriber = misp_connector::telemetry::logging::subscriber(
            tracing_subscriber::EnvFilter::new("trace"),
            format,
            move || w.clone(),
            false,
        );
        tracing::subscriber::with_default(subscriber, || {
            let f = write_file("misp:\n  api_key: k3yV4lue0123456789abcdefSECRET\n");
            let mut e = full_secret_env();
            e.remove("MISP_API_KEY");
            let c = ok(Config::load(Some(f.path()), &e));
            tracing::debug!(config = ?c, "loaded");
        });
    }
    let bytes = captured.0.lock().map(|v| v.clone()).unwrap_or_default();
    let text = String::from_utf8(bytes).unwrap_or_default();
    assert!(
        text.contains("configuration loaded"),
        "nothing logged: {text}"
    );
    assert!(
        text.contains("MISP_URL"),
        "env sources should be logged: {text}"
    );
    for s in SECRETS {
        assert!(!text.contains(s), "log shows {s}: {text}");
    }
}

#[test]
fn organisation_id_accepts_string_or_integer() {
    let mut e = required_env(&[]);
    e.remove("MISP_ORGANISATION_ID");
    let c = ok(load_yaml("misp:\n  organisation_id: 42\n", &e));
    assert_eq!(c.misp.organisation_id, "42");
    let c = ok(load_yaml(
        "misp:\n  organisation_id: '5e4f2b1a-0000-4000-8000-000000000001'\n",
        &e,
    ));
    assert_eq!(
        c.misp.organisation_id,
        "5e4f2b1a-0000-4000-8000-000000000001"
    );
}

#[test]
fn sharing_group_is_only_mapped_with_distribution_four() {
    let c = ok(Config::load(
        None,
        &required_env(&[("MISP_SHARING_GROUP_ID", "9"), ("MISP_DISTRIBUTION", "1")]),
    ));
    assert_eq!(c.misp.sharing_group_id, Some(9));
    assert_eq!(c.misp.mapping_options().sharing_group_id, None);
    assert_eq!(c.misp.mapping_options().distribution, 1);
}

#[test]
fn compose_file_configures_the_connector_with_known_variables() {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docker-compose.yml"))
        .unwrap_or_else(|e| panic!("docker-compose.yml: {e}"));
    let compose: serde_json::Value =
        serde_saphyr::from_str(&text).unwrap_or_else(|e| panic!("docker-compose.yml: {e}"));
    let svc = &compose["services"]["misp-connector"];
    assert_eq!(svc["deploy"]["replicas"], 2, "{svc}");
    let health = svc["healthcheck"]["test"].to_string();
    assert!(health.contains("/healthz"), "{health}");
    for dep in ["rabbitmq", "misp-core"] {
        assert_eq!(
            svc["depends_on"][dep]["condition"], "service_healthy",
            "{svc}"
        );
    }
    let known: Vec<&str> = environment_variables().iter().map(|v| v.name).collect();
    let Some(vars) = svc["environment"].as_object() else {
        panic!("environment should be a mapping: {svc}")
    };
    assert!(vars.contains_key("MISP_URL") && vars.contains_key("AMQP_QUEUE"));
    for name in vars.keys() {
        assert!(
            known.contains(&name.as_str()),
            "{name} is not a configuration variable"
        );
    }
    // With its variables resolved to their defaults, the compose environment is a valid configuration.
    let resolved: HashMap<String, String> = vars
        .iter()
        .map(|(k, v)| {
            (
                k.clone(),
                resolve_compose_defaults(v.as_str().unwrap_or_default()),
            )
        })
        .collect();
    let c = ok(Config::load(None, &resolved));
    assert!(c.amqp().is_ok());
}

/// Replace `${NAME:-default}` by `default`, as compose does when NAME is unset.
fn resolve_compose_defaults(value: &str) -> String {
    let mut out = String::new();
    let mut rest = value;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let end = after.find('}').unwrap_or(after.len());
        let inner = &after[..end];
        out.push_str(inner.split_once(":-").map_or("", |(_, d)| d));
        rest = after.get(end + 1..).unwrap_or("");
    }
    out.push_str(rest);
    out
}

#[test]
fn unknown_section_variables_are_reported_not_fatal() {
    let c = ok(Config::load(
        None,
        &required_env(&[("MISP_SSL_VERIFY", "false"), ("HOME", "/root")]),
    ));
    assert!(
        c.misp.ssl_check,
        "an unknown variable must not change anything"
    );
    assert_eq!(
        c.ignored_environment(),
        ["MISP_SSL_VERIFY is not read by misp-connector (did you mean MISP_SSL_CHECK?)"]
    );
}

#[test]
fn booleans_accept_common_spellings() {
    for (value, expected) in [
        ("true", true),
        ("TRUE", true),
        ("yes", true),
        ("On", true),
        ("1", true),
        ("false", false),
        ("False", false),
        ("no", false),
        ("off", false),
        ("0", false),
    ] {
        let c = ok(Config::load(
            None,
            &required_env(&[("MISP_SSL_CHECK", value)]),
        ));
        assert_eq!(c.misp.ssl_check, expected, "MISP_SSL_CHECK={value}");
    }
    let c = ok(load_yaml("misp:\n  publish: yes\n", &required_env(&[])));
    assert!(c.misp.publish);
    let msg = err(Config::load(None, &required_env(&[("MISP_PUBLISH", "2")])));
    assert!(
        msg.starts_with("MISP_PUBLISH (misp.publish): expected a boolean"),
        "{msg}"
    );
}

#[test]
fn client_settings_carry_every_misp_connection_setting() {
    let ca = write_file("-----BEGIN CERTIFICATE-----\n");
    let c = ok(Config::load(
        None,
        &required_env(&[
            ("MISP_URL", "https://misp.example.org/prefix"),
            ("MISP_SSL_CHECK", "false"),
            ("MISP_CA_FILE", &ca.path().display().to_string()),
            ("MISP_REQUEST_TIMEOUT", "7"),
            ("MISP_USER_AGENT", "ua/1"),
            ("MISP_PROXY_SERVER", "http://u:proxyPa55w0rd@proxy:3128"),
            ("MISP_ADDITIONAL_HEADERS", r#"{"X-Token": "headerT0ken"}"#),
        ]),
    ));
    let s = c.misp.client_settings();
    assert_eq!(s.url, "https://misp.example.org/prefix");
    assert_eq!(s.api_key.expose_secret(), KEY);
    assert!(!s.verify_tls);
    assert_eq!(s.ca_file.as_deref(), Some(ca.path()));
    assert_eq!(s.timeout, Duration::from_secs(7));
    assert_eq!(s.user_agent, "ua/1");
    assert_eq!(
        s.proxy.as_deref(),
        Some("http://u:proxyPa55w0rd@proxy:3128/")
    );
    assert_eq!(
        s.additional_headers.get("X-Token").map(String::as_str),
        Some("headerT0ken")
    );
    let debug = format!("{s:?}");
    for secret in SECRETS {
        assert!(!debug.contains(secret), "{debug}");
    }
    // The client accepts what the configuration accepted (the CA file above is not a real certificate).
    let mut without_ca = s.clone();
    without_ca.ca_file = None;
    if let Err(e) = misp_connector::misp::client::MispClient::new(&without_ca) {
        panic!("client refuses the configured settings: {e}");
    }
    let msg = err(Config::load(
        None,
        &required_env(&[("MISP_ADDITIONAL_HEADERS", r#"{"X-MISP-AUTH": "x"}"#)]),
    ));
    assert!(msg.contains("misp.additional_headers.X-MISP-AUTH"), "{msg}");
}
