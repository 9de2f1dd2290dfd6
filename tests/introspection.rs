//! Opaque tokens (RFC 7662 introspection) through the real `AuthLayer`
//! (axum router, `tower::ServiceExt::oneshot`) against a `MockIssuer`
//! whose `/introspect` is real: statuses, reason codes from the
//! `Rejection` in the response extensions, and introspection calls counted
//! at the issuer.
#![cfg(all(feature = "testkit", feature = "introspection", feature = "axum"))]

mod common;

use std::time::{Duration, Instant, SystemTime};

use axum::body::Body;
use axum::routing::get;
use axum::Router;
use http::{header, Response, StatusCode};
use oauth2_guard::authz::RequireScope;
use oauth2_guard::introspection::{Introspector, IntrospectorBuilder};
use oauth2_guard::revocation::RevocationList;
use oauth2_guard::testkit::{IntrospectionFault, MockIssuer};
use oauth2_guard::{AuthLayer, AuthLayerBuilder, ConfigError, Reason, TokenKind, VerifiedClaims};
use tower::ServiceExt;

use common::{bearer, get_with_auth, loopback, orders_issuer, reason_of};

/// The resource server's own client at the IdP.
const RS: &str = "orders-api";
const RS_SECRET: &str = "orders-api-secret";
/// Sanity bound per request (not a benchmark).
const MAX_WALL: Duration = Duration::from_secs(2);

async fn idp() -> MockIssuer {
    let idp = MockIssuer::start().await;
    idp.register_client(RS, RS_SECRET);
    idp
}

fn introspector(idp: &MockIssuer) -> IntrospectorBuilder {
    Introspector::builder(idp.issuer_url(), RS)
        .client_secret(RS_SECRET)
        .audience("orders-api")
        .http(loopback())
}

/// `GET /orders` needs scope `orders:read` and answers with the token kind.
fn app(layer: AuthLayer) -> Router {
    Router::new()
        .route(
            "/orders",
            get(
                |axum::Extension(c): axum::Extension<VerifiedClaims>| async move {
                    format!("{:?}", c.kind())
                },
            )
            .route_layer(RequireScope::new("orders:read")),
        )
        .layer(layer)
}

async fn opaque_app(i: IntrospectorBuilder) -> Router {
    let layer = AuthLayer::builder()
        .introspection(i.build().await.expect("introspector"))
        .build()
        .expect("layer");
    app(layer)
}

async fn call(app: &Router, token: &str) -> Response<Body> {
    let started = Instant::now();
    let res = app
        .clone()
        .oneshot(get_with_auth("/orders", bearer(token)))
        .await
        .expect("infallible");
    assert!(started.elapsed() < MAX_WALL, "took {:?}", started.elapsed());
    res
}

async fn body(res: Response<Body>) -> String {
    let bytes = http_body_util::BodyExt::collect(res.into_body())
        .await
        .unwrap()
        .to_bytes();
    String::from_utf8_lossy(&bytes).into_owned()
}

fn assert_unavailable(res: &Response<Body>, case: &str) {
    assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE, "{case}");
    assert_eq!(
        reason_of(res),
        Some(Reason::IntrospectionUnavailable),
        "{case}"
    );
    assert!(
        res.headers().contains_key(header::RETRY_AFTER),
        "{case}: Retry-After"
    );
}

#[tokio::test]
async fn opaque_token_passes_layer_and_scope_guard() {
    let idp = idp().await;
    let app = opaque_app(introspector(&idp)).await;
    let token = idp.opaque_token().scope("orders:read orders:write").issue();
    let res = call(&app, &token).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(body(res).await, format!("{:?}", TokenKind::Opaque));
    assert_eq!(idp.introspection_requests(), 1);
    // Cached: the second use makes no call.
    assert_eq!(call(&app, &token).await.status(), StatusCode::OK);
    assert_eq!(idp.introspection_requests(), 1);
    // Valid but without the scope: the guard's 403.
    let weak = idp.opaque_token().scope("orders:write").issue();
    assert_eq!(call(&app, &weak).await.status(), StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn unknown_and_revoked_tokens_are_401_inactive() {
    let idp = idp().await;
    let app = opaque_app(introspector(&idp).cache_ttl(Duration::ZERO)).await;
    let res = call(&app, "not-a-token-the-idp-issued").await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(reason_of(&res), Some(Reason::Inactive));
    assert!(common::challenge(&res).contains("invalid_token"));
    let token = idp.opaque_token().scope("orders:read").issue();
    assert_eq!(call(&app, &token).await.status(), StatusCode::OK);
    idp.revoke_token(&token);
    let res = call(&app, &token).await;
    assert_eq!(
        (res.status(), reason_of(&res)),
        (StatusCode::UNAUTHORIZED, Some(Reason::Inactive))
    );
}

#[tokio::test]
async fn expired_token_answered_active_is_refused_locally() {
    let idp = idp().await;
    idp.set_introspection_fault(IntrospectionFault::ActiveForExpired);
    let app = opaque_app(introspector(&idp)).await;
    let token = idp.opaque_token().scope("orders:read").expired().issue();
    let res = call(&app, &token).await;
    assert_eq!(
        (res.status(), reason_of(&res)),
        (StatusCode::UNAUTHORIZED, Some(Reason::Expired))
    );
}

#[tokio::test]
async fn cached_answer_is_not_served_past_exp() {
    let idp = idp().await;
    let app = opaque_app(introspector(&idp).leeway(Duration::ZERO)).await;
    let token = idp
        .opaque_token()
        .scope("orders:read")
        // `exp` has whole seconds: 2 s leaves at least 1 s for the first call.
        .expires_in(Duration::from_secs(2))
        .issue();
    assert_eq!(call(&app, &token).await.status(), StatusCode::OK);
    tokio::time::sleep(Duration::from_millis(3100)).await;
    // The cache entry lived min(TTL, exp - now): gone; the IdP says inactive now.
    let res = call(&app, &token).await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(idp.introspection_requests(), 2);
}

#[tokio::test]
async fn wrong_audience_issuer_or_type_is_401() {
    let idp = idp().await;
    let app = opaque_app(introspector(&idp)).await;
    let cases = [
        (
            idp.opaque_token()
                .scope("orders:read")
                .audience("billing-api"),
            Reason::WrongAudience,
        ),
        (
            idp.opaque_token().scope("orders:read").without_claim("aud"),
            Reason::WrongAudience,
        ),
        (
            idp.opaque_token()
                .scope("orders:read")
                .claim("iss", "https://evil.example"),
            Reason::WrongIssuer,
        ),
        (
            idp.opaque_token()
                .scope("orders:read")
                .claim("token_type", "refresh_token"),
            Reason::BadType,
        ),
    ];
    for (i, (builder, reason)) in cases.into_iter().enumerate() {
        let res = call(&app, &builder.issue()).await;
        assert_eq!(
            (res.status(), reason_of(&res)),
            (StatusCode::UNAUTHORIZED, Some(reason)),
            "case {i}"
        );
    }
}

#[tokio::test]
async fn jwt_and_opaque_tokens_share_one_layer() {
    let idp = idp().await;
    let layer = AuthLayer::builder()
        .issuer(orders_issuer(&idp).await)
        .introspection(introspector(&idp).build().await.unwrap())
        .build()
        .unwrap();
    let app = app(layer);
    // A JWT of the configured issuer: verified locally, no call.
    let jwt = idp.token().scope("orders:read").sign();
    let res = call(&app, &jwt).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(body(res).await, format!("{:?}", TokenKind::Jwt));
    assert_eq!(idp.introspection_requests(), 0);
    // A forged JWT of that issuer is refused by the JWT verifier, never introspected.
    let forged = format!("{}x", &jwt[..jwt.len() - 1]);
    let res = call(&app, &forged).await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert_ne!(reason_of(&res), Some(Reason::Inactive));
    assert_eq!(idp.introspection_requests(), 0);
    // An opaque token: introspected.
    let opaque = idp.opaque_token().scope("orders:read").issue();
    let res = call(&app, &opaque).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(body(res).await, format!("{:?}", TokenKind::Opaque));
    assert_eq!(idp.introspection_requests(), 1);
    // A JWS naming another issuer: refused here by default, never sent to the IdP.
    let foreign = idp
        .token()
        .scope("orders:read")
        .issuer("https://other.example")
        .sign();
    let res = call(&app, &foreign).await;
    assert_eq!(
        (res.status(), reason_of(&res)),
        (StatusCode::UNAUTHORIZED, Some(Reason::UnknownIssuer))
    );
    assert_eq!(idp.introspection_requests(), 1);
}

#[tokio::test]
async fn a_jws_of_an_unknown_issuer_is_introspected_only_when_configured() {
    let idp = idp().await;
    let foreign = idp
        .token()
        .scope("orders:read")
        .issuer("https://other.example")
        .sign();
    // The introspector's own issuer, on a layer with no JWT issuer: its
    // JWTs are the IdP's to judge, so they are introspected either way.
    let own = idp.token().scope("orders:read").sign();
    let no_claim = idp.token().scope("orders:read").without_claim("iss").sign();
    for (on, want_foreign) in [(false, Reason::UnknownIssuer), (true, Reason::Inactive)] {
        let before = idp.introspection_requests();
        let layer = AuthLayer::builder()
            .issuer(orders_issuer(&idp).await)
            .introspection(introspector(&idp).build().await.unwrap())
            .introspect_unknown_jws(on)
            .build()
            .unwrap();
        let res = call(&app(layer), &foreign).await;
        assert_eq!(
            (res.status(), reason_of(&res)),
            (StatusCode::UNAUTHORIZED, Some(want_foreign)),
            "introspect_unknown_jws({on})"
        );
        let calls = idp.introspection_requests() - before;
        assert_eq!(
            calls,
            usize::from(on),
            "introspect_unknown_jws({on}): calls"
        );

        let before = idp.introspection_requests();
        let layer = AuthLayer::builder()
            .introspection(introspector(&idp).build().await.unwrap())
            .introspect_unknown_jws(on)
            .build()
            .unwrap();
        let app = app(layer);
        let res = call(&app, &own).await;
        assert_ne!(reason_of(&res), Some(Reason::UnknownIssuer), "own issuer");
        let res = call(&app, &no_claim).await;
        assert_ne!(reason_of(&res), Some(Reason::UnknownIssuer), "no `iss`");
        let res = call(&app, &foreign).await;
        assert_eq!(reason_of(&res), Some(want_foreign), "no JWT issuer");
        let calls = idp.introspection_requests() - before;
        assert_eq!(
            calls,
            2 + usize::from(on),
            "introspect_unknown_jws({on}): calls"
        );
    }
}

#[tokio::test]
async fn real_time_mode_introspects_jwts_once_per_ttl() {
    let idp = idp().await;
    let layer = AuthLayer::builder()
        .issuer(orders_issuer(&idp).await)
        .introspection(introspector(&idp).build().await.unwrap())
        .introspect_jwts()
        .build()
        .unwrap();
    let cached = app(layer);
    let jwt = idp.token().scope("orders:read").sign();
    assert_eq!(call(&cached, &jwt).await.status(), StatusCode::OK);
    assert_eq!(call(&cached, &jwt).await.status(), StatusCode::OK);
    assert_eq!(
        idp.introspection_requests(),
        1,
        "cached after the first call"
    );
    // A forgery costs no call: local verification comes first.
    let forged = format!("{}x", &jwt[..jwt.len() - 1]);
    assert_eq!(
        call(&cached, &forged).await.status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(idp.introspection_requests(), 1);
    // TTL 0: a revocation at the IdP is seen at once.
    let layer = AuthLayer::builder()
        .issuer(orders_issuer(&idp).await)
        .introspection(
            introspector(&idp)
                .cache_ttl(Duration::ZERO)
                .build()
                .await
                .unwrap(),
        )
        .introspect_jwts()
        .build()
        .unwrap();
    let instant = app(layer);
    let jwt = idp.token().scope("orders:read").sign();
    assert_eq!(call(&instant, &jwt).await.status(), StatusCode::OK);
    idp.revoke_token(&jwt);
    let res = call(&instant, &jwt).await;
    assert_eq!(
        (res.status(), reason_of(&res)),
        (StatusCode::UNAUTHORIZED, Some(Reason::Inactive))
    );
}

#[tokio::test]
async fn revocation_is_seen_at_once_with_ttl_zero_and_after_the_ttl_otherwise() {
    let idp = idp().await;
    let instant = opaque_app(introspector(&idp).cache_ttl(Duration::ZERO)).await;
    let cached = opaque_app(introspector(&idp).cache_ttl(Duration::from_secs(3))).await;
    let token = idp.opaque_token().scope("orders:read").issue();
    assert_eq!(call(&instant, &token).await.status(), StatusCode::OK);
    assert_eq!(call(&cached, &token).await.status(), StatusCode::OK);
    idp.revoke_token(&token);
    assert_eq!(
        call(&instant, &token).await.status(),
        StatusCode::UNAUTHORIZED
    );
    // Within the TTL the cached answer still holds (the promise is "within the TTL").
    assert_eq!(call(&cached, &token).await.status(), StatusCode::OK);
    tokio::time::sleep(Duration::from_millis(3100)).await;
    let res = call(&cached, &token).await;
    assert_eq!(
        (res.status(), reason_of(&res)),
        (StatusCode::UNAUTHORIZED, Some(Reason::Inactive))
    );
}

#[tokio::test]
async fn a_hundred_concurrent_first_uses_make_one_call() {
    let idp = idp().await;
    idp.set_introspection_fault(IntrospectionFault::Slow(Duration::from_millis(300)));
    let app = opaque_app(introspector(&idp)).await;
    let token = idp.opaque_token().scope("orders:read").issue();
    let mut set = tokio::task::JoinSet::new();
    for i in 0..100 {
        let (app, token) = (app.clone(), token.clone());
        set.spawn(async move {
            let fut = app.oneshot(get_with_auth("/orders", bearer(&token)));
            if i % 10 == 0 {
                // Some callers give up early: the others must still get their answer.
                let _ = tokio::time::timeout(Duration::from_millis(50), fut).await;
                None
            } else {
                Some(fut.await.expect("infallible").status())
            }
        });
    }
    let statuses: Vec<_> = set.join_all().await.into_iter().flatten().collect();
    assert_eq!(statuses.len(), 90);
    assert!(
        statuses.iter().all(|s| *s == StatusCode::OK),
        "{statuses:?}"
    );
    assert_eq!(idp.introspection_requests(), 1);
}

#[tokio::test]
async fn negative_cache_is_bounded_and_never_evicts_active_entries() {
    let idp = idp().await;
    let introspector = introspector(&idp)
        .negative_cache(Duration::from_secs(60), 100)
        .max_concurrent(64)
        .build()
        .await
        .unwrap();
    let layer = AuthLayer::builder()
        .introspection(introspector.clone())
        .build()
        .unwrap();
    let app = app(layer);
    let good = idp.opaque_token().scope("orders:read").issue();
    assert_eq!(call(&app, &good).await.status(), StatusCode::OK);
    let calls = idp.introspection_requests();
    for batch in 0..200 {
        let mut set = tokio::task::JoinSet::new();
        for i in 0..50 {
            let app = app.clone();
            set.spawn(async move {
                let token = format!("random-{batch}-{i}-{:x}", rand_u64(batch * 50 + i));
                app.oneshot(get_with_auth("/orders", bearer(&token)))
                    .await
                    .expect("infallible")
                    .status()
            });
        }
        assert!(set
            .join_all()
            .await
            .iter()
            .all(|s| *s == StatusCode::UNAUTHORIZED));
        assert!(introspector.cache_stats().refused_entries <= 100);
    }
    assert_eq!(idp.introspection_requests(), calls + 10_000);
    let stats = introspector.cache_stats();
    assert!(
        stats.refused_entries > 0 && stats.refused_entries <= 100,
        "{stats:?}"
    );
    assert_eq!(stats.active_entries, 1);
    // The good entry survived the flood: still served without a call.
    assert_eq!(call(&app, &good).await.status(), StatusCode::OK);
    assert_eq!(idp.introspection_requests(), calls + 10_000);
}

/// A cheap deterministic spread of numbers (no RNG crate in the tests).
fn rand_u64(i: usize) -> u64 {
    (i as u64)
        .wrapping_mul(0x9E37_79B9_7F4A_7C15)
        .rotate_left(17)
}

#[tokio::test]
async fn concurrency_limit_answers_503_at_once_not_a_queue() {
    let idp = idp().await;
    idp.set_introspection_fault(IntrospectionFault::Slow(Duration::from_millis(1500)));
    let app = opaque_app(introspector(&idp).max_concurrent(1)).await;
    let first = idp.opaque_token().scope("orders:read").issue();
    let second = idp.opaque_token().scope("orders:read").issue();
    let slow = tokio::spawn({
        let (app, first) = (app.clone(), first.clone());
        async move { call(&app, &first).await.status() }
    });
    // The first call holds the only slot once the IdP has it.
    common::eventually("first introspection sent", Duration::from_secs(5), || {
        idp.introspection_requests() == 1
    })
    .await;
    let started = Instant::now();
    let res = call(&app, &second).await;
    // Not queued behind the 1.5 s call (a bound well apart from it: the
    // machine may be loaded).
    assert!(
        started.elapsed() < Duration::from_millis(1000),
        "no queue: {:?}",
        started.elapsed()
    );
    assert_unavailable(&res, "over the limit");
    assert_eq!(slow.await.unwrap(), StatusCode::OK);
}

#[tokio::test]
async fn idp_failures_are_503_never_401_or_500() {
    let idp = idp().await;
    let token = idp.opaque_token().scope("orders:read").issue();
    let faults = [
        ("5xx", IntrospectionFault::Status(500)),
        ("401 to our credentials", IntrospectionFault::Status(401)),
        ("garbage", IntrospectionFault::Garbage),
        ("oversized", IntrospectionFault::Oversized),
        ("slow", IntrospectionFault::Slow(Duration::from_secs(3))),
    ];
    let app = opaque_app(
        introspector(&idp)
            .cache_ttl(Duration::ZERO)
            .timeout(Duration::from_millis(300)),
    )
    .await;
    for (case, fault) in faults {
        idp.set_introspection_fault(fault);
        let res = call(&app, &token).await;
        assert_unavailable(&res, case);
    }
    idp.set_introspection_fault(IntrospectionFault::None);
    idp.set_outage(true);
    assert_unavailable(&call(&app, &token).await, "outage");
    idp.set_outage(false);
    assert_eq!(
        call(&app, &token).await.status(),
        StatusCode::OK,
        "recovered"
    );
    // Our own credentials refused by the IdP: still 503 (fail closed), not the token's fault.
    let bad = opaque_app(introspector(&idp).client_secret("wrong")).await;
    assert_unavailable(&call(&bad, &token).await, "wrong RS secret");
}

#[tokio::test]
async fn unreachable_idp_is_503() {
    let idp = idp().await;
    let app = opaque_app(introspector(&idp).endpoint("http://127.0.0.1:9/introspect")).await;
    let token = idp.opaque_token().scope("orders:read").issue();
    assert_unavailable(&call(&app, &token).await, "connection refused");
}

#[tokio::test]
async fn client_secret_post_and_private_key_jwt_authenticate() {
    let idp = idp().await;
    let token = idp.opaque_token().scope("orders:read").issue();
    let post = opaque_app(introspector(&idp).client_secret_post(RS_SECRET)).await;
    assert_eq!(call(&post, &token).await.status(), StatusCode::OK);
    let kid = idp.new_client_key(oauth2_guard::Algorithm::ES256);
    idp.register_jwt_client("orders-jwt", kid.as_str());
    let pem = idp.private_key_pem(&kid).unwrap();
    let jwt = Introspector::builder(idp.issuer_url(), "orders-jwt")
        .private_key_jwt(pem, oauth2_guard::Algorithm::ES256, Some(kid))
        .audience("orders-api")
        .http(loopback());
    let jwt = opaque_app(jwt).await;
    assert_eq!(call(&jwt, &token).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn revocation_list_refuses_introspected_claims_on_cache_hits() {
    let idp = idp().await;
    let list = RevocationList::new();
    let layer = AuthLayer::builder()
        .introspection(introspector(&idp).build().await.unwrap())
        .post_verify(list.clone())
        .build()
        .unwrap();
    let app = app(layer);
    let token = idp
        .opaque_token()
        .scope("orders:read")
        .claim("jti", "opaque-1")
        .issue();
    assert_eq!(call(&app, &token).await.status(), StatusCode::OK);
    list.revoke_jti("opaque-1", SystemTime::now() + Duration::from_secs(600))
        .unwrap();
    let res = call(&app, &token).await;
    assert_eq!(
        (res.status(), reason_of(&res)),
        (StatusCode::UNAUTHORIZED, Some(Reason::Revoked))
    );
    assert_eq!(idp.introspection_requests(), 1, "refused on a cache hit");
}

#[tokio::test]
async fn configuration_is_checked_at_build() {
    let idp = idp().await;
    let no_aud = Introspector::builder(idp.issuer_url(), RS)
        .client_secret(RS_SECRET)
        .http(loopback());
    assert!(matches!(no_aud.build().await, Err(ConfigError::NoAudience)));
    let no_auth = Introspector::builder(idp.issuer_url(), RS)
        .audience("a")
        .http(loopback());
    assert!(matches!(
        no_auth.build().await,
        Err(ConfigError::Credentials { .. })
    ));
    let short = introspector(&idp).hash_key(vec![0u8; 16]);
    assert!(matches!(
        short.build().await,
        Err(ConfigError::OutOfRange {
            setting: "hash_key",
            ..
        })
    ));
    let https_only = Introspector::builder(idp.issuer_url(), RS)
        .client_secret(RS_SECRET)
        .audience("a");
    assert!(
        https_only.build().await.is_err(),
        "plain HTTP needs the loopback opt-in"
    );
    let i = introspector(&idp).build().await.unwrap();
    assert_eq!(i.endpoint(), idp.introspection_endpoint(), "discovered");
    let realtime_alone: AuthLayerBuilder = AuthLayer::builder()
        .issuer(orders_issuer(&idp).await)
        .introspect_jwts();
    assert!(matches!(
        realtime_alone.build(),
        Err(ConfigError::MissingSetting { .. })
    ));
    assert!(matches!(
        AuthLayer::builder().build(),
        Err(ConfigError::NoIssuer)
    ));
    // Secrets never in Debug.
    assert!(!format!("{i:?} {:?}", introspector(&idp)).contains(RS_SECRET));
}
