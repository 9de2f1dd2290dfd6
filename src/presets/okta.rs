//! Okta custom authorization servers.

use super::invalid;
use crate::claims::ClaimPath;
use crate::error::ConfigError;
use crate::issuer::{Issuer, IssuerBuilder};

/// Okta custom authorization servers (`https://{org}/oauth2/{server}`,
/// `default` for the built-in one).
///
/// # What the preset checks and maps
/// | check / mapping | refuses (reason) |
/// |---|---|
/// | the issuer is a **custom** authorization server (`…/oauth2/{server}`) | the org authorization server, at build time ([`ConfigError::InvalidUrl`]) |
/// | roles ← each [`groups_claim`](Self::groups_claim) you name | — |
///
/// Nothing else is added to [`Issuer::builder`]'s defaults (`iss`,
/// signature, lifetime, the `aud` you set). Okta access tokens carry scopes
/// in `scp` (an array; read as scopes like every `scp`), the client in
/// `cid` ([`VerifiedClaims::client_id`](crate::VerifiedClaims::client_id)
/// reads it) and the user id in `uid`; groups only appear when a groups
/// claim is configured on the authorization server.
///
/// # The org authorization server is refused
/// Its access tokens (issuer `https://{org}` without `/oauth2/…`) are meant
/// for Okta's own APIs: Okta documents that they must not be validated by
/// your resource servers, and their keys and claims may change without
/// notice. `Okta::from_issuer("https://org.okta.com")` therefore fails
/// with [`ConfigError::InvalidUrl`]; use a custom authorization server
/// (`/oauth2/default` or your own).
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
    /// An empty server id or claim name, or the org authorization server
    /// (an issuer without `/oauth2/{server}`).
    pub fn builder(self) -> Result<IssuerBuilder, ConfigError> {
        if self.issuer.ends_with("/oauth2/") {
            return Err(invalid(&self.issuer, "empty Okta authorization server id"));
        }
        let server = self
            .issuer
            .split_once("/oauth2/")
            .map(|(_, server)| server.trim_end_matches('/'));
        if server.is_none_or(|s| s.is_empty() || s.contains('/')) {
            return Err(invalid(
                &self.issuer,
                "the Okta org authorization server issues tokens for Okta's own APIs, not yours: use a custom authorization server (`{org}/oauth2/default` or `/oauth2/{server}`)",
            ));
        }
        let mut b = Issuer::builder(self.issuer).audiences(self.audiences);
        for g in &self.groups {
            b = b.roles_from(ClaimPath::key(g)?);
        }
        Ok(b)
    }
}
