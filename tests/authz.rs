//! Authorization through the real AuthLayer: guards, extractor, role
//! mappings, multi-issuer, lazy issuers and the IdP presets, each driven
//! with `tower::ServiceExt::oneshot` on an axum Router and MockIssuer tokens.
#![cfg(all(feature = "testkit", feature = "axum"))]

mod common;

use axum::body::Body;
use axum::routing::{get, post};
use axum::{Extension, Router};
use http::{header, Request, Response, StatusCode};
use http_body_util::BodyExt;
use oauth2_guard::authz::{HasScope, RequireRole, RequireScope, WIRING_ERROR};
use oauth2_guard::presets::{Auth0, Cognito, Entra, Keycloak, Okta};
use oauth2_guard::testkit::{Algorithm, MockIssuer};
use oauth2_guard::{AuthLayer, ClaimPath, ConfigError, IssuerBuilder, LazyIssuers, VerifiedClaims};
use serde_json::json;
use tower::ServiceExt;

use common::{bearer, loopback, orders_issuer, orders_layer};

oauth2_guard::scope!(OrdersWrite = "orders:write");

const FORBIDDEN_WRITE: &str = r#"Bearer realm="orders", error="insufficient_scope", error_description="The access token lacks the required scope", scope="orders:write""#;

async fn whoami(Extension(c): Extension<VerifiedClaims>) -> String {
    format!("{}|{}", c.scopes().join(" "), c.roles().join(" "))
}

async fn send(app: &Router, method: &str, path: &str, token: Option<&str>) -> Response<Body> {
    let mut req = Request::builder().method(method).uri(path);
    if let Some(t) = token {
        req = req.header(header::AUTHORIZATION, bearer(t));
    }
    app.clone()
        .oneshot(req.body(Body::empty()).unwrap())
        .await
        .unwrap()
}

async fn body(res: Response<Body>) -> String {
    String::from_utf8(res.into_body().collect().await.unwrap().to_bytes().to_vec()).unwrap()
}

fn www(res: &Response<Body>) -> Option<&str> {
    res.headers()
        .get("www-authenticate")
        .map(|v| v.to_str().unwrap())
}

async fn layer_for(builder: IssuerBuilder) -> Result<AuthLayer, ConfigError> {
    AuthLayer::builder()
        .issuer(builder.build().await?)
        .realm("orders")
        .build()
}

async fn mock_layer(idp: &MockIssuer) -> AuthLayer {
    orders_layer(orders_issuer(idp).await)
}

fn guarded(layer: AuthLayer) -> Router {
    Router::new()
        .route(
            "/orders",
            get(whoami)
                .post(whoami)
                .layer(RequireScope::new("orders:write")),
        )
        // `route_layer` guards every route added *before* it on that router,
        // so each one gets its own router here.
        .merge(
            Router::new()
                .route("/both", get(whoami))
                .route_layer(RequireScope::all_of(["orders:read", "payments:read"])),
        )
        .merge(
            Router::new()
                .route("/any", get(whoami))
                .route_layer(RequireScope::any_of(["orders:read", "orders:admin"])),
        )
        .route("/admin", post(whoami).layer(RequireRole::new("admin")))
        .route(
            "/staff",
            get(whoami).layer(RequireRole::any_of(["admin", "support"])),
        )
        .route(
            "/reports",
            get(whoami).layer(RequireScope::new("reports:read").or_role("auditor")),
        )
        .route(
            "/extract",
            post(|t: HasScope<OrdersWrite>| async move { t.subject().unwrap_or("").to_owned() }),
        )
        .route("/open", get(whoami))
        .layer(layer)
}

#[tokio::test]
async fn each_guard_allows_and_refuses_with_exact_headers() {
    let idp = MockIssuer::start().await;
    let layer = layer_for(
        idp.issuer_builder()
            .audience("orders-api")
            .roles_from(ClaimPath::parse("roles").unwrap()),
    )
    .await
    .unwrap();
    let app = guarded(layer);
    let tok = |scope: &str, roles: serde_json::Value| {
        idp.token().scope(scope).claim("roles", roles).sign()
    };

    // Single scope, on a method router (both methods carry the layer).
    let ok = tok("orders:write", json!([]));
    let res = send(&app, "POST", "/orders", Some(&ok)).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(body(res).await, "orders:write|");
    let no = tok("orders:read", json!([]));
    let res = send(&app, "GET", "/orders", Some(&no)).await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert_eq!(www(&res), Some(FORBIDDEN_WRITE));
    assert_eq!(res.headers()["cache-control"], "no-store");

    // All of: both needed; the challenge lists both, space-separated.
    assert_eq!(
        send(
            &app,
            "GET",
            "/both",
            Some(&tok("orders:read payments:read", json!([])))
        )
        .await
        .status(),
        200
    );
    let res = send(&app, "GET", "/both", Some(&tok("orders:read", json!([])))).await;
    assert_eq!(res.status(), 403);
    assert_eq!(
        www(&res),
        Some(
            r#"Bearer realm="orders", error="insufficient_scope", error_description="The access token lacks the required scope", scope="orders:read payments:read""#
        )
    );

    // Any of.
    assert_eq!(
        send(&app, "GET", "/any", Some(&tok("orders:admin", json!([]))))
            .await
            .status(),
        200
    );
    let res = send(&app, "GET", "/any", Some(&tok("payments:read", json!([])))).await;
    assert_eq!(res.status(), 403);
    assert!(www(&res)
        .unwrap()
        .ends_with(r#"scope="orders:read orders:admin""#));

    // Role: 403 without a scope parameter (roles are not requestable scopes).
    assert_eq!(
        send(&app, "POST", "/admin", Some(&tok("x", json!(["admin"]))))
            .await
            .status(),
        200
    );
    let res = send(
        &app,
        "POST",
        "/admin",
        Some(&tok("orders:write", json!(["user"]))),
    )
    .await;
    assert_eq!(res.status(), 403);
    assert_eq!(
        www(&res),
        Some(
            r#"Bearer realm="orders", error="insufficient_scope", error_description="The access token lacks the required role""#
        )
    );
    assert_eq!(
        send(&app, "GET", "/staff", Some(&tok("x", json!(["support"]))))
            .await
            .status(),
        200
    );
    assert_eq!(
        send(&app, "GET", "/staff", Some(&tok("x", json!(["user"]))))
            .await
            .status(),
        403
    );

    // Scope or role.
    assert_eq!(
        send(
            &app,
            "GET",
            "/reports",
            Some(&tok("reports:read", json!([])))
        )
        .await
        .status(),
        200
    );
    assert_eq!(
        send(&app, "GET", "/reports", Some(&tok("x", json!(["auditor"]))))
            .await
            .status(),
        200
    );
    let res = send(&app, "GET", "/reports", Some(&tok("x", json!(["user"])))).await;
    assert_eq!(res.status(), 403);
    assert!(www(&res).unwrap().ends_with(r#"scope="reports:read""#));

    // The extractor form answers the same.
    assert_eq!(
        send(&app, "POST", "/extract", Some(&ok)).await.status(),
        200
    );
    let res = send(&app, "POST", "/extract", Some(&no)).await;
    assert_eq!(res.status(), 403);
    assert_eq!(www(&res), Some(FORBIDDEN_WRITE));

    // A bad token is still the layer's 401, never the guard's 403.
    let res = send(
        &app,
        "POST",
        "/orders",
        Some(&idp.token().scope("orders:write").expired().sign()),
    )
    .await;
    assert_eq!(res.status(), 401);
}

#[tokio::test]
async fn zero_trust_and_explicit_public_routes() {
    let idp = MockIssuer::start().await;
    let protected = guarded(mock_layer(&idp).await);
    // The documented pattern: public routes on their own router, merged outside the layer.
    let app = Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .merge(protected);

    let res = send(&app, "GET", "/open", None).await;
    assert_eq!(
        res.status(),
        401,
        "a route without a guard still needs a token"
    );
    assert_eq!(www(&res), Some(r#"Bearer realm="orders""#));
    assert_eq!(send(&app, "POST", "/orders", None).await.status(), 401);
    assert_eq!(send(&app, "POST", "/extract", None).await.status(), 401);
    let res = send(&app, "GET", "/healthz", None).await;
    assert_eq!(res.status(), 200);
    assert_eq!(body(res).await, "ok");
    // A valid token without any particular scope reaches the unguarded route.
    assert_eq!(
        send(&app, "GET", "/open", Some(&idp.token().sign()))
            .await
            .status(),
        200
    );
}

#[tokio::test]
async fn guard_without_layer_is_a_500_naming_the_mistake() {
    let app = Router::new()
        .route(
            "/orders",
            post(whoami).layer(RequireScope::new("orders:write")),
        )
        .route("/extract", post(|_t: HasScope<OrdersWrite>| async { "" }));
    for path in ["/orders", "/extract"] {
        let res = send(&app, "POST", path, Some("a.b.c")).await;
        assert_eq!(res.status(), StatusCode::INTERNAL_SERVER_ERROR, "{path}");
        assert!(res.headers().get("www-authenticate").is_none());
        assert_eq!(body(res).await, WIRING_ERROR);
    }
}

#[tokio::test]
async fn optional_layer_then_guard_is_401_not_403() {
    let idp = MockIssuer::start().await;
    let layer = AuthLayer::builder()
        .issuer(orders_issuer(&idp).await)
        .realm("orders")
        .optional()
        .build()
        .unwrap();
    let app = Router::new()
        .route(
            "/orders",
            post(whoami).layer(RequireScope::new("orders:write")),
        )
        .layer(layer);
    let res = send(&app, "POST", "/orders", None).await;
    assert_eq!(res.status(), 401);
    assert_eq!(www(&res), Some(r#"Bearer realm="orders""#));
}

#[test]
fn bad_literals_fail_at_construction() {
    assert!(matches!(
        RequireScope::try_new("orders write"),
        Err(ConfigError::InvalidScope { .. })
    ));
    assert!(matches!(
        RequireScope::try_new(""),
        Err(ConfigError::InvalidScope { .. })
    ));
    assert!(matches!(
        RequireScope::try_any_of(Vec::<&str>::new()),
        Err(ConfigError::EmptyRequirement { .. })
    ));
    assert!(matches!(
        RequireRole::try_new(""),
        Err(ConfigError::InvalidRole { .. })
    ));
    assert!(RequireScope::try_new("orders:write")
        .unwrap()
        .try_or_role("\n")
        .is_err());
    let panicked = std::panic::catch_unwind(|| RequireScope::new("bad\"scope"));
    assert!(panicked.is_err());
}

#[tokio::test]
async fn scopes_from_scope_scp_array_and_scp_string() {
    let idp = MockIssuer::start().await;
    let app = guarded(mock_layer(&idp).await);
    for token in [
        idp.token().scope("orders:write orders:read").sign(),
        idp.token()
            .claim("scp", json!(["orders:write", "orders:read"]))
            .sign(),
        idp.token().claim("scp", "orders:write orders:read").sign(),
    ] {
        let res = send(&app, "POST", "/orders", Some(&token)).await;
        assert_eq!(res.status(), 200);
        assert_eq!(body(res).await, "orders:write orders:read|");
    }
}

#[tokio::test]
async fn each_role_mapping() {
    let idp = MockIssuer::start().await;
    let cases: [(&str, serde_json::Value); 6] = [
        (
            "realm_access/roles",
            json!({"realm_access": {"roles": ["admin", "offline_access"]}}),
        ),
        (
            "resource_access/orders-api/roles",
            json!({"resource_access": {"orders-api": {"roles": ["admin"]}, "other": {"roles": ["x"]}}}),
        ),
        (
            "https://example.com/roles",
            json!({"https://example.com/roles": ["admin"]}),
        ),
        ("cognito:groups", json!({"cognito:groups": ["admin"]})),
        ("roles", json!({"roles": ["admin"]})),
        ("permissions", json!({"permissions": "admin read:orders"})),
    ];
    for (path, claims) in cases {
        let layer = layer_for(
            idp.issuer_builder()
                .audience("orders-api")
                .roles_from(ClaimPath::parse(path).unwrap()),
        )
        .await
        .unwrap();
        let app = guarded(layer);
        let mut t = idp.token();
        for (k, v) in claims.as_object().unwrap() {
            t = t.claim(k, v.clone());
        }
        let res = send(&app, "POST", "/admin", Some(&t.sign())).await;
        assert_eq!(res.status(), 200, "{path}");
        assert!(
            body(res)
                .await
                .split('|')
                .nth(1)
                .unwrap()
                .split(' ')
                .any(|r| r == "admin"),
            "{path}"
        );
        // The same claims under a path that is not configured grant nothing.
        let other = idp.token().claim("groups", json!(["admin"])).sign();
        assert_eq!(
            send(&app, "POST", "/admin", Some(&other)).await.status(),
            403,
            "{path}"
        );
    }
}

fn fetches(idp: &MockIssuer) -> usize {
    idp.discovery_fetches() + idp.jwks_fetches()
}

#[tokio::test]
async fn multi_issuer_keys_are_never_mixed_and_unknown_iss_costs_nothing() {
    let a = MockIssuer::start().await;
    let b = MockIssuer::start().await;
    // Distinct keys: the pool is shared, so give B another RSA key.
    let b_kid = b.rotate(Algorithm::RS256);
    assert_ne!(b_kid, a.signing_kid());
    let layer = AuthLayer::builder()
        .issuer(orders_issuer(&a).await)
        .issuer(orders_issuer(&b).await)
        .build()
        .unwrap();
    let app = Router::new().route("/", get(whoami)).layer(layer);

    assert_eq!(
        send(&app, "GET", "/", Some(&a.token().sign()))
            .await
            .status(),
        200
    );
    assert_eq!(
        send(&app, "GET", "/", Some(&b.token().sign()))
            .await
            .status(),
        200
    );
    // Claims iss A, signed by B's key: with A's kid in the header (bad
    // signature) or B's own kid (unknown to A: one refresh of A, never B's keys).
    let forged = b
        .token()
        .issuer(&a.issuer_url())
        .header_kid(Some(&a.signing_kid()))
        .sign();
    assert_eq!(send(&app, "GET", "/", Some(&forged)).await.status(), 401);
    let b_before = fetches(&b);
    let forged = b.token().issuer(&a.issuer_url()).sign();
    assert_eq!(send(&app, "GET", "/", Some(&forged)).await.status(), 401);
    assert_eq!(
        fetches(&b),
        b_before,
        "B's keys are never fetched for an A token"
    );

    // An unknown iss: refused with no request to any issuer.
    let (fa, fb) = (fetches(&a), fetches(&b));
    let stranger = MockIssuer::start().await;
    for token in [
        a.token().issuer("https://evil.example.com").sign(),
        stranger.token().sign(),
        a.token().without_claim("iss").sign(),
    ] {
        let res = send(&app, "GET", "/", Some(&token)).await;
        assert_eq!(res.status(), 401);
        assert!(www(&res).unwrap().contains("invalid_token"));
    }
    assert_eq!((fetches(&a), fetches(&b), fetches(&stranger)), (fa, fb, 0));
}

#[tokio::test]
async fn lazy_issuers_discover_once_are_bounded_and_never_contact_strangers() {
    let a = MockIssuer::start().await;
    let c = MockIssuer::start().await;
    let d = MockIssuer::start().await;
    let stranger = MockIssuer::start().await;
    c.rotate(Algorithm::ES256);
    let lazy = LazyIssuers::from_list([c.issuer_url(), d.issuer_url()], |b| {
        b.audience("orders-api").http(loopback())
    })
    .max_issuers(1);
    let layer = AuthLayer::builder()
        .issuer(orders_issuer(&a).await)
        .lazy_issuers(lazy)
        .build()
        .unwrap();
    let app = Router::new().route("/", get(whoami)).layer(layer);
    assert_eq!(fetches(&c), 0, "nothing is fetched before the first token");

    // Several first requests at once: one discovery, one key fetch.
    let token = c.token().scope("orders:read").sign();
    let results =
        futures_util::future::join_all((0..4).map(|_| send(&app, "GET", "/", Some(&token)))).await;
    assert!(results.iter().all(|r| r.status() == 200));
    assert_eq!((c.discovery_fetches(), c.jwks_fetches()), (1, 1));
    assert_eq!(
        send(&app, "GET", "/", Some(&c.token().sign()))
            .await
            .status(),
        200
    );
    assert_eq!(fetches(&c), 2, "cached after the first token");

    // A trusted issuer beyond the bound, and an untrusted one: refused, never contacted.
    assert_eq!(
        send(&app, "GET", "/", Some(&d.token().sign()))
            .await
            .status(),
        401
    );
    assert_eq!(
        send(&app, "GET", "/", Some(&stranger.token().sign()))
            .await
            .status(),
        401
    );
    assert_eq!((fetches(&d), fetches(&stranger)), (0, 0));
    // The static issuer still works.
    assert_eq!(
        send(&app, "GET", "/", Some(&a.token().sign()))
            .await
            .status(),
        200
    );
}

#[tokio::test]
async fn lazy_issuer_down_is_503_then_retried_after_cooldown() {
    let c = MockIssuer::start().await;
    c.set_outage(true);
    let lazy = LazyIssuers::from_list([c.issuer_url()], |b| {
        b.audience("orders-api").http(loopback()).refresh(
            oauth2_guard::RefreshConfig::default()
                .startup_timeout(std::time::Duration::from_secs(2)),
        )
    })
    .retry_after(std::time::Duration::from_millis(200));
    let app = Router::new()
        .route("/", get(whoami))
        .layer(AuthLayer::builder().lazy_issuers(lazy).build().unwrap());
    let token = c.token().sign();
    let res = send(&app, "GET", "/", Some(&token)).await;
    assert_eq!(res.status(), 503);
    let during = fetches(&c);
    assert_eq!(send(&app, "GET", "/", Some(&token)).await.status(), 503);
    assert_eq!(fetches(&c), during, "no new discovery during the cooldown");
    c.set_outage(false);
    tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    assert_eq!(send(&app, "GET", "/", Some(&token)).await.status(), 200);
}

// ---- presets: realistic token shapes, verified by the real layer ----

#[tokio::test]
async fn keycloak_preset() {
    let idp = MockIssuer::start().await;
    // Keycloak publishes an RSA-OAEP encryption key next to its signing key.
    let sig = idp.jwks_json()["keys"][0].clone();
    idp.add_raw_jwk(json!({"kid": "enc-1", "kty": "RSA", "alg": "RSA-OAEP", "use": "enc", "n": sig["n"], "e": sig["e"]}));
    let iss = format!("{}/realms/shop", idp.issuer_url());
    let builder = Keycloak::from_issuer(&iss)
        .client_roles("orders-api")
        .builder()
        .unwrap()
        .jwks_uri(idp.jwks_url())
        .http(loopback())
        .audience("orders-api");
    let app = guarded(layer_for(builder).await.unwrap());
    let kc = |typ: &str| {
        idp.token()
            .typ(Some("JWT"))
            .issuer(&iss)
            .audience(json!(["orders-api", "account"]))
            .without_claim("client_id")
            .claim("typ", typ)
            .claim("azp", "web-shop")
            .claim("scope", "openid profile email orders:write")
            .claim("realm_access", json!({"roles": ["offline_access", "uma_authorization"]}))
            .claim("resource_access", json!({"orders-api": {"roles": ["admin"]}, "account": {"roles": ["manage-account"]}}))
            .claim("preferred_username", "alice")
    };
    let res = send(&app, "POST", "/orders", Some(&kc("Bearer").sign())).await;
    assert_eq!(res.status(), 200);
    assert_eq!(
        body(res).await,
        "openid profile email orders:write|offline_access uma_authorization admin"
    );
    assert_eq!(
        send(&app, "POST", "/admin", Some(&kc("Bearer").sign()))
            .await
            .status(),
        200
    );
    // An ID token is not an access token.
    assert_eq!(
        send(&app, "POST", "/orders", Some(&kc("ID").sign()))
            .await
            .status(),
        401
    );
    // `aud: account` alone is not this API.
    let account_only = kc("Bearer").audience("account").sign();
    assert_eq!(
        send(&app, "POST", "/orders", Some(&account_only))
            .await
            .status(),
        401
    );
}

#[tokio::test]
async fn auth0_preset() {
    let idp = MockIssuer::start().await;
    let builder = Auth0::from_issuer(&idp.issuer_url())
        .roles_claim("https://example.com/roles")
        .builder()
        .unwrap()
        .jwks_uri(idp.jwks_url())
        .http(loopback())
        .audience("https://api.example.com/orders");
    let iss = format!("{}/", idp.issuer_url());
    let app = guarded(layer_for(builder).await.unwrap());
    let token = idp
        .token()
        .typ(Some("JWT"))
        .issuer(&iss)
        .subject("auth0|64f1c2")
        .audience(json!([
            "https://api.example.com/orders",
            "https://tenant.eu.auth0.com/userinfo"
        ]))
        .without_claim("client_id")
        .claim("azp", "Xyz123")
        .claim("scope", "openid profile orders:write")
        .claim("permissions", json!(["orders:write", "orders:read"]))
        .claim("https://example.com/roles", json!(["admin"]))
        .sign();
    let res = send(&app, "POST", "/orders", Some(&token)).await;
    assert_eq!(res.status(), 200);
    assert_eq!(
        body(res).await,
        "openid profile orders:write|orders:write orders:read admin"
    );
    assert_eq!(
        send(&app, "POST", "/admin", Some(&token)).await.status(),
        200
    );
    // Without the trailing slash it is another issuer.
    let wrong = idp
        .token()
        .typ(Some("JWT"))
        .audience("https://api.example.com/orders")
        .sign();
    assert_eq!(
        send(&app, "POST", "/orders", Some(&wrong)).await.status(),
        401
    );
}

#[tokio::test]
async fn okta_preset() {
    let idp = MockIssuer::start().await;
    let iss = format!("{}/oauth2/default", idp.issuer_url());
    let builder = Okta::from_issuer(&iss)
        .groups_claim("groups")
        .builder()
        .unwrap()
        .jwks_uri(idp.jwks_url())
        .http(loopback())
        .audience("api://default");
    let app = guarded(layer_for(builder).await.unwrap());
    let token = idp
        .token()
        .typ(None)
        .issuer(&iss)
        .audience("api://default")
        .without_claim("client_id")
        .claim("ver", 1)
        .claim("cid", "0oa1b2c3")
        .claim("uid", "00u1a2b3")
        .claim("scp", json!(["openid", "orders:write"]))
        .claim("groups", json!(["admin", "Everyone"]))
        .sign();
    let res = send(&app, "POST", "/orders", Some(&token)).await;
    assert_eq!(res.status(), 200);
    assert_eq!(body(res).await, "openid orders:write|admin Everyone");
    assert_eq!(
        send(&app, "POST", "/admin", Some(&token)).await.status(),
        200
    );
}

#[tokio::test]
async fn cognito_preset_checks_client_id_and_token_use_not_aud() {
    let idp = MockIssuer::start().await;
    let builder = Cognito::from_issuer(&idp.issuer_url())
        .app_clients(["1example23456789"])
        .builder()
        .unwrap()
        .jwks_uri(idp.jwks_url())
        .http(loopback());
    let app = guarded(layer_for(builder).await.unwrap());
    let access = || {
        idp.token()
            .typ(None)
            .without_claim("aud")
            .claim("client_id", "1example23456789")
            .claim("token_use", "access")
            .claim("username", "alice")
            .claim("scope", "orders:write aws.cognito.signin.user.admin")
            .claim("cognito:groups", json!(["admin"]))
    };
    let res = send(&app, "POST", "/orders", Some(&access().sign())).await;
    assert_eq!(res.status(), 200);
    assert_eq!(
        body(res).await,
        "orders:write aws.cognito.signin.user.admin|admin"
    );
    assert_eq!(
        send(&app, "POST", "/admin", Some(&access().sign()))
            .await
            .status(),
        200
    );
    // Another app client of the same pool.
    let other = access().claim("client_id", "other-client").sign();
    assert_eq!(
        send(&app, "POST", "/orders", Some(&other)).await.status(),
        401
    );
    // An ID token: `aud` is the app client, but token_use is "id".
    let id = access()
        .without_claim("client_id")
        .audience("1example23456789")
        .claim("token_use", "id")
        .sign();
    assert_eq!(send(&app, "POST", "/orders", Some(&id)).await.status(), 401);
    // An app without configured clients is refused at build time.
    let none = Cognito::from_issuer(&idp.issuer_url())
        .builder()
        .unwrap()
        .jwks_uri(idp.jwks_url())
        .http(loopback());
    assert!(matches!(none.build().await, Err(ConfigError::NoAudience)));
}

#[tokio::test]
async fn entra_preset_v2_by_default_v1_opt_in() {
    let idp = MockIssuer::start().await;
    let tenant = "72f988bf-86f1-41af-91ab-2d7cd011db47";
    let v2_iss = format!("{}/{tenant}/v2.0", idp.issuer_url());
    let v1_iss = format!("{}/{tenant}/", idp.issuer_url());
    let app_id = "6e74172b-be56-4843-9ff4-e66a39bb12e3";
    let entra = |iss: &str, v1: bool| {
        let p = Entra::from_issuer(iss);
        let p = if v1 { p.v1() } else { p };
        p.builder()
            .unwrap()
            .jwks_uri(idp.jwks_url())
            .http(loopback())
            .audience(app_id)
    };
    let v2 = guarded(layer_for(entra(&v2_iss, false)).await.unwrap());
    let token = |iss: &str, ver: &str| {
        idp.token()
            .typ(Some("JWT"))
            .issuer(iss)
            .audience(app_id)
            .without_claim("client_id")
            .claim("ver", ver)
            .claim("tid", tenant)
            .claim("azp", "a1b2")
            .claim("oid", "0c9e")
    };
    // Delegated: `scp` space-delimited.
    let delegated = token(&v2_iss, "2.0")
        .claim("scp", "orders:write User.Read")
        .sign();
    let res = send(&v2, "POST", "/orders", Some(&delegated)).await;
    assert_eq!(res.status(), 200);
    assert_eq!(body(res).await, "orders:write User.Read|");
    // App-only: `roles`.
    let app_only = token(&v2_iss, "2.0")
        .claim("roles", json!(["admin"]))
        .sign();
    assert_eq!(
        send(&v2, "POST", "/admin", Some(&app_only)).await.status(),
        200
    );
    assert_eq!(
        send(&v2, "POST", "/orders", Some(&app_only)).await.status(),
        403
    );
    // A v1 token (even at the v2 issuer string) is refused by the v2 preset.
    let v1_token = token(&v2_iss, "1.0").claim("scp", "orders:write").sign();
    assert_eq!(
        send(&v2, "POST", "/orders", Some(&v1_token)).await.status(),
        401
    );
    // `.v1()` accepts v1 tokens, and no v2 ones.
    let v1 = guarded(layer_for(entra(&v1_iss, true)).await.unwrap());
    let v1_token = token(&v1_iss, "1.0").claim("scp", "orders:write").sign();
    assert_eq!(
        send(&v1, "POST", "/orders", Some(&v1_token)).await.status(),
        200
    );
    let v2_at_v1 = token(&v1_iss, "2.0").claim("scp", "orders:write").sign();
    assert_eq!(
        send(&v1, "POST", "/orders", Some(&v2_at_v1)).await.status(),
        401
    );
}
