//! Keycloak.

use super::invalid;
use crate::claims::ClaimPath;
use crate::error::ConfigError;
use crate::issuer::{Issuer, IssuerBuilder};

/// Keycloak (and Red Hat build of Keycloak).
///
/// Roles: realm roles (`realm_access/roles`), plus the client roles of each
/// [`client_roles`](Self::client_roles) client (`resource_access/<client>/roles`;
/// the client id is taken literally, so `orders.api` works).
/// Requires the claim `"typ": "Bearer"`, so Keycloak ID tokens (`"ID"`) and
/// refresh tokens (`"Refresh"`) are refused as access tokens. Keycloak sets
/// `aud` to `account` unless an audience mapper is configured: configure one
/// and call `.audience(..)` with your client; `account` is never accepted
/// implicitly.
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
