//! The verification seam: how a credential becomes [`VerifiedClaims`].
//!
//! A [`Verifier`] answers every credential with one [`Verdict`]: verified
//! claims, a rejection, or — rarely — a future, when I/O must happen first
//! (a key refresh for a `kid` never seen, a lazy issuer's discovery; later an
//! introspection call or a DPoP replay check). The known-key and cache-hit
//! paths answer synchronously, without a lock or an allocation beyond the
//! claims.
//!
//! The layer ([`crate::layer`]) takes the credential from the request, asks
//! its verifier, runs the post-verification hooks on whatever was verified,
//! logs the outcome, and answers; it knows nothing of JWTs. The JWT/JWKS
//! verifier ([`jwt::JwtVerifier`]) is the first implementation, and the one
//! file where the path of one token reads from top to bottom.
//!
//! Pieces of the JWT verifier:
//! - `validate`: the validation profile (RFC 9068 + RFC 8725) and the pure
//!   checks: token shape, header, claims;
//! - `cache`: the verified-token cache (a repeated token skips the signature);
//! - [`crate::jwks`]: key sets and their refresh, behind each [`Issuer`](crate::Issuer).
//!
//! With feature `introspection`, `introspection` verifies opaque tokens
//! (RFC 7662) and `router` sends each token of a layer to one verifier or
//! the other (the routing rule is documented there).

pub(crate) mod cache;
#[cfg(feature = "introspection")]
pub(crate) mod introspection;
pub(crate) mod jwt;
#[cfg(feature = "introspection")]
pub(crate) mod router;
mod tenant;
pub(crate) mod validate;

use std::future::Future;
use std::pin::Pin;

use crate::claims::VerifiedClaims;
use crate::error::Rejection;

/// A verification that must wait for I/O first. It resolves to the final
/// answer: it never asks to wait again.
pub(crate) type Pending = Pin<Box<dyn Future<Output = Result<VerifiedClaims, Rejection>> + Send>>;

/// The one answer a verifier gives for a credential.
pub(crate) enum Verdict {
    /// The credential is valid; these are its claims.
    Verified(VerifiedClaims),
    /// The credential is refused, with the reason, its `kid`, issuer and
    /// fingerprint for the log line and the RFC 6750 response.
    Rejected(Rejection),
    /// I/O is needed before an answer can be given.
    Pending(Pending),
}

impl Verdict {
    /// The verdict from a finished verification.
    pub(crate) fn of(result: Result<VerifiedClaims, Rejection>) -> Self {
        match result {
            Ok(claims) => Verdict::Verified(claims),
            Err(rejection) => Verdict::Rejected(rejection),
        }
    }

    /// Wait for the final answer.
    pub(crate) async fn resolve(self) -> Result<VerifiedClaims, Rejection> {
        match self {
            Verdict::Verified(claims) => Ok(claims),
            Verdict::Rejected(rejection) => Err(rejection),
            Verdict::Pending(pending) => pending.await,
        }
    }
}

/// Turns a credential into a [`Verdict`].
///
/// Runs on the request path: the synchronous part must not block or do I/O;
/// whatever needs I/O goes into [`Verdict::Pending`], which must be bounded
/// in time and must not depend on the request future staying alive for
/// shared state to stay consistent.
pub(crate) trait Verifier: std::fmt::Debug + Send + Sync + 'static {
    /// Verify `token`, a credential taken from the request by the layer's
    /// token source.
    fn verify(&self, token: &str) -> Verdict;
}
