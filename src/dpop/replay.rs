//! The replay cache: each accepted proof (key thumbprint + `jti`) is
//! remembered until its `iat` falls out of the window, after which the
//! `iat` check refuses it anyway.
//!
//! Bounded twice: a total capacity, and a maximum per key thumbprint so one
//! client (or one stolen key) cannot fill it for everyone. When a bound is
//! reached the new proof is **refused**, never an older entry forgotten:
//! forgetting would make the forgotten proofs replayable, turning a flood
//! into a replay window; refusing turns it into an availability problem for
//! the key that floods, which the per-key bound keeps to that key.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use futures_util::future::BoxFuture;
use sha2::{Digest, Sha256};

/// Why a replay store could not record a proof.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ReplayError {
    /// The store already holds its maximum of proofs for this key.
    #[error("the replay store holds the maximum number of proofs for this key")]
    KeyLimit,
    /// The store is full.
    #[error("the replay store is full")]
    Full,
    /// The store could not be asked in time (a shared store that is down,
    /// slow or unreachable). The proof must be refused: a replay check that
    /// cannot be made must not accept.
    #[error("the replay store is unavailable")]
    Unavailable,
}

/// What identifies one proof: the SHA-256 thumbprint of its key and the
/// SHA-256 of its `jti` (so entries have a fixed size whatever the `jti`).
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct ReplayKey {
    jkt: [u8; 32],
    jti: [u8; 32],
}

impl std::fmt::Debug for ReplayKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.storage_key())
    }
}

impl ReplayKey {
    pub(crate) fn new(jkt: [u8; 32], jti: &str) -> Self {
        Self {
            jkt,
            jti: Sha256::digest(jti.as_bytes()).into(),
        }
    }

    /// The key thumbprint (raw SHA-256, RFC 7638).
    pub fn thumbprint(&self) -> &[u8; 32] {
        &self.jkt
    }

    /// The SHA-256 of the `jti`.
    #[cfg_attr(not(feature = "redis"), allow(dead_code))]
    pub(crate) fn jti_hash(&self) -> &[u8; 32] {
        &self.jti
    }

    /// A string key for a shared store: `dpop:<jkt>:<sha256(jti)>`, both
    /// base64url.
    pub fn storage_key(&self) -> String {
        format!(
            "dpop:{}:{}",
            URL_SAFE_NO_PAD.encode(self.jkt),
            URL_SAFE_NO_PAD.encode(self.jti)
        )
    }
}

/// Where accepted proofs are remembered: the seam for a store shared by
/// several instances (Redis), which must be atomic (`SET NX EX`).
pub trait ReplayStore: Send + Sync + 'static {
    /// Record `key` for `ttl`. `Ok(true)` when it was not there (the proof is
    /// fresh), `Ok(false)` when it was (a replay).
    ///
    /// # Errors
    /// When the store cannot record it; the proof must then be refused.
    fn check_and_insert<'a>(
        &'a self,
        key: &'a ReplayKey,
        ttl: Duration,
    ) -> BoxFuture<'a, Result<bool, ReplayError>>;
}

/// Shards, so concurrent requests with different keys rarely share a lock.
const SHARDS: usize = 16;

#[derive(Default)]
struct Shard {
    /// Per key thumbprint: `sha256(jti)` → expiry (Unix seconds).
    keys: HashMap<[u8; 32], HashMap<[u8; 32], u64>>,
    last_sweep: u64,
}

impl Shard {
    /// Drop expired entries; returns how many.
    fn sweep(&mut self, now: u64) -> usize {
        self.last_sweep = now;
        let mut removed = 0;
        self.keys.retain(|_, seen| {
            let before = seen.len();
            seen.retain(|_, exp| *exp > now);
            removed += before - seen.len();
            !seen.is_empty()
        });
        removed
    }
}

/// The in-memory replay store: bounded, sharded, synchronous underneath.
///
/// Expired entries are swept at most once per second per shard, on
/// insertion; when the store is full, every shard is swept (at most once
/// per second) before a proof is refused.
pub struct MemoryReplayCache {
    shards: Box<[Mutex<Shard>]>,
    len: AtomicUsize,
    capacity: usize,
    per_key: usize,
    last_full_sweep: AtomicU64,
}

impl std::fmt::Debug for MemoryReplayCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryReplayCache")
            .field("len", &self.len())
            .field("capacity", &self.capacity)
            .field("per_key", &self.per_key)
            .finish()
    }
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

impl MemoryReplayCache {
    /// A cache remembering at most `capacity` proofs, at most `per_key` of
    /// them for one key (both at least 1).
    pub fn new(capacity: usize, per_key: usize) -> Self {
        Self {
            shards: (0..SHARDS).map(|_| Mutex::default()).collect(),
            len: AtomicUsize::new(0),
            capacity: capacity.max(1),
            per_key: per_key.max(1),
            last_full_sweep: AtomicU64::new(0),
        }
    }

    /// How many proofs are remembered (expired ones not yet swept included).
    pub fn len(&self) -> usize {
        self.len.load(Ordering::Relaxed)
    }

    /// Whether no proof is remembered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn shard(&self, key: &ReplayKey) -> std::sync::MutexGuard<'_, Shard> {
        // The thumbprint is a hash: its first byte spreads evenly.
        let i = usize::from(key.jkt[0]) % self.shards.len();
        // A panic while holding the lock cannot leave a shard inconsistent
        // for this use (at worst an entry too many): keep going.
        self.shards[i].lock().unwrap_or_else(|e| e.into_inner())
    }

    fn sweep_all(&self, now: u64) {
        if self.last_full_sweep.swap(now, Ordering::Relaxed) == now {
            return;
        }
        for shard in self.shards.iter() {
            let removed = shard.lock().unwrap_or_else(|e| e.into_inner()).sweep(now);
            self.len.fetch_sub(removed, Ordering::Relaxed);
        }
    }

    /// Record `key` until `expires` (Unix seconds). `Ok(true)` when fresh,
    /// `Ok(false)` when it is a replay.
    ///
    /// # Errors
    /// [`ReplayError::KeyLimit`] or [`ReplayError::Full`]: nothing was recorded.
    pub(crate) fn insert_at(
        &self,
        key: &ReplayKey,
        now: u64,
        expires: u64,
    ) -> Result<bool, ReplayError> {
        for attempt in 0..2 {
            let mut shard = self.shard(key);
            if shard.last_sweep != now {
                let removed = shard.sweep(now);
                self.len.fetch_sub(removed, Ordering::Relaxed);
            }
            let seen = shard.keys.entry(key.jkt).or_default();
            if seen.get(&key.jti).is_some_and(|exp| *exp > now) {
                return Ok(false);
            }
            if seen.len() >= self.per_key {
                if seen.is_empty() {
                    shard.keys.remove(&key.jkt);
                }
                return Err(ReplayError::KeyLimit);
            }
            if self.len.load(Ordering::Relaxed) < self.capacity {
                seen.insert(key.jti, expires);
                self.len.fetch_add(1, Ordering::Relaxed);
                return Ok(true);
            }
            if seen.is_empty() {
                shard.keys.remove(&key.jkt);
            }
            drop(shard);
            if attempt == 0 {
                self.sweep_all(now);
            }
        }
        Err(ReplayError::Full)
    }
}

impl ReplayStore for MemoryReplayCache {
    fn check_and_insert<'a>(
        &'a self,
        key: &'a ReplayKey,
        ttl: Duration,
    ) -> BoxFuture<'a, Result<bool, ReplayError>> {
        let now = unix_now();
        let result = self.insert_at(key, now, now.saturating_add(ttl.as_secs().max(1)));
        Box::pin(std::future::ready(result))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_util::FutureExt as _;

    fn key(k: u8, jti: &str) -> ReplayKey {
        ReplayKey::new([k; 32], jti)
    }

    #[test]
    fn replay_expiry_and_bounds() {
        let cache = MemoryReplayCache::new(5, 2);
        assert_eq!(cache.insert_at(&key(1, "a"), 100, 160), Ok(true));
        assert_eq!(cache.insert_at(&key(1, "a"), 159, 160), Ok(false), "replay");
        assert_eq!(
            cache.insert_at(&key(2, "a"), 100, 160),
            Ok(true),
            "other key"
        );
        assert_eq!(cache.insert_at(&key(1, "b"), 100, 160), Ok(true));
        // Per key: the third proof of key 1 is refused, the first two kept.
        assert_eq!(
            cache.insert_at(&key(1, "c"), 100, 160),
            Err(ReplayError::KeyLimit)
        );
        assert_eq!(cache.insert_at(&key(1, "a"), 100, 160), Ok(false));
        assert_eq!(cache.insert_at(&key(3, "a"), 100, 160), Ok(true));
        assert_eq!(cache.insert_at(&key(4, "a"), 100, 160), Ok(true));
        assert_eq!(cache.len(), 5);
        // Full: refused, nothing forgotten.
        assert_eq!(
            cache.insert_at(&key(5, "a"), 100, 160),
            Err(ReplayError::Full)
        );
        for k in 1..=4 {
            assert_eq!(cache.insert_at(&key(k, "a"), 101, 160), Ok(false), "{k}");
        }
        // At expiry the entries go, and room comes back.
        assert_eq!(cache.insert_at(&key(5, "a"), 160, 220), Ok(true));
        assert_eq!(cache.len(), 1);
        assert_eq!(cache.insert_at(&key(1, "a"), 160, 220), Ok(true));
        assert!(format!("{:?}", key(1, "secret-jti")).starts_with("dpop:AQEB"));
    }

    #[test]
    fn store_trait_uses_wall_clock() {
        let cache = MemoryReplayCache::new(10, 10);
        let store: &dyn ReplayStore = &cache;
        let k = key(9, "x");
        let ttl = Duration::from_secs(60);
        assert_eq!(
            store.check_and_insert(&k, ttl).now_or_never(),
            Some(Ok(true))
        );
        assert_eq!(
            store.check_and_insert(&k, ttl).now_or_never(),
            Some(Ok(false))
        );
    }
}
