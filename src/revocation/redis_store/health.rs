//! The sync task's state, read lock-free by the request path and `status()`.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime};

/// Times are milliseconds since `base` (monotonic) plus 1, 0 meaning never.
#[derive(Debug)]
pub(super) struct Health {
    base: Instant,
    base_wall: SystemTime,
    up: AtomicBool,
    down_since: AtomicU64,
    last_sync: AtomicU64,
}

impl Health {
    /// Down since now (nothing loaded yet).
    pub(super) fn new() -> Self {
        Self {
            base: Instant::now(),
            base_wall: SystemTime::now(),
            up: AtomicBool::new(false),
            down_since: AtomicU64::new(1),
            last_sync: AtomicU64::new(0),
        }
    }

    fn now(&self) -> u64 {
        u64::try_from(self.base.elapsed().as_millis())
            .unwrap_or(u64::MAX - 1)
            .saturating_add(1)
    }

    fn wall(&self, t: u64) -> Option<SystemTime> {
        (t != 0).then(|| self.base_wall + Duration::from_millis(t - 1))
    }

    /// The local list is in sync with Redis as of now.
    pub(super) fn synced(&self) {
        crate::ops::revocation_synced();
        self.last_sync.store(self.now(), Ordering::Release);
        self.up.store(true, Ordering::Release);
    }

    /// The subscription is gone; returns whether it was up (a new outage).
    pub(super) fn lost(&self) -> bool {
        let was_up = self.up.swap(false, Ordering::AcqRel);
        if was_up {
            self.down_since.store(self.now(), Ordering::Release);
        }
        was_up
    }

    pub(super) fn is_up(&self) -> bool {
        self.up.load(Ordering::Acquire)
    }

    /// How long the sync has been down (`None` when up).
    pub(super) fn down_for(&self) -> Option<Duration> {
        if self.is_up() {
            return None;
        }
        let since = self.down_since.load(Ordering::Acquire);
        Some(Duration::from_millis(self.now().saturating_sub(since)))
    }

    pub(super) fn last_sync(&self) -> Option<SystemTime> {
        self.wall(self.last_sync.load(Ordering::Acquire))
    }

    pub(super) fn down_since(&self) -> Option<SystemTime> {
        if self.is_up() {
            return None;
        }
        self.wall(self.down_since.load(Ordering::Acquire))
    }
}
