//! The Redis backend: one revocation list shared by every instance.

mod health;
mod message;
mod pending;
mod sync;

use std::error::Error as StdError;
use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::sync::oneshot;

use super::snapshot::Entry;
use super::{EntryKind, RevocationConfig, RevocationError, RevocationList, RevocationStore};
use crate::claims::VerifiedClaims;
use crate::error::{Reason, Rejection};
use crate::layer::PostVerify;
use crate::redis::RedisConn;
use crate::task::AbortOnDrop;
use health::Health;
use message::{encode, Keys};
use pending::Pending;
use sync::Syncer;

/// What the layer does while Redis is unreachable, once the outage is
/// longer than [`outage_bound`](RedisRevocationsBuilder::outage_bound).
///
/// Before the bound, both keep serving from the last snapshot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum OutagePolicy {
    /// Keep checking tokens against the last snapshot, and log at `warn`.
    /// Availability first: a token revoked on another instance during the
    /// outage is accepted here until Redis is back (revocations made on this
    /// instance still apply here at once).
    #[default]
    KeepServing,
    /// Refuse every request with 503 and reason
    /// [`Reason::RevocationUnavailable`] (with `Retry-After`) until Redis is
    /// back. Revocation first: no token is accepted on a list that may be
    /// stale by more than the bound, at the price of an outage of the
    /// service whenever Redis has one.
    RefuseRequests,
}

/// The state of the sync with Redis, from [`RedisRevocations::status`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct RedisStatus {
    /// Subscribed and in sync: changes from other instances arrive within
    /// milliseconds.
    pub connected: bool,
    /// When the local list was last known to hold everything in Redis (a
    /// full load, or a health `PING` answered on the live subscription).
    pub last_sync: Option<SystemTime>,
    /// When the current outage started (`None` while connected).
    pub down_since: Option<SystemTime>,
    /// Live entries in the local list (expired ones until the next write).
    pub entries: usize,
    /// Revocations made on this instance whose Redis write failed, queued
    /// to be written back (and published) once Redis answers again.
    pub queued: usize,
}

/// Timings of the sync task.
#[derive(Debug, Clone, Copy)]
struct Timing {
    ping: Duration,
    resync: Duration,
    backoff_min: Duration,
    backoff_max: Duration,
    outage_bound: Duration,
}

/// What went wrong setting up [`RedisRevocations`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum RedisSetupErrorKind {
    /// The URL is not a `redis://` or `redis+unix://` URL.
    InvalidUrl,
    /// The namespace is empty, longer than 64 bytes, or holds a character
    /// other than `A-Z a-z 0-9 . _ - :`.
    InvalidNamespace,
    /// The first full load did not complete within
    /// [`initial_sync_timeout`](RedisRevocationsBuilder::initial_sync_timeout).
    InitialSync,
}

/// Why [`RedisRevocationsBuilder::build`] failed. The Redis client's error,
/// when there is one, is the [`source`](StdError::source).
#[derive(Debug)]
pub struct RedisSetupError {
    kind: RedisSetupErrorKind,
    source: Option<redis::RedisError>,
}

impl RedisSetupError {
    /// What went wrong.
    pub fn kind(&self) -> RedisSetupErrorKind {
        self.kind
    }
}

impl fmt::Display for RedisSetupError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self.kind {
            RedisSetupErrorKind::InvalidUrl => "invalid Redis URL",
            RedisSetupErrorKind::InvalidNamespace => {
                "invalid namespace (1 to 64 of A-Z a-z 0-9 . _ - :)"
            }
            RedisSetupErrorKind::InitialSync => {
                "the revocation list could not be loaded from Redis in time"
            }
        })
    }
}

impl StdError for RedisSetupError {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        self.source.as_ref().map(|e| e as _)
    }
}

/// Builds [`RedisRevocations`]. Every setting has a default:
///
/// | setting | default | why |
/// |---|---|---|
/// | [`namespace`](Self::namespace) | `oauth2-guard` | key and channel prefix; give each group of services that shares a deny-list its own, so several can share one Redis |
/// | [`list_config`](Self::list_config) | [`RevocationConfig::new`] | the local list's max token lifetime, leeway and capacity; an entry expires in Redis when it would be pruned locally |
/// | [`outage_policy`](Self::outage_policy) | [`OutagePolicy::KeepServing`] | a Redis outage should not become an outage of every service; the last snapshot still refuses everything revoked before the outage |
/// | [`outage_bound`](Self::outage_bound) | 30 s | past it, a `warn` is logged (and [`OutagePolicy::RefuseRequests`] starts answering 503); short enough to page someone, long enough to ride out a Redis failover |
/// | [`timeout`](Self::timeout) | 1 s | every connect and command; a revoke call during an outage fails within it instead of hanging the admin request |
/// | [`ping_interval`](Self::ping_interval) | 1 s | a `PING` on the subscription finds a silently dead connection (no FIN, a partition) within about two intervals |
/// | [`resync_interval`](Self::resync_interval) | 5 min | a full load besides the one after every reconnect, in case a message was lost; it `SCAN`s the whole database, so keep it long on a busy shared Redis |
/// | [`reconnect_backoff`](Self::reconnect_backoff) | 50 ms doubling to 5 s | quick recovery after a restart without hammering a Redis that is down |
/// | [`initial_sync_timeout`](Self::initial_sync_timeout) | 5 s | `build` fails rather than start with an empty list, which would accept every token revoked so far |
#[derive(Debug, Clone)]
#[must_use]
pub struct RedisRevocationsBuilder {
    url: String,
    namespace: String,
    config: RevocationConfig,
    policy: OutagePolicy,
    timeout: Duration,
    timing: Timing,
    initial_sync_timeout: Duration,
}

impl RedisRevocationsBuilder {
    /// Key and channel prefix (default `oauth2-guard`).
    pub fn namespace(mut self, ns: impl Into<String>) -> Self {
        self.namespace = ns.into();
        self
    }

    /// The local list's limits (default [`RevocationConfig::new`]).
    pub fn list_config(mut self, config: RevocationConfig) -> Self {
        self.config = config;
        self
    }

    /// What to do during a long outage (default [`OutagePolicy::KeepServing`]).
    pub fn outage_policy(mut self, policy: OutagePolicy) -> Self {
        self.policy = policy;
        self
    }

    /// How long an outage may last before the policy applies (default 30 s).
    pub fn outage_bound(mut self, bound: Duration) -> Self {
        self.timing.outage_bound = bound;
        self
    }

    /// Connect and command timeout (default 1 s).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Health `PING` on the subscription (default 1 s).
    pub fn ping_interval(mut self, every: Duration) -> Self {
        self.timing.ping = every;
        self
    }

    /// Periodic full load (default 5 min).
    pub fn resync_interval(mut self, every: Duration) -> Self {
        self.timing.resync = every;
        self
    }

    /// Reconnect delay: `min`, doubling up to `max` (default 50 ms, 5 s).
    pub fn reconnect_backoff(mut self, min: Duration, max: Duration) -> Self {
        self.timing.backoff_min = min;
        self.timing.backoff_max = max.max(min);
        self
    }

    /// How long [`build`](Self::build) waits for the first full load
    /// (default 5 s).
    pub fn initial_sync_timeout(mut self, timeout: Duration) -> Self {
        self.initial_sync_timeout = timeout;
        self
    }

    /// Connects, subscribes, loads every entry, and starts the sync task.
    /// Must be called inside a tokio runtime.
    ///
    /// # Errors
    /// A bad URL or namespace, or Redis unreachable for
    /// [`initial_sync_timeout`](Self::initial_sync_timeout).
    pub async fn build(self) -> Result<RedisRevocations, RedisSetupError> {
        let err = |kind, source| RedisSetupError { kind, source };
        let keys = Keys::new(&self.namespace)
            .ok_or_else(|| err(RedisSetupErrorKind::InvalidNamespace, None))?;
        let conn = RedisConn::open(&self.url, self.timeout)
            .map_err(|e| err(RedisSetupErrorKind::InvalidUrl, Some(e)))?;
        let list = RevocationList::with_config(self.config);
        let health = Arc::new(Health::new());
        let pending = Arc::new(Pending::new(self.config.capacity_value()));
        let syncer = Syncer {
            conn: conn.clone(),
            list: list.clone(),
            keys: keys.clone(),
            health: health.clone(),
            timing: self.timing,
            policy: self.policy,
            pending: pending.clone(),
        };
        let (tx, rx) = oneshot::channel();
        let task = AbortOnDrop::new(tokio::spawn(syncer.run(Some(tx))).abort_handle());
        match tokio::time::timeout(self.initial_sync_timeout, rx).await {
            Ok(Ok(())) => {}
            // `task` is dropped: the sync task is aborted.
            _ => return Err(err(RedisSetupErrorKind::InitialSync, None)),
        }
        Ok(RedisRevocations {
            inner: Arc::new(Inner {
                list,
                conn,
                keys,
                health,
                policy: self.policy,
                timing: self.timing,
                pending,
                _task: task,
            }),
        })
    }
}

struct Inner {
    list: RevocationList,
    conn: RedisConn,
    keys: Keys,
    health: Arc<Health>,
    policy: OutagePolicy,
    timing: Timing,
    pending: Arc<Pending>,
    _task: AbortOnDrop,
}

/// A revocation list shared through Redis; see the
/// [module docs](super#shared-through-redis-feature-redis).
///
/// Cloning is cheap; the sync task stops when the last clone is dropped.
#[derive(Clone)]
pub struct RedisRevocations {
    inner: Arc<Inner>,
}

impl fmt::Debug for RedisRevocations {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisRevocations")
            .field("redis", &self.inner.conn)
            .field("keys", &self.inner.keys)
            .field("list", &self.inner.list)
            .field("policy", &self.inner.policy)
            .field("status", &self.status())
            .finish()
    }
}

impl RedisRevocations {
    /// Configure a backend for the Redis at `url`
    /// (`redis://[:password@]host[:port][/db]`).
    pub fn builder(url: impl Into<String>) -> RedisRevocationsBuilder {
        RedisRevocationsBuilder {
            url: url.into(),
            namespace: "oauth2-guard".into(),
            config: RevocationConfig::new(),
            policy: OutagePolicy::KeepServing,
            timeout: Duration::from_secs(1),
            timing: Timing {
                ping: Duration::from_secs(1),
                resync: Duration::from_secs(300),
                backoff_min: Duration::from_millis(50),
                backoff_max: Duration::from_secs(5),
                outage_bound: Duration::from_secs(30),
            },
            initial_sync_timeout: Duration::from_secs(5),
        }
    }

    /// The sync state: connected, last sync, outage start, entries, queued.
    pub fn status(&self) -> RedisStatus {
        let h = &self.inner.health;
        RedisStatus {
            connected: h.is_up(),
            last_sync: h.last_sync(),
            down_since: h.down_since(),
            entries: self.inner.list.len(),
            queued: self.inner.pending.len(),
        }
    }

    /// Whether `claims` match an entry of the local snapshot (lock-free, no
    /// I/O; the outage policy is not consulted).
    pub fn is_revoked(&self, claims: &VerifiedClaims) -> bool {
        self.inner.list.is_revoked(claims)
    }

    /// Applies `entry` here, then writes it to Redis with its expiry and
    /// publishes it.
    async fn revoke(&self, entry: Result<Entry, RevocationError>) -> Result<(), RevocationError> {
        let entry = entry?;
        let list = &self.inner.list;
        // Local first: this instance refuses the token at once, even when
        // Redis is down; a full list stores nothing anywhere.
        list.apply(&entry)?;
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let keep_until = list.keep_until(&entry);
        if keep_until <= now {
            return Ok(()); // matches no valid token any more
        }
        let ttl = Duration::from_secs(keep_until - now);
        let keys = &self.inner.keys;
        let key = keys.key(&entry);
        let written = self
            .inner
            .conn
            .set_with_ttl_and_publish(&key, encode(&entry).as_bytes(), ttl, &keys.channel())
            .await;
        written.map_err(|e| {
            tracing::warn!(
                target: "oauth2_guard::revocation",
                error = %e,
                kind = entry.kind.claim(),
                "revocation not written to Redis: live on this instance, queued for the others"
            );
            // Written back (and published) by the sync task once Redis
            // answers again: after the next full load, or the next ping.
            self.inner.pending.push(key, entry);
            RevocationError::Unavailable
        })
    }
}

/// Revocations go to the local list at once, then to Redis (stored with
/// their own expiry and published to every instance).
///
/// # Errors
/// Besides the list's errors, [`RevocationError::Unavailable`] when Redis
/// could not be written within the timeout: the entry is live on this
/// instance and **queued**; the sync task writes it to Redis and publishes
/// it once Redis answers again (after the reconnect's full load, or on the
/// next health ping), so the other instances see it then. The error tells
/// the caller the revocation is not fleet-wide *yet*. The queue is bounded
/// like the list ([`RevocationConfig::capacity`]); past it the oldest queued
/// entries are dropped with a `warn` (still live here). Revoking again is
/// harmless.
impl RevocationStore for RedisRevocations {
    fn config(&self) -> RevocationConfig {
        self.inner.list.config()
    }

    fn revoke_jti(
        &self,
        jti: &str,
        expires_at: SystemTime,
    ) -> impl Future<Output = Result<(), RevocationError>> + Send {
        self.revoke(self.inner.list.jti_entry(jti, expires_at))
    }

    fn revoke_subject_before(
        &self,
        sub: &str,
        issued_before: SystemTime,
    ) -> impl Future<Output = Result<(), RevocationError>> + Send {
        let e = self
            .inner
            .list
            .before_entry(EntryKind::Subject, sub, issued_before);
        self.revoke(e)
    }

    fn revoke_client_before(
        &self,
        client_id: &str,
        issued_before: SystemTime,
    ) -> impl Future<Output = Result<(), RevocationError>> + Send {
        let e = self
            .inner
            .list
            .before_entry(EntryKind::Client, client_id, issued_before);
        self.revoke(e)
    }
}

/// The request path: one atomic load for the sync state (plus a clock read
/// only while Redis is down), then the local list's check.
impl PostVerify for RedisRevocations {
    fn check(&self, claims: &VerifiedClaims) -> Result<(), Rejection> {
        let inner = &*self.inner;
        if inner.policy == OutagePolicy::RefuseRequests {
            if let Some(down) = inner.health.down_for() {
                if down >= inner.timing.outage_bound {
                    return Err(Rejection::from_reason(Reason::RevocationUnavailable)
                        .with_retry_after(inner.timing.backoff_max.max(Duration::from_secs(1))));
                }
            }
        }
        inner.list.check(claims)
    }
}
