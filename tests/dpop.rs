//! DPoP (RFC 9449) through the real `AuthLayer` (axum router, `oneshot`)
//! against a `MockIssuer`: statuses, reason codes (the `Rejection` in the
//! response extensions), challenges and `DPoP-Nonce` headers.
#![cfg(all(
    feature = "testkit",
    feature = "dpop",
    feature = "axum",
    feature = "introspection"
))]
mod common;
#[path = "dpop/forwarded.rs"]
mod forwarded;
#[path = "dpop/challenges.rs"]
mod guard_challenges;

use std::time::Duration;

use axum::{body::Body, routing::get, Router};
use http::{Request, Response, StatusCode};
use oauth2_guard::dpop::{
    CheckedProof, DpopChecker, DpopConfig, DpopConfigBuilder, DpopError, NonceSecret, RequireDpop,
};
use oauth2_guard::introspection::Introspector;
use oauth2_guard::testkit::{Algorithm, DpopKey, MockIssuer};
use oauth2_guard::{AuthLayer, CacheConfig, Reason};
use tower::ServiceExt;

use common::{loopback, now, orders_issuer, reason_of};

const BASE: &str = "https://api.example.com";
const URL: &str = "https://api.example.com/orders";

fn config() -> DpopConfigBuilder {
    DpopConfig::builder(BASE)
}

/// `/orders` (GET and POST) answering with the proof's thumbprint, or
/// `bearer`; `/payments` requires DPoP on the route.
fn app(layer: AuthLayer) -> Router {
    let handler = |proof: Option<axum::Extension<CheckedProof>>| async move {
        proof.map_or("bearer".to_owned(), |p| p.thumbprint().to_owned())
    };
    Router::new()
        .route("/orders", get(handler).post(handler))
        .route(
            "/payments",
            get(|| async { "paid" }).route_layer(RequireDpop::new()),
        )
        .layer(layer)
}

async fn dpop_app(idp: &MockIssuer, dpop: DpopConfigBuilder) -> Router {
    let layer = AuthLayer::builder()
        .issuer(orders_issuer(idp).await)
        .realm("orders")
        .dpop(dpop.build().expect("dpop config"))
        .build()
        .expect("layer");
    app(layer)
}

fn request(method: &str, path: &str, auth: &str, proofs: &[&str]) -> Request<Body> {
    let mut req = Request::builder()
        .method(method)
        .uri(path)
        .header("authorization", auth);
    for p in proofs {
        req = req.header("dpop", *p);
    }
    req.body(Body::empty()).unwrap()
}

async fn send(app: &Router, req: Request<Body>) -> Response<Body> {
    tokio::time::timeout(Duration::from_secs(2), app.clone().oneshot(req))
        .await
        .expect("in time")
        .unwrap()
}

fn challenges(res: &Response<Body>) -> Vec<String> {
    res.headers()
        .get_all("www-authenticate")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect()
}

async fn body(res: Response<Body>) -> String {
    let bytes = axum::body::to_bytes(res.into_body(), 1 << 16)
        .await
        .unwrap();
    String::from_utf8(bytes.to_vec()).unwrap()
}

fn bound_token(idp: &MockIssuer, key: &DpopKey) -> String {
    idp.token().claim("cnf", key.cnf()).sign()
}

fn proof(key: &DpopKey, method: &str, token: &str) -> String {
    key.proof_builder(method, URL).access_token(token).sign()
}

/// The start of the `DPoP` challenge of a layer with the default algorithms.
const ALL_ALGS: &str =
    r#"DPoP realm="orders", algs="ES256 ES384 EdDSA RS256 RS384 RS512 PS256 PS384 PS512""#;

/// The value of the auth-param `name` of one challenge.
fn param(challenge: &str, name: &str) -> Option<String> {
    let (_, params) = challenge.split_once(' ')?;
    params.split(", ").find_map(|kv| {
        kv.strip_prefix(name)?
            .strip_prefix("=\"")?
            .strip_suffix('"')
            .map(str::to_owned)
    })
}

fn dpop_error(res: &Response<Body>) -> Option<DpopError> {
    match reason_of(res)? {
        Reason::Dpop(e) => Some(e),
        _ => None,
    }
}

#[tokio::test]
async fn a_bound_token_with_a_fresh_proof_is_accepted_and_a_replay_refused() {
    let idp = MockIssuer::start().await;
    let app = dpop_app(&idp, config()).await;
    let key = DpopKey::generate(Algorithm::ES256);
    let token = bound_token(&idp, &key);
    let p = proof(&key, "GET", &token);
    let res = send(
        &app,
        request("GET", "/orders", &format!("DPoP {token}"), &[&p]),
    )
    .await;
    assert_eq!(res.status(), StatusCode::OK);
    assert!(res.headers().get("dpop-nonce").is_none(), "nonces are off");
    assert_eq!(body(res).await, key.thumbprint());

    // The same proof again: a replay (the token is now a cache hit, and
    // the proof is still checked).
    let res = send(
        &app,
        request("GET", "/orders", &format!("DPoP {token}"), &[&p]),
    )
    .await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(dpop_error(&res), Some(DpopError::Replay));
    let c = challenges(&res);
    assert_eq!(c.len(), 2, "{c:?}");
    assert!(
        c[0].starts_with(r#"DPoP realm="orders", algs="ES256 ES384 EdDSA RS256"#),
        "{c:?}"
    );
    assert!(c[0].contains(r#"error="invalid_dpop_proof""#), "{c:?}");
    assert_eq!(c[1], r#"Bearer realm="orders""#);

    // A fresh proof on the cache-hit path is accepted again.
    let p2 = proof(&key, "GET", &token);
    let res = send(
        &app,
        request("GET", "/orders", &format!("DPoP {token}"), &[&p2]),
    )
    .await;
    assert_eq!(res.status(), StatusCode::OK);
    // Plain bearer tokens still work beside DPoP; the missing-token answer
    // challenges both schemes, without error.
    let plain = idp.token().sign();
    let res = send(
        &app,
        request("GET", "/orders", &format!("Bearer {plain}"), &[]),
    )
    .await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(body(res).await, "bearer");
    let res = send(&app, Request::get("/orders").body(Body::empty()).unwrap()).await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(reason_of(&res), Some(Reason::MissingToken));
    let c = challenges(&res);
    assert_eq!(c.len(), 2);
    assert!(c.iter().all(|c| !c.contains("error=")), "{c:?}");
}

#[tokio::test]
async fn bindings_cannot_be_downgraded_or_skipped() {
    let idp = MockIssuer::start().await;
    let app = dpop_app(&idp, config()).await;
    let key = DpopKey::generate(Algorithm::ES256);
    let token = bound_token(&idp, &key);
    // Bound token as Bearer (with or without a proof header).
    let p = proof(&key, "GET", &token);
    for proofs in [&[][..], &[p.as_str()][..]] {
        let res = send(
            &app,
            request("GET", "/orders", &format!("Bearer {token}"), proofs),
        )
        .await;
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(reason_of(&res), Some(Reason::SenderConstrained));
        let c = challenges(&res);
        assert!(
            c[0].starts_with("Bearer") && c[0].contains(r#"error="invalid_token""#),
            "{c:?}"
        );
        assert!(c[1].starts_with("DPoP"), "{c:?}");
    }
    // An unbound token under the DPoP scheme, with a valid proof.
    let plain = idp.token().sign();
    let p = proof(&key, "GET", &plain);
    let res = send(
        &app,
        request("GET", "/orders", &format!("DPoP {plain}"), &[&p]),
    )
    .await;
    assert_eq!(dpop_error(&res), Some(DpopError::JktMismatch));
    assert!(challenges(&res)[0].contains(r#"error="invalid_token""#));
    // A token bound to another key.
    let other = DpopKey::generate(Algorithm::ES256);
    let p = proof(&other, "GET", &token);
    let res = send(
        &app,
        request("GET", "/orders", &format!("DPoP {token}"), &[&p]),
    )
    .await;
    assert_eq!(dpop_error(&res), Some(DpopError::JktMismatch));
    // DPoP scheme without a proof → 401; two proofs → 400.
    let res = send(
        &app,
        request("GET", "/orders", &format!("DPoP {token}"), &[]),
    )
    .await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(dpop_error(&res), Some(DpopError::Missing));
    assert!(challenges(&res)[0].contains(r#"error="invalid_dpop_proof""#));
    let (p1, p2) = (proof(&key, "GET", &token), proof(&key, "GET", &token));
    let res = send(
        &app,
        request("GET", "/orders", &format!("DPoP {token}"), &[&p1, &p2]),
    )
    .await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert_eq!(reason_of(&res), Some(Reason::InvalidRequest));
    // Certificate-bound and RFC 7800 key bindings have no proof here.
    for cnf in [
        serde_json::json!({"x5t#S256": "abc"}),
        serde_json::json!({"jwk": key.public_jwk()}),
    ] {
        let t = idp.token().claim("cnf", cnf).sign();
        let p = proof(&key, "GET", &t);
        let res = send(&app, request("GET", "/orders", &format!("DPoP {t}"), &[&p])).await;
        assert_eq!(reason_of(&res), Some(Reason::SenderConstrained));
    }
}

#[tokio::test]
async fn each_proof_check_has_its_reason() {
    let idp = MockIssuer::start().await;
    let app = dpop_app(&idp, config()).await;
    let key = DpopKey::generate(Algorithm::ES256);
    let token = bound_token(&idp, &key);
    let t = now() as i64;
    let b = |m: &str, u: &str| key.proof_builder(m, u).access_token(&token);
    let cases: Vec<(&str, String, &str, DpopError)> = vec![
        ("other method", b("POST", URL).sign(), "GET", DpopError::Htm),
        (
            "other URL",
            b("GET", "https://api.example.com/payments").sign(),
            "GET",
            DpopError::Htu,
        ),
        (
            "other host",
            b("GET", "https://evil.example.com/orders").sign(),
            "GET",
            DpopError::Htu,
        ),
        (
            "iat 61 s old",
            b("GET", URL).iat(t - 61).sign(),
            "GET",
            DpopError::Iat,
        ),
        (
            "iat 61 s ahead",
            b("GET", URL).iat(t + 61).sign(),
            "GET",
            DpopError::Iat,
        ),
        (
            "no ath",
            key.proof_builder("GET", URL).sign(),
            "GET",
            DpopError::Ath,
        ),
        (
            "ath of another token",
            key.proof_builder("GET", URL).access_token("x").sign(),
            "GET",
            DpopError::Ath,
        ),
        (
            "typ jwt",
            b("GET", URL).typ(Some("JWT")).sign(),
            "GET",
            DpopError::Typ,
        ),
        (
            "private jwk",
            b("GET", URL).private_jwk().sign(),
            "GET",
            DpopError::JwkPrivate,
        ),
        (
            "alg none",
            b("GET", URL).header_alg("none").sign(),
            "GET",
            DpopError::Alg,
        ),
        (
            "no jti",
            b("GET", URL).without_claim("jti").sign(),
            "GET",
            DpopError::Jti,
        ),
        (
            "garbage",
            "not-a-jws".to_owned(),
            "GET",
            DpopError::ProofMalformed,
        ),
        (
            "signed by another key than its jwk",
            b("GET", URL)
                .jwk(DpopKey::generate(Algorithm::ES256).public_jwk())
                .sign(),
            "GET",
            DpopError::Signature,
        ),
        (
            "no jwk",
            b("GET", URL).without_header("jwk").sign(),
            "GET",
            DpopError::Jwk,
        ),
        (
            "alg HS256",
            b("GET", URL).header_alg("HS256").sign(),
            "GET",
            DpopError::Alg,
        ),
    ];
    for (name, p, method, want) in cases {
        let res = send(
            &app,
            request(method, "/orders", &format!("DPoP {token}"), &[&p]),
        )
        .await;
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "{name}");
        assert_eq!(dpop_error(&res), Some(want), "{name}");
        let c = challenges(&res);
        assert_eq!(c.len(), 2, "{name}: {c:?}");
        assert!(c[0].starts_with(ALL_ALGS), "{name}: {c:?}");
        assert_eq!(
            param(&c[0], "error").as_deref(),
            Some("invalid_dpop_proof"),
            "{name}: {c:?}"
        );
        // The Bearer challenge beside it, without an error.
        assert_eq!(c[1], r#"Bearer realm="orders""#, "{name}");
    }
    // Within the window at both edges: accepted.
    for offset in [-59, 59] {
        let p = b("GET", URL).iat(t + offset).sign();
        let res = send(
            &app,
            request("GET", "/orders", &format!("DPoP {token}"), &[&p]),
        )
        .await;
        assert_eq!(res.status(), StatusCode::OK, "iat offset {offset}");
    }
    // The query is not part of htu; POST proofs for POST.
    let p = b("POST", URL).sign();
    let res = send(
        &app,
        request("POST", "/orders?page=2", &format!("DPoP {token}"), &[&p]),
    )
    .await;
    assert_eq!(res.status(), StatusCode::OK);
}

#[tokio::test]
async fn rsa_1024_proofs_are_refused() {
    let idp = MockIssuer::start().await;
    let app = dpop_app(&idp, config()).await;
    let weak = DpopKey::rsa_1024();
    let token = bound_token(&idp, &weak);
    let p = proof(&weak, "GET", &token);
    let res = send(
        &app,
        request("GET", "/orders", &format!("DPoP {token}"), &[&p]),
    )
    .await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(dpop_error(&res), Some(DpopError::JwkTooSmall));
}

#[tokio::test]
async fn nonce_flow() {
    let idp = MockIssuer::start().await;
    let app = dpop_app(&idp, config().require_nonce(Duration::from_secs(300))).await;
    let key = DpopKey::generate(Algorithm::ES256);
    let token = bound_token(&idp, &key);
    let p = proof(&key, "GET", &token);
    let res = send(
        &app,
        request("GET", "/orders", &format!("DPoP {token}"), &[&p]),
    )
    .await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(dpop_error(&res), Some(DpopError::Nonce));
    assert!(challenges(&res)[0].contains(r#"error="use_dpop_nonce""#));
    let nonce = res.headers()["dpop-nonce"].to_str().unwrap().to_owned();
    assert_eq!(res.headers()["cache-control"], "no-store");
    // A made-up nonce is refused too, with a fresh one.
    let p = key
        .proof_builder("GET", URL)
        .access_token(&token)
        .nonce("made-up")
        .sign();
    let res = send(
        &app,
        request("GET", "/orders", &format!("DPoP {token}"), &[&p]),
    )
    .await;
    assert_eq!(dpop_error(&res), Some(DpopError::Nonce));
    assert_eq!(res.headers()["dpop-nonce"], nonce.as_str());
    // With the server's nonce: accepted; the nonce is current, none is sent.
    let p = key
        .proof_builder("GET", URL)
        .access_token(&token)
        .nonce(&nonce)
        .sign();
    let res = send(
        &app,
        request("GET", "/orders", &format!("DPoP {token}"), &[&p]),
    )
    .await;
    assert_eq!(res.status(), StatusCode::OK);
    assert!(res.headers().get("dpop-nonce").is_none());
}

/// RFC 9449 §8.2: a proof with the previous slot's nonce is accepted, and
/// the success carries the current nonce so the client switches before
/// its nonce goes stale. No sleeping through a rotation: the previous
/// slot's nonce is issued by a checker with the same secret.
#[tokio::test]
async fn a_success_with_last_slots_nonce_carries_the_fresh_one() {
    const ROTATION: u64 = 10; // the shortest allowed
    let secret = NonceSecret::from_bytes(&[7; 32]).unwrap();
    let dpop = config()
        .require_nonce(Duration::from_secs(ROTATION))
        .nonce_secret(secret);
    let other_instance = DpopChecker::new(dpop.clone().build().unwrap());
    let idp = MockIssuer::start().await;
    let app = dpop_app(&idp, dpop).await;
    let key = DpopKey::generate(Algorithm::ES256);
    let token = bound_token(&idp, &key);
    // Not in the last 2 s of a slot, so the request sees the same slot.
    let t0 = std::time::Instant::now();
    let now = loop {
        let now = now();
        if now % ROTATION < ROTATION - 2 {
            break now;
        }
        assert!(t0.elapsed() < Duration::from_secs(3));
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let stale = other_instance.issue_nonce(now - ROTATION).unwrap();
    let current = other_instance.issue_nonce(now).unwrap();
    assert_ne!(stale, current);
    let p = key
        .proof_builder("GET", URL)
        .access_token(&token)
        .nonce(&stale)
        .sign();
    let res = send(
        &app,
        request("GET", "/orders", &format!("DPoP {token}"), &[&p]),
    )
    .await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["dpop-nonce"], current.as_str());
    // Two slots old: refused, with the current nonce.
    let p = key
        .proof_builder("GET", URL)
        .access_token(&token)
        .nonce(&other_instance.issue_nonce(now - 2 * ROTATION).unwrap())
        .sign();
    let res = send(
        &app,
        request("GET", "/orders", &format!("DPoP {token}"), &[&p]),
    )
    .await;
    assert_eq!(dpop_error(&res), Some(DpopError::Nonce));
    assert_eq!(res.headers()["dpop-nonce"], current.as_str());
}

#[tokio::test]
async fn require_dpop_per_layer_and_per_route() {
    let idp = MockIssuer::start().await;
    let key = DpopKey::generate(Algorithm::ES256);
    let token = bound_token(&idp, &key);
    let plain = idp.token().sign();
    // Per layer: Bearer refused before verification, one DPoP challenge.
    let layer = AuthLayer::builder()
        .issuer(orders_issuer(&idp).await)
        .dpop(config().build().unwrap())
        .require_dpop()
        .build()
        .unwrap();
    let strict = app(layer);
    let res = send(
        &strict,
        request("GET", "/orders", &format!("Bearer {plain}"), &[]),
    )
    .await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(dpop_error(&res), Some(DpopError::Required));
    let c = challenges(&res);
    assert_eq!(c.len(), 1, "{c:?}");
    assert!(c[0].starts_with("DPoP algs=") && c[0].contains(r#"error="invalid_token""#));
    let p = proof(&key, "GET", &token);
    let res = send(
        &strict,
        request("GET", "/orders", &format!("DPoP {token}"), &[&p]),
    )
    .await;
    assert_eq!(res.status(), StatusCode::OK);
    // require_dpop without dpop is a configuration error.
    assert!(AuthLayer::builder()
        .issuer(orders_issuer(&idp).await)
        .require_dpop()
        .build()
        .is_err());

    // Per route: Bearer passes the layer, not /payments.
    let mixed = dpop_app(&idp, config()).await;
    let res = send(
        &mixed,
        request("GET", "/payments", &format!("Bearer {plain}"), &[]),
    )
    .await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(dpop_error(&res), Some(DpopError::Required));
    let p = key
        .proof_builder("GET", "https://api.example.com/payments")
        .access_token(&token)
        .sign();
    let res = send(
        &mixed,
        request("GET", "/payments", &format!("DPoP {token}"), &[&p]),
    )
    .await;
    assert_eq!(res.status(), StatusCode::OK);
}

#[tokio::test]
async fn the_cache_does_not_skip_the_proof() {
    let idp = MockIssuer::start().await;
    let cached = dpop_app(&idp, config()).await;
    let key = DpopKey::generate(Algorithm::ES256);
    let token = bound_token(&idp, &key);
    let ok = proof(&key, "GET", &token);
    let res = send(
        &cached,
        request("GET", "/orders", &format!("DPoP {token}"), &[&ok]),
    )
    .await;
    assert_eq!(res.status(), StatusCode::OK);
    // The token is cached now; a proof by another key, and none, are refused.
    let thief = DpopKey::generate(Algorithm::ES256);
    let p = proof(&thief, "GET", &token);
    let res = send(
        &cached,
        request("GET", "/orders", &format!("DPoP {token}"), &[&p]),
    )
    .await;
    assert_eq!(dpop_error(&res), Some(DpopError::JktMismatch));
    let res = send(
        &cached,
        request("GET", "/orders", &format!("Bearer {token}"), &[]),
    )
    .await;
    assert_eq!(reason_of(&res), Some(Reason::SenderConstrained));
    // The same with the cache off.
    let layer = AuthLayer::builder()
        .issuer(orders_issuer(&idp).await)
        .cache(CacheConfig::disabled())
        .dpop(config().build().unwrap())
        .build()
        .unwrap();
    let uncached = app(layer);
    let res = send(
        &uncached,
        request("GET", "/orders", &format!("DPoP {token}"), &[&p]),
    )
    .await;
    assert_eq!(dpop_error(&res), Some(DpopError::JktMismatch));
}

#[tokio::test]
async fn an_introspected_opaque_token_bound_with_cnf_jkt_works_over_dpop() {
    let idp = MockIssuer::start().await;
    idp.register_client("orders-api", "orders-api-secret");
    let introspector = Introspector::builder(idp.issuer_url(), "orders-api")
        .client_secret("orders-api-secret")
        .audience("orders-api")
        .http(loopback())
        .build()
        .await
        .expect("introspector");
    let layer = AuthLayer::builder()
        .introspection(introspector)
        .dpop(config().build().unwrap())
        .build()
        .unwrap();
    let app = app(layer);
    let key = DpopKey::generate(Algorithm::ES256);
    let token = idp
        .opaque_token()
        .claim("cnf", key.cnf())
        .claim("token_type", "DPoP")
        .issue();
    // First use goes through introspection (the pending path).
    let p = proof(&key, "GET", &token);
    let res = send(
        &app,
        request("GET", "/orders", &format!("DPoP {token}"), &[&p]),
    )
    .await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(idp.introspection_requests(), 1);
    let res = send(
        &app,
        request("GET", "/orders", &format!("Bearer {token}"), &[]),
    )
    .await;
    assert_eq!(reason_of(&res), Some(Reason::SenderConstrained));
    let res = send(
        &app,
        request("GET", "/orders", &format!("DPoP {token}"), &[&p]),
    )
    .await;
    assert_eq!(dpop_error(&res), Some(DpopError::Replay));
}

#[test]
fn metadata_advertises_dpop() {
    let config = config()
        .algorithms([Algorithm::ES256, Algorithm::EdDSA])
        .build()
        .unwrap();
    let m = oauth2_guard::layer::ProtectedResourceMetadata::builder("https://api.example.com")
        .dpop(&config)
        .dpop_bound_access_tokens_required(true)
        .build()
        .unwrap();
    let v: serde_json::Value = serde_json::from_str(m.json()).unwrap();
    assert_eq!(
        v["dpop_signing_alg_values_supported"],
        serde_json::json!(["ES256", "EdDSA"])
    );
    assert_eq!(v["dpop_bound_access_tokens_required"], true);
    let plain = oauth2_guard::layer::ProtectedResourceMetadata::builder("https://api.example.com")
        .build()
        .unwrap();
    assert!(!plain.json().contains("dpop"), "{}", plain.json());
}
