//! Errors of the client-credentials source.

use std::io;
use std::sync::Arc;
use std::time::Duration;

use crate::error::{FetchError, FetchErrorKind};

/// Why no access token could be obtained.
///
/// Cheap to clone: concurrent callers waiting on one token request all get
/// the same outcome. Never contains the client secret or a token.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum TokenError {
    /// The token endpoint answered with an RFC 6749 §5.2 error such as
    /// `invalid_client`, `invalid_scope`, `unauthorized_client` or
    /// `invalid_grant`. Not retried: the request would fail the same way.
    #[error("token endpoint refused the request (HTTP {status}): {error}{}", description.as_deref().map(|d| format!(": {d}")).unwrap_or_default())]
    OAuth {
        /// HTTP status of the answer.
        status: u16,
        /// The OAuth `error` code.
        error: String,
        /// The `error_description`, if the server sent one.
        description: Option<String>,
    },
    /// The token endpoint could not be reached, timed out, or answered with
    /// a server error, after the configured retries.
    #[error("token request failed after {attempts} attempt(s)")]
    Fetch {
        /// How many requests were made.
        attempts: u32,
        /// The last failure.
        #[source]
        source: Arc<FetchError>,
    },
    /// The endpoint answered 2xx with something that is not a usable
    /// bearer token response.
    #[error("token endpoint response unusable: {reason}")]
    InvalidResponse {
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A DPoP proof could not be made (feature `dpop`): the request URL is
    /// not absolute `http(s)`, or signing failed. The request was not sent.
    #[error("DPoP proof unusable: {reason}")]
    Dpop {
        /// Why.
        reason: &'static str,
    },
    /// The client secret or private key could not be read or used.
    #[error("client credential unusable: {reason}")]
    Credentials {
        /// Why (never the secret itself).
        reason: &'static str,
        /// The I/O error of a file or callback source.
        #[source]
        source: Option<Arc<io::Error>>,
    },
}

impl TokenError {
    /// The OAuth `error` code, for [`TokenError::OAuth`].
    pub fn oauth_error(&self) -> Option<&str> {
        match self {
            TokenError::OAuth { error, .. } => Some(error),
            _ => None,
        }
    }

    /// The `error_description`, for [`TokenError::OAuth`].
    pub fn oauth_description(&self) -> Option<&str> {
        match self {
            TokenError::OAuth { description, .. } => description.as_deref(),
            _ => None,
        }
    }

    /// How long the token endpoint asked us to wait (`Retry-After` on a 429
    /// or 503 answer), if it did. This is the server's figure, as sent: the
    /// source itself holds requests back for at most
    /// [`RetryConfig::max_retry_after`](super::RetryConfig::max_retry_after).
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            TokenError::Fetch { source, .. } => source.retry_after(),
            _ => None,
        }
    }

    /// Whether retrying later may help: transport failures, timeouts, 5xx,
    /// 408 and 429. OAuth errors and unusable credentials are not.
    pub fn is_transient(&self) -> bool {
        match self {
            TokenError::Fetch { source, .. } => match source.kind() {
                FetchErrorKind::Timeout | FetchErrorKind::Connect | FetchErrorKind::Transport => {
                    true
                }
                FetchErrorKind::Status(s) => s >= 500 || s == 408 || s == 429,
                _ => false,
            },
            _ => false,
        }
    }

    pub(crate) fn fetch(source: FetchError) -> Self {
        TokenError::Fetch {
            attempts: 1,
            source: Arc::new(source),
        }
    }

    #[cfg_attr(not(feature = "dpop"), allow(dead_code))]
    pub(crate) fn dpop(reason: &'static str) -> Self {
        TokenError::Dpop { reason }
    }

    pub(crate) fn credentials(reason: &'static str, source: Option<io::Error>) -> Self {
        TokenError::Credentials {
            reason,
            source: source.map(Arc::new),
        }
    }
}

/// The error of [`BearerService`](super::BearerService): no token, or the
/// wrapped service failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BearerError<E> {
    /// No access token could be obtained; the request was not sent.
    #[error("no access token for the outbound request")]
    Token(#[source] TokenError),
    /// The inner service failed.
    #[error("outbound request failed")]
    Service(#[source] E),
}

/// The error of [`ClientCredentials::send`](super::ClientCredentials::send).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SendError {
    /// No access token could be obtained; the request was not sent.
    #[error("no access token for the outbound request")]
    Token(#[source] TokenError),
    /// reqwest failed to build or send the request.
    #[error("outbound request failed")]
    Request(#[source] reqwest::Error),
}
