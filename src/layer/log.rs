//! The logging policy: one `tracing` event per refused request, in one place.
//!
//! | what | level | target | fields |
//! |---|---|---|---|
//! | no token (`missing_token`) | DEBUG | `oauth2_guard::auth` | `reason`, `status` |
//! | a token refused (any other reason: expired, bad signature, wrong audience, claims that do not fit an extractor, …) | INFO | `oauth2_guard::auth` | `reason`, `status`, `issuer`, `kid`, `token` (fingerprint) |
//! | the service cannot decide (any 503: `keys_unavailable`, `introspection_unavailable`, `tenant_lookup_unavailable`, `revocation_unavailable`) | WARN | `oauth2_guard::auth` | as above |
//! | a guard refusing a scope or role (403) | INFO | `oauth2_guard::authz` | `issuer`, `client_id`, `token`, `required` |
//! | a guard or extractor on a route without `AuthLayer` (500) | ERROR | `oauth2_guard::authz` | none |
//!
//! Why: requests without any token are what anonymous probes and scanners
//! send; at INFO a flood of them would flood the logs (and their storage
//! bill) without telling an operator anything, so they stay at DEBUG. A
//! *presented* token that fails is worth an INFO line: it is a client bug, an
//! expired session or an attack, and its fingerprint lets an operator
//! correlate it. Missing keys are the service's own problem (503 for every
//! caller), hence WARN; a missing layer is a deployment bug, hence ERROR.
//! The token itself is never logged — only its [`Fingerprint`](crate::Fingerprint).

use crate::error::{Reason, Rejection};

/// Log `r` once, at the level of the policy above, and hand it back.
pub(crate) fn log(r: Rejection) -> Rejection {
    let token = r.fingerprint.map(|f| f.to_string());
    match r.reason {
        Reason::MissingToken => tracing::debug!(
            target: "oauth2_guard::auth",
            reason = r.reason.code(),
            status = r.status().as_u16(),
            "request rejected"
        ),
        // Every 503 (keys, introspection, tenant lookup, revocation sync):
        // the service cannot decide, an operator must look.
        _ if r.reason.status() == http::StatusCode::SERVICE_UNAVAILABLE => tracing::warn!(
            target: "oauth2_guard::auth",
            reason = r.reason.code(),
            status = r.status().as_u16(),
            issuer = r.issuer.as_deref(),
            kid = r.kid.as_deref(),
            token,
            "request rejected"
        ),
        _ => tracing::info!(
            target: "oauth2_guard::auth",
            reason = r.reason.code(),
            status = r.status().as_u16(),
            issuer = r.issuer.as_deref(),
            kid = r.kid.as_deref(),
            token,
            "request rejected"
        ),
    }
    r
}

/// A guard or extractor found no `AuthLayer` in front of it.
pub(crate) fn missing_layer() {
    tracing::error!(
        target: "oauth2_guard::authz",
        "no VerifiedClaims in the request: a guard or extractor runs without an AuthLayer in front of it"
    );
}
