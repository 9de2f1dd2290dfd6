//! The outbound HTTP client shared by discovery, JWKS refresh and the
//! client-credentials source: explicit timeouts, a response size cap, the
//! HTTPS policy (checked on every URL a response comes from, whoever built
//! the `reqwest::Client`), and no redirects on token requests.
//!
//! By concern: `policy` decides which URLs may be fetched, `retry` holds the
//! backoff, jitter and `Retry-After` rules, `response` reads bodies under the
//! size cap and maps failures to errors; this module holds the configuration
//! and the client.

use std::time::Duration;

use serde::de::DeserializeOwned;
use url::Url;

use crate::error::{ConfigError, FetchError, FetchErrorKind};

mod conditional;
mod policy;
mod response;
mod retry;
#[cfg(test)]
mod tests;

pub(crate) use conditional::{Conditional, Validators};

use policy::url_is_acceptable;
pub(crate) use policy::{check_issuer_identifier, check_url, PlainHttp, UrlRole};
pub(crate) use response::{map_reqwest, read_capped};
use response::{max_age, redirect_error};
#[cfg(feature = "client")]
pub(crate) use retry::deadline_after;
pub(crate) use retry::{exponential_backoff, jitter_unit, status_error, MAX_DELAY};

/// The default cap on a discovery or JWKS response body: 1 MiB.
pub const DEFAULT_MAX_RESPONSE_BYTES: usize = 1024 * 1024;

/// The most redirects the crate's own client follows on a discovery or JWKS
/// request (each one checked against the HTTPS policy).
const MAX_REDIRECTS: usize = 3;

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
        Ok(HttpClient {
            client,
            timeout: self.timeout,
            max_response_bytes: self.max_response_bytes,
            plain_http: self.plain_http,
        })
    }

    /// The clients of a client-credentials source: [`build`](Self::build)'s
    /// for discovery, plus one that never follows redirects for the token
    /// requests. Issuers never post credentials, so only this builds the second.
    #[cfg(feature = "client")]
    pub(crate) fn build_token_client(&self) -> Result<TokenClient, ConfigError> {
        let no_redirect = match &self.client {
            Some(c) => c.clone(),
            None => self.own_client(reqwest::redirect::Policy::none())?,
        };
        Ok(TokenClient {
            http: self.build()?,
            no_redirect,
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
            .map_err(|e| ConfigError::HttpClient(crate::error::HttpClientError(e)))
    }
}

/// A configured client; cheap to clone.
#[derive(Clone, Debug)]
pub(crate) struct HttpClient {
    /// Discovery and JWKS: follows redirects within the policy (the crate's
    /// own), or as the caller configured it.
    client: reqwest::Client,
    pub(crate) timeout: Duration,
    pub(crate) max_response_bytes: usize,
    plain_http: PlainHttp,
}

/// The HTTP clients of a client-credentials source: the ordinary one for
/// discovery (and its size cap and URL policy), and one that never follows
/// redirects, for requests whose bodies carry credentials.
#[cfg(feature = "client")]
#[derive(Clone, Debug)]
pub(crate) struct TokenClient {
    pub(crate) http: HttpClient,
    /// The crate's own never follows redirects; a caller's client is checked
    /// after the fact.
    no_redirect: reqwest::Client,
}

#[cfg(feature = "client")]
impl TokenClient {
    /// POST a form without following redirects: a 3xx answer, or a response
    /// from any other URL (a caller's client that followed a redirect), is
    /// [`FetchErrorKind::Redirect`]. For token and introspection requests,
    /// whose bodies carry credentials.
    #[cfg(feature = "introspection")]
    pub(crate) async fn post_form(
        &self,
        url: &Url,
        form: &[(&str, &str)],
        authorization: Option<http::HeaderValue>,
    ) -> Result<reqwest::Response, FetchError> {
        self.post_form_with(url, form, authorization, None).await
    }

    /// As [`post_form`](Self::post_form), with one more header (a DPoP
    /// proof on a token request).
    pub(crate) async fn post_form_with(
        &self,
        url: &Url,
        form: &[(&str, &str)],
        authorization: Option<http::HeaderValue>,
        extra: Option<(http::HeaderName, http::HeaderValue)>,
    ) -> Result<reqwest::Response, FetchError> {
        let mut request = self
            .no_redirect
            .post(url.clone())
            .header(http::header::ACCEPT, "application/json")
            .timeout(self.http.timeout)
            .form(form);
        if let Some(authorization) = authorization {
            request = request.header(http::header::AUTHORIZATION, authorization);
        }
        if let Some((name, value)) = extra {
            request = request.header(name, value);
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
        let response = self.send_get(url, &Validators::default()).await?;
        let max_age = max_age(response.headers());
        let value = self.read_body(response, url).await?;
        Ok(Fetched { value, max_age })
    }

    /// Send a GET (conditional when `validators` holds any) and check where
    /// the answer came from; the status is the caller's to read.
    async fn send_get(
        &self,
        url: &Url,
        validators: &Validators,
    ) -> Result<reqwest::Response, FetchError> {
        let send = || {
            validators
                .apply(self.client.get(url.clone()))
                .header(http::header::ACCEPT, "application/json")
                .timeout(self.timeout)
                .send()
        };
        // A GET may be sent again. A pooled keep-alive connection that the
        // server closed while it sat idle fails at once with a transport
        // error (not a timeout, not a refused connection): one immediate
        // retry, which takes a fresh connection, is what it needs. Without it
        // an unknown-kid refresh that meets such a connection leaves the new
        // key unknown until the backoff retry.
        let response = match send().await.map_err(|e| map_reqwest(e, url)) {
            Err(e) if e.kind() == FetchErrorKind::Transport => send().await,
            Err(e) => return Err(e),
            Ok(response) => Ok(response),
        }
        .map_err(|e| map_reqwest(e, url))?;
        // The crate's own client refuses such redirects itself; a caller's
        // client may have followed them.
        if !url_is_acceptable(response.url(), self.plain_http) {
            return Err(redirect_error(url, Some(response.url().as_str())));
        }
        Ok(response)
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
