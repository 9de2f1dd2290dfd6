//! Conditional GET (RFC 9110 §13): the validators of the last document
//! (`ETag`, `Last-Modified`) go back as `If-None-Match` and
//! `If-Modified-Since`, and a `304 Not Modified` says the copy held is
//! still current, without a body to download and parse.
//!
//! Used by the JWKS refresh: most scheduled refreshes find the same key set,
//! and an IdP (or the CDN in front of it) that keeps validators answers
//! them with an empty 304.

use std::time::Duration;

use http::header::{ETAG, IF_MODIFIED_SINCE, IF_NONE_MATCH, LAST_MODIFIED};
use http::{HeaderMap, HeaderValue, StatusCode};
use url::Url;

use super::{max_age, Fetched, HttpClient};
use crate::error::FetchError;

/// A validator longer than this is not kept (an entity tag is a short
/// opaque string; a server sending kilobytes is not one to echo).
const MAX_VALIDATOR_BYTES: usize = 256;

/// The validators of a fetched document, sent back on the next request.
/// Empty before the first fetch, and when the server sends none: the
/// request is then an ordinary GET.
#[derive(Clone, Default, Debug, PartialEq, Eq)]
pub(crate) struct Validators {
    etag: Option<HeaderValue>,
    last_modified: Option<HeaderValue>,
}

impl Validators {
    /// The validators of a response: visible ASCII, bounded in length.
    fn of(headers: &HeaderMap) -> Self {
        let keep = |name| {
            headers
                .get(name)
                .filter(|v| v.len() <= MAX_VALIDATOR_BYTES && v.to_str().is_ok())
                .cloned()
        };
        Self {
            etag: keep(ETAG),
            last_modified: keep(LAST_MODIFIED),
        }
    }

    fn is_empty(&self) -> bool {
        self.etag.is_none() && self.last_modified.is_none()
    }

    /// Add the conditional headers to a request.
    pub(super) fn apply(&self, mut request: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        if let Some(etag) = &self.etag {
            request = request.header(IF_NONE_MATCH, etag.clone());
        }
        if let Some(date) = &self.last_modified {
            request = request.header(IF_MODIFIED_SINCE, date.clone());
        }
        request
    }
}

/// The answer to a conditional GET.
pub(crate) enum Conditional {
    /// A new document, with the validators to send next time.
    Modified(Fetched<Vec<u8>>, Validators),
    /// `304 Not Modified`: the document held is current.
    NotModified {
        /// `Cache-Control: max-age` of the 304, when sent.
        max_age: Option<Duration>,
    },
}

impl HttpClient {
    /// GET `url`, conditional on `validators`; bounded in time and size like
    /// [`get`](HttpClient::get). A 304 is accepted only in answer to a
    /// conditional request: to a plain one it is an HTTP error.
    pub(crate) async fn get_if_changed(
        &self,
        url: &Url,
        validators: &Validators,
    ) -> Result<Conditional, FetchError> {
        let response = self.send_get(url, validators).await?;
        let max_age = max_age(response.headers());
        if response.status() == StatusCode::NOT_MODIFIED && !validators.is_empty() {
            return Ok(Conditional::NotModified { max_age });
        }
        let validators = Validators::of(response.headers());
        let value = self.read_body(response, url).await?;
        Ok(Conditional::Modified(
            Fetched { value, max_age },
            validators,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validators_are_kept_only_when_short_and_visible() {
        let mut h = HeaderMap::new();
        assert!(Validators::of(&h).is_empty());
        h.insert(ETAG, HeaderValue::from_static("W/\"abc\""));
        h.insert(
            LAST_MODIFIED,
            HeaderValue::from_static("Wed, 02 Dec 2026 07:00:00 GMT"),
        );
        let v = Validators::of(&h);
        assert_eq!(v.etag.as_ref().unwrap(), "W/\"abc\"");
        assert!(v.last_modified.is_some());
        h.insert(
            ETAG,
            HeaderValue::from_str(&format!("\"{}\"", "a".repeat(MAX_VALIDATOR_BYTES))).unwrap(),
        );
        h.insert(LAST_MODIFIED, HeaderValue::from_bytes(b"caf\xe9").unwrap());
        assert!(Validators::of(&h).is_empty(), "too long; not visible ASCII");
    }
}
