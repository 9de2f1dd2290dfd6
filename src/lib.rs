#![doc = include_str!("../README.md")]
//!
//! # Modules
//!
//! | module | what |
//! |---|---|
//! | [`issuer`] | [`Issuer`] and [`IssuerBuilder`]: who signs tokens, with which keys, how they are checked; discovery, [`HttpConfig`] and [`RefreshConfig`] |
//! | [`presets`] | Keycloak, Auth0, Okta, Cognito and Entra ID issuers |
//! | [`layer`] | [`AuthLayer`], its service and response future, RFC 6750 responses, token sources, [`LazyIssuers`] |
//! | [`authz`] | scope and role guards ([`authz::RequireScope`], [`authz::RequireRole`]), [`authz::HasScope`], [`authz::MissingAuthLayer`] |
//! | [`tenant`] | multi-tenant issuers: an issuer template with one shared key set, [`tenant::TenantPolicy`] (allow-list, cached async lookup, any) |
//! | [`revocation`] | [`revocation::RevocationList`]: an in-memory deny-list of `jti`s, subjects and clients, checked on every request; its axum admin handler |
//! | [`extract`] | axum extractors: [`extract::Claims`], [`VerifiedClaims`] (feature `axum`) |
//! | [`client`] | outbound client-credentials tokens (feature `client`) |
//! | [`introspection`] | opaque tokens: RFC 7662 introspection, [`introspection::Introspector`] (feature `introspection`) |
//! | `grpc` | tonic: [`MethodGuards`](grpc::MethodGuards) per gRPC method and claims in a `tonic::Request` (feature `grpc`); gRPC status answers to gRPC calls need no feature |
//! | `dpop` | DPoP (RFC 9449): [`DpopConfig`](dpop::DpopConfig) for the layer's proof checks, [`DpopChecker`](dpop::DpopChecker), [`RequireDpop`](dpop::RequireDpop) per route, replay stores, server nonces (feature `dpop`) |
//! | `mtls` | certificate-bound tokens (RFC 8705): [`ClientCertificate`](mtls::ClientCertificate), [`mtls::serve`], [`ForwardedCertLayer`](mtls::ForwardedCertLayer) (feature `mtls`) |
//! | [`testkit`] | [`testkit::MockIssuer`], the token builder and [`testkit::bearer_request`] (feature `testkit`) |
//! | [`ops`] | operations: [`ops::Readiness`] for readiness probes, the metric names (feature `metrics`) |
//! | [`audit`] | the audit trail (`oauth2_guard::audit` events) and the inventory of required scopes and roles |
//! | [`manual`] | why each default is what it is |
//!
//! Claims ([`VerifiedClaims`], [`StandardClaims`], [`ClaimPath`],
//! [`Fingerprint`]) and errors ([`ConfigError`], [`FetchError`], [`Reason`],
//! [`Rejection`]) are at the crate root.
//!
//! # Features
//!
//! | feature | default | adds |
//! |---|---|---|
//! | `axum` | yes | the [`extract`] module and axum `IntoResponse` / `FromRequestParts` impls |
//! | `aws_lc_rs` | yes | the aws-lc-rs signature backend |
//! | `rust_crypto` | no | the pure-Rust signature backend (instead of `aws_lc_rs`) |
//! | `client` | no | the [`client`] module |
//! | `redis` | no | `revocation::RedisRevocations`: the revocation list shared by every instance through Redis; with `introspection`, `introspection::RedisIntrospectionCache`: introspection answers shared by the fleet; with `dpop`, `dpop::RedisReplayStore`: the DPoP replay cache shared by every instance |
//! | `introspection` | no | the [`introspection`] module (opaque tokens, RFC 7662); enables `client` |
//! | `grpc` | no | the `grpc` module (tonic), and with `client` the outbound `client::GrpcBearerLayer`; gRPC calls get gRPC status answers without it too |
//! | `dpop` | no | the `dpop` module: `Authorization: DPoP` on the layer (RFC 9449), proof checks, replay stores, server nonces; with `client`, DPoP-bound outbound tokens |
//! | `mtls` | no | the `mtls` module: certificate-bound tokens (RFC 8705), [`mtls::serve`] over rustls, [`mtls::ForwardedCertLayer`] for trusted proxies; enables `axum` |
//! | `metrics` | no | Prometheus-style metrics through the [`metrics`](https://docs.rs/metrics) facade (any exporter); see [Operations](#operations) |
//! | `testkit` | no | the [`testkit`] module |
//! | `fuzzing` | no | hidden entry points for `cargo fuzz`; not a public API |
#![forbid(unsafe_code)]
#![warn(missing_docs, unreachable_pub, clippy::await_holding_lock)]
#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod audit;
pub mod authz;
mod claims;
mod crypto;
mod discovery;
#[cfg(feature = "dpop")]
#[cfg_attr(docsrs, doc(cfg(feature = "dpop")))]
pub mod dpop;
mod error;
#[cfg(feature = "axum")]
#[cfg_attr(docsrs, doc(cfg(feature = "axum")))]
pub mod extract;
mod http;
pub mod issuer;
mod jwks;
pub mod layer;
pub mod manual;
#[cfg(feature = "mtls")]
#[cfg_attr(docsrs, doc(cfg(feature = "mtls")))]
pub mod mtls;
pub mod ops;
pub mod presets;
#[cfg(feature = "redis")]
mod redis;
pub mod revocation;
mod sync;
mod task;
pub mod tenant;
mod verify;

pub use claims::{
    ClaimPath, ClaimsError, Fingerprint, OneOrMany, StandardClaims, TokenKind, VerifiedClaims,
};
pub use crypto::backend_name as signature_backend;
pub use error::{
    ConfigError, FetchError, FetchErrorKind, HttpClientError, JwksError, Reason, Rejection,
};
pub use issuer::{AudienceCheck, HttpConfig, Issuer, IssuerBuilder, RefreshConfig};
pub use jsonwebtoken::Algorithm;
pub use layer::{AuthLayer, AuthLayerBuilder, AuthService, CacheConfig, LazyIssuers, PostVerify};

#[cfg(feature = "client")]
#[cfg_attr(docsrs, doc(cfg(feature = "client")))]
pub mod client;
#[cfg(feature = "grpc")]
#[cfg_attr(docsrs, doc(cfg(feature = "grpc")))]
pub mod grpc;
#[cfg(feature = "introspection")]
#[cfg_attr(docsrs, doc(cfg(feature = "introspection")))]
pub mod introspection;
// Without the feature: only the gRPC answers of the layer and the guards
// (src/grpc/status.rs), without the public module and its docs.
#[cfg(not(feature = "grpc"))]
mod grpc {
    pub(crate) mod status;
}
#[cfg(feature = "testkit")]
#[cfg_attr(docsrs, doc(cfg(feature = "testkit")))]
pub mod testkit;

#[cfg(any(test, feature = "fuzzing"))]
#[doc(hidden)]
#[path = "fuzz.rs"]
pub mod __fuzz;

#[cfg(test)]
mod proptests;
