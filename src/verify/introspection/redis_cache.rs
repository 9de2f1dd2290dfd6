//! The Redis backend of the shared introspection cache (features
//! `introspection` + `redis`): [`SharedCache`] over the crate's
//! [`RedisConn`], with a short timeout and a breaker, so a dead Redis costs
//! one bounded wait per [`retry_interval`](RedisIntrospectionCacheBuilder::retry_interval),
//! not one per cache miss.
//!
//! Keys: `<namespace>:introspection:<scope>:<keyed hash hex>`; values: the
//! JSON of [`shared`](super::shared) (mapped claims only), with a Redis TTL
//! (`PX`) of min(TTL, `exp` − now).

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use super::shared::{CacheFuture, SharedCache, SharedCacheError};
use crate::error::ConfigError;
use crate::redis::RedisConn;

/// Default [`timeout`](RedisIntrospectionCacheBuilder::timeout) of one Redis
/// command of the shared introspection cache: 100 ms.
pub const DEFAULT_REDIS_CACHE_TIMEOUT: Duration = Duration::from_millis(100);
/// Default [`retry_interval`](RedisIntrospectionCacheBuilder::retry_interval)
/// after a failed command: 1 s.
pub const DEFAULT_REDIS_CACHE_RETRY: Duration = Duration::from_secs(1);

/// Builds a [`RedisIntrospectionCache`].
///
/// | setting | default | why |
/// |---|---|---|
/// | [`namespace`](Self::namespace) | `oauth2-guard` | key prefix (`<namespace>:introspection:…`); one per group of services sharing answers, so several can share one Redis |
/// | [`timeout`](Self::timeout) | 100 ms | every connect and command; the cache only saves a call to the authorization server, so a slow Redis must cost less than that call |
/// | [`retry_interval`](Self::retry_interval) | 1 s | after a failure Redis is skipped (a miss, no wait) for this long, then tried again: a dead Redis adds at most one timeout per interval, not one per request |
#[derive(Debug, Clone)]
#[must_use]
pub struct RedisIntrospectionCacheBuilder {
    url: String,
    namespace: String,
    timeout: Duration,
    retry: Duration,
}

impl RedisIntrospectionCacheBuilder {
    /// Key prefix (default `oauth2-guard`): 1 to 64 of `A-Z a-z 0-9 . _ - :`.
    pub fn namespace(mut self, ns: impl Into<String>) -> Self {
        self.namespace = ns.into();
        self
    }

    /// Connect and command timeout (default 100 ms).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// How long Redis is skipped after a failure (default 1 s).
    pub fn retry_interval(mut self, every: Duration) -> Self {
        self.retry = every;
        self
    }

    /// Checks the settings and prepares a lazy connection: nothing is
    /// dialled until the first cache miss, so this succeeds while Redis is
    /// down (the cache then only misses).
    ///
    /// # Errors
    /// - [`ConfigError::InvalidUrl`]: not a `redis://` or `redis+unix://`
    ///   URL (a password in it is shown as `***`);
    /// - [`ConfigError::OutOfRange`]: a bad namespace, a zero timeout;
    /// - [`ConfigError::NoRuntime`]: called outside a Tokio runtime.
    pub fn build(self) -> Result<RedisIntrospectionCache, ConfigError> {
        let conn = crate::redis::open_lazy(&self.url, &self.namespace, self.timeout)?;
        Ok(RedisIntrospectionCache {
            inner: Arc::new(Inner {
                conn,
                prefix: format!("{}:introspection:", self.namespace),
                retry: self.retry,
                state: State::new(),
            }),
        })
    }
}

/// Answers of the authorization server shared by every instance through
/// Redis; give it to
/// [`IntrospectorBuilder::shared_cache_redis`](crate::introspection::IntrospectorBuilder::shared_cache_redis).
/// See [Shared cache](crate::introspection#shared-cache-redis).
///
/// Cheap to clone; clones share the connection and the
/// [`status`](Self::status).
#[derive(Clone)]
pub struct RedisIntrospectionCache {
    inner: Arc<Inner>,
}

struct Inner {
    conn: RedisConn,
    prefix: String,
    retry: Duration,
    state: State,
}

impl fmt::Debug for RedisIntrospectionCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisIntrospectionCache")
            .field("redis", &self.inner.conn)
            .field("prefix", &self.inner.prefix)
            .field("retry_interval", &self.inner.retry)
            .field("status", &self.status())
            .finish()
    }
}

/// The state of a [`RedisIntrospectionCache`], from
/// [`RedisIntrospectionCache::status`]. Counters count since the cache was
/// built, across every introspector that uses it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct RedisCacheStatus {
    /// `false` from a failed command until the next one that succeeds.
    pub available: bool,
    /// When the current outage started (`None` while available).
    pub down_since: Option<SystemTime>,
    /// Reads that found an entry.
    pub hits: u64,
    /// Reads that found none.
    pub misses: u64,
    /// Commands that failed or timed out.
    pub errors: u64,
    /// Reads and writes not sent because Redis was being skipped after a
    /// failure.
    pub skipped: u64,
}

impl RedisIntrospectionCache {
    /// Configure a cache on the Redis at `url`
    /// (`redis://[:password@]host[:port][/db]`).
    pub fn builder(url: impl Into<String>) -> RedisIntrospectionCacheBuilder {
        RedisIntrospectionCacheBuilder {
            url: url.into(),
            namespace: "oauth2-guard".into(),
            timeout: DEFAULT_REDIS_CACHE_TIMEOUT,
            retry: DEFAULT_REDIS_CACHE_RETRY,
        }
    }

    /// Availability and counters.
    pub fn status(&self) -> RedisCacheStatus {
        let s = &self.inner.state;
        let down = s.down_since.load(Ordering::Acquire);
        RedisCacheStatus {
            available: down == 0,
            down_since: (down != 0).then(|| s.wall(down)),
            hits: s.hits.load(Ordering::Relaxed),
            misses: s.misses.load(Ordering::Relaxed),
            errors: s.errors.load(Ordering::Relaxed),
            skipped: s.skipped.load(Ordering::Relaxed),
        }
    }

    pub(crate) fn into_shared(self) -> Arc<dyn SharedCache> {
        self.inner
    }
}

/// Lock-free state: times are milliseconds since `base` plus 1, 0 = never.
struct State {
    base: Instant,
    base_wall: SystemTime,
    down_since: AtomicU64,
    skip_until: AtomicU64,
    hits: AtomicU64,
    misses: AtomicU64,
    errors: AtomicU64,
    skipped: AtomicU64,
}

impl State {
    fn new() -> Self {
        Self {
            base: Instant::now(),
            base_wall: SystemTime::now(),
            down_since: AtomicU64::new(0),
            skip_until: AtomicU64::new(0),
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
            errors: AtomicU64::new(0),
            skipped: AtomicU64::new(0),
        }
    }

    fn now(&self) -> u64 {
        u64::try_from(self.base.elapsed().as_millis())
            .unwrap_or(u64::MAX - 1)
            .saturating_add(1)
    }

    fn wall(&self, t: u64) -> SystemTime {
        self.base_wall + Duration::from_millis(t.saturating_sub(1))
    }
}

impl Inner {
    /// Whether Redis is being skipped after a failure (counted).
    fn skipping(&self) -> bool {
        let s = &self.state;
        let skip = s.now() < s.skip_until.load(Ordering::Acquire);
        if skip {
            s.skipped.fetch_add(1, Ordering::Relaxed);
        }
        skip
    }

    /// Runs `command` bounded by the timeout, and records the outcome.
    async fn run<T>(
        &self,
        command: impl std::future::Future<Output = Result<T, redis::RedisError>>,
    ) -> Result<T, SharedCacheError> {
        // The connection's own timeouts bound connect and response; this
        // one also bounds anything in between.
        let res = match tokio::time::timeout(self.conn.timeout(), command).await {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(e)) => Err(SharedCacheError::from(e)),
            Err(_) => Err("Redis command timed out".into()),
        };
        let s = &self.state;
        match &res {
            Ok(_) => {
                if s.down_since.swap(0, Ordering::AcqRel) != 0 {
                    tracing::info!(
                        target: "oauth2_guard::introspection",
                        redis = ?self.conn,
                        "shared introspection cache (Redis) reachable again"
                    );
                }
            }
            Err(_) => {
                s.errors.fetch_add(1, Ordering::Relaxed);
                let now = s.now();
                let retry = u64::try_from(self.retry.as_millis()).unwrap_or(u64::MAX);
                s.skip_until
                    .store(now.saturating_add(retry), Ordering::Release);
                let _ = s
                    .down_since
                    .compare_exchange(0, now, Ordering::AcqRel, Ordering::Acquire);
            }
        }
        res
    }
}

impl SharedCache for Inner {
    fn get<'a>(
        &'a self,
        key: &'a str,
    ) -> CacheFuture<'a, Result<Option<Vec<u8>>, SharedCacheError>> {
        Box::pin(async move {
            if self.skipping() {
                return Ok(None);
            }
            let name = format!("{}{key}", self.prefix);
            let got = self.run(self.conn.get(&name)).await?;
            let counter = if got.is_some() {
                &self.state.hits
            } else {
                &self.state.misses
            };
            counter.fetch_add(1, Ordering::Relaxed);
            Ok(got)
        })
    }

    fn put<'a>(
        &'a self,
        key: &'a str,
        value: Vec<u8>,
        ttl: Duration,
    ) -> CacheFuture<'a, Result<(), SharedCacheError>> {
        Box::pin(async move {
            if self.skipping() {
                return Ok(());
            }
            let name = format!("{}{key}", self.prefix);
            self.run(self.conn.set_with_ttl(&name, &value, ttl)).await
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_are_checked() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        // Outside a runtime: a typed error, no panic.
        let err = RedisIntrospectionCache::builder("redis://127.0.0.1:1/")
            .build()
            .unwrap_err();
        assert!(matches!(err, ConfigError::NoRuntime));
        let _guard = rt.enter();
        let err = RedisIntrospectionCache::builder("redis://127.0.0.1:1/")
            .namespace("has space")
            .build()
            .unwrap_err();
        assert!(matches!(
            err,
            ConfigError::OutOfRange {
                setting: "namespace",
                ..
            }
        ));
        let err = RedisIntrospectionCache::builder("http://:hunter2@127.0.0.1/")
            .build()
            .unwrap_err();
        let ConfigError::InvalidUrl { url, .. } = &err else {
            panic!("{err:?}")
        };
        assert!(!url.contains("hunter2") && !err.to_string().contains("hunter2"));
        let ok = RedisIntrospectionCache::builder("redis://:hunter2@127.0.0.1:1/")
            .build()
            .unwrap();
        assert!(!format!("{ok:?}").contains("hunter2"));
        assert!(ok.status().available);
    }

    #[tokio::test]
    async fn a_dead_redis_costs_one_timeout_per_interval_then_is_skipped() {
        // Nothing listens on port 1: refused at once.
        let cache = RedisIntrospectionCache::builder("redis://127.0.0.1:1/")
            .retry_interval(Duration::from_secs(60))
            .build()
            .unwrap();
        let shared = cache.clone().into_shared();
        let started = Instant::now();
        assert!(
            shared.get("k").await.is_err(),
            "the first failure is reported"
        );
        for _ in 0..100 {
            assert!(matches!(shared.get("k").await, Ok(None)));
            assert!(shared
                .put("k", b"v".to_vec(), Duration::from_secs(1))
                .await
                .is_ok());
        }
        assert!(started.elapsed() < Duration::from_secs(2), "bounded");
        let st = cache.status();
        assert!(!st.available && st.down_since.is_some());
        assert_eq!((st.errors, st.skipped, st.hits), (1, 200, 0));
    }
}
