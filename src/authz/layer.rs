//! [`RequireScope`] and [`RequireRole`]: the guard layers, their service and
//! response future.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use http::{Request, Response};
use pin_project_lite::pin_project;
use tower_service::Service;

use super::{role_name, scope_token, Requirement, Set};
use crate::error::ConfigError;

pub(super) fn or_panic<T>(r: Result<T, ConfigError>) -> T {
    match r {
        Ok(v) => v,
        // Construction time only (documented under `# Panics`).
        Err(e) => panic!("oauth2-guard: {e}"),
    }
}

/// A layer that lets a request through only if its token has a scope (or,
/// with [`or_role`](Self::or_role), a role). See the [module docs](super).
///
/// ```
/// use oauth2_guard::authz::RequireScope;
/// let write = RequireScope::new("orders:write");
/// let either = RequireScope::any_of(["orders:read", "orders:admin"]);
/// let both = RequireScope::all_of(["orders:read", "payments:read"]);
/// let from_config = RequireScope::try_new("orders write");
/// assert!(from_config.is_err());
/// # let _ = (write, either, both);
/// ```
#[derive(Debug, Clone)]
pub struct RequireScope {
    pub(super) req: Arc<Requirement>,
}

impl RequireScope {
    /// Require `scope`.
    ///
    /// # Panics
    /// When `scope` is not an RFC 6749 §3.3 scope token (empty, a space, `"`,
    /// `\`, non-ASCII). Use [`try_new`](Self::try_new) for values from config.
    pub fn new(scope: &str) -> Self {
        or_panic(Self::try_new(scope))
    }

    /// Require `scope`.
    ///
    /// # Errors
    /// [`ConfigError::InvalidScope`] when `scope` is not an RFC 6749 §3.3 scope token.
    pub fn try_new(scope: &str) -> Result<Self, ConfigError> {
        Self::try_all_of([scope])
    }

    /// Require every one of `scopes`.
    ///
    /// # Panics
    /// As [`new`](Self::new), and for an empty list.
    pub fn all_of<I: IntoIterator<Item = S>, S: AsRef<str>>(scopes: I) -> Self {
        or_panic(Self::try_all_of(scopes))
    }

    /// Require every one of `scopes`.
    ///
    /// # Errors
    /// [`ConfigError::InvalidScope`], or [`ConfigError::EmptyRequirement`].
    pub fn try_all_of<I: IntoIterator<Item = S>, S: AsRef<str>>(
        scopes: I,
    ) -> Result<Self, ConfigError> {
        let set = Set::collect(true, scopes, "RequireScope::all_of", scope_token)?;
        Ok(Self::from_sets(Some(set), None))
    }

    /// Require at least one of `scopes`.
    ///
    /// # Panics
    /// As [`new`](Self::new), and for an empty list.
    pub fn any_of<I: IntoIterator<Item = S>, S: AsRef<str>>(scopes: I) -> Self {
        or_panic(Self::try_any_of(scopes))
    }

    /// Require at least one of `scopes`.
    ///
    /// # Errors
    /// [`ConfigError::InvalidScope`], or [`ConfigError::EmptyRequirement`].
    pub fn try_any_of<I: IntoIterator<Item = S>, S: AsRef<str>>(
        scopes: I,
    ) -> Result<Self, ConfigError> {
        let set = Set::collect(false, scopes, "RequireScope::any_of", scope_token)?;
        Ok(Self::from_sets(Some(set), None))
    }

    /// Also let the request through when the token has `role` (from the
    /// issuer's [`roles_from`](crate::IssuerBuilder::roles_from) mapping):
    /// scope-or-role. Call again for more roles (any of them suffices).
    ///
    /// # Panics
    /// When `role` is empty or has control characters.
    #[must_use]
    pub fn or_role(self, role: &str) -> Self {
        or_panic(self.try_or_role(role))
    }

    /// As [`or_role`](Self::or_role).
    ///
    /// # Errors
    /// [`ConfigError::InvalidRole`].
    pub fn try_or_role(self, role: &str) -> Result<Self, ConfigError> {
        let role = role_name(role)?;
        let mut roles = self.req.roles.clone().unwrap_or(Set {
            all: false,
            names: Vec::new(),
        });
        if !roles.names.contains(&role) {
            roles.names.push(role);
        }
        Ok(Self::from_sets(self.req.scopes.clone(), Some(roles)))
    }

    fn from_sets(scopes: Option<Set>, roles: Option<Set>) -> Self {
        Self {
            req: Arc::new(Requirement::new(scopes, roles)),
        }
    }

    /// The required scopes.
    pub fn scopes(&self) -> &[String] {
        self.req.scopes.as_ref().map_or(&[], |s| &s.names)
    }
}

/// A layer that lets a request through only if its token carries a role
/// (from the issuer's [`roles_from`](crate::IssuerBuilder::roles_from)
/// mapping — Keycloak realm/client roles, Entra `roles`, Cognito groups, …).
///
/// A refusal is a 403 `insufficient_scope` without a `scope` parameter:
/// roles are not OAuth scopes a client could request.
///
/// # A guard that can never pass
/// Roles are read only from the claim paths an issuer maps. A role guard
/// behind issuers that map none refuses everyone, so it is reported
/// without any call of yours: one WARN on target `oauth2_guard::authz`
/// (fields `check="unmapped_roles"`, `stage`, `roles.required`, and
/// `issuers` or `issuer`) when such a guard has been applied to a
/// route (`Layer::layer`; axum does it when the router is finalised, by
/// serving it or `with_state`) and an `AuthLayer` whose issuers map no roles
/// has been built — in either order, once per
/// pair; the process cannot tell which layer a guard is behind, so with
/// several layers the warning says "if" — and again on the first request
/// the guard refuses because the token's issuer maps no roles (once per
/// guard). [`checked_against`](Self::checked_against) turns the start-up
/// check into a [`ConfigError`] where the layer's issuers are at hand.
///
/// ```
/// use oauth2_guard::authz::RequireRole;
/// let admin = RequireRole::new("admin");
/// let staff = RequireRole::any_of(["admin", "support"]);
/// # let _ = (admin, staff);
/// ```
#[derive(Debug, Clone)]
pub struct RequireRole {
    pub(super) req: Arc<Requirement>,
}

impl RequireRole {
    /// Require `role`.
    ///
    /// # Panics
    /// When `role` is empty or has control characters; see [`try_new`](Self::try_new).
    pub fn new(role: &str) -> Self {
        or_panic(Self::try_new(role))
    }

    /// Require `role`.
    ///
    /// # Errors
    /// [`ConfigError::InvalidRole`].
    pub fn try_new(role: &str) -> Result<Self, ConfigError> {
        Self::try_all_of([role])
    }

    /// Require at least one of `roles`.
    ///
    /// # Panics
    /// As [`new`](Self::new), and for an empty list.
    pub fn any_of<I: IntoIterator<Item = S>, S: AsRef<str>>(roles: I) -> Self {
        or_panic(Self::try_any_of(roles))
    }

    /// Require at least one of `roles`.
    ///
    /// # Errors
    /// [`ConfigError::InvalidRole`] or [`ConfigError::EmptyRequirement`].
    pub fn try_any_of<I: IntoIterator<Item = S>, S: AsRef<str>>(
        roles: I,
    ) -> Result<Self, ConfigError> {
        let set = Set::collect(false, roles, "RequireRole::any_of", role_name)?;
        Ok(Self {
            req: Arc::new(Requirement::new(None, Some(set))),
        })
    }

    /// Require every one of `roles`.
    ///
    /// # Panics
    /// As [`new`](Self::new), and for an empty list.
    pub fn all_of<I: IntoIterator<Item = S>, S: AsRef<str>>(roles: I) -> Self {
        or_panic(Self::try_all_of(roles))
    }

    /// Require every one of `roles`.
    ///
    /// # Errors
    /// [`ConfigError::InvalidRole`] or [`ConfigError::EmptyRequirement`].
    pub fn try_all_of<I: IntoIterator<Item = S>, S: AsRef<str>>(
        roles: I,
    ) -> Result<Self, ConfigError> {
        let set = Set::collect(true, roles, "RequireRole::all_of", role_name)?;
        Ok(Self {
            req: Arc::new(Requirement::new(None, Some(set))),
        })
    }

    /// Also let the request through when the token has `scope`:
    /// role-or-scope, the mirror of [`RequireScope::or_role`]. Call again
    /// for more scopes (any of them suffices). A refusal is then a 403
    /// `insufficient_scope` naming the scopes, its body the missing roles.
    ///
    /// # Panics
    /// When `scope` is not an RFC 6749 §3.3 scope token.
    #[must_use]
    pub fn or_scope(self, scope: &str) -> Self {
        or_panic(self.try_or_scope(scope))
    }

    /// As [`or_scope`](Self::or_scope).
    ///
    /// # Errors
    /// [`ConfigError::InvalidScope`].
    pub fn try_or_scope(self, scope: &str) -> Result<Self, ConfigError> {
        let scope = scope_token(scope)?;
        let mut scopes = self.req.scopes.clone().unwrap_or(Set {
            all: false,
            names: Vec::new(),
        });
        if !scopes.names.contains(&scope) {
            scopes.names.push(scope);
        }
        Ok(Self {
            req: Arc::new(Requirement::new(Some(scopes), self.req.roles.clone())),
        })
    }

    /// The required roles.
    pub fn roles(&self) -> &[String] {
        self.req.roles.as_ref().map_or(&[], |s| &s.names)
    }

    /// This guard, after checking that at least one of `issuers` (those of
    /// the `AuthLayer` in front of it) maps roles: a role guard behind
    /// issuers that map none can never pass, which is a configuration
    /// mistake to report at start-up rather than a 403 on every request.
    ///
    /// ```
    /// # async fn f(issuer: oauth2_guard::Issuer) -> Result<(), oauth2_guard::ConfigError> {
    /// use oauth2_guard::authz::RequireRole;
    /// let admin = RequireRole::new("admin").checked_against([&issuer])?;
    /// # let _ = admin; Ok(()) }
    /// ```
    ///
    /// # Errors
    /// [`ConfigError::InvalidRole`] naming the guard's roles, when no issuer
    /// maps roles ([`Issuer::maps_roles`](crate::Issuer::maps_roles)) and
    /// the guard has no scope alternative ([`or_scope`](Self::or_scope)).
    pub fn checked_against<'a, I>(self, issuers: I) -> Result<Self, ConfigError>
    where
        I: IntoIterator<Item = &'a crate::Issuer>,
    {
        if self.req.scopes.is_none() && !issuers.into_iter().any(crate::Issuer::maps_roles) {
            return Err(ConfigError::InvalidRole {
                role: self.roles().join(", "),
                reason: "no issuer of the AuthLayer maps roles (IssuerBuilder::roles_from, or a preset's role claims): this role guard can never pass",
            });
        }
        Ok(self)
    }
}

impl<S> tower_layer::Layer<S> for RequireScope {
    type Service = RequireService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        RequireService {
            inner,
            req: self.req.clone(),
        }
    }
}

impl<S> tower_layer::Layer<S> for RequireRole {
    type Service = RequireService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        // Applied to a route: a role-only guard is registered for the
        // unmapped-roles warning (`or_scope` is known by now).
        if self.req.scopes.is_none() {
            super::unmapped::role_guard_built(&self.roles().join(", "));
        }
        RequireService {
            inner,
            req: self.req.clone(),
        }
    }
}

/// The service of [`RequireScope`] and [`RequireRole`]: checks the
/// [`VerifiedClaims`](crate::VerifiedClaims) the `AuthLayer` inserted, then
/// calls the inner service or answers 403 (401, 500; see the module docs).
///
/// The response body must be buildable from a `&'static str` (axum's `Body`,
/// `String`, `Full<Bytes>`): unlike tower-http's `ResBody: Default`, because
/// the 500 for a missing `AuthLayer` names the mistake in its body.
#[derive(Debug, Clone)]
pub struct RequireService<S> {
    inner: S,
    req: Arc<Requirement>,
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for RequireService<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
    ResBody: From<&'static str> + From<String>,
{
    type Response = Response<ResBody>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future, ResBody>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<ReqBody>) -> Self::Future {
        match self.req.check(Some(req.method()), req.extensions()) {
            Ok(_) => ResponseFuture::inner(self.inner.call(req)),
            Err(rejection) => ResponseFuture::refused(rejection.to_response_for(req.headers())),
        }
    }
}

pin_project! {
    /// The response future of [`RequireService`].
    pub struct ResponseFuture<F, B> {
        #[pin]
        kind: Kind<F, B>,
    }
}

pin_project! {
    #[project = KindProj]
    enum Kind<F, B> {
        Inner { #[pin] future: F },
        Refused { response: Option<Response<B>> },
    }
}

impl<F, B> ResponseFuture<F, B> {
    pub(crate) fn inner(future: F) -> Self {
        Self {
            kind: Kind::Inner { future },
        }
    }

    pub(crate) fn refused(response: Response<B>) -> Self {
        Self {
            kind: Kind::Refused {
                response: Some(response),
            },
        }
    }
}

impl<F, B, E> Future for ResponseFuture<F, B>
where
    F: Future<Output = Result<Response<B>, E>>,
{
    type Output = Result<Response<B>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project().kind.project() {
            KindProj::Inner { future } => future.poll(cx),
            // As tower-http does: polling a completed future is a caller bug.
            KindProj::Refused { response } => Poll::Ready(Ok(response
                .take()
                .expect("RequireService ResponseFuture polled after completion"))),
        }
    }
}
