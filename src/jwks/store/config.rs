//! When and how an issuer's keys are refreshed: [`RefreshConfig`].

use std::time::Duration;

/// When and how an issuer's keys are refreshed.
///
/// | setting | default | why |
/// |---|---|---|
/// | `min_interval` | 5 min | a `max-age=0` JWKS must not turn into a fetch loop |
/// | `max_interval` | 24 h | even a year-long `max-age` is re-checked daily, so removed keys go away |
/// | `default_interval` | 1 h | when the JWKS response has no `Cache-Control: max-age` |
/// | `unknown_kid_cooldown` | 30 s | an attacker choosing random kids gets at most one JWKS fetch per cooldown |
/// | `unknown_kid_wait` | 2 s | how long the request that met a new kid waits for the refresh it triggered |
/// | `max_stale` | 24 h | how long past their scheduled refresh the last good keys keep serving while the issuer is unreachable |
/// | `startup_timeout` | 10 s | how long `build().await` waits for the first key set |
/// | `backoff_base` / `backoff_max` | 1 s / 5 min | retries after a failed fetch, doubled each time, with jitter; a 429/503 `Retry-After` is honoured up to `backoff_max` |
///
/// # Security
/// A fetched, well-formed JWK Set is authoritative: a key it no longer lists
/// stops verifying at once, verified-token cache entries included. When the
/// set holds no usable key (`{"keys": []}`, or only key types this crate
/// skips, such as P-521 or RSA-1024), every token of the issuer is answered
/// 503 (`keys_unavailable`), an ERROR event names the issuer, and the fetch
/// is retried on the backoff above until a usable key is published. Only a
/// *failed* fetch (network, HTTP status, a body that is not a JWK Set, or
/// over the size cap) keeps the last good keys, for up to `max_stale`.
///
/// Each refresh after the first is a conditional GET: the `ETag` and
/// `Last-Modified` of the installed set go back as `If-None-Match` and
/// `If-Modified-Since`, and a `304 Not Modified` keeps the set and counts as
/// a successful fetch (it renews `max_stale`, and the metric
/// `oauth2_guard_jwks_fetches_total{result="not_modified"}` counts it). A
/// 304 can only keep the set this store already verified and installed;
/// it never brings back one it replaced.
///
/// At startup, `build().await` fails on a set without a usable key
/// ([`ConfigError::InitialKeys`](crate::ConfigError::InitialKeys) with
/// [`FetchErrorKind::NoUsableKeys`](crate::FetchErrorKind::NoUsableKeys)):
/// that is a configuration problem, better reported before the service takes
/// traffic. `build_deferred` answers 503 and retries.
#[derive(Debug, Clone)]
pub struct RefreshConfig {
    pub(crate) min_interval: Duration,
    pub(crate) max_interval: Duration,
    pub(crate) default_interval: Duration,
    pub(crate) unknown_kid_cooldown: Duration,
    pub(crate) unknown_kid_wait: Duration,
    pub(crate) max_stale: Duration,
    pub(crate) startup_timeout: Duration,
    pub(crate) backoff_base: Duration,
    pub(crate) backoff_max: Duration,
}

impl Default for RefreshConfig {
    fn default() -> Self {
        Self {
            min_interval: Duration::from_secs(5 * 60),
            max_interval: Duration::from_secs(24 * 3600),
            default_interval: Duration::from_secs(3600),
            unknown_kid_cooldown: Duration::from_secs(30),
            unknown_kid_wait: Duration::from_secs(2),
            max_stale: Duration::from_secs(24 * 3600),
            startup_timeout: Duration::from_secs(10),
            backoff_base: Duration::from_secs(1),
            backoff_max: Duration::from_secs(5 * 60),
        }
    }
}

macro_rules! setter {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        pub fn $name(mut self, d: Duration) -> Self {
            self.$name = d;
            self
        }
    };
}

impl RefreshConfig {
    setter!(
        /// Lower clamp of the refresh interval.
        min_interval
    );
    setter!(
        /// Upper clamp of the refresh interval.
        max_interval
    );
    setter!(
        /// Interval when the JWKS response carries no `max-age`.
        default_interval
    );
    setter!(
        /// Minimum time between two refreshes triggered by unknown kids.
        unknown_kid_cooldown
    );
    setter!(
        /// How long a request with an unknown kid waits for the refresh.
        unknown_kid_wait
    );
    setter!(
        /// How long past the scheduled refresh the last good keys serve while refreshes fail.
        max_stale
    );
    setter!(
        /// How long `build().await` waits for the first key set.
        startup_timeout
    );
    setter!(
        /// First retry delay after a failed fetch.
        backoff_base
    );
    setter!(
        /// Largest retry delay after failed fetches.
        backoff_max
    );

    pub(crate) fn validate(&self) -> Result<(), crate::error::ConfigError> {
        use crate::error::ConfigError::OutOfRange;
        if self.min_interval.is_zero() || self.min_interval > self.max_interval {
            return Err(OutOfRange {
                setting: "refresh.min_interval",
                reason: "must be non-zero and at most max_interval",
            });
        }
        if self.backoff_base.is_zero() || self.backoff_base > self.backoff_max {
            return Err(OutOfRange {
                setting: "refresh.backoff_base",
                reason: "must be non-zero and at most backoff_max",
            });
        }
        if self.unknown_kid_wait > Duration::from_secs(30) {
            return Err(OutOfRange {
                setting: "refresh.unknown_kid_wait",
                reason: "a request must not wait more than 30 s for keys",
            });
        }
        Ok(())
    }

    pub(super) fn clamp(&self, max_age: Option<Duration>) -> Duration {
        max_age
            .unwrap_or(self.default_interval)
            .clamp(self.min_interval, self.max_interval)
    }

    pub(super) fn backoff(&self, failures: u32) -> Duration {
        let exp = crate::http::exponential_backoff(self.backoff_base, self.backoff_max, failures);
        // ±20 % jitter so a fleet does not retry in lockstep.
        exp.mul_f64(0.8 + 0.4 * crate::http::jitter_unit())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interval_clamp_and_backoff() {
        let c = RefreshConfig::default();
        assert_eq!(c.clamp(None), Duration::from_secs(3600));
        assert_eq!(c.clamp(Some(Duration::ZERO)), Duration::from_secs(300));
        assert_eq!(
            c.clamp(Some(Duration::from_secs(10_000_000))),
            Duration::from_secs(86_400)
        );
        let b1 = c.backoff(1);
        assert!(
            b1 >= Duration::from_millis(800) && b1 <= Duration::from_millis(1200),
            "{b1:?}"
        );
        let b4 = c.backoff(4);
        assert!(
            b4 >= Duration::from_millis(6400) && b4 <= Duration::from_millis(9600),
            "{b4:?}"
        );
        assert!(c.backoff(40) <= Duration::from_secs(360));
        assert!(c.validate().is_ok());
        assert!(RefreshConfig::default()
            .min_interval(Duration::ZERO)
            .validate()
            .is_err());
    }
}
