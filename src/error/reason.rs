//! Why a request was refused: [`Reason`], with the one mapping from reason
//! to code, HTTP status and RFC 6750 error, and the [`Rejection`] placed in
//! the response's extensions.

use std::error::Error as StdError;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use http::StatusCode;

use crate::claims::Fingerprint;

/// Why a request was not authenticated.
///
/// Each reason has a stable [`code`](Reason::code) for logs and metrics and
/// one fixed mapping to an HTTP status and RFC 6750 error code.
///
/// DPoP refusals (feature `dpop`) are [`Reason::Dpop`]: one row per
/// [`DpopError`](crate::dpop::DpopError) check, with that error's code,
/// 401 (503 for a full or unreachable replay store) and its RFC 9449 error
/// (`invalid_dpop_proof`, `use_dpop_nonce`, `invalid_token`) in the `DPoP`
/// challenge.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Reason {
    /// No credentials were sent (RFC 6750 §3.1: no error code).
    MissingToken,
    /// The request carried credentials in a way RFC 6750 forbids: more than
    /// one `Authorization` header, more than one credential, or a token in
    /// the query string.
    InvalidRequest,
    /// The token is not a well-formed compact JWS.
    Malformed,
    /// The token exceeds the configured maximum length.
    TooLarge,
    /// The token is a JWE (five segments); encrypted access tokens are not accepted.
    Encrypted,
    /// The `alg` is `none`, unknown, or not on the issuer's allowlist, or does not fit the key.
    DisallowedAlg,
    /// The `typ` header is not an access-token type.
    BadType,
    /// The header lists `crit` extensions this crate does not understand.
    UnknownCrit,
    /// No key in the issuer's key set has the token's `kid`.
    UnknownKey,
    /// The signature does not verify.
    BadSignature,
    /// `exp` is in the past (beyond leeway).
    Expired,
    /// `nbf` or `iat` is in the future (beyond leeway).
    NotYetValid,
    /// `iss` is missing or is not the configured issuer.
    WrongIssuer,
    /// `iss` names no configured issuer (multi-issuer layers).
    UnknownIssuer,
    /// `aud` is missing or contains no configured audience.
    WrongAudience,
    /// A required claim is missing or has the wrong type.
    InvalidClaim,
    /// The token was revoked (a post-verification hook refused it).
    Revoked,
    /// The token is sender-constrained: its `cnf` claim binds it to a key
    /// (DPoP, RFC 9449 `jkt`; RFC 7800 `jwk`/`kid`/`jku`) or a client
    /// certificate (RFC 8705 `x5t#S256`), and the request did not prove
    /// possession of it. Presented as a plain bearer token it is refused
    /// (RFC 9449 §7.2): accepting it would make the binding worthless.
    SenderConstrained,
    /// The issuer's keys are not available (never loaded, stale past the
    /// configured bound, or the issuer's current key set holds no usable
    /// key). A server-side condition: 503, never 401.
    KeysUnavailable,
    /// The shared revocation list (Redis) has been out of sync for longer
    /// than its outage bound and its policy is to refuse rather than accept
    /// tokens that may have been revoked meanwhile. A server-side condition:
    /// 503 with `Retry-After`, never 401.
    RevocationUnavailable,
    /// A tenant-template issuer's token whose `iss` is not the template
    /// filled with the token's own tenant claim (`tid`): a token of one
    /// tenant naming another tenant's issuer, or without a tenant claim.
    TenantMismatch,
    /// The token's tenant is refused by the issuer's
    /// [`TenantPolicy`](crate::tenant::TenantPolicy) (not on the allow-list,
    /// refused by the lookup, or excluded).
    TenantNotAllowed,
    /// The tenant policy's lookup could not decide about a new tenant in
    /// time (it timed out, failed, or too many lookups were running). A
    /// server-side condition: 503 with `Retry-After`, never cached.
    TenantLookupUnavailable,
    /// The authorization server's introspection answer (RFC 7662) says the
    /// opaque token is not `active`: unknown, revoked or expired there.
    Inactive,
    /// The token could not be introspected: the authorization server is
    /// down, slow, answered an error or garbage, or too many introspection
    /// calls are in flight. A server-side condition: 503 with
    /// `Retry-After`, never 401 (fail closed, but not blaming the token).
    IntrospectionUnavailable,
    /// A DPoP proof (RFC 9449) was missing or refused, or the layer or route
    /// requires DPoP and the request used Bearer: the
    /// [`DpopError`](crate::dpop::DpopError) says which check, and gives the
    /// code ([`DpopError::code`](crate::dpop::DpopError::code)), the RFC
    /// error and the status (401; 503 for
    /// [`ReplayCacheFull`](crate::dpop::DpopError::ReplayCacheFull) and
    /// [`ReplayStoreUnavailable`](crate::dpop::DpopError::ReplayStoreUnavailable),
    /// server-side conditions). A `use_dpop_nonce` answer carries a fresh
    /// `DPoP-Nonce` header.
    #[cfg(feature = "dpop")]
    #[cfg_attr(docsrs, doc(cfg(feature = "dpop")))]
    Dpop(crate::dpop::DpopError),
    /// The token is bound to a client certificate (RFC 8705 `cnf.x5t#S256`)
    /// but the request came without one: no client certificate on the TLS
    /// connection, or none forwarded by a trusted proxy.
    CertificateMissing,
    /// The token is bound to another client certificate than the one the
    /// request came with (RFC 8705 §3: the SHA-256 thumbprint differs).
    CertificateMismatch,
}

impl Reason {
    /// A stable snake_case code for logs, metrics and (opt-in) responses.
    pub const fn code(self) -> &'static str {
        match self {
            Reason::MissingToken => "missing_token",
            Reason::InvalidRequest => "invalid_request",
            Reason::Malformed => "malformed",
            Reason::TooLarge => "too_large",
            Reason::Encrypted => "encrypted",
            Reason::DisallowedAlg => "disallowed_alg",
            Reason::BadType => "bad_type",
            Reason::UnknownCrit => "unknown_crit",
            Reason::UnknownKey => "unknown_key",
            Reason::BadSignature => "bad_signature",
            Reason::Expired => "expired",
            Reason::NotYetValid => "not_yet_valid",
            Reason::WrongIssuer => "wrong_issuer",
            Reason::UnknownIssuer => "unknown_issuer",
            Reason::WrongAudience => "wrong_audience",
            Reason::InvalidClaim => "invalid_claim",
            Reason::Revoked => "revoked",
            Reason::SenderConstrained => "sender_constrained",
            Reason::KeysUnavailable => "keys_unavailable",
            Reason::RevocationUnavailable => "revocation_unavailable",
            Reason::TenantMismatch => "tenant_mismatch",
            Reason::TenantNotAllowed => "tenant_not_allowed",
            Reason::TenantLookupUnavailable => "tenant_lookup_unavailable",
            Reason::Inactive => "inactive",
            Reason::IntrospectionUnavailable => "introspection_unavailable",
            #[cfg(feature = "dpop")]
            Reason::Dpop(e) => e.code(),
            Reason::CertificateMissing => "certificate_missing",
            Reason::CertificateMismatch => "certificate_mismatch",
        }
    }

    /// The HTTP status this reason is answered with (RFC 6750 §3.1).
    pub const fn status(self) -> StatusCode {
        match self {
            Reason::InvalidRequest => StatusCode::BAD_REQUEST,
            Reason::KeysUnavailable
            | Reason::RevocationUnavailable
            | Reason::TenantLookupUnavailable
            | Reason::IntrospectionUnavailable => StatusCode::SERVICE_UNAVAILABLE,
            #[cfg(feature = "dpop")]
            Reason::Dpop(e) if e.rfc_error().is_none() => StatusCode::SERVICE_UNAVAILABLE,
            _ => StatusCode::UNAUTHORIZED,
        }
    }

    /// The RFC 6750 `error` code, if the response carries one.
    pub const fn error_code(self) -> Option<&'static str> {
        match self {
            Reason::MissingToken
            | Reason::KeysUnavailable
            | Reason::RevocationUnavailable
            | Reason::TenantLookupUnavailable
            | Reason::IntrospectionUnavailable => None,
            Reason::InvalidRequest => Some("invalid_request"),
            #[cfg(feature = "dpop")]
            Reason::Dpop(e) => e.rfc_error(),
            _ => Some("invalid_token"),
        }
    }

    /// A terse, client-safe description (no internals).
    pub const fn description(self) -> &'static str {
        match self {
            Reason::MissingToken => "",
            Reason::InvalidRequest => "Malformed authorization request",
            Reason::Expired => "The access token expired",
            Reason::KeysUnavailable
            | Reason::RevocationUnavailable
            | Reason::TenantLookupUnavailable
            | Reason::IntrospectionUnavailable => "Token verification is temporarily unavailable",
            #[cfg(feature = "dpop")]
            Reason::Dpop(e) => match e {
                crate::dpop::DpopError::Nonce => "Resource server requires nonce in DPoP proof",
                crate::dpop::DpopError::Required => {
                    "A DPoP-bound access token and proof are required"
                }
                crate::dpop::DpopError::JktMismatch => {
                    "The access token is not bound to the DPoP proof key"
                }
                crate::dpop::DpopError::ReplayCacheFull
                | crate::dpop::DpopError::ReplayStoreUnavailable => {
                    "Token verification is temporarily unavailable"
                }
                _ => "Invalid DPoP proof",
            },
            _ => "The access token is invalid",
        }
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// A refused request: the reason plus what is safe to log about the token.
///
/// Placed in the extensions of the response the layer produces, so outer
/// middleware (metrics, audit) can read why a request was refused.
#[derive(Clone, PartialEq, Eq)]
pub struct Rejection {
    pub(crate) reason: Reason,
    pub(crate) issuer: Option<Arc<str>>,
    pub(crate) kid: Option<Box<str>>,
    pub(crate) fingerprint: Option<Fingerprint>,
    pub(crate) retry_after: Option<Duration>,
}

impl Rejection {
    pub(crate) fn new(reason: Reason) -> Self {
        Self {
            reason,
            issuer: None,
            kid: None,
            fingerprint: None,
            retry_after: None,
        }
    }

    pub(crate) fn with_issuer(mut self, issuer: &Arc<str>) -> Self {
        self.issuer = Some(issuer.clone());
        self
    }

    /// The issuer a token named but that is not (yet) trusted: for the log
    /// line, never for a decision.
    pub(crate) fn with_unverified_issuer(
        mut self,
        parsed: &crate::verify::validate::Parsed<'_>,
    ) -> Self {
        self.issuer = parsed.unverified_issuer().map(Arc::from);
        self
    }

    pub(crate) fn with_kid(mut self, kid: Option<&str>) -> Self {
        self.kid = kid.map(Into::into);
        self
    }

    pub(crate) fn with_retry_after(mut self, d: Duration) -> Self {
        self.retry_after = Some(d);
        self
    }

    /// Build a rejection for a custom post-verification hook (for example a
    /// revocation list). Only [`Reason::Revoked`], [`Reason::InvalidClaim`]
    /// and [`Reason::WrongAudience`] make sense there.
    pub fn from_reason(reason: Reason) -> Self {
        Self::new(reason)
    }

    /// Why the request was refused.
    pub fn reason(&self) -> Reason {
        self.reason
    }

    /// The HTTP status of the response.
    pub fn status(&self) -> StatusCode {
        self.reason.status()
    }

    /// The issuer the token named, when it was read.
    pub fn issuer(&self) -> Option<&str> {
        self.issuer.as_deref()
    }

    /// The `kid` of the token's header, when it was read.
    pub fn key_id(&self) -> Option<&str> {
        self.kid.as_deref()
    }

    /// The token's fingerprint (never the token).
    pub fn fingerprint(&self) -> Option<&Fingerprint> {
        self.fingerprint.as_ref()
    }

    /// For 503 answers: when the client may retry (sent as `Retry-After`).
    pub fn retry_after(&self) -> Option<Duration> {
        self.retry_after
    }
}

impl fmt::Debug for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Rejection")
            .field("reason", &self.reason.code())
            .field("issuer", &self.issuer)
            .field("kid", &self.kid)
            .field("token", &self.fingerprint)
            .finish()
    }
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "request not authenticated: {}", self.reason.code())
    }
}

impl StdError for Rejection {}
