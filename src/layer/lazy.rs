//! Issuers discovered on their first token, from a trusted list.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;

use crate::issuer::{Issuer, IssuerBuilder};

type Factory = dyn Fn(&str) -> Option<IssuerBuilder> + Send + Sync;

/// Issuers the layer may add at run time: discovered on the first token
/// that names them, then cached — for multi-tenant services where tenants
/// (and so issuers) are added without a redeploy.
///
/// Only issuers the factory accepts are ever contacted: a token naming any
/// other `iss` is refused at once with no network traffic. At most
/// [`max_issuers`](Self::max_issuers) are kept (default 16); beyond that new
/// issuers are refused. A failed discovery is retried at most every
/// [`retry_after`](Self::retry_after) (default 30 s); meanwhile its tokens are
/// answered 503.
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
#[derive(Clone)]
pub struct LazyIssuers {
    factory: Arc<Factory>,
    max: usize,
    retry_after: Duration,
}

impl fmt::Debug for LazyIssuers {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LazyIssuers")
            .field("max_issuers", &self.max)
            .field("retry_after", &self.retry_after)
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

    /// How many issuers may be added (default 16, at least 1).
    #[must_use]
    pub fn max_issuers(mut self, n: usize) -> Self {
        self.max = n;
        self
    }

    /// How long after a failed discovery before it is tried again (default 30 s).
    #[must_use]
    pub fn retry_after(mut self, d: Duration) -> Self {
        self.retry_after = d;
        self
    }

    pub(crate) fn max(&self) -> usize {
        self.max
    }
}

type Cell = Arc<tokio::sync::OnceCell<Option<Issuer>>>;

enum Slot {
    Building(Cell),
    Failed(Instant),
}

/// The run-time state: ready issuers (read without a lock) and discoveries
/// in flight (a lock, only taken for an `iss` not yet known).
pub(crate) struct Lazy {
    config: LazyIssuers,
    ready: ArcSwap<Vec<Issuer>>,
    slots: Mutex<HashMap<String, Slot>>,
}

/// What to do with an `iss` no static issuer has.
pub(crate) enum LazyPick {
    Ready(Issuer),
    Discover(Cell, Box<IssuerBuilder>),
    Wait(Cell),
    Refuse,
    CoolingDown(Duration),
}

impl Lazy {
    pub(crate) fn new(config: LazyIssuers) -> Self {
        Self {
            config,
            ready: ArcSwap::from_pointee(Vec::new()),
            slots: Mutex::new(HashMap::new()),
        }
    }

    pub(crate) fn ready(&self, iss: &str) -> Option<Issuer> {
        self.ready.load().iter().find(|i| i.name() == iss).cloned()
    }

    pub(crate) fn pick(&self, iss: &str) -> LazyPick {
        if let Some(i) = self.ready(iss) {
            return LazyPick::Ready(i);
        }
        // The trust decision comes first: an untrusted `iss` never reaches the network.
        let Some(builder) = (self.config.factory)(iss) else {
            return LazyPick::Refuse;
        };
        let Ok(mut slots) = self.slots.lock() else {
            return LazyPick::Refuse;
        };
        if let Some(i) = self.ready(iss) {
            return LazyPick::Ready(i);
        }
        match slots.get(iss) {
            Some(Slot::Building(cell)) => return LazyPick::Wait(cell.clone()),
            Some(Slot::Failed(at)) => {
                let since = at.elapsed();
                if since < self.config.retry_after {
                    return LazyPick::CoolingDown(self.config.retry_after - since);
                }
            }
            None => {}
        }
        let building = slots
            .values()
            .filter(|s| matches!(s, Slot::Building(_)))
            .count();
        if self.ready.load().len() + building >= self.config.max {
            tracing::warn!(
                target: "oauth2_guard::auth",
                issuer = iss,
                max = self.config.max,
                "lazy issuer limit reached; refusing a new issuer"
            );
            return LazyPick::Refuse;
        }
        let cell: Cell = Arc::default();
        slots.insert(iss.to_owned(), Slot::Building(cell.clone()));
        LazyPick::Discover(cell, Box::new(builder))
    }

    /// Discover (once per `iss`, however many requests wait) and record the result.
    pub(crate) async fn discover(
        &self,
        iss: &str,
        cell: Cell,
        builder: Option<Box<IssuerBuilder>>,
    ) -> Option<Issuer> {
        let result = cell
            .get_or_init(|| async move {
                let builder = builder?;
                match builder.build().await {
                    Ok(i) => Some(i),
                    Err(error) => {
                        tracing::warn!(target: "oauth2_guard::auth", issuer = iss, %error, "lazy issuer discovery failed");
                        None
                    }
                }
            })
            .await
            .clone();
        if let Ok(mut slots) = self.slots.lock() {
            match &result {
                Some(issuer) => {
                    if slots.remove(iss).is_some() {
                        self.ready.rcu(|v| {
                            let mut v = Vec::clone(v);
                            if !v.iter().any(|i| i.name() == issuer.name()) {
                                v.push(issuer.clone());
                            }
                            v
                        });
                        tracing::info!(target: "oauth2_guard::auth", issuer = iss, "lazy issuer added");
                    }
                }
                None => {
                    if matches!(slots.get(iss), Some(Slot::Building(c)) if Arc::ptr_eq(c, &cell)) {
                        slots.insert(iss.to_owned(), Slot::Failed(Instant::now()));
                    }
                }
            }
        }
        result
    }
}
