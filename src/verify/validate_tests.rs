//! Unit tests of the validation profile and the JWT checks
//! (`validate.rs`), in their own file so that `validate.rs` holds only its
//! code.

use super::*;
use serde_json::json;

fn profile() -> Profile {
    Profile {
        algorithms: DEFAULT_ALGORITHMS.to_vec(),
        audience: AudienceCheck::Aud(vec!["api".into()]),
        required: Vec::new(),
        roles: Vec::new(),
        leeway: 60,
        strict_typ: false,
        hmac: None,
    }
}

fn map(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        _ => unreachable!(),
    }
}

fn enc(v: Value) -> String {
    URL_SAFE_NO_PAD.encode(v.to_string())
}

#[test]
fn claims_checks() {
    let p = profile();
    let now = 1_000_000;
    let ok = json!({"iss": "https://idp", "aud": ["x", "api"], "exp": now + 10});
    assert!(check_claims(&map(ok), "https://idp", &p, now).is_ok());
    // A binding is the layer's to enforce (`layer::binding`); only its shape is checked here.
    for cnf in [
        json!({"jkt": "x"}),
        json!({"x5t#S256": "x"}),
        json!({"jwk": {}}),
    ] {
        let bound = json!({"iss": "https://idp", "aud": "api", "exp": now + 10, "cnf": cnf});
        assert!(check_claims(&map(bound), "https://idp", &p, now).is_ok());
    }
    let cases = [
        (
            json!({"iss": "https://idp", "aud": "api", "exp": now + 10, "cnf": ["jkt"]}),
            Reason::InvalidClaim,
        ),
        (
            json!({"iss": "https://idp/", "aud": "api", "exp": now + 10}),
            Reason::WrongIssuer,
        ),
        (json!({"aud": "api", "exp": now + 10}), Reason::WrongIssuer),
        (
            json!({"iss": "https://idp", "aud": "api", "exp": now - 61}),
            Reason::Expired,
        ),
        (
            json!({"iss": "https://idp", "aud": "api"}),
            Reason::InvalidClaim,
        ),
        (
            json!({"iss": "https://idp", "aud": "api", "exp": "99999999999"}),
            Reason::InvalidClaim,
        ),
        (
            json!({"iss": "https://idp", "aud": "api", "exp": now + 10, "nbf": now + 61}),
            Reason::NotYetValid,
        ),
        (
            json!({"iss": "https://idp", "aud": "api", "exp": now + 10, "iat": now + 61}),
            Reason::NotYetValid,
        ),
        (
            json!({"iss": "https://idp", "aud": "other", "exp": now + 10}),
            Reason::WrongAudience,
        ),
        (
            json!({"iss": "https://idp", "exp": now + 10}),
            Reason::WrongAudience,
        ),
        (
            json!({"iss": "https://idp", "aud": [1], "exp": now + 10}),
            Reason::InvalidClaim,
        ),
    ];
    for (claims, reason) in cases {
        assert_eq!(
            check_claims(&map(claims.clone()), "https://idp", &p, now),
            Err(reason),
            "{claims}"
        );
    }
    // Within leeway.
    let skew = json!({"iss": "https://idp", "aud": "api", "exp": now - 30, "nbf": now + 30});
    assert!(check_claims(&map(skew), "https://idp", &p, now).is_ok());
    // Fractional NumericDate.
    let frac = json!({"iss": "https://idp", "aud": "api", "exp": (now + 10) as f64 + 0.5});
    assert!(check_claims(&map(frac), "https://idp", &p, now).is_ok());
}

#[test]
fn claim_audience_and_required_values() {
    let p = Profile {
        audience: AudienceCheck::Claim {
            name: "client_id".into(),
            allowed: vec!["app-1".into()],
        },
        required: vec![("token_use".into(), "access".into())],
        ..profile()
    };
    let now = 1_000_000;
    let base = |extra: Value| {
        let mut m = map(json!({"iss": "https://idp", "exp": now + 10}));
        m.extend(map(extra));
        check_claims(&m, "https://idp", &p, now).map(|_| ())
    };
    assert_eq!(
        base(json!({"client_id": "app-1", "token_use": "access"})),
        Ok(())
    );
    assert_eq!(
        base(json!({"client_id": "app-2", "token_use": "access"})),
        Err(Reason::WrongAudience)
    );
    assert_eq!(
        base(json!({"token_use": "access"})),
        Err(Reason::WrongAudience)
    );
    assert_eq!(
        base(json!({"client_id": ["app-1"], "token_use": "access"})),
        Err(Reason::InvalidClaim)
    );
    assert_eq!(
        base(json!({"client_id": "app-1", "token_use": "id"})),
        Err(Reason::InvalidClaim)
    );
    assert_eq!(
        base(json!({"client_id": "app-1"})),
        Err(Reason::InvalidClaim)
    );
    // `aud` is not what is checked here: an `aud` naming the app does not help.
    assert_eq!(
        base(json!({"aud": "app-1", "token_use": "access"})),
        Err(Reason::WrongAudience)
    );
    assert!(!AudienceCheck::Aud(vec![]).is_usable());
    assert!(!AudienceCheck::Claim {
        name: "".into(),
        allowed: vec!["a".into()]
    }
    .is_usable());
}

#[test]
fn parse_shapes() {
    let h = enc(json!({"alg": "RS256", "kid": "k"}));
    let b = enc(json!({"iss": "x"}));
    let reason = |t: &str| Parsed::parse(t, 16_384).err().map(|r| r.reason());
    assert_eq!(reason(&format!("{h}.{b}.c2ln")), None);
    assert_eq!(reason(&format!("{h}.{b}")), Some(Reason::Malformed));
    // An empty signature parses; it fails verification (after the header checks).
    assert_eq!(reason(&format!("{h}.{b}.")), None);
    assert_eq!(reason("a.b.c.d.e"), Some(Reason::Encrypted));
    assert_eq!(reason(&format!("{h}.{b}.c2l=")), Some(Reason::Malformed));
    assert_eq!(
        reason(&format!("{h}.bm90IGpzb24.c2ln")),
        Some(Reason::Malformed)
    );
    assert_eq!(reason(&"a".repeat(20_000)), Some(Reason::TooLarge));
    let dup = URL_SAFE_NO_PAD.encode(r#"{"alg":"RS256","alg":"none"}"#);
    assert_eq!(reason(&format!("{dup}.{b}.c2ln")), Some(Reason::Malformed));
}

/// Both spellings of an ECDSA signature, `s` and `n − s`, give one
/// fingerprint: the low-`s` token's. Other tokens are fingerprinted as sent.
#[test]
fn ecdsa_fingerprint_is_canonical() {
    let b = enc(json!({"iss": "x"}));
    let fp = |alg: &str, sig: &[u8]| {
        let t = format!(
            "{}.{b}.{}",
            enc(json!({"alg": alg})),
            URL_SAFE_NO_PAD.encode(sig)
        );
        (Parsed::parse(&t, 16_384).unwrap().fingerprint, t)
    };
    // P-256: s = 1 and s = n − 1.
    let mut low = [0x42u8; 64];
    low[32..].copy_from_slice(&[0; 32]);
    low[63] = 1;
    let mut high = low;
    high[32..].copy_from_slice(
        &[
            0xFF, 0xFF, 0xFF, 0xFF, 0x00, 0x00, 0x00, 0x00, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
            0xFF, 0xFF, 0xBC, 0xE6, 0xFA, 0xAD, 0xA7, 0x17, 0x9E, 0x84, 0xF3, 0xB9, 0xCA, 0xC2,
            0xFC, 0x63, 0x25, 0x50,
        ][..],
    );
    let (fp_low, t_low) = fp("ES256", &low);
    let (fp_high, t_high) = fp("ES256", &high);
    assert_eq!(fp_low, fp_high);
    assert_eq!(fp_low, Fingerprint::of(&t_low));
    assert_ne!(fp_high, Fingerprint::of(&t_high));
    // The same bytes under another algorithm are not normalised.
    let (fp_rs, t_rs) = fp("RS256", &high);
    assert_eq!(fp_rs, Fingerprint::of(&t_rs));
    // Refused before the payload is read: the same canonical value.
    let bad = |sig: &[u8]| {
        let t = format!(
            "{}.bm90IGpzb24.{}",
            enc(json!({"alg": "ES256"})),
            URL_SAFE_NO_PAD.encode(sig)
        );
        Parsed::parse(&t, 16_384).err().and_then(|r| r.fingerprint)
    };
    assert!(bad(&low).is_some());
    assert_eq!(bad(&low), bad(&high));
}

#[test]
fn header_checks() {
    let p = profile();
    let check = |header: Value| {
        let t = format!("{}.{}.c2ln", enc(header), enc(json!({})));
        let parsed = Parsed::parse(&t, 16_384).unwrap();
        check_header(&parsed, &p).err()
    };
    assert_eq!(check(json!({"alg": "RS256", "typ": "at+jwt"})), None);
    assert_eq!(
        check(json!({"alg": "RS256", "typ": "application/at+JWT"})),
        None
    );
    assert_eq!(check(json!({"alg": "RS256", "typ": "JWT"})), None);
    assert_eq!(check(json!({"alg": "RS256"})), None);
    for none in ["none", "None", "NONE", "nOnE"] {
        assert_eq!(check(json!({"alg": none})), Some(Reason::DisallowedAlg));
    }
    assert_eq!(check(json!({"alg": "HS256"})), Some(Reason::DisallowedAlg));
    assert_eq!(check(json!({"alg": "rs256"})), Some(Reason::DisallowedAlg));
    assert_eq!(
        check(json!({"alg": "RS256", "crit": ["exp"]})),
        Some(Reason::UnknownCrit)
    );
    assert_eq!(
        check(json!({"alg": "RS256", "typ": "dpop+jwt"})),
        Some(Reason::BadType)
    );
    let strict = Profile {
        strict_typ: true,
        ..profile()
    };
    let t = format!(
        "{}.{}.c2ln",
        enc(json!({"alg": "RS256", "typ": "JWT"})),
        enc(json!({}))
    );
    assert_eq!(
        check_header(&Parsed::parse(&t, 16_384).unwrap(), &strict).err(),
        Some(Reason::BadType)
    );
}

#[test]
fn algorithm_config_rules() {
    assert!(Profile::validate_algorithms(DEFAULT_ALGORITHMS, false).is_ok());
    assert!(Profile::validate_algorithms(&[Algorithm::HS256], false).is_err());
    assert!(Profile::validate_algorithms(&[Algorithm::HS256], true).is_ok());
    assert!(Profile::validate_algorithms(&[Algorithm::HS256, Algorithm::RS256], true).is_err());
    assert!(Profile::validate_algorithms(&[], false).is_err());
}
