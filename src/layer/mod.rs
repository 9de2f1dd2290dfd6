//! The authentication layer: every request is authenticated before it
//! reaches the service.
//!
//! ```no_run
//! use axum::{routing::get, Router};
//! use oauth2_guard::{AuthLayer, Issuer};
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let issuer = Issuer::builder("https://idp.example.com/realms/shop")
//!     .audience("orders-api")
//!     .build()
//!     .await?;
//! let app: Router = Router::new()
//!     .route("/orders", get(|| async { "orders" }))
//!     .layer(AuthLayer::builder().issuer(issuer).realm("orders").build()?);
//! # Ok(()) }
//! ```
//!
//! For each request the layer:
//! 1. takes the token from the [`TokenSource`] ([`BearerSource`] by default);
//! 2. looks it up in the verified-token cache, else selects the issuer by the
//!    token's exact `iss` and verifies it with that issuer's keys (a `kid`
//!    never seen before triggers one rate-limited key refresh);
//! 3. runs the [`PostVerify`] hooks (revocation) — on cache hits too;
//! 4. inserts [`VerifiedClaims`] into the request extensions, or answers
//!    with the RFC 6750 response of [`RejectionResponse`].
//!
//! # Security
//! The layer never returns `Err` for a client's input and never answers 500:
//! bad tokens are 401, malformed requests 400, missing keys 503.

mod cache;
mod future;
mod lazy;
mod response;
mod service;
mod source;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

pub use cache::CacheConfig;
pub use future::ResponseFuture;
pub use lazy::LazyIssuers;
pub use response::{Challenge, ErrorDetail, JsonResponse, RejectionResponse, Rfc6750Response};
pub use service::AuthService;
pub use source::{BearerSource, RequestHead, TokenSource};

use crate::claims::VerifiedClaims;
use crate::error::{ConfigError, Reason, Rejection};
use crate::issuer::Issuer;
use crate::validate::{Checked, Parsed, DEFAULT_MAX_TOKEN_BYTES};
use cache::{Entry, TokenCache};

/// A check that runs after a token verified — on every request, cache hits
/// included — and may refuse it (for example a revocation deny-list).
///
/// Runs on the request path: it must not block. Keep a local copy of remote
/// state (refreshed in the background) and look it up here.
pub trait PostVerify: Send + Sync + 'static {
    /// `Err` refuses the request.
    ///
    /// # Errors
    /// The rejection to answer with (usually [`Reason::Revoked`]).
    fn check(&self, claims: &VerifiedClaims) -> Result<(), Rejection>;
}

impl<F> PostVerify for F
where
    F: Fn(&VerifiedClaims) -> Result<(), Rejection> + Send + Sync + 'static,
{
    fn check(&self, claims: &VerifiedClaims) -> Result<(), Rejection> {
        self(claims)
    }
}

/// Marks a request that passed through the layer without credentials
/// (optional-auth mode), so extractors can tell "anonymous" from "layer
/// missing".
#[derive(Debug, Clone, Copy)]
pub(crate) struct PassedAnonymous;

/// The layer's challenge (realm, detail), put into the request extensions
/// so guards answer with the same realm.
#[derive(Debug, Clone)]
pub(crate) struct LayerChallenge(pub(crate) Challenge);

/// Authenticates requests. Built once, shared by every clone of the service.
pub(crate) struct Authenticator {
    issuers: Vec<Issuer>,
    lazy: Option<Arc<lazy::Lazy>>,
    source: Box<dyn TokenSource>,
    cache: Option<TokenCache>,
    hooks: Vec<Box<dyn PostVerify>>,
    optional: bool,
    max_token_bytes: usize,
    pub(crate) challenge: LayerChallenge,
}

pub(crate) type Pending = Pin<Box<dyn Future<Output = Result<VerifiedClaims, Rejection>> + Send>>;

pub(crate) enum Outcome {
    Authenticated(VerifiedClaims),
    Anonymous,
    Rejected(Rejection),
    Pending(Pending),
}

/// What one verification attempt found. The waiting variants carry the
/// rejection to answer with if waiting does not help, so the slow path never
/// parses the token again just to log it.
enum Attempt {
    Done(Result<VerifiedClaims, Rejection>),
    UnknownKey(Issuer, Rejection),
    Discover(lazy::Discovery, Rejection),
}

enum Selected {
    Issuer(Issuer),
    Lazy(lazy::LazyPick),
    Unknown,
}

impl Authenticator {
    /// The request path. Synchronous unless a key refresh (or a lazy
    /// issuer's first discovery) is needed.
    pub(crate) fn authenticate(self: &Arc<Self>, head: &RequestHead<'_>) -> Outcome {
        let token = match self.source.extract(head) {
            Ok(Some(t)) => t,
            Ok(None) if self.optional => return Outcome::Anonymous,
            Ok(None) => return Outcome::Rejected(log(Rejection::new(Reason::MissingToken))),
            Err(r) => return Outcome::Rejected(log(r)),
        };
        if let Some(cache) = &self.cache {
            if let Some(entry) = cache.get(&token) {
                return match self.after(entry.claims, true) {
                    Ok(c) => Outcome::Authenticated(c),
                    Err(r) => Outcome::Rejected(r),
                };
            }
        }
        match self.attempt(&token) {
            Attempt::Done(Ok(c)) => match self.after(c, false) {
                Ok(c) => Outcome::Authenticated(c),
                Err(r) => Outcome::Rejected(r),
            },
            Attempt::Done(Err(r)) => Outcome::Rejected(log(r)),
            first => {
                let this = Arc::clone(self);
                let token = token.into_owned();
                Outcome::Pending(Box::pin(async move { this.slow_path(token, first).await }))
            }
        }
    }

    /// A lazy issuer's discovery and/or one key refresh, then verify again.
    async fn slow_path(
        self: Arc<Self>,
        token: String,
        mut attempt: Attempt,
    ) -> Result<VerifiedClaims, Rejection> {
        // At most: one discovery, then one key refresh.
        let mut unknown_issuer = Rejection::new(Reason::UnknownIssuer);
        for _ in 0..3 {
            attempt = match attempt {
                Attempt::Done(Ok(c)) => return self.after(c, false),
                Attempt::Done(Err(r)) => return Err(log(r)),
                Attempt::Discover(discovery, unknown) => {
                    let Some(lazy) = &self.lazy else {
                        return Err(log(unknown));
                    };
                    // The discovery runs in a task of its own and records its
                    // result: dropping this request does not abandon it.
                    if let Some(wait) = lazy.wait(discovery).await {
                        let unavailable = Rejection {
                            reason: Reason::KeysUnavailable,
                            ..unknown
                        };
                        return Err(log(unavailable.retry_after(wait)));
                    }
                    unknown_issuer = unknown;
                    self.attempt(&token)
                }
                Attempt::UnknownKey(issuer, unknown_key) => {
                    issuer.store().refresh_for_unknown_kid().await;
                    match self.attempt(&token) {
                        Attempt::UnknownKey(..) => return Err(log(unknown_key)),
                        other => other,
                    }
                }
            };
        }
        Err(log(unknown_issuer))
    }

    /// Parse, pick the issuer by exact `iss`, verify; cache a success.
    fn attempt(&self, token: &str) -> Attempt {
        let parsed = match Parsed::parse(token, self.max_token_bytes) {
            Ok(p) => p,
            Err(r) => return Attempt::Done(Err(r)),
        };
        let issuer = match self.select(parsed.unverified_issuer()) {
            Selected::Issuer(i) => i,
            Selected::Lazy(lazy::LazyPick::Ready(i)) => i,
            Selected::Lazy(lazy::LazyPick::Unavailable(wait)) => {
                let iss = parsed.unverified_issuer().map(Arc::from);
                let mut r = parsed.reject(Reason::KeysUnavailable).retry_after(wait);
                r.issuer = iss;
                return Attempt::Done(Err(r));
            }
            Selected::Lazy(lazy::LazyPick::Wait(discovery)) => {
                let iss = parsed.unverified_issuer().map(Arc::from);
                let mut r = parsed.reject(Reason::UnknownIssuer);
                r.issuer = iss;
                return Attempt::Discover(discovery, r);
            }
            Selected::Lazy(lazy::LazyPick::Refuse) | Selected::Unknown => {
                return Attempt::Done(Err(parsed.reject(Reason::UnknownIssuer)));
            }
        };
        match issuer.try_verify(parsed) {
            Err(unknown_key) => Attempt::UnknownKey(issuer, unknown_key),
            Ok(Checked::Rejected(r)) => Attempt::Done(Err(r)),
            Ok(Checked::Ok(claims, key)) => {
                if let Some(cache) = &self.cache {
                    cache.insert(
                        token,
                        Entry {
                            claims: claims.clone(),
                            issuer,
                            key,
                        },
                    );
                }
                Attempt::Done(Ok(claims))
            }
        }
    }

    /// The issuer for the token's unverified `iss`, by exact match. No I/O:
    /// an `iss` that is neither configured nor accepted by the lazy-issuer
    /// factory is refused here.
    fn select(&self, iss: Option<&str>) -> Selected {
        match (iss, self.issuers.as_slice(), &self.lazy) {
            // One issuer: a missing or wrong `iss` is reported as wrong_issuer after the signature check.
            (_, [only], None) => Selected::Issuer(only.clone()),
            (Some(iss), all, lazy) => match all.iter().find(|i| i.name() == iss) {
                Some(i) => Selected::Issuer(i.clone()),
                None => match lazy {
                    Some(l) => Selected::Lazy(l.pick(iss)),
                    None => Selected::Unknown,
                },
            },
            (None, _, _) => Selected::Unknown,
        }
    }

    /// Post-verification hooks, then the success log line.
    fn after(&self, claims: VerifiedClaims, cached: bool) -> Result<VerifiedClaims, Rejection> {
        for hook in &self.hooks {
            if let Err(mut r) = hook.check(&claims) {
                r.issuer.get_or_insert_with(|| claims.issuer_arc().clone());
                r.fingerprint.get_or_insert(claims.fingerprint());
                return Err(log(r));
            }
        }
        tracing::debug!(
            target: "oauth2_guard::auth",
            issuer = claims.issuer(),
            client_id = claims.client_id(),
            kid = claims.key_id(),
            token = %claims.fingerprint(),
            cached,
            "token accepted"
        );
        Ok(claims)
    }
}

/// One event per rejection, with the reason code and the token's
/// fingerprint — never the token.
fn log(r: Rejection) -> Rejection {
    let token = r.fingerprint.map(|f| f.to_string());
    match r.reason {
        Reason::MissingToken => tracing::debug!(
            target: "oauth2_guard::auth",
            reason = r.reason.code(),
            status = r.status().as_u16(),
            "request rejected"
        ),
        Reason::KeysUnavailable => tracing::warn!(
            target: "oauth2_guard::auth",
            reason = r.reason.code(),
            status = r.status().as_u16(),
            issuer = r.issuer.as_deref(),
            kid = r.kid.as_deref(),
            token,
            "request rejected"
        ),
        _ => tracing::info!(
            target: "oauth2_guard::auth",
            reason = r.reason.code(),
            status = r.status().as_u16(),
            issuer = r.issuer.as_deref(),
            kid = r.kid.as_deref(),
            token,
            "request rejected"
        ),
    }
    r
}

/// A tower layer that authenticates every request. See the module docs.
#[derive(Clone)]
pub struct AuthLayer<R = Rfc6750Response> {
    auth: Arc<Authenticator>,
    responder: R,
}

impl std::fmt::Debug for AuthLayer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthLayer")
            .field("issuers", &self.auth.issuers)
            .field("optional", &self.auth.optional)
            .field("cache", &self.auth.cache.is_some())
            .finish_non_exhaustive()
    }
}

impl AuthLayer {
    /// A layer for one issuer with every default.
    pub fn new(issuer: Issuer) -> Self {
        Self {
            auth: Arc::new(Authenticator {
                issuers: vec![issuer],
                lazy: None,
                source: Box::new(BearerSource::new()),
                cache: TokenCache::new(&CacheConfig::default(), DEFAULT_MAX_TOKEN_BYTES),
                hooks: Vec::new(),
                optional: false,
                max_token_bytes: DEFAULT_MAX_TOKEN_BYTES,
                challenge: LayerChallenge(Challenge::bare(ErrorDetail::Terse)),
            }),
            responder: Rfc6750Response::default(),
        }
    }

    /// Configure a layer.
    pub fn builder() -> AuthLayerBuilder {
        AuthLayerBuilder {
            issuers: Vec::new(),
            lazy: None,
            realm: None,
            detail: ErrorDetail::Terse,
            source: None,
            cache: CacheConfig::default(),
            hooks: Vec::new(),
            optional: false,
            max_token_bytes: DEFAULT_MAX_TOKEN_BYTES,
        }
    }
}

impl<R> AuthLayer<R> {
    /// Use another response for rejections (JSON bodies, problem+json, …).
    pub fn with_response<R2>(self, responder: R2) -> AuthLayer<R2> {
        AuthLayer {
            auth: self.auth,
            responder,
        }
    }
}

impl<S, R: Clone> tower_layer::Layer<S> for AuthLayer<R> {
    type Service = AuthService<S, R>;

    fn layer(&self, inner: S) -> Self::Service {
        AuthService::new(inner, self.auth.clone(), self.responder.clone())
    }
}

/// Builds an [`AuthLayer`].
///
/// | setting | default | why |
/// |---|---|---|
/// | `issuer` | none: at least one **required** (or `lazy_issuers`) | |
/// | `lazy_issuers` | none | only configured issuers are trusted |
/// | `realm` | none | RFC 6750 `realm` in challenges |
/// | `error_detail` | [`ErrorDetail::Terse`] | no internals on the wire |
/// | `token_source` | [`BearerSource`] | RFC 6750 header only; no query, no cookie |
/// | `cache` | [`CacheConfig::default`] | 10 000 tokens / 32 MiB |
/// | `optional` | off | zero trust: every request needs a token |
/// | `max_token_bytes` | 16 KiB | checked before any decoding |
pub struct AuthLayerBuilder {
    issuers: Vec<Issuer>,
    lazy: Option<LazyIssuers>,
    realm: Option<String>,
    detail: ErrorDetail,
    source: Option<Box<dyn TokenSource>>,
    cache: CacheConfig,
    hooks: Vec<Box<dyn PostVerify>>,
    optional: bool,
    max_token_bytes: usize,
}

impl std::fmt::Debug for AuthLayerBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthLayerBuilder")
            .field("issuers", &self.issuers)
            .field("lazy_issuers", &self.lazy)
            .field("realm", &self.realm)
            .field("optional", &self.optional)
            .finish_non_exhaustive()
    }
}

impl AuthLayerBuilder {
    /// Accept tokens of this issuer. Call once per issuer: the token's `iss`
    /// selects one by exact match, and only that issuer's keys are tried.
    pub fn issuer(mut self, issuer: Issuer) -> Self {
        self.issuers.push(issuer);
        self
    }

    /// Also accept issuers discovered at run time from a trusted list or
    /// template; see [`LazyIssuers`]. Configured issuers are matched first.
    pub fn lazy_issuers(mut self, lazy: LazyIssuers) -> Self {
        self.lazy = Some(lazy);
        self
    }

    /// The RFC 6750 `realm`.
    pub fn realm(mut self, realm: impl Into<String>) -> Self {
        self.realm = Some(realm.into());
        self
    }

    /// How much error responses say.
    pub fn error_detail(mut self, detail: ErrorDetail) -> Self {
        self.detail = detail;
        self
    }

    /// Where tokens come from.
    pub fn token_source(mut self, source: impl TokenSource) -> Self {
        self.source = Some(Box::new(source));
        self
    }

    /// Verified-token cache settings ([`CacheConfig::disabled`] turns it off).
    pub fn cache(mut self, cache: CacheConfig) -> Self {
        self.cache = cache;
        self
    }

    /// Run `hook` after verification on every request.
    pub fn post_verify(mut self, hook: impl PostVerify) -> Self {
        self.hooks.push(Box::new(hook));
        self
    }

    /// Let requests without credentials through (handlers see no claims);
    /// invalid tokens are still refused.
    pub fn optional(mut self) -> Self {
        self.optional = true;
        self
    }

    /// Longest token accepted.
    pub fn max_token_bytes(mut self, n: usize) -> Self {
        self.max_token_bytes = n;
        self
    }

    /// Build the layer.
    ///
    /// # Errors
    /// No issuer, the same issuer twice, an unusable realm, or a
    /// [`LazyIssuers`] setting out of range.
    pub fn build(self) -> Result<AuthLayer, ConfigError> {
        if self.issuers.is_empty() && self.lazy.is_none() {
            return Err(ConfigError::NoIssuer);
        }
        if let Some(lazy) = &self.lazy {
            lazy.validate()?;
        }
        for (i, a) in self.issuers.iter().enumerate() {
            if self.issuers[..i].iter().any(|b| b.name() == a.name()) {
                return Err(ConfigError::DuplicateIssuer(a.name().to_owned()));
            }
        }
        if self.max_token_bytes < 64 {
            return Err(ConfigError::OutOfRange {
                setting: "max_token_bytes",
                reason: "must be at least 64",
            });
        }
        let challenge = Challenge::new(self.realm.as_deref(), self.detail)?;
        Ok(AuthLayer {
            auth: Arc::new(Authenticator {
                issuers: self.issuers,
                lazy: self.lazy.map(|l| Arc::new(lazy::Lazy::new(l))),
                source: self.source.unwrap_or_else(|| Box::new(BearerSource::new())),
                cache: TokenCache::new(&self.cache, self.max_token_bytes),
                hooks: self.hooks,
                optional: self.optional,
                max_token_bytes: self.max_token_bytes,
                challenge: LayerChallenge(challenge.clone()),
            }),
            responder: Rfc6750Response::new(challenge),
        })
    }
}
