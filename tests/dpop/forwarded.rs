//! `with_insecure_trust_forwarded_headers` through the layer, with the
//! ordinary origin-form URI (`/orders`) of an HTTP/1.1 request: the origin
//! comes from `X-Forwarded-Proto` / `X-Forwarded-Host` / `Host` only when
//! trusted, and a malformed forwarded header is refused, never replaced.

use super::*;

const PUBLIC: &str = "https://shop.example.com/orders";

fn forwarded(token: &str, proof: &str, headers: &[(&str, &str)]) -> Request<Body> {
    let mut req = request("GET", "/orders", &format!("DPoP {token}"), &[proof]);
    for (k, v) in headers {
        req.headers_mut().append(
            http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
            v.parse().unwrap(),
        );
    }
    req
}

const PROXY: &[(&str, &str)] = &[
    ("host", "orders.internal:8080"),
    ("x-forwarded-proto", "https"),
    ("x-forwarded-host", "shop.example.com"),
];

#[tokio::test]
async fn trusted_forwarded_headers_name_the_origin() {
    let idp = MockIssuer::start().await;
    let app = dpop_app(&idp, config().with_insecure_trust_forwarded_headers()).await;
    let key = DpopKey::generate(Algorithm::ES256);
    let token = bound_token(&idp, &key);
    let at = |url: &str| key.proof_builder("GET", url).access_token(&token).sign();

    let res = send(&app, forwarded(&token, &at(PUBLIC), PROXY)).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(body(res).await, key.thumbprint());
    // The first value of a list the proxies appended to.
    let chained = [
        ("x-forwarded-proto", "https, http"),
        ("x-forwarded-host", "shop.example.com, orders.internal:8080"),
    ];
    let res = send(&app, forwarded(&token, &at(PUBLIC), &chained)).await;
    assert_eq!(res.status(), StatusCode::OK);
    // Without X-Forwarded-Host: `Host`, with the base URL's scheme.
    let res = send(
        &app,
        forwarded(
            &token,
            &at("https://orders.internal:8080/orders"),
            &[("host", "orders.internal:8080")],
        ),
    )
    .await;
    assert_eq!(res.status(), StatusCode::OK);
    // The forwarded origin replaces the configured one: a proof for the
    // configured URL does not match what the request names.
    let res = send(&app, forwarded(&token, &at(URL), PROXY)).await;
    assert_eq!(dpop_error(&res), Some(DpopError::Htu));
}

#[tokio::test]
async fn malformed_forwarded_headers_are_refused_not_replaced() {
    let idp = MockIssuer::start().await;
    let app = dpop_app(&idp, config().with_insecure_trust_forwarded_headers()).await;
    let key = DpopKey::generate(Algorithm::ES256);
    let token = bound_token(&idp, &key);
    // Every proof is for the configured URL: a silent fall-back to it
    // would accept.
    for headers in [
        &[("x-forwarded-host", "user@api.example.com")][..],
        &[("x-forwarded-host", "api.example.com/evil")][..],
        &[("x-forwarded-host", "api.example.com:x")][..],
        &[("x-forwarded-proto", "gopher"), ("host", "api.example.com")][..],
        &[("x-forwarded-proto", ""), ("host", "api.example.com")][..],
    ] {
        let p = key.proof_builder("GET", URL).access_token(&token).sign();
        let res = send(&app, forwarded(&token, &p, headers)).await;
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "{headers:?}");
        assert_eq!(dpop_error(&res), Some(DpopError::Htu), "{headers:?}");
        let c = challenges(&res);
        assert!(
            c[0].starts_with("DPoP ") && c[0].contains(r#"error="invalid_dpop_proof""#),
            "{c:?}"
        );
    }
}

#[tokio::test]
async fn untrusted_forwarded_headers_are_ignored() {
    let idp = MockIssuer::start().await;
    let app = dpop_app(&idp, config()).await;
    let key = DpopKey::generate(Algorithm::ES256);
    let token = bound_token(&idp, &key);
    let at = |url: &str| key.proof_builder("GET", url).access_token(&token).sign();
    // A proof for the URL the proxy names: not the configured one.
    let res = send(&app, forwarded(&token, &at(PUBLIC), PROXY)).await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(dpop_error(&res), Some(DpopError::Htu));
    // A client spoofing the headers to match a proof made for another
    // service: refused.
    let spoofed = [
        ("host", "evil.example"),
        ("x-forwarded-proto", "http"),
        ("x-forwarded-host", "evil.example"),
    ];
    let res = send(
        &app,
        forwarded(&token, &at("http://evil.example/orders"), &spoofed),
    )
    .await;
    assert_eq!(dpop_error(&res), Some(DpopError::Htu));
    // The configured URL is accepted whatever the headers say.
    let res = send(&app, forwarded(&token, &at(URL), &spoofed)).await;
    assert_eq!(res.status(), StatusCode::OK);
}

/// The base URL's path stays: forwarded headers name the origin only.
#[tokio::test]
async fn the_base_path_is_kept() {
    let idp = MockIssuer::start().await;
    let app = dpop_app(
        &idp,
        DpopConfig::builder("https://api.example.com/orders-api")
            .with_insecure_trust_forwarded_headers(),
    )
    .await;
    let key = DpopKey::generate(Algorithm::ES256);
    let token = bound_token(&idp, &key);
    let p = key
        .proof_builder("GET", "https://shop.example.com/orders-api/orders")
        .access_token(&token)
        .sign();
    let res = send(&app, forwarded(&token, &p, PROXY)).await;
    assert_eq!(res.status(), StatusCode::OK);
}

/// `Router::nest` strips its prefix before the inner router's layers run:
/// a layer inside the nest sees `/orders`, one outside sees `/api/orders`.
/// Both work when the base URL says which path the layer sees.
#[tokio::test]
async fn nested_routers_see_the_shortened_path() {
    let idp = MockIssuer::start().await;
    let key = DpopKey::generate(Algorithm::ES256);
    let token = bound_token(&idp, &key);
    let full = "https://api.example.com/api/orders";
    let layer = |base: &str| {
        let base = base.to_owned();
        let issuer = orders_issuer(&idp);
        async move {
            AuthLayer::builder()
                .issuer(issuer.await)
                .dpop(DpopConfig::builder(base).build().unwrap())
                .build()
                .unwrap()
        }
    };
    let inner = || Router::new().route("/orders", get(|| async { "ok" }));
    let cases = [
        // Inside the nest, with the prefix in the base URL.
        (
            Router::new().nest(
                "/api",
                inner().layer(layer("https://api.example.com/api").await),
            ),
            StatusCode::OK,
        ),
        // Inside the nest, base URL without the prefix: the layer expects
        // https://api.example.com/orders.
        (
            Router::new().nest("/api", inner().layer(layer(BASE).await)),
            StatusCode::UNAUTHORIZED,
        ),
        // On the outer router: the full path, the plain base URL.
        (
            Router::new().nest("/api", inner()).layer(layer(BASE).await),
            StatusCode::OK,
        ),
    ];
    for (i, (app, want)) in cases.into_iter().enumerate() {
        let p = key.proof_builder("GET", full).access_token(&token).sign();
        let res = send(
            &app,
            request("GET", "/api/orders", &format!("DPoP {token}"), &[&p]),
        )
        .await;
        assert_eq!(res.status(), want, "case {i}");
        if want != StatusCode::OK {
            assert_eq!(dpop_error(&res), Some(DpopError::Htu), "case {i}");
        }
    }
}
