//! The shared-cache seam, with an in-memory store standing in for Redis:
//! two instances sharing a store and a hash key cost the IdP one call per
//! token; a store that fails is a miss, never a refusal.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use super::shared::tests::MemoryShared;
use crate::introspection::{Introspector, IntrospectorBuilder};
use crate::testkit::MockIssuer;
use crate::verify::Verifier;

fn builder(idp: &MockIssuer) -> IntrospectorBuilder {
    Introspector::builder(idp.issuer_url(), "rs")
        .client_secret("rs-secret")
        .audience("orders-api")
        .hash_key(vec![7u8; 32])
        .http(crate::HttpConfig::default().allow_loopback_http())
}

/// An instance (audience `orders-api`, hash key of [`builder`]) using `store`.
async fn sharing(idp: &MockIssuer, store: &Arc<MemoryShared>) -> Introspector {
    builder(idp)
        .shared_cache(store.clone())
        .build()
        .await
        .unwrap()
}

#[tokio::test]
async fn instances_sharing_a_store_make_one_call_and_survive_its_outage() {
    let idp = MockIssuer::start().await;
    idp.register_client("rs", "rs-secret");
    let store = Arc::new(MemoryShared::default());
    let a = sharing(&idp, &store).await;
    let b = sharing(&idp, &store).await;
    let token = idp.opaque_token().scope("orders:read").issue();

    let claims = a.verifier().verify(&token).resolve().await.unwrap();
    assert_eq!(idp.introspection_requests(), 1);
    let from_b = b.verifier().verify(&token).resolve().await.unwrap();
    assert_eq!(
        idp.introspection_requests(),
        1,
        "instance B read the shared entry"
    );
    assert_eq!(from_b.scopes(), claims.scopes());
    assert_eq!(from_b.fingerprint(), claims.fingerprint());
    {
        let map = crate::sync::lock(&store.map);
        let (key, (bytes, ttl)) = map.iter().next().unwrap();
        let (scope, hash) = key.split_once(':').unwrap();
        assert_eq!(
            (scope.len(), hash.len()),
            (16, 64),
            "scope tag, hex of the keyed hash"
        );
        assert!(!key.contains(&token) && !String::from_utf8_lossy(bytes).contains(&token));
        assert!(ttl.as_secs() <= 60);
    }

    // The store down: a miss plus a warning; the IdP still answers.
    store.down.store(true, Ordering::SeqCst);
    let c = sharing(&idp, &store).await;
    assert!(c.verifier().verify(&token).resolve().await.is_ok());
    assert_eq!(idp.introspection_requests(), 2);
}

#[tokio::test]
async fn a_shared_cache_needs_the_hash_key_and_is_scoped_by_audience() {
    let idp = MockIssuer::start().await;
    idp.register_client("rs", "rs-secret");
    let store = Arc::new(MemoryShared::default());
    let err = Introspector::builder(idp.issuer_url(), "rs")
        .client_secret("rs-secret")
        .audience("orders-api")
        .http(crate::HttpConfig::default().allow_loopback_http())
        .shared_cache(store.clone())
        .build()
        .await
        .unwrap_err();
    assert!(matches!(
        err,
        crate::ConfigError::MissingSetting {
            setting: "hash_key",
            ..
        }
    ));

    // Same store, same key, another audience: nothing read from the other.
    let orders = sharing(&idp, &store).await;
    let billing = Introspector::builder(idp.issuer_url(), "rs")
        .client_secret("rs-secret")
        .audience("billing-api")
        .hash_key(vec![7u8; 32])
        .http(crate::HttpConfig::default().allow_loopback_http())
        .shared_cache(store.clone())
        .build()
        .await
        .unwrap();
    let token = idp.opaque_token().scope("orders:read").issue(); // for orders-api
    assert!(orders.verifier().verify(&token).resolve().await.is_ok());
    let refused = billing
        .verifier()
        .verify(&token)
        .resolve()
        .await
        .unwrap_err();
    assert_eq!(refused.reason(), crate::Reason::WrongAudience);
    assert_eq!(
        idp.introspection_requests(),
        2,
        "billing asked the IdP itself"
    );
}

#[tokio::test]
async fn an_answer_read_from_the_store_is_kept_locally_no_longer_than_it_had_left() {
    let idp = MockIssuer::start().await;
    idp.register_client("rs", "rs-secret");
    let store = Arc::new(MemoryShared::default());
    let a = sharing(&idp, &store).await;
    let token = idp.opaque_token().scope("orders:read").issue();
    assert!(a.verifier().verify(&token).resolve().await.is_ok());
    let b = sharing(&idp, &store).await;
    // Age the stored entry: 3 s of its 60 left. The store keeps whole
    // seconds, so B sees between 2 and 3 s left; a margin of 1 s only
    // raced a second boundary on a slow machine.
    {
        let mut map = crate::sync::lock(&store.map);
        let (bytes, _) = map.values_mut().next().unwrap();
        let mut v: serde_json::Value = serde_json::from_slice(bytes).unwrap();
        v["until"] = (crate::claims::now_unix() + 3).into();
        *bytes = serde_json::to_vec(&v).unwrap();
    }
    assert!(b.verifier().verify(&token).resolve().await.is_ok());
    assert_eq!(idp.introspection_requests(), 1, "B read the store");
    tokio::time::sleep(std::time::Duration::from_millis(3100)).await;
    // B's local copy has expired with the entry (not 60 s after reading
    // it); the store's entry is past its `until` too: B asks the IdP.
    assert!(b.verifier().verify(&token).resolve().await.is_ok());
    assert_eq!(idp.introspection_requests(), 2);
}

/// Only a call to the endpoint counts as one: instance B's answer read
/// from the shared store is a shared-cache hit, not an introspection call;
/// and B's claims carry the introspector's decision counters.
#[cfg(feature = "metrics")]
#[tokio::test]
async fn a_shared_cache_hit_is_counted_as_a_hit_not_as_a_call() {
    let idp = MockIssuer::start().await;
    idp.register_client("rs", "rs-secret");
    let recorder = metrics_exporter_prometheus::PrometheusBuilder::new().build_recorder();
    let handle = recorder.handle();
    // Current-thread runtime: the introspectors register with this
    // recorder, and their flights run on this thread too.
    let _local = metrics::set_default_local_recorder(&recorder);
    let store = Arc::new(MemoryShared::default());
    let a = sharing(&idp, &store).await;
    let b = sharing(&idp, &store).await;
    let token = idp.opaque_token().scope("orders:read").issue();

    a.verifier().verify(&token).resolve().await.unwrap();
    let from_b = b.verifier().verify(&token).resolve().await.unwrap();
    assert_eq!(idp.introspection_requests(), 1);
    assert!(from_b.counters().registered());

    let text = handle.render();
    for series in [
        r#"oauth2_guard_introspection_requests_total{result="active"} 1"#,
        r#"oauth2_guard_introspection_shared_cache_requests_total{result="miss"} 1"#,
        r#"oauth2_guard_introspection_shared_cache_requests_total{result="hit"} 1"#,
        r#"oauth2_guard_introspection_cache_requests_total{result="miss"} 2"#,
        "oauth2_guard_introspection_duration_seconds_count 1",
    ] {
        assert!(text.contains(series), "{series} missing from:\n{text}");
    }
}
