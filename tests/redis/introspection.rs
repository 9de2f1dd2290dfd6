//! The shared introspection cache against a real `redis-server`: two
//! `AuthLayer`s with their own `Introspector` (two instances of a service)
//! and one Redis; introspection calls counted at the `MockIssuer`.

use std::time::{Duration, Instant};

use axum::routing::get;
use axum::Router;
use http::StatusCode;
use oauth2_guard::introspection::{
    Introspector, IntrospectorBuilder, RedisIntrospectionCache, RedisIntrospectionCacheBuilder,
};
use oauth2_guard::testkit::MockIssuer;
use oauth2_guard::{AuthLayer, ConfigError, Reason};
use sha2::{Digest, Sha256};

use super::common::redis::RedisServer;
use super::common::{bearer, get_with_auth, loopback, reason_of};
use super::send;

const RS: &str = "orders-api";
const RS_SECRET: &str = "orders-api-secret";
/// The per-deployment secret both instances share.
const KEY: [u8; 32] = [0x42; 32];
/// Bound of one request (not a benchmark).
const MAX_WALL: Duration = Duration::from_secs(2);

async fn idp() -> MockIssuer {
    let idp = MockIssuer::start().await;
    idp.register_client(RS, RS_SECRET);
    idp
}

fn cache(redis: &RedisServer) -> RedisIntrospectionCacheBuilder {
    RedisIntrospectionCache::builder(redis.url()).namespace("orders")
}

fn introspector(idp: &MockIssuer) -> IntrospectorBuilder {
    Introspector::builder(idp.issuer_url(), RS)
        .client_secret(RS_SECRET)
        .audience(RS)
        .http(loopback())
}

/// One instance: a layer whose introspector shares `cache` under `key`.
async fn instance(idp: &MockIssuer, cache: &RedisIntrospectionCache, key: [u8; 32]) -> Router {
    let i = introspector(idp)
        .hash_key(key.to_vec())
        .shared_cache_redis(cache.clone())
        .build()
        .await
        .expect("introspector");
    let layer = AuthLayer::builder()
        .introspection(i)
        .build()
        .expect("layer");
    Router::new()
        .route("/x", get(|| async { "ok" }))
        .layer(layer)
}

async fn get_x(app: &Router, token: &str) -> StatusCode {
    let t0 = Instant::now();
    let res = send(app, get_with_auth("/x", bearer(token))).await;
    assert!(t0.elapsed() < MAX_WALL, "took {:?}", t0.elapsed());
    assert_ne!(reason_of(&res), Some(Reason::IntrospectionUnavailable));
    res.status()
}

/// Every key of the database with its value and its TTL in ms.
async fn dump(redis: &RedisServer) -> Vec<(String, Vec<u8>, i64)> {
    let mut con = redis.raw().await;
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg("*")
        .query_async(&mut con)
        .await
        .expect("keys");
    let mut out = Vec::new();
    for k in keys {
        let v: Vec<u8> = redis::cmd("GET")
            .arg(&k)
            .query_async(&mut con)
            .await
            .unwrap();
        let ttl: i64 = redis::cmd("PTTL")
            .arg(&k)
            .query_async(&mut con)
            .await
            .unwrap();
        out.push((k, v, ttl));
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs redis-server (installed by .ci/run): cargo test --all-features --test redis -- --ignored"]
async fn two_instances_sharing_redis_make_one_introspection_call_per_token() {
    let redis = RedisServer::start().await;
    let idp = idp().await;
    let (ca, cb) = (
        cache(&redis).build().unwrap(),
        cache(&redis).build().unwrap(),
    );
    let a = instance(&idp, &ca, KEY).await;
    let b = instance(&idp, &cb, KEY).await;
    let token = idp.opaque_token().scope("orders:read").issue();

    assert_eq!(get_x(&a, &token).await, StatusCode::OK);
    assert_eq!(idp.introspection_requests(), 1);
    assert_eq!(get_x(&b, &token).await, StatusCode::OK);
    assert_eq!(
        idp.introspection_requests(),
        1,
        "B used A's answer from Redis"
    );
    assert_eq!(cb.status().hits, 1);
    // B's next request is a local hit: no Redis round trip.
    assert_eq!(get_x(&b, &token).await, StatusCode::OK);
    assert_eq!(cb.status().hits + cb.status().misses, 1);

    // A token the IdP refuses is refused by both, and refusals are not shared.
    let dead = idp.opaque_token().scope("orders:read").issue();
    idp.revoke_token(&dead);
    assert_eq!(get_x(&a, &dead).await, StatusCode::UNAUTHORIZED);
    assert_eq!(get_x(&b, &dead).await, StatusCode::UNAUTHORIZED);
    assert_eq!(idp.introspection_requests(), 3);
    assert_eq!(dump(&redis).await.len(), 1, "only the active answer");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs redis-server (installed by .ci/run): cargo test --all-features --test redis -- --ignored"]
async fn redis_holds_no_token_and_entries_expire_at_min_of_ttl_and_exp() {
    let redis = RedisServer::start().await;
    let idp = idp().await;
    let shared = cache(&redis).build().unwrap();
    // TTL 30 s: a 1 h token's entry lives 30 s, a 10 s token's 10 s.
    let i = introspector(&idp)
        .hash_key(KEY.to_vec())
        .cache_ttl(Duration::from_secs(30))
        .shared_cache_redis(shared)
        .build()
        .await
        .unwrap();
    let app = Router::new()
        .route("/x", get(|| async { "ok" }))
        .layer(AuthLayer::builder().introspection(i).build().unwrap());
    let long = idp
        .opaque_token()
        .scope("orders:read")
        .expires_in(Duration::from_secs(3600))
        .issue();
    let short = idp
        .opaque_token()
        .scope("orders:read")
        .expires_in(Duration::from_secs(10))
        .issue();
    assert_eq!(get_x(&app, &long).await, StatusCode::OK);
    let entries = dump(&redis).await;
    assert_eq!(entries.len(), 1);
    let (_, _, ttl) = &entries[0];
    assert!((25_000..=30_000).contains(ttl), "min(TTL, exp): {ttl} ms");
    assert_eq!(get_x(&app, &short).await, StatusCode::OK);
    let entries = dump(&redis).await;
    assert_eq!(entries.len(), 2);
    let short_ttl = entries.iter().map(|e| e.2).min().unwrap();
    assert!(
        (1..=10_000).contains(&short_ttl),
        "min(TTL, exp): {short_ttl} ms"
    );

    for token in [&long, &short] {
        let sha_hex: String = Sha256::digest(token.as_bytes())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        let sha_raw = Sha256::digest(token.as_bytes());
        for (key, value, _) in &entries {
            assert!(key.starts_with("orders:introspection:"), "{key}");
            for hay in [key.as_bytes(), value.as_slice()] {
                let text = String::from_utf8_lossy(hay).to_lowercase();
                assert!(!text.contains(&token.to_lowercase()), "token in {key}");
                assert!(!text.contains(&sha_hex), "its SHA-256 in {key}");
                assert!(!hay.windows(32).any(|w| w == sha_raw.as_slice()));
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs redis-server (installed by .ci/run): cargo test --all-features --test redis -- --ignored"]
async fn with_redis_killed_requests_are_still_verified_by_the_idp() {
    let mut redis = RedisServer::start().await;
    let idp = idp().await;
    let shared = cache(&redis)
        .retry_interval(Duration::from_millis(300))
        .build()
        .unwrap();
    let a = instance(&idp, &shared, KEY).await;
    let ready = oauth2_guard::ops::Readiness::new().redis_introspection_cache(&shared);
    let warm = idp.opaque_token().scope("orders:read").issue();
    assert_eq!(get_x(&a, &warm).await, StatusCode::OK);
    assert!(ready.check().is_ready());
    redis.kill();

    // The local cache still answers, with no call anywhere.
    assert_eq!(get_x(&a, &warm).await, StatusCode::OK);
    assert_eq!(idp.introspection_requests(), 1);
    // New tokens: verified by the IdP, each promptly; a refusal stays 401.
    let t0 = Instant::now();
    for _ in 0..20 {
        let t = idp.opaque_token().scope("orders:read").issue();
        assert_eq!(get_x(&a, &t).await, StatusCode::OK);
    }
    let dead = idp.opaque_token().issue();
    idp.revoke_token(&dead);
    assert_eq!(get_x(&a, &dead).await, StatusCode::UNAUTHORIZED);
    assert_eq!(idp.introspection_requests(), 22);
    assert!(t0.elapsed() < Duration::from_secs(5), "{:?}", t0.elapsed());
    let st = shared.status();
    assert!(!st.available && st.down_since.is_some(), "{st:?}");
    assert!(st.errors >= 1 && st.skipped >= 1, "{st:?}");
    let report = ready.check();
    assert_eq!(report.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(report.missing()[0].check, "redis_introspection_cache");

    // Back: the cache is used again once the retry interval has passed.
    redis.restart().await;
    let t0 = Instant::now();
    loop {
        let t = idp.opaque_token().scope("orders:read").issue();
        assert_eq!(get_x(&a, &t).await, StatusCode::OK);
        if shared.status().available && !dump(&redis).await.is_empty() {
            assert!(ready.check().is_ready(), "ready again with Redis back");
            break;
        }
        assert!(t0.elapsed() < Duration::from_secs(10), "never recovered");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs redis-server (installed by .ci/run): cargo test --all-features --test redis -- --ignored"]
async fn instances_with_different_hash_keys_share_nothing() {
    let redis = RedisServer::start().await;
    let idp = idp().await;
    let shared = cache(&redis).build().unwrap();
    let a = instance(&idp, &shared, KEY).await;
    let b = instance(&idp, &shared, [0x17; 32]).await;
    let token = idp.opaque_token().scope("orders:read").issue();
    assert_eq!(get_x(&a, &token).await, StatusCode::OK);
    assert_eq!(get_x(&b, &token).await, StatusCode::OK);
    assert_eq!(
        idp.introspection_requests(),
        2,
        "B could not find A's entry"
    );
    assert_eq!(dump(&redis).await.len(), 2);

    // And no hash key at all is a configuration error, not silent non-sharing.
    let err = introspector(&idp)
        .shared_cache_redis(shared)
        .build()
        .await
        .unwrap_err();
    assert!(matches!(
        err,
        ConfigError::MissingSetting {
            setting: "hash_key",
            ..
        }
    ));
}
