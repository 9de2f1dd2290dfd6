//! The authentication service.

use std::sync::Arc;
use std::task::{Context, Poll};

use http::{HeaderValue, Request, Response};
use tower_service::Service;

use super::authenticator::{Accepted, Authenticator, Outcome};
use super::future::ResponseFuture;
use super::response::RejectionResponse;
use super::{LayerChallenge, PassedAnonymous, RequestHead};

/// Authenticates each request, then calls the inner service. Made by
/// [`AuthLayer`](super::AuthLayer).
#[derive(Clone)]
pub struct AuthService<S, R> {
    inner: S,
    auth: Arc<Authenticator>,
    responder: R,
}

impl<S, R> AuthService<S, R> {
    pub(crate) fn new(inner: S, auth: Arc<Authenticator>, responder: R) -> Self {
        Self {
            inner,
            auth,
            responder,
        }
    }

    /// The wrapped service.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }
}

impl<S: std::fmt::Debug, R> std::fmt::Debug for AuthService<S, R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthService")
            .field("inner", &self.inner)
            .finish_non_exhaustive()
    }
}

impl<S, R, ReqBody, ResBody> Service<Request<ReqBody>> for AuthService<S, R>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: 'static,
    ReqBody: Send + 'static,
    ResBody: Send + 'static,
    R: RejectionResponse<ResBody>,
{
    type Response = Response<ResBody>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future, ResBody, S::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request<ReqBody>) -> Self::Future {
        match self.auth.authenticate(&RequestHead::of(&req)) {
            Some(Outcome::Done(Ok(accepted))) => {
                crate::ops::allowed(&RequestHead::of(&req), &accepted.claims);
                let nonce = admit(&mut req, accepted, &self.auth.challenge);
                ResponseFuture::inner(self.inner.call(req), nonce)
            }
            None => {
                crate::ops::anonymous(&RequestHead::of(&req));
                req.extensions_mut().insert(PassedAnonymous);
                req.extensions_mut().insert(self.auth.challenge.clone());
                ResponseFuture::inner(self.inner.call(req), None)
            }
            Some(Outcome::Done(Err(rejection))) => {
                crate::ops::refused(&RequestHead::of(&req), &rejection);
                let mut res = self
                    .responder
                    .response_to(&RequestHead::of(&req), &rejection);
                with_nonce(&mut res, self.auth.nonce_for(&rejection));
                ResponseFuture::rejected(res)
            }
            Some(Outcome::Pending(verify)) => {
                // The ready service is the one driven later (tower's clone-and-swap).
                let clone = self.inner.clone();
                let mut inner = std::mem::replace(&mut self.inner, clone);
                let responder = self.responder.clone();
                let challenge = self.auth.challenge.clone();
                let auth = Arc::clone(&self.auth);
                ResponseFuture::waiting(Box::pin(async move {
                    match verify.await {
                        Ok(accepted) => {
                            crate::ops::allowed(&RequestHead::of(&req), &accepted.claims);
                            let nonce = admit(&mut req, accepted, &challenge);
                            let mut res = inner.call(req).await?;
                            with_nonce(&mut res, nonce);
                            Ok(res)
                        }
                        Err(rejection) => {
                            crate::ops::refused(&RequestHead::of(&req), &rejection);
                            let mut res = responder.response_to(&RequestHead::of(&req), &rejection);
                            with_nonce(&mut res, auth.nonce_for(&rejection));
                            Ok(res)
                        }
                    }
                }))
            }
        }
    }
}

/// Put what the layer proved into the request; returns the `DPoP-Nonce`
/// for the answer, if any.
fn admit<B>(
    req: &mut Request<B>,
    accepted: Accepted,
    challenge: &LayerChallenge,
) -> Option<HeaderValue> {
    let ext = req.extensions_mut();
    ext.insert(accepted.claims);
    ext.insert(challenge.clone());
    #[cfg(feature = "dpop")]
    if let Some(proof) = accepted.proven.dpop {
        // The guards' answers to a DPoP request challenge on `DPoP`.
        ext.insert(LayerChallenge(challenge.0.clone().for_dpop_request()));
        ext.insert(proof);
    }
    accepted.proven.nonce
}

/// Add a fresh `DPoP-Nonce` to a successful answer (RFC 9449 §8.2).
pub(super) fn with_nonce<B>(res: &mut Response<B>, nonce: Option<HeaderValue>) {
    if let Some(nonce) = nonce {
        res.headers_mut().insert(NONCE_HEADER, nonce);
    }
}

/// The `DPoP-Nonce` response header (RFC 9449 §8.1).
pub(super) const NONCE_HEADER: http::HeaderName = http::HeaderName::from_static("dpop-nonce");
