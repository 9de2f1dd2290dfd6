//! What a DPoP request costs on top of a bearer request (issue 11): one
//! proof signature verification and little else.
//!
//! Rows (one group, so the ratios are comparable):
//! - `token_verify_es256`: the layer with its verified-token cache disabled,
//!   so every request parses and verifies an ES256 access token;
//! - `proof_verify_es256`: [`DpopChecker::check`] alone on a fresh ES256
//!   proof (parse, header, `jwk`, signature, claims, replay cache);
//! - `token_plus_proof_es256`: both, side by side, outside any layer;
//! - `dpop_request_through_layer`: a full DPoP request (`Authorization:
//!   DPoP`, a fresh proof each iteration) through an `AuthLayer` with DPoP
//!   on and its verified-token cache disabled: a fresh token verification,
//!   the proof verification, the binding check and the replay-cache insert.
//!   The budget: this row / `token_plus_proof_es256` ≤ 1.15;
//! - `dpop_request_through_layer_cached`: the same with the default
//!   verified-token cache (a cache hit after the first request): what a
//!   client reusing its token costs in production.
//!
//! Proofs and requests are built outside the timed section
//! (`iter_batched`: a batch of unique proofs per sample); the replay caches
//! are sized so they never fill (every proof of the run is remembered for
//! its 61 s window, all under one key). The service futures complete on
//! their first poll (the in-memory replay store is synchronous).
//!
//! Run: `cargo bench --bench dpop --features testkit,dpop`.

use std::convert::Infallible;
use std::hint::black_box;
use std::time::{SystemTime, UNIX_EPOCH};

use criterion::{criterion_group, criterion_main, BatchSize, Criterion};
use futures_util::FutureExt as _;
use http::{header, Method, Request, Response, Uri};
use oauth2_guard::dpop::{DpopChecker, DpopConfig};
use oauth2_guard::testkit::{Algorithm, DpopKey, MockIssuer};
use oauth2_guard::{AuthLayer, CacheConfig};
use tower::{Layer as _, Service, ServiceExt as _};

const BASE: &str = "https://api.example.com";
const URL: &str = "https://api.example.com/orders";

fn inner(
) -> impl Service<Request<()>, Response = Response<()>, Error = Infallible, Future: Send> + Clone + Send
{
    tower::service_fn(|req: Request<()>| async move {
        black_box(&req);
        Ok::<_, Infallible>(Response::new(()))
    })
}

fn drive<S>(svc: &mut S, req: Request<()>) -> u16
where
    S: Service<Request<()>, Response = Response<()>, Error = Infallible>,
{
    let fut = async {
        let ready = svc.ready().await?;
        ready.call(req).await
    };
    match fut.now_or_never() {
        Some(Ok(res)) => res.status().as_u16(),
        _ => 0,
    }
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn bench(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    let key = DpopKey::generate(Algorithm::ES256);
    let (_idp, issuer, token, bound) = runtime.block_on(async {
        let idp = MockIssuer::start().await;
        idp.add_key(Algorithm::ES256);
        let issuer = idp
            .issuer_builder()
            .audience(idp.default_audience())
            .build()
            .await
            .expect("issuer");
        // Unbound: the layer does not know DPoP yet and would refuse a
        // bound token under Bearer; the verification work is the same.
        let token = idp.token().alg(Algorithm::ES256).sign();
        // The same size of claims plus `cnf.jkt`, for the DPoP rows.
        let bound = idp
            .token()
            .alg(Algorithm::ES256)
            .claim("cnf", key.cnf())
            .sign();
        (idp, issuer, token, bound)
    });
    let mut layer = AuthLayer::builder()
        .issuer(issuer.clone())
        .cache(CacheConfig::disabled())
        .build()
        .expect("layer")
        .layer(inner());
    // Every proof is fresh; the replay cache must hold them all.
    let dpop_config = DpopConfig::builder(BASE)
        .replay_capacity(10_000_000)
        .replay_per_key(10_000_000)
        .build()
        .expect("config");
    let checker = DpopChecker::new(dpop_config.clone());
    let dpop_layer = |cache: CacheConfig| {
        AuthLayer::builder()
            .issuer(issuer.clone())
            .cache(cache)
            .dpop(dpop_config.clone())
            .build()
            .expect("layer")
            .layer(inner())
    };
    let mut dpop_uncached = dpop_layer(CacheConfig::disabled());
    let mut dpop_cached = dpop_layer(CacheConfig::default());
    let dpop_request = || {
        Request::builder()
            .uri("/orders")
            .header(header::AUTHORIZATION, format!("DPoP {bound}"))
            .header("dpop", key.proof("GET", URL, Some(&bound), None))
            .body(())
            .unwrap_or_default()
    };
    let jkt = key.thumbprint();
    let uri = Uri::from_static("/orders");
    let request = || {
        Request::builder()
            .uri("/orders")
            .header(header::AUTHORIZATION, format!("Bearer {token}"))
            .body(())
            .unwrap_or_default()
    };
    let proof = || key.proof("GET", URL, Some(&token), None);
    let check = |proof: &str| {
        checker
            .check(proof, &Method::GET, &uri, &token, Some(&jkt), now())
            .is_ok()
    };
    // Sanity: the token and the proof are accepted before anything is timed.
    assert_eq!(drive(&mut layer, request()), 200, "token refused");
    assert!(check(&proof()), "proof refused");
    assert_eq!(
        drive(&mut dpop_uncached, dpop_request()),
        200,
        "DPoP refused"
    );
    assert_eq!(drive(&mut dpop_cached, dpop_request()), 200, "DPoP refused");
    let replayed = dpop_request();
    let again = Request::builder()
        .uri("/orders")
        .header(
            header::AUTHORIZATION,
            replayed.headers()[header::AUTHORIZATION].clone(),
        )
        .header("dpop", replayed.headers()["dpop"].clone())
        .body(())
        .unwrap_or_default();
    assert_eq!(drive(&mut dpop_uncached, replayed), 200, "DPoP refused");
    assert_eq!(
        drive(&mut dpop_uncached, again),
        401,
        "the replay cache is on"
    );

    let mut group = c.benchmark_group("dpop");
    group.bench_function("token_verify_es256", |b| {
        b.iter_batched(request, |req| drive(&mut layer, req), BatchSize::SmallInput);
    });
    group.bench_function("proof_verify_es256", |b| {
        b.iter_batched(proof, |p| check(&p), BatchSize::SmallInput);
    });
    group.bench_function("token_plus_proof_es256", |b| {
        b.iter_batched(
            || (request(), proof()),
            |(req, p)| (drive(&mut layer, req), check(&p)),
            BatchSize::SmallInput,
        );
    });
    group.bench_function("dpop_request_through_layer", |b| {
        b.iter_batched(
            dpop_request,
            |req| drive(&mut dpop_uncached, req),
            BatchSize::SmallInput,
        );
    });
    group.bench_function("dpop_request_through_layer_cached", |b| {
        b.iter_batched(
            dpop_request,
            |req| drive(&mut dpop_cached, req),
            BatchSize::SmallInput,
        );
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
