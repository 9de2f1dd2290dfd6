//! One token request (RFC 6749 §4.4.2): client authentication, the POST,
//! the answer parsed into a token or a typed error, and the bounded retries
//! around it.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Deserialize;
use url::Url;

use super::auth::ClientAuth;
use super::builder::DEFAULT_MAX_MARGIN;
use super::error::TokenError;
use super::retry::{AfterFailure, RetryConfig};
use super::state::{Cached, RetryAfterHold};
use super::token::parse_success;
use crate::http::TokenClient;

/// What to ask the token endpoint for, and how: fixed when the source is
/// built.
pub(super) struct TokenRequest {
    pub(super) client_id: Arc<str>,
    pub(super) endpoint: Url,
    pub(super) auth: ClientAuth,
    /// The requested scopes, space-separated.
    pub(super) scope: Option<String>,
    /// RFC 8707 `resource`.
    pub(super) resource: Option<String>,
    /// Other form parameters (never `grant_type`, `client_*`, `scope`,
    /// `resource`: the builder refuses them).
    pub(super) extra: Vec<(String, String)>,
    /// The audience for logs: `resource`, else `audience`, else `-`.
    pub(super) audience_label: String,
    /// The configured refresh margin (`None`: min(30 s, 10 % of the lifetime)).
    pub(super) margin: Option<Duration>,
    pub(super) retry: RetryConfig,
    pub(super) http: TokenClient,
    /// Ask for DPoP-bound tokens, proving possession of this key (feature `dpop`).
    #[cfg(feature = "dpop")]
    pub(super) dpop: Option<super::dpop::DpopSigningKey>,
}

/// An error response (RFC 6749 §5.2).
#[derive(Deserialize)]
struct ErrorResponse {
    error: String,
    #[serde(default)]
    error_description: Option<String>,
}

impl TokenRequest {
    /// A new token, retried per [`RetryConfig`]. While `hold` (the
    /// endpoint's `Retry-After`) runs, fails at once with the error that set
    /// it; a failure with a `Retry-After` too long to wait out sets it.
    pub(super) async fn fetch(&self, hold: &RetryAfterHold) -> Result<Cached, TokenError> {
        if let Some((until, error)) = hold.active() {
            tracing::debug!(
                client_id = %self.client_id,
                wait_ms = u64::try_from(until.saturating_duration_since(Instant::now()).as_millis()).unwrap_or(u64::MAX),
                "token endpoint asked us to wait (Retry-After); not calling it yet"
            );
            return Err(error);
        }
        let started = Instant::now();
        let mut attempt = 1;
        loop {
            let mut error = match self.fetch_once().await {
                Ok(cached) => {
                    tracing::info!(
                        client_id = %self.client_id,
                        audience = %self.audience_label,
                        scopes = self.scope.as_deref().unwrap_or(""),
                        auth = self.auth.method(),
                        lifetime_s = cached.token.lifetime().as_secs(),
                        latency_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
                        attempts = attempt,
                        token = %cached.token.fingerprint(),
                        "client-credentials token obtained"
                    );
                    return Ok(cached);
                }
                Err(error) => error,
            };
            let wait = match self.retry.after_failure(attempt, &error) {
                AfterFailure::Retry { delay } => {
                    tracing::debug!(client_id = %self.client_id, %error, attempt, ?delay, "token request failed; retrying");
                    tokio::time::sleep(delay).await;
                    attempt += 1;
                    continue;
                }
                AfterFailure::GiveUp { hold } => hold,
            };
            if let TokenError::Fetch { attempts, .. } = &mut error {
                *attempts = attempt;
            }
            if let Some(wait) = wait {
                hold.set(wait, error.clone());
            }
            tracing::warn!(
                client_id = %self.client_id,
                audience = %self.audience_label,
                scopes = self.scope.as_deref().unwrap_or(""),
                latency_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
                attempts = attempt,
                retry_after_s = wait.map(|w| w.as_secs()),
                error = %error,
                "client-credentials token request failed"
            );
            return Err(error);
        }
    }

    /// One token request; with DPoP, a `use_dpop_nonce` answer carrying a
    /// `DPoP-Nonce` is retried once with that nonce (RFC 9449 §8).
    async fn fetch_once(&self) -> Result<Cached, TokenError> {
        match self.post().await {
            Err((error, true)) if error.oauth_error() == Some("use_dpop_nonce") => {
                tracing::debug!(client_id = %self.client_id, "token endpoint asked for a DPoP nonce; retrying once with it");
                self.post().await.map_err(|(e, _)| e)
            }
            other => other.map_err(|(e, _)| e),
        }
    }

    /// One POST to the token endpoint, never redirected. An error comes
    /// with whether the answer carried a new `DPoP-Nonce`.
    async fn post(&self) -> Result<Cached, (TokenError, bool)> {
        let credentials = self
            .auth
            .credentials(&self.client_id, &self.endpoint)
            .map_err(|e| (e, false))?;
        #[cfg(feature = "dpop")]
        let proof = match &self.dpop {
            // RFC 9449 §5: htm POST, htu the endpoint, no ath.
            Some(key) => Some(
                key.header(&http::Method::POST, &self.endpoint, None)
                    .map_err(|e| (e, false))?,
            ),
            None => None,
        };
        #[cfg(not(feature = "dpop"))]
        let proof = None;
        let dpop = proof.is_some();
        let fetch = |e| (TokenError::fetch(e), false);
        let mut form: Vec<(&str, &str)> = vec![("grant_type", "client_credentials")];
        if let Some(scope) = &self.scope {
            form.push(("scope", scope));
        }
        if let Some(resource) = &self.resource {
            form.push(("resource", resource));
        }
        form.extend(self.extra.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        form.extend(credentials.form.iter().map(|(k, v)| (*k, v.as_str())));
        let sent_at = Instant::now();
        // Never redirected: a 307/308 would re-send the credentials.
        let mut response = self
            .http
            .post_form_with(&self.endpoint, &form, credentials.authorization, proof)
            .await
            .map_err(fetch)?;
        #[cfg(feature = "dpop")]
        let new_nonce = self
            .dpop
            .as_ref()
            .is_some_and(|key| key.remember_nonce(&self.endpoint, response.headers()));
        #[cfg(not(feature = "dpop"))]
        let new_nonce = false;
        let status = response.status();
        let body = crate::http::read_capped(
            &mut response,
            self.http.http.max_response_bytes,
            &self.endpoint,
        )
        .await
        .map_err(fetch)?;
        if status.is_success() {
            return parse_success(&body, sent_at, dpop, |lifetime| self.margin_for(lifetime))
                .map_err(|e| (e, false));
        }
        let code = status.as_u16();
        if status.is_client_error() && code != 408 && code != 429 {
            if let Ok(e) = serde_json::from_slice::<ErrorResponse>(&body) {
                return Err((
                    TokenError::OAuth {
                        status: code,
                        error: e.error,
                        description: e.error_description,
                    },
                    new_nonce,
                ));
            }
        }
        Err(fetch(crate::http::status_error(
            code,
            response.headers(),
            &self.endpoint,
        )))
    }

    /// How long before expiry a token of `lifetime` is refreshed.
    fn margin_for(&self, lifetime: Duration) -> Duration {
        let default = (lifetime / 10).min(DEFAULT_MAX_MARGIN);
        let margin = self.margin.unwrap_or(default);
        if margin >= lifetime {
            lifetime / 2
        } else {
            margin
        }
    }
}
