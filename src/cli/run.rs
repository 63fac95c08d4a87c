//! `misp-connector run`: the queue worker.
//!
//! Loads the configuration, checks MISP (fail fast on a bad key or sharing group), starts the metrics/health
//! server, then consumes until SIGTERM/SIGINT. Exit 0 after a clean shutdown, 1 on a runtime failure,
//! 2 on invalid configuration.

use std::path::Path;
use std::time::Duration;

use misp_connector::config::{self, Config};
use misp_connector::sync::startup::MetadataCache;
use misp_connector::sync::{SyncSettings, Syncer};
use misp_connector::telemetry::metrics::Metrics;
use misp_connector::telemetry::server::{Readiness, Server};
use misp_connector::worker::{
    BreakerState, QueueType, TlsSettings, Worker, WorkerError, WorkerSettings,
};
use secrecy::ExposeSecret;
use tokio_util::sync::CancellationToken;

use super::Exit;
use super::push::{build_client, init_logging, load_config, startup_exit, startup_settings};

/// The worker settings of a configuration (`amqp:`, `connector:`, `limits:` and the mapping options).
pub(super) fn worker_settings(config: &Config) -> Result<WorkerSettings, String> {
    let amqp = config.amqp().map_err(|e| e.to_string())?;
    if !amqp.tls.verify {
        return Err(
            "amqp.tls.verify: turning TLS verification off is not supported by the AMQP client; \
             trust a private CA with amqp.tls.ca_file instead"
                .into(),
        );
    }
    let c = &config.connector;
    let mut s = WorkerSettings::new(amqp.url.expose_secret(), amqp.queue.clone());
    s.declare = amqp.declare;
    s.queue_type = match amqp.queue_type {
        config::QueueType::Quorum => QueueType::Quorum,
        config::QueueType::Classic => QueueType::Classic,
    };
    s.dlq = amqp.dead_letter_queue.clone();
    s.retry_queue = amqp.retry_queue.clone();
    s.results_queue = amqp.results_queue.clone();
    s.prefetch = amqp.prefetch;
    s.heartbeat = u16::try_from(amqp.heartbeat.as_secs()).unwrap_or(u16::MAX);
    s.tls = TlsSettings {
        ca_file: amqp.tls.ca_file.clone(),
    };
    s.connection_name = amqp.connection_name.clone();
    s.concurrency = c.concurrency;
    s.max_attempts = c.max_attempts;
    s.retry_delay_initial = c.retry_initial_delay;
    s.retry_delay_max = c.retry_max_delay;
    s.backoff_in_process_max = c.in_process_retry_max;
    s.backoff_initial = s.backoff_initial.min(c.in_process_retry_max);
    s.shutdown_deadline = c.shutdown_timeout;
    s.convert = config.convert_options();
    s.validate().map_err(|e| e.to_string())?;
    Ok(s)
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
        tokio::spawn(wait_for_signal(shutdown.clone()));

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
        let syncer = Syncer::new(
            client,
            SyncSettings::new(config.misp.organisation_id.clone()),
        );
        let worker = match Worker::new(settings, syncer) {
            Ok(w) => w.with_metrics(metrics),
            Err(e) => {
                eprintln!("misp-connector: invalid configuration: {e}");
                return Exit::Invalid;
            }
        };
        let state = worker.state();
        {
            let t = shutdown.clone();
            tokio::spawn(async move {
                loop {
                    readiness.set_amqp_connected(state.is_connected());
                    readiness.set_misp_reachable(state.breaker.state() != BreakerState::Open);
                    tokio::select! {
                        _ = t.cancelled() => return,
                        _ = tokio::time::sleep(Duration::from_millis(500)) => {}
                    }
                }
            });
        }
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

/// Cancel `shutdown` on SIGTERM or SIGINT.
async fn wait_for_signal(shutdown: CancellationToken) {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let (mut term, mut int) = match (
            signal(SignalKind::terminate()),
            signal(SignalKind::interrupt()),
        ) {
            (Ok(t), Ok(i)) => (t, i),
            _ => {
                tracing::error!("cannot install the SIGTERM/SIGINT handlers");
                return;
            }
        };
        tokio::select! {
            _ = term.recv() => tracing::info!("SIGTERM received: shutting down"),
            _ = int.recv() => tracing::info!("SIGINT received: shutting down"),
        }
    }
    #[cfg(not(unix))]
    {
        if tokio::signal::ctrl_c().await.is_ok() {
            tracing::info!("Ctrl-C received: shutting down");
        }
    }
    shutdown.cancel();
}
