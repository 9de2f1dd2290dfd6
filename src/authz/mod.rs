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
mod rejection;
mod roles;
mod tenant;
pub(crate) mod unmapped;

use std::sync::Arc;

pub use extract::{HasRole, HasScope, ScopeName};
pub use layer::{RequireRole, RequireScope, RequireService, ResponseFuture};
pub use rejection::{AuthzFailure, AuthzRejection, MissingAuthLayer, WIRING_ERROR};
pub use roles::{check_roles_mapped, is_role_name, RoleName};
pub use tenant::Tenant;

use crate::claims::VerifiedClaims;
use crate::error::ConfigError;
use crate::layer::{LayerChallenge, PassedAnonymous};

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
mod tests;
