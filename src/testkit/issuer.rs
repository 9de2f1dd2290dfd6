//! [`MockIssuer`]: starting the server task, and the handle's controls
//! (keys, outages and delays, registered clients, request counters).

use std::fmt;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use jsonwebtoken::Algorithm;
use serde_json::Value;

use super::config::{JwtClientKey, MockIssuerConfig, DEFAULT_TOKEN_LIFETIME};
use super::keys::{self, KeyStore, Pool};
use super::server;
use super::state::{Handle, Registered, Shared};
use super::token::TokenBuilder;
use crate::sync::lock;

/// What the test kit's builders use: plain HTTP to loopback IP literals.
fn loopback_http() -> crate::issuer::HttpConfig {
    crate::issuer::HttpConfig::default().allow_loopback_http()
}

/// A fake OpenID Provider serving discovery and a JWKS on `127.0.0.1`, and
/// minting tokens signed with its keys.
///
/// Cheap to clone; the server task stops when the last handle (including
/// any outstanding [`TokenBuilder`]) is dropped.
///
/// See the [module documentation](super) for an example.
#[derive(Clone)]
pub struct MockIssuer {
    handle: Handle,
}

impl fmt::Debug for MockIssuer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let shared = self.shared();
        f.debug_struct("MockIssuer")
            .field("issuer", &shared.issuer)
            .field("audience", &shared.audience)
            .field("signing_kid", &self.signing_kid())
            .field("published", &lock(&shared.keys).published_kids())
            .finish_non_exhaustive()
    }
}

impl MockIssuer {
    /// Starts an issuer with the default [`MockIssuerConfig`].
    ///
    /// # Panics
    ///
    /// If it cannot bind `127.0.0.1:0`, or (never in a correct build) the
    /// embedded test keys do not parse. Must run inside a Tokio runtime.
    pub async fn start() -> MockIssuer {
        Self::start_with(MockIssuerConfig::new()).await
    }

    /// Starts an issuer with `config`.
    ///
    /// # Panics
    ///
    /// As [`start`](Self::start).
    pub async fn start_with(config: MockIssuerConfig) -> MockIssuer {
        // Load the key pool now, so any panic happens at startup.
        Pool::get();
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
            .await
            .expect("testkit: cannot bind 127.0.0.1:0");
        let addr = listener
            .local_addr()
            .expect("testkit: bound listener has no local address");
        let hmac_secret = config
            .hmac_secret
            .unwrap_or_else(|| rand::random::<[u8; 32]>().to_vec());
        let shared = Arc::new(Shared::new(
            format!("http://{addr}"),
            config.audience,
            hmac_secret,
            KeyStore::new(config.signing_alg),
            DEFAULT_TOKEN_LIFETIME,
        ));
        let app = server::router(shared.clone());
        let task = tokio::spawn(async move {
            if let Err(error) = axum::serve(listener, app).await {
                tracing::warn!(%error, "testkit: mock issuer server stopped");
            }
        });
        MockIssuer {
            handle: Handle::new(shared, task),
        }
    }

    pub(super) fn shared(&self) -> &Shared {
        self.handle.shared()
    }

    pub(super) fn handle(&self) -> &Handle {
        &self.handle
    }

    /// `http://127.0.0.1:PORT`, without a trailing slash; the `issuer` in
    /// discovery and the default `iss` of tokens.
    pub fn issuer_url(&self) -> String {
        self.shared().issuer.clone()
    }

    /// An [`IssuerBuilder`](crate::IssuerBuilder) for this issuer (OIDC
    /// discovery), with the plain-HTTP loopback opt-in its URL needs:
    /// `Issuer::builder(self.issuer_url()).http(HttpConfig::default().allow_loopback_http())`.
    ///
    /// Calling [`http`](crate::IssuerBuilder::http) on it again replaces that
    /// config: keep `allow_loopback_http()` in the new one.
    ///
    /// ```
    /// use oauth2_guard::testkit::MockIssuer;
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let idp = MockIssuer::start().await;
    /// let issuer = idp.issuer_builder().audience("orders-api").build().await.unwrap();
    /// assert!(issuer.is_ready());
    /// # }
    /// ```
    pub fn issuer_builder(&self) -> crate::IssuerBuilder {
        crate::Issuer::builder(self.issuer_url()).http(loopback_http())
    }

    /// A [`ClientCredentialsBuilder`](crate::client::ClientCredentialsBuilder)
    /// for `client_id` whose token endpoint is discovered from this issuer,
    /// with the plain-HTTP loopback opt-in (feature `client`). Set the
    /// client authentication and the audience on it.
    #[cfg(feature = "client")]
    pub fn client_credentials_builder(
        &self,
        client_id: &str,
    ) -> crate::client::ClientCredentialsBuilder {
        crate::client::ClientCredentials::builder(client_id)
            .issuer(self.issuer_url())
            .http(loopback_http())
    }

    /// The issuer URL + `/.well-known/openid-configuration`. The same
    /// document is also served at `/.well-known/oauth-authorization-server`.
    pub fn discovery_url(&self) -> String {
        format!("{}/.well-known/openid-configuration", self.shared().issuer)
    }

    /// The issuer URL + `/jwks`.
    pub fn jwks_url(&self) -> String {
        format!("{}/jwks", self.shared().issuer)
    }

    /// The issuer URL + `/token`: the Client Credentials grant (see the
    /// [module documentation](super#token-endpoint)).
    pub fn token_endpoint(&self) -> String {
        format!("{}/token", self.shared().issuer)
    }

    /// The issuer URL + `/introspect`. Answers `501 Not Implemented` for now.
    pub fn introspection_endpoint(&self) -> String {
        format!("{}/introspect", self.shared().issuer)
    }

    /// The default `aud` of tokens (`"orders-api"` unless configured).
    pub fn default_audience(&self) -> &str {
        &self.shared().audience
    }

    /// The shared secret `HS*` tokens are signed with (configured, or random
    /// per issuer). HMAC keys are never published in the JWKS.
    pub fn hmac_secret(&self) -> &[u8] {
        &self.shared().hmac_secret
    }

    /// A builder for a token signed with the current signing key.
    pub fn token(&self) -> TokenBuilder {
        TokenBuilder::new(self.handle.clone())
    }

    /// The kid of the current signing key.
    pub fn signing_kid(&self) -> String {
        lock(&self.shared().keys).signing().kid.clone()
    }

    /// The algorithm of the current signing key.
    pub fn signing_alg(&self) -> Algorithm {
        lock(&self.shared().keys).signing().alg
    }

    /// Publishes a new key of `alg` and makes it the signing key; returns its
    /// kid. Old keys stay published. For `HS*` the new key is the shared
    /// secret under a new kid, not published.
    pub fn rotate(&self, alg: Algorithm) -> String {
        let mut keys = lock(&self.shared().keys);
        let index = keys.create(alg);
        keys.set_signing(index);
        keys.signing().kid.clone()
    }

    /// Publishes a new key of `alg` without signing with it; returns its kid.
    pub fn add_key(&self, alg: Algorithm) -> String {
        let mut keys = lock(&self.shared().keys);
        let index = keys.create(alg);
        keys.get(index).map(|k| k.kid.clone()).unwrap_or_default()
    }

    /// Signs with the key `kid` from now on. Keys removed with
    /// [`remove_key`](Self::remove_key) can still be used (tokens a verifier
    /// cannot find a key for). An unknown kid leaves the signing key
    /// unchanged and logs a warning; check with [`has_key`](Self::has_key).
    pub fn use_key(&self, kid: &str) {
        let mut keys = lock(&self.shared().keys);
        match keys.index_of(kid) {
            Some(index) => keys.set_signing(index),
            None => tracing::warn!(kid, "testkit: use_key with an unknown kid; ignored"),
        }
    }

    /// Whether the issuer has a key (published or not) with this kid that it
    /// can sign with. Raw JWKs are not signing keys.
    pub fn has_key(&self, kid: &str) -> bool {
        lock(&self.shared().keys).index_of(kid).is_some()
    }

    /// Stops publishing `kid` (a generated key or a raw JWK). The private key
    /// is kept, so tokens can still be signed with it. Unknown kids are ignored.
    pub fn remove_key(&self, kid: &str) {
        lock(&self.shared().keys).unpublish(kid);
    }

    /// Publishes `jwk` verbatim after the generated keys, e.g. a Keycloak
    /// `RSA-OAEP` key with `"use": "enc"`, or a malformed key.
    pub fn add_raw_jwk(&self, jwk: Value) {
        lock(&self.shared().keys).add_raw(jwk);
    }

    /// The kids currently published, generated keys first.
    pub fn published_kids(&self) -> Vec<String> {
        lock(&self.shared().keys).published_kids()
    }

    /// While on, discovery and JWKS answer `503 Service Unavailable`.
    pub fn set_outage(&self, on: bool) {
        self.shared().outage.store(on, Ordering::SeqCst);
    }

    /// Outage answers carry `Retry-After: <whole seconds>` (`None`: no header).
    pub fn set_outage_retry_after(&self, retry_after: Option<Duration>) {
        *lock(&self.shared().outage_retry_after) = retry_after.map(|d| d.as_secs());
    }

    /// The JWKS endpoint waits this long before answering (zero to disable).
    pub fn set_jwks_delay(&self, delay: Duration) {
        *lock(&self.shared().jwks_delay) = delay;
    }

    /// The `Cache-Control` header of the JWKS response; `None` omits it.
    /// Default `"public, max-age=300"`. A value that is not a valid header
    /// value is omitted too.
    pub fn set_cache_control(&self, value: Option<&str>) {
        *lock(&self.shared().cache_control) = value.map(str::to_owned);
    }

    /// Whether the JWKS response carries an `ETag` (a hash of the body) and
    /// answers a request whose `If-None-Match` names it with an empty
    /// `304 Not Modified`, as most IdPs and CDNs do. Default `true`.
    pub fn set_jwks_etag(&self, on: bool) {
        self.shared().jwks_etag.store(on, Ordering::SeqCst);
    }

    /// How many `GET /jwks` requests were answered `304 Not Modified`
    /// (counted in [`jwks_fetches`](Self::jwks_fetches) too).
    pub fn jwks_not_modified(&self) -> usize {
        self.shared().jwks_not_modified.load(Ordering::SeqCst)
    }

    /// How many `GET /jwks` requests the server has received (including
    /// those answered `503` or `304`).
    pub fn jwks_fetches(&self) -> usize {
        self.shared().jwks_fetches.load(Ordering::SeqCst)
    }

    /// How many `GET` requests either discovery document has received.
    pub fn discovery_fetches(&self) -> usize {
        self.shared().discovery_fetches.load(Ordering::SeqCst)
    }

    /// How many requests (any method) were received for `path`, including
    /// paths the server answers `404` for. `path` excludes the query string.
    pub fn requests_to(&self, path: &str) -> usize {
        lock(&self.shared().requests)
            .get(path)
            .copied()
            .unwrap_or(0)
    }

    /// The JWK Set `/jwks` currently serves.
    pub fn jwks_json(&self) -> Value {
        lock(&self.shared().keys).jwks()
    }

    /// Signs an arbitrary header and claims, for attack tests.
    ///
    /// The algorithm is the header's `"alg"`; the key is the one named by
    /// the header's `"kid"` if the issuer has it, else the signing key. If
    /// the header has no `"alg"`, the key's own algorithm signs (the header
    /// is left without one). The header and claims are serialized as given.
    ///
    /// - `"none"`, an unknown alg, or a key that cannot produce it (say
    ///   `ES256` with an RSA key) give an empty signature segment.
    /// - An `HS*` alg with an asymmetric key MACs with that key's public PEM
    ///   ([`public_key_pem`](Self::public_key_pem)) as the secret: the
    ///   classic algorithm-confusion forgery.
    /// - An `HS*` alg with the signing key being an HMAC key (or an `hmac-*`
    ///   kid) uses [`hmac_secret`](Self::hmac_secret).
    pub fn sign_raw(&self, header: Value, claims: Value) -> String {
        let (material, key_alg) = {
            let keys = lock(&self.shared().keys);
            let key = header
                .get("kid")
                .and_then(Value::as_str)
                .and_then(|kid| keys.index_of(kid))
                .and_then(|index| keys.get(index))
                .unwrap_or_else(|| keys.signing());
            (key.material, key.alg)
        };
        let alg = match header.get("alg") {
            None => Some(key_alg),
            Some(Value::String(name)) => keys::parse_alg(name),
            Some(_) => None,
        };
        keys::compact_jws(&header, &claims, alg, material, self.hmac_secret())
    }

    /// The PKCS#8 private key PEM of `kid`; `None` for unknown and HMAC kids.
    pub fn private_key_pem(&self, kid: &str) -> Option<String> {
        lock(&self.shared().keys).private_key_pem(kid)
    }

    /// The SPKI public key PEM of `kid`; `None` for unknown and HMAC kids.
    pub fn public_key_pem(&self, kid: &str) -> Option<String> {
        lock(&self.shared().keys).public_key_pem(kid)
    }

    /// Registers (or replaces) a `client_secret_basic`/`client_secret_post`
    /// client. Replacing the secret is how tests rotate it: the old one is
    /// refused from then on.
    pub fn register_client(&self, client_id: &str, secret: &str) {
        lock(&self.shared().grant)
            .clients
            .insert(client_id.to_owned(), Registered::Secret(secret.to_owned()));
    }

    /// Registers (or replaces) a `private_key_jwt` client verified with
    /// `key`: a public JWK, or the kid of a key of this issuer (for example
    /// one from [`new_client_key`](Self::new_client_key), whose private PEM
    /// is [`private_key_pem`](Self::private_key_pem)). An unknown kid
    /// registers nothing and logs a warning.
    pub fn register_jwt_client(&self, client_id: &str, key: impl Into<JwtClientKey>) {
        let jwk = match key.into() {
            JwtClientKey::Jwk(jwk) => jwk,
            JwtClientKey::Kid(kid) => match lock(&self.shared().keys).public_jwk_of(&kid) {
                Some(jwk) => jwk,
                None => {
                    tracing::warn!(
                        kid,
                        "testkit: register_jwt_client with an unknown kid; ignored"
                    );
                    return;
                }
            },
        };
        lock(&self.shared().grant)
            .clients
            .insert(client_id.to_owned(), Registered::Jwt(jwk));
    }

    /// Creates a key pair of `alg` for a client's `private_key_jwt`, **not**
    /// published in this issuer's JWKS (a client key must never verify
    /// access tokens); returns its kid. Get the private key with
    /// [`private_key_pem`](Self::private_key_pem).
    pub fn new_client_key(&self, alg: Algorithm) -> String {
        let mut keys = lock(&self.shared().keys);
        let index = keys.create(alg);
        let kid = keys.get(index).map(|k| k.kid.clone()).unwrap_or_default();
        keys.unpublish(&kid);
        kid
    }

    /// Removes a registered client; its next request gets `invalid_client`.
    pub fn unregister_client(&self, client_id: &str) {
        lock(&self.shared().grant).clients.remove(client_id);
    }

    /// The `expires_in` (and `exp` − `iat`) of tokens issued from now on.
    pub fn set_token_lifetime(&self, lifetime: Duration) {
        *lock(&self.shared().token_lifetime) = lifetime;
    }

    /// The token endpoint waits this long before answering (zero to disable).
    pub fn set_token_delay(&self, delay: Duration) {
        *lock(&self.shared().token_delay) = delay;
    }

    /// The next `n` token requests are answered with HTTP `status` and an
    /// RFC 6749 error body (`temporarily_unavailable` for 503,
    /// `invalid_client` for 401, `invalid_request` for 400, else
    /// `server_error`), before any authentication. They are still counted.
    pub fn fail_next_token_requests(&self, n: usize, status: u16) {
        let mut grant = lock(&self.shared().grant);
        grant.faults.remaining = n;
        grant.faults.status = status;
        grant.faults.retry_after = None;
    }

    /// As [`fail_next_token_requests`](Self::fail_next_token_requests), each
    /// failure carrying `Retry-After: <whole seconds of retry_after>` (as a
    /// rate-limited or overloaded endpoint answers with 429 or 503).
    pub fn fail_next_token_requests_retry_after(
        &self,
        n: usize,
        status: u16,
        retry_after: Duration,
    ) {
        let mut grant = lock(&self.shared().grant);
        grant.faults.remaining = n;
        grant.faults.status = status;
        grant.faults.retry_after = Some(retry_after.as_secs());
    }

    /// How many requests (any method, any outcome) the token endpoint has received.
    pub fn token_requests(&self) -> usize {
        self.shared().token_requests.load(Ordering::SeqCst)
    }
}
