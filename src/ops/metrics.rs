//! The metric handles (feature `metrics`): registered once with the
//! installed [`metrics`] recorder — per issuer when the issuer is built,
//! the process-wide ones when the first layer is built — then only
//! incremented. Names and labels: the table in [`crate::ops`].

// The handles of the optional parts (introspection, the outbound client,
// the Redis backends) are declared whatever the features; without those
// features nothing records into them.
#![cfg_attr(
    not(all(feature = "introspection", feature = "client", feature = "redis")),
    allow(dead_code)
)]

use std::sync::{Arc, LazyLock, OnceLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use arc_swap::ArcSwap;
use metrics::{
    counter, describe_counter, describe_gauge, describe_histogram, gauge, histogram, Counter,
    Gauge, Histogram, Unit,
};

use super::names::*;

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
            template: super::template_parts(&label).map(|(p, s)| (p.into(), s.into())),
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
/// (an issuer rebuilt under the same name takes over its label).
static ISSUERS: LazyLock<ArcSwap<Vec<Arc<Decisions>>>> =
    LazyLock::new(|| ArcSwap::from_pointee(Vec::new()));

/// The process-wide handles, registered by the first layer built.
struct Global {
    unknown: Decisions,
    anonymous: Counter,
    verify: [Histogram; 3],
    cache_hits: Counter,
    cache_misses: Counter,
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
            verify: ["cache_hit", "jwt", "introspection"]
                .map(|kind| histogram!(VERIFY_SECONDS, "kind" => kind)),
            cache_hits: counter!(CACHE_REQUESTS, "result" => "hit"),
            cache_misses: counter!(CACHE_REQUESTS, "result" => "miss"),
            cache_evictions: counter!(CACHE_EVICTIONS),
            cache_entries: gauge!(CACHE_ENTRIES),
        }
    }
}

fn global() -> arc_swap::Guard<Arc<Global>> {
    GLOBAL.load()
}

/// Register the process-wide handles (at layer build).
pub(crate) fn register_layer() {
    describe();
    GLOBAL.store(Arc::new(Global::new()));
    // Guards built before the recorder hold no-op handles; a guard built
    // again with the same requirement is not registered again, so renew
    // every known one here.
    DENIALS.store(Arc::new(
        DENIALS
            .load()
            .iter()
            .map(|(kind, required, _)| {
                let c =
                    counter!(AUTHZ_DENIALS, "kind" => *kind, "required" => required.to_string());
                (*kind, required.clone(), c)
            })
            .collect(),
    ));
}

/// The `# HELP` text and units (idempotent; at every build).
fn describe() {
    describe_counter!(DECISIONS, "Requests decided by the authentication layer");
    describe_counter!(AUTHZ_DENIALS, "Requests refused by a scope or role guard");
    describe_histogram!(VERIFY_SECONDS, Unit::Seconds, "Time to verify a token");
    describe_counter!(CACHE_REQUESTS, "Verified-token cache lookups");
    describe_counter!(CACHE_EVICTIONS, "Verified-token cache evictions");
    describe_gauge!(CACHE_ENTRIES, "Entries in the verified-token caches");
    describe_counter!(JWKS_FETCHES, "JWKS fetches by result");
    describe_gauge!(JWKS_KEYS, "Usable keys in the issuer's key set");
    describe_gauge!(
        JWKS_LAST_SUCCESS,
        Unit::Seconds,
        "Unix time of the last successful JWKS fetch"
    );
    describe_gauge!(
        JWKS_REFRESH_DUE,
        Unit::Seconds,
        "Unix time the next scheduled JWKS refresh is due (set by each successful fetch)"
    );
    describe_gauge!(
        JWKS_STALE,
        Unit::Seconds,
        "Unix time after which the keys are too old to verify tokens (max_stale past the scheduled refresh)"
    );
    describe_counter!(JWKS_UNKNOWN_KID, "Key refreshes demanded by an unknown kid");
    describe_counter!(INTROSPECTION_CALLS, "Introspection calls by result");
    describe_histogram!(
        INTROSPECTION_SECONDS,
        Unit::Seconds,
        "Introspection call latency"
    );
    describe_counter!(INTROSPECTION_CACHE, "Introspection cache lookups");
}

/// Register an issuer's decision counters (at issuer build).
pub(crate) fn register_issuer(name: &str) {
    describe();
    let d = Arc::new(Decisions::new(Arc::from(name)));
    ISSUERS.rcu(|list| {
        let mut list: Vec<_> = list.iter().filter(|e| *e.label != *name).cloned().collect();
        list.insert(0, d.clone());
        list
    });
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
                    .is_some_and(|(p, s)| super::fills_template(p, s, name))
            })
        });
        if let Some(d) = found {
            return f(d);
        }
    }
    let g = global();
    f(&g.unknown)
}

pub(crate) fn allowed(issuer: &str) {
    with_issuer(Some(issuer), |d| d.allowed.increment(1));
}

pub(crate) fn refused(issuer: Option<&str>, reason: &'static str) {
    with_issuer(issuer, |d| d.refused(reason));
}

pub(crate) fn anonymous() {
    global().anonymous.increment(1);
}

/// What verified a token, for the latency histogram.
#[derive(Clone, Copy)]
pub(crate) enum VerifyKind {
    CacheHit = 0,
    Jwt = 1,
    Introspection = 2,
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

pub(crate) fn cache_lookup(hit: bool) {
    let g = global();
    if hit { &g.cache_hits } else { &g.cache_misses }.increment(1);
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

/// Seconds since the Unix epoch, for `_timestamp_seconds` gauges.
pub(crate) fn unix_now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// The key-set handles of one issuer, held by its key store.
pub(crate) struct KeyMetrics {
    fetch_ok: Counter,
    fetch_not_modified: Counter,
    fetch_http_error: Counter,
    fetch_timeout: Counter,
    fetch_invalid: Counter,
    keys: Gauge,
    /// The three deadlines of a fetched key set; `None` for static keys,
    /// which are never fetched and never stale.
    schedule: Option<Schedule>,
    unknown_kid_started: Counter,
    unknown_kid_joined: Counter,
    unknown_kid_rate_limited: Counter,
}

/// The `_timestamp_seconds` gauges of a fetched key set.
struct Schedule {
    last_success: Gauge,
    refresh_due: Gauge,
    stale: Gauge,
}

/// The outcome of one JWKS fetch, as the `result` label.
#[derive(Clone, Copy)]
pub(crate) enum FetchResult {
    Ok,
    NotModified,
    HttpError,
    Timeout,
    Invalid,
}

/// An unknown kid's demand for a refresh.
#[derive(Clone, Copy)]
pub(crate) enum UnknownKid {
    Started,
    Joined,
    RateLimited,
}

impl KeyMetrics {
    /// `remote`: the keys are fetched (a static key set registers no
    /// timestamp gauge: it is never refreshed, so it has no age).
    pub(crate) fn new(issuer: &str, remote: bool) -> Self {
        let fetch = |result: &'static str| counter!(JWKS_FETCHES, "issuer" => issuer.to_owned(), "result" => result);
        let kid = |result: &'static str| counter!(JWKS_UNKNOWN_KID, "issuer" => issuer.to_owned(), "result" => result);
        Self {
            fetch_ok: fetch("ok"),
            fetch_not_modified: fetch("not_modified"),
            fetch_http_error: fetch("http_error"),
            fetch_timeout: fetch("timeout"),
            fetch_invalid: fetch("invalid"),
            keys: gauge!(JWKS_KEYS, "issuer" => issuer.to_owned()),
            schedule: remote.then(|| Schedule {
                last_success: gauge!(JWKS_LAST_SUCCESS, "issuer" => issuer.to_owned()),
                refresh_due: gauge!(JWKS_REFRESH_DUE, "issuer" => issuer.to_owned()),
                stale: gauge!(JWKS_STALE, "issuer" => issuer.to_owned()),
            }),
            unknown_kid_started: kid("started"),
            unknown_kid_joined: kid("joined"),
            unknown_kid_rate_limited: kid("rate_limited"),
        }
    }

    pub(crate) fn fetched(&self, result: FetchResult) {
        match result {
            FetchResult::Ok => &self.fetch_ok,
            FetchResult::NotModified => &self.fetch_not_modified,
            FetchResult::HttpError => &self.fetch_http_error,
            FetchResult::Timeout => &self.fetch_timeout,
            FetchResult::Invalid => &self.fetch_invalid,
        }
        .increment(1);
    }

    /// A key set is installed (or confirmed by a 304).
    pub(crate) fn installed(&self, keys: usize) {
        self.keys.set(keys as f64);
        if let Some(s) = &self.schedule {
            s.last_success.set(unix_now());
        }
    }

    /// A successful fetch scheduled the next one `refresh_in` from now;
    /// the keys stop verifying `stale_in` from now unless one succeeds.
    pub(crate) fn scheduled(&self, refresh_in: Duration, stale_in: Duration) {
        if let Some(s) = &self.schedule {
            let now = unix_now();
            s.refresh_due.set(now + refresh_in.as_secs_f64());
            s.stale.set(now + stale_in.as_secs_f64());
        }
    }

    pub(crate) fn unknown_kid(&self, what: UnknownKid) {
        match what {
            UnknownKid::Started => &self.unknown_kid_started,
            UnknownKid::Joined => &self.unknown_kid_joined,
            UnknownKid::RateLimited => &self.unknown_kid_rate_limited,
        }
        .increment(1);
    }
}

/// Guard denial counters by (`kind`, `required`), registered as guards are built.
/// (`kind`, `required`, counter).
type Denial = (&'static str, Arc<str>, Counter);

static DENIALS: LazyLock<ArcSwap<Vec<Denial>>> =
    LazyLock::new(|| ArcSwap::from_pointee(Vec::new()));

/// Register the denial counter of a guard's requirement (at guard build).
pub(crate) fn register_guard(kind: &'static str, required: &str) {
    // The extractors build their requirement per request: a known one is
    // one lock-free read.
    if required.is_empty()
        || DENIALS
            .load()
            .iter()
            .any(|(k, r, _)| *k == kind && **r == *required)
    {
        return;
    }
    let c = counter!(AUTHZ_DENIALS, "kind" => kind, "required" => required.to_owned());
    let required: Arc<str> = Arc::from(required);
    DENIALS.rcu(|list| {
        let mut list: Vec<_> = list
            .iter()
            .filter(|(k, r, _)| !(*k == kind && *r == required))
            .cloned()
            .collect();
        list.push((kind, required.clone(), c.clone()));
        list
    });
}

pub(crate) fn authz_denied(kind: &'static str, required: &str) {
    if let Some((_, _, c)) = DENIALS
        .load()
        .iter()
        .find(|(k, r, _)| *k == kind && **r == *required)
    {
        c.increment(1);
    }
}

struct Introspection {
    active: Counter,
    inactive: Counter,
    error: Counter,
    seconds: Histogram,
    hits: Counter,
    misses: Counter,
}

static INTROSPECTION: OnceLock<Introspection> = OnceLock::new();

fn introspection() -> &'static Introspection {
    INTROSPECTION.get_or_init(|| Introspection {
        active: counter!(INTROSPECTION_CALLS, "result" => "active"),
        inactive: counter!(INTROSPECTION_CALLS, "result" => "inactive"),
        error: counter!(INTROSPECTION_CALLS, "result" => "error"),
        seconds: histogram!(INTROSPECTION_SECONDS),
        hits: counter!(INTROSPECTION_CACHE, "result" => "hit"),
        misses: counter!(INTROSPECTION_CACHE, "result" => "miss"),
    })
}

/// Register the introspection handles (at introspector build).
pub(crate) fn register_introspection() {
    introspection();
}

/// One call to the introspection endpoint: `Some(active)`, or `None` on error.
pub(crate) fn introspected(active: Option<bool>, elapsed: Duration) {
    let m = introspection();
    match active {
        Some(true) => &m.active,
        Some(false) => &m.inactive,
        None => &m.error,
    }
    .increment(1);
    m.seconds.record(elapsed.as_secs_f64());
    verified_in(VerifyKind::Introspection, elapsed);
}

pub(crate) fn introspection_cache(hit: bool) {
    let m = introspection();
    if hit { &m.hits } else { &m.misses }.increment(1);
}

struct Others {
    revocation_entries: Gauge,
    // Set by the Redis revocation backend only.
    #[cfg_attr(not(feature = "redis"), allow(dead_code))]
    revocation_last_sync: Gauge,
    client_ok: Counter,
    client_error: Counter,
}

/// The outbound client's gauges, registered at its first token (before
/// that there is no token, and a zero would read as "overdue since 1970").
struct ClientToken {
    expiry: Gauge,
    refresh: Gauge,
}

static CLIENT_TOKEN: OnceLock<ClientToken> = OnceLock::new();

static OTHERS: OnceLock<Others> = OnceLock::new();

fn others() -> &'static Others {
    OTHERS.get_or_init(|| {
        describe_gauge!(REVOCATION_ENTRIES, "Entries in the revocation list");
        describe_gauge!(
            REVOCATION_LAST_SYNC,
            Unit::Seconds,
            "Unix time the Redis revocation list was last in sync"
        );
        describe_counter!(CLIENT_FETCHES, "Outbound client-credentials token fetches");
        describe_gauge!(
            CLIENT_EXPIRY,
            Unit::Seconds,
            "Unix time the outbound client's cached token expires"
        );
        describe_gauge!(
            CLIENT_REFRESH,
            Unit::Seconds,
            "Unix time the outbound client's cached token is due for refresh"
        );
        Others {
            revocation_entries: gauge!(REVOCATION_ENTRIES),
            revocation_last_sync: gauge!(REVOCATION_LAST_SYNC),
            client_ok: counter!(CLIENT_FETCHES, "result" => "ok"),
            client_error: counter!(CLIENT_FETCHES, "result" => "error"),
        }
    })
}

pub(crate) fn revocation_entries(n: usize) {
    others().revocation_entries.set(n as f64);
}

#[cfg_attr(not(feature = "redis"), allow(dead_code))]
pub(crate) fn revocation_synced() {
    others().revocation_last_sync.set(unix_now());
}

/// A client token fetch: the new token's remaining lifetime and the time
/// until the client refreshes it, or `None` on error.
pub(crate) fn client_fetched(token: Option<(Duration, Duration)>) {
    let o = others();
    match token {
        Some((left, refresh_in)) => {
            o.client_ok.increment(1);
            let g = CLIENT_TOKEN.get_or_init(|| ClientToken {
                expiry: gauge!(CLIENT_EXPIRY),
                refresh: gauge!(CLIENT_REFRESH),
            });
            let now = unix_now();
            g.expiry.set(now + left.as_secs_f64());
            g.refresh.set(now + refresh_in.as_secs_f64());
        }
        None => o.client_error.increment(1),
    }
}
