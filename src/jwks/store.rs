//! The lock-free key store and its refresh task.
//!
//! By concern: `config` holds [`RefreshConfig`], `refresh` the fetch and the
//! background refresh task; this file holds the store and the request path
//! (lookup, and the single-flight demand of an unknown kid).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwapOption;
use tokio::sync::{watch, Notify};
use tokio::time::Instant;
use url::Url;

use super::parse::{KeySet, VerifyingKey};
use crate::http::HttpClient;
use crate::ops::UnknownKid;
use crate::sync::lock;

mod config;
mod refresh;

pub use config::RefreshConfig;

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
    /// The `ETag`/`Last-Modified` of the installed set, for the next
    /// (conditional) fetch. Only the fetch takes it, never across an `.await`.
    validators: std::sync::Mutex<crate::http::Validators>,
    trigger: Notify,
    generation: watch::Sender<u64>,
    pub(super) metrics: crate::ops::KeyMetrics,
}

impl KeyStore {
    pub(crate) fn new(issuer: Arc<str>, source: Source, config: RefreshConfig) -> Arc<Self> {
        Arc::new(Self {
            metrics: crate::ops::KeyMetrics::new(&issuer, !matches!(source, Source::Static)),
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
            validators: std::sync::Mutex::default(),
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
        self.metrics.installed(set.len());
        self.keys.store(Some(Arc::new(set)));
        let now = self.now_ms();
        self.last_success.store(now, Ordering::Release);
        self.stale_at.store(NEVER, Ordering::Release);
    }

    /// A conditional fetch answered `304 Not Modified`: the installed set is
    /// current, which counts as a successful fetch.
    fn confirm_unchanged(&self, keys: usize) {
        tracing::debug!(
            issuer = &*self.issuer,
            keys,
            "key set unchanged (304 Not Modified)"
        );
        self.metrics.installed(keys);
        self.last_success.store(self.now_ms(), Ordering::Release);
    }

    /// After a successful fetch: the keys stay usable until the next
    /// scheduled refresh plus `max_stale`.
    fn set_fresh_for(&self, interval: Duration) {
        let deadline = self
            .now_ms()
            .saturating_add(interval.as_millis() as u64)
            .saturating_add(self.config.max_stale.as_millis() as u64);
        self.stale_at.store(deadline, Ordering::Release);
        self.metrics
            .scheduled(interval, interval.saturating_add(self.config.max_stale));
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
                self.metrics.unknown_kid(UnknownKid::Joined);
                false
            } else if gate
                .last_demand
                .is_some_and(|t| t.elapsed() < self.config.unknown_kid_cooldown)
            {
                // Within the cooldown and nothing under way: refuse without traffic.
                self.metrics.unknown_kid(UnknownKid::RateLimited);
                return false;
            } else {
                gate.in_flight = true;
                gate.last_demand = Some(Instant::now());
                true
            }
        };
        if demanded {
            self.metrics.unknown_kid(UnknownKid::Started);
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
}

/// Refresh state shared by the unknown-kid path and the refresh task.
/// Poisoning cannot leave it inconsistent (two plain fields, each written in
/// one statement), so [`lock`] uses a poisoned lock as is.
struct Gate {
    in_flight: bool,
    last_demand: Option<Instant>,
}
