//! Turning a [`Rejection`] into a response — RFC 6750 §3 by default, and
//! a gRPC trailers-only answer when the request is a gRPC call. The
//! `WWW-Authenticate` values are [`Challenge`]'s (`challenge.rs`), the gRPC
//! answer is in `grpc_answer.rs`.

use http::{header, HeaderValue, Response, StatusCode};

use super::source::RequestHead;
use crate::error::{Reason, Rejection};
use crate::grpc::status as grpc;

#[path = "challenge.rs"]
mod challenge;
#[path = "grpc_answer.rs"]
mod grpc_answer;
pub use challenge::Challenge;
use grpc_answer::grpc_answer;

/// How much an error response says about why a token was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum ErrorDetail {
    /// A fixed sentence per category (`The access token expired` /
    /// `The access token is invalid`): enough for a client to react, nothing
    /// for an attacker to probe with. The default.
    #[default]
    Terse,
    /// Also the stable reason code (`wrong_audience`, `bad_signature`, …).
    /// Helpful while integrating; consider turning it off in production.
    ReasonCode,
}

/// Builds the response for a refused request.
///
/// Implemented by [`Rfc6750Response`] (the default), [`JsonResponse`], and
/// any `Fn(&Rejection) -> Response<B>` closure.
///
/// # gRPC
/// The layer calls [`response_to`](Self::response_to), with the request.
/// [`Rfc6750Response`] and [`JsonResponse`] answer a gRPC call
/// (`content-type: application/grpc…`) with a gRPC trailers-only response:
/// HTTP 200, `grpc-status` 16 `UNAUTHENTICATED` for 401 refusals, 3
/// `INVALID_ARGUMENT` for 400, 14 `UNAVAILABLE` for 503 (with `Retry-After`
/// and `grpc-retry-pushback-ms`), a fixed percent-encoded `grpc-message`,
/// and the `WWW-Authenticate` challenge as metadata. A closure answers
/// every request with what it returns.
pub trait RejectionResponse<B>: Clone + Send + Sync + 'static {
    /// The response for `rejection`.
    fn response(&self, rejection: &Rejection) -> Response<B>;

    /// The response for `rejection` to `request`. The provided method
    /// returns [`response`](Self::response); see the trait docs for the
    /// crate's responders.
    fn response_to(&self, request: &RequestHead<'_>, rejection: &Rejection) -> Response<B> {
        let _ = request;
        self.response(rejection)
    }
}

impl<F, B> RejectionResponse<B> for F
where
    F: Fn(&Rejection) -> Response<B> + Clone + Send + Sync + 'static,
{
    fn response(&self, rejection: &Rejection) -> Response<B> {
        self(rejection)
    }
}

/// Status, `WWW-Authenticate`, `Retry-After` and `Cache-Control: no-store`
/// for a rejection, with the rejection in the response extensions.
///
/// `dpop_scheme`: the request used `Authorization: DPoP` (the error then
/// goes on the `DPoP` challenge). The service adds `DPoP-Nonce`.
fn base<B>(
    challenge: &Challenge,
    rejection: &Rejection,
    body: B,
    dpop_scheme: bool,
) -> Response<B> {
    let mut res = Response::new(body);
    *res.status_mut() = rejection.status();
    let headers = res.headers_mut();
    for v in challenge.header_values(rejection.reason(), dpop_scheme) {
        headers.append(header::WWW_AUTHENTICATE, v);
    }

    if let Some(after) = rejection.retry_after() {
        headers.insert(
            header::RETRY_AFTER,
            HeaderValue::from(after.as_secs().max(1)),
        );
    }
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res.extensions_mut().insert(rejection.clone());
    res
}

/// The default: an empty body and the RFC 6750 headers (a gRPC
/// trailers-only answer to a gRPC call; see [`RejectionResponse`]).
#[derive(Debug, Clone)]
pub struct Rfc6750Response {
    challenge: Challenge,
}

impl Rfc6750Response {
    /// With this challenge (realm and detail level).
    pub fn new(challenge: Challenge) -> Self {
        Self { challenge }
    }
}

impl Default for Rfc6750Response {
    fn default() -> Self {
        Self {
            challenge: Challenge::bare(ErrorDetail::Terse),
        }
    }
}

impl<B: Default> RejectionResponse<B> for Rfc6750Response {
    fn response(&self, rejection: &Rejection) -> Response<B> {
        base(&self.challenge, rejection, B::default(), false)
    }

    fn response_to(&self, request: &RequestHead<'_>, rejection: &Rejection) -> Response<B> {
        let dpop = uses_dpop_scheme(request);
        if grpc::is_grpc(request.headers) {
            grpc_answer(&self.challenge, rejection, B::default(), dpop)
        } else {
            base(&self.challenge, rejection, B::default(), dpop)
        }
    }
}

/// The RFC 6750 headers plus a JSON body
/// `{"error": "...", "error_description": "..."}` (and `"reason"` with
/// [`ErrorDetail::ReasonCode`]); a gRPC trailers-only answer to a gRPC call
/// (see [`RejectionResponse`]).
#[derive(Debug, Clone)]
pub struct JsonResponse {
    challenge: Challenge,
}

impl JsonResponse {
    /// With this challenge (realm and detail level).
    pub fn new(challenge: Challenge) -> Self {
        Self { challenge }
    }
}

/// Whether the request used `Authorization: DPoP`.
fn uses_dpop_scheme(request: &RequestHead<'_>) -> bool {
    request
        .headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.as_bytes().get(..5))
        .is_some_and(|s| s.eq_ignore_ascii_case(b"dpop "))
}

impl JsonResponse {
    fn answer<B: From<String>>(&self, rejection: &Rejection, dpop_scheme: bool) -> Response<B> {
        let reason = rejection.reason();
        let mut body = serde_json::json!({
            "error": reason.error_code().unwrap_or(if reason.status() == StatusCode::SERVICE_UNAVAILABLE { "temporarily_unavailable" } else { "unauthorized" }),
            "error_description": if reason == Reason::MissingToken { "Authentication required" } else { reason.description() },
        });
        if self.challenge.detail == ErrorDetail::ReasonCode {
            body["reason"] = reason.code().into();
        }
        let mut res = base(
            &self.challenge,
            rejection,
            B::from(body.to_string()),
            dpop_scheme,
        );
        res.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        res
    }
}

impl<B: From<String>> RejectionResponse<B> for JsonResponse {
    fn response(&self, rejection: &Rejection) -> Response<B> {
        self.answer(rejection, false)
    }

    fn response_to(&self, request: &RequestHead<'_>, rejection: &Rejection) -> Response<B> {
        let dpop = uses_dpop_scheme(request);
        if grpc::is_grpc(request.headers) {
            grpc_answer(&self.challenge, rejection, B::from(String::new()), dpop)
        } else {
            self.answer(rejection, dpop)
        }
    }
}

#[cfg(test)]
#[path = "response_tests.rs"]
mod tests;
