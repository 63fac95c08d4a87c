//! The consume loop and its supervisor.
//!
//! * The supervisor ([`Worker::run`]) connects, declares the topology, consumes, and when the connection is lost
//!   reconnects forever with capped exponential backoff and jitter (a broker restart never needs a worker
//!   restart). Every delivery may be a redelivery: the processor is idempotent.
//! * Each delivery runs as its own task: envelope → conversion → one sync per story (concurrently, under the
//!   per-story lock, the circuit breaker and the adaptive limit) → settle: results, then retry queue or DLQ when
//!   needed, then ack. Anything that cannot be published with a confirm is nacked with requeue, never dropped.
//! * Shutdown: cancel the consumer, requeue deliveries not started, let in-flight ones finish within the
//!   deadline, requeue the rest, close channel and connection.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use backon::BackoffBuilder as _;
use futures_util::{FutureExt as _, StreamExt as _};
use lapin::message::Delivery;
use lapin::options::{
    BasicAckOptions, BasicCancelOptions, BasicConsumeOptions, BasicNackOptions, BasicQosOptions,
};
use lapin::types::FieldTable;
use lapin::uri::AMQPUri;
use lapin::{BasicProperties, Connection, ConnectionProperties};
use secrecy::ExposeSecret as _;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{debug, error, info, warn};

use super::breaker::BreakerState;
use super::locks::StoryLocks;
use super::publisher::{PublishError, Publisher, json_properties};
use super::results::StoryResult;
use super::retry::{self, Disposition, FailureInfo, RetryPolicy, RetryState};
use super::settings::{SettingsError, WorkerSettings};
use super::topology::{self, TopologyError};
use super::{ConvertFn, StoryProcessor, WorkerState, bump};
use crate::convert::Converted;
use crate::envelope;
use crate::error::ErrorClass;
use crate::sync::SyncOutcome;
use crate::telemetry::metrics::{BreakerState as MetricsBreaker, Metrics};
use crate::telemetry::server::Readiness;

/// Why the worker stopped with an error (everything else is retried forever).
#[derive(Debug, thiserror::Error)]
pub enum WorkerError {
    /// The settings cannot work.
    #[error(transparent)]
    Settings(#[from] SettingsError),
    /// The broker refused the topology.
    #[error(transparent)]
    Topology(#[from] TopologyError),
    /// The CA file could not be read.
    #[error("reading amqp.tls.ca_file {path}: {message}")]
    CaFile { path: String, message: String },
}

/// Why a connection attempt failed.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    /// The URL does not parse (the URL itself is not echoed: it may hold a password).
    #[error("amqp.url is not a valid AMQP URL")]
    Url,
    /// The CA file could not be read.
    #[error("reading amqp.tls.ca_file {path}: {message}")]
    CaFile { path: String, message: String },
    /// The broker could not be reached or refused the login.
    #[error("connecting to {url}: {source}")]
    Amqp {
        url: String,
        #[source]
        source: lapin::Error,
    },
}

/// Open a connection with the settings' URL, heartbeat and TLS options.
pub async fn connect(s: &WorkerSettings) -> Result<Connection, ConnectError> {
    let mut uri: AMQPUri = s
        .url
        .expose_secret()
        .parse()
        .map_err(|_| ConnectError::Url)?;
    if s.heartbeat > 0 && uri.query.heartbeat.is_none() {
        uri.query.heartbeat = Some(s.heartbeat);
    }
    if uri.query.connection_timeout.is_none() {
        uri.query.connection_timeout = Some(10_000);
    }
    let props =
        ConnectionProperties::default().with_connection_name(s.connection_name.as_str().into());
    let amqp = |source| ConnectError::Amqp {
        url: s.redacted_url(),
        source,
    };
    match &s.tls.ca_file {
        None => Connection::connect_uri(uri, props).await.map_err(amqp),
        Some(path) => {
            let pem = tokio::fs::read_to_string(path)
                .await
                .map_err(|e| ConnectError::CaFile {
                    path: path.display().to_string(),
                    message: e.to_string(),
                })?;
            let tls = lapin::tcp::OwnedTLSConfig {
                identity: None,
                cert_chain: Some(pem),
            };
            let runtime = lapin::runtime::default_runtime().map_err(amqp)?;
            Connection::connect_uri_with_config(uri, props, tls, runtime)
                .await
                .map_err(amqp)
        }
    }
}

struct Ctx<P> {
    settings: WorkerSettings,
    processor: P,
    convert: ConvertFn,
    policy: RetryPolicy,
    locks: StoryLocks,
    state: Arc<WorkerState>,
    metrics: Option<Metrics>,
    readiness: Option<Readiness>,
}

impl<P> Ctx<P> {
    fn set_connected(&self, up: bool) {
        self.state.set_connected(up);
        self.metrics(|m| m.set_amqp_connected(up));
        if let Some(r) = &self.readiness {
            r.set_amqp_connected(up);
        }
    }

    fn metrics(&self, f: impl FnOnce(&Metrics)) {
        if let Some(m) = &self.metrics {
            f(m);
        }
    }

    /// Publish the limiter and breaker gauges (and MISP readiness: not ready while the breaker is open).
    fn gauges(&self) {
        if let Some(r) = &self.readiness {
            r.set_misp_reachable(self.state.breaker.state() != BreakerState::Open);
        }
        self.metrics(|m| {
            m.set_concurrency_limit(self.state.limiter.limit());
            m.set_circuit_breaker(match self.state.breaker.state() {
                BreakerState::Closed => MetricsBreaker::Closed,
                BreakerState::HalfOpen => MetricsBreaker::HalfOpen,
                BreakerState::Open => MetricsBreaker::Open,
            });
        });
    }
}

/// A configured worker; [`Worker::run`] runs it until the shutdown token is cancelled.
pub struct Worker<P> {
    ctx: Arc<Ctx<P>>,
}

enum SessionEnd {
    Shutdown,
    Lost(String),
}

impl<P: StoryProcessor> Worker<P> {
    /// A worker that converts with [`crate::convert::convert`] and syncs with `processor`.
    pub fn new(settings: WorkerSettings, processor: P) -> Result<Worker<P>, SettingsError> {
        settings.validate()?;
        let policy = RetryPolicy {
            max_attempts: settings.max_attempts,
            in_process_retries: settings.in_process_retries,
            backoff_initial: settings.backoff_initial,
            backoff_in_process_max: settings.backoff_in_process_max,
            retry_delay_initial: settings.retry_delay_initial,
            retry_delay_max: settings.retry_delay_max,
        };
        let state = Arc::new(WorkerState::new(&settings));
        Ok(Worker {
            ctx: Arc::new(Ctx {
                settings,
                processor,
                convert: crate::convert::convert,
                policy,
                locks: StoryLocks::default(),
                state,
                metrics: None,
                readiness: None,
            }),
        })
    }

    /// Use another conversion function (tests, tools).
    pub fn with_converter(self, convert: ConvertFn) -> Worker<P> {
        self.edit(|ctx| ctx.convert = convert)
    }

    /// Report to these Prometheus metrics.
    pub fn with_metrics(self, metrics: Metrics) -> Worker<P> {
        self.edit(|ctx| ctx.metrics = Some(metrics))
    }

    /// Report AMQP connectivity and MISP reachability (circuit breaker) to this readiness flag.
    pub fn with_readiness(self, readiness: Readiness) -> Worker<P> {
        self.edit(|ctx| ctx.readiness = Some(readiness))
    }

    fn edit(self, f: impl FnOnce(&mut Ctx<P>)) -> Worker<P> {
        match Arc::try_unwrap(self.ctx) {
            Ok(mut ctx) => {
                f(&mut ctx);
                Worker { ctx: Arc::new(ctx) }
            }
            // Never shared before `run`; keep the worker unchanged rather than panic.
            Err(ctx) => Worker { ctx },
        }
    }

    /// Live state for metrics and readiness.
    pub fn state(&self) -> Arc<WorkerState> {
        Arc::clone(&self.ctx.state)
    }

    /// Consume until `shutdown` is cancelled; reconnects on its own. Returns an error only for problems no
    /// retry can fix (topology refused, unreadable CA file).
    pub async fn run(self, shutdown: CancellationToken) -> Result<(), WorkerError> {
        let ctx = self.ctx;
        let s = &ctx.settings;
        let tracker = TaskTracker::new();
        let abort = CancellationToken::new();
        let mut delays = reconnect_backoff(s);
        let mut attempt: u64 = 0;
        let result = loop {
            if shutdown.is_cancelled() {
                break Ok(());
            }
            attempt += 1;
            if attempt > 1 {
                bump(&ctx.state.counters.reconnects);
                ctx.metrics(Metrics::amqp_reconnected);
            }
            info!(url = %s.redacted_url(), attempt, "connecting to RabbitMQ");
            match connect(s).await {
                Ok(conn) => {
                    delays = reconnect_backoff(s);
                    let end = session(&ctx, &conn, &shutdown, &tracker, &abort).await;
                    ctx.set_connected(false);
                    match end {
                        Ok(SessionEnd::Shutdown) => break Ok(()),
                        Ok(SessionEnd::Lost(reason)) => {
                            warn!(reason = %reason, "lost the RabbitMQ connection");
                            close_quietly(&conn).await;
                        }
                        Err(e) => {
                            close_quietly(&conn).await;
                            break Err(e);
                        }
                    }
                }
                Err(ConnectError::CaFile { path, message }) => {
                    break Err(WorkerError::CaFile { path, message });
                }
                Err(e) => warn!(attempt, error = %e, "RabbitMQ connection failed"),
            }
            let delay = delays.next().unwrap_or(s.reconnect_max);
            warn!(
                attempt,
                delay_ms = delay.as_millis() as u64,
                "reconnecting to RabbitMQ after a delay"
            );
            tokio::select! {
                _ = shutdown.cancelled() => break Ok(()),
                _ = tokio::time::sleep(delay) => {}
            }
        };
        // Tasks left from lost connections cannot ack any more (their messages are redelivered); let them end.
        tracker.close();
        if tokio::time::timeout(s.shutdown_deadline, tracker.wait())
            .await
            .is_err()
        {
            abort.cancel();
            tracker.wait().await;
        }
        info!("worker stopped");
        result
    }
}

fn reconnect_backoff(s: &WorkerSettings) -> impl Iterator<Item = Duration> + use<> {
    backon::ExponentialBuilder::default()
        .with_min_delay(s.reconnect_initial)
        .with_max_delay(s.reconnect_max)
        .without_max_times()
        .with_jitter()
        .build()
        .map({
            let max = s.reconnect_max;
            move |d| d.min(max)
        })
}

async fn close_quietly(conn: &Connection) {
    let close = conn.close(200, "closing".into());
    match tokio::time::timeout(Duration::from_secs(5), close).await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => debug!(error = %e, "closing the RabbitMQ connection"),
        Err(_) => debug!("closing the RabbitMQ connection timed out"),
    }
}

async fn session<P: StoryProcessor>(
    ctx: &Arc<Ctx<P>>,
    conn: &Connection,
    shutdown: &CancellationToken,
    tracker: &TaskTracker,
    abort: &CancellationToken,
) -> Result<SessionEnd, WorkerError> {
    let s = &ctx.settings;
    let lost = |what: &str, e: lapin::Error| SessionEnd::Lost(format!("{what}: {e}"));
    let channel = match conn.create_channel().await {
        Ok(c) => c,
        Err(e) => return Ok(lost("opening a channel", e)),
    };
    if s.declare
        && let Err(e) = topology::declare(&channel, s).await
    {
        if e.is_refused() {
            return Err(e.into());
        }
        return Ok(SessionEnd::Lost(e.to_string()));
    }
    let publisher = match Publisher::open(conn).await {
        Ok(p) => p,
        Err(e) => return Ok(lost("opening the publisher channel", e)),
    };
    if let Err(e) = channel
        .basic_qos(s.prefetch, BasicQosOptions::default())
        .await
    {
        return Ok(lost("basic.qos", e));
    }
    let tag = format!("misp-connector-{}", uuid::Uuid::new_v4());
    let mut consumer = match channel
        .basic_consume(
            s.queue.as_str().into(),
            tag.as_str().into(),
            BasicConsumeOptions::default(),
            FieldTable::default(),
        )
        .await
    {
        Ok(c) => c,
        Err(e) => return Ok(lost(&format!("consuming from queue '{}'", s.queue), e)),
    };
    ctx.set_connected(true);
    ctx.gauges();
    info!(queue = %s.queue, prefetch = s.prefetch, concurrency = s.concurrency, "consuming");

    let end = loop {
        if ctx.state.breaker.state() == BreakerState::Open {
            info!("MISP circuit breaker open: not taking new messages until it half-opens");
            tokio::select! {
                biased;
                _ = shutdown.cancelled() => break SessionEnd::Shutdown,
                _ = ctx.state.breaker.wait_not_open() => continue,
            }
        }
        tokio::select! {
            biased;
            _ = shutdown.cancelled() => break SessionEnd::Shutdown,
            next = consumer.next() => match next {
                Some(Ok(delivery)) => {
                    let task = handle_delivery(
                        Arc::clone(ctx),
                        publisher.clone(),
                        delivery,
                        shutdown.clone(),
                        abort.clone(),
                    );
                    tracker.spawn(task);
                }
                Some(Err(e)) => break lost("consuming", e),
                None => break SessionEnd::Lost("the broker cancelled the consumer".into()),
            }
        }
    };
    if let SessionEnd::Lost(_) = end {
        return Ok(end);
    }

    info!("shutting down: no new messages, finishing those in flight");
    if let Err(e) = channel
        .basic_cancel(tag.as_str().into(), BasicCancelOptions::default())
        .await
    {
        warn!(error = %e, "cancelling the consumer");
    }
    // Deliveries already received but not started go straight back to the queue.
    let drain_until = Instant::now() + Duration::from_secs(2);
    while let Ok(Some(Ok(delivery))) = tokio::time::timeout_at(drain_until, consumer.next()).await {
        requeue(ctx, &delivery, "shutting down before processing").await;
    }
    tracker.close();
    if tokio::time::timeout(s.shutdown_deadline, tracker.wait())
        .await
        .is_err()
    {
        warn!(
            deadline_ms = s.shutdown_deadline.as_millis() as u64,
            "shutdown deadline passed: requeueing the messages still in flight"
        );
        abort.cancel();
        tracker.wait().await;
    }
    publisher.close().await;
    if let Err(e) = channel.close(200, "shutdown".into()).await {
        debug!(error = %e, "closing the consumer channel");
    }
    close_quietly(conn).await;
    Ok(SessionEnd::Shutdown)
}

/// Bundles larger than this are converted with `block_in_place`, so a big conversion does not stall the
/// runtime thread that also drives heartbeats and other deliveries.
const BLOCKING_THRESHOLD: usize = 512 * 1024;

fn cpu_bound<T>(size: usize, f: impl FnOnce() -> T) -> T {
    let multi_thread = tokio::runtime::Handle::try_current()
        .is_ok_and(|h| h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread);
    if size > BLOCKING_THRESHOLD && multi_thread {
        tokio::task::block_in_place(f)
    } else {
        f()
    }
}

/// One story that did not make it into MISP this round.
#[derive(Debug, Clone)]
struct StoryFailure {
    story_id: String,
    class: ErrorClass,
    message: String,
    retry_after: Option<Duration>,
}

/// How one story's round ended.
enum StoryEnd {
    Synced(SyncOutcome),
    Failed(StoryFailure),
    /// Shutdown began before the story reached MISP (or between two retries): give the message back.
    Interrupted,
}

/// What one round did with a message.
enum RoundOutcome {
    /// Shutdown began while some story had not reached MISP: requeue the message.
    Interrupted,
    /// The body or bundle is unusable: dead-letter at once.
    Unusable {
        message: String,
        work_id: Option<String>,
    },
    /// Every story was handled; some may have failed.
    Stories {
        work_id: Option<String>,
        synced: Vec<SyncOutcome>,
        failures: Vec<StoryFailure>,
    },
}

async fn handle_delivery<P: StoryProcessor>(
    ctx: Arc<Ctx<P>>,
    publisher: Publisher,
    delivery: Delivery,
    shutdown: CancellationToken,
    abort: CancellationToken,
) {
    ctx.metrics(Metrics::message_received);
    let state = RetryState::from_headers(delivery.properties.headers().as_ref());
    let outcome = tokio::select! {
        biased;
        _ = abort.cancelled() => None,
        o = std::panic::AssertUnwindSafe(process_message(&ctx, &delivery, &state, &shutdown))
            .catch_unwind() => Some(o.unwrap_or_else(|panic| {
            // A bug, not the input's fault: never leave the message unacknowledged (it would block its
            // prefetch slot until the connection closes); dead-letter it with the reason instead.
            let what = panic
                .downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".to_owned());
            error!(panic = %what, "processing a message panicked");
            RoundOutcome::Unusable {
                message: format!("internal error while processing the message: {what}"),
                work_id: None,
            }
        })),
    };
    match outcome {
        None => requeue(&ctx, &delivery, "shutdown deadline passed").await,
        Some(RoundOutcome::Interrupted) => {
            requeue(
                &ctx,
                &delivery,
                "shutting down before all stories reached MISP",
            )
            .await;
        }
        Some(o) => settle(&ctx, &publisher, &delivery, &state, o).await,
    }
}

async fn process_message<P: StoryProcessor>(
    ctx: &Ctx<P>,
    delivery: &Delivery,
    state: &RetryState,
    shutdown: &CancellationToken,
) -> RoundOutcome {
    let opts = &ctx.settings.convert;
    let env = match envelope::decode(&delivery.data, &opts.limits) {
        Ok(env) => env,
        Err(e) => {
            return RoundOutcome::Unusable {
                message: format!("invalid message body: {e}"),
                work_id: None,
            };
        }
    };
    let work_id = env.work_id.clone();
    let started = Instant::now();
    let converted = cpu_bound(env.bundle.len(), || (ctx.convert)(&env.bundle, opts));
    ctx.metrics(|m| m.conversion(started.elapsed()));
    let conversion = match converted {
        Ok(c) => c,
        Err(e) => {
            return RoundOutcome::Unusable {
                message: format!("invalid bundle: {e}"),
                work_id,
            };
        }
    };
    if conversion.stories.is_empty() {
        return RoundOutcome::Unusable {
            message: "invalid bundle: no story in bundle".into(),
            work_id,
        };
    }
    for w in &conversion.warnings {
        debug!(warning = %w, "conversion warning");
    }
    let todo: Vec<&Converted> = conversion
        .stories
        .iter()
        .filter(|c| !state.done.contains(&c.story.id.to_string()))
        .collect();
    let results =
        futures_util::future::join_all(todo.iter().map(|c| process_story(ctx, c, shutdown))).await;
    let mut synced = Vec::new();
    let mut failures = Vec::new();
    let mut interrupted = false;
    for r in results {
        match r {
            StoryEnd::Synced(o) => {
                bump(&ctx.state.counters.stories_synced);
                synced.push(o);
            }
            StoryEnd::Failed(f) => {
                bump(&ctx.state.counters.stories_failed);
                failures.push(f);
            }
            StoryEnd::Interrupted => interrupted = true,
        }
    }
    if interrupted {
        // Stories synced meanwhile are "unchanged" on redelivery: the sync is idempotent.
        return RoundOutcome::Interrupted;
    }
    RoundOutcome::Stories {
        work_id,
        synced,
        failures,
    }
}

async fn process_story<P: StoryProcessor>(
    ctx: &Ctx<P>,
    c: &Converted,
    shutdown: &CancellationToken,
) -> StoryEnd {
    let story_id = c.story.id;
    // Every wait before a MISP call gives way to shutdown; a call already sent is finished.
    let _guard = tokio::select! {
        biased;
        _ = shutdown.cancelled() => return StoryEnd::Interrupted,
        g = ctx.locks.lock(story_id) => g,
    };
    let mut delays = ctx.policy.in_process_delays();
    loop {
        let (admission, permit) = tokio::select! {
            biased;
            _ = shutdown.cancelled() => return StoryEnd::Interrupted,
            a = async {
                let admission = ctx.state.breaker.admit().await;
                let permit = ctx.state.limiter.acquire().await;
                (admission, permit)
            } => a,
        };
        let started = Instant::now();
        let in_flight = ctx.metrics.as_ref().map(Metrics::in_flight);
        let result = ctx.processor.process(c).await;
        drop(in_flight);
        let latency = started.elapsed();
        let e = match result {
            Ok(outcome) => {
                admission.success();
                permit.observe(latency, false);
                ctx.gauges();
                ctx.metrics(|m| m.story_processed(outcome.action.as_str()));
                debug!(story_id = %story_id, action = outcome.action.as_str(), "story synced");
                return StoryEnd::Synced(outcome);
            }
            Err(e) => e,
        };
        let failure = StoryFailure {
            story_id: story_id.to_string(),
            class: e.class,
            message: e.message.clone(),
            retry_after: e.retry_after,
        };
        match e.class {
            ErrorClass::Permanent => {
                admission.success();
                permit.observe(latency, false);
                warn!(story_id = %story_id, error = %e.message, "story failed permanently");
                return StoryEnd::Failed(failure);
            }
            ErrorClass::Conflict => {
                admission.success();
                permit.observe(latency, false);
            }
            ErrorClass::Transient => {
                admission.failure(e.retry_after);
                permit.observe(latency, true);
            }
        }
        drop(permit);
        ctx.gauges();
        let Some(delay) = delays.next() else {
            warn!(story_id = %story_id, error = %e.message, "in-process retries spent");
            return StoryEnd::Failed(failure);
        };
        let wait = delay.max(e.retry_after.unwrap_or_default());
        if !ctx.policy.fits_in_process(wait) {
            info!(story_id = %story_id, wait_ms = wait.as_millis() as u64, "wait too long for an in-process retry");
            return StoryEnd::Failed(failure);
        }
        warn!(
            story_id = %story_id,
            class = e.class.as_str(),
            error = %e.message,
            wait_ms = wait.as_millis() as u64,
            "retrying story"
        );
        tokio::select! {
            biased;
            _ = shutdown.cancelled() => return StoryEnd::Interrupted,
            _ = tokio::time::sleep(wait) => {}
        }
    }
}

async fn settle<P: StoryProcessor>(
    ctx: &Ctx<P>,
    publisher: &Publisher,
    delivery: &Delivery,
    state: &RetryState,
    outcome: RoundOutcome,
) {
    let s = &ctx.settings;
    let round = state.attempts.saturating_add(1);
    match outcome {
        RoundOutcome::Interrupted => requeue(ctx, delivery, "interrupted").await,
        RoundOutcome::Unusable { message, work_id } => {
            warn!(error = %message, work_id = ?work_id, "dead-lettering an unusable message");
            let info = FailureInfo {
                class: ErrorClass::Permanent,
                message,
                story_ids: Vec::new(),
            };
            if republish(ctx, publisher, delivery, state, &info, round, None)
                .await
                .is_ok()
            {
                bump(&ctx.state.counters.dead_lettered);
                ctx.metrics(|m| m.message_dead_lettered(ErrorClass::Permanent));
                ack(ctx, delivery).await;
            }
        }
        RoundOutcome::Stories {
            work_id,
            synced,
            failures,
        } => {
            let mut results: Vec<StoryResult> = synced
                .iter()
                .map(|o| StoryResult::synced(o, work_id.as_deref()))
                .collect();
            if failures.is_empty() {
                if publish_results(s, publisher, delivery, &results)
                    .await
                    .is_ok()
                {
                    ack(ctx, delivery).await;
                }
                return;
            }
            let class = if failures.iter().any(|f| f.class == ErrorClass::Permanent) {
                ErrorClass::Permanent
            } else {
                ErrorClass::Transient
            };
            let retry_after = failures.iter().filter_map(|f| f.retry_after).max();
            let info = FailureInfo {
                class,
                message: failures
                    .iter()
                    .map(|f| format!("story {}: {} ({})", f.story_id, f.message, f.class))
                    .collect::<Vec<_>>()
                    .join("; "),
                story_ids: failures.iter().map(|f| f.story_id.clone()).collect(),
            };
            match ctx.policy.after_failure(round, class, retry_after) {
                Disposition::Retry(delay) => {
                    let mut done = state.done.clone();
                    done.extend(synced.iter().map(|o| o.story_id.to_string()));
                    info!(
                        round,
                        delay_ms = delay.as_millis() as u64,
                        error = %info.message,
                        "sending the message to the retry queue"
                    );
                    if publish_results(s, publisher, delivery, &results)
                        .await
                        .is_err()
                    {
                        return;
                    }
                    if republish(
                        ctx,
                        publisher,
                        delivery,
                        state,
                        &info,
                        round,
                        Some((delay, &done)),
                    )
                    .await
                    .is_ok()
                    {
                        bump(&ctx.state.counters.retried);
                        ctx.metrics(|m| m.message_retried(class));
                        ack(ctx, delivery).await;
                    }
                }
                Disposition::DeadLetter => {
                    let reason = if class == ErrorClass::Permanent {
                        info.message.clone()
                    } else {
                        format!("gave up after {round} attempts: {}", info.message)
                    };
                    error!(round, error = %reason, "dead-lettering the message");
                    results.extend(
                        failures.iter().map(|f| {
                            StoryResult::failed(&f.story_id, &f.message, work_id.as_deref())
                        }),
                    );
                    if publish_results(s, publisher, delivery, &results)
                        .await
                        .is_err()
                    {
                        return;
                    }
                    let info = FailureInfo {
                        message: reason,
                        ..info
                    };
                    if republish(ctx, publisher, delivery, state, &info, round, None)
                        .await
                        .is_ok()
                    {
                        bump(&ctx.state.counters.dead_lettered);
                        ctx.metrics(|m| {
                            m.message_dead_lettered(class);
                            for _ in &failures {
                                m.story_processed("failed");
                            }
                        });
                        ack(ctx, delivery).await;
                    }
                }
            }
        }
    }
}

/// Publish the original body with retry/DLQ headers: to the retry queue when `retry` is set, else to the DLQ.
/// On failure the delivery is requeued (nothing is lost) and `Err` returned.
async fn republish<P: StoryProcessor>(
    ctx: &Ctx<P>,
    publisher: &Publisher,
    delivery: &Delivery,
    state: &RetryState,
    info: &FailureInfo,
    round: u32,
    retry: Option<(Duration, &BTreeSet<String>)>,
) -> Result<(), ()> {
    let s = &ctx.settings;
    let mut headers = retry::failure_headers(
        delivery.properties.headers().as_ref(),
        state,
        info,
        round,
        &s.queue,
        chrono::Utc::now(),
    );
    let mut props = copy_properties(&delivery.properties).with_delivery_mode(2);
    let target = match retry {
        Some((delay, done)) => {
            retry::set_done(&mut headers, done);
            let ms = delay.as_millis().max(1).to_string();
            props = props.with_expiration(ms.as_str().into());
            s.retry_queue.as_str()
        }
        None => s.dlq.as_str(),
    };
    let props = props.with_headers(headers);
    match publisher.publish(target, &delivery.data, props).await {
        Ok(()) => Ok(()),
        Err(e) => {
            error!(error = %e, "could not republish the message; requeueing it");
            requeue(ctx, delivery, "republishing failed").await;
            Err(())
        }
    }
}

/// The original properties without `expiration` (set per target) and `user_id` (RabbitMQ refuses a
/// `user_id` other than the publishing user, which would close the channel).
fn copy_properties(p: &BasicProperties) -> BasicProperties {
    let mut out = BasicProperties::default();
    if let Some(v) = p.content_type() {
        out = out.with_content_type(v.clone());
    }
    if let Some(v) = p.content_encoding() {
        out = out.with_content_encoding(v.clone());
    }
    if let Some(v) = p.headers() {
        out = out.with_headers(v.clone());
    }
    if let Some(v) = p.delivery_mode() {
        out = out.with_delivery_mode(*v);
    }
    if let Some(v) = p.priority() {
        out = out.with_priority(*v);
    }
    if let Some(v) = p.correlation_id() {
        out = out.with_correlation_id(v.clone());
    }
    if let Some(v) = p.reply_to() {
        out = out.with_reply_to(v.clone());
    }
    if let Some(v) = p.message_id() {
        out = out.with_message_id(v.clone());
    }
    if let Some(v) = p.timestamp() {
        out = out.with_timestamp(*v);
    }
    if let Some(v) = p.kind() {
        out = out.with_type(v.clone());
    }
    if let Some(v) = p.app_id() {
        out = out.with_app_id(v.clone());
    }
    out
}

/// Publish one result per story to `reply_to` or the results queue. A missing `reply_to` queue is logged and
/// skipped (it must not hold the message hostage); a channel failure requeues the delivery.
async fn publish_results(
    s: &WorkerSettings,
    publisher: &Publisher,
    delivery: &Delivery,
    results: &[StoryResult],
) -> Result<(), ()> {
    let reply_to = delivery
        .properties
        .reply_to()
        .as_ref()
        .map(|r| r.as_str().to_owned())
        .filter(|r| !r.is_empty());
    let Some(target) = reply_to.or_else(|| s.results_queue.clone()) else {
        return Ok(());
    };
    let mut props = json_properties();
    if let Some(c) = delivery
        .properties
        .correlation_id()
        .as_ref()
        .or(delivery.properties.message_id().as_ref())
    {
        props = props.with_correlation_id(c.clone());
    }
    for r in results {
        match publisher
            .publish(&target, &r.to_json(), props.clone())
            .await
        {
            Ok(()) => {}
            Err(e @ PublishError::Unroutable { .. }) => {
                warn!(error = %e, story_id = %r.story_id, "result message dropped: no such queue");
            }
            Err(e) => {
                error!(error = %e, "could not publish a result; requeueing the message");
                if let Err(e) = delivery
                    .acker
                    .nack(BasicNackOptions {
                        requeue: true,
                        multiple: false,
                    })
                    .await
                {
                    debug!(error = %e, "nack failed (the broker redelivers the message anyway)");
                }
                return Err(());
            }
        }
    }
    Ok(())
}

async fn ack<P>(ctx: &Ctx<P>, delivery: &Delivery) {
    match delivery.acker.ack(BasicAckOptions::default()).await {
        Ok(_) => bump(&ctx.state.counters.acked),
        Err(e) => warn!(error = %e, "ack failed; the broker will redeliver the message"),
    }
}

async fn requeue<P>(ctx: &Ctx<P>, delivery: &Delivery, why: &str) {
    info!(reason = why, "requeueing a message");
    match delivery
        .acker
        .nack(BasicNackOptions {
            requeue: true,
            multiple: false,
        })
        .await
    {
        Ok(_) => bump(&ctx.state.counters.requeued),
        Err(e) => debug!(error = %e, "nack failed (the broker redelivers the message anyway)"),
    }
}
