//! Tolerant-and-strict JWK Set parsing.
//!
//! Tolerant: a key this crate cannot or must not use for verification is
//! skipped with a debug event, never failing the set (Keycloak publishes an
//! RSA-OAEP `use: "enc"` key next to its signing key). Strict: every kept key
//! is bound to the algorithms its type allows (RSA → RS*/PS*, P-256 → ES256,
//! P-384 → ES384, Ed25519 → EdDSA), narrowed further by its `alg` member, and
//! kids that appear twice are dropped, since a `kid` must pick one key.

use std::collections::HashMap;
use std::sync::Arc;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jsonwebtoken::Algorithm;

use crate::crypto::PreparedKey;
use serde::Deserialize;

use crate::error::JwksError;

/// A key ready to verify: parsed once when the set is loaded.
pub(crate) struct VerifyingKey {
    pub(crate) kid: Option<Box<str>>,
    /// The algorithms this key may verify (its type's, narrowed by `alg`).
    pub(crate) algorithms: Vec<Algorithm>,
    pub(crate) key: PreparedKey,
    /// The key material, to recognise the same key across refreshes.
    material: String,
}

impl VerifyingKey {
    pub(crate) fn allows(&self, alg: Algorithm) -> bool {
        self.algorithms.contains(&alg)
    }
}

impl std::fmt::Debug for VerifyingKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VerifyingKey")
            .field("kid", &self.kid)
            .field("algorithms", &self.algorithms)
            .finish()
    }
}

/// A parsed key set. Immutable; replaced whole on refresh.
#[derive(Debug, Default)]
pub(crate) struct KeySet {
    by_kid: HashMap<Box<str>, Arc<VerifyingKey>>,
    without_kid: Vec<Arc<VerifyingKey>>,
    /// How many keys of the document were skipped.
    pub(crate) skipped: usize,
}

impl KeySet {
    /// The key for a token's `kid` and `alg`. A token without `kid` is matched
    /// only when exactly one key of the set can verify its algorithm.
    pub(crate) fn find(&self, kid: Option<&str>, alg: Algorithm) -> Option<&Arc<VerifyingKey>> {
        match kid {
            Some(kid) => self.by_kid.get(kid),
            None => {
                let mut candidates = self
                    .by_kid
                    .values()
                    .chain(self.without_kid.iter())
                    .filter(|k| k.allows(alg));
                match (candidates.next(), candidates.next()) {
                    (Some(k), None) => Some(k),
                    _ => None,
                }
            }
        }
    }

    /// Whether `key` (the very same parsed key) is still in the set.
    pub(crate) fn contains(&self, key: &Arc<VerifyingKey>) -> bool {
        match &key.kid {
            Some(kid) => self.by_kid.get(kid).is_some_and(|k| Arc::ptr_eq(k, key)),
            None => self.without_kid.iter().any(|k| Arc::ptr_eq(k, key)),
        }
    }

    /// Number of usable keys.
    pub(crate) fn len(&self) -> usize {
        self.by_kid.len() + self.without_kid.len()
    }

    /// The kids of the set, for logs.
    pub(crate) fn kids(&self) -> Vec<&str> {
        let mut v: Vec<&str> = self.by_kid.keys().map(|k| &**k).collect();
        v.sort_unstable();
        v
    }

    /// Whether the set holds no usable key.
    pub(crate) fn is_empty(&self) -> bool {
        self.by_kid.is_empty() && self.without_kid.is_empty()
    }

    /// Parse a JWKS document that must hold at least one usable key (static
    /// keys), where a set without one is a configuration problem
    /// ([`JwksError::NoUsableKeys`]).
    pub(crate) fn parse(
        json: &[u8],
        max_bytes: usize,
        previous: Option<&KeySet>,
    ) -> Result<KeySet, JwksError> {
        let set = Self::parse_published(json, max_bytes, previous)?;
        if set.is_empty() {
            return Err(JwksError::NoUsableKeys);
        }
        Ok(set)
    }

    /// Parse a JWKS document as the issuer's authoritative key set: a
    /// well-formed set with no usable key (`{"keys": []}`, or only key types
    /// this crate skips) is an empty set, not an error, so keys the issuer
    /// stopped publishing stop verifying. Only a document that is not a JWK
    /// Set, or too large, is an error.
    ///
    /// Keys identical to one in `previous` are reused, so a verified-token
    /// cache entry stays valid exactly while its key is still published.
    pub(crate) fn parse_published(
        json: &[u8],
        max_bytes: usize,
        previous: Option<&KeySet>,
    ) -> Result<KeySet, JwksError> {
        if json.len() > max_bytes {
            return Err(JwksError::TooLarge { max: max_bytes });
        }
        let doc: JwkSetDoc = serde_json::from_slice(json).map_err(|_| JwksError::NotAJwkSet)?;
        let mut set = KeySet::default();
        let mut duplicated: Vec<Box<str>> = Vec::new();
        for raw in doc.keys {
            let Ok(jwk) = serde_json::from_value::<RawJwk>(raw) else {
                set.skipped += 1;
                continue;
            };
            let kid = jwk.kid.clone();
            let Some(mut key) = build_key(jwk) else {
                tracing::debug!(
                    kid = kid.as_deref(),
                    "skipping JWK that cannot verify signatures"
                );
                set.skipped += 1;
                continue;
            };
            if let Some(prev) = previous.and_then(|p| p.reuse(&key)) {
                key = prev;
            }
            match key.kid.clone() {
                Some(kid) => {
                    if duplicated.contains(&kid) {
                        set.skipped += 1;
                    } else if set.by_kid.remove(&kid).is_some() {
                        tracing::warn!(
                            kid = &*kid,
                            "JWKS lists the same kid twice; ignoring both keys"
                        );
                        duplicated.push(kid);
                        set.skipped += 2;
                    } else {
                        set.by_kid.insert(kid, key);
                    }
                }
                None => set.without_kid.push(key),
            }
        }
        Ok(set)
    }

    fn reuse(&self, key: &VerifyingKey) -> Option<Arc<VerifyingKey>> {
        let found = match &key.kid {
            Some(kid) => self.by_kid.get(kid),
            None => self.without_kid.iter().find(|k| k.material == key.material),
        }?;
        (found.material == key.material && found.algorithms == key.algorithms)
            .then(|| found.clone())
    }
}

#[derive(Deserialize)]
struct JwkSetDoc {
    keys: Vec<serde_json::Value>,
}

#[derive(Deserialize)]
struct RawJwk {
    kty: String,
    #[serde(default)]
    kid: Option<String>,
    #[serde(rename = "use", default)]
    use_: Option<String>,
    #[serde(default)]
    key_ops: Option<Vec<String>>,
    #[serde(default)]
    alg: Option<String>,
    #[serde(default)]
    crv: Option<String>,
    #[serde(default)]
    n: Option<String>,
    #[serde(default)]
    e: Option<String>,
    #[serde(default)]
    x: Option<String>,
    #[serde(default)]
    y: Option<String>,
    /// Present only on private keys, which must never be published.
    #[serde(default)]
    d: Option<String>,
}

const RSA_ALGS: &[Algorithm] = &[
    Algorithm::RS256,
    Algorithm::RS384,
    Algorithm::RS512,
    Algorithm::PS256,
    Algorithm::PS384,
    Algorithm::PS512,
];

fn b64(s: &str) -> Option<Vec<u8>> {
    URL_SAFE_NO_PAD.decode(s.trim_end_matches('=')).ok()
}

/// An RSA public exponent fit for signatures: odd and at least 3 (as NIST
/// SP 800-89 §5.3.3 and every RSA library require), at most 64 bits.
///
/// `e = 1` makes the signature equal the padded hash, which anyone can
/// compute; an even `e` (2 is Rabin) is not an RSA permutation at all. The
/// backends check this inconsistently (aws-lc-rs parses such keys and fails
/// later, `rsa` accepts `e = 2`), so it is checked here, once, for both.
fn rsa_exponent_ok(e: &[u8]) -> bool {
    if e.len() > 8 {
        return false;
    }
    let significant = e.iter().position(|b| *b != 0).map_or(&[][..], |i| &e[i..]);
    match significant {
        [] => false,
        [.., last] if last & 1 == 0 => false,
        [only] => *only >= 3,
        _ => true,
    }
}

/// Build a verifying key from one JWK, or `None` when it must be skipped.
fn build_key(jwk: RawJwk) -> Option<Arc<VerifyingKey>> {
    if jwk.use_.as_deref().is_some_and(|u| u != "sig") {
        return None;
    }
    if let Some(ops) = &jwk.key_ops {
        if !ops.iter().any(|o| o == "verify") {
            return None;
        }
    }
    if jwk.d.is_some() {
        // A private key in a public set is a publishing mistake; never use it.
        return None;
    }
    /// The decoded key, before it is prepared for its final algorithms.
    enum Raw {
        Rsa(Vec<u8>, Vec<u8>),
        Ec(Vec<u8>, Algorithm),
        Ed(Vec<u8>),
    }
    let (type_algs, raw, material): (Vec<Algorithm>, Raw, String) = match jwk.kty.as_str() {
        "RSA" => {
            let (n, e) = (jwk.n.as_deref()?, jwk.e.as_deref()?);
            let (nb, eb) = (b64(n)?, b64(e)?);
            let n_bits = nb.iter().skip_while(|b| **b == 0).count() * 8;
            // RFC 7518 §3.3: 2048 bits or larger.
            if !(2048..=16384).contains(&n_bits) || !rsa_exponent_ok(&eb) {
                return None;
            }
            (RSA_ALGS.to_vec(), Raw::Rsa(nb, eb), format!("RSA|{n}|{e}"))
        }
        "EC" => {
            let (x, y) = (jwk.x.as_deref()?, jwk.y.as_deref()?);
            let (alg, len) = match jwk.crv.as_deref()? {
                "P-256" => (Algorithm::ES256, 32),
                "P-384" => (Algorithm::ES384, 48),
                _ => return None,
            };
            let (xb, yb) = (b64(x)?, b64(y)?);
            if xb.len() != len || yb.len() != len {
                return None;
            }
            let mut point = Vec::with_capacity(1 + 2 * len);
            point.push(0x04);
            point.extend_from_slice(&xb);
            point.extend_from_slice(&yb);
            (vec![alg], Raw::Ec(point, alg), format!("EC|{x}|{y}"))
        }
        "OKP" => {
            if jwk.crv.as_deref()? != "Ed25519" {
                return None;
            }
            let x = jwk.x.as_deref()?;
            let xb = b64(x)?;
            if xb.len() != 32 {
                return None;
            }
            (vec![Algorithm::EdDSA], Raw::Ed(xb), format!("OKP|{x}"))
        }
        // "oct" (shared secrets) never come from a JWKS: see RFC 8725 §3.1.
        _ => return None,
    };
    let algorithms = match jwk.alg.as_deref() {
        None => type_algs,
        Some(a) => {
            let alg: Algorithm = a.parse().ok()?;
            if !type_algs.contains(&alg) {
                return None;
            }
            vec![alg]
        }
    };
    // Parsed once here, for exactly the algorithms the key may verify; a key
    // the backend cannot parse (an EC point off its curve) is skipped.
    let key = match raw {
        Raw::Rsa(n, e) => PreparedKey::rsa(&n, &e, &algorithms),
        Raw::Ec(point, alg) => PreparedKey::ec(&point, alg),
        Raw::Ed(x) => PreparedKey::ed25519(&x),
    }?;
    Some(Arc::new(VerifyingKey {
        kid: jwk.kid.map(Into::into),
        algorithms,
        key,
        material,
    }))
}

#[cfg(test)]
#[path = "parse_tests.rs"]
mod tests;
