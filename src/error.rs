//! Error types: configuration, key fetching, and token rejection reasons.
//!
//! The request path never returns `Err` for anything a client sends: a
//! rejected token becomes a [`Rejection`] that the layer turns into an
//! RFC 6750 response. Errors here are for construction time
//! ([`ConfigError`]) and for background key fetching ([`FetchError`]).

use std::error::Error as StdError;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use http::StatusCode;

use crate::claims::Fingerprint;

/// An error raised while building an issuer, a layer or a guard.
///
/// Construction may fail; the request path may not. Every variant names the
/// setting that is wrong.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// A URL could not be parsed, or has a part it must not have: userinfo
    /// (`user:password@`, anywhere), a fragment (anywhere), or a query (in
    /// an issuer identifier, RFC 8414 §2).
    #[error("invalid URL `{url}`: {reason}")]
    InvalidUrl {
        /// The URL as given (a password in it replaced by `***`).
        url: String,
        /// Why it was refused.
        reason: &'static str,
    },
    /// A discovery, JWKS or token URL is not HTTPS, and plain HTTP is not
    /// allowed for it: by default never; with
    /// [`HttpConfig::allow_loopback_http`](crate::issuer::HttpConfig::allow_loopback_http)
    /// only to loopback IP literals.
    #[error("refusing non-HTTPS URL `{url}` (use https; for an IdP on 127.0.0.1 or [::1] opt in with HttpConfig::allow_loopback_http)")]
    InsecureUrl {
        /// The URL as given.
        url: String,
    },
    /// The discovery document names another issuer than the one configured.
    #[error("discovery document names issuer `{found}`, expected exactly `{expected}`")]
    IssuerMismatch {
        /// The configured issuer.
        expected: String,
        /// The issuer in the metadata.
        found: String,
    },
    /// The discovery document has no `jwks_uri`.
    #[error("discovery document of `{issuer}` has no jwks_uri")]
    NoJwksUri {
        /// The issuer.
        issuer: String,
    },
    /// Fetching discovery metadata failed.
    #[error("OIDC / RFC 8414 discovery for `{issuer}` failed")]
    Discovery {
        /// The issuer.
        issuer: String,
        /// What went wrong.
        #[source]
        source: FetchError,
    },
    /// The first key set could not be loaded at startup.
    #[error("could not load the first key set of `{issuer}`")]
    InitialKeys {
        /// The issuer.
        issuer: String,
        /// What went wrong.
        #[source]
        source: FetchError,
    },
    /// A static JWKS could not be used.
    #[error("static JWKS is unusable: {0}")]
    StaticJwks(#[source] JwksError),
    /// A static JWKS file could not be read.
    #[error("could not read JWKS file `{path}`")]
    JwksFile {
        /// The path.
        path: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// No audience was configured; every service must check `aud`.
    #[error("no audience configured: every resource server must check `aud` (RFC 9068 §4)")]
    NoAudience,
    /// The allowed clock skew exceeds the cap.
    #[error("leeway of {configured:?} exceeds the maximum of {max:?}")]
    LeewayTooLarge {
        /// What was asked for.
        configured: Duration,
        /// The cap.
        max: Duration,
    },
    /// An algorithm was allowed that cannot be used here.
    #[error("algorithm `{alg}` cannot be allowed: {reason}")]
    Algorithm {
        /// The algorithm name.
        alg: String,
        /// Why.
        reason: &'static str,
    },
    /// The algorithm allowlist is empty.
    #[error("the algorithm allowlist is empty")]
    NoAlgorithms,
    /// A numeric or duration setting is out of range.
    #[error("setting `{setting}` is out of range: {reason}")]
    OutOfRange {
        /// Setting name.
        setting: &'static str,
        /// Why.
        reason: &'static str,
    },
    /// The HMAC secret is shorter than RFC 7518 §3.2 allows.
    #[error("the HMAC secret has {len} bytes; at least {min} are required (RFC 7518 §3.2)")]
    HmacSecretTooShort {
        /// Its length.
        len: usize,
        /// The minimum.
        min: usize,
    },
    /// The HMAC secret was refused by the signature backend.
    #[error("the HMAC secret cannot be used")]
    HmacSecretUnusable,
    /// Two settings were given that cannot both apply (for example an HMAC
    /// secret and a `jwks_uri`, or two key sources); neither is silently preferred.
    #[error("`{first}` and `{second}` cannot both be configured")]
    ConflictingSettings {
        /// The setting given first.
        first: &'static str,
        /// The one that conflicts with it.
        second: &'static str,
    },
    /// A claim name is empty.
    #[error("`{setting}` was given an empty claim name")]
    EmptyClaimName {
        /// Which setting.
        setting: &'static str,
    },
    /// A realm or other header parameter contains characters that cannot be sent.
    #[error("`{setting}` cannot be used in a header: {reason}")]
    InvalidHeaderValue {
        /// Setting name.
        setting: &'static str,
        /// Why.
        reason: &'static str,
    },
    /// A claim path (for roles) cannot be parsed.
    #[error("invalid claim path `{path}`: {reason}")]
    InvalidClaimPath {
        /// The path as given.
        path: String,
        /// Why.
        reason: &'static str,
    },
    /// A scope given to a guard is not an RFC 6749 §3.3 scope token.
    #[error("invalid scope `{scope}`: {reason}")]
    InvalidScope {
        /// The scope as given.
        scope: String,
        /// Why.
        reason: &'static str,
    },
    /// A role given to a guard is empty or cannot be compared.
    #[error("invalid role `{role}`: {reason}")]
    InvalidRole {
        /// The role as given.
        role: String,
        /// Why.
        reason: &'static str,
    },
    /// A guard was given an empty list.
    #[error("`{setting}` needs at least one value")]
    EmptyRequirement {
        /// Which constructor.
        setting: &'static str,
    },
    /// A layer was built without any issuer.
    #[error("no issuer configured")]
    NoIssuer,
    /// Two issuers with the same `iss` were added to one layer.
    #[error("issuer `{0}` configured twice")]
    DuplicateIssuer(String),
    /// The HTTP client could not be built.
    #[error("HTTP client could not be built")]
    HttpClient(#[source] FetchError),
    /// No Tokio runtime is running; issuers need one for their refresh task.
    #[error("no Tokio runtime: issuers must be built inside a Tokio runtime")]
    NoRuntime,
    /// The discovery document has no `token_endpoint` (client credentials).
    #[error("discovery document of `{issuer}` has no token_endpoint")]
    NoTokenEndpoint {
        /// The issuer.
        issuer: String,
    },
    /// A client id, secret or private key is missing, could not be read,
    /// or cannot be used.
    #[error("client credential unusable: {reason}")]
    Credentials {
        /// Why (never the secret itself).
        reason: &'static str,
        /// The I/O error of a file or callback source.
        #[source]
        source: Option<std::io::Error>,
    },
    /// A free-form parameter setting was given a name the crate sets itself
    /// (for a token request: `grant_type`, `client_*`, `scope`, `resource`,
    /// each set by its own method).
    #[error("`{setting}` cannot set `{name}`: it is set by its own setting")]
    ReservedParameter {
        /// The setting (`extra_param`).
        setting: &'static str,
        /// The reserved parameter name.
        name: &'static str,
    },
}

/// What kind of failure a [`FetchError`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum FetchErrorKind {
    /// The request did not complete within the configured timeout.
    Timeout,
    /// The connection could not be made.
    Connect,
    /// The server answered with a non-success status.
    Status(u16),
    /// The response body exceeded the size cap.
    TooLarge,
    /// The response was not the expected JSON.
    InvalidJson,
    /// The key set parsed but held no usable key. Only the first fetch of
    /// `build().await` fails with it; later such a set is installed (it is
    /// the issuer's word that its old keys are gone) and requests get 503.
    NoUsableKeys,
    /// Another transport error.
    Transport,
    /// A redirect was refused: a discovery or JWKS response came from (or
    /// was redirected to) a URL the HTTPS policy refuses, or took more than
    /// 3 redirects; or a token request was answered with a redirect at all.
    /// Not retried.
    Redirect,
}

/// A failure to fetch discovery metadata, a JWKS or a token.
///
/// Opaque on purpose: match on [`FetchError::kind`]; the underlying cause is
/// available through [`std::error::Error::source`].
pub struct FetchError {
    kind: FetchErrorKind,
    url: String,
    retry_after: Option<Duration>,
    source: Option<Box<dyn StdError + Send + Sync>>,
}

impl FetchError {
    pub(crate) fn new(kind: FetchErrorKind, url: impl Into<String>) -> Self {
        Self {
            kind,
            url: url.into(),
            retry_after: None,
            source: None,
        }
    }

    pub(crate) fn with_retry_after(mut self, retry_after: Option<Duration>) -> Self {
        self.retry_after = retry_after;
        self
    }

    pub(crate) fn with_source(mut self, source: impl StdError + Send + Sync + 'static) -> Self {
        self.source = Some(Box::new(source));
        self
    }

    /// What went wrong.
    pub fn kind(&self) -> FetchErrorKind {
        self.kind
    }

    /// The URL that was fetched.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// How long the server asked the client to wait (`Retry-After` on a 429
    /// or 503 answer, in seconds or as an HTTP date), if it said so.
    pub fn retry_after(&self) -> Option<Duration> {
        self.retry_after
    }
}

impl fmt::Debug for FetchError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FetchError")
            .field("kind", &self.kind)
            .field("url", &self.url)
            .field("retry_after", &self.retry_after)
            .field("source", &self.source)
            .finish()
    }
}

impl fmt::Display for FetchError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.kind {
            FetchErrorKind::Timeout => write!(f, "timed out fetching {}", self.url),
            FetchErrorKind::Connect => write!(f, "could not connect to {}", self.url),
            FetchErrorKind::Status(s) => match self.retry_after {
                Some(d) => write!(
                    f,
                    "{} answered HTTP {s} (retry after {} s)",
                    self.url,
                    d.as_secs()
                ),
                None => write!(f, "{} answered HTTP {s}", self.url),
            },
            FetchErrorKind::TooLarge => write!(f, "response of {} exceeds the size cap", self.url),
            FetchErrorKind::InvalidJson => write!(
                f,
                "response of {} is not valid JSON of the expected shape",
                self.url
            ),
            FetchErrorKind::NoUsableKeys => {
                write!(f, "key set at {} holds no usable signing key", self.url)
            }
            FetchErrorKind::Transport => write!(f, "transport error fetching {}", self.url),
            FetchErrorKind::Redirect => write!(
                f,
                "{} answered a redirect that was refused (HTTPS policy, or a token request)",
                self.url
            ),
        }
    }
}

impl StdError for FetchError {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        self.source
            .as_deref()
            .map(|e| e as &(dyn StdError + 'static))
    }
}

/// A JWKS document that cannot be used at all.
///
/// Individual odd keys never produce this: they are skipped (and logged).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum JwksError {
    /// Not a JSON object with a `keys` array.
    #[error("not a JWK Set (a JSON object with a `keys` array)")]
    NotAJwkSet,
    /// Larger than the size cap.
    #[error("larger than {max} bytes")]
    TooLarge {
        /// The cap.
        max: usize,
    },
    /// No key in the set can verify signatures.
    #[error("no usable signing key in the set")]
    NoUsableKeys,
}

/// Why a request was not authenticated.
///
/// Each reason has a stable [`code`](Reason::code) for logs and metrics and
/// one fixed mapping to an HTTP status and RFC 6750 error code.
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
    /// The issuer's keys are not available (never loaded, stale past the
    /// configured bound, or the issuer's current key set holds no usable
    /// key). A server-side condition: 503, never 401.
    KeysUnavailable,
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
            Reason::KeysUnavailable => "keys_unavailable",
        }
    }

    /// The HTTP status this reason is answered with (RFC 6750 §3.1).
    pub const fn status(self) -> StatusCode {
        match self {
            Reason::InvalidRequest => StatusCode::BAD_REQUEST,
            Reason::KeysUnavailable => StatusCode::SERVICE_UNAVAILABLE,
            _ => StatusCode::UNAUTHORIZED,
        }
    }

    /// The RFC 6750 `error` code, if the response carries one.
    pub const fn error_code(self) -> Option<&'static str> {
        match self {
            Reason::MissingToken | Reason::KeysUnavailable => None,
            Reason::InvalidRequest => Some("invalid_request"),
            _ => Some("invalid_token"),
        }
    }

    /// A terse, client-safe description (no internals).
    pub const fn description(self) -> &'static str {
        match self {
            Reason::MissingToken => "",
            Reason::InvalidRequest => "Malformed authorization request",
            Reason::Expired => "The access token expired",
            Reason::KeysUnavailable => "Token verification is temporarily unavailable",
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
