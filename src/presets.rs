//! Presets for common identity providers: the issuer URL form, role
//! mapping and validation quirks of Keycloak, Auth0, Okta, Amazon Cognito
//! and Microsoft Entra ID. Each returns an [`IssuerBuilder`] you finish with
//! your audience (or app clients) and `build()`.
//!
//! ```no_run
//! # async fn run() -> Result<(), oauth2_guard::ConfigError> {
//! use oauth2_guard::presets::{Cognito, Entra, Keycloak};
//!
//! let kc = Keycloak::new("https://sso.example.com", "shop")
//!     .client_roles("orders-api")
//!     .builder()?
//!     .audience("orders-api")
//!     .build()
//!     .await?;
//! let cognito = Cognito::new("eu-west-1", "eu-west-1_AbCdEf123")
//!     .app_clients(["1example23456789"])
//!     .builder()?
//!     .build()
//!     .await?;
//! let entra = Entra::new("00000000-0000-0000-0000-000000000000")
//!     .builder()?
//!     .audience("api://orders")
//!     .build()
//!     .await?;
//! # let _ = (kc, cognito, entra); Ok(()) }
//! ```
//!
//! | preset | issuer | roles from | quirks handled |
//! |---|---|---|---|
//! | [`Keycloak`] | `{base}/realms/{realm}` | `realm_access/roles`, `resource_access/{client}/roles` | `typ: JWT` header; `"typ": "Bearer"` claim required (refuses ID and refresh tokens); JWKS `use: enc` key ignored |
//! | [`Auth0`] | `https://{domain}/` (trailing `/`) | `permissions` (RBAC), plus namespaced claims | `aud` array; `typ: JWT` |
//! | [`Okta`] | `{org}/oauth2/{server}` | a groups claim you name | `scp` array; `cid`, `uid` |
//! | [`Cognito`] | `https://cognito-idp.{region}.amazonaws.com/{pool}` | `cognito:groups` | no `aud`: `client_id` checked against the app clients; `token_use: access` required |
//! | [`Entra`] | v2 `https://login.microsoftonline.com/{tenant}/v2.0` (default) or v1 `https://sts.windows.net/{tenant}/` | `roles` | `scp` space-delimited; `ver` checked (`2.0` / `1.0`) |
//!
//! Every preset also has `from_issuer(url)` for a private deployment (a
//! custom domain, or a test issuer on loopback); the quirks stay the same.
//! Presets never widen what is accepted beyond the defaults of
//! [`Issuer::builder`]: they add checks and role mappings.

use crate::claims::ClaimPath;
use crate::error::ConfigError;
use crate::issuer::{Issuer, IssuerBuilder};

fn path(p: &str) -> Result<ClaimPath, ConfigError> {
    ClaimPath::parse(p)
}

fn invalid(url: &str, reason: &'static str) -> ConfigError {
    ConfigError::InvalidUrl {
        url: url.to_owned(),
        reason,
    }
}

/// Keycloak (and Red Hat build of Keycloak).
///
/// Roles: realm roles (`realm_access.roles`), plus the client roles of each
/// [`client_roles`](Self::client_roles) client (`resource_access.<client>.roles`).
/// Requires the claim `"typ": "Bearer"`, so Keycloak ID tokens (`"ID"`) and
/// refresh tokens (`"Refresh"`) are refused as access tokens. Keycloak sets
/// `aud` to `account` unless an audience mapper is configured: configure one
/// and call `.audience(..)` with your client; `account` is never accepted
/// implicitly.
#[derive(Debug, Clone)]
pub struct Keycloak {
    issuer: String,
    clients: Vec<String>,
    realm_roles: bool,
}

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

    /// The configured issuer builder.
    ///
    /// # Errors
    /// An empty realm or client id.
    pub fn builder(self) -> Result<IssuerBuilder, ConfigError> {
        if self.issuer.ends_with("/realms/") {
            return Err(invalid(&self.issuer, "empty Keycloak realm"));
        }
        let mut b = Issuer::builder(self.issuer).require_claim("typ", "Bearer");
        if self.realm_roles {
            b = b.roles_from(path("realm_access/roles")?);
        }
        for c in &self.clients {
            b = b.roles_from(ClaimPath::parse(&format!(
                "resource_access/{}/roles",
                c.replace('~', "~0").replace('/', "~1")
            ))?);
        }
        Ok(b)
    }
}

/// Auth0.
///
/// The issuer is `https://{domain}/` — with the trailing slash Auth0 puts in
/// `iss`. Roles: `permissions` (present when RBAC and "Add Permissions in
/// the Access Token" are on) plus any namespaced custom claim you name with
/// [`roles_claim`](Self::roles_claim) (`https://example.com/roles`). `aud`
/// is often an array (your API and `…/userinfo`); any configured audience
/// in it is enough.
#[derive(Debug, Clone)]
pub struct Auth0 {
    issuer: String,
    claims: Vec<String>,
    permissions: bool,
}

impl Auth0 {
    /// The tenant at `domain` (`tenant.eu.auth0.com` or a custom domain).
    pub fn new(domain: &str) -> Self {
        Self::from_issuer(&format!("https://{}/", domain.trim_end_matches('/')))
    }

    /// A tenant whose issuer URL is exactly `issuer` (a `/` is appended if missing).
    pub fn from_issuer(issuer: &str) -> Self {
        let issuer = if issuer.ends_with('/') {
            issuer.to_owned()
        } else {
            format!("{issuer}/")
        };
        Self {
            issuer,
            claims: Vec::new(),
            permissions: true,
        }
    }

    /// Also read roles from this (namespaced) claim, e.g. `https://example.com/roles`.
    #[must_use]
    pub fn roles_claim(mut self, claim: &str) -> Self {
        self.claims.push(claim.to_owned());
        self
    }

    /// Do not read `permissions` as roles.
    #[must_use]
    pub fn without_permissions(mut self) -> Self {
        self.permissions = false;
        self
    }

    /// The configured issuer builder.
    ///
    /// # Errors
    /// An empty domain or claim name.
    pub fn builder(self) -> Result<IssuerBuilder, ConfigError> {
        if self.issuer == "https:///" || self.issuer == "/" {
            return Err(invalid(&self.issuer, "empty Auth0 domain"));
        }
        let mut b = Issuer::builder(self.issuer);
        if self.permissions {
            b = b.roles_from(path("permissions")?);
        }
        for c in &self.claims {
            // A namespaced claim is one key, even when it is not a URL.
            b = b.roles_from(ClaimPath::key(c)?);
        }
        Ok(b)
    }
}

/// Okta custom authorization servers (`https://{org}/oauth2/{server}`,
/// `default` for the built-in one).
///
/// Okta access tokens carry scopes in `scp` (an array), the client in `cid`
/// and the user id in `uid`; groups only appear when a groups claim is
/// configured on the authorization server — name it with
/// [`groups_claim`](Self::groups_claim). The org authorization server
/// (`https://{org}` without `/oauth2/…`) issues tokens only Okta itself may
/// validate and is not supported.
#[derive(Debug, Clone)]
pub struct Okta {
    issuer: String,
    groups: Vec<String>,
}

impl Okta {
    /// The custom authorization server `server_id` of the org at `org_url`.
    pub fn new(org_url: &str, server_id: &str) -> Self {
        Self::from_issuer(&format!(
            "{}/oauth2/{server_id}",
            org_url.trim_end_matches('/')
        ))
    }

    /// An authorization server whose issuer URL is exactly `issuer`.
    pub fn from_issuer(issuer: &str) -> Self {
        Self {
            issuer: issuer.to_owned(),
            groups: Vec::new(),
        }
    }

    /// Read roles from this claim (an Okta groups claim, e.g. `groups`).
    #[must_use]
    pub fn groups_claim(mut self, claim: &str) -> Self {
        self.groups.push(claim.to_owned());
        self
    }

    /// The configured issuer builder.
    ///
    /// # Errors
    /// An empty server id or claim name.
    pub fn builder(self) -> Result<IssuerBuilder, ConfigError> {
        if self.issuer.ends_with("/oauth2/") {
            return Err(invalid(&self.issuer, "empty Okta authorization server id"));
        }
        let mut b = Issuer::builder(self.issuer);
        for g in &self.groups {
            b = b.roles_from(ClaimPath::key(g)?);
        }
        Ok(b)
    }
}

/// Amazon Cognito user pools.
///
/// Cognito **access** tokens have no `aud`: the app client is in
/// `client_id`. The preset checks `client_id` against the
/// [`app_clients`](Self::app_clients) (required) instead of `aud`, and
/// requires `token_use: access`, so a Cognito ID token (which does have an
/// `aud`) is refused. Roles: `cognito:groups`.
#[derive(Debug, Clone)]
pub struct Cognito {
    issuer: String,
    clients: Vec<String>,
}

impl Cognito {
    /// The user pool `pool_id` in `region` (`eu-west-1`).
    pub fn new(region: &str, pool_id: &str) -> Self {
        Self::from_issuer(&format!(
            "https://cognito-idp.{region}.amazonaws.com/{pool_id}"
        ))
    }

    /// A user pool whose issuer URL is exactly `issuer`.
    pub fn from_issuer(issuer: &str) -> Self {
        Self {
            issuer: issuer.to_owned(),
            clients: Vec::new(),
        }
    }

    /// The app client ids whose tokens are accepted.
    #[must_use]
    pub fn app_clients<I: IntoIterator<Item = S>, S: Into<String>>(mut self, clients: I) -> Self {
        self.clients.extend(clients.into_iter().map(Into::into));
        self
    }

    /// The configured issuer builder (complete: no audience to add).
    ///
    /// # Errors
    /// No app client ([`ConfigError::NoAudience`] from `build`), or an empty pool id.
    pub fn builder(self) -> Result<IssuerBuilder, ConfigError> {
        if self.issuer.ends_with(".amazonaws.com/") {
            return Err(invalid(&self.issuer, "empty Cognito user pool id"));
        }
        Ok(Issuer::builder(self.issuer)
            .audience_claim("client_id", self.clients)
            .require_claim("token_use", "access")
            .roles_from(ClaimPath::key("cognito:groups")?))
    }
}

/// Which Entra ID token version a [`Entra`] preset accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum EntraVersion {
    /// v2.0 tokens: issuer `https://login.microsoftonline.com/{tenant}/v2.0`, `ver: "2.0"`.
    V2,
    /// v1.0 tokens: issuer `https://sts.windows.net/{tenant}/`, `ver: "1.0"`.
    V1,
}

/// Microsoft Entra ID (Azure AD), one tenant.
///
/// Accepts **v2.0 tokens only** by default (issuer
/// `https://login.microsoftonline.com/{tenant}/v2.0`, claim `ver: "2.0"`);
/// [`v1`](Self::v1) switches to v1.0 tokens (`https://sts.windows.net/{tenant}/`,
/// `ver: "1.0"`) — which one an API receives depends on its app
/// registration's `accessTokenAcceptedVersion`. To accept both, add two
/// issuers to the layer. Delegated tokens carry `scp` (space-delimited),
/// app-only tokens `roles` (read as roles here). Multi-tenant (`common`,
/// `organizations`) issuers with a `{tenantid}` placeholder are not
/// supported: use [`LazyIssuers`](crate::LazyIssuers) with your tenant list.
#[derive(Debug, Clone)]
pub struct Entra {
    tenant: String,
    issuer: Option<String>,
    version: EntraVersion,
}

impl Entra {
    /// Tenant `tenant_id` (a GUID), v2.0 tokens.
    pub fn new(tenant_id: &str) -> Self {
        Self {
            tenant: tenant_id.to_owned(),
            issuer: None,
            version: EntraVersion::V2,
        }
    }

    /// A tenant whose issuer URL is exactly `issuer` (sovereign clouds,
    /// tests), v2.0 tokens unless [`v1`](Self::v1).
    pub fn from_issuer(issuer: &str) -> Self {
        Self {
            tenant: String::new(),
            issuer: Some(issuer.to_owned()),
            version: EntraVersion::V2,
        }
    }

    /// Accept v1.0 tokens instead of v2.0.
    #[must_use]
    pub fn v1(mut self) -> Self {
        self.version = EntraVersion::V1;
        self
    }

    /// The accepted token version.
    pub fn version(&self) -> EntraVersion {
        self.version
    }

    /// The configured issuer builder.
    ///
    /// # Errors
    /// An empty tenant, or a tenant that is not a single tenant (`common`,
    /// `organizations`, `consumers`).
    pub fn builder(self) -> Result<IssuerBuilder, ConfigError> {
        let issuer = match (self.issuer, self.version) {
            (Some(i), _) => i,
            (None, _) if self.tenant.is_empty() => return Err(invalid("", "empty Entra tenant")),
            (None, _)
                if ["common", "organizations", "consumers"].contains(&self.tenant.as_str()) =>
            {
                return Err(invalid(
                    &self.tenant,
                    "multi-tenant endpoints have no fixed issuer; list tenants",
                ))
            }
            (None, EntraVersion::V2) => {
                format!("https://login.microsoftonline.com/{}/v2.0", self.tenant)
            }
            (None, EntraVersion::V1) => format!("https://sts.windows.net/{}/", self.tenant),
        };
        let ver = match self.version {
            EntraVersion::V2 => "2.0",
            EntraVersion::V1 => "1.0",
        };
        Ok(Issuer::builder(issuer)
            .require_claim("ver", ver)
            .roles_from(path("roles")?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issuer_url_forms() {
        let url = |b: Result<IssuerBuilder, ConfigError>| b.unwrap().issuer_url().to_owned();
        assert_eq!(
            url(Keycloak::new("https://sso.example.com/", "shop").builder()),
            "https://sso.example.com/realms/shop"
        );
        assert_eq!(
            url(Auth0::new("t.eu.auth0.com").builder()),
            "https://t.eu.auth0.com/"
        );
        assert_eq!(
            url(Auth0::from_issuer("https://login.example.com").builder()),
            "https://login.example.com/"
        );
        assert_eq!(
            url(Okta::new("https://acme.okta.com", "default").builder()),
            "https://acme.okta.com/oauth2/default"
        );
        assert_eq!(
            url(Cognito::new("eu-west-1", "eu-west-1_Ab").builder()),
            "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_Ab"
        );
        assert_eq!(
            url(Entra::new("tid").builder()),
            "https://login.microsoftonline.com/tid/v2.0"
        );
        assert_eq!(
            url(Entra::new("tid").v1().builder()),
            "https://sts.windows.net/tid/"
        );
        assert!(Entra::new("common").builder().is_err());
        assert!(Entra::new("").builder().is_err());
        assert!(Keycloak::new("https://h", "").builder().is_err());
        assert!(Okta::new("https://h", "").builder().is_err());
    }
}
