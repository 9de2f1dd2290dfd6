//! The state one mock issuer shares between its handles and its server task:
//! [`Shared`], the token-endpoint data ([`GrantState`]), and [`Handle`], the
//! reference-counted owner of both that keeps the server running.
//!
//! Only data and accessors live here, so every other module of the test kit
//! can depend on this one without depending on each other.

use crate::task::AbortOnDrop;
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicUsize};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;
use tokio::task::JoinHandle;

use super::keys::KeyStore;

/// Default `Cache-Control` of the JWKS response.
pub(super) const DEFAULT_CACHE_CONTROL: &str = "public, max-age=300";

/// State shared by the issuer handles and the server task.
///
/// No `Debug`: it holds the HMAC secret.
pub(super) struct Shared {
    pub(super) issuer: String,
    pub(super) audience: String,
    pub(super) hmac_secret: Vec<u8>,
    pub(super) keys: Mutex<KeyStore>,
    pub(super) outage: AtomicBool,
    /// `Retry-After` (seconds) on outage answers.
    pub(super) outage_retry_after: Mutex<Option<u64>>,
    pub(super) jwks_delay: Mutex<Duration>,
    pub(super) cache_control: Mutex<Option<String>>,
    pub(super) jwks_fetches: AtomicUsize,
    /// Whether the JWKS response carries an `ETag` (and answers a matching
    /// `If-None-Match` with 304).
    pub(super) jwks_etag: std::sync::atomic::AtomicBool,
    pub(super) jwks_not_modified: AtomicUsize,
    pub(super) discovery_fetches: AtomicUsize,
    pub(super) requests: Mutex<HashMap<String, usize>>,
    pub(super) token_requests: AtomicUsize,
    pub(super) token_delay: Mutex<Duration>,
    pub(super) token_lifetime: Mutex<Duration>,
    pub(super) grant: Mutex<GrantState>,
    pub(super) opaque: Mutex<OpaqueState>,
}

impl Shared {
    /// A fresh issuer's state: no requests counted, no outage, no delays,
    /// the default `Cache-Control`, no registered clients.
    pub(super) fn new(
        issuer: String,
        audience: String,
        hmac_secret: Vec<u8>,
        keys: KeyStore,
        token_lifetime: Duration,
    ) -> Self {
        Shared {
            issuer,
            audience,
            hmac_secret,
            keys: Mutex::new(keys),
            outage: AtomicBool::new(false),
            outage_retry_after: Mutex::new(None),
            jwks_delay: Mutex::new(Duration::ZERO),
            cache_control: Mutex::new(Some(DEFAULT_CACHE_CONTROL.to_owned())),
            jwks_fetches: AtomicUsize::new(0),
            jwks_etag: std::sync::atomic::AtomicBool::new(true),
            jwks_not_modified: AtomicUsize::new(0),
            discovery_fetches: AtomicUsize::new(0),
            requests: Mutex::new(HashMap::new()),
            token_requests: AtomicUsize::new(0),
            token_delay: Mutex::new(Duration::ZERO),
            token_lifetime: Mutex::new(token_lifetime),
            grant: Mutex::new(GrantState::default()),
            opaque: Mutex::new(OpaqueState::default()),
        }
    }
}

/// A registered client.
#[derive(Clone)]
pub(super) enum Registered {
    /// `client_secret_basic` / `client_secret_post` with this secret.
    Secret(String),
    /// `private_key_jwt` verified with this public JWK.
    Jwt(Value),
}

/// Fault injection for the token endpoint.
#[derive(Default)]
pub(super) struct Faults {
    pub(super) remaining: usize,
    pub(super) status: u16,
    /// `Retry-After` (seconds) on each injected failure.
    pub(super) retry_after: Option<u64>,
}

/// Token-endpoint state of one issuer.
#[derive(Default)]
pub(super) struct GrantState {
    pub(super) clients: HashMap<String, Registered>,
    pub(super) seen_jti: HashSet<String>,
    pub(super) faults: Faults,
    #[cfg(feature = "dpop")]
    pub(super) dpop: super::grant_dpop::DpopGrant,
}

/// Introspection-endpoint state of one issuer.
#[derive(Default)]
pub(super) struct OpaqueState {
    /// Opaque tokens issued, with their claims.
    pub(super) tokens: HashMap<String, serde_json::Map<String, Value>>,
    /// `jti`s of JWTs revoked through [`MockIssuer::revoke_token`](super::MockIssuer::revoke_token).
    pub(super) revoked_jti: HashSet<String>,
    pub(super) fault: super::IntrospectionFault,
}

/// A counted reference to one issuer's [`Shared`] state and its server task.
///
/// `MockIssuer` and every outstanding `TokenBuilder` hold one; the server
/// task is aborted when the last one is dropped.
#[derive(Clone)]
pub(super) struct Handle {
    inner: Arc<Inner>,
}

struct Inner {
    shared: Arc<Shared>,
    _task: AbortOnDrop,
}

impl Handle {
    /// Takes ownership of the server `task` serving `shared`.
    pub(super) fn new(shared: Arc<Shared>, task: JoinHandle<()>) -> Self {
        Handle {
            inner: Arc::new(Inner {
                shared,
                _task: AbortOnDrop::new(task.abort_handle()),
            }),
        }
    }

    /// The issuer's state.
    pub(super) fn shared(&self) -> &Shared {
        &self.inner.shared
    }
}
