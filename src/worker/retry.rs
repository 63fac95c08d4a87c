//! Retry policy and the message headers that carry it between rounds.
//!
//! A *round* is one delivery of a message to a worker. Inside a round, transient MISP failures are retried in
//! process with exponential backoff and jitter while the wait is short. When the in-process budget is spent, or
//! MISP asks for a longer pause, the message is republished to the retry queue with a per-message TTL and the
//! round count in `x-attempts`; the retry queue dead-letters it back to the main queue when the TTL expires.
//! After `max_attempts` rounds, or at once for a permanent error, the message goes to the dead-letter queue.

use std::collections::BTreeSet;
use std::time::Duration;

use backon::BackoffBuilder as _;
use chrono::{DateTime, SecondsFormat, Utc};
use lapin::types::{AMQPValue, FieldTable, LongString, ShortString};
use rand::Rng as _;

use crate::error::ErrorClass;

/// Header names the worker reads and writes.
pub mod headers {
    /// Rounds already failed (absent on a first delivery).
    pub const ATTEMPTS: &str = "x-attempts";
    /// RFC 3339 time of the first failure.
    pub const FIRST_FAILURE: &str = "x-first-failure";
    /// RFC 3339 time of the latest failure.
    pub const LAST_FAILURE: &str = "x-last-failure";
    /// `transient`, `permanent` or `conflict`.
    pub const ERROR_CLASS: &str = "x-error-class";
    /// What failed (bounded to 4 KiB).
    pub const ERROR_MESSAGE: &str = "x-error-message";
    /// Comma-separated ids of the stories that failed (empty when the bundle itself was unusable).
    pub const STORY_IDS: &str = "x-story-ids";
    /// Comma-separated ids of stories of this message that MISP already holds (skipped in later rounds;
    /// retry queue only, never on DLQ copies).
    pub const DONE_STORIES: &str = "x-done-stories";
    /// The queue the message was consumed from.
    pub const ORIGINAL_QUEUE: &str = "x-original-queue";
}

/// Longest error message stored in a header.
const MAX_HEADER_MESSAGE: usize = 4096;
/// Most story ids remembered in `x-done-stories`.
const MAX_DONE_STORIES: usize = 1000;

/// Retry parameters (from [`super::WorkerSettings`]).
#[derive(Debug, Clone)]
pub struct RetryPolicy {
    pub max_attempts: u32,
    pub in_process_retries: u32,
    pub backoff_initial: Duration,
    pub backoff_in_process_max: Duration,
    pub retry_delay_initial: Duration,
    pub retry_delay_max: Duration,
}

/// What to do with a message after a round that did not finish all its stories.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Disposition {
    /// Republish to the retry queue with this TTL.
    Retry(Duration),
    /// Publish to the dead-letter queue.
    DeadLetter,
}

impl RetryPolicy {
    /// Delays between in-process retries (exponential with jitter, capped, `in_process_retries` of them).
    pub fn in_process_delays(&self) -> impl Iterator<Item = Duration> + Send + use<> {
        let max = self.backoff_in_process_max;
        backon::ExponentialBuilder::default()
            .with_min_delay(self.backoff_initial)
            .with_max_delay(max)
            .with_max_times(self.in_process_retries as usize)
            .with_jitter()
            .build()
            // backon's jitter may add up to one more delay on top of the cap.
            .map(move |d| d.min(max))
    }

    /// Whether a wait this long may be spent in process (otherwise the retry queue is used).
    pub fn fits_in_process(&self, wait: Duration) -> bool {
        wait <= self.backoff_in_process_max
    }

    /// The decision after round `round` (1-based) failed with `class`; `retry_after` is MISP's requested pause.
    pub fn after_failure(
        &self,
        round: u32,
        class: ErrorClass,
        retry_after: Option<Duration>,
    ) -> Disposition {
        if class == ErrorClass::Permanent || round >= self.max_attempts {
            return Disposition::DeadLetter;
        }
        let delay = self.queue_delay(round).max(retry_after.unwrap_or_default());
        Disposition::Retry(delay)
    }

    /// TTL in the retry queue after round `round`: initial × 2^(round-1), capped, with ±20 % jitter.
    pub fn queue_delay(&self, round: u32) -> Duration {
        let exp = round.saturating_sub(1).min(30);
        let base = self
            .retry_delay_initial
            .saturating_mul(1u32 << exp)
            .min(self.retry_delay_max);
        let jitter = rand::rng().random_range(0.8..=1.2);
        base.mul_f64(jitter).min(self.retry_delay_max)
    }
}

/// Read the retry state a message carries.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RetryState {
    /// Rounds already failed.
    pub attempts: u32,
    pub first_failure: Option<String>,
    /// Stories of this message MISP already holds.
    pub done: BTreeSet<String>,
}

impl RetryState {
    /// Parse the headers of a delivery (missing or malformed headers count as a first delivery).
    pub fn from_headers(h: Option<&FieldTable>) -> RetryState {
        let Some(h) = h else {
            return RetryState::default();
        };
        let map = h.inner();
        let attempts = map
            .get(headers::ATTEMPTS)
            .and_then(as_u64)
            .map(|n| n.min(u32::MAX as u64) as u32)
            .unwrap_or(0);
        let first_failure = map.get(headers::FIRST_FAILURE).and_then(as_string);
        let done = map
            .get(headers::DONE_STORIES)
            .and_then(as_string)
            .map(|s| {
                s.split(',')
                    .filter(|x| !x.is_empty())
                    .take(MAX_DONE_STORIES)
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default();
        RetryState {
            attempts,
            first_failure,
            done,
        }
    }
}

/// Why a round failed, as written into the retry/DLQ headers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FailureInfo {
    pub class: ErrorClass,
    pub message: String,
    pub story_ids: Vec<String>,
}

/// Headers for a republished message: the original headers plus the retry/DLQ ones.
pub fn failure_headers(
    original: Option<&FieldTable>,
    state: &RetryState,
    failure: &FailureInfo,
    attempts: u32,
    queue: &str,
    now: DateTime<Utc>,
) -> FieldTable {
    // `x-done-stories` is only carried to the retry queue (set again by `set_done`): a DLQ copy replayed later
    // is processed in full.
    let mut h = FieldTable::default();
    for (k, v) in original.map(FieldTable::inner).into_iter().flatten() {
        if k.as_str() != headers::DONE_STORIES {
            h.insert(k.clone(), v.clone());
        }
    }
    let now_s = now.to_rfc3339_opts(SecondsFormat::Millis, true);
    let first = state.first_failure.clone().unwrap_or_else(|| now_s.clone());
    h.insert(
        headers::ATTEMPTS.into(),
        AMQPValue::LongLongInt(attempts as i64),
    );
    h.insert(headers::FIRST_FAILURE.into(), long_string(&first));
    h.insert(headers::LAST_FAILURE.into(), long_string(&now_s));
    h.insert(
        headers::ERROR_CLASS.into(),
        long_string(failure.class.as_str()),
    );
    h.insert(
        headers::ERROR_MESSAGE.into(),
        long_string(&bounded(&failure.message, MAX_HEADER_MESSAGE)),
    );
    h.insert(
        headers::STORY_IDS.into(),
        long_string(&bounded(&failure.story_ids.join(","), MAX_HEADER_MESSAGE)),
    );
    h.insert(headers::ORIGINAL_QUEUE.into(), long_string(queue));
    h
}

/// Record the stories MISP holds so a later round skips them.
pub fn set_done(h: &mut FieldTable, done: &BTreeSet<String>) {
    let list: Vec<&str> = done
        .iter()
        .take(MAX_DONE_STORIES)
        .map(String::as_str)
        .collect();
    h.insert(headers::DONE_STORIES.into(), long_string(&list.join(",")));
}

fn long_string(s: &str) -> AMQPValue {
    AMQPValue::LongString(LongString::from(s.as_bytes().to_vec()))
}

fn bounded(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_owned();
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &s[..end])
}

/// A header value as an unsigned integer (any integer width, or a decimal string).
pub fn as_u64(v: &AMQPValue) -> Option<u64> {
    match v {
        AMQPValue::ShortShortInt(n) => u64::try_from(*n).ok(),
        AMQPValue::ShortShortUInt(n) => Some(u64::from(*n)),
        AMQPValue::ShortInt(n) => u64::try_from(*n).ok(),
        AMQPValue::ShortUInt(n) => Some(u64::from(*n)),
        AMQPValue::LongInt(n) => u64::try_from(*n).ok(),
        AMQPValue::LongUInt(n) => Some(u64::from(*n)),
        AMQPValue::LongLongInt(n) => u64::try_from(*n).ok(),
        AMQPValue::Timestamp(n) => Some(*n),
        _ => as_string(v).and_then(|s| s.trim().parse().ok()),
    }
}

/// A header value as a string.
pub fn as_string(v: &AMQPValue) -> Option<String> {
    match v {
        AMQPValue::LongString(s) => Some(String::from_utf8_lossy(s.as_bytes()).into_owned()),
        AMQPValue::ShortString(s) => Some(s.as_str().to_owned()),
        _ => None,
    }
}

/// A header name as an AMQP short string.
pub fn key(s: &str) -> ShortString {
    ShortString::from(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> RetryPolicy {
        RetryPolicy {
            max_attempts: 3,
            in_process_retries: 2,
            backoff_initial: Duration::from_millis(100),
            backoff_in_process_max: Duration::from_secs(1),
            retry_delay_initial: Duration::from_secs(10),
            retry_delay_max: Duration::from_secs(60),
        }
    }

    #[test]
    fn permanent_goes_to_dlq_at_once() {
        assert_eq!(
            policy().after_failure(1, ErrorClass::Permanent, None),
            Disposition::DeadLetter
        );
    }

    #[test]
    fn transient_retries_until_max_attempts() {
        let p = policy();
        assert!(matches!(
            p.after_failure(1, ErrorClass::Transient, None),
            Disposition::Retry(_)
        ));
        assert!(matches!(
            p.after_failure(2, ErrorClass::Conflict, None),
            Disposition::Retry(_)
        ));
        assert_eq!(
            p.after_failure(3, ErrorClass::Transient, None),
            Disposition::DeadLetter
        );
    }

    #[test]
    fn queue_delay_grows_is_capped_and_honours_retry_after() {
        let p = policy();
        let d1 = p.queue_delay(1);
        assert!(
            d1 >= Duration::from_secs(8) && d1 <= Duration::from_secs(12),
            "{d1:?}"
        );
        let d3 = p.queue_delay(3);
        assert!(
            d3 >= Duration::from_secs(32) && d3 <= Duration::from_secs(48),
            "{d3:?}"
        );
        assert!(p.queue_delay(40) <= Duration::from_secs(60));
        match p.after_failure(1, ErrorClass::Transient, Some(Duration::from_secs(50))) {
            Disposition::Retry(d) => assert!(d >= Duration::from_secs(50)),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn in_process_delays_are_bounded() {
        let delays: Vec<_> = policy().in_process_delays().collect();
        assert_eq!(delays.len(), 2);
        let p = policy();
        assert!(delays.iter().all(|d| p.fits_in_process(*d)), "{delays:?}");
    }

    #[test]
    fn headers_round_trip() {
        let failure = FailureInfo {
            class: ErrorClass::Transient,
            message: "MISP POST /events/add: HTTP 503".into(),
            story_ids: vec!["a".into(), "b".into()],
        };
        let now = Utc::now();
        let mut orig = FieldTable::default();
        orig.insert("keep".into(), AMQPValue::Boolean(true));
        let mut h = failure_headers(Some(&orig), &RetryState::default(), &failure, 1, "q", now);
        let mut done = BTreeSet::new();
        done.insert("c".to_owned());
        set_done(&mut h, &done);
        assert!(h.contains_key("keep"));
        let st = RetryState::from_headers(Some(&h));
        assert_eq!(st.attempts, 1);
        assert!(st.first_failure.is_some());
        assert_eq!(st.done, done);
        assert_eq!(
            as_string(&h.inner()[headers::STORY_IDS]).as_deref(),
            Some("a,b")
        );
        assert_eq!(
            as_string(&h.inner()[headers::ERROR_CLASS]).as_deref(),
            Some("transient")
        );
        // A DLQ copy does not carry the done list.
        let dead = failure_headers(Some(&h), &st, &failure, 2, "q", now);
        assert!(!dead.contains_key(headers::DONE_STORIES));
        // The first failure time survives later rounds.
        let later = failure_headers(
            Some(&h),
            &st,
            &failure,
            2,
            "q",
            now + chrono::Duration::hours(1),
        );
        assert_eq!(
            as_string(&later.inner()[headers::FIRST_FAILURE]),
            st.first_failure
        );
    }

    #[test]
    fn malformed_headers_are_a_first_delivery() {
        let mut h = FieldTable::default();
        h.insert(headers::ATTEMPTS.into(), AMQPValue::Boolean(true));
        assert_eq!(RetryState::from_headers(Some(&h)).attempts, 0);
        h.insert(headers::ATTEMPTS.into(), long_string("7"));
        assert_eq!(RetryState::from_headers(Some(&h)).attempts, 7);
        h.insert(headers::ATTEMPTS.into(), AMQPValue::LongLongInt(-5));
        assert_eq!(RetryState::from_headers(Some(&h)).attempts, 0);
    }

    #[test]
    fn long_messages_are_bounded() {
        let failure = FailureInfo {
            class: ErrorClass::Permanent,
            message: "é".repeat(10_000),
            story_ids: vec![],
        };
        let h = failure_headers(None, &RetryState::default(), &failure, 1, "q", Utc::now());
        let msg = as_string(&h.inner()[headers::ERROR_MESSAGE]).unwrap();
        assert!(msg.len() <= MAX_HEADER_MESSAGE + 4);
    }
}
