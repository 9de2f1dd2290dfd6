//! OAuth2 resource-server middleware for tower and axum.
//!
//! A tower [`Layer`](tower_layer::Layer) ([`AuthLayer`]) authenticates every
//! request: it takes the bearer token, verifies it against the issuer's JWKS
//! (held lock-free and refreshed in the background), checks issuer, audience,
//! lifetime and type, and puts [`VerifiedClaims`] into the request extensions.
//!
//! ```no_run
//! use axum::{routing::get, Router};
//! use oauth2_guard::{extract::Claims, AuthLayer, Issuer};
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let issuer = Issuer::builder("https://idp.example.com/realms/shop")
//!     .audience("orders-api")
//!     .build()
//!     .await?;
//!
//! let app: Router = Router::new()
//!     .route("/orders", get(|Claims(c): Claims| async move { format!("hello {:?}", c.sub) }))
//!     .layer(AuthLayer::builder().issuer(issuer).realm("orders").build()?);
//! # Ok(()) }
//! ```
//!
//! Modules, named for what a service does with them: [`issuer`] (who signs
//! tokens, how they are checked, discovery and key refresh settings),
//! [`layer`] (the middleware, token sources, responses), [`authz`] (scope and
//! role guards), [`extract`] (axum extractors), [`presets`] (Keycloak, Auth0,
//! Okta, Cognito, Entra ID), `client` (outbound client-credentials tokens,
//! feature `client`), `testkit` (a mock OpenID Provider for tests, feature
//! `testkit`), and [`manual`], which explains every default. Claims and
//! errors are at the crate root.
//!
//! # Features
//! - `axum` (default): extractors.
//! - `aws_lc_rs` (default) / `rust_crypto`: the signature backend.
//! - `testkit`: [`testkit::MockIssuer`] and the token builder.
#![forbid(unsafe_code)]
#![warn(missing_docs, unreachable_pub, clippy::await_holding_lock)]
#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod authz;
mod claims;
mod crypto;
mod discovery;
mod error;
#[cfg(feature = "axum")]
pub mod extract;
mod http;
pub mod issuer;
mod jwks;
pub mod layer;
pub mod manual;
pub mod presets;
mod verify;

pub use claims::{ClaimPath, ClaimsError, Fingerprint, OneOrMany, StandardClaims, VerifiedClaims};
pub use crypto::backend_name as signature_backend;
pub use error::{ConfigError, FetchError, FetchErrorKind, JwksError, Reason, Rejection};
pub use issuer::{AudienceCheck, HttpConfig, Issuer, IssuerBuilder, RefreshConfig};
pub use jsonwebtoken::Algorithm;
pub use layer::{AuthLayer, AuthLayerBuilder, AuthService, CacheConfig, LazyIssuers, PostVerify};

#[cfg(feature = "client")]
pub mod client;
#[cfg(feature = "testkit")]
pub mod testkit;

#[cfg(any(test, feature = "fuzzing"))]
#[doc(hidden)]
#[path = "fuzz.rs"]
pub mod __fuzz;

#[cfg(test)]
mod proptests;
