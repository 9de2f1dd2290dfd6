//! DPoP proof checks (RFC 9449), feature `dpop`.
//!
//! A DPoP-bound access token carries `cnf.jkt`, the thumbprint of a key
//! only its client holds; each request comes with a fresh proof signed by
//! that key for this method and URL. A token copied from a log or a proxy
//! is useless without the key. [`DpopChecker::check`] runs every check of
//! RFC 9449 §4.3 and §7.1 on one proof, synchronously:
//!
//! 1. length (before any decoding), then shape: a compact JWS;
//! 2. `typ` = `dpop+jwt`; `alg` on an asymmetric allowlist (never `none`,
//!    never `HS*`); no `crit`;
//! 3. `jwk`: present, public only (private members → refused), an RSA
//!    (≥ 2048 bits), P-256, P-384 or Ed25519 key of the type `alg` needs;
//! 4. the signature, with that key, through the crate's signature backend;
//! 5. `jti` present; `htm` = the request method; `htu` = the external base
//!    URL + the request path, both normalised (RFC 3986 §6.2.2–6.2.3,
//!    without query and fragment); `iat` within the window;
//!    `ath` = base64url(SHA-256(access token)); the token's `cnf.jkt` = the
//!    RFC 7638 thumbprint of the proof's key ([`jwk_thumbprint_sha256`]);
//! 6. the server nonce, when required ([`DpopConfigBuilder::require_nonce`]);
//! 7. last, the proof is recorded in the bounded replay cache; a proof
//!    already seen within the window is refused.
//!
//! Each failure is its own [`DpopError`] with a stable code.
//!
//! ```
//! # #[cfg(feature = "testkit")] {
//! use std::time::Duration;
//! use http::{Method, Uri};
//! use oauth2_guard::dpop::{DpopChecker, DpopConfig, DpopError};
//! use oauth2_guard::testkit::{Algorithm, DpopKey};
//!
//! let checker = DpopChecker::new(
//!     DpopConfig::builder("https://api.example.com").build().unwrap(),
//! );
//! let key = DpopKey::generate(Algorithm::ES256);
//! let token = "the.access.token"; // its cnf.jkt is key.thumbprint()
//! let now: u64 = 1_700_000_000;
//! let proof = key
//!     .proof_builder("GET", "https://api.example.com/orders?page=2")
//!     .access_token(token)
//!     .iat(now as i64)
//!     .sign();
//! let uri: Uri = "/orders?page=2".parse().unwrap();
//! let jkt = key.thumbprint();
//!
//! let checked = checker
//!     .check(&proof, &Method::GET, &uri, token, Some(&jkt), now)
//!     .unwrap();
//! assert_eq!(checked.thumbprint(), jkt);
//! // The same proof again is a replay; a proof for POST is refused.
//! let again = checker.check(&proof, &Method::GET, &uri, token, Some(&jkt), now);
//! assert_eq!(again.unwrap_err().code(), "dpop_replay");
//! let post = checker.check(&proof, &Method::POST, &uri, token, Some(&jkt), now);
//! assert_eq!(post, Err(DpopError::Htm));
//! # }
//! ```
//!
//! # Security
//! - The base URL is configuration, not the `Host` header: behind a proxy
//!   `Host` is whatever the client or the proxy put there (see
//!   [`DpopConfigBuilder::with_insecure_trust_forwarded_headers`]).
//! - The replay cache is per process by default; instances behind a load
//!   balancer each remember only the proofs they saw, so a proof can be
//!   replayed once against each other instance within its window. Share
//!   one store between them: `RedisReplayStore` (feature `redis`, given to
//!   [`DpopConfigBuilder::replay_store`]), or any [`ReplayStore`]. The
//!   shared store fails closed: while it cannot be asked, DPoP requests
//!   are answered 503.
//! - Server nonces are MAC'd time slots: any instance with the same
//!   [`NonceSecret`] verifies them, nothing else is shared.

mod config;
mod error;
mod forwarded;
mod htu;
mod jwk;
mod nonce;
mod proof;
#[cfg(feature = "redis")]
mod redis_store;
mod replay;
#[cfg(all(test, feature = "testkit"))]
mod tests;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jsonwebtoken::Algorithm;
use sha2::{Digest, Sha256};

pub use crate::layer::require_dpop::{RequireDpop, RequireDpopService};
pub use config::{
    DpopConfig, DpopConfigBuilder, DEFAULT_DPOP_ALGORITHMS, DEFAULT_IAT_WINDOW,
    DEFAULT_MAX_PROOF_BYTES, DEFAULT_NONCE_ROTATION, DEFAULT_REPLAY_CAPACITY,
    DEFAULT_REPLAY_PER_KEY, MAX_IAT_WINDOW,
};
pub use error::DpopError;
pub use jwk::{jwk_thumbprint_sha256, Jwk};
pub use nonce::NonceSecret;
#[cfg(feature = "redis")]
#[cfg_attr(docsrs, doc(cfg(feature = "redis")))]
pub use redis_store::{
    RedisReplayStore, RedisReplayStoreBuilder, DEFAULT_REDIS_REPLAY_PERIOD,
    DEFAULT_REDIS_REPLAY_TIMEOUT,
};
pub use replay::{MemoryReplayCache, ReplayError, ReplayKey, ReplayStore};

/// A proof that passed every check. Only [`DpopChecker`] makes one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckedProof {
    jkt: String,
    alg: Algorithm,
}

impl CheckedProof {
    /// The RFC 7638 thumbprint of the proof's key (the token's `cnf.jkt`).
    pub fn thumbprint(&self) -> &str {
        &self.jkt
    }

    /// The algorithm the proof was signed with.
    pub fn algorithm(&self) -> Algorithm {
        self.alg
    }
}

/// A proof that passed every check but the replay check: the seam for an
/// asynchronous [`ReplayStore`].
#[derive(Debug)]
pub(crate) struct UnreplayedProof {
    checked: CheckedProof,
    key: ReplayKey,
    /// Unix seconds after which the `iat` check refuses the proof anyway.
    expires: u64,
    /// Nonces are on and the proof's nonce is not the current slot's: the
    /// answer should carry a fresh `DPoP-Nonce` (RFC 9449 §8.2).
    stale_nonce: bool,
}

impl UnreplayedProof {
    /// Whether the answer should carry a fresh `DPoP-Nonce`.
    pub(crate) fn stale_nonce(&self) -> bool {
        self.stale_nonce
    }

    /// What to record in the replay store.
    pub(crate) fn replay_key(&self) -> &ReplayKey {
        &self.key
    }

    /// How long to remember it, from `now`.
    pub(crate) fn ttl(&self, now: u64) -> std::time::Duration {
        std::time::Duration::from_secs(self.expires.saturating_sub(now).max(1))
    }

    /// The proof, once the store said it is fresh.
    pub(crate) fn fresh(self) -> CheckedProof {
        self.checked
    }
}

/// Checks DPoP proofs: the configuration, the in-memory replay cache and
/// the nonce key. Share one per service (it is `Send + Sync`).
#[derive(Debug)]
pub struct DpopChecker {
    config: DpopConfig,
    replay: MemoryReplayCache,
}

impl DpopChecker {
    /// A checker for `config`, with an empty replay cache.
    pub fn new(config: DpopConfig) -> Self {
        let replay = MemoryReplayCache::new(config.replay_capacity, config.replay_per_key);
        Self { config, replay }
    }

    /// The configuration.
    pub fn config(&self) -> &DpopConfig {
        &self.config
    }

    /// A fresh server nonce for the `DPoP-Nonce` response header, or `None`
    /// when nonces are not required. It changes once per rotation period;
    /// send it on every response so clients switch before it goes stale.
    pub fn issue_nonce(&self, now: u64) -> Option<String> {
        self.config.nonces.as_ref().map(|n| n.issue(now))
    }

    /// Check `proof` (the `DPoP` header) for a request with `method` and
    /// `uri`, carrying `access_token` whose `cnf.jkt` is `token_jkt`, at
    /// `now` (Unix seconds), and record it in the replay cache.
    ///
    /// `uri` is the request target; only its path is used, unless
    /// forwarded headers are trusted and it is absolute (then its scheme
    /// and authority are the origin; the layer also reads `Host` and
    /// `X-Forwarded-*`, see
    /// [`with_insecure_trust_forwarded_headers`](DpopConfigBuilder::with_insecure_trust_forwarded_headers)). A token without
    /// `cnf.jkt` (`token_jkt` = `None`) is refused: under the `DPoP` scheme
    /// the token must be bound (RFC 9449 §7.1).
    ///
    /// # Errors
    /// The first check that failed, in the order of the module docs.
    pub fn check(
        &self,
        proof: &str,
        method: &http::Method,
        uri: &http::Uri,
        access_token: &str,
        token_jkt: Option<&str>,
        now: u64,
    ) -> Result<CheckedProof, DpopError> {
        let access = Some((access_token, token_jkt));
        let unreplayed = self.check_proof(proof, method, uri, None, access, now)?;
        self.record(unreplayed, now)
    }

    /// Record a proof that passed every other check in the in-memory
    /// replay cache.
    pub(crate) fn record(
        &self,
        unreplayed: UnreplayedProof,
        now: u64,
    ) -> Result<CheckedProof, DpopError> {
        replay_verdict(
            self.replay
                .insert_at(&unreplayed.key, now, unreplayed.expires),
        )
        .map(|()| unreplayed.checked)
    }

    /// Every check but the replay check, for a request with these
    /// `headers` (read only with
    /// [`with_insecure_trust_forwarded_headers`](DpopConfigBuilder::with_insecure_trust_forwarded_headers)).
    pub(crate) fn check_unreplayed(
        &self,
        proof: &str,
        head: &crate::layer::RequestHead<'_>,
        access_token: &str,
        token_jkt: Option<&str>,
        now: u64,
    ) -> Result<UnreplayedProof, DpopError> {
        let access = Some((access_token, token_jkt));
        self.check_proof(
            proof,
            head.method,
            head.uri,
            Some(head.headers),
            access,
            now,
        )
    }

    /// Check a proof sent to a token endpoint (RFC 9449 §5): every check
    /// but `ath` and `cnf.jkt` (there is no access token yet), replay
    /// included. For authorization servers (the test kit's `MockIssuer`).
    #[cfg(any(feature = "testkit", test))]
    pub(crate) fn check_token_request(
        &self,
        proof: &str,
        method: &http::Method,
        uri: &http::Uri,
        now: u64,
    ) -> Result<CheckedProof, DpopError> {
        let unreplayed = self.check_proof(proof, method, uri, None, None, now)?;
        self.record(unreplayed, now)
    }

    /// Every check but the replay check; `ath` and `cnf.jkt` only when
    /// `access` (the token and its `cnf.jkt`) is given; the request's
    /// `headers`, when given, only when forwarded headers are trusted.
    fn check_proof(
        &self,
        proof: &str,
        method: &http::Method,
        uri: &http::Uri,
        headers: Option<&http::HeaderMap>,
        access: Option<(&str, Option<&str>)>,
        now: u64,
    ) -> Result<UnreplayedProof, DpopError> {
        let c = &self.config;
        let verified = proof::verify(proof, c.max_proof_bytes, &c.algorithms)?;
        let claims = &verified.claims;
        if claims.htm != method.as_str() {
            return Err(DpopError::Htm);
        }
        // Trusted forwarded headers name the origin; a malformed one makes
        // it unknowable: refused, never replaced by the configured one.
        let origin = if c.trust_forwarded {
            let none = http::HeaderMap::new();
            let forwarded = forwarded::origin(&c.origin, uri, headers.unwrap_or(&none));
            std::borrow::Cow::Owned(forwarded.map_err(|_| DpopError::Htu)?)
        } else {
            std::borrow::Cow::Borrowed(c.origin.as_str())
        };
        let expected = htu::expected(&origin, &c.base_path, uri.path()).ok_or(DpopError::Htu)?;
        if htu::normalise(&claims.htu).as_deref() != Some(expected.as_str()) {
            return Err(DpopError::Htu);
        }
        let window = i64::try_from(c.iat_window).unwrap_or(i64::MAX);
        let now_i = i64::try_from(now).unwrap_or(i64::MAX);
        if claims.iat.abs_diff(now_i) > c.iat_window {
            return Err(DpopError::Iat);
        }
        let jkt_bytes = verified.jwk.thumbprint_bytes();
        let jkt = URL_SAFE_NO_PAD.encode(jkt_bytes);
        if let Some((access_token, token_jkt)) = access {
            let ath = URL_SAFE_NO_PAD.encode(Sha256::digest(access_token.as_bytes()));
            if claims.ath.as_deref() != Some(ath.as_str()) {
                return Err(DpopError::Ath);
            }
            if token_jkt != Some(jkt.as_str()) {
                return Err(DpopError::JktMismatch);
            }
        }
        let mut stale_nonce = false;
        if let Some(nonces) = &c.nonces {
            match &claims.nonce {
                Some(n) if nonces.verify(n, now) => stale_nonce = *n != nonces.issue(now),
                _ => return Err(DpopError::Nonce),
            }
        }
        // After iat + window the iat check refuses the proof: remember it
        // until then (iat ≥ now − window here, so this is ≥ now).
        let expires = u64::try_from(claims.iat.saturating_add(window).saturating_add(1))
            .unwrap_or(0)
            .max(now.saturating_add(1));
        Ok(UnreplayedProof {
            key: ReplayKey::new(jkt_bytes, &claims.jti),
            checked: CheckedProof {
                jkt,
                alg: verified.alg,
            },
            expires,
            stale_nonce,
        })
    }
}

/// What a replay store's answer means for the proof.
pub(crate) fn replay_verdict(answer: Result<bool, ReplayError>) -> Result<(), DpopError> {
    match answer {
        Ok(true) => Ok(()),
        Ok(false) => Err(DpopError::Replay),
        Err(ReplayError::KeyLimit) => Err(DpopError::ReplayKeyLimit),
        Err(ReplayError::Unavailable) => Err(DpopError::ReplayStoreUnavailable),
        Err(_) => Err(DpopError::ReplayCacheFull),
    }
}
