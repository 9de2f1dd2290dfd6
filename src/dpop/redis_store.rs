//! [`RedisReplayStore`]: the DPoP replay store shared through Redis
//! (features `dpop` + `redis`), so a proof accepted by one instance is
//! refused by every other.
//!
//! One `EVAL` per DPoP request, atomic in Redis:
//!
//! 1. the proof's key `<namespace>:dpop:{<jkt>}:<sha256(jti)>` exists → a
//!    replay;
//! 2. `INCR <namespace>:dpop:{<jkt>}:n`, the key's counter, which expires
//!    one [`per_key_period`](RedisReplayStoreBuilder::per_key_period) after
//!    the first proof that created it; past
//!    [`max_per_key`](RedisReplayStoreBuilder::max_per_key) → refused
//!    ([`ReplayError::KeyLimit`]), nothing stored;
//! 3. `SET <proof key> 1 NX PX <the proof's remaining iat window>`: Redis
//!    forgets it when the `iat` check would refuse the proof anyway.
//!
//! Both keys of one thumbprint carry the same `{<jkt>}` hash tag.

use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use futures_util::future::BoxFuture;

use super::config::DEFAULT_REPLAY_PER_KEY;
use super::replay::{ReplayError, ReplayKey, ReplayStore};
use crate::error::ConfigError;
use crate::redis::{ttl_millis, RedisConn};

/// Default [`timeout`](RedisReplayStoreBuilder::timeout) of the replay
/// check in Redis: 250 ms.
pub const DEFAULT_REDIS_REPLAY_TIMEOUT: Duration = Duration::from_millis(250);
/// Default [`per_key_period`](RedisReplayStoreBuilder::per_key_period): 60 s
/// (the default `iat` window).
pub const DEFAULT_REDIS_REPLAY_PERIOD: Duration = Duration::from_secs(60);

/// The check-and-insert, atomic in Redis. KEYS: proof, counter. ARGV: the
/// proof's TTL (ms), the per-key maximum, the counter's period (ms).
/// Answers 1 (fresh, recorded), 0 (replay), -1 (too many for this key).
const SCRIPT: &str = r"
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
local n = redis.call('INCR', KEYS[2])
if n == 1 or redis.call('PTTL', KEYS[2]) < 0 then
  redis.call('PEXPIRE', KEYS[2], ARGV[3])
end
if n > tonumber(ARGV[2]) then return -1 end
if redis.call('SET', KEYS[1], '1', 'NX', 'PX', ARGV[1]) then return 1 end
return 0
";

/// Builds a [`RedisReplayStore`].
///
/// | setting | default | why |
/// |---|---|---|
/// | [`namespace`](Self::namespace) | `oauth2-guard` | key prefix (`<namespace>:dpop:…`); every instance of one service must use the same, services that accept the same tokens should too |
/// | [`timeout`](Self::timeout) | 250 ms | every connect and command; a request waits at most this long for its replay check, then is refused with 503 |
/// | [`max_per_key`](Self::max_per_key) | 10 000 | per key thumbprint and period: one client (or one stolen key) cannot fill Redis; the same default as the in-memory [`replay_per_key`](crate::dpop::DpopConfigBuilder::replay_per_key) |
/// | [`per_key_period`](Self::per_key_period) | 60 s | the counter's period, started by the first proof of a key; with the default `iat` window Redis holds at most about 3 × `max_per_key` entries per key |
#[derive(Debug, Clone)]
#[must_use]
pub struct RedisReplayStoreBuilder {
    url: String,
    namespace: String,
    timeout: Duration,
    max_per_key: u64,
    period: Duration,
}

impl RedisReplayStoreBuilder {
    /// Key prefix (default `oauth2-guard`): 1 to 64 of `A-Z a-z 0-9 . _ - :`.
    pub fn namespace(mut self, ns: impl Into<String>) -> Self {
        self.namespace = ns.into();
        self
    }

    /// Connect and command timeout (default [`DEFAULT_REDIS_REPLAY_TIMEOUT`]).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// How many new proofs of one key are accepted per
    /// [`per_key_period`](Self::per_key_period) (default 10 000, at least 1).
    pub fn max_per_key(mut self, max: u64) -> Self {
        self.max_per_key = max;
        self
    }

    /// The period of the per-key counter (default
    /// [`DEFAULT_REDIS_REPLAY_PERIOD`], 1 s to 1 h).
    pub fn per_key_period(mut self, period: Duration) -> Self {
        self.period = period;
        self
    }

    /// Checks the settings and prepares a lazy connection: nothing is
    /// dialled until the first DPoP request, so this succeeds while Redis
    /// is down (DPoP requests are then answered 503).
    ///
    /// # Errors
    /// - [`ConfigError::InvalidUrl`]: not a `redis://` or `redis+unix://`
    ///   URL (a password in it is shown as `***`);
    /// - [`ConfigError::OutOfRange`]: a bad namespace, a zero timeout, a
    ///   zero `max_per_key`, a period outside 1 s to 1 h;
    /// - [`ConfigError::NoRuntime`]: called outside a Tokio runtime.
    pub fn build(self) -> Result<RedisReplayStore, ConfigError> {
        let range = |setting, reason| Err(ConfigError::OutOfRange { setting, reason });
        if self.max_per_key == 0 {
            return range("max_per_key", "at least 1");
        }
        if !(Duration::from_secs(1)..=Duration::from_secs(3600)).contains(&self.period) {
            return range("per_key_period", "between 1 s and 1 h");
        }
        let conn = crate::redis::open_lazy(&self.url, &self.namespace, self.timeout)?;
        Ok(RedisReplayStore {
            inner: Arc::new(Inner {
                conn,
                prefix: format!("{}:dpop:", self.namespace),
                max_per_key: self.max_per_key,
                period_ms: ttl_millis(self.period),
                down: AtomicBool::new(false),
            }),
        })
    }
}

/// DPoP proofs remembered in Redis, shared by every instance of a service;
/// give it to [`DpopConfigBuilder::replay_store`](crate::dpop::DpopConfigBuilder::replay_store).
///
/// ```no_run
/// # async fn run() -> Result<(), oauth2_guard::ConfigError> {
/// use oauth2_guard::dpop::{DpopConfig, RedisReplayStore};
///
/// let store = RedisReplayStore::builder("redis://127.0.0.1:6379/")
///     .namespace("orders")
///     .build()?;
/// let dpop = DpopConfig::builder("https://api.example.com")
///     .replay_store(store)
///     .build()?;
/// # let _ = dpop; Ok(()) }
/// ```
///
/// # Security
/// - **Fail closed.** When Redis does not answer within the timeout (down,
///   partitioned, out of memory) the proof is refused with 503
///   ([`DpopError::ReplayStoreUnavailable`](crate::dpop::DpopError::ReplayStoreUnavailable),
///   `Retry-After: 1`): a replay check that cannot be made must not accept.
///   The in-memory store never has this failure, but each instance only
///   knows the proofs it saw; with Redis, DPoP is as available as Redis.
///   Bearer requests are not affected.
/// - Run Redis with `maxmemory-policy noeviction` (or a database of its
///   own without eviction): an evicted entry makes its proof replayable
///   again, a refused write only answers 503.
/// - Likewise a Redis restarted without persistence (or a failover to a
///   replica that missed the last writes) has forgotten the proofs of the
///   last window: each may be replayed once until its `iat` leaves the
///   window. Server nonces ([`require_nonce`](crate::dpop::DpopConfigBuilder::require_nonce))
///   do not close that gap; persistence (`appendonly yes`) does.
/// - Bounded per key: at most [`max_per_key`](RedisReplayStoreBuilder::max_per_key)
///   new proofs per period; an entry lives at most its proof's remaining
///   `iat` window, so a key holds at most `max_per_key` × (⌈(2 × window +
///   1 s) / period⌉ + 1) entries.
///
/// Cheap to clone; clones share the connection.
#[derive(Clone)]
pub struct RedisReplayStore {
    inner: Arc<Inner>,
}

struct Inner {
    conn: RedisConn,
    prefix: String,
    max_per_key: u64,
    period_ms: u64,
    /// Set on a failure, cleared on the next success: one log line per outage.
    down: AtomicBool,
}

impl fmt::Debug for RedisReplayStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisReplayStore")
            .field("redis", &self.inner.conn)
            .field("prefix", &self.inner.prefix)
            .field("max_per_key", &self.inner.max_per_key)
            .field("per_key_period_ms", &self.inner.period_ms)
            .finish()
    }
}

impl RedisReplayStore {
    /// Configure a store for the Redis at `url`
    /// (`redis://[:password@]host[:port][/db]`).
    pub fn builder(url: impl Into<String>) -> RedisReplayStoreBuilder {
        RedisReplayStoreBuilder {
            url: url.into(),
            namespace: "oauth2-guard".into(),
            timeout: DEFAULT_REDIS_REPLAY_TIMEOUT,
            max_per_key: DEFAULT_REPLAY_PER_KEY as u64,
            period: DEFAULT_REDIS_REPLAY_PERIOD,
        }
    }

    /// The Redis keys of `key`: the proof's and its thumbprint's counter.
    fn keys(&self, key: &ReplayKey) -> (String, String) {
        let jkt = URL_SAFE_NO_PAD.encode(key.thumbprint());
        let tagged = format!("{}{{{jkt}}}:", self.inner.prefix);
        (
            format!("{tagged}{}", URL_SAFE_NO_PAD.encode(key.jti_hash())),
            format!("{tagged}n"),
        )
    }

    async fn insert(&self, key: &ReplayKey, ttl: Duration) -> Result<bool, ReplayError> {
        let inner = &self.inner;
        let (proof, counter) = self.keys(key);
        let args = [ttl_millis(ttl), inner.max_per_key, inner.period_ms];
        let keys = [proof.as_str(), counter.as_str()];
        let call = inner.conn.eval_int(SCRIPT, &keys, &args);
        let answer = match tokio::time::timeout(inner.conn.timeout(), call).await {
            Ok(Ok(n)) => Ok(n),
            Ok(Err(e)) => Err(Some(e)),
            Err(_) => Err(None),
        };
        match answer {
            Ok(n) => {
                if inner.down.swap(false, Ordering::Relaxed) {
                    tracing::info!("DPoP replay store: Redis answers again");
                }
                match n {
                    1 => Ok(true),
                    0 => Ok(false),
                    -1 => Err(ReplayError::KeyLimit),
                    _ => Err(ReplayError::Unavailable),
                }
            }
            Err(e) => {
                if !inner.down.swap(true, Ordering::Relaxed) {
                    let error = e.map_or_else(|| "timed out".to_owned(), |e| e.to_string());
                    tracing::warn!(%error, "DPoP replay store: Redis unavailable, DPoP requests are refused (503)");
                }
                Err(ReplayError::Unavailable)
            }
        }
    }
}

impl ReplayStore for RedisReplayStore {
    fn check_and_insert<'a>(
        &'a self,
        key: &'a ReplayKey,
        ttl: Duration,
    ) -> BoxFuture<'a, Result<bool, ReplayError>> {
        Box::pin(self.insert(key, ttl))
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
        let b = || RedisReplayStore::builder("redis://127.0.0.1:1/");
        assert!(matches!(b().build(), Err(ConfigError::NoRuntime)));
        let _guard = rt.enter();
        for bad in [
            b().namespace("a b"),
            b().timeout(Duration::ZERO),
            b().max_per_key(0),
            b().per_key_period(Duration::from_millis(10)),
            b().per_key_period(Duration::from_secs(7200)),
        ] {
            assert!(matches!(bad.build(), Err(ConfigError::OutOfRange { .. })));
        }
        let err = RedisReplayStore::builder("http://:hunter2@x/")
            .build()
            .unwrap_err();
        assert!(matches!(err, ConfigError::InvalidUrl { .. }));
        assert!(!format!("{err:?}{err}").contains("hunter2"));
        let store = RedisReplayStore::builder("redis://:hunter2@127.0.0.1:1/")
            .namespace("orders")
            .build()
            .unwrap();
        assert!(!format!("{store:?}").contains("hunter2"));
        // Both keys of one thumbprint share a hash tag; the jti is hashed.
        let (proof, counter) = store.keys(&ReplayKey::new([1; 32], "secret-jti"));
        let tag = format!("orders:dpop:{{{}}}:", URL_SAFE_NO_PAD.encode([1u8; 32]));
        assert!(
            proof.starts_with(&tag) && !proof.contains("secret-jti"),
            "{proof}"
        );
        assert_eq!(counter, format!("{tag}n"));
    }

    #[tokio::test]
    async fn redis_down_is_unavailable_in_time() {
        // Nothing listens on port 1: refused, within the timeout, never a "fresh".
        let store = RedisReplayStore::builder("redis://127.0.0.1:1/")
            .timeout(Duration::from_millis(200))
            .build()
            .unwrap();
        let key = ReplayKey::new([2; 32], "j");
        let answer = tokio::time::timeout(
            Duration::from_secs(3),
            store.check_and_insert(&key, Duration::from_secs(60)),
        )
        .await;
        assert_eq!(answer, Ok(Err(ReplayError::Unavailable)));
    }
}
