//! Multi-tenant issuers: one issuer *template*, one shared key set, and the
//! policy that decides which tenants this service serves.
//!
//! A SaaS API registered as a multi-tenant app (Microsoft Entra ID `common`
//! / `organizations`) receives tokens from every customer's tenant: the
//! `iss` differs per tenant (`https://login.microsoftonline.com/{tid}/v2.0`),
//! the signing keys are one set shared by all of them. An issuer built with
//! [`IssuerBuilder::tenants`](crate::IssuerBuilder::tenants) (or the
//! [`Entra::multi_tenant`](crate::presets::Entra::multi_tenant) preset)
//! accepts a token only when
//!
//! 1. its signature verifies with the shared keys and its claims pass the
//!    issuer's checks (audience, lifetime, …);
//! 2. its `iss` is exactly the template with the token's **own** tenant claim
//!    (`tid`) substituted — a token of tenant A naming tenant B's issuer is
//!    refused ([`Reason::TenantMismatch`](crate::Reason::TenantMismatch));
//! 3. its tenant passes the [`TenantPolicy`] — else
//!    [`Reason::TenantNotAllowed`](crate::Reason::TenantNotAllowed) (401
//!    `invalid_token`).
//!
//! The policy is consulted only for tokens whose signature verified, so a
//! forged token can never trigger a tenant lookup.
//!
//! ```no_run
//! # async fn run() -> Result<(), oauth2_guard::ConfigError> {
//! use oauth2_guard::presets::Entra;
//! use oauth2_guard::tenant::TenantPolicy;
//!
//! // Two customers, known at start-up.
//! let entra = Entra::multi_tenant()
//!     .tenant_policy(TenantPolicy::allow([
//!         "72f988bf-86f1-41af-91ab-2d7cd011db47",
//!         "0e3e2e8a-0000-4000-8000-00000000a001",
//!     ]))
//!     .audience("api://orders")
//!     .build()
//!     .await?;
//!
//! // Or: look new tenants up in the customer table (cached, one lookup per
//! // new tenant at a time; a known tenant never waits for one).
//! let lookup = TenantPolicy::lookup(|tenant: String| async move {
//!     // e.g. `SELECT 1 FROM customers WHERE entra_tenant = $1`
//!     tenant.starts_with("0e3e2e8a-")
//! });
//!
//! // A lookup that can fail: `Err` is a 503, logged and never cached.
//! #[derive(Debug)]
//! struct DbDown;
//! impl std::fmt::Display for DbDown {
//!     fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
//!         f.write_str("customer database unreachable")
//!     }
//! }
//! impl std::error::Error for DbDown {}
//! let fallible = TenantPolicy::lookup_fallible(|tenant: String| async move {
//!     if tenant.is_empty() { Err(DbDown) } else { Ok(tenant.starts_with("0e3e2e8a-")) }
//! });
//! # let _ = (entra, lookup, fallible); Ok(()) }
//! ```
//!
//! # Security
//! There is no default policy: a template issuer without one is refused by
//! `build` ([`ConfigError::MissingSetting`]). Accepting every tenant is
//! spelled [`TenantPolicy::any_tenant_dangerous`]: with Entra, *anyone* can
//! create a tenant in minutes and obtain tokens for a multi-tenant app, so
//! such a policy only makes sense when every handler scopes its data by
//! [`VerifiedClaims::tenant`](crate::VerifiedClaims::tenant) itself.
//!
//! A token accepted once is kept in the layer's verified-token cache; each
//! cache hit asks the policy again (synchronously, for a known tenant), so
//! a tenant refused later is refused at once for an allow-list. For a
//! lookup, it is refused once a lookup has said so: the first request after
//! the cached answer's `allowed_ttl` is still served from the cache (stale,
//! within [`TenantLookupConfig::stale_grace`]) and starts the background
//! lookup whose answer the next requests get. While lookups keep failing,
//! the stale answer holds until its grace ends; then requests wait for a
//! lookup (503 if it fails).

mod lookup;
pub(crate) mod template;

use std::collections::HashSet;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use crate::error::ConfigError;

pub(crate) use lookup::{Check, Outcome};
use lookup::{Fallible, Infallible};

/// The tenant id of personal Microsoft accounts (Outlook.com, Xbox, …):
/// every token of a consumer account carries `tid` =
/// `9188040d-6c67-4c5b-b112-36a304b66dad`. Entra's `organizations` audience
/// is every tenant *but* this one; `consumers` is this one only.
pub const MICROSOFT_PERSONAL_ACCOUNTS_TENANT: &str = "9188040d-6c67-4c5b-b112-36a304b66dad";

/// An asynchronous tenant check: is `tenant` one of this service's customers?
///
/// Implemented for every closure `Fn(String) -> impl Future<Output = bool>`
/// (`Send + Sync + 'static`, the future `Send + 'static`), so a database
/// query can be passed directly to [`TenantPolicy::lookup`].
///
/// # Errors and time
/// Answer `false` to refuse. A lookup that can fail (a database error)
/// belongs in [`TenantPolicy::lookup_fallible`], whose `Err` is a 503
/// rather than a cached refusal. The call is bounded by
/// [`TenantLookupConfig::timeout`]; a lookup that takes longer is not
/// cached, and a request waiting for it is answered 503
/// (`tenant_lookup_unavailable`, with `Retry-After`), so the next request
/// for that tenant looks it up again.
pub trait TenantLookup: Send + Sync + 'static {
    /// Whether `tenant` (the token's tenant claim, already checked against
    /// the signature and the issuer template) may use this service.
    fn is_allowed(&self, tenant: &str) -> Pin<Box<dyn Future<Output = bool> + Send + 'static>>;
}

impl<F, Fut> TenantLookup for F
where
    F: Fn(String) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = bool> + Send + 'static,
{
    fn is_allowed(&self, tenant: &str) -> Pin<Box<dyn Future<Output = bool> + Send + 'static>> {
        Box::pin(self(tenant.to_owned()))
    }
}

/// How the results of a [`TenantLookup`] are cached and bounded.
///
/// | setting | default | why |
/// |---|---|---|
/// | `capacity` | 10 000 tenants | bounded memory, whatever the number of tenants that show up |
/// | `allowed_ttl` | 10 min | a known tenant costs no lookup; an offboarded one is refused once the first lookup after these 10 min has answered |
/// | `denied_ttl` | 1 min | a refused tenant costs at most one lookup a minute; a new customer is served within a minute of signing up (and one lookup) |
/// | `stale_grace` | one more TTL of the answer (`allowed_ttl` or `denied_ttl`) | past its TTL an answer is still given at once while **one** background lookup refreshes it, so a known tenant never waits for a lookup; if refreshes fail or time out, the last answer holds for at most one more TTL (no outage for a database blip, no answer older than twice the TTL), then requests wait (and get 503) as for a new tenant. `Duration::ZERO`: wait at every expiry |
/// | `timeout` | 5 s | a slow customer database answers 503, never a hung request |
/// | `max_in_flight` | 64 | a flood of new tenants cannot exhaust the database's connections (beyond: 503) |
#[derive(Debug, Clone)]
pub struct TenantLookupConfig {
    pub(crate) capacity: usize,
    pub(crate) allowed_ttl: Duration,
    pub(crate) denied_ttl: Duration,
    pub(crate) timeout: Duration,
    pub(crate) max_in_flight: usize,
    /// `None`: the answer's own TTL.
    pub(crate) stale_grace: Option<Duration>,
}

impl Default for TenantLookupConfig {
    fn default() -> Self {
        Self {
            capacity: 10_000,
            allowed_ttl: Duration::from_secs(600),
            denied_ttl: Duration::from_secs(60),
            timeout: Duration::from_secs(5),
            max_in_flight: 64,
            stale_grace: None,
        }
    }
}

impl TenantLookupConfig {
    /// How many tenants' answers are kept (at least 1).
    #[must_use]
    pub fn capacity(mut self, n: usize) -> Self {
        self.capacity = n;
        self
    }

    /// How long an "allowed" answer is kept.
    #[must_use]
    pub fn allowed_ttl(mut self, ttl: Duration) -> Self {
        self.allowed_ttl = ttl;
        self
    }

    /// How long a "refused" answer is kept.
    #[must_use]
    pub fn denied_ttl(mut self, ttl: Duration) -> Self {
        self.denied_ttl = ttl;
        self
    }

    /// How long an answer past its TTL is still given while a background
    /// lookup refreshes it (default: one more TTL of that answer;
    /// `Duration::ZERO` turns stale answers off).
    #[must_use]
    pub fn stale_grace(mut self, grace: Duration) -> Self {
        self.stale_grace = Some(grace);
        self
    }

    /// The longest one lookup may take (at least 1 ms).
    #[must_use]
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The most lookups running at once (at least 1). Beyond it, a new
    /// tenant is answered 503 and a stale answer's refresh is skipped.
    #[must_use]
    pub fn max_in_flight(mut self, n: usize) -> Self {
        self.max_in_flight = n;
        self
    }

    fn validate(&self) -> Result<(), ConfigError> {
        let out = |setting, reason| Err(ConfigError::OutOfRange { setting, reason });
        if self.capacity == 0 {
            return out("TenantLookupConfig::capacity", "must be at least 1");
        }
        if self.max_in_flight == 0 {
            return out("TenantLookupConfig::max_in_flight", "must be at least 1");
        }
        if self.timeout < Duration::from_millis(1) {
            return out("TenantLookupConfig::timeout", "must be at least 1 ms");
        }
        Ok(())
    }
}

/// Which tenants a [template issuer](self) serves. Cheap to clone (the
/// lookup cache is shared by the clones).
///
/// | constructor | decides | request path |
/// |---|---|---|
/// | [`allow`](Self::allow) | a fixed list | synchronous |
/// | [`lookup`](Self::lookup) / [`lookup_fallible`](Self::lookup_fallible) | your async check, cached ([`TenantLookupConfig`]) | synchronous for a known tenant (a stale answer is refreshed in the background); the first request of a new tenant waits for one lookup |
/// | [`any_tenant_dangerous`](Self::any_tenant_dangerous) | nothing: every tenant | synchronous |
///
/// [`except`](Self::except) refuses named tenants whatever the rest says.
#[derive(Clone)]
pub struct TenantPolicy {
    kind: Kind,
    excluded: Vec<Arc<str>>,
}

#[derive(Clone)]
enum Kind {
    Allow(Arc<HashSet<String>>),
    Lookup(Arc<lookup::LookupState>),
    Any,
}

impl fmt::Debug for TenantPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("TenantPolicy");
        match &self.kind {
            Kind::Allow(list) => d.field("allow", &list.len()),
            Kind::Lookup(state) => d.field("lookup", state.config()),
            Kind::Any => d.field("any_tenant_dangerous", &true),
        };
        d.field("except", &self.excluded).finish()
    }
}

impl TenantPolicy {
    /// Serve exactly these tenants (an empty list is refused by `build`).
    pub fn allow<I, S>(tenants: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Self::of(Kind::Allow(Arc::new(
            tenants.into_iter().map(Into::into).collect(),
        )))
    }

    /// Ask `lookup` about each new tenant, with the default
    /// [`TenantLookupConfig`].
    pub fn lookup(lookup: impl TenantLookup) -> Self {
        Self::lookup_with(lookup, TenantLookupConfig::default())
    }

    /// Ask `lookup` about each new tenant, cached and bounded by `config`.
    ///
    /// At most one lookup per tenant runs at a time (concurrent first
    /// requests of a new tenant wait for the same one), in a task of its
    /// own: a request that gives up does not abandon it. A tenant whose
    /// answer is cached is decided synchronously, without calling `lookup`.
    /// A tenant whose cached answer is past its TTL but within its
    /// [`stale_grace`](TenantLookupConfig::stale_grace) is answered from
    /// the cache too, and one lookup refreshes it in the background.
    pub fn lookup_with(lookup: impl TenantLookup, config: TenantLookupConfig) -> Self {
        Self::of(Kind::Lookup(lookup::LookupState::new(
            Box::new(Infallible(lookup)),
            config,
        )))
    }

    /// Ask a lookup that can fail about each new tenant, with the default
    /// [`TenantLookupConfig`]; see [`lookup_fallible_with`](Self::lookup_fallible_with).
    pub fn lookup_fallible<F, Fut, E>(lookup: F) -> Self
    where
        F: Fn(String) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<bool, E>> + Send + 'static,
        E: std::error::Error + Send + Sync + 'static,
    {
        Self::lookup_fallible_with(lookup, TenantLookupConfig::default())
    }

    /// As [`lookup_with`](Self::lookup_with), for a lookup that answers
    /// `Ok(allowed)` or `Err(e)` (the customer database is unreachable).
    ///
    /// # Errors
    /// An `Err` is not a refusal: it is never cached, it is logged (WARN on
    /// `oauth2_guard::tenant`, with the tenant and `e`'s `Display`, never
    /// the token), and a request waiting for that lookup is answered 503
    /// `tenant_lookup_unavailable` with `Retry-After` (not 401), so the
    /// next request looks the tenant up again. An `Err` while refreshing a
    /// stale answer leaves that answer in place until its grace ends.
    pub fn lookup_fallible_with<F, Fut, E>(lookup: F, config: TenantLookupConfig) -> Self
    where
        F: Fn(String) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<bool, E>> + Send + 'static,
        E: std::error::Error + Send + Sync + 'static,
    {
        Self::of(Kind::Lookup(lookup::LookupState::new(
            Box::new(Fallible(lookup)),
            config,
        )))
    }

    /// Serve **every** tenant whose token verifies.
    ///
    /// # Security
    /// With a multi-tenant Entra app, anyone can create a tenant and obtain
    /// a token for your API: this policy authenticates "some Microsoft
    /// tenant", nothing more. Use it only when every handler scopes its data
    /// by [`VerifiedClaims::tenant`](crate::VerifiedClaims::tenant) (and
    /// signing up is open to all), never as a shortcut for an allow-list.
    pub fn any_tenant_dangerous() -> Self {
        Self::of(Kind::Any)
    }

    /// Refuse `tenant` whatever the rest of the policy says (for example
    /// [`MICROSOFT_PERSONAL_ACCOUNTS_TENANT`]).
    #[must_use]
    pub fn except(mut self, tenant: impl Into<String>) -> Self {
        self.excluded.push(Arc::from(tenant.into()));
        self
    }

    fn of(kind: Kind) -> Self {
        Self {
            kind,
            excluded: Vec::new(),
        }
    }

    /// Checked by `IssuerBuilder::build`.
    pub(crate) fn validate(&self) -> Result<(), ConfigError> {
        match &self.kind {
            Kind::Allow(list) if list.is_empty() => Err(ConfigError::EmptyRequirement {
                setting: "TenantPolicy::allow",
            }),
            Kind::Allow(list) => match list.iter().find(|t| !template::is_tenant_id(t)) {
                Some(t) => Err(ConfigError::InvalidUrl {
                    url: t.clone(),
                    reason: "a tenant id is 1-128 ASCII letters, digits, `-`, `_` or `.`",
                }),
                None => Ok(()),
            },
            Kind::Lookup(state) => state.config().validate(),
            Kind::Any => Ok(()),
        }
    }

    /// The decision for `tenant`: synchronous unless a lookup must run.
    pub(crate) fn check(&self, tenant: &str) -> Check {
        if self.excluded.iter().any(|t| &**t == tenant) {
            return Check::Done(Outcome::Denied);
        }
        match &self.kind {
            Kind::Allow(list) if list.contains(tenant) => Check::Done(Outcome::Allowed),
            Kind::Allow(_) => Check::Done(Outcome::Denied),
            Kind::Lookup(state) => state.check(tenant),
            Kind::Any => Check::Done(Outcome::Allowed),
        }
    }
}
