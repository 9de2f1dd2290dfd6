//! The tenant step of the JWT verifier, for a tenant-template issuer: after
//! the signature and the claims, bind the token to its tenant, then ask the
//! tenant policy (synchronously for a known tenant).

use std::sync::Arc;

use crate::claims::VerifiedClaims;
use crate::error::{Reason, Rejection};
use crate::tenant::template::Tenancy;
use crate::tenant::{Check, Outcome};

use super::validate::Parsed;

/// How long a client is told to wait after a lookup could not decide.
const LOOKUP_RETRY_AFTER: std::time::Duration = std::time::Duration::from_secs(1);

/// The issuer a template issuer's token is verified as: the token's own
/// `iss` when it is the template filled with a well-formed tenant (whose
/// claim is checked afterwards, by [`bind`]); else the template itself,
/// so the claims check refuses it (or [`bind`] does).
pub(super) fn verify_as(tenancy: &Tenancy, template: &Arc<str>, parsed: &Parsed<'_>) -> Arc<str> {
    match parsed
        .unverified_issuer()
        .and_then(|iss| tenancy.tenant_in(iss))
    {
        Some(tenant) => tenancy.issuer_of(tenant),
        None => template.clone(),
    }
}

/// A refusal of verified `claims`, for the log line and the response.
fn refuse(claims: &VerifiedClaims, reason: Reason) -> Rejection {
    let mut r = Rejection::new(reason)
        .with_issuer(claims.issuer_arc())
        .with_kid(claims.key_id());
    r.fingerprint = Some(claims.fingerprint());
    r
}

/// After the signature and the claims verified: the tenant the `iss`
/// names must be the token's own tenant claim.
pub(super) fn bind(tenancy: &Tenancy, claims: VerifiedClaims) -> Result<VerifiedClaims, Rejection> {
    let named = tenancy.tenant_in(claims.issuer());
    let own = claims
        .get(tenancy.claim())
        .and_then(serde_json::Value::as_str);
    match (named, own) {
        (Some(named), Some(own)) if named == own => {
            let tenant: Arc<str> = Arc::from(own);
            Ok(claims.with_tenant(tenant))
        }
        // `iss` is the bare template (or not of this template at all).
        (None, _) => Err(refuse(&claims, Reason::WrongIssuer)),
        _ => Err(refuse(&claims, Reason::TenantMismatch)),
    }
}

/// What the tenant policy says about bound claims.
pub(super) enum Admission {
    Now(Result<VerifiedClaims, Rejection>),
    Later(
        std::pin::Pin<
            Box<dyn std::future::Future<Output = Result<VerifiedClaims, Rejection>> + Send>,
        >,
    ),
}

/// Ask the policy about the claims' tenant (set by [`bind`]).
pub(super) fn admit(tenancy: &Tenancy, claims: VerifiedClaims) -> Admission {
    let Some(tenant) = claims.tenant() else {
        return Admission::Now(Err(refuse(&claims, Reason::TenantMismatch)));
    };
    match tenancy.policy.check(tenant) {
        Check::Done(outcome) => Admission::Now(decide(claims, outcome)),
        Check::Wait(wait) => Admission::Later(Box::pin(async move {
            let outcome = wait.outcome().await;
            decide(claims, outcome)
        })),
    }
}

fn decide(claims: VerifiedClaims, outcome: Outcome) -> Result<VerifiedClaims, Rejection> {
    match outcome {
        Outcome::Allowed => Ok(claims),
        Outcome::Denied => Err(refuse(&claims, Reason::TenantNotAllowed)),
        Outcome::Unavailable => {
            Err(refuse(&claims, Reason::TenantLookupUnavailable)
                .with_retry_after(LOOKUP_RETRY_AFTER))
        }
    }
}
