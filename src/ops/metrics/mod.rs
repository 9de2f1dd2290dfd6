//! The metric handles (feature `metrics`): registered with the installed
//! [`metrics`] recorder — per issuer when the issuer is built (the claims it
//! verifies carry them), per token cache when its layer is built, the
//! process-wide ones again at every layer build — then only incremented.
//! Names and labels: the table in [`crate::ops`].
//!
//! By concern: `decisions` (the layer's decision counters, verification
//! latency, the token cache), `keys` (one issuer's key set), `guards` (the
//! guard-denial registry), `introspection`, and `others` (the revocation
//! list and the outbound client). `ops::noop` mirrors the handles the rest
//! of the crate holds (`KeyMetrics`) for builds without the feature; the
//! labels they take (`VerifyKind`, `FetchResult`, `UnknownKid`) are defined
//! once in `ops::kinds`.

// The handles of the optional parts (introspection, the outbound client,
// the Redis backends) are declared whatever the features; without those
// features nothing records into them.
#![cfg_attr(
    not(all(feature = "introspection", feature = "client", feature = "redis")),
    allow(dead_code)
)]

mod decisions;
mod guards;
mod introspection;
mod keys;
mod others;

use std::time::{SystemTime, UNIX_EPOCH};

use metrics::{describe_counter, describe_gauge, describe_histogram, Unit};

use super::names::*;

pub(crate) use decisions::{
    allowed, anonymous, cache_entries_delta, cache_evicted, refused, register_issuer,
    sample_cache_hit, verified_in, CacheLookups, Decisions,
};
// Named only by the intra-doc link on `ops::Timer::sampled_cache_hit`.
#[allow(unused_imports)]
pub(crate) use decisions::CACHE_HIT_SAMPLE;
pub(crate) use guards::{authz_denied, register_guard};
#[cfg(feature = "introspection")]
pub(crate) use introspection::IntrospectionHandles;
pub(crate) use keys::KeyMetrics;
pub(crate) use others::revocation_entries;
#[cfg(feature = "redis")]
pub(crate) use others::revocation_synced;
#[cfg(feature = "client")]
pub(crate) use others::ClientHandles;

/// Register the process-wide handles (at layer build).
pub(crate) fn register_layer() {
    describe();
    decisions::register_global();
    guards::renew_denials();
}

/// The `# HELP` text and units (idempotent; at every build).
fn describe() {
    describe_counter!(DECISIONS, "Requests decided by the authentication layer");
    describe_counter!(AUTHZ_DENIALS, "Requests refused by a scope or role guard");
    describe_histogram!(VERIFY_SECONDS, Unit::Seconds, "Time to verify a token");
    describe_counter!(CACHE_REQUESTS, "Verified-token cache lookups");
    describe_counter!(CACHE_EVICTIONS, "Verified-token cache evictions");
    describe_gauge!(CACHE_ENTRIES, "Entries in the verified-token caches");
    describe_counter!(JWKS_FETCHES, "JWKS fetches by result");
    describe_gauge!(JWKS_KEYS, "Usable keys in the issuer's key set");
    describe_gauge!(
        JWKS_LAST_SUCCESS,
        Unit::Seconds,
        "Unix time of the last successful JWKS fetch"
    );
    describe_gauge!(
        JWKS_REFRESH_DUE,
        Unit::Seconds,
        "Unix time the next scheduled JWKS refresh is due (set by each successful fetch)"
    );
    describe_gauge!(
        JWKS_STALE,
        Unit::Seconds,
        "Unix time after which the keys are too old to verify tokens (max_stale past the scheduled refresh)"
    );
    describe_counter!(JWKS_UNKNOWN_KID, "Key refreshes demanded by an unknown kid");
    describe_counter!(INTROSPECTION_CALLS, "Introspection calls by result");
    describe_histogram!(
        INTROSPECTION_SECONDS,
        Unit::Seconds,
        "Introspection call latency"
    );
    describe_counter!(INTROSPECTION_CACHE, "Introspection cache lookups");
    describe_counter!(
        INTROSPECTION_SHARED_CACHE,
        "Shared introspection cache lookups after a local miss"
    );
}

/// A counter's `result="hit"` and `result="miss"` series: the token
/// cache's, the introspection cache's and the shared introspection cache's
/// lookups.
struct HitMiss {
    hit: metrics::Counter,
    miss: metrics::Counter,
}

impl HitMiss {
    /// Registered with the recorder installed now.
    fn register(name: &'static str) -> Self {
        HitMiss {
            hit: metrics::counter!(name, "result" => "hit"),
            miss: metrics::counter!(name, "result" => "miss"),
        }
    }

    fn count(&self, hit: bool) {
        if hit { &self.hit } else { &self.miss }.increment(1);
    }
}

/// Seconds since the Unix epoch, for `_timestamp_seconds` gauges.
pub(crate) fn unix_now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}
