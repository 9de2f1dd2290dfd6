//! The proof's public key: the `jwk` header, checked to be public, of a
//! supported type and size, and its RFC 7638 thumbprint.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jsonwebtoken::Algorithm;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use super::DpopError;
use crate::crypto::PreparedKey;

/// Members only a private (or symmetric) JWK has (RFC 7518 §6.2.2, §6.3.2,
/// §6.4). A proof carrying any of them leaked its key: refused.
const PRIVATE_MEMBERS: &[&str] = &["d", "p", "q", "dp", "dq", "qi", "oth", "k"];

/// Smallest RSA modulus accepted (RFC 7518 §3.3), and the largest the
/// signature backends verify.
const RSA_MIN_BITS: usize = 2048;
const RSA_MAX_BITS: usize = 8192;

/// A public JSON Web Key of a type DPoP proofs may use: RSA (2048–8192
/// bits), EC P-256 or P-384, or Ed25519.
///
/// Only the members that define the key are kept, as sent (base64url, no
/// padding), which is what the RFC 7638 thumbprint hashes.
///
/// ```
/// use oauth2_guard::dpop::{jwk_thumbprint_sha256, Jwk};
/// let jwk = Jwk::from_json(&serde_json::json!({
///     "kty": "OKP", "crv": "Ed25519",
///     "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo",
/// })).unwrap();
/// assert_eq!(jwk_thumbprint_sha256(&jwk), "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Jwk {
    kind: Kind,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Kind {
    Rsa { n: String, e: String },
    Ec { crv: Curve, x: String, y: String },
    Ed25519 { x: String },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Curve {
    P256,
    P384,
}

impl Curve {
    const fn name(self) -> &'static str {
        match self {
            Curve::P256 => "P-256",
            Curve::P384 => "P-384",
        }
    }
}

fn b64(s: &str) -> Result<Vec<u8>, DpopError> {
    URL_SAFE_NO_PAD.decode(s).map_err(|_| DpopError::Jwk)
}

fn member<'a>(obj: &'a Map<String, Value>, name: &str) -> Result<&'a str, DpopError> {
    obj.get(name).and_then(Value::as_str).ok_or(DpopError::Jwk)
}

/// An RSA public exponent fit for signatures: odd, at least 3, at most 64
/// bits (the same rule as the JWKS parser, see `jwks::parse`).
fn rsa_exponent_ok(e: &[u8]) -> bool {
    let significant = e.iter().position(|b| *b != 0).map_or(&[][..], |i| &e[i..]);
    match significant {
        [] => false,
        s if s.len() > 8 => false,
        [.., last] if last & 1 == 0 => false,
        [only] => *only >= 3,
        _ => true,
    }
}

impl Jwk {
    /// Parse a public JWK.
    ///
    /// # Errors
    /// [`DpopError::JwkPrivate`] when it holds private members,
    /// [`DpopError::JwkTooSmall`] for an RSA modulus under 2048 bits,
    /// [`DpopError::Jwk`] when it is not an object, or not a well-formed
    /// RSA, P-256, P-384 or Ed25519 public key.
    pub fn from_json(value: &Value) -> Result<Self, DpopError> {
        let obj = value.as_object().ok_or(DpopError::Jwk)?;
        if PRIVATE_MEMBERS.iter().any(|m| obj.contains_key(*m)) {
            return Err(DpopError::JwkPrivate);
        }
        let kind = match member(obj, "kty")? {
            "RSA" => {
                let (n, e) = (member(obj, "n")?, member(obj, "e")?);
                let (nb, eb) = (b64(n)?, b64(e)?);
                // RFC 7518 §6.3.1.1: no leading zero octets.
                if nb.first() == Some(&0) || !rsa_exponent_ok(&eb) {
                    return Err(DpopError::Jwk);
                }
                let bits = nb.len() * 8 - nb.first().map_or(8, |b| b.leading_zeros() as usize);
                if bits < RSA_MIN_BITS {
                    return Err(DpopError::JwkTooSmall);
                }
                if bits > RSA_MAX_BITS {
                    return Err(DpopError::Jwk);
                }
                Kind::Rsa {
                    n: n.to_owned(),
                    e: e.to_owned(),
                }
            }
            "EC" => {
                let (crv, len) = match member(obj, "crv")? {
                    "P-256" => (Curve::P256, 32),
                    "P-384" => (Curve::P384, 48),
                    _ => return Err(DpopError::Jwk),
                };
                let (x, y) = (member(obj, "x")?, member(obj, "y")?);
                if b64(x)?.len() != len || b64(y)?.len() != len {
                    return Err(DpopError::Jwk);
                }
                Kind::Ec {
                    crv,
                    x: x.to_owned(),
                    y: y.to_owned(),
                }
            }
            "OKP" => {
                let x = member(obj, "x")?;
                if member(obj, "crv")? != "Ed25519" || b64(x)?.len() != 32 {
                    return Err(DpopError::Jwk);
                }
                Kind::Ed25519 { x: x.to_owned() }
            }
            _ => return Err(DpopError::Jwk),
        };
        Ok(Jwk { kind })
    }

    /// The key prepared to verify `alg`, which must fit its type.
    pub(crate) fn prepare(&self, alg: Algorithm) -> Result<PreparedKey, DpopError> {
        use Algorithm as A;
        let key = match (&self.kind, alg) {
            (
                Kind::Rsa { n, e },
                A::RS256 | A::RS384 | A::RS512 | A::PS256 | A::PS384 | A::PS512,
            ) => PreparedKey::rsa(&b64(n)?, &b64(e)?, &[alg]),
            (Kind::Ec { crv, x, y }, A::ES256 | A::ES384) => {
                if (*crv == Curve::P256) != (alg == A::ES256) {
                    return Err(DpopError::Jwk);
                }
                let mut point = vec![0x04];
                point.extend(b64(x)?);
                point.extend(b64(y)?);
                PreparedKey::ec(&point, alg)
            }
            (Kind::Ed25519 { x }, A::EdDSA) => PreparedKey::ed25519(&b64(x)?),
            _ => None,
        };
        key.ok_or(DpopError::Jwk)
    }

    /// The RFC 7638 §3 canonical JSON: the required members in
    /// lexicographic order, no whitespace. The values are base64url
    /// strings and fixed names, so nothing needs escaping.
    fn canonical_json(&self) -> String {
        match &self.kind {
            Kind::Rsa { n, e } => format!(r#"{{"e":"{e}","kty":"RSA","n":"{n}"}}"#),
            Kind::Ec { crv, x, y } => format!(
                r#"{{"crv":"{}","kty":"EC","x":"{x}","y":"{y}"}}"#,
                crv.name()
            ),
            Kind::Ed25519 { x } => format!(r#"{{"crv":"Ed25519","kty":"OKP","x":"{x}"}}"#),
        }
    }

    /// The raw SHA-256 thumbprint.
    pub(crate) fn thumbprint_bytes(&self) -> [u8; 32] {
        Sha256::digest(self.canonical_json().as_bytes()).into()
    }
}

/// The RFC 7638 JWK SHA-256 thumbprint of `jwk`, base64url without padding:
/// the value of a DPoP-bound token's `cnf.jkt` (RFC 9449 §6.1).
pub fn jwk_thumbprint_sha256(jwk: &Jwk) -> String {
    URL_SAFE_NO_PAD.encode(jwk.thumbprint_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// RFC 7638 §3.1: the example RSA key and its thumbprint.
    #[test]
    fn rfc7638_test_vector() {
        let jwk = json!({
            "kty": "RSA",
            "n": "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw",
            "e": "AQAB",
            "alg": "RS256",
            "kid": "2011-04-29"
        });
        let jwk = Jwk::from_json(&jwk).unwrap();
        assert_eq!(
            jwk_thumbprint_sha256(&jwk),
            "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
        );
    }

    #[test]
    fn private_and_unusable_keys() {
        let ed = |extra: (&str, Value)| {
            let mut v = json!({"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"});
            v[extra.0] = extra.1;
            Jwk::from_json(&v)
        };
        for m in PRIVATE_MEMBERS {
            assert_eq!(ed((m, json!("AAAA"))), Err(DpopError::JwkPrivate), "{m}");
        }
        assert!(
            ed(("use", json!("sig"))).is_ok(),
            "extra public members are fine"
        );
        assert_eq!(ed(("crv", json!("X25519"))), Err(DpopError::Jwk));
        assert_eq!(ed(("x", json!("AAAA"))), Err(DpopError::Jwk));
        assert_eq!(ed(("x", json!(7))), Err(DpopError::Jwk));
        assert_eq!(ed(("kty", json!("oct"))), Err(DpopError::Jwk));
        assert_eq!(Jwk::from_json(&json!("a string")), Err(DpopError::Jwk));
        // A 1024-bit modulus is refused as too small; a 2048-bit one with
        // exponent 1 or 2 as unusable.
        let n1024 = URL_SAFE_NO_PAD.encode([0xC3u8; 128]);
        let rsa = |n: &str, e: &str| Jwk::from_json(&json!({"kty":"RSA","n":n,"e":e}));
        assert_eq!(rsa(&n1024, "AQAB"), Err(DpopError::JwkTooSmall));
        let n2048 = URL_SAFE_NO_PAD.encode([0xC3u8; 256]);
        assert!(rsa(&n2048, "AQAB").is_ok());
        assert_eq!(rsa(&n2048, "AQ"), Err(DpopError::Jwk));
        assert_eq!(rsa(&n2048, "Ag"), Err(DpopError::Jwk));
        let mut n2047 = [0xFFu8; 256];
        n2047[0] = 0x7F;
        assert_eq!(
            rsa(&URL_SAFE_NO_PAD.encode(n2047), "AQAB"),
            Err(DpopError::JwkTooSmall)
        );
        // Key type must fit the algorithm.
        let ed_key = ed(("use", json!("sig"))).unwrap();
        assert!(ed_key.prepare(Algorithm::EdDSA).is_ok());
        assert!(matches!(
            ed_key.prepare(Algorithm::ES256),
            Err(DpopError::Jwk)
        ));
    }
}
