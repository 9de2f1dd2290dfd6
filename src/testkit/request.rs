//! [`bearer_request`]: the request a test sends through its router.

use axum::body::Body;
use http::{header, HeaderValue, Method, Request, Uri};

/// A request with an empty body and `Authorization: Bearer <token>` (marked
/// sensitive), ready for `tower::ServiceExt::oneshot` on your router.
///
/// ```
/// use axum::http::Method;
/// use oauth2_guard::testkit::bearer_request;
///
/// let req = bearer_request(Method::POST, "/orders", "eyJ.x.y");
/// assert_eq!(req.headers()["authorization"], "Bearer eyJ.x.y");
/// assert_eq!((req.method(), req.uri().path()), (&Method::POST, "/orders"));
/// ```
///
/// # Panics
/// When `uri` is not a valid request target or `token` holds characters a
/// header cannot carry (a bug in the test itself; tokens minted by
/// [`MockIssuer`](super::MockIssuer) always fit). The token is never part of
/// the panic message.
pub fn bearer_request(method: Method, uri: &str, token: &str) -> Request<Body> {
    let mut req = Request::new(Body::empty());
    *req.method_mut() = method;
    *req.uri_mut() = match uri.parse::<Uri>() {
        Ok(u) => u,
        Err(e) => panic!("bearer_request: `{uri}` is not a valid URI: {e}"),
    };
    let mut value = match HeaderValue::try_from(format!("Bearer {token}")) {
        Ok(v) => v,
        Err(_) => panic!("bearer_request: the token cannot be sent in a header"),
    };
    value.set_sensitive(true);
    req.headers_mut().insert(header::AUTHORIZATION, value);
    req
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_a_bearer_request() {
        let req = bearer_request(Method::GET, "/orders/7?x=1", "abc.def.ghi");
        assert_eq!(req.method(), Method::GET);
        assert_eq!(req.uri(), "/orders/7?x=1");
        let auth = &req.headers()[header::AUTHORIZATION];
        assert_eq!(auth, "Bearer abc.def.ghi");
        assert!(auth.is_sensitive());
        assert_eq!(req.headers().len(), 1);
    }

    #[test]
    fn misuse_panics_without_the_token() {
        let bad_uri = std::panic::catch_unwind(|| bearer_request(Method::GET, "not a uri", "t"));
        assert!(bad_uri.is_err());
        let bad_token =
            std::panic::catch_unwind(|| bearer_request(Method::GET, "/", "secret\nvalue"));
        let msg = bad_token.unwrap_err();
        let msg = msg
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| msg.downcast_ref::<&str>().copied())
            .unwrap_or_default();
        assert!(!msg.is_empty() && !msg.contains("secret"), "{msg}");
    }
}
