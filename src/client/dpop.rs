//! [`DpopSigningKey`]: the client's DPoP key (RFC 9449, features `client` +
//! `dpop`), the proofs it signs, and the server nonces it remembers.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use http::{HeaderName, HeaderValue, Method};
use jsonwebtoken::{Algorithm, EncodingKey};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use url::Url;

use super::error::TokenError;
use crate::dpop::{jwk_thumbprint_sha256, Jwk, DEFAULT_DPOP_ALGORITHMS};
use crate::error::ConfigError;
use crate::sync::lock;

/// The `DPoP` request header (RFC 9449 §4.1).
pub(crate) const DPOP: HeaderName = HeaderName::from_static("dpop");
/// The `DPoP-Nonce` response header (RFC 9449 §8).
pub(crate) const DPOP_NONCE: HeaderName = HeaderName::from_static("dpop-nonce");

/// At most this many origins' nonces are remembered; when full, the memory
/// is cleared (a forgotten nonce costs one retry, nothing else).
const MAX_ORIGINS: usize = 256;
/// The longest server nonce remembered.
const MAX_NONCE_BYTES: usize = 512;

/// A client's DPoP key: signs one proof per request (RFC 9449 §4), and
/// remembers the `DPoP-Nonce` each origin last sent (§8, §9).
///
/// Cheap to clone; clones share the nonce memory. `Debug` shows the
/// algorithm and the public key's thumbprint, never the private key.
///
/// ```
/// use oauth2_guard::client::DpopSigningKey;
/// use oauth2_guard::testkit::Algorithm;
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let pem = oauth2_guard::testkit::DpopKey::generate(Algorithm::ES256).private_key_pem();
/// // A PKCS#8 PEM private key (P-256 here), e.g. from a mounted secret:
/// let key = DpopSigningKey::from_pem(pem.as_bytes(), Algorithm::ES256)?;
/// // The public JWK is derived from it; a bound token's cnf.jkt is this:
/// assert_eq!(key.thumbprint().len(), 43);
/// let proof = key.proof(&http::Method::GET, "https://orders.internal/orders?page=2", Some("the-token"))?;
/// assert_eq!(proof.split('.').count(), 3);
/// # Ok(()) }
/// ```
///
/// # Security
/// A DPoP-bound token is worth nothing without this key: keep it as secret
/// as a client secret, and prefer one key per service instance
/// ([`DpopSigningKey::generate`], feature `aws_lc_rs`) so no file holds it.
#[derive(Clone)]
pub struct DpopSigningKey(Arc<Inner>);

struct Inner {
    alg: Algorithm,
    encoding: EncodingKey,
    jwk: Value,
    thumbprint: String,
    /// The last `DPoP-Nonce` per origin (`scheme://host:port`).
    nonces: Mutex<HashMap<String, String>>,
}

impl fmt::Debug for DpopSigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DpopSigningKey")
            .field("alg", &self.0.alg)
            .field("thumbprint", &self.0.thumbprint)
            .finish_non_exhaustive()
    }
}

fn unusable(reason: &'static str) -> ConfigError {
    ConfigError::Credentials {
        reason,
        source: None,
    }
}

impl DpopSigningKey {
    /// A key from a PKCS#8 PEM private key: P-256 for `ES256`, P-384 for
    /// `ES384`, Ed25519 for `EdDSA`, RSA (≥ 2048 bits) for `RS*`/`PS*`.
    /// The public JWK is derived from it.
    ///
    /// # Errors
    /// [`ConfigError::Algorithm`] for `HS*` (a proof is verified with the
    /// public key it carries); [`ConfigError::Credentials`] when the PEM is
    /// not a private key of that algorithm, or the key cannot sign.
    pub fn from_pem(
        private_key_pem: impl AsRef<[u8]>,
        alg: Algorithm,
    ) -> Result<Self, ConfigError> {
        if !DEFAULT_DPOP_ALGORITHMS.contains(&alg) {
            return Err(ConfigError::Algorithm {
                alg: format!("{alg:?}"),
                reason: "DPoP proofs need an asymmetric algorithm (ES256, ES384, EdDSA, RS*, PS*)",
            });
        }
        let pem = private_key_pem.as_ref();
        let encoding = match alg {
            Algorithm::ES256 | Algorithm::ES384 => EncodingKey::from_ec_pem(pem),
            Algorithm::EdDSA => EncodingKey::from_ed_pem(pem),
            _ => EncodingKey::from_rsa_pem(pem),
        }
        .map_err(|_| unusable("the DPoP key is not a PKCS#8 PEM private key of the algorithm"))?;
        Self::from_encoding(encoding, alg)
    }

    /// A fresh P-256 key (ES256), made at start and never written anywhere
    /// (feature `aws_lc_rs`). Tokens bound to it die with the process, which
    /// is what a service instance wants.
    ///
    /// # Errors
    /// [`ConfigError::Credentials`] if the backend cannot make a key.
    #[cfg(feature = "aws_lc_rs")]
    #[cfg_attr(docsrs, doc(cfg(feature = "aws_lc_rs")))]
    pub fn generate() -> Result<Self, ConfigError> {
        use aws_lc_rs::signature::{EcdsaKeyPair, ECDSA_P256_SHA256_FIXED_SIGNING};
        let der = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING)
            .and_then(|pair| pair.to_pkcs8v1())
            .map_err(|_| unusable("the backend could not generate a P-256 key"))?;
        Self::from_encoding(EncodingKey::from_ec_der(der.as_ref()), Algorithm::ES256)
    }

    fn from_encoding(encoding: EncodingKey, alg: Algorithm) -> Result<Self, ConfigError> {
        let utils = &crate::crypto::provider().key_utils;
        let der = encoding.as_bytes();
        let b64 = |b: &[u8]| URL_SAFE_NO_PAD.encode(b);
        let jwk = match alg {
            Algorithm::ES256 | Algorithm::ES384 => {
                let (_, x, y) =
                    (utils.ec_pub_components_from_private_key)(der, alg).map_err(|_| {
                        unusable("the DPoP key is not an EC key of the algorithm's curve")
                    })?;
                let crv = if alg == Algorithm::ES256 {
                    "P-256"
                } else {
                    "P-384"
                };
                json!({ "kty": "EC", "crv": crv, "x": b64(&x), "y": b64(&y) })
            }
            Algorithm::EdDSA => {
                let x = (utils.ed_pub_components_from_private_key)(
                    der,
                    &jsonwebtoken::jwk::EllipticCurve::Ed25519,
                )
                .map_err(|_| unusable("the DPoP key is not an Ed25519 key"))?;
                json!({ "kty": "OKP", "crv": "Ed25519", "x": b64(&x) })
            }
            _ => {
                let (n, e) = (utils.rsa_pub_components_from_private_key)(der)
                    .map_err(|_| unusable("the DPoP key is not an RSA key"))?;
                json!({ "kty": "RSA", "n": b64(&n), "e": b64(&e) })
            }
        };
        // The crate's own checks: a key a DPoP verifier accepts (RSA ≥ 2048).
        let parsed = Jwk::from_json(&jwk)
            .map_err(|_| unusable("the DPoP key's public part is not usable for DPoP"))?;
        let key = DpopSigningKey(Arc::new(Inner {
            alg,
            encoding,
            thumbprint: jwk_thumbprint_sha256(&parsed),
            jwk,
            nonces: Mutex::new(HashMap::new()),
        }));
        // Fail now, not at the first request, if the key cannot sign.
        key.sign(&json!({}))
            .map_err(|_| unusable("the DPoP key cannot sign with the algorithm"))?;
        Ok(key)
    }

    /// The algorithm proofs are signed with.
    pub fn algorithm(&self) -> Algorithm {
        self.0.alg
    }

    /// The public JWK sent in each proof's header (key members only).
    pub fn public_jwk(&self) -> &Value {
        &self.0.jwk
    }

    /// The RFC 7638 SHA-256 thumbprint of the public key: the `cnf.jkt` of
    /// tokens bound to this key.
    pub fn thumbprint(&self) -> &str {
        &self.0.thumbprint
    }

    /// A proof for a request with `method` to `url` (query and fragment
    /// are left out of `htu`), with `ath` when `access_token` is given,
    /// and the nonce last received from `url`'s origin, if any; `iat` now,
    /// a random 128-bit `jti`.
    ///
    /// # Errors
    /// [`TokenError::Dpop`] when `url` is not an absolute `http(s)` URL or
    /// signing fails.
    pub fn proof(
        &self,
        method: &Method,
        url: &str,
        access_token: Option<&str>,
    ) -> Result<String, TokenError> {
        let url =
            Url::parse(url).map_err(|_| TokenError::dpop("the request URL is not absolute"))?;
        self.proof_for(method, &url, access_token)
    }

    /// [`proof`](Self::proof) for a parsed URL.
    pub(crate) fn proof_for(
        &self,
        method: &Method,
        url: &Url,
        access_token: Option<&str>,
    ) -> Result<String, TokenError> {
        if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
            return Err(TokenError::dpop("the request URL is not absolute http(s)"));
        }
        let mut htu = url.clone();
        htu.set_query(None);
        htu.set_fragment(None);
        let mut claims = json!({
            "jti": format!("{:032x}", rand::random::<u128>()),
            "htm": method.as_str(),
            "htu": htu.as_str(),
            "iat": crate::claims::now_unix(),
        });
        if let Some(map) = claims.as_object_mut() {
            if let Some(token) = access_token {
                let ath = URL_SAFE_NO_PAD.encode(Sha256::digest(token.as_bytes()));
                map.insert("ath".into(), ath.into());
            }
            if let Some(nonce) = self.nonce_for(url) {
                map.insert("nonce".into(), nonce.into());
            }
        }
        self.sign(&claims)
    }

    /// [`proof_for`](Self::proof_for) as a sensitive `DPoP` header.
    pub(crate) fn header(
        &self,
        method: &Method,
        url: &Url,
        access_token: Option<&str>,
    ) -> Result<(HeaderName, HeaderValue), TokenError> {
        let proof = self.proof_for(method, url, access_token)?;
        let mut value = HeaderValue::try_from(proof)
            .map_err(|_| TokenError::dpop("the proof cannot be sent in a header"))?;
        value.set_sensitive(true);
        Ok((DPOP, value))
    }

    fn sign(&self, claims: &Value) -> Result<String, TokenError> {
        let header = json!({ "typ": "dpop+jwt", "alg": self.0.alg, "jwk": self.0.jwk });
        let signer = (crate::crypto::provider().signer_factory)(&self.0.alg, &self.0.encoding)
            .map_err(|_| TokenError::dpop("the DPoP key cannot sign with its algorithm"))?;
        crate::crypto::encode_jws(&header, claims, |input| {
            signer
                .try_sign(input)
                .map_err(|_| TokenError::dpop("signing the DPoP proof failed"))
        })
    }

    fn nonce_for(&self, url: &Url) -> Option<String> {
        lock(&self.0.nonces)
            .get(&url.origin().ascii_serialization())
            .cloned()
    }

    /// Remember the `DPoP-Nonce` of an answer from `url`'s origin; returns
    /// whether the answer carried a usable nonce.
    pub(crate) fn remember_nonce(&self, url: &Url, headers: &http::HeaderMap) -> bool {
        let Some(nonce) = headers
            .get(DPOP_NONCE)
            .and_then(|v| v.to_str().ok())
            .filter(|n| !n.is_empty() && n.len() <= MAX_NONCE_BYTES)
        else {
            return false;
        };
        let origin = url.origin().ascii_serialization();
        let mut nonces = lock(&self.0.nonces);
        if nonces.len() >= MAX_ORIGINS && !nonces.contains_key(&origin) {
            nonces.clear();
        }
        nonces.insert(origin, nonce.to_owned());
        true
    }
}

/// Whether an answer asks for a (new) nonce: RFC 9449 §8 (token endpoint:
/// 400 `{"error":"use_dpop_nonce"}`, checked by the caller) or §9
/// (resource: 401 with `error="use_dpop_nonce"` in a `DPoP` challenge).
pub(crate) fn is_use_dpop_nonce(status: http::StatusCode, headers: &http::HeaderMap) -> bool {
    status == http::StatusCode::UNAUTHORIZED
        && headers.contains_key(DPOP_NONCE)
        && headers
            .get_all(http::header::WWW_AUTHENTICATE)
            .iter()
            .any(|v| {
                v.to_str()
                    .is_ok_and(|v| v.contains("error=\"use_dpop_nonce\""))
            })
}

#[cfg(all(test, feature = "testkit"))]
mod tests {
    use super::*;
    use crate::testkit::DpopKey;

    /// Every supported family: the derived JWK has the thumbprint the test
    /// kit computes from the known public key, and a proof verifies with
    /// the crate's checker.
    #[test]
    fn derived_jwk_matches_and_proofs_verify() {
        for alg in [
            Algorithm::ES256,
            Algorithm::ES384,
            Algorithm::EdDSA,
            Algorithm::RS256,
        ] {
            let kit = DpopKey::generate(alg);
            let key = DpopSigningKey::from_pem(kit.private_key_pem(), alg).unwrap();
            assert_eq!(key.thumbprint(), kit.thumbprint(), "{alg:?}");
            let checker = crate::dpop::DpopChecker::new(
                crate::dpop::DpopConfig::builder("https://api.example.com")
                    .build()
                    .unwrap(),
            );
            let proof = key
                .proof(
                    &Method::POST,
                    "https://api.example.com/orders?x=1#f",
                    Some("tok"),
                )
                .unwrap();
            let uri: http::Uri = "/orders?x=1".parse().unwrap();
            let now = crate::claims::now_unix();
            let checked = checker
                .check(
                    &proof,
                    &Method::POST,
                    &uri,
                    "tok",
                    Some(kit.thumbprint().as_str()),
                    now,
                )
                .unwrap();
            assert_eq!(checked.thumbprint(), key.thumbprint());
            assert!(!format!("{key:?}").contains("PRIVATE"));
        }
        assert!(matches!(
            DpopSigningKey::from_pem(
                DpopKey::generate(Algorithm::ES256).private_key_pem(),
                Algorithm::HS256
            ),
            Err(ConfigError::Algorithm { .. })
        ));
        assert!(DpopSigningKey::from_pem("not a key", Algorithm::ES256).is_err());
        // A 1024-bit RSA key is refused at construction.
        assert!(
            DpopSigningKey::from_pem(DpopKey::rsa_1024().private_key_pem(), Algorithm::RS256)
                .is_err()
        );
    }

    #[test]
    fn nonces_are_per_origin_and_bounded() {
        let key = DpopSigningKey::from_pem(
            DpopKey::generate(Algorithm::ES256).private_key_pem(),
            Algorithm::ES256,
        )
        .unwrap();
        let a = Url::parse("https://a.example/x").unwrap();
        let b = Url::parse("https://b.example/x").unwrap();
        let mut h = http::HeaderMap::new();
        h.insert(DPOP_NONCE, HeaderValue::from_static("n-a"));
        assert!(key.remember_nonce(&a, &h));
        let claims = |url: &Url| {
            let p = key.proof_for(&Method::GET, url, None).unwrap();
            let c = p.split('.').nth(1).unwrap();
            serde_json::from_slice::<Value>(&URL_SAFE_NO_PAD.decode(c).unwrap()).unwrap()
        };
        assert_eq!(claims(&a)["nonce"], "n-a");
        assert!(claims(&b).get("nonce").is_none());
        assert!(claims(&a).get("ath").is_none());
        for i in 0..=MAX_ORIGINS {
            let u = Url::parse(&format!("https://h{i}.example/")).unwrap();
            key.remember_nonce(&u, &h);
        }
        assert!(lock(&key.0.nonces).len() <= MAX_ORIGINS);
    }

    #[cfg(feature = "aws_lc_rs")]
    #[test]
    fn generated_keys_differ() {
        let a = DpopSigningKey::generate().unwrap();
        let b = DpopSigningKey::generate().unwrap();
        assert_ne!(a.thumbprint(), b.thumbprint());
        assert_eq!(a.algorithm(), Algorithm::ES256);
    }
}
