//! [`GrpcBearerLayer`]: client-credentials tokens on a tonic `Channel`
//! (features `client` + `grpc`).

use std::collections::VecDeque;
use std::future::{poll_fn, Future};
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::{header, HeaderMap};
use http_body::{Body as _, Frame, SizeHint};
use tonic::body::Body;
use tower_layer::Layer;
use tower_service::Service;

use super::error::BearerError;
use super::source::ClientCredentials;
use crate::grpc::status::{GRPC_STATUS, UNAUTHENTICATED};
use crate::ConfigError;

/// The default of [`GrpcBearerLayer::max_replay_bytes`]: 64 KiB.
pub const DEFAULT_MAX_REPLAY_BYTES: usize = 64 * 1024;

/// Wraps a tonic `Channel` (or any `Service<http::Request<tonic::body::Body>>`)
/// so every call carries `Authorization: Bearer …` from a
/// [`ClientCredentials`] source — asynchronously, from its cache (one atomic
/// load while a token is valid), refreshed ahead of expiry in the
/// background — and a call refused with `UNAUTHENTICATED` is retried once
/// with a new token. Get one with [`ClientCredentials::grpc_layer`].
///
/// ```no_run
/// # async fn run(source: oauth2_guard::client::ClientCredentials) -> Result<(), Box<dyn std::error::Error>> {
/// let channel = tonic::transport::Endpoint::from_static("http://orders.internal:50051")
///     .connect()
///     .await?;
/// let channel = tower::ServiceBuilder::new()
///     .layer(source.grpc_layer()?) // a DPoP source is refused here
///     .service(channel);
/// // let mut orders = OrdersClient::new(channel);  // tonic's generated client
/// # let _ = channel; Ok(()) }
/// ```
///
/// | setting | default | why |
/// |---|---|---|
/// | retry on `UNAUTHENTICATED` | once, with a new token, only for a replayable request | the downstream may have rotated keys or revoked the token: one fresh token usually fixes it, a loop never does |
/// | what is replayable | a request whose body was complete when the call was made, at most [`max_replay_bytes`](Self::max_replay_bytes) ([`DEFAULT_MAX_REPLAY_BYTES`]) | unary calls (and client streams that were already complete) can be sent again; a live client or bidirectional stream cannot, so it is passed on untouched and its `UNAUTHENTICATED` returned as is |
/// | dropping the refused token | at most once per the source's [`invalid_token_cooldown`](super::ClientCredentialsBuilder::invalid_token_cooldown) (10 s) | a downstream that refuses every token costs one token request per cooldown, not one per call; within the cooldown the refusal is returned without a retry |
/// | `Authorization` header | marked sensitive | kept out of `Debug` output and HPACK compression tables |
///
/// # Streaming
/// The retry reads `grpc-status` from the response headers: a trailers-only
/// refusal, which is how this crate's `AuthLayer` and tonic handlers that
/// return `Err(Status)` before streaming answer. A `UNAUTHENTICATED` in the
/// trailers of a stream that already sent messages is the application's to
/// handle. For a streaming call the body is buffered only as far as it is
/// ready at once (a stream waiting for its next message is never waited
/// for), so the layer cannot deadlock a bidirectional call.
///
/// # DPoP
/// The gRPC layer sends Bearer tokens only: a DPoP proof per gRPC call is
/// not implemented. A source configured with
/// [`ClientCredentialsBuilder::dpop`](super::ClientCredentialsBuilder::dpop)
/// gets DPoP-bound tokens, which are worthless without a proof on every
/// call (the downstream refuses `Authorization: DPoP …` alone), so
/// [`GrpcBearerLayer::new`] and [`ClientCredentials::grpc_layer`] refuse
/// such a source with [`ConfigError::ConflictingSettings`] instead of
/// building a layer whose every call would fail. Use a Bearer source (the
/// default) for gRPC downstreams; DPoP-bound tokens go through
/// [`BearerLayer`](super::BearerLayer) or
/// [`ClientCredentials::send`] over HTTP.
///
/// # Errors
/// When no token can be obtained the call is not sent: the tonic client
/// sees a `Status` with code `Unknown` whose
/// [`source`](std::error::Error::source) is [`BearerError::Token`].
#[derive(Clone, Debug)]
pub struct GrpcBearerLayer {
    source: ClientCredentials,
    max_replay: usize,
}

impl GrpcBearerLayer {
    /// A layer using `source`.
    ///
    /// # Errors
    /// [`ConfigError::ConflictingSettings`] when `source` asks for DPoP-bound
    /// tokens (feature `dpop`): this layer cannot send the proof each call
    /// would need (see [DPoP](Self#dpop)).
    pub fn new(source: ClientCredentials) -> Result<Self, ConfigError> {
        #[cfg(feature = "dpop")]
        if source.dpop_key().is_some() {
            return Err(ConfigError::ConflictingSettings {
                first: "ClientCredentialsBuilder::dpop",
                second: "GrpcBearerLayer (Bearer tokens only: no DPoP proof per gRPC call)",
            });
        }
        Ok(Self {
            source,
            max_replay: DEFAULT_MAX_REPLAY_BYTES,
        })
    }

    /// Keep at most `bytes` of a complete request body for the retry; a
    /// larger request is sent once. `0` turns the retry off.
    #[must_use]
    pub fn max_replay_bytes(mut self, bytes: usize) -> Self {
        self.max_replay = bytes;
        self
    }
}

impl<S> Layer<S> for GrpcBearerLayer {
    type Service = GrpcBearerService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        GrpcBearerService {
            inner,
            source: self.source.clone(),
            max_replay: self.max_replay,
        }
    }
}

/// The service of [`GrpcBearerLayer`].
#[derive(Clone, Debug)]
pub struct GrpcBearerService<S> {
    inner: S,
    source: ClientCredentials,
    max_replay: usize,
}

impl<S> GrpcBearerService<S> {
    /// The wrapped service.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }
}

/// The future of [`GrpcBearerService`].
pub type GrpcResponseFuture<T, E> = Pin<Box<dyn Future<Output = Result<T, BearerError<E>>> + Send>>;

impl<S, ResBody> Service<http::Request<Body>> for GrpcBearerService<S>
where
    S: Service<http::Request<Body>, Response = http::Response<ResBody>> + Clone + Send + 'static,
    S::Future: Send,
    S::Error: Send,
    ResBody: Send,
{
    type Response = http::Response<ResBody>;
    type Error = BearerError<S::Error>;
    type Future = GrpcResponseFuture<Self::Response, S::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx).map_err(BearerError::Service)
    }

    fn call(&mut self, request: http::Request<Body>) -> Self::Future {
        // Call the service that was polled ready; leave a clone in its place.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let source = self.source.clone();
        let max_replay = self.max_replay;
        Box::pin(async move {
            let token = source.token().await.map_err(BearerError::Token)?;
            let (parts, body) = request.into_parts();
            let (body, replay) = take_ready(body, max_replay).await;
            let retry = replay.map(|replay| (parts.clone(), replay));
            let mut request = http::Request::from_parts(parts, body);
            request
                .headers_mut()
                .insert(header::AUTHORIZATION, token.header_value());
            let response = inner.call(request).await.map_err(BearerError::Service)?;
            if !is_unauthenticated(response.headers()) {
                return Ok(response);
            }
            // Bounded by the source's cooldown: within it, no new token and no retry.
            let dropped = source.invalidate(&token);
            let Some((parts, replay)) = retry.filter(|_| dropped) else {
                return Ok(response);
            };
            tracing::info!(
                client_id = source.client_id(),
                "downstream answered UNAUTHENTICATED; retrying the call once with a new token"
            );
            let token = source.token().await.map_err(BearerError::Token)?;
            let mut request = http::Request::from_parts(parts, Body::new(replay));
            request
                .headers_mut()
                .insert(header::AUTHORIZATION, token.header_value());
            poll_fn(|cx| inner.poll_ready(cx))
                .await
                .map_err(BearerError::Service)?;
            inner.call(request).await.map_err(BearerError::Service)
        })
    }
}

fn is_unauthenticated(headers: &HeaderMap) -> bool {
    headers
        .get(GRPC_STATUS)
        .and_then(|v| v.to_str().ok()?.trim().parse::<u16>().ok())
        == Some(UNAUTHENTICATED)
}

/// Reads the frames of `body` that are ready now. A body that ends within
/// them and within `max` bytes comes back as a [`Replayable`] copy too;
/// otherwise the frames read so far are sent ahead of the rest.
async fn take_ready(mut body: Body, max: usize) -> (Body, Option<Replayable>) {
    let mut read = Replayable::default();
    let mut size = 0usize;
    let rest = loop {
        if body.is_end_stream() {
            break None;
        }
        let frame = poll_fn(|cx| match Pin::new(&mut body).poll_frame(cx) {
            Poll::Pending => Poll::Ready(Next::NotReady),
            Poll::Ready(None) => Poll::Ready(Next::End),
            Poll::Ready(Some(Ok(frame))) => Poll::Ready(Next::Frame(frame)),
            Poll::Ready(Some(Err(e))) => Poll::Ready(Next::Error(e)),
        })
        .await;
        match frame {
            Next::End => break None,
            Next::Frame(frame) => match frame.into_data() {
                Ok(data) => {
                    size = size.saturating_add(data.len());
                    read.data.push_back(data);
                    if size > max {
                        break Some(Rest::Body(body));
                    }
                }
                Err(frame) => {
                    if let Ok(trailers) = frame.into_trailers() {
                        read.trailers = Some(trailers);
                    }
                }
            },
            Next::NotReady => break Some(Rest::Body(body)),
            Next::Error(e) => break Some(Rest::Error(e)),
        }
    };
    match rest {
        None if max > 0 => (Body::new(read.clone()), Some(read)),
        None => (Body::new(read), None),
        Some(rest) => (
            Body::new(Prefixed {
                read,
                rest: Some(rest),
            }),
            None,
        ),
    }
}

enum Next {
    Frame(Frame<Bytes>),
    End,
    NotReady,
    Error(tonic::Status),
}

/// A complete request body kept for one more send.
#[derive(Clone, Default)]
struct Replayable {
    data: VecDeque<Bytes>,
    trailers: Option<HeaderMap>,
}

impl http_body::Body for Replayable {
    type Data = Bytes;
    type Error = tonic::Status;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, tonic::Status>>> {
        if let Some(data) = self.data.pop_front() {
            return Poll::Ready(Some(Ok(Frame::data(data))));
        }
        Poll::Ready(self.trailers.take().map(|t| Ok(Frame::trailers(t))))
    }

    fn is_end_stream(&self) -> bool {
        self.data.is_empty() && self.trailers.is_none()
    }

    fn size_hint(&self) -> SizeHint {
        let n = self.data.iter().map(|d| d.len() as u64).sum();
        SizeHint::with_exact(n)
    }
}

enum Rest {
    Body(Body),
    Error(tonic::Status),
}

/// The frames read ahead, then the rest of the body (or its error).
struct Prefixed {
    read: Replayable,
    rest: Option<Rest>,
}

impl http_body::Body for Prefixed {
    type Data = Bytes;
    type Error = tonic::Status;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, tonic::Status>>> {
        if let Some(data) = self.read.data.pop_front() {
            return Poll::Ready(Some(Ok(Frame::data(data))));
        }
        match &mut self.rest {
            Some(Rest::Body(body)) => Pin::new(body).poll_frame(cx),
            Some(Rest::Error(_)) => match self.rest.take() {
                Some(Rest::Error(e)) => Poll::Ready(Some(Err(e))),
                _ => Poll::Ready(None),
            },
            None => Poll::Ready(None),
        }
    }
}
