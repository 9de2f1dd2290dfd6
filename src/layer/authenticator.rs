//! What the layer does with one request, whatever verifies its token: take
//! the credential, ask the verifier, run the post-verification hooks on what
//! verified, enforce the token's binding ([`super::binding`]), log the
//! outcome.

use std::borrow::Cow;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use http::Request;

use super::binding::{Binding, Checked, Presentation, Proven};
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
    pub(crate) binding: Binding,
}

/// A request that passed: its claims, and what the binding check proved.
pub(crate) struct Accepted {
    pub(crate) claims: VerifiedClaims,
    pub(crate) proven: Proven,
}

/// An authentication that must wait for I/O (a key refresh, introspection,
/// a shared replay store).
pub(crate) type Pending = Pin<Box<dyn Future<Output = Result<Accepted, Rejection>> + Send>>;

/// The layer's answer for one request.
pub(crate) enum Outcome {
    Done(Result<Accepted, Rejection>),
    Pending(Pending),
}

impl Authenticator {
    /// The request path: synchronous unless the verifier or the binding
    /// check needs I/O. `None`: the request carries no credentials and the
    /// layer is optional.
    pub(crate) fn authenticate(self: &Arc<Self>, head: &RequestHead<'_>) -> Option<Outcome> {
        let (token, presented) = match self.credential(head) {
            Ok(Some(found)) => found,
            Ok(None) if self.optional => return None,
            Ok(None) => {
                return Some(Outcome::Done(Err(log(Rejection::new(
                    Reason::MissingToken,
                )))))
            }
            Err(rejection) => return Some(Outcome::Done(Err(log(rejection)))),
        };
        Some(match self.verifier.verify(&token) {
            Verdict::Verified(claims) => self.accept(claims, &token, presented, head),
            Verdict::Rejected(rejection) => Outcome::Done(Err(log(rejection))),
            Verdict::Pending(pending) => {
                let this = Arc::clone(self);
                // The binding check needs the request head after the wait.
                let request = owned_head(head);
                let token = token.into_owned();
                let proof = match presented {
                    Presentation::Bearer => None,
                    Presentation::Dpop(proof) => Some(proof.to_owned()),
                };
                Outcome::Pending(Box::pin(async move {
                    let claims = pending.await.map_err(log)?;
                    let presented = proof
                        .as_deref()
                        .map_or(Presentation::Bearer, Presentation::Dpop);
                    match this.accept(claims, &token, presented, &RequestHead::of(&request)) {
                        Outcome::Done(result) => result,
                        Outcome::Pending(pending) => pending.await,
                    }
                }))
            }
        })
    }

    /// The token and how it was presented: the `DPoP` scheme when DPoP is
    /// configured, else the token source.
    fn credential<'a>(
        &self,
        head: &RequestHead<'a>,
    ) -> Result<Option<(Cow<'a, str>, Presentation<'a>)>, Rejection> {
        #[cfg(feature = "dpop")]
        if let Some(dpop) = &self.binding.dpop {
            if let Some((token, proof)) = super::dpop::LayerDpop::extract(head)? {
                return Ok(Some((token, Presentation::Dpop(proof))));
            }
            if dpop.require {
                // Bearer (or any other source) is refused before verification.
                return match self.source.extract(head)? {
                    Some(_) => Err(Rejection::new(Reason::Dpop(
                        crate::dpop::DpopError::Required,
                    ))),
                    None => Ok(None),
                };
            }
        }
        Ok(self
            .source
            .extract(head)?
            .map(|token| (token, Presentation::Bearer)))
    }

    /// The post-verification hooks (on every verified token, cached or not),
    /// then the binding check, then one log event: a refusal at its level,
    /// a success at DEBUG.
    fn accept(
        &self,
        claims: VerifiedClaims,
        token: &str,
        presented: Presentation<'_>,
        head: &RequestHead<'_>,
    ) -> Outcome {
        let about = |mut r: Rejection, claims: &VerifiedClaims| {
            r.issuer.get_or_insert_with(|| claims.issuer_arc().clone());
            r.fingerprint.get_or_insert(claims.fingerprint());
            log(r)
        };
        for hook in &self.hooks {
            if let Err(r) = hook.check(&claims) {
                return Outcome::Done(Err(about(r, &claims)));
            }
        }
        match self.binding.check(&claims, token, presented, head) {
            Checked::Done(Ok(proven)) => Outcome::Done(Ok(accepted(claims, proven))),
            Checked::Done(Err(r)) => Outcome::Done(Err(about(r, &claims))),
            Checked::Pending(pending) => Outcome::Pending(Box::pin(async move {
                match pending.await {
                    Ok(proven) => Ok(accepted(claims, proven)),
                    Err(r) => Err(about(r, &claims)),
                }
            })),
        }
    }
}

fn accepted(claims: VerifiedClaims, proven: Proven) -> Accepted {
    tracing::debug!(
        target: "oauth2_guard::auth",
        issuer = claims.issuer(),
        client_id = claims.client_id(),
        kid = claims.key_id(),
        token = %claims.fingerprint(),
        "token accepted"
    );
    Accepted { claims, proven }
}

/// An owned copy of the request head, for a check that resumes after I/O.
fn owned_head(head: &RequestHead<'_>) -> Request<()> {
    let mut request = Request::new(());
    *request.method_mut() = head.method.clone();
    *request.uri_mut() = head.uri.clone();
    *request.headers_mut() = head.headers.clone();
    *request.extensions_mut() = head.extensions.clone();
    request
}
