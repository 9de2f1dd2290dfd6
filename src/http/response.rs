//! Reading what came back: the body under its size cap, the `Cache-Control`
//! freshness hint, and the mapping of transport failures and refused
//! redirects to [`FetchError`]s.

use std::fmt;
use std::time::Duration;

use url::Url;

use crate::error::{FetchError, FetchErrorKind};

/// Read a body, refusing it once it exceeds `max` bytes.
pub(crate) async fn read_capped(
    response: &mut reqwest::Response,
    max: usize,
    url: &Url,
) -> Result<Vec<u8>, FetchError> {
    if response.content_length().is_some_and(|n| n > max as u64) {
        return Err(FetchError::new(FetchErrorKind::TooLarge, url.as_str()));
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(|e| map_reqwest(e, url))? {
        if body.len() + chunk.len() > max {
            return Err(FetchError::new(FetchErrorKind::TooLarge, url.as_str()));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

pub(crate) fn map_reqwest(e: reqwest::Error, url: &Url) -> FetchError {
    let kind = if e.is_redirect() {
        // The crate's own redirect policy refused a hop (or too many).
        FetchErrorKind::Redirect
    } else if e.is_timeout() {
        FetchErrorKind::Timeout
    } else if e.is_connect() {
        FetchErrorKind::Connect
    } else if e.is_decode() {
        FetchErrorKind::InvalidJson
    } else {
        FetchErrorKind::Transport
    };
    FetchError::new(kind, url.as_str()).with_source(e)
}

/// `Cache-Control: max-age=N` of a response, ignoring it under `no-store`/`no-cache`.
pub(super) fn max_age(headers: &http::HeaderMap) -> Option<Duration> {
    let mut max_age = None;
    for value in headers.get_all(http::header::CACHE_CONTROL) {
        let Ok(value) = value.to_str() else { continue };
        for directive in value.split(',') {
            let directive = directive.trim();
            if directive.eq_ignore_ascii_case("no-store")
                || directive.eq_ignore_ascii_case("no-cache")
            {
                return None;
            }
            if let Some((name, v)) = directive.split_once('=') {
                if name.trim().eq_ignore_ascii_case("max-age") {
                    max_age = v
                        .trim()
                        .trim_matches('"')
                        .parse::<u64>()
                        .ok()
                        .map(Duration::from_secs);
                }
            }
        }
    }
    max_age
}

/// Where a refused redirect pointed; the source of a
/// [`FetchErrorKind::Redirect`] error.
#[derive(Debug)]
struct RedirectRefused(Option<String>);

impl fmt::Display for RedirectRefused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            Some(to) => write!(f, "redirected to `{to}`"),
            None => f.write_str("redirected without a Location"),
        }
    }
}

impl std::error::Error for RedirectRefused {}

pub(super) fn redirect_error(url: &Url, to: Option<&str>) -> FetchError {
    FetchError::new(FetchErrorKind::Redirect, url.as_str())
        .with_source(RedirectRefused(to.map(str::to_owned)))
}
