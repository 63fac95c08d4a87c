//! The queue worker (BRIEF §6): consume bundles from RabbitMQ, hand each story to a [`StoryProcessor`],
//! acknowledge only once the processor succeeded, retry transient failures, dead-letter the rest.
//!
//! The worker knows AMQP and nothing about HTTP: MISP is behind [`StoryProcessor`] (implemented by
//! [`crate::sync::Syncer`] in production and by fakes in tests).
//!
//! * [`settings`] — [`WorkerSettings`];
//! * [`topology`] — queue declarations;
//! * [`consumer`] — connection supervisor, consume loop, per-message pipeline;
//! * [`retry`] — retry policy and headers; [`breaker`] and [`limiter`] — MISP back-pressure;
//! * [`locks`] — per-story locks; [`publisher`] — confirmed publishing; [`results`] — result messages.

pub mod breaker;
pub mod consumer;
pub mod limiter;
pub mod locks;
pub mod publisher;
pub mod results;
pub mod retry;
pub mod settings;
pub mod topology;

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use crate::convert::{Conversion, ConvertError, ConvertOptions, Converted};
use crate::sync::{SyncError, SyncOutcome};

pub use breaker::{BreakerState, CircuitBreaker};
pub use consumer::{Worker, WorkerError, connect};
pub use limiter::AdaptiveLimit;
pub use publisher::{PublishError, Publisher};
pub use settings::{QueueType, SettingsError, TlsSettings, WorkerSettings};

/// Syncs one converted story to MISP (or wherever). Implementations must be idempotent: every delivery may be
/// a redelivery, and several workers may process versions of the same story.
pub trait StoryProcessor: Send + Sync + 'static {
    /// Make the destination hold `story`. Transient errors are retried, permanent ones dead-lettered.
    fn process(
        &self,
        story: &Converted,
    ) -> impl Future<Output = Result<SyncOutcome, SyncError>> + Send;
}

/// Bundle bytes → stories. [`crate::convert::convert`] in production.
pub type ConvertFn = fn(&[u8], &ConvertOptions) -> Result<Conversion, ConvertError>;

/// Live state of a running worker, for metrics and readiness.
#[derive(Debug)]
pub struct WorkerState {
    /// MISP circuit breaker.
    pub breaker: Arc<CircuitBreaker>,
    /// Adaptive in-flight limit.
    pub limiter: Arc<AdaptiveLimit>,
    connected: AtomicBool,
    counters: Counters,
}

/// Monotonic counters (read them with [`WorkerState::counters`]).
#[derive(Debug, Default)]
struct Counters {
    acked: AtomicU64,
    retried: AtomicU64,
    dead_lettered: AtomicU64,
    requeued: AtomicU64,
    stories_synced: AtomicU64,
    stories_failed: AtomicU64,
    reconnects: AtomicU64,
}

/// A snapshot of the counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CounterSnapshot {
    /// Messages acknowledged after all their stories were handled.
    pub acked: u64,
    /// Messages sent to the retry queue.
    pub retried: u64,
    /// Messages sent to the dead-letter queue.
    pub dead_lettered: u64,
    /// Messages given back to the queue (shutdown, publish failure).
    pub requeued: u64,
    /// Stories MISP now holds (any action).
    pub stories_synced: u64,
    /// Stories that failed in a round.
    pub stories_failed: u64,
    /// Connection attempts after the first.
    pub reconnects: u64,
}

impl WorkerState {
    fn new(s: &WorkerSettings) -> WorkerState {
        WorkerState {
            breaker: Arc::new(CircuitBreaker::new(s.breaker_threshold, s.breaker_cooldown)),
            limiter: Arc::new(AdaptiveLimit::new(
                s.min_concurrency,
                s.concurrency,
                s.latency_target,
            )),
            connected: AtomicBool::new(false),
            counters: Counters::default(),
        }
    }

    /// Whether the worker is connected to RabbitMQ and consuming.
    pub fn is_connected(&self) -> bool {
        self.connected.load(Ordering::Relaxed)
    }

    fn set_connected(&self, v: bool) {
        self.connected.store(v, Ordering::Relaxed);
    }

    /// Current counter values.
    pub fn counters(&self) -> CounterSnapshot {
        let c = &self.counters;
        let r = |a: &AtomicU64| a.load(Ordering::Relaxed);
        CounterSnapshot {
            acked: r(&c.acked),
            retried: r(&c.retried),
            dead_lettered: r(&c.dead_lettered),
            requeued: r(&c.requeued),
            stories_synced: r(&c.stories_synced),
            stories_failed: r(&c.stories_failed),
            reconnects: r(&c.reconnects),
        }
    }
}

fn bump(a: &AtomicU64) {
    a.fetch_add(1, Ordering::Relaxed);
}

impl StoryProcessor for crate::sync::Syncer {
    fn process(
        &self,
        story: &Converted,
    ) -> impl Future<Output = Result<SyncOutcome, SyncError>> + Send {
        self.sync(story)
    }
}
