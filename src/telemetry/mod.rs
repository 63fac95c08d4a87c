//! Operational edges: logs, Prometheus metrics and the `/metrics` `/healthz` `/readyz` HTTP server (BRIEF §8).
//!
//! Nothing here knows about stories, AMQP or MISP beyond the names of the things it counts; the worker and
//! the sync code report to [`metrics::Metrics`] and [`server::Readiness`], which are cheap to clone.

pub mod logging;
pub mod metrics;
pub mod server;
