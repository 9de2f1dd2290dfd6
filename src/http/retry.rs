//! Retry timing shared by key refresh and token fetching: exponential
//! backoff, jitter, the server's `Retry-After`, and the cap on every delay
//! added to an `Instant`.

use std::time::Duration;

use url::Url;

use crate::error::{FetchError, FetchErrorKind};

/// `base · 2^(attempt−1)`, capped at `max`: the un-jittered retry delay
/// shared by key refresh and token fetching.
pub(crate) fn exponential_backoff(base: Duration, max: Duration, attempt: u32) -> Duration {
    base.saturating_mul(1u32 << attempt.saturating_sub(1).min(20))
        .min(max)
}

/// The longest delay ever added to an `Instant`: delays from configuration
/// or from a server saturate here instead of overflowing (which panics).
pub(crate) const MAX_DELAY: Duration = Duration::from_secs(365 * 24 * 60 * 60);

/// `now + d`, saturating at [`MAX_DELAY`].
#[cfg(feature = "client")]
pub(crate) fn deadline_after(d: Duration) -> std::time::Instant {
    std::time::Instant::now() + d.min(MAX_DELAY)
}

/// A random number in `[0, 1)` for jitter (no RNG dependency needed:
/// `RandomState` is randomly seeded per instance).
pub(crate) fn jitter_unit() -> f64 {
    use std::hash::{BuildHasher, Hasher};
    let r = std::collections::hash_map::RandomState::new()
        .build_hasher()
        .finish();
    (r >> 11) as f64 / (1u64 << 53) as f64
}

/// The error for a non-success answer, with the server's `Retry-After`.
pub(crate) fn status_error(status: u16, headers: &http::HeaderMap, url: &Url) -> FetchError {
    let wait = retry_after(status, headers, std::time::SystemTime::now());
    FetchError::new(FetchErrorKind::Status(status), url.as_str()).with_retry_after(wait)
}

/// `Retry-After` (RFC 9110 §10.2.3) of a 429 or 503 answer: delay-seconds
/// or an HTTP date, as the time left from `now`. `None` for other statuses,
/// a missing or malformed value; a date in the past is zero.
pub(crate) fn retry_after(
    status: u16,
    headers: &http::HeaderMap,
    now: std::time::SystemTime,
) -> Option<Duration> {
    if status != 429 && status != 503 {
        return None;
    }
    let value = headers
        .get(http::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim();
    if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) {
        // Saturates rather than fails on absurd values; callers cap it.
        return Some(Duration::from_secs(value.parse().unwrap_or(u64::MAX)));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_seconds_and_dates() {
        let now = std::time::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let h = |v: &str| {
            let mut m = http::HeaderMap::new();
            m.insert(http::header::RETRY_AFTER, v.parse().unwrap());
            m
        };
        assert_eq!(retry_after(429, &h("7"), now), Some(Duration::from_secs(7)));
        assert_eq!(retry_after(503, &h(" 0 "), now), Some(Duration::ZERO));
        assert_eq!(
            retry_after(503, &h("99999999999999999999999"), now),
            Some(Duration::from_secs(u64::MAX))
        );
        let date = httpdate::fmt_http_date(now + Duration::from_secs(90));
        assert_eq!(
            retry_after(503, &h(&date), now),
            Some(Duration::from_secs(90))
        );
        let past = httpdate::fmt_http_date(now - Duration::from_secs(90));
        assert_eq!(retry_after(429, &h(&past), now), Some(Duration::ZERO));
        for bad in ["", "-1", "1.5", "soon", "Tue, 99 Nov 2023 00:00:00 GMT"] {
            assert_eq!(retry_after(429, &h(bad), now), None, "{bad:?}");
        }
        assert_eq!(retry_after(500, &h("7"), now), None, "only 429 and 503");
        assert_eq!(retry_after(429, &http::HeaderMap::new(), now), None);
    }
}
