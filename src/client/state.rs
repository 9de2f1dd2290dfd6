//! The state a [`ClientCredentials`](super::ClientCredentials) source shares
//! with its clones and its refresher: the cached token, the single flight,
//! the endpoint's `Retry-After` hold and the `invalid_token` cooldown.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use arc_swap::ArcSwapOption;
use tokio::sync::Notify;

use super::error::TokenError;
use super::fetch::TokenRequest;
use super::token::AccessToken;
use crate::sync::lock;

/// A token and when the refresher replaces it.
pub(super) struct Cached {
    pub(super) token: AccessToken,
    pub(super) refresh_at: Instant,
}

/// The endpoint asked us (`Retry-After`) not to call before an instant;
/// token requests until then fail with the error that carried it.
#[derive(Default)]
pub(super) struct RetryAfterHold(Mutex<Option<(Instant, TokenError)>>);

impl RetryAfterHold {
    /// The end of the hold and its error, while it runs.
    pub(super) fn active(&self) -> Option<(Instant, TokenError)> {
        lock(&self.0)
            .clone()
            .filter(|(until, _)| Instant::now() < *until)
    }

    /// Hold token requests for `wait`, answering them with `error`.
    pub(super) fn set(&self, wait: Duration, error: TokenError) {
        *lock(&self.0) = Some((crate::http::deadline_after(wait), error));
    }
}

/// Which token a caller of [`Shared::fetch_shared`] will take.
pub(super) enum Wanted {
    /// Any token that has not expired: the cached one if there is one
    /// ([`token`](super::ClientCredentials::token)).
    Valid,
    /// A token other than this one
    /// ([`refresh_now`](super::ClientCredentials::refresh_now) while it was
    /// cached): it is replaced unless another caller already replaced it
    /// while we waited, in which case that caller's token is taken.
    Replacing(AccessToken),
}

/// What [`Shared::drop_rejected`] did with a token a downstream refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Dropped {
    /// Dropped now: the next call fetches a new token.
    Now,
    /// Not the cached token any more (another caller replaced or dropped it).
    AlreadyGone,
    /// Still cached: a token was dropped less than the cooldown ago.
    Throttled,
}

/// Everything behind a source's `Arc`.
pub(super) struct Shared {
    pub(super) request: TokenRequest,
    cache: ArcSwapOption<Cached>,
    /// A rejected token is dropped at most once per this long.
    invalid_token_cooldown: Duration,
    /// When a rejected token was last dropped.
    last_forced: Mutex<Option<Instant>>,
    /// Single flight: one token request at a time per source.
    flight: tokio::sync::Mutex<()>,
    /// Outcomes so far, and the last failure, shared with waiting callers.
    generation: AtomicU64,
    last_error: Mutex<Option<TokenError>>,
    hold: RetryAfterHold,
    /// Wakes the refresher when a new token is cached.
    wake: Arc<Notify>,
    /// Fetches by result and the token gauges, labelled with the client.
    metrics: crate::ops::ClientCounters,
}

impl Shared {
    pub(super) fn new(request: TokenRequest, invalid_token_cooldown: Duration) -> Self {
        Shared {
            metrics: crate::ops::ClientCounters::register(&request.client_id),
            request,
            cache: ArcSwapOption::empty(),
            invalid_token_cooldown,
            last_forced: Mutex::new(None),
            flight: tokio::sync::Mutex::new(()),
            generation: AtomicU64::new(0),
            last_error: Mutex::new(None),
            hold: RetryAfterHold::default(),
            wake: Arc::new(Notify::new()),
        }
    }

    /// The cached token if it has not expired: one atomic load.
    pub(super) fn valid_token(&self) -> Option<AccessToken> {
        self.cache
            .load()
            .as_ref()
            .filter(|c| Instant::now() < c.token.expires_at())
            .map(|c| c.token.clone())
    }

    /// The cached token, expired or not.
    pub(super) fn cached(&self) -> Option<Arc<Cached>> {
        self.cache.load_full()
    }

    /// Whether `token` is the cached token.
    pub(super) fn is_cached(&self, token: &AccessToken) -> bool {
        self.cache
            .load()
            .as_ref()
            .is_some_and(|c| c.token.same(token))
    }

    /// The notifier the refresher waits on.
    pub(super) fn wake(&self) -> Arc<Notify> {
        self.wake.clone()
    }

    /// When the endpoint's `Retry-After` ends, while it runs.
    pub(super) fn held_until(&self) -> Option<Instant> {
        self.hold.active().map(|(until, _)| until)
    }

    /// Enter the single flight (one token request at a time per source).
    pub(super) async fn single_flight(&self) -> tokio::sync::MutexGuard<'_, ()> {
        self.flight.lock().await
    }

    /// A new token from the endpoint (retries and `Retry-After` included).
    /// Call inside the single flight, and apply the outcome with `finish`.
    pub(super) async fn fetch(&self) -> Result<Cached, TokenError> {
        let result = self.request.fetch(&self.hold).await;
        self.metrics.fetched(result.as_ref().ok().map(|c| {
            let now = Instant::now();
            (
                c.token.expires_at().saturating_duration_since(now),
                c.refresh_at.saturating_duration_since(now),
            )
        }));
        result
    }

    /// Drop a token a downstream refused, at most once per cooldown.
    pub(super) fn drop_rejected(&self, token: &AccessToken) -> Dropped {
        let current = self.cache.load_full();
        if !current.as_ref().is_some_and(|c| c.token.same(token)) {
            return Dropped::AlreadyGone;
        }
        let r = &self.request;
        {
            let mut last = lock(&self.last_forced);
            if last.is_some_and(|t| t.elapsed() < self.invalid_token_cooldown) {
                tracing::debug!(
                    client_id = %r.client_id,
                    audience = %r.audience_label,
                    token = %token.fingerprint(),
                    "downstream refused the token again within the cooldown; keeping it"
                );
                return Dropped::Throttled;
            }
            *last = Some(Instant::now());
        }
        self.cache.compare_and_swap(&current, None);
        tracing::info!(client_id = %r.client_id, audience = %r.audience_label, "cached client-credentials token dropped");
        Dropped::Now
    }

    /// The token `wanted`, through the single flight: callers waiting for
    /// the same request share its token, or its error.
    pub(super) async fn fetch_shared(&self, wanted: Wanted) -> Result<AccessToken, TokenError> {
        let generation = self.generation.load(Ordering::SeqCst);
        let _flight = self.single_flight().await;
        if let Some(cached) = self.cache.load().as_ref() {
            let replaced = match &wanted {
                Wanted::Valid => false,
                Wanted::Replacing(old) => cached.token.same(old),
            };
            if !replaced && Instant::now() < cached.token.expires_at() {
                return Ok(cached.token.clone());
            }
        }
        if self.generation.load(Ordering::SeqCst) != generation {
            // A request finished while we waited; share its failure.
            if let Some(error) = lock(&self.last_error).clone() {
                return Err(error);
            }
        }
        let outcome = self.fetch().await;
        self.finish(outcome)
    }

    /// Apply the outcome of a token request made inside the single flight
    /// (by a caller or by the refresher): cache the new token and wake the
    /// refresher, or keep the cached token; either way callers waiting in the
    /// single flight share the outcome (the token, or the error).
    pub(super) fn finish(
        &self,
        outcome: Result<Cached, TokenError>,
    ) -> Result<AccessToken, TokenError> {
        let result = match outcome {
            Ok(cached) => {
                let token = cached.token.clone();
                self.cache.store(Some(Arc::new(cached)));
                self.wake.notify_one();
                *lock(&self.last_error) = None;
                Ok(token)
            }
            Err(error) => {
                *lock(&self.last_error) = Some(error.clone());
                Err(error)
            }
        };
        self.generation.fetch_add(1, Ordering::SeqCst);
        result
    }
}
