//! `misp-connector push [FILE|-]`: convert a bundle and sync each story straight to MISP (no queue).
//!
//! Needs only the `misp:` configuration. Prints one JSON line per story on stdout:
//! `{"story_id","misp_event_uuid","misp_event_id","action"}`, or `"action":"failed"` with `"error"`.
//! Exit 0 when every story synced, 1 on a runtime/MISP failure, 2 on invalid input or configuration.

use std::collections::HashMap;
use std::path::Path;

use misp_connector::config::{Config, MispConfig};
use misp_connector::convert::{ConvertOptions, convert};
use misp_connector::error::Classify;
use misp_connector::misp::client::{ClientSettings, MispClient};
use misp_connector::sync::{StartupError, StartupSettings, SyncSettings, Syncer, startup};

use super::Exit;

/// Load the configuration (file + environment) or report it and return exit code 2.
pub(super) fn load_config(path: Option<&Path>) -> Result<Config, Exit> {
    let env: HashMap<String, String> = std::env::vars_os()
        .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
        .collect();
    let path = path.map(Path::to_path_buf).or_else(|| {
        env.get(misp_connector::config::CONFIG_FILE_ENV)
            .filter(|p| !p.is_empty())
            .map(std::path::PathBuf::from)
    });
    Config::load(path.as_deref(), &env).map_err(|e| {
        eprintln!("misp-connector: invalid configuration: {e}");
        Exit::Invalid
    })
}

/// Install the logger from the configuration (stderr); a second install is harmless.
pub(super) fn init_logging(config: &Config) {
    use misp_connector::telemetry::logging::{LoggingError, init};
    match init(&config.connector.log_level, config.connector.log_format) {
        Ok(()) | Err(LoggingError::AlreadyInstalled) => {}
        // e.g. an invalid RUST_LOG: say so instead of running without logs.
        Err(e) => eprintln!("misp-connector: logging not set up: {e}"),
    }
    for warning in config.ignored_environment() {
        tracing::warn!("{warning}");
    }
}

/// The MISP client settings of a `misp:` configuration.
pub(super) fn client_settings(misp: &MispConfig) -> ClientSettings {
    misp.client_settings()
}

/// The start-up check settings of a `misp:` configuration.
pub(super) fn startup_settings(misp: &MispConfig) -> StartupSettings {
    StartupSettings {
        organisation_id: misp.organisation_id.clone(),
        distribution: misp.distribution,
        sharing_group_id: misp.sharing_group_id,
        publish: misp.publish,
    }
}

/// Exit code for a failed start-up check: configuration problems are 2, unreachable MISP is 1.
pub(super) fn startup_exit(e: &StartupError) -> Exit {
    if e.is_config() {
        Exit::Invalid
    } else {
        Exit::Failure
    }
}

/// Build the client, reporting a bad setting with exit code 2.
pub(super) fn build_client(misp: &MispConfig) -> Result<MispClient, Exit> {
    MispClient::new(&client_settings(misp)).map_err(|e| {
        eprintln!("misp-connector: invalid MISP settings: {}", e.message);
        Exit::Invalid
    })
}

/// `misp-connector push`.
pub fn push(config: Option<&Path>, file: &str) -> Exit {
    let config = match load_config(config) {
        Ok(c) => c,
        Err(exit) => return exit,
    };
    init_logging(&config);
    let opts: ConvertOptions = config.convert_options();
    let bytes = match super::convert::read_input(file, opts.limits.max_bytes) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("misp-connector: {e}");
            return Exit::Invalid;
        }
    };
    let conversion = match convert(&bytes, &opts) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("misp-connector: {file}: {e}");
            return Exit::Invalid;
        }
    };
    for w in &conversion.warnings {
        tracing::warn!(warning = %w, "conversion warning");
    }
    let client = match build_client(&config.misp) {
        Ok(c) => c,
        Err(exit) => return exit,
    };
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("misp-connector: cannot start the async runtime: {e}");
            return Exit::Failure;
        }
    };
    runtime.block_on(async move {
        let meta = match startup::check(&client, &startup_settings(&config.misp)).await {
            Ok(m) => m,
            Err(e) => {
                eprintln!("misp-connector: MISP start-up check failed: {e}");
                return startup_exit(&e);
            }
        };
        let mut settings = SyncSettings::new(config.misp.organisation_id.clone());
        settings.can_publish = meta.me.perm_publish.unwrap_or(true);
        let syncer = Syncer::new(client, settings);
        let mut exit = Exit::Ok;
        for converted in &conversion.stories {
            let line = match syncer.sync(converted).await {
                Ok(outcome) => serde_json::json!({
                    "story_id": outcome.story_id,
                    "misp_event_uuid": outcome.misp_event_uuid,
                    "misp_event_id": outcome.misp_event_id,
                    "action": outcome.action,
                }),
                Err(e) => {
                    exit = Exit::Failure;
                    serde_json::json!({
                        "story_id": converted.story.id,
                        "misp_event_uuid": converted.event.uuid,
                        "misp_event_id": null,
                        "action": "failed",
                        "error": e.message,
                        "error_class": e.class().as_str(),
                    })
                }
            };
            println!("{line}");
        }
        exit
    })
}
