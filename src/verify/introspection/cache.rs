//! The local introspection cache: answers by keyed hash of the token
//! ([`Key`]), never the token.
//!
//! - Active answers: bounded in entries *and* bytes (each entry weighs at
//!   least `max_bytes / max_entries`), each kept until min(TTL, `exp` − now);
//!   `exp` is checked again on every hit.
//! - Refusals (`active: false`, or an answer the checks refused): a second,
//!   separate map with its own TTL and bound, off unless configured, so a
//!   flood of random tokens can fill only that map and never evicts an
//!   active entry.

use std::time::{Duration, Instant};

use super::hash::Key;
use crate::claims::{now_unix, VerifiedClaims};
use crate::error::Reason;

type Hasher = foldhash::fast::RandomState;

/// Bounds and lifetimes of the local cache.
#[derive(Debug, Clone)]
pub(crate) struct Bounds {
    pub(crate) ttl: Duration,
    pub(crate) max_entries: u64,
    pub(crate) max_bytes: u64,
    /// `None`: refusals are not cached.
    pub(crate) negative: Option<(Duration, u64)>,
}

#[derive(Clone)]
struct Active {
    claims: VerifiedClaims,
    until: Instant,
    weight: u64,
}

#[derive(Clone, Copy)]
struct Refused {
    reason: Reason,
    until: Instant,
}

#[derive(Clone)]
struct Weight {
    floor: u64,
}

impl quick_cache::Weighter<Key, Active> for Weight {
    fn weight(&self, _key: &Key, value: &Active) -> u64 {
        value.weight.max(self.floor)
    }
}

/// What the cache knows of a token.
pub(crate) enum Cached {
    Active(VerifiedClaims),
    Refused(Reason),
    Miss,
}

pub(crate) struct LocalCache {
    ttl: Duration,
    active: Option<quick_cache::sync::Cache<Key, Active, Weight, Hasher>>,
    refused: Option<(
        Duration,
        quick_cache::sync::Cache<Key, Refused, quick_cache::UnitWeighter, Hasher>,
    )>,
}

impl LocalCache {
    pub(crate) fn new(b: &Bounds) -> Self {
        let active = (!b.ttl.is_zero() && b.max_entries > 0 && b.max_bytes > 0).then(|| {
            let floor = b.max_bytes.div_ceil(b.max_entries).max(1);
            // Few shards: a shard refuses an entry heavier than its share of
            // the bytes, and introspection answers are small.
            let options = quick_cache::OptionsBuilder::new()
                .shards(4)
                .estimated_items_capacity(usize::try_from(b.max_entries).unwrap_or(usize::MAX))
                .weight_capacity(b.max_bytes)
                .build();
            options.ok().map(|o| {
                quick_cache::sync::Cache::with_options(
                    o,
                    Weight { floor },
                    Hasher::default(),
                    Default::default(),
                )
            })
        });
        let refused = b
            .negative
            .filter(|(ttl, n)| !ttl.is_zero() && *n > 0)
            .and_then(|(ttl, n)| {
                let options = quick_cache::OptionsBuilder::new()
                    .shards(4)
                    .estimated_items_capacity(usize::try_from(n).unwrap_or(usize::MAX))
                    .weight_capacity(n)
                    .build()
                    .ok()?;
                let map = quick_cache::sync::Cache::with_options(
                    options,
                    quick_cache::UnitWeighter,
                    Hasher::default(),
                    Default::default(),
                );
                Some((ttl, map))
            });
        Self {
            ttl: b.ttl,
            active: active.flatten(),
            refused,
        }
    }

    /// The cached answer for `key`, if still valid (and `exp` not passed).
    pub(crate) fn get(&self, key: &Key) -> Cached {
        if let Some(map) = &self.active {
            if let Some(e) = map.get(key) {
                if Instant::now() < e.until && now_unix() < e.claims.exp_unix() {
                    return Cached::Active(e.claims);
                }
                map.remove(key);
            }
        }
        if let Some((_, map)) = &self.refused {
            if let Some(e) = map.get(key) {
                if Instant::now() < e.until {
                    return Cached::Refused(e.reason);
                }
                map.remove(key);
            }
        }
        Cached::Miss
    }

    /// Keep an active answer until min(TTL, `exp` − now); `weight`: the
    /// answer's size in bytes.
    pub(crate) fn put_active(&self, key: Key, claims: &VerifiedClaims, weight: u64) {
        self.put_active_for(key, claims, weight, self.ttl);
    }

    /// As [`put_active`](Self::put_active), kept no longer than `cap`
    /// either (an answer read from a shared cache: what is left of it).
    pub(crate) fn put_active_for(
        &self,
        key: Key,
        claims: &VerifiedClaims,
        weight: u64,
        cap: Duration,
    ) {
        let Some(map) = &self.active else { return };
        let left = claims.exp_unix().saturating_sub(now_unix());
        let lifetime = self.ttl.min(cap).min(Duration::from_secs(left));
        if lifetime.is_zero() {
            return;
        }
        let entry = Active {
            claims: claims.clone(),
            until: Instant::now() + lifetime,
            // The answer, the parsed claims (about twice its size) and the entry.
            weight: weight.saturating_mul(3).saturating_add(256),
        };
        map.insert(key, entry);
    }

    /// Keep a refusal, when refusals are cached.
    pub(crate) fn put_refused(&self, key: Key, reason: Reason) {
        if let Some((ttl, map)) = &self.refused {
            let until = Instant::now() + *ttl;
            map.insert(key, Refused { reason, until });
        }
    }

    /// (active entries, their weight in bytes, refused entries).
    pub(crate) fn stats(&self) -> (u64, u64, u64) {
        let (n, w) = self
            .active
            .as_ref()
            .map_or((0, 0), |m| (m.len() as u64, m.weight()));
        let r = self.refused.as_ref().map_or(0, |(_, m)| m.len() as u64);
        (n, w, r)
    }
}
