//! Introspection: call, latency and cache metrics, and the readiness check
//! of the endpoint (MockIssuer opaque tokens).

use super::*;
use oauth2_guard::introspection::Introspector;
use oauth2_guard::testkit::IntrospectionFault;

/// The resource server's own client at the IdP.
const RS: &str = "orders-api";
const RS_SECRET: &str = "orders-api-secret";

async fn introspector(idp: &MockIssuer) -> Introspector {
    idp.register_client(RS, RS_SECRET);
    Introspector::builder(idp.issuer_url(), RS)
        .client_secret(RS_SECRET)
        .audience("orders-api")
        .timeout(Duration::from_secs(1))
        .http(common::loopback())
        .build()
        .await
        .expect("introspector")
}

fn opaque_app(i: &Introspector) -> Router {
    app(AuthLayer::builder()
        .introspection(i.clone())
        .build()
        .expect("layer"))
}

#[tokio::test]
async fn introspection_calls_latency_and_cache_hits_are_counted() {
    let _serial = serial().await;
    let idp = MockIssuer::start().await;
    let i = introspector(&idp).await;
    let app = opaque_app(&i);
    let active = idp.opaque_token().scope("orders:write").issue();
    let unknown = "never-issued-by-anyone-0123456789abcdefghij";
    let before = scrape();
    let calls_before = idp.introspection_requests();

    // Active: one call, then one cache hit.
    assert_eq!(call(&app, Some(&active)).await.status(), StatusCode::OK);
    assert_eq!(call(&app, Some(&active)).await.status(), StatusCode::OK);
    // Inactive: one call.
    let res = call(&app, Some(unknown)).await;
    assert_eq!(reason_of(&res), Some(Reason::Inactive));
    // The endpoint fails: one call, an error.
    idp.set_introspection_fault(IntrospectionFault::Status(500));
    let fresh = idp.opaque_token().scope("orders:write").issue();
    let res = call(&app, Some(&fresh)).await;
    assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(reason_of(&res), Some(Reason::IntrospectionUnavailable));

    let after = scrape();
    let d = |name: &str, labels: &[(&str, &str)]| delta(&before, &after, name, labels);
    assert_eq!(idp.introspection_requests() - calls_before, 3);
    let calls = "oauth2_guard_introspection_requests_total";
    assert_eq!(d(calls, &[("result", "active")]), 1.0);
    assert_eq!(d(calls, &[("result", "inactive")]), 1.0);
    assert_eq!(d(calls, &[("result", "error")]), 1.0);
    assert_eq!(
        d("oauth2_guard_introspection_duration_seconds_count", &[]),
        3.0,
        "one latency sample per call, none per cache hit"
    );
    let cache = "oauth2_guard_introspection_cache_requests_total";
    assert_eq!(d(cache, &[("result", "hit")]), 1.0);
    assert_eq!(d(cache, &[("result", "miss")]), 3.0);
    assert_eq!(
        d(
            "oauth2_guard_verification_duration_seconds_count",
            &[("kind", "introspection")]
        ),
        3.0
    );
    // Opaque tokens are counted under the introspector's issuer, not `unknown`.
    let iss = idp.issuer_url();
    let decisions = "oauth2_guard_decisions_total";
    assert_eq!(
        d(
            decisions,
            &[("outcome", "allowed"), ("reason", "none"), ("issuer", &iss)]
        ),
        2.0
    );
    assert_eq!(
        d(
            decisions,
            &[
                ("outcome", "refused"),
                ("reason", "introspection_unavailable"),
                ("issuer", &iss)
            ]
        ),
        1.0
    );
}

#[tokio::test]
async fn readiness_names_a_failing_introspection_endpoint_until_it_answers() {
    let _serial = serial().await;
    let idp = MockIssuer::start().await;
    let i = introspector(&idp).await;
    let app = opaque_app(&i);
    let ready = Readiness::new().introspector(&i, Duration::from_secs(30));
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
    assert_eq!(get_ready().await.0, StatusCode::OK, "no call yet: ready");
    let calls = idp.introspection_requests();

    idp.set_outage(true);
    let first = idp.opaque_token().scope("orders:write").issue();
    let res = call(&app, Some(&first)).await;
    assert_eq!(reason_of(&res), Some(Reason::IntrospectionUnavailable));
    let (status, body) = get_ready().await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(body["missing"][0]["check"], "introspection");
    assert_eq!(body["missing"][0]["name"], idp.introspection_endpoint());
    assert_eq!(i.health().consecutive_failures, 1);
    // Probing costs the IdP nothing: only the request's call reached it.
    get_ready().await;
    assert_eq!(idp.introspection_requests() - calls, 1);
    // An old failure no longer counts (max_age): traffic can come back.
    tokio::time::sleep(Duration::from_millis(20)).await;
    let aged = Readiness::new().introspector(&i, Duration::from_millis(10));
    assert!(aged.check().is_ready());

    idp.set_outage(false);
    let second = idp.opaque_token().scope("orders:write").issue();
    assert_eq!(call(&app, Some(&second)).await.status(), StatusCode::OK);
    let (status, body) = get_ready().await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["missing"], serde_json::json!([]));
    let health = i.health();
    assert_eq!(health.consecutive_failures, 0);
    assert!(health.last_success >= health.last_failure);
}
