//! Adaptive in-flight limit for MISP requests (AIMD).
//!
//! MISP slows down long before it fails (BRIEF §9: 148 ms per small event alone, seconds under load). The worker
//! starts at `max` stories in flight; a request slower than the latency target, or a transient failure, cuts the
//! limit by a quarter (at most once per latency target, capped at one second); every `limit` fast successes raise it by one, up to `max`.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::sync::Notify;
use tokio::time::Instant;

#[derive(Debug)]
struct Inner {
    limit: usize,
    in_flight: usize,
    successes: usize,
    last_decrease: Option<Instant>,
}

/// The limiter; share it behind an [`Arc`].
#[derive(Debug)]
pub struct AdaptiveLimit {
    inner: Mutex<Inner>,
    notify: Notify,
    min: usize,
    max: usize,
    latency_target: Duration,
}

/// Longest minimum time between two decreases (a burst of slow answers counts as one signal).
const DECREASE_INTERVAL: Duration = Duration::from_secs(1);

impl AdaptiveLimit {
    /// A limiter between `min` and `max` (starting at `max`).
    pub fn new(min: usize, max: usize, latency_target: Duration) -> AdaptiveLimit {
        let max = max.max(1);
        let min = min.clamp(1, max);
        AdaptiveLimit {
            inner: Mutex::new(Inner {
                limit: max,
                in_flight: 0,
                successes: 0,
                last_decrease: None,
            }),
            notify: Notify::new(),
            min,
            max,
            latency_target,
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Minimum time between two decreases: the latency target, at most one second.
    fn decrease_interval(&self) -> Duration {
        self.latency_target.min(DECREASE_INTERVAL)
    }

    /// The current limit.
    pub fn limit(&self) -> usize {
        self.lock().limit
    }

    /// Requests in flight now.
    pub fn in_flight(&self) -> usize {
        self.lock().in_flight
    }

    /// Wait for a slot.
    pub async fn acquire(self: &Arc<Self>) -> Permit {
        loop {
            let notified = self.notify.notified();
            {
                let mut inner = self.lock();
                if inner.in_flight < inner.limit {
                    inner.in_flight += 1;
                    return Permit {
                        limiter: Arc::clone(self),
                    };
                }
            }
            notified.await;
        }
    }

    fn release(&self) {
        let mut inner = self.lock();
        inner.in_flight = inner.in_flight.saturating_sub(1);
        drop(inner);
        self.notify.notify_waiters();
    }

    /// Feed one observation: how long the request took and whether it failed transiently.
    pub fn observe(&self, latency: Duration, failed: bool) {
        let now = Instant::now();
        let mut inner = self.lock();
        if failed || latency > self.latency_target {
            let recently = inner
                .last_decrease
                .is_some_and(|t| now.duration_since(t) < self.decrease_interval());
            if !recently {
                let new = (inner.limit * 3 / 4).max(self.min);
                if new != inner.limit {
                    tracing::info!(
                        from = inner.limit,
                        to = new,
                        latency_ms = latency.as_millis() as u64,
                        failed,
                        "lowering the MISP in-flight limit"
                    );
                }
                inner.limit = new;
                inner.last_decrease = Some(now);
            }
            inner.successes = 0;
        } else {
            inner.successes += 1;
            if inner.successes >= inner.limit && inner.limit < self.max {
                inner.limit += 1;
                inner.successes = 0;
                drop(inner);
                self.notify.notify_waiters();
            }
        }
    }
}

/// One slot of the limit, released on drop.
#[derive(Debug)]
pub struct Permit {
    limiter: Arc<AdaptiveLimit>,
}

impl Permit {
    /// Record the request's latency and outcome (the slot is released when the permit drops).
    pub fn observe(&self, latency: Duration, failed: bool) {
        self.limiter.observe(latency, failed);
    }
}

impl Drop for Permit {
    fn drop(&mut self) {
        self.limiter.release();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn bounds_in_flight() {
        let l = Arc::new(AdaptiveLimit::new(1, 2, Duration::from_secs(1)));
        let a = l.acquire().await;
        let _b = l.acquire().await;
        assert_eq!(l.in_flight(), 2);
        let l2 = Arc::clone(&l);
        let third = tokio::spawn(async move { l2.acquire().await });
        tokio::time::sleep(Duration::from_millis(1)).await;
        assert!(!third.is_finished());
        drop(a);
        let _c = third.await.unwrap();
        assert_eq!(l.in_flight(), 2);
    }

    #[tokio::test]
    async fn slow_answers_lower_and_fast_ones_raise() {
        let l = AdaptiveLimit::new(2, 16, Duration::from_millis(50));
        assert_eq!(l.limit(), 16);
        l.observe(Duration::from_millis(100), false);
        assert_eq!(l.limit(), 12);
        // A burst within a second counts once.
        l.observe(Duration::from_millis(100), false);
        assert_eq!(l.limit(), 12);
        tokio::time::sleep(Duration::from_millis(60)).await;
        l.observe(Duration::ZERO, true);
        assert_eq!(l.limit(), 9);
        for _ in 0..9 {
            l.observe(Duration::from_millis(10), false);
        }
        assert_eq!(l.limit(), 10);
    }

    #[tokio::test]
    async fn never_below_min_nor_above_max() {
        let l = AdaptiveLimit::new(3, 4, Duration::from_millis(1));
        for _ in 0..10 {
            tokio::time::sleep(Duration::from_millis(2)).await;
            l.observe(Duration::from_secs(1), true);
        }
        assert_eq!(l.limit(), 3);
        for _ in 0..100 {
            l.observe(Duration::ZERO, false);
        }
        assert_eq!(l.limit(), 4);
    }
}
