//! The cached, single-flight tenant lookup behind [`TenantPolicy::lookup`](super::TenantPolicy::lookup).
//!
//! A known tenant is one `quick_cache` hit (no lookup, no await). A new one
//! takes the in-flight map's lock once: either it joins the lookup already
//! running for that tenant, or it starts one in a task of its own, which
//! stores the answer and then wakes every waiter.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use tokio::sync::watch;

use super::{TenantLookup, TenantLookupConfig};
use crate::sync::lock;

/// What the policy decided for one tenant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    Allowed,
    Denied,
    /// The lookup timed out, failed, or could not be started (too many in
    /// flight, no runtime): a server-side condition, answered 503 and never
    /// cached.
    Unavailable,
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

pub(crate) struct LookupState {
    lookup: Box<dyn TenantLookup>,
    config: TenantLookupConfig,
    /// Tenant → (allowed, valid until).
    known: quick_cache::sync::Cache<Arc<str>, (bool, Instant)>,
    in_flight: Mutex<HashMap<Arc<str>, watch::Receiver<Option<Outcome>>>>,
}

impl LookupState {
    pub(crate) fn new(lookup: Box<dyn TenantLookup>, config: TenantLookupConfig) -> Arc<Self> {
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

    fn cached(&self, tenant: &str) -> Option<Outcome> {
        let (allowed, until) = self.known.get(tenant)?;
        if Instant::now() >= until {
            return None;
        }
        Some(if allowed {
            Outcome::Allowed
        } else {
            Outcome::Denied
        })
    }

    pub(crate) fn check(self: &Arc<Self>, tenant: &str) -> Check {
        if let Some(outcome) = self.cached(tenant) {
            return Check::Done(outcome);
        }
        let mut flights = lock(&self.in_flight);
        if let Some(rx) = flights.get(tenant) {
            return Check::Wait(Wait(rx.clone()));
        }
        // A lookup may have finished between the cache miss and the lock.
        if let Some(outcome) = self.cached(tenant) {
            return Check::Done(outcome);
        }
        if flights.len() >= self.config.max_in_flight {
            tracing::warn!(
                target: "oauth2_guard::tenant",
                in_flight = flights.len(),
                "tenant lookups at their limit: refusing a new tenant with 503"
            );
            return Check::Done(Outcome::Unavailable);
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return Check::Done(Outcome::Unavailable);
        };
        let key: Arc<str> = Arc::from(tenant);
        let (tx, rx) = watch::channel(None);
        let lookup = self.lookup.is_allowed(tenant);
        let done = Done {
            state: Arc::downgrade(self),
            tenant: key.clone(),
            tx,
        };
        let timeout = self.config.timeout;
        runtime.spawn(async move {
            let outcome = match tokio::time::timeout(timeout, lookup).await {
                Ok(true) => Outcome::Allowed,
                Ok(false) => Outcome::Denied,
                Err(_) => {
                    tracing::warn!(
                        target: "oauth2_guard::tenant",
                        tenant = &*done.tenant,
                        timeout_ms = timeout.as_millis() as u64,
                        "tenant lookup timed out: answering 503, not cached"
                    );
                    Outcome::Unavailable
                }
            };
            done.finish(outcome);
        });
        flights.insert(key, rx.clone());
        Check::Wait(Wait(rx))
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
            let ttl: Option<Duration> = match outcome {
                Outcome::Allowed => Some(state.config.allowed_ttl),
                Outcome::Denied => Some(state.config.denied_ttl),
                Outcome::Unavailable => None,
            };
            if let Some(until) = ttl.and_then(|ttl| Instant::now().checked_add(ttl)) {
                state
                    .known
                    .insert(self.tenant.clone(), (outcome == Outcome::Allowed, until));
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
