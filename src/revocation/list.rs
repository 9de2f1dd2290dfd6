//! The list itself: an immutable snapshot behind `ArcSwap`, replaced whole by
//! writers.

use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use arc_swap::ArcSwap;

use super::snapshot::{secs_ceil, secs_floor, Entry, Snapshot};
use super::{EntryKind, RevocationError};
use crate::claims::VerifiedClaims;
use crate::error::{Reason, Rejection};
use crate::layer::PostVerify;
use crate::sync::lock;

/// Limits of a [`RevocationList`]; see the [module docs](super#defaults)
/// for each default and why.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RevocationConfig {
    max_token_lifetime: Duration,
    leeway: Duration,
    capacity: usize,
}

impl Default for RevocationConfig {
    fn default() -> Self {
        Self::new()
    }
}

impl RevocationConfig {
    /// The defaults: 24 h, 5 min, 100 000 entries.
    pub const fn new() -> Self {
        Self {
            max_token_lifetime: Duration::from_secs(24 * 3600),
            leeway: Duration::from_secs(300),
            capacity: 100_000,
        }
    }

    /// The longest lifetime of an access token from your IdP: a subject or
    /// client entry for "issued before T" expires at T + this.
    pub const fn max_token_lifetime(mut self, d: Duration) -> Self {
        self.max_token_lifetime = d;
        self
    }

    /// How long an entry is kept after the last token it can match expired
    /// (the layer's clock-skew leeway, or more).
    pub const fn leeway(mut self, d: Duration) -> Self {
        self.leeway = d;
        self
    }

    /// The most live entries the list holds.
    pub const fn capacity(mut self, n: usize) -> Self {
        self.capacity = n;
        self
    }

    /// For the Redis backend's full load.
    #[cfg(feature = "redis")]
    pub(crate) const fn capacity_value(&self) -> usize {
        self.capacity
    }

    /// For the handler's default `jti` expiry.
    #[cfg(feature = "axum")]
    pub(crate) const fn max_token_lifetime_value(&self) -> Duration {
        self.max_token_lifetime
    }
}

struct Inner {
    snapshot: ArcSwap<Snapshot>,
    /// Taken by writers only, so two writers do not lose each other's entry.
    writer: Mutex<()>,
    config: RevocationConfig,
}

/// An in-memory deny-list of tokens; see the [module docs](super).
///
/// Cloning is cheap and every clone sees the same list.
#[derive(Clone)]
pub struct RevocationList {
    inner: Arc<Inner>,
}

impl fmt::Debug for RevocationList {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Identifiers are not secrets, but a list of them is noise: counts only.
        let snap = self.inner.snapshot.load();
        f.debug_struct("RevocationList")
            .field("jtis", &snap.jtis.len())
            .field("subjects", &snap.subjects.len())
            .field("clients", &snap.clients.len())
            .field("config", &self.inner.config)
            .finish()
    }
}

impl Default for RevocationList {
    fn default() -> Self {
        Self::new()
    }
}

impl RevocationList {
    /// An empty list with the default [`RevocationConfig`].
    pub fn new() -> Self {
        Self::with_config(RevocationConfig::new())
    }

    /// An empty list with `config`.
    pub fn with_config(config: RevocationConfig) -> Self {
        crate::ops::revocation_entries(0);
        Self {
            inner: Arc::new(Inner {
                snapshot: ArcSwap::from_pointee(Snapshot::default()),
                writer: Mutex::new(()),
                config,
            }),
        }
    }

    /// The list's limits.
    pub fn config(&self) -> RevocationConfig {
        self.inner.config
    }

    /// Unix seconds until which `e` must be kept (its expiry + the leeway).
    #[cfg(feature = "redis")]
    pub(crate) fn keep_until(&self, e: &Entry) -> u64 {
        e.expires.saturating_add(self.inner.config.leeway.as_secs())
    }

    /// Revokes the token with this `jti`, keeping the entry until
    /// `expires_at` (the token's `exp`) plus the leeway. Revoking the same
    /// `jti` again keeps the later expiry.
    ///
    /// # Errors
    /// [`RevocationError::EmptyId`], [`RevocationError::IdTooLong`], or
    /// [`RevocationError::Full`].
    pub fn revoke_jti(&self, jti: &str, expires_at: SystemTime) -> Result<(), RevocationError> {
        self.apply(&self.jti_entry(jti, expires_at)?)
    }

    /// Revokes every token of subject `sub` issued (`iat`) before
    /// `issued_before` (rounded up to the whole second). The entry is kept
    /// until `issued_before` + [`max_token_lifetime`](RevocationConfig::max_token_lifetime)
    /// plus the leeway. Revoking the same subject again keeps the later time.
    ///
    /// # Errors
    /// [`RevocationError::EmptyId`], [`RevocationError::IdTooLong`], or
    /// [`RevocationError::Full`].
    pub fn revoke_subject_before(
        &self,
        sub: &str,
        issued_before: SystemTime,
    ) -> Result<(), RevocationError> {
        self.revoke_before(EntryKind::Subject, sub, issued_before)
    }

    /// Revokes every token issued to client `client_id` (the token's
    /// `client_id`, `azp`, `cid` or `appid`) before `issued_before`; same
    /// rules as [`revoke_subject_before`](Self::revoke_subject_before).
    ///
    /// # Errors
    /// [`RevocationError::EmptyId`], [`RevocationError::IdTooLong`], or
    /// [`RevocationError::Full`].
    pub fn revoke_client_before(
        &self,
        client_id: &str,
        issued_before: SystemTime,
    ) -> Result<(), RevocationError> {
        self.revoke_before(EntryKind::Client, client_id, issued_before)
    }

    fn revoke_before(
        &self,
        kind: EntryKind,
        id: &str,
        issued_before: SystemTime,
    ) -> Result<(), RevocationError> {
        self.apply(&self.before_entry(kind, id, issued_before)?)
    }

    /// The entry [`revoke_jti`](Self::revoke_jti) adds.
    pub(crate) fn jti_entry(
        &self,
        jti: &str,
        expires_at: SystemTime,
    ) -> Result<Entry, RevocationError> {
        Entry::new(EntryKind::Jti, jti, 0, secs_ceil(expires_at))
    }

    /// The entry a subject or client revocation adds: `issued_before`
    /// rounded up, kept until then + the max token lifetime.
    pub(crate) fn before_entry(
        &self,
        kind: EntryKind,
        id: &str,
        issued_before: SystemTime,
    ) -> Result<Entry, RevocationError> {
        let before = secs_ceil(issued_before);
        let max = self.inner.config.max_token_lifetime;
        let lifetime = max
            .as_secs()
            .saturating_add(u64::from(max.subsec_nanos() > 0));
        Entry::new(kind, id, before, before.saturating_add(lifetime))
    }

    /// Adds one entry (merged with an existing one for the same id: the
    /// later times win).
    pub(crate) fn apply(&self, entry: &Entry) -> Result<(), RevocationError> {
        self.write(SystemTime::now(), |s| s.merge(entry))
    }

    /// Adds many entries in one copy (a full load from a shared store);
    /// entries that no longer fit are dropped and counted.
    #[cfg(feature = "redis")]
    pub(crate) fn apply_all<'a>(&self, entries: impl IntoIterator<Item = &'a Entry>) -> usize {
        let _writer = lock(&self.inner.writer);
        let mut next = Snapshot::clone(&self.inner.snapshot.load());
        next.prune(
            secs_floor(SystemTime::now()),
            self.inner.config.leeway.as_secs(),
        );
        let capacity = self.inner.config.capacity;
        let mut dropped = 0;
        for entry in entries {
            let known = next.contains(entry);
            if !known && next.len() >= capacity {
                dropped += 1;
            } else {
                next.merge(entry);
            }
        }
        crate::ops::revocation_entries(next.len());
        self.inner.snapshot.store(Arc::new(next));
        dropped
    }

    /// Every live entry (expiry + leeway not yet past), as backends
    /// exchange them: what a shared store should hold.
    #[cfg(feature = "redis")]
    pub(crate) fn entries(&self) -> Vec<Entry> {
        let leeway = self.inner.config.leeway.as_secs();
        (self.inner.snapshot.load()).entries(secs_floor(SystemTime::now()), leeway)
    }

    /// Copy, prune, apply `add` (which says whether it added an entry),
    /// check the capacity, swap in.
    fn write(
        &self,
        now: SystemTime,
        add: impl FnOnce(&mut Snapshot) -> bool,
    ) -> Result<(), RevocationError> {
        let _writer = lock(&self.inner.writer);
        let mut next = Snapshot::clone(&self.inner.snapshot.load());
        next.prune(secs_floor(now), self.inner.config.leeway.as_secs());
        let added = add(&mut next);
        let capacity = self.inner.config.capacity;
        if added && next.len() > capacity {
            // Nothing is stored; the pruned copy is dropped with the entry.
            return Err(RevocationError::Full { capacity });
        }
        crate::ops::revocation_entries(next.len());
        self.inner.snapshot.store(Arc::new(next));
        Ok(())
    }

    /// Removes the entries that can no longer match a valid token and
    /// returns how many are left. Writes prune too; call this from a timer if
    /// the list is rarely written.
    pub fn prune(&self) -> usize {
        self.prune_at(SystemTime::now())
    }

    fn prune_at(&self, now: SystemTime) -> usize {
        let _writer = lock(&self.inner.writer);
        let current = self.inner.snapshot.load_full();
        let mut next = Snapshot::clone(&current);
        next.prune(secs_floor(now), self.inner.config.leeway.as_secs());
        let len = next.len();
        if len != current.len() {
            crate::ops::revocation_entries(len);
            self.inner.snapshot.store(Arc::new(next));
        }
        len
    }

    /// Whether `claims` match an entry. Lock-free, no allocation.
    pub fn is_revoked(&self, claims: &VerifiedClaims) -> bool {
        self.inner.snapshot.load().is_revoked(claims)
    }

    /// The number of entries (expired ones included until the next write or
    /// [`prune`](Self::prune)).
    pub fn len(&self) -> usize {
        self.inner.snapshot.load().len()
    }

    /// Whether the list has no entries.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl PostVerify for RevocationList {
    fn check(&self, claims: &VerifiedClaims) -> Result<(), Rejection> {
        if self.is_revoked(claims) {
            Err(Rejection::from_reason(Reason::Revoked))
        } else {
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::UNIX_EPOCH;

    use crate::revocation::MAX_ID_LEN;
    use serde_json::json;

    use crate::claims::test_claims as claims;

    fn at(secs: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(secs)
    }

    fn list() -> RevocationList {
        RevocationList::with_config(
            RevocationConfig::new()
                .leeway(Duration::from_secs(10))
                .max_token_lifetime(Duration::from_secs(100))
                .capacity(3),
        )
    }

    #[test]
    fn writes_prune_entries_past_expiry_plus_leeway() {
        let l = list();
        let now = secs_floor(SystemTime::now());
        // Written "now", so kept: pruning happens relative to the write time.
        l.revoke_jti("a", at(now - 5)).unwrap();
        l.revoke_subject_before("s", at(now - 95)).unwrap(); // expires now + 5
        assert_eq!(l.len(), 2);
        // Still within expiry + leeway.
        assert_eq!(l.prune_at(at(now + 5)), 2);
        // jti: now - 5 + 10 < now + 6; subject: now + 5 + 10 ≥ now + 6.
        assert_eq!(l.prune_at(at(now + 6)), 1);
        assert_eq!(l.prune_at(at(now + 16)), 0);
        assert!(l.is_empty());
    }

    #[test]
    fn a_write_prunes_before_checking_the_capacity() {
        let l = list();
        let now = secs_floor(SystemTime::now());
        let old = now - 11; // expired + leeway passed at write time
        l.write(at(now - 20), |s| {
            s.jtis.insert("old1".into(), old);
            s.jtis.insert("old2".into(), old);
            s.jtis.insert("old3".into(), old);
            true
        })
        .unwrap();
        assert_eq!(l.len(), 3);
        l.revoke_jti("new", at(now + 60)).unwrap();
        assert_eq!(l.len(), 1, "the three expired entries were pruned");
    }

    #[test]
    fn full_list_refuses_without_evicting() {
        let l = list();
        let exp = SystemTime::now() + Duration::from_secs(60);
        for id in ["a", "b", "c"] {
            l.revoke_jti(id, exp).unwrap();
        }
        assert_eq!(
            l.revoke_jti("d", exp),
            Err(RevocationError::Full { capacity: 3 })
        );
        assert_eq!(l.len(), 3);
        assert!(l.is_revoked(&claims(json!({"jti": "a"}))));
        assert!(!l.is_revoked(&claims(json!({"jti": "d"}))));
        // Re-revoking an existing id adds nothing, so it still succeeds.
        l.revoke_jti("a", exp + Duration::from_secs(60)).unwrap();
    }

    #[test]
    fn readers_keep_their_snapshot_writers_publish_a_new_one() {
        let l = list();
        let before = l.inner.snapshot.load_full();
        l.revoke_jti("a", SystemTime::now() + Duration::from_secs(60))
            .unwrap();
        // The old snapshot is untouched (copy-on-write) ...
        assert_eq!(before.len(), 0);
        assert!(!before.is_revoked(&claims(json!({"jti": "a"}))));
        // ... and every clone sees the new one.
        let clone = l.clone();
        assert!(clone.is_revoked(&claims(json!({"jti": "a"}))));
        assert!(!Arc::ptr_eq(&before, &l.inner.snapshot.load_full()));
    }

    #[test]
    fn before_entries_compare_iat_and_refuse_without_iat() {
        let l = list();
        // Recent enough that the entries are live (T + 100 s lifetime).
        let t = secs_floor(SystemTime::now()) - 50;
        l.revoke_subject_before("alice", at(t)).unwrap();
        l.revoke_client_before("app", at(t)).unwrap();
        let c = |v| l.is_revoked(&claims(v));
        assert!(c(json!({"sub": "alice", "iat": t - 1})));
        assert!(c(json!({"sub": "alice", "iat": (t as f64) - 0.1})));
        assert!(!c(json!({"sub": "alice", "iat": t})));
        assert!(!c(json!({"sub": "bob", "iat": 1})));
        assert!(c(json!({"sub": "alice"})), "no iat: refused");
        assert!(c(json!({"sub": "alice", "iat": "1"})), "non-numeric iat");
        assert!(c(json!({"azp": "app", "iat": t - 1})));
        assert!(!c(json!({"azp": "app", "iat": t})));
        assert!(!c(json!({"iat": 1})));
    }

    #[test]
    fn issued_before_rounds_up_and_later_revocations_win() {
        let l = list();
        let t = secs_floor(SystemTime::now()) - 50;
        l.revoke_subject_before("alice", at(t) + Duration::from_millis(300))
            .unwrap();
        assert!(l.is_revoked(&claims(json!({"sub": "alice", "iat": t}))));
        l.revoke_subject_before("alice", at(t - 20)).unwrap();
        assert!(
            l.is_revoked(&claims(json!({"sub": "alice", "iat": t}))),
            "an earlier time does not shorten the revocation"
        );
    }

    #[test]
    fn huge_lifetimes_and_times_do_not_panic() {
        let l =
            RevocationList::with_config(RevocationConfig::new().max_token_lifetime(Duration::MAX));
        let far = UNIX_EPOCH + Duration::from_secs(i64::MAX as u64 / 2);
        l.revoke_subject_before("alice", SystemTime::now()).unwrap();
        l.revoke_client_before("app", far).unwrap();
        l.revoke_jti("a", far).unwrap();
        assert_eq!(l.prune(), 3);
    }

    #[test]
    fn bad_ids_are_typed_errors() {
        let l = list();
        let t = SystemTime::now();
        assert_eq!(
            l.revoke_jti("", t),
            Err(RevocationError::EmptyId {
                kind: EntryKind::Jti
            })
        );
        assert_eq!(
            l.revoke_subject_before("", t),
            Err(RevocationError::EmptyId {
                kind: EntryKind::Subject
            })
        );
        assert_eq!(
            l.revoke_client_before(&"x".repeat(MAX_ID_LEN + 1), t),
            Err(RevocationError::IdTooLong {
                kind: EntryKind::Client,
                len: MAX_ID_LEN + 1
            })
        );
        assert!(l.is_empty());
    }
}
