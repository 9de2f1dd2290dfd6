//! Fetching a key set (the first fetch of `build().await`, and refreshes)
//! and the background task that refreshes it: on schedule, on demand for an
//! unknown kid, and with backoff while the issuer is down. A refresh is a
//! conditional GET (`If-None-Match`/`If-Modified-Since` from the installed
//! set's `ETag`/`Last-Modified`): a `304` keeps the set and counts as a
//! successful fetch.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use super::{KeyStore, Source, NEVER};
use crate::error::{FetchError, FetchErrorKind, JwksError};
use crate::http::{Conditional, Validators};
use crate::jwks::parse::KeySet;
use crate::ops::FetchResult;
use crate::sync::lock;

impl KeyStore {
    /// The first fetch, for `build().await`. Returns the interval until the
    /// next refresh.
    ///
    /// A set without a usable key is an error here
    /// ([`FetchErrorKind::NoUsableKeys`], so `build` fails with
    /// `ConfigError::InitialKeys`): at startup it is a configuration problem
    /// (wrong JWKS URL, an IdP whose keys this crate cannot use), better
    /// reported at once than served as a 503 on every request.
    pub(crate) async fn fetch_once(&self) -> Result<Duration, FetchError> {
        self.fetch(IfNoUsableKey::Fail).await.map(|f| f.interval)
    }

    /// A refresh by the background task (scheduled, retry, or demanded by an
    /// unknown kid). A well-formed set is authoritative even when it holds no
    /// usable key: it is installed, and the keys it dropped stop verifying.
    /// Only a failed fetch (transport, HTTP status, not a JWK Set, too large)
    /// is an error, and keeps the last good keys serving.
    async fn refresh(&self) -> Result<Fetched, FetchError> {
        self.fetch(IfNoUsableKey::Install).await
    }

    /// Fetch, parse and install the key set, counting the outcome.
    async fn fetch(&self, if_none: IfNoUsableKey) -> Result<Fetched, FetchError> {
        let result = self.fetch_uncounted(if_none).await;
        if matches!(self.source, Source::Remote { .. }) {
            self.metrics.fetched(fetch_result(&result));
        }
        result
    }

    async fn fetch_uncounted(&self, if_none: IfNoUsableKey) -> Result<Fetched, FetchError> {
        let Source::Remote { http, url, .. } = &self.source else {
            return Ok(Fetched {
                interval: self.config.max_interval,
                usable: true,
                unchanged: false,
            });
        };
        let url = match url.get() {
            Some(u) => u,
            None => {
                self.discover().await.map_err(|e| match e {
                    crate::error::ConfigError::Discovery { source, .. } => source,
                    other => FetchError::new(FetchErrorKind::InvalidMetadata, &*self.issuer)
                        .with_source(other),
                })?;
                url.get().ok_or_else(|| {
                    FetchError::new(FetchErrorKind::InvalidMetadata, &*self.issuer)
                })?
            }
        };
        let previous = self.keys.load_full();
        // Conditional only while a set is installed: the validators belong
        // to it.
        let sent = match &previous {
            Some(_) => lock(&self.validators).clone(),
            None => Validators::default(),
        };
        let (fetched, validators) = match http.get_if_changed(url, &sent).await? {
            Conditional::Modified(fetched, validators) => (fetched, validators),
            Conditional::NotModified { max_age } => {
                let usable = previous.as_ref().is_some_and(|set| !set.is_empty());
                self.confirm_unchanged(previous.as_ref().map_or(0, |set| set.len()));
                let interval = self.config.clamp(max_age);
                self.set_fresh_for(interval);
                return Ok(Fetched {
                    interval,
                    usable,
                    unchanged: true,
                });
            }
        };
        let parsed =
            KeySet::parse_published(&fetched.value, http.max_response_bytes, previous.as_deref())
                .and_then(|set| match if_none {
                    IfNoUsableKey::Fail if set.is_empty() => Err(JwksError::NoUsableKeys),
                    _ => Ok(set),
                });
        let set = parsed.map_err(|e| {
            let kind = match e {
                JwksError::TooLarge { .. } => FetchErrorKind::TooLarge,
                JwksError::NoUsableKeys => FetchErrorKind::NoUsableKeys,
                _ => FetchErrorKind::InvalidJson,
            };
            FetchError::new(kind, url.as_str()).with_source(e)
        })?;
        let usable = !set.is_empty();
        self.install(set);
        *lock(&self.validators) = validators;
        let interval = self.config.clamp(fetched.max_age);
        self.set_fresh_for(interval);
        Ok(Fetched {
            interval,
            usable,
            unchanged: false,
        })
    }

    /// Run discovery once, if this store finds its JWKS URL that way.
    pub(crate) async fn discover(&self) -> Result<(), crate::error::ConfigError> {
        let Source::Remote {
            http,
            url,
            metadata,
        } = &self.source
        else {
            return Ok(());
        };
        if url.get().is_some() {
            return Ok(());
        }
        let meta = crate::discovery::ProviderMetadata::discover(http, &self.issuer).await?;
        let jwks = meta.jwks_url(http)?;
        let _ = metadata.set(meta);
        let _ = url.set(jwks);
        Ok(())
    }

    /// The refresh task: runs until aborted (when the issuer is dropped).
    pub(crate) async fn run(self: Arc<Self>, first_delay: Duration) {
        let mut next = after(first_delay);
        let mut failures: u32 = 0;
        // The endpoint's Retry-After: not even an unknown kid calls it sooner.
        let mut hold_until: Option<Instant> = None;
        self.set_next_attempt(next);
        loop {
            tokio::select! {
                _ = tokio::time::sleep_until(next) => {}
                _ = self.trigger.notified() => {}
            }
            if hold_until.is_some_and(|until| Instant::now() < until) {
                tracing::debug!(
                    issuer = &*self.issuer,
                    "key refresh demanded during the JWKS endpoint's Retry-After; not calling it yet"
                );
                // The demand is answered "no refresh" (its waiter times out).
                lock(&self.gate).in_flight = false;
                continue;
            }
            lock(&self.gate).in_flight = true;
            let started = Instant::now();
            match self.refresh().await {
                Ok(Fetched {
                    interval,
                    usable: false,
                    ..
                }) => {
                    // Installed (the dropped keys are gone), and retried like
                    // a failure, so keys the IdP publishes again are found
                    // within the backoff, never later than the schedule.
                    failures = failures.saturating_add(1);
                    hold_until = None;
                    let delay = self.config.backoff(failures).min(interval);
                    next = after(delay);
                    tracing::debug!(
                        issuer = &*self.issuer,
                        failures,
                        retry_in_ms = delay.as_millis() as u64,
                        "key refresh done: no usable key"
                    );
                }
                Ok(Fetched { interval, .. }) => {
                    failures = 0;
                    hold_until = None;
                    next = after(interval);
                    tracing::debug!(
                        issuer = &*self.issuer,
                        latency_ms = started.elapsed().as_millis() as u64,
                        next_in_s = interval.as_secs(),
                        "key refresh done"
                    );
                }
                Err(error) => {
                    failures = failures.saturating_add(1);
                    // Never sooner than the endpoint's Retry-After, never
                    // later than the longest backoff.
                    let asked = error
                        .retry_after()
                        .unwrap_or_default()
                        .min(self.config.backoff_max);
                    let delay = self.config.backoff(failures).max(asked);
                    next = after(delay);
                    hold_until = (!asked.is_zero()).then(|| after(asked));
                    let last = self.last_success.load(Ordering::Acquire);
                    let stale_for =
                        (last != NEVER).then(|| self.now_ms().saturating_sub(last) / 1000);
                    tracing::warn!(
                        issuer = &*self.issuer,
                        error = %error,
                        failures,
                        retry_in_ms = delay.as_millis() as u64,
                        serving_stale_keys_age_s = stale_for,
                        "key refresh failed"
                    );
                }
            }
            // Keys are installed (and the next attempt, the 503s'
            // `Retry-After`, known) before the gate opens, so a request that
            // finds no fetch under way and re-checks sees the new set.
            self.set_next_attempt(next);
            lock(&self.gate).in_flight = false;
            self.generation.send_modify(|g| *g = g.wrapping_add(1));
        }
    }
}

/// The `result` label of a fetch: a set that parsed is `ok` (even without
/// a usable key: the key-count gauge shows that), a 304 `not_modified`, a
/// body that is not a usable JWK Set `invalid`.
fn fetch_result(result: &Result<Fetched, FetchError>) -> FetchResult {
    match result {
        Ok(Fetched {
            unchanged: true, ..
        }) => FetchResult::NotModified,
        Ok(_) => FetchResult::Ok,
        Err(e) => match e.kind() {
            FetchErrorKind::Timeout => FetchResult::Timeout,
            FetchErrorKind::TooLarge
            | FetchErrorKind::InvalidJson
            | FetchErrorKind::NoUsableKeys
            | FetchErrorKind::InvalidMetadata => FetchResult::Invalid,
            _ => FetchResult::HttpError,
        },
    }
}

/// What a fetched, well-formed set without a usable key means.
#[derive(Clone, Copy)]
enum IfNoUsableKey {
    /// The first fetch of `build().await`: a configuration error.
    Fail,
    /// A refresh: the issuer's word that its old keys are gone; installed.
    Install,
}

/// A key set fetched and installed.
struct Fetched {
    /// Until the next scheduled refresh.
    interval: Duration,
    /// Whether the set holds at least one usable key.
    usable: bool,
    /// A conditional fetch found the installed set current (304).
    unchanged: bool,
}

/// `now + d` on tokio's clock, saturating at [`MAX_DELAY`](crate::http::MAX_DELAY)
/// (configured or server-sent delays must not overflow `Instant`).
fn after(d: Duration) -> Instant {
    Instant::now() + d.min(crate::http::MAX_DELAY)
}
