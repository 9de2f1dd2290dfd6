//! Sender-constrained tokens: the ONE place where a verified token's binding
//! (`cnf`, read into [`Confirmation`]) is checked against how the request
//! presented it. The authenticator calls it after verification and after
//! the post-verification hooks, on every request — cache hits included.
//!
//! | binding | `Bearer` scheme | `DPoP` scheme |
//! |---|---|---|
//! | none (no `cnf`, or `{}`) | accepted | refused: `dpop_jkt_mismatch` (RFC 9449 §7.1: the token must be bound) |
//! | `cnf.jkt` | refused: `sender_constrained` (RFC 9449 §7.2, no downgrade) | the proof is checked against the token's `jkt` |
//! | `cnf["x5t#S256"]` | feature `mtls`: the request's client certificate must match (`certificate_missing`, `certificate_mismatch`); without it refused: `sender_constrained` | refused: `sender_constrained` |
//! | anything else (`jwk`, `kid`, several methods, malformed) | refused: `sender_constrained` | refused: `sender_constrained` |

use std::future::Future;
use std::pin::Pin;

use http::HeaderValue;

use super::source::RequestHead;
use crate::claims::{Confirmation, VerifiedClaims};
use crate::error::{Reason, Rejection};

/// How the request presented its token.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Presentation<'a> {
    /// RFC 6750 (or a custom [`TokenSource`](super::TokenSource)): proves nothing.
    Bearer,
    /// `Authorization: DPoP <token>` with this `DPoP` proof header (RFC 9449 §7.1).
    #[cfg_attr(not(feature = "dpop"), allow(dead_code))]
    Dpop(&'a str),
}

/// What a passed binding check adds to the request and its answer.
#[derive(Debug, Default)]
pub(crate) struct Proven {
    /// The checked DPoP proof, inserted into the request extensions.
    #[cfg(feature = "dpop")]
    pub(crate) dpop: Option<crate::dpop::CheckedProof>,
    /// A fresh `DPoP-Nonce` for the answer (the client's nonce is from the
    /// previous slot, RFC 9449 §8.2).
    pub(crate) nonce: Option<HeaderValue>,
}

/// A binding check that awaits a remote store (a shared DPoP replay store).
pub(crate) type PendingProof = Pin<Box<dyn Future<Output = Result<Proven, Rejection>> + Send>>;

/// The answer of the binding check: synchronous unless a remote store must
/// be asked.
pub(crate) enum Checked {
    Done(Result<Proven, Rejection>),
    #[cfg_attr(not(feature = "dpop"), allow(dead_code))]
    Pending(PendingProof),
}

/// The binding checks a layer is configured for.
#[derive(Debug, Default)]
pub(crate) struct Binding {
    #[cfg(feature = "dpop")]
    pub(crate) dpop: Option<super::dpop::LayerDpop>,
}

impl Binding {
    /// Enforce `claims`' binding for `token`, presented as `presented` in
    /// the request `head`.
    pub(crate) fn check(
        &self,
        claims: &VerifiedClaims,
        token: &str,
        presented: Presentation<'_>,
        head: &RequestHead<'_>,
    ) -> Checked {
        // Without DPoP only the request-independent arms run; the mtls
        // branch reads the client certificate from `head.extensions`.
        #[cfg(not(feature = "dpop"))]
        let _ = (token, head);
        let refuse = |reason| Checked::Done(Err(Rejection::new(reason)));
        match (claims.confirmation(), presented) {
            (None, Presentation::Bearer) => Checked::Done(Ok(Proven::default())),
            // RFC 9449 §7.2: a bound token as Bearer is refused, so a
            // stolen one cannot be downgraded.
            (Some(Confirmation::Jkt(_)), Presentation::Bearer) => refuse(Reason::SenderConstrained),
            #[cfg(feature = "dpop")]
            (binding, Presentation::Dpop(proof)) => {
                let jkt = match binding {
                    Some(Confirmation::Jkt(jkt)) => jkt,
                    // RFC 9449 §7.1: under the DPoP scheme the token must be bound to the key.
                    None => return refuse(Reason::Dpop(crate::dpop::DpopError::JktMismatch)),
                    Some(_) => return refuse(Reason::SenderConstrained),
                };
                match &self.dpop {
                    Some(dpop) => dpop.check(proof, head, token, jkt),
                    None => refuse(Reason::SenderConstrained),
                }
            }
            #[cfg(not(feature = "dpop"))]
            (_, Presentation::Dpop(_)) => refuse(Reason::SenderConstrained),
            // Certificate-bound (RFC 8705 §3): the request's client
            // certificate (`mtls::ClientCertificate` in its extensions) must
            // have the token's thumbprint. Without the `mtls` feature no
            // certificate can be read: refused as any unprovable binding.
            #[cfg(feature = "mtls")]
            (Some(Confirmation::X5tS256(x5t)), Presentation::Bearer) => {
                match crate::mtls::check_certificate_binding(x5t, head.extensions) {
                    Ok(()) => Checked::Done(Ok(Proven::default())),
                    Err(reason) => refuse(reason),
                }
            }
            #[cfg(not(feature = "mtls"))]
            (Some(Confirmation::X5tS256(_)), Presentation::Bearer) => {
                refuse(Reason::SenderConstrained)
            }
            (Some(Confirmation::Unsupported), Presentation::Bearer) => {
                refuse(Reason::SenderConstrained)
            }
        }
    }
}
