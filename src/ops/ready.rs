//! The readiness probe: is every dependency this service needs to decide
//! requests usable right now?

#[cfg(any(feature = "redis", feature = "introspection"))]
use std::time::Duration;

use crate::issuer::Issuer;

/// What a readiness probe checks. Cheap to clone; build it once at start.
///
/// | check | ready when | why |
/// |---|---|---|
/// | [`issuer`](Self::issuer) | a key set with at least one usable key is loaded and not older than the issuer's `max_stale` ([`RefreshConfig`](crate::RefreshConfig)) | without keys every token of the issuer is answered 503: the instance should get no traffic |
/// | `introspector` (feature `introspection`) | the last call to the introspection endpoint did not fail — or failed more than `max_age` ago; no call yet counts as ready | every opaque token of a failing endpoint is answered 503. Judged from the calls requests make ([`Introspector::health`](crate::introspection::Introspector::health)): no probe, no extra traffic; the first answer after an outage makes it ready again at once. `max_age` bounds how long one failure keeps an instance out of rotation (an instance without traffic makes no call that could clear it); 30 s is a sensible value |
/// | `redis_revocations` (feature `redis`) | the shared revocation list was in sync within `max_unsynced` | past it, revocations made elsewhere may be missed |
/// | `redis_introspection_cache` (features `introspection`, `redis`; optional) | the shared introspection cache's last Redis operation did not fail | Redis down costs extra introspection calls, not answers (each instance falls back to its local cache and the endpoint), so add it only if you would rather take the instance out than pay them. Judged from the operations requests make: the first success after an outage makes it ready again |
///
/// # Not checked
/// The DPoP replay store (`RedisReplayStore`) exposes no status to read
/// without a round trip, and the probe does no I/O. Redis down answers each
/// DPoP request 503 after the store's timeout: watch
/// `oauth2_guard_decisions_total{reason="dpop_replay_store_unavailable"}`
/// instead.
///
/// # Liveness
/// Use this for the *readiness* probe only. A liveness probe must never
/// depend on the identity provider: when the IdP is down, every instance
/// would be restarted at once, and restarting does not bring keys back.
/// Serve liveness from a handler that answers 200 unconditionally.
#[derive(Clone, Default)]
pub struct Readiness {
    issuers: Vec<Issuer>,
    #[cfg(feature = "redis")]
    redis: Vec<(crate::revocation::RedisRevocations, Duration)>,
    #[cfg(feature = "introspection")]
    introspectors: Vec<(crate::introspection::Introspector, Duration)>,
    #[cfg(all(feature = "introspection", feature = "redis"))]
    introspection_caches: Vec<crate::introspection::RedisIntrospectionCache>,
}

impl std::fmt::Debug for Readiness {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Readiness")
            .field(
                "issuers",
                &self.issuers.iter().map(Issuer::name).collect::<Vec<_>>(),
            )
            .finish_non_exhaustive()
    }
}

/// One dependency that is not ready.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[non_exhaustive]
pub struct Missing {
    /// What kind of dependency: `issuer_keys`, `introspection`,
    /// `redis_revocations` or `redis_introspection_cache`.
    pub check: &'static str,
    /// Which one (the issuer identifier; the introspection endpoint's URL;
    /// `redis` for a Redis backend).
    pub name: String,
    /// Why, in a few words.
    pub detail: &'static str,
}

/// The answer of [`Readiness::check`]: serialises to
/// `{"ready":false,"missing":[{"check":"issuer_keys","name":"https://…","detail":"…"}]}`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ReadinessReport {
    ready: bool,
    missing: Vec<Missing>,
}

impl ReadinessReport {
    /// Whether every check passed.
    pub fn is_ready(&self) -> bool {
        self.ready
    }

    /// What is not ready (empty when ready).
    pub fn missing(&self) -> &[Missing] {
        &self.missing
    }

    /// 200 when ready, else 503.
    pub fn status(&self) -> http::StatusCode {
        if self.ready {
            http::StatusCode::OK
        } else {
            http::StatusCode::SERVICE_UNAVAILABLE
        }
    }

    /// The JSON body.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|_| String::from("{\"ready\":false}"))
    }
}

impl Readiness {
    /// No checks yet (ready).
    pub fn new() -> Self {
        Self::default()
    }

    /// Require a usable key set of `issuer` (within its `max_stale`).
    pub fn issuer(mut self, issuer: &Issuer) -> Self {
        self.issuers.push(issuer.clone());
        self
    }

    /// Require the Redis revocation list to have been in sync within
    /// `max_unsynced` (a connected subscription counts as in sync).
    #[cfg(feature = "redis")]
    #[cfg_attr(docsrs, doc(cfg(feature = "redis")))]
    pub fn redis_revocations(
        mut self,
        redis: &crate::revocation::RedisRevocations,
        max_unsynced: Duration,
    ) -> Self {
        self.redis.push((redis.clone(), max_unsynced));
        self
    }

    /// Require the introspection endpoint of `introspector` to be usable:
    /// not ready while its last call failed, for at most `max_age` after
    /// that failure (see the table above).
    ///
    /// ```no_run
    /// # async fn f(introspector: oauth2_guard::introspection::Introspector) {
    /// use std::time::Duration;
    /// use oauth2_guard::ops::Readiness;
    /// let ready = Readiness::new().introspector(&introspector, Duration::from_secs(30));
    /// # let _ = ready; }
    /// ```
    #[cfg(feature = "introspection")]
    #[cfg_attr(docsrs, doc(cfg(feature = "introspection")))]
    pub fn introspector(
        mut self,
        introspector: &crate::introspection::Introspector,
        max_age: Duration,
    ) -> Self {
        self.introspectors.push((introspector.clone(), max_age));
        self
    }

    /// Require the shared introspection cache's Redis to be reachable: not
    /// ready while its last operation failed (optional, see the table
    /// above: an unreachable cache costs calls, not answers).
    #[cfg(all(feature = "introspection", feature = "redis"))]
    #[cfg_attr(docsrs, doc(cfg(all(feature = "introspection", feature = "redis"))))]
    pub fn redis_introspection_cache(
        mut self,
        cache: &crate::introspection::RedisIntrospectionCache,
    ) -> Self {
        self.introspection_caches.push(cache.clone());
        self
    }

    /// Run every check (no I/O: each reads state the background tasks keep).
    pub fn check(&self) -> ReadinessReport {
        let mut missing = Vec::new();
        for issuer in &self.issuers {
            if !issuer.is_ready() {
                missing.push(Missing {
                    check: "issuer_keys",
                    name: issuer.name().to_owned(),
                    detail: "no usable key set within max_stale",
                });
            }
        }
        #[cfg(feature = "introspection")]
        for (introspector, max_age) in &self.introspectors {
            if introspector.health().failing_within(*max_age) {
                missing.push(Missing {
                    check: "introspection",
                    name: introspector.endpoint().to_owned(),
                    detail: "the last introspection call failed, within max_age",
                });
            }
        }
        #[cfg(all(feature = "introspection", feature = "redis"))]
        for cache in &self.introspection_caches {
            if !cache.status().available {
                missing.push(Missing {
                    check: "redis_introspection_cache",
                    name: String::from("redis"),
                    detail: "the shared introspection cache's last Redis operation failed",
                });
            }
        }
        #[cfg(feature = "redis")]
        for (redis, max) in &self.redis {
            if !redis_in_sync(&redis.status(), *max) {
                missing.push(Missing {
                    check: "redis_revocations",
                    name: String::from("redis"),
                    detail: "revocation list not in sync within max_unsynced",
                });
            }
        }
        ReadinessReport {
            ready: missing.is_empty(),
            missing,
        }
    }

    /// An axum handler answering [`check`](Self::check): 200 or 503 with
    /// the JSON body, `Cache-Control: no-store`.
    ///
    /// ```
    /// # async fn run(issuer: oauth2_guard::Issuer) {
    /// use axum::{routing::get, Router};
    /// use oauth2_guard::ops::Readiness;
    ///
    /// let ready = Readiness::new().issuer(&issuer);
    /// let app: Router = Router::new()
    ///     .route("/ready", get(ready.handler()))
    ///     .route("/live", get(|| async { "ok" }));
    /// # }
    /// ```
    #[cfg(feature = "axum")]
    #[cfg_attr(docsrs, doc(cfg(feature = "axum")))]
    pub fn handler(
        self,
    ) -> impl Fn() -> std::future::Ready<ReadinessReport> + Clone + Send + Sync + 'static {
        move || std::future::ready(self.check())
    }
}

#[cfg(feature = "redis")]
fn redis_in_sync(status: &crate::revocation::RedisStatus, max: Duration) -> bool {
    status.connected
        || status
            .last_sync
            .and_then(|t| t.elapsed().ok())
            .is_some_and(|age| age <= max)
}

#[cfg(feature = "axum")]
impl axum::response::IntoResponse for ReadinessReport {
    fn into_response(self) -> axum::response::Response {
        let mut res = (
            self.status(),
            [
                (http::header::CONTENT_TYPE, "application/json"),
                (http::header::CACHE_CONTROL, "no-store"),
            ],
            self.to_json(),
        )
            .into_response();
        res.extensions_mut().insert(self);
        res
    }
}
