//! What the layer does with one request, whatever verifies its token: take
//! the credential, ask the verifier, run the post-verification hooks on what
//! verified, log the outcome.

use std::sync::Arc;

use super::log::log;
use super::source::{RequestHead, TokenSource};
use super::{LayerChallenge, PostVerify};
use crate::claims::VerifiedClaims;
use crate::error::{Reason, Rejection};
use crate::verify::{Verdict, Verifier};

/// Authenticates requests. Built once, shared by every clone of the service.
pub(crate) struct Authenticator {
    pub(crate) source: Box<dyn TokenSource>,
    pub(crate) verifier: Box<dyn Verifier>,
    pub(crate) hooks: Vec<Box<dyn PostVerify>>,
    pub(crate) optional: bool,
    pub(crate) challenge: LayerChallenge,
}

impl Authenticator {
    /// The request path: synchronous unless the verifier needs I/O. `None`:
    /// the request carries no credentials and the layer is optional.
    pub(crate) fn authenticate(self: &Arc<Self>, head: &RequestHead<'_>) -> Option<Verdict> {
        let token = match self.source.extract(head) {
            Ok(Some(token)) => token,
            Ok(None) if self.optional => return None,
            Ok(None) => return Some(Verdict::Rejected(log(Rejection::new(Reason::MissingToken)))),
            Err(rejection) => return Some(Verdict::Rejected(log(rejection))),
        };
        Some(match self.verifier.verify(&token) {
            Verdict::Verified(claims) => Verdict::of(self.accept(claims)),
            Verdict::Rejected(rejection) => Verdict::Rejected(log(rejection)),
            Verdict::Pending(pending) => {
                let this = Arc::clone(self);
                Verdict::Pending(Box::pin(async move {
                    match pending.await {
                        Ok(claims) => this.accept(claims),
                        Err(rejection) => Err(log(rejection)),
                    }
                }))
            }
        })
    }

    /// The post-verification hooks (on every verified token, cached or not),
    /// then one log event: a refusal at its level, a success at DEBUG.
    fn accept(&self, claims: VerifiedClaims) -> Result<VerifiedClaims, Rejection> {
        for hook in &self.hooks {
            if let Err(mut r) = hook.check(&claims) {
                r.issuer.get_or_insert_with(|| claims.issuer_arc().clone());
                r.fingerprint.get_or_insert(claims.fingerprint());
                return Err(log(r));
            }
        }
        tracing::debug!(
            target: "oauth2_guard::auth",
            issuer = claims.issuer(),
            client_id = claims.client_id(),
            kid = claims.key_id(),
            token = %claims.fingerprint(),
            "token accepted"
        );
        Ok(claims)
    }
}
