//! A revocation deny-list, checked on every request — cache hits included:
//! in memory ([`RevocationList`]) or shared by every instance through Redis
//! (`RedisRevocations`, feature `redis`). Both are written through one
//! trait, [`RevocationStore`], and both check tokens against a local
//! in-memory snapshot.
//!
//! [`RevocationList`] holds three kinds of entries:
//!
//! | entry | refuses | added with |
//! |---|---|---|
//! | a `jti` | that one token | [`RevocationList::revoke_jti`] |
//! | a subject (`sub`) and a time T | every token of that subject with `iat` < T | [`RevocationList::revoke_subject_before`] |
//! | a client (`client_id`, `azp`, `cid`, `appid`) and a time T | every token issued to that client with `iat` < T | [`RevocationList::revoke_client_before`] |
//!
//! It implements [`PostVerify`](crate::PostVerify): install it with
//! [`AuthLayerBuilder::post_verify`](crate::AuthLayerBuilder::post_verify) and
//! a revoked token is refused with 401 and [`Reason::Revoked`](crate::Reason::Revoked)
//! from the next request on, even if it sits in the verified-token cache.
//! The list is cheap to clone (an `Arc`): keep one clone in the layer and one
//! wherever you revoke (an admin route, a message consumer, ...).
//!
//! ```
//! use std::time::{Duration, SystemTime};
//! use oauth2_guard::revocation::RevocationList;
//!
//! # fn main() -> Result<(), oauth2_guard::revocation::RevocationError> {
//! let list = RevocationList::new();
//! // One stolen token: keep the entry until the token would have expired anyway.
//! let exp = SystemTime::now() + Duration::from_secs(600);
//! list.revoke_jti("4f1c-9a2e", exp)?;
//! // A compromised account: every token issued to it until now.
//! list.revoke_subject_before("alice", SystemTime::now())?;
//! assert_eq!(list.len(), 2);
//! // Then: AuthLayer::builder().issuer(issuer).post_verify(list.clone())
//! # Ok(()) }
//! ```
//!
//! With the `axum` feature, [`handler`] is a ready `POST` endpoint for it;
//! mount it on an admin route behind a scope guard:
//!
//! ```no_run
//! # #[cfg(feature = "axum")]
//! # fn app(layer: oauth2_guard::AuthLayer) -> axum::Router {
//! use axum::Router;
//! use oauth2_guard::authz::RequireScope;
//! use oauth2_guard::revocation::{self, RevocationList};
//!
//! let list = RevocationList::new();
//! let layer = layer; // built with `.post_verify(list.clone())`
//! Router::new()
//!     .route("/admin/revocations", revocation::handler(list.clone()))
//!     .route_layer(RequireScope::new("orders:admin"))
//!     .layer(layer)
//! # }
//! ```
//!
//! # Defaults
//!
//! | setting | default | why |
//! |---|---|---|
//! | [`max_token_lifetime`](RevocationConfig::max_token_lifetime) | 24 h | a subject or client entry for "issued before T" can only match tokens that are still valid, that is until T + the longest lifetime your IdP gives an access token; it is also the expiry of a `jti` entry posted to the [`handler`] without `expires_at`. Set it to at least your IdP's longest access-token lifetime: a token living longer than that is accepted again once its entry is pruned |
//! | [`leeway`](RevocationConfig::leeway) | 5 min | the layer accepts a token up to its clock-skew leeway (at most 5 min) after `exp`, so an entry is kept that much longer than the token it matches |
//! | [`capacity`](RevocationConfig::capacity) | 100 000 entries | bounds memory; when the list is full after pruning, a new entry is refused with [`RevocationError::Full`] instead of evicting an older one, because eviction would silently accept a revoked token again |
//! | token without `iat`, matched by a subject or client entry | refused | its age cannot be told, and accepting it would let a token minted without `iat` escape "revoke everything before T" |
//! | `issued_before` | rounded up to the whole second | `iat` has whole seconds: a token issued earlier in the same second as the revocation is refused (a new token issued in that second is refused too; the client gets another) |
//!
//! # Cost
//!
//! The request path loads the current snapshot with `arc_swap` and does up
//! to three hash look-ups: no lock, no I/O, no allocation. Writers (rare)
//! copy the snapshot, prune expired entries, add theirs and swap it in,
//! under a mutex only writers take.
//!
//! # Shared through Redis (feature `redis`)
//!
//! With several instances, `RedisRevocations` keeps one [`RevocationList`]
//! per instance in sync through Redis. The request path is unchanged: the
//! same local snapshot, no I/O, no lock (plus one atomic load for the outage
//! policy).
//!
//! - A revocation is applied to the local list at once, then stored in Redis
//!   as one key per revocation with its own expiry (the entry's expiry + the
//!   leeway: Redis drops it by itself) and published on a channel, in one
//!   `MULTI`.
//! - Every instance subscribes to the channel and applies each change; a
//!   revocation on one instance is refused by the others within
//!   milliseconds (measured on loopback: p50 0.5 ms, p99 1.7 ms over 200
//!   revocations; the test revokes 200 `jti`s on one instance and asserts
//!   the other refuses them with a p99 ≤ 100 ms and each within 1 s).
//! - At start and after every reconnect, an instance subscribes first and
//!   then loads every entry (`SCAN` + `MGET`, never `KEYS`), so nothing
//!   published while it was away is missed; a full load also runs every
//!   5 minutes.
//! - Redis down: the last snapshot keeps serving, the outage is logged at
//!   `warn` and exposed by `status()`; past a bound (30 s) the
//!   `OutagePolicy` decides: keep serving (default) or answer 503
//!   [`Reason::RevocationUnavailable`](crate::Reason::RevocationUnavailable).
//!   A revoke call during the outage is applied here, **queued**, and
//!   returns [`RevocationError::Unavailable`]: other instances have not
//!   heard of it yet. After the reconnect's full load the queue is written
//!   to Redis (each entry with its own expiry) and published, so every
//!   instance refuses it from then on. The queue is bounded like the list
//!   ([`RevocationConfig::capacity`]); past it the oldest queued entries are
//!   dropped with a `warn` (still live on that instance). `status().queued`
//!   counts them.
//! - Redis restarted empty (no persistence): after its full load, each
//!   instance writes back every live entry of its list that Redis no longer
//!   holds, so an instance started later loads the whole list again.
//!   Entries are idempotent and carry their own expiry, so duplicates from
//!   several instances are harmless. Deleting a key in Redis does not lift
//!   a revocation (there is no "unrevoke"): the instances keep it and write
//!   it back on their next reconnect.
//! - Redis holds identifiers and times only (`jti`, `sub`, `client_id`),
//!   never a token or a hash of one. A namespace prefixes every key and the
//!   channel, so several services can share one Redis.
//!
//! ```no_run
//! # #[cfg(feature = "redis")]
//! # async fn wire(issuer: oauth2_guard::Issuer) -> Result<(), Box<dyn std::error::Error>> {
//! use oauth2_guard::revocation::{RedisRevocations, RevocationStore};
//! use oauth2_guard::AuthLayer;
//!
//! let revoked = RedisRevocations::builder("redis://127.0.0.1:6379/")
//!     .namespace("orders-api")
//!     .build() // waits for the first full load (5 s at most)
//!     .await?;
//! let layer = AuthLayer::builder()
//!     .issuer(issuer)
//!     .post_verify(revoked.clone())
//!     .build()?;
//! // Refused by every instance within milliseconds:
//! revoked.revoke_jti("4f1c-9a2e", std::time::SystemTime::now()).await?;
//! println!("{:?}", revoked.status()); // connected, last sync, entries
//! # let _ = layer; Ok(()) }
//! ```
//!
//! See `RedisRevocationsBuilder` for each default and why.
//!
//! # Security
//!
//! Key revocations on `jti`, `sub` or `client_id`, never on the token bytes
//! or a hash of them: an ES256 token has a second valid spelling (see the
//! [manual](crate::manual)). A [`RevocationList`] lives in this process
//! only: with several replicas, use the Redis backend (or feed every
//! replica's list yourself).

mod list;
#[cfg(feature = "redis")]
mod redis_store;
mod snapshot;
mod store;

#[cfg(feature = "axum")]
mod handler;

#[cfg(feature = "axum")]
#[cfg_attr(docsrs, doc(cfg(feature = "axum")))]
pub use handler::handler;
pub use list::{RevocationConfig, RevocationList};
#[cfg(feature = "redis")]
#[cfg_attr(docsrs, doc(cfg(feature = "redis")))]
pub use redis_store::{
    OutagePolicy, RedisRevocations, RedisRevocationsBuilder, RedisSetupError, RedisSetupErrorKind,
    RedisStatus,
};
pub use store::RevocationStore;

use std::fmt;

/// What a revocation entry names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum EntryKind {
    /// A single token, by its `jti`.
    Jti,
    /// Every token of a subject (`sub`).
    Subject,
    /// Every token issued to a client (`client_id`).
    Client,
}

impl EntryKind {
    /// The claim name: `jti`, `sub` or `client_id`.
    pub const fn claim(self) -> &'static str {
        match self {
            EntryKind::Jti => "jti",
            EntryKind::Subject => "sub",
            EntryKind::Client => "client_id",
        }
    }
}

/// Why a revocation was not recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum RevocationError {
    /// The identifier was empty: it would match nothing (an empty `jti`) or
    /// is certainly a caller's mistake.
    EmptyId {
        /// Which identifier.
        kind: EntryKind,
    },
    /// The identifier is longer than [`MAX_ID_LEN`] bytes.
    IdTooLong {
        /// Which identifier.
        kind: EntryKind,
        /// Its length in bytes.
        len: usize,
    },
    /// The list holds [`RevocationConfig::capacity`] live entries. Nothing
    /// was evicted: evicting would accept a revoked token again.
    Full {
        /// The configured capacity.
        capacity: usize,
    },
    /// A shared store (Redis) could not be written. The entry **is** live
    /// on this instance and is queued: the store's sync task writes it to
    /// the store and announces it once the store answers again, so other
    /// instances have not heard of it *yet*. Retrying is harmless. The
    /// cause is logged at `warn`.
    Unavailable,
}

/// The longest identifier accepted, in bytes.
pub const MAX_ID_LEN: usize = 1024;

impl fmt::Display for RevocationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RevocationError::EmptyId { kind } => write!(f, "empty `{}`", kind.claim()),
            RevocationError::IdTooLong { kind, len } => write!(
                f,
                "`{}` is {len} bytes, longer than {MAX_ID_LEN}",
                kind.claim()
            ),
            RevocationError::Full { capacity } => {
                write!(f, "revocation list full ({capacity} live entries)")
            }
            RevocationError::Unavailable => f.write_str(
                "the shared revocation store is unreachable: revoked on this instance, queued for the others until it is back",
            ),
        }
    }
}

impl std::error::Error for RevocationError {}
