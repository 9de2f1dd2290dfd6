//! [`AccessToken`] and the parsing of a successful token response
//! (RFC 6749 §5.1).

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use http::HeaderValue;
use serde::Deserialize;

use super::error::TokenError;
use super::state::Cached;
use crate::claims::Fingerprint;

/// Lifetime assumed when the endpoint sends neither `expires_in` nor a JWT
/// with `exp`: short, so a token of unknown lifetime is not kept for long.
const UNKNOWN_LIFETIME: Duration = Duration::from_secs(60);

/// A token is cached at most this long, whatever its lifetime (and no
/// `expires_in` can overflow the clock).
const MAX_CACHED_LIFETIME: Duration = Duration::from_secs(24 * 60 * 60);

/// An access token from the token endpoint. Cheap to clone.
///
/// `Debug` shows a fingerprint, never the token.
#[derive(Clone)]
pub struct AccessToken(Arc<TokenInner>);

struct TokenInner {
    value: Box<str>,
    header: HeaderValue,
    scope: Option<String>,
    lifetime: Duration,
    expires_at: Instant,
    /// `token_type` was `DPoP`: each use needs a proof.
    dpop: bool,
}

impl AccessToken {
    /// The token itself. Handle with care: never log it.
    pub fn secret(&self) -> &str {
        &self.0.value
    }

    /// `Bearer <token>` (`DPoP <token>` for a DPoP-bound token), marked
    /// sensitive (HTTP/2 never indexes it; tower and hyper logging skip it).
    ///
    /// A DPoP-bound token is useless without a proof per request: the
    /// source's [`authorize`](super::ClientCredentials::authorize),
    /// [`send`](super::ClientCredentials::send) and
    /// [`BearerLayer`](super::BearerLayer) add one.
    pub fn header_value(&self) -> HeaderValue {
        self.0.header.clone()
    }

    /// Whether the token is DPoP-bound (`token_type` `DPoP`, RFC 9449 §5).
    pub fn is_dpop(&self) -> bool {
        self.0.dpop
    }

    /// The `scope` the endpoint granted, if it said.
    pub fn scope(&self) -> Option<&str> {
        self.0.scope.as_deref()
    }

    /// The lifetime granted (`expires_in`).
    pub fn lifetime(&self) -> Duration {
        self.0.lifetime
    }

    /// When the token expires.
    pub fn expires_at(&self) -> Instant {
        self.0.expires_at
    }

    /// A short digest for logs.
    pub fn fingerprint(&self) -> Fingerprint {
        Fingerprint::of(&self.0.value)
    }

    /// Whether both are the same token response (not merely equal strings).
    pub(super) fn same(&self, other: &AccessToken) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

impl fmt::Debug for AccessToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AccessToken")
            .field("fingerprint", &self.fingerprint())
            .field("scope", &self.0.scope)
            .field("lifetime", &self.0.lifetime)
            .finish_non_exhaustive()
    }
}

/// The successful token response (RFC 6749 §5.1).
#[derive(Deserialize)]
struct TokenResponse {
    access_token: String,
    token_type: String,
    #[serde(default)]
    expires_in: Option<serde_json::Value>,
    #[serde(default)]
    scope: Option<String>,
}

/// Parses a 2xx token response sent at `sent_at`; the token is refreshed
/// `margin(lifetime)` before it expires.
///
/// `dpop`: a DPoP-bound token was asked for, so `token_type` must be
/// `DPoP`; otherwise it must be `Bearer`.
///
/// # Errors
/// [`TokenError::InvalidResponse`]: not JSON, not the expected token type,
/// an empty token or one that cannot be sent in a header, or a zero
/// lifetime.
pub(super) fn parse_success(
    body: &[u8],
    sent_at: Instant,
    dpop: bool,
    margin: impl Fn(Duration) -> Duration,
) -> Result<Cached, TokenError> {
    let response: TokenResponse =
        serde_json::from_slice(body).map_err(|_| TokenError::InvalidResponse {
            reason: "not a JSON token response with access_token and token_type",
        })?;
    let scheme = if dpop { "DPoP" } else { "Bearer" };
    if dpop && response.token_type.eq_ignore_ascii_case("bearer") {
        // RFC 9449 §5: a server that ignores DPoP answers Bearer. Using that
        // token would silently drop the sender constraint.
        return Err(TokenError::InvalidResponse {
            reason: "a DPoP-bound token was requested but token_type is Bearer (the token endpoint ignored the proof; refusing to downgrade)",
        });
    }
    if !response.token_type.eq_ignore_ascii_case(scheme) {
        return Err(TokenError::InvalidResponse {
            reason: if dpop {
                "token_type is not DPoP"
            } else {
                "token_type is not Bearer"
            },
        });
    }
    if response.access_token.is_empty() {
        return Err(TokenError::InvalidResponse {
            reason: "empty access_token",
        });
    }
    // expires_in is a number; some servers send it as a string.
    let expires_in = match &response.expires_in {
        Some(serde_json::Value::Number(n)) => n.as_u64(),
        Some(serde_json::Value::String(s)) => s.parse().ok(),
        _ => None,
    };
    let lifetime = expires_in
        .map(Duration::from_secs)
        .or_else(|| jwt_lifetime(&response.access_token))
        .unwrap_or(UNKNOWN_LIFETIME)
        .min(MAX_CACHED_LIFETIME);
    if lifetime.is_zero() {
        return Err(TokenError::InvalidResponse {
            reason: "the token expires immediately",
        });
    }
    let mut header =
        HeaderValue::try_from(format!("{scheme} {}", response.access_token)).map_err(|_| {
            TokenError::InvalidResponse {
                reason: "access_token cannot be sent in a header",
            }
        })?;
    header.set_sensitive(true);
    // Count the lifetime from when the request was sent: conservative.
    let expires_at = sent_at + lifetime;
    let refresh_at = expires_at - margin(lifetime);
    Ok(Cached {
        token: AccessToken(Arc::new(TokenInner {
            value: response.access_token.into_boxed_str(),
            header,
            scope: response.scope,
            lifetime,
            expires_at,
            dpop,
        })),
        refresh_at,
    })
}

/// `exp` − now of a JWT access token, when the response has no `expires_in`.
fn jwt_lifetime(token: &str) -> Option<Duration> {
    let payload = token.split('.').nth(1)?;
    let claims: serde_json::Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).ok()?).ok()?;
    let exp = claims.get("exp")?.as_u64()?;
    Some(Duration::from_secs(
        exp.checked_sub(crate::claims::now_unix())?,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn response_parsing() {
        let now = Instant::now();
        let c = parse_success(
            br#"{"access_token":"abc","token_type":"bearer","expires_in":"100"}"#,
            now,
            false,
            |l| l / 10,
        )
        .unwrap();
        assert_eq!(c.token.lifetime(), Duration::from_secs(100));
        assert_eq!(c.refresh_at, now + Duration::from_secs(90));
        assert!(c.token.header_value().is_sensitive());
        assert!(!format!("{:?}", c.token).contains("abc"));
        assert!(parse_success(
            br#"{"access_token":"abc","token_type":"mac"}"#,
            now,
            false,
            |l| l
        )
        .is_err());
        assert!(parse_success(
            br#"{"access_token":"a\nb","token_type":"Bearer"}"#,
            now,
            false,
            |l| l
        )
        .is_err());
        let c = parse_success(
            br#"{"access_token":"abc","token_type":"Bearer"}"#,
            now,
            false,
            |l| l / 10,
        )
        .unwrap();
        assert_eq!(c.token.lifetime(), UNKNOWN_LIFETIME);
    }
}
