//! The Layer's cost per request, side by side with bare `jsonwebtoken::decode`
//! and with the inner service alone (issue 2, "Speed").
//!
//! Rows (one group, one run, so the ratios are comparable):
//! - `inner_only`: the trivial inner service without the layer (baseline);
//! - `layer_cache_hit_rs256`: the layer, the token already in the verified-token cache;
//! - `layer_cache_hit_rs256_revocation_check`: the same, plus a
//!   `RevocationList` of 10 000 other `jti`s as a post-verify hook;
//! - `layer_cache_hit_opaque` (feature `introspection`): an opaque token on
//!   a layer with an issuer and an introspector, already in the
//!   introspection cache (compare with `layer_cache_hit_rs256`; the issue's
//!   target is within 10 %);
//! - `layer_fresh_{rs256,es256,eddsa}`: the layer with the cache disabled, so
//!   every request parses and verifies the token;
//! - `decode_{rs256,es256,eddsa}`: `jsonwebtoken::decode` of the same token with
//!   a `Validation` checking the same things (algorithm, `iss`, `aud`, `exp`).
//!
//! A second group, run last, measures the metrics overhead of a cache hit
//! in batches of 32 requests: `metrics/cache_hit_rs256_off_{a..e}` (the
//! layer of `layer_cache_hit_rs256`, built before any recorder: no-op
//! handles, or no metrics code at all without feature `metrics`) and, with
//! feature `metrics`, alternating with them,
//! `metrics/cache_hit_rs256_recorder_{a..e}` (a layer built after the
//! Prometheus recorder was installed: every handle records). Compare the
//! `recorder` rows with their neighbouring `off` rows, and with the `off`
//! rows of a run without the feature. `metrics/one_prometheus_counter_increment`
//! is the exporter's own cost of one increment (an allowed cache hit makes two).
//!
//! Requests are pre-built outside the timed section (`iter_batched`); the
//! service futures complete on their first poll, so no executor is timed.
//!
//! Run: `cargo bench --bench layer --features testkit`.

use std::convert::Infallible;
use std::hint::black_box;
use std::time::{Duration, SystemTime};

use criterion::{criterion_group, criterion_main, BatchSize, Criterion};
use futures_util::FutureExt as _;
use http::{header, Request, Response};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use oauth2_guard::revocation::RevocationList;
use oauth2_guard::testkit::MockIssuer;
use oauth2_guard::{AuthLayer, CacheConfig, Issuer};
use serde_json::{Map, Value};
use tower::{Layer as _, Service, ServiceExt as _};

type Claims = Map<String, Value>;

/// `jsonwebtoken::decode` uses a process-wide provider, ambiguous when both
/// crypto features are on; pin it to the backend the crate itself uses.
fn install_jsonwebtoken_provider() {
    #[cfg(feature = "aws_lc_rs")]
    let provider = &jsonwebtoken::crypto::aws_lc::DEFAULT_PROVIDER;
    #[cfg(all(feature = "rust_crypto", not(feature = "aws_lc_rs")))]
    let provider = &jsonwebtoken::crypto::rust_crypto::DEFAULT_PROVIDER;
    // Err only means one was installed already: the same one.
    let _ = provider.install_default();
}

fn inner(
) -> impl Service<Request<()>, Response = Response<()>, Error = Infallible, Future: Send> + Clone + Send
{
    tower::service_fn(|req: Request<()>| async move {
        black_box(&req);
        Ok::<_, Infallible>(Response::new(()))
    })
}

fn request(token: &str) -> Request<()> {
    Request::builder()
        .uri("/orders")
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .body(())
        .unwrap_or_default()
}

/// One request through `svc`: `poll_ready`, `call`, and the response future,
/// all of which complete without waiting.
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

struct Fixture {
    _runtime: tokio::runtime::Runtime,
    _idp: MockIssuer,
    issuer: Issuer,
    iss: String,
    /// (name, token, key for bare decode)
    tokens: Vec<(&'static str, Algorithm, String, DecodingKey)>,
}

fn fixture() -> Fixture {
    // The mock IdP and the issuer's refresh task live on this runtime for the
    // whole run; the measured code never touches it.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    let (idp, issuer) = runtime.block_on(async {
        let idp = MockIssuer::start().await;
        idp.add_key(Algorithm::ES256);
        idp.add_key(Algorithm::EdDSA);
        let issuer = idp
            .issuer_builder()
            .audience(idp.default_audience())
            .build()
            .await
            .expect("issuer");
        (idp, issuer)
    });
    let mut tokens = Vec::new();
    for (name, alg) in [
        ("rs256", Algorithm::RS256),
        ("es256", Algorithm::ES256),
        ("eddsa", Algorithm::EdDSA),
    ] {
        let token = idp.token().alg(alg).scope("orders:read").sign();
        let kid = header_kid(&token);
        let pem = idp.public_key_pem(&kid).expect("public key");
        let key = match alg {
            Algorithm::ES256 => DecodingKey::from_ec_pem(pem.as_bytes()),
            Algorithm::EdDSA => DecodingKey::from_ed_pem(pem.as_bytes()),
            _ => DecodingKey::from_rsa_pem(pem.as_bytes()),
        }
        .expect("decoding key");
        tokens.push((name, alg, token, key));
    }
    Fixture {
        iss: idp.issuer_url(),
        _runtime: runtime,
        _idp: idp,
        issuer,
        tokens,
    }
}

/// A layer with the fixture's issuer and an introspector of its mock IdP,
/// and an opaque token already introspected (so in the cache).
#[cfg(feature = "introspection")]
fn opaque_layer(f: &Fixture) -> (AuthLayer, String) {
    use oauth2_guard::introspection::Introspector;
    use tower::ServiceExt;
    f._idp.register_client("bench-rs", "bench-secret");
    let opaque = f
        ._idp
        .opaque_token()
        .scope("orders:read")
        .expires_in(Duration::from_secs(3600))
        .issue();
    f._runtime.block_on(async {
        let introspector = Introspector::builder(f.iss.clone(), "bench-rs")
            .client_secret("bench-secret")
            .audience(f._idp.default_audience())
            .cache_ttl(Duration::from_secs(3600))
            .http(oauth2_guard::HttpConfig::default().allow_loopback_http())
            .build()
            .await
            .expect("introspector");
        let layer = AuthLayer::builder()
            .issuer(f.issuer.clone())
            .introspection(introspector)
            .build()
            .expect("layer");
        let warm = layer.clone().layer(inner()).oneshot(request(&opaque)).await;
        assert_eq!(warm.expect("infallible").status(), 200, "opaque warm-up");
        (layer, opaque)
    })
}

fn header_kid(token: &str) -> String {
    use base64::Engine as _;
    let header = token.split('.').next().unwrap_or_default();
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(header)
        .unwrap_or_default();
    let v: Value = serde_json::from_slice(&bytes).unwrap_or_default();
    v["kid"].as_str().unwrap_or_default().to_owned()
}

fn bench(c: &mut Criterion) {
    install_jsonwebtoken_provider();
    let f = fixture();
    let layer = |cache: CacheConfig| {
        AuthLayer::builder()
            .issuer(f.issuer.clone())
            .cache(cache)
            .build()
            .expect("layer")
    };
    let mut cached = layer(CacheConfig::default()).layer(inner());
    let mut uncached = layer(CacheConfig::disabled()).layer(inner());
    let revocations = RevocationList::new();
    let exp = SystemTime::now() + Duration::from_secs(3600);
    for i in 0..10_000 {
        revocations
            .revoke_jti(&format!("other-{i}"), exp)
            .expect("revoked");
    }
    let mut cached_revocation = AuthLayer::builder()
        .issuer(f.issuer.clone())
        .post_verify(revocations.clone())
        .build()
        .expect("layer")
        .layer(inner());
    let mut bare = inner();

    // Sanity: every path accepts every token before anything is timed.
    for (name, alg, token, key) in &f.tokens {
        assert_eq!(drive(&mut cached, request(token)), 200, "cached {name}");
        assert_eq!(
            drive(&mut cached_revocation, request(token)),
            200,
            "revocation {name}"
        );
        assert_eq!(drive(&mut uncached, request(token)), 200, "uncached {name}");
        assert!(
            jsonwebtoken::decode::<Claims>(token, key, &validation(*alg, &f.iss)).is_ok(),
            "decode {name}"
        );
    }

    let mut group = c.benchmark_group("layer");
    group
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));

    let rs256 = &f.tokens[0].2;
    group.bench_function("inner_only", |b| {
        b.iter_batched(
            || request(rs256),
            |req| drive(&mut bare, req),
            BatchSize::SmallInput,
        )
    });
    group.bench_function("layer_cache_hit_rs256", |b| {
        b.iter_batched(
            || request(rs256),
            |req| drive(&mut cached, req),
            BatchSize::SmallInput,
        )
    });
    group.bench_function("layer_cache_hit_rs256_revocation_check", |b| {
        b.iter_batched(
            || request(rs256),
            |req| drive(&mut cached_revocation, req),
            BatchSize::SmallInput,
        )
    });
    #[cfg(feature = "introspection")]
    {
        let (layer, opaque) = opaque_layer(&f);
        let mut svc = layer.layer(inner());
        assert_eq!(drive(&mut svc, request(&opaque)), 200, "opaque cache hit");
        group.bench_function("layer_cache_hit_opaque", |b| {
            b.iter_batched(
                || request(&opaque),
                |req| drive(&mut svc, req),
                BatchSize::SmallInput,
            )
        });
    }
    for (name, alg, token, key) in &f.tokens {
        group.bench_function(format!("layer_fresh_{name}"), |b| {
            b.iter_batched(
                || request(token),
                |req| drive(&mut uncached, req),
                BatchSize::SmallInput,
            )
        });
        let validation = validation(*alg, &f.iss);
        group.bench_function(format!("decode_{name}"), |b| {
            b.iter(|| {
                jsonwebtoken::decode::<Claims>(black_box(token.as_str()), key, &validation).is_ok()
            })
        });
    }
    group.finish();

    // Last: the metrics overhead, on a recorder installed now. The layer
    // `cached` was built before it, so its handles (the issuer's decision
    // counters, the cache's counters and histogram) are no-ops and it
    // reads no process-wide metrics state: it stays "metrics off" while
    // `metered`, built after, records. The two alternate, five times, so
    // the ratio is taken from neighbouring rows of one process. Small
    // batches: a large batch of 1 KiB-token requests freed one by one
    // inside the timed loop makes the allocator's work (and its noise)
    // larger than the difference measured.
    #[cfg(feature = "metrics")]
    let mut metered = {
        let _ = metrics_exporter_prometheus::PrometheusBuilder::new().install_recorder();
        let issuer = f._runtime.block_on(async {
            f._idp
                .issuer_builder()
                .audience(f._idp.default_audience())
                .build()
                .await
                .expect("issuer")
        });
        let mut metered = AuthLayer::builder()
            .issuer(issuer)
            .build()
            .expect("layer")
            .layer(inner());
        assert_eq!(drive(&mut metered, request(rs256)), 200, "metered");
        metered
    };
    let mut group = c.benchmark_group("metrics");
    group
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    for round in ["a", "b", "c", "d", "e"] {
        #[cfg_attr(not(feature = "metrics"), allow(unused_mut))]
        let mut rows = vec![("off", &mut cached)];
        #[cfg(feature = "metrics")]
        rows.push(("recorder", &mut metered));
        for (name, svc) in rows {
            group.bench_function(format!("cache_hit_rs256_{name}_{round}"), |b| {
                b.iter_batched(
                    || request(rs256),
                    |req| drive(svc, req),
                    BatchSize::NumIterations(32),
                )
            });
        }
    }
    // The floor: one increment of a Prometheus counter handle (a cache hit
    // that is allowed makes two, the decision and the cache hit).
    #[cfg(feature = "metrics")]
    {
        let probe = metrics::counter!("oauth2_guard_bench_probe_total");
        group.bench_function("one_prometheus_counter_increment", |b| {
            b.iter(|| black_box(&probe).increment(1))
        });
    }
    group.finish();
}

/// What the layer checks, expressed for `jsonwebtoken::decode`.
fn validation(alg: Algorithm, iss: &str) -> Validation {
    let mut v = Validation::new(alg);
    v.set_issuer(&[iss]);
    v.set_audience(&[oauth2_guard::testkit::DEFAULT_AUDIENCE]);
    v.set_required_spec_claims(&["exp", "iss", "aud"]);
    v
}

criterion_group!(benches, bench);
criterion_main!(benches);
