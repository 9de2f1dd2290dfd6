//! The tenant lookup: one lookup per new tenant, never a wait for a known
//! one (stale answers refreshed in the background), timeouts and errors
//! answered 503 and never cached.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use http::StatusCode;
use oauth2_guard::presets::Entra;
use oauth2_guard::tenant::{TenantLookupConfig, TenantPolicy};
use oauth2_guard::{AuthLayer, Reason};

use oauth2_guard::testkit::MockIssuer;

use super::common::{eventually, reason_of};
use super::{app, multi, send, token, A, B, C};

/// Counts lookups per tenant; allows `allowed`, after `delay`.
#[derive(Clone, Default)]
struct Lookups(Arc<Mutex<Vec<String>>>);

impl Lookups {
    fn policy(&self, allowed: &'static [&'static str], delay: Duration) -> TenantPolicy {
        self.policy_with(allowed, delay, TenantLookupConfig::default())
    }

    fn policy_with(
        &self,
        allowed: &'static [&'static str],
        delay: Duration,
        config: TenantLookupConfig,
    ) -> TenantPolicy {
        let seen = self.0.clone();
        TenantPolicy::lookup_with(
            move |tenant: String| {
                seen.lock().unwrap().push(tenant.clone());
                async move {
                    tokio::time::sleep(delay).await;
                    allowed.contains(&tenant.as_str())
                }
            },
            config,
        )
    }

    fn of(&self, tenant: &str) -> usize {
        self.0
            .lock()
            .unwrap()
            .iter()
            .filter(|t| *t == tenant)
            .count()
    }

    fn total(&self) -> usize {
        self.0.lock().unwrap().len()
    }
}

/// The test app behind an Entra multi-tenant issuer with `policy`.
async fn policy_app(idp: &MockIssuer, policy: TenantPolicy) -> Router {
    app(AuthLayer::new(
        multi(idp, Entra::multi_tenant().tenant_policy(policy)).await,
    ))
}

#[tokio::test]
async fn lookup_runs_once_per_new_tenant_and_never_for_a_known_one() {
    let idp = MockIssuer::start().await;
    let lookups = Lookups::default();
    let policy = lookups.policy(&[A, B], Duration::ZERO);
    let app = policy_app(&idp, policy).await;
    // Distinct tokens: each one is verified, none is a token-cache hit.
    for n in 0..3 {
        assert_eq!(send(&app, "/x", &token(&idp, A, n)).await.status(), 200);
        assert_eq!(send(&app, "/x", &token(&idp, B, n)).await.status(), 200);
        let res = send(&app, "/x", &token(&idp, C, n)).await;
        assert_eq!(reason_of(&res), Some(Reason::TenantNotAllowed));
    }
    // And the same token again (a token-cache hit asks the policy again).
    let again = token(&idp, A, 0);
    assert_eq!(send(&app, "/x", &again).await.status(), 200);
    assert_eq!((lookups.of(A), lookups.of(B), lookups.of(C)), (1, 1, 1));
    assert_eq!(lookups.total(), 3);
}

#[tokio::test]
async fn concurrent_first_requests_of_a_new_tenant_share_one_lookup() {
    let idp = MockIssuer::start().await;
    let lookups = Lookups::default();
    let policy = lookups.policy(&[A], Duration::from_millis(100));
    let app = policy_app(&idp, policy).await;
    let requests = (0..20).map(|n| {
        let app = app.clone();
        let token = token(&idp, A, n);
        async move { send(&app, "/x", &token).await.status() }
    });
    let statuses = futures_join_all(requests).await;
    assert!(
        statuses.iter().all(|s| *s == StatusCode::OK),
        "{statuses:?}"
    );
    assert_eq!(lookups.of(A), 1);
}

/// `join_all` without a futures dependency: spawn on the test runtime.
async fn futures_join_all<F>(futures: impl Iterator<Item = F>) -> Vec<StatusCode>
where
    F: std::future::Future<Output = StatusCode> + Send + 'static,
{
    let handles: Vec<_> = futures.map(tokio::spawn).collect();
    let mut out = Vec::new();
    for h in handles {
        out.push(h.await.expect("task"));
    }
    out
}

#[tokio::test]
async fn a_lookup_that_times_out_is_503_and_not_cached() {
    let idp = MockIssuer::start().await;
    let lookups = Lookups::default();
    let config = TenantLookupConfig::default().timeout(Duration::from_millis(50));
    let policy = lookups.policy_with(&[A], Duration::from_secs(10), config);
    let app = policy_app(&idp, policy).await;
    for n in 0..2 {
        let res = send(&app, "/x", &token(&idp, A, n)).await;
        assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(reason_of(&res), Some(Reason::TenantLookupUnavailable));
        assert!(res.headers().contains_key("retry-after"));
    }
    assert_eq!(lookups.of(A), 2, "an undecided lookup is not cached");
}

/// A layer that also introspects opaque tokens: a tenant token (its `iss`
/// fills the template, it names no configured issuer exactly) is still the
/// JWT verifier's, never sent to introspection; and a token-cache hit still
/// asks the tenant policy again.
#[cfg(feature = "introspection")]
#[tokio::test]
async fn tenant_tokens_stay_local_beside_introspection_and_cache_hits_ask_the_policy() {
    use oauth2_guard::introspection::Introspector;
    let idp = MockIssuer::start().await;
    idp.register_client("rs", "rs-secret");
    let lookups = Lookups::default();
    let policy = lookups.policy_with(
        &[A],
        Duration::ZERO,
        TenantLookupConfig::default().allowed_ttl(Duration::from_millis(200)),
    );
    let introspector = Introspector::builder(idp.issuer_url(), "rs")
        .client_secret("rs-secret")
        .audience("orders-api")
        .http(super::common::loopback())
        .build()
        .await
        .expect("introspector");
    let layer = AuthLayer::builder()
        .issuer(multi(&idp, Entra::multi_tenant().tenant_policy(policy)).await)
        .introspection(introspector)
        .build()
        .expect("layer");
    let app = app(layer);
    let t = token(&idp, A, 0);
    assert_eq!(send(&app, "/x", &t).await.status(), 200);
    assert_eq!(idp.introspection_requests(), 0, "verified locally");
    assert_eq!(lookups.of(A), 1);
    // Past the lookup's allowed_ttl: the cached token asks the policy again.
    // It is answered at once (stale) and starts the background refresh.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(send(&app, "/x", &t).await.status(), 200);
    eventually(
        "a token-cache hit re-admits its tenant",
        Duration::from_secs(5),
        || lookups.of(A) == 2,
    )
    .await;
    assert_eq!(idp.introspection_requests(), 0);
}

/// The error of a customer database that cannot answer.
#[derive(Debug)]
struct DbDown;

impl std::fmt::Display for DbDown {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("customer database unreachable")
    }
}

impl std::error::Error for DbDown {}

impl Lookups {
    /// A fallible lookup: call `i` (0-based, all tenants) sleeps and answers
    /// as `answer(i, tenant)` says.
    fn fallible(
        &self,
        config: TenantLookupConfig,
        answer: impl Fn(usize, &str) -> (Duration, Result<bool, DbDown>) + Send + Sync + 'static,
    ) -> TenantPolicy {
        let seen = self.0.clone();
        TenantPolicy::lookup_fallible_with(
            move |tenant: String| {
                let (delay, result) = {
                    let mut seen = seen.lock().unwrap();
                    seen.push(tenant.clone());
                    answer(seen.len() - 1, &tenant)
                };
                async move {
                    tokio::time::sleep(delay).await;
                    result
                }
            },
            config,
        )
    }
}

/// The promise: a known tenant never waits for a lookup. Past its
/// `allowed_ttl` (within the default grace of one more TTL) the answer is
/// given at once and one lookup refreshes it in the background.
#[tokio::test]
async fn a_known_tenant_past_its_ttl_is_answered_at_once_and_refreshed_in_the_background() {
    let idp = MockIssuer::start().await;
    let lookups = Lookups::default();
    // Seconds apart, so a loaded machine cannot blur "at once" and "waited".
    let delay = Duration::from_secs(2);
    let ttl = Duration::from_secs(2);
    let config = TenantLookupConfig::default().allowed_ttl(ttl);
    let policy = lookups.policy_with(&[A], delay, config);
    let app = policy_app(&idp, policy).await;
    assert_eq!(send(&app, "/x", &token(&idp, A, 0)).await.status(), 200);
    assert_eq!(lookups.of(A), 1);
    // Waiting for the TTL to pass (not for a background effect).
    tokio::time::sleep(ttl + Duration::from_millis(200)).await;
    let started = Instant::now();
    let res = send(&app, "/x", &token(&idp, A, 1)).await;
    let took = started.elapsed();
    assert_eq!(res.status(), StatusCode::OK);
    assert!(
        took < delay / 2,
        "a known tenant waited {took:?} for its refresh"
    );
    eventually("the background refresh", Duration::from_secs(5), || {
        lookups.of(A) == 2
    })
    .await;
}

/// An offboarded tenant (the lookup now says no) is refused as soon as
/// the background refresh has answered; stale requests meanwhile do not
/// start a second lookup.
#[tokio::test]
async fn an_offboarded_tenant_is_refused_once_the_refresh_answers() {
    let idp = MockIssuer::start().await;
    let lookups = Lookups::default();
    let customer = Arc::new(AtomicBool::new(true));
    let ttl = Duration::from_millis(200);
    let config = TenantLookupConfig::default()
        .allowed_ttl(ttl)
        .stale_grace(Duration::from_secs(60));
    let is_customer = customer.clone();
    let policy = lookups.fallible(config, move |i, _| {
        let delay = if i == 0 {
            Duration::ZERO
        } else {
            Duration::from_millis(500)
        };
        (delay, Ok(is_customer.load(Ordering::SeqCst)))
    });
    let app = policy_app(&idp, policy).await;
    assert_eq!(send(&app, "/x", &token(&idp, A, 0)).await.status(), 200);
    customer.store(false, Ordering::SeqCst);
    tokio::time::sleep(ttl + Duration::from_millis(100)).await;
    // Stale: still served while the refresh runs, then refused.
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut served = 0;
    let refused = loop {
        let res = send(&app, "/x", &token(&idp, A, 1)).await;
        if res.status() != StatusCode::OK {
            break res;
        }
        served += 1;
        assert!(Instant::now() < deadline, "still served after 5 s");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert!(served >= 1, "the first stale request is served");
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(reason_of(&refused), Some(Reason::TenantNotAllowed));
    assert_eq!(lookups.of(A), 2, "one refresh for all the stale requests");
}

/// Past the grace, a request waits for the lookup as for a new tenant.
#[tokio::test]
async fn past_the_grace_a_request_waits_for_the_lookup() {
    let idp = MockIssuer::start().await;
    let lookups = Lookups::default();
    let delay = Duration::from_millis(600);
    let config = TenantLookupConfig::default()
        .allowed_ttl(Duration::from_millis(100))
        .stale_grace(Duration::from_millis(100));
    let policy = lookups.policy_with(&[A], delay, config);
    let app = policy_app(&idp, policy).await;
    assert_eq!(send(&app, "/x", &token(&idp, A, 0)).await.status(), 200);
    tokio::time::sleep(Duration::from_millis(400)).await;
    let started = Instant::now();
    assert_eq!(send(&app, "/x", &token(&idp, A, 1)).await.status(), 200);
    assert!(started.elapsed() >= delay / 2, "{:?}", started.elapsed());
    assert_eq!(lookups.of(A), 2);
}

/// A refresh that times out (or fails) keeps the stale answer: every
/// request is still served, and the next stale request tries again.
#[tokio::test]
async fn a_refresh_that_times_out_keeps_the_stale_answer() {
    let idp = MockIssuer::start().await;
    let lookups = Lookups::default();
    let ttl = Duration::from_millis(100);
    let config = TenantLookupConfig::default()
        .allowed_ttl(ttl)
        .stale_grace(Duration::from_secs(60))
        .timeout(Duration::from_millis(50));
    let policy = lookups.fallible(config, |i, _| match i {
        0 => (Duration::ZERO, Ok(true)),
        1 => (Duration::from_secs(10), Ok(false)), // times out
        _ => (Duration::ZERO, Err(DbDown)),
    });
    let app = policy_app(&idp, policy).await;
    assert_eq!(send(&app, "/x", &token(&idp, A, 0)).await.status(), 200);
    tokio::time::sleep(ttl + Duration::from_millis(50)).await;
    let deadline = Instant::now() + Duration::from_secs(5);
    while lookups.of(A) < 4 {
        assert_eq!(send(&app, "/x", &token(&idp, A, 1)).await.status(), 200);
        assert!(Instant::now() < deadline, "refreshes: {}", lookups.of(A));
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A lookup that reports an error: 503 with Retry-After (not a 401), not
/// cached — the next request looks the tenant up again.
#[tokio::test]
async fn a_lookup_error_is_503_and_not_cached() {
    let idp = MockIssuer::start().await;
    let lookups = Lookups::default();
    let policy = lookups.fallible(TenantLookupConfig::default(), |_, tenant| {
        let result = if tenant == A { Err(DbDown) } else { Ok(true) };
        (Duration::ZERO, result)
    });
    let app = policy_app(&idp, policy).await;
    for n in 0..2 {
        let res = send(&app, "/x", &token(&idp, A, n)).await;
        assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(reason_of(&res), Some(Reason::TenantLookupUnavailable));
        assert!(res.headers().contains_key("retry-after"));
    }
    assert_eq!(lookups.of(A), 2, "an error is not cached");
    // Another tenant's lookup succeeds and is cached.
    for n in 0..2 {
        assert_eq!(send(&app, "/x", &token(&idp, B, n)).await.status(), 200);
    }
    assert_eq!(lookups.of(B), 1);
}

/// At the in-flight limit a stale answer is still given (its refresh is
/// skipped), never a 503.
#[tokio::test]
async fn at_the_in_flight_limit_a_stale_answer_is_given_without_a_refresh() {
    let idp = MockIssuer::start().await;
    let lookups = Lookups::default();
    let ttl = Duration::from_millis(100);
    let config = TenantLookupConfig::default()
        .allowed_ttl(ttl)
        .stale_grace(Duration::from_secs(60))
        .max_in_flight(1);
    let slow_b = Arc::new(AtomicBool::new(false));
    let b_is_slow = slow_b.clone();
    let policy = lookups.fallible(config, move |_, tenant| {
        let slow = tenant == B && b_is_slow.load(Ordering::SeqCst);
        let delay = if slow {
            Duration::from_secs(3)
        } else {
            Duration::ZERO
        };
        (delay, Ok(true))
    });
    let app = policy_app(&idp, policy).await;
    assert_eq!(send(&app, "/x", &token(&idp, A, 0)).await.status(), 200);
    tokio::time::sleep(ttl + Duration::from_millis(50)).await;
    // A new tenant's slow lookup takes the only slot.
    slow_b.store(true, Ordering::SeqCst);
    let waiting = tokio::spawn({
        let app = app.clone();
        let t = token(&idp, B, 0);
        async move { send(&app, "/x", &t).await.status() }
    });
    eventually("B's lookup started", Duration::from_secs(5), || {
        lookups.of(B) == 1
    })
    .await;
    let res = send(&app, "/x", &token(&idp, A, 1)).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(lookups.of(A), 1, "no refresh beyond the limit");
    assert_eq!(waiting.await.unwrap(), StatusCode::OK);
}
