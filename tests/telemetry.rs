//! The metrics/health server over real HTTP, and the JSON log format.

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use misp_connector::error::ErrorClass;
use misp_connector::telemetry::logging::{self, LogFormat};
use misp_connector::telemetry::metrics::{BreakerState, Metrics};
use misp_connector::telemetry::server::{METRICS_CONTENT_TYPE, Readiness, ReadinessReport, Server};
use tokio_util::sync::CancellationToken;

async fn get(client: &reqwest::Client, url: String) -> (u16, String, String) {
    let resp = client
        .get(&url)
        .send()
        .await
        .unwrap_or_else(|e| panic!("GET {url}: {e}"));
    let status = resp.status().as_u16();
    let ctype = resp
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let body = resp.text().await.unwrap_or_default();
    (status, ctype, body)
}

/// The value of the sample line starting with `series ` in Prometheus text.
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

#[tokio::test]
async fn endpoints_report_live_values_and_stop_on_shutdown() {
    let metrics = Metrics::new();
    let readiness = Readiness::new();
    let shutdown = CancellationToken::new();
    let server = Server::bind("127.0.0.1:0".parse().unwrap_or_else(|e| panic!("{e}")))
        .await
        .unwrap_or_else(|e| panic!("bind: {e}"));
    let addr = server.local_addr().unwrap_or_else(|e| panic!("{e}"));
    let task = tokio::spawn(server.run(metrics.clone(), readiness.clone(), shutdown.clone()));
    let base = format!("http://{addr}");
    let client = reqwest::Client::new();

    let (status, _, body) = get(&client, format!("{base}/healthz")).await;
    assert_eq!(status, 200, "{body}");

    // Not ready at start: 503 with both reasons.
    let (status, ctype, body) = get(&client, format!("{base}/readyz")).await;
    assert_eq!(status, 503);
    assert!(ctype.starts_with("application/json"), "{ctype}");
    let report: ReadinessReport =
        serde_json::from_str(&body).unwrap_or_else(|e| panic!("{e}: {body}"));
    assert!(!report.ready && !report.amqp_connected && !report.misp_reachable);
    assert_eq!(report.reasons.len(), 2, "{body}");

    readiness.set_amqp_connected(true);
    let (status, _, body) = get(&client, format!("{base}/readyz")).await;
    assert_eq!(status, 503);
    assert!(body.contains("MISP is not reachable"), "{body}");
    readiness.set_misp_reachable(true);
    let (status, _, body) = get(&client, format!("{base}/readyz")).await;
    assert_eq!(status, 200, "{body}");
    readiness.set_amqp_connected(false);
    let (status, _, body) = get(&client, format!("{base}/readyz")).await;
    assert_eq!(status, 503);
    assert!(body.contains("AMQP"), "{body}");

    // Metrics change between scrapes.
    let (status, ctype, before) = get(&client, format!("{base}/metrics")).await;
    assert_eq!(status, 200);
    assert_eq!(ctype, METRICS_CONTENT_TYPE);
    assert!(before.ends_with("# EOF\n"), "{before}");
    assert_eq!(
        sample(&before, "misp_connector_stories_total{outcome=\"created\"}"),
        None
    );
    assert_eq!(
        sample(&before, "misp_connector_stories_in_flight"),
        Some(0.0)
    );

    metrics.story_processed("created");
    metrics.story_processed("created");
    metrics.story_processed("failed");
    metrics.message_received();
    metrics.message_retried(ErrorClass::Transient);
    metrics.message_dead_lettered(ErrorClass::Permanent);
    metrics.misp_request("/events/view/42", Some(404), Duration::from_millis(20));
    metrics.misp_request("/events/add", None, Duration::from_secs(30));
    metrics.conversion(Duration::from_micros(300));
    metrics.set_concurrency_limit(12);
    metrics.set_circuit_breaker(BreakerState::Open);
    metrics.set_amqp_connected(true);
    metrics.amqp_reconnected();
    let guard = metrics.in_flight();

    let (_, _, after) = get(&client, format!("{base}/metrics")).await;
    let expect = [
        ("misp_connector_stories_total{outcome=\"created\"}", 2.0),
        ("misp_connector_stories_total{outcome=\"failed\"}", 1.0),
        ("misp_connector_messages_received_total", 1.0),
        (
            "misp_connector_messages_retried_total{error_class=\"transient\"}",
            1.0,
        ),
        (
            "misp_connector_messages_dead_lettered_total{error_class=\"permanent\"}",
            1.0,
        ),
        (
            "misp_connector_misp_request_duration_seconds_count{endpoint=\"/events/view/{id}\",status=\"404\"}",
            1.0,
        ),
        (
            "misp_connector_misp_request_duration_seconds_count{endpoint=\"/events/add\",status=\"error\"}",
            1.0,
        ),
        ("misp_connector_conversion_duration_seconds_count", 1.0),
        ("misp_connector_concurrency_limit", 12.0),
        ("misp_connector_circuit_breaker_state", 2.0),
        ("misp_connector_amqp_connected", 1.0),
        ("misp_connector_amqp_reconnects_total", 1.0),
        ("misp_connector_stories_in_flight", 1.0),
    ];
    for (series, value) in expect {
        assert_eq!(sample(&after, series), Some(value), "{series} in:\n{after}");
    }
    drop(guard);
    let (_, _, last) = get(&client, format!("{base}/metrics")).await;
    assert_eq!(sample(&last, "misp_connector_stories_in_flight"), Some(0.0));

    let (status, _, _) = get(&client, format!("{base}/nope")).await;
    assert_eq!(status, 404);

    shutdown.cancel();
    let finished = tokio::time::timeout(Duration::from_secs(10), task).await;
    assert!(
        matches!(finished, Ok(Ok(Ok(())))),
        "server did not stop cleanly: {finished:?}"
    );
}

#[tokio::test]
async fn binding_a_busy_port_names_the_setting() {
    let first = Server::bind("127.0.0.1:0".parse().unwrap_or_else(|e| panic!("{e}")))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let addr = first.local_addr().unwrap_or_else(|e| panic!("{e}"));
    let second = Server::bind(addr).await;
    let msg = second.err().map(|e| e.to_string()).unwrap_or_default();
    assert!(
        msg.contains("connector.metrics_port") && msg.contains(&addr.to_string()),
        "{msg}"
    );
}

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

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
fn json_logs_are_one_object_per_line_with_span_fields() {
    let captured = Captured::default();
    let w = captured.clone();
    let filter = logging::filter("info", None).unwrap_or_else(|e| panic!("{e}"));
    let subscriber = logging::subscriber(filter, LogFormat::Json, move || w.clone(), false);
    tracing::subscriber::with_default(subscriber, || {
        let delivery = tracing::info_span!("delivery", message_id = "m-1");
        let _d = delivery.enter();
        let story = tracing::info_span!("story", story_id = "0f5b4a5e-8a51-4c0a-9c39-3c3d0a3b0c5e");
        let _s = story.enter();
        tracing::info!(action = "created", "story synced");
        tracing::debug!("filtered out at info");
    });
    let bytes = captured.0.lock().map(|v| v.clone()).unwrap_or_default();
    let text = String::from_utf8(bytes).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 1, "{text}");
    let v: serde_json::Value =
        serde_json::from_str(lines[0]).unwrap_or_else(|e| panic!("{e}: {text}"));
    assert_eq!(v["level"], "INFO");
    assert_eq!(v["message"], "story synced");
    assert_eq!(v["action"], "created");
    assert_eq!(v["target"], "telemetry");
    assert!(v["timestamp"].is_string(), "{v}");
    assert_eq!(v["spans"][0]["message_id"], "m-1", "{v}");
    assert_eq!(
        v["spans"][1]["story_id"], "0f5b4a5e-8a51-4c0a-9c39-3c3d0a3b0c5e",
        "{v}"
    );
}

#[test]
fn pretty_logs_are_plain_text() {
    let captured = Captured::default();
    let w = captured.clone();
    let filter = logging::filter("debug", None).unwrap_or_else(|e| panic!("{e}"));
    let subscriber = logging::subscriber(filter, LogFormat::Pretty, move || w.clone(), false);
    tracing::subscriber::with_default(subscriber, || {
        let story = tracing::info_span!("story", story_id = "abc");
        let _s = story.enter();
        tracing::debug!("hello");
    });
    let bytes = captured.0.lock().map(|v| v.clone()).unwrap_or_default();
    let text = String::from_utf8(bytes).unwrap_or_default();
    assert!(
        text.contains("DEBUG") && text.contains("story_id") && text.contains("hello"),
        "{text}"
    );
    assert!(
        !text.contains('\u{1b}'),
        "no ANSI escapes when ansi is off: {text:?}"
    );
}

/// The container health check (Dockerfile and docker-compose.yml) speaks HTTP/1.0 through bash's /dev/tcp:
/// run that exact command against a live server.
#[tokio::test]
async fn container_healthcheck_command_passes_against_the_server() {
    let compose =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docker-compose.yml"))
            .unwrap_or_else(|e| panic!("{e}"));
    let compose: serde_json::Value =
        serde_saphyr::from_str(&compose).unwrap_or_else(|e| panic!("{e}"));
    let test = &compose["services"]["misp-connector"]["healthcheck"]["test"];
    let script = test[3]
        .as_str()
        .unwrap_or_else(|| panic!("unexpected healthcheck {test}"));
    assert_eq!(test[1], "bash");

    let shutdown = CancellationToken::new();
    let server = Server::bind("127.0.0.1:0".parse().unwrap_or_else(|e| panic!("{e}")))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let port = server.local_addr().map(|a| a.port()).unwrap_or_default();
    let task = tokio::spawn(server.run(Metrics::new(), Readiness::new(), shutdown.clone()));

    let script = script.replace("/9095", &format!("/{port}"));
    let status = tokio::process::Command::new("bash")
        .arg("-c")
        .arg(&script)
        .status()
        .await
        .unwrap_or_else(|e| panic!("bash: {e}"));
    assert!(status.success(), "health check failed: {script}");

    // The same probe against /readyz (not ready) must fail: the grep really checks the status.
    let not_ready = script.replace("/healthz", "/readyz");
    let status = tokio::process::Command::new("bash")
        .arg("-c")
        .arg(&not_ready)
        .status()
        .await
        .unwrap_or_else(|e| panic!("bash: {e}"));
    assert!(!status.success(), "probe should fail on 503: {not_ready}");

    shutdown.cancel();
    let _ = tokio::time::timeout(Duration::from_secs(10), task).await;
}
