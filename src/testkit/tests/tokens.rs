//! Minting tokens: `TokenBuilder`, key rotation and the key pool, and
//! `sign_raw` for attack tokens.

use std::time::Duration;

use jsonwebtoken::{Algorithm, DecodingKey};
use serde_json::{json, Value};

use super::{decoding_key, get, kids, segment, verifies, verifies_with_jwks};
use crate::testkit::{MockIssuer, MockIssuerConfig};

/// Every asymmetric algorithm: the validator's default allowlist is exactly that.
const ASYMMETRIC: &[Algorithm] = crate::verify::validate::DEFAULT_ALGORITHMS;

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
