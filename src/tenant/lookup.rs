//! The cached, single-flight tenant lookup behind [`TenantPolicy::lookup`](super::TenantPolicy::lookup).
//!
//! Each tenant's answer (allowed or refused) is cached with two deadlines:
//!
//! - **fresh** (`allowed_ttl` / `denied_ttl`): answered from the cache, one
//!   `quick_cache` hit, no lookup, no await;
//! - **stale** (for [`stale_grace`](super::TenantLookupConfig::stale_grace)
//!   more): still answered from the cache at once, and the request starts
//!   one background lookup to refresh it (none if one is already running
//!   for that tenant, or if [`max_in_flight`](super::TenantLookupConfig::max_in_flight)
//!   are running: the refresh is skipped, the next request tries again).
//!   A refresh that fails or times out leaves the stale answer in place
//!   until its grace ends;
//! - past the grace, or for a new tenant: the request waits for a lookup.
//!   It takes the in-flight map's lock once: either it joins the lookup
//!   already running for that tenant, or it starts one in a task of its
//!   own, which stores the answer and then wakes every waiter.
//!
//! A lookup that fails (`Err` of a fallible lookup), times out or cannot
//! be started is never cached: a request waiting for it is answered 503.

use std::collections::HashMap;
use std::error::Error;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use tokio::sync::watch;

use super::{TenantLookup, TenantLookupConfig};
use crate::sync::lock;

const TARGET: &str = "oauth2_guard::tenant";

/// What the policy decided for one tenant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    Allowed,
    Denied,
    /// The lookup failed, timed out, or could not be started (too many in
    /// flight, no runtime): a server-side condition, answered 503 and never
    /// cached.
    Unavailable,
}

/// The error of a fallible lookup; only its `Display` is used (logged).
type LookupError = Box<dyn Error + Send + Sync>;
type LookupFuture = Pin<Box<dyn Future<Output = Result<bool, LookupError>> + Send + 'static>>;

/// A tenant lookup as the cache runs it: infallible ([`TenantLookup`]) or
/// fallible ([`TenantPolicy::lookup_fallible`](super::TenantPolicy::lookup_fallible)).
pub(crate) trait Lookup: Send + Sync + 'static {
    fn call(&self, tenant: &str) -> LookupFuture;
}

/// A [`TenantLookup`], which cannot fail.
pub(crate) struct Infallible<L>(pub(crate) L);

impl<L: TenantLookup> Lookup for Infallible<L> {
    fn call(&self, tenant: &str) -> LookupFuture {
        let allowed = self.0.is_allowed(tenant);
        Box::pin(async move { Ok(allowed.await) })
    }
}

/// A closure whose future answers `Result<bool, E>`.
pub(crate) struct Fallible<F>(pub(crate) F);

impl<F, Fut, E> Lookup for Fallible<F>
where
    F: Fn(String) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<bool, E>> + Send + 'static,
    E: Error + Send + Sync + 'static,
{
    fn call(&self, tenant: &str) -> LookupFuture {
        let answer = (self.0)(tenant.to_owned());
        Box::pin(async move { answer.await.map_err(|e| Box::new(e) as LookupError) })
    }
}

/// The answer of [`TenantPolicy::check`](super::TenantPolicy::check).
pub(crate) enum Check {
    Done(Outcome),
    /// A lookup is running for this tenant: wait for its outcome.
    Wait(Wait),
}

/// A lookup to wait for; bounded by the lookup's timeout.
pub(crate) struct Wait(watch::Receiver<Option<Outcome>>);

impl Wait {
    pub(crate) async fn outcome(mut self) -> Outcome {
        match self.0.wait_for(Option::is_some).await {
            Ok(v) => v.unwrap_or(Outcome::Unavailable),
            // The task ended without an answer (the lookup panicked).
            Err(_) => Outcome::Unavailable,
        }
    }
}

/// One tenant's cached answer.
#[derive(Debug, Clone, Copy)]
struct Entry {
    allowed: bool,
    /// Answered without a lookup until then.
    fresh_until: Instant,
    /// Then answered while one background lookup refreshes it, until then.
    stale_until: Instant,
}

impl Entry {
    fn outcome(self) -> Outcome {
        if self.allowed {
            Outcome::Allowed
        } else {
            Outcome::Denied
        }
    }
}

pub(crate) struct LookupState {
    lookup: Box<dyn Lookup>,
    config: TenantLookupConfig,
    known: quick_cache::sync::Cache<Arc<str>, Entry>,
    in_flight: Mutex<HashMap<Arc<str>, watch::Receiver<Option<Outcome>>>>,
}

impl LookupState {
    pub(crate) fn new(lookup: Box<dyn Lookup>, config: TenantLookupConfig) -> Arc<Self> {
        Arc::new(Self {
            lookup,
            known: quick_cache::sync::Cache::new(config.capacity.max(1)),
            config,
            in_flight: Mutex::new(HashMap::new()),
        })
    }

    pub(crate) fn config(&self) -> &TenantLookupConfig {
        &self.config
    }

    /// The fresh answer for `tenant`, else its stale one (`Err`), if any.
    fn cached(&self, tenant: &str) -> Result<Outcome, Option<Outcome>> {
        let Some(entry) = self.known.get(tenant) else {
            return Err(None);
        };
        let now = Instant::now();
        if now < entry.fresh_until {
            Ok(entry.outcome())
        } else if now < entry.stale_until {
            Err(Some(entry.outcome()))
        } else {
            Err(None)
        }
    }

    pub(crate) fn check(self: &Arc<Self>, tenant: &str) -> Check {
        let stale = match self.cached(tenant) {
            Ok(fresh) => return Check::Done(fresh),
            Err(stale) => stale,
        };
        // A stale answer is given now; the lookup below only refreshes it.
        let answer = |rx: watch::Receiver<Option<Outcome>>| match stale {
            Some(outcome) => Check::Done(outcome),
            None => Check::Wait(Wait(rx)),
        };
        let mut flights = lock(&self.in_flight);
        if let Some(rx) = flights.get(tenant) {
            return answer(rx.clone());
        }
        // A lookup may have finished between the cache read and the lock.
        if let Ok(fresh) = self.cached(tenant) {
            return Check::Done(fresh);
        }
        if flights.len() >= self.config.max_in_flight {
            if let Some(outcome) = stale {
                // Skip the refresh; a later request tries again.
                return Check::Done(outcome);
            }
            tracing::warn!(
                target: TARGET,
                in_flight = flights.len(),
                "tenant lookups at their limit: refusing a new tenant with 503"
            );
            return Check::Done(Outcome::Unavailable);
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return Check::Done(stale.unwrap_or(Outcome::Unavailable));
        };
        let key: Arc<str> = Arc::from(tenant);
        let (tx, rx) = watch::channel(None);
        let lookup = self.lookup.call(tenant);
        let done = Done {
            state: Arc::downgrade(self),
            tenant: key.clone(),
            tx,
        };
        let timeout = self.config.timeout;
        runtime.spawn(async move {
            let outcome = match tokio::time::timeout(timeout, lookup).await {
                Ok(Ok(true)) => Outcome::Allowed,
                Ok(Ok(false)) => Outcome::Denied,
                Ok(Err(error)) => {
                    tracing::warn!(
                        target: TARGET,
                        tenant = &*done.tenant,
                        error = %error,
                        "tenant lookup failed: not cached (a request waiting for it is answered 503)"
                    );
                    Outcome::Unavailable
                }
                Err(_) => {
                    tracing::warn!(
                        target: TARGET,
                        tenant = &*done.tenant,
                        timeout_ms = timeout.as_millis() as u64,
                        "tenant lookup timed out: not cached (a request waiting for it is answered 503)"
                    );
                    Outcome::Unavailable
                }
            };
            done.finish(outcome);
        });
        flights.insert(key, rx.clone());
        answer(rx)
    }
}

/// Ends one lookup: caches a decision, leaves the in-flight map and wakes
/// the waiters — also when the lookup panicked (then on drop, undecided).
struct Done {
    state: Weak<LookupState>,
    tenant: Arc<str>,
    tx: watch::Sender<Option<Outcome>>,
}

impl Done {
    fn finish(self, outcome: Outcome) {
        if let Some(state) = self.state.upgrade() {
            let config = &state.config;
            let ttl: Option<Duration> = match outcome {
                Outcome::Allowed => Some(config.allowed_ttl),
                Outcome::Denied => Some(config.denied_ttl),
                // A stale entry, if any, stays until its grace ends.
                Outcome::Unavailable => None,
            };
            let now = Instant::now();
            if let Some((ttl, fresh_until)) = ttl.and_then(|ttl| Some((ttl, now.checked_add(ttl)?)))
            {
                let grace = config.stale_grace.unwrap_or(ttl);
                let entry = Entry {
                    allowed: outcome == Outcome::Allowed,
                    fresh_until,
                    stale_until: fresh_until.checked_add(grace).unwrap_or(fresh_until),
                };
                state.known.insert(self.tenant.clone(), entry);
            }
        }
        let _ = self.tx.send(Some(outcome));
        // `Drop` leaves the in-flight map.
    }
}

impl Drop for Done {
    fn drop(&mut self) {
        if let Some(state) = self.state.upgrade() {
            lock(&state.in_flight).remove(&self.tenant);
        }
        // Waiters of a lookup that panicked see the channel close.
        self.tx.send_if_modified(|v| {
            if v.is_none() {
                *v = Some(Outcome::Unavailable);
                true
            } else {
                false
            }
        });
    }
}
