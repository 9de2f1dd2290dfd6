//! Auth0.

use super::invalid;
use crate::claims::ClaimPath;
use crate::error::ConfigError;
use crate::issuer::{Issuer, IssuerBuilder};

/// Auth0.
///
/// # What the preset checks and maps
/// | check / mapping | refuses (reason) |
/// |---|---|
/// | `iss` = `https://{domain}/`, **with** the trailing slash Auth0 puts in `iss` | a token whose `iss` lacks it (`wrong_issuer`) |
/// | roles ← `permissions` (RBAC with "Add Permissions in the Access Token"; unless [`without_permissions`](Self::without_permissions)) | — |
/// | roles ← each namespaced claim named with [`roles_claim`](Self::roles_claim) (`https://example.com/roles`) | — |
///
/// Nothing else is added to [`Issuer::builder`]'s defaults: `aud` is often
/// an array (your API and `…/userinfo`) and any configured audience in it
/// is enough — the generic `aud` rule, as is the `typ: JWT` header.
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
