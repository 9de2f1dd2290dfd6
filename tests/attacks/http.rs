//! Outbound HTTP attacks (issue 15, items 4–8): redirects that leave the
//! HTTPS policy, redirected token requests, issuer URLs with userinfo,
//! query or fragment, a downstream that forces endless token refreshes, and
//! plain HTTP to loopback without the explicit opt-in.
//!
//! Every server here is an axum app on `127.0.0.1:0`; "another host" is
//! `localhost`, which the loopback opt-in does not cover (IP literals only).

use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::response::IntoResponse;
use axum::{Json, Router};
use http::{header, StatusCode};
use oauth2_guard::testkit::MockIssuer;
use oauth2_guard::HttpConfig;
use oauth2_guard::Reason;
use oauth2_guard::{AuthLayer, ConfigError, FetchErrorKind, Issuer, LazyIssuers};
use serde_json::json;
use tower::ServiceExt;

use crate::common::{
    bearer, bind_loopback, get_with_auth, loopback, ok_app, orders_issuer, reason_of, serve,
    serve_on,
};

/// Every test finishes well within this, or fails.
const BOUND: Duration = Duration::from_secs(20);

async fn bounded<F: Future>(f: F) -> F::Output {
    tokio::time::timeout(BOUND, f)
        .await
        .expect("test exceeded its time bound")
}

/// A server answering every request with `status` and `Location: location`;
/// returns its base URL and a count of the requests it received.
async fn redirector(status: StatusCode, location: String) -> (String, Arc<AtomicUsize>) {
    let hits = Arc::new(AtomicUsize::new(0));
    let counter = hits.clone();
    let app = Router::new().fallback(move || {
        counter.fetch_add(1, Ordering::SeqCst);
        let location = location.clone();
        async move { (status, [(header::LOCATION, location)]).into_response() }
    });
    let addr = serve(app).await;
    (format!("http://{addr}"), hits)
}

fn port_of(url: &str) -> u16 {
    url::Url::parse(url)
        .ok()
        .and_then(|u| u.port())
        .expect("URL with a port")
}

/// Status and rejection reason of one request with `token`.
async fn call(app: &Router, token: &str) -> (StatusCode, Option<Reason>) {
    let req = get_with_auth("/x", bearer(token));
    let res = app.clone().oneshot(req).await.expect("infallible");
    (res.status(), reason_of(&res))
}

fn initial_keys_kind(err: ConfigError) -> FetchErrorKind {
    match err {
        ConfigError::InitialKeys { source, .. } => source.kind(),
        other => panic!("expected InitialKeys, got {other:?}"),
    }
}

// ---- 4: a redirect off the HTTPS policy, whatever client follows it ----

#[tokio::test]
async fn jwks_redirect_off_policy_is_refused_even_with_a_caller_client() {
    bounded(async {
        let idp = MockIssuer::start().await;
        let evil = MockIssuer::start().await;
        // The attacker's keys sign a token naming the real issuer.
        let forged = evil.token().issuer(&idp.issuer_url()).sign();
        let target = format!("http://localhost:{}/jwks", port_of(&evil.issuer_url()));
        let (front, hits) = redirector(StatusCode::FOUND, target).await;
        let builder = || {
            Issuer::builder(idp.issuer_url())
                .audience("orders-api")
                .jwks_uri(format!("{front}/jwks"))
        };

        // The crate's own client refuses to follow it at all.
        let err = builder().http(loopback()).build().await.unwrap_err();
        assert_eq!(initial_keys_kind(err), FetchErrorKind::Redirect);
        assert_eq!(evil.jwks_fetches(), 0, "own client: redirect not followed");

        // A caller's client (reqwest's default policy follows it): the
        // final URL is checked after the fact and the keys are not used.
        let caller = loopback().client(reqwest::Client::new());
        let err = builder().http(caller.clone()).build().await.unwrap_err();
        assert_eq!(initial_keys_kind(err), FetchErrorKind::Redirect);
        assert_eq!(evil.jwks_fetches(), 1, "the caller's client followed it");

        // Lazily built, the background fetch fails the same way: the forged
        // token is never accepted, before or after that fetch.
        let lazy = builder()
            .http(caller)
            .build_deferred()
            .expect("lazy issuer");
        let app = ok_app(AuthLayer::new(lazy.clone()));
        let mut after_fetch = 0;
        while after_fetch < 5 {
            let (status, reason) = call(&app, &forged).await;
            assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{reason:?}");
            assert_eq!(reason, Some(Reason::KeysUnavailable));
            if evil.jwks_fetches() >= 2 {
                after_fetch += 1;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert!(!lazy.is_ready(), "the attacker's keys were never installed");
        assert!(hits.load(Ordering::SeqCst) >= 3);
    })
    .await;
}

#[tokio::test]
async fn jwks_redirect_within_policy_is_followed_by_a_caller_client() {
    bounded(async {
        // Control: a redirect to a loopback IP literal (what the opt-in allows).
        let idp = MockIssuer::start().await;
        let (front, _) = redirector(StatusCode::FOUND, idp.jwks_url()).await;
        let issuer = Issuer::builder(idp.issuer_url())
            .audience("orders-api")
            .jwks_uri(format!("{front}/jwks"))
            .http(loopback().client(reqwest::Client::new()))
            .build()
            .await
            .expect("redirect within the policy");
        let (status, _) = call(&ok_app(AuthLayer::new(issuer)), &idp.token().sign()).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(idp.jwks_fetches(), 1);
    })
    .await;
}

// ---- 5: a redirected token request is never followed ----

#[cfg(feature = "client")]
mod token_redirect {
    use super::*;
    use crate::common::{idp_with_client, CLIENT, SECRET};
    use oauth2_guard::client::{ClientCredentials, TokenError};

    fn redirect_kind(err: TokenError) -> FetchErrorKind {
        match err {
            TokenError::Fetch { source, .. } => source.kind(),
            other => panic!("expected a fetch error, got {other:?}"),
        }
    }

    /// A 307 from the token endpoint to another listener that would accept
    /// the credentials; returns the front's URL, its hit count and the other.
    async fn setup() -> (String, Arc<AtomicUsize>, MockIssuer) {
        let evil = idp_with_client().await;
        let (front, hits) = redirector(StatusCode::TEMPORARY_REDIRECT, evil.token_endpoint()).await;
        (format!("{front}/token"), hits, evil)
    }

    async fn source(endpoint: &str, http: HttpConfig) -> ClientCredentials {
        ClientCredentials::builder(CLIENT)
            .token_endpoint(endpoint)
            .client_secret_post(SECRET)
            .http(http)
            .build()
            .await
            .expect("source builds")
    }

    #[tokio::test]
    async fn token_endpoint_307_is_an_error_and_the_secret_goes_nowhere() {
        bounded(async {
            let (endpoint, hits, evil) = setup().await;
            let err = source(&endpoint, loopback())
                .await
                .token()
                .await
                .unwrap_err();
            assert!(!err.is_transient(), "a redirect is not retried");
            assert_eq!(redirect_kind(err), FetchErrorKind::Redirect);
            assert_eq!(hits.load(Ordering::SeqCst), 1, "one request, no retry");
            assert_eq!(evil.requests_to("/token"), 0, "the body was not re-sent");
        })
        .await;
    }

    #[tokio::test]
    async fn token_endpoint_redirect_with_a_caller_client() {
        bounded(async {
            // A caller's client without redirects: the 307 itself is refused.
            let (endpoint, _, evil) = setup().await;
            let none = reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap();
            let err = source(&endpoint, loopback().client(none))
                .await
                .token()
                .await
                .unwrap_err();
            assert_eq!(redirect_kind(err), FetchErrorKind::Redirect);
            assert_eq!(evil.requests_to("/token"), 0);

            // A caller's client that follows redirects has already re-sent
            // the body (documented on `HttpConfig::client`); the answer is
            // still refused, so no token from elsewhere is ever used.
            let (endpoint, _, evil) = setup().await;
            let err = source(&endpoint, loopback().client(reqwest::Client::new()))
                .await
                .token()
                .await
                .unwrap_err();
            assert_eq!(redirect_kind(err), FetchErrorKind::Redirect);
            assert_eq!(
                evil.requests_to("/token"),
                1,
                "followed by the caller's client"
            );
        })
        .await;
    }

    #[tokio::test]
    async fn token_endpoint_url_shapes() {
        bounded(async {
            for bad in [
                "https://checkout:hunter2@127.0.0.1:1/token",
                "https://127.0.0.1:1/token#frag",
            ] {
                let err = ClientCredentials::builder(CLIENT)
                    .token_endpoint(bad)
                    .client_secret(SECRET)
                    .build()
                    .await
                    .unwrap_err();
                assert!(
                    matches!(err, ConfigError::InvalidUrl { .. }),
                    "{bad}: {err:?}"
                );
                assert!(!err.to_string().contains("hunter2"), "{err}");
            }
            // A query is legal on an endpoint (RFC 6749 §3.2).
            ClientCredentials::builder(CLIENT)
                .token_endpoint("https://127.0.0.1:1/token?tenant=a")
                .client_secret(SECRET)
                .build()
                .await
                .expect("query allowed on the token endpoint");
        })
        .await;
    }
}

// ---- 6: issuer URLs with userinfo, query or fragment ----

#[tokio::test]
async fn issuer_urls_with_userinfo_query_or_fragment_are_refused() {
    bounded(async {
        for bad in [
            "https://sso.example.com@127.0.0.1:1/",
            "https://admin:hunter2@127.0.0.1:1/realms/a",
            "https://127.0.0.1:1/realms/a?tenant=b",
            "https://127.0.0.1:1/realms/a?",
            "https://127.0.0.1:1/realms/a#frag",
        ] {
            let err = Issuer::builder(bad)
                .audience("a")
                .build()
                .await
                .unwrap_err();
            assert!(
                matches!(err, ConfigError::InvalidUrl { .. }),
                "{bad}: {err:?}"
            );
            assert!(!err.to_string().contains("hunter2"), "{err}");
        }
        // Not fetched from, but still an issuer identifier (RFC 8414 §2).
        let err = Issuer::builder("https://sso.example.com@evil.example/")
            .audience("a")
            .static_jwks(r#"{"keys":[]}"#)
            .build()
            .await
            .unwrap_err();
        assert!(matches!(err, ConfigError::InvalidUrl { .. }), "{err:?}");
        // Explicit jwks_uri: no userinfo, no fragment; a query is legal.
        for bad in [
            "https://u:hunter2@127.0.0.1:1/keys",
            "https://127.0.0.1:1/keys#k",
        ] {
            let err = Issuer::builder("https://idp.example")
                .audience("a")
                .jwks_uri(bad)
                .build_deferred()
                .unwrap_err();
            assert!(
                matches!(err, ConfigError::InvalidUrl { .. }),
                "{bad}: {err:?}"
            );
            assert!(!err.to_string().contains("hunter2"), "{err}");
        }
        Issuer::builder("https://idp.example")
            .audience("a")
            .jwks_uri("https://127.0.0.1:1/keys?appid=orders")
            .build_deferred()
            .expect("query allowed on jwks_uri");
    })
    .await;
}

#[tokio::test]
async fn careless_tenant_prefix_check_cannot_be_fooled_by_userinfo() {
    bounded(async {
        // The attacker runs an IdP whose discovery names the crafted issuer
        // `http://sso.example.com@127.0.0.1:PORT` and publishes its own keys.
        let evil_keys = MockIssuer::start().await;
        let listener = bind_loopback().await;
        let crafted = format!(
            "http://sso.example.com@{}",
            listener.local_addr().expect("addr")
        );
        let hits = Arc::new(AtomicUsize::new(0));
        let (doc, counter) = (
            json!({ "issuer": crafted, "jwks_uri": evil_keys.jwks_url() }),
            hits.clone(),
        );
        let discovery = Router::new().fallback(move || {
            counter.fetch_add(1, Ordering::SeqCst);
            let doc = doc.clone();
            async move { Json(doc) }
        });
        serve_on(listener, discovery);
        // A tenant check by prefix: trusts anything that "starts with" the SSO.
        let lazy = LazyIssuers::new(|iss: &str| {
            iss.starts_with("http://sso.example.com")
                .then(|| Issuer::builder(iss).audience("orders-api").http(loopback()))
        });
        let app = ok_app(
            AuthLayer::builder()
                .lazy_issuers(lazy)
                .build()
                .expect("layer"),
        );
        let forged = evil_keys.token().issuer(&crafted).sign();
        let (status, reason) = call(&app, &forged).await;
        assert_ne!(status, StatusCode::OK, "forged tenant token accepted");
        assert!(reason.is_some());
        assert_eq!(
            hits.load(Ordering::SeqCst),
            0,
            "the crafted host is never contacted"
        );
        assert_eq!(evil_keys.jwks_fetches(), 0);
    })
    .await;
}

// ---- 7: a downstream answering 401 invalid_token to every request ----

#[cfg(feature = "client")]
mod forced_refresh {
    use super::*;
    use crate::common::{idp_with_client, CLIENT, SECRET};
    use axum::body::Body;
    use http::Request;
    use oauth2_guard::client::ClientCredentials;

    const CHALLENGE: &str = r#"Bearer realm="orders", error="invalid_token""#;

    async fn setup(
        configure: impl FnOnce(
            oauth2_guard::client::ClientCredentialsBuilder,
        ) -> oauth2_guard::client::ClientCredentialsBuilder,
    ) -> (MockIssuer, ClientCredentials) {
        let idp = idp_with_client().await;
        let source = configure(
            ClientCredentials::builder(CLIENT)
                .token_endpoint(idp.token_endpoint())
                .client_secret(SECRET)
                .http(loopback()),
        )
        .build()
        .await
        .expect("source");
        (idp, source)
    }

    /// A downstream refusing every token; returns its URL and request count.
    async fn always_invalid_token() -> (String, Arc<AtomicUsize>) {
        let hits = Arc::new(AtomicUsize::new(0));
        let counter = hits.clone();
        let app = Router::new().fallback(move || {
            counter.fetch_add(1, Ordering::SeqCst);
            async {
                (
                    StatusCode::UNAUTHORIZED,
                    [(header::WWW_AUTHENTICATE, CHALLENGE)],
                )
                    .into_response()
            }
        });
        let addr = serve(app).await;
        (format!("http://{addr}/orders"), hits)
    }

    #[tokio::test]
    async fn send_forces_at_most_one_refresh_per_cooldown() {
        bounded(async {
            let (idp, source) = setup(|b| b).await;
            let (url, hits) = always_invalid_token().await;
            let http = reqwest::Client::new();
            for _ in 0..20 {
                let response = source.send(http.get(&url)).await.expect("sent");
                assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
            }
            assert!(
                idp.token_requests() <= 2,
                "{} token requests for 20 refused calls",
                idp.token_requests()
            );
            // One retry (the first refusal), then every answer as is.
            assert_eq!(hits.load(Ordering::SeqCst), 21);
        })
        .await;
    }

    #[tokio::test]
    async fn bearer_layer_forces_at_most_one_refresh_per_cooldown() {
        bounded(async {
            let (idp, source) = setup(|b| b).await;
            let downstream = tower::service_fn(|_req: Request<Body>| async {
                let mut res = http::Response::new(Body::empty());
                *res.status_mut() = StatusCode::UNAUTHORIZED;
                res.headers_mut().insert(
                    header::WWW_AUTHENTICATE,
                    http::HeaderValue::from_static(CHALLENGE),
                );
                Ok::<_, std::convert::Infallible>(res)
            });
            let svc = tower::ServiceBuilder::new()
                .layer(source.layer())
                .service(downstream);
            for _ in 0..20 {
                let res = svc
                    .clone()
                    .oneshot(Request::get("/orders").body(Body::empty()).unwrap())
                    .await
                    .expect("called");
                assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
            }
            assert!(
                idp.token_requests() <= 2,
                "{} token requests for 20 refused calls",
                idp.token_requests()
            );
        })
        .await;
    }

    #[tokio::test]
    async fn the_cooldown_is_configurable() {
        bounded(async {
            // Long enough that a loaded machine stays inside it between
            // two back-to-back sends.
            let cooldown = Duration::from_millis(1000);
            let (idp, source) = setup(|b| b.invalid_token_cooldown(cooldown)).await;
            let (url, _) = always_invalid_token().await;
            let http = reqwest::Client::new();
            source.send(http.get(&url)).await.expect("sent");
            assert_eq!(idp.token_requests(), 2, "first token, one forced refresh");
            source.send(http.get(&url)).await.expect("sent");
            assert_eq!(idp.token_requests(), 2, "within the cooldown");
            tokio::time::sleep(cooldown + Duration::from_millis(100)).await;
            source.send(http.get(&url)).await.expect("sent");
            assert_eq!(idp.token_requests(), 3, "after the cooldown, one more");
        })
        .await;
    }
}

// ---- 8: plain HTTP to loopback only by explicit opt-in ----

#[tokio::test]
async fn plain_http_loopback_needs_the_opt_in() {
    bounded(async {
        let idp = MockIssuer::start().await;
        let err = Issuer::builder(idp.issuer_url())
            .audience("orders-api")
            .build()
            .await
            .unwrap_err();
        assert!(matches!(err, ConfigError::InsecureUrl { .. }), "{err:?}");
        assert_eq!(idp.discovery_fetches(), 0, "refused before any request");
        let issuer = Issuer::builder(idp.issuer_url())
            .audience("orders-api")
            .http(loopback())
            .build()
            .await
            .expect("loopback opt-in");
        let (status, _) = call(&ok_app(AuthLayer::new(issuer)), &idp.token().sign()).await;
        assert_eq!(status, StatusCode::OK);
        // The test kit's own builder carries the opt-in.
        orders_issuer(&idp).await;

        // The opt-in covers loopback IP literals, not names.
        for (url, ok) in [
            ("http://127.0.0.1:1/", true),
            ("http://127.8.9.10:1/", true),
            ("http://[::1]:1/", true),
            ("http://localhost:1/", false),
            ("http://10.0.0.1/", false),
        ] {
            let built = Issuer::builder(url)
                .audience("a")
                .http(loopback())
                .build_deferred();
            match (ok, built) {
                (true, Ok(_)) => {}
                (false, Err(ConfigError::InsecureUrl { .. })) => {}
                (_, other) => panic!("{url}: {other:?}"),
            }
        }
        // The dangerous switch still allows any host.
        Issuer::builder("http://localhost:1/")
            .audience("a")
            .http(HttpConfig::default().dangerous_allow_insecure_http())
            .build_deferred()
            .expect("dangerous_allow_insecure_http");
    })
    .await;
}

#[cfg(feature = "client")]
#[tokio::test]
async fn client_credentials_http_loopback_needs_the_opt_in() {
    use oauth2_guard::client::ClientCredentials;
    bounded(async {
        let idp = MockIssuer::start().await;
        idp.register_client("checkout", "s");
        let err = ClientCredentials::builder("checkout")
            .token_endpoint(idp.token_endpoint())
            .client_secret("s")
            .build()
            .await
            .unwrap_err();
        assert!(matches!(err, ConfigError::InsecureUrl { .. }), "{err:?}");
        let source = idp
            .client_credentials_builder("checkout")
            .client_secret("s")
            .build()
            .await
            .expect("MockIssuer::client_credentials_builder");
        source.token().await.expect("token");
        assert_eq!(idp.token_requests(), 1);
    })
    .await;
}
