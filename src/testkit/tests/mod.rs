//! Unit tests of the test kit, split by concern: `server` (discovery, the
//! JWKS endpoint, counters, outages, the server's lifetime), `tokens`
//! (`TokenBuilder`, keys, `sign_raw`) and `grant` (the token endpoint).
//! The helpers below are shared by all three.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use jsonwebtoken::{Algorithm, DecodingKey};
use serde_json::Value;

mod grant;
mod server;
mod tokens;

pub(super) fn segment(token: &str, i: usize) -> Value {
    let part = token.split('.').nth(i).expect("segment");
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).expect("base64url")).expect("json")
}

pub(super) fn decoding_key(jwk: &Value) -> DecodingKey {
    let s = |name: &str| jwk[name].as_str().expect(name);
    match s("kty") {
        "RSA" => DecodingKey::from_rsa_components(s("n"), s("e")).unwrap(),
        "EC" => DecodingKey::from_ec_components(s("x"), s("y")).unwrap(),
        "OKP" => DecodingKey::from_ed_components(s("x")).unwrap(),
        other => panic!("unexpected kty {other}"),
    }
}

/// Verifies `token`'s signature with `alg` and `key`, the way the crate does.
pub(super) fn verifies(token: &str, alg: Algorithm, key: &DecodingKey) -> bool {
    let (input, signature) = token.rsplit_once('.').expect("compact JWS");
    let Ok(signature) = URL_SAFE_NO_PAD.decode(signature) else {
        return false;
    };
    let verifier = (crate::crypto::provider().verifier_factory)(&alg, key).expect("verifier");
    verifier.verify(input.as_bytes(), &signature).is_ok()
}

/// Verifies `token` against the JWK named by its header kid in `jwks`.
pub(super) fn verifies_with_jwks(token: &str, jwks: &Value) -> bool {
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

pub(super) async fn get(url: &str) -> reqwest::Response {
    reqwest::Client::new()
        .get(url)
        .send()
        .await
        .expect("request")
}

pub(super) fn kids(jwks: &Value) -> Vec<String> {
    jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap_or("").to_owned())
        .collect()
}
