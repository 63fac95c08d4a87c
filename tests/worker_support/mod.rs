//! Shared helpers for the worker integration tests: broker access, unique queues, a fake converter and a
//! scriptable fake story processor.
#![allow(dead_code)]

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use lapin::options::{
    BasicGetOptions, BasicPublishOptions, QueueDeclareOptions, QueueDeleteOptions,
};
use lapin::types::{AMQPValue, FieldTable};
use lapin::{BasicProperties, Channel, Connection, ConnectionProperties};
use misp_connector::convert::{Conversion, ConvertError, ConvertOptions, Converted};
use misp_connector::error::ErrorClass;
use misp_connector::misp::event::Event;
use misp_connector::story::{Dialect, ExtractError, Story};
use misp_connector::sync::{Action, SyncError, SyncOutcome};
use misp_connector::worker::{StoryProcessor, WorkerSettings};
use uuid::Uuid;

pub fn amqp_url() -> String {
    std::env::var("AMQP_TEST_URL")
        .unwrap_or_else(|_| "amqp://guest:guest@127.0.0.1:5672/%2f".into())
}

/// Connect to the test broker or fail with a clear message (CI guarantees RabbitMQ on 127.0.0.1:5672).
pub async fn broker() -> Connection {
    let url = amqp_url();
    match tokio::time::timeout(
        Duration::from_secs(10),
        Connection::connect(&url, ConnectionProperties::default()),
    )
    .await
    {
        Ok(Ok(c)) => c,
        Ok(Err(e)) => panic!(
            "RabbitMQ is not reachable at {url} ({e}); these tests need a broker (set AMQP_TEST_URL)"
        ),
        Err(_) => panic!("RabbitMQ at {url} did not answer within 10 s; these tests need a broker"),
    }
}

/// Unique queue names for one test, deleted by [`Queues::cleanup`].
pub struct Queues {
    pub main: String,
    pub dlq: String,
    pub retry: String,
    pub results: String,
}

impl Queues {
    pub fn new(test: &str) -> Queues {
        let main = format!("test.{test}.{}", Uuid::new_v4().simple());
        Queues {
            dlq: format!("{main}.dlq"),
            retry: format!("{main}.retry"),
            results: format!("{main}.results"),
            main,
        }
    }

    /// Worker settings with short delays suited to tests.
    pub fn settings(&self) -> WorkerSettings {
        let mut s = WorkerSettings::new(amqp_url(), self.main.clone());
        // Unique, so a test closing "its" connection never touches another test's worker.
        s.connection_name = self.connection_name();
        s.results_queue = Some(self.results.clone());
        s.prefetch = 8;
        s.concurrency = 4;
        s.max_attempts = 3;
        s.in_process_retries = 2;
        s.backoff_initial = Duration::from_millis(20);
        s.backoff_in_process_max = Duration::from_millis(200);
        s.retry_delay_initial = Duration::from_millis(300);
        s.retry_delay_max = Duration::from_secs(2);
        s.breaker_threshold = 100;
        s.breaker_cooldown = Duration::from_millis(300);
        s.shutdown_deadline = Duration::from_secs(5);
        s.reconnect_initial = Duration::from_millis(100);
        s.reconnect_max = Duration::from_millis(500);
        s.convert.limits.max_bytes = 64 * 1024;
        s
    }

    /// The connection name the worker of this test uses.
    pub fn connection_name(&self) -> String {
        format!("misp-connector-{}", self.main)
    }

    /// Delete the queues (called at the end of every test; [`Drop`] covers failed tests).
    pub async fn cleanup(&self, ch: &Channel) {
        for q in [&self.main, &self.dlq, &self.retry, &self.results] {
            let _ = ch
                .queue_delete(q.as_str().into(), QueueDeleteOptions::default())
                .await;
        }
    }
}

impl Drop for Queues {
    fn drop(&mut self) {
        // A failed assertion skips `cleanup`: delete this test's queues anyway (best effort).
        if std::thread::panicking() {
            for q in [&self.main, &self.dlq, &self.retry, &self.results] {
                let _ = std::process::Command::new("rabbitmqctl")
                    .args(["delete_queue", q.as_str(), "-q"])
                    .stdin(std::process::Stdio::null())
                    .stdout(std::process::Stdio::null())
                    .stderr(std::process::Stdio::null())
                    .status();
            }
        }
    }
}

/// Messages ready in a queue (passive declare).
pub async fn depth(ch: &Channel, queue: &str) -> u32 {
    ch.queue_declare(
        queue.into(),
        QueueDeclareOptions {
            passive: true,
            ..QueueDeclareOptions::default()
        },
        FieldTable::default(),
    )
    .await
    .map(|q| q.message_count())
    .unwrap_or_else(|e| panic!("queue {queue} should exist: {e}"))
}

pub async fn publish(ch: &Channel, queue: &str, body: &[u8]) {
    publish_with(
        ch,
        queue,
        body,
        BasicProperties::default().with_delivery_mode(2),
    )
    .await;
}

pub async fn publish_with(ch: &Channel, queue: &str, body: &[u8], props: BasicProperties) {
    ch.basic_publish(
        "".into(),
        queue.into(),
        BasicPublishOptions::default(),
        body,
        props,
    )
    .await
    .expect("publish")
    .await
    .expect("confirm");
}

/// Take every message of a queue (acked).
pub async fn drain(ch: &Channel, queue: &str) -> Vec<(Vec<u8>, BasicProperties)> {
    let mut out = Vec::new();
    while let Some(m) = ch
        .basic_get(queue.into(), BasicGetOptions { no_ack: true })
        .await
        .expect("basic_get")
    {
        out.push((m.delivery.data.clone(), m.delivery.properties.clone()));
    }
    out
}

/// Poll `cond` every 50 ms for up to `secs` seconds.
pub async fn eventually<F, Fut>(secs: u64, what: &str, mut cond: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
    loop {
        if cond().await {
            return;
        }
        if tokio::time::Instant::now() > deadline {
            panic!("timed out after {secs} s waiting for: {what}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

pub fn header_str(p: &BasicProperties, key: &str) -> Option<String> {
    let h = p.headers().as_ref()?;
    match h.inner().get(key)? {
        AMQPValue::LongString(s) => Some(String::from_utf8_lossy(s.as_bytes()).into_owned()),
        AMQPValue::ShortString(s) => Some(s.as_str().to_owned()),
        AMQPValue::LongLongInt(n) => Some(n.to_string()),
        AMQPValue::LongInt(n) => Some(n.to_string()),
        other => Some(format!("{other:?}")),
    }
}

// ---------------------------------------------------------------------------------------------------------
// Fake conversion: `{"type":"bundle","objects":[{"type":"report","id":"report--<uuid>","modified":"…"}]}`.

pub fn bundle(stories: &[(Uuid, u32)]) -> Vec<u8> {
    let objects: Vec<_> = stories
        .iter()
        .map(|(id, version)| {
            serde_json::json!({"type": "report", "id": format!("report--{id}"), "x_version": version})
        })
        .collect();
    serde_json::to_vec(&serde_json::json!({"type": "bundle", "id": format!("bundle--{}", Uuid::new_v4()), "objects": objects}))
        .unwrap()
}

pub fn fake_convert(bytes: &[u8], _opts: &ConvertOptions) -> Result<Conversion, ConvertError> {
    let v: serde_json::Value =
        serde_json::from_slice(bytes).map_err(|_| ConvertError::Extract(ExtractError::NoStory))?;
    let mut stories = Vec::new();
    for o in v["objects"].as_array().into_iter().flatten() {
        let Some(id) = o["id"].as_str().and_then(|s| s.strip_prefix("report--")) else {
            continue;
        };
        let Ok(id) = Uuid::parse_str(id) else {
            continue;
        };
        let version = o["x_version"].as_u64().unwrap_or(0) as i64;
        stories.push(converted(id, version));
    }
    if stories.is_empty() {
        return Err(ConvertError::Extract(ExtractError::NoStory));
    }
    Ok(Conversion {
        stories,
        warnings: Vec::new(),
    })
}

fn converted(id: Uuid, version: i64) -> Converted {
    let modified = chrono::DateTime::from_timestamp(1_700_000_000 + version, 0);
    Converted {
        story: Story {
            id,
            source_id: format!("report--{id}"),
            dialect: Dialect::Plain,
            title: format!("story {id}"),
            description: String::new(),
            summary: String::new(),
            comments: String::new(),
            published: None,
            created: None,
            modified,
            relevance: None,
            attributes: Vec::new(),
            tags: Vec::new(),
            labels: Vec::new(),
            tlp: None,
            links: Vec::new(),
            news_items: Vec::new(),
            objects: Vec::new(),
        },
        event: Event {
            uuid: id,
            info: format!("story {id}"),
            date: "2026-01-01".into(),
            distribution: 0,
            sharing_group_id: None,
            threat_level_id: 4,
            analysis: 0,
            published: false,
            timestamp: Some(1_700_000_000 + version),
            extends_uuid: None,
            attributes: Vec::new(),
            objects: Vec::new(),
            reports: Vec::new(),
            tags: Vec::new(),
        },
    }
}

// ---------------------------------------------------------------------------------------------------------
// Fake processor: a tiny "MISP" keeping the newest version per story, with scripted failures.

/// A scripted answer: success, or a failure of that class with an optional Retry-After.
pub type Answer = Result<(), (ErrorClass, Option<Duration>)>;

#[derive(Default)]
pub struct FakeState {
    /// story → newest version stored.
    pub stored: HashMap<Uuid, i64>,
    /// Calls per story.
    pub calls: HashMap<Uuid, u32>,
    /// Scripted answers, consumed first (per story).
    pub script: HashMap<Uuid, VecDeque<Answer>>,
    /// Failure returned to every call while set.
    pub all_fail: Option<(ErrorClass, Option<Duration>)>,
    pub in_flight: HashMap<Uuid, u32>,
    pub max_same_story: u32,
    pub total_in_flight: u32,
    pub max_in_flight: u32,
    pub events_created: u32,
}

#[derive(Clone, Default)]
pub struct FakeProcessor {
    pub state: Arc<Mutex<FakeState>>,
    pub delay: Duration,
}

impl FakeProcessor {
    pub fn with_delay(delay: Duration) -> FakeProcessor {
        FakeProcessor {
            delay,
            ..FakeProcessor::default()
        }
    }

    pub fn script(&self, id: Uuid, answers: Vec<Answer>) {
        self.state.lock().unwrap().script.insert(id, answers.into());
    }

    pub fn stored(&self) -> HashMap<Uuid, i64> {
        self.state.lock().unwrap().stored.clone()
    }
}

impl StoryProcessor for FakeProcessor {
    async fn process(&self, c: &Converted) -> Result<SyncOutcome, SyncError> {
        let id = c.story.id;
        let version = c.event.timestamp.unwrap_or(0);
        {
            let mut st = self.state.lock().unwrap();
            *st.calls.entry(id).or_default() += 1;
            let n = st.in_flight.entry(id).or_default();
            *n += 1;
            let n = *n;
            st.max_same_story = st.max_same_story.max(n);
            st.total_in_flight += 1;
            st.max_in_flight = st.max_in_flight.max(st.total_in_flight);
        }
        tokio::time::sleep(self.delay).await;
        let mut st = self.state.lock().unwrap();
        *st.in_flight.get_mut(&id).unwrap() -= 1;
        st.total_in_flight -= 1;
        let scripted = st.script.get_mut(&id).and_then(VecDeque::pop_front);
        let answer = match scripted {
            Some(a) => a,
            None => match st.all_fail {
                Some(f) => Err(f),
                None => Ok(()),
            },
        };
        if let Err((class, retry_after)) = answer {
            return Err(SyncError {
                story_id: id,
                class,
                message: format!("fake MISP: {class} failure"),
                retry_after,
            });
        }
        let action = match st.stored.get(&id).copied() {
            None => {
                st.events_created += 1;
                st.stored.insert(id, version);
                Action::Created
            }
            Some(v) if v < version => {
                st.stored.insert(id, version);
                Action::Updated
            }
            Some(v) if v == version => Action::Unchanged,
            Some(_) => Action::Stale,
        };
        Ok(SyncOutcome {
            story_id: id,
            misp_event_uuid: id,
            misp_event_id: Some("1".into()),
            action,
        })
    }
}

/// Close every broker connection named `name` (as RabbitMQ does on a restart); returns how many were closed.
pub async fn close_connections(name: &str) -> usize {
    let out = tokio::process::Command::new("rabbitmqctl")
        .args([
            "list_connections",
            "pid",
            "client_properties",
            "--no-table-headers",
            "-q",
        ])
        .output()
        .await
        .expect("rabbitmqctl is available (tests run as root beside the broker)");
    let listing = String::from_utf8_lossy(&out.stdout).to_string();
    let needle = format!("\"{name}\"");
    let mut closed = 0;
    for line in listing.lines().filter(|l| l.contains(&needle)) {
        let Some(pid) = line.split_whitespace().next() else {
            continue;
        };
        let st = tokio::process::Command::new("rabbitmqctl")
            .args([
                "close_connection",
                pid,
                "test: the broker closes the connection",
            ])
            .stdout(std::process::Stdio::null())
            .status()
            .await
            .expect("rabbitmqctl close_connection");
        assert!(st.success());
        closed += 1;
    }
    assert!(closed >= 1, "no connection named {name} in: {listing}");
    closed
}
