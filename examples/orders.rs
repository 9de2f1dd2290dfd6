//! An orders service protected by oauth2-guard.
//!
//! ```text
//! cargo run --example orders
//! ```
//!
//! With no configuration it starts an embedded test issuer on 127.0.0.1 and
//! prints ready-to-paste `curl` commands with freshly minted tokens. Set
//! `OAUTH2_ISSUER` and `OAUTH2_AUDIENCE` to protect it with a real IdP
//! (Keycloak, Auth0, Okta, Cognito, Entra ID), and `ORDERS_ADDR` to listen
//! elsewhere than 127.0.0.1:8080.
//!
//! A real IdP must be reached over HTTPS. For one running on this machine
//! over plain HTTP (`http://127.0.0.1:…`, say Keycloak in a container), set
//! `OAUTH2_ALLOW_LOOPBACK_HTTP=1` as well: the opt-in is explicit, never
//! implied. The embedded issuer always uses it.
//!
//! - `GET /health` — public.
//! - `GET /orders` — needs scope `orders:read`.
//! - `POST /orders` — needs scope `orders:write`.

use std::net::SocketAddr;
use std::time::Duration;

use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use oauth2_guard::authz::RequireScope;
use oauth2_guard::testkit::MockIssuer;
use oauth2_guard::HttpConfig;
use oauth2_guard::{AuthLayer, Issuer, VerifiedClaims};
use serde_json::{json, Value};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,oauth2_guard=debug".into()),
        )
        .init();

    let addr: SocketAddr = std::env::var("ORDERS_ADDR")
        .unwrap_or_else(|_| "127.0.0.1:8080".into())
        .parse()?;

    // Keep the embedded issuer alive for the whole run.
    let (issuer, _embedded) = match (
        std::env::var("OAUTH2_ISSUER"),
        std::env::var("OAUTH2_AUDIENCE"),
    ) {
        (Ok(iss), Ok(aud)) => {
            println!("Protecting with {iss} (audience {aud})");
            let mut http = HttpConfig::default();
            if std::env::var("OAUTH2_ALLOW_LOOPBACK_HTTP").as_deref() == Ok("1") {
                println!("Plain HTTP to 127.0.0.1 / [::1] allowed (OAUTH2_ALLOW_LOOPBACK_HTTP=1)");
                http = http.allow_loopback_http();
            }
            let issuer = Issuer::builder(iss)
                .audience(aud)
                .http(http)
                .build()
                .await?;
            (issuer, None)
        }
        _ => {
            let idp = MockIssuer::start().await;
            // `issuer_builder` carries the loopback opt-in the mock needs.
            let issuer = idp
                .issuer_builder()
                .audience(idp.default_audience())
                .build()
                .await?;
            (issuer, Some(idp))
        }
    };

    let protected = Router::new()
        // Per-route guards: 403 insufficient_scope (RFC 6750 §3.1) when the scope is missing.
        .route(
            "/orders",
            get(list_orders)
                .layer(RequireScope::new("orders:read"))
                .merge(post(create_order).layer(RequireScope::new("orders:write"))),
        )
        .layer(
            AuthLayer::builder()
                .issuer(issuer)
                .realm("orders")
                .build()?,
        );
    // Public routes live outside the layer, declared explicitly.
    let app = Router::new()
        .route("/health", get(|| async { "ok" }))
        .merge(protected);

    let listener = tokio::net::TcpListener::bind(addr).await?;
    let base = format!("http://{}", listener.local_addr()?);
    println!("orders service on {base}");
    if let Some(idp) = &_embedded {
        print_demo(idp, &base);
    }
    axum::serve(listener, app).await?;
    Ok(())
}

async fn list_orders(Extension(claims): Extension<VerifiedClaims>) -> Json<Value> {
    Json(json!({
        "caller": claims.subject(),
        "orders": [{"id": 1, "item": "coffee"}, {"id": 2, "item": "tea"}],
    }))
}

async fn create_order(Extension(claims): Extension<VerifiedClaims>) -> (StatusCode, Json<Value>) {
    (
        StatusCode::CREATED,
        Json(json!({"id": 3, "created_by": claims.subject()})),
    )
}

fn print_demo(idp: &MockIssuer, base: &str) {
    let hour = Duration::from_secs(3600);
    let read = idp
        .token()
        .subject("alice")
        .scope("orders:read")
        .expires_in(hour)
        .sign();
    let write = idp
        .token()
        .subject("alice")
        .scope("orders:read orders:write")
        .expires_in(hour)
        .sign();
    let expired = idp
        .token()
        .subject("alice")
        .scope("orders:read")
        .expired()
        .sign();
    let wrong_aud = idp
        .token()
        .subject("alice")
        .scope("orders:read")
        .audience("billing-api")
        .sign();
    println!(
        "\nEmbedded issuer: {} (tokens valid for 1 h)\n",
        idp.issuer_url()
    );
    println!("# public\ncurl -i {base}/health\n");
    println!(
        "# no token -> 401 with WWW-Authenticate: Bearer realm=\"orders\"\ncurl -i {base}/orders\n"
    );
    println!("# valid token with orders:read -> 200\ncurl -i -H 'Authorization: Bearer {read}' {base}/orders\n");
    println!("# orders:read only, POST needs orders:write -> 403 insufficient_scope\ncurl -i -X POST -H 'Authorization: Bearer {read}' {base}/orders\n");
    println!(
        "# orders:write -> 201\ncurl -i -X POST -H 'Authorization: Bearer {write}' {base}/orders\n"
    );
    println!("# expired -> 401 invalid_token \"The access token expired\"\ncurl -i -H 'Authorization: Bearer {expired}' {base}/orders\n");
    println!("# wrong audience -> 401 invalid_token\ncurl -i -H 'Authorization: Bearer {wrong_aud}' {base}/orders\n");
}
