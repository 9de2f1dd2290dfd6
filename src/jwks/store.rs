//! The lock-free key store and its refresh task.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwapOption;
use tokio::sync::{watch, Notify};
use tokio::time::Instant;
use url::Url;

use super::parse::{KeySet, VerifyingKey};
use crate::error::{FetchError, FetchErrorKind, JwksError};
use crate::http::HttpClient;
use crate::sync::lock;

/// When and how an issuer's keys are refreshed.
///
/// | setting | default | why |
/// |---|---|---|
/// | `min_interval` | 5 min | a `max-age=0` JWKS must not turn into a fetch loop |
/// | `max_interval` | 24 h | even a year-long `max-age` is re-checked daily, so removed keys go away |
/// | `default_interval` | 1 h | when the JWKS response has no `Cache-Control: max-age` |
/// | `unknown_kid_cooldown` | 30 s | an attacker choosing random kids gets at most one JWKS fetch per cooldown |
/// | `unknown_kid_wait` | 2 s | how long the request that met a new kid waits for the refresh it triggered |
/// | `max_stale` | 24 h | how long past their scheduled refresh the last good keys keep serving while the issuer is unreachable |
/// | `startup_timeout` | 10 s | how long `build().await` waits for the first key set |
/// | `backoff_base` / `backoff_max` | 1 s / 5 min | retries after a failed fetch, doubled each time, with jitter; a 429/503 `Retry-After` is honoured up to `backoff_max` |
///
/// # Security
/// A fetched, well-formed JWK Set is authoritative: a key it no longer lists
/// stops verifying at once, verified-token cache entries included. When the
/// set holds no usable key (`{"keys": []}`, or only key types this crate
/// skips, such as P-521 or RSA-1024), every token of the issuer is answered
/// 503 (`keys_unavailable`), an ERROR event names the issuer, and the fetch
/// is retried on the backoff above until a usable key is published. Only a
/// *failed* fetch (network, HTTP status, a body that is not a JWK Set, or
/// over the size cap) keeps the last good keys, for up to `max_stale`.
///
/// At startup, `build().await` fails on a set without a usable key
/// ([`ConfigError::InitialKeys`](crate::ConfigError::InitialKeys) with
/// [`FetchErrorKind::NoUsableKeys`]): that is a configuration problem,
/// better reported before the service takes traffic. `build_deferred` answers
/// 503 and retries.
#[derive(Debug, Clone)]
pub struct RefreshConfig {
    pub(crate) min_interval: Duration,
    pub(crate) max_interval: Duration,
    pub(crate) default_interval: Duration,
    pub(crate) unknown_kid_cooldown: Duration,
    pub(crate) unknown_kid_wait: Duration,
    pub(crate) max_stale: Duration,
    pub(crate) startup_timeout: Duration,
    pub(crate) backoff_base: Duration,
    pub(crate) backoff_max: Duration,
}

impl Default for RefreshConfig {
    fn default() -> Self {
        Self {
            min_interval: Duration::from_secs(5 * 60),
            max_interval: Duration::from_secs(24 * 3600),
            default_interval: Duration::from_secs(3600),
            unknown_kid_cooldown: Duration::from_secs(30),
            unknown_kid_wait: Duration::from_secs(2),
            max_stale: Duration::from_secs(24 * 3600),
            startup_timeout: Duration::from_secs(10),
            backoff_base: Duration::from_secs(1),
            backoff_max: Duration::from_secs(5 * 60),
        }
    }
}

macro_rules! setter {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        pub fn $name(mut self, d: Duration) -> Self {
            self.$name = d;
            self
        }
    };
}

impl RefreshConfig {
    setter!(
        /// Lower clamp of the refresh interval.
        min_interval
    );
    setter!(
        /// Upper clamp of the refresh interval.
        max_interval
    );
    setter!(
        /// Interval when the JWKS response carries no `max-age`.
        default_interval
    );
    setter!(
        /// Minimum time between two refreshes triggered by unknown kids.
        unknown_kid_cooldown
    );
    setter!(
        /// How long a request with an unknown kid waits for the refresh.
        unknown_kid_wait
    );
    setter!(
        /// How long past the scheduled refresh the last good keys serve while refreshes fail.
        max_stale
    );
    setter!(
        /// How long `build().await` waits for the first key set.
        startup_timeout
    );
    setter!(
        /// First retry delay after a failed fetch.
        backoff_base
    );
    setter!(
        /// Largest retry delay after failed fetches.
        backoff_max
    );

    pub(crate) fn validate(&self) -> Result<(), crate::error::ConfigError> {
        use crate::error::ConfigError::OutOfRange;
        if self.min_interval.is_zero() || self.min_interval > self.max_interval {
            return Err(OutOfRange {
                setting: "refresh.min_interval",
                reason: "must be non-zero and at most max_interval",
            });
        }
        if self.backoff_base.is_zero() || self.backoff_base > self.backoff_max {
            return Err(OutOfRange {
                setting: "refresh.backoff_base",
                reason: "must be non-zero and at most backoff_max",
            });
        }
        if self.unknown_kid_wait > Duration::from_secs(30) {
            return Err(OutOfRange {
                setting: "refresh.unknown_kid_wait",
                reason: "a request must not wait more than 30 s for keys",
            });
        }
        Ok(())
    }

    fn clamp(&self, max_age: Option<Duration>) -> Duration {
        max_age
            .unwrap_or(self.default_interval)
            .clamp(self.min_interval, self.max_interval)
    }

    fn backoff(&self, failures: u32) -> Duration {
        let exp = crate::http::exponential_backoff(self.backoff_base, self.backoff_max, failures);
        // ±20 % jitter so a fleet does not retry in lockstep.
        exp.mul_f64(0.8 + 0.4 * crate::http::jitter_unit())
    }
}

/// Where keys come from.
// One per issuer, built once: the size difference costs nothing.
#[allow(clippy::large_enum_variant)]
pub(crate) enum Source {
    /// Fixed at build time; never refreshed.
    Static,
    /// Fetched from a JWKS URL, known up front or found by discovery on the
    /// first fetch.
    Remote {
        http: HttpClient,
        url: std::sync::OnceLock<Url>,
        /// The issuer's metadata, when discovery was used.
        metadata: std::sync::OnceLock<crate::discovery::ProviderMetadata>,
    },
}

const NEVER: u64 = u64::MAX;

/// The outcome of a key lookup on the request path.
pub(crate) enum Lookup {
    Found(Arc<VerifyingKey>),
    Unknown,
    /// No key set, the last one is older than `max_stale`, or the issuer's
    /// current set holds no usable key.
    Unavailable {
        retry_after: Duration,
    },
}

/// State shared by the request path and the refresh task.
pub(crate) struct KeyStore {
    issuer: Arc<str>,
    keys: ArcSwapOption<KeySet>,
    config: RefreshConfig,
    source: Source,
    epoch: Instant,
    /// Milliseconds since `epoch` of the last successful fetch (`NEVER` before).
    last_success: AtomicU64,
    /// Milliseconds since `epoch` after which the keys are too old to use:
    /// the next scheduled refresh plus `max_stale` (`NEVER` for static keys).
    stale_at: AtomicU64,
    /// Milliseconds since `epoch` of the next scheduled fetch.
    next_attempt: AtomicU64,
    /// Whether a fetch runs, and when an unknown kid last demanded one. Both
    /// change together under this lock, so a request can never see "a refresh
    /// was just demanded" without also seeing that it is under way. Only the
    /// unknown-kid path and the refresh task take it, never a known-kid
    /// request, and never across an `.await`.
    gate: std::sync::Mutex<Gate>,
    trigger: Notify,
    generation: watch::Sender<u64>,
}

impl KeyStore {
    pub(crate) fn new(issuer: Arc<str>, source: Source, config: RefreshConfig) -> Arc<Self> {
        Arc::new(Self {
            issuer,
            keys: ArcSwapOption::empty(),
            config,
            source,
            epoch: Instant::now(),
            last_success: AtomicU64::new(NEVER),
            stale_at: AtomicU64::new(0),
            next_attempt: AtomicU64::new(0),
            gate: std::sync::Mutex::new(Gate {
                in_flight: false,
                last_demand: None,
            }),
            trigger: Notify::new(),
            generation: watch::channel(0).0,
        })
    }

    pub(crate) fn issuer(&self) -> &Arc<str> {
        &self.issuer
    }

    pub(crate) fn source(&self) -> &Source {
        &self.source
    }

    fn now_ms(&self) -> u64 {
        self.epoch.elapsed().as_millis() as u64
    }

    /// Install a key set (static keys, or a fetched one). A fetched set is
    /// authoritative: keys it no longer lists stop verifying at once, and an
    /// empty one refuses every token of the issuer (503).
    pub(crate) fn install(&self, set: KeySet) {
        if set.is_empty() {
            tracing::error!(
                issuer = &*self.issuer,
                skipped = set.skipped,
                "key set holds no usable signing key: every token of this issuer is refused (503) until it publishes one"
            );
        } else {
            tracing::info!(
                issuer = &*self.issuer,
                keys = set.len(),
                skipped = set.skipped,
                kids = ?set.kids(),
                "key set loaded"
            );
        }
        self.keys.store(Some(Arc::new(set)));
        let now = self.now_ms();
        self.last_success.store(now, Ordering::Release);
        self.stale_at.store(NEVER, Ordering::Release);
    }

    /// After a successful fetch: the keys stay usable until the next
    /// scheduled refresh plus `max_stale`.
    fn set_fresh_for(&self, interval: Duration) {
        let deadline = self
            .now_ms()
            .saturating_add(interval.as_millis() as u64)
            .saturating_add(self.config.max_stale.as_millis() as u64);
        self.stale_at.store(deadline, Ordering::Release);
    }

    /// The request path: one atomic load, one hash lookup, one clock read.
    ///
    /// An empty set (the issuer published no usable key) is `Unavailable`,
    /// not `Unknown`: no token can verify, so none is told its key is wrong,
    /// and none demands a refresh — the refresh task retries on its backoff.
    pub(crate) fn lookup(&self, kid: Option<&str>, alg: jsonwebtoken::Algorithm) -> Lookup {
        let guard = self.keys.load();
        let Some(set) = guard.as_ref() else {
            return Lookup::Unavailable {
                retry_after: self.retry_after(),
            };
        };
        if set.is_empty() || self.is_stale() {
            return Lookup::Unavailable {
                retry_after: self.retry_after(),
            };
        }
        match set.find(kid, alg) {
            Some(k) => Lookup::Found(k.clone()),
            None => Lookup::Unknown,
        }
    }

    /// The issuer's discovered metadata, once known.
    pub(crate) fn metadata(&self) -> Option<&crate::discovery::ProviderMetadata> {
        match &self.source {
            Source::Remote { metadata, .. } => metadata.get(),
            Source::Static => None,
        }
    }

    /// Whether `key` is still published (cache entries are valid only then).
    pub(crate) fn still_serves(&self, key: &Arc<VerifyingKey>) -> bool {
        !self.is_stale() && self.keys.load().as_ref().is_some_and(|s| s.contains(key))
    }

    /// A key set with at least one usable key is loaded and not stale.
    pub(crate) fn is_available(&self) -> bool {
        self.keys.load().as_ref().is_some_and(|s| !s.is_empty()) && !self.is_stale()
    }

    fn is_stale(&self) -> bool {
        if matches!(self.source, Source::Static) {
            return false;
        }
        self.now_ms() > self.stale_at.load(Ordering::Acquire)
    }

    fn retry_after(&self) -> Duration {
        let next = self.next_attempt.load(Ordering::Relaxed);
        let secs = next.saturating_sub(self.now_ms()).div_ceil(1000);
        Duration::from_secs(secs.clamp(1, 60))
    }

    /// A token named a kid the set does not have: refresh at most once per
    /// cooldown, share an in-flight refresh, and wait for it (bounded).
    /// Returns whether a refresh completed while waiting.
    pub(crate) async fn refresh_for_unknown_kid(&self) -> bool {
        if matches!(self.source, Source::Static) {
            return false;
        }
        // Subscribe first: a fetch that ends after this point wakes us.
        let mut rx = self.generation.subscribe();
        let demanded = {
            let mut gate = lock(&self.gate);
            if gate.in_flight {
                false
            } else if gate
                .last_demand
                .is_some_and(|t| t.elapsed() < self.config.unknown_kid_cooldown)
            {
                // Within the cooldown and nothing under way: refuse without traffic.
                return false;
            } else {
                gate.in_flight = true;
                gate.last_demand = Some(Instant::now());
                true
            }
        };
        if demanded {
            tracing::info!(issuer = &*self.issuer, "unknown kid: refreshing keys");
            #[cfg(feature = "testkit")]
            crate::testkit::hooks::refresh_demanded();
            self.trigger.notify_one();
        }
        matches!(
            tokio::time::timeout(self.config.unknown_kid_wait, rx.changed()).await,
            Ok(Ok(()))
        )
    }

    fn set_next_attempt(&self, next: Instant) {
        self.next_attempt
            .store((next - self.epoch).as_millis() as u64, Ordering::Relaxed);
    }

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

    /// Fetch, parse and install the key set.
    async fn fetch(&self, if_none: IfNoUsableKey) -> Result<Fetched, FetchError> {
        let Source::Remote { http, url, .. } = &self.source else {
            return Ok(Fetched {
                interval: self.config.max_interval,
                usable: true,
            });
        };
        let url = match url.get() {
            Some(u) => u,
            None => {
                self.discover().await.map_err(|e| match e {
                    crate::error::ConfigError::Discovery { source, .. } => source,
                    other => FetchError::new(FetchErrorKind::InvalidJson, &*self.issuer)
                        .with_source(other),
                })?;
                url.get()
                    .ok_or_else(|| FetchError::new(FetchErrorKind::InvalidJson, &*self.issuer))?
            }
        };
        let fetched = http.get(url).await?;
        let previous = self.keys.load_full();
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
        let interval = self.config.clamp(fetched.max_age);
        self.set_fresh_for(interval);
        Ok(Fetched { interval, usable })
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
}

/// Refresh state shared by the unknown-kid path and the refresh task.
/// Poisoning cannot leave it inconsistent (two plain fields, each written in
/// one statement), so [`lock`] uses a poisoned lock as is.
struct Gate {
    in_flight: bool,
    last_demand: Option<Instant>,
}

/// `now + d` on tokio's clock, saturating at [`MAX_DELAY`](crate::http::MAX_DELAY)
/// (configured or server-sent delays must not overflow `Instant`).
fn after(d: Duration) -> Instant {
    Instant::now() + d.min(crate::http::MAX_DELAY)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interval_clamp_and_backoff() {
        let c = RefreshConfig::default();
        assert_eq!(c.clamp(None), Duration::from_secs(3600));
        assert_eq!(c.clamp(Some(Duration::ZERO)), Duration::from_secs(300));
        assert_eq!(
            c.clamp(Some(Duration::from_secs(10_000_000))),
            Duration::from_secs(86_400)
        );
        let b1 = c.backoff(1);
        assert!(
            b1 >= Duration::from_millis(800) && b1 <= Duration::from_millis(1200),
            "{b1:?}"
        );
        let b4 = c.backoff(4);
        assert!(
            b4 >= Duration::from_millis(6400) && b4 <= Duration::from_millis(9600),
            "{b4:?}"
        );
        assert!(c.backoff(40) <= Duration::from_secs(360));
        assert!(c.validate().is_ok());
        assert!(RefreshConfig::default()
            .min_interval(Duration::ZERO)
            .validate()
            .is_err());
    }
}
