//! The mock token endpoint: the OAuth 2.0 Client Credentials grant
//! (RFC 6749 §4.4) with `client_secret_basic`, `client_secret_post` and
//! `private_key_jwt` (RFC 7523) client authentication, and (feature
//! `dpop`) DPoP-bound tokens for requests with a valid proof.
//!
//! Handlers never panic and never hold a lock across an `.await`.

use std::collections::HashSet;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine as _;
use jsonwebtoken::Algorithm;
use serde_json::{json, Map, Value};

use super::keys;
use super::state::{Registered, Shared};
use crate::sync::lock;

/// The `client_assertion_type` of RFC 7523 §2.2.
pub(super) const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// The longest client assertion the mock accepts: `exp` at most this far
/// ahead of now (and of `iat`).
pub const MAX_ASSERTION_LIFETIME: Duration = Duration::from_secs(300);

pub(super) fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// An RFC 6749 §5.2 error response.
pub(super) fn oauth_error(status: StatusCode, error: &str, description: &str) -> Response {
    let mut response = (
        status,
        Json(json!({ "error": error, "error_description": description })),
    )
        .into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

fn invalid_client(description: &str, basic: bool) -> Response {
    let mut response = oauth_error(StatusCode::UNAUTHORIZED, "invalid_client", description);
    if basic {
        response.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Basic realm=\"mock-issuer\""),
        );
    }
    response
}

/// `POST /token`.
pub(super) async fn token(
    State(shared): State<Arc<Shared>>,
    method: Method,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    shared.token_requests.fetch_add(1, Ordering::SeqCst);
    let delay = *lock(&shared.token_delay);
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    let injected = {
        let mut grant = lock(&shared.grant);
        if grant.faults.remaining > 0 {
            grant.faults.remaining -= 1;
            Some((grant.faults.status, grant.faults.retry_after))
        } else {
            None
        }
    };
    if let Some((status, retry_after)) = injected {
        let code = StatusCode::from_u16(status).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
        let error = match status {
            400 => "invalid_request",
            401 => "invalid_client",
            503 => "temporarily_unavailable",
            _ => "server_error",
        };
        let mut response = oauth_error(code, error, "injected failure");
        if let Some(secs) = retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        return response;
    }
    if shared.outage.load(Ordering::SeqCst) {
        return oauth_error(
            StatusCode::SERVICE_UNAVAILABLE,
            "temporarily_unavailable",
            "outage",
        );
    }
    if method != Method::POST {
        return oauth_error(
            StatusCode::METHOD_NOT_ALLOWED,
            "invalid_request",
            "the token endpoint takes POST",
        );
    }
    let form = match Form::parse(&body) {
        Some(form) => form,
        None => {
            return oauth_error(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                "a parameter is repeated or the body is not form-encoded",
            )
        }
    };
    match form.get("grant_type") {
        Some("client_credentials") => {}
        Some(_) => {
            return oauth_error(
                StatusCode::BAD_REQUEST,
                "unsupported_grant_type",
                "only client_credentials is supported",
            )
        }
        None => return oauth_error(StatusCode::BAD_REQUEST, "invalid_request", "no grant_type"),
    }
    let client_id = match authenticate(&shared, &headers, &form, "/token") {
        Ok(id) => id,
        Err(response) => return response,
    };
    #[cfg(feature = "dpop")]
    let jkt = match super::grant_dpop::check(&shared, &headers) {
        Ok(jkt) => jkt,
        Err(response) => return response,
    };
    #[cfg(not(feature = "dpop"))]
    let jkt = None;
    issue(&shared, &client_id, &form, jkt)
}

/// A parsed form body; repeated parameters other than `resource` are refused
/// (RFC 6749 §3.2: "parameters MUST NOT be included more than once").
pub(super) struct Form(Vec<(String, String)>);

impl Form {
    pub(super) fn parse(body: &[u8]) -> Option<Form> {
        let pairs: Vec<(String, String)> = url::form_urlencoded::parse(body)
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        let mut seen = HashSet::new();
        for (k, _) in &pairs {
            if k != "resource" && !seen.insert(k.as_str()) {
                return None;
            }
        }
        Some(Form(pairs))
    }

    pub(super) fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    fn all(&self, name: &str) -> Vec<&str> {
        self.0
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }
}

/// Decodes `Authorization: Basic` per RFC 6749 §2.3.1 (both parts
/// form-urlencoded before base64).
fn basic_credentials(headers: &HeaderMap) -> Option<Result<(String, String), ()>> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, rest) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = match STANDARD.decode(rest.trim()) {
        Ok(d) => d,
        Err(_) => return Some(Err(())),
    };
    let Ok(decoded) = String::from_utf8(decoded) else {
        return Some(Err(()));
    };
    let Some((id, secret)) = decoded.split_once(':') else {
        return Some(Err(()));
    };
    let unescape = |s: &str| -> String {
        url::form_urlencoded::parse(format!("x={s}").as_bytes())
            .next()
            .map(|(_, v)| v.into_owned())
            .unwrap_or_default()
    };
    Some(Ok((unescape(id), unescape(secret))))
}

/// Authenticates the client with exactly one method at the endpoint `path`
/// (`/token`, `/introspect`: a client assertion's `aud`); returns its id.
#[allow(clippy::result_large_err)]
pub(super) fn authenticate(
    shared: &Shared,
    headers: &HeaderMap,
    form: &Form,
    path: &str,
) -> Result<String, Response> {
    let basic = basic_credentials(headers);
    let post = form.get("client_secret");
    let assertion = form.get("client_assertion");
    let methods = usize::from(basic.is_some())
        + usize::from(post.is_some())
        + usize::from(assertion.is_some());
    if methods > 1 {
        return Err(oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "more than one client authentication method",
        ));
    }
    if let Some(basic) = basic {
        let Ok((id, secret)) = basic else {
            return Err(invalid_client("malformed Basic credentials", true));
        };
        if form.get("client_id").is_some_and(|f| f != id) {
            return Err(oauth_error(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                "client_id mismatch",
            ));
        }
        return check_secret(shared, &id, &secret, true);
    }
    if let Some(secret) = post {
        let Some(id) = form.get("client_id") else {
            return Err(invalid_client("no client_id", false));
        };
        return check_secret(shared, id, secret, false);
    }
    if let Some(assertion) = assertion {
        if form.get("client_assertion_type") != Some(JWT_BEARER) {
            return Err(oauth_error(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                "unsupported client_assertion_type",
            ));
        }
        return check_assertion(shared, assertion, form.get("client_id"), path);
    }
    Err(invalid_client("no client authentication", false))
}

#[allow(clippy::result_large_err)]
fn check_secret(shared: &Shared, id: &str, secret: &str, basic: bool) -> Result<String, Response> {
    let ok = matches!(
        lock(&shared.grant).clients.get(id),
        Some(Registered::Secret(s)) if s.as_bytes() == secret.as_bytes()
    );
    if ok {
        Ok(id.to_owned())
    } else {
        Err(invalid_client("unknown client or wrong secret", basic))
    }
}

pub(super) fn segment(token: &str, i: usize) -> Option<Map<String, Value>> {
    let part = token.split('.').nth(i)?;
    let bytes = URL_SAFE_NO_PAD.decode(part).ok()?;
    match serde_json::from_slice(&bytes).ok()? {
        Value::Object(map) => Some(map),
        _ => None,
    }
}

/// Verifies an RFC 7523 client assertion: signature with the registered key,
/// `iss` = `sub` = client id, `aud` = the token endpoint, a short `exp`, and
/// a `jti` never seen before.
#[allow(clippy::result_large_err)]
fn check_assertion(
    shared: &Shared,
    assertion: &str,
    form_id: Option<&str>,
    path: &str,
) -> Result<String, Response> {
    let refuse = |why: &str| Err(invalid_client(why, false));
    if assertion.split('.').count() != 3 {
        return refuse("client_assertion is not a compact JWS");
    }
    let (Some(header), Some(claims)) = (segment(assertion, 0), segment(assertion, 1)) else {
        return refuse("client_assertion does not decode");
    };
    let Some(id) = claims.get("iss").and_then(Value::as_str).map(str::to_owned) else {
        return refuse("client_assertion has no iss");
    };
    if claims.get("sub").and_then(Value::as_str) != Some(id.as_str()) {
        return refuse("client_assertion sub must equal iss");
    }
    if form_id.is_some_and(|f| f != id) {
        return refuse("client_id does not match the assertion");
    }
    let jwk = match lock(&shared.grant).clients.get(&id) {
        Some(Registered::Jwt(jwk)) => jwk.clone(),
        _ => return refuse("unknown client or not a private_key_jwt client"),
    };
    // Signature, with the registered key only.
    let Some(alg) = header
        .get("alg")
        .and_then(Value::as_str)
        .and_then(keys::parse_alg)
    else {
        return refuse("client_assertion alg unusable");
    };
    if matches!(alg, Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512) {
        return refuse("client_assertion must be signed with the client's private key");
    }
    let set_json = json!({ "keys": [jwk] }).to_string();
    let Ok(set) = crate::jwks::parse::KeySet::parse(set_json.as_bytes(), 64 * 1024, None) else {
        return refuse("registered key unusable");
    };
    let kid = header.get("kid").and_then(Value::as_str);
    let key = set.find(kid, alg).or_else(|| set.find(None, alg));
    let Some(key) = key.filter(|k| k.allows(alg)) else {
        return refuse("client_assertion kid/alg does not match the registered key");
    };
    let Some((input, signature)) = assertion.rsplit_once('.') else {
        return refuse("client_assertion is not a compact JWS");
    };
    let Ok(signature) = URL_SAFE_NO_PAD.decode(signature) else {
        return refuse("client_assertion signature does not decode");
    };
    let verified =
        crate::verify::validate::verify_signature(&key.key, alg, input.as_bytes(), &signature)
            .is_ok();
    if !verified {
        return refuse("client_assertion signature invalid");
    }
    // Audience: the endpoint called (RFC 7523 §3 item 3).
    let endpoint = format!("{}{path}", shared.issuer);
    let aud_ok = match claims.get("aud") {
        Some(Value::String(a)) => *a == endpoint,
        Some(Value::Array(a)) => a.iter().any(|v| v.as_str() == Some(endpoint.as_str())),
        _ => false,
    };
    if !aud_ok {
        return refuse("client_assertion aud must be the endpoint called");
    }
    // Expiry: present, in the future, and short.
    let now = now();
    let max = MAX_ASSERTION_LIFETIME.as_secs();
    let Some(exp) = claims.get("exp").and_then(Value::as_u64) else {
        return refuse("client_assertion has no exp");
    };
    if exp <= now {
        return refuse("client_assertion expired");
    }
    if exp > now + max {
        return refuse("client_assertion lives too long");
    }
    if let Some(iat) = claims.get("iat").and_then(Value::as_u64) {
        if iat > now + 60 || exp.saturating_sub(iat) > max {
            return refuse("client_assertion iat unacceptable");
        }
    }
    // Replay: a jti is accepted once.
    let Some(jti) = claims.get("jti").and_then(Value::as_str) else {
        return refuse("client_assertion has no jti");
    };
    if !lock(&shared.grant)
        .seen_jti
        .insert(format!("{id}\u{0}{jti}"))
    {
        return refuse("client_assertion jti replayed");
    }
    Ok(id)
}

/// Mints the access token; bound to the key of thumbprint `jkt` (a DPoP
/// token, RFC 9449 §6) when given.
fn issue(shared: &Shared, client_id: &str, form: &Form, jkt: Option<String>) -> Response {
    let lifetime = *lock(&shared.token_lifetime);
    let now = now();
    let mut audiences: Vec<&str> = form.all("resource");
    if let Some(aud) = form.get("audience") {
        audiences.push(aud);
    }
    let aud: Value = match audiences.as_slice() {
        [] => shared.audience.clone().into(),
        [one] => (*one).into(),
        many => many
            .iter()
            .map(|s| Value::from(*s))
            .collect::<Vec<_>>()
            .into(),
    };
    let scope = form.get("scope").map(str::trim).filter(|s| !s.is_empty());
    let mut claims = json!({
        "iss": shared.issuer,
        "sub": client_id,
        "aud": aud,
        "iat": now,
        "exp": now + lifetime.as_secs(),
        "jti": format!("{:032x}", rand::random::<u128>()),
        "client_id": client_id,
    });
    if let (Some(scope), Some(map)) = (scope, claims.as_object_mut()) {
        map.insert("scope".into(), scope.into());
    }
    let token_type = if jkt.is_some() { "DPoP" } else { "Bearer" };
    if let (Some(jkt), Some(map)) = (jkt, claims.as_object_mut()) {
        map.insert("cnf".into(), json!({ "jkt": jkt }));
    }
    let (material, alg, kid) = {
        let keys = lock(&shared.keys);
        let key = keys.signing();
        (key.material, key.alg, key.kid.clone())
    };
    let header = json!({
        "alg": serde_json::to_value(alg).unwrap_or(Value::Null),
        "kid": kid,
        "typ": "at+jwt",
    });
    let token = keys::compact_jws(&header, &claims, Some(alg), material, &shared.hmac_secret);
    let mut body = json!({
        "access_token": token,
        "token_type": token_type,
        "expires_in": lifetime.as_secs(),
    });
    if let (Some(scope), Some(map)) = (scope, body.as_object_mut()) {
        map.insert("scope".into(), scope.into());
    }
    let mut response = Json(body).into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}
