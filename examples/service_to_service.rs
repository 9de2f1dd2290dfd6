//! Service A (checkout) calls service B (orders) with a client-credentials
//! token. Everything runs in-process: an embedded test-kit issuer, service B
//! on 127.0.0.1 behind `AuthLayer` with a check of scope `orders:write`, and
//! service A using reqwest. No configuration; exits by itself.
//!
//! ```text
//! cargo run --example service_to_service --features testkit,client
//! ```

use axum::http::StatusCode;
use axum::routing::post;
use axum::{Extension, Router};
use oauth2_guard::testkit::MockIssuer;
use oauth2_guard::{AuthLayer, VerifiedClaims};

/// Service B's handler: only callers granted `orders:write` may create orders.
async fn create_order(Extension(claims): Extension<VerifiedClaims>) -> (StatusCode, String) {
    let caller = claims.client_id().unwrap_or("unknown").to_owned();
    if claims.has_scope("orders:write") {
        (
            StatusCode::CREATED,
            format!("order 42 created for {caller}"),
        )
    } else {
        (
            StatusCode::FORBIDDEN,
            format!("{caller} lacks orders:write"),
        )
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // The identity provider, with service A registered as a client.
    let idp = MockIssuer::start().await;
    idp.register_client("checkout", "checkout-secret");
    println!("1. issuer running at {}", idp.issuer_url());

    // Service B (orders): two lines of auth.
    let issuer = idp.issuer_builder().audience("orders-api").build().await?;
    let orders = Router::new()
        .route("/orders", post(create_order))
        .layer(AuthLayer::new(issuer));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let orders_url = format!("http://{}/orders", listener.local_addr()?);
    let server = tokio::spawn(async move { axum::serve(listener, orders).await });
    println!(
        "2. service B (orders) listening at {orders_url}, audience orders-api, needs orders:write"
    );

    // Service A (checkout): two lines of auth.
    let orders_token = idp
        .client_credentials_builder("checkout")
        .client_secret("checkout-secret")
        .resource("orders-api")
        .scope("orders:write")
        .build()
        .await?;
    println!(
        "3. service A (checkout) discovered the token endpoint {}",
        orders_token.token_endpoint()
    );

    let http = reqwest::Client::new();
    let response = orders_token.send(http.post(&orders_url)).await?;
    println!(
        "4. A -> B with a client-credentials token: {} {}",
        response.status(),
        response.text().await?
    );

    let response = orders_token.send(http.post(&orders_url)).await?;
    println!(
        "5. A -> B again: {} {} (token reused: {} token request(s) so far)",
        response.status(),
        response.text().await?,
        idp.token_requests()
    );

    let response = http.post(&orders_url).send().await?;
    println!("6. a caller without a token: {}", response.status());

    // Another client, granted only orders:read, is authenticated but not allowed.
    idp.register_client("reporting", "reporting-secret");
    let read_only = idp
        .client_credentials_builder("reporting")
        .client_secret("reporting-secret")
        .resource("orders-api")
        .scope("orders:read")
        .build()
        .await?;
    let response = read_only.send(http.post(&orders_url)).await?;
    println!(
        "7. reporting -> B with orders:read only: {} {}",
        response.status(),
        response.text().await?
    );

    // A token for another service is refused by B (audience check).
    let billing_token = idp
        .client_credentials_builder("checkout")
        .client_secret("checkout-secret")
        .resource("billing-api")
        .scope("orders:write")
        .build()
        .await?;
    let response = billing_token.send(http.post(&orders_url)).await?;
    println!(
        "8. A -> B with a token for billing-api: {}",
        response.status()
    );

    server.abort();
    println!("done");
    Ok(())
}
