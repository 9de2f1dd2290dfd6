//! The token endpoint: the Client Credentials grant with client secrets
//! and `private_key_jwt` assertions.

use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use jsonwebtoken::Algorithm;
use serde_json::{json, Value};

use super::{segment, verifies_with_jwks};
use crate::testkit::MockIssuer;

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
