//! Failures to fetch discovery metadata, a JWKS or a token, and JWK Sets
//! that cannot be used at all.

use std::error::Error as StdError;
use std::fmt;
use std::time::Duration;

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
    /// The discovery document was well-formed JSON but unusable: it named
    /// another issuer, had no `jwks_uri`, or named one the HTTPS policy refuses.
    InvalidMetadata,
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
            FetchErrorKind::InvalidMetadata => {
                write!(f, "discovery metadata of {} cannot be used", self.url)
            }
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
