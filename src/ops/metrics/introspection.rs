//! The introspection handles, held by each introspector: calls to the
//! endpoint by result and their latency, and the local and shared caches.

use std::time::Duration;

use metrics::{counter, histogram, Counter, Histogram};

use super::decisions::verified_in;
use super::HitMiss;
use crate::ops::kinds::VerifyKind;
use crate::ops::names::*;

pub(crate) struct IntrospectionHandles {
    active: Counter,
    inactive: Counter,
    error: Counter,
    seconds: Histogram,
    cache: HitMiss,
    shared_cache: HitMiss,
}

impl IntrospectionHandles {
    /// Registered with the recorder installed now (at introspector build).
    pub(crate) fn register() -> Self {
        IntrospectionHandles {
            active: counter!(INTROSPECTION_CALLS, "result" => "active"),
            inactive: counter!(INTROSPECTION_CALLS, "result" => "inactive"),
            error: counter!(INTROSPECTION_CALLS, "result" => "error"),
            seconds: histogram!(INTROSPECTION_SECONDS),
            cache: HitMiss::register(INTROSPECTION_CACHE),
            shared_cache: HitMiss::register(INTROSPECTION_SHARED_CACHE),
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
        self.cache.count(hit);
    }

    pub(crate) fn shared_cache(&self, hit: bool) {
        self.shared_cache.count(hit);
    }
}
