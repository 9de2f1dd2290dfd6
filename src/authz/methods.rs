//! [`MethodGuards`]: scope and role guards per gRPC method or service,
//! declared once next to the server (feature `grpc`; re-exported from
//! [`crate::grpc`]).

use std::collections::HashMap;
use std::sync::Arc;
use std::task::{Context, Poll};

use http::{Request, Response};
use tower_service::Service;

use super::layer::{or_panic, ResponseFuture};
use super::{AuthzFailure, AuthzRejection, RequireRole, RequireScope, Requirement};
use crate::claims::VerifiedClaims;
use crate::error::ConfigError;
use crate::layer::{LayerChallenge, PassedAnonymous};

/// What a gRPC method needs: a scope or role requirement (from
/// [`RequireScope`] / [`RequireRole`], with their combinators), any valid
/// token, no token at all, or nothing that lets it through.
///
/// ```
/// use oauth2_guard::authz::{RequireRole, RequireScope};
/// use oauth2_guard::grpc::MethodRule;
///
/// let write: MethodRule = RequireScope::new("orders:write").or_role("admin").into();
/// let admin: MethodRule = RequireRole::new("admin").into();
/// # let _ = (write, admin, MethodRule::authenticated(), MethodRule::public(), MethodRule::deny());
/// ```
#[derive(Debug, Clone)]
pub struct MethodRule(Rule);

#[derive(Debug, Clone)]
enum Rule {
    Require(Arc<Requirement>),
    Authenticated,
    Public,
    Deny,
}

impl MethodRule {
    /// Any token the `AuthLayer` verified; no scope or role.
    pub fn authenticated() -> Self {
        Self(Rule::Authenticated)
    }

    /// No token needed: for health checks or reflection behind an
    /// [`optional`](crate::AuthLayerBuilder::optional) `AuthLayer`. A token
    /// that is sent is still verified by the layer (a bad one is refused),
    /// and a layer that is not optional still requires one.
    pub fn public() -> Self {
        Self(Rule::Public)
    }

    /// Refused whatever the token (`PERMISSION_DENIED`): the default for
    /// unlisted methods.
    pub fn deny() -> Self {
        Self(Rule::Deny)
    }
}

impl From<RequireScope> for MethodRule {
    fn from(guard: RequireScope) -> Self {
        Self(Rule::Require(guard.req))
    }
}

impl From<RequireRole> for MethodRule {
    fn from(guard: RequireRole) -> Self {
        Self(Rule::Require(guard.req))
    }
}

/// A tower layer that checks each gRPC call against the rule of its method
/// (`/package.Service/Method`), else of its service (`package.Service`),
/// else the rule for unlisted methods. Put it *inside* the
/// [`AuthLayer`](crate::AuthLayer) (tonic: `.layer(auth).layer(guards)`).
///
/// ```
/// use oauth2_guard::authz::{RequireRole, RequireScope};
/// use oauth2_guard::grpc::{MethodGuards, MethodRule};
///
/// let guards = MethodGuards::new()
///     // Every method of the service needs `orders:read` ...
///     .service("shop.v1.Orders", RequireScope::any_of(["orders:read", "orders:write"]))
///     // ... except this one, which needs `orders:write` (or the admin role).
///     .method("/shop.v1.Orders/CreateOrder", RequireScope::new("orders:write").or_role("admin"))
///     .method("/shop.v1.Admin/Purge", RequireRole::new("admin"))
///     .service("grpc.health.v1.Health", MethodRule::authenticated());
/// // Anything else is refused with PERMISSION_DENIED.
/// # let _ = guards;
/// ```
///
/// | setting | default | why |
/// |---|---|---|
/// | [`unlisted`](Self::unlisted) | [`MethodRule::deny`] | a method added to a service later, or a service added to the server, is closed until someone decides who may call it; the answer is 403 / `PERMISSION_DENIED` without a challenge, since no token would help |
/// | precedence | method rule, then service rule, then `unlisted` | the most specific declaration wins, so a service-wide rule can be tightened (or loosened) for one method |
/// | a name listed twice | a [`ConfigError`] | two rules for one method would make the policy depend on the order of the calls |
///
/// Refusals are answered as the [`authz`](super) guards answer (the
/// [`AuthzRejection`] in the response extensions): a gRPC call gets a
/// trailers-only answer (`PERMISSION_DENIED`, or `UNAUTHENTICATED` for an
/// anonymous call behind an optional layer, or `INTERNAL` without an
/// `AuthLayer`); a plain HTTP request on the same server gets the RFC 6750
/// status and challenge with an empty body.
///
/// # Panics
/// [`method`](Self::method) and [`service`](Self::service) panic on a
/// malformed or repeated name — at startup; the `try_` forms return
/// [`ConfigError::InvalidGrpcPath`].
#[derive(Debug, Clone)]
pub struct MethodGuards {
    table: Arc<Table>,
}

#[derive(Debug, Clone)]
struct Table {
    methods: HashMap<Box<str>, Rule>,
    services: HashMap<Box<str>, Rule>,
    unlisted: Rule,
}

impl Default for MethodGuards {
    fn default() -> Self {
        Self::new()
    }
}

impl MethodGuards {
    /// No method listed; unlisted methods are refused.
    pub fn new() -> Self {
        crate::ops::method_guards_built();
        Self {
            table: Arc::new(Table {
                methods: HashMap::new(),
                services: HashMap::new(),
                unlisted: Rule::Deny,
            }),
        }
    }

    /// The rule for one method, `/package.Service/Method` (the HTTP/2 path
    /// of the call, as in tonic's generated `*_server::SERVICE_NAME` plus
    /// the method name).
    ///
    /// # Panics
    /// As [`try_method`](Self::try_method) fails.
    #[must_use]
    pub fn method(self, path: &str, rule: impl Into<MethodRule>) -> Self {
        or_panic(self.try_method(path, rule))
    }

    /// As [`method`](Self::method).
    ///
    /// # Errors
    /// [`ConfigError::InvalidGrpcPath`] when `path` is not
    /// `/package.Service/Method` or is already listed.
    pub fn try_method(self, path: &str, rule: impl Into<MethodRule>) -> Result<Self, ConfigError> {
        let valid = path
            .strip_prefix('/')
            .and_then(|rest| rest.split_once('/'))
            .is_some_and(|(service, method)| {
                is_service_name(service)
                    && !method.is_empty()
                    && method
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'_')
            });
        if !valid {
            return Err(bad(path, "expected `/package.Service/Method`"));
        }
        self.insert(path, rule.into().0, |t| &mut t.methods)
    }

    /// The rule for every method of a service, `package.Service` (tonic's
    /// `*_server::SERVICE_NAME`), unless the method has its own rule.
    ///
    /// # Panics
    /// As [`try_service`](Self::try_service) fails.
    #[must_use]
    pub fn service(self, name: &str, rule: impl Into<MethodRule>) -> Self {
        or_panic(self.try_service(name, rule))
    }

    /// As [`service`](Self::service).
    ///
    /// # Errors
    /// [`ConfigError::InvalidGrpcPath`] when `name` is not `package.Service`
    /// (no slashes) or is already listed.
    pub fn try_service(self, name: &str, rule: impl Into<MethodRule>) -> Result<Self, ConfigError> {
        if !is_service_name(name) {
            return Err(bad(name, "expected `package.Service`, without slashes"));
        }
        self.insert(name, rule.into().0, |t| &mut t.services)
    }

    /// The rule for calls that match no method and no service (default:
    /// [`MethodRule::deny`]; see the table above). Plain HTTP paths on the
    /// same server count as unlisted.
    #[must_use]
    pub fn unlisted(mut self, rule: impl Into<MethodRule>) -> Self {
        Arc::make_mut(&mut self.table).unlisted = rule.into().0;
        self
    }

    fn insert(
        mut self,
        key: &str,
        rule: Rule,
        map: fn(&mut Table) -> &mut HashMap<Box<str>, Rule>,
    ) -> Result<Self, ConfigError> {
        let map = map(Arc::make_mut(&mut self.table));
        if map.insert(key.into(), rule).is_some() {
            return Err(bad(key, "listed twice"));
        }
        Ok(self)
    }
}

fn bad(path: &str, reason: &'static str) -> ConfigError {
    ConfigError::InvalidGrpcPath {
        path: path.to_owned(),
        reason,
    }
}

/// `package.Service`: identifiers separated by dots.
fn is_service_name(s: &str) -> bool {
    !s.is_empty()
        && s.split('.').all(|part| {
            !part.is_empty() && part.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
        })
}

impl Table {
    fn rule(&self, path: &str) -> &Rule {
        if let Some(rule) = self.methods.get(path) {
            return rule;
        }
        let service = path
            .strip_prefix('/')
            .and_then(|rest| rest.split_once('/'))
            .and_then(|(service, _)| self.services.get(service));
        service.unwrap_or(&self.unlisted)
    }

    fn check(
        &self,
        method: &http::Method,
        path: &str,
        ext: &http::Extensions,
    ) -> Result<(), AuthzRejection> {
        let refuse = |kind| AuthzRejection {
            kind,
            required: Arc::from(""),
            missing_roles: None,
            challenge: ext.get::<LayerChallenge>().map(|c| c.0.clone()),
        };
        match self.rule(path) {
            Rule::Require(req) => req.check(Some(method), ext).map(drop),
            Rule::Public => Ok(()),
            Rule::Authenticated => match ext.get::<VerifiedClaims>() {
                Some(_) => Ok(()),
                None if ext.get::<PassedAnonymous>().is_some() => {
                    crate::layer::log(crate::Rejection::new(crate::Reason::MissingToken));
                    Err(refuse(AuthzFailure::Anonymous))
                }
                None => Err(refuse(AuthzFailure::NotAuthenticated)),
            },
            Rule::Deny => {
                tracing::info!(
                    target: "oauth2_guard::authz",
                    method = path,
                    token = ext.get::<VerifiedClaims>().map(|c| c.fingerprint().to_string()),
                    "request forbidden: method not listed in the method guards"
                );
                crate::ops::unlisted_method_denied();
                crate::audit::unlisted_method(method, path, ext);
                Err(refuse(AuthzFailure::UnlistedMethod))
            }
        }
    }
}

impl<S> tower_layer::Layer<S> for MethodGuards {
    type Service = MethodGuardsService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        MethodGuardsService {
            inner,
            table: self.table.clone(),
        }
    }
}

/// The service of [`MethodGuards`].
///
/// Refusals have an empty body (`ResBody: Default`, as tonic's and axum's
/// bodies are): a gRPC trailers-only answer carries everything in headers.
#[derive(Debug, Clone)]
pub struct MethodGuardsService<S> {
    inner: S,
    table: Arc<Table>,
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for MethodGuardsService<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
    ResBody: Default,
{
    type Response = Response<ResBody>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future, ResBody>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<ReqBody>) -> Self::Future {
        match self
            .table
            .check(req.method(), req.uri().path(), req.extensions())
        {
            Ok(()) => ResponseFuture::inner(self.inner.call(req)),
            Err(rejection) if crate::grpc::status::is_grpc(req.headers()) => {
                ResponseFuture::refused(rejection.grpc_response(ResBody::default()))
            }
            Err(rejection) => {
                ResponseFuture::refused(rejection.http_response(|_| ResBody::default()))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_checked() {
        for bad in [
            "shop.Orders/Get",
            "/shop.Orders",
            "/shop..Orders/Get",
            "/shop.Orders/",
            "/a/b/c",
            "/a b/c",
        ] {
            assert!(
                matches!(
                    MethodGuards::new().try_method(bad, MethodRule::public()),
                    Err(ConfigError::InvalidGrpcPath { .. })
                ),
                "{bad}"
            );
        }
        for bad in ["", "/shop.Orders", "shop.Orders/", "shop."] {
            assert!(
                MethodGuards::new()
                    .try_service(bad, MethodRule::public())
                    .is_err(),
                "{bad}"
            );
        }
        let twice = MethodGuards::new()
            .method("/shop.Orders/Get", MethodRule::public())
            .try_method("/shop.Orders/Get", MethodRule::deny());
        assert!(matches!(
            twice,
            Err(ConfigError::InvalidGrpcPath {
                reason: "listed twice",
                ..
            })
        ));
    }

    #[test]
    fn most_specific_rule_wins() {
        let g = MethodGuards::new()
            .service("shop.Orders", MethodRule::authenticated())
            .method("/shop.Orders/Get", MethodRule::public());
        let t = &g.table;
        assert!(matches!(t.rule("/shop.Orders/Get"), Rule::Public));
        assert!(matches!(t.rule("/shop.Orders/Create"), Rule::Authenticated));
        assert!(matches!(t.rule("/shop.Other/Get"), Rule::Deny));
        assert!(matches!(t.rule("/healthz"), Rule::Deny));
        let open = g.unlisted(MethodRule::authenticated());
        assert!(matches!(open.table.rule("/x"), Rule::Authenticated));
        // Without claims and without the layer: the wiring mistake, not a 403.
        let err = open
            .table
            .check(
                &http::Method::POST,
                "/shop.Orders/Create",
                &http::Extensions::new(),
            )
            .unwrap_err();
        assert_eq!(err.kind(), AuthzFailure::NotAuthenticated);
    }
}
