//! What a DPoP request costs on top of a bearer request (issue 11): one
//! proof signature verification and little else.
//!
//! Rows (one group, so the ratios are comparable):
//! - `token_verify_es256`: the layer with its verified-token cache disabled,
//!   so every request parses and verifies an ES256 access token;
//! - `proof_verify_es256`: [`DpopChecker::check`] alone on a fresh ES256
//!   proof (parse, header, `jwk`, signature, claims, replay cache);
//! - `token_plus_proof_es256`: both, as a DPoP request will cost once the
//!   layer calls the checker. It should stay within ~1.15× of the sum of
//!   the first two rows' signature work.
//!
//! Proofs and requests are built outside the timed section
//! (`iter_batched`); the service futures complete on their first poll.
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
    let (_idp, issuer, token) = runtime.block_on(async {
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
        (idp, issuer, token)
    });
    let mut layer = AuthLayer::builder()
        .issuer(issuer)
        .cache(CacheConfig::disabled())
        .build()
        .expect("layer")
        .layer(inner());
    // Every proof is fresh; the replay cache must hold them all.
    let checker = DpopChecker::new(
        DpopConfig::builder(BASE)
            .replay_capacity(10_000_000)
            .replay_per_key(10_000_000)
            .build()
            .expect("config"),
    );
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
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
