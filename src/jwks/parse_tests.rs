//! Unit tests of JWK Set parsing (`parse.rs`), in their own file so that
//! `parse.rs` holds only its code.

use super::*;
use serde_json::json;

// A real 2048-bit modulus is long; build one of the right size.
fn rsa_n() -> String {
    let mut n = vec![0xC3u8; 256];
    n[255] = 0x01;
    URL_SAFE_NO_PAD.encode(n)
}

/// A real public key of the test kit's pool, by curve: keys are parsed
/// (and EC points checked to be on their curve) when the set is loaded.
fn pool_key(crv: &str) -> serde_json::Value {
    let pool: serde_json::Value =
        serde_json::from_str(include_str!("../testkit/keys/jwks.json")).unwrap();
    pool["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["crv"] == crv)
        .unwrap()
        .clone()
}

fn ec_xy(len: usize) -> (String, String) {
    let k = pool_key(if len == 32 { "P-256" } else { "P-384" });
    (
        k["x"].as_str().unwrap().to_owned(),
        k["y"].as_str().unwrap().to_owned(),
    )
}

fn parse(v: serde_json::Value) -> Result<KeySet, JwksError> {
    KeySet::parse(v.to_string().as_bytes(), 1 << 20, None)
}

#[test]
fn keycloak_shape_skips_enc_key() {
    let set = parse(json!({"keys": [
        {"kid": "enc-1", "kty": "RSA", "alg": "RSA-OAEP", "use": "enc", "n": rsa_n(), "e": "AQAB"},
        {"kid": "sig-1", "kty": "RSA", "alg": "RS256", "use": "sig", "n": rsa_n(), "e": "AQAB"}
    ]}))
    .unwrap();
    assert_eq!(set.kids(), ["sig-1"]);
    assert_eq!(set.skipped, 1);
    let k = set.find(Some("sig-1"), Algorithm::RS256).unwrap();
    assert!(k.allows(Algorithm::RS256));
    assert!(!k.allows(Algorithm::PS256), "alg member binds the key");
}

#[test]
fn key_types_bind_algorithms() {
    let (x, y) = ec_xy(32);
    let (x3, y3) = ec_xy(48);
    let set = parse(json!({"keys": [
        {"kid": "rsa", "kty": "RSA", "n": rsa_n(), "e": "AQAB"},
        {"kid": "p256", "kty": "EC", "crv": "P-256", "x": x, "y": y},
        {"kid": "p384", "kty": "EC", "crv": "P-384", "x": x3, "y": y3},
        {"kid": "ed", "kty": "OKP", "crv": "Ed25519", "x": pool_key("Ed25519")["x"]},
        {"kid": "x448", "kty": "OKP", "crv": "X448", "x": "AA"},
        {"kid": "oct", "kty": "oct", "k": "c2VjcmV0"},
        {"kid": "p521", "kty": "EC", "crv": "P-521", "x": x, "y": y},
        {"kid": "verify-not-allowed", "kty": "RSA", "key_ops": ["encrypt"], "n": rsa_n(), "e": "AQAB"},
        {"kid": "priv", "kty": "RSA", "n": rsa_n(), "e": "AQAB", "d": "AAAA"},
        {"kid": "small", "kty": "RSA", "n": URL_SAFE_NO_PAD.encode([0xC3u8; 128]), "e": "AQAB"},
        {"kid": "bad-alg", "kty": "EC", "crv": "P-256", "alg": "RS256", "x": x, "y": y},
        {"kid": "short-x", "kty": "EC", "crv": "P-256", "x": x3, "y": y},
        "not an object",
        {"no": "kty"}
    ]}))
    .unwrap();
    assert_eq!(set.kids(), ["ed", "p256", "p384", "rsa"]);
    assert_eq!(set.skipped, 10);
    let rsa = set.find(Some("rsa"), Algorithm::PS512).unwrap();
    assert!(
        rsa.allows(Algorithm::PS512)
            && !rsa.allows(Algorithm::ES256)
            && !rsa.allows(Algorithm::HS256)
    );
    let p256 = set.find(Some("p256"), Algorithm::ES256).unwrap();
    assert!(p256.allows(Algorithm::ES256) && !p256.allows(Algorithm::ES384));
    assert!(set
        .find(Some("ed"), Algorithm::EdDSA)
        .unwrap()
        .allows(Algorithm::EdDSA));
}

#[test]
fn duplicate_kids_are_dropped_not_fatal() {
    let (x, y) = ec_xy(32);
    let set = parse(json!({"keys": [
        {"kid": "a", "kty": "RSA", "n": rsa_n(), "e": "AQAB"},
        {"kid": "a", "kty": "EC", "crv": "P-256", "x": x, "y": y},
        {"kid": "a", "kty": "EC", "crv": "P-256", "x": x, "y": y},
        {"kid": "b", "kty": "EC", "crv": "P-256", "x": x, "y": y}
    ]}))
    .unwrap();
    assert_eq!(set.kids(), ["b"]);
}

#[test]
fn unusable_documents() {
    assert!(matches!(
        parse(json!({"keys": []})),
        Err(JwksError::NoUsableKeys)
    ));
    assert!(matches!(parse(json!([1, 2])), Err(JwksError::NotAJwkSet)));
    // The same documents as an issuer's published set: only the shape counts.
    let published =
        |v: serde_json::Value| KeySet::parse_published(v.to_string().as_bytes(), 1 << 20, None);
    let empty = published(json!({"keys": []})).unwrap();
    assert!(empty.is_empty() && empty.skipped == 0);
    let skipped = published(json!({"keys": [{"kty": "EC", "crv": "P-521"}]})).unwrap();
    assert!(skipped.is_empty() && skipped.skipped == 1);
    assert!(matches!(
        published(json!({"keys": {}})),
        Err(JwksError::NotAJwkSet)
    ));
    assert!(matches!(published(json!([])), Err(JwksError::NotAJwkSet)));
    assert!(matches!(
        KeySet::parse(b"{\"keys\":[]}", 4, None),
        Err(JwksError::TooLarge { max: 4 })
    ));
}

/// With aws-lc-rs the point is validated when the key set is loaded: a
/// key off its curve is skipped instead of failing every token later.
#[cfg(feature = "aws_lc_rs")]
#[test]
fn ec_points_off_the_curve_are_skipped() {
    let (x, _) = ec_xy(32);
    let (_, y) = ec_xy(48);
    let y_p256 = URL_SAFE_NO_PAD.encode(&URL_SAFE_NO_PAD.decode(&y).unwrap()[..32]);
    let (gx, gy) = ec_xy(32);
    let set = parse(json!({"keys": [
        {"kid": "off", "kty": "EC", "crv": "P-256", "x": x, "y": y_p256},
        {"kid": "on", "kty": "EC", "crv": "P-256", "x": gx, "y": gy}
    ]}))
    .unwrap();
    assert_eq!(set.kids(), ["on"]);
    assert_eq!(set.skipped, 1);
}

/// RSA exponents below 3 or even are not RSA signature keys: e = 1 makes
/// the signature equal the padded hash (anyone can forge one), e = 2 is
/// Rabin, not RSA. Such keys are skipped when the set is loaded.
#[test]
fn rsa_exponents_below_three_or_even_are_skipped() {
    let rsa = |kid: &str, e: &str| json!({"kid": kid, "kty": "RSA", "n": rsa_n(), "e": e});
    let set = parse(json!({"keys": [
        rsa("e0", "AA"),
        rsa("e1", "AQ"),
        rsa("e1-padded", "AAAB"),
        rsa("e2", "Ag"),
        rsa("e4", "BA"),
        rsa("e65536", "AQAA"),
        rsa("e3", "Aw"),
        rsa("e65537", "AQAB"),
    ]}))
    .unwrap();
    assert_eq!(set.kids(), ["e3", "e65537"]);
    assert_eq!(set.skipped, 6);
}

#[test]
fn keys_without_kid_match_only_when_unambiguous() {
    let (x, y) = ec_xy(32);
    let set = parse(json!({"keys": [
        {"kty": "RSA", "n": rsa_n(), "e": "AQAB"},
        {"kty": "EC", "crv": "P-256", "x": x, "y": y}
    ]}))
    .unwrap();
    assert!(set.find(None, Algorithm::RS256).is_some());
    assert!(set.find(None, Algorithm::ES256).is_some());
    assert!(set.find(None, Algorithm::ES384).is_none());
    assert!(set.find(Some("x"), Algorithm::RS256).is_none());
}

#[test]
fn refresh_reuses_identical_keys() {
    let doc = json!({"keys": [{"kid": "a", "kty": "RSA", "n": rsa_n(), "e": "AQAB"}]}).to_string();
    let first = KeySet::parse(doc.as_bytes(), 1 << 20, None).unwrap();
    let second = KeySet::parse(doc.as_bytes(), 1 << 20, Some(&first)).unwrap();
    let k1 = first.find(Some("a"), Algorithm::RS256).unwrap();
    assert!(second.contains(k1), "an unchanged key keeps its identity");
    let other =
        json!({"keys": [{"kid": "a", "kty": "RSA", "n": rsa_n(), "e": "AwAB"}]}).to_string();
    let third = KeySet::parse(other.as_bytes(), 1 << 20, Some(&second)).unwrap();
    assert!(
        !third.contains(k1),
        "new material under an old kid is a new key"
    );
}
