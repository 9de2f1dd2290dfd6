//! Presets for common identity providers: the issuer URL form, role
//! mapping and validation quirks of Keycloak, Auth0, Okta, Amazon Cognito
//! and Microsoft Entra ID.
//!
//! A preset is finished like an [`IssuerBuilder`]: add your audience (or,
//! for Cognito, app clients) and `build().await`. The preset's own mistakes
//! (an empty realm, Entra's `common` as a tenant, the Okta org server, a
//! multi-tenant Entra app without a tenant policy, an empty claim name) are
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
//! | preset | issuer | roles from | checks added to the defaults |
//! |---|---|---|---|
//! | [`Keycloak`] | `{base}/realms/{realm}` | `realm_access/roles`, `resource_access/{client}/roles` | claim `typ` = `Bearer` (refuses ID and refresh tokens) |
//! | [`Auth0`] | `https://{domain}/` (trailing `/`) | `permissions` (RBAC), plus namespaced claims | none (the trailing `/` of `iss` is part of the issuer) |
//! | [`Okta`] | `{org}/oauth2/{server}` | a groups claim you name | the org authorization server is refused at build time |
//! | [`Cognito`] | `https://cognito-idp.{region}.amazonaws.com/{pool}` | `cognito:groups` | `client_id` checked against the app clients **instead of** `aud`; `token_use` = `access` |
//! | [`Entra`] | v2 `https://login.microsoftonline.com/{tenant}/v2.0` (default) or v1 `https://sts.windows.net/{tenant}/`; multi-tenant: the same with `{tenantid}` ← `tid` | `roles` | `ver` = `2.0` / `1.0`; multi-tenant: `iss` names the token's own `tid`, the tenant policy admits it (`organizations`: not personal accounts; `consumers`: only them) |
//!
//! What every issuer does anyway is not listed as a preset quirk: the `typ:
//! JWT` header is accepted (unless
//! [`strict_rfc9068`](crate::IssuerBuilder::strict_rfc9068)), `aud` may be a
//! string or an array, `scope` and `scp` (array or space-delimited) are both
//! read as scopes, JWKS keys with `use: enc` are skipped, and
//! [`VerifiedClaims::client_id`](crate::VerifiedClaims::client_id) reads
//! `client_id`, `azp`, `cid` or `appid`. Each preset's own page lists
//! exactly the checks it adds and the claims it maps.
//!
//! Role paths are [`ClaimPath`]s: segments separated by `/`. Names you pass
//! (`client_roles("orders.api")`, `roles_claim("https://example.com/roles")`,
//! `groups_claim("groups")`) are taken literally, dots and slashes included.
//!
//! Every preset also has `from_issuer(url)` for a private deployment (a
//! custom domain, or a test issuer on loopback); the quirks stay the same.
//! Presets never widen what is accepted beyond the defaults of
//! [`Issuer::builder`]: they add checks and role mappings.
//!
//! [`IssuerBuilder`]: crate::IssuerBuilder
//! [`Issuer::builder`]: crate::Issuer::builder
//! [`ClaimPath`]: crate::ClaimPath

// One file per identity provider; the `finish!` macro and `invalid` are
// shared by all of them.

use crate::error::ConfigError;

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

mod auth0;
mod cognito;
mod entra;
mod keycloak;
mod okta;

pub use auth0::Auth0;
pub use cognito::Cognito;
pub use entra::{Entra, EntraVersion};
pub use keycloak::Keycloak;
pub use okta::Okta;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::issuer::IssuerBuilder;

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
        assert_eq!(
            url(Entra::multi_tenant().allow_tenants(["t1"]).builder()),
            "https://login.microsoftonline.com/{tenantid}/v2.0"
        );
        assert_eq!(
            url(Entra::organizations().allow_tenants(["t1"]).v1().builder()),
            "https://sts.windows.net/{tenantid}/"
        );
        assert!(Entra::multi_tenant().builder().is_err());
        assert!(Entra::consumers().v1().builder().is_err());
        assert!(Entra::new("t").allow_tenants(["t"]).builder().is_err());
        assert!(Okta::from_issuer("https://acme.okta.com")
            .builder()
            .is_err());
        assert!(Okta::from_issuer("https://acme.okta.com/")
            .builder()
            .is_err());
        assert!(Okta::from_issuer("https://acme.okta.com/oauth2/default/")
            .builder()
            .is_ok());
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
