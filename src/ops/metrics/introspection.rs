//! The introspection handles, held by each introspector: calls to the
//! endpoint by result and their latency, and the local and shared caches.

use std::time::Duration;

use metrics::{counter, histogram, Counter, Histogram};

use super::decisions::verified_in;
use crate::ops::kinds::VerifyKind;
use crate::ops::names::*;

pub(crate) struct IntrospectionHandles {
    active: Counter,
    inactive: Counter,
    error: Counter,
    seconds: Histogram,
    hits: Counter,
    misses: Counter,
    shared_hits: Counter,
    shared_misses: Counter,
}

impl IntrospectionHandles {
    /// Registered with the recorder installed now (at introspector build).
    pub(crate) fn register() -> Self {
        IntrospectionHandles {
            active: counter!(INTROSPECTION_CALLS, "result" => "active"),
            inactive: counter!(INTROSPECTION_CALLS, "result" => "inactive"),
            error: counter!(INTROSPECTION_CALLS, "result" => "error"),
            seconds: histogram!(INTROSPECTION_SECONDS),
            hits: counter!(INTROSPECTION_CACHE, "result" => "hit"),
            misses: counter!(INTROSPECTION_CACHE, "result" => "miss"),
            shared_hits: counter!(INTROSPECTION_SHARED_CACHE, "result" => "hit"),
            shared_misses: counter!(INTROSPECTION_SHARED_CACHE, "result" => "miss"),
        }
    }

    /// One call to the endpoint: `Some(active)`, or `None` on error.
    pub(crate) fn called(&self, active: Option<bool>, elapsed: Duration) {
        match active {
            Some(true) => &self.active,
            Some(false) => &self.inactive,
            None => &self.error,
        }
        .increment(1);
        self.seconds.record(elapsed.as_secs_f64());
        verified_in(VerifyKind::Introspection, elapsed);
    }

    pub(crate) fn cache(&self, hit: bool) {
        if hit { &self.hits } else { &self.misses }.increment(1);
    }

    pub(crate) fn shared_cache(&self, hit: bool) {
        if hit {
            &self.shared_hits
        } else {
            &self.shared_misses
        }
        .increment(1);
    }
}
