//! Selection of the signature backend.
//!
//! `jsonwebtoken` picks a process-wide provider from its own features and
//! panics when both or neither are enabled. This crate never relies on that
//! global: it selects the backend from its own features (`aws_lc_rs` wins when
//! both are on, as with `--all-features`) and calls it directly, so enabling
//! both backends is never a runtime failure and no global state is touched.

use jsonwebtoken::crypto::CryptoProvider;

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

/// Name of the backend in use, for logs and benchmarks.
pub fn backend_name() -> &'static str {
    if cfg!(feature = "aws_lc_rs") {
        "aws-lc-rs"
    } else {
        "rust-crypto"
    }
}
