//! A Redis restarted empty (no persistence) gets the fleet's list back from
//! the instances that reconnect to it.

use super::*;

async fn stored(redis: &RedisServer, pattern: String) -> Vec<(String, i64)> {
    let mut con = redis.raw().await;
    let (_, keys): (u64, Vec<String>) = redis::cmd("SCAN")
        .arg(0)
        .arg("MATCH")
        .arg(pattern)
        .arg("COUNT")
        .arg(1000)
        .query_async(&mut con)
        .await
        .expect("SCAN");
    let mut out = Vec::new();
    for k in keys {
        let ttl: i64 = redis::cmd("TTL")
            .arg(&k)
            .query_async(&mut con)
            .await
            .expect("TTL");
        out.push((k, ttl));
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs redis-server (installed by .ci/run): cargo test --all-features --test redis -- --ignored"]
async fn a_redis_restarted_empty_receives_the_entries_of_the_instances() {
    let mut redis = RedisServer::start().await;
    let idp = MockIssuer::start().await;
    let a = instance(&redis).await;
    let t = now();
    let exp = t + 600;
    a.revoke_jti("stolen", SystemTime::UNIX_EPOCH + Duration::from_secs(exp))
        .await
        .expect("revoked");
    a.revoke_subject_before("mallory", SystemTime::UNIX_EPOCH + Duration::from_secs(t))
        .await
        .expect("revoked");
    assert_eq!(stored(&redis, format!("{NS}:revoked:*")).await.len(), 2);

    redis.kill();
    until("outage seen", || !a.status().connected).await;
    redis.restart().await;
    assert!(
        stored(&redis, format!("{NS}:revoked:*")).await.is_empty(),
        "restarted empty"
    );
    until("reconnected", || a.status().connected).await;

    // A writes back what Redis lost, each with its own expiry.
    let t0 = Instant::now();
    let keys = loop {
        let keys = stored(&redis, format!("{NS}:revoked:*")).await;
        if keys.len() == 2 {
            break keys;
        }
        assert!(t0.elapsed() < PATIENCE, "never written back: {keys:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let jti_key = format!("{NS}:revoked:j:{exp}:stolen");
    let subject_key = format!("{NS}:revoked:s:{t}:mallory");
    for (key, ttl) in &keys {
        assert!(*key == jti_key || *key == subject_key, "{key}");
        // jti: exp + 5 min leeway; subject: t + 24 h + 5 min.
        let max = if *key == jti_key { 900 } else { 86_700 };
        assert!(*ttl > 0 && *ttl <= max, "{key}: TTL {ttl} s");
    }

    // An instance started now, from the restarted Redis alone, refuses them.
    let c = instance(&redis).await;
    let app_c = app(&idp, &c).await;
    let stolen = idp.token().claim("jti", "stolen").sign();
    let mallory = idp
        .token()
        .subject("mallory")
        .issued_at((t - 60) as i64)
        .sign();
    assert!(is_revoked(&get_x(&app_c, &stolen).await), "jti on C");
    assert!(is_revoked(&get_x(&app_c, &mallory).await), "subject on C");
    let other = idp.token().claim("jti", "fine").sign();
    assert_eq!(get_x(&app_c, &other).await.status(), StatusCode::OK);
}
