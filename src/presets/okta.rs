//! Okta custom authorization servers.

use super::invalid;
use crate::claims::ClaimPath;
use crate::error::ConfigError;
use crate::issuer::{Issuer, IssuerBuilder};

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
