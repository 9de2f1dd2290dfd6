//! The outbound client: token fetches by result, the cached token's expiry
//! and when it is due for refresh.

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
    assert_eq!(delta(&before, &after, fetches, &[("result", "ok")]), 1.0);
    assert_eq!(idp.token_requests(), 1, "the second came from the cache");
    let left = value(&after, expiry, &[]) - common::now() as f64;
    assert!((590.0..=601.0).contains(&left), "{left} s until expiry");
    // Refreshed min(30 s, 10 % of 600 s) = 30 s before expiry: what the
    // alert rule compares `time()` with.
    let refresh = "oauth2_guard_client_token_refresh_timestamp_seconds";
    let margin = value(&after, expiry, &[]) - value(&after, refresh, &[]);
    assert!(
        (29.0..=31.0).contains(&margin),
        "refreshed {margin} s early"
    );

    // A refused fetch: counted as an error; the gauge keeps the cached token's expiry.
    idp.unregister_client(CLIENT);
    assert!(source.refresh_now().await.is_err());
    let last = scrape();
    assert_eq!(delta(&after, &last, fetches, &[("result", "error")]), 1.0);
    assert_eq!(delta(&after, &last, fetches, &[("result", "ok")]), 0.0);
    assert_eq!(value(&last, expiry, &[]), value(&after, expiry, &[]));
    assert_eq!(value(&last, refresh, &[]), value(&after, refresh, &[]));
}
