//! The DPoP replay store shared through Redis (`dpop::RedisReplayStore`)
//! against real `redis-server` processes (`common::redis`): two `AuthLayer`s
//! with their own store are two instances of a service behind one load
//! balancer. Statuses and reasons come from the `Rejection` in the response
//! extensions; Redis is inspected with a plain client.
//!
//! Needs `redis-server` on PATH (`.ci/run` installs it):
//! `cargo test --all-features --test redis_dpop -- --ignored`.
#![cfg(all(
    feature = "testkit",
    feature = "dpop",
    feature = "redis",
    feature = "axum"
))]

mod common;

use std::time::{Duration, Instant};

use axum::{body::Body, routing::get, Router};
use http::{Request, Response, StatusCode};
use oauth2_guard::dpop::{DpopConfig, DpopError, RedisReplayStore, RedisReplayStoreBuilder};
use oauth2_guard::testkit::{Algorithm, DpopKey, MockIssuer};
use oauth2_guard::{AuthLayer, Reason};
use tower::ServiceExt;

use common::redis::RedisServer;
use common::{bearer, now, orders_issuer, reason_of};

const URL: &str = "https://api.example.com/orders";
const NS: &str = "orders";
/// Bound of every wait for something that should happen (not a benchmark).
const PATIENCE: Duration = Duration::from_secs(10);

fn store(redis: &RedisServer) -> RedisReplayStoreBuilder {
    RedisReplayStore::builder(redis.url())
        .namespace(NS)
        .timeout(Duration::from_millis(300))
}

/// One instance of the service: its own layer, its own Redis connection.
async fn instance(idp: &MockIssuer, store: RedisReplayStoreBuilder) -> Router {
    let dpop = DpopConfig::builder("https://api.example.com")
        .replay_store(store.build().expect("store"))
        .build()
        .expect("dpop config");
    let layer = AuthLayer::builder()
        .issuer(orders_issuer(idp).await)
        .dpop(dpop)
        .build()
        .expect("layer");
    Router::new()
        .route("/orders", get(|| async { "ok" }))
        .layer(layer)
}

async fn send(app: &Router, req: Request<Body>) -> Response<Body> {
    tokio::time::timeout(Duration::from_secs(2), app.clone().oneshot(req))
        .await
        .expect("answered in time")
        .expect("infallible")
}

async fn dpop_get(app: &Router, token: &str, proof: &str) -> Response<Body> {
    let req = Request::get("/orders")
        .header("authorization", format!("DPoP {token}"))
        .header("dpop", proof)
        .body(Body::empty())
        .unwrap();
    send(app, req).await
}

fn proof(key: &DpopKey, token: &str) -> String {
    key.proof_builder("GET", URL).access_token(token).sign()
}

fn dpop_error(res: &Response<Body>) -> Option<DpopError> {
    match reason_of(res)? {
        Reason::Dpop(e) => Some(e),
        _ => None,
    }
}

async fn keys(redis: &RedisServer, pattern: &str) -> Vec<String> {
    let mut con = redis.raw().await;
    redis::cmd("KEYS")
        .arg(pattern)
        .query_async(&mut con)
        .await
        .expect("KEYS")
}

async fn pttl(redis: &RedisServer, key: &str) -> i64 {
    let mut con = redis.raw().await;
    redis::cmd("PTTL")
        .arg(key)
        .query_async(&mut con)
        .await
        .expect("PTTL")
}

#[tokio::test]
#[ignore = "needs redis-server (installed by .ci/run): cargo test --all-features --test redis_dpop -- --ignored"]
async fn a_proof_accepted_by_one_instance_is_refused_by_the_other() {
    let redis = RedisServer::start().await;
    let idp = MockIssuer::start().await;
    let a = instance(&idp, store(&redis)).await;
    let b = instance(&idp, store(&redis)).await;
    let key = DpopKey::generate(Algorithm::ES256);
    let token = idp.token().claim("cnf", key.cnf()).sign();

    let p = proof(&key, &token);
    assert_eq!(dpop_get(&a, &token, &p).await.status(), StatusCode::OK);
    for app in [&b, &a] {
        let res = dpop_get(app, &token, &p).await;
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(dpop_error(&res), Some(DpopError::Replay));
    }
    // Distinct proofs of the same key: accepted on both.
    for app in [&b, &a, &b] {
        let res = dpop_get(app, &token, &proof(&key, &token)).await;
        assert_eq!(res.status(), StatusCode::OK);
    }
    // One entry per accepted proof, plus the key's counter.
    assert_eq!(keys(&redis, &format!("{NS}:dpop:*")).await.len(), 4 + 1);
}

#[tokio::test]
#[ignore = "needs redis-server (installed by .ci/run): cargo test --all-features --test redis_dpop -- --ignored"]
async fn one_key_gets_at_most_max_per_key_proofs_per_period() {
    let redis = RedisServer::start().await;
    let idp = MockIssuer::start().await;
    let capped = || {
        store(&redis)
            .max_per_key(3)
            .per_key_period(Duration::from_secs(600))
    };
    let a = instance(&idp, capped()).await;
    let b = instance(&idp, capped()).await;
    let key = DpopKey::generate(Algorithm::ES256);
    let token = idp.token().claim("cnf", key.cnf()).sign();
    // The cap is shared: three proofs across both instances, then refused.
    for app in [&a, &b, &a] {
        let res = dpop_get(app, &token, &proof(&key, &token)).await;
        assert_eq!(res.status(), StatusCode::OK);
    }
    for app in [&b, &a] {
        let res = dpop_get(app, &token, &proof(&key, &token)).await;
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(dpop_error(&res), Some(DpopError::ReplayKeyLimit));
    }
    // A refused proof is not stored: three entries and the counter.
    let (jkt_keys, counter) = {
        let all = keys(&redis, &format!("{NS}:dpop:*")).await;
        let counter: Vec<_> = all.iter().filter(|k| k.ends_with(":n")).cloned().collect();
        (all.len() - counter.len(), counter)
    };
    assert_eq!((jkt_keys, counter.len()), (3, 1));
    let ttl = pttl(&redis, &counter[0]).await;
    assert!(ttl > 590_000 && ttl <= 600_000, "counter PTTL {ttl}");
    // Another key is not affected.
    let other = DpopKey::generate(Algorithm::EdDSA);
    let token2 = idp.token().claim("cnf", other.cnf()).sign();
    let res = dpop_get(&b, &token2, &proof(&other, &token2)).await;
    assert_eq!(res.status(), StatusCode::OK);
}

#[tokio::test]
#[ignore = "needs redis-server (installed by .ci/run): cargo test --all-features --test redis_dpop -- --ignored"]
async fn entries_expire_in_redis_with_the_proofs_window() {
    let redis = RedisServer::start().await;
    let idp = MockIssuer::start().await;
    let app = instance(&idp, store(&redis)).await;
    let key = DpopKey::generate(Algorithm::ES256);
    let token = idp.token().claim("cnf", key.cnf()).sign();
    let now = i64::try_from(now()).unwrap();

    // iat = now: remembered until iat + window (60 s) + 1 s.
    let fresh = key
        .proof_builder("GET", URL)
        .access_token(&token)
        .iat(now)
        .sign();
    assert_eq!(
        dpop_get(&app, &token, &fresh).await.status(),
        StatusCode::OK
    );
    let entries = keys(&redis, &format!("{NS}:dpop:*")).await;
    let proof_key = entries.iter().find(|k| !k.ends_with(":n")).expect("entry");
    let ttl = pttl(&redis, proof_key).await;
    assert!(ttl > 55_000 && ttl <= 61_000, "PTTL {ttl}");

    // iat = now − 59 s: the iat check refuses it in about 2 s, and Redis
    // forgets it then.
    let old = key
        .proof_builder("GET", URL)
        .access_token(&token)
        .iat(now - 59)
        .sign();
    assert_eq!(dpop_get(&app, &token, &old).await.status(), StatusCode::OK);
    let entries = keys(&redis, &format!("{NS}:dpop:*")).await;
    let old_key = entries
        .iter()
        .find(|k| !k.ends_with(":n") && *k != proof_key)
        .expect("second entry")
        .clone();
    let ttl = pttl(&redis, &old_key).await;
    assert!(ttl > 0 && ttl <= 3_000, "PTTL {ttl}");
    let t0 = Instant::now();
    while pttl(&redis, &old_key).await != -2 {
        assert!(t0.elapsed() < PATIENCE, "never expired");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(pttl(&redis, proof_key).await > 0, "the fresh one stays");
}

#[tokio::test]
#[ignore = "needs redis-server (installed by .ci/run): cargo test --all-features --test redis_dpop -- --ignored"]
async fn redis_down_fails_closed_with_503_and_recovers_after_restart() {
    let mut redis = RedisServer::start().await;
    let idp = MockIssuer::start().await;
    let app = instance(&idp, store(&redis)).await;
    let key = DpopKey::generate(Algorithm::ES256);
    let token = idp.token().claim("cnf", key.cnf()).sign();
    let plain = idp.token().sign();
    assert_eq!(
        dpop_get(&app, &token, &proof(&key, &token)).await.status(),
        StatusCode::OK
    );

    redis.kill();
    let t0 = Instant::now();
    let res = dpop_get(&app, &token, &proof(&key, &token)).await;
    assert!(
        t0.elapsed() < Duration::from_secs(2),
        "bounded by the timeout"
    );
    assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(dpop_error(&res), Some(DpopError::ReplayStoreUnavailable));
    assert_eq!(res.headers()["retry-after"], "1");
    // Bearer requests do not need the replay store.
    let req = Request::get("/orders")
        .header("authorization", bearer(&plain))
        .body(Body::empty())
        .unwrap();
    assert_eq!(send(&app, req).await.status(), StatusCode::OK);

    redis.restart().await;
    let t0 = Instant::now();
    loop {
        let res = dpop_get(&app, &token, &proof(&key, &token)).await;
        if res.status() == StatusCode::OK {
            break;
        }
        assert_eq!(dpop_error(&res), Some(DpopError::ReplayStoreUnavailable));
        assert!(t0.elapsed() < PATIENCE, "never recovered");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Back to normal: a replay is refused again.
    let p = proof(&key, &token);
    assert_eq!(dpop_get(&app, &token, &p).await.status(), StatusCode::OK);
    let res = dpop_get(&app, &token, &p).await;
    assert_eq!(dpop_error(&res), Some(DpopError::Replay));
}
