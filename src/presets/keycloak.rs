//! Keycloak.

use super::invalid;
use crate::claims::ClaimPath;
use crate::error::ConfigError;
use crate::issuer::{Issuer, IssuerBuilder};

/// Keycloak (and Red Hat build of Keycloak).
///
/// # What the preset checks and maps
/// | check / mapping | refuses (reason) |
/// |---|---|
/// | claim `typ` = `"Bearer"` | Keycloak ID tokens (`"ID"`), refresh tokens (`"Refresh"`), tokens without it (`invalid_claim`) |
/// | roles ← `realm_access/roles` (unless [`without_realm_roles`](Self::without_realm_roles)) | — |
/// | roles ← `resource_access/<client>/roles` for each [`client_roles`](Self::client_roles) client (taken literally: `orders.api` works) | — |
///
/// Nothing else is added to [`Issuer::builder`]'s defaults. In particular
/// the `typ: JWT` **header** Keycloak sends is accepted by the generic rule
/// (every issuer accepts `JWT` or `at+jwt` unless
/// [`strict_rfc9068`](crate::IssuerBuilder::strict_rfc9068)), and the
/// `use: enc` key Keycloak publishes next to its signing key is skipped by
/// the generic JWKS parser: neither is a Keycloak special case. Keycloak
/// sets `aud` to `account` unless an audience mapper is configured:
/// configure one and call `.audience(..)` with your client; `account` is
/// never accepted implicitly.
#[derive(Debug, Clone)]
pub struct Keycloak {
    issuer: String,
    audiences: Vec<String>,
    clients: Vec<String>,
    realm_roles: bool,
}

finish!(Keycloak, audience);

impl Keycloak {
    /// The realm `realm` of the Keycloak at `base_url` (`https://host` or
    /// `https://host/auth` for Keycloak before 17).
    pub fn new(base_url: &str, realm: &str) -> Self {
        Self::from_issuer(&format!(
            "{}/realms/{realm}",
            base_url.trim_end_matches('/')
        ))
    }

    /// A Keycloak realm whose issuer URL is exactly `issuer`.
    pub fn from_issuer(issuer: &str) -> Self {
        Self {
            issuer: issuer.to_owned(),
            audiences: Vec::new(),
            clients: Vec::new(),
            realm_roles: true,
        }
    }

    /// Also read the client roles of `client_id`. May be called several times.
    #[must_use]
    pub fn client_roles(mut self, client_id: &str) -> Self {
        self.clients.push(client_id.to_owned());
        self
    }

    /// Do not read realm roles (only client roles).
    #[must_use]
    pub fn without_realm_roles(mut self) -> Self {
        self.realm_roles = false;
        self
    }

    /// The configured issuer builder, for settings the preset does not
    /// forward.
    ///
    /// # Errors
    /// An empty realm or client id.
    pub fn builder(self) -> Result<IssuerBuilder, ConfigError> {
        if self.issuer.ends_with("/realms/") {
            return Err(invalid(&self.issuer, "empty Keycloak realm"));
        }
        let mut b = Issuer::builder(self.issuer)
            .audiences(self.audiences)
            .require_claim("typ", "Bearer");
        if self.realm_roles {
            b = b.roles_from(ClaimPath::from_segments(["realm_access", "roles"])?);
        }
        for c in self.clients {
            b = b.roles_from(ClaimPath::from_segments([
                "resource_access".to_owned(),
                c,
                "roles".to_owned(),
            ])?);
        }
        Ok(b)
    }
}
