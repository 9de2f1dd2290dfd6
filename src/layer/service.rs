//! The authentication service.

use std::sync::Arc;
use std::task::{Context, Poll};

use http::{Request, Response};
use tower_service::Service;

use super::authenticator::Authenticator;
use super::future::ResponseFuture;
use super::response::RejectionResponse;
use super::{PassedAnonymous, RequestHead};
use crate::verify::Verdict;

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
            Some(Verdict::Verified(claims)) => {
                crate::ops::allowed(&RequestHead::of(&req), &claims);
                req.extensions_mut().insert(claims);
                req.extensions_mut().insert(self.auth.challenge.clone());
                ResponseFuture::inner(self.inner.call(req))
            }
            None => {
                crate::ops::anonymous(&RequestHead::of(&req));
                req.extensions_mut().insert(PassedAnonymous);
                req.extensions_mut().insert(self.auth.challenge.clone());
                ResponseFuture::inner(self.inner.call(req))
            }
            Some(Verdict::Rejected(rejection)) => ResponseFuture::rejected({
                crate::ops::refused(&RequestHead::of(&req), &rejection);
                self.responder
                    .response_to(&RequestHead::of(&req), &rejection)
            }),
            Some(Verdict::Pending(verify)) => {
                // The ready service is the one driven later (tower's clone-and-swap).
                let clone = self.inner.clone();
                let mut inner = std::mem::replace(&mut self.inner, clone);
                let responder = self.responder.clone();
                let challenge = self.auth.challenge.clone();
                ResponseFuture::waiting(Box::pin(async move {
                    match verify.await {
                        Ok(claims) => {
                            crate::ops::allowed(&RequestHead::of(&req), &claims);
                            req.extensions_mut().insert(claims);
                            req.extensions_mut().insert(challenge);
                            inner.call(req).await
                        }
                        Err(rejection) => {
                            crate::ops::refused(&RequestHead::of(&req), &rejection);
                            Ok(responder.response_to(&RequestHead::of(&req), &rejection))
                        }
                    }
                }))
            }
        }
    }
}
