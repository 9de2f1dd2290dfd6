//! The HTTP side of the mock issuer: discovery, JWKS, the token endpoint
//! (in `grant`) and the introspection endpoint (in `introspect`).
//!
//! Handlers never panic and never hold a lock across an `.await`.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get};
use axum::{Json, Router};
use serde_json::{json, Value};

use super::grant;
use super::state::Shared;
use crate::sync::lock;

/// The discovery document (OpenID Connect Discovery 1.0 / RFC 8414).
fn discovery_document(shared: &Shared) -> Value {
    let iss = &shared.issuer;
    json!({
        "issuer": iss,
        "jwks_uri": format!("{iss}/jwks"),
        "token_endpoint": format!("{iss}/token"),
        "introspection_endpoint": format!("{iss}/introspect"),
        "introspection_endpoint_auth_methods_supported": [
            "client_secret_basic", "client_secret_post", "private_key_jwt"
        ],
        "authorization_endpoint": format!("{iss}/authorize"),
        "response_types_supported": ["code"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": [
            "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "EdDSA"
        ],
        "grant_types_supported": ["client_credentials", "authorization_code"],
        "token_endpoint_auth_methods_supported": [
            "client_secret_basic", "client_secret_post", "private_key_jwt"
        ],
        "token_endpoint_auth_signing_alg_values_supported": [
            "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "EdDSA"
        ],
    })
}

/// The router of one mock issuer.
pub(super) fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/.well-known/openid-configuration", get(discovery))
        .route("/.well-known/oauth-authorization-server", get(discovery))
        .route("/jwks", get(jwks))
        .route("/token", any(grant::token))
        .route("/introspect", any(super::introspect::introspect))
        .fallback(not_found)
        .layer(middleware::from_fn_with_state(shared.clone(), count))
        .with_state(shared)
}

/// Counts every request by path, whatever route (or none) answers it.
async fn count(State(shared): State<Arc<Shared>>, request: Request, next: Next) -> Response {
    *lock(&shared.requests)
        .entry(request.uri().path().to_owned())
        .or_insert(0) += 1;
    next.run(request).await
}

fn unavailable(shared: &Shared) -> Response {
    let mut response = (
        StatusCode::SERVICE_UNAVAILABLE,
        Json(json!({ "error": "temporarily_unavailable" })),
    )
        .into_response();
    if let Some(secs) = *lock(&shared.outage_retry_after) {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(secs));
    }
    response
}

async fn discovery(State(shared): State<Arc<Shared>>, method: Method) -> Response {
    if method == Method::GET {
        shared.discovery_fetches.fetch_add(1, Ordering::SeqCst);
    }
    if shared.outage.load(Ordering::SeqCst) {
        return unavailable(&shared);
    }
    Json(discovery_document(&shared)).into_response()
}

async fn jwks(
    State(shared): State<Arc<Shared>>,
    method: Method,
    headers: axum::http::HeaderMap,
) -> Response {
    if method == Method::GET {
        shared.jwks_fetches.fetch_add(1, Ordering::SeqCst);
    }
    let delay = *lock(&shared.jwks_delay);
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    if shared.outage.load(Ordering::SeqCst) {
        return unavailable(&shared);
    }
    let body = lock(&shared.keys).jwks();
    let cache_control = lock(&shared.cache_control).clone();
    let etag = shared
        .jwks_etag
        .load(Ordering::SeqCst)
        .then(|| entity_tag(&body));
    let unchanged = etag.as_ref().is_some_and(|tag| {
        headers
            .get_all(header::IF_NONE_MATCH)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .any(|t| t.trim().trim_start_matches("W/") == tag)
    });
    let mut response = if unchanged {
        if method == Method::GET {
            shared.jwks_not_modified.fetch_add(1, Ordering::SeqCst);
        }
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        Json(body).into_response()
    };
    if let Some(value) = etag.and_then(|v| HeaderValue::from_str(&v).ok()) {
        response.headers_mut().insert(header::ETAG, value);
    }
    if let Some(value) = cache_control.and_then(|v| HeaderValue::from_str(&v).ok()) {
        response.headers_mut().insert(header::CACHE_CONTROL, value);
    }
    response
}

/// A strong entity tag of the JWKS document: the hex of the first 8 bytes
/// of its SHA-256.
fn entity_tag(body: &Value) -> String {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(body.to_string().as_bytes());
    let hex: String = digest[..8].iter().map(|b| format!("{b:02x}")).collect();
    format!("\"{hex}\"")
}

async fn not_found() -> Response {
    (StatusCode::NOT_FOUND, Json(json!({ "error": "not_found" }))).into_response()
}
