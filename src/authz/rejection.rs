//! The refusals of the guards and extractors: [`AuthzRejection`] and why
//! ([`AuthzFailure`]), and [`MissingAuthLayer`] for a route without an
//! [`AuthLayer`](crate::AuthLayer) in front of it. Each builds its own
//! response (RFC 6750, or a gRPC trailers-only answer), as axum keeps its
//! rejections in `rejection.rs`.

use std::sync::Arc;

use http::{header, HeaderValue, Response, StatusCode};

use crate::layer::{Challenge, ErrorDetail};

/// Why a guard refused a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum AuthzFailure {
    /// The token lacks the required scope(s) (and, for a scope-or-role
    /// guard, the role(s)): 403 `insufficient_scope` naming the scopes.
    InsufficientScope,
    /// A role guard ([`RequireRole`](super::RequireRole),
    /// [`HasRole`](super::HasRole)): the token lacks the required role(s):
    /// 403, the body naming the missing role(s).
    InsufficientRole,
    /// A tenant-scoped route ([`Tenant`](super::Tenant)): the token has no
    /// tenant, or another one: 403.
    WrongTenant,
    /// The request passed an [`optional`](crate::AuthLayerBuilder::optional)
    /// `AuthLayer` without a token: 401.
    Anonymous,
    /// No `AuthLayer` ran before the guard — a wiring mistake: 500, answered
    /// as [`MissingAuthLayer`].
    NotAuthenticated,
    /// The gRPC method is not listed in the
    /// [`MethodGuards`](crate::grpc::MethodGuards) (feature `grpc`), which
    /// refuse unlisted methods by default: 403 without a challenge (no
    /// token would help), gRPC `PERMISSION_DENIED`.
    UnlistedMethod,
}

/// The body of the 500 answer when a guard or an extractor finds no verified
/// claims ([`MissingAuthLayer`]).
pub const WIRING_ERROR: &str = "oauth2-guard: no VerifiedClaims in the request extensions. \
A scope/role guard or an extractor (Claims, VerifiedClaims, HasScope) ran without an AuthLayer \
in front of it: add `.layer(AuthLayer)` to the Router *after* (outside) \
`.route_layer(RequireScope ..)`, or wrap the handler's router in the AuthLayer.";

/// A guard or an extractor ran on a route without an
/// [`AuthLayer`](crate::AuthLayer) in front of it — the one missing-layer
/// rejection of the crate, for the guard layers
/// ([`RequireScope`](super::RequireScope),
/// [`RequireRole`](super::RequireRole)) and every extractor
/// ([`HasScope`](super::HasScope), [`Claims`](crate::extract::Claims),
/// [`VerifiedClaims`](crate::VerifiedClaims)).
///
/// A wiring mistake in the server, not a client error, so the answer is
/// **500** with [`WIRING_ERROR`] as a `text/plain` body, `Cache-Control:
/// no-store` and no `WWW-Authenticate` — never a 401/403 that would make the
/// mistake look like the client's — and one ERROR log event. The value is
/// placed in the response's extensions. Implements axum's `IntoResponse`
/// (feature `axum`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct MissingAuthLayer;

impl MissingAuthLayer {
    /// 500.
    pub fn status(&self) -> StatusCode {
        StatusCode::INTERNAL_SERVER_ERROR
    }

    /// [`WIRING_ERROR`].
    pub fn body_text(&self) -> &'static str {
        WIRING_ERROR
    }

    /// The 500 response (logs the mistake once), with any body type axum,
    /// hyper or `String` use.
    pub fn to_response<B: From<&'static str>>(&self) -> Response<B> {
        self.response_with(B::from)
    }

    fn response_with<B>(&self, body: impl FnOnce(&'static str) -> B) -> Response<B> {
        crate::layer::missing_layer();
        let mut res = Response::new(body(WIRING_ERROR));
        *res.status_mut() = self.status();
        let h = res.headers_mut();
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; charset=utf-8"),
        );
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        res.extensions_mut().insert(*self);
        res
    }
}

impl std::fmt::Display for MissingAuthLayer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(WIRING_ERROR)
    }
}

impl std::error::Error for MissingAuthLayer {}

/// A refusal by a guard or extractor. Implements axum's `IntoResponse`
/// (feature `axum`) and is placed in the extensions of the guard's response.
#[derive(Debug, Clone)]
pub struct AuthzRejection {
    pub(super) kind: AuthzFailure,
    pub(super) required: Arc<str>,
    /// What the token lacks of the guard's roles (see
    /// [`Set::missing`](super::Set::missing)).
    pub(super) missing_roles: Option<Arc<str>>,
    pub(super) challenge: Option<Challenge>,
}

impl AuthzRejection {
    /// Why the request was refused.
    pub fn kind(&self) -> AuthzFailure {
        self.kind
    }

    /// The required scopes, space-separated (empty for a role-only guard).
    pub fn required_scopes(&self) -> &str {
        &self.required
    }

    /// The roles a 403 says are missing, comma-separated: those the token
    /// lacks of an "all of" guard, or `one of a, b` for an "any of" guard.
    /// `None` for a guard without roles.
    pub fn missing_roles(&self) -> Option<&str> {
        self.missing_roles.as_deref()
    }

    /// 403, 401 or 500.
    pub fn status(&self) -> StatusCode {
        match self.kind {
            AuthzFailure::InsufficientScope
            | AuthzFailure::InsufficientRole
            | AuthzFailure::WrongTenant
            | AuthzFailure::UnlistedMethod => StatusCode::FORBIDDEN,
            AuthzFailure::Anonymous => StatusCode::UNAUTHORIZED,
            AuthzFailure::NotAuthenticated => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The response body: `missing role(s): <missing_roles>` for a 403 of
    /// a guard with roles, empty for other 401/403 (as the `AuthLayer`'s;
    /// the challenge names missing scopes), the wiring mistake for 500.
    pub fn body_text(&self) -> String {
        match (self.kind, &self.missing_roles) {
            (AuthzFailure::NotAuthenticated, _) => WIRING_ERROR.to_owned(),
            (AuthzFailure::WrongTenant, _) => "wrong tenant".to_owned(),
            (AuthzFailure::InsufficientScope | AuthzFailure::InsufficientRole, Some(roles)) => {
                format!("missing role(s): {roles}")
            }
            _ => String::new(),
        }
    }

    /// The `WWW-Authenticate` value, if the answer carries one: the first
    /// of [`challenges`](Self::challenges).
    pub fn challenge(&self) -> Option<HeaderValue> {
        self.challenges().into_iter().next()
    }

    /// Every `WWW-Authenticate` value of the answer, one field each: for
    /// an anonymous caller every challenge the `AuthLayer` would send
    /// (`DPoP algs="…"` and `Bearer` on a layer that accepts both); for a
    /// 403 one challenge, on the `DPoP` scheme when the layer accepts only
    /// DPoP or the request used it (RFC 9449 §7.1); none for a 500.
    pub fn challenges(&self) -> Vec<HeaderValue> {
        let fallback;
        let c = match &self.challenge {
            Some(c) => c,
            None => {
                fallback = Challenge::bare(ErrorDetail::Terse);
                &fallback
            }
        };
        match self.kind {
            AuthzFailure::InsufficientScope => vec![c.insufficient_scope(&self.required)],
            AuthzFailure::InsufficientRole => vec![c.insufficient_role()],
            AuthzFailure::WrongTenant => vec![c.insufficient_role_or_tenant(true)],
            AuthzFailure::Anonymous => c.header_values(crate::Reason::MissingToken, false),
            AuthzFailure::NotAuthenticated | AuthzFailure::UnlistedMethod => Vec::new(),
        }
    }

    /// The full response, with any body type axum, hyper or `String` use.
    /// Without an `AuthLayer` it is [`MissingAuthLayer`]'s.
    pub fn to_response<B: From<&'static str> + From<String>>(&self) -> Response<B> {
        self.http_response(B::from)
    }

    /// The response to a request with these headers: a gRPC trailers-only
    /// answer to a gRPC call (`grpc-status` 7 `PERMISSION_DENIED` for 403, 16
    /// `UNAUTHENTICATED` for 401, 13 `INTERNAL` for a missing `AuthLayer`,
    /// the challenge as metadata), else [`to_response`](Self::to_response).
    pub fn to_response_for<B: From<&'static str> + From<String>>(
        &self,
        request: &http::HeaderMap,
    ) -> Response<B> {
        if crate::grpc::status::is_grpc(request) {
            self.grpc_response(B::from(""))
        } else {
            self.to_response()
        }
    }

    /// The gRPC trailers-only answer (`body` is empty).
    pub(crate) fn grpc_response<B>(&self, body: B) -> Response<B> {
        if self.kind == AuthzFailure::NotAuthenticated {
            crate::layer::missing_layer();
        }
        let mut res = crate::grpc::status::trailers_only(
            crate::grpc::status::Refusal {
                status: self.status(),
                message: &self.grpc_message(),
                challenges: self.challenge().into_iter().collect(),
                retry_after: None,
            },
            body,
        );
        res.extensions_mut().insert(self.clone());
        res
    }

    /// The fixed sentence of the refusal; for a guard with roles, the
    /// missing roles as the HTTP body names them.
    fn grpc_message(&self) -> String {
        let sentence = self.grpc_sentence();
        match (self.kind, &self.missing_roles) {
            (AuthzFailure::InsufficientScope | AuthzFailure::InsufficientRole, Some(roles)) => {
                format!("{sentence} (missing role(s): {roles})")
            }
            _ => sentence.to_owned(),
        }
    }

    fn grpc_sentence(&self) -> &'static str {
        match self.kind {
            AuthzFailure::InsufficientScope => "The access token lacks the required scope",
            AuthzFailure::InsufficientRole => "The access token lacks the required role",
            AuthzFailure::WrongTenant => "The access token belongs to another tenant",
            AuthzFailure::Anonymous => "Authentication required",
            AuthzFailure::NotAuthenticated => {
                "Server misconfiguration: a guard ran without an AuthLayer in front of it"
            }
            AuthzFailure::UnlistedMethod => "The method is not open to any token",
        }
    }

    /// The RFC 6750 response, its body made by `body` from
    /// [`body_text`](Self::body_text).
    pub(crate) fn http_response<B>(&self, body: impl FnOnce(String) -> B) -> Response<B> {
        let mut res = if self.kind == AuthzFailure::NotAuthenticated {
            MissingAuthLayer.response_with(|text| body(text.to_owned()))
        } else {
            let mut res = Response::new(body(self.body_text()));
            *res.status_mut() = self.status();
            let h = res.headers_mut();
            for v in self.challenges() {
                h.append(header::WWW_AUTHENTICATE, v);
            }
            h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            res
        };
        res.extensions_mut().insert(self.clone());
        res
    }
}

impl std::fmt::Display for AuthzRejection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.kind {
            AuthzFailure::InsufficientScope => {
                write!(f, "insufficient scope (requires `{}`)", self.required)?;
                match &self.missing_roles {
                    Some(roles) => write!(f, " or role(s) {roles}"),
                    None => Ok(()),
                }
            }
            AuthzFailure::InsufficientRole => write!(
                f,
                "missing role(s): {}",
                self.missing_roles.as_deref().unwrap_or("")
            ),
            AuthzFailure::Anonymous => f.write_str("authentication required"),
            AuthzFailure::WrongTenant => f.write_str("wrong tenant"),
            AuthzFailure::NotAuthenticated => f.write_str(WIRING_ERROR),
            AuthzFailure::UnlistedMethod => f.write_str("method not listed in the MethodGuards"),
        }
    }
}

impl std::error::Error for AuthzRejection {}
