//! Verified claims — the proof that a request carried a valid token — and the
//! standard claim set.
//!
//! By concern: `path` reads roles out of the claims ([`ClaimPath`]),
//! `standard` holds the registered claims ([`StandardClaims`],
//! [`OneOrMany`]) and scope parsing; this module holds the proof type
//! [`VerifiedClaims`] and the token [`Fingerprint`].

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use jsonwebtoken::Algorithm;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

mod confirmation;
mod path;
mod standard;

pub(crate) use confirmation::Confirmation;

pub(crate) use path::roles_of;
pub use path::ClaimPath;
use standard::scopes_of;
pub use standard::{OneOrMany, StandardClaims};

/// Now, as a NumericDate (seconds since the epoch).
///
/// A clock set before 1970 reads as the far future, so every time check
/// fails closed (tokens count as expired) instead of open.
pub(crate) fn now_unix() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(u64::MAX)
}

/// A short, non-reversible token identifier for logs: the first 8 bytes of
/// the token's SHA-256, in hex. Lets operators correlate log lines for one
/// token without the token itself ever being written.
///
/// # Canonical for ECDSA
/// An ES256/ES384 signature `(r, s)` has a twin, `(r, n − s)`, that verifies
/// just as well: anyone holding a token can respell it. The layer therefore
/// fingerprints such tokens over the signing input and the *low-`s`*
/// signature, so both spellings log (and report, in
/// [`VerifiedClaims::fingerprint`] and [`Rejection`](crate::Rejection)) the
/// same value: [`Fingerprint::of`] of the low-`s` spelling. For every other
/// token it is [`Fingerprint::of`] the token as sent.
///
/// # Security
/// A fingerprint correlates log lines; it is not an identity. Revoke and
/// deduplicate tokens by `jti` (or `sub`), never by token bytes or by
/// [`Fingerprint::of`] an encoding you did not make canonical yourself:
/// the twin spelling of a revoked ES256 token would pass such a check.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Fingerprint([u8; 8]);

impl Fingerprint {
    /// The fingerprint of `token`, as sent (no ECDSA canonicalisation: see
    /// the type's docs).
    pub fn of(token: &str) -> Self {
        Self::of_parts(&[token.as_bytes()])
    }

    /// The fingerprint of the concatenation of `parts`.
    pub(crate) fn of_parts(parts: &[&[u8]]) -> Self {
        let mut hasher = Sha256::new();
        for part in parts {
            hasher.update(part);
        }
        let digest = hasher.finalize();
        let mut out = [0u8; 8];
        out.copy_from_slice(&digest[..8]);
        Self(out)
    }
}

impl fmt::Display for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for b in self.0 {
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Fingerprint({self})")
    }
}

/// How a token was verified ([`VerifiedClaims::kind`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TokenKind {
    /// A JWT whose signature was checked with its issuer's key.
    Jwt,
    /// An opaque token its authorization server answered `active` for
    /// (RFC 7662 introspection, feature `introspection`).
    Opaque,
}

/// The claims of a token whose signature (or, for an opaque token, its
/// introspection answer), issuer, audience and lifetime were checked.
///
/// Only this crate's verifier can create a value of this type, so a guard or
/// handler that holds one knows the checks ran. Cheap to clone (one `Arc`).
/// The layer inserts it into the request's extensions.
#[derive(Clone)]
pub struct VerifiedClaims(Arc<Inner>);

struct Inner {
    issuer: Arc<str>,
    payload: Value,
    expires_at: u64,
    issued_at: Option<u64>,
    audiences: Vec<String>,
    scopes: Vec<String>,
    roles: Vec<String>,
    algorithm: Option<Algorithm>,
    key_id: Option<Box<str>>,
    fingerprint: Fingerprint,
    /// Set by a tenant-template issuer ([`crate::tenant`]).
    tenant: Option<Arc<str>>,
    /// The `cnf` binding, read once; enforced by the layer's binding check.
    confirmation: Option<Confirmation>,
    /// The decision counters of the issuer that verified these claims.
    counters: crate::ops::IssuerCounters,
}

/// Everything the verifier learned, handed to [`VerifiedClaims::new`].
pub(crate) struct Verified {
    pub(crate) issuer: Arc<str>,
    pub(crate) payload: Map<String, Value>,
    pub(crate) expires_at: u64,
    /// `iat`, checked as a NumericDate when the token was verified.
    pub(crate) issued_at: Option<u64>,
    pub(crate) audiences: Vec<String>,
    pub(crate) roles: Vec<String>,
    /// `None` for an opaque token (verified by introspection, not a signature).
    pub(crate) algorithm: Option<Algorithm>,
    pub(crate) key_id: Option<Box<str>>,
    pub(crate) fingerprint: Fingerprint,
}

impl VerifiedClaims {
    pub(crate) fn new(v: Verified) -> Self {
        let scopes = scopes_of(&v.payload);
        let confirmation = Confirmation::of(&v.payload);
        Self(Arc::new(Inner {
            confirmation,
            issuer: v.issuer,
            expires_at: v.expires_at,
            issued_at: v.issued_at,
            audiences: v.audiences,
            scopes,
            roles: v.roles,
            algorithm: v.algorithm,
            key_id: v.key_id,
            fingerprint: v.fingerprint,
            payload: Value::Object(v.payload),
            tenant: None,
            counters: Default::default(),
        }))
    }

    /// The same claims, counted by `counters` (the verifying issuer's),
    /// so the layer counts its decision without a look-up. Only ever called
    /// on claims the verifier has just made, which no one else holds yet;
    /// claims without them are counted by issuer name.
    pub(crate) fn counted_by(mut self, counters: &crate::ops::IssuerCounters) -> Self {
        if let Some(inner) = Arc::get_mut(&mut self.0) {
            inner.counters = counters.clone();
        }
        self
    }

    #[cfg(feature = "metrics")]
    pub(crate) fn counters(&self) -> &crate::ops::IssuerCounters {
        &self.0.counters
    }

    /// The same claims, accepted for `tenant` (only ever called on claims
    /// the verifier has just made, which no one else holds yet).
    pub(crate) fn with_tenant(mut self, tenant: Arc<str>) -> Self {
        if let Some(inner) = Arc::get_mut(&mut self.0) {
            inner.tenant = Some(tenant);
        }
        self
    }

    /// The tenant the token was accepted for: set by a tenant-template
    /// issuer ([`crate::tenant`], e.g. [`Entra::multi_tenant`](crate::presets::Entra::multi_tenant))
    /// after its `iss` matched the template filled with this tenant and the
    /// tenant passed the policy; `None` for every other issuer.
    pub fn tenant(&self) -> Option<&str> {
        self.0.tenant.as_deref()
    }

    /// The issuer (`iss`), exactly as configured.
    pub fn issuer(&self) -> &str {
        &self.0.issuer
    }

    /// The subject (`sub`), if present.
    pub fn subject(&self) -> Option<&str> {
        self.get("sub").and_then(Value::as_str)
    }

    /// The audiences (`aud`), as a list whether the token had a string or an array.
    pub fn audiences(&self) -> &[String] {
        &self.0.audiences
    }

    /// The token's `jti`, if present.
    pub fn jti(&self) -> Option<&str> {
        self.get("jti").and_then(Value::as_str)
    }

    /// The client the token was issued to: `client_id`, else `azp`, else `cid` (Okta), else `appid` (Entra v1).
    pub fn client_id(&self) -> Option<&str> {
        ["client_id", "azp", "cid", "appid"]
            .iter()
            .find_map(|c| self.get(c).and_then(Value::as_str))
    }

    /// When the token expires (`exp`).
    pub fn expires_at(&self) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(self.0.expires_at)
    }

    pub(crate) fn exp_unix(&self) -> u64 {
        self.0.expires_at
    }

    /// When the token was issued (`iat`), if it says so.
    pub fn issued_at(&self) -> Option<SystemTime> {
        self.0
            .issued_at
            .map(|iat| UNIX_EPOCH + Duration::from_secs(iat))
    }

    /// `iat` in Unix seconds, as checked when the token was verified.
    pub(crate) fn iat_unix(&self) -> Option<u64> {
        self.0.issued_at
    }

    /// The scopes the token grants, from `scope` (space-delimited, RFC 9068)
    /// and `scp` (array or space-delimited string: Okta, Entra), parsed once.
    pub fn scopes(&self) -> &[String] {
        &self.0.scopes
    }

    /// Whether the token grants `scope`.
    pub fn has_scope(&self, scope: &str) -> bool {
        self.0.scopes.iter().any(|s| s == scope)
    }

    /// The roles the issuer's claim mapping found in the token.
    pub fn roles(&self) -> &[String] {
        &self.0.roles
    }

    /// Whether the token carries `role`.
    pub fn has_role(&self, role: &str) -> bool {
        self.0.roles.iter().any(|r| r == role)
    }

    /// One claim by name.
    pub fn get(&self, name: &str) -> Option<&Value> {
        self.0.payload.get(name)
    }

    /// All claims, as sent.
    pub fn raw(&self) -> &Map<String, Value> {
        match &self.0.payload {
            Value::Object(m) => m,
            // `new` only ever stores an object.
            _ => empty_map(),
        }
    }

    /// Deserialize the claims into a custom type.
    ///
    /// # Errors
    /// When the claims do not fit `T`.
    pub fn deserialize<T: DeserializeOwned>(&self) -> Result<T, ClaimsError> {
        T::deserialize(&self.0.payload).map_err(|e| ClaimsError {
            source: Arc::new(e),
        })
    }

    /// The algorithm the JWT's signature was verified with; `None` for an
    /// opaque token, which has no signature: its authorization server
    /// vouched for it by introspection (see [`kind`](Self::kind)).
    pub fn algorithm(&self) -> Option<Algorithm> {
        self.0.algorithm
    }

    /// How the token was verified: a signed JWT, or an opaque token the
    /// authorization server vouched for by introspection (RFC 7662).
    pub fn kind(&self) -> TokenKind {
        match self.0.algorithm {
            Some(_) => TokenKind::Jwt,
            None => TokenKind::Opaque,
        }
    }

    /// The `kid` of the verifying key.
    pub fn key_id(&self) -> Option<&str> {
        self.0.key_id.as_deref()
    }

    /// The token's fingerprint, for logs and audit records: canonical for
    /// ES256/ES384, so both spellings of an ECDSA signature give the same
    /// value (see [`Fingerprint`]).
    ///
    /// # Security
    /// Not a revocation key: revoke by [`jti`](Self::jti) or
    /// [`subject`](Self::subject), never by token bytes or fingerprints of
    /// encodings that are not canonical.
    pub fn fingerprint(&self) -> Fingerprint {
        self.0.fingerprint
    }

    /// The token's binding (`cnf`); `None` for a bearer token.
    pub(crate) fn confirmation(&self) -> Option<&Confirmation> {
        self.0.confirmation.as_ref()
    }

    /// Whether the token is sender-constrained (its `cnf` binds it to a key
    /// or a certificate). The layer accepts such a token only with the
    /// matching proof of possession (a DPoP proof, a TLS client
    /// certificate); see [`crate::manual`].
    pub fn is_sender_constrained(&self) -> bool {
        self.0.confirmation.is_some()
    }

    pub(crate) fn issuer_arc(&self) -> &Arc<str> {
        &self.0.issuer
    }
}

fn empty_map() -> &'static Map<String, Value> {
    static EMPTY: std::sync::OnceLock<Map<String, Value>> = std::sync::OnceLock::new();
    EMPTY.get_or_init(Map::new)
}

impl fmt::Debug for VerifiedClaims {
    /// Claim names only: values may hold personal data.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VerifiedClaims")
            .field("issuer", &self.issuer())
            .field("subject", &self.subject())
            .field("expires_at", &self.0.expires_at)
            .field("scopes", &self.0.scopes)
            .field("claims", &self.raw().keys().collect::<Vec<_>>())
            .field("token", &self.0.fingerprint)
            .finish()
    }
}

/// Claims that did not fit the requested type; the deserializer's error
/// (which claim, what was expected) is its [`source`](std::error::Error::source).
#[derive(Debug, Clone, thiserror::Error)]
#[error("claims do not fit the requested type")]
pub struct ClaimsError {
    source: Arc<serde_json::Error>,
}

/// Verified claims made from a JSON object, for the crate's unit tests (the
/// proof type cannot be made any other way): issuer
/// `https://idp.example.com`, audience `orders-api`, RS256, kid `k1`,
/// fingerprint of `"the-token"`.
#[cfg(test)]
pub(crate) fn test_claims(payload: Value) -> VerifiedClaims {
    let Value::Object(payload) = payload else {
        panic!("test claims must be a JSON object")
    };
    // As the verifier would read it (an `iat` it refuses reads as absent).
    let issued_at = crate::verify::validate::numeric_date(&payload, "iat")
        .ok()
        .flatten();
    VerifiedClaims::new(Verified {
        issuer: "https://idp.example.com".into(),
        payload,
        expires_at: 4_000_000_000,
        issued_at,
        audiences: vec!["orders-api".into()],
        roles: vec![],
        algorithm: Some(Algorithm::RS256),
        key_id: Some("k1".into()),
        fingerprint: Fingerprint::of("the-token"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    pub(crate) use super::test_claims as claims;

    #[test]
    fn fingerprint_is_short_hex_and_debug_has_no_values() {
        let f = Fingerprint::of("secret-token");
        assert_eq!(f.to_string().len(), 16);
        let c = claims(json!({"sub": "alice", "email": "alice@example.com"}));
        let dbg = format!("{c:?}");
        assert!(!dbg.contains("alice@example.com"));
        assert!(dbg.contains("email"));
    }
}
