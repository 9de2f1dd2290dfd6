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
//! | `/.well-known/openid-configuration` | discovery document (`503` during an outage, with `Retry-After` if set) |
//! | `/.well-known/oauth-authorization-server` | the same document |
//! | `/jwks` | the JWK Set, after the configured delay, with `Cache-Control` (`503` during an outage, with `Retry-After` if set) |
//! | `/token` | the Client Credentials grant (see below) |
//! | `/introspect` | RFC 7662 introspection (see below; `503` during an outage) |
//! | anything else | `404`, still counted by [`MockIssuer::requests_to`] |
//!
//! # Token endpoint
//!
//! `POST /token` implements the Client Credentials grant for clients
//! registered with [`MockIssuer::register_client`] (`client_secret_basic`
//! with RFC 6749 §2.3.1 form-encoding, or `client_secret_post`) and
//! [`MockIssuer::register_jwt_client`] (`private_key_jwt`, RFC 7523: the
//! assertion's signature is checked with the registered key, `iss` = `sub` =
//! client id, `aud` = the token endpoint, `exp` in the future and at most
//! [`MAX_ASSERTION_LIFETIME`] ahead, and each `jti` is accepted once).
//! Failures are RFC 6749 §5.2 errors (`invalid_client` is a 401). Issued
//! tokens are signed with the current signing key: `sub` = `client_id` =
//! the client, `aud` = the `resource` parameter(s) (or Auth0's `audience`,
//! else the default audience), `scope` as requested, lifetime
//! [`MockIssuer::set_token_lifetime`]. [`MockIssuer::token_requests`] counts
//! requests; [`MockIssuer::fail_next_token_requests`] injects failures.
//!
//! ```
//! use oauth2_guard::testkit::MockIssuer;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! let idp = MockIssuer::start().await;
//! idp.register_client("checkout", "s3cret");
//! let response: serde_json::Value = reqwest::Client::new()
//!     .post(idp.token_endpoint())
//!     .basic_auth("checkout", Some("s3cret"))
//!     .form(&[("grant_type", "client_credentials"), ("scope", "orders:write")])
//!     .send().await.unwrap()
//!     .json().await.unwrap();
//! assert_eq!(response["token_type"], "Bearer");
//! assert_eq!(idp.token_requests(), 1);
//! # }
//! ```
//!
//! # Introspection endpoint
//!
//! `POST /introspect` (RFC 7662) authenticates the caller as `/token` does
//! (registered clients; a client assertion's `aud` is the introspection
//! endpoint) and answers for opaque tokens from
//! [`MockIssuer::opaque_token`] (`active: true` plus their claims until
//! `exp`) and for JWTs this issuer signed; anything else, a revoked token
//! ([`MockIssuer::revoke_token`]) or an expired one is `active: false`.
//! [`MockIssuer::set_introspection_fault`] makes it fail
//! ([`IntrospectionFault`]: a status, slow, garbage, oversized, or active
//! for expired tokens); [`MockIssuer::introspection_requests`] counts calls.
//!
//! ```
//! use oauth2_guard::testkit::MockIssuer;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! let idp = MockIssuer::start().await;
//! idp.register_client("orders-api", "rs-secret");
//! let token = idp.opaque_token().scope("orders:read").issue();
//! let ask = || reqwest::Client::new()
//!     .post(idp.introspection_endpoint())
//!     .basic_auth("orders-api", Some("rs-secret"))
//!     .form(&[("token", token.as_str())])
//!     .send();
//! let answer: serde_json::Value = ask().await.unwrap().json().await.unwrap();
//! assert_eq!((answer["active"].as_bool(), answer["scope"].as_str()), (Some(true), Some("orders:read")));
//! idp.revoke_token(&token);
//! let answer: serde_json::Value = ask().await.unwrap().json().await.unwrap();
//! assert_eq!(answer["active"], false);
//! assert_eq!(idp.introspection_requests(), 2);
//! # }
//! ```
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
//! Only at startup ([`MockIssuer::start`]), and in [`bearer_request`] given
//! a URI that does not parse. Misuse later (an unknown kid, an algorithm a
//! key cannot produce) yields a token a verifier must reject, or is ignored
//! with a `tracing` warning; it never panics.
//!
//! # Security
//!
//! The embedded private keys are public test material: never use this
//! module outside tests. `Debug` output never shows private keys or the
//! HMAC secret.

// Module map: `a <- b` means `b` uses `a`; the graph has no cycles.
//   keys <- state                   key pool and store <- Shared, GrantState, Handle, lock
//   state, keys <- grant <- server  the token endpoint <- the router and other handlers
//   grant, opaque <- introspect     the introspection endpoint (uses grant's client auth)
//   state, issuer <- opaque         opaque tokens, revocation, IntrospectionFault
//   state, keys <- token            TokenBuilder (holds a state::Handle, not a MockIssuer)
//   config, server, token <- issuer MockIssuer (also uses state and keys)
//   leaves: config (MockIssuerConfig, JwtClientKey), request, hooks
mod config;
#[cfg(feature = "dpop")]
mod dpop;
mod grant;
#[cfg(feature = "dpop")]
mod grant_dpop;
pub mod hooks;
mod introspect;
mod issuer;
mod keys;
mod opaque;
mod request;
mod server;
mod state;
#[cfg(test)]
mod tests;
mod token;

pub use config::{JwtClientKey, MockIssuerConfig, DEFAULT_AUDIENCE, DEFAULT_TOKEN_LIFETIME};
#[cfg(feature = "dpop")]
pub use dpop::{DpopKey, DpopProofBuilder};
pub use grant::MAX_ASSERTION_LIFETIME;
pub use issuer::MockIssuer;
pub use jsonwebtoken::Algorithm;
pub use opaque::{IntrospectionFault, OpaqueTokenBuilder};
pub use request::bearer_request;
pub use token::{TokenBuilder, DEFAULT_CLIENT_ID, DEFAULT_LIFETIME, DEFAULT_SUBJECT};
