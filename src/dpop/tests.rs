//! Every check of [`DpopChecker::check`], one refusal each with its exact
//! reason, with proofs from the test kit's proof maker.

use std::time::Duration;

use http::{Method, Uri};
use serde_json::json;

use super::*;
use crate::testkit::{DpopKey, DpopProofBuilder};

const BASE: &str = "https://api.example.com";
const URL: &str = "https://api.example.com/orders/7";
const TOKEN: &str = "eyJ.the-access-token.sig";
const NOW: i64 = 1_700_000_000;

fn checker() -> DpopChecker {
    DpopChecker::new(DpopConfig::builder(BASE).build().unwrap())
}

fn es256() -> DpopKey {
    DpopKey::from_pool(Algorithm::ES256, 0)
}

fn good(key: &DpopKey) -> DpopProofBuilder {
    key.proof_builder("GET", URL).access_token(TOKEN).iat(NOW)
}

/// Check `proof` for `GET /orders/7` bound to `key`, at `NOW`.
fn check_with(c: &DpopChecker, key: &DpopKey, proof: &str) -> Result<CheckedProof, DpopError> {
    let uri: Uri = "/orders/7?x=1".parse().unwrap();
    let jkt = key.thumbprint();
    c.check(proof, &Method::GET, &uri, TOKEN, Some(&jkt), NOW as u64)
}

fn check(key: &DpopKey, proof: &str) -> Result<CheckedProof, DpopError> {
    check_with(&checker(), key, proof)
}

#[test]
fn valid_proofs_of_every_key_type() {
    for (alg, n) in [
        (Algorithm::ES256, 0),
        (Algorithm::ES384, 0),
        (Algorithm::EdDSA, 0),
        (Algorithm::RS256, 0),
        (Algorithm::PS256, 1),
        (Algorithm::RS512, 1),
    ] {
        let key = DpopKey::from_pool(alg, n);
        let checked = check(&key, &good(&key).sign()).unwrap_or_else(|e| panic!("{alg:?}: {e}"));
        assert_eq!(checked.thumbprint(), key.thumbprint());
        assert_eq!(checked.algorithm(), alg);
        // The checker's thumbprint (RFC 7638) agrees with the kit's.
        let jwk = Jwk::from_json(&key.public_jwk()).unwrap();
        assert_eq!(jwk_thumbprint_sha256(&jwk), key.thumbprint());
    }
}

#[test]
fn header_refusals() {
    let key = es256();
    let refused = |b: DpopProofBuilder| check(&key, &b.sign()).unwrap_err().code();
    assert_eq!(refused(good(&key).typ(Some("jwt"))), "dpop_typ");
    assert_eq!(refused(good(&key).typ(Some("at+jwt"))), "dpop_typ");
    assert_eq!(refused(good(&key).typ(None)), "dpop_typ");
    assert!(check(&key, &good(&key).typ(Some("DPoP+JWT")).sign()).is_ok());
    for alg in ["none", "HS256", "HS512", "RSA-OAEP", "es256"] {
        assert_eq!(refused(good(&key).header_alg(alg)), "dpop_alg", "{alg}");
    }
    assert_eq!(refused(good(&key).header("alg", json!(7))), "dpop_alg");
    assert_eq!(refused(good(&key).without_header("jwk")), "dpop_jwk");
    assert_eq!(refused(good(&key).jwk(json!("x"))), "dpop_jwk");
    assert_eq!(refused(good(&key).private_jwk()), "dpop_jwk_private");
    assert_eq!(
        refused(good(&key).jwk(json!({"kty": "oct", "k": "c2VjcmV0"}))),
        "dpop_jwk_private"
    );
    // The jwk of another key type than alg (an Ed25519 key, ES256 alg).
    let ed = DpopKey::from_pool(Algorithm::EdDSA, 0);
    assert_eq!(refused(good(&key).jwk(ed.public_jwk())), "dpop_jwk");
    // A P-384 key under ES256.
    let p384 = DpopKey::from_pool(Algorithm::ES384, 0);
    assert_eq!(refused(good(&key).jwk(p384.public_jwk())), "dpop_jwk");
    assert_eq!(
        refused(good(&key).header("crit", json!(["exp"]))),
        "dpop_proof_malformed"
    );
}

#[test]
fn rsa_1024_refused() {
    let weak = DpopKey::rsa_1024();
    let proof = good(&weak).sign();
    assert_eq!(check(&weak, &proof), Err(DpopError::JwkTooSmall));
}

#[test]
fn signature_refusals() {
    let key = es256();
    let other = DpopKey::from_pool(Algorithm::ES256, 1);
    // Signed by another key than the jwk names.
    let forged = good(&other).jwk(key.public_jwk()).sign();
    assert_eq!(check(&key, &forged), Err(DpopError::Signature));
    // A claim changed after signing.
    let proof = good(&key).sign();
    let mut parts: Vec<String> = proof.split('.').map(str::to_owned).collect();
    let mut claims: serde_json::Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(&parts[1]).unwrap()).unwrap();
    claims["htm"] = json!("POST");
    parts[1] = URL_SAFE_NO_PAD.encode(claims.to_string());
    assert_eq!(check(&key, &parts.join(".")), Err(DpopError::Signature));
    // PS256 claimed, RS256 signed.
    let rsa = DpopKey::from_pool(Algorithm::RS256, 0);
    let mislabelled = good(&rsa).header_alg("PS256").sign();
    assert_eq!(check(&rsa, &mislabelled), Err(DpopError::Signature));
    assert!(check(&rsa, &good(&rsa).sign_with(Algorithm::PS256).sign()).is_ok());
}

#[test]
fn shape_and_size() {
    let key = es256();
    for bad in [
        "",
        "a.b",
        "a.b.c.d",
        "a.b.c.d.e",
        "!!.!!.!!",
        "e30.e30.",
        "e30.e30.e30",
    ] {
        let got = check(&key, bad).unwrap_err();
        assert!(
            matches!(got, DpopError::ProofMalformed | DpopError::Typ),
            "{bad}: {got:?}"
        );
    }
    let huge = good(&key).claim("pad", "x".repeat(9000)).sign();
    assert_eq!(check(&key, &huge), Err(DpopError::ProofTooLarge));
    assert_eq!(
        check(&key, &good(&key).claim("htm", 1).sign()),
        Err(DpopError::ProofMalformed)
    );
}

#[test]
fn claim_refusals() {
    let key = es256();
    let refused = |b: DpopProofBuilder| check(&key, &b.sign()).unwrap_err();
    assert_eq!(refused(good(&key).without_claim("jti")), DpopError::Jti);
    assert_eq!(refused(good(&key).jti("")), DpopError::Jti);
    assert_eq!(refused(good(&key).jti(&"j".repeat(257))), DpopError::Jti);
    assert_eq!(refused(good(&key).without_claim("htm")), DpopError::Htm);
    assert_eq!(refused(good(&key).claim("htm", "get")), DpopError::Htm);
    assert_eq!(refused(good(&key).without_claim("htu")), DpopError::Htu);
    assert_eq!(refused(good(&key).without_claim("iat")), DpopError::Iat);
    assert_eq!(refused(good(&key).without_claim("ath")), DpopError::Ath);
    assert_eq!(
        refused(good(&key).access_token("another.token.entirely")),
        DpopError::Ath
    );
    // Bound to another key, or not bound at all.
    let proof = good(&key).sign();
    let uri: Uri = "/orders/7".parse().unwrap();
    let other = DpopKey::from_pool(Algorithm::ES256, 1).thumbprint();
    let c = checker();
    let at = |jkt: Option<&str>| c.check(&proof, &Method::GET, &uri, TOKEN, jkt, NOW as u64);
    assert_eq!(at(Some(&other)), Err(DpopError::JktMismatch));
    assert_eq!(at(None), Err(DpopError::JktMismatch));
    assert!(at(Some(&key.thumbprint())).is_ok());
}

#[test]
fn another_method_or_url_refused() {
    let key = es256();
    let c = checker();
    let jkt = key.thumbprint();
    let proof = good(&key).sign();
    let run = |m: &Method, u: &str| {
        c.check(
            &proof,
            m,
            &u.parse().unwrap(),
            TOKEN,
            Some(&jkt),
            NOW as u64,
        )
    };
    assert_eq!(run(&Method::POST, "/orders/7"), Err(DpopError::Htm));
    assert_eq!(run(&Method::GET, "/orders/8"), Err(DpopError::Htu));
    assert_eq!(run(&Method::GET, "/orders/7/"), Err(DpopError::Htu));
    assert_eq!(run(&Method::GET, "/orders"), Err(DpopError::Htu));
    assert_eq!(run(&Method::GET, "/Orders/7"), Err(DpopError::Htu));
    assert_eq!(run(&Method::GET, "*"), Err(DpopError::Htu));
    assert!(run(&Method::GET, "/orders/7").is_ok());
}

#[test]
fn htu_normalisation() {
    let key = es256();
    for htu in [
        "https://api.example.com/orders/7",
        "HTTPS://API.EXAMPLE.COM/orders/7",
        "https://api.example.com:443/orders/7",
        "https://api.example.com/%6Frders/%37",
        "https://api.example.com/orders/7?page=2",
        "https://api.example.com/orders/7#top",
    ] {
        let proof = good(&key).claim("htu", htu).sign();
        assert!(check(&key, &proof).is_ok(), "{htu}");
    }
    for htu in [
        "http://api.example.com/orders/7",
        "https://api.example.com:8443/orders/7",
        "https://evil.example.com/orders/7",
        "https://api.example.com/orders/7/",
        "https://api.example.com/orders%2F7",
        "https://user@api.example.com/orders/7",
        "/orders/7",
    ] {
        let proof = good(&key).claim("htu", htu).sign();
        assert_eq!(check(&key, &proof), Err(DpopError::Htu), "{htu}");
    }
    // A base URL with a path (a proxy prefix) and a percent-encoded request path.
    let c = DpopChecker::new(
        DpopConfig::builder("https://EXAMPLE.com:443/api/")
            .build()
            .unwrap(),
    );
    let proof = key
        .proof_builder("GET", "https://example.com/api/a%2fb")
        .access_token(TOKEN)
        .iat(NOW)
        .sign();
    let uri: Uri = "/a%2Fb".parse().unwrap();
    let jkt = key.thumbprint();
    assert!(c
        .check(&proof, &Method::GET, &uri, TOKEN, Some(&jkt), NOW as u64)
        .is_ok());
}

#[test]
fn forwarded_origin_only_when_trusted() {
    let key = es256();
    let jkt = key.thumbprint();
    let proof = key
        .proof_builder("GET", "https://public.example/orders/7")
        .access_token(TOKEN)
        .iat(NOW)
        .sign();
    let absolute: Uri = "https://public.example/orders/7".parse().unwrap();
    let run = |c: &DpopChecker| {
        c.check(
            &proof,
            &Method::GET,
            &absolute,
            TOKEN,
            Some(&jkt),
            NOW as u64,
        )
    };
    assert_eq!(
        run(&checker()),
        Err(DpopError::Htu),
        "default: configured base URL only"
    );
    let trusting = DpopChecker::new(
        DpopConfig::builder(BASE)
            .with_insecure_trust_forwarded_headers()
            .build()
            .unwrap(),
    );
    assert!(run(&trusting).is_ok());
}

#[test]
fn iat_window_edges() {
    let key = es256();
    let at = |iat: i64| check(&key, &good(&key).iat(iat).sign());
    assert!(at(NOW - 60).is_ok(), "exactly 60 s old");
    assert!(at(NOW + 60).is_ok(), "exactly 60 s ahead");
    assert_eq!(at(NOW - 61), Err(DpopError::Iat));
    assert_eq!(at(NOW + 61), Err(DpopError::Iat));
    assert_eq!(
        check(&key, &good(&key).claim("iat", "1700000000").sign()),
        Err(DpopError::ProofMalformed)
    );
    // A configured window.
    let c = DpopChecker::new(
        DpopConfig::builder(BASE)
            .iat_window(Duration::from_secs(5))
            .build()
            .unwrap(),
    );
    assert!(check_with(&c, &key, &good(&key).iat(NOW - 5).sign()).is_ok());
    assert_eq!(
        check_with(&c, &key, &good(&key).iat(NOW - 6).sign()),
        Err(DpopError::Iat)
    );
}

#[test]
fn replay_refused() {
    let key = es256();
    let c = checker();
    let proof = good(&key).sign();
    assert!(check_with(&c, &key, &proof).is_ok());
    assert_eq!(check_with(&c, &key, &proof), Err(DpopError::Replay));
    // A new proof with the same jti is a replay too; another key's is not.
    let same_jti = good(&key).jti("fixed").sign();
    assert!(check_with(&c, &key, &same_jti).is_ok());
    assert_eq!(
        check_with(&c, &key, &good(&key).jti("fixed").iat(NOW - 1).sign()),
        Err(DpopError::Replay)
    );
    let other = DpopKey::from_pool(Algorithm::EdDSA, 0);
    assert!(check_with(&c, &other, &good(&other).jti("fixed").sign()).is_ok());
    // A refused proof is not recorded: fixing it later is not a replay.
    let bad_ath = good(&key).jti("j2").access_token("x").sign();
    assert_eq!(check_with(&c, &key, &bad_ath), Err(DpopError::Ath));
    assert!(check_with(&c, &key, &good(&key).jti("j2").sign()).is_ok());
}

#[test]
fn replay_bounds() {
    let key = es256();
    let other = DpopKey::from_pool(Algorithm::ES256, 1);
    let c = DpopChecker::new(
        DpopConfig::builder(BASE)
            .replay_capacity(3)
            .replay_per_key(2)
            .build()
            .unwrap(),
    );
    assert!(check_with(&c, &key, &good(&key).sign()).is_ok());
    assert!(check_with(&c, &key, &good(&key).sign()).is_ok());
    assert_eq!(
        check_with(&c, &key, &good(&key).sign()),
        Err(DpopError::ReplayKeyLimit)
    );
    assert!(check_with(&c, &other, &good(&other).sign()).is_ok());
    let third = DpopKey::from_pool(Algorithm::EdDSA, 1);
    assert_eq!(
        check_with(&c, &third, &good(&third).sign()),
        Err(DpopError::ReplayCacheFull)
    );
}

fn nonce_checker(rotation: u64) -> DpopChecker {
    DpopChecker::new(
        DpopConfig::builder(BASE)
            .require_nonce(Duration::from_secs(rotation))
            .nonce_secret(NonceSecret::from_bytes(&[42u8; 32]).unwrap())
            .build()
            .unwrap(),
    )
}

#[test]
fn nonces() {
    let key = es256();
    let c = nonce_checker(60);
    assert_eq!(checker().issue_nonce(NOW as u64), None, "off by default");
    let nonce = c.issue_nonce(NOW as u64).unwrap();
    assert_eq!(
        check_with(&c, &key, &good(&key).sign()),
        Err(DpopError::Nonce),
        "required"
    );
    assert_eq!(DpopError::Nonce.rfc_error(), Some("use_dpop_nonce"));
    assert_eq!(
        check_with(&c, &key, &good(&key).nonce("made-up").sign()),
        Err(DpopError::Nonce),
        "wrong"
    );
    let foreign = nonce_checker(60);
    let _ = foreign; // same secret: would verify; a random secret would not:
    let random = DpopChecker::new(
        DpopConfig::builder(BASE)
            .require_nonce(Duration::from_secs(60))
            .build()
            .unwrap(),
    );
    let theirs = random.issue_nonce(NOW as u64).unwrap();
    assert_eq!(
        check_with(&c, &key, &good(&key).nonce(&theirs).sign()),
        Err(DpopError::Nonce),
        "another secret"
    );
    assert!(check_with(&c, &key, &good(&key).nonce(&nonce).sign()).is_ok());
    // Rotated: a nonce from the previous slot is still accepted, one from
    // two slots ago is stale.
    let previous = c.issue_nonce(NOW as u64 - 60).unwrap();
    assert_ne!(previous, nonce);
    assert!(check_with(&c, &key, &good(&key).nonce(&previous).sign()).is_ok());
    let stale = c.issue_nonce(NOW as u64 - 120).unwrap();
    assert_eq!(
        check_with(&c, &key, &good(&key).nonce(&stale).sign()),
        Err(DpopError::Nonce),
        "stale"
    );
    // Another instance with the same secret accepts this one's nonces.
    let peer = nonce_checker(60);
    assert!(check_with(&peer, &key, &good(&key).nonce(&nonce).sign()).is_ok());
}

#[test]
fn config_errors() {
    use crate::error::ConfigError as E;
    let b = || DpopConfig::builder(BASE);
    for url in [
        "api.example.com",
        "ftp://x.example",
        "https://u:p@x.example",
        "https://x.example/?q",
        "https://x.example/#f",
    ] {
        assert!(
            matches!(DpopConfig::builder(url).build(), Err(E::InvalidUrl { .. })),
            "{url}"
        );
    }
    assert!(matches!(b().algorithms([]).build(), Err(E::NoAlgorithms)));
    assert!(matches!(
        b().algorithms([Algorithm::HS256]).build(),
        Err(E::Algorithm { .. })
    ));
    assert!(matches!(
        b().iat_window(Duration::from_secs(301)).build(),
        Err(E::LeewayTooLarge { .. })
    ));
    assert!(b().iat_window(Duration::from_secs(300)).build().is_ok());
    assert!(matches!(
        b().max_proof_bytes(100).build(),
        Err(E::OutOfRange { .. })
    ));
    assert!(matches!(
        b().replay_capacity(0).build(),
        Err(E::OutOfRange { .. })
    ));
    assert!(matches!(
        b().replay_capacity(10).replay_per_key(11).build(),
        Err(E::OutOfRange { .. })
    ));
    assert!(matches!(
        b().require_nonce(Duration::from_secs(1)).build(),
        Err(E::OutOfRange { .. })
    ));
    let c = b().algorithms([Algorithm::EdDSA]).build().unwrap();
    assert_eq!(c.algorithms(), [Algorithm::EdDSA]);
    assert!(!c.requires_nonce());
    let key = es256();
    assert_eq!(
        check_with(&DpopChecker::new(c), &key, &good(&key).sign()),
        Err(DpopError::Alg)
    );
}
