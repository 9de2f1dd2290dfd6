//! [`BearerLayer`]: a tower layer for outbound clients that adds
//! `Authorization: Bearer …` from a [`ClientCredentials`] source.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use http::header;
use tower_layer::Layer;
use tower_service::Service;

use super::error::BearerError;
use super::source::{is_invalid_token, ClientCredentials};

/// Wraps an outbound HTTP client service (hyper-util's legacy client, a
/// tower stack over it, ...) so every request carries a client-credentials
/// token, marked sensitive. Get one with [`ClientCredentials::layer`].
///
/// When the downstream answers 401 with `error="invalid_token"`, the token
/// is dropped from the cache so the next request gets a new one — at most
/// once per the source's
/// [`invalid_token_cooldown`](super::ClientCredentialsBuilder::invalid_token_cooldown)
/// (default 10 s), so a downstream refusing every token cannot cause a
/// token request per call. The request itself is not retried here (a
/// generic body cannot be replayed); [`ClientCredentials::send`] does retry
/// once for reqwest.
///
/// # DPoP
/// With a DPoP source ([`dpop`](super::ClientCredentialsBuilder::dpop))
/// each request carries `Authorization: DPoP <token>` and a fresh proof
/// for its method and URL (the request URI must be absolute, as hyper's
/// client needs anyway), with the nonce last received from that origin.
/// Every `DPoP-Nonce` in an answer is remembered; a 401 `use_dpop_nonce`
/// is retried once with the new nonce when the body can be replayed: a
/// body of type `()`, `String`, `Vec<u8>`, `bytes::Bytes`, `&'static str`
/// or `&'static [u8]`. Any other body is sent once and the 401 returned
/// (the next request carries the nonce).
#[derive(Clone, Debug)]
pub struct BearerLayer {
    source: ClientCredentials,
}

impl BearerLayer {
    /// A layer using `source`.
    pub fn new(source: ClientCredentials) -> Self {
        BearerLayer { source }
    }
}

impl<S> Layer<S> for BearerLayer {
    type Service = BearerService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        BearerService {
            inner,
            source: self.source.clone(),
        }
    }
}

/// The service of [`BearerLayer`].
#[derive(Clone, Debug)]
pub struct BearerService<S> {
    inner: S,
    source: ClientCredentials,
}

impl<S> BearerService<S> {
    /// The wrapped service.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }
}

/// The future of [`BearerService`]: first the token (usually cached, so
/// ready at once), then the inner call.
pub type ResponseFuture<T, E> = Pin<Box<dyn Future<Output = Result<T, BearerError<E>>> + Send>>;

impl<S, B, ResBody> Service<http::Request<B>> for BearerService<S>
where
    S: Service<http::Request<B>, Response = http::Response<ResBody>> + Clone + Send + 'static,
    S::Future: Send,
    S::Error: Send,
    B: Send + 'static,
{
    type Response = http::Response<ResBody>;
    type Error = BearerError<S::Error>;
    type Future = ResponseFuture<Self::Response, S::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx).map_err(BearerError::Service)
    }

    fn call(&mut self, mut request: http::Request<B>) -> Self::Future {
        // Call the service that was polled ready; leave a clone in its place.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let source = self.source.clone();
        Box::pin(async move {
            let token = source.token().await.map_err(BearerError::Token)?;
            request
                .headers_mut()
                .insert(header::AUTHORIZATION, token.header_value());
            #[cfg(feature = "dpop")]
            if let Some(key) = source.dpop_key().filter(|_| token.is_dpop()) {
                return super::dpop_layer::call(inner, request, &source, key, &token).await;
            }
            let response = inner.call(request).await.map_err(BearerError::Service)?;
            if is_invalid_token(response.status(), response.headers()) {
                // Bounded by the source's cooldown.
                let _dropped = source.invalidate(&token);
            }
            Ok(response)
        })
    }
}
