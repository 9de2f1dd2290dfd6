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
//! Modules: [`issuer`] (configuration, discovery, keys), [`layer`] (the
//! middleware and its responses), [`extract`] (axum extractors), [`claims`],
//! [`error`], [`testkit`] (a mock OpenID Provider for tests, feature
//! `testkit`), and [`manual`], which explains every default.
//!
//! # Features
//! - `axum` (default): extractors.
//! - `aws_lc_rs` (default) / `rust_crypto`: the signature backend.
//! - `testkit`: [`testkit::MockIssuer`] and the token builder.
#![forbid(unsafe_code)]
#![warn(missing_docs, unreachable_pub, clippy::await_holding_lock)]
#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod authz;
pub mod claims;
pub mod crypto;
pub mod discovery;
pub mod error;
#[cfg(feature = "axum")]
pub mod extract;
pub mod http;
pub mod issuer;
pub mod jwks;
pub mod layer;
pub mod manual;
pub mod presets;
pub mod validate;

pub use claims::{ClaimPath, Fingerprint, StandardClaims, VerifiedClaims};
pub use error::{ConfigError, FetchError, FetchErrorKind, Reason, Rejection};
pub use issuer::{Issuer, IssuerBuilder};
pub use jsonwebtoken::Algorithm;
pub use jwks::RefreshConfig;
pub use layer::{AuthLayer, AuthLayerBuilder, AuthService, CacheConfig, LazyIssuers, PostVerify};
pub use validate::AudienceCheck;

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
