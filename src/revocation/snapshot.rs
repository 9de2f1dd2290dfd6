//! One immutable state of the deny-list and the entry type backends
//! exchange.

use std::collections::HashMap;
use std::time::{SystemTime, UNIX_EPOCH};

use super::{EntryKind, RevocationError, MAX_ID_LEN};
use crate::claims::VerifiedClaims;

/// "Tokens issued before `before` are revoked", kept until `expires`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Before {
    pub(super) before: u64,
    pub(super) expires: u64,
}

/// One immutable state of the list. Times are Unix seconds.
#[derive(Debug, Clone, Default)]
pub(super) struct Snapshot {
    /// jti → expiry.
    pub(super) jtis: HashMap<Box<str>, u64>,
    pub(super) subjects: HashMap<Box<str>, Before>,
    pub(super) clients: HashMap<Box<str>, Before>,
}

impl Snapshot {
    pub(super) fn len(&self) -> usize {
        self.jtis.len() + self.subjects.len() + self.clients.len()
    }

    /// Drops every entry whose expiry + `leeway` is before `now`.
    pub(super) fn prune(&mut self, now: u64, leeway: u64) {
        let live = |expires: u64| expires.saturating_add(leeway) >= now;
        self.jtis.retain(|_, e| live(*e));
        self.subjects.retain(|_, b| live(b.expires));
        self.clients.retain(|_, b| live(b.expires));
    }

    fn map_mut(&mut self, kind: EntryKind) -> &mut HashMap<Box<str>, Before> {
        match kind {
            EntryKind::Client => &mut self.clients,
            _ => &mut self.subjects,
        }
    }

    #[cfg(feature = "redis")]
    pub(super) fn contains(&self, e: &Entry) -> bool {
        match e.kind {
            EntryKind::Jti => self.jtis.contains_key(&*e.id),
            EntryKind::Client => self.clients.contains_key(&*e.id),
            _ => self.subjects.contains_key(&*e.id),
        }
    }

    /// Adds `e`, or merges it into the entry for the same id (the later
    /// times win); says whether an entry was added.
    pub(super) fn merge(&mut self, e: &Entry) -> bool {
        if e.kind == EntryKind::Jti {
            return match self.jtis.get_mut(&*e.id) {
                Some(x) => {
                    *x = (*x).max(e.expires);
                    false
                }
                None => {
                    self.jtis.insert(e.id.clone(), e.expires);
                    true
                }
            };
        }
        let map = self.map_mut(e.kind);
        match map.get_mut(&*e.id) {
            Some(b) => {
                *b = Before {
                    before: b.before.max(e.before),
                    expires: b.expires.max(e.expires),
                };
                false
            }
            None => {
                map.insert(
                    e.id.clone(),
                    Before {
                        before: e.before,
                        expires: e.expires,
                    },
                );
                true
            }
        }
    }

    /// Every entry whose expiry + `leeway` is after `now`.
    #[cfg(feature = "redis")]
    pub(super) fn entries(&self, now: u64, leeway: u64) -> Vec<Entry> {
        let live = |expires: u64| expires.saturating_add(leeway) > now;
        let mut out = Vec::with_capacity(self.len());
        for (id, &expires) in &self.jtis {
            let before = 0;
            out.push((EntryKind::Jti, id, before, expires));
        }
        for (kind, map) in [
            (EntryKind::Subject, &self.subjects),
            (EntryKind::Client, &self.clients),
        ] {
            out.extend(map.iter().map(|(id, b)| (kind, id, b.before, b.expires)));
        }
        (out.into_iter())
            .filter(|e| live(e.3))
            .map(|(kind, id, before, expires)| Entry {
                kind,
                id: id.clone(),
                before,
                expires,
            })
            .collect()
    }

    /// The request-path check: look-ups only, no allocation.
    pub(super) fn is_revoked(&self, claims: &VerifiedClaims) -> bool {
        if !self.jtis.is_empty() {
            if let Some(jti) = claims.jti() {
                if self.jtis.contains_key(jti) {
                    return true;
                }
            }
        }
        // Each claim is read only when its map has entries: most lists hold
        // `jti`s only, and `client_id()` may try four claims.
        let by = |map: &HashMap<Box<str>, Before>, id: fn(&VerifiedClaims) -> Option<&str>| {
            if map.is_empty() {
                return false;
            }
            match id(claims).and_then(|id| map.get(id)) {
                // No usable `iat`: its age is unknown, so it is refused.
                Some(b) => claims.iat_unix().is_none_or(|iat| iat < b.before),
                None => false,
            }
        };
        by(&self.subjects, VerifiedClaims::subject) || by(&self.clients, VerifiedClaims::client_id)
    }
}

/// One entry as backends exchange it. Times are Unix seconds; `before` is 0
/// for a `jti`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Entry {
    pub(crate) kind: EntryKind,
    pub(crate) id: Box<str>,
    pub(crate) before: u64,
    pub(crate) expires: u64,
}

impl Entry {
    /// Checks the id (empty, too long).
    pub(crate) fn new(
        kind: EntryKind,
        id: &str,
        before: u64,
        expires: u64,
    ) -> Result<Self, RevocationError> {
        check_id(kind, id)?;
        Ok(Self {
            kind,
            id: id.into(),
            before,
            expires,
        })
    }
}

/// Unix seconds, rounded down.
pub(super) fn secs_floor(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// Unix seconds, rounded up.
pub(super) fn secs_ceil(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).map_or(0, |d| {
        d.as_secs().saturating_add(u64::from(d.subsec_nanos() > 0))
    })
}

pub(super) fn check_id(kind: EntryKind, id: &str) -> Result<(), RevocationError> {
    if id.is_empty() {
        return Err(RevocationError::EmptyId { kind });
    }
    if id.len() > MAX_ID_LEN {
        return Err(RevocationError::IdTooLong {
            kind,
            len: id.len(),
        });
    }
    Ok(())
}
