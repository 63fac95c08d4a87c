//! `misp-connector run`: the queue worker.
//!
//! Loads the configuration, checks MISP (fail fast on a bad key or sharing group), starts the metrics/health
//! server, then consumes until SIGTERM/SIGINT. Exit 0 after a clean shutdown, 1 on a runtime failure,
//! 2 on invalid configuration.

use std::path::Path;

use misp_connector::config::Config;
use misp_connector::sync::startup::MetadataCache;
use misp_connector::sync::{SyncSettings, Syncer};
use misp_connector::telemetry::metrics::Metrics;
use misp_connector::telemetry::server::{Readiness, Server};
use misp_connector::worker::{Worker, WorkerError, WorkerSettings, connect};
use tokio_util::sync::CancellationToken;

use super::Exit;
use super::push::{build_client, init_logging, load_config, startup_exit, startup_settings};

/// The worker settings of a configuration (`amqp:`, `connector:`, `limits:` and the mapping options).
pub(super) fn worker_settings(config: &Config) -> Result<WorkerSettings, String> {
    config.worker_settings().map_err(|e| e.to_string())
}

/// `misp-connector run`.
pub fn run(config_path: Option<&Path>) -> Exit {
    let config = match load_config(config_path) {
        Ok(c) => c,
        Err(exit) => return exit,
    };
    init_logging(&config);
    let settings = match worker_settings(&config) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("misp-connector: invalid configuration: {e}");
            return Exit::Invalid;
        }
    };
    let client = match build_client(&config.misp) {
        Ok(c) => c,
        Err(exit) => return exit,
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
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
        let shutdown = CancellationToken::new();
        // Installed before anything else awaits, so an early SIGTERM is a clean shutdown too.
        let signals = match Signals::install() {
            Ok(s) => s,
            Err(e) => {
                eprintln!("misp-connector: cannot install the SIGTERM/SIGINT handlers: {e}");
                return Exit::Failure;
            }
        };
        tokio::spawn(signals.wait(shutdown.clone()));

        let metadata =
            match MetadataCache::start(client.clone(), startup_settings(&config.misp)).await {
                Ok(m) => m,
                Err(e) => {
                    eprintln!("misp-connector: MISP start-up check failed: {e}");
                    return startup_exit(&e);
                }
            };
        for w in metadata.current().warnings {
            tracing::warn!(warning = %w, "MISP start-up check");
        }
        let metrics = Metrics::new();
        let readiness = Readiness::new();
        readiness.set_misp_reachable(true);
        if let Some(addr) = config.connector.metrics_addr() {
            match Server::bind(addr).await {
                Ok(server) => {
                    let (m, r, t) = (metrics.clone(), readiness.clone(), shutdown.clone());
                    tokio::spawn(async move {
                        if let Err(e) = server.run(m, r, t).await {
                            tracing::error!(error = %e, "metrics server failed");
                        }
                    });
                }
                Err(e) => {
                    eprintln!("misp-connector: {e}");
                    return Exit::Failure;
                }
            }
        }
        {
            let (metadata, t) = (metadata.clone(), shutdown.clone());
            let interval = config.misp.refresh_interval;
            tokio::spawn(async move { metadata.run_refresh(interval, t).await });
        }
        let mut sync_settings = SyncSettings::new(config.misp.organisation_id.clone());
        sync_settings.can_publish = metadata.current().me.perm_publish.unwrap_or(true);
        let syncer = Syncer::new(client, sync_settings);
        let worker = match Worker::new(settings, syncer) {
            Ok(w) => w.with_metrics(metrics).with_readiness(readiness),
            Err(e) => {
                eprintln!("misp-connector: invalid configuration: {e}");
                return Exit::Invalid;
            }
        };
        match worker.run(shutdown).await {
            Ok(()) => Exit::Ok,
            Err(e @ WorkerError::Settings(_)) | Err(e @ WorkerError::CaFile { .. }) => {
                eprintln!("misp-connector: invalid configuration: {e}");
                Exit::Invalid
            }
            Err(e) => {
                eprintln!("misp-connector: {e}");
                Exit::Failure
            }
        }
    })
}

/// The SIGTERM/SIGINT handlers.
struct Signals {
    #[cfg(unix)]
    term: tokio::signal::unix::Signal,
    #[cfg(unix)]
    int: tokio::signal::unix::Signal,
}

impl Signals {
    /// Register the handlers (from inside the runtime).
    fn install() -> std::io::Result<Signals> {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            Ok(Signals {
                term: signal(SignalKind::terminate())?,
                int: signal(SignalKind::interrupt())?,
            })
        }
        #[cfg(not(unix))]
        {
            Ok(Signals {})
        }
    }

    /// Cancel `shutdown` on the first signal.
    async fn wait(mut self, shutdown: CancellationToken) {
        #[cfg(unix)]
        tokio::select! {
            _ = self.term.recv() => tracing::info!("SIGTERM received: shutting down"),
            _ = self.int.recv() => tracing::info!("SIGINT received: shutting down"),
        }
        #[cfg(not(unix))]
        if tokio::signal::ctrl_c().await.is_ok() {
            tracing::info!("Ctrl-C received: shutting down");
        }
        shutdown.cancel();
    }
}

/// `check`'s AMQP part: log in to the broker and look at the queue (passively: nothing is created).
pub(super) async fn check_amqp(config: &Config) -> Exit {
    let settings = match worker_settings(config) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("misp-connector: invalid configuration: {e}");
            return Exit::Invalid;
        }
    };
    let conn = match connect(&settings).await {
        Ok(c) => c,
        Err(e) => {
            eprintln!("misp-connector: AMQP check failed: {e}");
            return Exit::Failure;
        }
    };
    let exit = match conn.create_channel().await {
        Ok(ch) => {
            let passive = lapin::options::QueueDeclareOptions {
                passive: true,
                ..Default::default()
            };
            match ch
                .queue_declare(settings.queue.as_str().into(), passive, Default::default())
                .await
            {
                Ok(q) => {
                    println!(
                        "AMQP {} OK: queue {} holds {} message(s), {} consumer(s)",
                        settings.redacted_url(),
                        settings.queue,
                        q.message_count(),
                        q.consumer_count()
                    );
                    Exit::Ok
                }
                Err(_) if settings.declare => {
                    println!(
                        "AMQP {} OK: queue {} does not exist yet (amqp.declare creates it at start)",
                        settings.redacted_url(),
                        settings.queue
                    );
                    Exit::Ok
                }
                Err(e) => {
                    eprintln!(
                        "misp-connector: AMQP check failed: queue {} is not usable and amqp.declare is false: {e}",
                        settings.queue
                    );
                    Exit::Failure
                }
            }
        }
        Err(e) => {
            eprintln!("misp-connector: AMQP check failed: opening a channel: {e}");
            Exit::Failure
        }
    };
    let _ = conn.close(200, "check done".into()).await;
    exit
}
