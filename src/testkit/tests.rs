use std::time::{Duration, Instant};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use jsonwebtoken::{Algorithm, DecodingKey};
use serde_json::{json, Value};

use super::{MockIssuer, MockIssuerConfig};

/// Every asymmetric algorithm: the validator's default allowlist is exactly that.
const ASYMMETRIC: &[Algorithm] = crate::verify::validate::DEFAULT_ALGORITHMS;

fn segment(token: &str, i: usize) -> Value {
    let part = token.split('.').nth(i).expect("segment");
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).expect("base64url")).expect("json")
}

fn decoding_key(jwk: &Value) -> DecodingKey {
    let s = |name: &str| jwk[name].as_str().expect(name);
    match s("kty") {
        "RSA" => DecodingKey::from_rsa_components(s("n"), s("e")).unwrap(),
        "EC" => DecodingKey::from_ec_components(s("x"), s("y")).unwrap(),
        "OKP" => DecodingKey::from_ed_components(s("x")).unwrap(),
        other => panic!("unexpected kty {other}"),
    }
}

/// Verifies `token`'s signature with `alg` and `key`, the way the crate does.
fn verifies(token: &str, alg: Algorithm, key: &DecodingKey) -> bool {
    let (input, signature) = token.rsplit_once('.').expect("compact JWS");
    let Ok(signature) = URL_SAFE_NO_PAD.decode(signature) else {
        return false;
    };
    let verifier = (crate::crypto::provider().verifier_factory)(&alg, key).expect("verifier");
    verifier.verify(input.as_bytes(), &signature).is_ok()
}

/// Verifies `token` against the JWK named by its header kid in `jwks`.
fn verifies_with_jwks(token: &str, jwks: &Value) -> bool {
    let header = segment(token, 0);
    let alg: Algorithm = header["alg"].as_str().unwrap().parse().unwrap();
    let jwk = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["kid"] == header["kid"])
        .expect("kid published");
    assert_eq!(jwk["alg"], header["alg"], "JWK alg matches header alg");
    verifies(token, alg, &decoding_key(jwk))
}

async fn get(url: &str) -> reqwest::Response {
    reqwest::Client::new()
        .get(url)
        .send()
        .await
        .expect("request")
}

fn kids(jwks: &Value) -> Vec<String> {
    jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap_or("").to_owned())
        .collect()
}

#[tokio::test]
async fn serves_discovery_documents_and_counts_them() {
    let issuer = MockIssuer::start().await;
    assert!(issuer.issuer_url().starts_with("http://127.0.0.1:"));
    assert!(!issuer.issuer_url().ends_with('/'));
    assert_eq!(issuer.discovery_fetches(), 0);

    let response = get(&issuer.discovery_url()).await;
    assert_eq!(response.status(), 200);
    let doc: Value = response.json().await.unwrap();
    assert_eq!(doc["issuer"], issuer.issuer_url());
    assert_eq!(doc["jwks_uri"], issuer.jwks_url());
    assert_eq!(doc["token_endpoint"], issuer.token_endpoint());
    assert_eq!(
        doc["introspection_endpoint"],
        issuer.introspection_endpoint()
    );
    assert_eq!(
        doc["grant_types_supported"],
        json!(["client_credentials", "authorization_code"])
    );
    assert_eq!(issuer.discovery_fetches(), 1);
    assert_eq!(issuer.requests_to("/.well-known/openid-configuration"), 1);

    let rfc8414 = format!(
        "{}/.well-known/oauth-authorization-server",
        issuer.issuer_url()
    );
    let same: Value = get(&rfc8414).await.json().await.unwrap();
    assert_eq!(same, doc);
    assert_eq!(issuer.discovery_fetches(), 2);
    assert_eq!(issuer.jwks_fetches(), 0);
}

#[tokio::test]
async fn serves_jwks_with_cache_control_and_counts_exactly() {
    let issuer = MockIssuer::start().await;
    let response = get(&issuer.jwks_url()).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["cache-control"], "public, max-age=300");
    let jwks: Value = response.json().await.unwrap();
    assert_eq!(jwks, issuer.jwks_json());
    assert_eq!(kids(&jwks), [issuer.signing_kid()]);
    assert_eq!(issuer.signing_kid(), "rsa-1");
    let jwk = &jwks["keys"][0];
    assert_eq!(
        (
            jwk["kty"].as_str(),
            jwk["alg"].as_str(),
            jwk["use"].as_str()
        ),
        (Some("RSA"), Some("RS256"), Some("sig"))
    );
    assert_eq!(issuer.jwks_fetches(), 1);

    issuer.set_cache_control(None);
    assert!(get(&issuer.jwks_url())
        .await
        .headers()
        .get("cache-control")
        .is_none());
    issuer.set_cache_control(Some("no-store"));
    assert_eq!(
        get(&issuer.jwks_url()).await.headers()["cache-control"],
        "no-store"
    );
    assert_eq!(issuer.jwks_fetches(), 3);
    assert_eq!(issuer.requests_to("/jwks"), 3);
    assert_eq!(issuer.discovery_fetches(), 0);
}

#[tokio::test]
async fn default_claims_and_header() {
    let issuer = MockIssuer::start().await;
    let token = issuer.token().sign();
    let header = segment(&token, 0);
    assert_eq!(
        header,
        json!({ "alg": "RS256", "kid": "rsa-1", "typ": "at+jwt" })
    );
    let claims = segment(&token, 1);
    assert_eq!(claims["iss"], issuer.issuer_url());
    assert_eq!(claims["sub"], "user-1");
    assert_eq!(claims["aud"], "orders-api");
    assert_eq!(issuer.default_audience(), "orders-api");
    assert_eq!(claims["client_id"], "test-client");
    assert!(claims.get("scope").is_none());
    let iat = claims["iat"].as_i64().unwrap();
    assert_eq!(claims["exp"].as_i64().unwrap() - iat, 300);
    let other = segment(&issuer.token().sign(), 1);
    assert_ne!(claims["jti"], other["jti"], "jti is unique");
}

#[tokio::test]
async fn claim_setters() {
    let issuer = MockIssuer::start().await;
    let token = issuer
        .token()
        .subject("alice")
        .audience(json!(["orders-api", "billing"]))
        .issuer("https://evil.example")
        .scope("orders:read orders:write")
        .claim("roles", json!(["admin"]))
        .without_claim("client_id")
        .not_before(1_000)
        .issued_at(900)
        .expires_in(Duration::from_secs(60))
        .typ(None)
        .header_kid(None)
        .header("crit", json!(["exp"]))
        .sign();
    let header = segment(&token, 0);
    assert_eq!(header, json!({ "alg": "RS256", "crit": ["exp"] }));
    let claims = segment(&token, 1);
    assert_eq!(claims["sub"], "alice");
    assert_eq!(claims["aud"], json!(["orders-api", "billing"]));
    assert_eq!(claims["iss"], "https://evil.example");
    assert_eq!(claims["scope"], "orders:read orders:write");
    assert_eq!(claims["roles"], json!(["admin"]));
    assert!(claims.get("client_id").is_none());
    assert_eq!(
        (claims["nbf"].as_i64(), claims["iat"].as_i64()),
        (Some(1_000), Some(900))
    );

    let expired = segment(&issuer.token().expired().sign(), 1);
    let exp = expired["exp"].as_i64().unwrap();
    assert_eq!(exp - expired["iat"].as_i64().unwrap(), 600);
    assert!(exp < claims["exp"].as_i64().unwrap());
}

#[tokio::test]
async fn every_algorithm_verifies_against_the_served_jwks() {
    let issuer = MockIssuer::start().await;
    let tokens: Vec<(Algorithm, String)> = ASYMMETRIC
        .iter()
        .map(|&alg| (alg, issuer.token().alg(alg).sign()))
        .collect();
    let jwks: Value = get(&issuer.jwks_url()).await.json().await.unwrap();
    for (alg, token) in &tokens {
        let header = segment(token, 0);
        assert_eq!(header["alg"], json!(alg), "{alg:?}");
        assert!(verifies_with_jwks(token, &jwks), "{alg:?} token verifies");
        // A changed payload under the same signature fails.
        let mut parts: Vec<&str> = token.split('.').collect();
        let other = issuer.token().alg(*alg).sign();
        parts[1] = other.split('.').nth(1).unwrap();
        assert!(
            !verifies_with_jwks(&parts.join("."), &jwks),
            "{alg:?} tampered"
        );
    }
    // alg() with the signing key's alg reuses it; one new key per other alg.
    assert_eq!(
        tokens[0].1.split('.').next(),
        issuer.token().sign().split('.').next()
    );
    assert_eq!(kids(&jwks).len(), ASYMMETRIC.len());
    // A second alg() call for the same alg reuses the published key.
    let again = issuer.token().alg(Algorithm::ES384).sign();
    assert_eq!(segment(&again, 0)["kid"], segment(&tokens[7].1, 0)["kid"]);
    assert_eq!(
        issuer.jwks_json()["keys"].as_array().unwrap().len(),
        ASYMMETRIC.len()
    );
}

#[tokio::test]
async fn hmac_tokens_use_the_configured_secret_and_are_not_published() {
    let secret = b"0123456789abcdef0123456789abcdef";
    let issuer = MockIssuer::start_with(MockIssuerConfig::new().hmac_secret(secret)).await;
    assert_eq!(issuer.hmac_secret(), secret);
    let key = DecodingKey::from_secret(secret).unwrap();
    for alg in [Algorithm::HS256, Algorithm::HS384, Algorithm::HS512] {
        let token = issuer.token().alg(alg).sign();
        assert_eq!(segment(&token, 0)["alg"], json!(alg));
        assert!(verifies(&token, alg, &key), "{alg:?}");
    }
    assert_eq!(issuer.published_kids(), ["rsa-1"]);
    assert!(format!("{issuer:?}").contains("rsa-1"));

    let hs = MockIssuer::start_with(MockIssuerConfig::new().signing_alg(Algorithm::HS256)).await;
    assert_eq!(hs.jwks_json(), json!({ "keys": [] }));
    let key = DecodingKey::from_secret(hs.hmac_secret()).unwrap();
    assert!(verifies(&hs.token().sign(), Algorithm::HS256, &key));
}

#[tokio::test]
async fn rotation_add_use_and_remove() {
    let issuer = MockIssuer::start().await;
    let first = issuer.signing_kid();
    let second = issuer.rotate(Algorithm::RS256);
    assert_ne!(first, second);
    assert_eq!(issuer.signing_kid(), second);
    let jwks: Value = get(&issuer.jwks_url()).await.json().await.unwrap();
    assert_eq!(kids(&jwks), [first.clone(), second.clone()]);
    let token = issuer.token().sign();
    assert_eq!(segment(&token, 0)["kid"], second.as_str());
    assert!(verifies_with_jwks(&token, &jwks));

    let extra = issuer.add_key(Algorithm::ES256);
    assert_eq!(extra, "ec256-1");
    assert_eq!(issuer.signing_kid(), second, "add_key does not switch");
    issuer.use_key(&extra);
    assert_eq!(issuer.signing_kid(), extra);
    let token = issuer.token().sign();
    assert_eq!(segment(&token, 0)["alg"], "ES256");
    assert!(verifies_with_jwks(&token, &issuer.jwks_json()));

    // kid() picks a key explicitly.
    let by_kid = issuer.token().kid(&first).sign();
    assert_eq!(segment(&by_kid, 0)["kid"], first.as_str());
    assert!(verifies_with_jwks(&by_kid, &issuer.jwks_json()));

    issuer.remove_key(&first);
    assert_eq!(issuer.published_kids(), [second.clone(), extra.clone()]);
    // The removed key can still sign (a token no JWK matches).
    assert!(issuer.has_key(&first));
    let orphan = issuer.token().kid(&first).sign();
    assert_eq!(segment(&orphan, 0)["kid"], first.as_str());

    // Unknown kids: use_key is ignored, kid() only changes the header.
    issuer.use_key("nope");
    assert_eq!(issuer.signing_kid(), extra);
    let unknown = issuer.token().kid("nope").sign();
    assert_eq!(segment(&unknown, 0)["kid"], "nope");
    assert!(issuer.private_key_pem("nope").is_none());
    assert!(issuer
        .private_key_pem(&first)
        .unwrap()
        .starts_with("-----BEGIN PRIVATE KEY-----"));
    assert!(issuer
        .public_key_pem(&extra)
        .unwrap()
        .starts_with("-----BEGIN PUBLIC KEY-----"));
}

#[tokio::test]
async fn pool_exhaustion_cycles_with_unique_kids() {
    let issuer = MockIssuer::start().await;
    let mut all = vec![issuer.signing_kid()];
    for _ in 0..8 {
        all.push(issuer.rotate(Algorithm::PS256));
    }
    let mut unique = all.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), all.len());
    assert_eq!(all[6], "rsa-1-r2");
    assert_eq!(all[8], "rsa-3-r2");
    let token = issuer.token().sign();
    assert!(verifies_with_jwks(&token, &issuer.jwks_json()));
    assert_eq!(kids(&issuer.jwks_json()), all);
}

#[tokio::test]
async fn raw_jwks_are_published_verbatim() {
    let issuer = MockIssuer::start().await;
    let enc = json!({ "kid": "enc-1", "kty": "RSA", "use": "enc", "alg": "RSA-OAEP", "n": "AQAB", "e": "AQAB" });
    issuer.add_raw_jwk(enc.clone());
    let jwks: Value = get(&issuer.jwks_url()).await.json().await.unwrap();
    assert_eq!(jwks["keys"][1], enc);
    issuer.remove_key("enc-1");
    assert_eq!(issuer.published_kids(), ["rsa-1"]);
}

#[tokio::test]
async fn outage_answers_503() {
    let issuer = MockIssuer::start().await;
    issuer.set_outage(true);
    assert_eq!(get(&issuer.jwks_url()).await.status(), 503);
    assert_eq!(get(&issuer.discovery_url()).await.status(), 503);
    assert_eq!((issuer.jwks_fetches(), issuer.discovery_fetches()), (1, 1));
    issuer.set_outage(false);
    assert_eq!(get(&issuer.jwks_url()).await.status(), 200);
    assert_eq!(get(&issuer.discovery_url()).await.status(), 200);
}

#[tokio::test]
async fn jwks_delay() {
    let issuer = MockIssuer::start().await;
    issuer.set_jwks_delay(Duration::from_millis(300));
    let started = Instant::now();
    assert_eq!(get(&issuer.jwks_url()).await.status(), 200);
    assert!(started.elapsed() >= Duration::from_millis(300));
    // Counted on arrival, before the delay.
    let slow = tokio::spawn({
        let url = issuer.jwks_url();
        async move { get(&url).await.status() }
    });
    // Poll rather than sleep a fixed time: the machine may be loaded.
    let deadline = Instant::now() + Duration::from_secs(5);
    while issuer.jwks_fetches() < 2 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert_eq!(issuer.jwks_fetches(), 2);
    assert_eq!(slow.await.unwrap(), 200);
    issuer.set_jwks_delay(Duration::ZERO);
    let started = Instant::now();
    get(&issuer.jwks_url()).await;
    assert!(started.elapsed() < Duration::from_millis(300));
}

#[tokio::test]
async fn other_paths_are_counted() {
    let issuer = MockIssuer::start().await;
    let unknown = format!("{}/nowhere?x=1", issuer.issuer_url());
    assert_eq!(get(&unknown).await.status(), 404);
    assert_eq!(issuer.requests_to("/nowhere"), 1);
    assert_eq!(get(&issuer.token_endpoint()).await.status(), 405);
    let post = reqwest::Client::new()
        .post(issuer.token_endpoint())
        .send()
        .await
        .unwrap();
    assert_eq!(post.status(), 400);
    assert_eq!(issuer.requests_to("/token"), 2);
    assert_eq!(issuer.token_requests(), 2);
    assert_eq!(issuer.requests_to("/never"), 0);
}

#[tokio::test]
async fn sign_raw_attack_tokens() {
    let issuer = MockIssuer::start().await;
    let kid = issuer.signing_kid();
    let claims = json!({ "sub": "mallory" });

    // Custom header, signed with the signing key.
    let header = json!({ "alg": "RS256", "kid": kid, "jku": "https://evil.example/jwks" });
    let token = issuer.sign_raw(header.clone(), claims.clone());
    assert_eq!(segment(&token, 0), header);
    assert!(verifies_with_jwks(&token, &issuer.jwks_json()));

    // PS512 with the same RSA key (kid from header).
    let pss = issuer.sign_raw(json!({ "alg": "PS512", "kid": kid }), claims.clone());
    let jwk = issuer.jwks_json()["keys"][0].clone();
    assert!(verifies(&pss, Algorithm::PS512, &decoding_key(&jwk)));

    // alg none: empty signature.
    let none = issuer.sign_raw(json!({ "alg": "none" }), claims.clone());
    assert!(none.ends_with('.'));
    assert_eq!(segment(&none, 1), claims);

    // Mismatched key type: empty signature, no panic.
    assert!(issuer
        .sign_raw(json!({ "alg": "ES256", "kid": kid }), claims.clone())
        .ends_with('.'));

    // Algorithm confusion: HS256 keyed with the RSA public key PEM.
    let forged = issuer.sign_raw(json!({ "alg": "HS256", "kid": kid }), claims.clone());
    let pem = issuer.public_key_pem(&kid).unwrap();
    assert!(verifies(
        &forged,
        Algorithm::HS256,
        &DecodingKey::from_secret(pem.as_bytes()).unwrap()
    ));

    // Same through the builder's header override.
    let overridden = issuer.token().header("alg", json!("none")).sign();
    assert!(overridden.ends_with('.'));
}

#[tokio::test]
async fn server_stops_when_last_handle_dropped() {
    let issuer = MockIssuer::start().await;
    let url = issuer.jwks_url();
    let clone = issuer.clone();
    drop(issuer);
    assert_eq!(get(&url).await.status(), 200, "a clone keeps it alive");
    drop(clone);
    tokio::time::sleep(Duration::from_millis(50)).await;
    let result = reqwest::Client::new().get(&url).send().await;
    assert!(result.is_err(), "server stopped");
}

#[test]
fn debug_never_shows_private_material() {
    let config = MockIssuerConfig::new().hmac_secret(b"super-secret-value-for-the-test!");
    let debug = format!("{config:?}");
    assert!(!debug.contains("super-secret"));
    assert!(debug.contains("redacted"));
}

async fn token_request(
    issuer: &MockIssuer,
    build: impl FnOnce(reqwest::RequestBuilder) -> reqwest::RequestBuilder,
) -> (u16, Value, Option<String>) {
    let response = build(reqwest::Client::new().post(issuer.token_endpoint()))
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let challenge = response
        .headers()
        .get("www-authenticate")
        .map(|v| v.to_str().unwrap().to_owned());
    (status, response.json().await.unwrap(), challenge)
}

#[tokio::test]
async fn client_credentials_grant() {
    let issuer = MockIssuer::start().await;
    issuer.register_client("svc", "pw");
    issuer.set_token_lifetime(Duration::from_secs(42));

    // client_secret_basic, with a resource indicator and a scope.
    let (status, body, _) = token_request(&issuer, |r| {
        r.basic_auth("svc", Some("pw")).form(&[
            ("grant_type", "client_credentials"),
            ("scope", "a b"),
            ("resource", "billing-api"),
        ])
    })
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 42);
    assert_eq!(body["scope"], "a b");
    let token = body["access_token"].as_str().unwrap();
    assert!(verifies_with_jwks(token, &issuer.jwks_json()));
    let claims = segment(token, 1);
    assert_eq!(claims["aud"], "billing-api");
    assert_eq!(claims["sub"], "svc");
    assert_eq!(claims["client_id"], "svc");
    assert_eq!(claims["iss"], issuer.issuer_url());
    assert_eq!(
        claims["exp"].as_u64().unwrap() - claims["iat"].as_u64().unwrap(),
        42
    );
    assert_eq!(segment(token, 0)["typ"], "at+jwt");

    // client_secret_post, no resource: the default audience, no scope.
    let (status, body, _) = token_request(&issuer, |r| {
        r.form(&[
            ("grant_type", "client_credentials"),
            ("client_id", "svc"),
            ("client_secret", "pw"),
        ])
    })
    .await;
    assert_eq!(status, 200, "{body}");
    let claims = segment(body["access_token"].as_str().unwrap(), 1);
    assert_eq!(claims["aud"], issuer.default_audience());
    assert!(claims.get("scope").is_none());

    // Wrong secret: 401 invalid_client, with a Basic challenge for Basic.
    let (status, body, challenge) = token_request(&issuer, |r| {
        r.basic_auth("svc", Some("nope"))
            .form(&[("grant_type", "client_credentials")])
    })
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("invalid_client"))
    );
    assert!(challenge.unwrap().starts_with("Basic"));

    // Two authentication methods, a wrong grant, no authentication.
    let (status, body, _) = token_request(&issuer, |r| {
        r.basic_auth("svc", Some("pw")).form(&[
            ("grant_type", "client_credentials"),
            ("client_id", "svc"),
            ("client_secret", "pw"),
        ])
    })
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_request"))
    );
    let (status, body, _) = token_request(&issuer, |r| {
        r.basic_auth("svc", Some("pw"))
            .form(&[("grant_type", "password")])
    })
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("unsupported_grant_type"))
    );
    let (status, body, _) =
        token_request(&issuer, |r| r.form(&[("grant_type", "client_credentials")])).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("invalid_client"))
    );

    // Injected failures come first and are counted.
    issuer.fail_next_token_requests(2, 503);
    for _ in 0..2 {
        let (status, body, _) = token_request(&issuer, |r| {
            r.basic_auth("svc", Some("pw"))
                .form(&[("grant_type", "client_credentials")])
        })
        .await;
        assert_eq!(
            (status, body["error"].as_str()),
            (503, Some("temporarily_unavailable"))
        );
    }
    let (status, _, _) = token_request(&issuer, |r| {
        r.basic_auth("svc", Some("pw"))
            .form(&[("grant_type", "client_credentials")])
    })
    .await;
    assert_eq!(status, 200);
    assert_eq!(issuer.token_requests(), 9);

    // A rotated secret replaces the old one; an unregistered client is refused.
    issuer.register_client("svc", "pw2");
    let (status, _, _) = token_request(&issuer, |r| {
        r.basic_auth("svc", Some("pw"))
            .form(&[("grant_type", "client_credentials")])
    })
    .await;
    assert_eq!(status, 401);
    issuer.unregister_client("svc");
    let (status, _, _) = token_request(&issuer, |r| {
        r.basic_auth("svc", Some("pw2"))
            .form(&[("grant_type", "client_credentials")])
    })
    .await;
    assert_eq!(status, 401);
}

#[tokio::test]
async fn jwt_client_registered_by_jwk() {
    let issuer = MockIssuer::start().await;
    let kid = issuer.new_client_key(Algorithm::EdDSA);
    assert!(!issuer.published_kids().contains(&kid));
    assert!(!issuer.jwks_json().to_string().contains(&kid));
    // Register by JWK this time: the public key as a relying party would upload it.
    let jwk = json!({
        "kty": "OKP", "crv": "Ed25519", "kid": kid,
        "x": public_x(&issuer, &kid),
    });
    issuer.register_jwt_client("edge", jwk);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let assertion = issuer.sign_raw(
        json!({ "alg": "EdDSA", "kid": kid }),
        json!({ "iss": "edge", "sub": "edge", "aud": issuer.token_endpoint(), "iat": now, "exp": now + 30, "jti": "j1" }),
    );
    let form = |a: &str| {
        vec![
            ("grant_type".to_owned(), "client_credentials".to_owned()),
            (
                "client_assertion_type".to_owned(),
                "urn:ietf:params:oauth:client-assertion-type:jwt-bearer".to_owned(),
            ),
            ("client_assertion".to_owned(), a.to_owned()),
        ]
    };
    let (status, body, _) = token_request(&issuer, |r| r.form(&form(&assertion))).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        segment(body["access_token"].as_str().unwrap(), 1)["sub"],
        "edge"
    );
    let (status, body, _) = token_request(&issuer, |r| r.form(&form(&assertion))).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("invalid_client")),
        "replay refused"
    );
}

/// The `x` of an Ed25519 key, from its SPKI PEM (the last 32 bytes of the DER).
fn public_x(issuer: &MockIssuer, kid: &str) -> String {
    use base64::engine::general_purpose::STANDARD;
    let pem = issuer.public_key_pem(kid).unwrap();
    let b64: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    let der = STANDARD.decode(b64).unwrap();
    URL_SAFE_NO_PAD.encode(&der[der.len() - 32..])
}
