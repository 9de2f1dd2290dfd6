//! The in-memory revocation list through the real `AuthLayer` (axum router,
//! `tower::ServiceExt::oneshot`) against a `MockIssuer`: revoked tokens are
//! refused with 401 `revoked` on the next request, cache hits included, and
//! the admin handler adds entries.
#![cfg(all(feature = "testkit", feature = "axum"))]

mod common;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::body::Body;
use axum::routing::get;
use axum::Router;
use http::{header, Request, Response, StatusCode};
use http_body_util::BodyExt;
use oauth2_guard::authz::RequireScope;
use oauth2_guard::revocation::{self, RevocationConfig, RevocationList};
use oauth2_guard::testkit::MockIssuer;
use oauth2_guard::{AuthLayer, Reason};
use serde_json::{json, Value};
use tower::ServiceExt;

use common::{bearer, get_with_auth, now, orders_issuer, reason_of};

/// Sanity bound per request (not a benchmark).
const MAX_WALL: Duration = Duration::from_secs(2);

async fn app_with(idp: &MockIssuer, list: &RevocationList) -> Router {
    let layer = AuthLayer::builder()
        .issuer(orders_issuer(idp).await)
        .realm("orders")
        .post_verify(list.clone())
        .build()
        .expect("layer");
    Router::new()
        .route("/x", get(|| async { "ok" }))
        .route(
            "/admin/revocations",
            revocation::handler(list.clone()).route_layer(RequireScope::new("orders:admin")),
        )
        .layer(layer)
}

async fn send(app: &Router, req: Request<Body>) -> Response<Body> {
    tokio::time::timeout(MAX_WALL, app.clone().oneshot(req))
        .await
        .expect("answered in time")
        .expect("infallible")
}

async fn get_x(app: &Router, token: &str) -> Response<Body> {
    send(app, get_with_auth("/x", bearer(token))).await
}

/// Asserts 401 with reason `revoked`.
fn assert_revoked(res: &Response<Body>, what: &str) {
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "{what}");
    assert_eq!(reason_of(res), Some(Reason::Revoked), "{what}");
}

fn at(unix: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(unix)
}

#[tokio::test]
async fn revoked_jti_is_refused_at_once_even_when_cached() {
    let idp = MockIssuer::start().await;
    let list = RevocationList::new();
    let app = app_with(&idp, &list).await;
    let stolen = idp.token().claim("jti", "stolen-1").sign();
    let other = idp.token().claim("jti", "other-1").sign();

    // First request: verified and cached.
    assert_eq!(get_x(&app, &stolen).await.status(), StatusCode::OK);
    assert_eq!(get_x(&app, &stolen).await.status(), StatusCode::OK);

    list.revoke_jti("stolen-1", SystemTime::now() + Duration::from_secs(600))
        .expect("revoked");
    let res = get_x(&app, &stolen).await;
    assert_revoked(&res, "cached token after revocation");
    assert!(
        res.headers()
            .get(header::WWW_AUTHENTICATE)
            .is_some_and(|v| v.to_str().unwrap_or("").contains("invalid_token")),
        "RFC 6750 invalid_token challenge"
    );
    assert_eq!(get_x(&app, &other).await.status(), StatusCode::OK);
    assert_eq!(list.len(), 1);
}

#[tokio::test]
async fn subject_before_revokes_old_tokens_only_of_that_subject() {
    let idp = MockIssuer::start().await;
    let list = RevocationList::new();
    let app = app_with(&idp, &list).await;
    let t = now();
    let old = idp
        .token()
        .subject("alice")
        .issued_at((t - 60) as i64)
        .sign();
    let no_iat = idp.token().subject("alice").without_claim("iat").sign();
    let newer = idp
        .token()
        .subject("alice")
        .issued_at((t + 5) as i64)
        .sign();
    let bob = idp.token().subject("bob").issued_at((t - 60) as i64).sign();
    for tok in [&old, &no_iat, &newer, &bob] {
        assert_eq!(get_x(&app, tok).await.status(), StatusCode::OK);
    }

    list.revoke_subject_before("alice", at(t)).expect("revoked");
    assert_revoked(&get_x(&app, &old).await, "alice, issued before");
    assert_revoked(&get_x(&app, &no_iat).await, "alice, no iat: refused");
    assert_eq!(get_x(&app, &newer).await.status(), StatusCode::OK, "newer");
    assert_eq!(get_x(&app, &bob).await.status(), StatusCode::OK, "bob");
}

#[tokio::test]
async fn client_before_revokes_old_tokens_only_of_that_client() {
    let idp = MockIssuer::start().await;
    let list = RevocationList::new();
    let app = app_with(&idp, &list).await;
    let t = now();
    let old = idp
        .token()
        .claim("client_id", "leaky-app")
        .issued_at((t - 60) as i64)
        .sign();
    // Client named by `azp` (no `client_id`), as Keycloak does.
    let old_azp = idp
        .token()
        .without_claim("client_id")
        .claim("azp", "leaky-app")
        .issued_at((t - 60) as i64)
        .sign();
    let newer = idp
        .token()
        .claim("client_id", "leaky-app")
        .issued_at((t + 5) as i64)
        .sign();
    let other = idp
        .token()
        .claim("client_id", "good-app")
        .issued_at((t - 60) as i64)
        .sign();
    for tok in [&old, &old_azp, &newer, &other] {
        assert_eq!(get_x(&app, tok).await.status(), StatusCode::OK);
    }

    list.revoke_client_before("leaky-app", at(t))
        .expect("revoked");
    assert_revoked(&get_x(&app, &old).await, "client_id, issued before");
    assert_revoked(&get_x(&app, &old_azp).await, "azp, issued before");
    assert_eq!(get_x(&app, &newer).await.status(), StatusCode::OK, "newer");
    assert_eq!(get_x(&app, &other).await.status(), StatusCode::OK, "other");
}

#[tokio::test]
async fn expired_entries_are_pruned() {
    let list = RevocationList::with_config(
        RevocationConfig::new()
            .leeway(Duration::ZERO)
            .max_token_lifetime(Duration::from_secs(1)),
    );
    let t = SystemTime::now();
    list.revoke_jti("short", t + Duration::from_secs(1))
        .expect("revoked");
    list.revoke_subject_before("alice", t).expect("revoked");
    list.revoke_jti("long", t + Duration::from_secs(600))
        .expect("revoked");
    assert_eq!(list.len(), 3);
    // Whole seconds: past `t + 1 s`, rounded up, plus one second.
    tokio::time::sleep(Duration::from_millis(3100)).await;
    assert_eq!(list.prune(), 1, "only the long entry is left");
    assert_eq!(list.len(), 1);
    // Writes prune too.
    list.revoke_jti("again", t + Duration::from_secs(600))
        .expect("revoked");
    assert_eq!(list.len(), 2);
}

#[tokio::test]
async fn a_full_list_refuses_new_entries_and_keeps_the_old() {
    let list = RevocationList::with_config(RevocationConfig::new().capacity(1));
    let exp = SystemTime::now() + Duration::from_secs(600);
    list.revoke_jti("a", exp).expect("revoked");
    assert!(matches!(
        list.revoke_jti("b", exp),
        Err(revocation::RevocationError::Full { capacity: 1 })
    ));
    assert_eq!(list.len(), 1);
}

fn post_json(token: &str, body: &str) -> Request<Body> {
    Request::post("/admin/revocations")
        .header(header::AUTHORIZATION, bearer(token))
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(body.to_owned()))
        .expect("request")
}

async fn json_body(res: Response<Body>) -> Value {
    let bytes = res.into_body().collect().await.expect("body").to_bytes();
    serde_json::from_slice(&bytes).expect("JSON body")
}

#[tokio::test]
async fn handler_revokes_and_the_token_is_refused() {
    let idp = MockIssuer::start().await;
    let list = RevocationList::new();
    let app = app_with(&idp, &list).await;
    let admin = idp.token().scope("orders:admin").sign();
    let user = idp.token().scope("orders:read").claim("jti", "u-1").sign();
    let t = now();
    let alice = idp
        .token()
        .subject("alice")
        .issued_at((t - 60) as i64)
        .sign();
    let app_tok = idp
        .token()
        .claim("client_id", "leaky")
        .issued_at((t - 60) as i64)
        .sign();
    for tok in [&user, &alice, &app_tok] {
        assert_eq!(get_x(&app, tok).await.status(), StatusCode::OK);
    }

    // Without the admin scope: the guard refuses, nothing is added.
    let res = send(&app, post_json(&user, r#"{"jti": "u-1"}"#)).await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert_eq!(list.len(), 0);

    let exp = t + 600;
    let res = send(
        &app,
        post_json(&admin, &format!(r#"{{"jti": "u-1", "expires_at": {exp}}}"#)),
    )
    .await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    assert_revoked(&get_x(&app, &user).await, "jti via handler");

    let res = send(
        &app,
        post_json(
            &admin,
            &format!(r#"{{"sub": "alice", "issued_before": {t}}}"#),
        ),
    )
    .await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    assert_revoked(&get_x(&app, &alice).await, "sub via handler");

    // `issued_before` defaults to now.
    let res = send(&app, post_json(&admin, r#"{"client_id": "leaky"}"#)).await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    assert_revoked(&get_x(&app, &app_tok).await, "client_id via handler");

    assert_eq!(list.len(), 3);
    // The admin's own token is unaffected.
    assert_eq!(get_x(&app, &admin).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn handler_answers_400_to_bad_input() {
    let idp = MockIssuer::start().await;
    let list = RevocationList::new();
    let app = app_with(&idp, &list).await;
    let admin = idp.token().scope("orders:admin").sign();
    let long = "x".repeat(revocation::MAX_ID_LEN + 1);
    let cases = [
        "not json".to_owned(),
        "{}".to_owned(),
        "[]".to_owned(),
        r#"{"jti": ""}"#.to_owned(),
        r#"{"sub": ""}"#.to_owned(),
        r#"{"client_id": "", "issued_before": 1}"#.to_owned(),
        format!(r#"{{"jti": "{long}"}}"#),
        r#"{"jti": 5}"#.to_owned(),
        r#"{"jti": "a", "sub": "b"}"#.to_owned(),
        r#"{"jti": "a", "issued_before": 1}"#.to_owned(),
        r#"{"sub": "a", "expires_at": 1}"#.to_owned(),
        r#"{"sub": "a", "issued_before": -1}"#.to_owned(),
        r#"{"jti": "a", "scope": "x"}"#.to_owned(),
        format!(r#"{{"jti": "a", "expires_at": {}}}"#, u64::MAX),
        format!(r#"{{"sub": "a", "issued_before": {}}}"#, u64::MAX),
    ];
    for body in &cases {
        let res = send(&app, post_json(&admin, body)).await;
        assert_eq!(res.status(), StatusCode::BAD_REQUEST, "{body:.60}");
        let v = json_body(res).await;
        assert_eq!(v["error"], json!("invalid_request"), "{body:.60}");
    }
    assert_eq!(list.len(), 0, "nothing was added");
}
