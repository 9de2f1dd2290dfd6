//! The outbound HTTP client shared by discovery, JWKS refresh and the
//! client-credentials source: explicit timeouts, a response size cap, and a
//! refusal of plain HTTP outside loopback.

use std::net::IpAddr;
use std::time::Duration;

use serde::de::DeserializeOwned;
use url::Url;

use crate::error::{ConfigError, FetchError, FetchErrorKind};

/// The default cap on a discovery or JWKS response body: 1 MiB.
pub const DEFAULT_MAX_RESPONSE_BYTES: usize = 1024 * 1024;

/// Settings of the HTTP client used for discovery, JWKS and token requests.
///
/// | setting | default | why |
/// |---|---|---|
/// | `timeout` | 5 s | a slow IdP must not hold a refresh (or startup) forever |
/// | `connect_timeout` | 3 s | fail fast when the IdP is unreachable |
/// | `max_response_bytes` | 1 MiB | a hostile or broken endpoint cannot exhaust memory |
/// | insecure HTTP | refused | keys fetched over plain HTTP can be swapped by anyone on the path; loopback is allowed for tests |
#[derive(Clone, Debug)]
pub struct HttpConfig {
    pub(crate) timeout: Duration,
    pub(crate) connect_timeout: Duration,
    pub(crate) max_response_bytes: usize,
    pub(crate) allow_insecure_http: bool,
    pub(crate) client: Option<reqwest::Client>,
}

impl Default for HttpConfig {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(5),
            connect_timeout: Duration::from_secs(3),
            max_response_bytes: DEFAULT_MAX_RESPONSE_BYTES,
            allow_insecure_http: false,
            client: None,
        }
    }
}

impl HttpConfig {
    /// Total time allowed for one request, body included.
    pub fn timeout(mut self, d: Duration) -> Self {
        self.timeout = d;
        self
    }

    /// Time allowed to establish a connection.
    pub fn connect_timeout(mut self, d: Duration) -> Self {
        self.connect_timeout = d;
        self
    }

    /// Cap on a response body.
    pub fn max_response_bytes(mut self, n: usize) -> Self {
        self.max_response_bytes = n;
        self
    }

    /// Use a caller-built `reqwest::Client` (proxies, extra roots, mTLS).
    /// The timeouts of this config still bound each request.
    pub fn client(mut self, client: reqwest::Client) -> Self {
        self.client = Some(client);
        self
    }

    /// Allow plain-HTTP URLs to non-loopback hosts.
    ///
    /// # Security
    /// Anyone on the network path can then replace the issuer's keys and mint
    /// tokens this service accepts. Only for isolated test networks.
    pub fn dangerous_allow_insecure_http(mut self) -> Self {
        self.allow_insecure_http = true;
        self
    }

    pub(crate) fn build(&self) -> Result<HttpClient, ConfigError> {
        let client = match &self.client {
            Some(c) => c.clone(),
            None => {
                let allow_insecure = self.allow_insecure_http;
                reqwest::Client::builder()
                    .connect_timeout(self.connect_timeout)
                    .timeout(self.timeout)
                    .redirect(reqwest::redirect::Policy::custom(move |attempt| {
                        if attempt.previous().len() >= 3 {
                            attempt.error("too many redirects")
                        } else if url_is_acceptable(attempt.url(), allow_insecure) {
                            attempt.follow()
                        } else {
                            attempt.error("redirect to a non-HTTPS URL refused")
                        }
                    }))
                    .user_agent(concat!("oauth2-guard/", env!("CARGO_PKG_VERSION")))
                    .build()
                    .map_err(|e| {
                        ConfigError::HttpClient(
                            FetchError::new(FetchErrorKind::Transport, "").with_source(e),
                        )
                    })?
            }
        };
        Ok(HttpClient {
            client,
            timeout: self.timeout,
            max_response_bytes: self.max_response_bytes,
            allow_insecure_http: self.allow_insecure_http,
        })
    }
}

/// A configured client; cheap to clone.
#[derive(Clone, Debug)]
pub(crate) struct HttpClient {
    pub(crate) client: reqwest::Client,
    pub(crate) timeout: Duration,
    pub(crate) max_response_bytes: usize,
    pub(crate) allow_insecure_http: bool,
}

/// A fetched JSON document with its freshness hint.
pub(crate) struct Fetched<T> {
    pub(crate) value: T,
    /// `Cache-Control: max-age`, when the server sent one (and no `no-store`/`no-cache`).
    pub(crate) max_age: Option<Duration>,
}

impl HttpClient {
    /// Check a configured URL against the HTTPS policy.
    pub(crate) fn check_url(&self, raw: &str) -> Result<Url, ConfigError> {
        check_url(raw, self.allow_insecure_http)
    }

    /// GET a document's bytes, bounded in time and size.
    pub(crate) async fn get(&self, url: &Url) -> Result<Fetched<Vec<u8>>, FetchError> {
        let request = self
            .client
            .get(url.clone())
            .header(http::header::ACCEPT, "application/json")
            .timeout(self.timeout);
        let response = request.send().await.map_err(|e| map_reqwest(e, url))?;
        let max_age = max_age(response.headers());
        let value = self.read_body(response, url).await?;
        Ok(Fetched { value, max_age })
    }

    /// GET a JSON document, bounded in time and size.
    pub(crate) async fn get_json<T: DeserializeOwned>(
        &self,
        url: &Url,
    ) -> Result<Fetched<T>, FetchError> {
        let fetched = self.get(url).await?;
        let value = serde_json::from_slice(&fetched.value).map_err(|e| {
            FetchError::new(FetchErrorKind::InvalidJson, url.as_str()).with_source(e)
        })?;
        Ok(Fetched {
            value,
            max_age: fetched.max_age,
        })
    }

    /// Read a response body up to the cap; non-2xx statuses are errors.
    pub(crate) async fn read_body(
        &self,
        mut response: reqwest::Response,
        url: &Url,
    ) -> Result<Vec<u8>, FetchError> {
        let status = response.status();
        if !status.is_success() {
            return Err(status_error(status.as_u16(), response.headers(), url));
        }
        read_capped(&mut response, self.max_response_bytes, url).await
    }
}

/// `base · 2^(attempt−1)`, capped at `max`: the un-jittered retry delay
/// shared by key refresh and token fetching.
pub(crate) fn exponential_backoff(base: Duration, max: Duration, attempt: u32) -> Duration {
    base.saturating_mul(1u32 << attempt.saturating_sub(1).min(20))
        .min(max)
}

/// The longest delay ever added to an `Instant`: delays from configuration
/// or from a server saturate here instead of overflowing (which panics).
pub(crate) const MAX_DELAY: Duration = Duration::from_secs(365 * 24 * 60 * 60);

/// `now + d`, saturating at [`MAX_DELAY`].
#[cfg(feature = "client")]
pub(crate) fn deadline_after(d: Duration) -> std::time::Instant {
    std::time::Instant::now() + d.min(MAX_DELAY)
}

/// A random number in `[0, 1)` for jitter (no RNG dependency needed:
/// `RandomState` is randomly seeded per instance).
pub(crate) fn jitter_unit() -> f64 {
    use std::hash::{BuildHasher, Hasher};
    let r = std::collections::hash_map::RandomState::new()
        .build_hasher()
        .finish();
    (r >> 11) as f64 / (1u64 << 53) as f64
}

/// The error for a non-success answer, with the server's `Retry-After`.
pub(crate) fn status_error(status: u16, headers: &http::HeaderMap, url: &Url) -> FetchError {
    let wait = retry_after(status, headers, std::time::SystemTime::now());
    FetchError::new(FetchErrorKind::Status(status), url.as_str()).with_retry_after(wait)
}

/// `Retry-After` (RFC 9110 §10.2.3) of a 429 or 503 answer: delay-seconds
/// or an HTTP date, as the time left from `now`. `None` for other statuses,
/// a missing or malformed value; a date in the past is zero.
pub(crate) fn retry_after(
    status: u16,
    headers: &http::HeaderMap,
    now: std::time::SystemTime,
) -> Option<Duration> {
    if status != 429 && status != 503 {
        return None;
    }
    let value = headers
        .get(http::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim();
    if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) {
        // Saturates rather than fails on absurd values; callers cap it.
        return Some(Duration::from_secs(value.parse().unwrap_or(u64::MAX)));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

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
    let kind = if e.is_timeout() {
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
fn max_age(headers: &http::HeaderMap) -> Option<Duration> {
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

/// Parse a URL and apply the HTTPS policy.
pub(crate) fn check_url(raw: &str, allow_insecure: bool) -> Result<Url, ConfigError> {
    let url = Url::parse(raw).map_err(|_| ConfigError::InvalidUrl {
        url: raw.to_owned(),
        reason: "not an absolute URL",
    })?;
    if url.cannot_be_a_base() || url.host().is_none() {
        return Err(ConfigError::InvalidUrl {
            url: raw.to_owned(),
            reason: "no host",
        });
    }
    if !matches!(url.scheme(), "https" | "http") {
        return Err(ConfigError::InvalidUrl {
            url: raw.to_owned(),
            reason: "scheme must be https",
        });
    }
    if url_is_acceptable(&url, allow_insecure) {
        Ok(url)
    } else {
        Err(ConfigError::InsecureUrl {
            url: raw.to_owned(),
        })
    }
}

fn url_is_acceptable(url: &Url, allow_insecure: bool) -> bool {
    match url.scheme() {
        "https" => true,
        "http" => allow_insecure || is_loopback(url),
        _ => false,
    }
}

/// Loopback hosts: `localhost`, 127.0.0.0/8 and `::1`.
pub(crate) fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => IpAddr::V4(ip).is_loopback(),
        Some(url::Host::Ipv6(ip)) => IpAddr::V6(ip).is_loopback(),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_seconds_and_dates() {
        let now = std::time::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let h = |v: &str| {
            let mut m = http::HeaderMap::new();
            m.insert(http::header::RETRY_AFTER, v.parse().unwrap());
            m
        };
        assert_eq!(retry_after(429, &h("7"), now), Some(Duration::from_secs(7)));
        assert_eq!(retry_after(503, &h(" 0 "), now), Some(Duration::ZERO));
        assert_eq!(
            retry_after(503, &h("99999999999999999999999"), now),
            Some(Duration::from_secs(u64::MAX))
        );
        let date = httpdate::fmt_http_date(now + Duration::from_secs(90));
        assert_eq!(
            retry_after(503, &h(&date), now),
            Some(Duration::from_secs(90))
        );
        let past = httpdate::fmt_http_date(now - Duration::from_secs(90));
        assert_eq!(retry_after(429, &h(&past), now), Some(Duration::ZERO));
        for bad in ["", "-1", "1.5", "soon", "Tue, 99 Nov 2023 00:00:00 GMT"] {
            assert_eq!(retry_after(429, &h(bad), now), None, "{bad:?}");
        }
        assert_eq!(retry_after(500, &h("7"), now), None, "only 429 and 503");
        assert_eq!(retry_after(429, &http::HeaderMap::new(), now), None);
    }

    #[test]
    fn https_policy() {
        assert!(check_url("https://idp.example.com/realms/a", false).is_ok());
        assert!(check_url("http://127.0.0.1:8080/x", false).is_ok());
        assert!(check_url("http://127.9.0.1/x", false).is_ok());
        assert!(check_url("http://[::1]:80/x", false).is_ok());
        assert!(check_url("http://localhost/x", false).is_ok());
        assert!(matches!(
            check_url("http://idp.example.com/", false),
            Err(ConfigError::InsecureUrl { .. })
        ));
        assert!(check_url("http://idp.example.com/", true).is_ok());
        assert!(matches!(
            check_url("ftp://idp.example.com/", true),
            Err(ConfigError::InvalidUrl { .. })
        ));
        assert!(matches!(
            check_url("not a url", false),
            Err(ConfigError::InvalidUrl { .. })
        ));
    }

    #[test]
    fn cache_control_max_age() {
        let mut h = http::HeaderMap::new();
        h.insert(
            http::header::CACHE_CONTROL,
            "public, max-age=600".parse().unwrap(),
        );
        assert_eq!(max_age(&h), Some(Duration::from_secs(600)));
        h.insert(
            http::header::CACHE_CONTROL,
            "no-store, max-age=600".parse().unwrap(),
        );
        assert_eq!(max_age(&h), None);
        h.insert(http::header::CACHE_CONTROL, "max-age=abc".parse().unwrap());
        assert_eq!(max_age(&h), None);
        assert_eq!(max_age(&http::HeaderMap::new()), None);
    }
}
