//! Worker behaviour against the real RabbitMQ with a fake converter and a fake story processor:
//! acking, results, in-process and queue retries, dead-lettering with headers, back-pressure, per-story
//! serialisation, graceful shutdown, reconnect, several workers on one queue.

mod worker_support;

use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use lapin::BasicProperties;
use misp_connector::error::ErrorClass;
use misp_connector::worker::{BreakerState, Worker, WorkerSettings, WorkerState};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;
use worker_support::*;

struct Running {
    token: CancellationToken,
    handle: JoinHandle<Result<(), misp_connector::worker::WorkerError>>,
    state: Arc<WorkerState>,
}

impl Running {
    async fn stop(self) {
        self.token.cancel();
        tokio::time::timeout(Duration::from_secs(20), self.handle)
            .await
            .expect("worker stops within 20 s")
            .expect("worker task")
            .expect("worker ends without error");
    }
}

fn start(settings: WorkerSettings, p: FakeProcessor) -> Running {
    let worker = Worker::new(settings, p)
        .expect("valid settings")
        .with_converter(fake_convert);
    let state = worker.state();
    let token = CancellationToken::new();
    let handle = tokio::spawn(worker.run(token.clone()));
    Running {
        token,
        handle,
        state,
    }
}

async fn wait_consuming(r: &Running) {
    let state = Arc::clone(&r.state);
    eventually(10, "worker connected", move || {
        let s = Arc::clone(&state);
        async move { s.is_connected() }
    })
    .await;
}

async fn results(ch: &lapin::Channel, q: &str) -> Vec<serde_json::Value> {
    drain(ch, q)
        .await
        .into_iter()
        .map(|(b, _)| serde_json::from_slice(&b).expect("result is JSON"))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn happy_path_acks_and_publishes_one_result_per_story() {
    let conn = broker().await;
    let ch = conn.create_channel().await.unwrap();
    let q = Queues::new("happy");
    let p = FakeProcessor::default();
    let w = start(q.settings(), p.clone());
    wait_consuming(&w).await;

    let ids: Vec<Uuid> = (0..6).map(|_| Uuid::new_v4()).collect();
    for id in &ids[..4] {
        publish(&ch, &q.main, &bundle(&[(*id, 1)])).await;
    }
    // One message with two stories.
    publish(&ch, &q.main, &bundle(&[(ids[4], 1), (ids[5], 1)])).await;

    let st = Arc::clone(&w.state);
    eventually(10, "5 messages acked", move || {
        let st = Arc::clone(&st);
        async move { st.counters().acked == 5 }
    })
    .await;
    assert_eq!(p.stored().len(), 6);
    assert_eq!(depth(&ch, &q.main).await, 0);
    assert_eq!(depth(&ch, &q.dlq).await, 0);
    let res = results(&ch, &q.results).await;
    assert_eq!(res.len(), 6);
    for r in &res {
        assert_eq!(r["action"], "created");
        assert_eq!(r["story_id"], r["misp_event_uuid"]);
    }
    w.stop().await;
    q.cleanup(&ch).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn opencti_envelope_keeps_work_id_and_reply_to_gets_the_result() {
    let conn = broker().await;
    let ch = conn.create_channel().await.unwrap();
    let q = Queues::new("envelope");
    let w = start(q.settings(), FakeProcessor::default());
    wait_consuming(&w).await;
    let reply = format!("{}.reply", q.main);
    ch.queue_declare(
        reply.as_str().into(),
        lapin::options::QueueDeclareOptions::default(),
        lapin::types::FieldTable::default(),
    )
    .await
    .unwrap();

    let id = Uuid::new_v4();
    let content = base64::engine::general_purpose::STANDARD.encode(bundle(&[(id, 1)]));
    let body = serde_json::json!({"bundle_type": "QUEUE_BUNDLE", "applicant_id": "u", "content": content,
        "work_id": "work-7", "update": false});
    publish_with(
        &ch,
        &q.main,
        &serde_json::to_vec(&body).unwrap(),
        BasicProperties::default()
            .with_reply_to(reply.as_str().into())
            .with_correlation_id("corr-1".into()),
    )
    .await;
    let ch2 = ch.clone();
    let reply2 = reply.clone();
    eventually(10, "a result on reply_to", move || {
        let ch = ch2.clone();
        let reply = reply2.clone();
        async move { depth(&ch, &reply).await == 1 }
    })
    .await;
    let (body, props) = drain(&ch, &reply).await.remove(0);
    let r: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(r["work_id"], "work-7");
    assert_eq!(r["story_id"], id.to_string());
    assert_eq!(
        props.correlation_id().as_ref().map(|c| c.as_str()),
        Some("corr-1")
    );
    assert_eq!(
        depth(&ch, &q.results).await,
        0,
        "reply_to wins over the results queue"
    );
    w.stop().await;
    let _ = ch
        .queue_delete(reply.as_str().into(), Default::default())
        .await;
    q.cleanup(&ch).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transient_failures_are_retried_in_process_then_succeed() {
    let conn = broker().await;
    let ch = conn.create_channel().await.unwrap();
    let q = Queues::new("transient");
    let p = FakeProcessor::default();
    let id = Uuid::new_v4();
    p.script(
        id,
        vec![
            Err((ErrorClass::Transient, None)),
            Err((ErrorClass::Transient, None)),
        ],
    );
    let w = start(q.settings(), p.clone());
    wait_consuming(&w).await;
    publish(&ch, &q.main, &bundle(&[(id, 1)])).await;
    let st = Arc::clone(&w.state);
    eventually(10, "acked", move || {
        let st = Arc::clone(&st);
        async move { st.counters().acked == 1 }
    })
    .await;
    assert_eq!(p.state.lock().unwrap().calls[&id], 3);
    assert_eq!(w.state.counters().retried, 0);
    assert_eq!(depth(&ch, &q.dlq).await, 0);
    assert_eq!(results(&ch, &q.results).await[0]["action"], "created");
    w.stop().await;
    q.cleanup(&ch).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn long_waits_go_through_the_retry_queue_with_an_attempt_header() {
    let conn = broker().await;
    let ch = conn.create_channel().await.unwrap();
    let q = Queues::new("retryq");
    let p = FakeProcessor::default();
    let id = Uuid::new_v4();
    let other = Uuid::new_v4();
    // Retry-After 1 s is longer than the in-process maximum (200 ms): the retry queue is used.
    p.script(
        id,
        vec![Err((ErrorClass::Transient, Some(Duration::from_secs(1))))],
    );
    let mut s = q.settings();
    s.breaker_cooldown = Duration::from_millis(50);
    let w = start(s, p.clone());
    wait_consuming(&w).await;
    publish(&ch, &q.main, &bundle(&[(id, 1), (other, 1)])).await;
    let st = Arc::clone(&w.state);
    eventually(15, "acked twice (retry round + final)", move || {
        let st = Arc::clone(&st);
        async move { st.counters().acked == 2 }
    })
    .await;
    let c = w.state.counters();
    assert_eq!(c.retried, 1);
    assert_eq!(c.dead_lettered, 0);
    {
        let st = p.state.lock().unwrap();
        assert_eq!(st.calls[&id], 2);
        // The story that succeeded in the first round is not synced again.
        assert_eq!(st.calls[&other], 1);
    }
    let res = results(&ch, &q.results).await;
    assert_eq!(res.len(), 2, "{res:?}");
    assert!(res.iter().all(|r| r["action"] == "created"));
    assert_eq!(depth(&ch, &q.dlq).await, 0);
    w.stop().await;
    q.cleanup(&ch).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn persistent_transient_failures_end_in_the_dlq_after_max_attempts() {
    let conn = broker().await;
    let ch = conn.create_channel().await.unwrap();
    let q = Queues::new("maxattempts");
    let p = FakeProcessor::default();
    let id = Uuid::new_v4();
    p.script(id, vec![Err((ErrorClass::Transient, None)); 100]);
    let w = start(q.settings(), p.clone());
    wait_consuming(&w).await;
    let body = bundle(&[(id, 1)]);
    publish(&ch, &q.main, &body).await;
    let ch2 = ch.clone();
    let dlq = q.dlq.clone();
    eventually(20, "message in the DLQ", move || {
        let ch = ch2.clone();
        let dlq = dlq.clone();
        async move { depth(&ch, &dlq).await == 1 }
    })
    .await;
    // 3 rounds × (1 + 2 in-process retries).
    assert_eq!(p.state.lock().unwrap().calls[&id], 9);
    assert_eq!(w.state.counters().retried, 2);
    let (dead, props) = drain(&ch, &q.dlq).await.remove(0);
    assert_eq!(dead, body, "the DLQ keeps the original body");
    assert_eq!(header_str(&props, "x-attempts").as_deref(), Some("3"));
    assert_eq!(
        header_str(&props, "x-error-class").as_deref(),
        Some("transient")
    );
    assert!(
        header_str(&props, "x-error-message")
            .unwrap()
            .contains("gave up after 3 attempts")
    );
    assert_eq!(
        header_str(&props, "x-story-ids").as_deref(),
        Some(id.to_string().as_str())
    );
    assert!(header_str(&props, "x-first-failure").is_some());
    assert!(header_str(&props, "x-last-failure").is_some());
    let res = results(&ch, &q.results).await;
    assert_eq!(res.len(), 1);
    assert_eq!(res[0]["action"], "failed");
    w.stop().await;
    q.cleanup(&ch).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn permanent_failures_go_to_the_dlq_at_once_with_headers() {
    let conn = broker().await;
    let ch = conn.create_channel().await.unwrap();
    let q = Queues::new("permanent");
    let p = FakeProcessor::default();
    let id = Uuid::new_v4();
    p.script(id, vec![Err((ErrorClass::Permanent, None))]);
    let w = start(q.settings(), p.clone());
    wait_consuming(&w).await;
    let body = bundle(&[(id, 1)]);
    publish_with(
        &ch,
        &q.main,
        &body,
        BasicProperties::default()
            .with_content_type("application/json".into())
            .with_message_id("m-1".into()),
    )
    .await;
    let ch2 = ch.clone();
    let dlq = q.dlq.clone();
    eventually(10, "message in the DLQ", move || {
        let ch = ch2.clone();
        let dlq = dlq.clone();
        async move { depth(&ch, &dlq).await == 1 }
    })
    .await;
    assert_eq!(
        p.state.lock().unwrap().calls[&id],
        1,
        "no retry for permanent errors"
    );
    let (dead, props) = drain(&ch, &q.dlq).await.remove(0);
    assert_eq!(dead, body);
    assert_eq!(props.message_id().as_ref().map(|m| m.as_str()), Some("m-1"));
    assert_eq!(
        props.content_type().as_ref().map(|m| m.as_str()),
        Some("application/json")
    );
    assert_eq!(header_str(&props, "x-attempts").as_deref(), Some("1"));
    assert_eq!(
        header_str(&props, "x-error-class").as_deref(),
        Some("permanent")
    );
    assert!(
        header_str(&props, "x-error-message")
            .unwrap()
            .contains("fake MISP")
    );
    assert_eq!(
        header_str(&props, "x-story-ids").as_deref(),
        Some(id.to_string().as_str())
    );
    assert_eq!(
        header_str(&props, "x-original-queue").as_deref(),
        Some(q.main.as_str())
    );
    let res = results(&ch, &q.results).await;
    assert_eq!(res[0]["action"], "failed");
    assert!(res[0]["error"].as_str().unwrap().contains("fake MISP"));
    w.stop().await;
    q.cleanup(&ch).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn poison_messages_are_dead_lettered_and_the_next_one_is_processed() {
    let conn = broker().await;
    let ch = conn.create_channel().await.unwrap();
    let q = Queues::new("poison");
    let p = FakeProcessor::default();
    let w = start(q.settings(), p.clone());
    wait_consuming(&w).await;
    let huge = vec![b' '; 70 * 1024];
    let poison: Vec<(&[u8], &str)> = vec![
        (b"this is not json", "invalid JSON"),
        (b"", "empty"),
        (b"[1,2,3]", "not a JSON object"),
        (b"{\"content\": \"***\"}", "base64"),
        (b"{\"type\":\"bundle\",\"objects\":[]}", "no story"),
        (&huge, "larger than the limit"),
        (b"\xff\xfe\x00binary", "invalid JSON"),
    ];
    for (body, _) in &poison {
        publish(&ch, &q.main, body).await;
    }
    let good = Uuid::new_v4();
    publish(&ch, &q.main, &bundle(&[(good, 1)])).await;
    let ch2 = ch.clone();
    let dlq = q.dlq.clone();
    let n = poison.len() as u32;
    eventually(10, "poison in the DLQ", move || {
        let ch = ch2.clone();
        let dlq = dlq.clone();
        async move { depth(&ch, &dlq).await == n }
    })
    .await;
    let st = Arc::clone(&w.state);
    eventually(10, "all acked", move || {
        let st = Arc::clone(&st);
        async move { st.counters().acked == n as u64 + 1 }
    })
    .await;
    assert!(
        p.stored().contains_key(&good),
        "the good message after the poison ones was processed"
    );
    let dead = drain(&ch, &q.dlq).await;
    for (body, props) in &dead {
        let reason = header_str(props, "x-error-message").unwrap();
        let expected = poison
            .iter()
            .find(|(b, _)| b == body)
            .map(|(_, r)| *r)
            .expect("DLQ body is one of the poison bodies");
        assert!(
            reason.contains(expected),
            "{reason:?} should mention {expected:?}"
        );
        assert_eq!(
            header_str(props, "x-error-class").as_deref(),
            Some("permanent")
        );
    }
    assert!(w.state.is_connected(), "still consuming");
    w.stop().await;
    q.cleanup(&ch).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_story_is_never_processed_twice_at_once() {
    let conn = broker().await;
    let ch = conn.create_channel().await.unwrap();
    let q = Queues::new("serial");
    let p = FakeProcessor::with_delay(Duration::from_millis(100));
    let w = start(q.settings(), p.clone());
    wait_consuming(&w).await;
    let id = Uuid::new_v4();
    let others: Vec<Uuid> = (0..3).map(|_| Uuid::new_v4()).collect();
    for v in 1..=4 {
        publish(&ch, &q.main, &bundle(&[(id, v)])).await;
    }
    for o in &others {
        publish(&ch, &q.main, &bundle(&[(*o, 1)])).await;
    }
    let st = Arc::clone(&w.state);
    eventually(10, "7 acked", move || {
        let st = Arc::clone(&st);
        async move { st.counters().acked == 7 }
    })
    .await;
    {
        let s = p.state.lock().unwrap();
        assert_eq!(s.max_same_story, 1);
        assert!(s.max_in_flight > 1, "other stories run concurrently");
        assert!(s.max_in_flight <= 4, "concurrency bound respected");
        assert_eq!(s.stored[&id], 1_700_000_004, "newest version stored");
    }
    w.stop().await;
    q.cleanup(&ch).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn open_breaker_stops_pulling_and_recovers() {
    let conn = broker().await;
    let ch = conn.create_channel().await.unwrap();
    let q = Queues::new("breaker");
    let p = FakeProcessor::default();
    p.state.lock().unwrap().all_fail = Some((ErrorClass::Transient, None));
    let mut s = q.settings();
    s.breaker_threshold = 2;
    s.breaker_cooldown = Duration::from_millis(700);
    s.in_process_retries = 5;
    s.backoff_in_process_max = Duration::from_secs(2);
    s.prefetch = 1;
    s.concurrency = 1;
    let w = start(s, p.clone());
    wait_consuming(&w).await;
    let ids: Vec<Uuid> = (0..3).map(|_| Uuid::new_v4()).collect();
    for id in &ids {
        publish(&ch, &q.main, &bundle(&[(*id, 1)])).await;
    }
    let st = Arc::clone(&w.state);
    eventually(10, "breaker open", move || {
        let st = Arc::clone(&st);
        async move { st.breaker.state() == BreakerState::Open }
    })
    .await;
    let calls_when_open: u32 = p.state.lock().unwrap().calls.values().sum();
    tokio::time::sleep(Duration::from_millis(400)).await;
    let calls_later: u32 = p.state.lock().unwrap().calls.values().sum();
    assert_eq!(
        calls_when_open, calls_later,
        "no MISP call while the breaker is open"
    );
    // Messages wait in the queue instead of burning attempts.
    assert!(depth(&ch, &q.main).await >= 1);
    p.state.lock().unwrap().all_fail = None;
    let st = Arc::clone(&w.state);
    eventually(15, "all acked after MISP recovered", move || {
        let st = Arc::clone(&st);
        async move { st.counters().acked == 3 }
    })
    .await;
    assert_eq!(w.state.breaker.state(), BreakerState::Closed);
    assert_eq!(w.state.counters().dead_lettered, 0);
    assert_eq!(p.stored().len(), 3);
    w.stop().await;
    q.cleanup(&ch).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_finishes_in_flight_and_requeues_the_rest() {
    let conn = broker().await;
    let ch = conn.create_channel().await.unwrap();
    let q = Queues::new("shutdown");
    let p = FakeProcessor::with_delay(Duration::from_millis(700));
    let mut s = q.settings();
    s.concurrency = 2;
    s.prefetch = 6;
    let w = start(s, p.clone());
    wait_consuming(&w).await;
    let ids: Vec<Uuid> = (0..6).map(|_| Uuid::new_v4()).collect();
    for id in &ids {
        publish(&ch, &q.main, &bundle(&[(*id, 1)])).await;
    }
    let ps = p.clone();
    eventually(10, "two stories in flight", move || {
        let ps = ps.clone();
        async move { ps.state.lock().unwrap().total_in_flight == 2 }
    })
    .await;
    w.stop().await;
    let stored = p.stored().len() as u32;
    assert!(stored >= 2, "in-flight stories were finished");
    let ch2 = ch.clone();
    let main = q.main.clone();
    eventually(
        5,
        "nothing lost: processed + requeued = published",
        move || {
            let ch = ch2.clone();
            let main = main.clone();
            async move { stored + depth(&ch, &main).await == 6 }
        },
    )
    .await;
    assert_eq!(depth(&ch, &q.results).await, stored);
    q.cleanup(&ch).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_deadline_requeues_stuck_messages() {
    let conn = broker().await;
    let ch = conn.create_channel().await.unwrap();
    let q = Queues::new("deadline");
    let p = FakeProcessor::with_delay(Duration::from_secs(30));
    let mut s = q.settings();
    s.shutdown_deadline = Duration::from_millis(300);
    let w = start(s, p.clone());
    wait_consuming(&w).await;
    publish(&ch, &q.main, &bundle(&[(Uuid::new_v4(), 1)])).await;
    let ps = p.clone();
    eventually(10, "story in flight", move || {
        let ps = ps.clone();
        async move { ps.state.lock().unwrap().total_in_flight == 1 }
    })
    .await;
    let started = std::time::Instant::now();
    w.stop().await;
    assert!(started.elapsed() < Duration::from_secs(10));
    let ch2 = ch.clone();
    let main = q.main.clone();
    eventually(5, "the stuck message is back in the queue", move || {
        let ch = ch2.clone();
        let main = main.clone();
        async move { depth(&ch, &main).await == 1 }
    })
    .await;
    q.cleanup(&ch).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_workers_on_one_queue_keep_the_newest_version_once() {
    let conn = broker().await;
    let ch = conn.create_channel().await.unwrap();
    let q = Queues::new("twoworkers");
    let p = FakeProcessor::with_delay(Duration::from_millis(5));
    let w1 = start(q.settings(), p.clone());
    wait_consuming(&w1).await;
    let w2 = start(q.settings(), p.clone());
    wait_consuming(&w2).await;
    let ids: Vec<Uuid> = (0..5).map(|_| Uuid::new_v4()).collect();
    for v in 1..=4 {
        for id in &ids {
            publish(&ch, &q.main, &bundle(&[(*id, v)])).await;
        }
    }
    let (s1, s2) = (Arc::clone(&w1.state), Arc::clone(&w2.state));
    eventually(15, "20 acked", move || {
        let (s1, s2) = (Arc::clone(&s1), Arc::clone(&s2));
        async move { s1.counters().acked + s2.counters().acked == 20 }
    })
    .await;
    assert!(
        w1.state.counters().acked > 0 && w2.state.counters().acked > 0,
        "both workers consumed"
    );
    {
        let st = p.state.lock().unwrap();
        assert_eq!(st.events_created, 5, "exactly one event per story");
        for id in &ids {
            assert_eq!(st.stored[id], 1_700_000_004, "newest version of {id}");
        }
    }
    w1.stop().await;
    w2.stop().await;
    q.cleanup(&ch).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reconnects_after_the_broker_closes_the_connection() {
    let conn = broker().await;
    let ch = conn.create_channel().await.unwrap();
    let q = Queues::new("reconnect");
    let p = FakeProcessor::default();
    let w = start(q.settings(), p.clone());
    wait_consuming(&w).await;
    let first = Uuid::new_v4();
    publish(&ch, &q.main, &bundle(&[(first, 1)])).await;
    let ps = p.clone();
    eventually(10, "first story", move || {
        let ps = ps.clone();
        async move { ps.stored().contains_key(&first) }
    })
    .await;

    // Close only this worker's connection; keep the test's own.
    close_connections(&q.connection_name()).await;
    let st = Arc::clone(&w.state);
    eventually(10, "reconnected", move || {
        let st = Arc::clone(&st);
        async move { st.counters().reconnects >= 1 && st.is_connected() }
    })
    .await;
    let second = Uuid::new_v4();
    publish(&ch, &q.main, &bundle(&[(second, 1)])).await;
    let ps = p.clone();
    eventually(10, "second story after reconnect", move || {
        let ps = ps.clone();
        async move { ps.stored().contains_key(&second) }
    })
    .await;
    w.stop().await;
    q.cleanup(&ch).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreachable_broker_is_retried_until_shutdown() {
    let mut s = Queues::new("unreachable").settings();
    s.url = secrecy::SecretString::from("amqp://guest:guest@127.0.0.1:1/%2f".to_owned());
    let w = start(s, FakeProcessor::default());
    let st = Arc::clone(&w.state);
    eventually(10, "several connection attempts", move || {
        let st = Arc::clone(&st);
        async move { st.counters().reconnects >= 2 }
    })
    .await;
    assert!(!w.state.is_connected());
    w.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_declared_delivery_limit_dead_letters_crash_loops() {
    let conn = broker().await;
    let ch = conn.create_channel().await.unwrap();
    let q = Queues::new("deliverylimit");
    let mut s = q.settings();
    s.delivery_limit = 2;
    misp_connector::worker::topology::declare(&ch, &s)
        .await
        .expect("topology declared");
    publish(&ch, &q.main, b"{\"crashes\":\"every worker\"}").await;
    // A consumer that dies before acking, again and again (simulated by nack + requeue), until the broker
    // gives up on the message.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    while depth(&ch, &q.dlq).await == 0 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the broker dead-lettered the message after 2 deliveries"
        );
        if let Some(m) = ch
            .basic_get(q.main.as_str().into(), Default::default())
            .await
            .unwrap()
        {
            m.delivery
                .acker
                .nack(lapin::options::BasicNackOptions {
                    requeue: true,
                    multiple: false,
                })
                .await
                .unwrap();
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(depth(&ch, &q.main).await, 0);
    q.cleanup(&ch).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_conflicting_existing_queue_stops_the_worker_with_a_clear_error() {
    let conn = broker().await;
    let ch = conn.create_channel().await.unwrap();
    let q = Queues::new("conflict");
    // An operator's classic queue without our arguments.
    ch.queue_declare(
        q.main.as_str().into(),
        lapin::options::QueueDeclareOptions {
            durable: true,
            ..Default::default()
        },
        Default::default(),
    )
    .await
    .unwrap();
    let worker = Worker::new(q.settings(), FakeProcessor::default())
        .unwrap()
        .with_converter(fake_convert);
    let err = tokio::time::timeout(
        Duration::from_secs(10),
        worker.run(CancellationToken::new()),
    )
    .await
    .expect("the worker gives up instead of retrying forever")
    .expect_err("declaration refused");
    let msg = err.to_string();
    assert!(msg.contains(&q.main), "{msg}");
    assert!(msg.contains("amqp.declare"), "{msg}");
    let ch = conn.create_channel().await.unwrap();
    q.cleanup(&ch).await;
}

fn panicking_convert(
    bytes: &[u8],
    opts: &misp_connector::convert::ConvertOptions,
) -> Result<misp_connector::convert::Conversion, misp_connector::convert::ConvertError> {
    if bytes.windows(5).any(|w| w == b"PANIC") {
        panic!("converter bug triggered by the test");
    }
    fake_convert(bytes, opts)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panic_while_processing_dead_letters_the_message_and_the_worker_goes_on() {
    let conn = broker().await;
    let ch = conn.create_channel().await.unwrap();
    let q = Queues::new("panic");
    let p = FakeProcessor::default();
    let worker = Worker::new(q.settings(), p.clone())
        .unwrap()
        .with_converter(panicking_convert);
    let state = worker.state();
    let token = CancellationToken::new();
    let handle = tokio::spawn(worker.run(token.clone()));
    let w = Running {
        token,
        handle,
        state,
    };
    wait_consuming(&w).await;
    publish(&ch, &q.main, b"{\"PANIC\":1}").await;
    let good = Uuid::new_v4();
    publish(&ch, &q.main, &bundle(&[(good, 1)])).await;
    let ch2 = ch.clone();
    let dlq = q.dlq.clone();
    eventually(10, "panicking message in the DLQ", move || {
        let ch = ch2.clone();
        let dlq = dlq.clone();
        async move { depth(&ch, &dlq).await == 1 }
    })
    .await;
    let (_, props) = drain(&ch, &q.dlq).await.remove(0);
    assert!(
        header_str(&props, "x-error-message")
            .unwrap()
            .contains("converter bug triggered by the test")
    );
    let ps = p.clone();
    eventually(10, "the next message is processed", move || {
        let ps = ps.clone();
        async move { ps.stored().contains_key(&good) }
    })
    .await;
    w.stop().await;
    q.cleanup(&ch).await;
}
