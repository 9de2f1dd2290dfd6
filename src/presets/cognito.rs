//! Amazon Cognito user pools.

use super::invalid;
use crate::claims::ClaimPath;
use crate::error::ConfigError;
use crate::issuer::{Issuer, IssuerBuilder};

/// Amazon Cognito user pools.
///
/// # What the preset checks and maps
/// | check / mapping | refuses (reason) |
/// |---|---|
/// | `client_id` ∈ [`app_clients`](Self::app_clients) (**required**), **instead of** `aud` (Cognito access tokens have none) | another app client's token, or none (`wrong_audience`) |
/// | claim `token_use` = `"access"` | Cognito ID tokens (`"id"`, which do have an `aud`) (`invalid_claim`) |
/// | roles ← `cognito:groups` | — |
///
/// Nothing else is added to [`Issuer::builder`]'s defaults.
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
