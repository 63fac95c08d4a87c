//! Process-wide logging: JSON lines (one object per line, for log shippers) or human-readable text, on stderr.
//!
//! Standard output is reserved for command results (`convert`, `push`), so logs always go to stderr.
//! The level comes from `connector.log_level`; a non-empty `RUST_LOG` overrides it, as Rust operators expect.
//! JSON lines carry `timestamp`, `level`, `target`, the event fields (flattened, `message` included) and
//! the fields of the enclosing spans under `spans` (e.g. `story_id`, `message_id`).

use std::io::IsTerminal;

use serde::Deserialize;
use tracing::Subscriber;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;

/// Output format of the logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LogFormat {
    /// One JSON object per line (default).
    #[default]
    Json,
    /// Human-readable lines, coloured on a terminal.
    Pretty,
}

/// Why logging could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum LoggingError {
    #[error("RUST_LOG: invalid filter: {0}")]
    RustLog(String),
    #[error("connector.log_level: invalid filter: {0}")]
    Level(String),
    #[error("a global logger is already installed")]
    AlreadyInstalled,
}

/// Check a configured level and return it in canonical form: `INFO` → `info`, `warning` → `warn`
/// (OpenCTI spelling); full `tracing` directives such as `info,lapin=warn` are accepted as they are.
pub fn normalise_level(level: &str) -> Result<String, String> {
    let trimmed = level.trim();
    let lower = trimmed.to_ascii_lowercase();
    let canonical = match lower.as_str() {
        "warning" => "warn".to_string(),
        "trace" | "debug" | "info" | "warn" | "error" | "off" => lower,
        _ => trimmed.to_string(),
    };
    if canonical.is_empty() {
        return Err(
            "must not be empty (trace, debug, info, warn, error or a tracing directive)".into(),
        );
    }
    // A bare word that is not a level would parse as a target name and silence everything else.
    if !canonical.contains(['=', ','])
        && !matches!(
            canonical.as_str(),
            "trace" | "debug" | "info" | "warn" | "error" | "off"
        )
    {
        return Err(format!(
            "'{canonical}' is not a level (trace, debug, info, warn, error, off) nor a directive like 'info,lapin=warn'"
        ));
    }
    EnvFilter::try_new(&canonical).map_err(|e| {
        format!("'{canonical}' is not a level (trace, debug, info, warn, error) nor a tracing directive ({e})")
    })?;
    Ok(canonical)
}

/// The filter in force: `rust_log` when set and non-empty, otherwise `level`.
pub fn filter(level: &str, rust_log: Option<&str>) -> Result<EnvFilter, LoggingError> {
    match rust_log.map(str::trim).filter(|s| !s.is_empty()) {
        Some(directives) => {
            EnvFilter::try_new(directives).map_err(|e| LoggingError::RustLog(e.to_string()))
        }
        None => {
            let level = normalise_level(level).map_err(LoggingError::Level)?;
            EnvFilter::try_new(level).map_err(|e| LoggingError::Level(e.to_string()))
        }
    }
}

/// Build a subscriber writing to `writer` (tests capture output with it; [`init`] uses stderr).
pub fn subscriber<W>(
    filter: EnvFilter,
    format: LogFormat,
    writer: W,
    ansi: bool,
) -> Box<dyn Subscriber + Send + Sync>
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer)
        .with_target(true);
    match format {
        LogFormat::Json => Box::new(
            builder
                .json()
                .flatten_event(true)
                .with_current_span(false)
                .with_span_list(true)
                .finish(),
        ),
        LogFormat::Pretty => Box::new(builder.with_ansi(ansi).finish()),
    }
}

/// Install the global logger: `level` from configuration unless `RUST_LOG` is set, logs on stderr.
pub fn init(level: &str, format: LogFormat) -> Result<(), LoggingError> {
    let rust_log = std::env::var("RUST_LOG").ok();
    let filter = filter(level, rust_log.as_deref())?;
    let ansi = std::io::stderr().is_terminal();
    tracing::subscriber::set_global_default(subscriber(filter, format, std::io::stderr, ansi))
        .map_err(|_| LoggingError::AlreadyInstalled)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_normalise() {
        assert_eq!(normalise_level("INFO").as_deref(), Ok("info"));
        assert_eq!(normalise_level("warning").as_deref(), Ok("warn"));
        assert_eq!(
            normalise_level("info,lapin=warn").as_deref(),
            Ok("info,lapin=warn")
        );
        assert!(normalise_level("").is_err());
        assert!(normalise_level("loud").is_err());
    }

    #[test]
    fn rust_log_overrides_level() {
        let f = filter("info", Some("debug")).map(|f| f.to_string());
        assert_eq!(f.ok().as_deref(), Some("debug"));
        let f = filter("info", Some("  ")).map(|f| f.to_string());
        assert_eq!(f.ok().as_deref(), Some("info"));
        assert!(matches!(
            filter("info", Some("=[bad")),
            Err(LoggingError::RustLog(_))
        ));
    }
}
