//! The background task: subscribe, load everything, apply each change;
//! on any failure reconnect with backoff and load everything again.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use futures_util::StreamExt;
use redis::aio::PubSubSink;
use redis::RedisError;
use tokio::sync::oneshot;
use tokio::time::{interval_at, timeout, Instant, MissedTickBehavior};

use super::health::Health;
use super::message::{decode, encode, Keys};
use super::pending::Pending;
use super::{OutagePolicy, Timing};
use crate::redis::RedisConn;
use crate::revocation::RevocationList;

/// Values read per `SCAN` round trip.
const SCAN_BATCH: usize = 1000;
/// Entries written per pipeline when writing back.
const WRITE_BATCH: usize = 500;

pub(super) struct Syncer {
    pub(super) conn: RedisConn,
    pub(super) list: RevocationList,
    pub(super) keys: Keys,
    pub(super) health: Arc<Health>,
    pub(super) timing: Timing,
    pub(super) policy: OutagePolicy,
    pub(super) pending: Arc<Pending>,
}

/// Why a session ended.
enum End {
    Redis(RedisError),
    Closed,
    PingTimeout,
}

impl std::fmt::Display for End {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            End::Redis(e) => write!(f, "{e}"),
            End::Closed => f.write_str("subscription connection closed"),
            End::PingTimeout => f.write_str("no answer to PING"),
        }
    }
}

impl From<RedisError> for End {
    fn from(e: RedisError) -> Self {
        End::Redis(e)
    }
}

impl Syncer {
    /// Runs until aborted. `first` is told after the first full load.
    pub(super) async fn run(self, mut first: Option<oneshot::Sender<()>>) {
        let mut backoff = self.timing.backoff_min;
        let mut bound_logged = false;
        loop {
            let end = self.session(&mut first).await;
            if self.health.lost() {
                // A session that got as far as syncing: a new outage.
                backoff = self.timing.backoff_min;
                bound_logged = false;
                tracing::warn!(
                    target: "oauth2_guard::revocation",
                    error = %end,
                    "revocation sync with Redis lost; serving the last snapshot until it is back"
                );
            } else {
                tracing::debug!(
                    target: "oauth2_guard::revocation",
                    error = %end,
                    retry_in_ms = backoff.as_millis() as u64,
                    "revocation sync with Redis: connect failed"
                );
            }
            if !bound_logged && self.health.down_for() >= Some(self.timing.outage_bound) {
                bound_logged = true;
                let down_for_s = self.timing.outage_bound.as_secs();
                match self.policy {
                    OutagePolicy::RefuseRequests => tracing::warn!(
                        target: "oauth2_guard::revocation",
                        down_for_s,
                        "Redis unreachable past the outage bound: refusing requests with 503 revocation_unavailable"
                    ),
                    OutagePolicy::KeepServing => tracing::warn!(
                        target: "oauth2_guard::revocation",
                        down_for_s,
                        "Redis unreachable past the outage bound: still serving; revocations made elsewhere are not seen"
                    ),
                }
            }
            tokio::time::sleep(backoff).await;
            backoff = backoff.saturating_mul(2).min(self.timing.backoff_max);
        }
    }

    /// One connection's life: subscribe first, then load everything (so a
    /// change published during the load is not lost), then follow.
    async fn session(&self, first: &mut Option<oneshot::Sender<()>>) -> End {
        let pubsub = match self.conn.subscribe(&self.keys.channel()).await {
            Ok(p) => p,
            Err(e) => return e.into(),
        };
        let (mut sink, mut stream) = pubsub.split();
        let loaded = match self.full_load().await {
            Ok(loaded) => loaded,
            Err(e) => return e,
        };
        let was_down = self.health.down_for();
        self.health.synced();
        // After the load, so what Redis holds is known: the revocations
        // queued during the outage, and whatever this instance holds that
        // Redis lost (restarted empty), go back to Redis and to the others.
        self.write_back(loaded.as_ref()).await;
        if let Some(tx) = first.take() {
            let _ = tx.send(());
        } else if let Some(down) = was_down {
            tracing::info!(
                target: "oauth2_guard::revocation",
                down_ms = down.as_millis() as u64,
                entries = self.list.len(),
                "revocation sync with Redis restored; full load done"
            );
        }
        let start = Instant::now();
        let mut ping = interval_at(start + self.timing.ping, self.timing.ping);
        ping.set_missed_tick_behavior(MissedTickBehavior::Delay);
        let mut resync = interval_at(start + self.timing.resync, self.timing.resync);
        resync.set_missed_tick_behavior(MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                msg = stream.next() => match msg {
                    Some(msg) => self.apply(msg.get_payload_bytes()),
                    None => return End::Closed,
                },
                _ = ping.tick() => {
                    if let Err(e) = self.ping(&mut sink).await {
                        return e;
                    }
                    self.health.synced();
                    // A revoke whose write failed while the subscription
                    // stayed up (or raced the reconnect) is retried here.
                    if !self.pending.is_empty() {
                        self.write_back(None).await;
                    }
                }
                _ = resync.tick() => {
                    if let Err(e) = self.full_load().await {
                        return e;
                    }
                    self.health.synced();
                }
            }
        }
    }

    async fn ping(&self, sink: &mut PubSubSink) -> Result<(), End> {
        match timeout(self.conn.timeout(), sink.ping::<redis::Value>()).await {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(e)) => Err(e.into()),
            Err(_) => Err(End::PingTimeout),
        }
    }

    fn apply(&self, payload: &[u8]) {
        match decode(payload) {
            Ok(entry) => {
                if let Err(e) = self.list.apply(&entry) {
                    tracing::warn!(
                        target: "oauth2_guard::revocation",
                        error = %e,
                        "revocation from Redis not applied"
                    );
                }
            }
            Err(e) => tracing::warn!(
                target: "oauth2_guard::revocation",
                error = %e,
                "revocation message from Redis skipped"
            ),
        }
    }

    /// Writes the queued revocations back to Redis (stored with their
    /// expiry and published), and, with `loaded` (the keys a complete full
    /// load found), every live local entry whose key Redis does not hold.
    /// Entries are idempotent and carry their own expiry, so writing one
    /// Redis already has, or that another instance writes back too, is
    /// harmless. A failure keeps the queue for the next try.
    async fn write_back(&self, loaded: Option<&HashSet<String>>) {
        let queued = self.pending.take();
        let n_queued = queued.len();
        let mut items: Vec<_> = queued;
        if let Some(loaded) = loaded {
            let seen: HashSet<&str> = items.iter().map(|(k, _)| k.as_str()).collect();
            let missing: Vec<_> = (self.list.entries().into_iter())
                .map(|e| (self.keys.key(&e), e))
                .filter(|(k, _)| !loaded.contains(k) && !seen.contains(k.as_str()))
                .collect();
            items.extend(missing);
        }
        if items.is_empty() {
            return;
        }
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let mut written = 0usize;
        let mut failed = None;
        let mut rest = items.as_slice();
        while !rest.is_empty() {
            let (batch, tail) = rest.split_at(rest.len().min(WRITE_BATCH));
            let cmds: Vec<_> = (batch.iter())
                .filter_map(|(key, e)| {
                    let keep_until = self.list.keep_until(e);
                    (keep_until > now).then(|| {
                        let ttl = Duration::from_secs(keep_until - now);
                        (key.clone(), encode(e), ttl)
                    })
                })
                .collect();
            if !cmds.is_empty() {
                let sent = (self.conn)
                    .set_many_with_ttl_and_publish(&cmds, &self.keys.channel())
                    .await;
                if let Err(e) = sent {
                    failed = Some(e);
                    break;
                }
            }
            written += batch.len();
            rest = tail;
        }
        // Queued entries come first in `items`: the unwritten ones of them
        // go back to the queue (write-backs of the list are redone anyway).
        if written < n_queued {
            self.pending.restore(items[written..n_queued].to_vec());
        }
        match failed {
            None => tracing::info!(
                target: "oauth2_guard::revocation",
                queued = n_queued,
                missing_from_redis = items.len() - n_queued,
                "revocations written back to Redis"
            ),
            // Warn once per reconnect; the retries on every ping stay quiet.
            Some(e) if loaded.is_some() => tracing::warn!(
                target: "oauth2_guard::revocation",
                error = %e,
                still_queued = n_queued.saturating_sub(written),
                "revocations not written back to Redis; retried on the next ping or reconnect"
            ),
            Some(e) => tracing::debug!(
                target: "oauth2_guard::revocation",
                error = %e,
                still_queued = n_queued.saturating_sub(written),
                "revocations not written back to Redis; retried on the next ping or reconnect"
            ),
        }
    }

    /// Every entry in Redis, merged into the local list in one write; the
    /// keys found, unless the load was truncated.
    async fn full_load(&self) -> Result<Option<HashSet<String>>, End> {
        let limit = self.list.config().capacity_value().saturating_mul(2);
        let (values, truncated) = self
            .conn
            .scan_values(&self.keys.pattern(), SCAN_BATCH, limit)
            .await?;
        let mut bad = 0usize;
        let entries: Vec<_> = values
            .iter()
            .filter_map(|v| decode(v).map_err(|_| bad += 1).ok())
            .collect();
        let dropped = self.list.apply_all(&entries);
        let loaded = (!truncated).then(|| entries.iter().map(|e| self.keys.key(e)).collect());
        if bad > 0 || dropped > 0 || truncated {
            tracing::warn!(
                target: "oauth2_guard::revocation",
                skipped_malformed = bad,
                dropped_list_full = dropped,
                truncated,
                "revocation full load from Redis incomplete"
            );
        }
        Ok(loaded)
    }
}
