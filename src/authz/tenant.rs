//! [`Tenant`]: the tenant of a multi-tenant issuer's token, for
//! tenant-scoped routes.

use std::ops::Deref;

use crate::claims::VerifiedClaims;
use crate::layer::{Challenge, LayerChallenge, PassedAnonymous};

use super::{AuthzFailure, AuthzRejection};

/// Extracts the request's [`VerifiedClaims`] if the token was accepted for
/// a tenant ([`VerifiedClaims::tenant`]: a tenant-template issuer such as
/// [`Entra::multi_tenant`](crate::presets::Entra::multi_tenant) set it);
/// a token of a single-tenant issuer is refused with 403
/// ([`AuthzFailure::WrongTenant`]).
///
/// For a route scoped to one tenant (`/tenants/{tid}/…`), compare with
/// [`require`](Self::require), which answers 403 for any other tenant:
///
/// ```
/// use axum::extract::Path;
/// use oauth2_guard::authz::{AuthzRejection, Tenant};
///
/// async fn orders(Path(tid): Path<String>, tenant: Tenant) -> Result<String, AuthzRejection> {
///     tenant.require(&tid)?;
///     Ok(format!("orders of {}", tenant.id()))
/// }
/// # let _ = axum::routing::get::<_, _, ()>(orders);
/// ```
#[derive(Clone)]
pub struct Tenant {
    claims: VerifiedClaims,
    challenge: Option<Challenge>,
}

impl Tenant {
    /// The tenant id.
    pub fn id(&self) -> &str {
        self.claims.tenant().unwrap_or_default()
    }

    /// The verified claims.
    pub fn claims(&self) -> &VerifiedClaims {
        &self.claims
    }

    /// `Ok` when the token's tenant is `tenant`.
    ///
    /// # Errors
    /// 403 ([`AuthzFailure::WrongTenant`]) for any other tenant.
    pub fn require(&self, tenant: &str) -> Result<(), AuthzRejection> {
        if self.id() == tenant {
            return Ok(());
        }
        Err(refuse(&self.claims, self.challenge.clone()))
    }

    /// Read the tenant from `ext` (request extensions).
    ///
    /// # Errors
    /// 403 without a tenant, 401 on an optional layer without a token, 500
    /// without an `AuthLayer` (as every guard).
    pub fn from_extensions(ext: &http::Extensions) -> Result<Self, AuthzRejection> {
        let challenge = ext.get::<LayerChallenge>().map(|c| c.0.clone());
        let other = |kind| AuthzRejection {
            kind,
            required: "".into(),
            missing_roles: None,
            challenge: challenge.clone(),
        };
        match ext.get::<VerifiedClaims>() {
            Some(c) if c.tenant().is_some() => Ok(Self {
                claims: c.clone(),
                challenge,
            }),
            Some(c) => Err(refuse(c, challenge)),
            None if ext.get::<PassedAnonymous>().is_some() => {
                crate::layer::log(crate::Rejection::new(crate::Reason::MissingToken));
                Err(other(AuthzFailure::Anonymous))
            }
            // Answered as [`MissingAuthLayer`](super::MissingAuthLayer).
            None => Err(other(AuthzFailure::NotAuthenticated)),
        }
    }
}

fn refuse(claims: &VerifiedClaims, challenge: Option<Challenge>) -> AuthzRejection {
    tracing::info!(
        target: "oauth2_guard::authz",
        issuer = claims.issuer(),
        client_id = claims.client_id(),
        token = %claims.fingerprint(),
        tenant = claims.tenant(),
        "request forbidden: wrong tenant"
    );
    AuthzRejection {
        kind: AuthzFailure::WrongTenant,
        required: "".into(),
        missing_roles: None,
        challenge,
    }
}

impl Deref for Tenant {
    type Target = VerifiedClaims;

    fn deref(&self) -> &VerifiedClaims {
        &self.claims
    }
}

impl std::fmt::Debug for Tenant {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tenant")
            .field("tenant", &self.id())
            .field("claims", &self.claims)
            .finish()
    }
}

#[cfg(feature = "axum")]
impl<St: Send + Sync> axum::extract::FromRequestParts<St> for Tenant {
    type Rejection = AuthzRejection;

    async fn from_request_parts(
        parts: &mut http::request::Parts,
        _state: &St,
    ) -> Result<Self, Self::Rejection> {
        Self::from_extensions(&parts.extensions)
    }
}
