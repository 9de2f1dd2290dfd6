//! Property tests: the untrusted-input parsers never panic and always answer
//! with a typed error. Bounded to 256 cases each so the suite stays fast; the
//! unbounded search is `cargo fuzz` (see `fuzz/` and `docs/security.md`).

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use proptest::prelude::*;

use crate::__fuzz;
use crate::verify::validate::{Parsed, DEFAULT_MAX_TOKEN_BYTES};

/// A JSON-ish string: braces, quotes and the member names the parsers read.
fn jsonish() -> impl Strategy<Value = String> {
    proptest::collection::vec(
        prop_oneof![
            Just("{".to_owned()),
            Just("}".to_owned()),
            Just("[".to_owned()),
            Just("]".to_owned()),
            Just(",".to_owned()),
            Just(":".to_owned()),
            Just("\"alg\"".to_owned()),
            Just("\"RS256\"".to_owned()),
            Just("\"kid\"".to_owned()),
            Just("\"crit\"".to_owned()),
            Just("\"exp\"".to_owned()),
            Just("\"aud\"".to_owned()),
            Just("\"iss\"".to_owned()),
            Just("null".to_owned()),
            Just("1e999".to_owned()),
            Just("-1".to_owned()),
            "[a-z0-9\"]{0,8}",
        ],
        0..24,
    )
    .prop_map(|parts| parts.concat())
}

fn segments() -> impl Strategy<Value = String> {
    (
        jsonish(),
        jsonish(),
        proptest::collection::vec(any::<u8>(), 0..300),
    )
        .prop_map(|(h, p, s)| {
            format!(
                "{}.{}.{}",
                URL_SAFE_NO_PAD.encode(h),
                URL_SAFE_NO_PAD.encode(p),
                URL_SAFE_NO_PAD.encode(s)
            )
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn token_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..2048)) {
        // Arbitrary bytes can never produce a valid signature.
        let reason = __fuzz::token(&data).unwrap_err();
        prop_assert!(!reason.code().is_empty());
    }

    #[test]
    fn token_strings_never_panic(token in "[A-Za-z0-9._~+/=-]{0,400}") {
        match Parsed::parse(&token, DEFAULT_MAX_TOKEN_BYTES) {
            Ok(parsed) => prop_assert!(parsed.kid().is_none_or(|k| k.len() < token.len())),
            Err(r) => prop_assert!(r.status().is_client_error()),
        }
        prop_assert!(__fuzz::token(&[&[0u8][..], token.as_bytes()].concat()).is_err());
    }

    #[test]
    fn structured_tokens_never_panic(token in segments()) {
        prop_assert!(__fuzz::token(&[&[0u8][..], token.as_bytes()].concat()).is_err());
    }

    #[test]
    fn arbitrary_claims_never_panic(claims in jsonish()) {
        // Claims mode: signed with HS256 here, so the claim checks run.
        // Without a matching `iss`, `aud` and `exp` nothing can pass.
        let reason = __fuzz::token(&[&[1u8][..], claims.as_bytes()].concat()).unwrap_err();
        prop_assert!(!reason.code().is_empty());
    }

    #[test]
    fn jwks_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..2048)) {
        let _ = __fuzz::jwks(&data);
    }

    #[test]
    fn jwks_shapes_never_panic(
        kty in prop_oneof![Just("RSA".to_owned()), Just("EC".to_owned()), Just("OKP".to_owned()), Just("oct".to_owned()), "[A-Z]{0,3}"],
        crv in prop_oneof![Just("P-256".to_owned()), Just("P-384".to_owned()), Just("Ed25519".to_owned()), "[A-Za-z0-9-]{0,8}"],
        alg in prop_oneof![Just("RS256".to_owned()), Just("ES256".to_owned()), Just("EdDSA".to_owned()), Just("none".to_owned()), "[A-Z0-9]{0,6}"],
        a in proptest::collection::vec(any::<u8>(), 0..600),
        b in proptest::collection::vec(any::<u8>(), 0..64),
        kid in "[ -~]{0,12}",
    ) {
        let (a, b) = (URL_SAFE_NO_PAD.encode(a), URL_SAFE_NO_PAD.encode(b));
        let doc = serde_json::json!({"keys": [
            {"kty": kty, "kid": kid, "alg": alg, "crv": crv, "n": a, "e": b, "x": a, "y": b},
            {"kty": kty, "kid": kid, "crv": crv, "x": b, "y": a},
        ]});
        let _ = __fuzz::jwks(doc.to_string().as_bytes());
    }

    #[test]
    fn authorization_values_never_panic(data in proptest::collection::vec(any::<u8>(), 0..512)) {
        let _ = __fuzz::authorization(&data);
    }

    #[test]
    fn bearer_like_values_never_panic(scheme in "(?i)bearer|basic|", sep in "[ \t,]{0,3}", token in "[ -~]{0,64}") {
        let value = format!("{scheme}{sep}{token}");
        if let Ok(Some(t)) = __fuzz::authorization(value.as_bytes()) {
            prop_assert!(!t.is_empty() && !t.contains(' '));
        }
    }
}
