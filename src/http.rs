//! The outbound HTTP client shared by discovery, JWKS refresh and the
//! client-credentials source: explicit timeouts, a response size cap, the
//! HTTPS policy (checked on every URL a response comes from, whoever built
//! the `reqwest::Client`), and no redirects on token requests.

use std::fmt;
use std::net::IpAddr;
use std::time::Duration;

use serde::de::DeserializeOwned;
use url::Url;

use crate::error::{ConfigError, FetchError, FetchErrorKind};

/// The default cap on a discovery or JWKS response body: 1 MiB.
pub const DEFAULT_MAX_RESPONSE_BYTES: usize = 1024 * 1024;

/// The most redirects the crate's own client follows on a discovery or JWKS
/// request (each one checked against the HTTPS policy).
const MAX_REDIRECTS: usize = 3;

/// Which plain-`http://` URLs may be fetched (ordered: each allows more).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum PlainHttp {
    /// HTTPS only (the default).
    Never,
    /// Plain HTTP to loopback IP literals ([`HttpConfig::allow_loopback_http`]).
    Loopback,
    /// Plain HTTP anywhere ([`HttpConfig::dangerous_allow_insecure_http`]).
    Anywhere,
}

/// Settings of the HTTP client used for discovery, JWKS and token requests.
///
/// | setting | default | why |
/// |---|---|---|
/// | `timeout` | 5 s | a slow IdP must not hold a refresh (or startup) forever |
/// | `connect_timeout` | 3 s | fail fast when the IdP is unreachable |
/// | `max_response_bytes` | 1 MiB | a hostile or broken endpoint cannot exhaust memory |
/// | plain HTTP | refused, to every host | keys or tokens fetched over plain HTTP can be swapped by anyone on the path |
/// | [`allow_loopback_http`](Self::allow_loopback_http) | off | tests and demos on one machine opt in deliberately; a production config never carries it by accident |
/// | redirects (discovery, JWKS) | at most 3, each checked against the HTTPS policy | an IdP may move its documents, but never to plain HTTP |
/// | redirects (token requests) | never followed: a 3xx is [`FetchErrorKind::Redirect`] | a 307/308 would re-send the client's credentials to wherever it points |
/// | [`client`](Self::client) | the crate's own | a caller's client is held to the same policy, after the fact (see there) |
///
/// URLs also never carry userinfo (`user:password@`), nor a fragment, and an
/// issuer identifier never carries a query (RFC 8414 §2): each is a
/// [`ConfigError::InvalidUrl`].
///
/// ```
/// use oauth2_guard::HttpConfig;
/// // A test or demo against an IdP on 127.0.0.1 (the test kit's
/// // `MockIssuer::issuer_builder` does this for you).
/// let http = HttpConfig::default().allow_loopback_http();
/// # let _ = http;
/// ```
#[derive(Clone, Debug)]
pub struct HttpConfig {
    pub(crate) timeout: Duration,
    pub(crate) connect_timeout: Duration,
    pub(crate) max_response_bytes: usize,
    pub(crate) plain_http: PlainHttp,
    pub(crate) client: Option<reqwest::Client>,
}

impl Default for HttpConfig {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(5),
            connect_timeout: Duration::from_secs(3),
            max_response_bytes: DEFAULT_MAX_RESPONSE_BYTES,
            plain_http: PlainHttp::Never,
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
    ///
    /// # Security
    /// The crate cannot change the redirect policy of a client it did not
    /// build, so it checks redirects **after the fact**: a discovery or JWKS
    /// response whose final URL breaks the HTTPS policy, and a token response
    /// that was redirected at all, are refused with
    /// [`FetchErrorKind::Redirect`]. By then a client that follows redirects
    /// has already sent the request to the redirect target — for a token
    /// request after a 307/308, *with its body*: a `client_secret_post`
    /// secret or a `private_key_jwt` assertion. Build the client with
    /// [`reqwest::redirect::Policy::none()`]:
    ///
    /// ```
    /// use oauth2_guard::HttpConfig;
    /// let client = reqwest::Client::builder()
    ///     .redirect(reqwest::redirect::Policy::none())
    ///     .build()?;
    /// let http = HttpConfig::default().client(client);
    /// # let _ = http; Ok::<(), reqwest::Error>(())
    /// ```
    pub fn client(mut self, client: reqwest::Client) -> Self {
        self.client = Some(client);
        self
    }

    /// Allow plain-HTTP URLs whose host is a loopback IP literal:
    /// `127.0.0.0/8` or `[::1]`. For tests and demos whose IdP runs on the
    /// same machine; the test kit's `MockIssuer::issuer_builder` sets it.
    ///
    /// The name `localhost` is **not** covered: it is resolved by the
    /// system's resolver (hosts file, NSS, DNS search domains), so it is not
    /// guaranteed to stay on this machine (RFC 8252 §8.3 gives the same
    /// advice); write `127.0.0.1`. Everything else still needs HTTPS, and
    /// redirects from a loopback URL are held to the same rule.
    ///
    /// # Security
    /// Traffic to loopback never leaves the machine, but any local process
    /// that can bind the port can serve keys, so this is a deliberate opt-in
    /// rather than a default: a production configuration pointing at
    /// `http://127.0.0.1:…` by mistake fails to build.
    pub fn allow_loopback_http(mut self) -> Self {
        self.plain_http = self.plain_http.max(PlainHttp::Loopback);
        self
    }

    /// Allow plain-HTTP URLs to any host (loopback names included).
    ///
    /// # Security
    /// Anyone on the network path can then replace the issuer's keys and mint
    /// tokens this service accepts. Only for isolated test networks.
    pub fn dangerous_allow_insecure_http(mut self) -> Self {
        self.plain_http = PlainHttp::Anywhere;
        self
    }

    pub(crate) fn build(&self) -> Result<HttpClient, ConfigError> {
        let client = match &self.client {
            Some(c) => c.clone(),
            None => {
                let plain_http = self.plain_http;
                self.own_client(reqwest::redirect::Policy::custom(move |attempt| {
                    if attempt.previous().len() >= MAX_REDIRECTS {
                        attempt.error("too many redirects")
                    } else if url_is_acceptable(attempt.url(), plain_http) {
                        attempt.follow()
                    } else {
                        attempt.error("redirect to a URL the HTTPS policy refuses")
                    }
                }))?
            }
        };
        #[cfg(feature = "client")]
        let no_redirect = match &self.client {
            Some(c) => c.clone(),
            None => self.own_client(reqwest::redirect::Policy::none())?,
        };
        Ok(HttpClient {
            client,
            #[cfg(feature = "client")]
            no_redirect,
            timeout: self.timeout,
            max_response_bytes: self.max_response_bytes,
            plain_http: self.plain_http,
        })
    }

    fn own_client(
        &self,
        redirect: reqwest::redirect::Policy,
    ) -> Result<reqwest::Client, ConfigError> {
        reqwest::Client::builder()
            .connect_timeout(self.connect_timeout)
            .timeout(self.timeout)
            .redirect(redirect)
            .user_agent(concat!("oauth2-guard/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| {
                ConfigError::HttpClient(
                    FetchError::new(FetchErrorKind::Transport, "").with_source(e),
                )
            })
    }
}

/// A configured client; cheap to clone.
#[derive(Clone, Debug)]
pub(crate) struct HttpClient {
    /// Discovery and JWKS: follows redirects within the policy (the crate's
    /// own), or as the caller configured it.
    client: reqwest::Client,
    /// Token (and introspection) requests: never follows redirects (the
    /// crate's own; a caller's client is checked after the fact).
    #[cfg(feature = "client")]
    no_redirect: reqwest::Client,
    pub(crate) timeout: Duration,
    pub(crate) max_response_bytes: usize,
    plain_http: PlainHttp,
}

/// A fetched JSON document with its freshness hint.
pub(crate) struct Fetched<T> {
    pub(crate) value: T,
    /// `Cache-Control: max-age`, when the server sent one (and no `no-store`/`no-cache`).
    pub(crate) max_age: Option<Duration>,
}

impl HttpClient {
    /// Check an endpoint URL (JWKS, token endpoint) against the HTTPS policy.
    pub(crate) fn check_url(&self, raw: &str) -> Result<Url, ConfigError> {
        check_url(raw, self.plain_http, UrlRole::Endpoint)
    }

    /// Check an issuer identifier that is fetched from (discovery).
    pub(crate) fn check_issuer(&self, raw: &str) -> Result<Url, ConfigError> {
        check_url(raw, self.plain_http, UrlRole::Issuer)
    }

    /// GET a document's bytes, bounded in time and size.
    pub(crate) async fn get(&self, url: &Url) -> Result<Fetched<Vec<u8>>, FetchError> {
        let request = self
            .client
            .get(url.clone())
            .header(http::header::ACCEPT, "application/json")
            .timeout(self.timeout);
        let response = request.send().await.map_err(|e| map_reqwest(e, url))?;
        // The crate's own client refuses such redirects itself; a caller's
        // client may have followed them.
        if !url_is_acceptable(response.url(), self.plain_http) {
            return Err(redirect_error(url, Some(response.url().as_str())));
        }
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

    /// POST a form without following redirects: a 3xx answer, or a response
    /// from any other URL (a caller's client that followed a redirect), is
    /// [`FetchErrorKind::Redirect`]. For token and introspection requests,
    /// whose bodies carry credentials.
    #[cfg(feature = "client")]
    pub(crate) async fn post_form(
        &self,
        url: &Url,
        form: &[(&str, &str)],
        authorization: Option<http::HeaderValue>,
    ) -> Result<reqwest::Response, FetchError> {
        let mut request = self
            .no_redirect
            .post(url.clone())
            .header(http::header::ACCEPT, "application/json")
            .timeout(self.timeout)
            .form(form);
        if let Some(authorization) = authorization {
            request = request.header(http::header::AUTHORIZATION, authorization);
        }
        let response = request.send().await.map_err(|e| map_reqwest(e, url))?;
        if response.status().is_redirection() {
            let location = response
                .headers()
                .get(http::header::LOCATION)
                .map(|v| v.to_str().unwrap_or("<not visible ASCII>"));
            return Err(redirect_error(url, location));
        }
        if response.url() != url {
            return Err(redirect_error(url, Some(response.url().as_str())));
        }
        Ok(response)
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

fn redirect_error(url: &Url, to: Option<&str>) -> FetchError {
    FetchError::new(FetchErrorKind::Redirect, url.as_str())
        .with_source(RedirectRefused(to.map(str::to_owned)))
}

/// What a checked URL is for: an issuer identifier never has a query
/// (RFC 8414 §2, OIDC Discovery §2); an endpoint may (RFC 6749 §3.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum UrlRole {
    Issuer,
    Endpoint,
}

/// Parse a URL, refuse userinfo, fragments (and, for an issuer, a query),
/// and apply the HTTPS policy.
pub(crate) fn check_url(
    raw: &str,
    plain_http: PlainHttp,
    role: UrlRole,
) -> Result<Url, ConfigError> {
    let url = Url::parse(raw).map_err(|_| ConfigError::InvalidUrl {
        url: raw.to_owned(),
        reason: "not an absolute URL",
    })?;
    let invalid = |reason| ConfigError::InvalidUrl {
        url: redacted(&url),
        reason,
    };
    if url.cannot_be_a_base() || url.host().is_none() {
        return Err(invalid("no host"));
    }
    if !matches!(url.scheme(), "https" | "http") {
        return Err(invalid("scheme must be https"));
    }
    check_shape(&url, role).map_err(invalid)?;
    if url_is_acceptable(&url, plain_http) {
        Ok(url)
    } else {
        Err(ConfigError::InsecureUrl {
            url: redacted(&url),
        })
    }
}

/// An issuer identifier that is not fetched from (static keys, an explicit
/// `jwks_uri`): when it is an `http(s)` URL, the same shape rules as a
/// fetched one, without the HTTPS policy. Other strings (RFC 7519
/// StringOrURI) are left alone.
pub(crate) fn check_issuer_identifier(raw: &str) -> Result<(), ConfigError> {
    match Url::parse(raw) {
        Ok(url) if matches!(url.scheme(), "https" | "http") => check_shape(&url, UrlRole::Issuer)
            .map_err(|reason| ConfigError::InvalidUrl {
                url: redacted(&url),
                reason,
            }),
        _ => Ok(()),
    }
}

/// Userinfo, fragment and (for issuers) query rules.
fn check_shape(url: &Url, role: UrlRole) -> Result<(), &'static str> {
    if !url.username().is_empty() || url.password().is_some() {
        // `https://sso.example.com@evil.example/` is a URL of `evil.example`.
        return Err("userinfo (`user:password@`) is not allowed; the host is what follows the `@`");
    }
    if url.fragment().is_some() {
        return Err("a fragment (`#...`) is not allowed");
    }
    if role == UrlRole::Issuer && url.query().is_some() {
        return Err("an issuer identifier has no query (`?...`) (RFC 8414 §2)");
    }
    Ok(())
}

/// The URL for an error message, its password (if any) replaced.
fn redacted(url: &Url) -> String {
    if url.password().is_none() {
        return url.to_string();
    }
    let mut shown = url.clone();
    let _ = shown.set_password(Some("***"));
    shown.to_string()
}

/// The HTTPS policy, for a configured URL and for every URL a response
/// comes from (redirects): HTTPS, or plain HTTP as the config allows; never
/// userinfo.
fn url_is_acceptable(url: &Url, plain_http: PlainHttp) -> bool {
    if !url.username().is_empty() || url.password().is_some() {
        return false;
    }
    match url.scheme() {
        "https" => true,
        "http" => match plain_http {
            PlainHttp::Never => false,
            PlainHttp::Loopback => is_loopback_ip(url),
            PlainHttp::Anywhere => true,
        },
        _ => false,
    }
}

/// Loopback IP literals: 127.0.0.0/8 and `::1` (not the name `localhost`).
fn is_loopback_ip(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Ipv4(ip)) => IpAddr::V4(ip).is_loopback(),
        Some(url::Host::Ipv6(ip)) => IpAddr::V6(ip).is_loopback(),
        Some(url::Host::Domain(_)) | None => false,
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
        use PlainHttp::{Anywhere, Loopback, Never};
        let ok = |raw, p| check_url(raw, p, UrlRole::Endpoint).is_ok();
        let insecure = |raw, p| {
            matches!(
                check_url(raw, p, UrlRole::Endpoint),
                Err(ConfigError::InsecureUrl { .. })
            )
        };
        assert!(ok("https://idp.example.com/realms/a", Never));
        // Plain HTTP to loopback only with the opt-in, and only IP literals.
        for raw in [
            "http://127.0.0.1:8080/x",
            "http://127.9.0.1/x",
            "http://[::1]:80/x",
        ] {
            assert!(insecure(raw, Never), "{raw}");
            assert!(ok(raw, Loopback), "{raw}");
        }
        assert!(insecure("http://localhost/x", Loopback));
        assert!(insecure("http://127.0.0.1.nip.io/x", Loopback));
        assert!(insecure("http://[::ffff:127.0.0.1]/x", Loopback));
        assert!(ok("http://localhost/x", Anywhere));
        assert!(insecure("http://idp.example.com/", Loopback));
        assert!(ok("http://idp.example.com/", Anywhere));
        assert!(Loopback.max(Anywhere) == Anywhere && Never.max(Loopback) == Loopback);
        assert!(matches!(
            check_url("ftp://idp.example.com/", Anywhere, UrlRole::Endpoint),
            Err(ConfigError::InvalidUrl { .. })
        ));
        assert!(matches!(
            check_url("not a url", Never, UrlRole::Endpoint),
            Err(ConfigError::InvalidUrl { .. })
        ));
    }

    #[test]
    fn url_shapes() {
        let reason = |raw, role| match check_url(raw, PlainHttp::Never, role) {
            Err(ConfigError::InvalidUrl { url, reason }) => {
                assert!(!url.contains("hunter2"), "{url}");
                Some(reason)
            }
            Ok(_) => None,
            Err(other) => panic!("{raw}: {other:?}"),
        };
        use UrlRole::{Endpoint, Issuer};
        for role in [Issuer, Endpoint] {
            assert!(reason("https://sso.example.com@evil.example/", role).is_some());
            assert!(reason("https://admin:hunter2@idp.example.com/", role).is_some());
            assert!(reason("https://:hunter2@idp.example.com/", role).is_some());
            assert!(reason("https://idp.example.com/realms/a#x", role).is_some());
            assert!(reason("https://idp.example.com/realms/a#", role).is_some());
            assert!(reason("https://idp.example.com/realms/a", role).is_none());
        }
        assert!(reason("https://idp.example.com/realms/a?t=1", Issuer).is_some());
        assert!(reason("https://idp.example.com/realms/a?", Issuer).is_some());
        assert!(reason("https://idp.example.com/keys?appid=1", Endpoint).is_none());
        // Identifiers that are not fetched: URLs get the same shape rules,
        // other StringOrURI values are left alone.
        assert!(check_issuer_identifier("https://a@evil.example/").is_err());
        assert!(check_issuer_identifier("https://idp.example/?x").is_err());
        assert!(check_issuer_identifier("http://idp.example/").is_ok());
        assert!(check_issuer_identifier("test-issuer").is_ok());
        assert!(check_issuer_identifier("urn:example:issuer?x").is_ok());
        // A redirect target with userinfo is never acceptable.
        let to = Url::parse("https://u:p@idp.example.com/jwks").unwrap();
        assert!(!url_is_acceptable(&to, PlainHttp::Anywhere));
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
