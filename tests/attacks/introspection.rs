//! Opaque tokens under attack: what a hostile token can make the
//! introspection path cost, and what it can make it say. Every case is
//! counted at the mock issuer's `/introspect`, bounded in time, and the
//! tokens sent are scanned for in the logs.
#![cfg(feature = "introspection")]

use std::time::{Duration, Instant};

use axum::Router;
use http::StatusCode;
use oauth2_guard::introspection::{Introspector, IntrospectorBuilder};
use oauth2_guard::testkit::{IntrospectionFault, MockIssuer};
use oauth2_guard::{AuthLayer, Reason};
use serde_json::json;
use tower::ServiceExt;

use super::enc;
use crate::common::logs::{assert_no_token_in, LogCapture, ScanMin};
use crate::common::{bearer, get_with_auth, loopback, now, ok_app, orders_issuer, reason_of};

const BOUND: Duration = Duration::from_secs(5);

async fn idp() -> MockIssuer {
    let idp = MockIssuer::start().await;
    idp.register_client("orders-api", "rs-secret");
    idp
}

fn introspector(idp: &MockIssuer) -> IntrospectorBuilder {
    Introspector::builder(idp.issuer_url(), "orders-api")
        .client_secret("rs-secret")
        .audience("orders-api")
        .http(loopback())
}

async fn layer(idp: &MockIssuer, i: IntrospectorBuilder) -> Router {
    ok_app(
        AuthLayer::builder()
            .issuer(orders_issuer(idp).await)
            .introspection(i.build().await.unwrap())
            .build()
            .unwrap(),
    )
}

async fn send(app: &Router, token: &str) -> http::Response<axum::body::Body> {
    let started = Instant::now();
    let res = tokio::time::timeout(
        BOUND,
        app.clone().oneshot(get_with_auth("/x", bearer(token))),
    )
    .await
    .expect("bounded")
    .unwrap();
    assert!(started.elapsed() < BOUND);
    res
}

#[tokio::test]
async fn hostile_tokens_cost_no_call_or_exactly_one_and_never_pass() {
    let logs = LogCapture::default();
    let _guard = logs.set_thread_default(tracing::Level::TRACE);
    let idp = idp().await;
    let app = layer(&idp, introspector(&idp)).await;
    let mut sent = Vec::new();
    // Unsigned / alg=none JWS naming the configured issuer: the JWT verifier
    // refuses it; it is never introspected (which would ask the IdP about
    // a token we can judge ourselves).
    let claims = json!({"iss": idp.issuer_url(), "sub": "mallory", "aud": "orders-api",
        "exp": now() + 300, "scope": "orders:read"});
    let none = format!("{}.{}.", enc(&json!({"alg": "none"})), enc(&claims));
    let res = send(&app, &none).await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert_ne!(reason_of(&res), Some(Reason::Inactive));
    sent.push(none);
    // A token longer than the layer allows: refused before any call.
    let huge = "A".repeat(20 * 1024);
    let res = send(&app, &huge).await;
    assert_eq!(reason_of(&res), Some(Reason::TooLarge));
    assert_eq!(idp.introspection_requests(), 0);
    // Form injection (`&token=<valid>` inside the token): not RFC 6750
    // token syntax, refused before it could reach the introspection form.
    let valid = idp.opaque_token().scope("orders:read").issue();
    let injected = format!("x&token={valid}&token_type_hint=access_token");
    let res = send(&app, &injected).await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(idp.introspection_requests(), 0);
    sent.push(injected);
    // The IdP answering `active: true` for an expired token does not let it in.
    idp.set_introspection_fault(IntrospectionFault::ActiveForExpired);
    let expired = idp.opaque_token().scope("orders:read").expired().issue();
    assert_eq!(
        reason_of(&send(&app, &expired).await),
        Some(Reason::Expired)
    );
    sent.push(expired);
    // Failures log, with the fingerprint, never the token.
    idp.set_introspection_fault(IntrospectionFault::Status(500));
    let res = send(&app, &valid).await;
    assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
    sent.push(valid);
    assert_eq!(idp.introspection_requests(), 2);
    let text = logs.text();
    assert!(text.contains("introspection_unavailable"));
    assert_no_token_in(
        &text,
        &sent,
        ScanMin {
            token: 8,
            signature: 8,
        },
    );
}

#[tokio::test]
async fn a_cold_flood_of_distinct_tokens_is_bounded_by_the_concurrency_limit() {
    let idp = idp().await;
    // Slow enough that every request of the flood arrives while the first
    // four calls still hold their permits, even on a loaded machine.
    idp.set_introspection_fault(IntrospectionFault::Slow(Duration::from_secs(2)));
    let app = layer(&idp, introspector(&idp).max_concurrent(4)).await;
    let mut set = tokio::task::JoinSet::new();
    for i in 0..200 {
        let app = app.clone();
        set.spawn(async move {
            let token = format!("flood-{i}");
            let res = app
                .oneshot(get_with_auth("/x", bearer(&token)))
                .await
                .unwrap();
            (
                res.status(),
                res.headers().contains_key(http::header::RETRY_AFTER),
            )
        });
    }
    let started = Instant::now();
    let answers = set.join_all().await;
    assert!(started.elapsed() < BOUND);
    let busy = answers
        .iter()
        .filter(|(s, _)| *s == StatusCode::SERVICE_UNAVAILABLE)
        .count();
    assert!(answers
        .iter()
        .all(|(s, retry)| *s == StatusCode::UNAUTHORIZED
            || (*s == StatusCode::SERVICE_UNAVAILABLE && *retry)));
    assert!(busy >= 190, "excess answered 503 at once: {busy}");
    assert!(
        idp.introspection_requests() <= 10,
        "{}",
        idp.introspection_requests()
    );
}
