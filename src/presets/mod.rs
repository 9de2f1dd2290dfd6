//! Presets for common identity providers: the issuer URL form, role
//! mapping and validation quirks of Keycloak, Auth0, Okta, Amazon Cognito
//! and Microsoft Entra ID.
//!
//! A preset is finished like an [`IssuerBuilder`]: add your audience (or,
//! for Cognito, app clients) and `build().await`. The preset's own mistakes
//! (an empty realm, Entra's `common` tenant, an empty claim name) are
//! reported by `build`, as [`ConfigError`]s, with everything the
//! `IssuerBuilder` checks.
//!
//! ```no_run
//! # async fn run() -> Result<(), oauth2_guard::ConfigError> {
//! use oauth2_guard::presets::{Cognito, Entra, Keycloak};
//!
//! let kc = Keycloak::new("https://sso.example.com", "shop")
//!     .client_roles("orders-api")
//!     .audience("orders-api")
//!     .build()
//!     .await?;
//! let cognito = Cognito::new("eu-west-1", "eu-west-1_AbCdEf123")
//!     .app_clients(["1example23456789"])
//!     .build()
//!     .await?;
//! let entra = Entra::new("00000000-0000-0000-0000-000000000000")
//!     .audience("api://orders")
//!     .build()
//!     .await?;
//! # let _ = (kc, cognito, entra); Ok(()) }
//! ```
//!
//! For any other [`IssuerBuilder`] setting (`http`, `refresh`, `leeway`,
//! `jwks_uri`, …), take the builder with `builder()?` (or
//! `IssuerBuilder::try_from(preset)?`) and continue there:
//!
//! ```no_run
//! # async fn run() -> Result<(), oauth2_guard::ConfigError> {
//! use std::time::Duration;
//! use oauth2_guard::presets::Keycloak;
//!
//! let kc = Keycloak::new("https://sso.example.com", "shop")
//!     .audience("orders-api")
//!     .builder()?
//!     .leeway(Duration::from_secs(30))
//!     .build()
//!     .await?;
//! # let _ = kc; Ok(()) }
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
//! Role paths are [`ClaimPath`]s: segments separated by `/`. Names you pass
//! (`client_roles("orders.api")`, `roles_claim("https://example.com/roles")`,
//! `groups_claim("groups")`) are taken literally, dots and slashes included.
//!
//! Every preset also has `from_issuer(url)` for a private deployment (a
//! custom domain, or a test issuer on loopback); the quirks stay the same.
//! Presets never widen what is accepted beyond the defaults of
//! [`Issuer::builder`]: they add checks and role mappings.

use crate::claims::ClaimPath;
use crate::error::ConfigError;
use crate::issuer::{Issuer, IssuerBuilder};

/// `build`, `build_deferred` and `TryFrom<Preset> for IssuerBuilder`, for every
/// preset; with `audience`, `audiences` for those checked against `aud`.
macro_rules! finish {
    ($preset:ident, audience) => {
        impl $preset {
            /// Accept tokens whose `aud` contains `audience` (**required**,
            /// as for [`IssuerBuilder::audience`]). May be called several times.
            #[must_use]
            pub fn audience(mut self, audience: impl Into<String>) -> Self {
                self.audiences.push(audience.into());
                self
            }

            /// Accept tokens whose `aud` contains any of `audiences`.
            #[must_use]
            pub fn audiences<I, A>(mut self, audiences: I) -> Self
            where
                I: IntoIterator<Item = A>,
                A: Into<String>,
            {
                self.audiences.extend(audiences.into_iter().map(Into::into));
                self
            }
        }
        finish!($preset);
    };
    ($preset:ident) => {
        impl $preset {
            #[doc = concat!("Build the issuer: [`", stringify!($preset), "::builder`], then [`IssuerBuilder::build`].")]
            ///
            /// # Errors
            /// The preset's own errors (see `builder`), then those of
            /// [`IssuerBuilder::build`] ([`ConfigError::NoAudience`] without
            /// an audience, a failed discovery, no keys in time, …).
            pub async fn build(self) -> Result<Issuer, ConfigError> {
                self.builder()?.build().await
            }

            #[doc = concat!("Build without waiting for the issuer: [`", stringify!($preset), "::builder`], then [`IssuerBuilder::build_deferred`].")]
            ///
            /// # Errors
            /// The preset's own errors, then those of [`IssuerBuilder::build_deferred`].
            pub fn build_deferred(self) -> Result<Issuer, ConfigError> {
                self.builder()?.build_deferred()
            }
        }

        impl TryFrom<$preset> for IssuerBuilder {
            type Error = ConfigError;

            #[doc = concat!("[`", stringify!($preset), "::builder`].")]
            fn try_from(preset: $preset) -> Result<Self, ConfigError> {
                preset.builder()
            }
        }
    };
}

fn invalid(url: &str, reason: &'static str) -> ConfigError {
    ConfigError::InvalidUrl {
        url: url.to_owned(),
        reason,
    }
}

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
    audiences: Vec<String>,
    claims: Vec<String>,
    permissions: bool,
}

finish!(Auth0, audience);

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
            audiences: Vec::new(),
            claims: Vec::new(),
            permissions: true,
        }
    }

    /// Also read roles from this (namespaced) claim, e.g.
    /// `https://example.com/roles`: one top-level claim, its name taken
    /// literally ([`ClaimPath::key`]).
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

    /// The configured issuer builder, for settings the preset does not
    /// forward.
    ///
    /// # Errors
    /// An empty domain or claim name.
    pub fn builder(self) -> Result<IssuerBuilder, ConfigError> {
        if self.issuer == "https:///" || self.issuer == "/" {
            return Err(invalid(&self.issuer, "empty Auth0 domain"));
        }
        let mut b = Issuer::builder(self.issuer).audiences(self.audiences);
        if self.permissions {
            b = b.roles_from(ClaimPath::key("permissions")?);
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
    audiences: Vec<String>,
    groups: Vec<String>,
}

finish!(Okta, audience);

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
            audiences: Vec::new(),
            groups: Vec::new(),
        }
    }

    /// Read roles from this top-level claim (an Okta groups claim, e.g.
    /// `groups`), its name taken literally ([`ClaimPath::key`]).
    #[must_use]
    pub fn groups_claim(mut self, claim: &str) -> Self {
        self.groups.push(claim.to_owned());
        self
    }

    /// The configured issuer builder, for settings the preset does not
    /// forward.
    ///
    /// # Errors
    /// An empty server id or claim name.
    pub fn builder(self) -> Result<IssuerBuilder, ConfigError> {
        if self.issuer.ends_with("/oauth2/") {
            return Err(invalid(&self.issuer, "empty Okta authorization server id"));
        }
        let mut b = Issuer::builder(self.issuer).audiences(self.audiences);
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

finish!(Cognito);

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

    /// The configured issuer builder (complete: no audience to add), for
    /// settings the preset does not forward.
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
    audiences: Vec<String>,
    version: EntraVersion,
}

finish!(Entra, audience);

impl Entra {
    /// Tenant `tenant_id` (a GUID), v2.0 tokens.
    pub fn new(tenant_id: &str) -> Self {
        Self {
            tenant: tenant_id.to_owned(),
            issuer: None,
            audiences: Vec::new(),
            version: EntraVersion::V2,
        }
    }

    /// A tenant whose issuer URL is exactly `issuer` (sovereign clouds,
    /// tests), v2.0 tokens unless [`v1`](Self::v1).
    pub fn from_issuer(issuer: &str) -> Self {
        Self {
            tenant: String::new(),
            issuer: Some(issuer.to_owned()),
            audiences: Vec::new(),
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

    /// The configured issuer builder, for settings the preset does not
    /// forward.
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
            .audiences(self.audiences)
            .require_claim("ver", ver)
            .roles_from(ClaimPath::key("roles")?))
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

    /// Regression: the documented recipe `Preset::new(..).audience(..).build().await`
    /// must compile, and a preset's own errors must surface at build time.
    #[tokio::test]
    async fn presets_finish_like_an_issuer_builder() {
        let b = IssuerBuilder::try_from(
            Keycloak::new("https://sso.example.com", "shop")
                .client_roles("orders-api")
                .audience("orders-api"),
        )
        .unwrap();
        let dbg = format!("{b:?}");
        assert!(dbg.contains("orders-api"), "{dbg}");
        assert!(matches!(
            Entra::new("common").audience("api://orders").build().await,
            Err(ConfigError::InvalidUrl { .. })
        ));
        assert!(matches!(
            Keycloak::new("https://h", "")
                .audience("a")
                .build_deferred(),
            Err(ConfigError::InvalidUrl { .. })
        ));
        assert!(matches!(
            Okta::new("https://h", "default")
                .audiences(["a", "b"])
                .groups_claim("")
                .build()
                .await,
            Err(ConfigError::InvalidClaimPath { .. })
        ));
        // Cognito checks `client_id` instead of `aud`: no app client, no issuer.
        assert!(matches!(
            Cognito::new("eu-west-1", "eu-west-1_Ab").build_deferred(),
            Err(ConfigError::NoAudience)
        ));
        assert!(matches!(
            Auth0::new("t.eu.auth0.com").build_deferred(),
            Err(ConfigError::NoAudience)
        ));
    }
}
