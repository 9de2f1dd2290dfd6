//! The introspection handles: calls by result, their latency, and the
//! introspection cache.

use std::sync::OnceLock;
use std::time::Duration;

use metrics::{counter, histogram, Counter, Histogram};

use super::decisions::verified_in;
use crate::ops::kinds::VerifyKind;
use crate::ops::names::*;

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
