//! Outbound service-to-service tokens: the OAuth 2.0 Client Credentials
//! grant (feature `client`).
//!
//! Each service is its own OAuth client. [`ClientCredentials`] gets
//! short-lived, audience-bound access tokens for one (audience, scopes)
//! pair, caches them, refreshes them ahead of expiry in the background, and
//! attaches them to outbound requests.
//!
//! ```no_run
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! use oauth2_guard::client::{ClientCredentials, SecretSource};
//!
//! // Service A (checkout) calling service B (orders):
//! let orders_token = ClientCredentials::builder("checkout")
//!     .issuer("https://idp.example.com/realms/shop") // token endpoint from discovery
//!     .client_secret(SecretSource::File("/run/secrets/checkout".into())) // re-read on rotation
//!     .resource("https://orders.internal") // RFC 8707: a token for B only
//!     .scope("orders:write")
//!     .build()
//!     .await?;
//! let http = reqwest::Client::new();
//! let response = orders_token.send(http.post("https://orders.internal/orders")).await?;
//! # let _ = response; Ok(()) }
//! ```
//!
//! # Client authentication
//!
//! | method | builder | on the wire |
//! |---|---|---|
//! | `client_secret_basic` (default) | [`client_secret`](ClientCredentialsBuilder::client_secret) | `Authorization: Basic`, id and secret form-urlencoded first (RFC 6749 §2.3.1) |
//! | `client_secret_post` | [`client_secret_post`](ClientCredentialsBuilder::client_secret_post) | id and secret in the body |
//! | `private_key_jwt` | [`private_key_jwt`](ClientCredentialsBuilder::private_key_jwt) | an RFC 7523 assertion signed with the service's own key: `iss` = `sub` = client id, `aud` = token endpoint, `exp` = 60 s, random `jti`; no shared secret |
//!
//! # Audience
//!
//! One source serves one audience and one set of scopes, so a token for
//! service B is never sent to service C: build one source per downstream
//! (the builder is `Clone`, so a shared base configuration can be reused:
//! `base.clone().resource("billing-api").build()`).
//! The audience is the RFC 8707 [`resource`](ClientCredentialsBuilder::resource)
//! parameter, or Auth0's [`audience`](ClientCredentialsBuilder::audience)
//! (any other vendor parameter: [`extra_param`](ClientCredentialsBuilder::extra_param)).
//!
//! # Caching and refresh
//!
//! - [`ClientCredentials::token`] is one atomic load while a token is cached.
//! - A background task refreshes the token `margin` before it expires
//!   (default min(30 s, 10 % of the lifetime)); callers keep getting the
//!   current token meanwhile and never wait.
//! - Callers that find no valid token share one request (single flight):
//!   100 concurrent cold callers cause one token request, and share its
//!   error too.
//! - If a background refresh fails, the cached token stays in use until it
//!   expires (with a warning) and the refresh is retried with backoff.
//!
//! # Failures
//!
//! Network errors, timeouts, 5xx, 408 and 429 are retried with bounded
//! exponential backoff and jitter ([`RetryConfig`]). OAuth errors
//! (`invalid_client`, `invalid_scope`, `unauthorized_client`, ...) become
//! [`TokenError::OAuth`] with the `error` code and description, and are not
//! retried.
//!
//! A 429 or 503 answer with `Retry-After` is honoured (see [`RetryConfig`]):
//! a wait within `max_backoff` is waited out, a longer one fails the call at
//! once with [`TokenError::retry_after`] set, and no token request reaches the
//! endpoint until the wait (capped at `max_retry_after`) is over. A cached
//! token that is still valid keeps being served meanwhile.
//!
//! # Rotating credentials
//!
//! The secret or private key comes from a [`SecretSource`]: a file re-read
//! when it changes, or a callback asked before each token request. Rotating
//! needs no restart, which is how a service avoids keeping a static secret
//! indefinitely. Prefer `private_key_jwt` where the IdP supports it.
//!
//! # Using the token
//!
//! - reqwest: [`ClientCredentials::authorize`] adds the header;
//!   [`ClientCredentials::send`] also retries once, with a new token, when
//!   the downstream answers 401 `error="invalid_token"`.
//! - tower clients: [`BearerLayer`] (from [`ClientCredentials::layer`]).
//! - tonic channels (feature `grpc`): `GrpcBearerLayer` (from
//!   `ClientCredentials::grpc_layer`), which also retries a unary call once
//!   with a new token on `UNAUTHENTICATED`.
//!
//! A 401 `invalid_token` drops the cached token at most once per
//! [`invalid_token_cooldown`](ClientCredentialsBuilder::invalid_token_cooldown)
//! (default 10 s); within it such answers are passed on as they are, so a
//! downstream that refuses every token costs one token request per
//! cooldown, not one per call.
//!
//! # Security
//!
//! Token requests never follow redirects: a 3xx answer (or, with a
//! caller-supplied `reqwest::Client` that follows them, an answer from
//! another URL) fails with [`FetchErrorKind::Redirect`](crate::FetchErrorKind::Redirect),
//! because a 307/308 would re-send the credentials in the body to wherever
//! it points (see [`HttpConfig::client`](crate::issuer::HttpConfig::client)).
//!
//! Tokens, secrets and keys never appear in `Debug` output or logs (tokens
//! are logged by [`Fingerprint`](crate::Fingerprint)); the `Authorization`
//! headers this module builds are marked sensitive. Each token request is
//! a `tracing` event with the client id, audience, scopes, lifetime and
//! latency.

pub(crate) mod auth;
mod builder;
#[cfg(feature = "dpop")]
mod dpop;
#[cfg(feature = "dpop")]
mod dpop_layer;
mod error;
mod fetch;
#[cfg(feature = "grpc")]
mod grpc;
mod layer;
mod refresher;
mod retry;
pub(crate) mod secret;
mod source;
mod state;
mod token;

pub use auth::ASSERTION_LIFETIME;
pub use builder::{ClientCredentialsBuilder, DEFAULT_INVALID_TOKEN_COOLDOWN, DEFAULT_MAX_MARGIN};
#[cfg(feature = "dpop")]
#[cfg_attr(docsrs, doc(cfg(feature = "dpop")))]
pub use dpop::DpopSigningKey;
pub use error::{BearerError, SendError, TokenError};
#[cfg(feature = "grpc")]
#[cfg_attr(docsrs, doc(cfg(feature = "grpc")))]
pub use grpc::{GrpcBearerLayer, GrpcBearerService, GrpcResponseFuture, DEFAULT_MAX_REPLAY_BYTES};
pub use layer::{BearerLayer, BearerService, ResponseFuture};
pub use retry::RetryConfig;
pub use secret::{SecretFn, SecretSource};
pub use source::ClientCredentials;
pub use token::AccessToken;
