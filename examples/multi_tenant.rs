//! Multi-tenant APIs, two ways — run with
//! `cargo run --example multi_tenant --features testkit`.
//!
//! 1. Two tenants, two issuers: two embedded mock IdPs on loopback (tenant A
//!    shaped like Keycloak, tenant B like Amazon Cognito), one `AuthLayer`
//!    that accepts both, routes guarded by scope and role.
//! 2. A multi-tenant SaaS app (Entra ID `common`-style): one issuer template
//!    `…/{tenantid}/v2.0` with one shared key set, a tenant allow-list, a
//!    tenant-scoped route (`Tenant`) and an app-role extractor (`HasRole`).
//!
//! Each part sends a handful of requests through the router in-process and
//! prints each answer. Needs no configuration and exits by itself (the
//! whole demo is bounded by a 30 s timeout).

use std::time::Duration;

use axum::body::Body;
use axum::extract::Path;
use axum::routing::{get, post};
use axum::{Extension, Router};
use http::Request;
use http_body_util::BodyExt;
use oauth2_guard::authz::{AuthzRejection, HasRole, RequireRole, RequireScope, Tenant};
use oauth2_guard::presets::{Cognito, Entra, Keycloak};
use oauth2_guard::tenant::TenantPolicy;
use oauth2_guard::testkit::{Algorithm, MockIssuer};
use oauth2_guard::HttpConfig;
use oauth2_guard::{AuthLayer, VerifiedClaims};
use serde_json::json;
use tower::ServiceExt;

async fn whoami(Extension(c): Extension<VerifiedClaims>) -> String {
    format!(
        "tenant={} sub={} scopes=[{}] roles=[{}]",
        c.issuer(),
        c.subject().unwrap_or("-"),
        c.scopes().join(" "),
        c.roles().join(" ")
    )
}

async fn demo() -> Result<(), Box<dyn std::error::Error>> {
    let idp_a = MockIssuer::start().await;
    let idp_b = MockIssuer::start().await;
    // The mocks share a key pool; give tenant B keys of its own.
    idp_b.rotate(Algorithm::ES256);

    let tenant_a = format!("{}/realms/tenant-a", idp_a.issuer_url());
    let issuer_a = Keycloak::from_issuer(&tenant_a)
        .client_roles("orders-api")
        .builder()?
        .jwks_uri(idp_a.jwks_url())
        // The demo's IdPs serve plain HTTP on 127.0.0.1: opted into explicitly.
        .http(HttpConfig::default().allow_loopback_http())
        .audience("orders-api")
        .build()
        .await?;
    let issuer_b = Cognito::from_issuer(&idp_b.issuer_url())
        .app_clients(["tenant-b-app"])
        .builder()?
        .jwks_uri(idp_b.jwks_url())
        .http(HttpConfig::default().allow_loopback_http())
        .build()
        .await?;
    println!("tenant A (Keycloak-shaped): {tenant_a}");
    println!("tenant B (Cognito-shaped):  {}", idp_b.issuer_url());

    let auth = AuthLayer::builder()
        .issuer(issuer_a)
        .issuer(issuer_b)
        .realm("orders")
        .build()?;
    let protected = Router::new()
        .route(
            "/orders",
            get(whoami).merge(post(whoami).layer(RequireScope::new("orders:write"))),
        )
        .route("/admin", post(whoami).layer(RequireRole::new("admin")))
        .layer(auth);
    // Public routes live outside the layer.
    let app = Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .merge(protected);

    let token_a = idp_a
        .token()
        .typ(Some("JWT"))
        .issuer(&tenant_a)
        .subject("alice@tenant-a")
        .claim("typ", "Bearer")
        .claim("scope", "orders:read orders:write")
        .claim(
            "resource_access",
            json!({"orders-api": {"roles": ["admin"]}}),
        )
        .sign();
    let token_b = idp_b
        .token()
        .typ(None)
        .subject("bob@tenant-b")
        .without_claim("aud")
        .claim("client_id", "tenant-b-app")
        .claim("token_use", "access")
        .claim("scope", "orders:read")
        .claim("cognito:groups", json!(["clerks"]))
        .sign();
    // Claims tenant A, signed with tenant B's key.
    let forged = idp_b
        .token()
        .issuer(&tenant_a)
        .claim("typ", "Bearer")
        .sign();
    let (fa, fb) = (idp_a.jwks_fetches(), idp_b.jwks_fetches());

    let cases = [
        ("GET", "/healthz", None, "public route, no token"),
        ("GET", "/orders", None, "protected route, no token"),
        ("GET", "/orders", Some(&token_a), "tenant A reads"),
        (
            "POST",
            "/orders",
            Some(&token_a),
            "tenant A writes (has orders:write)",
        ),
        (
            "POST",
            "/admin",
            Some(&token_a),
            "tenant A admin (client role)",
        ),
        ("GET", "/orders", Some(&token_b), "tenant B reads"),
        (
            "POST",
            "/orders",
            Some(&token_b),
            "tenant B writes (lacks orders:write)",
        ),
        (
            "POST",
            "/admin",
            Some(&token_b),
            "tenant B admin (not in group)",
        ),
        ("GET", "/orders", Some(&forged), "iss A signed by B's key"),
    ];
    for (method, path, token, what) in cases {
        send(&app, method, path, token.map(String::as_str), what).await?;
    }
    println!(
        "key fetches during the demo: tenant A {}, tenant B {} (keys are never shared across tenants)",
        idp_a.jwks_fetches() - fa,
        idp_b.jwks_fetches() - fb
    );
    Ok(())
}

/// Send one request through `app` and print the answer.
async fn send(
    app: &Router,
    method: &str,
    path: &str,
    token: Option<&str>,
    what: &str,
) -> Result<(), Box<dyn std::error::Error>> {
    let mut req = Request::builder().method(method).uri(path);
    if let Some(t) = token {
        req = req.header("authorization", format!("Bearer {t}"));
    }
    let res = app.clone().oneshot(req.body(Body::empty())?).await?;
    let status = res.status();
    let reason = res
        .extensions()
        .get::<oauth2_guard::Rejection>()
        .map(|r| format!(" [{}]", r.reason()))
        .unwrap_or_default();
    let challenge = res
        .headers()
        .get("www-authenticate")
        .and_then(|v| v.to_str().ok())
        .map(|v| format!("\n      WWW-Authenticate: {v}"))
        .unwrap_or_default();
    let body = String::from_utf8_lossy(&res.into_body().collect().await?.to_bytes()).into_owned();
    println!("{method:>4} {path:<14} {what:<38} -> {status}{reason} {body}{challenge}");
    Ok(())
}

oauth2_guard::role!(Admin = "admin");

/// Part 2: one Entra-style multi-tenant app, the embedded issuer's keys
/// standing in for the shared keys of `login.microsoftonline.com/common`.
async fn saas() -> Result<(), Box<dyn std::error::Error>> {
    const CONTOSO: &str = "11111111-1111-4111-8111-111111111111";
    const FABRIKAM: &str = "22222222-2222-4222-8222-222222222222";
    const STRANGER: &str = "33333333-3333-4333-8333-333333333333";
    let idp = MockIssuer::start().await;
    let template = format!("{}/{{tenantid}}/v2.0", idp.issuer_url());
    let issuer = Entra::multi_tenant()
        // Real deployments: `Entra::multi_tenant()` alone uses Microsoft's
        // template and keys; the demo points both at the embedded issuer.
        .endpoints(&template, &idp.jwks_url())
        .tenant_policy(TenantPolicy::allow([CONTOSO, FABRIKAM]))
        .audience("orders-api")
        .builder()?
        .http(HttpConfig::default().allow_loopback_http())
        .build()
        .await?;
    println!("\nmulti-tenant SaaS app, issuer template {template}");

    async fn orders(Path(tid): Path<String>, t: Tenant) -> Result<String, AuthzRejection> {
        t.require(&tid)?;
        Ok(format!("orders of tenant {}", t.id()))
    }
    async fn purge(t: HasRole<Admin>) -> String {
        format!("cache purged by {}", t.subject().unwrap_or("-"))
    }
    let app = Router::new()
        .route("/t/{tid}/orders", get(orders))
        .route("/purge", post(purge))
        .layer(AuthLayer::builder().issuer(issuer).realm("saas").build()?);

    let token = |iss_tenant: &str, tid: &str, roles: serde_json::Value| {
        idp.token()
            .issuer(&format!("{}/{iss_tenant}/v2.0", idp.issuer_url()))
            .subject(&format!("user@{tid}"))
            .claim("tid", tid)
            .claim("ver", "2.0")
            .claim("roles", roles)
            .sign()
    };
    let contoso_admin = token(CONTOSO, CONTOSO, json!(["admin"]));
    let fabrikam_user = token(FABRIKAM, FABRIKAM, json!([]));
    let stranger = token(STRANGER, STRANGER, json!(["admin"]));
    let crossed = token(CONTOSO, FABRIKAM, json!(["admin"]));
    let contoso_orders = format!("/t/{CONTOSO}/orders");
    let fabrikam_orders = format!("/t/{FABRIKAM}/orders");
    let cases = [
        (
            "GET",
            &contoso_orders,
            &contoso_admin,
            "Contoso reads its orders",
        ),
        (
            "GET",
            &fabrikam_orders,
            &fabrikam_user,
            "Fabrikam reads its orders",
        ),
        (
            "GET",
            &fabrikam_orders,
            &contoso_admin,
            "Contoso reads Fabrikam's orders",
        ),
        (
            "GET",
            &contoso_orders,
            &stranger,
            "a tenant not on the list",
        ),
        (
            "GET",
            &contoso_orders,
            &crossed,
            "Fabrikam token, Contoso's iss",
        ),
        (
            "POST",
            &"/purge".to_owned(),
            &contoso_admin,
            "admin app role",
        ),
        (
            "POST",
            &"/purge".to_owned(),
            &fabrikam_user,
            "no admin app role",
        ),
    ];
    for (method, path, token, what) in cases {
        send(&app, method, path, Some(token), what).await?;
    }
    Ok(())
}

async fn both() -> Result<(), Box<dyn std::error::Error>> {
    demo().await?;
    saas().await
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    match tokio::time::timeout(Duration::from_secs(30), both()).await {
        Ok(result) => result,
        Err(_) => Err("demo did not finish within 30 s".into()),
    }
}
