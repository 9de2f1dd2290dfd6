//! The key-set handles of one issuer: JWKS fetches, the key count, the
//! refresh schedule gauges and unknown-kid refreshes.

use std::time::Duration;

use metrics::{counter, gauge, Counter, Gauge};

use super::unix_now;
use crate::ops::kinds::{FetchResult, UnknownKid};
use crate::ops::names::*;

/// The key-set handles of one issuer, held by its key store.
pub(crate) struct KeyMetrics {
    fetch_ok: Counter,
    fetch_not_modified: Counter,
    fetch_http_error: Counter,
    fetch_timeout: Counter,
    fetch_invalid: Counter,
    keys: Gauge,
    /// The three deadlines of a fetched key set; `None` for static keys,
    /// which are never fetched and never stale.
    schedule: Option<Schedule>,
    unknown_kid_started: Counter,
    unknown_kid_joined: Counter,
    unknown_kid_rate_limited: Counter,
}

/// The `_timestamp_seconds` gauges of a fetched key set.
struct Schedule {
    last_success: Gauge,
    refresh_due: Gauge,
    stale: Gauge,
}

impl KeyMetrics {
    /// `remote`: the keys are fetched (a static key set registers no
    /// timestamp gauge: it is never refreshed, so it has no age).
    pub(crate) fn new(issuer: &str, remote: bool) -> Self {
        let fetch = |result: &'static str| counter!(JWKS_FETCHES, "issuer" => issuer.to_owned(), "result" => result);
        let kid = |result: &'static str| counter!(JWKS_UNKNOWN_KID, "issuer" => issuer.to_owned(), "result" => result);
        Self {
            fetch_ok: fetch("ok"),
            fetch_not_modified: fetch("not_modified"),
            fetch_http_error: fetch("http_error"),
            fetch_timeout: fetch("timeout"),
            fetch_invalid: fetch("invalid"),
            keys: gauge!(JWKS_KEYS, "issuer" => issuer.to_owned()),
            schedule: remote.then(|| Schedule {
                last_success: gauge!(JWKS_LAST_SUCCESS, "issuer" => issuer.to_owned()),
                refresh_due: gauge!(JWKS_REFRESH_DUE, "issuer" => issuer.to_owned()),
                stale: gauge!(JWKS_STALE, "issuer" => issuer.to_owned()),
            }),
            unknown_kid_started: kid("started"),
            unknown_kid_joined: kid("joined"),
            unknown_kid_rate_limited: kid("rate_limited"),
        }
    }

    pub(crate) fn fetched(&self, result: FetchResult) {
        match result {
            FetchResult::Ok => &self.fetch_ok,
            FetchResult::NotModified => &self.fetch_not_modified,
            FetchResult::HttpError => &self.fetch_http_error,
            FetchResult::Timeout => &self.fetch_timeout,
            FetchResult::Invalid => &self.fetch_invalid,
        }
        .increment(1);
    }

    /// A key set is installed (or confirmed by a 304).
    pub(crate) fn installed(&self, keys: usize) {
        self.keys.set(keys as f64);
        if let Some(s) = &self.schedule {
            s.last_success.set(unix_now());
        }
    }

    /// A successful fetch scheduled the next one `refresh_in` from now;
    /// the keys stop verifying `stale_in` from now unless one succeeds.
    pub(crate) fn scheduled(&self, refresh_in: Duration, stale_in: Duration) {
        if let Some(s) = &self.schedule {
            let now = unix_now();
            s.refresh_due.set(now + refresh_in.as_secs_f64());
            s.stale.set(now + stale_in.as_secs_f64());
        }
    }

    pub(crate) fn unknown_kid(&self, what: UnknownKid) {
        match what {
            UnknownKid::Started => &self.unknown_kid_started,
            UnknownKid::Joined => &self.unknown_kid_joined,
            UnknownKid::RateLimited => &self.unknown_kid_rate_limited,
        }
        .increment(1);
    }
}
