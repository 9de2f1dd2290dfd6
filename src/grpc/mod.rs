//! gRPC (tonic): the same [`AuthLayer`](crate::AuthLayer) and guards in
//! front of a tonic server, answered with gRPC status codes (feature
//! `grpc`).
//!
//! - **Refusals.** The `AuthLayer` and the guards answer a gRPC call
//!   (`content-type: application/grpc…`) with a *trailers-only* response a
//!   tonic client reads as a [`tonic::Status`]: HTTP 200, `grpc-status` 16
//!   `UNAUTHENTICATED` (the 401 cases), 7 `PERMISSION_DENIED` (403), 14
//!   `UNAVAILABLE` (503, with `Retry-After` and `grpc-retry-pushback-ms`),
//!   3 `INVALID_ARGUMENT` (400); a fixed, percent-encoded `grpc-message`
//!   that never holds token material; every `WWW-Authenticate` challenge
//!   (`Bearer`, and `DPoP` when accepted) as metadata. Plain HTTP requests on the same server keep RFC 6750
//!   answers. This needs no feature: the `content-type` decides.
//! - **Guards per method.** [`MethodGuards`] maps `/package.Service/Method`
//!   (or a whole `package.Service`) to a [`MethodRule`] built from the same
//!   [`RequireScope`](crate::authz::RequireScope) /
//!   [`RequireRole`](crate::authz::RequireRole) combinators as axum routes.
//!   Unlisted methods are refused.
//! - **Claims in handlers.** [`RequestClaimsExt`] on `tonic::Request<T>`.
//! - **Outbound.** [`GrpcBearerLayer`](crate::client::GrpcBearerLayer)
//!   (features `grpc` + `client`) puts a cached, refreshed-ahead
//!   client-credentials token on every call of a tonic `Channel`, and
//!   retries a unary call once with a new token on `UNAUTHENTICATED`.
//!
//! ```
//! use oauth2_guard::authz::RequireScope;
//! use oauth2_guard::grpc::{MethodGuards, RequestClaimsExt};
//! use oauth2_guard::testkit::MockIssuer;
//! use oauth2_guard::AuthLayer;
//! use tower::{ServiceBuilder, ServiceExt};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let idp = MockIssuer::start().await;
//! let issuer = idp.issuer_builder().audience("orders-api").build().await?;
//! // With tonic: Server::builder().layer(auth).layer(guards).add_service(...)
//! let server = ServiceBuilder::new()
//!     .layer(AuthLayer::new(issuer))
//!     .layer(MethodGuards::new().method("/shop.v1.Orders/CreateOrder", RequireScope::new("orders:write")))
//!     .service_fn(|req: http::Request<tonic::body::Body>| async move {
//!         // What a tonic handler sees:
//!         let req = tonic::Request::from_http(req);
//!         assert!(req.claims().is_some_and(|c| c.has_scope("orders:write")));
//!         Ok::<_, std::convert::Infallible>(tonic::Status::ok("").into_http::<tonic::body::Body>())
//!     });
//!
//! let call = |token: Option<String>| {
//!     let mut req = http::Request::post("/shop.v1.Orders/CreateOrder")
//!         .header("content-type", "application/grpc")
//!         .body(tonic::body::Body::empty())
//!         .unwrap();
//!     if let Some(t) = token {
//!         req.headers_mut().insert("authorization", format!("Bearer {t}").parse().unwrap());
//!     }
//!     req
//! };
//! let status = |res: http::Response<_>| tonic::Status::from_header_map(res.headers()).unwrap().code();
//!
//! let res = server.clone().oneshot(call(None)).await?;
//! assert_eq!(res.status(), 200);
//! assert_eq!(status(res), tonic::Code::Unauthenticated);
//! let reader = idp.token().scope("orders:read").sign();
//! assert_eq!(status(server.clone().oneshot(call(Some(reader))).await?), tonic::Code::PermissionDenied);
//! let writer = idp.token().scope("orders:write").sign();
//! assert_eq!(status(server.oneshot(call(Some(writer))).await?), tonic::Code::Ok);
//! # Ok(()) }
//! ```
//!
//! A whole program, with two tonic services, the outbound layer and the
//! embedded issuer: `examples/grpc.rs`.
//!
//! # Security
//! `grpc-message` is one of a few fixed sentences per refusal (with
//! [`ErrorDetail::ReasonCode`](crate::layer::ErrorDetail::ReasonCode), the
//! stable reason code as well; for a role guard, the missing role names
//! from the guard's own configuration, as the HTTP body has them): no
//! claim, token or key material reaches it.
//!
//! The outbound [`GrpcBearerLayer`](crate::client::GrpcBearerLayer) sends
//! Bearer tokens only: a DPoP proof per gRPC call is not implemented, so a
//! DPoP-bound source is refused when the layer is built.

#[cfg(feature = "grpc")]
mod claims;
pub(crate) mod status;

#[cfg(feature = "grpc")]
pub use crate::authz::methods::{MethodGuards, MethodGuardsService, MethodRule};
#[cfg(feature = "grpc")]
pub use claims::RequestClaimsExt;
