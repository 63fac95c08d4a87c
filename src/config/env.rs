//! The environment-variable overlay: an explicit table of `SECTION_KEY` names (OpenCTI style).
//!
//! Splitting variable names on `_` is ambiguous for snake_case keys (`MISP_SSL_CHECK` is `misp.ssl_check`,
//! not `misp.ssl.check`), so every variable the connector reads is listed here with its config path and how its
//! string is typed. Secrets can also come from a file named by `<NAME>_FILE` (Docker/Kubernetes secrets).

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;

use serde_json::{Map, Value};

use super::ConfigError;

/// How an environment string becomes a JSON value before typed deserialisation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// Kept as a string, unchanged (names, URLs, user agents).
    Str,
    /// Kept as a string, may also be read from `<NAME>_FILE`; never echoed in errors or logs.
    Secret,
    /// Resolved like a YAML scalar: `false` → bool, `50` → integer, anything else a string.
    Scalar,
    /// A JSON array (`["a","b"]`) or a comma-separated list (`a, b`).
    List,
    /// A JSON object (`{"X-Header": "value"}`).
    Map,
}

/// One environment variable: its name, the config path it sets and its kind.
#[derive(Debug, Clone, Copy)]
pub(crate) struct EnvVar {
    pub name: &'static str,
    pub path: &'static [&'static str],
    pub kind: Kind,
}

const fn var(name: &'static str, path: &'static [&'static str], kind: Kind) -> EnvVar {
    EnvVar { name, path, kind }
}

/// Every environment variable the configuration reads. `docs/configuration.md` lists the same table.
pub(crate) const ENV_VARS: &[EnvVar] = &[
    var("MISP_URL", &["misp", "url"], Kind::Str),
    var("MISP_API_KEY", &["misp", "api_key"], Kind::Secret),
    var(
        "MISP_ORGANISATION_ID",
        &["misp", "organisation_id"],
        Kind::Str,
    ),
    var("MISP_SSL_CHECK", &["misp", "ssl_check"], Kind::Scalar),
    var("MISP_CA_FILE", &["misp", "ca_file"], Kind::Str),
    var(
        "MISP_SHARING_GROUP_ID",
        &["misp", "sharing_group_id"],
        Kind::Scalar,
    ),
    var("MISP_DISTRIBUTION", &["misp", "distribution"], Kind::Scalar),
    var("MISP_THREAT_LEVEL", &["misp", "threat_level"], Kind::Scalar),
    var("MISP_ANALYSIS", &["misp", "analysis"], Kind::Scalar),
    var("MISP_PUBLISH", &["misp", "publish"], Kind::Scalar),
    var("MISP_EXTRA_TAGS", &["misp", "extra_tags"], Kind::List),
    var(
        "MISP_REQUEST_TIMEOUT",
        &["misp", "request_timeout"],
        Kind::Scalar,
    ),
    var("MISP_USER_AGENT", &["misp", "user_agent"], Kind::Str),
    var("MISP_PROXY_SERVER", &["misp", "proxy_server"], Kind::Secret),
    var(
        "MISP_ADDITIONAL_HEADERS",
        &["misp", "additional_headers"],
        Kind::Map,
    ),
    var(
        "MISP_REFRESH_INTERVAL",
        &["misp", "refresh_interval"],
        Kind::Scalar,
    ),
    var(
        "MISP_FOUR_BYTE_CHARS",
        &["misp", "four_byte_chars"],
        Kind::Str,
    ),
    var("AMQP_URL", &["amqp", "url"], Kind::Secret),
    var("AMQP_HOST", &["amqp", "host"], Kind::Str),
    var("AMQP_PORT", &["amqp", "port"], Kind::Scalar),
    var("AMQP_USER", &["amqp", "user"], Kind::Str),
    var("AMQP_PASSWORD", &["amqp", "password"], Kind::Secret),
    var("AMQP_VHOST", &["amqp", "vhost"], Kind::Str),
    var("AMQP_USE_TLS", &["amqp", "use_tls"], Kind::Scalar),
    var("AMQP_QUEUE", &["amqp", "queue"], Kind::Str),
    var("AMQP_DECLARE", &["amqp", "declare"], Kind::Scalar),
    var("AMQP_QUEUE_TYPE", &["amqp", "queue_type"], Kind::Str),
    var(
        "AMQP_DEAD_LETTER_QUEUE",
        &["amqp", "dead_letter_queue"],
        Kind::Str,
    ),
    var("AMQP_RETRY_QUEUE", &["amqp", "retry_queue"], Kind::Str),
    var("AMQP_RESULTS_QUEUE", &["amqp", "results_queue"], Kind::Str),
    var("AMQP_PREFETCH", &["amqp", "prefetch"], Kind::Scalar),
    var("AMQP_HEARTBEAT", &["amqp", "heartbeat"], Kind::Scalar),
    var(
        "AMQP_CONNECTION_NAME",
        &["amqp", "connection_name"],
        Kind::Str,
    ),
    var(
        "AMQP_DELIVERY_LIMIT",
        &["amqp", "delivery_limit"],
        Kind::Scalar,
    ),
    var(
        "AMQP_RECONNECT_INITIAL_MS",
        &["amqp", "reconnect_initial_ms"],
        Kind::Scalar,
    ),
    var(
        "AMQP_RECONNECT_MAX",
        &["amqp", "reconnect_max"],
        Kind::Scalar,
    ),
    var("AMQP_TLS_CA_FILE", &["amqp", "tls", "ca_file"], Kind::Str),
    var("AMQP_TLS_VERIFY", &["amqp", "tls", "verify"], Kind::Scalar),
    var(
        "CONNECTOR_CONCURRENCY",
        &["connector", "concurrency"],
        Kind::Scalar,
    ),
    var(
        "CONNECTOR_MIN_CONCURRENCY",
        &["connector", "min_concurrency"],
        Kind::Scalar,
    ),
    var(
        "CONNECTOR_LATENCY_TARGET_MS",
        &["connector", "latency_target_ms"],
        Kind::Scalar,
    ),
    var(
        "CONNECTOR_MAX_ATTEMPTS",
        &["connector", "max_attempts"],
        Kind::Scalar,
    ),
    var(
        "CONNECTOR_IN_PROCESS_RETRIES",
        &["connector", "in_process_retries"],
        Kind::Scalar,
    ),
    var(
        "CONNECTOR_IN_PROCESS_RETRY_INITIAL_MS",
        &["connector", "in_process_retry_initial_ms"],
        Kind::Scalar,
    ),
    var(
        "CONNECTOR_RETRY_INITIAL_DELAY_MS",
        &["connector", "retry_initial_delay_ms"],
        Kind::Scalar,
    ),
    var(
        "CONNECTOR_RETRY_MAX_DELAY_MS",
        &["connector", "retry_max_delay_ms"],
        Kind::Scalar,
    ),
    var(
        "CONNECTOR_IN_PROCESS_RETRY_MAX_MS",
        &["connector", "in_process_retry_max_ms"],
        Kind::Scalar,
    ),
    var(
        "CONNECTOR_BREAKER_THRESHOLD",
        &["connector", "breaker_threshold"],
        Kind::Scalar,
    ),
    var(
        "CONNECTOR_BREAKER_COOLDOWN",
        &["connector", "breaker_cooldown"],
        Kind::Scalar,
    ),
    var(
        "CONNECTOR_SHUTDOWN_TIMEOUT",
        &["connector", "shutdown_timeout"],
        Kind::Scalar,
    ),
    var(
        "CONNECTOR_LOG_LEVEL",
        &["connector", "log_level"],
        Kind::Str,
    ),
    var(
        "CONNECTOR_LOG_FORMAT",
        &["connector", "log_format"],
        Kind::Str,
    ),
    var(
        "CONNECTOR_METRICS_PORT",
        &["connector", "metrics_port"],
        Kind::Scalar,
    ),
    var(
        "CONNECTOR_METRICS_BIND",
        &["connector", "metrics_bind"],
        Kind::Str,
    ),
    var("LIMITS_MAX_BYTES", &["limits", "max_bytes"], Kind::Scalar),
    var("LIMITS_MAX_DEPTH", &["limits", "max_depth"], Kind::Scalar),
    var(
        "LIMITS_MAX_OBJECTS",
        &["limits", "max_objects"],
        Kind::Scalar,
    ),
    var(
        "LIMITS_MAX_STRING_LEN",
        &["limits", "max_string_len"],
        Kind::Scalar,
    ),
];

/// Prefixes of the sections read from the environment.
const PREFIXES: &[&str] = &["MISP_", "AMQP_", "CONNECTOR_", "LIMITS_"];

/// Names other tools use for our settings (OpenCTI's misp-intel, PyMISP habits).
const ALIASES: &[(&str, &str)] = &[
    ("MISP_SSL_VERIFY", "MISP_SSL_CHECK"),
    ("MISP_VERIFY_SSL", "MISP_SSL_CHECK"),
    ("MISP_KEY", "MISP_API_KEY"),
    ("MISP_DISTRIBUTION_LEVEL", "MISP_DISTRIBUTION"),
    ("MISP_ORG_ID", "MISP_ORGANISATION_ID"),
    ("MISP_ORGANIZATION_ID", "MISP_ORGANISATION_ID"),
    ("MISP_TIMEOUT", "MISP_REQUEST_TIMEOUT"),
    ("MISP_PROXY", "MISP_PROXY_SERVER"),
    ("AMQP_PASS", "AMQP_PASSWORD"),
    ("AMQP_USERNAME", "AMQP_USER"),
];

/// Variables with one of our section prefixes that the connector does not read: one line each, with a hint
/// when the name is a known alias. Not an error (Kubernetes and Docker links inject `<SERVICE>_PORT`-style
/// variables), but worth a warning because a typo would otherwise pass silently.
pub(crate) fn unrecognised(env: &HashMap<String, String>) -> Vec<String> {
    let mut out: Vec<String> = env
        .keys()
        .filter(|name| PREFIXES.iter().any(|p| name.starts_with(p)))
        .filter(|name| {
            !ENV_VARS.iter().any(|v| {
                v.name == name.as_str()
                    || (v.kind == Kind::Secret && name.strip_suffix("_FILE") == Some(v.name))
            })
        })
        .map(
            |name| match ALIASES.iter().find(|(alias, _)| alias == name) {
                Some((_, ours)) => {
                    format!("{name} is not read by misp-connector (did you mean {ours}?)")
                }
                None => format!("{name} is not read by misp-connector"),
            },
        )
        .collect();
    out.sort();
    out
}

/// Largest secret file accepted (a key or URL is a few hundred bytes).
const MAX_SECRET_FILE: u64 = 64 * 1024;

/// The dotted config path of a variable (`misp.url`).
pub(crate) fn dotted(path: &[&str]) -> String {
    path.join(".")
}

/// Look up the value of `var`: the variable itself, or the trimmed content of the file named by `<NAME>_FILE`
/// for secrets. Empty values count as unset (compose files often carry `NAME=`).
fn lookup(var: &EnvVar, env: &HashMap<String, String>) -> Result<Option<String>, ConfigError> {
    let direct = env.get(var.name).filter(|v| !v.is_empty());
    if var.kind != Kind::Secret {
        return Ok(direct.cloned());
    }
    let file_var = format!("{}_FILE", var.name);
    let file = env.get(&file_var).filter(|v| !v.is_empty());
    match (direct, file) {
        (Some(_), Some(_)) => Err(ConfigError::EnvConflict {
            var: var.name,
            file_var,
        }),
        (Some(v), None) => Ok(Some(v.clone())),
        (None, None) => Ok(None),
        (None, Some(path)) => read_secret_file(&file_var, PathBuf::from(path)).map(Some),
    }
}

fn read_secret_file(file_var: &str, path: PathBuf) -> Result<String, ConfigError> {
    let fail = |message: String| ConfigError::SecretFile {
        var: file_var.to_string(),
        path: path.clone(),
        message,
    };
    let meta = std::fs::metadata(&path).map_err(|e| fail(e.to_string()))?;
    if meta.len() > MAX_SECRET_FILE {
        return Err(fail(format!(
            "file is {} bytes, more than the {MAX_SECRET_FILE} accepted for a secret",
            meta.len()
        )));
    }
    let text = std::fs::read_to_string(&path).map_err(|e| fail(e.to_string()))?;
    let trimmed = text.trim_end_matches(['\n', '\r']);
    if trimmed.is_empty() {
        return Err(fail("file is empty".to_string()));
    }
    Ok(trimmed.to_string())
}

/// Turn an environment string into a JSON value according to its kind.
fn typed(var: &EnvVar, raw: String) -> Result<Value, ConfigError> {
    let invalid = |message: String| ConfigError::Invalid {
        key: dotted(var.path),
        env: Some(var.name),
        message,
    };
    match var.kind {
        Kind::Str | Kind::Secret => Ok(Value::String(raw)),
        Kind::Scalar => Ok(resolve_scalar(&raw)),
        Kind::List => {
            let trimmed = raw.trim();
            if trimmed.starts_with('[') {
                match serde_json::from_str::<Value>(trimmed) {
                    Ok(v @ Value::Array(_)) => Ok(v),
                    Ok(_) | Err(_) => Err(invalid(
                        "not a JSON array of strings (or a comma-separated list)".to_string(),
                    )),
                }
            } else {
                Ok(Value::Array(
                    trimmed
                        .split(',')
                        .map(str::trim)
                        .filter(|s| !s.is_empty())
                        .map(|s| Value::String(s.to_string()))
                        .collect(),
                ))
            }
        }
        Kind::Map => match serde_json::from_str::<Value>(raw.trim()) {
            Ok(v @ Value::Object(_)) => Ok(v),
            Ok(_) => Err(invalid(
                "must be a JSON object, e.g. {\"X-Name\": \"value\"}".to_string(),
            )),
            Err(e) => Err(invalid(format!("not valid JSON ({e})"))),
        },
    }
}

/// Resolve a string the way a YAML plain scalar would be (`true`, `50`, `1.5`, `~`), falling back to the string
/// itself when YAML would read a collection or cannot parse it.
pub(crate) fn resolve_scalar(raw: &str) -> Value {
    match serde_saphyr::from_str::<Value>(raw) {
        Ok(v @ (Value::Bool(_) | Value::Number(_) | Value::Null)) => v,
        _ => Value::String(raw.to_string()),
    }
}

/// Overlay the environment on the YAML tree. Returns the config paths set from the environment, mapped to the
/// variable that set them (errors name the variable).
pub(crate) fn overlay(
    root: &mut Map<String, Value>,
    env: &HashMap<String, String>,
) -> Result<BTreeMap<String, &'static str>, ConfigError> {
    let mut from_env = BTreeMap::new();
    for var in ENV_VARS {
        let Some(raw) = lookup(var, env)? else {
            continue;
        };
        let value = typed(var, raw)?;
        set_path(root, var.path, value).map_err(|parent| ConfigError::Invalid {
            key: parent,
            env: Some(var.name),
            message: "is not a mapping in config.yml, cannot set a key below it".to_string(),
        })?;
        tracing::debug!(key = %dotted(var.path), env = var.name, "configuration value taken from the environment");
        from_env.insert(dotted(var.path), var.name);
    }
    Ok(from_env)
}

/// Set `path` in the tree, creating intermediate mappings. Err(dotted parent) when a parent is not a mapping.
fn set_path(root: &mut Map<String, Value>, path: &[&str], value: Value) -> Result<(), String> {
    let Some((last, parents)) = path.split_last() else {
        return Ok(());
    };
    let mut node = root;
    for (i, part) in parents.iter().enumerate() {
        let entry = node
            .entry((*part).to_string())
            .or_insert_with(|| Value::Object(Map::new()));
        if entry.is_null() {
            *entry = Value::Object(Map::new());
        }
        node = match entry {
            Value::Object(m) => m,
            _ => return Err(dotted(&path[..=i])),
        };
    }
    node.insert((*last).to_string(), value);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scalars_resolve_like_yaml() {
        assert_eq!(resolve_scalar("false"), Value::Bool(false));
        assert_eq!(resolve_scalar("True"), Value::Bool(true));
        assert_eq!(resolve_scalar("50"), Value::from(50));
        assert_eq!(resolve_scalar("0"), Value::from(0));
        assert_eq!(resolve_scalar("abc"), Value::from("abc"));
        assert_eq!(resolve_scalar("a: b"), Value::from("a: b"));
        assert_eq!(resolve_scalar("[1, 2]"), Value::from("[1, 2]"));
    }

    #[test]
    fn every_variable_is_section_key_and_unique() {
        let mut seen = std::collections::HashSet::new();
        for v in ENV_VARS {
            assert!(seen.insert(v.name), "duplicate {}", v.name);
            let expected = v.path.join("_").to_uppercase();
            assert_eq!(v.name, expected, "{} does not follow SECTION_KEY", v.name);
        }
    }

    #[test]
    fn lists_accept_json_and_commas() {
        let v = ENV_VARS
            .iter()
            .find(|v| v.name == "MISP_EXTRA_TAGS")
            .copied();
        let v = v.unwrap_or(var("MISP_EXTRA_TAGS", &["misp", "extra_tags"], Kind::List));
        assert_eq!(
            typed(&v, "a, b ,,c".into()).ok(),
            Some(serde_json::json!(["a", "b", "c"]))
        );
        assert_eq!(
            typed(&v, r#"["x,y", "z"]"#.into()).ok(),
            Some(serde_json::json!(["x,y", "z"]))
        );
        assert!(typed(&v, "[oops".into()).is_err());
    }

    #[test]
    fn unrecognised_variables_are_listed_with_hints() {
        let env: HashMap<String, String> = [
            ("MISP_SSL_VERIFY", "false"),
            ("MISP_URL", "x"),
            ("MISP_API_KEY_FILE", "/k"),
            ("MISP_URL_FILE", "/u"),
            ("PATH", "/bin"),
            ("CONNECTOR_ID", "x"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        assert_eq!(
            unrecognised(&env),
            vec![
                "CONNECTOR_ID is not read by misp-connector".to_string(),
                "MISP_SSL_VERIFY is not read by misp-connector (did you mean MISP_SSL_CHECK?)"
                    .to_string(),
                "MISP_URL_FILE is not read by misp-connector".to_string(),
            ]
        );
    }

    #[test]
    fn set_path_refuses_scalar_parent() {
        let mut root = Map::new();
        root.insert("amqp".into(), Value::from(1));
        assert_eq!(
            set_path(&mut root, &["amqp", "tls", "verify"], Value::Bool(true)),
            Err("amqp".to_string())
        );
    }
}
