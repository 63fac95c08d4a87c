//! Prometheus metrics of the connector, on an explicit registry (no global state, so tests stay isolated).
//!
//! [`Metrics`] is cheap to clone (one `Arc`) and is handed to the worker, the sync code and the HTTP server.
//! Every label value comes from a closed set or is normalised, so a hostile input cannot explode cardinality.
//!
//! | metric | type | labels | reported by |
//! |---|---|---|---|
//! | `misp_connector_stories_total` | counter | `outcome` (created, updated, proposed, unchanged, stale, failed) | [`Metrics::story_processed`] |
//! | `misp_connector_messages_received_total` | counter | – | [`Metrics::message_received`] |
//! | `misp_connector_messages_retried_total` | counter | `error_class` | [`Metrics::message_retried`] |
//! | `misp_connector_messages_dead_lettered_total` | counter | `error_class` | [`Metrics::message_dead_lettered`] |
//! | `misp_connector_misp_request_duration_seconds` | histogram | `endpoint`, `status` | [`Metrics::misp_request`] |
//! | `misp_connector_conversion_duration_seconds` | histogram | – | [`Metrics::conversion`] |
//! | `misp_connector_stories_in_flight` | gauge | – | [`Metrics::in_flight`] (guard) |
//! | `misp_connector_concurrency_limit` | gauge | – | [`Metrics::set_concurrency_limit`] |
//! | `misp_connector_circuit_breaker_state` | gauge | – (0 closed, 1 half-open, 2 open) | [`Metrics::set_circuit_breaker`] |
//! | `misp_connector_amqp_connected` | gauge | – (1 connected, 0 not) | [`Metrics::set_amqp_connected`] |
//! | `misp_connector_amqp_reconnects_total` | counter | – | [`Metrics::amqp_reconnected`] |
//! | `misp_connector_build_info` | gauge | `version` (always 1) | set at creation |

use std::sync::Arc;
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

use crate::error::ErrorClass;

/// Story outcomes counted by [`Metrics::story_processed`]; anything else is counted as `other`.
pub const OUTCOMES: &[&str] = &[
    "created",
    "updated",
    "proposed",
    "unchanged",
    "stale",
    "failed",
];

/// State of the MISP circuit breaker, exported as 0 / 1 / 2.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BreakerState {
    /// Requests flow normally.
    Closed = 0,
    /// One probe request is allowed through.
    HalfOpen = 1,
    /// MISP is considered down; the worker stops pulling.
    Open = 2,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabels {
    outcome: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ClassLabels {
    error_class: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    endpoint: String,
    status: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct VersionLabels {
    version: &'static str,
}

fn request_histogram() -> Histogram {
    // 5 ms … ~82 s: MISP answers in 0.1–2 s normally (BRIEF §9), timeouts sit at tens of seconds.
    Histogram::new(exponential_buckets(0.005, 2.0, 15))
}

struct Inner {
    registry: Registry,
    stories: Family<OutcomeLabels, Counter>,
    received: Counter,
    retried: Family<ClassLabels, Counter>,
    dead_lettered: Family<ClassLabels, Counter>,
    misp_requests: Family<RequestLabels, Histogram, fn() -> Histogram>,
    conversion: Histogram,
    in_flight: Gauge,
    concurrency_limit: Gauge,
    breaker: Gauge,
    amqp_connected: Gauge,
    amqp_reconnects: Counter,
}

/// The connector's metrics. Clone freely: all clones share one registry.
#[derive(Clone)]
pub struct Metrics {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

impl Metrics {
    /// A fresh registry with every metric registered (prefix `misp_connector_`).
    pub fn new() -> Metrics {
        let mut registry = Registry::with_prefix("misp_connector");
        let stories = Family::<OutcomeLabels, Counter>::default();
        registry.register("stories", "Stories processed, by outcome", stories.clone());
        let received = Counter::default();
        registry.register(
            "messages_received",
            "AMQP deliveries received",
            received.clone(),
        );
        let retried = Family::<ClassLabels, Counter>::default();
        registry.register(
            "messages_retried",
            "Messages scheduled for another attempt, by error class",
            retried.clone(),
        );
        let dead_lettered = Family::<ClassLabels, Counter>::default();
        registry.register(
            "messages_dead_lettered",
            "Messages sent to the dead-letter queue, by error class",
            dead_lettered.clone(),
        );
        let misp_requests: Family<RequestLabels, Histogram, fn() -> Histogram> =
            Family::new_with_constructor(request_histogram);
        registry.register(
            "misp_request_duration_seconds",
            "Duration of MISP HTTP requests, by endpoint template and status (\"error\" = no response)",
            misp_requests.clone(),
        );
        let conversion = Histogram::new(exponential_buckets(0.000_05, 2.0, 16));
        registry.register(
            "conversion_duration_seconds",
            "Duration of converting one bundle to MISP events",
            conversion.clone(),
        );
        let in_flight = Gauge::default();
        registry.register(
            "stories_in_flight",
            "Stories currently being processed",
            in_flight.clone(),
        );
        let concurrency_limit = Gauge::default();
        registry.register(
            "concurrency_limit",
            "Current adaptive limit of stories in flight",
            concurrency_limit.clone(),
        );
        let breaker = Gauge::default();
        registry.register(
            "circuit_breaker_state",
            "MISP circuit breaker: 0 closed, 1 half-open, 2 open",
            breaker.clone(),
        );
        let amqp_connected = Gauge::default();
        registry.register(
            "amqp_connected",
            "1 while the AMQP connection is up",
            amqp_connected.clone(),
        );
        let amqp_reconnects = Counter::default();
        registry.register(
            "amqp_reconnects",
            "AMQP reconnections after a lost connection",
            amqp_reconnects.clone(),
        );
        let build_info = Family::<VersionLabels, Gauge>::default();
        build_info
            .get_or_create(&VersionLabels {
                version: env!("CARGO_PKG_VERSION"),
            })
            .set(1);
        registry.register("build_info", "Version of the connector", build_info);
        Metrics {
            inner: Arc::new(Inner {
                registry,
                stories,
                received,
                retried,
                dead_lettered,
                misp_requests,
                conversion,
                in_flight,
                concurrency_limit,
                breaker,
                amqp_connected,
                amqp_reconnects,
            }),
        }
    }

    /// Count one story with its outcome: `created`, `updated`, `proposed`, `unchanged`, `stale` or `failed`
    /// (`crate::sync::Action::as_str()` gives the first five). Unknown values are counted as `other`.
    pub fn story_processed(&self, outcome: &str) {
        let outcome = OUTCOMES
            .iter()
            .copied()
            .find(|o| *o == outcome)
            .unwrap_or("other");
        self.inner
            .stories
            .get_or_create(&OutcomeLabels { outcome })
            .inc();
    }

    /// Count one AMQP delivery.
    pub fn message_received(&self) {
        self.inner.received.inc();
    }

    /// Count one message scheduled for retry after an error of `class`.
    pub fn message_retried(&self, class: ErrorClass) {
        self.inner
            .retried
            .get_or_create(&ClassLabels {
                error_class: class.as_str(),
            })
            .inc();
    }

    /// Count one message sent to the dead-letter queue after an error of `class`.
    pub fn message_dead_lettered(&self, class: ErrorClass) {
        self.inner
            .dead_lettered
            .get_or_create(&ClassLabels {
                error_class: class.as_str(),
            })
            .inc();
    }

    /// Record one MISP request. `endpoint` should be a template such as `/events/view/{id}`; numeric and
    /// uuid path segments are replaced by `{id}` anyway. `status` is the HTTP status, `None` when no response
    /// arrived (timeout, connection error).
    pub fn misp_request(&self, endpoint: &str, status: Option<u16>, duration: Duration) {
        let labels = RequestLabels {
            endpoint: endpoint_template(endpoint),
            status: status.map_or_else(|| "error".to_string(), |s| s.to_string()),
        };
        self.inner
            .misp_requests
            .get_or_create(&labels)
            .observe(duration.as_secs_f64());
    }

    /// Record the time spent converting one bundle.
    pub fn conversion(&self, duration: Duration) {
        self.inner.conversion.observe(duration.as_secs_f64());
    }

    /// Mark one story as in flight until the returned guard is dropped.
    pub fn in_flight(&self) -> InFlight {
        self.inner.in_flight.inc();
        InFlight {
            gauge: self.inner.in_flight.clone(),
        }
    }

    /// Publish the current adaptive concurrency limit.
    pub fn set_concurrency_limit(&self, limit: usize) {
        self.inner
            .concurrency_limit
            .set(i64::try_from(limit).unwrap_or(i64::MAX));
    }

    /// Publish the state of the MISP circuit breaker.
    pub fn set_circuit_breaker(&self, state: BreakerState) {
        self.inner.breaker.set(state as i64);
    }

    /// Publish whether the AMQP connection is up.
    pub fn set_amqp_connected(&self, connected: bool) {
        self.inner.amqp_connected.set(i64::from(connected));
    }

    /// Count one reconnection to the broker.
    pub fn amqp_reconnected(&self) {
        self.inner.amqp_reconnects.inc();
    }

    /// The registry in OpenMetrics text format (what `/metrics` serves).
    pub fn encode(&self) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail; an encoding error would only drop the output.
        if prometheus_client::encoding::text::encode(&mut out, &self.inner.registry).is_err() {
            out.clear();
        }
        out
    }
}

/// Decrements the in-flight gauge when dropped (also on early return or panic unwinding).
#[derive(Debug)]
pub struct InFlight {
    gauge: Gauge,
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.gauge.dec();
    }
}

/// Replace id-like path segments (numbers, uuids, long hex) with `{id}` and drop any query, so label values
/// stay bounded even when a caller passes a concrete path.
fn endpoint_template(endpoint: &str) -> String {
    let path = endpoint.split(['?', '#']).next().unwrap_or("");
    let mut out: String = path
        .split('/')
        .map(|seg| {
            let id_like = !seg.is_empty()
                && (seg.bytes().all(|b| b.is_ascii_digit())
                    || (seg.len() >= 16
                        && seg.bytes().all(|b| b.is_ascii_hexdigit() || b == b'-')));
            if id_like { "{id}" } else { seg }
        })
        .collect::<Vec<_>>()
        .join("/");
    out.truncate(128);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_are_templated() {
        assert_eq!(endpoint_template("/events/view/12"), "/events/view/{id}");
        assert_eq!(
            endpoint_template("/events/view/0f5b4a5e-8a51-4c0a-9c39-3c3d0a3b0c5e"),
            "/events/view/{id}"
        );
        assert_eq!(
            endpoint_template("/shadow_attributes/index/7?all=1"),
            "/shadow_attributes/index/{id}"
        );
        assert_eq!(
            endpoint_template("/servers/getVersion"),
            "/servers/getVersion"
        );
    }

    #[test]
    fn counts_show_up_in_text() {
        let m = Metrics::new();
        m.story_processed("created");
        m.story_processed("created");
        m.story_processed("bogus");
        m.message_retried(ErrorClass::Transient);
        m.misp_request("/events/add", Some(200), Duration::from_millis(150));
        let text = m.encode();
        assert!(
            text.contains("misp_connector_stories_total{outcome=\"created\"} 2"),
            "{text}"
        );
        assert!(
            text.contains("misp_connector_stories_total{outcome=\"other\"} 1"),
            "{text}"
        );
        assert!(
            text.contains("misp_connector_messages_retried_total{error_class=\"transient\"} 1"),
            "{text}"
        );
        assert!(text.contains("misp_connector_misp_request_duration_seconds_count{endpoint=\"/events/add\",status=\"200\"} 1"), "{text}");
        assert!(
            text.contains("misp_connector_build_info{version=\""),
            "{text}"
        );
    }

    #[test]
    fn in_flight_guard_decrements() {
        let m = Metrics::new();
        let a = m.in_flight();
        let b = m.in_flight();
        assert!(m.encode().contains("misp_connector_stories_in_flight 2"));
        drop(a);
        drop(b);
        assert!(m.encode().contains("misp_connector_stories_in_flight 0"));
    }
}
