//! The response future of [`AuthService`](super::AuthService).

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use http::{HeaderValue, Response};
use pin_project_lite::pin_project;

type BoxedCall<B, E> = Pin<Box<dyn Future<Output = Result<Response<B>, E>> + Send>>;

pin_project! {
    /// Either the inner service's future, a ready rejection, or (rarely: a
    /// key refresh was needed) a boxed verify-then-call future.
    pub struct ResponseFuture<F, B, E> {
        #[pin]
        kind: Kind<F, B, E>,
    }
}

pin_project! {
    #[project = KindProj]
    enum Kind<F, B, E> {
        Inner { #[pin] future: F, nonce: Option<HeaderValue> },
        Rejected { response: Option<Response<B>> },
        Waiting { future: BoxedCall<B, E> },
    }
}

impl<F, B, E> ResponseFuture<F, B, E> {
    /// The inner service's answer, with a fresh `DPoP-Nonce` when `nonce` is set.
    pub(crate) fn inner(future: F, nonce: Option<HeaderValue>) -> Self {
        Self {
            kind: Kind::Inner { future, nonce },
        }
    }

    pub(crate) fn rejected(response: Response<B>) -> Self {
        Self {
            kind: Kind::Rejected {
                response: Some(response),
            },
        }
    }

    pub(crate) fn waiting(future: BoxedCall<B, E>) -> Self {
        Self {
            kind: Kind::Waiting { future },
        }
    }
}

impl<F, B, E> Future for ResponseFuture<F, B, E>
where
    F: Future<Output = Result<Response<B>, E>>,
{
    type Output = Result<Response<B>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project().kind.project() {
            KindProj::Inner { future, nonce } => {
                let mut res = std::task::ready!(future.poll(cx));
                if let Ok(res) = &mut res {
                    super::service::with_nonce(res, nonce.take());
                }
                Poll::Ready(res)
            }
            // As tower-http does: polling a completed future is a caller bug.
            KindProj::Rejected { response } => Poll::Ready(Ok(response
                .take()
                .expect("ResponseFuture polled after completion"))),
            KindProj::Waiting { future } => future.as_mut().poll(cx),
        }
    }
}
