//! The key-set deadlines the alert rules compare `time()` with: a fetched
//! set exports when its refresh is due (following the JWKS `max-age`) and
//! when it goes stale; a static set exports neither, nor a last-success
//! time (it would read as "56 years old").

use super::*;
use oauth2_guard::ops::names::{JWKS_KEYS, JWKS_LAST_SUCCESS, JWKS_REFRESH_DUE, JWKS_STALE};
use oauth2_guard::Issuer;

#[tokio::test]
async fn a_fetched_key_set_exports_its_refresh_and_stale_deadlines() {
    let _serial = serial().await;
    let idp = MockIssuer::start().await;
    // A six-hour max-age: keys six hours old are on schedule.
    idp.set_cache_control(Some("public, max-age=21600"));
    let _issuer = common::orders_issuer(&idp).await;
    let m = scrape();
    let issuer = idp.issuer_url();
    let labels = [("issuer", issuer.as_str())];
    let now = common::now() as f64;
    let due = value(&m, JWKS_REFRESH_DUE, &labels) - now;
    assert!((21590.0..=21601.0).contains(&due), "refresh due in {due} s");
    let stale = value(&m, JWKS_STALE, &labels) - value(&m, JWKS_REFRESH_DUE, &labels);
    let max_stale = 24.0 * 3600.0; // RefreshConfig's default
    assert!(
        (max_stale - 1.0..=max_stale + 1.0).contains(&stale),
        "stale {stale} s after the scheduled refresh"
    );
    let age = now - value(&m, JWKS_LAST_SUCCESS, &labels);
    assert!((-1.0..=5.0).contains(&age), "fetched {age} s ago");
}

#[tokio::test]
async fn a_static_key_set_exports_no_timestamp() {
    let _serial = serial().await;
    let idp = MockIssuer::start().await;
    let name = "https://static.example/operations-keys";
    let _issuer = Issuer::builder(name)
        .static_jwks(idp.jwks_json().to_string())
        .audience("orders-api")
        .build()
        .await
        .expect("static issuer");
    let m = scrape();
    let labels = [("issuer", name)];
    assert!(
        m.contains_key(&series(JWKS_KEYS, &labels)),
        "the key count is exported"
    );
    for gauge in [JWKS_LAST_SUCCESS, JWKS_REFRESH_DUE, JWKS_STALE] {
        assert!(
            !m.contains_key(&series(gauge, &labels)),
            "{gauge} exported for a static key set"
        );
    }
}
