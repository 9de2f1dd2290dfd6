//! Operations: the metrics (through a real Prometheus exporter), the
//! readiness probe and the audit trail.
//!
//! The recorder and the log capture are process-wide, so the tests of this
//! binary run one at a time ([`serial`]) and assert exact deltas.

mod common;

#[path = "operations/audit.rs"]
mod audit;
#[path = "operations/decisions.rs"]
mod decisions;
#[cfg(feature = "introspection")]
#[path = "operations/introspection.rs"]
mod introspection;
#[path = "operations/keys.rs"]
mod keys;
#[path = "operations/labels.rs"]
mod labels;
#[cfg(feature = "client")]
#[path = "operations/outbound.rs"]
mod outbound;
#[path = "operations/readiness.rs"]
mod readiness;
#[path = "operations/roles.rs"]
mod roles;

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

/// `after − before` of one series.
fn delta(
    before: &HashMap<String, f64>,
    after: &HashMap<String, f64>,
    name: &str,
    labels: &[(&str, &str)],
) -> f64 {
    value(after, name, labels) - value(before, name, labels)
}
