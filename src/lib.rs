//! oauth2-guard: OAuth2 resource-server middleware for tower and axum.
#![forbid(unsafe_code)]
#![warn(missing_docs, unreachable_pub, clippy::await_holding_lock)]
#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod claims;
pub mod crypto;
pub mod discovery;
pub mod error;
pub mod http;
pub mod issuer;
pub mod jwks;
pub mod layer;
pub mod validate;

pub use claims::{Fingerprint, StandardClaims, VerifiedClaims};
pub use error::{ConfigError, FetchError, FetchErrorKind, Reason, Rejection};
pub use issuer::{Issuer, IssuerBuilder};
pub use jsonwebtoken::Algorithm;
pub use jwks::RefreshConfig;
pub use layer::{AuthLayer, AuthLayerBuilder, AuthService, CacheConfig, PostVerify};

#[cfg(feature = "testkit")]
pub mod testkit;

#[cfg(any(test, feature = "fuzzing"))]
#[doc(hidden)]
#[path = "fuzz.rs"]
pub mod __fuzz;

#[cfg(test)]
mod proptests;
