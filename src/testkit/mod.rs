//! A fake OpenID Provider for tests (feature `testkit`).
//!
//! [`MockIssuer`] serves an OpenID Connect discovery document, an RFC 8414
//! metadata document and a JWK Set on `127.0.0.1` (an ephemeral port) from a
//! task inside the test process, and mints access tokens with
//! [`TokenBuilder`]. Its keys can be rotated, added, removed, and its
//! endpoints made slow or unavailable, and it counts every request, so tests
//! can assert exactly how a verifier talks to its issuer.
//!
//! ```
//! use oauth2_guard::testkit::{Algorithm, MockIssuer};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! let issuer = MockIssuer::start().await;
//! assert_eq!(issuer.jwks_url(), format!("{}/jwks", issuer.issuer_url()));
//!
//! let token = issuer.token().scope("orders:read").sign();
//! assert_eq!(token.split('.').count(), 3);
//!
//! // Rotate to a new EC key; the old RSA key stays published.
//! let old = issuer.signing_kid();
//! let new = issuer.rotate(Algorithm::ES256);
//! let jwks: serde_json::Value = reqwest::get(issuer.jwks_url()).await.unwrap().json().await.unwrap();
//! let kids: Vec<&str> = jwks["keys"].as_array().unwrap().iter().map(|k| k["kid"].as_str().unwrap()).collect();
//! assert_eq!(kids, [old.as_str(), new.as_str()]);
//! assert_eq!(issuer.jwks_fetches(), 1);
//!
//! // Attack tests: an expired token, and an unsigned one.
//! let _expired = issuer.token().expired().sign();
//! let _unsigned = issuer.sign_raw(
//!     serde_json::json!({ "alg": "none", "typ": "at+jwt" }),
//!     serde_json::json!({ "sub": "mallory" }),
//! );
//! # }
//! ```
//!
//! # Endpoints
//!
//! | path | answer |
//! |---|---|
//! | `/.well-known/openid-configuration` | discovery document (`503` during an outage) |
//! | `/.well-known/oauth-authorization-server` | the same document |
//! | `/jwks` | the JWK Set, after the configured delay, with `Cache-Control` (`503` during an outage) |
//! | `/token`, `/introspect` | `501 Not Implemented` (placeholders) |
//! | anything else | `404`, still counted by [`MockIssuer::requests_to`] |
//!
//! # Keys
//!
//! Keys come from a pool embedded in the crate (6 RSA-2048, 4 P-256, 3 P-384,
//! 3 Ed25519; generating RSA keys at run time is slow). Kids are
//! `rsa-N`, `ec256-N`, `ec384-N`, `ed25519-N`; when a type's pool runs out,
//! its keys are reused under new kids (`rsa-1-r2`, ...). `HS*` tokens use a
//! shared secret ([`MockIssuer::hmac_secret`], configurable with
//! [`MockIssuerConfig::hmac_secret`]) that is never published.
//!
//! # Panics
//!
//! Only at startup ([`MockIssuer::start`]). Misuse later (an unknown kid, an
//! algorithm a key cannot produce) yields a token a verifier must reject, or
//! is ignored with a `tracing` warning; it never panics.
//!
//! # Security
//!
//! The embedded private keys are public test material: never use this
//! module outside tests. `Debug` output never shows private keys or the
//! HMAC secret.

mod issuer;
mod keys;
mod server;
#[cfg(test)]
mod tests;
mod token;

pub use issuer::{MockIssuer, MockIssuerConfig, DEFAULT_AUDIENCE};
pub use jsonwebtoken::Algorithm;
pub use token::{TokenBuilder, DEFAULT_CLIENT_ID, DEFAULT_LIFETIME, DEFAULT_SUBJECT};
