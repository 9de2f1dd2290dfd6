//! Outbound client-credentials tokens against the test kit's token endpoint.
#![cfg(all(feature = "client", feature = "testkit"))]

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use axum::routing::get;
use axum::{Extension, Router};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use oauth2_guard::client::{
    ClientCredentials, ClientCredentialsBuilder, RetryConfig, SecretSource, TokenError,
};
use oauth2_guard::testkit::{Algorithm, MockIssuer};
use oauth2_guard::{AuthLayer, VerifiedClaims};
use serde_json::{json, Value};
use tower::ServiceExt;

use common::logs::LogCapture;
use common::{bearer, eventually, get_with_auth, idp_with_client, now, serve, CLIENT, SECRET};

fn fast_retry() -> RetryConfig {
    RetryConfig::default()
        .initial_backoff(Duration::from_millis(10))
        .max_backoff(Duration::from_millis(50))
}

/// The test client against `idp`, further configured by `configure`.
async fn source_with(
    idp: &MockIssuer,
    configure: impl FnOnce(ClientCredentialsBuilder) -> ClientCredentialsBuilder,
) -> ClientCredentials {
    configure(idp.client_credentials_builder(CLIENT).client_secret(SECRET))
        .build()
        .await
        .expect("source builds")
}

async fn source(idp: &MockIssuer) -> ClientCredentials {
    source_with(idp, |b| {
        b.resource("orders-api")
            .scope("orders:write")
            .retry(fast_retry())
    })
    .await
}

fn claims_of(token: &str) -> Value {
    let payload = token.split('.').nth(1).expect("JWT");
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).expect("b64")).expect("json")
}

/// A service protected by the core layer for `audience`; answers with the
/// caller's client id.
// Its own audience and a scope check: not `common::orders_issuer`/`ok_app`.
async fn service(idp: &MockIssuer, audience: &str) -> Router {
    let issuer = idp
        .issuer_builder()
        .audience(audience)
        .build()
        .await
        .expect("issuer");
    Router::new()
        .route(
            "/orders",
            get(|Extension(claims): Extension<VerifiedClaims>| async move {
                if claims.has_scope("orders:write") {
                    (StatusCode::OK, claims.client_id().unwrap_or("?").to_owned())
                } else {
                    (StatusCode::FORBIDDEN, "insufficient_scope".to_owned())
                }
            }),
        )
        .layer(AuthLayer::new(issuer))
}

#[tokio::test]
async fn token_is_reused_across_calls() {
    let idp = idp_with_client().await;
    let source = source(&idp).await;
    let first = source.token().await.unwrap();
    for _ in 0..50 {
        let again = source.token().await.unwrap();
        assert_eq!(again.secret(), first.secret());
    }
    assert_eq!(idp.token_requests(), 1);
    let claims = claims_of(first.secret());
    assert_eq!(claims["aud"], "orders-api");
    assert_eq!(claims["scope"], "orders:write");
    assert_eq!(claims["client_id"], CLIENT);
    assert_eq!(first.scope(), Some("orders:write"));
    // The token never shows in Debug output.
    assert!(!format!("{first:?} {source:?}").contains(first.secret()));
    assert!(!format!("{source:?}").contains(SECRET));
}

#[tokio::test]
async fn refreshed_in_the_background_before_expiry() {
    let idp = idp_with_client().await;
    idp.set_token_lifetime(Duration::from_secs(3));
    let source = idp
        .client_credentials_builder(CLIENT)
        .token_endpoint(idp.token_endpoint())
        .client_secret(SECRET)
        .refresh_margin(Duration::from_secs(1))
        .build()
        .await
        .unwrap();
    let first = source.token().await.unwrap();
    assert_eq!(idp.token_requests(), 1);
    // The refresh is due at 2 s; nobody calls meanwhile.
    eventually(
        "refreshed ahead without a caller",
        Duration::from_secs(5),
        || idp.token_requests() == 2,
    )
    .await;
    // The request is counted on arrival; the source installs the answer a
    // moment later. Until then callers get the still-valid first token,
    // without a request of their own (counted below).
    let second = loop {
        let now = source.token().await.unwrap();
        if now.secret() != first.secret() {
            break now;
        }
        assert!(
            Instant::now() < first.expires_at(),
            "replaced before expiry"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    assert!(Instant::now() < first.expires_at(), "before expiry");
    assert!(second.expires_at() > first.expires_at());
    assert_eq!(idp.token_requests(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hundred_concurrent_cold_callers_make_one_request() {
    let idp = idp_with_client().await;
    idp.set_token_delay(Duration::from_millis(200));
    let source = source(&idp).await;
    let tasks: Vec<_> = (0..100)
        .map(|_| {
            let s = source.clone();
            tokio::spawn(async move { s.token().await.map(|t| t.secret().to_owned()) })
        })
        .collect();
    let mut tokens = Vec::new();
    for t in tasks {
        tokens.push(t.await.unwrap().unwrap());
    }
    assert!(tokens.iter().all(|t| *t == tokens[0]));
    assert_eq!(idp.token_requests(), 1);
}

#[tokio::test]
async fn server_errors_are_retried_with_backoff() {
    let idp = idp_with_client().await;
    let source = source(&idp).await;
    idp.fail_next_token_requests(2, 503);
    source.token().await.expect("third attempt succeeds");
    assert_eq!(idp.token_requests(), 3);

    // Bounded: a persistent outage ends after max_attempts.
    let idp = idp_with_client().await;
    let source = source_with(&idp, |b| b.retry(fast_retry().max_attempts(3))).await;
    idp.fail_next_token_requests(100, 500);
    let err = source.token().await.unwrap_err();
    assert!(
        matches!(err, TokenError::Fetch { attempts: 3, .. }),
        "{err:?}"
    );
    assert!(err.is_transient());
    assert_eq!(idp.token_requests(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_client_is_typed_and_not_retried() {
    let idp = idp_with_client().await;
    idp.set_token_delay(Duration::from_millis(100));
    let source = idp
        .client_credentials_builder(CLIENT)
        .client_secret("wrong-secret")
        .retry(fast_retry())
        .build()
        .await
        .unwrap();
    let err = source.token().await.unwrap_err();
    match &err {
        TokenError::OAuth {
            status,
            error,
            description,
        } => {
            assert_eq!(*status, 401);
            assert_eq!(error, "invalid_client");
            assert!(description.is_some());
        }
        other => panic!("expected OAuth error, got {other:?}"),
    }
    assert_eq!(err.oauth_error(), Some("invalid_client"));
    assert!(!err.is_transient());
    assert!(!err.to_string().contains("wrong-secret"));
    assert_eq!(idp.token_requests(), 1, "not retried");

    // 50 concurrent callers share one failing request: no retry storm.
    let tasks: Vec<_> = (0..50)
        .map(|_| {
            let s = source.clone();
            tokio::spawn(async move { s.token().await })
        })
        .collect();
    for t in tasks {
        let e = t.await.unwrap().unwrap_err();
        assert_eq!(e.oauth_error(), Some("invalid_client"));
    }
    assert_eq!(idp.token_requests(), 2);
}

#[tokio::test]
async fn injected_oauth_errors_are_typed_and_not_retried() {
    let idp = idp_with_client().await;
    let source = source(&idp).await;
    idp.fail_next_token_requests(1, 400);
    let err = source.token().await.unwrap_err();
    assert_eq!(err.oauth_error(), Some("invalid_request"));
    assert_eq!(idp.token_requests(), 1);
}

#[tokio::test]
async fn rotated_secret_on_disk_is_used_by_the_next_fetch() {
    let idp = idp_with_client().await;
    let dir = std::env::temp_dir().join(format!("oauth2-guard-client-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("checkout-secret");
    std::fs::write(&path, format!("{SECRET}\n")).unwrap();
    let source = idp
        .client_credentials_builder(CLIENT)
        .client_secret(SecretSource::File(path.clone()))
        .build()
        .await
        .unwrap();
    source.token().await.expect("old secret works");

    // The IdP rotates the secret: the old one is refused.
    idp.register_client(CLIENT, "rotated-secret");
    let err = source.refresh_now().await.unwrap_err();
    assert_eq!(err.oauth_error(), Some("invalid_client"));
    // The cached token is still valid and still served.
    source.token().await.expect("still-valid cached token");

    // The secret manager writes the new secret; no restart.
    std::fs::write(&path, "rotated-secret\n").unwrap();
    let token = source.refresh_now().await.expect("new secret works");
    assert_eq!(claims_of(token.secret())["client_id"], CLIENT);
    assert_eq!(idp.token_requests(), 3);
    std::fs::remove_file(&path).ok();
}

#[tokio::test]
async fn basic_auth_form_encodes_id_and_secret() {
    let idp = MockIssuer::start().await;
    let (id, secret) = ("svc:a b", "p@ss:word+/ %");
    idp.register_client(id, secret);
    let source = idp
        .client_credentials_builder(id)
        .token_endpoint(idp.token_endpoint())
        .client_secret(secret)
        .build()
        .await
        .unwrap();
    let token = source
        .token()
        .await
        .expect("RFC 6749 §2.3.1 encoding understood");
    assert_eq!(claims_of(token.secret())["client_id"], id);
}

#[tokio::test]
async fn client_secret_post_and_callback_source() {
    let idp = idp_with_client().await;
    let asked = Arc::new(AtomicUsize::new(0));
    let counter = asked.clone();
    let source = idp
        .client_credentials_builder(CLIENT)
        .token_endpoint(idp.token_endpoint())
        .client_secret_post(SecretSource::from_fn(move || {
            counter.fetch_add(1, Ordering::SeqCst);
            Ok(SECRET.to_owned())
        }))
        .audience("billing-api")
        .build()
        .await
        .unwrap();
    let token = source.token().await.unwrap();
    assert_eq!(claims_of(token.secret())["aud"], "billing-api");
    assert!(
        asked.load(Ordering::SeqCst) >= 2,
        "read at build and per fetch"
    );
}

#[tokio::test]
async fn private_key_jwt_assertions_are_verified_by_the_mock() {
    let idp = MockIssuer::start().await;
    let kid = idp.new_client_key(Algorithm::ES256);
    assert!(
        !idp.published_kids().contains(&kid),
        "client key not in the issuer JWKS"
    );
    let pem = idp.private_key_pem(&kid).unwrap();
    idp.register_jwt_client("inventory", kid.as_str());
    let source = idp
        .client_credentials_builder("inventory")
        .private_key_jwt(pem, Algorithm::ES256, Some(&kid))
        .scope("orders:read")
        .build()
        .await
        .unwrap();
    let token = source.token().await.expect("assertion accepted");
    assert_eq!(claims_of(token.secret())["sub"], "inventory");
    // A second fetch carries a fresh jti (the mock refuses replays).
    source
        .refresh_now()
        .await
        .expect("second assertion accepted");
    assert_eq!(idp.token_requests(), 2);

    // The mock enforces each rule of RFC 7523 §3.
    let endpoint = idp.token_endpoint();
    let post = |assertion: String| {
        let endpoint = endpoint.clone();
        async move {
            reqwest::Client::new()
                .post(endpoint)
                .form(&[
                    ("grant_type", "client_credentials"),
                    (
                        "client_assertion_type",
                        "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
                    ),
                    ("client_assertion", assertion.as_str()),
                ])
                .send()
                .await
                .unwrap()
        }
    };
    let header = json!({ "alg": "ES256", "kid": kid });
    let claims = |f: &dyn Fn(&mut Value)| {
        let now = now();
        let mut c = json!({
            "iss": "inventory", "sub": "inventory", "aud": idp.token_endpoint(),
            "iat": now, "exp": now + 60, "jti": format!("{:x}", rand_u64()),
        });
        f(&mut c);
        c
    };
    let good = idp.sign_raw(header.clone(), claims(&|_| {}));
    // Same signature, other payload (a fresh jti): the signature check refuses it.
    let tampered = {
        let parts: Vec<&str> = good.split('.').collect();
        let payload = URL_SAFE_NO_PAD.encode(claims(&|_| {}).to_string());
        format!("{}.{}.{}", parts[0], payload, parts[2])
    };
    assert_eq!(post(good.clone()).await.status(), StatusCode::OK);
    let replay = post(good).await;
    assert_eq!(replay.status(), StatusCode::UNAUTHORIZED);
    let body: Value = replay.json().await.unwrap();
    assert_eq!(body["error"], "invalid_client");

    let refused: Vec<(&str, String)> = vec![
        ("tampered payload", tampered),
        (
            "sub != iss",
            idp.sign_raw(
                header.clone(),
                claims(&|c| c["sub"] = "someone-else".into()),
            ),
        ),
        (
            "aud != token endpoint",
            idp.sign_raw(
                header.clone(),
                claims(&|c| c["aud"] = idp.issuer_url().into()),
            ),
        ),
        (
            "long exp",
            idp.sign_raw(
                header.clone(),
                claims(&|c| c["exp"] = (now() + 3600).into()),
            ),
        ),
        (
            "expired",
            idp.sign_raw(header.clone(), claims(&|c| c["exp"] = (now() - 10).into())),
        ),
        (
            "no jti",
            idp.sign_raw(
                header.clone(),
                claims(&|c| {
                    c.as_object_mut()
                        .map(|m| m.remove("jti"))
                        .map(drop)
                        .unwrap_or(())
                }),
            ),
        ),
        (
            "signed with another key",
            idp.sign_raw(
                json!({ "alg": "RS256", "kid": idp.signing_kid() }),
                claims(&|_| {}),
            ),
        ),
        (
            "alg none",
            idp.sign_raw(json!({ "alg": "none", "kid": kid }), claims(&|_| {})),
        ),
        (
            "unknown client",
            idp.sign_raw(
                header.clone(),
                claims(&|c| {
                    c["iss"] = "nobody".into();
                    c["sub"] = "nobody".into();
                }),
            ),
        ),
    ];
    for (case, assertion) in refused {
        let r = post(assertion).await;
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED, "{case}");
    }
}

fn rand_u64() -> u64 {
    static N: AtomicUsize = AtomicUsize::new(0);
    let n = N.fetch_add(1, Ordering::SeqCst) as u64;
    now().wrapping_mul(1_000_003) ^ (n << 32) ^ u64::from(std::process::id())
}

#[tokio::test]
async fn token_for_b_is_refused_by_c() {
    let idp = idp_with_client().await;
    let for_b = source(&idp).await; // resource = orders-api
    let token = for_b.token().await.unwrap();
    let call = |app: Router, token: String| async move {
        app.oneshot(get_with_auth("/orders", bearer(&token)))
            .await
            .unwrap()
    };
    let b = service(&idp, "orders-api").await;
    assert_eq!(
        call(b, token.secret().to_owned()).await.status(),
        StatusCode::OK
    );

    let c = service(&idp, "billing-api").await;
    let refused = call(c, token.secret().to_owned()).await;
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
    let challenge = refused.headers()[header::WWW_AUTHENTICATE]
        .to_str()
        .unwrap();
    assert!(challenge.contains("error=\"invalid_token\""), "{challenge}");
}

/// A downstream that refuses the first token it sees with `invalid_token`.
async fn flaky_downstream() -> (String, Arc<Mutex<Vec<String>>>) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    let app = Router::new().route(
        "/orders",
        get(move |headers: axum::http::HeaderMap| {
            let log = log.clone();
            async move {
                let auth = headers
                    .get(header::AUTHORIZATION)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("")
                    .to_owned();
                let first = {
                    let mut log = log.lock().unwrap();
                    log.push(auth);
                    log.len() == 1
                };
                if first {
                    (
                        StatusCode::UNAUTHORIZED,
                        [(header::WWW_AUTHENTICATE, "Bearer error=\"invalid_token\"")],
                        "revoked",
                    )
                } else {
                    (StatusCode::OK, [(header::CACHE_CONTROL, "no-store")], "ok")
                }
            }
        }),
    );
    let url = format!("http://{}/orders", serve(app).await);
    (url, seen)
}

#[tokio::test]
async fn reqwest_send_retries_once_on_invalid_token() {
    let idp = idp_with_client().await;
    let source = source(&idp).await;
    let (url, seen) = flaky_downstream().await;
    let http = reqwest::Client::new();
    let response = source.send(http.get(&url)).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 2);
    assert!(seen[0].starts_with("Bearer ") && seen[1].starts_with("Bearer "));
    assert_ne!(seen[0], seen[1], "retried with a new token");
    assert_eq!(idp.token_requests(), 2);

    // authorize() only adds the header.
    let r = source
        .authorize(http.get(&url))
        .await
        .unwrap()
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(idp.token_requests(), 2);
}

#[tokio::test]
async fn tower_layer_sets_a_sensitive_bearer_header() {
    use tower::{service_fn, Layer as _};
    let idp = idp_with_client().await;
    let source = source(&idp).await;
    let calls = Arc::new(AtomicUsize::new(0));
    let counter = calls.clone();
    let client = source.layer().layer(service_fn(move |req: Request<Body>| {
        let n = counter.fetch_add(1, Ordering::SeqCst);
        async move {
            let auth = req.headers().get(header::AUTHORIZATION).cloned();
            let ok = auth
                .as_ref()
                .is_some_and(|v| v.is_sensitive() && v.as_bytes().starts_with(b"Bearer "));
            let mut response = axum::http::Response::new(Body::empty());
            if !ok {
                *response.status_mut() = StatusCode::BAD_REQUEST;
            } else if n == 0 {
                *response.status_mut() = StatusCode::UNAUTHORIZED;
                response.headers_mut().insert(
                    header::WWW_AUTHENTICATE,
                    "Bearer error=\"invalid_token\"".parse().unwrap(),
                );
            }
            Ok::<_, std::convert::Infallible>(response)
        }
    }));
    let r = client
        .clone()
        .oneshot(Request::new(Body::empty()))
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    // The refused token was dropped: the next request gets a new one.
    let r = client.oneshot(Request::new(Body::empty())).await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(idp.token_requests(), 2);
}

#[tokio::test]
async fn unreadable_credentials_fail_at_build() {
    let idp = idp_with_client().await;
    let err = idp
        .client_credentials_builder(CLIENT)
        .client_secret(SecretSource::File(
            "/nonexistent/oauth2-guard/secret".into(),
        ))
        .build()
        .await
        .unwrap_err();
    assert!(
        matches!(err, oauth2_guard::ConfigError::Credentials { .. }),
        "{err:?}"
    );
    let err = idp
        .client_credentials_builder(CLIENT)
        .private_key_jwt("not a pem", Algorithm::ES256, None)
        .build()
        .await
        .unwrap_err();
    assert!(
        matches!(err, oauth2_guard::ConfigError::Credentials { .. }),
        "{err:?}"
    );
    let err = ClientCredentials::builder(CLIENT)
        .client_secret(SECRET)
        .build()
        .await
        .unwrap_err();
    assert!(
        matches!(err, oauth2_guard::ConfigError::MissingSetting { .. }),
        "{err:?}"
    );
}

#[tokio::test]
async fn each_fetch_is_logged_without_token_or_secret() {
    // A global subscriber: a thread-local one misses events when other
    // tests race to register the same callsites.
    let captured = LogCapture::default();
    captured
        .set_global_default(tracing::Level::DEBUG)
        .expect("only this test sets it");
    tracing::callsite::rebuild_interest_cache();

    let idp = MockIssuer::start().await;
    idp.register_client("audit", "audit-secret-value");
    let source = idp
        .client_credentials_builder("audit")
        .client_secret("audit-secret-value")
        .resource("orders-api")
        .scope("orders:write")
        .build()
        .await
        .unwrap();
    let token = source.token().await.unwrap();
    idp.register_client("audit", "rotated");
    let _ = source.refresh_now().await;
    let _ = source
        .send(reqwest::Client::new().get(idp.jwks_url()))
        .await
        .unwrap();

    let logs = String::from_utf8(captured.bytes()).unwrap();
    let obtained = logs
        .lines()
        .find(|l| l.contains("client-credentials token obtained") && l.contains("client_id=audit"))
        .expect("a fetch event");
    for field in [
        "audience=orders-api",
        "scopes=\"orders:write\"",
        "lifetime_s=300",
        "latency_ms=",
    ] {
        assert!(obtained.contains(field), "{field} missing in {obtained}");
    }
    assert!(
        logs.lines()
            .any(|l| l.contains("client-credentials token request failed")
                && l.contains("client_id=audit")),
        "{logs}"
    );
    assert!(!logs.contains(token.secret()), "token leaked into logs");
    assert!(
        !logs.contains("audit-secret-value"),
        "secret leaked into logs"
    );
    assert!(!logs.contains(SECRET), "secret leaked into logs");
}

#[tokio::test]
async fn failed_background_refresh_keeps_the_valid_token() {
    let idp = idp_with_client().await;
    idp.set_token_lifetime(Duration::from_secs(4));
    let source = source_with(&idp, |b| {
        b.refresh_margin(Duration::from_secs(3))
            .retry(fast_retry().max_attempts(2))
    })
    .await;
    let first = source.token().await.unwrap();
    idp.fail_next_token_requests(usize::MAX, 503);
    // Refresh due at 1 s; it fails, repeatedly.
    eventually("refresh attempted twice", Duration::from_secs(3), || {
        idp.token_requests() > 2
    })
    .await;
    let still = source
        .token()
        .await
        .expect("still-valid cached token served");
    assert_eq!(still.secret(), first.secret());
    // The IdP recovers: the background retry gets a new token before expiry.
    idp.fail_next_token_requests(0, 503);
    let fresh = loop {
        let now = source.token().await.unwrap();
        if now.secret() != first.secret() {
            break now;
        }
        assert!(Instant::now() < first.expires_at(), "not replaced in time");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_ne!(fresh.secret(), first.secret());
    assert!(
        Instant::now() < first.expires_at(),
        "replaced before the old one expired"
    );
}

#[tokio::test]
async fn short_retry_after_is_waited_out_then_retried() {
    let idp = idp_with_client().await;
    let source = source_with(&idp, |b| {
        b.retry(fast_retry().max_backoff(Duration::from_secs(2)))
    })
    .await;
    // A rate limit with `Retry-After: 1`, within max_backoff: wait it out.
    idp.fail_next_token_requests_retry_after(1, 429, Duration::from_secs(1));
    let started = Instant::now();
    source
        .token()
        .await
        .expect("retried after the server's wait");
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "waited {:?}, less than Retry-After",
        started.elapsed()
    );
    assert_eq!(idp.token_requests(), 2);
}

#[tokio::test]
async fn long_retry_after_fails_fast_and_holds_requests_back() {
    let idp = idp_with_client().await;
    // The server asks for 30 s; we honour at most 2 s of it.
    let source = source_with(&idp, |b| {
        b.retry(fast_retry().max_retry_after(Duration::from_secs(2)))
    })
    .await;
    idp.fail_next_token_requests_retry_after(1, 503, Duration::from_secs(30));
    let started = Instant::now();
    let err = source.token().await.unwrap_err();
    assert!(
        started.elapsed() < Duration::from_millis(500),
        "no foreground wait"
    );
    assert_eq!(err.retry_after(), Some(Duration::from_secs(30)), "{err:?}");
    let cause = std::error::Error::source(&err).map(|e| e.to_string());
    assert!(
        cause
            .as_deref()
            .is_some_and(|c| c.contains("HTTP 503 (retry after 30 s)")),
        "{cause:?}"
    );
    assert_eq!(
        idp.token_requests(),
        1,
        "not retried against the server's wish"
    );

    // Within the (capped) window, callers get the same error without a request.
    let again = source.token().await.unwrap_err();
    assert_eq!(again.retry_after(), Some(Duration::from_secs(30)));
    assert_eq!(idp.token_requests(), 1);

    // After the cap, the endpoint is asked again (and now answers).
    tokio::time::sleep(Duration::from_millis(2100)).await;
    source.token().await.expect("asked again after the window");
    assert_eq!(idp.token_requests(), 2);
}

#[tokio::test]
async fn background_refresh_respects_retry_after() {
    let idp = idp_with_client().await;
    idp.set_token_lifetime(Duration::from_secs(6));
    let source = source_with(&idp, |b| {
        b.refresh_margin(Duration::from_secs(5))
            .retry(fast_retry().max_attempts(2))
    })
    .await;
    let first = source.token().await.unwrap();
    // Refresh due at 1 s: rate-limited for 3 s (longer than max_backoff).
    idp.fail_next_token_requests_retry_after(usize::MAX, 429, Duration::from_secs(3));
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(
        idp.token_requests(),
        2,
        "one refresh attempt, then silence until Retry-After is over"
    );
    let still = source.token().await.expect("cached token still served");
    assert_eq!(still.secret(), first.secret());
    idp.fail_next_token_requests(0, 503);
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let fresh = source.token().await.unwrap();
    assert_ne!(fresh.secret(), first.secret(), "refreshed after the wait");
    // (the new 6 s token is itself refreshed 1 s later: 3 or more requests)
    assert!(idp.token_requests() >= 3);
}

#[tokio::test]
async fn absurd_retry_after_neither_panics_nor_overflows() {
    let idp = idp_with_client().await;
    let source = source_with(&idp, |b| {
        b.retry(fast_retry().max_retry_after(Duration::MAX))
    })
    .await;
    idp.fail_next_token_requests_retry_after(1, 429, Duration::from_secs(u64::MAX));
    let err = source.token().await.unwrap_err();
    assert_eq!(err.retry_after(), Some(Duration::from_secs(u64::MAX)));
    assert!(source.token().await.is_err(), "held back");
    assert_eq!(idp.token_requests(), 1);
}
