//! The validation profile (RFC 9068 + RFC 8725 by default) and the JWT
//! verification path.
//!
//! A token is checked in this order, and the first failure is the reason:
//! length (before any decoding) → shape (three segments; five is a JWE) →
//! header (`alg` on the issuer's allowlist, never `none`; `typ`; `crit`) →
//! issuer selection by exact `iss` → key by `kid`, bound to the algorithm →
//! signature → `iss`, `exp`, `nbf`, `iat`, `aud`.
//! Claims are only trusted after the signature verified; the unverified
//! `iss` is used for nothing but choosing whose keys to try.

use std::sync::Arc;
use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jsonwebtoken::{Algorithm, DecodingKey};
use serde::Deserialize;
use serde_json::{Map, Value};

use crate::claims::{Fingerprint, Verified, VerifiedClaims};
use crate::error::{ConfigError, Reason, Rejection};
use crate::jwks::parse::VerifyingKey;

/// The default algorithm allowlist: every asymmetric algorithm `jsonwebtoken`
/// verifies. HMAC is absent: it needs an explicitly configured secret.
pub const DEFAULT_ALGORITHMS: &[Algorithm] = &[
    Algorithm::RS256,
    Algorithm::RS384,
    Algorithm::RS512,
    Algorithm::PS256,
    Algorithm::PS384,
    Algorithm::PS512,
    Algorithm::ES256,
    Algorithm::ES384,
    Algorithm::EdDSA,
];

/// Default clock-skew allowance: 60 s.
pub const DEFAULT_LEEWAY: Duration = Duration::from_secs(60);
/// The largest leeway that may be configured: 5 min. More would make
/// "short-lived tokens" meaningless.
pub const MAX_LEEWAY: Duration = Duration::from_secs(300);
/// Default maximum token length: 16 KiB, checked before any decoding.
pub const DEFAULT_MAX_TOKEN_BYTES: usize = 16 * 1024;

/// How a token shows that it was issued for this service.
///
/// The default, and what RFC 9068 §4 requires, is [`AudienceCheck::Aud`]:
/// the `aud` claim must contain one of the configured audiences. Some IdPs
/// put no `aud` in access tokens (Amazon Cognito names the app client in
/// `client_id` instead); [`AudienceCheck::Claim`] checks such a claim
/// against an allowlist. An empty allowlist is refused at build time either way.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum AudienceCheck {
    /// `aud` (a string or an array) must contain one of these.
    Aud(Vec<String>),
    /// The string claim `name` must equal one of `allowed`; `aud` is not read.
    Claim {
        /// The claim, e.g. `client_id`.
        name: String,
        /// The accepted values.
        allowed: Vec<String>,
    },
}

impl AudienceCheck {
    pub(crate) fn is_usable(&self) -> bool {
        let (list, name_ok) = match self {
            AudienceCheck::Aud(l) => (l, true),
            AudienceCheck::Claim { name, allowed } => (allowed, !name.is_empty()),
        };
        name_ok && !list.is_empty() && !list.iter().any(String::is_empty)
    }
}

/// How an issuer's tokens are checked after the signature.
#[derive(Clone)]
pub(crate) struct Profile {
    pub(crate) algorithms: Vec<Algorithm>,
    pub(crate) audience: AudienceCheck,
    /// String claims that must be present with exactly this value.
    pub(crate) required: Vec<(String, String)>,
    /// Where roles are read from.
    pub(crate) roles: Vec<crate::claims::ClaimPath>,
    pub(crate) leeway: u64,
    pub(crate) strict_typ: bool,
    pub(crate) hmac: Option<DecodingKey>,
}

impl Profile {
    pub(crate) fn validate_algorithms(
        algs: &[Algorithm],
        has_secret: bool,
    ) -> Result<(), ConfigError> {
        if algs.is_empty() {
            return Err(ConfigError::NoAlgorithms);
        }
        for alg in algs {
            let hmac = matches!(alg, Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512);
            if hmac && !has_secret {
                return Err(ConfigError::Algorithm {
                    alg: format!("{alg:?}"),
                    reason: "HMAC needs a shared secret configured on the issuer",
                });
            }
            if !hmac && has_secret {
                return Err(ConfigError::Algorithm {
                    alg: format!("{alg:?}"),
                    reason: "an issuer with a shared secret verifies HMAC only",
                });
            }
        }
        Ok(())
    }
}

/// The JOSE header members this crate reads. Others (`jku`, `jwk`, `x5u`,
/// `x5c`) are ignored on purpose: keys come only from the configured issuer.
#[derive(Deserialize)]
struct Header {
    alg: String,
    #[serde(default)]
    kid: Option<String>,
    #[serde(default)]
    typ: Option<String>,
    #[serde(default)]
    crit: Option<Value>,
}

/// A token split and decoded, not yet verified.
pub(crate) struct Parsed<'t> {
    alg: Option<Algorithm>,
    kid: Option<String>,
    typ: Option<String>,
    has_crit: bool,
    payload: Map<String, Value>,
    signing_input: &'t str,
    signature: Vec<u8>,
    pub(crate) fingerprint: Fingerprint,
}

fn b64(segment: &str) -> Result<Vec<u8>, Reason> {
    URL_SAFE_NO_PAD
        .decode(segment)
        .map_err(|_| Reason::Malformed)
}

impl<'t> Parsed<'t> {
    /// Split and decode a compact JWS. Nothing here is trusted yet.
    ///
    /// The fingerprint is hashed once: over the token as sent, or for an
    /// ES256/ES384 token with a high `s` over its low-`s` spelling (see
    /// [`canonical_fingerprint`]). A token refused before its signature is
    /// decoded is fingerprinted as sent.
    pub(crate) fn parse(token: &'t str, max_len: usize) -> Result<Self, Rejection> {
        let with = |reason, fingerprint| Rejection {
            fingerprint: Some(fingerprint),
            ..Rejection::new(reason)
        };
        let fail = |reason| with(reason, Fingerprint::of(token));
        if token.len() > max_len {
            return Err(fail(Reason::TooLarge));
        }
        let dots = token.bytes().filter(|b| *b == b'.').count();
        match dots {
            2 => {}
            4 => return Err(fail(Reason::Encrypted)),
            _ => return Err(fail(Reason::Malformed)),
        }
        let (signing_input, sig_b64) = token
            .rsplit_once('.')
            .ok_or_else(|| fail(Reason::Malformed))?;
        let (header_b64, payload_b64) = signing_input
            .split_once('.')
            .ok_or_else(|| fail(Reason::Malformed))?;
        let header: Header = b64(header_b64)
            .and_then(|h| serde_json::from_slice(&h).map_err(|_| Reason::Malformed))
            .map_err(fail)?;
        let signature = b64(sig_b64).map_err(fail)?;
        let alg = parse_alg(&header.alg);
        let fingerprint = canonical_fingerprint(token, signing_input, alg, &signature);
        let payload: Map<String, Value> = b64(payload_b64)
            .and_then(|p| serde_json::from_slice(&p).map_err(|_| Reason::Malformed))
            .map_err(|reason| with(reason, fingerprint))?;
        Ok(Parsed {
            alg,
            kid: header.kid,
            typ: header.typ,
            has_crit: header.crit.is_some(),
            payload,
            signing_input,
            signature,
            fingerprint,
        })
    }

    /// The unverified `iss`, used only to choose whose keys to try.
    pub(crate) fn unverified_issuer(&self) -> Option<&str> {
        self.payload.get("iss").and_then(Value::as_str)
    }

    pub(crate) fn kid(&self) -> Option<&str> {
        self.kid.as_deref()
    }

    /// A rejection of this token, with its `kid` and fingerprint for the logs.
    pub(crate) fn reject(&self, reason: Reason) -> Rejection {
        let mut r = Rejection::new(reason).with_kid(self.kid());
        r.fingerprint = Some(self.fingerprint);
        r
    }
}

/// The token's fingerprint for logs and [`VerifiedClaims::fingerprint`]:
/// [`Fingerprint::of`] the token, except for an ES256/ES384 signature with a
/// high `s`, which is fingerprinted as its low-`s` twin `r‖(n − s)` would be
/// (`signing_input.b64(r‖(n − s))`). ECDSA signatures are malleable, so
/// both spellings of one token verify; this way they are logged as one.
/// Only the fingerprint is normalised: the signature is verified as sent,
/// and high-`s` signatures are accepted (most IdPs emit random `s`).
fn canonical_fingerprint(
    token: &str,
    signing_input: &str,
    alg: Option<Algorithm>,
    signature: &[u8],
) -> Fingerprint {
    let Some(low) = alg.and_then(|alg| crate::crypto::LowS::of(alg, signature)) else {
        return Fingerprint::of(token);
    };
    // 96 signature bytes (ES384) are 128 base64 characters: on the stack.
    let mut b64 = [0u8; 128];
    match URL_SAFE_NO_PAD.encode_slice(low.as_bytes(), &mut b64) {
        Ok(len) => Fingerprint::of_parts(&[signing_input.as_bytes(), b".", &b64[..len]]),
        Err(_) => Fingerprint::of(token),
    }
}

/// `none` (any casing) and unknown names map to `None`: never verifiable.
fn parse_alg(name: &str) -> Option<Algorithm> {
    let alg: Algorithm = name.parse().ok()?;
    // `Algorithm::from_str` is exact-case; keep it that way (RFC 7515 §4.1.1).
    Some(alg)
}

/// Whether a `typ` value names an access token (RFC 9068 §2.1), or — outside
/// strict mode — a plain JWT as Keycloak, Auth0 and Entra send.
fn typ_ok(typ: Option<&str>, strict: bool) -> bool {
    let Some(t) = typ else { return !strict };
    let t = t.strip_prefix("application/").unwrap_or(t);
    t.eq_ignore_ascii_case("at+jwt") || (!strict && t.eq_ignore_ascii_case("jwt"))
}

/// The header checks that need the issuer's profile but no key.
pub(crate) fn check_header(parsed: &Parsed<'_>, profile: &Profile) -> Result<Algorithm, Reason> {
    let alg = parsed.alg.ok_or(Reason::DisallowedAlg)?;
    if !profile.algorithms.contains(&alg) {
        return Err(Reason::DisallowedAlg);
    }
    if parsed.has_crit {
        // No JWS extension is understood here, so any `crit` must be refused (RFC 7515 §4.1.11).
        return Err(Reason::UnknownCrit);
    }
    if !typ_ok(parsed.typ.as_deref(), profile.strict_typ) {
        return Err(Reason::BadType);
    }
    Ok(alg)
}

/// Verify the signature with `key` (or the issuer's HMAC secret), then the
/// claims; read the roles from the profile's claim paths.
pub(crate) fn verify(
    parsed: Parsed<'_>,
    alg: Algorithm,
    key: Option<&Arc<VerifyingKey>>,
    issuer: &Arc<str>,
    profile: &Profile,
) -> Result<VerifiedClaims, Rejection> {
    let reject = |parsed: &Parsed<'_>, reason| parsed.reject(reason).with_issuer(issuer);
    let (msg, sig) = (parsed.signing_input.as_bytes(), parsed.signature.as_slice());
    let signature = match (key, &profile.hmac) {
        (Some(k), _) if k.allows(alg) => verify_signature(&k.key, alg, msg, sig),
        (Some(_), _) => Err(Reason::DisallowedAlg),
        (None, Some(secret)) => crate::crypto::verify_with(secret, alg, msg, sig),
        (None, None) => Err(Reason::UnknownKey),
    };
    if let Err(reason) = signature {
        return Err(reject(&parsed, reason));
    }
    let checked = check_claims(&parsed.payload, issuer, profile, crate::claims::now_unix())
        .map_err(|reason| reject(&parsed, reason))?;
    let roles = crate::claims::roles_of(&parsed.payload, &profile.roles);
    Ok(VerifiedClaims::new(Verified {
        issuer: issuer.clone(),
        expires_at: checked.expires_at,
        issued_at: checked.issued_at,
        audiences: checked.audiences,
        roles,
        algorithm: Some(alg),
        key_id: parsed.kid.map(Into::into),
        fingerprint: parsed.fingerprint,
        payload: parsed.payload,
    }))
}

/// The one signature check of the crate for issuer keys: `sig` over `msg`
/// with `key` under `alg`, through the selected backend (a key parsed once,
/// see [`PreparedKey`](crate::crypto::PreparedKey)).
///
/// [`Reason::DisallowedAlg`] when the key was not prepared for this
/// algorithm, [`Reason::BadSignature`] when it does not verify. ECDSA
/// signatures are the raw `r‖s` of RFC 7518 §3.4; a DER signature is refused.
/// The Wycheproof suite (`src/jwks/wycheproof_tests.rs`) runs through here.
pub(crate) fn verify_signature(
    key: &crate::crypto::PreparedKey,
    alg: Algorithm,
    msg: &[u8],
    sig: &[u8],
) -> Result<(), Reason> {
    key.verify(alg, msg, sig)
}

/// A NumericDate (RFC 7519 §2): a JSON number, possibly fractional; never a string.
pub(crate) fn numeric_date(
    payload: &Map<String, Value>,
    name: &str,
) -> Result<Option<u64>, Reason> {
    match payload.get(name) {
        None => Ok(None),
        Some(Value::Number(n)) => {
            if let Some(u) = n.as_u64() {
                Ok(Some(u))
            } else {
                match n.as_f64() {
                    Some(f) if (0.0..1e17).contains(&f) => Ok(Some(f as u64)),
                    _ => Err(Reason::InvalidClaim),
                }
            }
        }
        Some(_) => Err(Reason::InvalidClaim),
    }
}

/// What the claim checks read, kept so nothing parses it again.
#[derive(Debug, PartialEq)]
pub(crate) struct ClaimsChecked {
    pub(crate) expires_at: u64,
    pub(crate) issued_at: Option<u64>,
    pub(crate) audiences: Vec<String>,
}

/// The claim checks, shared with the introspection verifier (which checks
/// an introspection answer exactly as a JWT's payload).
pub(crate) fn check_claims(
    payload: &Map<String, Value>,
    issuer: &str,
    profile: &Profile,
    now: u64,
) -> Result<ClaimsChecked, Reason> {
    match payload.get("iss") {
        Some(Value::String(iss)) if iss == issuer => {}
        _ => return Err(Reason::WrongIssuer),
    }
    let leeway = profile.leeway;
    let exp = numeric_date(payload, "exp")?.ok_or(Reason::InvalidClaim)?;
    if now >= exp.saturating_add(leeway) {
        return Err(Reason::Expired);
    }
    if let Some(nbf) = numeric_date(payload, "nbf")? {
        if nbf > now.saturating_add(leeway) {
            return Err(Reason::NotYetValid);
        }
    }
    let issued_at = numeric_date(payload, "iat")?;
    if issued_at.is_some_and(|iat| iat > now.saturating_add(leeway)) {
        return Err(Reason::NotYetValid);
    }
    let audiences: Vec<String> = match payload.get("aud") {
        Some(Value::String(a)) => vec![a.clone()],
        Some(Value::Array(items)) => {
            let mut out = Vec::with_capacity(items.len());
            for item in items {
                match item {
                    Value::String(a) => out.push(a.clone()),
                    _ => return Err(Reason::InvalidClaim),
                }
            }
            out
        }
        None => Vec::new(),
        Some(_) => return Err(Reason::InvalidClaim),
    };
    match &profile.audience {
        AudienceCheck::Aud(allowed) => {
            if !audiences.iter().any(|a| allowed.iter().any(|c| c == a)) {
                return Err(Reason::WrongAudience);
            }
        }
        AudienceCheck::Claim { name, allowed } => match payload.get(name) {
            Some(Value::String(v)) if allowed.iter().any(|a| a == v) => {}
            Some(Value::String(_)) | None => return Err(Reason::WrongAudience),
            Some(_) => return Err(Reason::InvalidClaim),
        },
    }
    for (name, want) in &profile.required {
        match payload.get(name) {
            Some(Value::String(v)) if v == want => {}
            _ => return Err(Reason::InvalidClaim),
        }
    }
    // A token bound to a key or certificate (`cnf`) is only as good as the
    // proof of possession, which depends on how the request presented it:
    // the binding is read into the claims (`Confirmation`) and enforced by
    // the layer after verification (`layer::binding`), on cache hits too.
    // Here only its shape: `cnf` must be an object (RFC 7800 §3.1).
    match payload.get("cnf") {
        None | Some(Value::Object(_)) => {}
        Some(_) => return Err(Reason::InvalidClaim),
    }
    Ok(ClaimsChecked {
        expires_at: exp,
        issued_at,
        audiences,
    })
}

#[cfg(test)]
#[path = "validate_tests.rs"]
mod tests;
