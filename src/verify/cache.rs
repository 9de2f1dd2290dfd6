//! The verified-token cache: a repeated token skips signature verification.
//!
//! - Keyed by the exact token (the map compares the whole key on a hit, so no
//!   hash collision can let another token through).
//! - Bounded in entries *and* bytes: each entry weighs at least
//!   `max_bytes / max_entries` (rounded up), so neither bound can be
//!   exceeded; the shard count is chosen so that the largest token the layer
//!   accepts always fits.
//! - An entry is never served past the token's `exp` (checked on every hit;
//!   an expired entry is removed when it is next looked up, or pushed out by
//!   newer entries, within the same bounds), and is void as soon as the key
//!   that verified it leaves the issuer's key set.
//! - Post-verification hooks (revocation) run on every request, hit or miss,
//!   so a revocation takes effect at once.

use std::sync::Arc;

use crate::claims::{now_unix, VerifiedClaims};
use crate::issuer::Issuer;
use crate::jwks::parse::VerifyingKey;

/// Settings of the verified-token cache.
///
/// | setting | default | why |
/// |---|---|---|
/// | enabled | yes | services reuse one token for minutes; verifying RS256 each time wastes ~20–50 µs |
/// | `max_entries` | 10 000 | bounded memory under a flood of distinct valid tokens |
/// | `max_bytes` | 32 MiB | the same, for large tokens (the weight is an estimate of token plus claims) |
#[derive(Debug, Clone)]
pub struct CacheConfig {
    pub(crate) enabled: bool,
    pub(crate) max_entries: u64,
    pub(crate) max_bytes: u64,
}

impl Default for CacheConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            max_entries: 10_000,
            max_bytes: 32 * 1024 * 1024,
        }
    }
}

impl CacheConfig {
    /// No cache: every request verifies its signature.
    pub fn disabled() -> Self {
        Self {
            enabled: false,
            ..Self::default()
        }
    }

    /// Maximum number of cached tokens.
    pub fn max_entries(mut self, n: u64) -> Self {
        self.max_entries = n;
        self
    }

    /// Maximum (estimated) memory of the cache.
    pub fn max_bytes(mut self, n: u64) -> Self {
        self.max_bytes = n;
        self
    }
}

#[derive(Clone)]
pub(crate) struct Entry {
    pub(crate) claims: VerifiedClaims,
    pub(crate) issuer: Issuer,
    /// `None` for HMAC issuers (the secret never changes at run time).
    pub(crate) key: Option<Arc<VerifyingKey>>,
}

/// What an entry weighs against `max_bytes`: token + parsed claims (about
/// twice the decoded payload) + fixed overhead, and never less than `floor`.
#[derive(Clone)]
struct Weight {
    floor: u64,
}

impl Weight {
    fn of(&self, token_len: usize) -> u64 {
        let estimate = (token_len as u64).saturating_mul(3).saturating_add(512);
        estimate.max(self.floor)
    }
}

impl quick_cache::Weighter<Arc<str>, Entry> for Weight {
    fn weight(&self, key: &Arc<str>, _value: &Entry) -> u64 {
        self.of(key.len())
    }
}

/// The map's hasher. Every request hashes its whole token (about 1 KiB), so
/// SipHash, the standard library's default, would be the largest cost of a
/// cache hit. foldhash is several times faster on long keys and is seeded
/// randomly per process. Flooding one bucket would need many *valid* tokens
/// with colliding hashes: only verified tokens are inserted, and a lookup
/// compares the whole token, so a collision costs time, never correctness.
type Hasher = foldhash::fast::RandomState;

/// A concurrent map with S3-FIFO eviction (quick_cache): a hit is one hash,
/// a shard's read lock and a comparison, about 3× cheaper than the previous
/// TinyLFU map (moka), which also kept a time wheel this cache does not need:
/// `exp` is checked on every hit anyway.
pub(crate) struct TokenCache {
    map: quick_cache::sync::Cache<Arc<str>, Entry, Weight, Hasher, Evictions>,
    /// The entry count last reported to the metrics.
    reported: std::sync::atomic::AtomicI64,
    /// Hit and miss counters, held here: a hit reads no shared state.
    counters: crate::ops::CacheCounters,
}

impl Drop for TokenCache {
    fn drop(&mut self) {
        let reported = *self.reported.get_mut();
        crate::ops::cache_entries_delta(-reported);
    }
}

/// Counts evictions (feature `metrics`; nothing otherwise).
#[derive(Clone, Copy, Default)]
struct Evictions;

impl quick_cache::Lifecycle<Arc<str>, Entry> for Evictions {
    type RequestState = ();

    fn on_evict(&self, _state: &mut Self::RequestState, _key: Arc<str>, _val: Entry) {
        crate::ops::cache_evicted();
    }
}

impl TokenCache {
    /// `max_token_bytes`: the largest token the layer accepts, which must
    /// always fit.
    pub(crate) fn new(config: &CacheConfig, max_token_bytes: usize) -> Option<Self> {
        if !config.enabled || config.max_entries == 0 || config.max_bytes == 0 {
            return None;
        }
        // Rounded up, so that `max_entries` entries never fit in `max_bytes`
        // plus the shards' rounding.
        let weight = Weight {
            floor: config.max_bytes.div_ceil(config.max_entries).max(1),
        };
        // The map splits `max_bytes` evenly between its shards and refuses an
        // entry heavier than (almost) one shard: choose as many shards as the
        // machine wants (4 per core) but no more than leave room for four of
        // the largest entries each, whatever the core count.
        let per_core = std::thread::available_parallelism().map_or(4, |n| n.get() * 4);
        let largest = weight.of(max_token_bytes);
        let fit = config.max_bytes / largest.saturating_mul(4).max(1);
        let shards = usize::try_from(fit)
            .unwrap_or(usize::MAX)
            .clamp(1, per_core.max(1));
        // The map rounds the count up to a power of two: round down first.
        let shards = 1usize << shards.ilog2();
        // Newcomers go to a probation queue (S3-FIFO) and the rest, 97 % by
        // default, is for entries seen again; an entry heavier than that part
        // is refused, so a one-entry cache gives it all.
        let hot = if config.max_entries < 2 { 1.0 } else { 0.97 };
        let options = quick_cache::OptionsBuilder::new()
            .shards(shards)
            .hot_allocation(hot)
            .estimated_items_capacity(usize::try_from(config.max_entries).unwrap_or(usize::MAX))
            .weight_capacity(config.max_bytes)
            .build()
            .ok()?;
        let map =
            quick_cache::sync::Cache::with_options(options, weight, Hasher::default(), Evictions);
        Some(Self {
            map,
            reported: std::sync::atomic::AtomicI64::new(0),
            counters: crate::ops::CacheCounters::register(),
        })
    }

    /// A cached verification, if still valid: not expired, key still published.
    pub(crate) fn get(&self, token: &str) -> Option<Entry> {
        let timer = crate::ops::Timer::sampled_cache_hit();
        let Some(entry) = self.map.get(token) else {
            self.counters.lookup(false, &timer);
            return None;
        };
        let valid = now_unix() < entry.claims.exp_unix()
            && entry
                .key
                .as_ref()
                .is_none_or(|k| entry.issuer.store().still_serves(k));
        self.counters.lookup(valid, &timer);
        if valid {
            Some(entry)
        } else {
            self.map.remove(token);
            self.entries_changed();
            None
        }
    }

    pub(crate) fn insert(&self, token: &str, entry: Entry) {
        self.map.insert(Arc::from(token), entry);
        self.entries_changed();
    }

    /// Report the change in entry count since the last report (the gauge
    /// sums every layer's cache). Only on the miss path: after a signature
    /// verification, never on a hit.
    fn entries_changed(&self) {
        let now = self.map.len() as i64;
        let before = self
            .reported
            .swap(now, std::sync::atomic::Ordering::Relaxed);
        crate::ops::cache_entries_delta(now - before);
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.map.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::claims::{Fingerprint, Verified};

    async fn entry(exp: u64) -> Entry {
        let jwks = serde_json::json!({"keys": [{"kid": "k", "kty": "OKP", "crv": "Ed25519", "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}]});
        let issuer = Issuer::builder("https://idp.example")
            .audience("api")
            .static_jwks(jwks.to_string())
            .build()
            .await
            .unwrap();
        let serde_json::Value::Object(payload) = serde_json::json!({"exp": exp}) else {
            unreachable!()
        };
        Entry {
            claims: VerifiedClaims::new(Verified {
                issuer: "https://idp.example".into(),
                payload,
                expires_at: exp,
                issued_at: None,
                audiences: vec!["api".into()],
                roles: vec![],
                algorithm: Some(jsonwebtoken::Algorithm::EdDSA),
                key_id: None,
                fingerprint: Fingerprint::of("t"),
            }),
            issuer,
            key: None,
        }
    }

    #[tokio::test]
    async fn bounded_in_entries_and_bytes() {
        let e = entry(now_unix() + 600).await;
        let max_token = 16 * 1024;
        for entries in [1, 10, 10_000] {
            let cache =
                TokenCache::new(&CacheConfig::default().max_entries(entries), max_token).unwrap();
            for i in 0..entries + 200 {
                cache.insert(&format!("token-{i}"), e.clone());
            }
            let len = cache.len() as u64;
            assert!(len <= entries, "{len} > {entries}");
            assert!(len * 10 >= entries * 9, "only {len} of {entries} kept");
        }
        let cache =
            TokenCache::new(&CacheConfig::default().max_bytes(64 * 1024), max_token).unwrap();
        let big = "x".repeat(8 * 1024);
        for i in 0..50 {
            cache.insert(&format!("{big}{i}"), e.clone());
        }
        // Each entry weighs ~24.5 KiB: one or two fit in 64 KiB.
        assert!((1..=2).contains(&cache.len()), "{}", cache.len());
        assert!(TokenCache::new(&CacheConfig::disabled(), max_token).is_none());
    }

    #[tokio::test]
    async fn the_largest_accepted_token_is_always_cached() {
        let e = entry(now_unix() + 600).await;
        let max_token = 16 * 1024;
        for max_bytes in [64 * 1024, 1 << 20, 4 << 20, 32 << 20] {
            let config = CacheConfig::default().max_bytes(max_bytes);
            let cache = TokenCache::new(&config, max_token).unwrap();
            let big = "y".repeat(max_token);
            cache.insert(&big, e.clone());
            assert!(cache.get(&big).is_some(), "max_bytes {max_bytes}");
        }
    }

    #[tokio::test]
    async fn expired_entries_are_never_returned() {
        let cache = TokenCache::new(&CacheConfig::default(), 16 * 1024).unwrap();
        cache.insert("old", entry(now_unix().saturating_sub(1)).await);
        assert!(cache.get("old").is_none());
        assert_eq!(cache.len(), 0, "an expired entry is removed when looked up");
        cache.insert("fresh", entry(now_unix() + 600).await);
        assert!(cache.get("fresh").is_some());
        assert!(
            cache.get("fresh-but-other").is_none(),
            "exact key match only"
        );
    }
}
