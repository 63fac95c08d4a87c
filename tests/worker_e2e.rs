//! End to end: the real `misp-connector` binary (`run` and `publish`) against the real RabbitMQ and the
//! project's stateful fake MISP. Covers the happy path, MISP 503 bursts, MISP validation errors, hostile
//! inputs, SIGKILL and restart, the broker closing connections, SIGTERM with work in flight, and two workers
//! racing over updates of the same stories.

mod worker_support;

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use misp_connector::fake_misp::{DEFAULT_ADMIN_KEY, FakeConfig, FakeMisp};
use tokio::process::{Child, Command};
use uuid::Uuid;
use worker_support::*;

const EXAMPLE_STORY_ID: &str = "ed13a0b1-4f5f-4c43-bdf2-820ee0d43448";

fn manifest(path: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(path)
}

/// The native example story under another story id.
fn story(id: Uuid, update: bool) -> Vec<u8> {
    let file = if update {
        "examples/native-story-update.json"
    } else {
        "examples/native-story.json"
    };
    let text = std::fs::read_to_string(manifest(file)).expect("example bundle");
    text.replace(EXAMPLE_STORY_ID, &id.to_string()).into_bytes()
}

struct Env {
    q: Queues,
    misp: FakeMisp,
    dir: tempfile::TempDir,
}

impl Env {
    async fn new(test: &str) -> Env {
        let misp = FakeMisp::start(FakeConfig::default())
            .await
            .expect("fake MISP starts");
        Env {
            q: Queues::new(test),
            misp,
            dir: tempfile::tempdir().expect("temp dir"),
        }
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_misp-connector"));
        c.args(args)
            .env_clear()
            .env("MISP_URL", self.misp.url())
            .env("MISP_API_KEY", DEFAULT_ADMIN_KEY)
            .env("MISP_ORGANISATION_ID", "1")
            .env("AMQP_URL", amqp_url())
            .env("AMQP_QUEUE", &self.q.main)
            .env("AMQP_DECLARE", "true")
            .env("AMQP_RESULTS_QUEUE", &self.q.results)
            .env("AMQP_PREFETCH", "8")
            .env("CONNECTOR_CONCURRENCY", "4")
            .env("CONNECTOR_MAX_ATTEMPTS", "3")
            .env("CONNECTOR_RETRY_INITIAL_DELAY_MS", "300")
            .env("CONNECTOR_RETRY_MAX_DELAY_MS", "1000")
            .env("CONNECTOR_IN_PROCESS_RETRY_MAX_MS", "200")
            .env("CONNECTOR_IN_PROCESS_RETRY_INITIAL_MS", "20")
            .env("AMQP_RECONNECT_INITIAL_MS", "100")
            .env("AMQP_RECONNECT_MAX", "1")
            .env("CONNECTOR_SHUTDOWN_TIMEOUT", "10")
            .env("CONNECTOR_METRICS_PORT", "0")
            .env("CONNECTOR_LOG_LEVEL", "info")
            .env("AMQP_CONNECTION_NAME", self.q.connection_name())
            .stdin(Stdio::null())
            .kill_on_drop(true);
        c
    }

    fn worker(&self) -> Child {
        self.command(&["run"])
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn misp-connector run")
    }

    /// Write bodies to files and publish them with `misp-connector publish`.
    async fn publish(&self, bodies: &[Vec<u8>]) {
        let mut files = Vec::new();
        for (i, b) in bodies.iter().enumerate() {
            let p = self.dir.path().join(format!("{}-{i}.json", Uuid::new_v4()));
            std::fs::write(&p, b).unwrap();
            files.push(p.display().to_string());
        }
        let mut args = vec!["publish"];
        args.extend(files.iter().map(String::as_str));
        let out = self.command(&args).output().await.expect("run publish");
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "publish failed: {stdout} {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            stdout.contains(&format!("published {} of {}", bodies.len(), bodies.len())),
            "{stdout}"
        );
    }

    async fn wait_events(&self, n: usize, secs: u64) {
        let state = self.misp.state();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
        while state.event_count() < n {
            assert!(
                tokio::time::Instant::now() < deadline,
                "timed out waiting for {n} events in MISP (have {})",
                state.event_count()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    async fn wait_depth(&self, ch: &lapin::Channel, queue: &str, n: u32, secs: u64) {
        let q = queue.to_owned();
        let ch = ch.clone();
        eventually(secs, &format!("{n} message(s) in {queue}"), move || {
            let ch = ch.clone();
            let q = q.clone();
            async move { depth(&ch, &q).await == n }
        })
        .await;
    }

    async fn wait_consuming(&self, conn: &lapin::Connection) {
        // The worker declares the topology once connected, then consumes. A passive declare of a missing
        // queue closes the channel, so each probe uses a fresh one.
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        loop {
            let ch = conn.create_channel().await.expect("channel");
            let consumers = ch
                .queue_declare(
                    self.q.main.as_str().into(),
                    lapin::options::QueueDeclareOptions {
                        passive: true,
                        ..Default::default()
                    },
                    Default::default(),
                )
                .await
                .map(|d| d.consumer_count())
                .unwrap_or(0);
            let _ = ch.close(200, "probe".into()).await;
            if consumers >= 1 {
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "timed out waiting for the worker to consume"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

async fn signal(child: &Child, sig: &str) {
    let pid = child.id().expect("child running").to_string();
    let st = Command::new("kill")
        .args([sig, &pid])
        .status()
        .await
        .unwrap();
    assert!(st.success());
}

async fn stop(mut child: Child) {
    signal(&child, "-TERM").await;
    let status = tokio::time::timeout(Duration::from_secs(20), child.wait())
        .await
        .expect("worker exits after SIGTERM")
        .unwrap();
    assert!(status.success(), "exit status {status:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn happy_path_all_examples_become_events() {
    let conn = broker().await;
    let ch = conn.create_channel().await.unwrap();
    let env = Env::new("e2e-happy").await;
    let mut bodies: Vec<Vec<u8>> = (0..5).map(|_| story(Uuid::new_v4(), false)).collect();
    for f in [
        "examples/native-multi-story.json",
        "examples/plain-report.json",
        "examples/presenter-story.json",
    ] {
        bodies.push(std::fs::read(manifest(f)).unwrap());
    }
    // Published before the worker starts: `publish` declares the topology.
    env.publish(&bodies).await;
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    // The sample configuration, with the test's MISP, queue and ports from the environment.
    let w = env
        .command(&["run"])
        .env("CONFIG_FILE", manifest("config.yml.sample"))
        .env("CONNECTOR_METRICS_PORT", port.to_string())
        .env("CONNECTOR_METRICS_BIND", "127.0.0.1")
        .stdout(Stdio::null())
        .spawn()
        .expect("spawn misp-connector run");
    env.wait_events(10, 30).await;
    env.wait_depth(&ch, &env.q.main, 0, 10).await;
    env.wait_depth(&ch, &env.q.results, 10, 10).await;
    let res = drain(&ch, &env.q.results).await;
    for (body, _) in &res {
        let r: serde_json::Value = serde_json::from_slice(body).unwrap();
        assert_eq!(r["action"], "created", "{r}");
        assert!(r["misp_event_id"].is_string(), "{r}");
    }
    assert_eq!(depth(&ch, &env.q.dlq).await, 0);
    // The worker reports to /metrics and is ready.
    let base = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::new();
    let ready = http
        .get(format!("{base}/readyz"))
        .send()
        .await
        .expect("/readyz answers");
    assert!(ready.status().is_success(), "{}", ready.status());
    let metrics = http
        .get(format!("{base}/metrics"))
        .send()
        .await
        .expect("/metrics answers")
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("misp_connector_stories_total{outcome=\"created\"} 10"),
        "{metrics}"
    );
    assert!(
        metrics.contains("misp_connector_messages_received_total 8"),
        "{metrics}"
    );
    assert!(
        metrics.contains("misp_connector_amqp_connected 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("misp_connector_concurrency_limit 4"),
        "{metrics}"
    );
    stop(w).await;
    assert_eq!(env.misp.state().event_count(), 10);
    env.q.cleanup(&ch).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn misp_503_for_a_while_is_retried_then_succeeds() {
    let conn = broker().await;
    let ch = conn.create_channel().await.unwrap();
    let env = Env::new("e2e-503").await;
    let w = env.worker();
    env.wait_consuming(&conn).await;
    // Every request fails for a while: more than the in-process retries, fewer than the breaker threshold.
    env.misp.faults().fail_next(4, 503, None);
    let id = Uuid::new_v4();
    env.publish(&[story(id, false)]).await;
    env.wait_events(1, 30).await;
    env.wait_depth(&ch, &env.q.results, 1, 10).await;
    assert_eq!(depth(&ch, &env.q.dlq).await, 0, "nothing dead-lettered");
    assert_eq!(depth(&ch, &env.q.main).await, 0);
    assert!(env.misp.state().event(&id.to_string()).is_some());
    stop(w).await;
    env.q.cleanup(&ch).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn misp_validation_error_goes_to_the_dlq_at_once() {
    let conn = broker().await;
    let ch = conn.create_channel().await.unwrap();
    let env = Env::new("e2e-403").await;
    let w = env.worker();
    env.wait_consuming(&conn).await;
    env.misp.faults().fail_next(1, 403, Some("/events/add"));
    let id = Uuid::new_v4();
    let body = story(id, false);
    env.publish(std::slice::from_ref(&body)).await;
    env.wait_depth(&ch, &env.q.dlq, 1, 20).await;
    let (dead, props) = drain(&ch, &env.q.dlq).await.remove(0);
    assert_eq!(dead, body, "original body kept");
    assert_eq!(
        header_str(&props, "x-error-class").as_deref(),
        Some("permanent")
    );
    assert_eq!(header_str(&props, "x-attempts").as_deref(), Some("1"));
    assert_eq!(
        header_str(&props, "x-story-ids").as_deref(),
        Some(id.to_string().as_str())
    );
    let msg = header_str(&props, "x-error-message").unwrap();
    assert!(msg.contains("403"), "{msg}");
    assert_eq!(env.misp.state().count("POST /events/add"), 1, "no retry");
    let res = drain(&ch, &env.q.results).await;
    let r: serde_json::Value = serde_json::from_slice(&res[0].0).unwrap();
    assert_eq!(r["action"], "failed");
    assert_eq!(env.misp.state().event_count(), 0);
    stop(w).await;
    env.q.cleanup(&ch).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_inputs_are_dead_lettered_with_reasons_and_the_worker_keeps_consuming() {
    let conn = broker().await;
    let ch = conn.create_channel().await.unwrap();
    let env = Env::new("e2e-hostile").await;
    let w = env.worker();
    env.wait_consuming(&conn).await;
    let corpus = PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../shared/corpus/stix-invalid/cti-stix-validator"
    ));
    let mut bodies: Vec<Vec<u8>> = std::fs::read_dir(&corpus)
        .expect("shared/corpus/stix-invalid is beside the repository")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .map(|p| std::fs::read(p).unwrap())
        .collect();
    assert!(bodies.len() >= 4);
    bodies.extend([
        b"not json at all".to_vec(),
        b"{\"type\":\"bundle\",\"id\":\"bundle--1\",\"objects\":[{\"type\":\"indicator\"}]}"
            .to_vec(),
        format!("{}{}", "[".repeat(100_000), "]".repeat(100_000)).into_bytes(),
        format!(
            "{{\"type\":\"bundle\",\"objects\":[{{\"type\":\"report\",\"name\":\"{}\"}}]}}",
            "A".repeat(2 * 1024 * 1024)
        )
        .into_bytes(),
        b"{\"content\":\"!!!not base64!!!\",\"work_id\":\"w\"}".to_vec(),
        vec![0xff, 0xfe, 0x00, 0x01],
    ]);
    let n = bodies.len() as u32;
    let good = Uuid::new_v4();
    bodies.push(story(good, false));
    env.publish(&bodies).await;
    env.wait_depth(&ch, &env.q.dlq, n, 30).await;
    env.wait_events(1, 20).await;
    assert!(env.misp.state().event(&good.to_string()).is_some());
    for (_, props) in drain(&ch, &env.q.dlq).await {
        let msg = header_str(&props, "x-error-message").unwrap_or_default();
        assert!(msg.starts_with("invalid "), "reason given: {msg}");
        assert_eq!(
            header_str(&props, "x-error-class").as_deref(),
            Some("permanent")
        );
    }
    stop(w).await;
    env.q.cleanup(&ch).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_with_messages_in_flight_then_restart_finishes_them_once() {
    let conn = broker().await;
    let ch = conn.create_channel().await.unwrap();
    let env = Env::new("e2e-kill").await;
    env.misp.faults().set_latency(Duration::from_millis(150));
    let ids: Vec<Uuid> = (0..12).map(|_| Uuid::new_v4()).collect();
    env.publish(&ids.iter().map(|id| story(*id, false)).collect::<Vec<_>>())
        .await;
    let mut w = env.worker();
    env.wait_events(2, 30).await;
    w.start_kill().unwrap();
    w.wait().await.unwrap();
    assert!(env.misp.state().event_count() < ids.len(), "killed mid-way");
    let w2 = env.worker();
    env.wait_events(ids.len(), 60).await;
    env.wait_depth(&ch, &env.q.main, 0, 20).await;
    assert_eq!(
        env.misp.state().event_count(),
        ids.len(),
        "no duplicate events"
    );
    for id in &ids {
        assert!(env.misp.state().event(&id.to_string()).is_some());
    }
    assert_eq!(depth(&ch, &env.q.dlq).await, 0);
    stop(w2).await;
    env.q.cleanup(&ch).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broker_closing_the_connection_is_survived() {
    let conn = broker().await;
    let ch = conn.create_channel().await.unwrap();
    let env = Env::new("e2e-close").await;
    env.misp.faults().set_latency(Duration::from_millis(100));
    let w = env.worker();
    env.wait_consuming(&conn).await;
    let ids: Vec<Uuid> = (0..8).map(|_| Uuid::new_v4()).collect();
    env.publish(&ids.iter().map(|id| story(*id, false)).collect::<Vec<_>>())
        .await;
    env.wait_events(1, 30).await;
    close_connections(&env.q.connection_name()).await;
    env.wait_events(ids.len(), 60).await;
    env.wait_depth(&ch, &env.q.main, 0, 20).await;
    assert_eq!(env.misp.state().event_count(), ids.len());
    assert_eq!(depth(&ch, &env.q.dlq).await, 0);
    stop(w).await;
    env.q.cleanup(&ch).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_with_work_in_flight_loses_nothing() {
    let conn = broker().await;
    let ch = conn.create_channel().await.unwrap();
    let env = Env::new("e2e-term").await;
    env.misp.faults().set_latency(Duration::from_millis(300));
    let w = env.worker();
    env.wait_consuming(&conn).await;
    let ids: Vec<Uuid> = (0..10).map(|_| Uuid::new_v4()).collect();
    env.publish(&ids.iter().map(|id| story(*id, false)).collect::<Vec<_>>())
        .await;
    env.wait_events(1, 30).await;
    stop(w).await;
    let done = env.misp.state().event_count() as u32;
    assert!(done >= 1);
    // Everything not in MISP is back in the queue; nothing went to the DLQ.
    env.wait_depth(&ch, &env.q.main, ids.len() as u32 - done, 10)
        .await;
    assert_eq!(depth(&ch, &env.q.dlq).await, 0);
    // A new worker finishes the rest.
    let w2 = env.worker();
    env.wait_consuming(&conn).await;
    env.wait_events(ids.len(), 60).await;
    env.wait_depth(&ch, &env.q.main, 0, 20).await;
    assert_eq!(env.misp.state().event_count(), ids.len());
    stop(w2).await;
    env.q.cleanup(&ch).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_workers_with_updates_keep_the_newest_version_once() {
    let conn = broker().await;
    let ch = conn.create_channel().await.unwrap();
    let env = Env::new("e2e-two").await;
    env.misp.faults().set_latency(Duration::from_millis(20));
    let ids: Vec<Uuid> = (0..6).map(|_| Uuid::new_v4()).collect();
    let mut bodies = Vec::new();
    for (i, id) in ids.iter().enumerate() {
        // Half of the stories arrive update-first: the older version must not overwrite the newer one.
        if i % 2 == 0 {
            bodies.push(story(*id, false));
            bodies.push(story(*id, true));
        } else {
            bodies.push(story(*id, true));
            bodies.push(story(*id, false));
        }
        bodies.push(story(*id, true));
    }
    env.publish(&bodies).await;
    let w1 = env.worker();
    let w2 = env.worker();
    env.wait_events(ids.len(), 60).await;
    env.wait_depth(&ch, &env.q.main, 0, 30).await;
    env.wait_depth(&ch, &env.q.results, bodies.len() as u32, 30)
        .await;
    assert_eq!(
        env.misp.state().event_count(),
        ids.len(),
        "exactly one event per story"
    );
    for id in &ids {
        let event = env.misp.state().event(&id.to_string()).expect("event");
        let text = event.to_string();
        assert!(
            text.contains("updated after the vendor advisory was withdrawn"),
            "story {id} holds the newest version"
        );
    }
    assert_eq!(depth(&ch, &env.q.dlq).await, 0);
    stop(w1).await;
    stop(w2).await;
    env.q.cleanup(&ch).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_publish_and_run_report_problems_with_exit_codes() {
    let conn = broker().await;
    let ch = conn.create_channel().await.unwrap();
    let env = Env::new("e2e-cli").await;

    // check: MISP fine, queue missing but declared at start → 0; with declare off → 1.
    let out = env.command(&["check"]).output().await.unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    assert!(stdout.contains("does not exist yet"), "{stdout}");
    assert!(
        !stdout.contains("guest:guest"),
        "password not printed: {stdout}"
    );
    let out = env
        .command(&["check"])
        .env("AMQP_DECLARE", "false")
        .output()
        .await
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("AMQP check failed"));

    // check: unreachable broker → 1.
    let out = env
        .command(&["check"])
        .env("AMQP_URL", "amqp://guest:guest@127.0.0.1:1/%2f")
        .output()
        .await
        .unwrap();
    assert_eq!(out.status.code(), Some(1));

    // publish: a missing file → 2 and nothing sent.
    let good = env.dir.path().join("good.json");
    std::fs::write(&good, story(Uuid::new_v4(), false)).unwrap();
    let out = env
        .command(&[
            "publish",
            good.to_str().unwrap(),
            "/nonexistent/bundle.json",
        ])
        .output()
        .await
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/bundle.json"));
    // The topology was never declared: the passive check closes its channel, so use a fresh one.
    let probe = conn.create_channel().await.unwrap();
    assert!(
        probe
            .queue_declare(
                env.q.main.as_str().into(),
                lapin::options::QueueDeclareOptions {
                    passive: true,
                    ..Default::default()
                },
                Default::default(),
            )
            .await
            .is_err(),
        "nothing published, nothing declared"
    );

    // run: invalid configuration → 2 with the key named.
    let out = env
        .command(&["run"])
        .env("AMQP_PREFETCH", "0")
        .output()
        .await
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("amqp.prefetch"));

    // run: a bad MISP key fails fast with 2.
    let out = env
        .command(&["run"])
        .env("MISP_API_KEY", "WrongKey0000000000000000000000000000000X")
        .output()
        .await
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    env.q.cleanup(&ch).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn misp_429_retry_after_is_honoured() {
    let conn = broker().await;
    let ch = conn.create_channel().await.unwrap();
    let env = Env::new("e2e-429").await;
    let w = env.worker();
    env.wait_consuming(&conn).await;
    env.misp.faults().throttle_next(1, 1, None);
    let started = tokio::time::Instant::now();
    let id = Uuid::new_v4();
    env.publish(&[story(id, false)]).await;
    env.wait_events(1, 30).await;
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "MISP asked for 1 s and got it"
    );
    env.wait_depth(&ch, &env.q.results, 1, 10).await;
    assert_eq!(depth(&ch, &env.q.dlq).await, 0);
    stop(w).await;
    env.q.cleanup(&ch).await;
}
