//! An orders service protected by oauth2-guard.
//!
//! ```text
//! cargo run --example orders
//! ```
//!
//! With no configuration it starts an embedded test issuer on 127.0.0.1 and
//! prints ready-to-paste `curl` commands with freshly minted tokens. Set
//! `OAUTH2_ISSUER` and `OAUTH2_AUDIENCE` to protect it with a real IdP
//! (Keycloak, Auth0, Okta, Cognito, Entra ID), and `ORDERS_ADDR` to listen
//! elsewhere than 127.0.0.1:8080.
//!
//! A real IdP must be reached over HTTPS. For one running on this machine
//! over plain HTTP (`http://127.0.0.1:…`, say Keycloak in a container), set
//! `OAUTH2_ALLOW_LOOPBACK_HTTP=1` as well: the opt-in is explicit, never
//! implied. The embedded issuer always uses it.
//!
//! Opaque tokens need the `introspection` feature:
//!
//! ```text
//! cargo run --features introspection --example orders   # or --all-features
//! ```
//!
//! With `OAUTH2_CLIENT_ID` / `OAUTH2_CLIENT_SECRET` set (this service's own
//! credentials at the IdP), opaque tokens are accepted too, through the
//! discovered introspection endpoint, cached for
//! `OAUTH2_INTROSPECTION_TTL_SECS` (default 60). A build without the
//! feature refuses to start when they are set (it would ignore them). The
//! embedded issuer always demonstrates it.
//!
//! Shared across instances (run with `--features redis`, or
//! `--all-features`): with `OAUTH2_REDIS_URL` set
//! (`redis://[:password@]host[:port][/db]`), the revocation list is a
//! `RedisRevocations` (a revocation on any instance reaches every other
//! within milliseconds) and, when opaque tokens are on, introspection
//! answers are shared through Redis too — which needs
//! `OAUTH2_INTROSPECTION_HASH_KEY`: the same secret of at least 32 bytes
//! on every instance (`openssl rand -hex 32`). `OAUTH2_REDIS_NAMESPACE`
//! (default `orders`) prefixes the keys. Without `OAUTH2_REDIS_URL`
//! everything stays in memory.
//!
//! DPoP (run with `--features dpop`, or `--all-features`): DPoP-bound
//! tokens (RFC 9449, `Authorization: DPoP` + a `DPoP` proof) are accepted
//! beside Bearer tokens; a proof's `htu` is compared against
//! `ORDERS_PUBLIC_URL` (default `http://` + `ORDERS_ADDR`; behind a proxy,
//! the public URL clients use). With `OAUTH2_REDIS_URL` the replay store
//! is shared through Redis. The embedded issuer demonstrates it: curl
//! cannot sign proofs, so the example makes DPoP calls itself and prints
//! what they got (`examples/orders/dpop.rs`).
//!
//! - `GET /health` — public.
//! - `GET /orders` — needs scope `orders:read`.
//! - `POST /orders` — needs scope `orders:write`.
//! - `POST /admin/revocations` — needs scope `orders:admin`; body
//!   `{"jti": "…"}` or `{"sub": "…", "issued_before": <unix seconds>}`
//!   revokes at once (checked on every request; in memory, or through
//!   Redis with `OAUTH2_REDIS_URL`).

use std::net::SocketAddr;
use std::time::Duration;

use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use oauth2_guard::authz::RequireScope;
use oauth2_guard::ops::Readiness;
use oauth2_guard::revocation::{self, RevocationList, RevocationStore};
use oauth2_guard::testkit::MockIssuer;
use oauth2_guard::HttpConfig;
use oauth2_guard::{AuthLayer, AuthLayerBuilder, Issuer, PostVerify, VerifiedClaims};
use serde_json::{json, Value};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,oauth2_guard=debug".into()),
        )
        .init();
    // Before any issuer or layer is built: they register their metrics with it.
    let prometheus = ops::install_prometheus()?;

    let addr: SocketAddr = std::env::var("ORDERS_ADDR")
        .unwrap_or_else(|_| "127.0.0.1:8080".into())
        .parse()?;

    // Keep the embedded issuer alive for the whole run.
    let (issuer, _embedded, http) = match (
        std::env::var("OAUTH2_ISSUER"),
        std::env::var("OAUTH2_AUDIENCE"),
    ) {
        (Ok(iss), Ok(aud)) => {
            println!("Protecting with {iss} (audience {aud})");
            let mut http = HttpConfig::default();
            if std::env::var("OAUTH2_ALLOW_LOOPBACK_HTTP").as_deref() == Ok("1") {
                println!("Plain HTTP to 127.0.0.1 / [::1] allowed (OAUTH2_ALLOW_LOOPBACK_HTTP=1)");
                http = http.allow_loopback_http();
            }
            let issuer = Issuer::builder(iss)
                .audience(aud)
                .http(http.clone())
                .build()
                .await?;
            (issuer, None, http)
        }
        _ => {
            let idp = MockIssuer::start().await;
            // `issuer_builder` carries the loopback opt-in the mock needs.
            let issuer = idp
                .issuer_builder()
                .audience(idp.default_audience())
                .build()
                .await?;
            (
                issuer,
                Some(idp),
                HttpConfig::default().allow_loopback_http(),
            )
        }
    };
    let _ = &http; // used by the introspection setup when the feature is on
    let redis_url = std::env::var("OAUTH2_REDIS_URL").ok();
    #[cfg(not(feature = "redis"))]
    if redis_url.is_some() {
        return Err(
            "OAUTH2_REDIS_URL is set, but this build has no `redis` feature: \
                    run `cargo run --features redis --example orders` (or --all-features)"
                .into(),
        );
    }
    // Set credentials mean "accept opaque tokens": never ignore them silently.
    #[cfg(not(feature = "introspection"))]
    if std::env::var_os("OAUTH2_CLIENT_ID").is_some()
        || std::env::var_os("OAUTH2_CLIENT_SECRET").is_some()
    {
        return Err(
            "OAUTH2_CLIENT_ID / OAUTH2_CLIENT_SECRET are set (opaque tokens through introspection), \
                    but this build has no `introspection` feature: \
                    run `cargo run --features introspection --example orders` (or --all-features)"
                .into(),
        );
    }

    #[cfg_attr(
        not(any(feature = "introspection", feature = "dpop")),
        allow(unused_mut)
    )]
    let mut layer = AuthLayer::builder().issuer(issuer.clone()).realm("orders");
    // `/ready` checks every dependency configured below (keys, and when
    // set up the introspection endpoint and the Redis revocation list).
    #[cfg_attr(
        not(any(feature = "introspection", feature = "redis")),
        allow(unused_mut)
    )]
    let mut ready = Readiness::new().issuer(&issuer);
    #[cfg(feature = "introspection")]
    {
        let redis = redis_url.as_deref();
        layer = match opaque::introspector(&issuer, _embedded.as_ref(), http, redis).await? {
            Some(introspector) => {
                println!(
                    "Opaque tokens: on (introspection at {})",
                    introspector.endpoint()
                );
                ready = ready.introspector(&introspector, ops::READY_MAX_AGE);
                layer.introspection(introspector)
            }
            None => {
                println!("Opaque tokens: off (set OAUTH2_CLIENT_ID and OAUTH2_CLIENT_SECRET)");
                layer
            }
        };
    }
    #[cfg(not(feature = "introspection"))]
    println!("Opaque tokens: off (build with --features introspection)");
    #[cfg(feature = "dpop")]
    let public_url =
        std::env::var("ORDERS_PUBLIC_URL").unwrap_or_else(|_| format!("http://{addr}"));
    #[cfg(feature = "dpop")]
    {
        layer = dpop::enable(layer, &public_url, redis_url.as_deref())?;
    }
    #[cfg(not(feature = "dpop"))]
    println!("DPoP: off (build with --features dpop)");

    #[cfg(feature = "redis")]
    let protected = match &redis_url {
        Some(url) => {
            let revocations = oauth2_guard::revocation::RedisRevocations::builder(url.as_str())
                .namespace(namespace())
                .build() // waits for the first full load
                .await?;
            println!(
                "Revocation: shared through Redis at {} (namespace {}), POST /admin/revocations (scope orders:admin)",
                redacted(url),
                namespace()
            );
            ready = ready.redis_revocations(&revocations, ops::READY_MAX_AGE);
            protected(layer, revocations)?
        }
        None => in_memory(layer)?,
    };
    #[cfg(not(feature = "redis"))]
    let protected = in_memory(layer)?;

    // Public routes live outside the layer, declared explicitly.
    let app = Router::new()
        .route("/health", get(|| async { "ok" }))
        .merge(ops::routes(prometheus, ready))
        .merge(protected);
    oauth2_guard::audit::log_inventory();

    let listener = tokio::net::TcpListener::bind(addr).await?;
    let base = format!("http://{}", listener.local_addr()?);
    println!("orders service on {base}");
    if let Some(idp) = &_embedded {
        print_demo(idp, &base);
        #[cfg(feature = "dpop")]
        println!("{}", dpop::demo(idp, &public_url, app.clone()).await);
    }
    axum::serve(listener, app).await?;
    Ok(())
}

fn in_memory(layer: AuthLayerBuilder) -> Result<Router, oauth2_guard::ConfigError> {
    println!("Revocation: in memory, POST /admin/revocations (scope orders:admin)");
    protected(layer, RevocationList::new())
}

/// The routes behind the layer; `revocations` (in memory or Redis) is
/// checked on every request and written by `POST /admin/revocations`.
fn protected<R>(
    layer: AuthLayerBuilder,
    revocations: R,
) -> Result<Router, oauth2_guard::ConfigError>
where
    R: RevocationStore + PostVerify + Clone,
{
    Ok(Router::new()
        // Per-route guards: 403 insufficient_scope (RFC 6750 §3.1) when the scope is missing.
        .route(
            "/orders",
            get(list_orders)
                .layer(RequireScope::new("orders:read"))
                .merge(post(create_order).layer(RequireScope::new("orders:write"))),
        )
        .route(
            "/admin/revocations",
            revocation::handler(revocations.clone()).route_layer(RequireScope::new("orders:admin")),
        )
        .layer(layer.post_verify(revocations).build()?))
}

/// Key prefix in Redis (`OAUTH2_REDIS_NAMESPACE`, default `orders`).
#[cfg(feature = "redis")]
fn namespace() -> String {
    std::env::var("OAUTH2_REDIS_NAMESPACE").unwrap_or_else(|_| "orders".into())
}

/// A Redis URL fit to print: its password, if any, replaced.
#[cfg(feature = "redis")]
fn redacted(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) => {
            if u.password().is_some() {
                let _ = u.set_password(Some("***"));
            }
            u.to_string()
        }
        Err(_) => "(unparsable URL)".into(),
    }
}

async fn list_orders(Extension(claims): Extension<VerifiedClaims>) -> Json<Value> {
    Json(json!({
        "caller": claims.subject(),
        "orders": [{"id": 1, "item": "coffee"}, {"id": 2, "item": "tea"}],
    }))
}

async fn create_order(Extension(claims): Extension<VerifiedClaims>) -> (StatusCode, Json<Value>) {
    (
        StatusCode::CREATED,
        Json(json!({"id": 3, "created_by": claims.subject()})),
    )
}

fn print_demo(idp: &MockIssuer, base: &str) {
    let hour = Duration::from_secs(3600);
    let read = idp
        .token()
        .subject("alice")
        .scope("orders:read")
        .expires_in(hour)
        .sign();
    let write = idp
        .token()
        .subject("alice")
        .scope("orders:read orders:write")
        .expires_in(hour)
        .sign();
    let expired = idp
        .token()
        .subject("alice")
        .scope("orders:read")
        .expired()
        .sign();
    let wrong_aud = idp
        .token()
        .subject("alice")
        .scope("orders:read")
        .audience("billing-api")
        .sign();
    println!(
        "\nEmbedded issuer: {} (tokens valid for 1 h)\n",
        idp.issuer_url()
    );
    println!("# public\ncurl -i {base}/health\n");
    println!(
        "# no token -> 401 with WWW-Authenticate: Bearer realm=\"orders\"\ncurl -i {base}/orders\n"
    );
    println!("# valid token with orders:read -> 200\ncurl -i -H 'Authorization: Bearer {read}' {base}/orders\n");
    println!("# orders:read only, POST needs orders:write -> 403 insufficient_scope\ncurl -i -X POST -H 'Authorization: Bearer {read}' {base}/orders\n");
    println!(
        "# orders:write -> 201\ncurl -i -X POST -H 'Authorization: Bearer {write}' {base}/orders\n"
    );
    println!("# expired -> 401 invalid_token \"The access token expired\"\ncurl -i -H 'Authorization: Bearer {expired}' {base}/orders\n");
    println!("# wrong audience -> 401 invalid_token\ncurl -i -H 'Authorization: Bearer {wrong_aud}' {base}/orders\n");
    let admin = idp
        .token()
        .subject("ops")
        .scope("orders:admin")
        .expires_in(hour)
        .sign();
    println!("# revoke alice's tokens issued until now -> 204; then the orders:read token above is refused (401 revoked)\ncurl -i -X POST -H 'Authorization: Bearer {admin}' -H 'Content-Type: application/json' -d '{{\"sub\": \"alice\", \"issued_before\": {}}}' {base}/admin/revocations\n", now() + 1);
    #[cfg(feature = "introspection")]
    {
        let opaque = idp
            .opaque_token()
            .subject("bob")
            .scope("orders:read")
            .expires_in(hour)
            .issue();
        println!("# an opaque token, introspected (then cached) -> 200\ncurl -i -H 'Authorization: Bearer {opaque}' {base}/orders\n");
    }
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

#[cfg(feature = "dpop")]
#[path = "orders/dpop.rs"]
mod dpop;

#[cfg(feature = "introspection")]
mod opaque {
    use std::time::Duration;

    use oauth2_guard::introspection::Introspector;
    use oauth2_guard::testkit::MockIssuer;
    use oauth2_guard::{HttpConfig, Issuer};

    /// The introspector: the embedded issuer's (a client registered for
    /// this service), or the real IdP's when OAUTH2_CLIENT_ID/SECRET are set.
    pub(crate) async fn introspector(
        issuer: &Issuer,
        embedded: Option<&MockIssuer>,
        http: HttpConfig,
        redis: Option<&str>,
    ) -> Result<Option<Introspector>, Box<dyn std::error::Error>> {
        let ttl = match std::env::var("OAUTH2_INTROSPECTION_TTL_SECS") {
            Ok(s) => Duration::from_secs(s.parse()?),
            Err(_) => Duration::from_secs(60),
        };
        let (client_id, secret, audience) = match (
            std::env::var("OAUTH2_CLIENT_ID"),
            std::env::var("OAUTH2_CLIENT_SECRET"),
            embedded,
        ) {
            (Ok(id), Ok(secret), None) => {
                let aud = std::env::var("OAUTH2_AUDIENCE")?;
                (id, secret, aud)
            }
            (Ok(_), Err(_), None) | (Err(_), Ok(_), None) => {
                return Err("set both OAUTH2_CLIENT_ID and OAUTH2_CLIENT_SECRET \
                            (this service's own credentials at the IdP), or neither"
                    .into())
            }
            (_, _, Some(idp)) => {
                idp.register_client("orders-service", "orders-service-secret");
                (
                    "orders-service".to_owned(),
                    "orders-service-secret".to_owned(),
                    idp.default_audience().to_owned(),
                )
            }
            _ => return Ok(None),
        };
        println!(
            "Introspection cache TTL: {} s (OAUTH2_INTROSPECTION_TTL_SECS)",
            ttl.as_secs()
        );
        let builder = Introspector::builder(issuer.name(), client_id)
            .client_secret(secret)
            .audience(audience)
            .cache_ttl(ttl)
            .http(http);
        let builder = match redis {
            None => builder,
            #[cfg(feature = "redis")]
            Some(url) => shared(builder, url)?,
            #[cfg(not(feature = "redis"))]
            Some(_) => builder, // refused earlier
        };
        Ok(Some(builder.build().await?))
    }

    /// Introspection answers shared through Redis: needs the fleet's hash key.
    #[cfg(feature = "redis")]
    fn shared(
        builder: oauth2_guard::introspection::IntrospectorBuilder,
        url: &str,
    ) -> Result<oauth2_guard::introspection::IntrospectorBuilder, Box<dyn std::error::Error>> {
        use oauth2_guard::introspection::{RedisIntrospectionCache, MIN_HASH_KEY_BYTES};
        let Ok(key) = std::env::var("OAUTH2_INTROSPECTION_HASH_KEY") else {
            return Err(format!(
                "OAUTH2_REDIS_URL shares introspection answers between instances: set \
                 OAUTH2_INTROSPECTION_HASH_KEY to the same secret of at least \
                 {MIN_HASH_KEY_BYTES} bytes on every instance (e.g. `openssl rand -hex 32`)"
            )
            .into());
        };
        let cache = RedisIntrospectionCache::builder(url)
            .namespace(super::namespace())
            .build()?;
        println!(
            "Introspection cache: shared through Redis (namespace {}, hash key from \
             OAUTH2_INTROSPECTION_HASH_KEY, {} bytes)",
            super::namespace(),
            key.len()
        );
        Ok(builder.hash_key(key).shared_cache_redis(cache))
    }
}

/// Operations routes: `/metrics` (Prometheus text format, rendered by
/// `metrics-exporter-prometheus` into this router, no listener of its own)
/// and `/ready` (503 until every issuer has usable keys, and while a
/// configured introspection endpoint or Redis revocation list is failing).
/// `/health` above is the liveness probe: it never depends on the IdP.
mod ops {
    #[cfg(any(feature = "introspection", feature = "redis"))]
    use std::time::Duration;

    use axum::routing::get;
    use axum::Router;
    use metrics_exporter_prometheus::PrometheusHandle;
    use oauth2_guard::ops::Readiness;

    /// How long a failing introspection call, or a Redis revocation list
    /// out of sync, keeps `/ready` at 503.
    #[cfg(any(feature = "introspection", feature = "redis"))]
    pub(crate) const READY_MAX_AGE: Duration = Duration::from_secs(30);

    /// Bucket bounds (seconds) of the `*_duration_seconds` histograms:
    /// a cache hit takes about a microsecond, a fresh JWT verification
    /// tens of microseconds, an introspection call milliseconds to seconds.
    #[cfg(feature = "metrics")]
    const DURATION_BUCKETS: [f64; 18] = [
        0.000_001,
        0.000_002_5,
        0.000_005,
        0.000_01,
        0.000_025,
        0.000_05,
        0.000_1,
        0.000_25,
        0.000_5,
        0.001,
        0.002_5,
        0.005,
        0.01,
        0.025,
        0.05,
        0.1,
        0.25,
        1.0,
    ];

    /// The recorder, installed before any issuer or layer is built; the
    /// `*_duration_seconds` metrics are histograms (`_bucket` series, for
    /// `histogram_quantile`), not the exporter's default summaries.
    #[cfg(feature = "metrics")]
    pub(crate) fn install_prometheus(
    ) -> Result<Option<PrometheusHandle>, Box<dyn std::error::Error>> {
        use metrics_exporter_prometheus::{Matcher, PrometheusBuilder};
        println!("Metrics: on, GET /metrics");
        let handle = PrometheusBuilder::new()
            .set_buckets_for_metric(
                Matcher::Suffix("_duration_seconds".into()),
                &DURATION_BUCKETS,
            )?
            .install_recorder()?;
        Ok(Some(handle))
    }

    /// Without feature `metrics` the crate records nothing: say so, and
    /// let `/metrics` answer that instead of an empty page.
    #[cfg(not(feature = "metrics"))]
    pub(crate) fn install_prometheus(
    ) -> Result<Option<PrometheusHandle>, Box<dyn std::error::Error>> {
        println!("Metrics: off (build with --features metrics)");
        Ok(None)
    }

    /// Serve these on an internal port or behind network policy in production:
    /// metrics name issuers and guard requirements.
    pub(crate) fn routes(prometheus: Option<PrometheusHandle>, ready: Readiness) -> Router {
        Router::new()
            .route(
                "/metrics",
                get(move || {
                    let p = prometheus.clone();
                    async move {
                        let Some(p) = p else {
                            return (
                                http::StatusCode::NOT_FOUND,
                                [(http::header::CONTENT_TYPE, "text/plain; charset=utf-8")],
                                "metrics: off (build with --features metrics)\n".to_owned(),
                            );
                        };
                        p.run_upkeep();
                        (
                            http::StatusCode::OK,
                            [(http::header::CONTENT_TYPE, "text/plain; version=0.0.4")],
                            p.render(),
                        )
                    }
                }),
            )
            .route("/ready", get(ready.handler()))
    }
}
