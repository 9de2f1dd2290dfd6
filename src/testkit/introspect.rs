//! The mock introspection endpoint (RFC 7662): `POST /introspect` with the
//! caller's client authentication (as at the token endpoint, the client
//! assertion's `aud` being this endpoint), answering for the opaque tokens
//! of [`MockIssuer::opaque_token`](super::MockIssuer::opaque_token) and for
//! JWTs this issuer signed (signature checked with its published keys).
//!
//! Handlers never panic and never hold a lock across an `.await`.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde_json::{json, Map, Value};

use super::grant::{authenticate, now, oauth_error, segment, Form};
use super::opaque::IntrospectionFault;
use super::state::Shared;
use crate::sync::lock;

/// `POST /introspect`.
pub(super) async fn introspect(
    State(shared): State<Arc<Shared>>,
    method: Method,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let fault = lock(&shared.opaque).fault.clone();
    if let IntrospectionFault::Slow(delay) = fault {
        tokio::time::sleep(delay).await;
    }
    if shared.outage.load(Ordering::SeqCst) {
        return oauth_error(
            StatusCode::SERVICE_UNAVAILABLE,
            "temporarily_unavailable",
            "outage",
        );
    }
    match fault {
        IntrospectionFault::Status(status) => {
            let code = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            return oauth_error(code, "server_error", "injected failure");
        }
        IntrospectionFault::Garbage => {
            return (
                StatusCode::OK,
                [(header::CONTENT_TYPE, "application/json")],
                "{\"active\": tru",
            )
                .into_response()
        }
        _ => {}
    }
    if method != Method::POST {
        return oauth_error(
            StatusCode::METHOD_NOT_ALLOWED,
            "invalid_request",
            "POST only",
        );
    }
    let Some(form) = Form::parse(&body) else {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "repeated parameter",
        );
    };
    if let Err(response) = authenticate(&shared, &headers, &form, "/introspect") {
        return response;
    }
    let Some(token) = form.get("token") else {
        return oauth_error(StatusCode::BAD_REQUEST, "invalid_request", "no token");
    };
    let expired_ok = fault == IntrospectionFault::ActiveForExpired;
    let mut answer = match claims_of(&shared, token) {
        Some(claims)
            if expired_ok
                || claims
                    .get("exp")
                    .and_then(Value::as_i64)
                    .is_some_and(|e| e > now() as i64) =>
        {
            let mut answer = Map::new();
            answer.insert("active".into(), true.into());
            answer.extend(claims);
            answer
        }
        _ => {
            let mut answer = Map::new();
            answer.insert("active".into(), false.into());
            answer
        }
    };
    if fault == IntrospectionFault::Oversized {
        answer.insert("padding".into(), "x".repeat(1024 * 1024 + 1).into());
    }
    let mut response = Json(Value::Object(answer)).into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// The claims of a token this issuer knows: an opaque token it issued, or a
/// JWT it signed (with a published key) whose `jti` is not revoked.
fn claims_of(shared: &Shared, token: &str) -> Option<Map<String, Value>> {
    if let Some(claims) = lock(&shared.opaque).tokens.get(token) {
        return Some(claims.clone());
    }
    let (header, claims) = (segment(token, 0)?, segment(token, 1)?);
    if claims.get("iss").and_then(Value::as_str) != Some(shared.issuer.as_str()) {
        return None;
    }
    let alg = header
        .get("alg")
        .and_then(Value::as_str)
        .and_then(super::keys::parse_alg)?;
    let set_json = lock(&shared.keys).jwks().to_string();
    let set = crate::jwks::parse::KeySet::parse(set_json.as_bytes(), 1024 * 1024, None).ok()?;
    let key = set.find(header.get("kid").and_then(Value::as_str), alg)?;
    let (input, signature) = token.rsplit_once('.')?;
    let signature = URL_SAFE_NO_PAD.decode(signature).ok()?;
    crate::verify::validate::verify_signature(&key.key, alg, input.as_bytes(), &signature).ok()?;
    let jti = claims
        .get("jti")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if lock(&shared.opaque).revoked_jti.contains(jti) {
        return None;
    }
    let mut out = claims;
    out.insert("token_type".into(), json!("Bearer"));
    Some(out)
}
