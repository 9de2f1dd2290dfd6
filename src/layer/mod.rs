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

mod authenticator;
mod binding;
mod builder;
#[cfg(feature = "dpop")]
pub(crate) mod dpop;
mod future;
pub(crate) mod lazy;
mod log;
mod metadata;
mod response;
mod service;
mod source;

use std::sync::Arc;

pub use crate::verify::cache::CacheConfig;
pub use crate::verify::validate::DEFAULT_MAX_TOKEN_BYTES;
pub use builder::AuthLayerBuilder;
pub use future::ResponseFuture;
pub use lazy::LazyIssuers;
pub use metadata::{ProtectedResourceMetadata, ProtectedResourceMetadataBuilder};
pub use response::{Challenge, ErrorDetail, JsonResponse, RejectionResponse, Rfc6750Response};
pub use service::AuthService;
pub use source::{BearerSource, RequestHead, TokenSource};

use crate::claims::VerifiedClaims;
use crate::error::Rejection;
use crate::issuer::Issuer;
use authenticator::Authenticator;
pub(crate) use log::{log, missing_layer};

/// A check that runs after a token verified — on every request, cache hits
/// included — and may refuse it (for example a revocation deny-list).
///
/// Runs on the request path: it must not block. Keep a local copy of remote
/// state (refreshed in the background) and look it up here.
pub trait PostVerify: Send + Sync + 'static {
    /// `Err` refuses the request.
    ///
    /// # Errors
    /// The rejection to answer with (usually [`Reason::Revoked`](crate::Reason::Revoked)).
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

/// A tower layer that authenticates every request. See the module docs.
#[derive(Clone)]
pub struct AuthLayer<R = Rfc6750Response> {
    auth: Arc<Authenticator>,
    responder: R,
}

impl std::fmt::Debug for AuthLayer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthLayer")
            .field("verifier", &self.auth.verifier)
            .field("optional", &self.auth.optional)
            .finish_non_exhaustive()
    }
}

impl AuthLayer {
    /// A layer for one issuer with every default.
    pub fn new(issuer: Issuer) -> Self {
        builder::defaults_for(issuer)
    }

    /// Configure a layer.
    pub fn builder() -> AuthLayerBuilder {
        AuthLayerBuilder::new()
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
