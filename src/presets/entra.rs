//! Microsoft Entra ID: one tenant, or a multi-tenant app (`common`,
//! `organizations`, `consumers`).

use super::invalid;
use crate::claims::ClaimPath;
use crate::error::ConfigError;
use crate::issuer::{Issuer, IssuerBuilder};
use crate::tenant::{TenantPolicy, MICROSOFT_PERSONAL_ACCOUNTS_TENANT};

/// Which Entra ID token version a [`Entra`] preset accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum EntraVersion {
    /// v2.0 tokens: issuer `https://login.microsoftonline.com/{tenant}/v2.0`, `ver: "2.0"`.
    V2,
    /// v1.0 tokens: issuer `https://sts.windows.net/{tenant}/`, `ver: "1.0"`.
    V1,
}

/// Which accounts a multi-tenant [`Entra`] app signs in, as Microsoft
/// defines the `common`, `organizations` and `consumers` endpoints.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Accounts {
    /// `common`: work/school accounts of any tenant, and personal accounts.
    Any,
    /// `organizations`: work/school accounts of any tenant; personal
    /// accounts (tenant [`MICROSOFT_PERSONAL_ACCOUNTS_TENANT`]) refused.
    Organizations,
    /// `consumers`: personal Microsoft accounts only.
    Consumers,
}

impl Accounts {
    fn endpoint(self) -> &'static str {
        match self {
            Accounts::Any => "common",
            Accounts::Organizations => "organizations",
            Accounts::Consumers => "consumers",
        }
    }
}

#[derive(Debug, Clone)]
struct Multi {
    accounts: Accounts,
    policy: Option<TenantPolicy>,
    /// `(issuer template, jwks_uri)` instead of Microsoft's global cloud.
    endpoints: Option<(String, String)>,
}

/// Microsoft Entra ID (Azure AD).
///
/// **One tenant** ([`new`](Self::new)): the issuer of that tenant.
/// **Multi-tenant apps** ([`multi_tenant`](Self::multi_tenant),
/// [`organizations`](Self::organizations), [`consumers`](Self::consumers)):
/// one issuer template `https://login.microsoftonline.com/{tenantid}/v2.0`
/// (v1: `https://sts.windows.net/{tenantid}/`) filled from each token's
/// `tid`, with the keys shared by every tenant, and a [`TenantPolicy`]
/// deciding which customers are served (see [`crate::tenant`]).
///
/// Accepts **v2.0 tokens only** by default; [`v1`](Self::v1) switches to
/// v1.0 tokens — which one an API receives depends on its app
/// registration's `accessTokenAcceptedVersion`. To accept both, add two
/// issuers to the layer.
///
/// # What the preset checks and maps
/// | check / mapping | refuses (reason) |
/// |---|---|
/// | `iss` = the tenant's issuer (one tenant), or the template filled with the token's own `tid` (multi-tenant) | another tenant's token (`wrong_issuer` / `unknown_issuer`); a `tid` that is not the tenant in `iss` (`tenant_mismatch`) |
/// | `ver` = `"2.0"` (default) or `"1.0"` ([`v1`](Self::v1)) | a token of the other version, or without `ver` (`invalid_claim`) |
/// | multi-tenant: the [`TenantPolicy`] (required) admits `tid` | a tenant you do not serve (`tenant_not_allowed`) |
/// | [`organizations`](Self::organizations): `tid` ≠ [`MICROSOFT_PERSONAL_ACCOUNTS_TENANT`] | personal accounts (`tenant_not_allowed`) |
/// | [`consumers`](Self::consumers): `tid` = [`MICROSOFT_PERSONAL_ACCOUNTS_TENANT`] | work/school accounts (`tenant_not_allowed`) |
/// | roles ← `roles` (app roles; app-only tokens carry them too) | — |
///
/// Scopes come from `scp` (space-delimited), as for every issuer; the
/// audience is yours to set (`api://…` or the app's client id). Everything
/// else is [`Issuer::builder`]'s default.
///
/// # Keys of a multi-tenant app
/// Each preset reads the keys of its own endpoint:
///
/// | preset | v2.0 (default) | [`v1`](Self::v1) |
/// |---|---|---|
/// | [`multi_tenant`](Self::multi_tenant) | `https://login.microsoftonline.com/common/discovery/v2.0/keys` | `https://login.microsoftonline.com/common/discovery/keys` |
/// | [`organizations`](Self::organizations) | `https://login.microsoftonline.com/organizations/discovery/v2.0/keys` | `https://login.microsoftonline.com/organizations/discovery/keys` |
/// | [`consumers`](Self::consumers) | `https://login.microsoftonline.com/consumers/discovery/v2.0/keys` | — (refused) |
///
/// These are the well-known JWKS URLs, taken as they are: the discovery
/// document (`…/{endpoint}/v2.0/.well-known/openid-configuration`) is
/// **not** fetched. Its `jwks_uri` names these same URLs, but its `issuer`
/// is the template itself (`https://login.microsoftonline.com/{tenantid}/v2.0`),
/// which the exact-issuer check of discovery (OIDC Discovery §4.3) must
/// refuse; fetching it would add one request and one failure mode at start
/// for nothing. Sovereign clouds and tests give the template and the key
/// URL with [`endpoints`](Self::endpoints).
///
/// ```no_run
/// # async fn run() -> Result<(), oauth2_guard::ConfigError> {
/// use oauth2_guard::presets::Entra;
///
/// let app = Entra::organizations()
///     .allow_tenants(["72f988bf-86f1-41af-91ab-2d7cd011db47"])
///     .audience("api://orders")
///     .build()
///     .await?;
/// # let _ = app; Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct Entra {
    tenant: String,
    issuer: Option<String>,
    audiences: Vec<String>,
    version: EntraVersion,
    multi: Option<Multi>,
    /// A multi-tenant setting on a one-tenant preset, reported by `builder`.
    misused: bool,
}

finish!(Entra, audience);

impl Entra {
    /// Tenant `tenant_id` (a GUID), v2.0 tokens. `common`, `organizations`
    /// and `consumers` are refused by `build`: use
    /// [`multi_tenant`](Self::multi_tenant), [`organizations`](Self::organizations)
    /// or [`consumers`](Self::consumers).
    pub fn new(tenant_id: &str) -> Self {
        Self {
            tenant: tenant_id.to_owned(),
            issuer: None,
            audiences: Vec::new(),
            version: EntraVersion::V2,
            multi: None,
            misused: false,
        }
    }

    /// A tenant whose issuer URL is exactly `issuer` (sovereign clouds,
    /// tests), v2.0 tokens unless [`v1`](Self::v1).
    pub fn from_issuer(issuer: &str) -> Self {
        Self {
            issuer: Some(issuer.to_owned()),
            ..Self::new("")
        }
    }

    fn multi(accounts: Accounts) -> Self {
        Self {
            multi: Some(Multi {
                accounts,
                policy: None,
                endpoints: None,
            }),
            ..Self::new("")
        }
    }

    /// A multi-tenant app (`common`): work/school accounts of any tenant
    /// and personal accounts, each tenant admitted by the
    /// [`tenant_policy`](Self::tenant_policy) (**required**).
    pub fn multi_tenant() -> Self {
        Self::multi(Accounts::Any)
    }

    /// A multi-tenant app for work/school accounts (`organizations`): as
    /// [`multi_tenant`](Self::multi_tenant), and personal accounts
    /// (tenant [`MICROSOFT_PERSONAL_ACCOUNTS_TENANT`]) are always refused.
    pub fn organizations() -> Self {
        Self::multi(Accounts::Organizations)
    }

    /// Personal Microsoft accounts only (`consumers`): tokens whose `tid` is
    /// [`MICROSOFT_PERSONAL_ACCOUNTS_TENANT`]. No tenant policy to give
    /// (that one tenant is the policy); v2.0 tokens only.
    pub fn consumers() -> Self {
        Self::multi(Accounts::Consumers)
    }

    /// Multi-tenant: which tenants are served. See [`TenantPolicy`].
    #[must_use]
    pub fn tenant_policy(mut self, policy: TenantPolicy) -> Self {
        match &mut self.multi {
            Some(m) => m.policy = Some(policy),
            None => self.misused = true,
        }
        self
    }

    /// Multi-tenant: serve exactly these tenant ids
    /// ([`TenantPolicy::allow`]).
    #[must_use]
    pub fn allow_tenants<I, S>(self, tenants: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.tenant_policy(TenantPolicy::allow(tenants))
    }

    /// Multi-tenant: the issuer template (with `{tenantid}`) and the shared
    /// key set's URL, instead of Microsoft's global cloud (sovereign clouds,
    /// tests).
    #[must_use]
    pub fn endpoints(mut self, issuer_template: &str, jwks_uri: &str) -> Self {
        match &mut self.multi {
            Some(m) => m.endpoints = Some((issuer_template.to_owned(), jwks_uri.to_owned())),
            None => self.misused = true,
        }
        self
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
    /// One tenant: an empty tenant, or `common` / `organizations` /
    /// `consumers` ([`ConfigError::InvalidUrl`]), or multi-tenant settings
    /// on it ([`ConfigError::ConflictingSettings`]). Multi-tenant: no
    /// tenant policy ([`ConfigError::MissingSetting`]), a policy or v1 with
    /// `consumers` ([`ConfigError::ConflictingSettings`]), the template's
    /// and policy's own errors.
    pub fn builder(self) -> Result<IssuerBuilder, ConfigError> {
        let ver = match self.version {
            EntraVersion::V2 => "2.0",
            EntraVersion::V1 => "1.0",
        };
        if self.misused {
            return Err(ConfigError::ConflictingSettings {
                first: "Entra::new / from_issuer (one tenant)",
                second: "tenant_policy / endpoints (multi-tenant)",
            });
        }
        let b = match self.multi {
            Some(multi) => multi_tenant(multi, self.version)?,
            None => Issuer::builder(single_issuer(self.tenant, self.issuer, self.version)?),
        };
        Ok(b.audiences(self.audiences)
            .require_claim("ver", ver)
            .roles_from(ClaimPath::key("roles")?))
    }
}

fn single_issuer(
    tenant: String,
    issuer: Option<String>,
    version: EntraVersion,
) -> Result<String, ConfigError> {
    Ok(match (issuer, version) {
        (Some(i), _) => i,
        (None, _) if tenant.is_empty() => return Err(invalid("", "empty Entra tenant")),
        (None, _) if ["common", "organizations", "consumers"].contains(&tenant.as_str()) => {
            return Err(invalid(
                &tenant,
                "not a tenant but a multi-tenant endpoint: use Entra::multi_tenant(), organizations() or consumers() with a tenant policy",
            ))
        }
        (None, EntraVersion::V2) => format!("https://login.microsoftonline.com/{tenant}/v2.0"),
        (None, EntraVersion::V1) => format!("https://sts.windows.net/{tenant}/"),
    })
}

fn multi_tenant(multi: Multi, version: EntraVersion) -> Result<IssuerBuilder, ConfigError> {
    let policy = match (multi.accounts, multi.policy) {
        (Accounts::Consumers, Some(_)) => {
            return Err(ConfigError::ConflictingSettings {
                first: "Entra::consumers",
                second: "tenant_policy",
            })
        }
        (Accounts::Consumers, None) if version == EntraVersion::V1 => {
            return Err(ConfigError::ConflictingSettings {
                first: "Entra::consumers",
                second: "v1 (personal accounts get v2.0 tokens only)",
            })
        }
        (Accounts::Consumers, None) => TenantPolicy::allow([MICROSOFT_PERSONAL_ACCOUNTS_TENANT]),
        (_, None) => {
            return Err(ConfigError::MissingSetting {
                setting: "Entra::tenant_policy",
                hint: "a multi-tenant app must say which tenants it serves: allow_tenants([..]), TenantPolicy::lookup(..), or TenantPolicy::any_tenant_dangerous()",
            })
        }
        (Accounts::Organizations, Some(p)) => p.except(MICROSOFT_PERSONAL_ACCOUNTS_TENANT),
        (Accounts::Any, Some(p)) => p,
    };
    let (template, jwks) = match multi.endpoints {
        Some(e) => e,
        None => global_cloud(multi.accounts, version),
    };
    Ok(Issuer::builder(template)
        .tenants("tid", policy)
        .jwks_uri(jwks))
}

/// The issuer template and the well-known JWKS URL of a multi-tenant
/// endpoint in Microsoft's global cloud (no discovery document: see
/// [`Entra`]'s "Keys of a multi-tenant app").
fn global_cloud(accounts: Accounts, version: EntraVersion) -> (String, String) {
    let endpoint = accounts.endpoint();
    match version {
        EntraVersion::V2 => (
            "https://login.microsoftonline.com/{tenantid}/v2.0".to_owned(),
            format!("https://login.microsoftonline.com/{endpoint}/discovery/v2.0/keys"),
        ),
        EntraVersion::V1 => (
            "https://sts.windows.net/{tenantid}/".to_owned(),
            format!("https://login.microsoftonline.com/{endpoint}/discovery/keys"),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The key URL each preset documents: its own endpoint's well-known JWKS.
    #[test]
    fn each_multi_tenant_preset_reads_its_own_endpoints_keys() {
        let keys = |a, v| global_cloud(a, v).1;
        let base = "https://login.microsoftonline.com";
        assert_eq!(
            keys(Accounts::Any, EntraVersion::V2),
            format!("{base}/common/discovery/v2.0/keys")
        );
        assert_eq!(
            keys(Accounts::Organizations, EntraVersion::V2),
            format!("{base}/organizations/discovery/v2.0/keys")
        );
        assert_eq!(
            keys(Accounts::Consumers, EntraVersion::V2),
            format!("{base}/consumers/discovery/v2.0/keys")
        );
        assert_eq!(
            keys(Accounts::Any, EntraVersion::V1),
            format!("{base}/common/discovery/keys")
        );
        assert_eq!(
            keys(Accounts::Organizations, EntraVersion::V1),
            format!("{base}/organizations/discovery/keys")
        );
    }
}
