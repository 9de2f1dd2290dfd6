//! The layer's handles: the decision counters (per issuer label, held by
//! the issuer and the claims it verifies; and the process-wide `unknown`
//! and `anonymous` ones), the verification latency histogram, and the
//! verified-token cache's handles (held by each cache).

use std::sync::{Arc, LazyLock};
use std::time::Duration;

use arc_swap::ArcSwap;
use metrics::{counter, gauge, histogram, Counter, Gauge, Histogram};

use super::{describe, HitMiss};
use crate::ops::kinds::VerifyKind;
use crate::ops::names::*;

/// The `issuer` label of a token whose issuer is not a built [`Issuer`](crate::Issuer).
pub(crate) const UNKNOWN_ISSUER: &str = "unknown";

/// Refusal reasons registered up front (so alert rules see a zero series,
/// not a missing one, until the first refusal); others register on first use.
const EAGER_REASONS: [&str; 6] = [
    "bad_signature",
    "expired",
    "wrong_audience",
    "unknown_key",
    "malformed",
    "keys_unavailable",
];

/// The decision counters of one issuer label.
pub(crate) struct Decisions {
    label: Arc<str>,
    /// A tenant-template issuer's label (`…/{tenantid}/v2.0`), split
    /// around its placeholder: the tokens of every tenant count under it.
    template: Option<(Box<str>, Box<str>)>,
    allowed: Counter,
    /// Copy-on-write: a refusal reads it without a lock; a reason seen for
    /// the first time registers its counter and swaps in a longer list.
    refused: ArcSwap<Vec<(&'static str, Counter)>>,
}

impl Decisions {
    fn new(label: Arc<str>) -> Self {
        let refused = EAGER_REASONS
            .iter()
            .map(|r| (*r, refused_counter(&label, r)))
            .collect();
        Self {
            allowed: counter!(DECISIONS, "outcome" => "allowed", "reason" => "none", "issuer" => label.to_string()),
            refused: ArcSwap::from_pointee(refused),
            template: crate::ops::template_parts(&label).map(|(p, s)| (p.into(), s.into())),
            label,
        }
    }

    fn refused(&self, reason: &'static str) {
        if let Some((_, c)) = self.refused.load().iter().find(|(r, _)| *r == reason) {
            c.increment(1);
            return;
        }
        let c = refused_counter(&self.label, reason);
        c.increment(1);
        self.refused.rcu(|list| {
            let mut list = Vec::clone(list);
            if !list.iter().any(|(r, _)| *r == reason) {
                list.push((reason, c.clone()));
            }
            list
        });
    }
}

fn refused_counter(issuer: &str, reason: &'static str) -> Counter {
    counter!(DECISIONS, "outcome" => "refused", "reason" => reason, "issuer" => issuer.to_owned())
}

/// The decision counters of every built issuer, newest registration first
/// (an issuer rebuilt under the same name takes over its label): where a
/// refusal, which names its issuer by label only, finds its counters.
/// Allowed requests do not search it: their claims carry the handle.
static ISSUERS: LazyLock<ArcSwap<Vec<Arc<Decisions>>>> =
    LazyLock::new(|| ArcSwap::from_pointee(Vec::new()));

/// The process-wide handles, registered again at every layer build.
struct Global {
    unknown: Decisions,
    anonymous: Counter,
    verify: [Histogram; 2],
    /// Never recorded into: registers the token-cache series at every
    /// layer build, so a layer without a cache still exports them (zero).
    _cache: CacheLookups,
    cache_evictions: Counter,
    cache_entries: Gauge,
}

/// Replaced at every layer build, so a layer built after a recorder is
/// installed records into it (a `OnceLock` would keep the first recorder's
/// handles — the no-op one, if the first layer came first).
static GLOBAL: LazyLock<ArcSwap<Global>> = LazyLock::new(|| ArcSwap::from_pointee(Global::new()));

impl Global {
    fn new() -> Self {
        Global {
            unknown: Decisions::new(Arc::from(UNKNOWN_ISSUER)),
            anonymous: counter!(DECISIONS, "outcome" => "anonymous", "reason" => "none", "issuer" => "none"),
            verify: ["jwt", "introspection"].map(|kind| histogram!(VERIFY_SECONDS, "kind" => kind)),
            _cache: CacheLookups::register(),
            cache_evictions: counter!(CACHE_EVICTIONS),
            cache_entries: gauge!(CACHE_ENTRIES),
        }
    }
}

fn global() -> arc_swap::Guard<Arc<Global>> {
    GLOBAL.load()
}

/// Register the process-wide handles (at layer build).
pub(super) fn register_global() {
    GLOBAL.store(Arc::new(Global::new()));
}

/// Register an issuer's decision counters (at issuer build); the issuer
/// holds the handle and hands it to the claims it verifies.
pub(crate) fn register_issuer(name: &str) -> Arc<Decisions> {
    describe();
    let d = Arc::new(Decisions::new(Arc::from(name)));
    ISSUERS.rcu(|list| {
        let mut list: Vec<_> = list.iter().filter(|e| *e.label != *name).cloned().collect();
        list.insert(0, d.clone());
        list
    });
    d
}

fn with_issuer(name: Option<&str>, f: impl FnOnce(&Decisions)) {
    if let Some(name) = name {
        let issuers = ISSUERS.load();
        let exact = issuers.iter().find(|d| *d.label == *name);
        // A tenant's `iss` counts under its template (the label is the
        // configured template, never the token's `iss`).
        let found = exact.or_else(|| {
            issuers.iter().find(|d| {
                d.template
                    .as_ref()
                    .is_some_and(|(p, s)| crate::ops::fills_template(p, s, name))
            })
        });
        if let Some(d) = found {
            return f(d);
        }
    }
    let g = global();
    f(&g.unknown)
}

/// An allowed request: `counters` are the handles its claims carry (no
/// lookup); claims made without them are counted by issuer name.
pub(crate) fn allowed(counters: Option<&Decisions>, issuer: &str) {
    match counters {
        Some(d) => d.allowed.increment(1),
        None => with_issuer(Some(issuer), |d| d.allowed.increment(1)),
    }
}

pub(crate) fn refused(issuer: Option<&str>, reason: &'static str) {
    with_issuer(issuer, |d| d.refused(reason));
}

pub(crate) fn anonymous() {
    global().anonymous.increment(1);
}

/// One cache lookup in this many is timed, and recorded in the latency
/// histogram when it hits (the first of each thread, then every 64th). A histogram sample costs about
/// 0.4 µs with the Prometheus exporter — more than the cache hit itself —
/// while the hit *rate* comes from `oauth2_guard_token_cache_requests_total`.
pub(crate) const CACHE_HIT_SAMPLE: u32 = 64;

pub(crate) fn verified_in(kind: VerifyKind, elapsed: Duration) {
    global().verify[kind as usize].record(elapsed.as_secs_f64());
}

/// Whether this thread's next cache lookup is timed: a thread-local
/// counter, so sampling costs no shared cache line.
pub(crate) fn sample_cache_hit() -> bool {
    thread_local! {
        static HITS: std::cell::Cell<u32> = const { std::cell::Cell::new(0) };
    }
    HITS.with(|hits| {
        let n = hits.get();
        hits.set(n.wrapping_add(1));
        n % CACHE_HIT_SAMPLE == 0
    })
}

/// One verified-token cache's handles, held by the cache: lookups by
/// result, and the latency of sampled hits.
pub(crate) struct CacheLookups {
    lookups: HitMiss,
    hit_seconds: Histogram,
}

impl CacheLookups {
    /// Registered with the recorder installed now (at cache creation,
    /// that is at layer build); every cache's handles name the same series.
    pub(crate) fn register() -> Self {
        CacheLookups {
            lookups: HitMiss::register(CACHE_REQUESTS),
            hit_seconds: histogram!(VERIFY_SECONDS, "kind" => "cache_hit"),
        }
    }

    /// `start`: when a sampled lookup began (`None`: not sampled).
    pub(crate) fn count(&self, hit: bool, start: Option<std::time::Instant>) {
        self.lookups.count(hit);
        if let (true, Some(start)) = (hit, start) {
            self.hit_seconds.record(start.elapsed().as_secs_f64());
        }
    }
}

pub(crate) fn cache_evicted() {
    global().cache_evictions.increment(1);
}

/// The change in one cache's entry count (the gauge sums every layer's cache).
pub(crate) fn cache_entries_delta(delta: i64) {
    let g = global();
    let g = &g.cache_entries;
    if delta >= 0 {
        g.increment(delta as f64);
    } else {
        g.decrement(delta.unsigned_abs() as f64);
    }
}
