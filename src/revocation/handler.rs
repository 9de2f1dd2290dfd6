//! The axum admin endpoint.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::body::Bytes;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{post, MethodRouter};
use axum::Json;
use serde::Deserialize;
use serde_json::json;

use super::{RevocationError, RevocationStore};

/// One revocation, as posted. Exactly one of `jti`, `sub`, `client_id`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Request {
    jti: Option<String>,
    expires_at: Option<u64>,
    sub: Option<String>,
    client_id: Option<String>,
    issued_before: Option<u64>,
}

/// A `POST` route that adds one entry to `store` (the in-memory
/// [`RevocationList`](super::RevocationList), or with the `redis` feature
/// [`RedisRevocations`](super::RedisRevocations)).
///
/// The body is one JSON object, one of:
///
/// | body | does |
/// |---|---|
/// | `{"jti": "…", "expires_at": <unix seconds>}` | [`revoke_jti`](RevocationStore::revoke_jti); without `expires_at`, now + [`max_token_lifetime`](super::RevocationConfig::max_token_lifetime) |
/// | `{"sub": "…", "issued_before": <unix seconds>}` | [`revoke_subject_before`](RevocationStore::revoke_subject_before); without `issued_before`, now |
/// | `{"client_id": "…", "issued_before": <unix seconds>}` | [`revoke_client_before`](RevocationStore::revoke_client_before); without `issued_before`, now |
///
/// Answers 204 once the entry is live (the next request is checked against
/// it), 400 with `{"error": "invalid_request", "error_description": …}` for a
/// body that is not one of those (unknown fields included) or an empty or
/// over-long id, 503 with `{"error": "revocation_list_full", …}` when the
/// list is full, and 503 with `{"error": "revocation_store_unavailable", …}`
/// when a shared store could not be written (the entry is live on this
/// instance only: retry).
///
/// # Security
/// Anyone who can call it can lock users out: mount it behind the
/// [`AuthLayer`](crate::AuthLayer) and an admin scope guard, as in the
/// [module example](super).
pub fn handler<R, S>(store: R) -> MethodRouter<S>
where
    R: RevocationStore + Clone,
    S: Clone + Send + Sync + 'static,
{
    post(move |body: Bytes| {
        let store = store.clone();
        async move { revoke(&store, &body).await }
    })
}

async fn revoke<R: RevocationStore>(list: &R, body: &[u8]) -> Response {
    let req: Request = match serde_json::from_slice(body) {
        Ok(r) => r,
        Err(_) => return bad_request("the body is not a revocation object"),
    };
    // Unix seconds from the client; `SystemTime + Duration` panics when it
    // overflows, so an out-of-range time is a 400 instead.
    let at = |secs: u64| UNIX_EPOCH.checked_add(Duration::from_secs(secs));
    let now = SystemTime::now();
    let result = match req {
        Request {
            jti: Some(jti),
            expires_at,
            sub: None,
            client_id: None,
            issued_before: None,
        } => {
            let lifetime = list.config().max_token_lifetime_value();
            let Some(exp) = expires_at.map_or_else(|| now.checked_add(lifetime), at) else {
                return bad_request(OUT_OF_RANGE);
            };
            list.revoke_jti(&jti, exp).await
        }
        Request {
            jti: None,
            expires_at: None,
            sub: Some(sub),
            client_id: None,
            issued_before,
        } => match issued_before.map_or(Some(now), at) {
            Some(t) => list.revoke_subject_before(&sub, t).await,
            None => return bad_request(OUT_OF_RANGE),
        },
        Request {
            jti: None,
            expires_at: None,
            sub: None,
            client_id: Some(client),
            issued_before,
        } => match issued_before.map_or(Some(now), at) {
            Some(t) => list.revoke_client_before(&client, t).await,
            None => return bad_request(OUT_OF_RANGE),
        },
        _ => return bad_request(
            "exactly one of `jti` (with `expires_at`), `sub` or `client_id` (with `issued_before`)",
        ),
    };
    match result {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(e @ RevocationError::Full { .. }) => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({"error": "revocation_list_full", "error_description": e.to_string()})),
        )
            .into_response(),
        Err(e @ RevocationError::Unavailable) => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({"error": "revocation_store_unavailable", "error_description": e.to_string()})),
        )
            .into_response(),
        Err(e) => bad_request(&e.to_string()),
    }
}

const OUT_OF_RANGE: &str = "the time is out of range";

fn bad_request(description: &str) -> Response {
    (
        StatusCode::BAD_REQUEST,
        Json(json!({"error": "invalid_request", "error_description": description})),
    )
        .into_response()
}
