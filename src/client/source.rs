//! [`ClientCredentials`]: the cached, refreshed-ahead token source, and its
//! request-path methods.

use std::fmt;
use std::sync::Arc;

use http::header;
use tokio::runtime::Handle;

use super::builder::ClientCredentialsBuilder;
use super::error::{SendError, TokenError};
use super::layer::BearerLayer;
use super::refresher;
use super::state::{Dropped, Shared, Wanted};
use super::token::AccessToken;
use crate::task::AbortOnDrop;

/// An OAuth 2.0 Client Credentials token source (RFC 6749 §4.4) for one
/// (audience, scopes) pair. Cheap to clone; clones share the cache.
///
/// See the [module documentation](super) for an example and the behaviour.
#[derive(Clone)]
pub struct ClientCredentials {
    shared: Arc<Shared>,
    /// The background refresher, stopped when the last clone is dropped.
    _refresher: Arc<AbortOnDrop>,
}

impl fmt::Debug for ClientCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let r = &self.shared.request;
        f.debug_struct("ClientCredentials")
            .field("client_id", &r.client_id)
            .field("token_endpoint", &r.endpoint.as_str())
            .field("auth", &r.auth)
            .field("scope", &r.scope)
            .field("audience", &r.audience_label)
            .field("has_token", &self.shared.cached().is_some())
            .finish_non_exhaustive()
    }
}

impl ClientCredentials {
    /// Start configuring the source for the client `client_id`.
    pub fn builder(client_id: impl Into<String>) -> ClientCredentialsBuilder {
        ClientCredentialsBuilder::new(client_id.into())
    }

    /// A source over `shared`, its refresher running on `runtime`.
    pub(super) fn start(shared: Shared, runtime: &Handle) -> Self {
        let shared = Arc::new(shared);
        let refresher = refresher::spawn(&shared, runtime);
        ClientCredentials {
            shared,
            _refresher: Arc::new(refresher),
        }
    }

    /// The client id.
    pub fn client_id(&self) -> &str {
        &self.shared.request.client_id
    }

    /// The token endpoint in use.
    pub fn token_endpoint(&self) -> &str {
        self.shared.request.endpoint.as_str()
    }

    /// A valid access token: the cached one, or a new one.
    ///
    /// The hot path is one atomic load. Tokens are refreshed in the
    /// background before they expire, so callers normally never wait;
    /// callers that find no valid token share one request (single flight).
    ///
    /// # Errors
    /// When no valid token is cached and the request fails: see [`TokenError`].
    pub async fn token(&self) -> Result<AccessToken, TokenError> {
        if let Some(token) = self.shared.valid_token() {
            return Ok(token);
        }
        self.shared.fetch_shared(Wanted::Valid).await
    }

    /// Fetch a new token now, replacing the cached one (single flight:
    /// concurrent calls share one request).
    ///
    /// # Errors
    /// As [`token`](Self::token).
    pub async fn refresh_now(&self) -> Result<AccessToken, TokenError> {
        let wanted = match self.shared.cached() {
            Some(current) => Wanted::Replacing(current.token.clone()),
            // Nothing to replace: a token another caller fetched meanwhile
            // is new enough.
            None => Wanted::Valid,
        };
        self.shared.fetch_shared(wanted).await
    }

    /// Drop `token` from the cache if it is still the cached one, for
    /// example after a downstream answered 401 `invalid_token` for it (the
    /// IdP revoked it, or keys rotated). The next call fetches a new token.
    ///
    /// At most once per
    /// [`invalid_token_cooldown`](ClientCredentialsBuilder::invalid_token_cooldown)
    /// (default 10 s): within it the token stays cached, so a downstream that
    /// refuses every token cannot turn each call into a token request. Use
    /// [`refresh_now`](Self::refresh_now) to replace a token unconditionally.
    ///
    /// Returns whether the token was dropped.
    pub fn invalidate(&self, token: &AccessToken) -> bool {
        self.shared.drop_rejected(token) == Dropped::Now
    }

    /// Add `Authorization: Bearer …` (marked sensitive) to a reqwest request.
    ///
    /// ```no_run
    /// # async fn run(source: oauth2_guard::client::ClientCredentials) -> Result<(), Box<dyn std::error::Error>> {
    /// let http = reqwest::Client::new();
    /// let response = source.authorize(http.post("https://orders.internal/orders")).await?.send().await?;
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// When no token can be obtained.
    pub async fn authorize(
        &self,
        request: reqwest::RequestBuilder,
    ) -> Result<reqwest::RequestBuilder, TokenError> {
        let token = self.token().await?;
        self.authorized(request, &token)
    }

    /// `request` with `token` (and, for a DPoP-bound token, a fresh proof
    /// for its method and URL).
    fn authorized(
        &self,
        request: reqwest::RequestBuilder,
        token: &AccessToken,
    ) -> Result<reqwest::RequestBuilder, TokenError> {
        #[cfg(feature = "dpop")]
        if let (true, Some(key)) = (token.is_dpop(), &self.shared.request.dpop) {
            let (client, built) = request.build_split();
            let mut built =
                built.map_err(|_| TokenError::dpop("the request cannot be built to sign it"))?;
            let (name, proof) = key.header(built.method(), built.url(), Some(token.secret()))?;
            built
                .headers_mut()
                .insert(header::AUTHORIZATION, token.header_value());
            built.headers_mut().insert(name, proof);
            return Ok(reqwest::RequestBuilder::from_parts(client, built));
        }
        Ok(request.header(header::AUTHORIZATION, token.header_value()))
    }

    /// The DPoP key, when DPoP-bound tokens are requested.
    #[cfg(feature = "dpop")]
    pub(super) fn dpop_key(&self) -> Option<&super::DpopSigningKey> {
        self.shared.request.dpop.as_ref()
    }

    /// Authorize and send a reqwest request; when the downstream answers 401
    /// with `error="invalid_token"`, drop the cached token and retry once
    /// with a new one (only if the request can be cloned, i.e. its body is
    /// not a stream).
    ///
    /// The token is dropped at most once per
    /// [`invalid_token_cooldown`](ClientCredentialsBuilder::invalid_token_cooldown)
    /// (default 10 s): within it, a 401 `invalid_token` for the cached token
    /// is returned as is, without a token request, so a downstream that
    /// refuses every token costs the IdP one token request per cooldown,
    /// not one per call.
    ///
    /// # Errors
    /// [`SendError::Token`] when no token can be obtained,
    /// [`SendError::Request`] when reqwest fails. HTTP error statuses are
    /// responses, not errors.
    pub async fn send(
        &self,
        request: reqwest::RequestBuilder,
    ) -> Result<reqwest::Response, SendError> {
        let token = self.token().await.map_err(SendError::Token)?;
        let retry = request.try_clone();
        let response = self
            .authorized(request, &token)
            .map_err(SendError::Token)?
            .send()
            .await
            .map_err(SendError::Request)?;
        #[cfg(feature = "dpop")]
        if let Some(key) = self.dpop_key().filter(|_| token.is_dpop()) {
            let new_nonce = key.remember_nonce(response.url(), response.headers());
            if new_nonce && super::dpop::is_use_dpop_nonce(response.status(), response.headers()) {
                // RFC 9449 §9: once, with the nonce just received.
                let Some(retry) = retry else {
                    return Ok(response);
                };
                return self
                    .authorized(retry, &token)
                    .map_err(SendError::Token)?
                    .send()
                    .await
                    .map_err(SendError::Request);
            }
        }
        if !is_invalid_token(response.status(), response.headers()) {
            return Ok(response);
        }
        if self.shared.drop_rejected(&token) == Dropped::Throttled {
            return Ok(response);
        }
        let Some(retry) = retry else {
            return Ok(response);
        };
        let r = &self.shared.request;
        tracing::info!(client_id = %r.client_id, audience = %r.audience_label, "downstream refused the token (invalid_token); retrying once with a new token");
        let token = self.token().await.map_err(SendError::Token)?;
        self.authorized(retry, &token)
            .map_err(SendError::Token)?
            .send()
            .await
            .map_err(SendError::Request)
    }

    /// A tower [`Layer`](tower_layer::Layer) that authorizes every request
    /// of the wrapped client with this source.
    pub fn layer(&self) -> BearerLayer {
        BearerLayer::new(self.clone())
    }

    /// A tower layer for a tonic `Channel`: every call carries a Bearer
    /// token from this source, and a unary call refused with
    /// `UNAUTHENTICATED` is retried once with a new one (feature `grpc`).
    ///
    /// # Errors
    /// [`ConfigError::ConflictingSettings`](crate::ConfigError::ConflictingSettings)
    /// when this source asks for DPoP-bound tokens: the gRPC layer is
    /// Bearer-only (see [`GrpcBearerLayer`](super::GrpcBearerLayer#dpop)).
    #[cfg(feature = "grpc")]
    #[cfg_attr(docsrs, doc(cfg(feature = "grpc")))]
    pub fn grpc_layer(&self) -> Result<super::GrpcBearerLayer, crate::ConfigError> {
        super::GrpcBearerLayer::new(self.clone())
    }
}

/// Whether a downstream response is RFC 6750 `invalid_token`.
pub(crate) fn is_invalid_token(status: http::StatusCode, headers: &http::HeaderMap) -> bool {
    status == http::StatusCode::UNAUTHORIZED
        && headers.get_all(header::WWW_AUTHENTICATE).iter().any(|v| {
            v.to_str().is_ok_and(|v| {
                let v = v.trim_start();
                let scheme = v.split(' ').next().unwrap_or("");
                (scheme.eq_ignore_ascii_case("bearer") || scheme.eq_ignore_ascii_case("dpop"))
                    && v.contains("error=\"invalid_token\"")
            })
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    #[test]
    fn invalid_token_detection() {
        let mut h = http::HeaderMap::new();
        h.insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Bearer realm=\"x\", error=\"invalid_token\""),
        );
        assert!(is_invalid_token(http::StatusCode::UNAUTHORIZED, &h));
        assert!(!is_invalid_token(http::StatusCode::FORBIDDEN, &h));
        h.insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Bearer realm=\"x\""),
        );
        assert!(!is_invalid_token(http::StatusCode::UNAUTHORIZED, &h));
    }
}
