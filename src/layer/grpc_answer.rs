//! The gRPC trailers-only answer of the crate's responders to a gRPC call
//! (see [`RejectionResponse`](super::RejectionResponse)): `grpc-status` from
//! the rejection's status, a fixed `grpc-message`, every challenge as
//! metadata.

use http::Response;

use super::{Challenge, ErrorDetail};
use crate::error::{Reason, Rejection};
use crate::grpc::status as grpc;

/// The gRPC trailers-only answer for `rejection` (`body` is empty), with the
/// rejection in the response extensions.
pub(super) fn grpc_answer<B>(
    challenge: &Challenge,
    rejection: &Rejection,
    body: B,
    dpop_scheme: bool,
) -> Response<B> {
    let reason = rejection.reason();
    let mut message = String::from(match reason {
        Reason::MissingToken => "Authentication required",
        _ => reason.description(),
    });
    if challenge.detail == ErrorDetail::ReasonCode {
        message.push_str(" (");
        message.push_str(reason.code());
        message.push(')');
    }
    let mut res = grpc::trailers_only(
        grpc::Refusal {
            status: rejection.status(),
            message: &message,
            // Every challenge (Bearer and DPoP when both are accepted), as
            // the HTTP answer has them: the client picks the scheme it can use.
            challenges: challenge.header_values(rejection.reason(), dpop_scheme),
            retry_after: rejection.retry_after(),
        },
        body,
    );
    res.extensions_mut().insert(rejection.clone());
    res
}
