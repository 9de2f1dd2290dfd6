//! [`IntrospectorBuilder`]: every setting of an [`Introspector`], checked once.

use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use jsonwebtoken::Algorithm;
use tokio::sync::Semaphore;

use super::Introspector;
use crate::claims::ClaimPath;
use crate::client::auth::ClientAuth;
use crate::client::secret::{SecretReader, SecretSource};
use crate::discovery::ProviderMetadata;
use crate::error::ConfigError;
use crate::http::HttpConfig;
use crate::verify::introspection::answer::{Call, Checks};
use crate::verify::introspection::cache::{Bounds, LocalCache};
use crate::verify::introspection::hash::KeyedHash;
use crate::verify::introspection::{shared, Engine};
use crate::verify::validate::{AudienceCheck, Profile, DEFAULT_LEEWAY, MAX_LEEWAY};

/// Default [`cache_ttl`](IntrospectorBuilder::cache_ttl): 60 s.
pub const DEFAULT_CACHE_TTL: Duration = Duration::from_secs(60);
/// Default [`max_concurrent`](IntrospectorBuilder::max_concurrent): 64 calls in flight.
pub const DEFAULT_MAX_CONCURRENT: usize = 64;
/// Default [`timeout`](IntrospectorBuilder::timeout) of one introspection request: 3 s.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(3);
/// Default `Retry-After` of the 503 answers ([`retry_after`](IntrospectorBuilder::retry_after)): 2 s.
pub const DEFAULT_RETRY_AFTER: Duration = Duration::from_secs(2);
/// Default [`max_response_bytes`](IntrospectorBuilder::max_response_bytes): 64 KiB.
pub const DEFAULT_MAX_RESPONSE_BYTES: usize = 64 * 1024;
/// The shortest [`hash_key`](IntrospectorBuilder::hash_key) accepted: 32 bytes.
pub const MIN_HASH_KEY_BYTES: usize = 32;

/// Builds an [`Introspector`].
///
/// | setting | default | why |
/// |---|---|---|
/// | endpoint | discovered: the issuer's `introspection_endpoint` (OIDC discovery, then RFC 8414); or [`endpoint`](Self::endpoint) | the endpoint stays in the authorization server's hands |
/// | client auth | **required**: [`client_secret`](Self::client_secret) (`client_secret_basic`), [`client_secret_post`](Self::client_secret_post) or [`private_key_jwt`](Self::private_key_jwt) | RFC 7662 §2.1: the resource server authenticates, so the endpoint cannot be used to scan for tokens |
/// | audience | **required**: [`audience`](Self::audience); [`audience_or_client_id`](Self::audience_or_client_id) to accept `client_id` when the answer has no `aud` | a token for another API must not be accepted here |
/// | issuer | the one given to [`builder`](Introspector::builder), checked when the answer has `iss` | an answer naming another issuer is refused |
/// | `token_type` | checked when sent: `Bearer` (or `access_token`) | a refresh token is not an access token |
/// | [`roles_from`](Self::roles_from) | none | roles are vendor-specific |
/// | [`leeway`](Self::leeway) | 60 s, at most 5 min | `exp`/`nbf` are checked locally, as for JWTs |
/// | [`cache_ttl`](Self::cache_ttl) | 60 s (never past `exp`) | one call per token per minute; a revocation at the server is seen within that time (`Duration::ZERO`: at once, every request calls) |
/// | [`cache_bounds`](Self::cache_bounds) | 10 000 answers / 16 MiB | bounded memory under a flood of distinct valid tokens |
/// | [`negative_cache`](Self::negative_cache) | off | a refused token asks again; when on, refusals live in a separate map with their own TTL and bound, so a flood of random tokens cannot evict active entries |
/// | [`max_concurrent`](Self::max_concurrent) | 64 calls | a cold flood of distinct tokens is answered 503 + `Retry-After` beyond it, never queued |
/// | [`timeout`](Self::timeout) | 3 s (the whole call: + 1 s) | a slow server costs a bounded wait, then 503 |
/// | [`retry_after`](Self::retry_after) | 2 s | what 503 answers tell clients |
/// | [`max_response_bytes`](Self::max_response_bytes) | 64 KiB | answers are small; a huge one is refused (503) |
/// | [`hash_key`](Self::hash_key) | 32 random bytes per process; **required** with a shared cache | cache keys are HMAC-SHA256 of the token: the token itself is never kept; instances sharing a cache must share the key, and a random default would silently share nothing |
/// | [`shared_cache_redis`](Self::shared_cache_redis) (feature `redis`) | none: each instance caches alone | sharing needs a Redis and a shared secret; with it, N instances cost the server one call per token per TTL instead of N |
/// | [`http`](Self::http) | [`HttpConfig::default`] | HTTPS only (loopback HTTP: [`HttpConfig::allow_loopback_http`]); introspection requests never follow redirects |
pub struct IntrospectorBuilder {
    issuer: String,
    client_id: String,
    endpoint: Option<String>,
    auth: Option<Auth>,
    audiences: Vec<String>,
    client_id_fallback: bool,
    roles: Vec<ClaimPath>,
    leeway: Duration,
    ttl: Duration,
    max_entries: u64,
    max_bytes: u64,
    negative: Option<(Duration, u64)>,
    max_concurrent: usize,
    timeout: Duration,
    retry_after: Duration,
    max_response_bytes: usize,
    hash_key: Option<Vec<u8>>,
    http: HttpConfig,
    shared: shared::Shared,
}

enum Auth {
    Basic(SecretSource),
    Post(SecretSource),
    Jwt(SecretSource, Algorithm, Option<String>),
}

impl fmt::Debug for IntrospectorBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IntrospectorBuilder")
            .field("issuer", &self.issuer)
            .field("client_id", &self.client_id)
            .field("endpoint", &self.endpoint)
            .field("audiences", &self.audiences)
            .field("cache_ttl", &self.ttl)
            .field("negative_cache", &self.negative)
            .field("max_concurrent", &self.max_concurrent)
            .finish_non_exhaustive()
    }
}

impl IntrospectorBuilder {
    pub(super) fn new(issuer: String, client_id: String) -> Self {
        Self {
            issuer,
            client_id,
            endpoint: None,
            auth: None,
            audiences: Vec::new(),
            client_id_fallback: false,
            roles: Vec::new(),
            leeway: DEFAULT_LEEWAY,
            ttl: DEFAULT_CACHE_TTL,
            max_entries: 10_000,
            max_bytes: 16 * 1024 * 1024,
            negative: None,
            max_concurrent: DEFAULT_MAX_CONCURRENT,
            timeout: DEFAULT_TIMEOUT,
            retry_after: DEFAULT_RETRY_AFTER,
            max_response_bytes: DEFAULT_MAX_RESPONSE_BYTES,
            hash_key: None,
            http: HttpConfig::default(),
            shared: None,
        }
    }

    /// Use this introspection endpoint; no discovery. Held to the HTTPS
    /// policy of [`http`](Self::http).
    pub fn endpoint(mut self, url: impl Into<String>) -> Self {
        self.endpoint = Some(url.into());
        self
    }

    /// Authenticate with `client_secret_basic` (RFC 6749 §2.3.1).
    pub fn client_secret(mut self, secret: impl Into<SecretSource>) -> Self {
        self.auth = Some(Auth::Basic(secret.into()));
        self
    }

    /// Authenticate with `client_secret_post` (id and secret in the body).
    pub fn client_secret_post(mut self, secret: impl Into<SecretSource>) -> Self {
        self.auth = Some(Auth::Post(secret.into()));
        self
    }

    /// Authenticate with `private_key_jwt` (RFC 7523): an assertion signed
    /// with this service's private key (PKCS#8 PEM), `aud` = the
    /// introspection endpoint; no shared secret on the wire.
    pub fn private_key_jwt(
        mut self,
        key: impl Into<SecretSource>,
        alg: Algorithm,
        kid: Option<String>,
    ) -> Self {
        self.auth = Some(Auth::Jwt(key.into(), alg, kid));
        self
    }

    /// Accept answers whose `aud` holds `audience`. Call once per audience.
    pub fn audience(mut self, audience: impl Into<String>) -> Self {
        self.audiences.push(audience.into());
        self
    }

    /// For authorization servers that send no `aud`: an answer *without*
    /// `aud` is accepted when its `client_id` is a configured audience (the
    /// token was issued to this resource itself). An answer with `aud` is
    /// always checked against `aud`.
    pub fn audience_or_client_id(mut self) -> Self {
        self.client_id_fallback = true;
        self
    }

    /// Read roles from this claim path of the answer (as
    /// [`IssuerBuilder::roles_from`](crate::IssuerBuilder::roles_from)).
    pub fn roles_from(mut self, path: ClaimPath) -> Self {
        self.roles.push(path);
        self
    }

    /// Clock skew allowed on `exp`, `nbf` and `iat` (at most 5 min).
    pub fn leeway(mut self, leeway: Duration) -> Self {
        self.leeway = leeway;
        self
    }

    /// How long an active answer is reused (never past the token's `exp`).
    /// `Duration::ZERO`: no cache, every request asks the server.
    pub fn cache_ttl(mut self, ttl: Duration) -> Self {
        self.ttl = ttl;
        self
    }

    /// Bounds of the cache of active answers: entries and (estimated) bytes.
    pub fn cache_bounds(mut self, max_entries: u64, max_bytes: u64) -> Self {
        self.max_entries = max_entries;
        self.max_bytes = max_bytes;
        self
    }

    /// Also cache refusals (`active: false`, or an answer a check refused)
    /// for `ttl`, at most `max_entries` of them, in a map of their own.
    pub fn negative_cache(mut self, ttl: Duration, max_entries: u64) -> Self {
        self.negative = Some((ttl, max_entries));
        self
    }

    /// At most `n` introspection calls in flight; a request that would
    /// start another is answered 503 with `Retry-After` at once.
    pub fn max_concurrent(mut self, n: usize) -> Self {
        self.max_concurrent = n;
        self
    }

    /// Timeout of one introspection request; the whole call (shared cache,
    /// request, answer) is cut off 1 s later.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The `Retry-After` of 503 answers (server down, busy).
    pub fn retry_after(mut self, d: Duration) -> Self {
        self.retry_after = d;
        self
    }

    /// The largest answer read; a longer one fails the call (503).
    pub fn max_response_bytes(mut self, n: usize) -> Self {
        self.max_response_bytes = n;
        self
    }

    /// The secret key of the cache's keyed hash (HMAC-SHA256), at least 32
    /// bytes. Set the same per-deployment secret on every instance that
    /// shares a cache; the default is random per process.
    pub fn hash_key(mut self, key: impl Into<Vec<u8>>) -> Self {
        self.hash_key = Some(key.into());
        self
    }

    /// HTTP settings for discovery and introspection requests (the
    /// [`timeout`](Self::timeout) and
    /// [`max_response_bytes`](Self::max_response_bytes) set here win).
    pub fn http(mut self, http: HttpConfig) -> Self {
        self.http = http;
        self
    }

    /// Share active answers with every instance using the same Redis,
    /// namespace and [`hash_key`](Self::hash_key): a fleet then costs the
    /// authorization server one call per token per TTL, not one per
    /// instance. The local cache stays in front; Redis down → the local
    /// cache and the server keep working. Requires `hash_key`. See
    /// [Shared cache](super#shared-cache-redis).
    #[cfg(feature = "redis")]
    #[cfg_attr(docsrs, doc(cfg(feature = "redis")))]
    pub fn shared_cache_redis(self, cache: super::RedisIntrospectionCache) -> Self {
        self.shared_cache(cache.into_shared())
    }

    /// A cache shared between instances (the Redis backend sets it).
    #[cfg_attr(
        not(any(feature = "redis", all(test, feature = "testkit"))),
        allow(dead_code)
    )]
    pub(crate) fn shared_cache(mut self, cache: Arc<dyn shared::SharedCache>) -> Self {
        self.shared = Some(cache);
        self
    }

    /// Build the introspector: discover the endpoint if needed, read the
    /// credential once. No token is introspected until the first request.
    ///
    /// # Errors
    /// - [`ConfigError::Credentials`]: an empty client id, no client
    ///   authentication, an unreadable secret or an unusable key;
    /// - [`ConfigError::Algorithm`]: a `private_key_jwt` HMAC algorithm;
    /// - [`ConfigError::NoAudience`]: no audience;
    /// - [`ConfigError::LeewayTooLarge`], [`ConfigError::OutOfRange`]: a
    ///   setting out of range (a zero `max_concurrent`, `timeout` or
    ///   `max_response_bytes`, a `hash_key` under 32 bytes);
    /// - [`ConfigError::MissingSetting`]: the discovered metadata has no
    ///   `introspection_endpoint` and none was set; a shared cache without
    ///   a `hash_key`;
    /// - [`ConfigError::InvalidUrl`], [`ConfigError::InsecureUrl`],
    ///   [`ConfigError::Discovery`], [`ConfigError::IssuerMismatch`]: the
    ///   endpoint or its discovery;
    /// - [`ConfigError::HttpClient`]: the HTTP client cannot be built.
    pub async fn build(self) -> Result<Introspector, ConfigError> {
        let range = |setting, reason| Err(ConfigError::OutOfRange { setting, reason });
        if self.client_id.is_empty() {
            return Err(ConfigError::Credentials {
                reason: "the client id is empty",
                source: None,
            });
        }
        if self.audiences.is_empty() || self.audiences.iter().any(String::is_empty) {
            return Err(ConfigError::NoAudience);
        }
        if self.leeway > MAX_LEEWAY {
            return Err(ConfigError::LeewayTooLarge {
                configured: self.leeway,
                max: MAX_LEEWAY,
            });
        }
        if self.max_concurrent == 0 {
            return range("max_concurrent", "must be at least 1");
        }
        if self.timeout.is_zero() {
            return range("timeout", "must be more than zero");
        }
        if self.max_response_bytes == 0 {
            return range("max_response_bytes", "must be at least 1");
        }
        let shared = match self.shared {
            Some(_) if self.hash_key.is_none() => {
                return Err(ConfigError::MissingSetting {
                    setting: "hash_key",
                    hint: "a shared introspection cache needs IntrospectorBuilder::hash_key: the same per-deployment secret (at least 32 bytes) on every instance",
                })
            }
            Some(cache) => Some(shared::scoped(
                cache,
                shared::scope_tag(
                    &self.issuer,
                    &self.audiences,
                    self.client_id_fallback,
                    &self.roles,
                ),
            )),
            None => None,
        };
        let hasher = match &self.hash_key {
            Some(k) if k.len() < MIN_HASH_KEY_BYTES => {
                return range("hash_key", "must be at least 32 bytes")
            }
            Some(k) => KeyedHash::new(k),
            None => KeyedHash::random(),
        };
        let auth = match self.auth {
            None => {
                return Err(ConfigError::Credentials {
                    reason: "no client authentication configured (client_secret, client_secret_post or private_key_jwt)",
                    source: None,
                })
            }
            Some(Auth::Basic(s)) => ClientAuth::Basic(SecretReader::new(s)),
            Some(Auth::Post(s)) => ClientAuth::Post(SecretReader::new(s)),
            Some(Auth::Jwt(key, alg, kid)) => ClientAuth::private_key_jwt(key, alg, kid)?,
        };
        auth.check()?;
        let mut http = self.http;
        http.timeout = self.timeout;
        let client = http.build_token_client()?;
        let endpoint = match &self.endpoint {
            Some(url) => client.http.check_url(url)?,
            None => {
                let meta = ProviderMetadata::discover(&client.http, &self.issuer).await?;
                match &meta.introspection_endpoint {
                    Some(url) => client.http.check_url(url)?,
                    None => {
                        return Err(ConfigError::MissingSetting {
                            setting: "introspection endpoint",
                            hint: "the issuer's metadata has no introspection_endpoint: set IntrospectorBuilder::endpoint",
                        })
                    }
                }
            }
        };
        let profile = |audience| Profile {
            algorithms: Vec::new(),
            audience,
            required: Vec::new(),
            roles: self.roles.clone(),
            leeway: self.leeway.as_secs(),
            strict_typ: false,
            hmac: None,
        };
        let checks = Checks {
            issuer: Arc::from(self.issuer.as_str()),
            profile: profile(AudienceCheck::Aud(self.audiences.clone())),
            client_id_fallback: self.client_id_fallback.then(|| {
                profile(AudienceCheck::Claim {
                    name: "client_id".into(),
                    allowed: self.audiences.clone(),
                })
            }),
        };
        let bounds = Bounds {
            ttl: self.ttl,
            max_entries: self.max_entries,
            max_bytes: self.max_bytes,
            negative: self.negative,
        };
        let (counters, metrics) = crate::ops::introspector_built(&checks.issuer);
        let engine = Engine {
            call: Call {
                endpoint,
                client_id: Arc::from(self.client_id.as_str()),
                auth,
                http: client,
                max_response_bytes: self.max_response_bytes,
            },
            checks,
            hasher,
            cache: LocalCache::new(&bounds),
            shared,
            limit: Arc::new(Semaphore::new(self.max_concurrent)),
            max_concurrent: self.max_concurrent,
            deadline: self.timeout + Duration::from_secs(1),
            retry_after: self.retry_after,
            max_token_bytes: crate::verify::validate::DEFAULT_MAX_TOKEN_BYTES,
            ttl: self.ttl,
            flights: Mutex::new(Default::default()),
            health: Default::default(),
            counters,
            metrics,
        };
        tracing::info!(
            target: "oauth2_guard::introspection",
            issuer = %engine.checks.issuer,
            endpoint = %engine.call.endpoint,
            client_id = %engine.call.client_id,
            auth = engine.call.auth.method(),
            cache_ttl_s = self.ttl.as_secs(),
            "introspection configured"
        );
        Ok(Introspector::from_engine(engine))
    }
}
