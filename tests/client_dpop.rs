//! Outbound DPoP end to end (RFC 9449): service A (`ClientCredentials`
//! with a DPoP key, through `BearerLayer` or `send`) calls service B
//! (`AuthLayer` with `.dpop(..)`, DPoP required on the route) on
//! 127.0.0.1, with tokens from the `MockIssuer`'s token endpoint.
#![cfg(all(feature = "testkit", feature = "client", feature = "dpop"))]
mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Body;
use axum::extract::Request as AxumRequest;
use axum::middleware::{self, Next};
use axum::routing::get;
use axum::{Extension, Router};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use http::{header, Request, StatusCode};
use oauth2_guard::client::{ClientCredentials, DpopSigningKey, TokenError};
use oauth2_guard::dpop::{CheckedProof, DpopConfig, DpopConfigBuilder, RequireDpop};
use oauth2_guard::testkit::{Algorithm, DpopKey, MockIssuer};
use oauth2_guard::{AuthLayer, Reason};
use tower::{service_fn, Layer as _, ServiceExt as _};

use common::{
    bind_loopback, idp_with_client, loopback, orders_issuer, reason_of, serve_on, CLIENT, SECRET,
};

/// Bounds every step: a hung request fails the test instead of stalling it.
async fn timed<F: std::future::Future>(f: F) -> F::Output {
    tokio::time::timeout(Duration::from_secs(10), f)
        .await
        .expect("in time")
}

fn client_key(n: usize) -> DpopSigningKey {
    let kit = DpopKey::from_pool(Algorithm::ES256, n);
    DpopSigningKey::from_pem(kit.private_key_pem(), Algorithm::ES256).expect("dpop key")
}

/// Service B: `/orders` (GET, POST) requires DPoP and answers with the
/// proof's thumbprint. Every request reaching B is counted and the `jti`
/// of every proof B accepted is recorded.
struct ServiceB {
    base: String,
    app: Router,
    arrived: Arc<Mutex<usize>>,
    accepted_jtis: Arc<Mutex<Vec<String>>>,
}

fn jti_of(proof: &str) -> String {
    let claims = proof.split('.').nth(1).expect("claims");
    let claims: serde_json::Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(claims).expect("b64")).expect("json");
    claims["jti"].as_str().expect("jti").to_owned()
}

async fn service_b(
    idp: &MockIssuer,
    dpop: impl FnOnce(DpopConfigBuilder) -> DpopConfigBuilder,
) -> ServiceB {
    let listener = bind_loopback().await;
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    let layer = AuthLayer::builder()
        .issuer(orders_issuer(idp).await)
        .realm("orders")
        .dpop(
            dpop(DpopConfig::builder(&base))
                .build()
                .expect("dpop config"),
        )
        .build()
        .expect("layer");
    let accepted_jtis = Arc::new(Mutex::new(Vec::new()));
    let jtis = accepted_jtis.clone();
    let handler = move |proof: Extension<CheckedProof>, req: AxumRequest| {
        let jtis = jtis.clone();
        async move {
            if let Some(p) = req.headers().get("dpop").and_then(|v| v.to_str().ok()) {
                jtis.lock().unwrap().push(jti_of(p));
            }
            proof.thumbprint().to_owned()
        }
    };
    let arrived = Arc::new(Mutex::new(0));
    let count = arrived.clone();
    let app = Router::new()
        .route("/orders", get(handler.clone()).post(handler))
        .route_layer(RequireDpop::new())
        .layer(layer)
        .layer(middleware::from_fn(move |req: AxumRequest, next: Next| {
            *count.lock().unwrap() += 1;
            next.run(req)
        }));
    serve_on(listener, app.clone());
    ServiceB {
        base,
        app,
        arrived,
        accepted_jtis,
    }
}

async fn source(idp: &MockIssuer, key: DpopSigningKey) -> ClientCredentials {
    idp.client_credentials_builder(CLIENT)
        .client_secret(SECRET)
        .dpop(key)
        .build()
        .await
        .expect("source")
}

/// Service A's outbound HTTP client: `BearerLayer` over reqwest, bodies
/// are `String`s (replayable).
fn client_a(
    source: &ClientCredentials,
) -> impl tower::Service<
    Request<String>,
    Response = http::Response<String>,
    Error = oauth2_guard::client::BearerError<reqwest::Error>,
    Future = impl Send,
> + Clone {
    let http = reqwest::Client::new();
    source
        .layer()
        .layer(service_fn(move |req: Request<String>| {
            let http = http.clone();
            async move {
                let req =
                    reqwest::Request::try_from(req.map(reqwest::Body::from)).expect("request");
                let res = http.execute(req).await?;
                let mut out = http::Response::builder().status(res.status());
                for (k, v) in res.headers() {
                    out = out.header(k, v);
                }
                let body = res.text().await?;
                Ok::<_, reqwest::Error>(out.body(body).expect("response"))
            }
        }))
}

async fn call(
    client: &(impl tower::Service<
        Request<String>,
        Response = http::Response<String>,
        Error = oauth2_guard::client::BearerError<reqwest::Error>,
    > + Clone),
    method: &str,
    url: &str,
) -> http::Response<String> {
    let req = Request::builder()
        .method(method)
        .uri(url)
        .body(String::from("{}"))
        .unwrap();
    timed(client.clone().oneshot(req)).await.expect("call")
}

#[tokio::test]
async fn dpop_end_to_end_proof_per_request_token_fetched_once() {
    let idp = idp_with_client().await;
    let b = service_b(&idp, |c| c).await;
    let key = client_key(0);
    let source = source(&idp, key.clone()).await;
    let client = client_a(&source);
    let url = format!("{}/orders?page=2", b.base);
    for method in ["GET", "POST", "GET", "POST", "GET"] {
        let res = call(&client, method, &url).await;
        assert_eq!(res.status(), StatusCode::OK, "{method}: {res:?}");
        assert_eq!(res.body(), key.thumbprint(), "B saw a proof of A's key");
    }
    // One DPoP-bound token for every call; its request carried one proof.
    assert_eq!(idp.token_requests(), 1);
    assert_eq!(idp.dpop_proofs(), 1);
    assert_eq!(idp.dpop_bound_tokens(), 1);
    let token = timed(source.token()).await.expect("token");
    assert!(token.is_dpop());
    assert!(token.header_value().as_bytes().starts_with(b"DPoP "));
    // A fresh proof per request: five accepted, five distinct jtis.
    let mut jtis = b.accepted_jtis.lock().unwrap().clone();
    assert_eq!(jtis.len(), 5);
    jtis.sort();
    jtis.dedup();
    assert_eq!(jtis.len(), 5, "every request had its own proof");
    assert_eq!(*b.arrived.lock().unwrap(), 5, "no retries were needed");
}

#[tokio::test]
async fn token_endpoint_nonce_costs_one_retry() {
    let idp = idp_with_client().await;
    idp.require_dpop_nonce(true);
    let b = service_b(&idp, |c| c).await;
    let source = source(&idp, client_key(1)).await;
    let res = call(&client_a(&source), "GET", &format!("{}/orders", b.base)).await;
    assert_eq!(res.status(), StatusCode::OK);
    // First proof without a nonce (400 use_dpop_nonce), then one with it.
    assert_eq!(idp.token_requests(), 2);
    assert_eq!(idp.dpop_proofs(), 2);
    assert_eq!(idp.dpop_bound_tokens(), 1);
    // A refresh reuses the remembered nonce: no second refusal.
    timed(source.refresh_now()).await.expect("refresh");
    assert_eq!(idp.token_requests(), 3);
    assert_eq!(idp.dpop_bound_tokens(), 2);
}

#[tokio::test]
async fn resource_nonce_costs_one_retry_then_is_remembered() {
    let idp = idp_with_client().await;
    let b = service_b(&idp, |c| c.require_nonce(Duration::from_secs(300))).await;
    let source = source(&idp, client_key(2)).await;
    let client = client_a(&source);
    let url = format!("{}/orders", b.base);
    let res = call(&client, "POST", &url).await;
    assert_eq!(res.status(), StatusCode::OK, "{res:?}");
    assert_eq!(
        *b.arrived.lock().unwrap(),
        2,
        "one 401 use_dpop_nonce, one retry"
    );
    let res = call(&client, "GET", &url).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(*b.arrived.lock().unwrap(), 3, "the nonce was remembered");
    // reqwest through `send`: the same source, the nonce already known.
    let res = timed(source.send(reqwest::Client::new().get(&url)))
        .await
        .expect("send");
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(*b.arrived.lock().unwrap(), 4);
    assert_eq!(idp.token_requests(), 1);
}

#[tokio::test]
async fn send_retries_once_on_a_resource_nonce() {
    let idp = idp_with_client().await;
    let b = service_b(&idp, |c| c.require_nonce(Duration::from_secs(300))).await;
    let source = source(&idp, client_key(3)).await;
    let http = reqwest::Client::new();
    let url = format!("{}/orders", b.base);
    let res = timed(source.send(http.post(&url).body("x")))
        .await
        .expect("send");
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(*b.arrived.lock().unwrap(), 2);
}

#[tokio::test]
async fn a_stolen_dpop_token_is_refused() {
    let idp = idp_with_client().await;
    let b = service_b(&idp, |c| c).await;
    let source = source(&idp, client_key(0)).await;
    let token = timed(source.token()).await.expect("token");
    let stolen = token.secret().to_owned();
    let send = |req: Request<Body>| timed(b.app.clone().oneshot(req));
    // As a Bearer token (RFC 9449 §7.2: no downgrade).
    let req = Request::get("/orders")
        .header(header::AUTHORIZATION, format!("Bearer {stolen}"))
        .body(Body::empty())
        .unwrap();
    let res = send(req).await.unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(reason_of(&res), Some(Reason::SenderConstrained));
    // Under the DPoP scheme with the thief's own key's proof.
    let thief = client_key(1);
    let proof = thief
        .proof(
            &http::Method::GET,
            &format!("{}/orders", b.base),
            Some(&stolen),
        )
        .unwrap();
    let req = Request::get("/orders")
        .header(header::AUTHORIZATION, format!("DPoP {stolen}"))
        .header("dpop", proof)
        .body(Body::empty())
        .unwrap();
    let res = send(req).await.unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        reason_of(&res),
        Some(Reason::Dpop(oauth2_guard::dpop::DpopError::JktMismatch))
    );
}

/// A token endpoint that ignores DPoP answers `token_type: Bearer`: the
/// source refuses it rather than silently downgrading.
#[tokio::test]
async fn a_bearer_answer_to_a_dpop_request_is_refused() {
    let app = Router::new().route(
        "/token",
        axum::routing::post(|| async {
            axum::Json(serde_json::json!({"access_token": "a.b.c", "token_type": "Bearer", "expires_in": 60}))
        }),
    );
    let listener = bind_loopback().await;
    let addr = serve_on(listener, app);
    let source = ClientCredentials::builder(CLIENT)
        .token_endpoint(format!("http://{addr}/token"))
        .client_secret(SECRET)
        .http(loopback())
        .dpop(client_key(0))
        .build()
        .await
        .expect("source");
    let err = timed(source.token()).await.unwrap_err();
    assert!(matches!(err, TokenError::InvalidResponse { .. }), "{err:?}");
}

#[test]
fn dpop_key_debug_hides_the_private_key() {
    let kit = DpopKey::from_pool(Algorithm::EdDSA, 0);
    let key = DpopSigningKey::from_pem(kit.private_key_pem(), Algorithm::EdDSA).unwrap();
    let debug = format!("{key:?}");
    assert!(debug.contains(key.thumbprint()));
    let pem_body: String = kit.private_key_pem().lines().nth(1).unwrap().to_owned();
    assert!(!debug.contains(&pem_body));
}
