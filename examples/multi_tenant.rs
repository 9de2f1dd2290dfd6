//! Two tenants, two issuers, one API — run with
//! `cargo run --example multi_tenant --features testkit`.
//!
//! Starts two embedded mock IdPs on loopback (tenant A shaped like Keycloak,
//! tenant B like Amazon Cognito), builds one `AuthLayer` that accepts both,
//! guards routes by scope and role, sends a handful of requests through the
//! router in-process and prints each answer. Needs no configuration and
//! exits by itself (the whole demo is bounded by a 30 s timeout).

use std::time::Duration;

use axum::body::Body;
use axum::routing::{get, post};
use axum::{Extension, Router};
use http::Request;
use http_body_util::BodyExt;
use oauth2_guard::authz::{RequireRole, RequireScope};
use oauth2_guard::presets::{Cognito, Keycloak};
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
        let mut req = Request::builder().method(method).uri(path);
        if let Some(t) = token {
            req = req.header("authorization", format!("Bearer {t}"));
        }
        let res = app.clone().oneshot(req.body(Body::empty())?).await?;
        let status = res.status();
        let challenge = res
            .headers()
            .get("www-authenticate")
            .and_then(|v| v.to_str().ok())
            .map(|v| format!("\n      WWW-Authenticate: {v}"))
            .unwrap_or_default();
        let body =
            String::from_utf8_lossy(&res.into_body().collect().await?.to_bytes()).into_owned();
        println!("{method:>4} {path:<9} {what:<38} -> {status} {body}{challenge}");
    }
    println!(
        "key fetches during the demo: tenant A {}, tenant B {} (keys are never shared across tenants)",
        idp_a.jwks_fetches() - fa,
        idp_b.jwks_fetches() - fb
    );
    Ok(())
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    match tokio::time::timeout(Duration::from_secs(30), demo()).await {
        Ok(result) => result,
        Err(_) => Err("demo did not finish within 30 s".into()),
    }
}
