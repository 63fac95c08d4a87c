//! Circuit breaker in front of MISP (BRIEF §6: "MISP down → stop pulling").
//!
//! After `threshold` consecutive transient failures (or one answer carrying `Retry-After`) the breaker opens:
//! no story is sent to MISP and the consumer stops taking deliveries. After the cool-down (or the `Retry-After`,
//! whichever is longer) one half-open probe goes through; its success closes the breaker, its failure re-opens it.
//! Waiting at the breaker never counts as a processing attempt.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::sync::Notify;
use tokio::time::Instant;

/// The externally visible state, for logs and metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BreakerState {
    /// Requests flow.
    Closed,
    /// MISP is considered down: nothing is sent until the cool-down ends.
    Open,
    /// One probe request is allowed to test MISP.
    HalfOpen,
}

impl BreakerState {
    /// 0 closed, 1 half-open, 2 open (a gauge value).
    pub fn as_gauge(self) -> i64 {
        match self {
            BreakerState::Closed => 0,
            BreakerState::HalfOpen => 1,
            BreakerState::Open => 2,
        }
    }
}

#[derive(Debug)]
enum State {
    Closed { failures: u32 },
    Open { until: Instant },
    HalfOpen { probing: bool },
}

/// The breaker; share it behind an [`Arc`].
#[derive(Debug)]
pub struct CircuitBreaker {
    state: Mutex<State>,
    notify: Notify,
    threshold: u32,
    cooldown: Duration,
}

impl CircuitBreaker {
    /// A closed breaker that opens after `threshold` consecutive failures for `cooldown`.
    pub fn new(threshold: u32, cooldown: Duration) -> CircuitBreaker {
        CircuitBreaker {
            state: Mutex::new(State::Closed { failures: 0 }),
            notify: Notify::new(),
            threshold: threshold.max(1),
            cooldown,
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A poisoned lock only means another thread panicked while holding it; the state is still valid.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The current state.
    pub fn state(&self) -> BreakerState {
        match &*self.lock() {
            State::Closed { .. } => BreakerState::Closed,
            State::Open { until } if Instant::now() < *until => BreakerState::Open,
            State::Open { .. } | State::HalfOpen { .. } => BreakerState::HalfOpen,
        }
    }

    /// Wait until a request may be sent to MISP. In half-open state only one caller (the probe) gets through.
    pub async fn admit(self: &Arc<Self>) -> Admission {
        loop {
            let notified = self.notify.notified();
            let wait_until = {
                let mut st = self.lock();
                match &mut *st {
                    State::Closed { .. } => {
                        return Admission {
                            breaker: Arc::clone(self),
                            probe: false,
                            settled: false,
                        };
                    }
                    State::Open { until } if Instant::now() < *until => Some(*until),
                    State::Open { .. } | State::HalfOpen { probing: false } => {
                        *st = State::HalfOpen { probing: true };
                        tracing::info!("circuit breaker half-open: sending a probe to MISP");
                        return Admission {
                            breaker: Arc::clone(self),
                            probe: true,
                            settled: false,
                        };
                    }
                    State::HalfOpen { probing: true } => None,
                }
            };
            match wait_until {
                Some(until) => {
                    tokio::select! {
                        _ = tokio::time::sleep_until(until) => {}
                        _ = notified => {}
                    }
                }
                None => notified.await,
            }
        }
    }

    /// Wait until the breaker is not open (used by the consumer before taking a delivery).
    pub async fn wait_not_open(&self) {
        loop {
            let notified = self.notify.notified();
            let until = match &*self.lock() {
                State::Open { until } if Instant::now() < *until => *until,
                _ => return,
            };
            tokio::select! {
                _ = tokio::time::sleep_until(until) => {}
                _ = notified => {}
            }
        }
    }

    fn on_success(&self) {
        let mut st = self.lock();
        if !matches!(*st, State::Closed { failures: 0 }) {
            if !matches!(*st, State::Closed { .. }) {
                tracing::info!("circuit breaker closed: MISP answers again");
            }
            *st = State::Closed { failures: 0 };
            drop(st);
            self.notify.notify_waiters();
        }
    }

    fn on_failure(&self, retry_after: Option<Duration>) {
        let now = Instant::now();
        let mut st = self.lock();
        let open_for = match &mut *st {
            State::Closed { failures } => {
                *failures += 1;
                if *failures >= self.threshold {
                    Some(self.cooldown.max(retry_after.unwrap_or_default()))
                } else {
                    retry_after
                }
            }
            State::HalfOpen { .. } => Some(self.cooldown.max(retry_after.unwrap_or_default())),
            State::Open { until } => {
                // A straggler from before the breaker opened: extend only for a longer Retry-After.
                if let Some(ra) = retry_after
                    && now + ra > *until
                {
                    *until = now + ra;
                }
                None
            }
        };
        if let Some(d) = open_for {
            tracing::warn!(
                open_for_ms = d.as_millis() as u64,
                "circuit breaker open: pausing MISP requests"
            );
            *st = State::Open { until: now + d };
        }
    }

    fn on_abandon(&self) {
        let mut st = self.lock();
        if let State::HalfOpen { probing } = &mut *st {
            *probing = false;
        }
        drop(st);
        self.notify.notify_waiters();
    }
}

/// Permission to send one request; report how it went with [`Admission::success`] or [`Admission::failure`].
#[derive(Debug)]
pub struct Admission {
    breaker: Arc<CircuitBreaker>,
    probe: bool,
    settled: bool,
}

impl Admission {
    /// Whether this request is the half-open probe.
    pub fn is_probe(&self) -> bool {
        self.probe
    }

    /// MISP answered (any answer that is not a transient failure).
    pub fn success(mut self) {
        self.settled = true;
        self.breaker.on_success();
    }

    /// MISP failed transiently (5xx, timeout, 429 with its `Retry-After`).
    pub fn failure(mut self, retry_after: Option<Duration>) {
        self.settled = true;
        self.breaker.on_failure(retry_after);
    }
}

impl Drop for Admission {
    fn drop(&mut self) {
        if !self.settled && self.probe {
            // The probe was cancelled (shutdown): let another caller probe.
            self.breaker.on_abandon();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn opens_after_threshold_and_probes_after_cooldown() {
        let b = Arc::new(CircuitBreaker::new(3, Duration::from_millis(100)));
        for _ in 0..2 {
            b.admit().await.failure(None);
            assert_eq!(b.state(), BreakerState::Closed);
        }
        b.admit().await.failure(None);
        assert_eq!(b.state(), BreakerState::Open);

        let start = Instant::now();
        let a = b.admit().await;
        assert!(a.is_probe());
        assert!(start.elapsed() >= Duration::from_millis(90));
        assert_eq!(b.state(), BreakerState::HalfOpen);

        // A second caller waits for the probe's outcome.
        let b2 = Arc::clone(&b);
        let waiter = tokio::spawn(async move { b2.admit().await.is_probe() });
        tokio::time::sleep(Duration::from_millis(1)).await;
        assert!(!waiter.is_finished());
        a.success();
        assert!(!waiter.await.unwrap());
        assert_eq!(b.state(), BreakerState::Closed);
    }

    #[tokio::test]
    async fn failed_probe_reopens() {
        let b = Arc::new(CircuitBreaker::new(1, Duration::from_millis(50)));
        b.admit().await.failure(None);
        let probe = b.admit().await;
        assert!(probe.is_probe());
        probe.failure(None);
        assert_eq!(b.state(), BreakerState::Open);
    }

    #[tokio::test]
    async fn retry_after_opens_at_once_for_that_long() {
        let b = Arc::new(CircuitBreaker::new(5, Duration::from_secs(1)));
        b.admit().await.failure(Some(Duration::from_millis(200)));
        assert_eq!(b.state(), BreakerState::Open);
        let start = Instant::now();
        b.wait_not_open().await;
        assert!(start.elapsed() >= Duration::from_millis(190));
    }

    #[tokio::test]
    async fn success_resets_the_failure_count() {
        let b = Arc::new(CircuitBreaker::new(2, Duration::from_secs(1)));
        b.admit().await.failure(None);
        b.admit().await.success();
        b.admit().await.failure(None);
        assert_eq!(b.state(), BreakerState::Closed);
    }

    #[tokio::test]
    async fn abandoned_probe_lets_another_probe() {
        let b = Arc::new(CircuitBreaker::new(1, Duration::from_millis(50)));
        b.admit().await.failure(None);
        let probe = b.admit().await;
        assert!(probe.is_probe());
        drop(probe);
        assert!(b.admit().await.is_probe());
    }
}
