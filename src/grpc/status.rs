//! Refusals answered the gRPC way: the one mapping from HTTP status to gRPC
//! status code, and the trailers-only response.
//!
//! Compiled with or without the `grpc` feature: a gRPC request is
//! recognised by its `content-type` alone, and the answer needs no tonic.

use std::time::Duration;

use http::{header, HeaderMap, HeaderValue, Response, StatusCode};

/// `grpc-status`, as gRPC clients read it from the response headers.
pub(crate) const GRPC_STATUS: &str = "grpc-status";
/// `grpc-message`, percent-encoded.
pub(crate) const GRPC_MESSAGE: &str = "grpc-message";
/// gRFC A6: how long a client's retry policy should wait, in milliseconds.
pub(crate) const GRPC_RETRY_PUSHBACK_MS: &str = "grpc-retry-pushback-ms";

/// `UNAUTHENTICATED`: the code a client retries with a fresh token.
pub(crate) const UNAUTHENTICATED: u16 = 16;

/// Whether a request is a gRPC call: its `content-type` is
/// `application/grpc`, optionally followed by `+<codec>` (`+proto`,
/// `+json`), `;<parameters>` or `-web…` (gRPC-Web, whose clients read a
/// trailers-only answer from the headers as well). Case-insensitive.
pub(crate) fn is_grpc(headers: &HeaderMap) -> bool {
    const PREFIX: &[u8] = b"application/grpc";
    headers.get(header::CONTENT_TYPE).is_some_and(|v| {
        let v = v.as_bytes();
        v.len() >= PREFIX.len()
            && v[..PREFIX.len()].eq_ignore_ascii_case(PREFIX)
            && matches!(v.get(PREFIX.len()), None | Some(b'+' | b';' | b'-'))
    })
}

/// The gRPC status code for an HTTP status of this crate's refusals:
///
/// | HTTP | gRPC |
/// |---|---|
/// | 400 | 3 `INVALID_ARGUMENT` |
/// | 401 | 16 `UNAUTHENTICATED` |
/// | 403 | 7 `PERMISSION_DENIED` |
/// | 503 | 14 `UNAVAILABLE` |
/// | 500 (a guard without an `AuthLayer`) | 13 `INTERNAL` |
/// | anything else | 2 `UNKNOWN` |
pub(crate) const fn code_for(status: StatusCode) -> u16 {
    match status.as_u16() {
        400 => 3,
        401 => UNAUTHENTICATED,
        403 => 7,
        500 => 13,
        503 => 14,
        _ => 2,
    }
}

/// What a refusal says, whatever the protocol.
#[derive(Debug)]
pub(crate) struct Refusal<'a> {
    /// The HTTP status the refusal has in RFC 6750 terms.
    pub(crate) status: StatusCode,
    /// A fixed, client-safe sentence: never token material.
    pub(crate) message: &'a str,
    /// The RFC 6750 (and RFC 9449 `DPoP`) challenges, each kept as one
    /// `www-authenticate` metadata entry, in order.
    pub(crate) challenges: Vec<HeaderValue>,
    /// When to retry (503).
    pub(crate) retry_after: Option<Duration>,
}

/// A gRPC trailers-only response (HTTP 200, the status in the headers, the
/// stream ended by the headers frame: `body` must be empty): `grpc-status`,
/// the percent-encoded `grpc-message`, every `WWW-Authenticate` challenge,
/// and for retryable refusals `Retry-After` (whole seconds, at least 1)
/// and `grpc-retry-pushback-ms` (the same wait in milliseconds).
pub(crate) fn trailers_only<B>(refusal: Refusal<'_>, body: B) -> Response<B> {
    let mut res = Response::new(body);
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/grpc"),
    );
    h.insert(GRPC_STATUS, HeaderValue::from(code_for(refusal.status)));
    if !refusal.message.is_empty() {
        if let Ok(v) = HeaderValue::from_str(&percent_encode(refusal.message)) {
            h.insert(GRPC_MESSAGE, v);
        }
    }
    for v in refusal.challenges {
        h.append(header::WWW_AUTHENTICATE, v);
    }
    if let Some(after) = refusal.retry_after {
        // Whole seconds, at least one, as the HTTP answer's `Retry-After`;
        // the pushback says the same wait, so the two never disagree.
        let secs = after.as_secs().max(1);
        h.insert(header::RETRY_AFTER, HeaderValue::from(secs));
        h.insert(
            GRPC_RETRY_PUSHBACK_MS,
            HeaderValue::from(secs.saturating_mul(1000)),
        );
    }
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res
}

/// The gRPC percent-encoding of `grpc-message` (gRPC over HTTP/2 spec):
/// every byte outside `0x20..=0x7e`, and `%`, as `%XX`.
pub(crate) fn percent_encode(message: &str) -> String {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let mut out = String::with_capacity(message.len());
    for &b in message.as_bytes() {
        if (0x20..=0x7e).contains(&b) && b != b'%' {
            out.push(char::from(b));
        } else {
            out.push('%');
            out.push(char::from(HEX[usize::from(b >> 4)]));
            out.push(char::from(HEX[usize::from(b & 0x0f)]));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ct(v: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::CONTENT_TYPE, HeaderValue::from_str(v).unwrap());
        h
    }

    #[test]
    fn grpc_content_types() {
        for yes in [
            "application/grpc",
            "application/grpc+proto",
            "Application/GRPC;charset=utf-8",
            "application/grpc-web+proto",
        ] {
            assert!(is_grpc(&ct(yes)), "{yes}");
        }
        for no in ["application/json", "application/grpcx", "text/plain", ""] {
            assert!(!is_grpc(&ct(no)), "{no}");
        }
        assert!(!is_grpc(&HeaderMap::new()));
    }

    #[test]
    fn trailers_only_answer() {
        let res = trailers_only(
            Refusal {
                status: StatusCode::SERVICE_UNAVAILABLE,
                message: "Busy 100% — later",
                challenges: Vec::new(),
                retry_after: Some(Duration::from_millis(2500)),
            },
            (),
        );
        assert_eq!(res.status(), 200);
        let h = res.headers();
        assert_eq!(h["grpc-status"], "14");
        assert_eq!(h["grpc-message"], "Busy 100%25 %E2%80%94 later");
        assert_eq!(h["retry-after"], "2");
        assert_eq!(
            h["grpc-retry-pushback-ms"], "2000",
            "the same wait as Retry-After"
        );
        assert_eq!(h["content-type"], "application/grpc");
        let soon = trailers_only(
            Refusal {
                status: StatusCode::SERVICE_UNAVAILABLE,
                message: "",
                challenges: Vec::new(),
                retry_after: Some(Duration::from_millis(300)),
            },
            (),
        );
        assert_eq!(soon.headers()["retry-after"], "1");
        assert_eq!(soon.headers()["grpc-retry-pushback-ms"], "1000");
        assert_eq!(
            [400, 401, 403, 500, 503, 404].map(|s| code_for(StatusCode::from_u16(s).unwrap())),
            [3, 16, 7, 13, 14, 2]
        );
    }
}
