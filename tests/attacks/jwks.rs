//! Key-set attacks (issue 15): keys the IdP stopped publishing, RSA keys
//! whose exponent makes forgery easy, and ECDSA's twin signature spellings.

use super::*;

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
