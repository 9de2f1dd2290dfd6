//! The core request path, end to end: MockIssuer → Issuer → AuthLayer → axum.
#![cfg(all(feature = "testkit", feature = "axum"))]

mod common;

use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::routing::get;
use axum::{Extension, Router};
use http::{Request, StatusCode};
use oauth2_guard::extract::Claims;
use oauth2_guard::issuer::DEFAULT_ALGORITHMS;
use oauth2_guard::testkit::{Algorithm, MockIssuer};
use oauth2_guard::{
    AuthLayer, CacheConfig, ConfigError, Issuer, Reason, RefreshConfig, Rejection, StandardClaims,
    VerifiedClaims,
};
use serde_json::json;
use tower::ServiceExt;

// Every log line of this binary, to prove no token is ever logged: a global
// capture, as some tests run on a multi-thread runtime.
use common::logs::{assert_no_token_in, global_capture, ScanMin, REJECTED_EVENT};
use common::{fast_backoff, polling_issuer};

/// Tokens sent during the suite, checked against the logs.
fn sent() -> &'static Mutex<Vec<String>> {
    static SENT: OnceLock<Mutex<Vec<String>>> = OnceLock::new();
    SENT.get_or_init(|| Mutex::new(Vec::new()))
}

fn fast_refresh() -> RefreshConfig {
    fast_backoff().unknown_kid_cooldown(Duration::from_secs(30))
}

async fn issuer_for(idp: &MockIssuer) -> Issuer {
    global_capture();
    idp.issuer_builder()
        .audience("orders-api")
        .refresh(fast_refresh())
        .build()
        .await
        .expect("issuer")
}

async fn whoami(Claims(c): Claims<StandardClaims>) -> String {
    c.sub.unwrap_or_default()
}

fn app(layer: AuthLayer) -> Router {
    global_capture();
    Router::new()
        .route("/me", get(whoami))
        .route(
            "/raw",
            get(|Extension(c): Extension<VerifiedClaims>| async move { c.scopes().join(" ") }),
        )
        .layer(layer)
}

struct Answer {
    status: StatusCode,
    www: Option<String>,
    retry_after: Option<String>,
    body: String,
    rejection: Option<Rejection>,
}

async fn send(app: &Router, path: &str, auth: Option<&str>) -> Answer {
    let mut req = Request::get(path);
    if let Some(a) = auth {
        req = req.header("authorization", a);
        sent()
            .lock()
            .unwrap()
            .push(a.trim_start_matches("Bearer ").to_owned());
    }
    let res = app
        .clone()
        .oneshot(req.body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = res.status();
    let (www, retry_after) = {
        let h = |n: &str| res.headers().get(n).map(|v| v.to_str().unwrap().to_owned());
        (h("www-authenticate"), h("retry-after"))
    };
    let rejection = res.extensions().get::<Rejection>().cloned();
    let body = axum::body::to_bytes(res.into_body(), 1 << 20)
        .await
        .unwrap();
    Answer {
        status,
        www,
        retry_after,
        body: String::from_utf8_lossy(&body).into_owned(),
        rejection,
    }
}

async fn bearer(app: &Router, token: &str) -> Answer {
    send(app, "/me", Some(&format!("Bearer {token}"))).await
}

#[tokio::test]
async fn every_algorithm_is_accepted() {
    let idp = MockIssuer::start().await;
    for &alg in DEFAULT_ALGORITHMS {
        idp.add_key(alg);
    }
    let app = app(AuthLayer::new(issuer_for(&idp).await));
    for &alg in DEFAULT_ALGORITHMS {
        let token = idp.token().alg(alg).subject("alice").sign();
        let a = bearer(&app, &token).await;
        assert_eq!(a.status, 200, "{alg:?}: {:?}", a.rejection);
        assert_eq!(a.body, "alice");
    }
    assert_eq!(idp.jwks_fetches(), 1, "all keys came with the first fetch");
}

#[tokio::test]
async fn hmac_issuer_needs_its_secret() {
    let idp = MockIssuer::start().await;
    let issuer = idp
        .issuer_builder()
        .audience("orders-api")
        .hmac_secret(idp.hmac_secret().to_vec())
        .build()
        .await
        .unwrap();
    let app = app(AuthLayer::new(issuer));
    assert_eq!(
        bearer(&app, &idp.token().alg(Algorithm::HS256).sign())
            .await
            .status,
        200
    );
    // An RS256 token cannot pass an HMAC-only issuer.
    assert_eq!(bearer(&app, &idp.token().sign()).await.status, 401);
    assert_eq!(idp.jwks_fetches(), 0, "an HMAC issuer uses no JWKS");
}

#[tokio::test]
async fn each_rejection_has_its_status_and_challenge() {
    let idp = MockIssuer::start().await;
    let ec = idp.add_key(Algorithm::ES256);
    let layer = AuthLayer::builder()
        .issuer(issuer_for(&idp).await)
        .realm("orders")
        .build()
        .unwrap();
    let app = app(layer);
    let invalid = r#"Bearer realm="orders", error="invalid_token", error_description="The access token is invalid""#;
    let expired = r#"Bearer realm="orders", error="invalid_token", error_description="The access token expired""#;
    let bad_request = r#"Bearer realm="orders", error="invalid_request", error_description="Malformed authorization request""#;
    let now = common::now() as i64;
    let good = idp.token().sign();
    let tampered = {
        let mut parts: Vec<String> = good.split('.').map(str::to_owned).collect();
        parts[1] = base64_url(
            &json!({"iss": idp.issuer_url(), "aud": "orders-api", "exp": now + 300, "sub": "root"}),
        );
        parts.join(".")
    };
    type Case<'a> = (&'a str, Option<String>, StatusCode, Option<&'a str>, Reason);
    let cases: Vec<Case> = vec![
        (
            "missing",
            None,
            StatusCode::UNAUTHORIZED,
            Some(r#"Bearer realm="orders""#),
            Reason::MissingToken,
        ),
        (
            "other scheme",
            Some("Basic dXNlcjpwYXNz".into()),
            StatusCode::UNAUTHORIZED,
            Some(r#"Bearer realm="orders""#),
            Reason::MissingToken,
        ),
        (
            "two credentials",
            Some("Bearer a b".into()),
            StatusCode::BAD_REQUEST,
            Some(bad_request),
            Reason::InvalidRequest,
        ),
        (
            "malformed",
            Some("Bearer abc".into()),
            StatusCode::UNAUTHORIZED,
            Some(invalid),
            Reason::Malformed,
        ),
        (
            "jwe",
            Some("Bearer a.b.c.d.e".into()),
            StatusCode::UNAUTHORIZED,
            Some(invalid),
            Reason::Encrypted,
        ),
        (
            "too large",
            Some(format!("Bearer {}", "a".repeat(17 * 1024))),
            StatusCode::UNAUTHORIZED,
            Some(invalid),
            Reason::TooLarge,
        ),
        (
            "expired",
            Some(format!("Bearer {}", idp.token().expired().sign())),
            StatusCode::UNAUTHORIZED,
            Some(expired),
            Reason::Expired,
        ),
        (
            "not yet valid",
            Some(format!(
                "Bearer {}",
                idp.token().not_before(now + 3600).sign()
            )),
            StatusCode::UNAUTHORIZED,
            Some(invalid),
            Reason::NotYetValid,
        ),
        (
            "issued in future",
            Some(format!(
                "Bearer {}",
                idp.token().issued_at(now + 3600).sign()
            )),
            StatusCode::UNAUTHORIZED,
            Some(invalid),
            Reason::NotYetValid,
        ),
        (
            "wrong issuer",
            Some(format!(
                "Bearer {}",
                idp.token().issuer("https://evil.example").sign()
            )),
            StatusCode::UNAUTHORIZED,
            Some(invalid),
            Reason::WrongIssuer,
        ),
        (
            "wrong audience",
            Some(format!(
                "Bearer {}",
                idp.token().audience("billing-api").sign()
            )),
            StatusCode::UNAUTHORIZED,
            Some(invalid),
            Reason::WrongAudience,
        ),
        (
            "no audience",
            Some(format!(
                "Bearer {}",
                idp.token().without_claim("aud").sign()
            )),
            StatusCode::UNAUTHORIZED,
            Some(invalid),
            Reason::WrongAudience,
        ),
        (
            "no exp",
            Some(format!(
                "Bearer {}",
                idp.token().without_claim("exp").sign()
            )),
            StatusCode::UNAUTHORIZED,
            Some(invalid),
            Reason::InvalidClaim,
        ),
        (
            "exp as string",
            Some(format!(
                "Bearer {}",
                idp.token().claim("exp", (now + 300).to_string()).sign()
            )),
            StatusCode::UNAUTHORIZED,
            Some(invalid),
            Reason::InvalidClaim,
        ),
        (
            "bad typ",
            Some(format!(
                "Bearer {}",
                idp.token().typ(Some("dpop+jwt")).sign()
            )),
            StatusCode::UNAUTHORIZED,
            Some(invalid),
            Reason::BadType,
        ),
        (
            "crit",
            Some(format!(
                "Bearer {}",
                idp.token().header("crit", json!(["exp"])).sign()
            )),
            StatusCode::UNAUTHORIZED,
            Some(invalid),
            Reason::UnknownCrit,
        ),
        (
            "alg none",
            Some(format!(
                "Bearer {}",
                idp.sign_raw(
                    json!({"alg": "none", "kid": idp.signing_kid()}),
                    json!({"iss": idp.issuer_url(), "aud": "orders-api", "exp": now + 300})
                )
            )),
            StatusCode::UNAUTHORIZED,
            Some(invalid),
            Reason::DisallowedAlg,
        ),
        (
            "alg/key mismatch",
            Some(format!(
                "Bearer {}",
                idp.token()
                    .alg(Algorithm::RS256)
                    .header_kid(Some(&ec))
                    .sign()
            )),
            StatusCode::UNAUTHORIZED,
            Some(invalid),
            Reason::DisallowedAlg,
        ),
        (
            "tampered",
            Some(format!("Bearer {tampered}")),
            StatusCode::UNAUTHORIZED,
            Some(invalid),
            Reason::BadSignature,
        ),
        (
            "unknown kid",
            Some(format!(
                "Bearer {}",
                idp.token().header_kid(Some("nope")).sign()
            )),
            StatusCode::UNAUTHORIZED,
            Some(invalid),
            Reason::UnknownKey,
        ),
    ];
    for (name, auth, status, www, reason) in cases {
        let a = send(&app, "/me", auth.as_deref()).await;
        assert_eq!(a.status, status, "{name}");
        assert_eq!(a.www.as_deref(), www, "{name}");
        assert_eq!(a.rejection.map(|r| r.reason()), Some(reason), "{name}");
        assert!(a.body.is_empty(), "{name}: terse empty body by default");
    }
    // A token in the query string is refused (RFC 6750 §2.3, URLs end up in logs).
    let a = send(&app, &format!("/me?access_token={good}"), None).await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST);
}

fn base64_url(v: &serde_json::Value) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string())
}

#[tokio::test]
async fn rotation_first_new_kid_request_succeeds() {
    let idp = MockIssuer::start().await;
    let app = app(AuthLayer::new(issuer_for(&idp).await));
    assert_eq!(bearer(&app, &idp.token().sign()).await.status, 200);
    assert_eq!(idp.jwks_fetches(), 1);
    let old = idp.signing_kid();
    let new = idp.rotate(Algorithm::RS256);
    assert_ne!(old, new);
    let a = bearer(&app, &idp.token().sign()).await;
    assert_eq!(a.status, 200, "{:?}", a.rejection);
    assert_eq!(idp.jwks_fetches(), 2, "exactly one refresh for the new kid");
    // Old-key tokens keep working while the old key is published.
    assert_eq!(
        bearer(&app, &idp.token().kid(&old).sign()).await.status,
        200
    );
}

/// Many requests with a freshly rotated-in kid at once: they share one
/// refresh and every one of them is accepted (none may be refused because
/// another request's refresh was "just demanded" but not yet under way).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_first_requests_of_a_new_kid_all_succeed() {
    // Widen the window between "a refresh was demanded" and "the refresh task
    // is woken" that a race could use (the store's test hook).
    oauth2_guard::testkit::hooks::set_refresh_demand_delay(Duration::from_millis(20));
    for round in 0..5 {
        let idp = MockIssuer::start().await;
        let app = app(AuthLayer::builder()
            .issuer(issuer_for(&idp).await)
            .cache(CacheConfig::disabled())
            .build()
            .unwrap());
        idp.rotate(Algorithm::ES256);
        let tokens: Vec<String> = (0..200).map(|_| idp.token().sign()).collect();
        let mut tasks = Vec::new();
        for token in tokens {
            let app = app.clone();
            tasks.push(tokio::spawn(
                async move { bearer(&app, &token).await.status },
            ));
        }
        for t in tasks {
            assert_eq!(t.await.unwrap(), StatusCode::OK, "round {round}");
        }
        assert_eq!(idp.jwks_fetches(), 2, "one shared refresh (round {round})");
    }
}

#[tokio::test]
async fn unknown_kid_flood_fetches_once_per_cooldown() {
    let idp = MockIssuer::start().await;
    let app = app(AuthLayer::new(issuer_for(&idp).await));
    // Sign first (slow with some backends in debug builds), then time the flood.
    let tokens: Vec<String> = (0..1000)
        .map(|i| {
            idp.token()
                .header_kid(Some(&format!("attacker-{i}")))
                .sign()
        })
        .collect();
    let started = Instant::now();
    let mut tasks = Vec::new();
    for token in tokens {
        let app = app.clone();
        tasks.push(tokio::spawn(
            async move { bearer(&app, &token).await.status },
        ));
    }
    for t in tasks {
        assert_eq!(t.await.unwrap(), StatusCode::UNAUTHORIZED);
    }
    assert_eq!(
        idp.jwks_fetches(),
        2,
        "startup + one refresh for the whole flood"
    );
    assert!(started.elapsed() < Duration::from_secs(10));
}

#[tokio::test]
async fn stale_keys_serve_during_outage_and_503_without_keys() {
    let idp = MockIssuer::start().await;
    let issuer = idp
        .issuer_builder()
        .audience("orders-api")
        .refresh(fast_refresh().unknown_kid_cooldown(Duration::from_millis(1)))
        .build()
        .await
        .unwrap();
    let up_app = app(AuthLayer::new(issuer));
    idp.set_outage(true);
    // A refresh is forced (unknown kid) and fails: known keys keep serving.
    let _ = bearer(&up_app, &idp.token().header_kid(Some("new")).sign()).await;
    assert!(idp.jwks_fetches() >= 2);
    assert_eq!(bearer(&up_app, &idp.token().sign()).await.status, 200);

    // No key set ever loaded: 503 + Retry-After, never 401.
    let down = MockIssuer::start().await;
    down.set_outage(true);
    let lazy = down
        .issuer_builder()
        .audience("orders-api")
        .refresh(fast_refresh())
        .build_deferred()
        .unwrap();
    assert!(!lazy.is_ready());
    let lazy_app = app(AuthLayer::new(lazy.clone()));
    let a = bearer(&lazy_app, &down.token().sign()).await;
    assert_eq!(a.status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(a.retry_after.is_some());
    assert!(a.www.is_none());
    // The IdP comes back: the lazy issuer recovers by itself.
    down.set_outage(false);
    let deadline = Instant::now() + Duration::from_secs(5);
    while !lazy.is_ready() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert_eq!(bearer(&lazy_app, &down.token().sign()).await.status, 200);
}

/// An app (no token cache) whose issuer polls `idp`'s keys every 100 ms and
/// turns them stale 300 ms past a refresh that did not succeed.
async fn short_lived_keys_app(idp: &MockIssuer) -> Router {
    let issuer = polling_issuer(idp, fast_refresh().max_stale(Duration::from_millis(300))).await;
    app(AuthLayer::builder()
        .issuer(issuer)
        .cache(CacheConfig::disabled())
        .build()
        .unwrap())
}

/// The first answer to `token` that `done` accepts, polling every 50 ms
/// for at most 5 s: background refreshes run on the machine's schedule.
async fn answer_when(
    app: &Router,
    token: &str,
    what: &str,
    done: fn(StatusCode) -> bool,
) -> Answer {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let a = bearer(app, token).await;
        if done(a.status) {
            return a;
        }
        assert!(Instant::now() < deadline, "{what}: last {}", a.status);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn max_stale_turns_into_503() {
    let idp = MockIssuer::start().await;
    let app = short_lived_keys_app(&idp).await;
    let token = idp.token().sign();
    assert_eq!(bearer(&app, &token).await.status, 200);
    idp.set_outage(true);
    // About 0.5 s on a quiet machine.
    let a = answer_when(&app, &token, "never turned stale", |s| s != 200).await;
    assert_eq!(
        a.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "{:?}",
        a.rejection
    );
    idp.set_outage(false);
    answer_when(&app, &token, "recovers after the outage", |s| s == 200).await;
}

#[tokio::test]
async fn an_unchanged_key_set_costs_a_304_and_stays_fresh() {
    let idp = MockIssuer::start().await;
    let app = short_lived_keys_app(&idp).await;
    let token = idp.token().sign();
    // Polled every 100 ms: the refreshes are conditional and answered 304;
    // eight of them span more than the 400 ms the first fetch kept the
    // keys fresh for, so a 304 must renew them as a full fetch would.
    common::eventually("eight 304s", Duration::from_secs(10), || {
        idp.jwks_not_modified() >= 8
    })
    .await;
    assert_eq!(bearer(&app, &token).await.status, 200, "fresh on 304s");
    // A rotation changes the document (and its ETag): downloaded, installed.
    let old = idp.signing_kid();
    idp.rotate(Algorithm::ES256);
    idp.remove_key(&old);
    let rotated = idp.token().sign();
    answer_when(&app, &rotated, "the rotated key installed", |s| s == 200).await;
    assert_eq!(
        bearer(&app, &token).await.status,
        401,
        "the removed key is gone: a 304 never brings back an old set"
    );
    // A server without validators gets plain GETs, and sends no 304.
    idp.set_jwks_etag(false);
    let (fetches, not_modified) = (idp.jwks_fetches(), idp.jwks_not_modified());
    common::eventually("five more fetches", Duration::from_secs(10), || {
        idp.jwks_fetches() >= fetches + 5
    })
    .await;
    assert!(
        idp.jwks_not_modified() <= not_modified + 1,
        "one in flight at most"
    );
    assert_eq!(bearer(&app, &rotated).await.status, 200);
}

#[tokio::test]
async fn slow_jwks_refresh_does_not_delay_known_kids() {
    let idp = MockIssuer::start().await;
    let app = app(AuthLayer::builder()
        .issuer(issuer_for(&idp).await)
        .cache(CacheConfig::disabled())
        .build()
        .unwrap());
    idp.set_jwks_delay(Duration::from_secs(3));
    // An unknown kid starts a refresh that takes 3 s (its request waits at most 2 s).
    let unknown = idp.token().header_kid(Some("rotating-in")).sign();
    let app2 = app.clone();
    let slow = tokio::spawn(async move { bearer(&app2, &unknown).await.status });
    tokio::time::sleep(Duration::from_millis(100)).await;
    for _ in 0..20 {
        let t = Instant::now();
        assert_eq!(bearer(&app, &idp.token().sign()).await.status, 200);
        assert!(
            t.elapsed() < Duration::from_millis(1500),
            "known kid delayed by {:?}",
            t.elapsed()
        );
    }
    let t = Instant::now();
    assert_eq!(slow.await.unwrap(), StatusCode::UNAUTHORIZED);
    assert!(
        t.elapsed() < Duration::from_secs(3),
        "the waiting request is bounded"
    );
}

#[tokio::test]
async fn keycloak_shaped_jwks_with_enc_key() {
    let idp = MockIssuer::start().await;
    let sig_n = idp.jwks_json()["keys"][0]["n"].clone();
    idp.add_raw_jwk(json!({"kid": "enc-key", "kty": "RSA", "alg": "RSA-OAEP", "use": "enc", "n": sig_n, "e": "AQAB", "x5c": ["MIIC"], "x5t": "abc"}));
    let app = app(AuthLayer::new(issuer_for(&idp).await));
    let token = idp
        .token()
        .typ(Some("JWT"))
        .claim("typ", "Bearer")
        .claim("azp", "frontend")
        .sign();
    assert_eq!(bearer(&app, &token).await.status, 200);
    // A token naming the enc key's kid is refused: that key cannot verify.
    let forged = idp.token().header_kid(Some("enc-key")).sign();
    assert_eq!(bearer(&app, &forged).await.status, 401);
}

#[tokio::test]
async fn cache_skips_verification_but_not_expiry_key_removal_or_hooks() {
    let idp = MockIssuer::start().await;
    let revoked: Arc<Mutex<Vec<String>>> = Arc::default();
    let deny = revoked.clone();
    let layer = AuthLayer::builder()
        .issuer(
            idp.issuer_builder()
                .audience("orders-api")
                .refresh(fast_refresh().unknown_kid_cooldown(Duration::from_millis(1)))
                .build()
                .await
                .unwrap(),
        )
        .post_verify(move |c: &VerifiedClaims| {
            if c.jti()
                .is_some_and(|j| deny.lock().unwrap().iter().any(|d| d == j))
            {
                Err(Rejection::from_reason(Reason::Revoked))
            } else {
                Ok(())
            }
        })
        .build()
        .unwrap();
    let app = app(layer);
    let token = idp.token().claim("jti", "t-1").sign();
    for _ in 0..3 {
        assert_eq!(bearer(&app, &token).await.status, 200);
    }
    // Revocation applies at once, even though the token is cached.
    revoked.lock().unwrap().push("t-1".into());
    let a = bearer(&app, &token).await;
    assert_eq!(a.status, 401);
    assert_eq!(a.rejection.unwrap().reason(), Reason::Revoked);

    // A key removed from the JWKS voids what it signed, cached or not.
    let token2 = idp.token().sign();
    assert_eq!(bearer(&app, &token2).await.status, 200);
    let old = idp.signing_kid();
    idp.rotate(Algorithm::ES256);
    idp.remove_key(&old);
    // Any unknown kid triggers a refresh that drops the old key.
    let _ = bearer(&app, &idp.token().sign()).await;
    let a = bearer(&app, &token2).await;
    assert_eq!(a.status, 401, "cached token of a removed key");
    assert_eq!(a.rejection.unwrap().reason(), Reason::UnknownKey);

    // A cached token stops working at its exp.
    let short = idp.token().expires_in(Duration::from_secs(2)).sign();
    let app_no_leeway = app_with_leeway(&idp, Duration::ZERO).await;
    assert_eq!(bearer(&app_no_leeway, &short).await.status, 200);
    tokio::time::sleep(Duration::from_millis(3100)).await;
    assert_eq!(bearer(&app_no_leeway, &short).await.status, 401);
}

async fn app_with_leeway(idp: &MockIssuer, leeway: Duration) -> Router {
    let issuer = idp
        .issuer_builder()
        .audience("orders-api")
        .leeway(leeway)
        .build()
        .await
        .unwrap();
    app(AuthLayer::new(issuer))
}

#[tokio::test]
async fn optional_mode_and_extractor_wiring() {
    let idp = MockIssuer::start().await;
    let layer = AuthLayer::builder()
        .issuer(issuer_for(&idp).await)
        .optional()
        .build()
        .unwrap();
    let app = Router::new()
        .route(
            "/maybe",
            get(|c: Option<Claims>| async move {
                c.map(|Claims(c)| c.sub.unwrap_or_default())
                    .unwrap_or_else(|| "anonymous".into())
            }),
        )
        .layer(layer);
    let a = send(&app, "/maybe", None).await;
    assert_eq!((a.status, a.body.as_str()), (StatusCode::OK, "anonymous"));
    let a = send(
        &app,
        "/maybe",
        Some(&format!("Bearer {}", idp.token().subject("bob").sign())),
    )
    .await;
    assert_eq!((a.status, a.body.as_str()), (StatusCode::OK, "bob"));
    // Invalid tokens are still refused in optional mode.
    let a = send(
        &app,
        "/maybe",
        Some(&format!("Bearer {}", idp.token().expired().sign())),
    )
    .await;
    assert_eq!(a.status, StatusCode::UNAUTHORIZED);

    // The extractor on a route without the layer is a wiring bug: 500, named.
    let unwired = Router::new().route("/me", get(whoami));
    let a = send(&unwired, "/me", Some("Bearer x")).await;
    assert_eq!(a.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert!(a.body.contains("AuthLayer"), "{}", a.body);
    let unwired = Router::new().route(
        "/maybe",
        get(|c: Option<Claims>| async move { c.is_some().to_string() }),
    );
    assert_eq!(
        send(&unwired, "/maybe", None).await.status,
        StatusCode::INTERNAL_SERVER_ERROR
    );

    // Claims that do not fit the handler's type: 401, not 500.
    #[derive(serde::Deserialize)]
    #[allow(dead_code)]
    struct NeedsTenant {
        tenant: String,
    }
    let strict = Router::new()
        .route("/t", get(|_: Claims<NeedsTenant>| async { "ok" }))
        .layer(AuthLayer::new(issuer_for(&idp).await));
    let a = send(
        &strict,
        "/t",
        Some(&format!("Bearer {}", idp.token().sign())),
    )
    .await;
    assert_eq!(a.status, StatusCode::UNAUTHORIZED);
    let a = send(
        &strict,
        "/t",
        Some(&format!(
            "Bearer {}",
            idp.token().claim("tenant", "acme").sign()
        )),
    )
    .await;
    assert_eq!(a.status, StatusCode::OK);
}

#[tokio::test]
async fn scopes_are_visible_to_handlers() {
    let idp = MockIssuer::start().await;
    let app = app(AuthLayer::new(issuer_for(&idp).await));
    let a = send(
        &app,
        "/raw",
        Some(&format!(
            "Bearer {}",
            idp.token().scope("orders:read orders:write").sign()
        )),
    )
    .await;
    assert_eq!(a.body, "orders:read orders:write");
    let a = send(
        &app,
        "/raw",
        Some(&format!(
            "Bearer {}",
            idp.token().claim("scp", json!(["a", "b"])).sign()
        )),
    )
    .await;
    assert_eq!(a.body, "a b");
}

#[tokio::test]
async fn multi_issuer_selects_by_exact_iss() {
    let a_idp = MockIssuer::start().await;
    let b_idp = MockIssuer::start().await;
    b_idp.rotate(Algorithm::ES256);
    let layer = AuthLayer::builder()
        .issuer(issuer_for(&a_idp).await)
        .issuer(issuer_for(&b_idp).await)
        .build()
        .unwrap();
    let app = app(layer);
    assert_eq!(bearer(&app, &a_idp.token().sign()).await.status, 200);
    assert_eq!(bearer(&app, &b_idp.token().sign()).await.status, 200);
    // Claims iss A, signed by B's key (kid unknown to A): refused.
    let forged = b_idp.token().issuer(&a_idp.issuer_url()).sign();
    assert_eq!(bearer(&app, &forged).await.status, 401);
    let fetches = (a_idp.jwks_fetches(), b_idp.jwks_fetches());
    let a = bearer(
        &app,
        &a_idp.token().issuer("https://unknown.example").sign(),
    )
    .await;
    assert_eq!(a.rejection.unwrap().reason(), Reason::UnknownIssuer);
    assert_eq!(
        (a_idp.jwks_fetches(), b_idp.jwks_fetches()),
        fetches,
        "no network for an unknown issuer"
    );
}

#[tokio::test]
async fn configuration_errors_are_typed() {
    let idp = MockIssuer::start().await;
    let err = idp.issuer_builder().build().await.unwrap_err();
    assert!(matches!(err, ConfigError::NoAudience));
    let err = idp
        .issuer_builder()
        .audience("a")
        .leeway(Duration::from_secs(301))
        .build()
        .await
        .unwrap_err();
    assert!(matches!(err, ConfigError::LeewayTooLarge { .. }));
    let err = Issuer::builder("http://idp.example.com/realms/x")
        .audience("a")
        .build()
        .await
        .unwrap_err();
    assert!(matches!(err, ConfigError::InsecureUrl { .. }));
    let err = Issuer::builder(format!("{}/", idp.issuer_url()))
        .audience("a")
        .http(common::loopback())
        .build()
        .await
        .unwrap_err();
    assert!(matches!(err, ConfigError::IssuerMismatch { .. }), "{err:?}");
    let err = idp
        .issuer_builder()
        .audience("a")
        .algorithms([Algorithm::HS256])
        .build()
        .await
        .unwrap_err();
    assert!(matches!(err, ConfigError::Algorithm { .. }));
    idp.set_outage(true);
    let err = idp
        .issuer_builder()
        .audience("a")
        .jwks_uri(idp.jwks_url())
        .build()
        .await
        .unwrap_err();
    assert!(matches!(err, ConfigError::InitialKeys { .. }));
    // Conflicting settings are reported, never resolved silently.
    let err = Issuer::builder("https://idp.example")
        .audience("a")
        .hmac_secret([7u8; 32])
        .jwks_uri("https://idp.example/jwks")
        .build()
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            ConfigError::ConflictingSettings {
                first: "hmac_secret",
                second: "jwks_uri"
            }
        ),
        "{err:?}"
    );
    let err = Issuer::builder("https://idp.example")
        .audience("a")
        .static_jwks(idp.jwks_json().to_string())
        .jwks_uri("https://idp.example/jwks")
        .build()
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            ConfigError::ConflictingSettings {
                first: "static_jwks",
                second: "jwks_uri"
            }
        ),
        "{err:?}"
    );
    let err = Issuer::builder("https://idp.example")
        .audience("a")
        .hmac_secret([7u8; 31])
        .build()
        .await
        .unwrap_err();
    assert!(
        matches!(err, ConfigError::HmacSecretTooShort { len: 31, min: 32 }),
        "{err:?}"
    );
    let err = Issuer::builder("https://idp.example")
        .audience("a")
        .require_claim("", "x")
        .hmac_secret([7u8; 32])
        .build()
        .await
        .unwrap_err();
    assert!(matches!(err, ConfigError::EmptyClaimName { .. }), "{err:?}");
    assert!(AuthLayer::builder().build().is_err());
    let i = Issuer::builder("https://idp.example")
        .audience("a")
        .static_jwks(idp.jwks_json().to_string())
        .build()
        .await
        .unwrap();
    assert!(matches!(
        AuthLayer::builder().issuer(i.clone()).issuer(i).build(),
        Err(ConfigError::DuplicateIssuer(_))
    ));
}

#[tokio::test]
async fn static_jwks_and_explicit_jwks_uri() {
    let idp = MockIssuer::start().await;
    let s = idp
        .issuer_builder()
        .audience("orders-api")
        .static_jwks(idp.jwks_json().to_string())
        .build()
        .await
        .unwrap();
    assert_eq!(
        bearer(&app(AuthLayer::new(s)), &idp.token().sign())
            .await
            .status,
        200
    );
    assert_eq!(idp.jwks_fetches(), 0);
    let u = idp
        .issuer_builder()
        .audience("orders-api")
        .jwks_uri(idp.jwks_url())
        .build()
        .await
        .unwrap();
    assert_eq!(
        bearer(&app(AuthLayer::new(u)), &idp.token().sign())
            .await
            .status,
        200
    );
    assert_eq!(
        idp.discovery_fetches(),
        0,
        "explicit jwks_uri skips discovery"
    );
}

/// Checks every token sent so far by any test of this binary, and makes its
/// own traffic too, so it proves something whatever order tests run in.
#[tokio::test]
async fn logs_never_contain_tokens() {
    let idp = MockIssuer::start().await;
    let app = app(AuthLayer::new(issuer_for(&idp).await));
    for t in [
        idp.token().sign(),
        idp.token().expired().sign(),
        idp.token().audience("x").sign(),
    ] {
        let _ = bearer(&app, &t).await;
    }
    let logs = global_capture().text();
    assert!(logs.contains(REJECTED_EVENT), "rejections are logged");
    assert!(
        logs.contains("reason=expired") || logs.contains("reason=\"expired\""),
        "reason codes are logged"
    );
    // Tokens and signatures longer than 20 characters: this suite also
    // sends `abc`, `a b`, `x`, which ordinary log text may hold.
    let min = ScanMin {
        token: 21,
        signature: 21,
    };
    assert_no_token_in(&logs, sent().lock().unwrap().iter(), min);
}

#[tokio::test]
async fn key_refresh_honours_retry_after() {
    let idp = MockIssuer::start().await;
    // Failed refreshes back off from 50 ms.
    let refresh = fast_refresh()
        .backoff_max(Duration::from_secs(10))
        .unknown_kid_wait(Duration::from_millis(200))
        .max_stale(Duration::from_secs(60));
    let issuer = polling_issuer(&idp, refresh).await;
    let app = app(AuthLayer::new(issuer));
    let token = idp.token().sign();
    idp.set_outage_retry_after(Some(Duration::from_secs(2)));
    idp.set_outage(true);
    let before = idp.jwks_fetches();
    // Without Retry-After the 50 ms backoff would fetch ~5 times in 1.5 s.
    tokio::time::sleep(Duration::from_millis(700)).await;
    // A token with a new kid demands a refresh: not during the wait either.
    let unknown = idp.token().header_kid(Some("rotated-in")).sign();
    assert_eq!(
        bearer(&app, &unknown).await.status,
        StatusCode::UNAUTHORIZED
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    let during = idp.jwks_fetches() - before;
    assert!(during <= 1, "{during} fetches while asked to wait 2 s");
    assert_eq!(
        bearer(&app, &token).await.status,
        200,
        "stale keys keep serving"
    );
    idp.set_outage(false);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(
        idp.jwks_fetches() - before >= 2,
        "fetched again once the wait was over"
    );
}
