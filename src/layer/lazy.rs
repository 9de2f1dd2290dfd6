//! Issuers discovered on their first token, from a trusted list.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;
use tokio::sync::watch;

use crate::error::ConfigError;
use crate::issuer::{Issuer, IssuerBuilder};
use crate::sync::lock;

type Factory = dyn Fn(&str) -> Option<IssuerBuilder> + Send + Sync;

/// Longest accepted refill interval of [`LazyIssuers::max_discoveries`].
const MAX_REFILL: Duration = Duration::from_secs(24 * 60 * 60);

/// Issuers the layer may add at run time: discovered on the first token
/// that names them, then cached — for multi-tenant services where tenants
/// (and so issuers) are added without a redeploy.
///
/// Only issuers the factory accepts are ever contacted: a token naming any
/// other `iss` is refused at once with no network traffic. A discovery runs
/// in its own task, so a client that disconnects does not abandon it; every
/// request for that issuer waits for the same one.
///
/// | setting | default | why |
/// |---|---|---|
/// | [`max_issuers`](Self::max_issuers) | 16 | each discovered issuer keeps its keys and a refresh task for the life of the layer. Only discovered issuers count: a discovery in flight or failed holds no place, so tokens naming issuers that do not exist cannot lock the real ones out. Beyond the cap new issuers are refused (401 `unknown_issuer`) |
/// | [`retry_after`](Self::retry_after) | 30 s | a failed discovery is not tried again sooner: its tokens are answered 503 with the remaining time as `Retry-After`, so a down IdP is not hammered |
/// | [`max_failed_issuers`](Self::max_failed_issuers) | 64 | failures are remembered for `retry_after`, in a bounded list (oldest forgotten first), so a flood of distinct `iss` values cannot grow memory |
/// | [`max_discoveries`](Self::max_discoveries) | 8 at once, then 1 per 2 s | discovery happens *before* any signature is checked, and costs up to three metadata requests and one JWKS fetch. The budget answers a cold start with a handful of tenants at once, yet holds a flood of unsigned tokens to at most about two requests a second to your IdPs. Over budget: 503 with `Retry-After` (until the next discovery is allowed), no network |
///
/// ```no_run
/// use oauth2_guard::{AuthLayer, Issuer, LazyIssuers};
///
/// # fn f() -> Result<(), oauth2_guard::ConfigError> {
/// // A fixed list of trusted issuers, configured alike.
/// let lazy = LazyIssuers::from_list(
///     ["https://sso.example.com/realms/tenant-a", "https://sso.example.com/realms/tenant-b"],
///     |b| b.audience("orders-api"),
/// );
/// // Or a template: every realm of one Keycloak whose name is a known tenant id.
/// let template = LazyIssuers::new(|iss: &str| {
///     let tenant = iss.strip_prefix("https://sso.example.com/realms/tenant-")?;
///     (tenant.len() <= 32 && tenant.bytes().all(|b| b.is_ascii_alphanumeric()))
///         .then(|| Issuer::builder(iss).audience("orders-api"))
/// })
/// .max_issuers(100);
/// let layer = AuthLayer::builder().lazy_issuers(template).build()?;
/// # let _ = (lazy, layer); Ok(()) }
/// ```
///
/// # Security
/// The factory decides which issuers are trusted: it must accept only
/// issuers you control or have vetted. Never accept an `iss` just because
/// it is a well-formed URL — anyone can run an IdP.
///
/// A token's `iss` is read before its signature can be checked (the keys
/// come from the discovery), so anyone can make the layer discover any
/// issuer the factory accepts. What that costs is bounded: discoveries by
/// the global budget ([`max_discoveries`](Self::max_discoveries)), the
/// issuers kept by [`max_issuers`](Self::max_issuers), the failures
/// remembered by [`max_failed_issuers`](Self::max_failed_issuers) (each
/// forgotten after [`retry_after`](Self::retry_after)). A discovery in
/// flight is owned by the layer, not by the request that started it: it
/// records its own result even if that request is dropped, and dropping the
/// layer cancels it. A template should still accept only names of tenants
/// that can exist (a length and character limit at least, as above).
#[derive(Clone)]
pub struct LazyIssuers {
    factory: Arc<Factory>,
    max: usize,
    retry_after: Duration,
    max_failed: usize,
    burst: u32,
    refill: Duration,
}

impl fmt::Debug for LazyIssuers {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LazyIssuers")
            .field("max_issuers", &self.max)
            .field("retry_after", &self.retry_after)
            .field("max_failed_issuers", &self.max_failed)
            .field("max_discoveries", &(self.burst, self.refill))
            .finish_non_exhaustive()
    }
}

impl LazyIssuers {
    /// Trust the issuers for which `factory` returns a builder.
    pub fn new<F>(factory: F) -> Self
    where
        F: Fn(&str) -> Option<IssuerBuilder> + Send + Sync + 'static,
    {
        Self {
            factory: Arc::new(factory),
            max: 16,
            retry_after: Duration::from_secs(30),
            max_failed: 64,
            burst: 8,
            refill: Duration::from_secs(2),
        }
    }

    /// Trust exactly these issuer URLs, each built with `configure`
    /// (audience, roles, …) applied to `Issuer::builder(url)`.
    pub fn from_list<I, U, C>(issuers: I, configure: C) -> Self
    where
        I: IntoIterator<Item = U>,
        U: Into<String>,
        C: Fn(IssuerBuilder) -> IssuerBuilder + Send + Sync + 'static,
    {
        let list: Vec<String> = issuers.into_iter().map(Into::into).collect();
        Self::new(move |iss| {
            list.iter()
                .any(|l| l == iss)
                .then(|| configure(Issuer::builder(iss)))
        })
    }

    /// How many issuers may be discovered (default 16, at least 1).
    /// Discoveries in flight and failed ones do not count.
    #[must_use]
    pub fn max_issuers(mut self, n: usize) -> Self {
        self.max = n;
        self
    }

    /// How long after a failed discovery before it is tried again
    /// (default 30 s); meanwhile its tokens are answered 503 with the
    /// remaining time as `Retry-After`.
    #[must_use]
    pub fn retry_after(mut self, d: Duration) -> Self {
        self.retry_after = d;
        self
    }

    /// How many failed discoveries are remembered (default 64, at least 1);
    /// beyond that the oldest is forgotten (its issuer may then be tried
    /// again before its `retry_after`, within the discovery budget).
    #[must_use]
    pub fn max_failed_issuers(mut self, n: usize) -> Self {
        self.max_failed = n;
        self
    }

    /// The discovery budget, shared by all issuers: at most `burst`
    /// discoveries at once, then one more every `per` (default 8, then one
    /// per 2 s). `burst` is at least 1, `per` between 1 ms and one day.
    #[must_use]
    pub fn max_discoveries(mut self, burst: u32, per: Duration) -> Self {
        self.burst = burst;
        self.refill = per;
        self
    }

    /// The settings' ranges, checked when the layer is built.
    pub(crate) fn validate(&self) -> Result<(), ConfigError> {
        let out_of_range = |setting, reason| Err(ConfigError::OutOfRange { setting, reason });
        if self.max == 0 {
            return out_of_range("lazy_issuers.max_issuers", "must be at least 1");
        }
        if self.max_failed == 0 {
            return out_of_range("lazy_issuers.max_failed_issuers", "must be at least 1");
        }
        if self.burst == 0 {
            return out_of_range("lazy_issuers.max_discoveries", "burst must be at least 1");
        }
        if self.refill < Duration::from_millis(1) || self.refill > MAX_REFILL {
            return out_of_range(
                "lazy_issuers.max_discoveries",
                "the refill interval must be between 1 ms and one day",
            );
        }
        Ok(())
    }
}

/// How a discovery ended, as its waiters see it.
#[derive(Debug, Clone, Copy)]
enum Progress {
    Running,
    /// Failed at this instant: answer 503 until `retry_after` has passed.
    Failed(Instant),
    /// Added, refused by `max_issuers`, or abandoned: look the issuer up again.
    Finished,
}

/// A discovery to wait for (obtained from [`Lazy::pick`]).
pub(crate) struct Discovery(watch::Receiver<Progress>);

/// The abort handle of a discovery task: dropping the slot (or the whole
/// state, with the layer) cancels the discovery.
struct Task(Option<tokio::task::AbortHandle>);

impl Task {
    /// The task is ending by itself: nothing to cancel.
    fn disarm(mut self) {
        self.0 = None;
    }
}

impl Drop for Task {
    fn drop(&mut self) {
        if let Some(task) = self.0.take() {
            task.abort();
        }
    }
}

enum Slot {
    Building {
        id: u64,
        done: watch::Receiver<Progress>,
        task: Task,
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
                return LazyPick::Wait(Discovery(done.clone()));
            }
            Some(Slot::Building { .. }) => {
                state.slots.remove(iss);
            }
            Some(Slot::Failed(at)) => return LazyPick::Unavailable(self.cooldown_left(*at)),
            None => {}
        }
        if self.ready.load().len() >= self.config.max {
            tracing::warn!(
                target: "oauth2_guard::auth",
                issuer = iss,
                max = self.config.max,
                "lazy issuer limit reached; refusing a new issuer"
            );
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
                task: Task(None),
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
                *task = Task(Some(spawned.abort_handle()));
            }
        }
        LazyPick::Wait(Discovery(done))
    }

    /// Wait for a discovery to end. `Some(wait)`: it failed, answer 503 with
    /// `Retry-After: wait`; `None`: look the issuer up again.
    pub(crate) async fn wait(&self, Discovery(mut done): Discovery) -> Option<Duration> {
        let progress = match done.wait_for(|p| !matches!(p, Progress::Running)).await {
            Ok(p) => *p,
            Err(_) => Progress::Finished,
        };
        match progress {
            Progress::Failed(at) => Some(self.cooldown_left(at)),
            Progress::Running | Progress::Finished => None,
        }
    }

    /// The rest of a failure's cooldown: `retry_after` is the one source.
    fn cooldown_left(&self, failed_at: Instant) -> Duration {
        self.config.retry_after.saturating_sub(failed_at.elapsed())
    }

    /// Record how discovery `id` of `iss` ended (`None`: it failed).
    fn record(&self, iss: &str, id: u64, issuer: Option<Issuer>) -> Progress {
        let mut state = lock(&self.state);
        match state.slots.get(iss) {
            Some(Slot::Building { id: current, .. }) if *current == id => {}
            // Superseded: its successor records the outcome.
            _ => return Progress::Finished,
        }
        if let Some(Slot::Building { task, .. }) = state.slots.remove(iss) {
            task.disarm();
        }
        let Some(issuer) = issuer else {
            let now = Instant::now();
            state.insert_failed(iss, now, self.config.max_failed, self.config.retry_after);
            return Progress::Failed(now);
        };
        if self.ready.load().len() >= self.config.max {
            // Several discoveries ran at once and the others filled the cap.
            tracing::warn!(
                target: "oauth2_guard::auth",
                issuer = iss,
                max = self.config.max,
                "lazy issuer limit reached; dropping a discovered issuer"
            );
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
            assert!(lazy.wait(discovery).await.is_some(), "it failed");
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
        let LazyPick::Wait(Discovery(mut done)) = lazy.pick(&iss) else {
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

    #[test]
    fn settings_are_validated() {
        let ok = || LazyIssuers::new(|_: &str| None);
        assert!(ok().validate().is_ok());
        for bad in [
            ok().max_issuers(0),
            ok().max_failed_issuers(0),
            ok().max_discoveries(0, Duration::from_secs(1)),
            ok().max_discoveries(1, Duration::ZERO),
            ok().max_discoveries(1, MAX_REFILL + Duration::from_secs(1)),
        ] {
            assert!(matches!(
                bad.validate(),
                Err(ConfigError::OutOfRange { .. })
            ));
        }
    }
}
