//! Microsoft Entra ID.

use super::invalid;
use crate::claims::ClaimPath;
use crate::error::ConfigError;
use crate::issuer::{Issuer, IssuerBuilder};

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
