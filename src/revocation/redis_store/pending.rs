//! Revocations applied here whose Redis write failed: kept, bounded, until
//! the sync task writes them back after the next full load.

use std::collections::{HashSet, VecDeque};
use std::sync::Mutex;

use crate::revocation::snapshot::Entry;
use crate::sync::lock;

/// A bounded FIFO of entries, one per Redis key (a second revocation with
/// the same key is the same write).
#[derive(Debug)]
pub(super) struct Pending {
    bound: usize,
    inner: Mutex<Queue>,
}

#[derive(Debug, Default)]
struct Queue {
    order: VecDeque<(String, Entry)>,
    keys: HashSet<String>,
}

impl Queue {
    /// Adds at the back; drops the oldest past `bound` and returns how many.
    fn push(&mut self, bound: usize, key: String, entry: Entry) -> usize {
        if !self.keys.insert(key.clone()) {
            return 0;
        }
        self.order.push_back((key, entry));
        let mut dropped = 0;
        while self.order.len() > bound {
            if let Some((k, _)) = self.order.pop_front() {
                self.keys.remove(&k);
                dropped += 1;
            }
        }
        dropped
    }
}

impl Pending {
    /// At most `bound` entries (at least one).
    pub(super) fn new(bound: usize) -> Self {
        Self {
            bound: bound.max(1),
            inner: Mutex::new(Queue::default()),
        }
    }

    /// Queues `entry` (stored at `key`), dropping the oldest entries past
    /// the bound with a `warn`: those stay live on this instance but reach
    /// the others only through a later revocation.
    pub(super) fn push(&self, key: String, entry: Entry) {
        let dropped = lock(&self.inner).push(self.bound, key, entry);
        self.warn_dropped(dropped);
    }

    /// The `warn` for entries dropped past the bound (none: silent).
    fn warn_dropped(&self, dropped: usize) {
        if dropped > 0 {
            tracing::warn!(
                target: "oauth2_guard::revocation",
                dropped,
                bound = self.bound,
                "revocations waiting for Redis past the bound: the oldest are dropped (still live on this instance)"
            );
        }
    }

    /// Takes every queued entry, oldest first.
    pub(super) fn take(&self) -> Vec<(String, Entry)> {
        let mut q = lock(&self.inner);
        q.keys.clear();
        q.order.drain(..).collect()
    }

    /// Puts back entries whose write failed, ahead of anything queued since
    /// (they are older), within the bound.
    pub(super) fn restore(&self, unwritten: Vec<(String, Entry)>) {
        let mut q = lock(&self.inner);
        let newer = std::mem::take(&mut *q);
        let mut dropped = 0;
        for (key, entry) in unwritten.into_iter().chain(newer.order) {
            dropped += q.push(self.bound, key, entry);
        }
        drop(q);
        self.warn_dropped(dropped);
    }

    pub(super) fn is_empty(&self) -> bool {
        lock(&self.inner).order.is_empty()
    }

    pub(super) fn len(&self) -> usize {
        lock(&self.inner).order.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::revocation::EntryKind;

    fn e(id: &str) -> (String, Entry) {
        (
            format!("k:{id}"),
            Entry::new(EntryKind::Jti, id, 0, 10).unwrap(),
        )
    }

    #[test]
    fn bounded_oldest_dropped_duplicates_once() {
        let p = Pending::new(2);
        for id in ["a", "b", "a", "c"] {
            let (k, v) = e(id);
            p.push(k, v);
        }
        let ids: Vec<_> = p.take().into_iter().map(|(_, e)| e.id).collect();
        assert_eq!(ids, ["b".into(), "c".into()] as [Box<str>; 2]);
        assert!(p.is_empty());
    }

    #[test]
    fn restored_entries_go_ahead_of_newer_ones_within_the_bound() {
        let p = Pending::new(3);
        let (k, v) = e("new");
        p.push(k, v);
        p.restore(vec![e("old1"), e("old2"), e("new")]);
        let ids: Vec<_> = p.take().into_iter().map(|(_, e)| e.id).collect();
        assert_eq!(
            ids,
            ["old1".into(), "old2".into(), "new".into()] as [Box<str>; 3]
        );
        let p = Pending::new(2);
        p.restore(vec![e("x"), e("y"), e("z")]);
        assert_eq!(p.len(), 2, "the oldest is dropped");
    }
}
