//! Operations: the metrics (through a real Prometheus exporter), the
//! readiness probe and the audit trail.
//!
//! The recorder and the log capture are process-wide, so the tests of this
//! binary run one at a time ([`serial`]) and assert exact deltas.

mod common;

use std::collections::HashMap;
use std::io::Write;
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use axum::body::Body;
use axum::routing::get;
use axum::Router;
use base64::Engine as _;
use common::{bearer, fast_backoff, get_with_auth, polling_issuer, reason_of};
use http::{Request, StatusCode};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use oauth2_guard::authz::RequireScope;
use oauth2_guard::ops::Readiness;
use oauth2_guard::testkit::MockIssuer;
use oauth2_guard::{AuthLayer, Fingerprint, Reason};
use serde_json::Value;
use tower::ServiceExt;

fn prometheus() -> &'static PrometheusHandle {
    static H: OnceLock<PrometheusHandle> = OnceLock::new();
    H.get_or_init(|| {
        PrometheusBuilder::new()
            .install_recorder()
            .expect("the only recorder of this binary")
    })
}

/// A JSON capture of every event of the process (installed once).
#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl Write for Capture {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(data);
        Ok(data.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Capture {
    fn take(&self) -> String {
        String::from_utf8(std::mem::take(&mut *self.0.lock().unwrap())).unwrap()
    }
}

fn capture() -> &'static Capture {
    static C: OnceLock<Capture> = OnceLock::new();
    C.get_or_init(|| {
        let c = Capture::default();
        let w = c.clone();
        tracing::subscriber::set_global_default(
            tracing_subscriber::fmt()
                .json()
                .with_max_level(tracing::Level::TRACE)
                .with_writer(move || w.clone())
                .finish(),
        )
        .expect("the only subscriber of this binary");
        c
    })
}

/// The audit events captured since the last call (their `fields`).
fn audit_events() -> Vec<serde_json::Map<String, Value>> {
    capture()
        .take()
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|v| v["target"] == "oauth2_guard::audit")
        .filter_map(|v| v["fields"].as_object().cloned())
        .collect()
}

/// One test at a time: the recorder, the capture and the sampling rate are shared.
async fn serial() -> tokio::sync::MutexGuard<'static, ()> {
    static M: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
    prometheus();
    capture();
    M.lock().await
}

/// The rendered exposition as `name{sorted labels}` → value.
fn scrape() -> HashMap<String, f64> {
    prometheus()
        .render()
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .filter_map(|l| {
            let (series, value) = l.rsplit_once(' ')?;
            let key = match series.split_once('{') {
                Some((name, labels)) => {
                    let mut ls: Vec<&str> = labels.trim_end_matches('}').split(',').collect();
                    ls.sort_unstable();
                    format!("{name}{{{}}}", ls.join(","))
                }
                None => series.to_owned(),
            };
            Some((key, value.parse().ok()?))
        })
        .collect()
}

/// `name{labels}` with the labels given in any order.
fn series(name: &str, labels: &[(&str, &str)]) -> String {
    let mut ls: Vec<String> = labels.iter().map(|(k, v)| format!("{k}=\"{v}\"")).collect();
    ls.sort_unstable();
    if ls.is_empty() {
        return name.to_owned();
    }
    format!("{name}{{{}}}", ls.join(","))
}

fn value(m: &HashMap<String, f64>, name: &str, labels: &[(&str, &str)]) -> f64 {
    m.get(&series(name, labels)).copied().unwrap_or(0.0)
}

fn app(layer: AuthLayer) -> Router {
    Router::new()
        .route(
            "/orders/{id}",
            get(|| async { "ok" }).route_layer(RequireScope::new("orders:write")),
        )
        .layer(layer)
}

async fn call(app: &Router, token: Option<&str>) -> http::Response<Body> {
    let req = match token {
        Some(t) => get_with_auth("/orders/42", bearer(t)),
        None => Request::get("/orders/42").body(Body::empty()).unwrap(),
    };
    app.clone().oneshot(req).await.unwrap()
}

/// A token whose signature is damaged (last byte of the signature changed).
fn tampered(token: &str) -> String {
    let (head, sig) = token.rsplit_once('.').unwrap();
    let mut sig = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(sig)
        .unwrap();
    *sig.last_mut().unwrap() ^= 1;
    format!(
        "{head}.{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sig)
    )
}

#[tokio::test]
async fn decisions_are_counted_by_outcome_reason_and_configured_issuer() {
    let _serial = serial().await;
    let idp = MockIssuer::start().await;
    let iss = idp.issuer_url();
    let issuer = common::orders_issuer(&idp).await;
    let app = app(common::orders_layer(issuer));
    let writer = idp.token().subject("alice").scope("orders:write").sign();
    let reader = idp.token().subject("bob").scope("orders:read").sign();
    let expired = idp.token().scope("orders:write").expired().sign();
    let before = scrape();

    assert_eq!(call(&app, Some(&writer)).await.status(), StatusCode::OK);
    assert_eq!(call(&app, Some(&writer)).await.status(), StatusCode::OK);
    let res = call(&app, Some(&reader)).await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let res = call(&app, Some(&expired)).await;
    assert_eq!(reason_of(&res), Some(Reason::Expired));
    let res = call(&app, Some(&tampered(&writer))).await;
    assert_eq!(reason_of(&res), Some(Reason::BadSignature));
    let res = call(&app, None).await;
    assert_eq!(reason_of(&res), Some(Reason::MissingToken));

    let after = scrape();
    let delta = |name: &str, labels: &[(&str, &str)]| {
        value(&after, name, labels) - value(&before, name, labels)
    };
    let d = "oauth2_guard_decisions_total";
    let iss = iss.as_str();
    assert_eq!(
        delta(
            d,
            &[("outcome", "allowed"), ("reason", "none"), ("issuer", iss)]
        ),
        3.0
    );
    assert_eq!(
        delta(
            d,
            &[
                ("outcome", "refused"),
                ("reason", "expired"),
                ("issuer", iss)
            ]
        ),
        1.0
    );
    assert_eq!(
        delta(
            d,
            &[
                ("outcome", "refused"),
                ("reason", "bad_signature"),
                ("issuer", iss)
            ]
        ),
        1.0
    );
    // No token, no issuer: the fixed label, never something from the request.
    assert_eq!(
        delta(
            d,
            &[
                ("outcome", "refused"),
                ("reason", "missing_token"),
                ("issuer", "unknown")
            ]
        ),
        1.0
    );
    // Registered at issuer build: a zero series exists before any refusal.
    assert!(before.contains_key(&series(
        d,
        &[
            ("outcome", "refused"),
            ("reason", "wrong_audience"),
            ("issuer", iss)
        ]
    )));
    assert_eq!(
        delta(
            "oauth2_guard_authz_denials_total",
            &[("kind", "scope"), ("required", "orders:write")]
        ),
        1.0
    );
    // writer twice: one miss, one hit; the others (verified or not) miss.
    let cache = "oauth2_guard_token_cache_requests_total";
    assert_eq!(delta(cache, &[("result", "hit")]), 1.0);
    assert_eq!(delta(cache, &[("result", "miss")]), 4.0);
    assert_eq!(delta("oauth2_guard_token_cache_entries", &[]), 2.0);
    let hist = "oauth2_guard_verification_duration_seconds_count";
    assert_eq!(delta(hist, &[("kind", "cache_hit")]), 1.0);
    assert_eq!(delta(hist, &[("kind", "jwt")]), 4.0);
}

/// A JWT of `idp` whose header names a `kid` the IdP never published.
fn ghost_kid_token(idp: &MockIssuer) -> String {
    let token = idp.token().sign();
    let mut parts = token.split('.');
    let (_, payload, sig) = (parts.next(), parts.next().unwrap(), parts.next().unwrap());
    let header = serde_json::json!({"alg": "RS256", "typ": "at+jwt", "kid": "ghost"});
    let header = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(header.to_string());
    format!("{header}.{payload}.{sig}")
}

#[tokio::test]
async fn key_metrics_follow_fetches_outages_and_unknown_kids() {
    let _serial = serial().await;
    let idp = MockIssuer::start().await;
    let iss = idp.issuer_url();
    let iss = iss.as_str();
    let issuer = polling_issuer(&idp, fast_backoff()).await;
    let app = app(common::orders_layer(issuer));
    let m = scrape();
    let published = idp.published_kids().len() as f64;
    assert_eq!(
        value(&m, "oauth2_guard_jwks_keys", &[("issuer", iss)]),
        published
    );
    let fetches = |m: &HashMap<String, f64>, r| {
        value(
            m,
            "oauth2_guard_jwks_fetches_total",
            &[("issuer", iss), ("result", r)],
        )
    };
    assert!(fetches(&m, "ok") >= 1.0);
    assert!(
        value(
            &m,
            "oauth2_guard_jwks_last_success_timestamp_seconds",
            &[("issuer", iss)]
        ) > 1e9
    );

    // An unknown kid demands one refresh; the next one within the cooldown is rate-limited.
    let kid = |m: &HashMap<String, f64>, r| {
        value(
            m,
            "oauth2_guard_jwks_unknown_kid_refreshes_total",
            &[("issuer", iss), ("result", r)],
        )
    };
    let before = scrape();
    let ghost = ghost_kid_token(&idp);
    assert_eq!(
        reason_of(&call(&app, Some(&ghost)).await),
        Some(Reason::UnknownKey)
    );
    assert_eq!(
        reason_of(&call(&app, Some(&ghost)).await),
        Some(Reason::UnknownKey)
    );
    let after = scrape();
    assert_eq!(kid(&after, "started") - kid(&before, "started"), 1.0);
    assert_eq!(
        kid(&after, "rate_limited") - kid(&before, "rate_limited"),
        1.0
    );

    // An outage: failed fetches are counted as http_error.
    let errors = fetches(&scrape(), "http_error");
    idp.set_outage(true);
    tokio::time::timeout(Duration::from_secs(10), async {
        while fetches(&scrape(), "http_error") <= errors {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await
    .expect("a failed fetch is counted within 10 s");
}

#[tokio::test]
async fn readiness_names_the_issuer_without_keys() {
    let _serial = serial().await;
    let idp = MockIssuer::start().await;
    idp.set_outage(true);
    let issuer = idp
        .issuer_builder()
        .audience("orders-api")
        .refresh(fast_backoff())
        .build_deferred()
        .unwrap();
    let ready = Readiness::new().issuer(&issuer);
    let probe = Router::new().route("/ready", get(ready.clone().handler()));
    let get_ready = || async {
        let res = probe
            .clone()
            .oneshot(Request::get("/ready").body(Body::empty()).unwrap())
            .await
            .unwrap();
        let status = res.status();
        let body = axum::body::to_bytes(res.into_body(), 4096).await.unwrap();
        (status, serde_json::from_slice::<Value>(&body).unwrap())
    };
    let (status, body) = get_ready().await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(body["ready"], false);
    assert_eq!(body["missing"][0]["check"], "issuer_keys");
    assert_eq!(body["missing"][0]["name"], idp.issuer_url());

    idp.set_outage(false);
    tokio::time::timeout(Duration::from_secs(10), async {
        while !ready.check().is_ready() {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await
    .expect("ready once the keys load");
    let (status, body) = get_ready().await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["missing"], serde_json::json!([]));

    // The IdP withdraws every key: the fetched set is empty, not ready again.
    let polling = polling_issuer(&idp, fast_backoff()).await;
    let ready = Readiness::new().issuer(&polling);
    assert!(ready.check().is_ready());
    for kid in idp.published_kids() {
        idp.remove_key(&kid);
    }
    tokio::time::timeout(Duration::from_secs(10), async {
        while ready.check().is_ready() {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await
    .expect("not ready once the keys are gone");
    assert_eq!(ready.check().missing()[0].name, idp.issuer_url());
}

#[tokio::test]
async fn audit_events_carry_who_what_where_and_never_the_token() {
    let _serial = serial().await;
    let idp = MockIssuer::start().await;
    let app = app(common::orders_layer(common::orders_issuer(&idp).await));
    let writer = idp
        .token()
        .subject("alice")
        .scope("orders:write")
        .claim("client_id", "shop")
        .sign();
    let reader = idp.token().subject("bob").scope("orders:read").sign();
    let expired = idp.token().expired().sign();
    audit_events();

    assert_eq!(call(&app, Some(&writer)).await.status(), StatusCode::OK);
    let events = audit_events();
    assert_eq!(events.len(), 2, "{events:?}");
    let (layer, guard) = (&events[0], &events[1]);
    assert_eq!(layer["decision"], "allowed");
    assert_eq!(layer["stage"], "authenticate");
    assert_eq!(layer["enduser.id"], "alice");
    assert_eq!(layer["client_id"], "shop");
    assert_eq!(layer["issuer"], idp.issuer_url());
    assert_eq!(layer["http.request.method"], "GET");
    assert_eq!(layer["http.route"], "/orders/{id}");
    assert_eq!(
        layer["token.fingerprint"],
        Fingerprint::of(&writer).to_string()
    );
    assert_eq!(guard["decision"], "allowed");
    assert_eq!(guard["stage"], "authorize");
    assert_eq!(guard["scopes.required"], "orders:write");
    assert_eq!(guard["scopes.granted"], "orders:write");

    assert_eq!(
        call(&app, Some(&reader)).await.status(),
        StatusCode::FORBIDDEN
    );
    let events = audit_events();
    let denied = events.last().unwrap();
    assert_eq!(denied["decision"], "refused");
    assert_eq!(denied["reason"], "insufficient_scope");
    assert_eq!(denied["enduser.id"], "bob");
    assert_eq!(denied["scopes.granted"], "orders:read");

    call(&app, Some(&expired)).await;
    let events = audit_events();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["decision"], "refused");
    assert_eq!(events[0]["reason"], "expired");
    assert_eq!(
        events[0]["token.fingerprint"],
        Fingerprint::of(&expired).to_string()
    );

    // The whole capture of these requests never holds a token.
    call(&app, Some(&writer)).await;
    let text = capture().take();
    assert!(text.contains("oauth2_guard::audit"));
    for t in [&writer, &reader, &expired] {
        assert!(!text.contains(t.as_str()));
    }
}

#[tokio::test]
async fn allowed_decisions_are_sampled_and_refusals_never() {
    let _serial = serial().await;
    let idp = MockIssuer::start().await;
    let app = common::ok_app(common::orders_layer(common::orders_issuer(&idp).await));
    let token = idp.token().sign();
    let expired = idp.token().expired().sign();
    oauth2_guard::audit::sample_allowed(NonZeroU32::new(3).unwrap());
    audit_events();
    for _ in 0..6 {
        let ok = app
            .clone()
            .oneshot(get_with_auth("/x", bearer(&token)))
            .await
            .unwrap();
        assert_eq!(ok.status(), StatusCode::OK);
        let no = app
            .clone()
            .oneshot(get_with_auth("/x", bearer(&expired)))
            .await
            .unwrap();
        assert_eq!(no.status(), StatusCode::UNAUTHORIZED);
    }
    oauth2_guard::audit::sample_allowed(NonZeroU32::MIN);
    let events = audit_events();
    let count = |d: &str| events.iter().filter(|e| e["decision"] == d).count();
    assert_eq!(count("allowed"), 2, "1 in 3 of 6");
    assert_eq!(count("refused"), 6, "refusals are never sampled");
}

#[tokio::test]
async fn guards_build_the_scope_inventory() {
    let _serial = serial().await;
    let _guard = RequireScope::all_of(["inventory:read", "inventory:write"]);
    let scopes = oauth2_guard::audit::required_scopes();
    assert!(scopes.contains(&"inventory:read".to_owned()));
    assert!(scopes.contains(&"inventory:write".to_owned()));
    audit_events();
    oauth2_guard::audit::log_inventory();
    let events = audit_events();
    let listed = events[0]["scopes.required"].as_str().unwrap();
    assert!(listed.split(' ').any(|s| s == "inventory:write"));
}

#[tokio::test]
async fn revocation_list_size_is_a_gauge() {
    let _serial = serial().await;
    let list = oauth2_guard::revocation::RevocationList::new();
    let exp = std::time::SystemTime::now() + Duration::from_secs(600);
    list.revoke_jti("a", exp).unwrap();
    list.revoke_jti("b", exp).unwrap();
    assert_eq!(
        value(&scrape(), "oauth2_guard_revocation_entries", &[]),
        2.0
    );
}
