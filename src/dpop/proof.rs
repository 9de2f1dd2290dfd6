//! Parsing a proof and verifying its signature (RFC 9449 §4.3 steps 1–7).
//! Nothing in the claims is read before the signature verified.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jsonwebtoken::Algorithm;
use serde::Deserialize;
use serde_json::{Map, Value};

use super::jwk::Jwk;
use super::DpopError;

/// The longest `jti` remembered (RFC 9449 asks for at least 96 random bits;
/// 256 bytes leaves room for any encoding of them).
const MAX_JTI_BYTES: usize = 256;

#[derive(Deserialize)]
struct Header {
    #[serde(default)]
    typ: Option<Value>,
    #[serde(default)]
    alg: Option<Value>,
    #[serde(default)]
    jwk: Option<Value>,
    #[serde(default)]
    crit: Option<Value>,
}

/// The claims of a proof whose signature verified.
#[derive(Debug)]
pub(crate) struct Claims {
    pub(crate) htm: String,
    pub(crate) htu: String,
    pub(crate) iat: i64,
    pub(crate) jti: String,
    pub(crate) ath: Option<String>,
    pub(crate) nonce: Option<String>,
}

/// A proof whose header checks passed and whose signature verified.
#[derive(Debug)]
pub(crate) struct VerifiedProof {
    pub(crate) alg: Algorithm,
    pub(crate) jwk: Jwk,
    pub(crate) claims: Claims,
}

fn b64(segment: &str) -> Result<Vec<u8>, DpopError> {
    URL_SAFE_NO_PAD
        .decode(segment)
        .map_err(|_| DpopError::ProofMalformed)
}

fn string(
    claims: &Map<String, Value>,
    name: &str,
    missing: DpopError,
) -> Result<String, DpopError> {
    match claims.get(name) {
        Some(Value::String(s)) => Ok(s.clone()),
        None => Err(missing),
        Some(_) => Err(DpopError::ProofMalformed),
    }
}

fn optional_string(claims: &Map<String, Value>, name: &str) -> Result<Option<String>, DpopError> {
    match claims.get(name) {
        Some(Value::String(s)) => Ok(Some(s.clone())),
        None => Ok(None),
        Some(_) => Err(DpopError::ProofMalformed),
    }
}

/// Split, decode and check the header of `proof`, verify its signature with
/// the key it carries, and decode its claims.
pub(crate) fn verify(
    proof: &str,
    max_bytes: usize,
    allowed: &[Algorithm],
) -> Result<VerifiedProof, DpopError> {
    if proof.len() > max_bytes {
        return Err(DpopError::ProofTooLarge);
    }
    let mut parts = proof.split('.');
    let (Some(header_b64), Some(claims_b64), Some(sig_b64), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(DpopError::ProofMalformed);
    };
    let header: Header =
        serde_json::from_slice(&b64(header_b64)?).map_err(|_| DpopError::ProofMalformed)?;
    if header.crit.is_some() {
        // No extension is understood, so none may be critical (RFC 7515 §4.1.11).
        return Err(DpopError::ProofMalformed);
    }
    // RFC 7515 §4.1.9: media type names are case-insensitive.
    match &header.typ {
        Some(Value::String(t)) if t.eq_ignore_ascii_case("dpop+jwt") => {}
        _ => return Err(DpopError::Typ),
    }
    let alg = match &header.alg {
        Some(Value::String(name)) => name.parse::<Algorithm>().ok(),
        _ => None,
    }
    .filter(|a| allowed.contains(a))
    .ok_or(DpopError::Alg)?;
    let jwk = Jwk::from_json(header.jwk.as_ref().ok_or(DpopError::Jwk)?)?;
    let key = jwk.prepare(alg)?;
    let signature = b64(sig_b64)?;
    let signing_input_len = header_b64.len() + 1 + claims_b64.len();
    key.verify(alg, &proof.as_bytes()[..signing_input_len], &signature)
        .map_err(|_| DpopError::Signature)?;

    let claims: Map<String, Value> =
        serde_json::from_slice(&b64(claims_b64)?).map_err(|_| DpopError::ProofMalformed)?;
    let jti = string(&claims, "jti", DpopError::Jti)?;
    if jti.is_empty() || jti.len() > MAX_JTI_BYTES {
        return Err(DpopError::Jti);
    }
    let iat = match claims.get("iat") {
        Some(Value::Number(n)) => n
            .as_i64()
            .or_else(|| {
                n.as_f64()
                    .filter(|f| f.is_finite())
                    .map(|f| f.floor() as i64)
            })
            .ok_or(DpopError::Iat)?,
        None => return Err(DpopError::Iat),
        Some(_) => return Err(DpopError::ProofMalformed),
    };
    Ok(VerifiedProof {
        alg,
        jwk,
        claims: Claims {
            htm: string(&claims, "htm", DpopError::Htm)?,
            htu: string(&claims, "htu", DpopError::Htu)?,
            iat,
            jti,
            ath: optional_string(&claims, "ath")?,
            nonce: optional_string(&claims, "nonce")?,
        },
    })
}
