//! The health of an [`Introspector`](super::Introspector)'s endpoint, as
//! seen by the calls the requests make: no probe, no extra traffic.

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// What the introspection calls made so far say about the endpoint
/// ([`Introspector::health`](super::Introspector::health)).
///
/// A call *succeeds* when the endpoint gave an RFC 7662 answer (active or
/// not); it *fails* when it was down, slow past the timeout, answered an
/// error status, garbage or an oversized body, or our credentials could not
/// be used. Answers read from the shared cache and refusals by the
/// concurrency limit touch no endpoint and count as neither.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct IntrospectionHealth {
    /// When the last successful call ended (`None`: none yet).
    pub last_success: Option<SystemTime>,
    /// When the last failed call ended (`None`: none yet).
    pub last_failure: Option<SystemTime>,
    /// Failed calls since the last successful one.
    pub consecutive_failures: u32,
}

impl IntrospectionHealth {
    /// Whether the most recent call failed (no success since).
    pub fn is_failing(&self) -> bool {
        self.consecutive_failures > 0
    }

    /// Whether the most recent call failed less than `max_age` ago: what
    /// [`Readiness::introspector`](crate::ops::Readiness::introspector)
    /// reports as not ready. An older failure no longer counts, so an
    /// instance taken out of rotation gets traffic — and so a new verdict —
    /// again.
    pub fn failing_within(&self, max_age: Duration) -> bool {
        self.is_failing()
            && self
                .last_failure
                .and_then(|t| t.elapsed().ok())
                .is_none_or(|age| age <= max_age)
    }
}

/// The recorder the verifier writes to: three atomics, no lock, written
/// only when a call to the endpoint ends (never on a cache hit).
#[derive(Debug, Default)]
pub(crate) struct HealthState {
    /// Unix milliseconds; 0 = never.
    last_ok: AtomicU64,
    last_err: AtomicU64,
    failures: AtomicU32,
}

fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(1, |d| {
        u64::try_from(d.as_millis()).unwrap_or(u64::MAX).max(1)
    })
}

fn at(ms: u64) -> Option<SystemTime> {
    (ms != 0).then(|| UNIX_EPOCH + Duration::from_millis(ms))
}

impl HealthState {
    /// The endpoint answered.
    pub(crate) fn succeeded(&self) {
        self.failures.store(0, Ordering::Relaxed);
        self.last_ok.store(now_ms(), Ordering::Release);
    }

    /// The endpoint did not give a usable answer.
    pub(crate) fn failed(&self) {
        self.failures.fetch_add(1, Ordering::Relaxed);
        self.last_err.store(now_ms(), Ordering::Release);
    }

    pub(crate) fn snapshot(&self) -> IntrospectionHealth {
        IntrospectionHealth {
            last_success: at(self.last_ok.load(Ordering::Acquire)),
            last_failure: at(self.last_err.load(Ordering::Acquire)),
            consecutive_failures: self.failures.load(Ordering::Relaxed),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_last_outcome_decides_and_old_failures_age_out() {
        let h = HealthState::default();
        let s = h.snapshot();
        assert_eq!((s.last_success, s.last_failure), (None, None));
        assert!(!s.failing_within(Duration::from_secs(30)), "no call yet");
        h.failed();
        h.failed();
        let s = h.snapshot();
        assert!(s.is_failing() && s.failing_within(Duration::from_secs(30)));
        assert_eq!(s.consecutive_failures, 2);
        // The same failure, judged with a zero window once time moved on.
        std::thread::sleep(Duration::from_millis(5));
        assert!(!h.snapshot().failing_within(Duration::ZERO));
        h.succeeded();
        let s = h.snapshot();
        assert!(!s.is_failing());
        assert_eq!(s.consecutive_failures, 0);
        assert!(s.last_success.is_some() && s.last_failure.is_some());
    }
}
