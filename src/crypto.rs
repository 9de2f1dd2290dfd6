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

/// The order `n` of the P-256 group, big-endian (SEC 2 §2.4.2).
const P256_ORDER: [u8; 32] = [
    0xFF, 0xFF, 0xFF, 0xFF, 0x00, 0x00, 0x00, 0x00, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
    0xBC, 0xE6, 0xFA, 0xAD, 0xA7, 0x17, 0x9E, 0x84, 0xF3, 0xB9, 0xCA, 0xC2, 0xFC, 0x63, 0x25, 0x51,
];

/// The order `n` of the P-384 group, big-endian (SEC 2 §2.5.1).
const P384_ORDER: [u8; 48] = [
    0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
    0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xC7, 0x63, 0x4D, 0x81, 0xF4, 0x37, 0x2D, 0xDF,
    0x58, 0x1A, 0x0D, 0xB2, 0x48, 0xB0, 0xA7, 0x7A, 0xEC, 0xEC, 0x19, 0x6A, 0xCC, 0xC5, 0x29, 0x73,
];

/// The low-`s` spelling `r‖(n − s)` of an ES256/ES384 signature `r‖s`.
///
/// ECDSA is malleable: when `(r, s)` verifies, so does `(r, n − s)`. Both
/// are accepted (IdPs emit either; refusing high `s` would refuse valid
/// tokens), so this is used only to give both spellings one fingerprint.
pub(crate) struct LowS {
    buf: [u8; 2 * P384_ORDER.len()],
    len: usize,
}

impl LowS {
    /// `r‖(n − s)`, in the fixed-size encoding of RFC 7518 §3.4.
    pub(crate) fn as_bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }

    /// `Some` when `sig` is the high-`s` spelling (`n/2 < s < n`) of an
    /// ES256 or ES384 signature of the right length; `None` for every other
    /// algorithm or length, a low `s`, and an `s` of zero or not below `n`
    /// (those never verify). Public data only: not constant-time.
    pub(crate) fn of(alg: Algorithm, sig: &[u8]) -> Option<Self> {
        let n: &[u8] = match alg {
            Algorithm::ES256 => &P256_ORDER,
            Algorithm::ES384 => &P384_ORDER,
            _ => return None,
        };
        if sig.len() != 2 * n.len() {
            return None;
        }
        let (r, s) = sig.split_at(n.len());
        let mut buf = [0u8; 2 * P384_ORDER.len()];
        let (r_out, rest) = buf.split_at_mut(n.len());
        let n_minus_s = &mut rest[..n.len()];
        r_out.copy_from_slice(r);
        // n − s, big-endian, borrow propagated from the last byte.
        let mut borrow = 0u16;
        for ((out, &n_i), &s_i) in n_minus_s.iter_mut().zip(n).zip(s).rev() {
            let d = u16::from(n_i)
                .wrapping_sub(u16::from(s_i))
                .wrapping_sub(borrow);
            *out = d.to_be_bytes()[1];
            borrow = d >> 15;
        }
        // s ≥ n (a borrow, or n − s = 0) never verifies; since n is odd,
        // s ≠ n − s, and s is high exactly when s > n − s.
        if borrow != 0 || n_minus_s.iter().all(|b| *b == 0) || s <= &*n_minus_s {
            return None;
        }
        Some(Self {
            buf,
            len: sig.len(),
        })
    }
}

/// Name of the backend in use, for logs and benchmarks.
pub fn backend_name() -> &'static str {
    if cfg!(feature = "aws_lc_rs") {
        "aws-lc-rs"
    } else {
        "rust-crypto"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn be(value: u8, len: usize) -> Vec<u8> {
        let mut v = vec![0u8; len];
        v[len - 1] = value;
        v
    }

    /// `n − s` on both curves, at the edges: low `s` is kept, high `s`
    /// becomes `n − s`, `s` = 0 or ≥ n is left alone (never verifies).
    #[test]
    fn low_s_normalisation() {
        for (alg, n) in [
            (Algorithm::ES256, &P256_ORDER[..]),
            (Algorithm::ES384, &P384_ORDER[..]),
        ] {
            let len = n.len();
            let r = vec![0x42u8; len];
            let sig = |s: &[u8]| [&r[..], s].concat();
            let low = |s: &[u8]| LowS::of(alg, &sig(s)).map(|l| l.as_bytes()[len..].to_vec());
            let mut n_minus_1 = n.to_vec();
            n_minus_1[len - 1] -= 1;
            // (n − 1) / 2 is the largest low s; n is odd.
            let mut half = vec![0u8; len];
            let mut carry = 0u8;
            for (h, b) in half.iter_mut().zip(n) {
                *h = (carry << 7) | (b >> 1);
                carry = b & 1;
            }
            let mut half_plus_1 = half.clone();
            half_plus_1[len - 1] += 1;

            assert_eq!(low(&be(1, len)), None, "{alg:?}: s = 1 is low");
            assert_eq!(low(&half), None, "{alg:?}: (n − 1)/2 is low");
            assert_eq!(low(&half_plus_1), Some(half.clone()), "{alg:?}: (n + 1)/2");
            assert_eq!(low(&n_minus_1), Some(be(1, len)), "{alg:?}: n − 1");
            assert_eq!(low(&be(0, len)), None, "{alg:?}: s = 0");
            assert_eq!(low(n), None, "{alg:?}: s = n");
            assert_eq!(low(&vec![0xFF; len]), None, "{alg:?}: s > n");
            // r is kept; normalising twice is the identity.
            let once = LowS::of(alg, &sig(&n_minus_1)).unwrap();
            assert_eq!(&once.as_bytes()[..len], &r[..]);
            assert!(LowS::of(alg, once.as_bytes()).is_none());
            // Pseudo-random s (borrows run through arbitrary bytes): a high
            // s becomes n − s, i.e. (n − s) + s = n, and the result is low.
            let mut state = 0x9E37_79B9_7F4A_7C15u64;
            for _ in 0..2000 {
                let s: Vec<u8> = (0..len)
                    .map(|_| {
                        state = state
                            .wrapping_mul(6_364_136_223_846_793_005)
                            .wrapping_add(1_442_695_040_888_963_407);
                        (state >> 56) as u8
                    })
                    .collect();
                let Some(t) = low(&s) else {
                    assert!(s[..] <= half[..] || s[..] >= n[..], "{alg:?}: {s:02x?}");
                    continue;
                };
                assert!(s[..] > half[..] && s[..] < n[..] && t[..] <= half[..]);
                let mut sum = vec![0u8; len];
                let mut carry = 0u16;
                for i in (0..len).rev() {
                    let v = u16::from(s[i]) + u16::from(t[i]) + carry;
                    sum[i] = v as u8;
                    carry = v >> 8;
                }
                assert_eq!((carry, &sum[..]), (0, n), "{alg:?}: {s:02x?}");
            }
        }
        let hex = |b: &[u8]| b.iter().map(|x| format!("{x:02X}")).collect::<String>();
        assert_eq!(
            hex(&P256_ORDER),
            "FFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551"
        );
        assert_eq!(hex(&P384_ORDER), "FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFC7634D81F4372DDF581A0DB248B0A77AECEC196ACCC52973");
        let es256 = [7u8; 64];
        assert!(LowS::of(Algorithm::ES384, &es256).is_none(), "wrong length");
        assert!(LowS::of(Algorithm::RS256, &es256).is_none(), "not ECDSA");
        assert!(LowS::of(Algorithm::ES256, &es256[..63]).is_none());
    }
}
