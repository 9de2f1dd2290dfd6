//! [`DpopConfig`] and its builder.

use std::time::Duration;

use jsonwebtoken::Algorithm;
use url::Url;

use super::nonce::{NonceSecret, Nonces};
use super::replay::ReplayStore;
use crate::error::ConfigError;

/// Default `iat` window: a proof's `iat` may be at most 60 s before or
/// after the server's clock.
pub const DEFAULT_IAT_WINDOW: Duration = Duration::from_secs(60);
/// The largest `iat` window that may be configured: 5 min. A longer window
/// keeps captured proofs usable longer, and the replay cache larger.
pub const MAX_IAT_WINDOW: Duration = Duration::from_secs(300);
/// Default maximum proof length: 8 KiB, checked before any decoding (a
/// proof with an RSA-8192 key is about 3.5 KiB).
pub const DEFAULT_MAX_PROOF_BYTES: usize = 8 * 1024;
/// Default replay-cache capacity: 100 000 proofs (a few MiB).
pub const DEFAULT_REPLAY_CAPACITY: usize = 100_000;
/// Default maximum of proofs remembered per key: 10 000 per window, about
/// 160 requests per second per key with the default window.
pub const DEFAULT_REPLAY_PER_KEY: usize = 10_000;
/// Default nonce rotation: 5 min; a nonce is accepted for one to two periods.
pub const DEFAULT_NONCE_ROTATION: Duration = Duration::from_secs(300);

/// The asymmetric algorithms accepted by default: every one the crate's
/// backends verify. `none` and `HS*` can never be allowed (RFC 9449 §4.3).
pub const DEFAULT_DPOP_ALGORITHMS: &[Algorithm] = &[
    Algorithm::ES256,
    Algorithm::ES384,
    Algorithm::EdDSA,
    Algorithm::RS256,
    Algorithm::RS384,
    Algorithm::RS512,
    Algorithm::PS256,
    Algorithm::PS384,
    Algorithm::PS512,
];

/// How DPoP proofs are checked. Built with [`DpopConfig::builder`].
#[derive(Debug, Clone)]
pub struct DpopConfig {
    pub(crate) algorithms: Vec<Algorithm>,
    pub(crate) iat_window: u64,
    pub(crate) max_proof_bytes: usize,
    pub(crate) replay_capacity: usize,
    pub(crate) replay_per_key: usize,
    /// `Some` when nonces are required: the MAC keys and the rotation.
    pub(crate) nonces: Option<Nonces>,
    /// `scheme://host[:port]`, normalised.
    pub(crate) origin: String,
    /// The base URL's path without trailing `/` (may be empty).
    pub(crate) base_path: String,
    pub(crate) trust_forwarded: bool,
    /// A shared replay store (Redis) used by the layer instead of the
    /// in-memory cache.
    pub(crate) store: Option<SharedReplayStore>,
}

/// A [`ReplayStore`] shared by every clone of a configuration.
#[derive(Clone)]
pub(crate) struct SharedReplayStore(pub(crate) std::sync::Arc<dyn ReplayStore>);

impl std::fmt::Debug for SharedReplayStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ReplayStore")
    }
}

impl DpopConfig {
    /// A builder. `external_base_url` is the URL clients use to reach this
    /// service (behind a proxy: the public one), e.g.
    /// `https://api.example.com` or `https://example.com/orders-api`; a
    /// proof's `htu` must equal it followed by the request path.
    pub fn builder(external_base_url: impl Into<String>) -> DpopConfigBuilder {
        DpopConfigBuilder {
            base_url: external_base_url.into(),
            algorithms: DEFAULT_DPOP_ALGORITHMS.to_vec(),
            iat_window: DEFAULT_IAT_WINDOW,
            max_proof_bytes: DEFAULT_MAX_PROOF_BYTES,
            replay_capacity: DEFAULT_REPLAY_CAPACITY,
            replay_per_key: DEFAULT_REPLAY_PER_KEY,
            nonce_rotation: None,
            nonce_secret: None,
            trust_forwarded: false,
            store: None,
        }
    }

    /// The accepted algorithms, for the `algs` parameter of the `DPoP`
    /// challenge and `dpop_signing_alg_values_supported`.
    pub fn algorithms(&self) -> &[Algorithm] {
        &self.algorithms
    }

    /// Whether proofs must carry a server nonce.
    pub fn requires_nonce(&self) -> bool {
        self.nonces.is_some()
    }
}

/// Builds a [`DpopConfig`].
///
/// | setting | default | why |
/// |---|---|---|
/// | external base URL | required | `htu` is compared against it; behind a proxy the request's own `Host` says nothing about the URL the client signed |
/// | [`algorithms`](Self::algorithms) | [`DEFAULT_DPOP_ALGORITHMS`] (ES256, ES384, EdDSA, RS*, PS*) | every asymmetric algorithm the backends verify; `none` and `HS*` are refused at build time (a proof must be verifiable with the public key it carries) |
/// | [`iat_window`](Self::iat_window) | 60 s, at most 300 s | tolerates clock skew, bounds how long a captured proof stays usable and how long the replay cache remembers it |
/// | [`max_proof_bytes`](Self::max_proof_bytes) | 8 KiB | refused before any base64 or JSON decoding |
/// | [`replay_capacity`](Self::replay_capacity) | 100 000 | bounded memory; when full, proofs are refused rather than older ones forgotten (forgetting would make them replayable) |
/// | [`replay_per_key`](Self::replay_per_key) | 10 000 | one key cannot fill the cache for every other client |
/// | [`require_nonce`](Self::require_nonce) | off | nonces cost every client one extra round trip per rotation; turn on to stop proofs made ahead of time (RFC 9449 §11.2) |
/// | [`nonce_secret`](Self::nonce_secret) | random per process | instances behind one load balancer must share it |
/// | [`replay_store`](Self::replay_store) | in memory, per process | no infrastructure needed; instances behind one load balancer should share a store (e.g. Redis) so a proof accepted by one is refused by the others |
/// | [`with_insecure_trust_forwarded_headers`](Self::with_insecure_trust_forwarded_headers) | off | `Host` and `X-Forwarded-*` are client-controlled unless a proxy overwrites them |
#[derive(Debug, Clone)]
#[must_use]
pub struct DpopConfigBuilder {
    base_url: String,
    algorithms: Vec<Algorithm>,
    iat_window: Duration,
    max_proof_bytes: usize,
    replay_capacity: usize,
    replay_per_key: usize,
    nonce_rotation: Option<Duration>,
    nonce_secret: Option<NonceSecret>,
    trust_forwarded: bool,
    store: Option<SharedReplayStore>,
}

impl DpopConfigBuilder {
    /// Remember accepted proofs in `store`, shared by every instance,
    /// instead of this process's memory (any [`ReplayStore`]: atomic
    /// `SET NX` with an expiry, e.g. on Redis). The layer then
    /// awaits the store once per DPoP request (bounded by the store's own
    /// timeout); a store error refuses the proof with 503. The in-memory
    /// path stays synchronous. [`DpopChecker::check`](crate::dpop::DpopChecker::check)
    /// always uses the in-memory cache.
    pub fn replay_store(mut self, store: impl ReplayStore) -> Self {
        self.store = Some(SharedReplayStore(std::sync::Arc::new(store)));
        self
    }

    /// The accepted proof algorithms (non-empty, asymmetric only).
    pub fn algorithms(mut self, algs: impl IntoIterator<Item = Algorithm>) -> Self {
        self.algorithms = algs.into_iter().collect();
        self
    }

    /// How far a proof's `iat` may be from the server's clock, either way.
    pub fn iat_window(mut self, window: Duration) -> Self {
        self.iat_window = window;
        self
    }

    /// The longest proof accepted, in bytes (1 KiB to 64 KiB).
    pub fn max_proof_bytes(mut self, max: usize) -> Self {
        self.max_proof_bytes = max;
        self
    }

    /// How many proofs the replay cache remembers at most.
    pub fn replay_capacity(mut self, capacity: usize) -> Self {
        self.replay_capacity = capacity;
        self
    }

    /// How many proofs of one key the replay cache remembers at most.
    pub fn replay_per_key(mut self, per_key: usize) -> Self {
        self.replay_per_key = per_key;
        self
    }

    /// Require server nonces (RFC 9449 §9), rotated every `rotation` (10 s
    /// to 1 h; [`DEFAULT_NONCE_ROTATION`] is a good choice). The current and
    /// the previous nonce are accepted.
    pub fn require_nonce(mut self, rotation: Duration) -> Self {
        self.nonce_rotation = Some(rotation);
        self
    }

    /// The secret nonces are MAC'd with; share it between instances.
    pub fn nonce_secret(mut self, secret: NonceSecret) -> Self {
        self.nonce_secret = Some(secret);
        self
    }

    /// Take the origin (scheme, host, port) that `htu` is compared with
    /// from the request instead of the configured base URL; the base URL's
    /// path is still prepended to the request path.
    ///
    /// | part | taken from, the first present wins |
    /// |---|---|
    /// | scheme | `X-Forwarded-Proto`, the request URI's scheme (HTTP/2), the base URL's |
    /// | host\[:port\] | `X-Forwarded-Host`, `Host`, the request URI's authority (HTTP/2), the base URL's |
    ///
    /// Of a header, the first element of the first field is used (`https,
    /// http` → `https`). A header that is present but malformed (a scheme
    /// other than `http`/`https`, a host that is not a URI authority or has
    /// userinfo, an empty first element, non-ASCII) refuses the proof with
    /// `dpop_htu`: the proof is never checked against another origin than
    /// the one the request names. [`DpopChecker::check`](crate::dpop::DpopChecker::check)
    /// has no headers: it uses an absolute request URI's scheme and
    /// authority, else the base URL's.
    ///
    /// # Deployment caveat
    /// Only behind a proxy that overwrites (not appends to) `Host`,
    /// `X-Forwarded-Proto` and `X-Forwarded-Host` on every request:
    /// otherwise a client chooses the URL its proof is compared with, and a
    /// proof made for another service with the same token is accepted
    /// here. Without this option those headers are never read.
    pub fn with_insecure_trust_forwarded_headers(mut self) -> Self {
        self.trust_forwarded = true;
        self
    }

    /// Check the settings (and draw a random nonce secret when nonces are
    /// required and none was given).
    ///
    /// # Errors
    /// [`ConfigError::InvalidUrl`] for a base URL that is not absolute
    /// `http(s)` or has userinfo, a query or a fragment;
    /// [`ConfigError::NoAlgorithms`] / [`ConfigError::Algorithm`] for an
    /// empty or non-asymmetric allowlist; [`ConfigError::LeewayTooLarge`]
    /// for an `iat` window over [`MAX_IAT_WINDOW`];
    /// [`ConfigError::OutOfRange`] for the other bounds;
    /// [`ConfigError::HmacSecretUnusable`] if the backend refuses the nonce
    /// secret.
    pub fn build(self) -> Result<DpopConfig, ConfigError> {
        let invalid = |reason| ConfigError::InvalidUrl {
            url: self.base_url.clone(),
            reason,
        };
        let url = Url::parse(&self.base_url).map_err(|_| invalid("not an absolute URL"))?;
        if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
            return Err(invalid("the external base URL must be http(s) with a host"));
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(invalid("userinfo is not allowed"));
        }
        if url.query().is_some() || url.fragment().is_some() {
            return Err(invalid(
                "the external base URL cannot have a query or fragment",
            ));
        }
        let origin = url.origin().ascii_serialization();
        let base_path = url.path().trim_end_matches('/').to_owned();

        if self.algorithms.is_empty() {
            return Err(ConfigError::NoAlgorithms);
        }
        if let Some(alg) = self
            .algorithms
            .iter()
            .find(|a| !DEFAULT_DPOP_ALGORITHMS.contains(a))
        {
            return Err(ConfigError::Algorithm {
                alg: format!("{alg:?}"),
                reason: "DPoP proofs are verified with the public key they carry: asymmetric algorithms only",
            });
        }
        if self.iat_window > MAX_IAT_WINDOW {
            return Err(ConfigError::LeewayTooLarge {
                configured: self.iat_window,
                max: MAX_IAT_WINDOW,
            });
        }
        let out_of_range = |setting, reason| ConfigError::OutOfRange { setting, reason };
        if self.iat_window < Duration::from_secs(1) {
            return Err(out_of_range("iat_window", "at least 1 s"));
        }
        if !(1024..=64 * 1024).contains(&self.max_proof_bytes) {
            return Err(out_of_range("max_proof_bytes", "between 1 KiB and 64 KiB"));
        }
        if self.replay_capacity == 0 || self.replay_per_key == 0 {
            return Err(out_of_range("replay_capacity", "at least 1"));
        }
        if self.replay_per_key > self.replay_capacity {
            return Err(out_of_range("replay_per_key", "at most replay_capacity"));
        }
        let nonces = match self.nonce_rotation {
            Some(r) if !(Duration::from_secs(10)..=Duration::from_secs(3600)).contains(&r) => {
                return Err(out_of_range(
                    "require_nonce",
                    "rotation between 10 s and 1 h",
                ));
            }
            Some(r) => {
                let secret = self.nonce_secret.unwrap_or_else(NonceSecret::random);
                Some(Nonces::new(&secret, r.as_secs())?)
            }
            None => None,
        };
        Ok(DpopConfig {
            algorithms: self.algorithms,
            iat_window: self.iat_window.as_secs(),
            max_proof_bytes: self.max_proof_bytes,
            replay_capacity: self.replay_capacity,
            replay_per_key: self.replay_per_key,
            nonces,
            origin,
            base_path,
            trust_forwarded: self.trust_forwarded,
            store: self.store,
        })
    }
}
