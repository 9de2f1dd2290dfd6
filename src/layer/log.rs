//! The one log event of every rejection.

use crate::error::{Reason, Rejection};

/// One event per rejection, with the reason code and the token's
/// fingerprint — never the token.
pub(crate) fn log(r: Rejection) -> Rejection {
    let token = r.fingerprint.map(|f| f.to_string());
    match r.reason {
        Reason::MissingToken => tracing::debug!(
            target: "oauth2_guard::auth",
            reason = r.reason.code(),
            status = r.status().as_u16(),
            "request rejected"
        ),
        Reason::KeysUnavailable => tracing::warn!(
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
