//! Runtime fault injection for the fake MISP: latency, 5xx, 429 with `Retry-After`, dropped connections and
//! the duplicate-key race of concurrent `/events/add` (BRIEF §5).
//!
//! Tests and benchmarks flip these while the server runs; every request consults them once, before any
//! MISP logic runs (faults model the network, a proxy or an overloaded MISP, not MISP's own rules).

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// What an injected fault does to one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultKind {
    /// Answer with this status (500 gets MISP's internal-error JSON, other codes a proxy-style text body).
    Status(u16),
    /// Answer 429 with `Retry-After: <secs>` (and MISP's rate-limit body).
    TooManyRequests { retry_after_secs: u64 },
    /// Close the connection without writing any response.
    Drop,
    /// Wait this long, then answer normally (a slow MISP for one endpoint; client timeouts).
    Delay(Duration),
}

/// One armed rule: the next `remaining` requests whose path starts with `prefix` (all when `None`) get `kind`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FaultRule {
    pub prefix: Option<String>,
    pub kind: FaultKind,
    pub remaining: u32,
}

/// The fault switchboard of one running fake MISP. Cheap to consult: two atomics and a short mutex.
#[derive(Debug, Default)]
pub struct Faults {
    latency_us: AtomicU64,
    per_item_latency_us: AtomicU64,
    race_window_us: AtomicU64,
    rules: Mutex<Vec<FaultRule>>,
}

impl Faults {
    /// Fixed delay added to every request (the real MISP needs ~150 ms for a small add, BRIEF §9).
    pub fn set_latency(&self, latency: Duration) {
        self.latency_us.store(micros(latency), Ordering::Relaxed);
    }

    /// Current fixed delay.
    pub fn latency(&self) -> Duration {
        Duration::from_micros(self.latency_us.load(Ordering::Relaxed))
    }

    /// Extra delay per attribute in an `/events/add` or `/events/edit` body (real MISP: ~4 ms per attribute,
    /// 148 ms for 1 attribute, 339 ms for 50, 2.2 s for 500; `transcripts/latency_events_add.json`).
    pub fn set_per_attribute_latency(&self, latency: Duration) {
        self.per_item_latency_us
            .store(micros(latency), Ordering::Relaxed);
    }

    /// Current per-attribute delay.
    pub fn per_attribute_latency(&self) -> Duration {
        Duration::from_micros(self.per_item_latency_us.load(Ordering::Relaxed))
    }

    /// Reproduce MISP's find-then-insert race on `/events/add` (notes/misp.md §2.1): with a window set, the
    /// existence check and the insert are separated by this delay without holding the lock, so two
    /// concurrent adds of one uuid both pass the check and the loser gets MISP's 500 (duplicate key)
    /// instead of the 404. `None` (default): the check and insert are atomic, the loser gets the 404.
    pub fn set_add_race_window(&self, window: Option<Duration>) {
        self.race_window_us
            .store(window.map_or(0, micros), Ordering::Relaxed);
    }

    /// The add race window, if enabled.
    pub fn add_race_window(&self) -> Option<Duration> {
        match self.race_window_us.load(Ordering::Relaxed) {
            0 => None,
            us => Some(Duration::from_micros(us)),
        }
    }

    /// The next `n` requests under `prefix` (all requests when `None`) answer `status` (e.g. 500, 502, 503).
    pub fn fail_next(&self, n: u32, status: u16, prefix: Option<&str>) {
        self.push(n, FaultKind::Status(status), prefix);
    }

    /// The next `n` requests under `prefix` answer 429 with `Retry-After: retry_after_secs`.
    pub fn throttle_next(&self, n: u32, retry_after_secs: u64, prefix: Option<&str>) {
        self.push(n, FaultKind::TooManyRequests { retry_after_secs }, prefix);
    }

    /// The next `n` requests under `prefix` get their connection closed without a response.
    pub fn drop_next(&self, n: u32, prefix: Option<&str>) {
        self.push(n, FaultKind::Drop, prefix);
    }

    /// The next `n` requests under `prefix` are answered normally but only after `delay` (on top of the
    /// fixed latency), e.g. to trigger a client's request timeout on one endpoint.
    pub fn delay_next(&self, n: u32, delay: Duration, prefix: Option<&str>) {
        self.push(n, FaultKind::Delay(delay), prefix);
    }

    /// Arm an arbitrary rule. Rules are consulted in the order they were added.
    pub fn push(&self, n: u32, kind: FaultKind, prefix: Option<&str>) {
        if n == 0 {
            return;
        }
        self.lock_rules().push(FaultRule {
            prefix: prefix.map(str::to_owned),
            kind,
            remaining: n,
        });
    }

    /// The rules still armed (for assertions).
    pub fn pending(&self) -> Vec<FaultRule> {
        self.lock_rules().clone()
    }

    /// Disarm every rule and reset latency and the race window.
    pub fn clear(&self) {
        self.lock_rules().clear();
        self.set_latency(Duration::ZERO);
        self.set_per_attribute_latency(Duration::ZERO);
        self.set_add_race_window(None);
    }

    /// Consume one matching rule for a request to `path`, if any.
    pub(crate) fn take(&self, path: &str) -> Option<FaultKind> {
        let mut rules = self.lock_rules();
        if rules.is_empty() {
            return None;
        }
        let pos = rules
            .iter()
            .position(|r| r.prefix.as_deref().is_none_or(|p| path.starts_with(p)))?;
        let rule = &mut rules[pos];
        let kind = rule.kind;
        rule.remaining = rule.remaining.saturating_sub(1);
        if rule.remaining == 0 {
            rules.remove(pos);
        }
        Some(kind)
    }

    fn lock_rules(&self) -> std::sync::MutexGuard<'_, Vec<FaultRule>> {
        // A panic while holding this lock cannot leave the Vec inconsistent: recover the data.
        self.rules.lock().unwrap_or_else(|e| e.into_inner())
    }
}

fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_are_consumed_in_order_and_by_prefix() {
        let f = Faults::default();
        f.fail_next(2, 503, Some("/events/add"));
        f.throttle_next(1, 7, None);
        assert_eq!(
            f.take("/events/view/1"),
            Some(FaultKind::TooManyRequests {
                retry_after_secs: 7
            })
        );
        assert_eq!(f.take("/events/view/1"), None);
        assert_eq!(f.take("/events/add"), Some(FaultKind::Status(503)));
        assert_eq!(f.take("/events/add"), Some(FaultKind::Status(503)));
        assert_eq!(f.take("/events/add"), None);
        assert!(f.pending().is_empty());
    }

    #[test]
    fn zero_count_arms_nothing_and_clear_resets() {
        let f = Faults::default();
        f.drop_next(0, None);
        assert!(f.pending().is_empty());
        f.set_latency(Duration::from_millis(150));
        f.set_add_race_window(Some(Duration::from_millis(5)));
        f.drop_next(1, None);
        f.clear();
        assert_eq!(f.latency(), Duration::ZERO);
        assert_eq!(f.add_race_window(), None);
        assert!(f.pending().is_empty());
    }
}
