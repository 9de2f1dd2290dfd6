//! DPoP proof maker (features `testkit` + `dpop`): client keys and RFC 9449
//! proofs, good ones and deliberately broken ones.
//!
//! ```
//! use oauth2_guard::testkit::{Algorithm, DpopKey};
//!
//! let key = DpopKey::generate(Algorithm::EdDSA);
//! let proof = key.proof("GET", "https://api.example.com/orders", Some("token"), None);
//! assert_eq!(proof.split('.').count(), 3);
//! // Bind a token to the key with `.claim("cnf", key.cnf())`.
//! assert_eq!(key.cnf()["jkt"], key.thumbprint());
//! // A proof that leaks its private key, with a stale iat:
//! let bad = key.proof_builder("GET", "https://api.example.com/orders")
//!     .private_jwk()
//!     .iat_offset(-3600)
//!     .sign();
//! # let _ = bad;
//! ```

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;
use std::time::{SystemTime, UNIX_EPOCH};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jsonwebtoken::{Algorithm, EncodingKey};
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};

use super::keys::Family;

/// Pool keys usable as DPoP client keys, by family.
const POOL: &[(&str, Family, &str)] = &[
    ("ec256-1", Family::P256, include_str!("keys/ec256-1.pem")),
    ("ec256-2", Family::P256, include_str!("keys/ec256-2.pem")),
    ("ec256-3", Family::P256, include_str!("keys/ec256-3.pem")),
    ("ec256-4", Family::P256, include_str!("keys/ec256-4.pem")),
    ("ec384-1", Family::P384, include_str!("keys/ec384-1.pem")),
    ("ec384-2", Family::P384, include_str!("keys/ec384-2.pem")),
    (
        "ed25519-1",
        Family::Ed25519,
        include_str!("keys/ed25519-1.pem"),
    ),
    (
        "ed25519-2",
        Family::Ed25519,
        include_str!("keys/ed25519-2.pem"),
    ),
    ("rsa-5", Family::Rsa, include_str!("keys/rsa-5.pem")),
    ("rsa-6", Family::Rsa, include_str!("keys/rsa-6.pem")),
];

/// A 1024-bit RSA key (test material), which proofs must never be
/// accepted with (RFC 7518 §3.3 requires 2048 bits).
const RSA_1024_PEM: &str = "-----BEGIN PRIVATE KEY-----
MIICdgIBADANBgkqhkiG9w0BAQEFAASCAmAwggJcAgEAAoGBAL7OSsG/sLW2kkdx
GSeMnEYP8jciC4/WSTkvCN+kCeQ0urTxW+bxzXqCuGDXqLueKZiWfry+0If2oght
it6CBiHNEFVZvKq+pz+4AjPdI+1J1h8uQ1F3rv+drtcgwGVtJ+9RVguGuS75QbCo
O9Cx+V6GyVoYAgqUaO4K6vWLpp9xAgMBAAECgYAz6SABkktbRK6LbUOwtNqXXSNC
yKpomZ4WRqudXJ2sToQ1Uiz0qfiDSikrf8DSOneKofcdFrTZKMpwjIzpeGp+M1Ze
dKG0jfaCvTuB/BhjoNv55p5HTS7E0bPHpXi/PZSiSJBFgUUQze3e0C2dQxLR1bM4
CrbIRk3arQ4uzaiYOQJBAOYyf2RpykLUYS2+weRZc24KSXKdHsvzPJDXfSpv/T9w
2BT64w932HivxZBMacX4wV6TB7JduJi59erlBHxB96MCQQDUMXVuPjabTzoIJjlS
UilSbR6phu2AqLHXvMUjw+t2OVjOG9bOHKNjcVC/Bn9ZWbScPKv2TKp4G0VFXrQo
EY3bAkAy7zd622GSmfWKrquuQBCnZ4VK4/Mdg4uCLPwX+MGbWPem5MB6+rSeN55K
SG4bDOiUaYoJcG1Y9cSxHc15RQtrAkEAj6IzBT7jo9nLRHzrTEgFZKAso0CMQAzw
5UIIiB80ocBL1qiNjNNh3gx0RfpV9dt9IE0Jch2PPuHm0AA9HupTBQJAQKEpzvlS
h6Qg8vJ7GPA4C0ra+62L9CHOuGpkEV9lzf8KNKG9CTX9MMLq09YYGYTAnNBcpW4U
a89CSwWB+k/LOQ==
-----END PRIVATE KEY-----
";
const RSA_1024_N: &str = "vs5Kwb-wtbaSR3EZJ4ycRg_yNyILj9ZJOS8I36QJ5DS6tPFb5vHNeoK4YNeou54pmJZ-vL7Qh_aiCG2K3oIGIc0QVVm8qr6nP7gCM90j7UnWHy5DUXeu_52u1yDAZW0n71FWC4a5LvlBsKg70LH5XobJWhgCCpRo7grq9Yumn3E";

/// Public JWKs of the pool (`kty` and key members only), by name.
fn pool_jwks() -> &'static HashMap<String, Map<String, Value>> {
    static JWKS: OnceLock<HashMap<String, Map<String, Value>>> = OnceLock::new();
    JWKS.get_or_init(|| {
        let doc: Value = serde_json::from_str(include_str!("keys/jwks.json")).unwrap_or_default();
        doc["keys"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|k| {
                let mut obj = k.as_object()?.clone();
                let name = obj.remove("kid")?.as_str()?.to_owned();
                obj.retain(|m, _| ["kty", "crv", "n", "e", "x", "y"].contains(&m.as_str()));
                Some((name, obj))
            })
            .collect()
    })
}

fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs().try_into().unwrap_or(i64::MAX))
}

/// A DPoP client key: signs proofs, knows its public JWK and thumbprint.
///
/// Keys come from the test kit's embedded pool (RSA-2048, P-256, P-384,
/// Ed25519), so "generating" one is instant. `Debug` never shows the
/// private key.
#[derive(Clone)]
pub struct DpopKey {
    name: &'static str,
    alg: Algorithm,
    pem: &'static str,
    jwk: Map<String, Value>,
}

impl std::fmt::Debug for DpopKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DpopKey")
            .field("name", &self.name)
            .field("alg", &self.alg)
            .finish_non_exhaustive()
    }
}

impl DpopKey {
    /// The next pool key able to sign `alg`, cycling through the pool
    /// (4 P-256, 2 P-384, 2 Ed25519, 2 RSA keys), so consecutive calls
    /// usually give different keys. Use [`DpopKey::from_pool`] when two
    /// keys must differ.
    ///
    /// # Panics
    /// When `alg` is symmetric or `none` (a test bug).
    pub fn generate(alg: Algorithm) -> Self {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        Self::from_pool(alg, NEXT.fetch_add(1, Ordering::Relaxed))
    }

    /// The `n`-th pool key (cycling) able to sign `alg`.
    ///
    /// # Panics
    /// When `alg` is symmetric or `none` (a test bug).
    pub fn from_pool(alg: Algorithm, n: usize) -> Self {
        let family = Family::for_alg(alg).expect("DpopKey: an asymmetric algorithm");
        let keys: Vec<_> = POOL.iter().filter(|(_, f, _)| *f == family).collect();
        let (name, _, pem) = keys[n % keys.len()];
        let jwk = pool_jwks()
            .get(*name)
            .cloned()
            .expect("DpopKey: embedded keys/jwks.json lists every pool key");
        Self {
            name,
            alg,
            pem,
            jwk,
        }
    }

    /// An RS256 key of 1024 bits, which a verifier must refuse. The
    /// backend may refuse to sign with it; the proof then carries an empty
    /// signature (the key-size check comes first anyway).
    pub fn rsa_1024() -> Self {
        let mut jwk = Map::new();
        jwk.insert("kty".into(), "RSA".into());
        jwk.insert("n".into(), RSA_1024_N.into());
        jwk.insert("e".into(), "AQAB".into());
        Self {
            name: "rsa-1024",
            alg: Algorithm::RS256,
            pem: RSA_1024_PEM,
            jwk,
        }
    }

    /// The private key, PKCS#8 PEM (test material only), e.g. for a
    /// client's `DpopSigningKey::from_pem`.
    pub fn private_key_pem(&self) -> &'static str {
        self.pem
    }

    /// The algorithm proofs are signed with.
    pub fn algorithm(&self) -> Algorithm {
        self.alg
    }

    /// The public JWK (key members only).
    pub fn public_jwk(&self) -> Value {
        Value::Object(self.jwk.clone())
    }

    /// The RFC 7638 SHA-256 thumbprint, base64url: a bound token's `cnf.jkt`.
    pub fn thumbprint(&self) -> String {
        let members: Vec<String> = ["crv", "e", "kty", "n", "x", "y"]
            .iter()
            .filter_map(|m| Some(format!("\"{m}\":{}", self.jwk.get(*m)?)))
            .collect();
        let canonical = format!("{{{}}}", members.join(","));
        URL_SAFE_NO_PAD.encode(Sha256::digest(canonical.as_bytes()))
    }

    /// `{"jkt": thumbprint}`, the `cnf` claim of a token bound to this key.
    pub fn cnf(&self) -> Value {
        json!({ "jkt": self.thumbprint() })
    }

    /// A valid proof for `method` and `url`, issued now with a random
    /// `jti`; with `ath` when `access_token` is given.
    pub fn proof(
        &self,
        method: &str,
        url: &str,
        access_token: Option<&str>,
        nonce: Option<&str>,
    ) -> String {
        let mut b = self.proof_builder(method, url);
        if let Some(t) = access_token {
            b = b.access_token(t);
        }
        if let Some(n) = nonce {
            b = b.nonce(n);
        }
        b.sign()
    }

    /// A proof to customise, valid until a knob breaks it.
    pub fn proof_builder(&self, method: &str, url: &str) -> DpopProofBuilder {
        let mut header = Map::new();
        header.insert("typ".into(), "dpop+jwt".into());
        header.insert(
            "alg".into(),
            serde_json::to_value(self.alg).unwrap_or(Value::Null),
        );
        header.insert("jwk".into(), self.public_jwk());
        let mut claims = Map::new();
        claims.insert(
            "jti".into(),
            format!("{:032x}", rand::random::<u128>()).into(),
        );
        claims.insert("htm".into(), method.into());
        claims.insert("htu".into(), url.into());
        claims.insert("iat".into(), unix_now().into());
        DpopProofBuilder {
            key: self.clone(),
            sign_alg: self.alg,
            header,
            claims,
        }
    }
}

/// A DPoP proof being built; see [`DpopKey::proof_builder`].
#[derive(Debug, Clone)]
#[must_use]
pub struct DpopProofBuilder {
    key: DpopKey,
    sign_alg: Algorithm,
    header: Map<String, Value>,
    claims: Map<String, Value>,
}

impl DpopProofBuilder {
    /// Sets `ath` = base64url(SHA-256(`token`)).
    pub fn access_token(self, token: &str) -> Self {
        let ath = URL_SAFE_NO_PAD.encode(Sha256::digest(token.as_bytes()));
        self.claim("ath", ath)
    }

    /// Sets the server `nonce`.
    pub fn nonce(self, nonce: &str) -> Self {
        self.claim("nonce", nonce)
    }

    /// Sets `iat` (Unix seconds).
    pub fn iat(self, unix: i64) -> Self {
        self.claim("iat", unix)
    }

    /// Moves `iat` by `seconds` from now (negative: in the past).
    pub fn iat_offset(self, seconds: i64) -> Self {
        self.iat(unix_now().saturating_add(seconds))
    }

    /// Sets `jti` (a fixed one, to make replays).
    pub fn jti(self, jti: &str) -> Self {
        self.claim("jti", jti)
    }

    /// Sets `typ`, or removes it with `None`.
    pub fn typ(mut self, typ: Option<&str>) -> Self {
        match typ {
            Some(t) => self.header.insert("typ".into(), t.into()),
            None => self.header.remove("typ"),
        };
        self
    }

    /// Sets the header's `alg` without changing how the proof is signed.
    pub fn header_alg(self, alg: &str) -> Self {
        self.header("alg", alg.into())
    }

    /// Signs with `alg` (and names it in the header), e.g. PS256 with an
    /// RSA key.
    pub fn sign_with(mut self, alg: Algorithm) -> Self {
        self.sign_alg = alg;
        self.header("alg", serde_json::to_value(alg).unwrap_or(Value::Null))
    }

    /// Adds private key members (`d`) to the `jwk` header.
    pub fn private_jwk(mut self) -> Self {
        if let Some(Value::Object(jwk)) = self.header.get_mut("jwk") {
            jwk.insert("d".into(), URL_SAFE_NO_PAD.encode([0x5Au8; 32]).into());
        }
        self
    }

    /// Replaces the `jwk` header (e.g. with another key's, or garbage).
    pub fn jwk(self, jwk: Value) -> Self {
        self.header("jwk", jwk)
    }

    /// Sets any header member.
    pub fn header(mut self, name: &str, value: Value) -> Self {
        self.header.insert(name.into(), value);
        self
    }

    /// Removes a header member.
    pub fn without_header(mut self, name: &str) -> Self {
        self.header.remove(name);
        self
    }

    /// Sets any claim.
    pub fn claim(mut self, name: &str, value: impl Into<Value>) -> Self {
        self.claims.insert(name.into(), value.into());
        self
    }

    /// Removes a claim.
    pub fn without_claim(mut self, name: &str) -> Self {
        self.claims.remove(name);
        self
    }

    /// The compact JWS, signed with the key (an empty signature when the
    /// backend cannot sign with it).
    pub fn sign(self) -> String {
        let alg = self.sign_alg;
        let pem = self.key.pem.as_bytes();
        let encoding = match Family::for_alg(alg) {
            Some(Family::Rsa) => EncodingKey::from_rsa_pem(pem),
            Some(Family::P256 | Family::P384) => EncodingKey::from_ec_pem(pem),
            _ => EncodingKey::from_ed_pem(pem),
        };
        let Ok(jws) = crate::crypto::encode_jws(
            &Value::Object(self.header),
            &Value::Object(self.claims),
            |input| {
                let sig = encoding
                    .ok()
                    .and_then(|k| (crate::crypto::provider().signer_factory)(&alg, &k).ok())
                    .and_then(|s| s.try_sign(input).ok());
                Ok::<_, std::convert::Infallible>(sig.unwrap_or_default())
            },
        );
        jws
    }
}
