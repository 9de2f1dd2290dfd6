//! The HTTP side: discovery, JWKS, counters, outages and delays, and the
//! server's lifetime.

use std::time::{Duration, Instant};

use serde_json::{json, Value};

use super::{get, kids};
use crate::testkit::{MockIssuer, MockIssuerConfig};

#[tokio::test]
async fn serves_discovery_documents_and_counts_them() {
    let issuer = MockIssuer::start().await;
    assert!(issuer.issuer_url().starts_with("http://127.0.0.1:"));
    assert!(!issuer.issuer_url().ends_with('/'));
    assert_eq!(issuer.discovery_fetches(), 0);

    let response = get(&issuer.discovery_url()).await;
    assert_eq!(response.status(), 200);
    let doc: Value = response.json().await.unwrap();
    assert_eq!(doc["issuer"], issuer.issuer_url());
    assert_eq!(doc["jwks_uri"], issuer.jwks_url());
    assert_eq!(doc["token_endpoint"], issuer.token_endpoint());
    assert_eq!(
        doc["introspection_endpoint"],
        issuer.introspection_endpoint()
    );
    assert_eq!(
        doc["grant_types_supported"],
        json!(["client_credentials", "authorization_code"])
    );
    assert_eq!(issuer.discovery_fetches(), 1);
    assert_eq!(issuer.requests_to("/.well-known/openid-configuration"), 1);

    let rfc8414 = format!(
        "{}/.well-known/oauth-authorization-server",
        issuer.issuer_url()
    );
    let same: Value = get(&rfc8414).await.json().await.unwrap();
    assert_eq!(same, doc);
    assert_eq!(issuer.discovery_fetches(), 2);
    assert_eq!(issuer.jwks_fetches(), 0);
}

#[tokio::test]
async fn serves_jwks_with_cache_control_and_counts_exactly() {
    let issuer = MockIssuer::start().await;
    let response = get(&issuer.jwks_url()).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["cache-control"], "public, max-age=300");
    let jwks: Value = response.json().await.unwrap();
    assert_eq!(jwks, issuer.jwks_json());
    assert_eq!(kids(&jwks), [issuer.signing_kid()]);
    assert_eq!(issuer.signing_kid(), "rsa-1");
    let jwk = &jwks["keys"][0];
    assert_eq!(
        (
            jwk["kty"].as_str(),
            jwk["alg"].as_str(),
            jwk["use"].as_str()
        ),
        (Some("RSA"), Some("RS256"), Some("sig"))
    );
    assert_eq!(issuer.jwks_fetches(), 1);

    issuer.set_cache_control(None);
    assert!(get(&issuer.jwks_url())
        .await
        .headers()
        .get("cache-control")
        .is_none());
    issuer.set_cache_control(Some("no-store"));
    assert_eq!(
        get(&issuer.jwks_url()).await.headers()["cache-control"],
        "no-store"
    );
    assert_eq!(issuer.jwks_fetches(), 3);
    assert_eq!(issuer.requests_to("/jwks"), 3);
    assert_eq!(issuer.discovery_fetches(), 0);
}

#[tokio::test]
async fn outage_answers_503() {
    let issuer = MockIssuer::start().await;
    issuer.set_outage(true);
    assert_eq!(get(&issuer.jwks_url()).await.status(), 503);
    assert_eq!(get(&issuer.discovery_url()).await.status(), 503);
    assert_eq!((issuer.jwks_fetches(), issuer.discovery_fetches()), (1, 1));
    issuer.set_outage(false);
    assert_eq!(get(&issuer.jwks_url()).await.status(), 200);
    assert_eq!(get(&issuer.discovery_url()).await.status(), 200);
}

#[tokio::test]
async fn jwks_delay() {
    let issuer = MockIssuer::start().await;
    issuer.set_jwks_delay(Duration::from_millis(1500));
    let started = Instant::now();
    assert_eq!(get(&issuer.jwks_url()).await.status(), 200);
    assert!(started.elapsed() >= Duration::from_millis(1500));
    // Counted on arrival, before the delay.
    let slow = tokio::spawn({
        let url = issuer.jwks_url();
        async move { get(&url).await.status() }
    });
    // Poll rather than sleep a fixed time: the machine may be loaded.
    let deadline = Instant::now() + Duration::from_secs(5);
    while issuer.jwks_fetches() < 2 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert_eq!(issuer.jwks_fetches(), 2);
    assert_eq!(slow.await.unwrap(), 200);
    issuer.set_jwks_delay(Duration::ZERO);
    let started = Instant::now();
    get(&issuer.jwks_url()).await;
    // Well apart from the delay: the machine may be loaded.
    assert!(started.elapsed() < Duration::from_millis(1000));
}

#[tokio::test]
async fn other_paths_are_counted() {
    let issuer = MockIssuer::start().await;
    let unknown = format!("{}/nowhere?x=1", issuer.issuer_url());
    assert_eq!(get(&unknown).await.status(), 404);
    assert_eq!(issuer.requests_to("/nowhere"), 1);
    assert_eq!(get(&issuer.token_endpoint()).await.status(), 405);
    let post = reqwest::Client::new()
        .post(issuer.token_endpoint())
        .send()
        .await
        .unwrap();
    assert_eq!(post.status(), 400);
    assert_eq!(issuer.requests_to("/token"), 2);
    assert_eq!(issuer.token_requests(), 2);
    assert_eq!(issuer.requests_to("/never"), 0);
}

#[tokio::test]
async fn server_stops_when_last_handle_dropped() {
    let issuer = MockIssuer::start().await;
    let url = issuer.jwks_url();
    let clone = issuer.clone();
    drop(issuer);
    assert_eq!(get(&url).await.status(), 200, "a clone keeps it alive");
    drop(clone);
    // The server task ends on its own schedule: poll, bounded.
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        if reqwest::Client::new().get(&url).send().await.is_err() {
            break;
        }
        assert!(Instant::now() < deadline, "server stopped");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// `TokenBuilder` holds a `state::Handle`, not a `MockIssuer`: it must still
/// keep the server running, as documented on `MockIssuer`.
#[tokio::test]
async fn an_outstanding_token_builder_keeps_the_server_running() {
    let issuer = MockIssuer::start().await;
    let url = issuer.jwks_url();
    let builder = issuer.token().subject("late");
    drop(issuer);
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(get(&url).await.status(), 200, "a builder keeps it alive");
    let token = builder.sign();
    assert_eq!(token.split('.').count(), 3);
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let result = reqwest::Client::new()
            .get(&url)
            .timeout(Duration::from_secs(5))
            .send()
            .await;
        if result.is_err() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "server stopped with the last builder"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[test]
fn debug_never_shows_private_material() {
    let config = MockIssuerConfig::new().hmac_secret(b"super-secret-value-for-the-test!");
    let debug = format!("{config:?}");
    assert!(!debug.contains("super-secret"));
    assert!(debug.contains("redacted"));
}
