//! [`ClientCredentials`]: the cached, refreshed-ahead token source.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::time::{Duration, Instant};

use arc_swap::ArcSwapOption;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use http::{header, HeaderValue};
use jsonwebtoken::Algorithm;
use serde::Deserialize;
use tokio::sync::Notify;
use url::Url;

use super::auth::ClientAuth;
use super::error::TokenError;
use super::secret::{SecretReader, SecretSource};
use crate::claims::Fingerprint;
use crate::discovery::ProviderMetadata;
use crate::error::ConfigError;
use crate::http::{HttpClient, HttpConfig};
use crate::sync::lock;

/// Default cap on the refresh margin: a token is refreshed at the latest
/// 30 s before it expires (earlier for short-lived tokens: 10 % of the
/// lifetime, whichever is smaller).
pub const DEFAULT_MAX_MARGIN: Duration = Duration::from_secs(30);

/// Default [`invalid_token_cooldown`](ClientCredentialsBuilder::invalid_token_cooldown):
/// a downstream's 401 `invalid_token` drops the cached token at most once
/// per 10 s.
pub const DEFAULT_INVALID_TOKEN_COOLDOWN: Duration = Duration::from_secs(10);

/// Lifetime assumed when the endpoint sends neither `expires_in` nor a JWT
/// with `exp`: short, so a token of unknown lifetime is not kept for long.
const UNKNOWN_LIFETIME: Duration = Duration::from_secs(60);

/// A token is cached at most this long, whatever its lifetime (and no
/// `expires_in` can overflow the clock).
const MAX_CACHED_LIFETIME: Duration = Duration::from_secs(24 * 60 * 60);

/// Retries of a token request that failed for a transient reason (network,
/// timeout, 5xx, 408, 429): exponential backoff with jitter, bounded.
///
/// | setting | default | why |
/// |---|---|---|
/// | `max_attempts` | 4 | rides out a restart of the IdP without stalling callers for long |
/// | `initial_backoff` | 100 ms | first retry soon |
/// | `max_backoff` | 2 s | bounded: a caller waits at most about 3.5 s of backoff plus the request timeouts |
/// | `max_retry_after` | 60 s | a rate-limited endpoint is asked again no sooner than it said, but a hostile or broken `Retry-After` cannot stop token requests for longer than this |
///
/// Each delay is drawn uniformly from [d/2, d] where d doubles per attempt
/// ("equal jitter"), so many instances do not retry in lockstep. OAuth
/// errors (4xx with an `error` code) are never retried.
///
/// A 429 or 503 answer with `Retry-After` is honoured: when the wait fits in
/// `max_backoff` the request is retried after it; when it is longer, the
/// request fails at once with that error ([`TokenError::retry_after`]), and
/// until the wait (capped at `max_retry_after`) is over, further token
/// requests fail the same way without reaching the endpoint, while a cached
/// token that is still valid keeps being served.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryConfig {
    max_attempts: u32,
    initial_backoff: Duration,
    max_backoff: Duration,
    max_retry_after: Duration,
}

impl Default for RetryConfig {
    fn default() -> Self {
        RetryConfig {
            max_attempts: 4,
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(2),
            max_retry_after: Duration::from_secs(60),
        }
    }
}

impl RetryConfig {
    /// Total attempts per token request, first one included (1 = no retry).
    pub fn max_attempts(mut self, n: u32) -> Self {
        self.max_attempts = n;
        self
    }

    /// The delay before the first retry (before jitter).
    pub fn initial_backoff(mut self, d: Duration) -> Self {
        self.initial_backoff = d;
        self
    }

    /// The cap on any one delay.
    pub fn max_backoff(mut self, d: Duration) -> Self {
        self.max_backoff = d;
        self
    }

    /// The longest `Retry-After` honoured; longer ones are cut to this.
    pub fn max_retry_after(mut self, d: Duration) -> Self {
        self.max_retry_after = d;
        self
    }

    fn delay(&self, attempt: u32) -> Duration {
        let d = crate::http::exponential_backoff(self.initial_backoff, self.max_backoff, attempt);
        let half = d / 2;
        half + half.mul_f64(crate::http::jitter_unit())
    }
}

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
}

impl AccessToken {
    /// The token itself. Handle with care: never log it.
    pub fn secret(&self) -> &str {
        &self.0.value
    }

    /// `Bearer <token>`, marked sensitive (HTTP/2 never indexes it; tower
    /// and hyper logging skip it).
    pub fn header_value(&self) -> HeaderValue {
        self.0.header.clone()
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

    fn same(&self, other: &AccessToken) -> bool {
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

struct Cached {
    token: AccessToken,
    refresh_at: Instant,
}

/// An OAuth 2.0 Client Credentials token source (RFC 6749 §4.4) for one
/// (audience, scopes) pair. Cheap to clone; clones share the cache.
///
/// See the [module documentation](super) for an example and the behaviour.
#[derive(Clone)]
pub struct ClientCredentials {
    inner: Arc<Inner>,
}

struct Inner {
    client_id: Arc<str>,
    endpoint: Url,
    auth: ClientAuth,
    scope: Option<String>,
    resource: Option<String>,
    extra: Vec<(String, String)>,
    audience_label: String,
    margin: Option<Duration>,
    retry: RetryConfig,
    http: HttpClient,
    cache: ArcSwapOption<Cached>,
    /// A rejected token is dropped at most once per this long.
    invalid_token_cooldown: Duration,
    /// When a rejected token was last dropped.
    last_forced: Mutex<Option<Instant>>,
    /// Single flight: one token request at a time per source.
    fetch_lock: tokio::sync::Mutex<()>,
    /// Outcomes so far, and the last failure, shared with waiting callers.
    generation: AtomicU64,
    last_error: Mutex<Option<TokenError>>,
    /// The endpoint asked us (`Retry-After`) not to call before this
    /// instant; token requests until then fail with this error.
    rate_limited: Mutex<Option<(Instant, TokenError)>>,
    wake: Arc<Notify>,
    task: Mutex<Option<tokio::task::AbortHandle>>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        if let Some(task) = self
            .task
            .get_mut()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
        {
            task.abort();
        }
    }
}

impl fmt::Debug for ClientCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let i = &self.inner;
        f.debug_struct("ClientCredentials")
            .field("client_id", &i.client_id)
            .field("token_endpoint", &i.endpoint.as_str())
            .field("auth", &i.auth)
            .field("scope", &i.scope)
            .field("audience", &i.audience_label)
            .field("has_token", &i.cache.load().is_some())
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

/// An error response (RFC 6749 §5.2).
#[derive(Deserialize)]
struct ErrorResponse {
    error: String,
    #[serde(default)]
    error_description: Option<String>,
}

impl ClientCredentials {
    /// Start configuring the source for the client `client_id`.
    pub fn builder(client_id: impl Into<String>) -> ClientCredentialsBuilder {
        ClientCredentialsBuilder {
            client_id: client_id.into(),
            endpoint: None,
            auth: None,
            scopes: Vec::new(),
            resource: None,
            extra: Vec::new(),
            margin: None,
            retry: RetryConfig::default(),
            http: HttpConfig::default(),
            invalid_token_cooldown: DEFAULT_INVALID_TOKEN_COOLDOWN,
        }
    }

    /// The client id.
    pub fn client_id(&self) -> &str {
        &self.inner.client_id
    }

    /// The token endpoint in use.
    pub fn token_endpoint(&self) -> &str {
        self.inner.endpoint.as_str()
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
        if let Some(cached) = self.inner.cache.load().as_ref() {
            if Instant::now() < cached.token.expires_at() {
                return Ok(cached.token.clone());
            }
        }
        self.inner.fetch_shared(None).await
    }

    /// Fetch a new token now, replacing the cached one (single flight:
    /// concurrent calls share one request).
    ///
    /// # Errors
    /// As [`token`](Self::token).
    pub async fn refresh_now(&self) -> Result<AccessToken, TokenError> {
        let current = self.inner.cache.load_full().map(|c| c.token.clone());
        self.inner.fetch_shared(Some(current)).await
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
        self.inner.drop_rejected(token) == Dropped::Now
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
        Ok(request.header(header::AUTHORIZATION, token.header_value()))
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
    /// [`SendError::Token`](super::SendError::Token) when no token can be
    /// obtained, [`SendError::Request`](super::SendError::Request) when
    /// reqwest fails. HTTP error statuses are responses, not errors.
    pub async fn send(
        &self,
        request: reqwest::RequestBuilder,
    ) -> Result<reqwest::Response, super::SendError> {
        use super::SendError;
        let token = self.token().await.map_err(SendError::Token)?;
        let retry = request.try_clone();
        let response = request
            .header(header::AUTHORIZATION, token.header_value())
            .send()
            .await
            .map_err(SendError::Request)?;
        if !is_invalid_token(response.status(), response.headers()) {
            return Ok(response);
        }
        if self.inner.drop_rejected(&token) == Dropped::Throttled {
            return Ok(response);
        }
        let Some(retry) = retry else {
            return Ok(response);
        };
        tracing::info!(client_id = %self.inner.client_id, audience = %self.inner.audience_label, "downstream refused the token (invalid_token); retrying once with a new token");
        let token = self.token().await.map_err(SendError::Token)?;
        retry
            .header(header::AUTHORIZATION, token.header_value())
            .send()
            .await
            .map_err(SendError::Request)
    }

    /// A tower [`Layer`](tower_layer::Layer) that authorizes every request
    /// of the wrapped client with this source.
    pub fn layer(&self) -> super::BearerLayer {
        super::BearerLayer::new(self.clone())
    }
}

/// Whether a downstream response is RFC 6750 `invalid_token`.
pub(crate) fn is_invalid_token(status: http::StatusCode, headers: &http::HeaderMap) -> bool {
    status == http::StatusCode::UNAUTHORIZED
        && headers.get_all(header::WWW_AUTHENTICATE).iter().any(|v| {
            v.to_str().is_ok_and(|v| {
                let v = v.trim_start();
                v.len() > 6
                    && v[..6].eq_ignore_ascii_case("bearer")
                    && v.contains("error=\"invalid_token\"")
            })
        })
}

/// What [`Inner::drop_rejected`] did with a token a downstream refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Dropped {
    /// Dropped now: the next call fetches a new token.
    Now,
    /// Not the cached token any more (another caller replaced or dropped it).
    AlreadyGone,
    /// Still cached: a token was dropped less than the cooldown ago.
    Throttled,
}

impl Inner {
    /// Drop a token a downstream refused, at most once per cooldown.
    fn drop_rejected(&self, token: &AccessToken) -> Dropped {
        let current = self.cache.load_full();
        if !current.as_ref().is_some_and(|c| c.token.same(token)) {
            return Dropped::AlreadyGone;
        }
        {
            let mut last = lock(&self.last_forced);
            if last.is_some_and(|t| t.elapsed() < self.invalid_token_cooldown) {
                tracing::debug!(
                    client_id = %self.client_id,
                    audience = %self.audience_label,
                    token = %token.fingerprint(),
                    "downstream refused the token again within the cooldown; keeping it"
                );
                return Dropped::Throttled;
            }
            *last = Some(Instant::now());
        }
        self.cache.compare_and_swap(&current, None);
        tracing::info!(client_id = %self.client_id, audience = %self.audience_label, "cached client-credentials token dropped");
        Dropped::Now
    }

    fn margin_for(&self, lifetime: Duration) -> Duration {
        let default = (lifetime / 10).min(DEFAULT_MAX_MARGIN);
        let margin = self.margin.unwrap_or(default);
        if margin >= lifetime {
            lifetime / 2
        } else {
            margin
        }
    }

    /// Single flight. `replace`: `Some(current)` forces a new token unless
    /// another caller already replaced `current` while we waited.
    async fn fetch_shared(
        self: &Arc<Self>,
        replace: Option<Option<AccessToken>>,
    ) -> Result<AccessToken, TokenError> {
        let generation = self.generation.load(Ordering::SeqCst);
        let _flight = self.fetch_lock.lock().await;
        if let Some(cached) = self.cache.load().as_ref() {
            let replaced = match &replace {
                None => false,
                Some(Some(old)) => cached.token.same(old),
                Some(None) => false,
            };
            if !replaced && Instant::now() < cached.token.expires_at() {
                return Ok(cached.token.clone());
            }
        }
        if self.generation.load(Ordering::SeqCst) != generation {
            // A request finished while we waited; share its failure.
            if let Some(error) = lock(&self.last_error).clone() {
                return Err(error);
            }
        }
        let outcome = self.fetch_with_retry().await;
        self.finish(outcome)
    }

    fn finish(&self, outcome: Result<Cached, TokenError>) -> Result<AccessToken, TokenError> {
        let result = match outcome {
            Ok(cached) => {
                let token = cached.token.clone();
                self.cache.store(Some(Arc::new(cached)));
                self.wake.notify_one();
                *lock(&self.last_error) = None;
                Ok(token)
            }
            Err(error) => {
                *lock(&self.last_error) = Some(error.clone());
                Err(error)
            }
        };
        self.generation.fetch_add(1, Ordering::SeqCst);
        result
    }

    /// The error to answer with while the endpoint's `Retry-After` runs.
    fn rate_limited(&self) -> Option<(Instant, TokenError)> {
        lock(&self.rate_limited)
            .clone()
            .filter(|(until, _)| Instant::now() < *until)
    }

    async fn fetch_with_retry(&self) -> Result<Cached, TokenError> {
        if let Some((until, error)) = self.rate_limited() {
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
            match self.fetch_once().await {
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
                Err(mut error) => {
                    // The server's own wait, if any, within our cap.
                    let wait = error
                        .retry_after()
                        .map(|d| d.min(self.retry.max_retry_after));
                    let retry = error.is_transient()
                        && attempt < self.retry.max_attempts
                        && wait.is_none_or(|w| w <= self.retry.max_backoff);
                    if retry {
                        let delay = self.retry.delay(attempt).max(wait.unwrap_or_default());
                        tracing::debug!(client_id = %self.client_id, %error, attempt, ?delay, "token request failed; retrying");
                        tokio::time::sleep(delay).await;
                        attempt += 1;
                        continue;
                    }
                    if let TokenError::Fetch { attempts, .. } = &mut error {
                        *attempts = attempt;
                    }
                    if let Some(wait) = wait {
                        *lock(&self.rate_limited) =
                            Some((crate::http::deadline_after(wait), error.clone()));
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
        }
    }

    async fn fetch_once(&self) -> Result<Cached, TokenError> {
        let credentials = self.auth.credentials(&self.client_id, &self.endpoint)?;
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
            .post_form(&self.endpoint, &form, credentials.authorization)
            .await
            .map_err(TokenError::fetch)?;
        let status = response.status();
        let body =
            crate::http::read_capped(&mut response, self.http.max_response_bytes, &self.endpoint)
                .await
                .map_err(TokenError::fetch)?;
        if status.is_success() {
            return parse_success(&body, sent_at, |lifetime| self.margin_for(lifetime));
        }
        let code = status.as_u16();
        if status.is_client_error() && code != 408 && code != 429 {
            if let Ok(e) = serde_json::from_slice::<ErrorResponse>(&body) {
                return Err(TokenError::OAuth {
                    status: code,
                    error: e.error,
                    description: e.error_description,
                });
            }
        }
        Err(TokenError::fetch(crate::http::status_error(
            code,
            response.headers(),
            &self.endpoint,
        )))
    }
}

fn parse_success(
    body: &[u8],
    sent_at: Instant,
    margin: impl Fn(Duration) -> Duration,
) -> Result<Cached, TokenError> {
    let response: TokenResponse =
        serde_json::from_slice(body).map_err(|_| TokenError::InvalidResponse {
            reason: "not a JSON token response with access_token and token_type",
        })?;
    if !response.token_type.eq_ignore_ascii_case("bearer") {
        return Err(TokenError::InvalidResponse {
            reason: "token_type is not Bearer",
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
        HeaderValue::try_from(format!("Bearer {}", response.access_token)).map_err(|_| {
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

/// The background refresher: wakes at each token's refresh time, fetches a
/// new one through the single flight, and on failure keeps the cached token
/// (with a warning) and retries with backoff until it expires.
async fn refresher(weak: Weak<Inner>, wake: Arc<Notify>) {
    let mut next_attempt: Option<Instant> = None;
    loop {
        let wait = {
            let Some(inner) = weak.upgrade() else { return };
            let now = Instant::now();
            match inner.cache.load().as_ref() {
                Some(c) if now < c.token.expires_at() => {
                    let at = next_attempt.map_or(c.refresh_at, |n| n.max(c.refresh_at));
                    Some(at.saturating_duration_since(now))
                }
                // Nothing to refresh: callers fetch in the foreground.
                _ => None,
            }
        };
        match wait {
            None => {
                next_attempt = None;
                wake.notified().await;
                continue;
            }
            Some(wait) if !wait.is_zero() => {
                tokio::select! {
                    () = tokio::time::sleep(wait) => {}
                    () = wake.notified() => { next_attempt = None; continue; }
                }
            }
            Some(_) => {}
        }
        let Some(inner) = weak.upgrade() else { return };
        let current = match inner.cache.load_full() {
            Some(c) if Instant::now() >= c.refresh_at => c,
            _ => continue,
        };
        let _flight = inner.fetch_lock.lock().await;
        if !inner
            .cache
            .load()
            .as_ref()
            .is_some_and(|c| c.token.same(&current.token))
        {
            continue; // someone else refreshed it
        }
        let outcome = inner.fetch_with_retry().await;
        match outcome {
            Ok(cached) => {
                next_attempt = None;
                inner.cache.store(Some(Arc::new(cached)));
                *lock(&inner.last_error) = None;
                inner.generation.fetch_add(1, Ordering::SeqCst);
            }
            Err(error) => {
                let remaining = current
                    .token
                    .expires_at()
                    .saturating_duration_since(Instant::now());
                let backoff = (remaining / 4).clamp(
                    Duration::from_millis(100),
                    inner.retry.max_backoff.max(Duration::from_millis(100)),
                );
                // Never sooner than the endpoint's Retry-After.
                let earliest = inner.rate_limited().map(|(until, _)| until);
                next_attempt = Some(
                    crate::http::deadline_after(backoff).max(earliest.unwrap_or(Instant::now())),
                );
                tracing::warn!(
                    client_id = %inner.client_id,
                    audience = %inner.audience_label,
                    error = %error,
                    remaining_s = remaining.as_secs(),
                    "token refresh failed; keeping the cached token until it expires"
                );
            }
        }
    }
}

/// Builds a [`ClientCredentials`] source.
///
/// | setting | default | why |
/// |---|---|---|
/// | token endpoint | required: [`issuer`](Self::issuer) (discovered) or [`token_endpoint`](Self::token_endpoint) | discovery keeps the endpoint in the IdP's hands |
/// | client auth | required: [`client_secret`](Self::client_secret) (`client_secret_basic`), [`client_secret_post`](Self::client_secret_post) or [`private_key_jwt`](Self::private_key_jwt) | `private_key_jwt` puts no shared secret on the wire |
/// | scopes | none | ask for the least you need |
/// | audience | none | set [`resource`](Self::resource) (RFC 8707) or Auth0's [`audience`](Self::audience): a token for B must never reach C |
/// | refresh margin | min(30 s, 10 % of lifetime) | refresh ahead so callers never wait |
/// | retry | [`RetryConfig::default`] | bounded backoff with jitter |
/// | [`invalid_token_cooldown`](Self::invalid_token_cooldown) | 10 s | a downstream's 401 `invalid_token` forces at most one new token per cooldown: a misbehaving downstream cannot turn every call into a token request |
/// | http | [`HttpConfig::default`] | 5 s timeout, HTTPS only (loopback HTTP: [`HttpConfig::allow_loopback_http`]); token requests never follow redirects |
#[derive(Clone)]
pub struct ClientCredentialsBuilder {
    client_id: String,
    endpoint: Option<Endpoint>,
    auth: Option<AuthConfig>,
    scopes: Vec<String>,
    resource: Option<String>,
    extra: Vec<(String, String)>,
    margin: Option<Duration>,
    retry: RetryConfig,
    http: HttpConfig,
    invalid_token_cooldown: Duration,
}

#[derive(Clone, Debug)]
enum Endpoint {
    Issuer(String),
    Direct(String),
}

#[derive(Clone, Debug)]
enum AuthConfig {
    Basic(SecretSource),
    Post(SecretSource),
    Jwt {
        key: SecretSource,
        alg: Algorithm,
        kid: Option<String>,
    },
}

impl fmt::Debug for ClientCredentialsBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientCredentialsBuilder")
            .field("client_id", &self.client_id)
            .field("endpoint", &self.endpoint)
            .field("auth", &self.auth)
            .field("scopes", &self.scopes)
            .field("resource", &self.resource)
            .field(
                "extra",
                &self.extra.iter().map(|(k, _)| k).collect::<Vec<_>>(),
            )
            .finish_non_exhaustive()
    }
}

impl ClientCredentialsBuilder {
    /// Discover the token endpoint from this issuer (OIDC discovery, then RFC 8414).
    pub fn issuer(mut self, issuer: impl Into<String>) -> Self {
        self.endpoint = Some(Endpoint::Issuer(issuer.into()));
        self
    }

    /// Use this token endpoint; no discovery. Held to the HTTPS policy of
    /// [`http`](Self::http); no userinfo or fragment, a query is allowed
    /// (RFC 6749 §3.2).
    pub fn token_endpoint(mut self, url: impl Into<String>) -> Self {
        self.endpoint = Some(Endpoint::Direct(url.into()));
        self
    }

    /// Authenticate with `client_secret_basic` (RFC 6749 §2.3.1; id and
    /// secret form-urlencoded, then base64 in `Authorization: Basic`).
    pub fn client_secret(mut self, secret: impl Into<SecretSource>) -> Self {
        self.auth = Some(AuthConfig::Basic(secret.into()));
        self
    }

    /// Authenticate with `client_secret_post` (id and secret in the body),
    /// for servers that do not accept Basic.
    pub fn client_secret_post(mut self, secret: impl Into<SecretSource>) -> Self {
        self.auth = Some(AuthConfig::Post(secret.into()));
        self
    }

    /// Authenticate with `private_key_jwt` (RFC 7523): each request carries
    /// an assertion signed with this service's private key (PKCS#8 PEM;
    /// RSA for `RS*`/`PS*`, P-256/P-384 for `ES256`/`ES384`, Ed25519 for
    /// `EdDSA`), valid for 60 s, with a fresh `jti`. No shared secret
    /// crosses the wire. `kid` names the key in the IdP's registration.
    pub fn private_key_jwt(
        mut self,
        private_key_pem: impl Into<SecretSource>,
        alg: Algorithm,
        kid: Option<&str>,
    ) -> Self {
        self.auth = Some(AuthConfig::Jwt {
            key: private_key_pem.into(),
            alg,
            kid: kid.map(str::to_owned),
        });
        self
    }

    /// Request this scope (may be called several times).
    pub fn scope(mut self, scope: impl Into<String>) -> Self {
        self.scopes.push(scope.into());
        self
    }

    /// Request these scopes.
    pub fn scopes<I, S>(mut self, scopes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.scopes.extend(scopes.into_iter().map(Into::into));
        self
    }

    /// The target service, as an RFC 8707 `resource` indicator (an absolute
    /// URI for most servers; Keycloak and node-oidc-provider accept it).
    pub fn resource(mut self, resource: impl Into<String>) -> Self {
        self.resource = Some(resource.into());
        self
    }

    /// The target service as Auth0's `audience` parameter.
    pub fn audience(self, audience: impl Into<String>) -> Self {
        self.extra_param("audience", audience)
    }

    /// Any other form parameter sent with each token request (a vendor's
    /// audience parameter, `claims`, ...). Later values of one name replace
    /// earlier ones. Not shown in `Debug`.
    pub fn extra_param(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        let name = name.into();
        self.extra.retain(|(k, _)| *k != name);
        self.extra.push((name, value.into()));
        self
    }

    /// Refresh this long before expiry (default min(30 s, 10 % of the
    /// lifetime); a margin longer than the lifetime means half of it).
    pub fn refresh_margin(mut self, margin: Duration) -> Self {
        self.margin = Some(margin);
        self
    }

    /// Retry settings for transient failures.
    pub fn retry(mut self, retry: RetryConfig) -> Self {
        self.retry = retry;
        self
    }

    /// HTTP settings for discovery and token requests (replaces the whole
    /// [`HttpConfig`], the loopback opt-in included).
    pub fn http(mut self, http: HttpConfig) -> Self {
        self.http = http;
        self
    }

    /// After a downstream answers 401 `invalid_token`, the cached token is
    /// dropped (and [`send`](ClientCredentials::send) retries with a new one)
    /// at most once per `cooldown` (default
    /// [`DEFAULT_INVALID_TOKEN_COOLDOWN`], 10 s). Within it, such answers are
    /// returned as they are and the token stays cached.
    ///
    /// # Security
    /// A downstream that refuses every token (misconfigured audience, a bug,
    /// or hostile) would otherwise cause one token request per call and get
    /// the client rate-limited or locked out at the IdP. `Duration::ZERO`
    /// removes the bound.
    pub fn invalid_token_cooldown(mut self, cooldown: Duration) -> Self {
        self.invalid_token_cooldown = cooldown;
        self
    }

    /// Build the source: discover the token endpoint if needed and read the
    /// credential once (so a missing file fails here, not at the first
    /// request). No token is requested until the first call.
    ///
    /// # Errors
    /// No endpoint or no client authentication configured, an invalid or
    /// non-HTTPS URL, failed discovery, an unreadable secret or unusable
    /// key, a reserved parameter in `extra_param`, or no Tokio runtime.
    pub async fn build(self) -> Result<ClientCredentials, ConfigError> {
        let http = self.http.build()?;
        if self.client_id.is_empty() {
            return Err(ConfigError::OutOfRange {
                setting: "client_id",
                reason: "must not be empty",
            });
        }
        const RESERVED: [&str; 7] = [
            "grant_type",
            "client_id",
            "client_secret",
            "client_assertion",
            "client_assertion_type",
            "scope",
            "resource",
        ];
        if self
            .extra
            .iter()
            .any(|(k, _)| RESERVED.contains(&k.as_str()))
        {
            return Err(ConfigError::OutOfRange {
                setting: "extra_param",
                reason: "grant_type, client_*, scope and resource are set by their own methods",
            });
        }
        let auth = match self.auth {
            Some(AuthConfig::Basic(s)) => ClientAuth::Basic(SecretReader::new(s)),
            Some(AuthConfig::Post(s)) => ClientAuth::Post(SecretReader::new(s)),
            Some(AuthConfig::Jwt { key, alg, kid }) => ClientAuth::private_key_jwt(key, alg, kid)?,
            None => {
                return Err(ConfigError::OutOfRange {
                    setting: "client authentication",
                    reason: "set client_secret, client_secret_post or private_key_jwt",
                })
            }
        };
        auth.check()?;
        let endpoint = match self.endpoint {
            Some(Endpoint::Direct(url)) => http.check_url(&url)?,
            Some(Endpoint::Issuer(issuer)) => {
                let meta = ProviderMetadata::discover(&http, &issuer).await?;
                match meta.token_endpoint.as_deref() {
                    Some(url) => http.check_url(url)?,
                    None => return Err(ConfigError::NoTokenEndpoint { issuer }),
                }
            }
            None => {
                return Err(ConfigError::OutOfRange {
                    setting: "token endpoint",
                    reason: "set issuer (discovery) or token_endpoint",
                })
            }
        };
        let runtime = tokio::runtime::Handle::try_current().map_err(|_| ConfigError::NoRuntime)?;
        let audience_label = self
            .resource
            .clone()
            .or_else(|| {
                self.extra
                    .iter()
                    .find(|(k, _)| k == "audience")
                    .map(|(_, v)| v.clone())
            })
            .unwrap_or_else(|| "-".to_owned());
        let scope = (!self.scopes.is_empty()).then(|| self.scopes.join(" "));
        let wake = Arc::new(Notify::new());
        let inner = Arc::new(Inner {
            client_id: self.client_id.into(),
            endpoint,
            auth,
            scope,
            resource: self.resource,
            extra: self.extra,
            audience_label,
            margin: self.margin,
            retry: RetryConfig {
                max_attempts: self.retry.max_attempts.max(1),
                ..self.retry
            },
            http,
            cache: ArcSwapOption::empty(),
            invalid_token_cooldown: self.invalid_token_cooldown,
            last_forced: Mutex::new(None),
            fetch_lock: tokio::sync::Mutex::new(()),
            generation: AtomicU64::new(0),
            last_error: Mutex::new(None),
            rate_limited: Mutex::new(None),
            wake: wake.clone(),
            task: Mutex::new(None),
        });
        let task = runtime.spawn(refresher(Arc::downgrade(&inner), wake));
        *lock(&inner.task) = Some(task.abort_handle());
        Ok(ClientCredentials { inner })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_is_bounded_and_jittered() {
        let r = RetryConfig::default();
        for attempt in 1..20 {
            let d = r.delay(attempt);
            assert!(d <= r.max_backoff, "{d:?}");
        }
        let first = r.delay(1);
        assert!(first >= Duration::from_millis(50) && first <= Duration::from_millis(100));
    }

    #[test]
    fn response_parsing() {
        let now = Instant::now();
        let c = parse_success(
            br#"{"access_token":"abc","token_type":"bearer","expires_in":"100"}"#,
            now,
            |l| l / 10,
        )
        .unwrap();
        assert_eq!(c.token.lifetime(), Duration::from_secs(100));
        assert_eq!(c.refresh_at, now + Duration::from_secs(90));
        assert!(c.token.header_value().is_sensitive());
        assert!(!format!("{:?}", c.token).contains("abc"));
        assert!(
            parse_success(br#"{"access_token":"abc","token_type":"mac"}"#, now, |l| l).is_err()
        );
        assert!(parse_success(
            br#"{"access_token":"a\nb","token_type":"Bearer"}"#,
            now,
            |l| l
        )
        .is_err());
        let c = parse_success(
            br#"{"access_token":"abc","token_type":"Bearer"}"#,
            now,
            |l| l / 10,
        )
        .unwrap();
        assert_eq!(c.token.lifetime(), UNKNOWN_LIFETIME);
    }

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
