//! The readiness probe.

use super::*;

#[tokio::test]
async fn readiness_names_the_issuer_without_keys() {
    let _serial = serial().await;
    let idp = MockIssuer::start().await;
    idp.set_outage(true);
    let issuer = idp
        .issuer_builder()
        .audience("orders-api")
        .refresh(fast_backoff())
        .build_deferred()
        .unwrap();
    let ready = Readiness::new().issuer(&issuer);
    let probe = Router::new().route("/ready", get(ready.clone().handler()));
    let get_ready = || async {
        let res = probe
            .clone()
            .oneshot(Request::get("/ready").body(Body::empty()).unwrap())
            .await
            .unwrap();
        let status = res.status();
        let body = axum::body::to_bytes(res.into_body(), 4096).await.unwrap();
        (status, serde_json::from_slice::<Value>(&body).unwrap())
    };
    let (status, body) = get_ready().await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(body["ready"], false);
    assert_eq!(body["missing"][0]["check"], "issuer_keys");
    assert_eq!(body["missing"][0]["name"], idp.issuer_url());

    idp.set_outage(false);
    tokio::time::timeout(Duration::from_secs(10), async {
        while !ready.check().is_ready() {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await
    .expect("ready once the keys load");
    let (status, body) = get_ready().await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["missing"], serde_json::json!([]));

    // The IdP withdraws every key: the fetched set is empty, not ready again.
    let polling = polling_issuer(&idp, fast_backoff()).await;
    let ready = Readiness::new().issuer(&polling);
    assert!(ready.check().is_ready());
    for kid in idp.published_kids() {
        idp.remove_key(&kid);
    }
    tokio::time::timeout(Duration::from_secs(10), async {
        while ready.check().is_ready() {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await
    .expect("not ready once the keys are gone");
    assert_eq!(ready.check().missing()[0].name, idp.issuer_url());
}
