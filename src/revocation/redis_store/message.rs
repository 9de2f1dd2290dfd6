//! What the Redis backend stores and publishes: one line per entry, the
//! same bytes as a key's value and as a pub/sub message, and the key layout.
//!
//! ```text
//! value / message:  1 <kind> <before> <expires> <id>
//!                   1 j 0 1767225600 4f1c-9a2e
//!                   1 s 1767139200 1767225600 alice
//! key:              <namespace>:revoked:<kind>:<time>:<id>
//! channel:          <namespace>:revocations
//! ```
//!
//! `kind` is `j` (jti), `s` (subject) or `c` (client); times are Unix
//! seconds (`before` is 0 for a `jti`); the id comes last so it may hold
//! spaces. The leading `1` is the format version: an instance that reads a
//! version it does not know skips the entry (and logs it) instead of
//! guessing. Only identifiers and times: never a token or a hash of one.
//!
//! `<time>` in the key (`expires` for a `jti`, `before` otherwise) makes a
//! key per revocation rather than per id: two instances revoking the same
//! subject at different times never overwrite each other (no
//! read-modify-write, no script), and the local list keeps the later time.

use std::fmt;

use crate::revocation::snapshot::Entry;
use crate::revocation::EntryKind;

const VERSION: &str = "1";

fn kind_char(kind: EntryKind) -> char {
    match kind {
        EntryKind::Jti => 'j',
        EntryKind::Subject => 's',
        EntryKind::Client => 'c',
    }
}

/// The value stored and published for `e`.
pub(super) fn encode(e: &Entry) -> String {
    format!(
        "{VERSION} {} {} {} {}",
        kind_char(e.kind),
        e.before,
        e.expires,
        e.id
    )
}

/// Why a stored value or a message was skipped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum DecodeError {
    /// Not UTF-8, or fewer than five fields.
    Malformed,
    /// A version this build does not know.
    Version,
    /// A kind other than `j`, `s`, `c`.
    Kind,
    /// A time that is not a decimal `u64`, or a `jti` with a `before`.
    Time,
    /// An empty or over-long id.
    Id,
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            DecodeError::Malformed => "malformed",
            DecodeError::Version => "unknown version",
            DecodeError::Kind => "unknown kind",
            DecodeError::Time => "bad time",
            DecodeError::Id => "bad id",
        })
    }
}

/// Parses a stored value or a message.
pub(super) fn decode(bytes: &[u8]) -> Result<Entry, DecodeError> {
    let s = std::str::from_utf8(bytes).map_err(|_| DecodeError::Malformed)?;
    let mut it = s.splitn(5, ' ');
    let mut next = || it.next().ok_or(DecodeError::Malformed);
    let (version, kind, before, expires, id) = (next()?, next()?, next()?, next()?, next()?);
    if version != VERSION {
        return Err(DecodeError::Version);
    }
    let kind = match kind {
        "j" => EntryKind::Jti,
        "s" => EntryKind::Subject,
        "c" => EntryKind::Client,
        _ => return Err(DecodeError::Kind),
    };
    // Digits only: `u64::from_str` would also take a leading `+`.
    let time = |t: &str| {
        if t.is_empty() || !t.bytes().all(|b| b.is_ascii_digit()) {
            return Err(DecodeError::Time);
        }
        t.parse::<u64>().map_err(|_| DecodeError::Time)
    };
    let (before, expires) = (time(before)?, time(expires)?);
    if kind == EntryKind::Jti && before != 0 {
        return Err(DecodeError::Time);
    }
    Entry::new(kind, id, before, expires).map_err(|_| DecodeError::Id)
}

/// Key names under one namespace.
#[derive(Debug, Clone)]
pub(super) struct Keys {
    ns: Box<str>,
}

/// The longest namespace accepted.
pub(super) const MAX_NAMESPACE_LEN: usize = 64;

impl Keys {
    /// `None` unless `ns` is 1 to 64 of `A-Z a-z 0-9 . _ - :` — no glob
    /// characters, so it can be used in a `SCAN MATCH` pattern unescaped.
    pub(super) fn new(ns: &str) -> Option<Self> {
        let ok = !ns.is_empty()
            && ns.len() <= MAX_NAMESPACE_LEN
            && ns
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-' | b':'));
        ok.then(|| Self { ns: ns.into() })
    }

    /// The key of `e`.
    pub(super) fn key(&self, e: &Entry) -> String {
        let time = if e.kind == EntryKind::Jti {
            e.expires
        } else {
            e.before
        };
        format!("{}:revoked:{}:{time}:{}", self.ns, kind_char(e.kind), e.id)
    }

    /// The `SCAN MATCH` pattern of every entry key.
    pub(super) fn pattern(&self) -> String {
        format!("{}:revoked:*", self.ns)
    }

    /// The pub/sub channel.
    pub(super) fn channel(&self) -> String {
        format!("{}:revocations", self.ns)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::revocation::MAX_ID_LEN;

    fn entry(kind: EntryKind, id: &str, before: u64, expires: u64) -> Entry {
        Entry::new(kind, id, before, expires).unwrap()
    }

    #[test]
    fn round_trips_every_kind_and_ids_with_spaces() {
        for e in [
            entry(EntryKind::Jti, "4f1c-9a2e", 0, 1_767_225_600),
            entry(
                EntryKind::Subject,
                "alice smith",
                1_767_139_200,
                1_767_225_600,
            ),
            entry(EntryKind::Client, "app:ü 1", 5, u64::MAX),
            entry(EntryKind::Jti, &"x".repeat(MAX_ID_LEN), 0, 0),
        ] {
            assert_eq!(decode(encode(&e).as_bytes()), Ok(e));
        }
        assert_eq!(
            encode(&entry(EntryKind::Subject, "alice", 10, 20)),
            "1 s 10 20 alice"
        );
    }

    #[test]
    fn rejects_what_it_does_not_understand() {
        let long = format!("1 j 0 5 {}", "x".repeat(MAX_ID_LEN + 1));
        let cases: [(&[u8], DecodeError); 13] = [
            (b"", DecodeError::Malformed),
            (b"1 j 0 5", DecodeError::Malformed),
            (b"1 j 0 5 \xff", DecodeError::Malformed),
            (b"2 j 0 5 a", DecodeError::Version),
            (b"1 x 0 5 a", DecodeError::Kind),
            (b"1 J 0 5 a", DecodeError::Kind),
            (b"1 j 0 +5 a", DecodeError::Time),
            (b"1 j 0 -5 a", DecodeError::Time),
            (b"1 s 18446744073709551616 5 a", DecodeError::Time),
            (b"1 s  5 a", DecodeError::Time),
            (b"1 j 7 5 a", DecodeError::Time),
            (b"1 j 0 5 ", DecodeError::Id),
            (long.as_bytes(), DecodeError::Id),
        ];
        for (bytes, want) in cases {
            assert_eq!(
                decode(bytes),
                Err(want),
                "{:?}",
                String::from_utf8_lossy(bytes)
            );
        }
    }

    #[test]
    fn keys_are_per_revocation_and_namespaced() {
        let k = Keys::new("orders-api").unwrap();
        assert_eq!(
            k.key(&entry(EntryKind::Jti, "t-1", 0, 99)),
            "orders-api:revoked:j:99:t-1"
        );
        assert_eq!(
            k.key(&entry(EntryKind::Client, "app", 42, 99)),
            "orders-api:revoked:c:42:app"
        );
        assert_eq!(k.pattern(), "orders-api:revoked:*");
        assert_eq!(k.channel(), "orders-api:revocations");
        assert!(!k.channel().starts_with("orders-api:revoked:"));
    }

    #[test]
    fn namespaces_with_glob_characters_or_odd_lengths_are_refused() {
        for bad in ["", "a*", "a?", "a[b]", "a\\b", "a b", "ä"] {
            assert!(Keys::new(bad).is_none(), "{bad:?}");
        }
        assert!(Keys::new(&"a".repeat(MAX_NAMESPACE_LEN + 1)).is_none());
        assert!(Keys::new("team.orders_v2:prod-1").is_some());
    }
}
