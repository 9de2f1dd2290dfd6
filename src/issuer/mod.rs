//! An issuer: who may sign tokens for this service, with which keys, and how
//! its tokens are checked.
//!
//! ```no_run
//! # async fn run() -> Result<(), oauth2_guard::ConfigError> {
//! use oauth2_guard::Issuer;
//!
//! // OIDC discovery, the first key set loaded before `build` returns.
//! let issuer = Issuer::builder("https://idp.example.com/realms/shop")
//!     .audience("orders-api")
//!     .build()
//!     .await?;
//! # Ok(()) }
//! ```
//!
//! # Security
//! Every default is the safe one: an audience is required, `none` and HMAC are
//! not allowed, leeway is 60 s (at most 5 min), and discovery and key URLs
//! must be HTTPS — plain HTTP to an IdP on `127.0.0.1` / `[::1]` only with the
//! explicit [`HttpConfig::allow_loopback_http`] opt-in (the test kit's
//! `MockIssuer::issuer_builder` sets it), and to any other host only with
//! [`HttpConfig::dangerous_allow_insecure_http`]. Redirects are held to the
//! same rule, whoever built the HTTP client.
//!
//! The issuer identifier is an `https` URL without userinfo, query or
//! fragment (RFC 8414 §2): `https://sso.example.com@evil.example/` is a URL
//! of `evil.example`, and is refused with
//! [`ConfigError::InvalidUrl`](crate::ConfigError::InvalidUrl) however the
//! keys are configured. An explicit [`jwks_uri`](IssuerBuilder::jwks_uri)
//! may carry a query (Entra's `?appid=`), never userinfo or a fragment. See
//! the crate's `manual` module for the reasons.

pub use crate::discovery::ProviderMetadata;
pub use crate::http::{HttpConfig, DEFAULT_MAX_RESPONSE_BYTES};
pub use crate::jwks::RefreshConfig;
pub use crate::verify::validate::{AudienceCheck, DEFAULT_ALGORITHMS, DEFAULT_LEEWAY, MAX_LEEWAY};

mod builder;
mod prepare;

pub use builder::IssuerBuilder;

use std::fmt;
use std::sync::Arc;

use crate::jwks::store::KeyStore;
use crate::task::AbortOnDrop;
use crate::tenant::template::Tenancy;
pub use crate::tenant::TenantPolicy;
use crate::verify::validate::Profile;

/// A configured issuer. Cheap to clone; the background key refresh stops
/// when the last clone (and every layer using it) is dropped.
#[derive(Clone)]
pub struct Issuer(Arc<IssuerInner>);

struct IssuerInner {
    name: Arc<str>,
    profile: Profile,
    store: Arc<KeyStore>,
    tenancy: Option<Tenancy>,
    /// Its decision counters, handed to the claims it verifies.
    counters: crate::ops::IssuerCounters,
    _refresh: Option<AbortOnDrop>,
}

impl fmt::Debug for Issuer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Issuer")
            .field("issuer", &self.0.name)
            .field("audience", &self.0.profile.audience)
            .field("roles_from", &self.0.profile.roles)
            .field("algorithms", &self.0.profile.algorithms)
            .field("tenants", &self.0.tenancy.as_ref().map(|t| &t.policy))
            .finish_non_exhaustive()
    }
}

impl Issuer {
    /// Start configuring the issuer whose `iss` is exactly `issuer`.
    pub fn builder(issuer: impl Into<String>) -> IssuerBuilder {
        IssuerBuilder::new(issuer.into())
    }

    /// The issuer identifier (`iss`).
    pub fn name(&self) -> &str {
        &self.0.name
    }

    /// The discovered metadata, when discovery was used and has completed.
    pub fn metadata(&self) -> Option<&ProviderMetadata> {
        self.0.store.metadata()
    }

    /// Whether this issuer reads roles from any claim path
    /// ([`IssuerBuilder::roles_from`], or a preset's mapping). A role guard
    /// in front of issuers that all answer `false` can never pass; see
    /// [`RequireRole::checked_against`](crate::authz::RequireRole::checked_against).
    pub fn maps_roles(&self) -> bool {
        !self.0.profile.roles.is_empty()
    }

    /// Whether this is a tenant-template issuer ([`IssuerBuilder::tenants`]).
    pub fn is_multi_tenant(&self) -> bool {
        self.0.tenancy.is_some()
    }

    /// Whether a usable key set is loaded (for readiness probes).
    pub fn is_ready(&self) -> bool {
        self.0.store.is_available()
    }

    pub(crate) fn store(&self) -> &Arc<KeyStore> {
        &self.0.store
    }

    /// The issuer identifier, shared with claims and rejections.
    pub(crate) fn name_arc(&self) -> &Arc<str> {
        &self.0.name
    }

    /// Its decision counters (`ops`), for the claims it verifies.
    pub(crate) fn counters(&self) -> &crate::ops::IssuerCounters {
        &self.0.counters
    }

    /// How this issuer's tokens are checked.
    pub(crate) fn profile(&self) -> &Profile {
        &self.0.profile
    }

    /// The template and tenant policy of a multi-tenant issuer.
    pub(crate) fn tenancy(&self) -> Option<&Tenancy> {
        self.0.tenancy.as_ref()
    }
}
