//! Decision, cache and key metrics.

use super::*;

/// A token whose signature is damaged (last byte of the signature changed).
fn tampered(token: &str) -> String {
    let (head, sig) = token.rsplit_once('.').unwrap();
    let mut sig = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(sig)
        .unwrap();
    *sig.last_mut().unwrap() ^= 1;
    format!(
        "{head}.{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sig)
    )
}

#[tokio::test]
async fn decisions_are_counted_by_outcome_reason_and_configured_issuer() {
    let _serial = serial().await;
    let idp = MockIssuer::start().await;
    let iss = idp.issuer_url();
    let issuer = common::orders_issuer(&idp).await;
    let app = app(common::orders_layer(issuer));
    let writer = idp.token().subject("alice").scope("orders:write").sign();
    let reader = idp.token().subject("bob").scope("orders:read").sign();
    let expired = idp.token().scope("orders:write").expired().sign();
    let before = scrape();

    assert_eq!(call(&app, Some(&writer)).await.status(), StatusCode::OK);
    assert_eq!(call(&app, Some(&writer)).await.status(), StatusCode::OK);
    let res = call(&app, Some(&reader)).await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let res = call(&app, Some(&expired)).await;
    assert_eq!(reason_of(&res), Some(Reason::Expired));
    let res = call(&app, Some(&tampered(&writer))).await;
    assert_eq!(reason_of(&res), Some(Reason::BadSignature));
    let res = call(&app, None).await;
    assert_eq!(reason_of(&res), Some(Reason::MissingToken));

    let after = scrape();
    let delta = |name: &str, labels: &[(&str, &str)]| {
        value(&after, name, labels) - value(&before, name, labels)
    };
    let d = "oauth2_guard_decisions_total";
    let iss = iss.as_str();
    assert_eq!(
        delta(
            d,
            &[("outcome", "allowed"), ("reason", "none"), ("issuer", iss)]
        ),
        3.0
    );
    assert_eq!(
        delta(
            d,
            &[
                ("outcome", "refused"),
                ("reason", "expired"),
                ("issuer", iss)
            ]
        ),
        1.0
    );
    assert_eq!(
        delta(
            d,
            &[
                ("outcome", "refused"),
                ("reason", "bad_signature"),
                ("issuer", iss)
            ]
        ),
        1.0
    );
    // No token, no issuer: the fixed label, never something from the request.
    assert_eq!(
        delta(
            d,
            &[
                ("outcome", "refused"),
                ("reason", "missing_token"),
                ("issuer", "unknown")
            ]
        ),
        1.0
    );
    // Registered at issuer build: a zero series exists before any refusal.
    assert!(before.contains_key(&series(
        d,
        &[
            ("outcome", "refused"),
            ("reason", "wrong_audience"),
            ("issuer", iss)
        ]
    )));
    assert_eq!(
        delta(
            "oauth2_guard_authz_denials_total",
            &[("kind", "scope"), ("required", "orders:write")]
        ),
        1.0
    );
    // writer twice: one miss, one hit; the others (verified or not) miss.
    let cache = "oauth2_guard_token_cache_requests_total";
    assert_eq!(delta(cache, &[("result", "hit")]), 1.0);
    assert_eq!(delta(cache, &[("result", "miss")]), 4.0);
    assert_eq!(delta("oauth2_guard_token_cache_entries", &[]), 2.0);
    let hist = "oauth2_guard_verification_duration_seconds_count";
    // Cache-hit latency is sampled (one lookup in 64 per thread): at most
    // the one hit; the hit itself is counted exactly above.
    assert!(delta(hist, &[("kind", "cache_hit")]) <= 1.0);
    assert_eq!(delta(hist, &[("kind", "jwt")]), 4.0);
}

/// A JWT of `idp` whose header names a `kid` the IdP never published.
fn ghost_kid_token(idp: &MockIssuer) -> String {
    let token = idp.token().sign();
    let mut parts = token.split('.');
    let (_, payload, sig) = (parts.next(), parts.next().unwrap(), parts.next().unwrap());
    let header = serde_json::json!({"alg": "RS256", "typ": "at+jwt", "kid": "ghost"});
    let header = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(header.to_string());
    format!("{header}.{payload}.{sig}")
}

#[tokio::test]
async fn key_metrics_follow_fetches_outages_and_unknown_kids() {
    let _serial = serial().await;
    let idp = MockIssuer::start().await;
    let iss = idp.issuer_url();
    let iss = iss.as_str();
    let issuer = polling_issuer(&idp, fast_backoff()).await;
    let app = app(common::orders_layer(issuer));
    let m = scrape();
    let published = idp.published_kids().len() as f64;
    assert_eq!(
        value(&m, "oauth2_guard_jwks_keys", &[("issuer", iss)]),
        published
    );
    let fetches = |m: &HashMap<String, f64>, r| {
        value(
            m,
            "oauth2_guard_jwks_fetches_total",
            &[("issuer", iss), ("result", r)],
        )
    };
    assert!(fetches(&m, "ok") >= 1.0);
    // Polled every 100 ms, the unchanged set costs 304s, counted apart.
    tokio::time::timeout(Duration::from_secs(10), async {
        while fetches(&scrape(), "not_modified") < 1.0 {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await
    .expect("a 304 is counted as not_modified within 10 s");
    assert!(idp.jwks_not_modified() >= 1);
    assert!(
        value(
            &m,
            "oauth2_guard_jwks_last_success_timestamp_seconds",
            &[("issuer", iss)]
        ) > 1e9
    );

    // An unknown kid demands one refresh; the next one within the cooldown is rate-limited.
    let kid = |m: &HashMap<String, f64>, r| {
        value(
            m,
            "oauth2_guard_jwks_unknown_kid_refreshes_total",
            &[("issuer", iss), ("result", r)],
        )
    };
    let before = scrape();
    let ghost = ghost_kid_token(&idp);
    assert_eq!(
        reason_of(&call(&app, Some(&ghost)).await),
        Some(Reason::UnknownKey)
    );
    assert_eq!(
        reason_of(&call(&app, Some(&ghost)).await),
        Some(Reason::UnknownKey)
    );
    let after = scrape();
    assert_eq!(kid(&after, "started") - kid(&before, "started"), 1.0);
    assert_eq!(
        kid(&after, "rate_limited") - kid(&before, "rate_limited"),
        1.0
    );

    // An outage: failed fetches are counted as http_error.
    let errors = fetches(&scrape(), "http_error");
    idp.set_outage(true);
    tokio::time::timeout(Duration::from_secs(10), async {
        while fetches(&scrape(), "http_error") <= errors {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await
    .expect("a failed fetch is counted within 10 s");
}

#[tokio::test]
async fn revocation_list_size_is_a_gauge() {
    let _serial = serial().await;
    let list = oauth2_guard::revocation::RevocationList::new();
    let exp = std::time::SystemTime::now() + Duration::from_secs(600);
    list.revoke_jti("a", exp).unwrap();
    list.revoke_jti("b", exp).unwrap();
    assert_eq!(
        value(&scrape(), "oauth2_guard_revocation_entries", &[]),
        2.0
    );
}
