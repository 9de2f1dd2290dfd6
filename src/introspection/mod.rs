//! Opaque access tokens, verified by asking their authorization server
//! (RFC 7662 token introspection; feature `introspection`).
//!
//! An [`Introspector`] holds the introspection endpoint (discovered or
//! configured), the resource server's own credentials, the checks an answer
//! must pass, and a cache of answers. Give it to
//! [`AuthLayerBuilder::introspection`](crate::AuthLayerBuilder::introspection):
//! one layer then accepts JWTs and opaque tokens side by side, and guards,
//! extractors and the revocation list see the same
//! [`VerifiedClaims`](crate::VerifiedClaims) for both
//! ([`kind`](crate::VerifiedClaims::kind) tells them apart).
//!
//! ```no_run
//! use std::time::Duration;
//! use oauth2_guard::introspection::Introspector;
//! use oauth2_guard::client::SecretSource;
//! use oauth2_guard::{AuthLayer, Issuer};
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let idp = "https://idp.example.com/realms/shop";
//! let introspector = Introspector::builder(idp, "orders-api") // our own client id at the IdP
//!     .client_secret(SecretSource::File("/run/secrets/orders-api".into()))
//!     .audience("orders-api")
//!     .cache_ttl(Duration::from_secs(30))
//!     .build() // discovers `introspection_endpoint`
//!     .await?;
//! let jwts = Issuer::builder(idp).audience("orders-api").build().await?;
//! let layer = AuthLayer::builder()
//!     .issuer(jwts) // JWTs of this issuer: verified locally
//!     .introspection(introspector) // anything else: introspected
//!     .build()?;
//! # let _ = layer; Ok(()) }
//! ```
//!
//! # Routing
//!
//! On a layer with an introspector, a token that parses as a JWS whose
//! (unverified) `iss` names a configured issuer — or one the
//! [`LazyIssuers`](crate::LazyIssuers) trust — goes to the JWT verifier.
//! A JWS whose `iss` names any other issuer than the introspector's is
//! refused locally with [`Reason::UnknownIssuer`](crate::Reason::UnknownIssuer)
//! (no call: a third party's token is not sent to your IdP), unless
//! [`introspect_unknown_jws(true)`](crate::AuthLayerBuilder::introspect_unknown_jws).
//! Anything else — an opaque token, a JWE, a JWS without a string `iss`, a
//! JWS of the introspector's own issuer — goes to introspection. With
//! [`introspect_jwts`](crate::AuthLayerBuilder::introspect_jwts)
//! ("real-time validity"), JWTs of the introspector's issuer are verified
//! locally first (a forgery costs no call), then introspected (cached), so
//! a revocation at the server is seen within the cache TTL.
//!
//! # Cache
//!
//! Answers are cached under HMAC-SHA256 of the token (the token itself is
//! never kept past its request, nor logged: logs carry its
//! [`Fingerprint`](crate::Fingerprint)). An active answer is reused until
//! min([`cache_ttl`](IntrospectorBuilder::cache_ttl), `exp` − now), with
//! `exp` checked again on every hit; 100 concurrent first uses of one token
//! make one call (single flight, run in a task of its own so a client that
//! goes away fails no one else).
//!
//! # Shared cache (Redis)
//!
//! With feature `redis`, instances share active answers through Redis
//! ([`RedisIntrospectionCache`], given to
//! [`shared_cache_redis`](IntrospectorBuilder::shared_cache_redis)): a
//! fleet of N instances costs the authorization server one call per token
//! per TTL instead of N. A miss in the local cache reads Redis, then asks
//! the server and writes the answer to Redis; the local cache stays in
//! front, so a hit costs no round trip.
//!
//! - Redis holds only the mapped claims, under
//!   `<namespace>:introspection:<scope>:<HMAC-SHA256 of the token, hex>`,
//!   expiring at min(TTL, `exp` − now). The
//!   [`hash_key`](IntrospectorBuilder::hash_key) is **required**: the same
//!   per-deployment secret on every instance (instances with different
//!   keys share nothing), and no usable token — nor a plain hash of one —
//!   is ever written. The values are claims (subject, scopes): protect
//!   Redis as any session store.
//! - `<scope>` digests the issuer, audiences, `client_id` fallback and role
//!   paths: services that accept different audiences never read each
//!   other's answers, even with one Redis and one key.
//! - An answer read from Redis is used locally no longer than it had left
//!   there: a revocation at the server is seen within the TTL.
//! - Refusals are not shared (a flood of random tokens must not become a
//!   flood of Redis writes).
//! - Redis down or slow: every command is bounded (100 ms), and after a
//!   failure Redis is skipped for a second
//!   ([`retry_interval`](RedisIntrospectionCacheBuilder::retry_interval)):
//!   the local cache and the server keep answering, a WARN is logged, and
//!   [`status`](RedisIntrospectionCache::status) says so.
//!
//! ```no_run
//! # #[cfg(feature = "redis")]
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! use oauth2_guard::introspection::{Introspector, RedisIntrospectionCache};
//!
//! let shared = RedisIntrospectionCache::builder("redis://127.0.0.1:6379/")
//!     .namespace("orders")
//!     .build()?;
//! let key = std::env::var("OAUTH2_INTROSPECTION_HASH_KEY")?; // the same on every instance
//! let introspector = Introspector::builder("https://idp.example.com", "orders-api")
//!     .client_secret("…")
//!     .audience("orders-api")
//!     .hash_key(key)
//!     .shared_cache_redis(shared.clone())
//!     .build()
//!     .await?;
//! # let _ = introspector; Ok(()) }
//! ```
//!
//! # Errors
//!
//! | what | answer |
//! |---|---|
//! | `active: false` | 401 `invalid_token`, [`Reason::Inactive`](crate::Reason::Inactive) |
//! | active, but expired / wrong `aud` / wrong `iss` / not `Bearer` | 401, the same reason as for a JWT |
//! | server down, slow, 5xx, garbage, oversized; too many calls in flight | 503 + `Retry-After`, [`Reason::IntrospectionUnavailable`](crate::Reason::IntrospectionUnavailable) |
//!
//! # Security
//! Fails closed: no answer, no access. A 503 never blames the token (no
//! `invalid_token`), so clients retry rather than discard it.

mod builder;
mod health;

use std::sync::Arc;

pub use builder::{
    IntrospectorBuilder, DEFAULT_CACHE_TTL, DEFAULT_MAX_CONCURRENT, DEFAULT_MAX_RESPONSE_BYTES,
    DEFAULT_RETRY_AFTER, DEFAULT_TIMEOUT, MIN_HASH_KEY_BYTES,
};
pub(crate) use health::HealthState;
pub use health::IntrospectionHealth;

#[cfg(feature = "redis")]
#[cfg_attr(docsrs, doc(cfg(feature = "redis")))]
pub use crate::verify::introspection::redis_cache::{
    RedisCacheStatus, RedisIntrospectionCache, RedisIntrospectionCacheBuilder,
    DEFAULT_REDIS_CACHE_RETRY, DEFAULT_REDIS_CACHE_TIMEOUT,
};
use crate::verify::introspection::{Engine, IntrospectionVerifier};

/// Verifies opaque tokens by introspection; see the [module docs](self).
/// Cheap to clone: clones share the cache and the calls in flight.
#[derive(Clone, Debug)]
pub struct Introspector(Arc<Engine>);

impl Introspector {
    /// Configure an introspector for the authorization server `issuer`
    /// (the issuer identifier: discovery starts there, and answers that
    /// carry `iss` must name it), authenticating as `client_id`.
    pub fn builder(issuer: impl Into<String>, client_id: impl Into<String>) -> IntrospectorBuilder {
        IntrospectorBuilder::new(issuer.into(), client_id.into())
    }

    fn from_engine(engine: Engine) -> Self {
        Self(Arc::new(engine))
    }

    /// The issuer identifier.
    pub fn issuer(&self) -> &str {
        &self.0.checks.issuer
    }

    /// The introspection endpoint in use.
    pub fn endpoint(&self) -> &str {
        self.0.call.endpoint.as_str()
    }

    /// The cache's current size, for metrics.
    pub fn cache_stats(&self) -> CacheStats {
        let (active_entries, active_bytes, refused_entries) = self.0.cache.stats();
        CacheStats {
            active_entries,
            active_bytes,
            refused_entries,
        }
    }

    /// What the calls made so far say about the endpoint: the last
    /// success, the last failure, the failures since. Read from three
    /// atomics the calls update — no request, no lock. See
    /// [`Readiness::introspector`](crate::ops::Readiness::introspector).
    pub fn health(&self) -> IntrospectionHealth {
        self.0.health.snapshot()
    }

    /// Whether answers are mapped to roles
    /// ([`roles_from`](IntrospectorBuilder::roles_from)).
    pub(crate) fn maps_roles(&self) -> bool {
        !self.0.checks.profile.roles.is_empty()
    }

    pub(crate) fn verifier(&self) -> IntrospectionVerifier {
        IntrospectionVerifier(Arc::clone(&self.0))
    }
}

/// The size of an [`Introspector`]'s cache ([`Introspector::cache_stats`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct CacheStats {
    /// Active answers cached.
    pub active_entries: u64,
    /// Their estimated weight in bytes.
    pub active_bytes: u64,
    /// Refusals cached (0 unless the negative cache is on).
    pub refused_entries: u64,
}
