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

#[tokio::test]
async fn instances_sharing_a_store_make_one_call_and_survive_its_outage() {
    let idp = MockIssuer::start().await;
    idp.register_client("rs", "rs-secret");
    let store = Arc::new(MemoryShared::default());
    let a = builder(&idp)
        .shared_cache(store.clone())
        .build()
        .await
        .unwrap();
    let b = builder(&idp)
        .shared_cache(store.clone())
        .build()
        .await
        .unwrap();
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
        assert_eq!(key.len(), 64, "hex of the keyed hash");
        assert!(!key.contains(&token) && !String::from_utf8_lossy(bytes).contains(&token));
        assert!(ttl.as_secs() <= 60);
    }

    // The store down: a miss plus a warning; the IdP still answers.
    store.down.store(true, Ordering::SeqCst);
    let c = builder(&idp)
        .shared_cache(store.clone())
        .build()
        .await
        .unwrap();
    assert!(c.verifier().verify(&token).resolve().await.is_ok());
    assert_eq!(idp.introspection_requests(), 2);
}
