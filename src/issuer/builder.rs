//! [`IssuerBuilder`]: every setting with its default and reason, and the
//! two ways to build. The checks `build` makes are in `prepare`.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use jsonwebtoken::Algorithm;

use super::{HttpConfig, Issuer, RefreshConfig, TenantPolicy};
use crate::claims::ClaimPath;
use crate::error::ConfigError;
use crate::jwks::store::Source;
use crate::verify::validate;

pub(super) enum KeysFrom {
    Discovery,
    JwksUri(String),
    Static(String),
    StaticFile(PathBuf),
}

impl KeysFrom {
    /// The builder method that chose this source.
    pub(super) fn setting(&self) -> &'static str {
        match self {
            KeysFrom::Discovery => "discovery",
            KeysFrom::JwksUri(_) => "jwks_uri",
            KeysFrom::Static(_) => "static_jwks",
            KeysFrom::StaticFile(_) => "static_jwks_file",
        }
    }
}

/// Builds an [`Issuer`]. Every setting has a documented, secure default.
///
/// | setting | default | why |
/// |---|---|---|
/// | keys | OIDC discovery (then RFC 8414) | keys and their rotation come from the IdP, never from config |
/// | `audience` | none: **required** | a token for another service must not work here (RFC 9068 §4) |
/// | `audience_claim` | off | Cognito-style: check `client_id` (or another claim) **instead of** `aud` |
/// | `require_claim` | none | exact-value checks (`token_use`, Keycloak `typ`, Entra `ver`) |
/// | `roles_from` | none: no roles | roles are only read from paths you name |
/// | `algorithms` | RS256/384/512, PS256/384/512, ES256, ES384, EdDSA | asymmetric only; `none` can never be enabled |
/// | `leeway` | 60 s, at most 5 min | clock skew between IdP and service, without making tokens long-lived |
/// | `strict_rfc9068` | off | Keycloak, Auth0 and Entra send `typ: JWT`; on = only `at+jwt` |
/// | `http` | [`HttpConfig::default`] | 5 s timeout, 1 MiB cap, HTTPS only (loopback HTTP: [`HttpConfig::allow_loopback_http`]) |
/// | `refresh` | [`RefreshConfig::default`] | see there |
/// | `tenants` | off: `iss` is one fixed issuer | a template issuer (`…/{tenantid}/v2.0`) serves many tenants with one key set, so it needs an explicit [`TenantPolicy`] |
pub struct IssuerBuilder {
    pub(super) issuer: String,
    pub(super) audiences: Vec<String>,
    pub(super) audience_claim: Option<(String, Vec<String>)>,
    pub(super) required: Vec<(String, String)>,
    pub(super) roles: Vec<ClaimPath>,
    pub(super) keys: KeysFrom,
    pub(super) algorithms: Option<Vec<Algorithm>>,
    pub(super) leeway: Duration,
    pub(super) strict_typ: bool,
    pub(super) hmac_secret: Option<Vec<u8>>,
    pub(super) http: HttpConfig,
    pub(super) refresh: RefreshConfig,
    /// Two settings that cannot both apply, reported by `build`.
    pub(super) conflict: Option<(&'static str, &'static str)>,
    /// The tenant claim and policy of a template issuer.
    pub(super) tenants: Option<(String, TenantPolicy)>,
}

impl fmt::Debug for IssuerBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IssuerBuilder")
            .field("issuer", &self.issuer)
            .field("audiences", &self.audiences)
            .field("audience_claim", &self.audience_claim)
            .field("required_claims", &self.required)
            .field("roles_from", &self.roles)
            .field("algorithms", &self.algorithms)
            .field("leeway", &self.leeway)
            .field(
                "hmac_secret",
                &self.hmac_secret.as_ref().map(|_| "[redacted]"),
            )
            .finish_non_exhaustive()
    }
}

impl IssuerBuilder {
    /// Every setting at its default (the table above).
    pub(super) fn new(issuer: String) -> Self {
        IssuerBuilder {
            issuer,
            audiences: Vec::new(),
            audience_claim: None,
            required: Vec::new(),
            roles: Vec::new(),
            keys: KeysFrom::Discovery,
            algorithms: None,
            leeway: validate::DEFAULT_LEEWAY,
            strict_typ: false,
            hmac_secret: None,
            http: HttpConfig::default(),
            refresh: RefreshConfig::default(),
            conflict: None,
            tenants: None,
        }
    }

    /// Accept tokens whose `aud` contains `audience`. May be called several times.
    pub fn audience(mut self, audience: impl Into<String>) -> Self {
        self.audiences.push(audience.into());
        self
    }

    /// Accept tokens whose `aud` contains any of `audiences`.
    pub fn audiences<I, A>(mut self, audiences: I) -> Self
    where
        I: IntoIterator<Item = A>,
        A: Into<String>,
    {
        self.audiences.extend(audiences.into_iter().map(Into::into));
        self
    }

    /// Check the string claim `name` against `allowed` **instead of** `aud`.
    ///
    /// For IdPs whose access tokens carry no `aud` — Amazon Cognito names the
    /// app client in `client_id` (see [`presets::Cognito`](crate::presets::Cognito)).
    /// Replaces any [`audience`](Self::audience) set on this builder.
    ///
    /// # Security
    /// The claim must identify *this* service's clients; checking a claim the
    /// IdP copies from the request (a user name) would accept any token.
    pub fn audience_claim<I, A>(mut self, name: impl Into<String>, allowed: I) -> Self
    where
        I: IntoIterator<Item = A>,
        A: Into<String>,
    {
        self.audience_claim = Some((name.into(), allowed.into_iter().map(Into::into).collect()));
        self
    }

    /// Require the string claim `name` to equal `value` exactly (missing or
    /// different → `invalid_claim`). May be called several times. Presets use
    /// it for `token_use: access` (Cognito), `typ: Bearer` (Keycloak) and
    /// `ver` (Entra).
    pub fn require_claim(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.required.push((name.into(), value.into()));
        self
    }

    /// Read roles from `path` (an array of strings, or one space-delimited
    /// string). May be called several times; roles from all paths are merged.
    /// They are computed once, when the token is verified, and read with
    /// [`VerifiedClaims::roles`](crate::VerifiedClaims::roles).
    ///
    /// ```
    /// # fn f() -> Result<(), oauth2_guard::ConfigError> {
    /// use oauth2_guard::{ClaimPath, Issuer};
    /// let b = Issuer::builder("https://sso.example.com/realms/shop")
    ///     .audience("orders-api")
    ///     .roles_from(ClaimPath::parse("realm_access/roles")?)
    ///     .roles_from(ClaimPath::parse("resource_access/orders-api/roles")?);
    /// # let _ = b; Ok(()) }
    /// ```
    pub fn roles_from(mut self, path: ClaimPath) -> Self {
        if !self.roles.contains(&path) {
            self.roles.push(path);
        }
        self
    }

    /// Make this a multi-tenant issuer: its URL is a **template** with one
    /// `{placeholder}` in the path (Entra: `https://login.microsoftonline.com/{tenantid}/v2.0`),
    /// filled from the string claim `claim` of each token (`tid`), and all
    /// tenants share this issuer's one key set. See [`crate::tenant`].
    ///
    /// A token is accepted only when its `iss` equals the template filled
    /// with its own `claim` ([`Reason::TenantMismatch`](crate::Reason::TenantMismatch)
    /// otherwise) and `policy` admits that tenant
    /// ([`Reason::TenantNotAllowed`](crate::Reason::TenantNotAllowed)).
    /// [`VerifiedClaims::tenant`](crate::VerifiedClaims::tenant) and
    /// [`VerifiedClaims::issuer`](crate::VerifiedClaims::issuer) then name
    /// the tenant and its concrete issuer.
    ///
    /// The keys must be given with [`jwks_uri`](Self::jwks_uri) (or a
    /// static set): a template has no discovery document of its own.
    ///
    /// ```
    /// # fn f() -> Result<(), oauth2_guard::ConfigError> {
    /// use oauth2_guard::tenant::TenantPolicy;
    /// use oauth2_guard::Issuer;
    /// let b = Issuer::builder("https://login.microsoftonline.com/{tenantid}/v2.0")
    ///     .tenants("tid", TenantPolicy::allow(["72f988bf-86f1-41af-91ab-2d7cd011db47"]))
    ///     .jwks_uri("https://login.microsoftonline.com/common/discovery/v2.0/keys")
    ///     .audience("api://orders");
    /// # let _ = b; Ok(()) }
    /// ```
    pub fn tenants(mut self, claim: impl Into<String>, policy: TenantPolicy) -> Self {
        self.tenants = Some((claim.into(), policy));
        self
    }

    /// The issuer URL this builder was created with.
    pub fn issuer_url(&self) -> &str {
        &self.issuer
    }

    /// Fetch keys from this JWKS URL instead of discovering it. Held to the
    /// HTTPS policy of [`http`](Self::http); no userinfo or fragment, a query
    /// is allowed.
    pub fn jwks_uri(self, url: impl Into<String>) -> Self {
        self.keys_from(KeysFrom::JwksUri(url.into()))
    }

    /// Use a fixed JWKS document (tests, air-gapped setups). Never refreshed.
    pub fn static_jwks(self, json: impl Into<String>) -> Self {
        self.keys_from(KeysFrom::Static(json.into()))
    }

    /// Use a fixed JWKS file, read once at build time.
    pub fn static_jwks_file(self, path: impl Into<PathBuf>) -> Self {
        self.keys_from(KeysFrom::StaticFile(path.into()))
    }

    /// One source of keys: a second one is reported by `build`, never
    /// silently preferred.
    fn keys_from(mut self, keys: KeysFrom) -> Self {
        if !matches!(self.keys, KeysFrom::Discovery) && self.conflict.is_none() {
            self.conflict = Some((self.keys.setting(), keys.setting()));
        }
        self.keys = keys;
        self
    }

    /// Replace the algorithm allowlist.
    pub fn algorithms(mut self, algs: impl IntoIterator<Item = Algorithm>) -> Self {
        self.algorithms = Some(algs.into_iter().collect());
        self
    }

    /// Allowed clock skew for `exp`, `nbf` and `iat` (default 60 s, max 5 min).
    pub fn leeway(mut self, leeway: Duration) -> Self {
        self.leeway = leeway;
        self
    }

    /// Accept only `typ: at+jwt` (RFC 9068 §2.1) — refuses the `JWT` that
    /// Keycloak, Auth0 and Entra send.
    pub fn strict_rfc9068(mut self, strict: bool) -> Self {
        self.strict_typ = strict;
        self
    }

    /// Verify HS256/384/512 tokens with this shared secret instead of keys.
    ///
    /// # Security
    /// Every holder of the secret can mint tokens; prefer asymmetric keys.
    /// With a secret, only HMAC algorithms are allowed and no JWKS is used,
    /// so an RSA public key can never be mistaken for an HMAC secret; a key
    /// source configured as well (`jwks_uri`, `static_jwks`, …) is a
    /// [`ConfigError::ConflictingSettings`]. The secret must be at least
    /// 32 bytes (RFC 7518 §3.2).
    pub fn hmac_secret(mut self, secret: impl Into<Vec<u8>>) -> Self {
        self.hmac_secret = Some(secret.into());
        self
    }

    /// HTTP settings for discovery and JWKS fetches (replaces the whole
    /// [`HttpConfig`], the loopback opt-in included).
    pub fn http(mut self, http: HttpConfig) -> Self {
        self.http = http;
        self
    }

    /// Key refresh settings.
    pub fn refresh(mut self, refresh: RefreshConfig) -> Self {
        self.refresh = refresh;
        self
    }

    /// Build, loading the first key set before returning.
    ///
    /// # Errors
    /// Any invalid setting, a failed discovery, or no key set within
    /// `refresh.startup_timeout` ([`ConfigError::InitialKeys`]).
    pub async fn build(self) -> Result<Issuer, ConfigError> {
        let (store, profile, tenancy, timeout) = self.prepare()?;
        if let Source::Remote { .. } = store.source() {
            let name = store.issuer().clone();
            let first = async {
                store.discover().await?;
                store
                    .fetch_once()
                    .await
                    .map_err(|source| ConfigError::InitialKeys {
                        issuer: name.to_string(),
                        source,
                    })
            };
            let interval = match tokio::time::timeout(timeout, first).await {
                Ok(Ok(interval)) => interval,
                Ok(Err(e)) => return Err(e),
                Err(_) => {
                    return Err(ConfigError::InitialKeys {
                        issuer: name.to_string(),
                        source: crate::error::FetchError::new(
                            crate::error::FetchErrorKind::Timeout,
                            &*name,
                        ),
                    })
                }
            };
            return Self::finish(store, profile, tenancy, interval);
        }
        Self::finish(store, profile, tenancy, Duration::ZERO)
    }

    /// Build without waiting for the issuer: the service can start before
    /// the IdP is reachable. Requests are answered 503 with `Retry-After`
    /// until the first key set arrives (fetched at once in the background,
    /// retried with backoff).
    ///
    /// # Errors
    /// Any invalid setting, or no Tokio runtime.
    pub fn build_deferred(self) -> Result<Issuer, ConfigError> {
        let (store, profile, tenancy, _) = self.prepare()?;
        Self::finish(store, profile, tenancy, Duration::ZERO)
    }
}
