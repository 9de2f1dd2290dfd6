//! Entry points for `cargo fuzz` (feature `fuzzing`) and the property tests.
//!
//! Not part of the public API: hidden from the docs, only compiled with the
//! non-default `fuzzing` feature (and in the crate's own tests), and free to
//! change at any time. Each function drives one untrusted-input parser of the
//! request path exactly as the layer does and returns its typed outcome; none
//! may panic, whatever the input.
//!
//! ```
//! # #[cfg(feature = "fuzzing")] {
//! use oauth2_guard::__fuzz;
//! assert!(__fuzz::token(b"\x00not.a.token").is_err());
//! assert!(__fuzz::jwks(b"{\"keys\":[]}").is_err());
//! assert_eq!(__fuzz::authorization(b"Bearer abc"), Ok(Some("abc".to_owned())));
//! # }
//! ```

use std::sync::{Arc, OnceLock};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey};

use crate::error::{JwksError, Reason};
use crate::jwks::parse::KeySet;
use crate::layer::{BearerSource, RequestHead, TokenSource};
use crate::verify::validate::{self, Parsed, Profile, DEFAULT_ALGORITHMS, DEFAULT_MAX_TOKEN_BYTES};

/// The issuer name the fuzz profiles expect in `iss`.
pub const ISSUER: &str = "https://fuzz.example";
/// The audience the fuzz profiles expect in `aud`.
pub const AUDIENCE: &str = "fuzz-api";
/// The HMAC secret of the claims mode of [`token`].
const SECRET: &[u8] = b"oauth2-guard fuzzing secret, never used elsewhere";

/// The test kit's published key set (RSA, P-256, P-384, Ed25519), parsed once.
fn keys() -> &'static KeySet {
    static KEYS: OnceLock<KeySet> = OnceLock::new();
    KEYS.get_or_init(|| {
        KeySet::parse(include_bytes!("testkit/keys/jwks.json"), 1 << 20, None).unwrap_or_default()
    })
}

fn profile(hmac: bool) -> Profile {
    Profile {
        algorithms: if hmac {
            vec![Algorithm::HS256]
        } else {
            DEFAULT_ALGORITHMS.to_vec()
        },
        audience: validate::AudienceCheck::Aud(vec![AUDIENCE.to_owned()]),
        required: Vec::new(),
        roles: Vec::new(),
        leeway: 60,
        strict_typ: false,
        hmac: if hmac {
            DecodingKey::from_secret(SECRET).ok()
        } else {
            None
        },
    }
}

/// Verify `token` as the issuer does: parse, header checks, key by `kid`
/// bound to the algorithm, signature, claims.
fn verify(token: &str, hmac: bool) -> Result<(), Reason> {
    let parsed = Parsed::parse(token, DEFAULT_MAX_TOKEN_BYTES).map_err(|r| r.reason())?;
    let profile = profile(hmac);
    let alg = validate::check_header(&parsed, &profile)?;
    let key = if hmac {
        None
    } else {
        Some(
            keys()
                .find(parsed.kid(), alg)
                .cloned()
                .ok_or(Reason::UnknownKey)?,
        )
    };
    let issuer: Arc<str> = Arc::from(ISSUER);
    // As the JWT verifier does (no role mapping configured).
    match validate::verify(parsed, alg, key.as_ref(), &issuer, &profile) {
        Ok(claims) => {
            // Exercise the proof type's accessors on attacker-shaped claims.
            let _ = (
                claims.scopes().len(),
                claims.roles().len(),
                claims.subject(),
            );
            Ok(())
        }
        Err(r) => Err(r.reason()),
    }
}

/// Token parsing and validation.
///
/// The first byte picks the mode: even → the rest is a compact token,
/// verified against the test kit's public keys (the fuzzer cannot forge a
/// signature, so this covers everything up to and including signature
/// verification); odd → the rest is a JWT payload, signed here with HS256
/// and verified with the matching HMAC profile, so the claim checks
/// (`iss`, `exp`, `nbf`, `iat`, `aud`, scopes, roles) see arbitrary JSON.
///
/// # Errors
/// The [`Reason`] the layer would answer with.
pub fn token(data: &[u8]) -> Result<(), Reason> {
    let Some((mode, rest)) = data.split_first() else {
        return Err(Reason::Malformed);
    };
    if mode % 2 == 0 {
        let token = std::str::from_utf8(rest).map_err(|_| Reason::Malformed)?;
        return verify(token, false);
    }
    let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"HS256","typ":"at+jwt"}"#);
    let input = format!("{header}.{}", URL_SAFE_NO_PAD.encode(rest));
    let key = EncodingKey::from_secret(SECRET).map_err(|_| Reason::DisallowedAlg)?;
    let signer = (crate::crypto::provider().signer_factory)(&Algorithm::HS256, &key)
        .map_err(|_| Reason::DisallowedAlg)?;
    let sig = signer
        .try_sign(input.as_bytes())
        .map_err(|_| Reason::BadSignature)?;
    verify(&format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig)), true)
}

/// JWK Set parsing, then a lookup of every parsed kid under every default
/// algorithm, and a re-parse against the first set (the refresh path that
/// reuses unchanged keys).
///
/// # Errors
/// The [`JwksError`] the key store would log.
pub fn jwks(data: &[u8]) -> Result<usize, JwksError> {
    let set = KeySet::parse(data, 1 << 20, None)?;
    for kid in set.kids() {
        for alg in DEFAULT_ALGORITHMS {
            if let Some(key) = set.find(Some(kid), *alg) {
                let _ = key.allows(*alg);
            }
        }
    }
    let again = KeySet::parse(data, 1 << 20, Some(&set))?;
    Ok(again.len())
}

/// The `Authorization` header parser ([`BearerSource`], with a cookie
/// fallback named `at`): the bytes become one `Authorization` header, and
/// also one `Cookie` header.
///
/// # Errors
/// The [`Reason`] the source refuses the request with.
pub fn authorization(data: &[u8]) -> Result<Option<String>, Reason> {
    let Ok(value) = http::HeaderValue::from_bytes(data) else {
        // `http` refuses the value before any parser of this crate sees it.
        return Ok(None);
    };
    let source = BearerSource::new().with_cookie("at");
    let mut req = http::Request::new(());
    req.headers_mut()
        .insert(http::header::COOKIE, value.clone());
    let from_cookie = source
        .extract(&RequestHead::of(&req))
        .map_err(|r| r.reason())?;
    if let Some(t) = &from_cookie {
        debug_assert!(!t.is_empty());
    }
    req.headers_mut().insert(http::header::AUTHORIZATION, value);
    let from_header = source
        .extract(&RequestHead::of(&req))
        .map_err(|r| r.reason())?;
    Ok(from_header.map(|t| t.into_owned()))
}

/// DPoP proof checks (feature `dpop`), for `GET https://fuzz.example/r`
/// with a fixed access token and clock. The first byte picks the mode:
/// `0 mod 3` → the rest is a proof as sent; `1 mod 3` → the rest is the
/// proof's claims, signed here with a valid header (so `htm`, `htu`, `iat`,
/// `ath`, `jti` and the replay cache see arbitrary JSON); `2 mod 3` → the
/// rest is the proof's header, signed here with a P-256 key (so the `jwk`
/// parser and thumbprint see arbitrary JSON).
///
/// # Errors
/// The [`DpopError`](crate::dpop::DpopError) the proof is refused with.
#[cfg(feature = "dpop")]
pub fn dpop_proof(data: &[u8]) -> Result<String, crate::dpop::DpopError> {
    use crate::dpop::{DpopChecker, DpopConfig, DpopError};
    const KEY_PEM: &str = include_str!("testkit/keys/ec256-1.pem");
    const JWK: &str = r#"{"kty":"EC","crv":"P-256","x":"gq0e-Z1OGYxMR-9wAqQNBvAIkWkAIYhqDPfOR0auSyg","y":"CzjpnoKyVGnCLyHthuHWB7FI4PaGz0DNV0R7GZJQdh0"}"#;
    const TOKEN: &str = "fuzz.access.token";
    const NOW: u64 = 1_700_000_000;
    static CHECKER: OnceLock<Option<DpopChecker>> = OnceLock::new();
    let checker = CHECKER
        .get_or_init(|| {
            DpopConfig::builder("https://fuzz.example")
                .build()
                .ok()
                .map(DpopChecker::new)
        })
        .as_ref()
        .ok_or(DpopError::ProofMalformed)?;
    let Some((mode, rest)) = data.split_first() else {
        return Err(DpopError::ProofMalformed);
    };
    let sign = |header: &[u8], claims: &[u8]| -> Option<String> {
        let input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header),
            URL_SAFE_NO_PAD.encode(claims)
        );
        let key = EncodingKey::from_ec_pem(KEY_PEM.as_bytes()).ok()?;
        let signer = (crate::crypto::provider().signer_factory)(&Algorithm::ES256, &key).ok()?;
        let sig = signer.try_sign(input.as_bytes()).ok()?;
        Some(format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig)))
    };
    let proof = match mode % 3 {
        0 => std::str::from_utf8(rest)
            .map_err(|_| DpopError::ProofMalformed)?
            .to_owned(),
        1 => {
            let header = format!(r#"{{"typ":"dpop+jwt","alg":"ES256","jwk":{JWK}}}"#);
            sign(header.as_bytes(), rest).ok_or(DpopError::Signature)?
        }
        _ => {
            let ath = URL_SAFE_NO_PAD.encode(<sha2::Sha256 as sha2::Digest>::digest(TOKEN));
            let claims = serde_json::json!({
                "jti": format!("{:x?}", &rest[..rest.len().min(16)]),
                "htm": "GET", "htu": "https://fuzz.example/r", "iat": NOW, "ath": ath,
            });
            sign(rest, claims.to_string().as_bytes()).ok_or(DpopError::Signature)?
        }
    };
    let jkt = "z4FZdZvUwXzaItwKqfPSqbdUHpYAIKF8Q1Lkjjio6PQ";
    let uri = http::Uri::from_static("/r");
    checker
        .check(&proof, &http::Method::GET, &uri, TOKEN, Some(jkt), NOW)
        .map(|c| c.thumbprint().to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seed(target: &str, name: &str) -> Vec<u8> {
        let path = format!(
            "{}/fuzz/corpus/{target}/seed-{name}",
            env!("CARGO_MANIFEST_DIR")
        );
        std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    /// The committed seeds reach the success paths, so the fuzzer starts from
    /// inputs that get past every check (tokens expire in 2100).
    #[test]
    fn seeds_reach_success() {
        for name in [
            "rs256",
            "ps256",
            "es256",
            "es384",
            "eddsa",
            "claims",
            "claims-scp",
        ] {
            assert_eq!(token(&seed("token", name)), Ok(()), "token seed {name}");
        }
        assert_eq!(token(&seed("token", "none")), Err(Reason::DisallowedAlg));
        assert_eq!(token(&seed("token", "jwe")), Err(Reason::Encrypted));
        assert_eq!(jwks(&seed("jwks", "testkit")).ok(), Some(16));
        assert_eq!(jwks(&seed("jwks", "keycloak")).ok(), Some(1));
        assert!(authorization(&seed("authorization", "rs256")).is_ok_and(|t| t.is_some()));
        assert_eq!(
            authorization(&seed("authorization", "two")),
            Err(Reason::InvalidRequest)
        );
        assert_eq!(authorization(&seed("authorization", "basic")), Ok(None));
        #[cfg(feature = "dpop")]
        {
            use crate::dpop::DpopError;
            let jkt = "z4FZdZvUwXzaItwKqfPSqbdUHpYAIKF8Q1Lkjjio6PQ";
            assert_eq!(
                dpop_proof(&seed("dpop_proof", "claims")).as_deref(),
                Ok(jkt)
            );
            // The same claims again: a replay.
            assert_eq!(
                dpop_proof(&seed("dpop_proof", "claims")),
                Err(DpopError::Replay)
            );
            assert_eq!(
                dpop_proof(&seed("dpop_proof", "header")).as_deref(),
                Ok(jkt)
            );
            assert_eq!(
                dpop_proof(&seed("dpop_proof", "header-rsa")),
                Err(DpopError::Signature)
            );
            assert_eq!(
                dpop_proof(&seed("dpop_proof", "proof")),
                Err(DpopError::Signature)
            );
        }
    }
}
