//! Errors raised while building an issuer, a layer or a guard.

use std::time::Duration;

use super::{FetchError, JwksError};

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
    /// A gRPC method (`/package.Service/Method`) or service
    /// (`package.Service`) name given to the method guards is malformed or
    /// listed twice.
    #[error("invalid gRPC method or service `{path}`: {reason}")]
    InvalidGrpcPath {
        /// The path or name as given.
        path: String,
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
    /// The HTTP client could not be built (the TLS backend failed to load);
    /// the cause is the [`source`](std::error::Error::source).
    #[error("HTTP client could not be built")]
    HttpClient(#[source] HttpClientError),
    /// No Tokio runtime is running; issuers need one for their refresh task.
    #[error("no Tokio runtime: issuers must be built inside a Tokio runtime")]
    NoRuntime,
    /// A required setting was not given (for example neither an issuer to
    /// discover nor a token endpoint for client credentials).
    #[error("`{setting}` is required: {hint}")]
    MissingSetting {
        /// What is missing.
        setting: &'static str,
        /// How to provide it.
        hint: &'static str,
    },
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
    /// An IP address or CIDR block (for example a trusted proxy) cannot be parsed.
    #[error("`{setting}` was given `{address}`: {reason}")]
    InvalidAddress {
        /// Setting name.
        setting: &'static str,
        /// The value given.
        address: String,
        /// Why.
        reason: &'static str,
    },
}

/// Why the HTTP client could not be built: opaque, the underlying client
/// library's error is its [`source`](std::error::Error::source).
#[derive(Debug)]
pub struct HttpClientError(pub(crate) reqwest::Error);

impl std::fmt::Display for HttpClientError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the HTTP client library refused its configuration")
    }
}

impl std::error::Error for HttpClientError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.0)
    }
}
