//! Key-set attacks (issue 15): keys the IdP stopped publishing, RSA keys
//! whose exponent makes forgery easy, and ECDSA's twin signature spellings.

use super::*;

use axum::Extension;
use oauth2_guard::{ConfigError, FetchErrorKind, Issuer, VerifiedClaims};

use crate::common::{fast_backoff, polling_issuer};

/// A published set that a refresh must treat as authoritative although it
/// holds no key this crate can use.
fn unusable_sets(old_kid: &str) -> [(&'static str, Vec<Value>); 2] {
    let b64 = |bytes: &[u8]| URL_SAFE_NO_PAD.encode(bytes);
    [
        ("empty set", Vec::new()),
        (
            "only skipped key types",
            vec![
                // P-521 is not verified by this crate.
                json!({"kid": "p521-next", "kty": "EC", "crv": "P-521",
                       "x": b64(&[0x5A; 66]), "y": b64(&[0xA5; 66])}),
                // RSA-1024 is below RFC 7518's 2048 bits; it even reuses the
                // removed key's kid.
                json!({"kid": old_kid, "kty": "RSA", "n": b64(&[0xC3; 128]), "e": "AQAB"}),
            ],
        ),
    ]
}

/// Publish exactly `keys` (raw JWKs), nothing else.
fn publish_only(idp: &MockIssuer, keys: &[Value]) {
    for kid in idp.published_kids() {
        idp.remove_key(&kid);
    }
    for jwk in keys {
        idp.add_raw_jwk(jwk.clone());
    }
    assert_eq!(idp.jwks_json(), json!({ "keys": keys }));
}

/// The layer must answer 503 "no usable keys": `keys_unavailable`, a
/// `Retry-After`, and no challenge (the token is not what is wrong).
async fn refuse_unavailable(h: &mut Harness, name: &str, token: &str) {
    let (res, took) = h.send_header(bearer(token)).await;
    h.sent.push(token.to_owned());
    h.cases += 1;
    assert_eq!(
        res.status(),
        StatusCode::SERVICE_UNAVAILABLE,
        "{name}: {:?}",
        res.extensions().get::<Rejection>()
    );
    assert_eq!(reason_of(&res), Some(Reason::KeysUnavailable), "{name}");
    assert!(res.headers().contains_key(header::RETRY_AFTER), "{name}");
    assert!(
        !res.headers().contains_key(header::WWW_AUTHENTICATE),
        "{name}"
    );
    assert!(took < MAX_WALL, "{name}: took {took:?}");
}

/// `/x` behind a layer for `issuer`, answering the verified token's fingerprint.
// Look-alike of interop.rs's `app` and client.rs's `service`: each handler reads other claims.
fn fingerprint_app(issuer: Issuer) -> Router {
    let layer = orders_layer(issuer);
    Router::new()
        .route(
            "/x",
            get(|Extension(claims): Extension<VerifiedClaims>| async move {
                claims.fingerprint().to_string()
            }),
        )
        .layer(layer)
}

/// The IdP removes its key and publishes a set with no usable key; an
/// unknown kid demands the refresh. The set is authoritative: the removed
/// key stops verifying at once, cached or not, and every token is answered
/// 503 (not 401: no token can be checked, the fault is the IdP's set).
#[tokio::test]
async fn unusable_set_from_unknown_kid_refresh_revokes_removed_keys() {
    for (case, keys) in unusable_sets("rsa-1") {
        let mut h = Harness::new().await;
        let cached = h.idp.token().sign();
        h.accept(&format!("{case}: control"), &cached).await;
        h.accept(&format!("{case}: cached control"), &cached).await;
        let uncached = h.idp.token().sign();
        assert_eq!(h.idp.signing_kid(), "rsa-1");
        publish_only(&h.idp, &keys);
        let fetches = h.idp.jwks_fetches();
        let probe = h.idp.token().header_kid(Some("rotated-in")).sign();
        refuse_unavailable(&mut h, &format!("{case}: unknown kid"), &probe).await;
        assert_eq!(h.idp.jwks_fetches(), fetches + 1, "{case}: one refresh");
        refuse_unavailable(&mut h, &format!("{case}: cached token"), &cached).await;
        refuse_unavailable(&mut h, &format!("{case}: uncached token"), &uncached).await;
        let logs = h.logs.text();
        assert!(
            logs.lines()
                .any(|l| l.contains("ERROR") && l.contains(&h.iss())),
            "{case}: an empty key set is an ERROR event naming the issuer"
        );
        h.finish();
    }
}

/// The same through the scheduled refresh, and recovery: once the IdP
/// publishes a usable key again, it is picked up within the retry backoff.
#[tokio::test]
async fn unusable_set_from_scheduled_refresh_revokes_removed_keys() {
    for (case, keys) in unusable_sets("rsa-1") {
        let mut h = Harness::new().await;
        let issuer = polling_issuer(&h.idp, fast_backoff()).await;
        h.app = fingerprint_app(issuer.clone());
        let cached = h.idp.token().sign();
        h.accept(&format!("{case}: control"), &cached).await;
        let uncached = h.idp.token().sign();
        publish_only(&h.idp, &keys);
        // The next poll (100 ms) installs the set; before it, the old key serves.
        let deadline = Instant::now() + Duration::from_secs(3);
        loop {
            let (res, _) = h.send_header(bearer(&cached)).await;
            if res.status() != StatusCode::OK {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "{case}: a removed key still verifies 3 s after the set changed"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        refuse_unavailable(&mut h, &format!("{case}: cached token"), &cached).await;
        refuse_unavailable(&mut h, &format!("{case}: uncached token"), &uncached).await;
        assert!(!issuer.is_ready(), "{case}: no usable key is not ready");

        // Recovery: a new key is published and found by the next retry.
        let new_kid = h.idp.rotate(Algorithm::ES256);
        let deadline = Instant::now() + Duration::from_secs(3);
        while !issuer.is_ready() {
            assert!(Instant::now() < deadline, "{case}: no recovery");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let fresh = h.idp.token().kid(&new_kid).sign();
        h.accept(&format!("{case}: new key"), &fresh).await;
        h.refuse(
            &format!("{case}: removed key after recovery"),
            &cached,
            Reason::UnknownKey,
        )
        .await;
        h.finish();
    }
}

/// At startup a set without a usable key is a configuration problem:
/// `build().await` fails. `build_deferred` answers 503 until a key is published.
#[tokio::test]
async fn startup_without_usable_key() {
    for (case, keys) in unusable_sets("rsa-1") {
        let mut h = Harness::new().await;
        publish_only(&h.idp, &keys);
        let built = h.idp.issuer_builder().audience("orders-api").build().await;
        match built {
            Err(ConfigError::InitialKeys { source, .. }) => {
                assert_eq!(source.kind(), FetchErrorKind::NoUsableKeys, "{case}")
            }
            other => panic!("{case}: {other:?}"),
        }
        h.idp.set_cache_control(None);
        let lazy = h
            .idp
            .issuer_builder()
            .audience("orders-api")
            .refresh(fast_backoff())
            .build_deferred()
            .expect("lazy issuer");
        h.app = fingerprint_app(lazy.clone());
        let token = h.idp.token().sign();
        refuse_unavailable(&mut h, &format!("{case}: lazy"), &token).await;
        h.idp.rotate(Algorithm::ES256);
        let deadline = Instant::now() + Duration::from_secs(3);
        while !lazy.is_ready() {
            assert!(Instant::now() < deadline, "{case}: no recovery");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        h.accept(&format!("{case}: lazy, new key"), &h.idp.token().sign())
            .await;
        h.finish();
    }
}

/// The EMSA-PKCS1-v1_5 encoding of SHA-256(`input`) for a 2048-bit key: with
/// `e = 1` it *is* a valid signature, which anyone can compute.
fn pkcs1_sha256_encoding(input: &[u8]) -> Vec<u8> {
    use sha2::{Digest, Sha256};
    const DIGEST_INFO: [u8; 19] = [
        0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01,
        0x05, 0x00, 0x04, 0x20,
    ];
    let mut em = vec![0x00, 0x01];
    em.resize(256 - DIGEST_INFO.len() - 32 - 1, 0xFF);
    em.push(0x00);
    em.extend_from_slice(&DIGEST_INFO);
    em.extend_from_slice(&Sha256::digest(input));
    assert_eq!(em.len(), 256);
    em
}

/// RSA JWKs with `e` < 3 or an even `e` are skipped at load, so a token
/// "signed" for one names an unknown key. With `e = 1` the forgery is the
/// padded hash itself.
#[tokio::test]
async fn rsa_keys_with_tiny_or_even_exponent_are_skipped() {
    let mut h = Harness::new().await;
    let n = h.idp.jwks_json()["keys"][0]["n"].clone();
    for (kid, e) in [
        ("e-1", "AQ"),
        ("e-2", "Ag"),
        ("e-65536", "AQAA"),
        ("e-65537", "AQAB"),
    ] {
        h.idp
            .add_raw_jwk(json!({"kid": kid, "kty": "RSA", "alg": "RS256", "n": n, "e": e}));
    }
    // Control: the IdP's own key under another kid. Its first use triggers
    // the one refresh that loads every raw key above.
    let control = h
        .idp
        .sign_raw(json!({"alg": "RS256", "kid": "e-65537"}), h.claims());
    h.accept("control: same modulus, e = 65537", &control).await;
    for kid in ["e-1", "e-2", "e-65536"] {
        let input = format!(
            "{}.{}",
            enc(&json!({"alg": "RS256", "kid": kid})),
            enc(&h.claims())
        );
        let forged = format!(
            "{input}.{}",
            URL_SAFE_NO_PAD.encode(pkcs1_sha256_encoding(input.as_bytes()))
        );
        h.refuse(&format!("RSA key {kid}"), &forged, Reason::UnknownKey)
            .await;
    }
    h.finish();
}

/// `n − s`, big-endian, for `s < n` (test-side, independent of the crate's).
fn order_minus(n: &[u8], s: &[u8]) -> Vec<u8> {
    let mut out = vec![0u8; n.len()];
    let mut borrow = 0i16;
    for i in (0..n.len()).rev() {
        let d = i16::from(n[i]) - i16::from(s[i]) - borrow;
        borrow = i16::from(d < 0);
        out[i] = (d + if d < 0 { 256 } else { 0 }) as u8;
    }
    assert_eq!(borrow, 0);
    out
}

/// ECDSA is malleable: `(r, n − s)` verifies too. Both spellings are
/// accepted (IdPs emit high `s` half the time), and both yield the same
/// fingerprint, in `VerifiedClaims` and in rejections: the fingerprint of
/// the low-`s` spelling.
#[tokio::test]
async fn ecdsa_twin_spellings_share_one_fingerprint() {
    let mut h = Harness::new().await;
    let keys = [
        (Algorithm::ES256, P256_N, h.idp.add_key(Algorithm::ES256)),
        (Algorithm::ES384, P384_N, h.idp.add_key(Algorithm::ES384)),
    ];
    h.app = fingerprint_app(orders_issuer(&h.idp).await);
    for (alg, n_hex, kid) in keys {
        let n = hex(n_hex);
        let twins = |token: &str| {
            let (_, _, sig) = split(token);
            let (r, s) = sig.split_at(n.len());
            let twin = with_sig(token, &[r, &order_minus(&n, s)].concat());
            // (low-s spelling, high-s spelling)
            if s < &order_minus(&n, s)[..] {
                (token.to_owned(), twin)
            } else {
                (twin, token.to_owned())
            }
        };
        let (low, high) = twins(&h.idp.token().kid(&kid).alg(alg).sign());
        let mut seen = Vec::new();
        for (spelling, token) in [("low s", &low), ("high s", &high)] {
            let (res, took) = h.send_header(bearer(token)).await;
            h.sent.push(token.clone());
            assert_eq!(res.status(), StatusCode::OK, "{alg:?} {spelling}");
            assert!(took < MAX_WALL);
            let body = axum::body::to_bytes(res.into_body(), 1024).await.unwrap();
            seen.push(String::from_utf8(body.to_vec()).unwrap());
        }
        assert_eq!(seen[0], seen[1], "{alg:?}: twins logged as two tokens");
        assert_eq!(
            seen[0],
            oauth2_guard::Fingerprint::of(&low).to_string(),
            "{alg:?}: the canonical fingerprint is the low-s spelling's"
        );

        // Rejections carry the same canonical fingerprint.
        let wrong_aud = h.idp.token().kid(&kid).alg(alg).audience("other").sign();
        let (low, high) = twins(&wrong_aud);
        let mut seen = Vec::new();
        for token in [&low, &high] {
            let (res, _) = h.send_header(bearer(token)).await;
            h.sent.push(token.clone());
            let rejection = res.extensions().get::<Rejection>().cloned();
            h.check(
                &format!("{alg:?} wrong audience"),
                res,
                Duration::ZERO,
                Reason::WrongAudience,
            );
            seen.push(rejection.and_then(|r| r.fingerprint().copied()));
        }
        assert!(seen[0].is_some());
        assert_eq!(seen[0], seen[1], "{alg:?}: rejected twins");
    }
    h.finish();
}
