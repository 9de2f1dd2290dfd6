//! Challenges on DPoP layers: `resource_metadata` on both schemes, and the
//! guards' answers (401 for an anonymous caller, 403 `insufficient_scope`)
//! carrying the challenges the layer would.

use oauth2_guard::authz::{AuthzFailure, AuthzRejection, RequireScope};

use super::*;

const RM: &str = "https://api.example.com/.well-known/oauth-protected-resource";

/// `/orders` open to any token, `/orders/write` behind a scope guard.
async fn guarded(
    idp: &MockIssuer,
    build: impl FnOnce(oauth2_guard::AuthLayerBuilder) -> oauth2_guard::AuthLayerBuilder,
) -> Router {
    let layer = build(
        AuthLayer::builder()
            .issuer(orders_issuer(idp).await)
            .realm("orders"),
    )
    .build()
    .expect("layer");
    Router::new()
        .route("/orders", get(|| async { "orders" }))
        .route(
            "/orders/write",
            get(|| async { "written" }).layer(RequireScope::new("orders:write")),
        )
        .layer(layer)
}

fn guard_kind(res: &Response<Body>) -> Option<AuthzFailure> {
    res.extensions().get::<AuthzRejection>().map(|r| r.kind())
}

#[tokio::test]
async fn a_dpop_refusal_points_both_challenges_at_the_metadata() {
    let idp = MockIssuer::start().await;
    let app = guarded(&idp, |b| {
        b.dpop(config().build().unwrap()).resource_metadata(RM)
    })
    .await;
    let key = DpopKey::generate(Algorithm::ES256);
    let token = bound_token(&idp, &key);
    let p = key.proof_builder("POST", URL).access_token(&token).sign();
    let res = send(
        &app,
        request("GET", "/orders", &format!("DPoP {token}"), &[&p]),
    )
    .await;
    assert_eq!(dpop_error(&res), Some(DpopError::Htm));
    let c = challenges(&res);
    assert_eq!(c.len(), 2, "{c:?}");
    assert!(c[0].starts_with(ALL_ALGS), "{c:?}");
    assert_eq!(param(&c[0], "error").as_deref(), Some("invalid_dpop_proof"));
    assert_eq!(
        param(&c[0], "resource_metadata").as_deref(),
        Some(RM),
        "{c:?}"
    );
    assert_eq!(
        c[1],
        format!(r#"Bearer realm="orders", resource_metadata="{RM}""#)
    );
}

#[tokio::test]
async fn an_anonymous_callers_guard_answer_has_every_challenge() {
    let idp = MockIssuer::start().await;
    let app = guarded(&idp, |b| b.dpop(config().build().unwrap()).optional()).await;
    let res = send(
        &app,
        Request::get("/orders/write").body(Body::empty()).unwrap(),
    )
    .await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(guard_kind(&res), Some(AuthzFailure::Anonymous));
    let c = challenges(&res);
    assert_eq!(c.len(), 2, "{c:?}");
    // The layer's own missing-token answer: Bearer (the error-free
    // default) first, then DPoP.
    assert_eq!(c[0], r#"Bearer realm="orders""#);
    assert_eq!(c[1], ALL_ALGS);
}

#[tokio::test]
async fn insufficient_scope_uses_the_scheme_of_the_layer_and_the_request() {
    let idp = MockIssuer::start().await;
    let key = DpopKey::generate(Algorithm::ES256);
    let token = idp
        .token()
        .claim("cnf", key.cnf())
        .scope("orders:read")
        .sign();
    let write_url = "https://api.example.com/orders/write";
    let insufficient = r#"error="insufficient_scope", error_description="The access token lacks the required scope", scope="orders:write""#;
    let dpop_403 = format!("{ALL_ALGS}, {insufficient}");

    // A DPoP-only layer: the 403 challenges on DPoP.
    let strict = guarded(&idp, |b| b.dpop(config().build().unwrap()).require_dpop()).await;
    let p = key
        .proof_builder("GET", write_url)
        .access_token(&token)
        .sign();
    let res = send(
        &strict,
        request("GET", "/orders/write", &format!("DPoP {token}"), &[&p]),
    )
    .await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert_eq!(guard_kind(&res), Some(AuthzFailure::InsufficientScope));
    assert_eq!(challenges(&res), std::slice::from_ref(&dpop_403));

    // Both schemes accepted: the scheme the request used.
    let mixed = guarded(&idp, |b| b.dpop(config().build().unwrap())).await;
    let p = key
        .proof_builder("GET", write_url)
        .access_token(&token)
        .sign();
    let res = send(
        &mixed,
        request("GET", "/orders/write", &format!("DPoP {token}"), &[&p]),
    )
    .await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert_eq!(challenges(&res), [dpop_403]);
    let plain = idp.token().scope("orders:read").sign();
    let res = send(
        &mixed,
        request("GET", "/orders/write", &format!("Bearer {plain}"), &[]),
    )
    .await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        challenges(&res),
        [format!(r#"Bearer realm="orders", {insufficient}"#)]
    );
}
