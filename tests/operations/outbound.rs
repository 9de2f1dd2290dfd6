//! The outbound client: token fetches by result, the cached token's expiry
//! and when it is due for refresh, each labelled with its `client_id`.

use super::*;
use common::{idp_with_client, CLIENT, SECRET};
use oauth2_guard::client::RetryConfig;

#[tokio::test]
async fn client_token_fetches_are_counted_and_the_expiry_is_a_gauge() {
    let _serial = serial().await;
    let idp = idp_with_client().await;
    idp.set_token_lifetime(Duration::from_secs(600));
    let source = idp
        .client_credentials_builder(CLIENT)
        .client_secret(SECRET)
        .resource("orders-api")
        .retry(RetryConfig::default().max_attempts(1))
        .build()
        .await
        .expect("source");
    let before = scrape();
    let fetches = "oauth2_guard_client_token_fetches_total";
    let expiry = "oauth2_guard_client_token_expiry_timestamp_seconds";

    source.token().await.expect("a token");
    source.token().await.expect("the cached token");
    let after = scrape();
    let ok = [("client_id", CLIENT), ("result", "ok")];
    let error = [("client_id", CLIENT), ("result", "error")];
    let me = [("client_id", CLIENT)];
    assert_eq!(delta(&before, &after, fetches, &ok), 1.0);
    assert_eq!(idp.token_requests(), 1, "the second came from the cache");
    let left = value(&after, expiry, &me) - common::now() as f64;
    assert!((590.0..=601.0).contains(&left), "{left} s until expiry");
    // Refreshed min(30 s, 10 % of 600 s) = 30 s before expiry: what the
    // alert rule compares `time()` with.
    let refresh = "oauth2_guard_client_token_refresh_timestamp_seconds";
    let margin = value(&after, expiry, &me) - value(&after, refresh, &me);
    assert!(
        (29.0..=31.0).contains(&margin),
        "refreshed {margin} s early"
    );

    // A refused fetch: counted as an error; the gauge keeps the cached token's expiry.
    idp.unregister_client(CLIENT);
    assert!(source.refresh_now().await.is_err());
    let last = scrape();
    assert_eq!(delta(&after, &last, fetches, &error), 1.0);
    assert_eq!(delta(&after, &last, fetches, &ok), 0.0);
    assert_eq!(value(&last, expiry, &me), value(&after, expiry, &me));
    assert_eq!(value(&last, refresh, &me), value(&after, refresh, &me));
}

/// Two clients in one process: each has its own series, so a healthy
/// client's fetches never hide the other's failing refresh from the alert.
#[tokio::test]
async fn two_clients_have_a_series_each() {
    let _serial = serial().await;
    let idp = idp_with_client().await;
    idp.register_client("billing", "billing-secret");
    idp.set_token_lifetime(Duration::from_secs(600));
    let build = |id: &'static str, secret: &'static str| {
        idp.client_credentials_builder(id)
            .client_secret(secret)
            .resource("orders-api")
            .retry(RetryConfig::default().max_attempts(1))
            .build()
    };
    let checkout = build(CLIENT, SECRET).await.expect("checkout");
    let billing = build("billing", "billing-secret").await.expect("billing");
    checkout.token().await.expect("a checkout token");
    idp.set_token_lifetime(Duration::from_secs(1200));
    billing.token().await.expect("a billing token");
    let m = scrape();
    let expiry = "oauth2_guard_client_token_expiry_timestamp_seconds";
    let now = common::now() as f64;
    let left = |id| value(&m, expiry, &[("client_id", id)]) - now;
    assert!((590.0..=601.0).contains(&left(CLIENT)), "{}", left(CLIENT));
    assert!(
        (1190.0..=1201.0).contains(&left("billing")),
        "{}",
        left("billing")
    );

    // The checkout client's refresh fails; billing's series is untouched.
    let before = scrape();
    idp.unregister_client(CLIENT);
    assert!(checkout.refresh_now().await.is_err());
    let after = scrape();
    let fetches = "oauth2_guard_client_token_fetches_total";
    let error = |id| {
        delta(
            &before,
            &after,
            fetches,
            &[("client_id", id), ("result", "error")],
        )
    };
    assert_eq!((error(CLIENT), error("billing")), (1.0, 0.0));
}
