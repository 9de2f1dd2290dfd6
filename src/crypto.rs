//! Selection of the signature backend.
//!
//! `jsonwebtoken` picks a process-wide provider from its own features and
//! panics when both or neither are enabled. This crate never relies on that
//! global: it selects the backend from its own features (`aws_lc_rs` wins when
//! both are on, as with `--all-features`) and calls it directly, so enabling
//! both backends is never a runtime failure and no global state is touched.

use jsonwebtoken::crypto::CryptoProvider;
use jsonwebtoken::Algorithm;

#[cfg(not(any(feature = "aws_lc_rs", feature = "rust_crypto")))]
compile_error!("oauth2-guard needs a crypto backend: enable the `aws_lc_rs` (default) or `rust_crypto` feature");

/// The signature backend this build verifies (and, in the test kit, signs) with.
pub(crate) fn provider() -> &'static CryptoProvider {
    #[cfg(feature = "aws_lc_rs")]
    {
        &jsonwebtoken::crypto::aws_lc::DEFAULT_PROVIDER
    }
    #[cfg(all(feature = "rust_crypto", not(feature = "aws_lc_rs")))]
    {
        &jsonwebtoken::crypto::rust_crypto::DEFAULT_PROVIDER
    }
}

/// Build a compact JWS: `b64(header).b64(claims).b64(signature)`, where
/// `sign` receives the signing input. Used for client assertions and by the
/// test kit.
#[cfg(any(feature = "client", feature = "testkit"))]
pub(crate) fn encode_jws<E>(
    header: &serde_json::Value,
    claims: &serde_json::Value,
    sign: impl FnOnce(&[u8]) -> Result<Vec<u8>, E>,
) -> Result<String, E> {
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine;
    let mut out = String::new();
    URL_SAFE_NO_PAD.encode_string(header.to_string(), &mut out);
    out.push('.');
    URL_SAFE_NO_PAD.encode_string(claims.to_string(), &mut out);
    let signature = sign(out.as_bytes())?;
    out.push('.');
    URL_SAFE_NO_PAD.encode_string(signature, &mut out);
    Ok(out)
}

/// A JWKS public key prepared for verification once, when the key set is
/// loaded, instead of on every token.
///
/// With `aws_lc_rs` the key is parsed into one `ParsedPublicKey` per
/// algorithm it may verify (the RSA Montgomery context, the validated EC
/// point), so a verification is the signature arithmetic alone. With
/// `rust_crypto` it is `jsonwebtoken`'s `DecodingKey`, verified through the
/// backend as before. Either way the algorithm parameters are the ones
/// `jsonwebtoken` uses: RSA 2048–8192 bits, ECDSA in the fixed `r‖s`
/// encoding, Ed25519.
pub(crate) struct PreparedKey {
    #[cfg(feature = "aws_lc_rs")]
    parsed: Vec<(Algorithm, aws_lc_rs::signature::ParsedPublicKey)>,
    #[cfg(not(feature = "aws_lc_rs"))]
    key: jsonwebtoken::DecodingKey,
}

#[cfg(feature = "aws_lc_rs")]
fn aws_algorithm(
    alg: Algorithm,
) -> Option<&'static dyn aws_lc_rs::signature::VerificationAlgorithm> {
    use aws_lc_rs::signature as s;
    if let Some(rsa) = aws_rsa_params(alg) {
        return Some(rsa);
    }
    Some(match alg {
        Algorithm::ES256 => &s::ECDSA_P256_SHA256_FIXED,
        Algorithm::ES384 => &s::ECDSA_P384_SHA384_FIXED,
        Algorithm::EdDSA => &s::ED25519,
        _ => return None,
    })
}

#[cfg(feature = "aws_lc_rs")]
fn aws_rsa_params(alg: Algorithm) -> Option<&'static aws_lc_rs::signature::RsaParameters> {
    use aws_lc_rs::signature as s;
    Some(match alg {
        Algorithm::RS256 => &s::RSA_PKCS1_2048_8192_SHA256,
        Algorithm::RS384 => &s::RSA_PKCS1_2048_8192_SHA384,
        Algorithm::RS512 => &s::RSA_PKCS1_2048_8192_SHA512,
        Algorithm::PS256 => &s::RSA_PSS_2048_8192_SHA256,
        Algorithm::PS384 => &s::RSA_PSS_2048_8192_SHA384,
        Algorithm::PS512 => &s::RSA_PSS_2048_8192_SHA512,
        _ => return None,
    })
}

impl PreparedKey {
    /// An RSA key from its big-endian modulus and exponent, for `algs`.
    /// `None` when the components do not form a key.
    pub(crate) fn rsa(n: &[u8], e: &[u8], algs: &[Algorithm]) -> Option<Self> {
        #[cfg(feature = "aws_lc_rs")]
        {
            let components = aws_lc_rs::signature::RsaPublicKeyComponents { n, e };
            let parsed = algs
                .iter()
                .map(|&alg| {
                    Some((
                        alg,
                        components.to_parsed_public_key(aws_rsa_params(alg)?).ok()?,
                    ))
                })
                .collect::<Option<Vec<_>>>()?;
            Some(Self { parsed })
        }
        #[cfg(not(feature = "aws_lc_rs"))]
        {
            let _ = algs;
            Some(Self {
                key: jsonwebtoken::DecodingKey::from_rsa_raw_components(n, e),
            })
        }
    }

    /// An EC key from its uncompressed point (`04‖x‖y`), for `alg`
    /// (ES256 or ES384). `None` when the point is not on the curve.
    pub(crate) fn ec(point: &[u8], alg: Algorithm) -> Option<Self> {
        Self::raw(point, alg, jsonwebtoken::DecodingKey::from_ec_der)
    }

    /// An Ed25519 key from its 32 public bytes.
    pub(crate) fn ed25519(x: &[u8]) -> Option<Self> {
        Self::raw(x, Algorithm::EdDSA, jsonwebtoken::DecodingKey::from_ed_der)
    }

    fn raw(
        bytes: &[u8],
        alg: Algorithm,
        decoding: fn(&[u8]) -> jsonwebtoken::DecodingKey,
    ) -> Option<Self> {
        #[cfg(feature = "aws_lc_rs")]
        {
            let _ = decoding;
            let parsed =
                aws_lc_rs::signature::ParsedPublicKey::new(aws_algorithm(alg)?, bytes).ok()?;
            Some(Self {
                parsed: vec![(alg, parsed)],
            })
        }
        #[cfg(not(feature = "aws_lc_rs"))]
        {
            let _ = alg;
            Some(Self {
                key: decoding(bytes),
            })
        }
    }

    /// Verify `sig` over `msg` under `alg`.
    ///
    /// # Errors
    /// [`Reason::DisallowedAlg`] when this key was not prepared for `alg`,
    /// [`Reason::BadSignature`] when the signature does not verify.
    pub(crate) fn verify(
        &self,
        alg: Algorithm,
        msg: &[u8],
        sig: &[u8],
    ) -> Result<(), crate::Reason> {
        #[cfg(feature = "aws_lc_rs")]
        {
            let (_, key) = self
                .parsed
                .iter()
                .find(|(a, _)| *a == alg)
                .ok_or(crate::Reason::DisallowedAlg)?;
            key.verify_sig(msg, sig)
                .map_err(|_| crate::Reason::BadSignature)
        }
        #[cfg(not(feature = "aws_lc_rs"))]
        {
            verify_with(&self.key, alg, msg, sig)
        }
    }
}

/// Verify through `jsonwebtoken`'s backend: HMAC secrets, and every key
/// under `rust_crypto`.
pub(crate) fn verify_with(
    key: &jsonwebtoken::DecodingKey,
    alg: Algorithm,
    msg: &[u8],
    sig: &[u8],
) -> Result<(), crate::Reason> {
    let verifier =
        (provider().verifier_factory)(&alg, key).map_err(|_| crate::Reason::DisallowedAlg)?;
    verifier
        .verify(msg, &sig.to_vec())
        .map_err(|_| crate::Reason::BadSignature)
}

/// Name of the backend in use, for logs and benchmarks.
pub fn backend_name() -> &'static str {
    if cfg!(feature = "aws_lc_rs") {
        "aws-lc-rs"
    } else {
        "rust-crypto"
    }
}
