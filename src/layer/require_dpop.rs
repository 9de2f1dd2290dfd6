//! [`RequireDpop`]: a route guard that lets a request through only if the
//! [`AuthLayer`](super::AuthLayer) authenticated it with a DPoP proof.

use std::task::{Context, Poll};

use http::{Request, Response, StatusCode};
use tower_service::Service;

use super::future::ResponseFuture;
use super::response::{RejectionResponse, Rfc6750Response};
use super::{LayerChallenge, RequestHead};
use crate::dpop::{CheckedProof, DpopError};
use crate::error::{Reason, Rejection};

/// A layer for the routes that accept only DPoP-bound tokens, behind an
/// [`AuthLayer`](super::AuthLayer) configured with
/// [`dpop`](super::AuthLayerBuilder::dpop). A request authenticated with a
/// Bearer token (or anonymously) is answered 401 with reason
/// `dpop_required` and the layer's challenges; the request's
/// [`CheckedProof`] is how the guard knows.
///
/// ```
/// # #[cfg(feature = "axum")] {
/// use axum::{routing::post, Router};
/// use oauth2_guard::dpop::RequireDpop;
///
/// let app: Router = Router::new()
///     .route("/payments", post(|| async { "paid" }))
///     .route_layer(RequireDpop::new());
/// // .layer(auth_layer) — an AuthLayer with .dpop(config)
/// # let _ = app;
/// # }
/// ```
///
/// # Security
/// Without an `AuthLayer` in front, no request has a proof: every request
/// is refused (and an error is logged), never let through.
#[derive(Debug, Clone, Copy, Default)]
pub struct RequireDpop;

impl RequireDpop {
    /// The guard.
    pub const fn new() -> Self {
        Self
    }
}

impl<S> tower_layer::Layer<S> for RequireDpop {
    type Service = RequireDpopService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        RequireDpopService { inner }
    }
}

/// The service of [`RequireDpop`].
#[derive(Debug, Clone)]
pub struct RequireDpopService<S> {
    inner: S,
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for RequireDpopService<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
    ResBody: Default,
{
    type Response = Response<ResBody>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future, ResBody, S::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<ReqBody>) -> Self::Future {
        if req.extensions().get::<CheckedProof>().is_some() {
            return ResponseFuture::inner(self.inner.call(req), None);
        }
        let head = RequestHead::of(&req);
        let Some(LayerChallenge(challenge)) = req.extensions().get::<LayerChallenge>() else {
            super::missing_layer();
            let mut res = Response::new(ResBody::default());
            *res.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
            return ResponseFuture::rejected(res);
        };
        let rejection = super::log(Rejection::new(Reason::Dpop(DpopError::Required)));
        let responder = Rfc6750Response::new(challenge.clone());
        ResponseFuture::rejected(responder.response_to(&head, &rejection))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layer::{Challenge, ErrorDetail};
    use tower::ServiceExt;

    #[tokio::test]
    async fn refuses_without_a_proof() {
        let ok = tower::service_fn(|_req: Request<()>| async {
            Ok::<_, std::convert::Infallible>(Response::new(String::from("ok")))
        });
        let svc = tower_layer::Layer::layer(&RequireDpop::new(), ok);
        let challenge = Challenge::new(Some("api"), ErrorDetail::Terse)
            .unwrap()
            .with_dpop(&[jsonwebtoken::Algorithm::ES256], true);
        let mut req = Request::new(());
        req.extensions_mut().insert(LayerChallenge(challenge));
        let res = svc.clone().oneshot(req).await.unwrap();
        assert_eq!(res.status(), 401);
        assert_eq!(
            res.extensions().get::<Rejection>().unwrap().reason(),
            Reason::Dpop(DpopError::Required)
        );
        let challenges: Vec<_> = res.headers().get_all("www-authenticate").iter().collect();
        assert_eq!(challenges.len(), 2);
        assert!(challenges[0]
            .to_str()
            .unwrap()
            .starts_with(r#"DPoP realm="api", algs="ES256", error="invalid_token""#));
        assert_eq!(challenges[1], r#"Bearer realm="api""#);
        // No AuthLayer in front: a wiring bug, never let through.
        let res = svc.oneshot(Request::new(())).await.unwrap();
        assert_eq!(res.status(), 500);
    }
}
