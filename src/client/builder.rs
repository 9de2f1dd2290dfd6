//! [`ClientCredentialsBuilder`]: configuration, checked when the source is
//! built.

use std::fmt;
use std::time::Duration;

use jsonwebtoken::Algorithm;

use super::auth::ClientAuth;
use super::fetch::TokenRequest;
use super::retry::RetryConfig;
use super::secret::{SecretReader, SecretSource};
use super::source::ClientCredentials;
use super::state::Shared;
use crate::discovery::ProviderMetadata;
use crate::error::ConfigError;
use crate::http::HttpConfig;

/// Default cap on the refresh margin: a token is refreshed at the latest
/// 30 s before it expires (earlier for short-lived tokens: 10 % of the
/// lifetime, whichever is smaller).
pub const DEFAULT_MAX_MARGIN: Duration = Duration::from_secs(30);

/// Default [`invalid_token_cooldown`](ClientCredentialsBuilder::invalid_token_cooldown):
/// a downstream's 401 `invalid_token` drops the cached token at most once
/// per 10 s.
pub const DEFAULT_INVALID_TOKEN_COOLDOWN: Duration = Duration::from_secs(10);

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
/// | `dpop` (feature `dpop`) | off: Bearer tokens | DPoP-bound tokens need support at the token endpoint and every downstream; see `ClientCredentialsBuilder::dpop` |
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
    #[cfg(feature = "dpop")]
    dpop: Option<super::dpop::DpopSigningKey>,
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
            .field("dpop", &self.dpop_debug())
            .field(
                "extra",
                &self.extra.iter().map(|(k, _)| k).collect::<Vec<_>>(),
            )
            .finish_non_exhaustive()
    }
}

impl ClientCredentialsBuilder {
    /// The defaults of the table above, for the client `client_id`.
    pub(super) fn new(client_id: String) -> Self {
        ClientCredentialsBuilder {
            client_id,
            endpoint: None,
            auth: None,
            scopes: Vec::new(),
            resource: None,
            extra: Vec::new(),
            margin: None,
            retry: RetryConfig::default(),
            http: HttpConfig::default(),
            invalid_token_cooldown: DEFAULT_INVALID_TOKEN_COOLDOWN,
            #[cfg(feature = "dpop")]
            dpop: None,
        }
    }

    /// The DPoP key's thumbprint, for `Debug`.
    fn dpop_debug(&self) -> Option<&str> {
        #[cfg(feature = "dpop")]
        {
            self.dpop.as_ref().map(|k| k.thumbprint())
        }
        #[cfg(not(feature = "dpop"))]
        {
            None
        }
    }

    /// Ask for DPoP-bound tokens (RFC 9449, feature `dpop`): each token
    /// request carries a proof signed with `key` (`htm` POST, `htu` the
    /// token endpoint), and each use of the token a fresh proof for that
    /// request (`ath` of the token, the origin's last `DPoP-Nonce`), added by
    /// [`authorize`](ClientCredentials::authorize),
    /// [`send`](ClientCredentials::send) and the
    /// [`BearerLayer`](super::BearerLayer).
    ///
    /// | setting | default | why |
    /// |---|---|---|
    /// | DPoP | off | the token endpoint and every downstream must support it |
    /// | answer with `token_type` `Bearer` | refused ([`TokenError::InvalidResponse`](super::TokenError::InvalidResponse)) | a server that ignored the proof issued an unbound token: using it would silently drop the protection asked for |
    /// | token endpoint `use_dpop_nonce` | one retry with its `DPoP-Nonce` | RFC 9449 §8; a second refusal is returned |
    /// | downstream 401 `use_dpop_nonce` | one retry with its `DPoP-Nonce` when the body can be replayed | RFC 9449 §9; nonces are remembered per origin, so later requests carry them at once |
    ///
    /// # Security
    /// A thief who copies a DPoP-bound token from a log or a proxy cannot
    /// use it without `key`: keep the key out of files where possible
    /// ([`DpopSigningKey::generate`](super::DpopSigningKey::generate)).
    #[cfg(feature = "dpop")]
    #[cfg_attr(docsrs, doc(cfg(feature = "dpop")))]
    pub fn dpop(mut self, key: super::dpop::DpopSigningKey) -> Self {
        self.dpop = Some(key);
        self
    }

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
    /// - [`ConfigError::Credentials`]: an empty client id, no client
    ///   authentication configured, an unreadable secret or an unusable key;
    /// - [`ConfigError::Algorithm`]: a `private_key_jwt` algorithm that
    ///   cannot sign client assertions;
    /// - [`ConfigError::ReservedParameter`]: `extra_param` given
    ///   `grant_type`, a `client_*` parameter, `scope` or `resource`;
    /// - [`ConfigError::MissingSetting`]: no token endpoint configured;
    /// - [`ConfigError::InvalidUrl`], [`ConfigError::InsecureUrl`],
    ///   [`ConfigError::Discovery`], [`ConfigError::NoTokenEndpoint`]: the
    ///   endpoint or its discovery;
    /// - [`ConfigError::HttpClient`]: the HTTP client cannot be built;
    /// - [`ConfigError::NoRuntime`]: no Tokio runtime.
    pub async fn build(self) -> Result<ClientCredentials, ConfigError> {
        let tokens = self.http.build_token_client()?;
        let http = &tokens.http;
        if self.client_id.is_empty() {
            return Err(ConfigError::Credentials {
                reason: "the client id is empty",
                source: None,
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
        if let Some(name) = RESERVED
            .into_iter()
            .find(|r| self.extra.iter().any(|(k, _)| k == r))
        {
            return Err(ConfigError::ReservedParameter {
                setting: "extra_param",
                name,
            });
        }
        let auth = match self.auth {
            Some(AuthConfig::Basic(s)) => ClientAuth::Basic(SecretReader::new(s)),
            Some(AuthConfig::Post(s)) => ClientAuth::Post(SecretReader::new(s)),
            Some(AuthConfig::Jwt { key, alg, kid }) => ClientAuth::private_key_jwt(key, alg, kid)?,
            None => {
                return Err(ConfigError::Credentials {
                    reason: "no client authentication configured (set client_secret, client_secret_post or private_key_jwt)",
                    source: None,
                })
            }
        };
        auth.check()?;
        let endpoint = match self.endpoint {
            Some(Endpoint::Direct(url)) => http.check_url(&url)?,
            Some(Endpoint::Issuer(issuer)) => {
                let meta = ProviderMetadata::discover(http, &issuer).await?;
                match meta.token_endpoint.as_deref() {
                    Some(url) => http.check_url(url)?,
                    None => return Err(ConfigError::NoTokenEndpoint { issuer }),
                }
            }
            None => {
                return Err(ConfigError::MissingSetting {
                    setting: "token endpoint",
                    hint: "set issuer (discovery) or token_endpoint",
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
        let request = TokenRequest {
            client_id: self.client_id.into(),
            endpoint,
            auth,
            scope,
            resource: self.resource,
            extra: self.extra,
            audience_label,
            margin: self.margin,
            retry: self.retry.at_least_one_attempt(),
            http: tokens,
            #[cfg(feature = "dpop")]
            dpop: self.dpop,
        };
        let shared = Shared::new(request, self.invalid_token_cooldown);
        Ok(ClientCredentials::start(shared, &runtime))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Settings that are missing or not allowed are named by their own
    /// variant, not `OutOfRange` (which is for numbers and durations).
    #[tokio::test]
    async fn config_errors_name_what_is_wrong() {
        let base =
            ClientCredentials::builder("checkout").token_endpoint("https://idp.example.com/token");
        let err = base
            .clone()
            .client_secret("s")
            .extra_param("scope", "x")
            .build()
            .await;
        assert!(
            matches!(
                err,
                Err(ConfigError::ReservedParameter {
                    setting: "extra_param",
                    name: "scope"
                })
            ),
            "{err:?}"
        );
        let err = base.clone().build().await;
        assert!(
            matches!(err, Err(ConfigError::Credentials { source: None, .. })),
            "{err:?}"
        );
        let err = ClientCredentials::builder("")
            .token_endpoint("https://idp.example.com/token")
            .client_secret("s")
            .build()
            .await;
        assert!(
            matches!(err, Err(ConfigError::Credentials { source: None, .. })),
            "{err:?}"
        );
    }
}
