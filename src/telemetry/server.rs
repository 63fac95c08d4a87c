//! The metrics and health HTTP server: `/metrics` (Prometheus/OpenMetrics text), `/healthz` (liveness) and
//! `/readyz` (readiness: AMQP connected and MISP reachable).
//!
//! It binds to `connector.metrics_bind:connector.metrics_port` and stops when the shutdown token is cancelled.
//! The endpoints are read-only and expose no secrets.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::Serialize;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use super::metrics::Metrics;

/// Content type of the OpenMetrics text format produced by `prometheus-client`.
pub const METRICS_CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// What `/readyz` reports. Shared (cheap clone) between the worker, the MISP client and the server.
#[derive(Debug, Clone, Default)]
pub struct Readiness {
    inner: Arc<ReadinessInner>,
}

#[derive(Debug, Default)]
struct ReadinessInner {
    amqp_connected: AtomicBool,
    misp_reachable: AtomicBool,
}

/// The JSON body of `/readyz`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct ReadinessReport {
    pub ready: bool,
    pub amqp_connected: bool,
    pub misp_reachable: bool,
    /// Why the worker is not ready (empty when ready).
    pub reasons: Vec<String>,
}

impl Readiness {
    /// Both flags start false: not ready until the worker says so.
    pub fn new() -> Readiness {
        Readiness::default()
    }

    /// Set by the worker when the AMQP connection and channel are up (and cleared when lost).
    pub fn set_amqp_connected(&self, up: bool) {
        self.inner.amqp_connected.store(up, Ordering::Relaxed);
    }

    /// Set from MISP calls: true after a successful request, false when MISP is unreachable (circuit open).
    pub fn set_misp_reachable(&self, up: bool) {
        self.inner.misp_reachable.store(up, Ordering::Relaxed);
    }

    /// The current state.
    pub fn report(&self) -> ReadinessReport {
        let amqp_connected = self.inner.amqp_connected.load(Ordering::Relaxed);
        let misp_reachable = self.inner.misp_reachable.load(Ordering::Relaxed);
        let mut reasons = Vec::new();
        if !amqp_connected {
            reasons.push("AMQP connection is not established".to_string());
        }
        if !misp_reachable {
            reasons.push("MISP is not reachable".to_string());
        }
        ReadinessReport {
            ready: amqp_connected && misp_reachable,
            amqp_connected,
            misp_reachable,
            reasons,
        }
    }

    /// True when AMQP is connected and MISP reachable.
    pub fn is_ready(&self) -> bool {
        self.report().ready
    }
}

/// Why the server could not run.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error(
        "metrics server: cannot bind {addr} (connector.metrics_bind / connector.metrics_port): {source}"
    )]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("metrics server: {0}")]
    Io(#[from] std::io::Error),
}

#[derive(Clone)]
struct AppState {
    metrics: Metrics,
    readiness: Readiness,
}

/// The router, for embedding or testing without a socket.
pub fn router(metrics: Metrics, readiness: Readiness) -> Router {
    Router::new()
        .route("/metrics", get(metrics_handler))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .with_state(AppState { metrics, readiness })
}

async fn metrics_handler(State(state): State<AppState>) -> Response {
    (
        [(header::CONTENT_TYPE, METRICS_CONTENT_TYPE)],
        state.metrics.encode(),
    )
        .into_response()
}

async fn healthz() -> Response {
    (
        StatusCode::OK,
        axum::Json(serde_json::json!({"status": "alive"})),
    )
        .into_response()
}

async fn readyz(State(state): State<AppState>) -> Response {
    let report = state.readiness.report();
    let status = if report.ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, axum::Json(report)).into_response()
}

/// A bound but not yet running server: bind first so a busy port fails at start, then [`Server::run`].
#[derive(Debug)]
pub struct Server {
    listener: TcpListener,
}

impl Server {
    /// Bind the listening socket (port 0 picks a free port; see [`Server::local_addr`]).
    pub async fn bind(addr: SocketAddr) -> Result<Server, ServerError> {
        let listener = TcpListener::bind(addr)
            .await
            .map_err(|source| ServerError::Bind { addr, source })?;
        Ok(Server { listener })
    }

    /// The address actually bound.
    pub fn local_addr(&self) -> Result<SocketAddr, ServerError> {
        Ok(self.listener.local_addr()?)
    }

    /// Serve until `shutdown` is cancelled.
    pub async fn run(
        self,
        metrics: Metrics,
        readiness: Readiness,
        shutdown: CancellationToken,
    ) -> Result<(), ServerError> {
        if let Ok(addr) = self.listener.local_addr() {
            tracing::info!(%addr, "metrics and health server listening");
        }
        axum::serve(self.listener, router(metrics, readiness))
            .with_graceful_shutdown(shutdown.cancelled_owned())
            .await?;
        Ok(())
    }
}

/// Bind `bind` and serve `/metrics`, `/healthz`, `/readyz` until `shutdown` is cancelled.
pub async fn serve(
    bind: SocketAddr,
    metrics: Metrics,
    readiness: Readiness,
    shutdown: CancellationToken,
) -> Result<(), ServerError> {
    Server::bind(bind)
        .await?
        .run(metrics, readiness, shutdown)
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn readiness_needs_both() {
        let r = Readiness::new();
        assert!(!r.is_ready());
        assert_eq!(r.report().reasons.len(), 2);
        r.set_amqp_connected(true);
        assert!(!r.is_ready());
        assert_eq!(
            r.report().reasons,
            vec!["MISP is not reachable".to_string()]
        );
        r.clone().set_misp_reachable(true);
        assert!(r.is_ready());
        assert!(r.report().reasons.is_empty());
    }
}
