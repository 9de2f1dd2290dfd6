//! Issuers discovered on their first token, from a trusted list.
//!
//! By concern: `config` holds the public settings, [`LazyIssuers`]; this
//! file holds the run-time state (ready issuers, discoveries in flight,
//! failures, the discovery budget) and the discovery task.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;
use tokio::sync::watch;

use crate::issuer::{Issuer, IssuerBuilder};
use crate::sync::lock;
use crate::task::AbortOnDrop;

mod config;

pub use config::LazyIssuers;

/// How a discovery ended, as its waiters see it.
#[derive(Debug, Clone, Copy)]
enum Progress {
    Running,
    /// Failed at this instant: answer 503 until `retry_after` has passed.
    Failed(Instant),
    /// Added, refused by `max_issuers`, or abandoned: look the issuer up again.
    Finished,
}

/// A discovery to wait for (obtained from [`Lazy::pick`]), with the
/// configured `retry_after` that a failure's cooldown is counted from.
pub(crate) struct Discovery(watch::Receiver<Progress>, Duration);

enum Slot {
    Building {
        id: u64,
        done: watch::Receiver<Progress>,
        /// Dropping the slot (or the whole state, with the layer) cancels
        /// the discovery; `None` until the task is spawned.
        task: Option<AbortOnDrop>,
    },
    Failed(Instant),
}

/// GCRA token bucket: `tat` is the theoretical arrival time of the next
/// discovery; up to `burst − 1` refill intervals ahead of now is allowed.
#[derive(Default)]
struct Bucket {
    tat: Option<Instant>,
}

impl Bucket {
    /// Take one discovery, or say how long until one is allowed.
    fn take(&mut self, now: Instant, burst: u32, per: Duration) -> Result<(), Duration> {
        let tat = self.tat.map_or(now, |t| t.max(now));
        let tolerance = per.saturating_mul(burst.saturating_sub(1));
        let ahead = tat.saturating_duration_since(now);
        if ahead > tolerance {
            return Err(ahead - tolerance);
        }
        // Fail closed should the clock overflow (`per` is at most a day).
        self.tat = Some(tat.checked_add(per).ok_or(per)?);
        Ok(())
    }
}

struct State {
    slots: HashMap<String, Slot>,
    bucket: Bucket,
    next_id: u64,
}

impl State {
    /// Forget failures older than `retry_after`.
    fn prune(&mut self, now: Instant, retry_after: Duration) {
        self.slots.retain(|_, slot| match slot {
            Slot::Failed(at) => now.saturating_duration_since(*at) < retry_after,
            Slot::Building { .. } => true,
        });
    }

    /// Remember a failure, forgetting the oldest ones beyond `max`.
    fn insert_failed(&mut self, iss: &str, at: Instant, max: usize, retry_after: Duration) {
        self.prune(at, retry_after);
        let mut failed = self.failed();
        while failed >= max {
            let oldest = self
                .slots
                .iter()
                .filter_map(|(k, s)| match s {
                    Slot::Failed(at) => Some((*at, k)),
                    Slot::Building { .. } => None,
                })
                .min()
                .map(|(_, k)| k.clone());
            let Some(oldest) = oldest else { break };
            self.slots.remove(&oldest);
            failed -= 1;
        }
        self.slots.insert(iss.to_owned(), Slot::Failed(at));
    }

    fn failed(&self) -> usize {
        self.slots
            .values()
            .filter(|s| matches!(s, Slot::Failed(_)))
            .count()
    }
}

/// The run-time state: ready issuers (read without a lock), and discoveries
/// in flight, recent failures and the discovery budget (a lock, only taken
/// for an `iss` not yet known).
pub(crate) struct Lazy {
    config: LazyIssuers,
    ready: ArcSwap<Vec<Issuer>>,
    /// Consistent after every statement, so a panic elsewhere while it was
    /// held does not make it unusable ([`lock`] ignores poisoning).
    state: Mutex<State>,
}

/// What to do with an `iss` no static issuer has.
pub(crate) enum LazyPick {
    Ready(Issuer),
    /// A discovery is in flight (maybe started just now): wait for it.
    Wait(Discovery),
    /// Not trusted, or `max_issuers` reached: 401, no network.
    Refuse,
    /// Failed recently, or over the discovery budget: 503 with this `Retry-After`.
    Unavailable(Duration),
}

impl Lazy {
    pub(crate) fn new(config: LazyIssuers) -> Self {
        Self {
            config,
            ready: ArcSwap::from_pointee(Vec::new()),
            state: Mutex::new(State {
                slots: HashMap::new(),
                bucket: Bucket::default(),
                next_id: 0,
            }),
        }
    }

    pub(crate) fn ready(&self, iss: &str) -> Option<Issuer> {
        self.ready.load().iter().find(|i| i.name() == iss).cloned()
    }

    /// Whether `max_issuers` are discovered already; if so, says so (with
    /// what is done about `iss`) in one WARN event.
    fn at_limit(&self, iss: &str, action: &'static str) -> bool {
        let full = self.ready.load().len() >= self.config.max;
        if full {
            tracing::warn!(
                target: "oauth2_guard::auth",
                issuer = iss,
                max = self.config.max,
                action,
                "lazy issuer limit reached"
            );
        }
        full
    }

    /// No I/O: a discovery, when one is started, runs in a task of its own.
    pub(crate) fn pick(self: &Arc<Self>, iss: &str) -> LazyPick {
        if let Some(i) = self.ready(iss) {
            return LazyPick::Ready(i);
        }
        // The trust decision comes first: an untrusted `iss` never reaches the network.
        let Some(builder) = (self.config.factory)(iss) else {
            return LazyPick::Refuse;
        };
        let mut state = lock(&self.state);
        if let Some(i) = self.ready(iss) {
            return LazyPick::Ready(i);
        }
        let now = Instant::now();
        state.prune(now, self.config.retry_after);
        match state.slots.get(iss) {
            // A task that ended without recording (it cannot, but if it did)
            // leaves a closed channel: start afresh rather than wait forever.
            Some(Slot::Building { done, .. }) if done.has_changed().is_ok() => {
                return LazyPick::Wait(Discovery(done.clone(), self.config.retry_after));
            }
            Some(Slot::Building { .. }) => {
                state.slots.remove(iss);
            }
            Some(Slot::Failed(at)) => return LazyPick::Unavailable(self.cooldown_left(*at)),
            None => {}
        }
        if self.at_limit(iss, "refusing a new issuer") {
            return LazyPick::Refuse;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            tracing::warn!(target: "oauth2_guard::auth", issuer = iss, "no Tokio runtime to discover a lazy issuer");
            return LazyPick::Refuse;
        };
        if let Err(wait) = state
            .bucket
            .take(now, self.config.burst, self.config.refill)
        {
            tracing::debug!(target: "oauth2_guard::auth", issuer = iss, "lazy discovery budget spent");
            return LazyPick::Unavailable(wait);
        }
        state.next_id += 1;
        let id = state.next_id;
        let (tx, done) = watch::channel(Progress::Running);
        state.slots.insert(
            iss.to_owned(),
            Slot::Building {
                id,
                done: done.clone(),
                task: None,
            },
        );
        drop(state);
        // Spawned without the lock held: a runtime that is shutting down
        // drops the task at once, and its recorder takes the lock.
        let recorder = Recorder {
            lazy: Arc::downgrade(self),
            iss: iss.to_owned(),
            id,
            issuer: None,
            done: tx,
        };
        let spawned = runtime.spawn(discover(recorder, builder));
        if let Some(Slot::Building {
            id: current, task, ..
        }) = lock(&self.state).slots.get_mut(iss)
        {
            if *current == id {
                *task = Some(AbortOnDrop::new(spawned.abort_handle()));
            }
        }
        LazyPick::Wait(Discovery(done, self.config.retry_after))
    }

    /// The rest of a failure's cooldown: `retry_after` is the one source.
    fn cooldown_left(&self, failed_at: Instant) -> Duration {
        cooldown_left(self.config.retry_after, failed_at)
    }

    /// Record how discovery `id` of `iss` ended (`None`: it failed).
    fn record(&self, iss: &str, id: u64, issuer: Option<Issuer>) -> Progress {
        let mut state = lock(&self.state);
        match state.slots.get(iss) {
            Some(Slot::Building { id: current, .. }) if *current == id => {}
            // Superseded: its successor records the outcome.
            _ => return Progress::Finished,
        }
        if let Some(Slot::Building {
            task: Some(task), ..
        }) = state.slots.remove(iss)
        {
            task.disarm();
        }
        let Some(issuer) = issuer else {
            let now = Instant::now();
            state.insert_failed(iss, now, self.config.max_failed, self.config.retry_after);
            return Progress::Failed(now);
        };
        // Several discoveries may have run at once and the others filled the cap.
        if self.at_limit(iss, "dropping a discovered issuer") {
            return Progress::Finished;
        }
        self.ready.rcu(|v| {
            let mut v = Vec::clone(v);
            if !v.iter().any(|i| i.name() == issuer.name()) {
                v.push(issuer.clone());
            }
            v
        });
        tracing::info!(target: "oauth2_guard::auth", issuer = iss, "lazy issuer added");
        Progress::Finished
    }

    #[cfg(test)]
    fn slots(&self) -> (usize, usize) {
        let state = lock(&self.state);
        (state.slots.len(), state.failed())
    }
}

fn cooldown_left(retry_after: Duration, failed_at: Instant) -> Duration {
    retry_after.saturating_sub(failed_at.elapsed())
}

impl Discovery {
    /// Wait for the discovery to end. `Some(wait)`: it failed, answer 503
    /// with `Retry-After: wait`; `None`: look the issuer up again.
    pub(crate) async fn wait(self) -> Option<Duration> {
        let Discovery(mut done, retry_after) = self;
        let progress = match done.wait_for(|p| !matches!(p, Progress::Running)).await {
            Ok(p) => *p,
            Err(_) => Progress::Finished,
        };
        match progress {
            Progress::Failed(at) => Some(cooldown_left(retry_after, at)),
            Progress::Running | Progress::Finished => None,
        }
    }
}

/// Records the outcome of one discovery when dropped — so however the task
/// ends (done, panicked, cancelled) its slot is released and its waiters
/// are woken.
struct Recorder {
    lazy: Weak<Lazy>,
    iss: String,
    id: u64,
    issuer: Option<Issuer>,
    done: watch::Sender<Progress>,
}

impl Drop for Recorder {
    fn drop(&mut self) {
        let progress = match self.lazy.upgrade() {
            Some(lazy) => lazy.record(&self.iss, self.id, self.issuer.take()),
            None => Progress::Finished,
        };
        self.done.send_replace(progress);
    }
}

/// The discovery task.
async fn discover(mut recorder: Recorder, builder: IssuerBuilder) {
    match builder.build().await {
        Ok(issuer) => recorder.issuer = Some(issuer),
        Err(error) => tracing::warn!(
            target: "oauth2_guard::auth",
            issuer = recorder.iss,
            %error,
            "lazy issuer discovery failed"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_allows_a_burst_then_one_per_interval() {
        let per = Duration::from_secs(2);
        let t0 = Instant::now();
        let mut b = Bucket::default();
        for _ in 0..3 {
            assert_eq!(b.take(t0, 3, per), Ok(()));
        }
        assert_eq!(b.take(t0, 3, per), Err(per));
        assert_eq!(b.take(t0 + per / 2, 3, per), Err(per / 2));
        assert_eq!(b.take(t0 + per, 3, per), Ok(()));
        assert_eq!(b.take(t0 + per, 3, per), Err(per));
        // Idle time refills up to the burst, never beyond.
        let later = t0 + per * 100;
        for _ in 0..3 {
            assert_eq!(b.take(later, 3, per), Ok(()));
        }
        assert!(b.take(later, 3, per).is_err());
    }

    #[test]
    fn failures_are_bounded_oldest_first_and_expire() {
        let retry = Duration::from_secs(30);
        let t0 = Instant::now();
        let mut s = State {
            slots: HashMap::new(),
            bucket: Bucket::default(),
            next_id: 0,
        };
        for n in 0..100u64 {
            s.insert_failed(&format!("i{n}"), t0 + Duration::from_millis(n), 4, retry);
            assert!(s.slots.len() <= 4);
        }
        let mut kept: Vec<_> = s.slots.keys().cloned().collect();
        kept.sort();
        assert_eq!(kept, ["i96", "i97", "i98", "i99"]);
        // i96 and i97 are 30 s old by then; i98 and i99 are not.
        s.prune(t0 + Duration::from_millis(97) + retry, retry);
        let mut kept: Vec<_> = s.slots.keys().cloned().collect();
        kept.sort();
        assert_eq!(kept, ["i98", "i99"]);
    }

    /// A flood of distinct trusted `iss` whose discoveries fail: the slot
    /// map never holds more than the failed bound (plus the discoveries in
    /// flight), and no slot outlives its discovery.
    #[tokio::test]
    async fn flood_of_failing_discoveries_keeps_the_slot_map_bounded() {
        let closed = std::net::TcpListener::bind(("127.0.0.1", 0)).unwrap();
        let base = format!("http://{}", closed.local_addr().unwrap());
        drop(closed);
        let prefix = format!("{base}/t/");
        let config = LazyIssuers::new(move |iss: &str| {
            let http = crate::issuer::HttpConfig::default().allow_loopback_http();
            iss.starts_with(&prefix)
                .then(|| Issuer::builder(iss).audience("orders-api").http(http))
        })
        .max_failed_issuers(8)
        .max_discoveries(1000, Duration::from_millis(1));
        config.validate().unwrap();
        let lazy = Arc::new(Lazy::new(config));
        for n in 0..40 {
            let iss = format!("{base}/t/{n}");
            let LazyPick::Wait(discovery) = lazy.pick(&iss) else {
                panic!("a discovery for {iss}");
            };
            assert!(discovery.wait().await.is_some(), "it failed");
            let (slots, failed) = lazy.slots();
            assert!(
                slots <= 8 && slots == failed,
                "{slots} slots, {failed} failed"
            );
            // Remembered: no second discovery during the cooldown.
            assert!(matches!(lazy.pick(&iss), LazyPick::Unavailable(_)));
        }
        // The oldest were forgotten: trying one again is a new discovery.
        assert!(matches!(
            lazy.pick(&format!("{base}/t/0")),
            LazyPick::Wait(_)
        ));
    }

    /// Discoveries belong to the layer: dropping it cancels those in flight
    /// (here one stuck on a listener that never answers).
    #[tokio::test]
    async fn dropping_the_state_cancels_discoveries_in_flight() {
        let hole = tokio::net::TcpListener::bind(("127.0.0.1", 0))
            .await
            .unwrap();
        let iss = format!("http://{}/t", hole.local_addr().unwrap());
        let lazy = Arc::new(Lazy::new(LazyIssuers::new(|iss: &str| {
            let http = crate::issuer::HttpConfig::default().allow_loopback_http();
            Some(Issuer::builder(iss).audience("orders-api").http(http))
        })));
        let LazyPick::Wait(Discovery(mut done, _)) = lazy.pick(&iss) else {
            panic!("a discovery");
        };
        let _accepted = tokio::time::timeout(Duration::from_secs(5), hole.accept())
            .await
            .expect("the discovery connects")
            .unwrap();
        drop(lazy);
        let ended = tokio::time::timeout(
            Duration::from_secs(1),
            done.wait_for(|p| !matches!(p, Progress::Running)),
        )
        .await;
        assert!(ended.is_ok(), "the discovery task was cancelled");
    }
}
