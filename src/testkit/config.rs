//! What a [`MockIssuer`](super::MockIssuer) is configured with:
//! [`MockIssuerConfig`] at startup, [`JwtClientKey`] when registering a
//! `private_key_jwt` client, and their defaults.

use std::fmt;
use std::time::Duration;

use jsonwebtoken::Algorithm;
use serde_json::Value;

/// The audience put in tokens unless configured otherwise.
pub const DEFAULT_AUDIENCE: &str = "orders-api";

/// The `expires_in` of tokens from the token endpoint unless
/// [`MockIssuer::set_token_lifetime`](super::MockIssuer::set_token_lifetime) changes it.
pub const DEFAULT_TOKEN_LIFETIME: Duration = Duration::from_secs(300);

/// The public key a `private_key_jwt` client is registered with
/// ([`MockIssuer::register_jwt_client`](super::MockIssuer::register_jwt_client)).
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum JwtClientKey {
    /// A public JWK (with `kid`, `kty` and its members).
    Jwk(Value),
    /// A key of this issuer, by kid (see
    /// [`MockIssuer::new_client_key`](super::MockIssuer::new_client_key)).
    Kid(String),
}

impl From<Value> for JwtClientKey {
    fn from(jwk: Value) -> Self {
        JwtClientKey::Jwk(jwk)
    }
}

impl From<&str> for JwtClientKey {
    fn from(kid: &str) -> Self {
        JwtClientKey::Kid(kid.to_owned())
    }
}

impl From<String> for JwtClientKey {
    fn from(kid: String) -> Self {
        JwtClientKey::Kid(kid)
    }
}

/// Configuration for [`MockIssuer::start_with`](super::MockIssuer::start_with).
///
/// ```
/// use oauth2_guard::testkit::{Algorithm, MockIssuerConfig};
///
/// let config = MockIssuerConfig::new()
///     .audience("billing-api")
///     .signing_alg(Algorithm::ES256)
///     .hmac_secret(b"a-shared-secret-of-at-least-32-bytes!");
/// # let _ = config;
/// ```
#[derive(Clone)]
pub struct MockIssuerConfig {
    pub(super) audience: String,
    pub(super) signing_alg: Algorithm,
    pub(super) hmac_secret: Option<Vec<u8>>,
}

impl MockIssuerConfig {
    /// Defaults: audience `"orders-api"`, signing with `RS256`, a random
    /// 32-byte HMAC secret.
    pub fn new() -> Self {
        MockIssuerConfig {
            audience: DEFAULT_AUDIENCE.to_owned(),
            signing_alg: Algorithm::RS256,
            hmac_secret: None,
        }
    }

    /// The default `aud` of issued tokens.
    #[must_use]
    pub fn audience(mut self, audience: &str) -> Self {
        self.audience = audience.to_owned();
        self
    }

    /// The algorithm of the initial signing key. An `HS*` algorithm makes the
    /// shared secret the signing key, and the JWKS starts empty.
    #[must_use]
    pub fn signing_alg(mut self, alg: Algorithm) -> Self {
        self.signing_alg = alg;
        self
    }

    /// The shared secret for `HS256`/`HS384`/`HS512` tokens (never published).
    #[must_use]
    pub fn hmac_secret(mut self, secret: &[u8]) -> Self {
        self.hmac_secret = Some(secret.to_vec());
        self
    }
}

impl Default for MockIssuerConfig {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for MockIssuerConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MockIssuerConfig")
            .field("audience", &self.audience)
            .field("signing_alg", &self.signing_alg)
            .field(
                "hmac_secret",
                &self.hmac_secret.as_ref().map(|_| "<redacted>"),
            )
            .finish()
    }
}
