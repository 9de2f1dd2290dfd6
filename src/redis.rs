//! A small Redis connection shared by the crate's Redis-backed parts (the
//! revocation backend today, a shared introspection cache later): bytes in,
//! bytes out, every call bounded by a timeout. It knows nothing of what the
//! bytes mean.
//!
//! Commands go through one `redis::aio::ConnectionManager` (multiplexed,
//! reconnects by itself on the next command after a failure); pub/sub gets a
//! dedicated connection per subscription, as RESP2 requires.

use std::fmt;
use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig, PubSub};
use redis::{AsyncCommands, Client, RedisError};

/// A Redis endpoint: a command connection plus the client that opens
/// subscriptions.
#[derive(Clone)]
pub(crate) struct RedisConn {
    client: Client,
    commands: ConnectionManager,
    timeout: Duration,
}

impl fmt::Debug for RedisConn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The URL may carry a password: host and database only.
        let info = self.client.get_connection_info();
        f.debug_struct("RedisConn")
            .field("addr", &info.addr().to_string())
            .field("db", &info.redis_settings().db())
            .field("timeout", &self.timeout)
            .finish()
    }
}

impl RedisConn {
    /// Parses `url` (`redis://[:password@]host[:port][/db]`) and prepares a
    /// lazy connection: nothing is dialled until the first command, so this
    /// succeeds while Redis is down. Every connect and every command is
    /// bounded by `timeout`; a failed command is not retried here (the
    /// caller decides), the next one reconnects.
    ///
    /// Must be called inside a tokio runtime.
    pub(crate) fn open(url: &str, timeout: Duration) -> Result<Self, RedisError> {
        let client = Client::open(url)?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(timeout))
            .set_response_timeout(Some(timeout))
            .set_number_of_retries(0);
        let commands = ConnectionManager::new_lazy_with_config(client.clone(), config)?;
        Ok(Self {
            client,
            commands,
            timeout,
        })
    }

    /// The value at `key`, if any.
    #[cfg_attr(not(feature = "introspection"), allow(dead_code))]
    pub(crate) async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, RedisError> {
        self.commands.clone().get(key).await
    }

    /// Stores `value` at `key`, expiring after `ttl` (rounded up to the
    /// millisecond, at least 1 ms) in Redis itself.
    #[cfg_attr(not(feature = "introspection"), allow(dead_code))]
    pub(crate) async fn set_with_ttl(
        &self,
        key: &str,
        value: &[u8],
        ttl: Duration,
    ) -> Result<(), RedisError> {
        redis::cmd("SET")
            .arg(key)
            .arg(value)
            .arg("PX")
            .arg(ttl_millis(ttl))
            .exec_async(&mut self.commands.clone())
            .await
    }

    /// Stores `value` at `key` with `ttl` and publishes it on `channel`, in
    /// one `MULTI`/`EXEC`: a subscriber never hears of a value that was not
    /// stored.
    pub(crate) async fn set_with_ttl_and_publish(
        &self,
        key: &str,
        value: &[u8],
        ttl: Duration,
        channel: &str,
    ) -> Result<(), RedisError> {
        redis::pipe()
            .atomic()
            .cmd("SET")
            .arg(key)
            .arg(value)
            .arg("PX")
            .arg(ttl_millis(ttl))
            .ignore()
            .cmd("PUBLISH")
            .arg(channel)
            .arg(value)
            .ignore()
            .exec_async(&mut self.commands.clone())
            .await
    }

    /// Stores and publishes each `(key, value, ttl)` as
    /// [`set_with_ttl_and_publish`](Self::set_with_ttl_and_publish) does, in
    /// one pipeline (one round trip, not atomic: a failure part-way leaves
    /// the first ones written, each `SET` before its `PUBLISH`).
    pub(crate) async fn set_many_with_ttl_and_publish(
        &self,
        items: &[(String, String, Duration)],
        channel: &str,
    ) -> Result<(), RedisError> {
        let mut pipe = redis::pipe();
        for (key, value, ttl) in items {
            pipe.cmd("SET")
                .arg(key)
                .arg(value)
                .arg("PX")
                .arg(ttl_millis(*ttl))
                .ignore()
                .cmd("PUBLISH")
                .arg(channel)
                .arg(value)
                .ignore();
        }
        pipe.exec_async(&mut self.commands.clone()).await
    }

    /// Runs the Lua `script` (`EVAL`, atomic in Redis) with `keys` and
    /// `args`, and reads its integer answer.
    #[cfg_attr(not(feature = "dpop"), allow(dead_code))]
    pub(crate) async fn eval_int(
        &self,
        script: &str,
        keys: &[&str],
        args: &[u64],
    ) -> Result<i64, RedisError> {
        redis::cmd("EVAL")
            .arg(script)
            .arg(keys.len())
            .arg(keys)
            .arg(args)
            .query_async(&mut self.commands.clone())
            .await
    }

    /// The values of every key matching `pattern` (a `SCAN MATCH` glob),
    /// `SCAN`ned `batch` keys at a time and read with `MGET`; stops after
    /// `limit` values and says so with `true`. Keys that expire between the
    /// `SCAN` and the `MGET` are skipped. Never `KEYS`: the server is never
    /// blocked for longer than one batch.
    pub(crate) async fn scan_values(
        &self,
        pattern: &str,
        batch: usize,
        limit: usize,
    ) -> Result<(Vec<Vec<u8>>, bool), RedisError> {
        let mut con = self.commands.clone();
        let mut cursor: u64 = 0;
        let mut values = Vec::new();
        loop {
            let (next, keys): (u64, Vec<String>) = redis::cmd("SCAN")
                .arg(cursor)
                .arg("MATCH")
                .arg(pattern)
                .arg("COUNT")
                .arg(batch)
                .query_async(&mut con)
                .await?;
            if !keys.is_empty() {
                let got: Vec<Option<Vec<u8>>> =
                    redis::cmd("MGET").arg(&keys).query_async(&mut con).await?;
                values.extend(got.into_iter().flatten());
                if values.len() > limit {
                    values.truncate(limit);
                    return Ok((values, true));
                }
            }
            if next == 0 {
                return Ok((values, false));
            }
            cursor = next;
        }
    }

    /// A new connection subscribed to `channel`, bounded by the timeout.
    pub(crate) async fn subscribe(&self, channel: &str) -> Result<PubSub, RedisError> {
        let timed_out = || RedisError::from(std::io::Error::from(std::io::ErrorKind::TimedOut));
        let mut pubsub = tokio::time::timeout(self.timeout, self.client.get_async_pubsub())
            .await
            .map_err(|_| timed_out())??;
        tokio::time::timeout(self.timeout, pubsub.subscribe(channel))
            .await
            .map_err(|_| timed_out())??;
        Ok(pubsub)
    }

    /// The configured per-call timeout.
    pub(crate) fn timeout(&self) -> Duration {
        self.timeout
    }
}

/// The settings every lazily connecting Redis backend shares, checked, and
/// its connection prepared (nothing is dialled yet): a valid namespace, a
/// timeout above zero, a Tokio runtime to run on, a Redis URL.
#[cfg(any(feature = "introspection", feature = "dpop"))]
pub(crate) fn open_lazy(
    url: &str,
    namespace: &str,
    timeout: Duration,
) -> Result<RedisConn, crate::error::ConfigError> {
    use crate::error::ConfigError;
    let range = |setting, reason| ConfigError::OutOfRange { setting, reason };
    if !valid_namespace(namespace) {
        return Err(range("namespace", "1 to 64 of A-Z a-z 0-9 . _ - :"));
    }
    if timeout.is_zero() {
        return Err(range("timeout", "must be more than zero"));
    }
    if tokio::runtime::Handle::try_current().is_err() {
        return Err(ConfigError::NoRuntime);
    }
    RedisConn::open(url, timeout).map_err(|_| ConfigError::InvalidUrl {
        url: redacted(url),
        reason: "not a Redis URL (redis://[:password@]host[:port][/db])",
    })
}

/// A key prefix: 1 to 64 of `A-Z a-z 0-9 . _ - :`.
#[cfg_attr(
    not(any(feature = "introspection", feature = "dpop")),
    allow(dead_code)
)]
pub(crate) fn valid_namespace(ns: &str) -> bool {
    !ns.is_empty()
        && ns.len() <= 64
        && ns
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-' | b':'))
}

/// `url` with any password replaced by `***`, for errors and logs.
#[cfg_attr(
    not(any(feature = "introspection", feature = "dpop")),
    allow(dead_code)
)]
pub(crate) fn redacted(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some("***"));
            u.to_string()
        }
        Ok(u) => u.to_string(),
        Err(_) => "<unparsable URL>".to_owned(),
    }
}

/// Milliseconds, rounded up, at least 1 (`PX 0` is an error in Redis).
pub(crate) fn ttl_millis(ttl: Duration) -> u64 {
    let ms = ttl
        .as_millis()
        .saturating_add(u128::from(!ttl.subsec_nanos().is_multiple_of(1_000_000)));
    u64::try_from(ms).unwrap_or(u64::MAX).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ttl_is_whole_milliseconds_rounded_up_and_never_zero() {
        assert_eq!(ttl_millis(Duration::ZERO), 1);
        assert_eq!(ttl_millis(Duration::from_nanos(1)), 1);
        assert_eq!(ttl_millis(Duration::from_micros(1500)), 2);
        assert_eq!(ttl_millis(Duration::from_secs(3)), 3000);
        assert_eq!(ttl_millis(Duration::MAX), u64::MAX);
    }

    #[tokio::test]
    async fn opening_is_lazy_and_debug_hides_the_password() {
        // Nothing listens there: open still succeeds (lazy), a command fails
        // within the timeout instead of hanging.
        let conn =
            RedisConn::open("redis://:hunter2@127.0.0.1:1/0", Duration::from_millis(300)).unwrap();
        assert!(!format!("{conn:?}").contains("hunter2"));
        let res = tokio::time::timeout(Duration::from_secs(3), conn.get("k")).await;
        assert!(matches!(res, Ok(Err(_))), "an error, in time");
    }

    #[test]
    fn namespaces_and_redaction() {
        assert!(valid_namespace("orders:prod-1.a_b"));
        for bad in ["", "a b", "ä", &"x".repeat(65)] {
            assert!(!valid_namespace(bad), "{bad:?}");
        }
        let r = redacted("redis://:hunter2@127.0.0.1:6379/0");
        assert!(!r.contains("hunter2") && r.contains("***"), "{r}");
        assert_eq!(redacted("redis://127.0.0.1/"), "redis://127.0.0.1/");
        assert!(!redacted("not a url hunter2").contains("hunter2"));
    }
}
