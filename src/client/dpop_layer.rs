//! The DPoP path of [`BearerService`](super::BearerService): a proof per
//! request, nonces remembered per origin, one retry on `use_dpop_nonce`.

use std::any::Any;
use std::future::poll_fn;

use tower_service::Service;
use url::Url;

use super::dpop::{is_use_dpop_nonce, DpopSigningKey};
use super::error::{BearerError, TokenError};
use super::source::{is_invalid_token, ClientCredentials};
use super::token::AccessToken;

/// A copy of `body` when its type is one of the plain in-memory bodies.
fn replay<B: 'static>(body: &B) -> Option<B> {
    fn copy<T: Clone + 'static, B: 'static>(body: &B) -> Option<B> {
        let copy: Box<dyn Any> = Box::new((body as &dyn Any).downcast_ref::<T>()?.clone());
        copy.downcast::<B>().ok().map(|b| *b)
    }
    copy::<(), B>(body)
        .or_else(|| copy::<String, B>(body))
        .or_else(|| copy::<Vec<u8>, B>(body))
        .or_else(|| copy::<bytes::Bytes, B>(body))
        .or_else(|| copy::<&'static str, B>(body))
        .or_else(|| copy::<&'static [u8], B>(body))
}

/// A copy of `request` for the retry, when its body can be replayed.
fn try_clone<B: 'static>(request: &http::Request<B>) -> Option<http::Request<B>> {
    let mut copy = http::Request::new(replay(request.body())?);
    *copy.method_mut() = request.method().clone();
    *copy.uri_mut() = request.uri().clone();
    *copy.version_mut() = request.version();
    *copy.headers_mut() = request.headers().clone();
    *copy.extensions_mut() = request.extensions().clone();
    Some(copy)
}

/// Sign a proof for `request` into its `DPoP` header.
fn sign<B>(
    request: &mut http::Request<B>,
    url: &Url,
    key: &DpopSigningKey,
    token: &AccessToken,
) -> Result<(), TokenError> {
    let (name, proof) = key.header(request.method(), url, Some(token.secret()))?;
    request.headers_mut().insert(name, proof);
    Ok(())
}

/// Send `request` (already carrying `Authorization: DPoP …`) with a proof;
/// retry once on 401 `use_dpop_nonce` with the nonce just received.
pub(super) async fn call<S, B, ResBody>(
    mut inner: S,
    mut request: http::Request<B>,
    source: &ClientCredentials,
    key: &DpopSigningKey,
    token: &AccessToken,
) -> Result<http::Response<ResBody>, BearerError<S::Error>>
where
    S: Service<http::Request<B>, Response = http::Response<ResBody>>,
    B: 'static,
{
    let url = Url::parse(&request.uri().to_string())
        .map_err(|_| BearerError::Token(TokenError::dpop("the request URI is not absolute")))?;
    sign(&mut request, &url, key, token).map_err(BearerError::Token)?;
    let retry = try_clone(&request);
    let mut retry = {
        let response = inner.call(request).await.map_err(BearerError::Service)?;
        let new_nonce = key.remember_nonce(&url, response.headers());
        match retry {
            Some(retry)
                if new_nonce && is_use_dpop_nonce(response.status(), response.headers()) =>
            {
                retry
            }
            _ => return Ok(finish(response, source, token)),
        }
        // The refusal is dropped here, before the retry.
    };
    tracing::debug!(origin = %url.origin().ascii_serialization(), "downstream asked for a DPoP nonce; retrying once with it");
    sign(&mut retry, &url, key, token).map_err(BearerError::Token)?;
    poll_fn(|cx| inner.poll_ready(cx))
        .await
        .map_err(BearerError::Service)?;
    let response = inner.call(retry).await.map_err(BearerError::Service)?;
    key.remember_nonce(&url, response.headers());
    Ok(finish(response, source, token))
}

fn finish<R>(
    response: http::Response<R>,
    source: &ClientCredentials,
    token: &AccessToken,
) -> http::Response<R> {
    if is_invalid_token(response.status(), response.headers()) {
        // Bounded by the source's cooldown.
        let _dropped = source.invalidate(token);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_bodies_are_replayed() {
        assert_eq!(replay(&String::from("x")), Some(String::from("x")));
        assert_eq!(
            replay(&bytes::Bytes::from_static(b"y")),
            Some(bytes::Bytes::from_static(b"y"))
        );
        assert_eq!(replay(&()), Some(()));
        #[derive(Clone, Debug, PartialEq)]
        struct Stream;
        assert_eq!(replay(&Stream), None);
        let mut req = http::Request::post("http://127.0.0.1/x")
            .body(String::from("b"))
            .unwrap();
        req.headers_mut()
            .insert("x-a", http::HeaderValue::from_static("1"));
        let copy = try_clone(&req).unwrap();
        assert_eq!(
            (copy.method(), copy.uri(), copy.body()),
            (req.method(), req.uri(), req.body())
        );
        assert_eq!(copy.headers()["x-a"], "1");
    }
}
