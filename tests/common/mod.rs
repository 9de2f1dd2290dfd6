//! Helpers shared by the integration-test binaries.
//!
//! Each binary includes this module with `mod common;` and uses a subset of
//! it, hence the `dead_code` allowance. What lives here is the *same logic*
//! that several binaries need: the app and issuer every suite starts from,
//! the `Authorization` header, the clock, loopback servers, and the log
//! capture with its "no token in the logs" scan ([`logs`]). Helpers that
//! belong to one suite (the attack `Harness`, `core.rs`'s `Answer`) stay in
//! that suite.
#![allow(dead_code)]

pub mod logs;
/// The throwaway rcgen PKI of the mTLS suites (`tests/mtls.rs`, `interop/mtls.rs`).
#[cfg(feature = "mtls")]
pub mod pki;
/// A real `redis-server` per test, killed on drop (`tests/redis*.rs`).
#[cfg(feature = "redis")]
pub mod redis;

use std::net::SocketAddr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::body::Body;
use axum::routing::get;
use axum::Router;
use http::{header, HeaderValue, Request, Response};
use oauth2_guard::testkit::MockIssuer;
use oauth2_guard::{AuthLayer, HttpConfig, Issuer, Reason, RefreshConfig, Rejection};

/// The confidential client the suites register with a [`MockIssuer`]
/// (see [`idp_with_client`]).
pub const CLIENT: &str = "checkout";
/// [`CLIENT`]'s secret.
pub const SECRET: &str = "checkout-secret";

/// Seconds since the Unix epoch: the clock of hand-made `iat`/`exp`/`nbf`
/// claims.
pub fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// The `Authorization: Bearer <token>` header value, *not* marked sensitive
/// (so a layer that logged the header would show the token to the log scan).
///
/// # Panics
/// When `token` holds characters a header value cannot carry.
pub fn bearer(token: &str) -> HeaderValue {
    HeaderValue::from_str(&format!("Bearer {token}")).expect("token is a valid header value")
}

/// `GET path` with an empty body and `authorization` as its `Authorization`
/// header.
pub fn get_with_auth(path: &str, authorization: HeaderValue) -> Request<Body> {
    Request::get(path)
        .header(header::AUTHORIZATION, authorization)
        .body(Body::empty())
        .expect("request")
}

/// The reason code the layer put into the response's extensions (`None`
/// when the request was not refused by the layer or a guard).
pub fn reason_of<B>(res: &Response<B>) -> Option<Reason> {
    res.extensions().get::<Rejection>().map(Rejection::reason)
}

/// The response's `WWW-Authenticate` challenge as text; empty when there is
/// none (or it is not text), so assertions on it fail with the name of the
/// case rather than a panic here.
pub fn challenge<B>(res: &Response<B>) -> &str {
    res.headers()
        .get(header::WWW_AUTHENTICATE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
}

/// The HTTP settings for the test kit's servers, which serve plain HTTP on
/// `127.0.0.1`: the explicit loopback opt-in.
pub fn loopback() -> HttpConfig {
    HttpConfig::default().allow_loopback_http()
}

/// An issuer for `idp` checking the audience `orders-api` (what the
/// [`MockIssuer`]'s tokens carry), every other setting at its default.
///
/// # Panics
/// When the issuer cannot be built (the mock is down or refuses).
pub async fn orders_issuer(idp: &MockIssuer) -> Issuer {
    idp.issuer_builder()
        .audience("orders-api")
        .build()
        .await
        .expect("issuer")
}

/// Refresh settings whose failed fetches are retried fast: backoff from
/// 50 ms, at most 200 ms apart.
pub fn fast_backoff() -> RefreshConfig {
    RefreshConfig::default()
        .backoff_base(Duration::from_millis(50))
        .backoff_max(Duration::from_millis(200))
}

/// An issuer for `idp` (audience `orders-api`) that polls its keys every
/// 100 ms: the IdP is told to send no `max-age`, and `refresh` gets a
/// 100 ms minimum and default interval.
///
/// # Panics
/// When the issuer cannot be built.
pub async fn polling_issuer(idp: &MockIssuer, refresh: RefreshConfig) -> Issuer {
    idp.set_cache_control(None);
    idp.issuer_builder()
        .audience("orders-api")
        .refresh(
            refresh
                .min_interval(Duration::from_millis(100))
                .default_interval(Duration::from_millis(100)),
        )
        .build()
        .await
        .expect("issuer")
}

/// A layer for `issuer` with the realm `orders`, every other setting at
/// its default.
///
/// # Panics
/// When the layer cannot be built.
pub fn orders_layer(issuer: Issuer) -> AuthLayer {
    AuthLayer::builder()
        .issuer(issuer)
        .realm("orders")
        .build()
        .expect("layer")
}

/// `GET /x` answering `ok` behind `layer`: the app for tests that only look
/// at what the layer lets through.
pub fn ok_app(layer: AuthLayer) -> Router {
    Router::new()
        .route("/x", get(|| async { "ok" }))
        .layer(layer)
}

/// A [`MockIssuer`] with [`CLIENT`] registered under [`SECRET`].
pub async fn idp_with_client() -> MockIssuer {
    let idp = MockIssuer::start().await;
    idp.register_client(CLIENT, SECRET);
    idp
}

/// A listener on an ephemeral port of `127.0.0.1` (tests bind nothing else).
pub async fn bind_loopback() -> tokio::net::TcpListener {
    tokio::net::TcpListener::bind(("127.0.0.1", 0))
        .await
        .expect("bind 127.0.0.1:0")
}

/// Serves `app` on `listener` in a background task; returns its address.
pub fn serve_on(listener: tokio::net::TcpListener, app: Router) -> SocketAddr {
    let addr = listener.local_addr().expect("local addr");
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    addr
}

/// Serves `app` on an ephemeral port of `127.0.0.1`; returns its address.
pub async fn serve(app: Router) -> SocketAddr {
    serve_on(bind_loopback().await, app)
}

/// Waits until `cond` holds, polling every 10 ms, and panics with `what`
/// after `patience`. Tests wait for a background effect this way instead
/// of sleeping a fixed time: CI machines are shared and a fixed sleep is a
/// guess about their load.
pub async fn eventually(what: &str, patience: Duration, mut cond: impl FnMut() -> bool) {
    let deadline = std::time::Instant::now() + patience;
    while !cond() {
        assert!(
            std::time::Instant::now() < deadline,
            "{what}: not within {patience:?}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}
