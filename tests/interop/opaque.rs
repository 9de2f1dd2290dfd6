//! Opaque access tokens against the real provider: RFC 7662 introspection
//! through the crate's `Introspector` (endpoint found by discovery, the
//! resource server's own `rs-introspect` credentials), and RFC 7009
//! revocation at the provider's `revocation_endpoint`.
//!
//! The provider (`provider.mjs`) issues opaque client-credentials tokens for
//! the resources `urn:oauth2-guard:opaque` and `urn:oauth2-guard:opaque-other`
//! and answers introspection with `active`, `client_id`, `exp`, `iat`, `iss`,
//! `aud`, `scope` and `token_type` (no `sub` for client credentials).
//!
//! Tests (all `#[ignore]`d like the rest of the suite):
//! - `opaque_token_passes_layer_and_guard`: an opaque token passes the layer
//!   and a `RequireScope` guard, its answer maps into the right
//!   `VerifiedClaims`; a JWT of the same provider on the same layer goes to
//!   the JWT verifier; a token without the scope is 403; an unknown string
//!   is `inactive`.
//! - `revoked_opaque_token_refused_at_once_with_ttl_zero` and
//!   `revoked_opaque_token_refused_once_the_cache_ttl_has_passed`.
//! - `opaque_token_for_another_audience_refused`.
//! - `expired_opaque_token_refused` (a provider with `AT_TTL=2`).
#![cfg(feature = "introspection")]

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::{routing::get, Extension, Json, Router};
use http::StatusCode;
use oauth2_guard::authz::RequireScope;
use oauth2_guard::introspection::{Introspector, IntrospectorBuilder};
use oauth2_guard::{AuthLayer, Reason, RefreshConfig, VerifiedClaims};
use serde_json::{json, Value};

use super::{call, init_tracing, json_body, Provider, ORDERS};
use crate::common::{challenge, loopback, reason_of};

const OPAQUE: &str = "urn:oauth2-guard:opaque";
const OPAQUE_OTHER: &str = "urn:oauth2-guard:opaque-other";
/// The resource server's own client at the provider.
const RS: &str = "rs-introspect";
const RS_SECRET: &str = "secret-rs-introspect";
/// The client the tokens are issued to (and the one that may revoke them).
const CLIENT: &str = "cc-rs256";

/// An introspector as a service would configure it: discovery against the
/// provider, `client_secret_basic`, audience = `audience`.
fn introspector(idp: &Provider, audience: &str) -> IntrospectorBuilder {
    Introspector::builder(&idp.issuer, RS)
        .client_secret(RS_SECRET)
        .audience(audience)
        // The provider serves plain HTTP on 127.0.0.1: opted into explicitly.
        .http(loopback())
}

async fn build(idp: &Provider, builder: IntrospectorBuilder) -> Introspector {
    let introspector = builder
        .build()
        .await
        .expect("Introspector::build with discovery against the provider");
    assert_eq!(
        introspector.endpoint(),
        format!("{}/token/introspection", idp.issuer),
        "introspection_endpoint discovered"
    );
    introspector
}

/// `GET /orders` behind `layer`, guarded by scope `orders:read`; the handler
/// answers with what it saw of the verified claims.
fn guarded_app(layer: AuthLayer) -> Router {
    let unix = |t: SystemTime| t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    Router::new()
        .route(
            "/orders",
            get(move |Extension(c): Extension<VerifiedClaims>| async move {
                Json(json!({
                    "kind": format!("{:?}", c.kind()),
                    "iss": c.issuer(),
                    "sub": c.subject(),
                    "client_id": c.client_id(),
                    "scopes": c.scopes(),
                    "aud": c.audiences(),
                    "alg": c.algorithm().map(|a| format!("{a:?}")),
                    "kid": c.key_id(),
                    "exp": unix(c.expires_at()),
                    "iat": c.issued_at().map(unix),
                    "token_type": c.get("token_type"),
                }))
            })
            .route_layer(RequireScope::new("orders:read")),
        )
        .layer(layer)
}

fn opaque_app(introspector: Introspector) -> Router {
    guarded_app(
        AuthLayer::builder()
            .introspection(introspector)
            .realm("orders")
            .build()
            .expect("layer"),
    )
}

impl Provider {
    /// An opaque client-credentials token of [`CLIENT`] for `resource`.
    async fn opaque_token(&self, resource: &str, scope: &str) -> String {
        let token = self
            .token(CLIENT, resource, scope)
            .await
            .expect("opaque token");
        assert!(!token.contains('.'), "an opaque token, not a JWT: {token}");
        token
    }

    /// Revoke `token` at the discovered `revocation_endpoint` (RFC 7009),
    /// authenticated as [`CLIENT`], the client it was issued to (the
    /// provider lets only that client revoke it).
    async fn revoke(&self, token: &str) {
        let meta: Value = self
            .http
            .get(format!("{}/.well-known/openid-configuration", self.issuer))
            .send()
            .await
            .and_then(reqwest::Response::error_for_status)
            .expect("GET discovery")
            .json()
            .await
            .expect("discovery is JSON");
        let endpoint = meta["revocation_endpoint"]
            .as_str()
            .expect("the provider advertises revocation_endpoint");
        assert_eq!(endpoint, format!("{}/token/revocation", self.issuer));
        let response = self
            .http
            .post(endpoint)
            .basic_auth(CLIENT, Some(format!("secret-{CLIENT}")))
            .form(&[("token", token), ("token_type_hint", "access_token")])
            .send()
            .await
            .expect("POST revocation");
        let status = response.status();
        let body = response.text().await.unwrap_or_default();
        assert_eq!(status.as_u16(), 200, "revocation answered {status}: {body}");
    }
}

fn assert_refused(response: &http::Response<axum::body::Body>, reason: Reason) {
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(reason_of(response), Some(reason));
    let challenge = challenge(response);
    assert!(
        challenge.starts_with("Bearer realm=\"orders\"")
            && challenge.contains("error=\"invalid_token\""),
        "challenge: {challenge}"
    );
}

// ---------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs Node.js 20+ and `npm ci` in tests/interop: run tests/interop/run-ci.sh"]
async fn opaque_token_passes_layer_and_guard() {
    init_tracing();
    let idp = Provider::start("opaque").await;
    let introspector = build(&idp, introspector(&idp, OPAQUE)).await;
    // JWTs and opaque tokens of one provider side by side on one layer.
    let layer = AuthLayer::builder()
        .issuer(idp.guard_issuer(RefreshConfig::default()).await)
        .introspection(introspector.clone())
        .realm("orders")
        .build()
        .expect("layer");
    let app = guarded_app(layer);

    let token = idp.opaque_token(OPAQUE, "orders:read orders:write").await;
    let response = call(&app, &token).await;
    assert_eq!(
        response.status(),
        StatusCode::OK,
        "real opaque token refused: {:?}",
        reason_of(&response)
    );
    // The provider's answer, mapped: `iss`, `client_id`, `scope`, `aud`
    // (a string, normalised to a list), `exp`/`iat`, `token_type`.
    let seen = json_body(response).await;
    assert_eq!(seen["kind"], "Opaque");
    assert_eq!(seen["iss"], idp.issuer.as_str());
    assert_eq!(seen["client_id"], CLIENT);
    assert_eq!(seen["sub"], Value::Null, "no sub for client_credentials");
    assert_eq!(seen["scopes"], json!(["orders:read", "orders:write"]));
    assert_eq!(seen["aud"], json!([OPAQUE]));
    assert_eq!(seen["alg"], Value::Null);
    assert_eq!(seen["kid"], Value::Null);
    assert_eq!(seen["token_type"], "Bearer");
    let (exp, iat) = (seen["exp"].as_u64(), seen["iat"].as_u64());
    assert_eq!(
        exp.zip(iat).map(|(e, i)| e - i),
        Some(300),
        "exp - iat = the provider's AT_TTL: {seen}"
    );
    assert_eq!(
        introspector.cache_stats().active_entries,
        1,
        "answer cached"
    );

    // A JWT of the same provider goes to the JWT verifier (the provider
    // itself answers `active: false` for JWT-format tokens).
    let jwt = idp
        .token(CLIENT, ORDERS, "orders:read")
        .await
        .expect("JWT for orders");
    let response = call(&app, &jwt).await;
    assert_eq!(
        response.status(),
        StatusCode::OK,
        "{:?}",
        reason_of(&response)
    );
    let seen = json_body(response).await;
    assert_eq!(seen["kind"], "Jwt");
    assert_eq!(seen["alg"], "RS256");

    // Valid, but without the guard's scope: 403 from the guard.
    let weak = idp.opaque_token(OPAQUE, "orders:write").await;
    let response = call(&app, &weak).await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert!(
        challenge(&response).contains("error=\"insufficient_scope\""),
        "challenge: {}",
        challenge(&response)
    );
    assert_eq!(introspector.cache_stats().active_entries, 2);

    // A string the provider never issued: `active: false`.
    let response = call(&app, "nEvErIssUedByThEpRoViDeR0123456789abcdefgh").await;
    assert_refused(&response, Reason::Inactive);

    // A limit of this provider, documented in the README: it answers
    // `active: false` for its own JWT-format tokens, so "real-time validity"
    // (`introspect_jwts`) refuses a JWT that verifies locally.
    let realtime = guarded_app(
        AuthLayer::builder()
            .issuer(idp.guard_issuer(RefreshConfig::default()).await)
            .introspection(introspector)
            .introspect_jwts()
            .realm("orders")
            .build()
            .expect("layer"),
    );
    assert_refused(&call(&realtime, &jwt).await, Reason::Inactive);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs Node.js 20+ and `npm ci` in tests/interop: run tests/interop/run-ci.sh"]
async fn revoked_opaque_token_refused_at_once_with_ttl_zero() {
    init_tracing();
    let idp = Provider::start("opaque-revoke0").await;
    let introspector = build(&idp, introspector(&idp, OPAQUE).cache_ttl(Duration::ZERO)).await;
    let app = opaque_app(introspector.clone());

    let token = idp.opaque_token(OPAQUE, "orders:read").await;
    for _ in 0..2 {
        let response = call(&app, &token).await;
        assert_eq!(
            response.status(),
            StatusCode::OK,
            "{:?}",
            reason_of(&response)
        );
    }
    assert_eq!(
        introspector.cache_stats().active_entries,
        0,
        "TTL 0: no cache"
    );

    idp.revoke(&token).await;
    // The very next request asks the provider, which says `active: false`.
    assert_refused(&call(&app, &token).await, Reason::Inactive);
    // And stays refused.
    assert_refused(&call(&app, &token).await, Reason::Inactive);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs Node.js 20+ and `npm ci` in tests/interop: run tests/interop/run-ci.sh"]
async fn revoked_opaque_token_refused_once_the_cache_ttl_has_passed() {
    const TTL: Duration = Duration::from_secs(2);
    init_tracing();
    let idp = Provider::start("opaque-revoke-ttl").await;
    let app = opaque_app(build(&idp, introspector(&idp, OPAQUE).cache_ttl(TTL)).await);
    // Same provider, no cache: what the provider says right now.
    let live = opaque_app(build(&idp, introspector(&idp, OPAQUE).cache_ttl(Duration::ZERO)).await);
    let token = idp.opaque_token(OPAQUE, "orders:read").await;

    // The answer is cached no earlier than `asked` and no later than `cached`.
    let asked = Instant::now();
    let response = call(&app, &token).await;
    let cached = Instant::now();
    assert_eq!(
        response.status(),
        StatusCode::OK,
        "{:?}",
        reason_of(&response)
    );

    idp.revoke(&token).await;
    assert_refused(&call(&live, &token).await, Reason::Inactive);
    // Within the TTL the cached answer still serves: the documented window.
    let response = call(&app, &token).await;
    let elapsed = asked.elapsed();
    assert!(
        elapsed < TTL,
        "revocation and checks took {elapsed:?}, past the {TTL:?} TTL: nothing left to observe"
    );
    assert_eq!(
        response.status(),
        StatusCode::OK,
        "cached answer within the TTL: {:?}",
        reason_of(&response)
    );

    // Once the TTL has passed, the provider is asked again: refused.
    tokio::time::sleep_until((cached + TTL + Duration::from_millis(200)).into()).await;
    assert_refused(&call(&app, &token).await, Reason::Inactive);
    assert!(
        asked.elapsed() < TTL + Duration::from_secs(2),
        "refused within the TTL (+ slack), took {:?}",
        asked.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs Node.js 20+ and `npm ci` in tests/interop: run tests/interop/run-ci.sh"]
async fn opaque_token_for_another_audience_refused() {
    init_tracing();
    let idp = Provider::start("opaque-aud").await;
    let app = opaque_app(build(&idp, introspector(&idp, OPAQUE)).await);

    // Same client, same scopes, another opaque resource: only `aud` differs.
    let other = idp.opaque_token(OPAQUE_OTHER, "orders:read").await;
    assert_refused(&call(&app, &other).await, Reason::WrongAudience);
    // The control: this API's own token passes.
    let mine = idp.opaque_token(OPAQUE, "orders:read").await;
    assert_eq!(call(&app, &mine).await.status(), StatusCode::OK);

    // An API expecting the JWT resource's audience refuses this API's token.
    let orders_api = opaque_app(build(&idp, introspector(&idp, ORDERS)).await);
    assert_refused(&call(&orders_api, &mine).await, Reason::WrongAudience);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs Node.js 20+ and `npm ci` in tests/interop: run tests/interop/run-ci.sh"]
async fn expired_opaque_token_refused() {
    const AT_TTL: u64 = 2;
    init_tracing();
    let idp = Provider::start_with_at_ttl("opaque-exp", Some(AT_TTL)).await;
    // The default cache TTL (60 s): only `exp` ends the cached answer.
    let introspector = build(&idp, introspector(&idp, OPAQUE)).await;
    let app = opaque_app(introspector.clone());

    let token = idp.opaque_token(OPAQUE, "orders:read").await;
    let response = call(&app, &token).await;
    assert_eq!(
        response.status(),
        StatusCode::OK,
        "{:?}",
        reason_of(&response)
    );
    let seen = json_body(response).await;
    let exp = seen["exp"].as_u64().expect("exp");
    assert_eq!(seen["iat"].as_u64().map(|iat| exp - iat), Some(AT_TTL));
    assert_eq!(introspector.cache_stats().active_entries, 1);

    // One second past `exp` (claims have whole seconds), bounded.
    let until = UNIX_EPOCH + Duration::from_secs(exp + 1);
    let wait = until
        .duration_since(SystemTime::now())
        .unwrap_or(Duration::ZERO);
    assert!(wait <= Duration::from_secs(AT_TTL + 1), "wait {wait:?}");
    tokio::time::sleep(wait + Duration::from_millis(100)).await;

    // The cached answer ended at `exp`, well before the 60 s TTL; the
    // provider, asked again, says `active: false` for the expired token.
    assert_refused(&call(&app, &token).await, Reason::Inactive);
}
