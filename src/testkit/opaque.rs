//! Opaque tokens of the mock issuer: [`OpaqueTokenBuilder`], revocation,
//! and the introspection endpoint's fault injection ([`IntrospectionFault`]).

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde_json::{Map, Value};

use super::state::Handle;
use super::token::{DEFAULT_CLIENT_ID, DEFAULT_LIFETIME, DEFAULT_SUBJECT};
use super::MockIssuer;
use crate::sync::lock;

/// How the mock's `/introspect` misbehaves ([`MockIssuer::set_introspection_fault`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum IntrospectionFault {
    /// RFC 7662 answers (the default).
    #[default]
    None,
    /// Every call answered with this HTTP status and an RFC 6749 error body.
    Status(u16),
    /// Every call waits this long before answering.
    Slow(Duration),
    /// `200 OK` with a body that is not JSON.
    Garbage,
    /// `200 OK` with a valid answer padded past 1 MiB.
    Oversized,
    /// `active: true` for expired tokens too (some servers do), with their `exp`.
    ActiveForExpired,
}

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// Builds one opaque access token; get one from
/// [`MockIssuer::opaque_token`].
///
/// Defaults — the introspection answer's claims: `iss` = the issuer URL,
/// `sub` = `"user-1"`, `aud` = the default audience, `client_id` =
/// `"test-client"`, `iat` = now, `exp` = now + 300 s, `jti` = random,
/// `token_type` = `"Bearer"`, no `scope`. The token itself is 32 random
/// bytes, base64url (43 characters, no dots).
#[must_use = "an OpaqueTokenBuilder does nothing until `issue` is called"]
pub struct OpaqueTokenBuilder {
    issuer: Handle,
    claims: Map<String, Value>,
}

impl fmt::Debug for OpaqueTokenBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OpaqueTokenBuilder")
            .field("claims", &self.claims)
            .finish_non_exhaustive()
    }
}

impl OpaqueTokenBuilder {
    fn new(issuer: Handle) -> Self {
        let now = now();
        let shared = issuer.shared();
        let mut claims = Map::new();
        claims.insert("iss".into(), shared.issuer.clone().into());
        claims.insert("sub".into(), DEFAULT_SUBJECT.into());
        claims.insert("aud".into(), shared.audience.clone().into());
        claims.insert("client_id".into(), DEFAULT_CLIENT_ID.into());
        claims.insert("iat".into(), now.into());
        let exp = now.saturating_add(i64::try_from(DEFAULT_LIFETIME.as_secs()).unwrap_or(0));
        claims.insert("exp".into(), exp.into());
        claims.insert(
            "jti".into(),
            format!("{:032x}", rand::random::<u128>()).into(),
        );
        claims.insert("token_type".into(), "Bearer".into());
        Self { issuer, claims }
    }

    /// Sets `scope` (space-delimited).
    pub fn scope(self, scope: &str) -> Self {
        self.claim("scope", scope)
    }

    /// Sets `sub`.
    pub fn subject(self, sub: &str) -> Self {
        self.claim("sub", sub)
    }

    /// Sets `client_id`.
    pub fn client_id(self, client_id: &str) -> Self {
        self.claim("client_id", client_id)
    }

    /// Sets `aud` (a string or an array).
    pub fn audience(self, aud: impl Into<Value>) -> Self {
        self.claim("aud", aud)
    }

    /// Sets any claim of the answer.
    pub fn claim(mut self, name: &str, value: impl Into<Value>) -> Self {
        self.claims.insert(name.to_owned(), value.into());
        self
    }

    /// Removes a claim from the answer.
    pub fn without_claim(mut self, name: &str) -> Self {
        self.claims.remove(name);
        self
    }

    /// `exp` = now + `lifetime`.
    pub fn expires_in(self, lifetime: Duration) -> Self {
        let lifetime = i64::try_from(lifetime.as_secs()).unwrap_or(i64::MAX);
        self.claim("exp", now().saturating_add(lifetime))
    }

    /// `exp` 10 minutes ago (`iat` before it).
    pub fn expired(self) -> Self {
        self.claim("iat", now() - 1200).claim("exp", now() - 600)
    }

    /// Registers the token with the issuer and returns it.
    pub fn issue(self) -> String {
        let token = URL_SAFE_NO_PAD.encode(rand::random::<[u8; 32]>());
        lock(&self.issuer.shared().opaque)
            .tokens
            .insert(token.clone(), self.claims);
        token
    }
}

impl MockIssuer {
    /// A builder for an opaque access token, answered by `/introspect`.
    pub fn opaque_token(&self) -> OpaqueTokenBuilder {
        OpaqueTokenBuilder::new(self.handle().clone())
    }

    /// Revokes `token`: an opaque token is forgotten (introspection answers
    /// `active: false`); a JWT's `jti` is recorded, so introspecting that
    /// JWT answers `active: false` from now on.
    pub fn revoke_token(&self, token: &str) {
        let mut opaque = lock(&self.shared().opaque);
        if opaque.tokens.remove(token).is_some() {
            return;
        }
        if let Some(jti) = super::grant::segment(token, 1)
            .and_then(|claims| claims.get("jti").and_then(Value::as_str).map(str::to_owned))
        {
            opaque.revoked_jti.insert(jti);
        }
    }

    /// Makes `/introspect` misbehave (or behave again, with
    /// [`IntrospectionFault::None`]). [`set_outage`](Self::set_outage)
    /// also answers it 503.
    pub fn set_introspection_fault(&self, fault: IntrospectionFault) {
        lock(&self.shared().opaque).fault = fault;
    }

    /// How many requests (any method, any outcome) `/introspect` has received.
    pub fn introspection_requests(&self) -> usize {
        self.requests_to("/introspect")
    }
}
