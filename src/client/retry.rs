//! [`RetryConfig`]: how a failed token request is retried.

use std::time::Duration;

use super::error::TokenError;

/// The refresher never retries sooner than this after a failed background
/// refresh.
const MIN_REFRESH_BACKOFF: Duration = Duration::from_millis(100);

/// Retries of a token request that failed for a transient reason (network,
/// timeout, 5xx, 408, 429): exponential backoff with jitter, bounded.
///
/// | setting | default | why |
/// |---|---|---|
/// | `max_attempts` | 4 | rides out a restart of the IdP without stalling callers for long |
/// | `initial_backoff` | 100 ms | first retry soon |
/// | `max_backoff` | 2 s | bounded: a caller waits at most about 3.5 s of backoff plus the request timeouts |
/// | `max_retry_after` | 60 s | a rate-limited endpoint is asked again no sooner than it said, but a hostile or broken `Retry-After` cannot stop token requests for longer than this |
///
/// Each delay is drawn uniformly from [d/2, d] where d doubles per attempt
/// ("equal jitter"), so many instances do not retry in lockstep. OAuth
/// errors (4xx with an `error` code) are never retried.
///
/// A 429 or 503 answer with `Retry-After` is honoured: when the wait fits in
/// `max_backoff` the request is retried after it; when it is longer, the
/// request fails at once with that error ([`TokenError::retry_after`]), and
/// until the wait (capped at `max_retry_after`) is over, further token
/// requests fail the same way without reaching the endpoint, while a cached
/// token that is still valid keeps being served.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryConfig {
    max_attempts: u32,
    initial_backoff: Duration,
    max_backoff: Duration,
    max_retry_after: Duration,
}

impl Default for RetryConfig {
    fn default() -> Self {
        RetryConfig {
            max_attempts: 4,
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(2),
            max_retry_after: Duration::from_secs(60),
        }
    }
}

/// What to do after a failed attempt ([`RetryConfig::after_failure`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum AfterFailure {
    /// Try again after `delay` (never sooner than the endpoint's `Retry-After`).
    Retry {
        /// The wait before the next attempt.
        delay: Duration,
    },
    /// Give up and return the error. `hold`: the endpoint's `Retry-After`
    /// (capped at `max_retry_after`), during which no token request may
    /// reach it.
    GiveUp {
        /// How long to leave the endpoint alone, if it said.
        hold: Option<Duration>,
    },
}

impl RetryConfig {
    /// Total attempts per token request, first one included (1 = no retry).
    pub fn max_attempts(mut self, n: u32) -> Self {
        self.max_attempts = n;
        self
    }

    /// The delay before the first retry (before jitter).
    pub fn initial_backoff(mut self, d: Duration) -> Self {
        self.initial_backoff = d;
        self
    }

    /// The cap on any one delay.
    pub fn max_backoff(mut self, d: Duration) -> Self {
        self.max_backoff = d;
        self
    }

    /// The longest `Retry-After` honoured; longer ones are cut to this.
    pub fn max_retry_after(mut self, d: Duration) -> Self {
        self.max_retry_after = d;
        self
    }

    /// The same settings with at least one attempt (`max_attempts(0)`
    /// would otherwise never ask).
    pub(super) fn at_least_one_attempt(self) -> Self {
        RetryConfig {
            max_attempts: self.max_attempts.max(1),
            ..self
        }
    }

    /// Attempt `attempt` (1-based) failed with `error`: retry or give up.
    pub(super) fn after_failure(&self, attempt: u32, error: &TokenError) -> AfterFailure {
        // The server's own wait, if any, within our cap.
        let wait = error.retry_after().map(|d| d.min(self.max_retry_after));
        let retry = error.is_transient()
            && attempt < self.max_attempts
            && wait.is_none_or(|w| w <= self.max_backoff);
        if retry {
            AfterFailure::Retry {
                delay: self.delay(attempt).max(wait.unwrap_or_default()),
            }
        } else {
            AfterFailure::GiveUp { hold: wait }
        }
    }

    /// The wait before the background refresher tries again after a failed
    /// refresh, while the cached token still has `remaining` to live: a
    /// quarter of it, at least 100 ms and at most `max_backoff`.
    pub(super) fn refresh_backoff(&self, remaining: Duration) -> Duration {
        (remaining / 4).clamp(
            MIN_REFRESH_BACKOFF,
            self.max_backoff.max(MIN_REFRESH_BACKOFF),
        )
    }

    fn delay(&self, attempt: u32) -> Duration {
        let d = crate::http::exponential_backoff(self.initial_backoff, self.max_backoff, attempt);
        let half = d / 2;
        half + half.mul_f64(crate::http::jitter_unit())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_is_bounded_and_jittered() {
        let r = RetryConfig::default();
        for attempt in 1..20 {
            let d = r.delay(attempt);
            assert!(d <= r.max_backoff, "{d:?}");
        }
        let first = r.delay(1);
        assert!(first >= Duration::from_millis(50) && first <= Duration::from_millis(100));
    }
}
