//! Test hooks inside the crate, for tests that must widen a race window
//! deterministically instead of relying on timing or log output. Compiled
//! only with the `testkit` feature; every hook is off unless a test sets it.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

static REFRESH_DEMAND_DELAY_US: AtomicU64 = AtomicU64::new(0);

/// Block the thread for `delay` each time a request with an unknown `kid`
/// has demanded a key refresh, just before the refresh task is woken — the
/// window in which other requests for the same `kid` must see the refresh
/// as under way. `Duration::ZERO` (the default) turns it off. Process-wide:
/// set it only in a test binary whose tests all tolerate it.
pub fn set_refresh_demand_delay(delay: Duration) {
    let us = u64::try_from(delay.as_micros()).unwrap_or(u64::MAX);
    REFRESH_DEMAND_DELAY_US.store(us, Ordering::Relaxed);
}

/// Called by the key store at that point.
pub(crate) fn refresh_demanded() {
    let us = REFRESH_DEMAND_DELAY_US.load(Ordering::Relaxed);
    if us > 0 {
        std::thread::sleep(Duration::from_micros(us));
    }
}
