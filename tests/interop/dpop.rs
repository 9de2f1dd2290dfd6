//! DPoP-bound tokens (RFC 9449) from the real provider (`features.dPoP` in
//! `provider.mjs`): a client-credentials token requested with a proof comes
//! back `token_type: DPoP`, a JWT with `cnf.jkt`.
//!
//! Tests (all `#[ignore]`d like the rest of the suite):
//! - `dpop_token_from_the_crates_client`: the crate's own `ClientCredentials`
//!   with a `DpopSigningKey` gets the token; the `AuthLayer` (with `.dpop(..)`)
//!   accepts it with a fresh proof, and refuses it as Bearer, without a
//!   proof, with a replayed proof and with a proof signed by another key.
//! - `dpop_token_and_proofs_from_jose`: an independent client
//!   (`dpop-client.mjs`, panva's `jose`) gets the token and signs the
//!   proofs; the layer accepts one, refuses its replay, and refuses it as
//!   Bearer.
#![cfg(all(feature = "client", feature = "dpop"))]

use axum::body::Body;
use axum::{routing::get, Extension, Router};
use http::{header, Method, Request, Response, StatusCode};
use oauth2_guard::client::{ClientCredentials, DpopSigningKey};
use oauth2_guard::dpop::{CheckedProof, DpopConfig, DpopError};
use oauth2_guard::testkit::{Algorithm, DpopKey};
use oauth2_guard::{AuthLayer, Reason, RefreshConfig};
use serde_json::Value;
use tower::ServiceExt as _;

use super::{init_tracing, interop_dir, run, Provider, HTTP_TIMEOUT, ORDERS};
use crate::common::{loopback, reason_of};

/// The external base URL the resource server's `htu` check uses.
const BASE: &str = "https://orders.example.com";
const URL: &str = "https://orders.example.com/orders";

/// `/orders` behind a layer accepting Bearer and DPoP tokens of the provider;
/// answers with the proof's thumbprint.
async fn dpop_app(idp: &Provider) -> Router {
    let layer = AuthLayer::builder()
        .issuer(idp.guard_issuer(RefreshConfig::default()).await)
        .realm("orders")
        .dpop(DpopConfig::builder(BASE).build().expect("dpop config"))
        .build()
        .expect("layer");
    Router::new()
        .route(
            "/orders",
            get(|Extension(proof): Extension<CheckedProof>| async move {
                proof.thumbprint().to_owned()
            }),
        )
        .layer(layer)
}

async fn send(app: &Router, authorization: String, proof: Option<&str>) -> Response<Body> {
    let mut req = Request::get("/orders").header(header::AUTHORIZATION, authorization);
    if let Some(p) = proof {
        req = req.header("dpop", p);
    }
    let req = req.body(Body::empty()).expect("request");
    tokio::time::timeout(HTTP_TIMEOUT, app.clone().oneshot(req))
        .await
        .expect("in time")
        .expect("the router is infallible")
}

fn claims_of(token: &str) -> Value {
    use base64::Engine as _;
    let part = token.split('.').nth(1).expect("a JWT");
    serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(part)
            .expect("base64url"),
    )
    .expect("JSON claims")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs Node.js 20+ and `npm ci` in tests/interop: run tests/interop/run-ci.sh"]
async fn dpop_token_from_the_crates_client() {
    init_tracing();
    let idp = Provider::start("dpop-crate").await;
    let app = dpop_app(&idp).await;
    let kit = DpopKey::from_pool(Algorithm::ES256, 0);
    let key = DpopSigningKey::from_pem(kit.private_key_pem(), Algorithm::ES256).expect("key");
    let source = ClientCredentials::builder("cc-es256")
        .issuer(idp.issuer.clone())
        .http(loopback())
        .client_secret("secret-cc-es256")
        .resource(ORDERS)
        .scope("orders:read")
        .dpop(key.clone())
        .build()
        .await
        .expect("ClientCredentials::build");
    let token = tokio::time::timeout(HTTP_TIMEOUT, source.token())
        .await
        .expect("in time")
        .expect("a DPoP-bound token from the provider");
    assert!(token.is_dpop(), "token_type DPoP");
    let claims = claims_of(token.secret());
    assert_eq!(claims["cnf"]["jkt"], key.thumbprint(), "{claims}");
    let t = token.secret();
    let dpop = format!("DPoP {t}");

    // A fresh proof from the crate's client: accepted, bound to our key.
    let proof = key.proof(&Method::GET, URL, Some(t)).expect("proof");
    let res = send(&app, dpop.clone(), Some(&proof)).await;
    assert_eq!(res.status(), StatusCode::OK, "{:?}", reason_of(&res));
    // The same proof again: a replay.
    let res = send(&app, dpop.clone(), Some(&proof)).await;
    assert_eq!(reason_of(&res), Some(Reason::Dpop(DpopError::Replay)));
    // As a Bearer token, with or without a proof.
    let fresh = key.proof(&Method::GET, URL, Some(t)).expect("proof");
    for p in [None, Some(fresh.as_str())] {
        let res = send(&app, format!("Bearer {t}"), p).await;
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(reason_of(&res), Some(Reason::SenderConstrained));
    }
    // Without a proof.
    let res = send(&app, dpop.clone(), None).await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(reason_of(&res), Some(Reason::Dpop(DpopError::Missing)));
    // A proof signed by another key.
    let other = DpopSigningKey::from_pem(
        DpopKey::from_pool(Algorithm::ES256, 1).private_key_pem(),
        Algorithm::ES256,
    )
    .expect("key");
    let stolen = other.proof(&Method::GET, URL, Some(t)).expect("proof");
    let res = send(&app, dpop, Some(&stolen)).await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(reason_of(&res), Some(Reason::Dpop(DpopError::JktMismatch)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs Node.js 20+ and `npm ci` in tests/interop: run tests/interop/run-ci.sh"]
async fn dpop_token_and_proofs_from_jose() {
    init_tracing();
    let idp = Provider::start("dpop-jose").await;
    let app = dpop_app(&idp).await;
    let mut cmd = tokio::process::Command::new("node");
    cmd.current_dir(interop_dir()).arg("dpop-client.mjs").args([
        idp.issuer.as_str(),
        "cc-es256",
        ORDERS,
        "GET",
        URL,
    ]);
    let out = run(cmd, "dpop-client.mjs").await.expect("dpop-client.mjs");
    let out: Value = serde_json::from_str(&out).expect("one JSON line");
    assert_eq!(out["token_type"], "DPoP", "{out}");
    let t = out["access_token"].as_str().expect("access_token");
    assert_eq!(claims_of(t)["cnf"]["jkt"], out["jkt"]);
    let (p1, p2) = (
        out["proof"].as_str().expect("proof"),
        out["proof2"].as_str().expect("proof2"),
    );
    let res = send(&app, format!("DPoP {t}"), Some(p1)).await;
    assert_eq!(res.status(), StatusCode::OK, "{:?}", reason_of(&res));
    let res = send(&app, format!("DPoP {t}"), Some(p1)).await;
    assert_eq!(reason_of(&res), Some(Reason::Dpop(DpopError::Replay)));
    let res = send(&app, format!("DPoP {t}"), Some(p2)).await;
    assert_eq!(res.status(), StatusCode::OK, "a second fresh proof");
    let res = send(&app, format!("Bearer {t}"), None).await;
    assert_eq!(reason_of(&res), Some(Reason::SenderConstrained));
}
