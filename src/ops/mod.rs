//! Operations: Prometheus metrics (feature `metrics`), the readiness probe
//! ([`Readiness`]), and the hooks that feed both and the
//! [audit trail](crate::audit).
//!
//! ```
//! use oauth2_guard::ops::Readiness;
//! use oauth2_guard::testkit::MockIssuer;
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let idp = MockIssuer::start().await; // a stand-in for your IdP
//! let issuer = idp.issuer_builder().audience("orders-api").build().await?;
//! let ready = Readiness::new().issuer(&issuer);
//! assert!(ready.check().is_ready());
//! assert_eq!(ready.check().status(), http::StatusCode::OK);
//! # Ok(()) }
//! ```
//!
//! Every metric name and label is documented in one table, in the
//! [crate documentation's "Operations" section](crate#operations); the
//! names are also constants in [`names`].
//!
//! # Registration
//! With feature `metrics`, the handles are registered with the
//! [`metrics`](https://docs.rs/metrics) recorder installed *at the time*:
//! an issuer's (or introspector's) decision counters when it is built, a
//! layer's token-cache counters when the layer is built, the process-wide
//! ones (anonymous requests, unknown issuers, verification latency) at
//! every layer build. Install the recorder (for example
//! `metrics-exporter-prometheus`) before building issuers and layers.
//!
//! The request path then only increments handles it already holds: the
//! claims of a verified token carry their issuer's counters, and the token
//! cache holds its own, so a cache hit that is allowed costs two counter
//! increments and no look-up (one lookup in 64 per thread also records its
//! latency).
//!
//! # Cardinality
//! Labels are bounded by configuration, never by a request: `issuer` is the
//! name of a built [`Issuer`](crate::Issuer) — for a tenant-template issuer
//! the template itself (`https://login.microsoftonline.com/{tenantid}/v2.0`),
//! whichever tenant the token names; for a [`LazyIssuers`](crate::LazyIssuers)
//! issuer its identifier once discovered (at most `max_issuers` of them);
//! for opaque tokens the introspector's issuer — and anything else is
//! `"unknown"`, `reason` a [`Reason`](crate::Reason) code, `required` a
//! guard's declared requirement, `client_id` the configured client of an
//! outbound token source. Subjects, tokens, `kid`s and paths are
//! never labels.

mod kinds;
#[cfg(feature = "metrics")]
mod metrics;
#[cfg(not(feature = "metrics"))]
mod noop;
mod ready;

pub use ready::{Missing, Readiness, ReadinessReport};

pub(crate) use self::kinds::{FetchResult, UnknownKid, VerifyKind};
#[cfg(feature = "metrics")]
pub(crate) use self::metrics::KeyMetrics;
#[cfg(not(feature = "metrics"))]
pub(crate) use self::noop::KeyMetrics;

use crate::claims::VerifiedClaims;
use crate::error::Rejection;
use crate::layer::RequestHead;

/// The metric names (Prometheus conventions: base units, `_total` counters).
pub mod names {
    /// Counter: requests decided by the layer. Labels `outcome`
    /// (`allowed`, `refused`, `anonymous`), `reason` (a reason code, `none`
    /// unless refused), `issuer`.
    pub const DECISIONS: &str = "oauth2_guard_decisions_total";
    /// Counter: requests a guard refused. Labels `kind` (`scope`, `role`,
    /// or `method` for a gRPC method that no `MethodGuards` rule lists),
    /// `required` (the guard's declared requirement; `unlisted` for kind
    /// `method`).
    pub const AUTHZ_DENIALS: &str = "oauth2_guard_authz_denials_total";
    /// Histogram: seconds to verify a token. Label `kind` (`cache_hit`,
    /// `jwt`, `introspection`).
    pub const VERIFY_SECONDS: &str = "oauth2_guard_verification_duration_seconds";
    /// Counter: verified-token cache lookups. Label `result` (`hit`, `miss`).
    pub const CACHE_REQUESTS: &str = "oauth2_guard_token_cache_requests_total";
    /// Counter: verified-token cache entries pushed out by newer ones.
    pub const CACHE_EVICTIONS: &str = "oauth2_guard_token_cache_evictions_total";
    /// Gauge: entries in the verified-token caches.
    pub const CACHE_ENTRIES: &str = "oauth2_guard_token_cache_entries";
    /// Counter: JWKS fetches. Labels `issuer`, `result` (`ok`,
    /// `not_modified`, `http_error`, `timeout`, `invalid`).
    pub const JWKS_FETCHES: &str = "oauth2_guard_jwks_fetches_total";
    /// Gauge: usable keys in the issuer's current key set. Label `issuer`.
    pub const JWKS_KEYS: &str = "oauth2_guard_jwks_keys";
    /// Gauge: Unix time of the last successful JWKS fetch (a `304 Not
    /// Modified` counts). Label `issuer`. Fetched key sets only: a static
    /// key set is never refreshed and exports none of the three
    /// `oauth2_guard_jwks_*_timestamp_seconds` gauges.
    pub const JWKS_LAST_SUCCESS: &str = "oauth2_guard_jwks_last_success_timestamp_seconds";
    /// Gauge: Unix time the next scheduled refresh is due, set by each
    /// successful fetch (the refresh interval follows the JWKS response's
    /// `max-age` within the configured bounds). Label `issuer`. Alert on
    /// `time()` being well past it: the scheduled refresh and its retries
    /// failed.
    pub const JWKS_REFRESH_DUE: &str = "oauth2_guard_jwks_refresh_due_timestamp_seconds";
    /// Gauge: Unix time after which the keys are too old to verify tokens
    /// (the scheduled refresh plus `max_stale`) unless a fetch succeeds
    /// first. Label `issuer`.
    pub const JWKS_STALE: &str = "oauth2_guard_jwks_stale_timestamp_seconds";
    /// Counter: refreshes demanded by an unknown `kid`. Labels `issuer`,
    /// `result` (`started`, `joined`, `rate_limited`).
    pub const JWKS_UNKNOWN_KID: &str = "oauth2_guard_jwks_unknown_kid_refreshes_total";
    /// Counter: calls to the introspection endpoint. Label `result`
    /// (`active`, `inactive`, `error`; a flight that times out is an
    /// `error`). Answers read from a shared cache are not calls.
    pub const INTROSPECTION_CALLS: &str = "oauth2_guard_introspection_requests_total";
    /// Histogram: seconds per introspection call.
    pub const INTROSPECTION_SECONDS: &str = "oauth2_guard_introspection_duration_seconds";
    /// Counter: introspection cache lookups. Label `result` (`hit`, `miss`).
    pub const INTROSPECTION_CACHE: &str = "oauth2_guard_introspection_cache_requests_total";
    /// Counter: shared-cache lookups after a local introspection cache
    /// miss, when a shared cache (e.g. Redis) is configured. Label `result`
    /// (`hit`: an active answer another instance stored; `miss`: absent,
    /// unusable or unreachable, so the endpoint is called).
    pub const INTROSPECTION_SHARED_CACHE: &str =
        "oauth2_guard_introspection_shared_cache_requests_total";
    /// Gauge: entries in the revocation lists.
    pub const REVOCATION_ENTRIES: &str = "oauth2_guard_revocation_entries";
    /// Gauge: Unix time the Redis revocation list was last known in sync.
    pub const REVOCATION_LAST_SYNC: &str = "oauth2_guard_revocation_last_sync_timestamp_seconds";
    /// Counter: outbound client-credentials token fetches. Labels
    /// `client_id` (the configured client), `result` (`ok`, `error`).
    pub const CLIENT_FETCHES: &str = "oauth2_guard_client_token_fetches_total";
    /// Gauge: Unix time the outbound client's cached token expires. Label
    /// `client_id`. Registered at the client's first token.
    pub const CLIENT_EXPIRY: &str = "oauth2_guard_client_token_expiry_timestamp_seconds";
    /// Gauge: Unix time the outbound client's cached token is due for
    /// refresh (`expires_in` minus the refresh margin, by default
    /// min(30 s, 10 % of the lifetime)). Label `client_id`. The background
    /// refresher replaces the token then; `time()` well past it means the
    /// refreshes fail. Registered at the client's first token. Two token
    /// sources of one `client_id` (e.g. for two audiences) share the
    /// series, which follows the token fetched last.
    pub const CLIENT_REFRESH: &str = "oauth2_guard_client_token_refresh_timestamp_seconds";
}

/// A tenant-template issuer name (`https://host/{tenantid}/v2.0`) split
/// around its one placeholder; `None` for any other name.
pub(crate) fn template_parts(name: &str) -> Option<(&str, &str)> {
    let (prefix, rest) = name.split_once('{')?;
    let (_, suffix) = rest.split_once('}')?;
    Some((prefix, suffix))
}

/// Whether `iss` is the template `prefix{…}suffix` filled with a non-empty
/// value without `/`.
pub(crate) fn fills_template(prefix: &str, suffix: &str, iss: &str) -> bool {
    iss.strip_prefix(prefix)
        .and_then(|rest| rest.strip_suffix(suffix))
        .is_some_and(|t| !t.is_empty() && !t.contains('/'))
}

/// Whether the issuer of a token (`iss`) is the issuer named `name`: the
/// same, or `name` is a tenant template `iss` fills.
pub(crate) fn is_issuer(name: &str, iss: &str) -> bool {
    name == iss || template_parts(name).is_some_and(|(p, s)| fills_template(p, s, iss))
}

/// One issuer's decision counters, registered when the issuer (or the
/// introspector) is built. The issuer holds them and hands them to every
/// claims it verifies, so counting an allowed request looks nothing up:
/// one increment of a handle the claims already carry. Empty without
/// feature `metrics`, and in claims made elsewhere (counted by name).
#[derive(Clone, Default)]
pub(crate) struct IssuerCounters {
    #[cfg(feature = "metrics")]
    decisions: Option<std::sync::Arc<self::metrics::Decisions>>,
}

#[cfg(all(test, feature = "metrics"))]
impl IssuerCounters {
    /// Whether these are an issuer's registered counters (claims made
    /// outside a verifier have none).
    pub(crate) fn registered(&self) -> bool {
        self.decisions.is_some()
    }
}

/// A verified-token cache's hit and miss counters and its latency
/// histogram, registered when the cache is made (at layer build) and held
/// by it: a lookup counts itself without reading any process-wide state.
pub(crate) struct CacheCounters {
    #[cfg(feature = "metrics")]
    lookups: self::metrics::CacheLookups,
}

impl CacheCounters {
    #[inline]
    pub(crate) fn register() -> Self {
        CacheCounters {
            #[cfg(feature = "metrics")]
            lookups: self::metrics::CacheLookups::register(),
        }
    }

    /// A cache lookup timed by `timer` (from [`Timer::sampled_cache_hit`]):
    /// a hit of a still-valid entry, or a miss. A sampled hit's time goes
    /// to the latency histogram (`kind="cache_hit"`).
    #[inline]
    pub(crate) fn lookup(&self, _hit: bool, _timer: &Timer) {
        #[cfg(feature = "metrics")]
        self.lookups.count(_hit, _timer.start);
    }
}

/// The layer decided a request: count it and write the audit event.
pub(crate) fn allowed(head: &RequestHead<'_>, claims: &VerifiedClaims) {
    #[cfg(feature = "metrics")]
    self::metrics::allowed(claims.counters().decisions.as_deref(), claims.issuer());
    crate::audit::layer_allowed(head, claims);
}

/// The layer refused a request.
pub(crate) fn refused(head: &RequestHead<'_>, rejection: &Rejection) {
    #[cfg(feature = "metrics")]
    self::metrics::refused(rejection.issuer.as_deref(), rejection.reason.code());
    crate::audit::layer_refused(head, rejection);
}

/// An optional layer let a request without credentials through.
pub(crate) fn anonymous(head: &RequestHead<'_>) {
    #[cfg(feature = "metrics")]
    self::metrics::anonymous();
    crate::audit::layer_anonymous(head);
}

/// A layer was built: register the process-wide handles.
#[inline]
pub(crate) fn layer_built() {
    #[cfg(feature = "metrics")]
    self::metrics::register_layer();
}

/// An issuer was built: register its decision counters.
#[inline]
pub(crate) fn issuer_built(_name: &str) -> IssuerCounters {
    IssuerCounters {
        #[cfg(feature = "metrics")]
        decisions: Some(self::metrics::register_issuer(_name)),
    }
}

/// Measures a verification (nothing without feature `metrics`).
pub(crate) struct Timer {
    #[cfg(feature = "metrics")]
    start: Option<std::time::Instant>,
}

impl Timer {
    #[inline]
    pub(crate) fn start() -> Self {
        Timer {
            #[cfg(feature = "metrics")]
            start: Some(std::time::Instant::now()),
        }
    }

    /// A timer for a cache lookup that may hit: running on one lookup in
    /// [`CACHE_HIT_SAMPLE`](self::metrics::CACHE_HIT_SAMPLE) per thread
    /// only, so an unsampled hit reads no clock and records nothing.
    #[inline]
    pub(crate) fn sampled_cache_hit() -> Self {
        Timer {
            #[cfg(feature = "metrics")]
            start: self::metrics::sample_cache_hit().then(std::time::Instant::now),
        }
    }

    #[inline]
    pub(crate) fn done(&self, _kind: VerifyKind) {
        #[cfg(feature = "metrics")]
        if let Some(start) = self.start {
            self::metrics::verified_in(_kind, start.elapsed());
        }
    }
}

/// A verified-token cache entry was evicted.
#[inline]
pub(crate) fn cache_evicted() {
    #[cfg(feature = "metrics")]
    self::metrics::cache_evicted();
}

/// A verified-token cache's entry count changed by `delta`.
#[inline]
pub(crate) fn cache_entries_delta(_delta: i64) {
    #[cfg(feature = "metrics")]
    self::metrics::cache_entries_delta(_delta);
}

/// A guard was built: register its denial counters.
#[inline]
pub(crate) fn guard_built(_scopes: &str, _roles: &str) {
    #[cfg(feature = "metrics")]
    {
        self::metrics::register_guard("scope", _scopes);
        self::metrics::register_guard("role", _roles);
    }
}

/// A guard refused verified claims (`kind`: `scope` or `role`).
#[inline]
pub(crate) fn authz_denied(_kind: &'static str, _required: &str) {
    #[cfg(feature = "metrics")]
    self::metrics::authz_denied(_kind, _required);
}

/// `MethodGuards` were built: register the counter of unlisted-method
/// denials (so it is a zero series before the first one).
#[cfg(feature = "grpc")]
#[inline]
pub(crate) fn method_guards_built() {
    #[cfg(feature = "metrics")]
    self::metrics::register_guard("method", "unlisted");
}

/// `MethodGuards` refused a method that no rule lists.
#[cfg(feature = "grpc")]
#[inline]
pub(crate) fn unlisted_method_denied() {
    #[cfg(feature = "metrics")]
    self::metrics::authz_denied("method", "unlisted");
}

/// An introspector was built: its decision counters (opaque tokens are
/// counted under its issuer, not under `unknown`) and its own handles.
#[cfg(feature = "introspection")]
#[inline]
pub(crate) fn introspector_built(_issuer: &str) -> (IssuerCounters, IntrospectionCounters) {
    let own = IntrospectionCounters {
        #[cfg(feature = "metrics")]
        handles: self::metrics::IntrospectionHandles::register(),
    };
    (issuer_built(_issuer), own)
}

/// One introspector's handles, registered when it is built and held by
/// it: calls to the endpoint by result and latency, and cache lookups.
#[cfg(feature = "introspection")]
pub(crate) struct IntrospectionCounters {
    #[cfg(feature = "metrics")]
    handles: self::metrics::IntrospectionHandles,
}

#[cfg(feature = "introspection")]
impl IntrospectionCounters {
    /// One call to the endpoint finished: `Some(active)`, `None` on failure.
    #[inline]
    pub(crate) fn called(&self, _active: Option<bool>, _timer: &Timer) {
        #[cfg(feature = "metrics")]
        self.handles.called(
            _active,
            _timer
                .start
                .map_or(std::time::Duration::ZERO, |start| start.elapsed()),
        );
    }

    /// A local cache lookup (a cached refusal counts as a hit).
    #[inline]
    pub(crate) fn cache(&self, _hit: bool) {
        #[cfg(feature = "metrics")]
        self.handles.cache(_hit);
    }

    /// A shared (e.g. Redis) cache lookup after a local miss: a usable
    /// active answer, or a miss (absent, unusable, or the store
    /// unreachable).
    #[inline]
    pub(crate) fn shared_cache(&self, _hit: bool) {
        #[cfg(feature = "metrics")]
        self.handles.shared_cache(_hit);
    }
}

/// A revocation list now holds `n` entries.
#[inline]
pub(crate) fn revocation_entries(_n: usize) {
    #[cfg(feature = "metrics")]
    self::metrics::revocation_entries(_n);
}

/// The Redis revocation list is in sync now.
#[cfg(feature = "redis")]
#[inline]
pub(crate) fn revocation_synced() {
    #[cfg(feature = "metrics")]
    self::metrics::revocation_synced();
}

/// One outbound token source's handles (label `client_id`), registered
/// when it is built and held by it, so that two clients in one process
/// have a series each.
#[cfg(feature = "client")]
pub(crate) struct ClientCounters {
    #[cfg(feature = "metrics")]
    handles: self::metrics::ClientHandles,
}

#[cfg(feature = "client")]
impl ClientCounters {
    #[inline]
    pub(crate) fn register(_client_id: &str) -> Self {
        ClientCounters {
            #[cfg(feature = "metrics")]
            handles: self::metrics::ClientHandles::register(_client_id),
        }
    }

    /// A token fetch finished: the token's remaining lifetime and the time
    /// until it is due for refresh, or `None` when it failed.
    #[inline]
    pub(crate) fn fetched(&self, _token: Option<(std::time::Duration, std::time::Duration)>) {
        #[cfg(feature = "metrics")]
        self.handles.fetched(_token);
    }
}

#[cfg(all(test, feature = "metrics", feature = "testkit"))]
mod tests {
    use std::sync::Arc;

    use super::IssuerCounters;
    use crate::testkit::MockIssuer;
    use crate::verify::cache::TokenCache;
    use crate::verify::jwt::JwtVerifier;
    use crate::verify::{Verdict, Verifier};
    use crate::CacheConfig;

    async fn issuer() -> (MockIssuer, crate::Issuer) {
        let idp = MockIssuer::start().await;
        let issuer = idp.issuer_builder().audience(idp.default_audience());
        let issuer = issuer.build().await.unwrap();
        (idp, issuer)
    }

    fn same(a: &IssuerCounters, b: &IssuerCounters) -> bool {
        match (&a.decisions, &b.decisions) {
            (Some(a), Some(b)) => Arc::ptr_eq(a, b),
            _ => false,
        }
    }

    /// The hot path's promise: the claims of a fresh verification and of a
    /// cache hit carry their issuer's own handles, so the layer counts an
    /// allowed request without searching the registry by name.
    #[tokio::test]
    async fn verified_claims_carry_their_issuers_counters() {
        let (idp, issuer) = issuer().await;
        let cache = TokenCache::new(&CacheConfig::default(), 16 * 1024);
        let verifier = JwtVerifier::new(vec![issuer.clone()], None, cache, 16 * 1024);
        let token = idp.token().sign();
        for pass in ["fresh", "cache hit"] {
            let Verdict::Verified(claims) = verifier.verify(&token) else {
                panic!("{pass}: the token is valid")
            };
            assert!(
                same(claims.counters(), issuer.counters()),
                "{pass}: the claims hold the issuer's handles"
            );
        }
        // Claims made elsewhere hold none (and are counted by name).
        let other = crate::claims::test_claims(serde_json::json!({"sub": "s"}));
        assert!(other.counters().decisions.is_none());
    }

    /// The token-cache series are registered at every layer build, so a
    /// layer without a cache exports them too (as zero series for the
    /// dashboard's hit ratio), as before the cache held its own handles.
    #[tokio::test]
    async fn a_layer_without_a_cache_still_exports_the_cache_series() {
        let (_idp, issuer) = issuer().await;
        let recorder = metrics_exporter_prometheus::PrometheusBuilder::new().build_recorder();
        let handle = recorder.handle();
        metrics::with_local_recorder(&recorder, || {
            crate::AuthLayer::builder()
                .issuer(issuer)
                .cache(CacheConfig::disabled())
                .build()
                .unwrap()
        });
        let text = handle.render();
        for series in [
            r#"oauth2_guard_token_cache_requests_total{result="hit"} 0"#,
            r#"oauth2_guard_token_cache_requests_total{result="miss"} 0"#,
            r#"oauth2_guard_verification_duration_seconds_count{kind="cache_hit"} 0"#,
        ] {
            assert!(text.contains(series), "{series} missing from:\n{text}");
        }
    }
}
