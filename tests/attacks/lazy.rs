//! Lazy issuers under attack: unsigned tokens naming trusted-by-template
//! issuers reach discovery before any signature is checked, so what they
//! may cost must be bounded, and abandoning them must cost nothing.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::Router;
use http::{header, Request, Response, StatusCode};
use oauth2_guard::testkit::MockIssuer;
use oauth2_guard::{AuthLayer, Issuer, LazyIssuers, Reason, Rejection};
use serde_json::json;
use tower::ServiceExt;

use super::enc;
use crate::common::{
    bearer, bind_loopback, get_with_auth, loopback, now, ok_app, reason_of, serve,
};

/// Every request here is bounded by this (a hung request is a failure, not a hang).
const BOUND: Duration = Duration::from_secs(10);

/// A token naming `iss` that no key ever signed: what an attacker can send.
fn unsigned(iss: &str) -> String {
    let header = json!({"alg": "RS256", "typ": "JWT", "kid": "k1"});
    let claims = json!({
        "iss": iss, "sub": "mallory", "aud": "orders-api",
        "iat": now(), "exp": now() + 300,
    });
    format!("{}.{}.c2lnbmF0dXJl", enc(&header), enc(&claims))
}

fn app(lazy: LazyIssuers) -> Router {
    ok_app(AuthLayer::builder().lazy_issuers(lazy).build().unwrap())
}

fn request(token: &str) -> Request<Body> {
    get_with_auth("/x", bearer(token))
}

async fn send(app: &Router, token: &str) -> Response<Body> {
    tokio::time::timeout(BOUND, app.clone().oneshot(request(token)))
        .await
        .expect("request bounded in time")
        .unwrap()
}

/// Send, then give up after `after` as a disconnecting client does: the
/// request future is dropped mid-discovery.
async fn send_and_drop(app: &Router, token: &str, after: Duration) {
    let res = tokio::time::timeout(after, app.clone().oneshot(request(token))).await;
    assert!(
        res.is_err(),
        "the request was meant to be abandoned mid-discovery"
    );
}

/// A loopback listener that accepts connections and never answers; counts them.
async fn black_hole() -> (String, Arc<AtomicUsize>) {
    let listener = bind_loopback().await;
    let base = format!("http://{}", listener.local_addr().unwrap());
    let accepted = Arc::new(AtomicUsize::new(0));
    let count = accepted.clone();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            count.fetch_add(1, Ordering::SeqCst);
            held.push(socket);
        }
    });
    (base, accepted)
}

/// A loopback HTTP server that answers every request 404 at once; counts
/// the discovery documents asked for.
async fn not_found() -> (String, Arc<AtomicUsize>) {
    let asked = Arc::new(AtomicUsize::new(0));
    let count = asked.clone();
    let router = Router::new().fallback(move |req: Request<Body>| {
        let count = count.clone();
        async move {
            if req.uri().path().contains("/.well-known/") {
                count.fetch_add(1, Ordering::SeqCst);
            }
            StatusCode::NOT_FOUND
        }
    });
    let base = format!("http://{}", serve(router).await);
    (base, asked)
}

/// Issue 15 item 1: requests dropped during the discovery of fake tenants
/// must not hold `max_issuers` slots: a real tenant is still accepted.
#[tokio::test]
async fn abandoned_discoveries_of_fake_tenants_do_not_lock_out_real_ones() {
    let (hole, accepted) = black_hole().await;
    let real = MockIssuer::start().await;
    let real_url = real.issuer_url();
    let fake_prefix = format!("{hole}/tenant-");
    let lazy = LazyIssuers::new(move |iss: &str| {
        let trusted = iss == real_url
            || iss
                .strip_prefix(&fake_prefix)
                .is_some_and(|t| !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit()));
        trusted.then(|| Issuer::builder(iss).audience("orders-api").http(loopback()))
    })
    .max_issuers(4);
    let app = app(lazy);

    for n in 0..4 {
        send_and_drop(
            &app,
            &unsigned(&format!("{hole}/tenant-{n}")),
            Duration::from_millis(150),
        )
        .await;
    }
    // The fake discoveries do reach the black hole (and stay stuck there).
    let deadline = tokio::time::Instant::now() + BOUND;
    while accepted.load(Ordering::SeqCst) == 0 && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(accepted.load(Ordering::SeqCst) >= 1);

    let res = send(&app, &real.token().sign()).await;
    assert_eq!(res.status(), StatusCode::OK, "{:?}", reason_of(&res));
    assert_eq!(send(&app, &real.token().sign()).await.status(), 200);
    assert_eq!(real.discovery_fetches(), 1);
}

/// Issue 15 item 1, listed tenant: a request for it dropped mid-discovery
/// must neither leave it unusable (503) nor put it into a cooldown.
#[tokio::test]
async fn abandoned_discovery_of_a_listed_tenant_is_not_a_failure() {
    let listed = MockIssuer::start().await;
    listed.set_jwks_delay(Duration::from_millis(400));
    let lazy = LazyIssuers::from_list([listed.issuer_url()], |b| {
        b.audience("orders-api").http(loopback())
    });
    let app = app(lazy);

    send_and_drop(
        &app,
        &unsigned(&listed.issuer_url()),
        Duration::from_millis(100),
    )
    .await;
    let res = send(&app, &listed.token().sign()).await;
    assert_eq!(res.status(), StatusCode::OK, "{:?}", reason_of(&res));
    assert_eq!(send(&app, &listed.token().sign()).await.status(), 200);
    assert_eq!(
        listed.discovery_fetches(),
        1,
        "the abandoned discovery finished and was used"
    );
}

/// Issue 15 item 2: a flood of unsigned tokens with distinct trusted `iss`
/// costs a bounded number of discoveries; every one is answered 503 with
/// `Retry-After`, and the issuers' cooldowns do not all stay in memory.
#[tokio::test]
async fn flood_of_unsigned_tokens_costs_a_bounded_number_of_discoveries() {
    const FLOOD: usize = 300;
    let (base, asked) = not_found().await;
    let prefix = format!("{base}/t/");
    let lazy = LazyIssuers::new(move |iss: &str| {
        iss.strip_prefix(&prefix)
            .is_some_and(|t| !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit()))
            .then(|| Issuer::builder(iss).audience("orders-api").http(loopback()))
    });
    let app = app(lazy);

    let start = std::time::Instant::now();
    let mut responses = Vec::new();
    for n in 0..FLOOD {
        let res = send(&app, &unsigned(&format!("{base}/t/{n}"))).await;
        let retry = res
            .headers()
            .get(header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        responses.push((res.status(), reason_of(&res), retry));
    }
    let took = start.elapsed();
    for (status, reason, retry) in &responses {
        assert_eq!(*status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(*reason, Some(Reason::KeysUnavailable));
        assert!(retry.is_some_and(|s| s >= 1), "Retry-After on every 503");
    }
    // Default budget: a burst of 8, then one discovery per 2 s; each
    // discovery asks for at most three well-known documents.
    let budget = 8 + 1 + took.as_secs() as usize / 2;
    let documents = asked.load(Ordering::SeqCst);
    assert!(
        documents <= 3 * budget,
        "{FLOOD} unsigned tokens cost {documents} discovery requests (budget {budget} discoveries)"
    );
}

/// Issue 9: a failed discovery's 503 carries the configured cooldown, not
/// a hard-coded 5 s.
#[tokio::test]
async fn failed_discovery_answers_with_the_configured_cooldown() {
    let down = MockIssuer::start().await;
    down.set_outage(true);
    let lazy = LazyIssuers::from_list([down.issuer_url()], |b| {
        b.audience("orders-api").http(loopback())
    })
    .retry_after(Duration::from_secs(60));
    let app = app(lazy);
    let token = down.token().sign();
    for _ in 0..2 {
        let res = send(&app, &token).await;
        assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
        let hint = res
            .extensions()
            .get::<Rejection>()
            .and_then(Rejection::retry_after)
            .expect("a retry hint");
        assert!(
            hint > Duration::from_secs(50) && hint <= Duration::from_secs(60),
            "{hint:?}"
        );
    }
    assert_eq!(
        down.discovery_fetches(),
        1,
        "no second discovery during the cooldown"
    );
}
