//! The introspection verifier (RFC 7662): an opaque token is valid when its
//! authorization server says so. The path of one token, top to bottom:
//!
//! 1. its length, then its keyed hash ([`hash`]): the only form in which it
//!    is kept (the cache key, the single-flight key, the shared-cache key);
//! 2. the local cache ([`cache`]): an active answer until min(TTL,
//!    `exp` − now), `exp` checked again on every hit; a cached refusal (only
//!    when configured);
//! 3. a miss joins the call in flight for the same token, or starts one —
//!    if a permit of the concurrency limit is free; if not, 503 with
//!    `Retry-After` at once (no queue);
//! 4. the call runs in a task of its own, so a request that goes away
//!    abandons nothing the others wait for, bounded by the deadline: the
//!    shared cache when one is set ([`shared`]), else the endpoint
//!    ([`answer`]); the result is cached, then handed to every waiter;
//! 5. failures (down, slow, error status, garbage, oversized) are 503 with
//!    `Retry-After` — fail closed, never 401 — and a WARN event with the
//!    reason code and the token's fingerprint.

pub(crate) mod answer;
pub(crate) mod cache;
pub(crate) mod hash;
#[cfg(feature = "redis")]
pub(crate) mod redis_cache;
pub(crate) mod shared;
#[cfg(all(test, feature = "testkit"))]
mod tests;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::future::{FutureExt, Shared as SharedFuture};
use tokio::sync::Semaphore;

use self::answer::{Call, Checks, Failure, Outcome};
use self::cache::{Cached, LocalCache};
use self::hash::{Key, KeyedHash};
use super::{Pending, Verdict, Verifier};
use crate::claims::{Fingerprint, VerifiedClaims};
use crate::error::{Reason, Rejection};
use crate::sync::lock;

type Flight = SharedFuture<Pending>;

/// Everything an introspector needs; shared by the [`IntrospectionVerifier`]
/// and the public [`Introspector`](crate::introspection::Introspector).
pub(crate) struct Engine {
    pub(crate) call: Call,
    pub(crate) checks: Checks,
    pub(crate) hasher: KeyedHash,
    pub(crate) cache: LocalCache,
    pub(crate) shared: shared::Shared,
    pub(crate) limit: Arc<Semaphore>,
    pub(crate) max_concurrent: usize,
    /// The whole call (shared cache, credentials, request, answer).
    pub(crate) deadline: Duration,
    /// Sent as `Retry-After` with every 503.
    pub(crate) retry_after: Duration,
    pub(crate) max_token_bytes: usize,
    pub(crate) ttl: Duration,
    pub(crate) flights: Mutex<HashMap<Key, Flight>>,
    /// The endpoint's last success and failure, for readiness.
    pub(crate) health: crate::introspection::HealthState,
    /// The decision counters of the introspector's issuer, handed to the
    /// claims of every active token.
    pub(crate) counters: crate::ops::IssuerCounters,
    /// Calls, latency and cache lookups.
    pub(crate) metrics: crate::ops::IntrospectionCounters,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Introspector")
            .field("issuer", &self.checks.issuer)
            .field("endpoint", &self.call.endpoint.as_str())
            .field("client_id", &self.call.client_id)
            .field("auth", &self.call.auth.method())
            .field("ttl", &self.ttl)
            .field("max_concurrent", &self.max_concurrent)
            .field("shared_cache", &self.shared.is_some())
            .finish_non_exhaustive()
    }
}

/// The [`Verifier`] of opaque tokens. Cheap to clone.
#[derive(Clone, Debug)]
pub(crate) struct IntrospectionVerifier(pub(crate) Arc<Engine>);

impl IntrospectionVerifier {
    pub(crate) fn issuer(&self) -> &str {
        &self.0.checks.issuer
    }
}

impl Verifier for IntrospectionVerifier {
    fn verify(&self, token: &str) -> Verdict {
        let engine = &self.0;
        if token.len() > engine.max_token_bytes {
            return Verdict::Rejected(engine.refuse(Reason::TooLarge, token));
        }
        let key = engine.hasher.hash(token);
        let cached = engine.cache.get(&key);
        engine.metrics.cache(!matches!(cached, Cached::Miss));
        match cached {
            Cached::Active(claims) => Verdict::Verified(claims),
            Cached::Refused(reason) => Verdict::Rejected(engine.refuse(reason, token)),
            Cached::Miss => Engine::fetch(engine, token, key),
        }
    }
}

impl Engine {
    fn refuse(&self, reason: Reason, token: &str) -> Rejection {
        let mut r = Rejection::new(reason).with_issuer(&self.checks.issuer);
        r.fingerprint = Some(Fingerprint::of(token));
        if reason == Reason::IntrospectionUnavailable {
            r = r.with_retry_after(self.retry_after);
        }
        r
    }

    /// Join the call in flight for `key`, or start one if a permit is free.
    fn fetch(this: &Arc<Self>, token: &str, key: Key) -> Verdict {
        let mut flights = lock(&this.flights);
        if let Some(flight) = flights.get(&key) {
            return Verdict::Pending(Box::pin(flight.clone()));
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return Verdict::Rejected(this.refuse(Reason::IntrospectionUnavailable, token));
        };
        let Ok(permit) = Arc::clone(&this.limit).try_acquire_owned() else {
            drop(flights);
            tracing::warn!(
                target: "oauth2_guard::introspection",
                reason = Reason::IntrospectionUnavailable.code(),
                token = %Fingerprint::of(token),
                max_concurrent = this.max_concurrent,
                "introspection concurrency limit reached; answering 503"
            );
            return Verdict::Rejected(this.refuse(Reason::IntrospectionUnavailable, token));
        };
        let unavailable = this.refuse(Reason::IntrospectionUnavailable, token);
        let (tx, rx) = tokio::sync::oneshot::channel();
        let task_engine = Arc::clone(this);
        let token = token.to_owned();
        // Inserted before the task can finish, which removes it under the
        // same lock: a finished flight never stays in the map.
        let pending: Pending = Box::pin(rx.map(move |r| r.unwrap_or(Err(unavailable))));
        let flight = pending.shared();
        flights.insert(key, flight.clone());
        runtime.spawn(async move {
            let _permit = permit;
            let engine = task_engine;
            let fingerprint = Fingerprint::of(&token);
            let timer = crate::ops::Timer::start();
            let result = match tokio::time::timeout(
                engine.deadline,
                engine.resolve(&token, key, fingerprint),
            )
            .await
            {
                Ok(result) => result,
                Err(_) => {
                    // `resolve` was dropped mid-way, its count with it.
                    engine.metrics.called(None, &timer);
                    Err(engine.timed_out(
                        &Failure::Fetch(crate::error::FetchError::new(
                            crate::error::FetchErrorKind::Timeout,
                            engine.call.endpoint.as_str(),
                        )),
                        fingerprint,
                    ))
                }
            };
            drop(token);
            lock(&engine.flights).remove(&key);
            let _ = tx.send(result);
        });
        Verdict::Pending(Box::pin(flight))
    }

    /// The shared cache, else the endpoint; the answer is cached.
    async fn resolve(
        &self,
        token: &str,
        key: Key,
        fp: Fingerprint,
    ) -> Result<VerifiedClaims, Rejection> {
        let name = self.shared.as_ref().map(|_| hash::hex(&key));
        if let (Some(store), Some(name)) = (&self.shared, &name) {
            match store.get(name).await {
                Ok(Some(bytes)) => {
                    if let Some((claims, left)) = shared::decode(&bytes, &self.checks.issuer, fp) {
                        self.metrics.shared_cache(true);
                        let claims = claims.counted_by(&self.counters);
                        self.cache
                            .put_active_for(key, &claims, bytes.len() as u64, left);
                        return Ok(claims);
                    }
                }
                Ok(None) => {}
                Err(error) => tracing::warn!(
                    target: "oauth2_guard::introspection",
                    %error,
                    token = %fp,
                    "shared introspection cache unavailable; treated as a miss"
                ),
            }
        }
        if self.shared.is_some() {
            self.metrics.shared_cache(false);
        }
        // Only a call to the endpoint is counted and timed as one.
        let timer = crate::ops::Timer::start();
        let outcome = self
            .call
            .ask(token)
            .await
            .and_then(|(answer, size)| self.checks.check(answer, size, fp));
        self.metrics.called(
            match &outcome {
                Ok(Outcome::Active { .. }) => Some(true),
                Ok(Outcome::Refused(_)) => Some(false),
                Err(_) => None,
            },
            &timer,
        );
        match &outcome {
            Ok(_) => self.health.succeeded(),
            Err(_) => self.health.failed(),
        }
        match outcome {
            Ok(Outcome::Active { claims, size }) => {
                let claims = claims.counted_by(&self.counters);
                self.cache.put_active(key, &claims, size);
                if let (Some(store), Some(name)) = (&self.shared, &name) {
                    self.share(store.as_ref(), name, &claims, fp).await;
                }
                Ok(claims)
            }
            Ok(Outcome::Refused(reason)) => {
                self.cache.put_refused(key, reason);
                let mut r = Rejection::new(reason).with_issuer(&self.checks.issuer);
                r.fingerprint = Some(fp);
                Err(r)
            }
            Err(failure) => Err(self.failed(&failure, fp)),
        }
    }

    async fn share(
        &self,
        store: &dyn shared::SharedCache,
        name: &str,
        claims: &VerifiedClaims,
        fp: Fingerprint,
    ) {
        let left = claims.exp_unix().saturating_sub(crate::claims::now_unix());
        let ttl = self.ttl.min(Duration::from_secs(left));
        let Some(bytes) = shared::encode(claims, ttl).filter(|_| ttl.as_secs() > 0) else {
            return;
        };
        if let Err(error) = store.put(name, bytes, ttl).await {
            tracing::warn!(
                target: "oauth2_guard::introspection",
                %error,
                token = %fp,
                "shared introspection cache unavailable; answer kept locally only"
            );
        }
    }

    /// The whole call ran past the deadline: a failure of the endpoint.
    fn timed_out(&self, failure: &Failure, fp: Fingerprint) -> Rejection {
        self.health.failed();
        self.failed(failure, fp)
    }

    /// A failed call: one WARN event, and the 503 every waiter gets.
    fn failed(&self, failure: &Failure, fp: Fingerprint) -> Rejection {
        tracing::warn!(
            target: "oauth2_guard::introspection",
            reason = Reason::IntrospectionUnavailable.code(),
            failure = %failure.label(),
            endpoint = %self.call.endpoint,
            token = %fp,
            "introspection failed; answering 503"
        );
        let mut r = Rejection::new(Reason::IntrospectionUnavailable)
            .with_issuer(&self.checks.issuer)
            .with_retry_after(self.retry_after);
        r.fingerprint = Some(fp);
        r
    }
}
