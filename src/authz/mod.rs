//! Authorization: per-route scope and role guards, as tower layers and as
//! axum extractors.
//!
//! The [`AuthLayer`](crate::AuthLayer) answers *who* (a valid token, or
//! 401); the guards here answer *may they* (the token's scopes and roles, or
//! 403). Put the `AuthLayer` on the whole router and a guard on each route:
//!
//! ```no_run
//! use axum::{routing::{get, post}, Router};
//! use oauth2_guard::authz::{RequireRole, RequireScope};
//! use oauth2_guard::{AuthLayer, Issuer};
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let issuer = Issuer::builder("https://sso.example.com/realms/shop")
//!     .audience("orders-api")
//!     .build()
//!     .await?;
//! // `route_layer` guards every route added before it on that router.
//! let reads = Router::new()
//!     .route("/orders/{id}", get(|| async { "one" }))
//!     .route_layer(RequireScope::any_of(["orders:read", "orders:write"]));
//! let app: Router = Router::new()
//!     // One method router: POST needs `orders:write`, GET only a valid token.
//!     .route("/orders", get(|| async { "list" }).merge(post(|| async { "created" }).layer(RequireScope::new("orders:write"))))
//!     .merge(reads)
//!     // Roles (from the issuer's configured claim paths), or a scope or a role.
//!     .route("/admin", post(|| async { "ok" }).layer(RequireRole::new("admin")))
//!     .route("/reports", get(|| async { "ok" }).layer(RequireScope::new("reports:read").or_role("auditor")))
//!     .layer(AuthLayer::builder().issuer(issuer).realm("orders").build()?);
//! # Ok(()) }
//! ```
//!
//! A handler can instead name its scope in its signature with a marker type
//! declared by [`scope!`](crate::scope) and the [`HasScope`] extractor
//! (feature `axum`):
//!
//! ```
//! use oauth2_guard::authz::HasScope;
//!
//! oauth2_guard::scope!(pub OrdersWrite = "orders:write");
//!
//! async fn create_order(token: HasScope<OrdersWrite>) -> String {
//!     format!("created for {:?}", token.subject())
//! }
//! ```
//!
//! # Naming
//! The layer is `RequireScope` (as tower-http names layers after what they
//! require) and the extractor is `HasScope<S>` (as axum names extractors
//! after what the handler receives): the two never clash in one `use` list.
//!
//! # Responses
//! | situation | status | `WWW-Authenticate` |
//! |---|---|---|
//! | the token lacks the scope / role | 403 | `Bearer error="insufficient_scope", …, scope="<required scopes, space-separated>"` (RFC 6750 §3.1); `DPoP algs="…", error="insufficient_scope", …` when the layer accepts only DPoP or the request used the `DPoP` scheme (RFC 9449 §7.1) |
//! | no token, on an [`optional`](crate::AuthLayerBuilder::optional) layer | 401 | every challenge the layer sends: `Bearer`, and `DPoP algs="…"` on a DPoP layer, one field each |
//! | no `AuthLayer` in front of the guard | 500, body names the mistake | none |
//!
//! The realm of the challenge is the `AuthLayer`'s. The [`AuthzRejection`]
//! is also placed in the response's extensions for outer middleware.
//!
//! # Zero trust, and public routes
//! With the `AuthLayer` on the whole router, a route without a guard still
//! needs a valid token: guards only add requirements. Public routes go on a
//! separate router merged *outside* the layer:
//!
//! ```no_run
//! # use axum::{routing::get, Router};
//! # fn f(auth: oauth2_guard::AuthLayer) {
//! let protected = Router::new().route("/orders", get(|| async { "secret" })).layer(auth);
//! let public = Router::new().route("/healthz", get(|| async { "ok" }));
//! let app: Router = public.merge(protected);
//! # }
//! ```
//!
//! # Panics
//! [`RequireScope::new`], [`any_of`](RequireScope::any_of),
//! [`all_of`](RequireScope::all_of), [`or_role`](RequireScope::or_role) and the
//! [`RequireRole`] constructors panic on an invalid literal — at startup,
//! like axum's `Router::route` on a bad path. The `try_` forms return
//! [`ConfigError`] for values read from configuration.

mod extract;
mod layer;
#[cfg(feature = "grpc")]
pub(crate) mod methods;
mod roles;
mod tenant;
pub(crate) mod unmapped;

use std::sync::Arc;

use http::{header, HeaderValue, Response, StatusCode};

pub use extract::{HasRole, HasScope, ScopeName};
pub use layer::{RequireRole, RequireScope, RequireService, ResponseFuture};
pub use roles::{check_roles_mapped, is_role_name, RoleName};
pub use tenant::Tenant;

use crate::claims::VerifiedClaims;
use crate::error::ConfigError;
use crate::layer::{Challenge, ErrorDetail, LayerChallenge, PassedAnonymous};

/// Whether `s` is an RFC 6749 §3.3 `scope-token`:
/// `1*( %x21 / %x23-5B / %x5D-7E )` — visible ASCII without `"` and `\`, no
/// space. `const`, so [`scope!`](crate::scope) checks literals at compile time.
pub const fn is_scope_token(s: &str) -> bool {
    let b = s.as_bytes();
    if b.is_empty() {
        return false;
    }
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if !(c == 0x21 || (c >= 0x23 && c <= 0x5b) || (c >= 0x5d && c <= 0x7e)) {
            return false;
        }
        i += 1;
    }
    true
}

pub(crate) fn scope_token(s: &str) -> Result<String, ConfigError> {
    if is_scope_token(s) {
        Ok(s.to_owned())
    } else {
        Err(ConfigError::InvalidScope {
            scope: s.to_owned(),
            reason: if s.is_empty() {
                "empty"
            } else {
                "RFC 6749 §3.3 allows visible ASCII except `\"` and `\\`, no spaces"
            },
        })
    }
}

fn role_name(s: &str) -> Result<String, ConfigError> {
    if s.is_empty() || s.chars().any(char::is_control) {
        return Err(ConfigError::InvalidRole {
            role: s.to_owned(),
            reason: "must be non-empty, without control characters",
        });
    }
    Ok(s.to_owned())
}

/// A set of names (scopes or roles), all or any of which are needed.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Set {
    all: bool,
    names: Vec<String>,
}

impl Set {
    fn collect<I, S>(
        all: bool,
        items: I,
        setting: &'static str,
        check: fn(&str) -> Result<String, ConfigError>,
    ) -> Result<Self, ConfigError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut names: Vec<String> = Vec::new();
        for item in items {
            let n = check(item.as_ref())?;
            if !names.contains(&n) {
                names.push(n);
            }
        }
        if names.is_empty() {
            return Err(ConfigError::EmptyRequirement { setting });
        }
        Ok(Self { all, names })
    }

    fn met(&self, has: impl Fn(&str) -> bool) -> bool {
        if self.all {
            self.names.iter().all(|n| has(n))
        } else {
            self.names.iter().any(|n| has(n))
        }
    }

    /// What a token that does not meet the set lacks: for "all of", the
    /// names it does not have; for "any of", `one of ` and every name.
    fn missing(&self, has: impl Fn(&str) -> bool) -> String {
        if self.all {
            let missing: Vec<&str> = self
                .names
                .iter()
                .map(String::as_str)
                .filter(|n| !has(n))
                .collect();
            missing.join(", ")
        } else if self.names.len() == 1 {
            self.names[0].clone()
        } else {
            format!("one of {}", self.names.join(", "))
        }
    }
}

/// What a guard requires: scopes, roles, or either. Met when the scope set
/// is met *or* the role set is met (a side that is absent never is).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Requirement {
    scopes: Option<Set>,
    roles: Option<Set>,
    /// `scope="…"` of the challenge, computed once.
    scope_param: Arc<str>,
}

impl Requirement {
    fn new(scopes: Option<Set>, roles: Option<Set>) -> Self {
        let scope_param = scopes
            .as_ref()
            .map(|s| s.names.join(" "))
            .unwrap_or_default();
        let this = Self {
            scopes,
            roles,
            scope_param: scope_param.into(),
        };
        this.record();
        this
    }

    /// Into the audit inventory and the denial metrics (at guard build).
    fn record(&self) {
        fn names(s: &Option<Set>) -> &[String] {
            s.as_ref().map_or(&[], |s| &s.names)
        }
        crate::audit::record_requirement(names(&self.scopes), names(&self.roles));
        crate::ops::guard_built(&self.scope_param, &self.roles_text());
    }

    fn is_met(&self, claims: &VerifiedClaims) -> bool {
        self.scopes
            .as_ref()
            .is_some_and(|s| s.met(|n| claims.has_scope(n)))
            || self
                .roles
                .as_ref()
                .is_some_and(|r| r.met(|n| claims.has_role(n)))
    }

    /// The required role names (empty without roles).
    fn role_names(&self) -> &[String] {
        self.roles.as_ref().map_or(&[], |r| &r.names)
    }

    /// The required roles, comma-separated (empty without roles).
    fn roles_text(&self) -> String {
        self.roles
            .as_ref()
            .map(|r| r.names.join(", "))
            .unwrap_or_default()
    }

    /// Check the request's extensions: `Ok` with the claims, or why not.
    /// `method` is only for the audit event.
    pub(crate) fn check(
        &self,
        method: Option<&http::Method>,
        ext: &http::Extensions,
    ) -> Result<VerifiedClaims, AuthzRejection> {
        let challenge = ext.get::<LayerChallenge>().map(|c| c.0.clone());
        let fail = |kind, missing_roles: Option<Arc<str>>| AuthzRejection {
            kind,
            required: self.scope_param.clone(),
            missing_roles,
            challenge: challenge.clone(),
        };
        match ext.get::<VerifiedClaims>() {
            Some(c) if self.is_met(c) => {
                crate::audit::guard(method, ext, c, &self.scope_param, self.role_names(), None);
                Ok(c.clone())
            }
            Some(c) => {
                let missing_roles = self
                    .roles
                    .as_ref()
                    .map(|r| Arc::<str>::from(r.missing(|n| c.has_role(n))));
                // A role-only guard is about roles; with a scope set, the
                // challenge names the scopes and the body the roles.
                let kind = if self.scopes.is_none() {
                    if c.roles().is_empty() {
                        unmapped::refused_without_roles(&self.roles_text(), c.issuer());
                    }
                    AuthzFailure::InsufficientRole
                } else {
                    AuthzFailure::InsufficientScope
                };
                tracing::info!(
                    target: "oauth2_guard::authz",
                    issuer = c.issuer(),
                    client_id = c.client_id(),
                    token = %c.fingerprint(),
                    required_scopes = &*self.scope_param,
                    required_roles = self.roles_text(),
                    missing_roles = missing_roles.as_deref().unwrap_or(""),
                    "request forbidden: {}",
                    if kind == AuthzFailure::InsufficientRole { "missing role" } else { "insufficient scope" }
                );
                let (label, required, code) = if kind == AuthzFailure::InsufficientRole {
                    ("role", self.roles_text(), "insufficient_role")
                } else {
                    ("scope", self.scope_param.to_string(), "insufficient_scope")
                };
                crate::ops::authz_denied(label, &required);
                crate::audit::guard(
                    method,
                    ext,
                    c,
                    &self.scope_param,
                    self.role_names(),
                    Some(code),
                );
                Err(fail(kind, missing_roles))
            }
            None if ext.get::<PassedAnonymous>().is_some() => {
                // The optional layer let it pass; refusing it here is a
                // missing-token rejection, logged as the layer's are.
                crate::layer::log(crate::Rejection::new(crate::Reason::MissingToken));
                Err(fail(AuthzFailure::Anonymous, None))
            }
            // Logged when answered, by `MissingAuthLayer::to_response`.
            None => Err(fail(AuthzFailure::NotAuthenticated, None)),
        }
    }
}

/// Why a guard refused a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum AuthzFailure {
    /// The token lacks the required scope(s) (and, for a scope-or-role
    /// guard, the role(s)): 403 `insufficient_scope` naming the scopes.
    InsufficientScope,
    /// A role guard ([`RequireRole`], [`HasRole`]): the token lacks the
    /// required role(s): 403, the body naming the missing role(s).
    InsufficientRole,
    /// A tenant-scoped route ([`Tenant`]): the token has no tenant, or
    /// another one: 403.
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
/// rejection of the crate, for the guard layers ([`RequireScope`],
/// [`RequireRole`]) and every extractor ([`HasScope`],
/// [`Claims`](crate::extract::Claims), [`VerifiedClaims`]).
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
    kind: AuthzFailure,
    required: Arc<str>,
    /// What the token lacks of the guard's roles (see [`Set::missing`]).
    missing_roles: Option<Arc<str>>,
    challenge: Option<Challenge>,
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

/// Declare a marker type naming one scope, for the [`HasScope`] extractor.
///
/// The literal is checked against RFC 6749 §3.3 at compile time.
///
/// ```
/// oauth2_guard::scope!(pub OrdersRead = "orders:read");
/// oauth2_guard::scope!(
///     /// Write access to orders.
///     OrdersWrite = "orders:write"
/// );
/// use oauth2_guard::authz::ScopeName;
/// assert_eq!(OrdersWrite::SCOPE, "orders:write");
/// ```
///
/// ```compile_fail
/// oauth2_guard::scope!(Bad = "orders write");
/// ```
#[macro_export]
macro_rules! scope {
    ($(#[$meta:meta])* $vis:vis $name:ident = $scope:literal $(;)?) => {
        $crate::__name_marker!(
            $(#[$meta])* $vis $name = $scope,
            ScopeName::SCOPE if is_scope_token else "scope!: `", "` is not an RFC 6749 scope token"
        );
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scope_token_syntax() {
        for ok in [
            "orders:write",
            "a",
            "https://api.example.com/orders.read",
            "!#[]~",
        ] {
            assert!(is_scope_token(ok), "{ok}");
        }
        for bad in ["", "a b", "a\"b", "a\\b", "caf\u{e9}", "a\tb", "\u{7f}"] {
            assert!(!is_scope_token(bad), "{bad:?}");
        }
        assert!(matches!(
            scope_token("a b"),
            Err(ConfigError::InvalidScope { .. })
        ));
        assert!(
            role_name("").is_err() && role_name("a\nb").is_err() && role_name("Task.Read").is_ok()
        );
    }

    #[test]
    fn guard_refusals_to_grpc_calls_are_trailers_only() {
        let mut grpc = http::HeaderMap::new();
        grpc.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/grpc"),
        );
        let refuse = |kind| AuthzRejection {
            kind,
            required: Arc::from("orders:write"),
            missing_roles: None,
            challenge: None,
        };
        for (kind, code, http) in [
            (AuthzFailure::InsufficientScope, "7", 403),
            (AuthzFailure::Anonymous, "16", 401),
            (AuthzFailure::NotAuthenticated, "13", 500),
            (AuthzFailure::UnlistedMethod, "7", 403),
            (AuthzFailure::InsufficientRole, "7", 403),
            (AuthzFailure::WrongTenant, "7", 403),
        ] {
            let res: Response<String> = refuse(kind).to_response_for(&grpc);
            assert_eq!(
                (res.status().as_u16(), &res.headers()["grpc-status"]),
                (200, &code.parse::<HeaderValue>().unwrap()),
                "{kind:?}"
            );
            assert_eq!(res.body(), "");
            assert_eq!(
                res.extensions().get::<AuthzRejection>().unwrap().kind(),
                kind
            );
            let plain: Response<String> = refuse(kind).to_response_for(&http::HeaderMap::new());
            assert_eq!(plain.status().as_u16(), http);
            assert!(plain.headers().get("grpc-status").is_none());
        }
        let res: Response<String> = refuse(AuthzFailure::InsufficientScope).to_response_for(&grpc);
        assert!(res.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .contains(r#"scope="orders:write""#));
    }

    #[test]
    fn sets() {
        let any = Set::collect(false, ["a", "b", "a"], "x", scope_token).unwrap();
        assert_eq!(any.names, ["a", "b"]);
        assert!(any.met(|n| n == "b"));
        let all = Set::collect(true, ["a", "b"], "x", scope_token).unwrap();
        assert!(!all.met(|n| n == "b"));
        assert!(matches!(
            Set::collect(true, Vec::<&str>::new(), "x", scope_token),
            Err(ConfigError::EmptyRequirement { setting: "x" })
        ));
    }
}
