//! [`HasScope<S>`] and [`HasRole<R>`]: a scope or role requirement in a
//! handler's signature. Both are one extractor, written once
//! (`single_name_extractor!`), that checks one required name.

use std::marker::PhantomData;
use std::ops::Deref;

use crate::claims::VerifiedClaims;

use super::roles::RoleName;
use super::{Requirement, Set};

/// A marker type naming one scope; declare one with [`scope!`](crate::scope).
pub trait ScopeName: Send + Sync + 'static {
    /// The scope (an RFC 6749 §3.3 scope token; `scope!` checks it at compile time).
    const SCOPE: &'static str;
}

/// The requirement of one scope (`role: false`) or one role.
fn one(name: &'static str, role: bool) -> Requirement {
    let set = Some(Set {
        all: true,
        names: vec![name.to_owned()],
    });
    if role {
        Requirement::new(None, set)
    } else {
        Requirement::new(set, None)
    }
}

/// The extractor type `$name<$marker>` that holds the claims of a token
/// meeting `one($value, $role)`: accessors, `Deref`, `Clone`, `Debug` (the
/// name and the claims) and, with feature `axum`, `FromRequestParts`.
macro_rules! single_name_extractor {
    ($(#[$doc:meta])* $name:ident<$marker:ident: $bound:ident>, $field:literal, $value:ident, $role:literal) => {
        $(#[$doc])*
        pub struct $name<$marker> {
            claims: VerifiedClaims,
            _marker: PhantomData<fn() -> $marker>,
        }

        impl<$marker: $bound> $name<$marker> {
            /// The verified claims.
            pub fn claims(&self) -> &VerifiedClaims {
                &self.claims
            }

            /// The verified claims, by value.
            pub fn into_inner(self) -> VerifiedClaims {
                self.claims
            }

            #[doc = concat!("Check `ext` (request extensions) for the ", $field, ".")]
            ///
            /// # Errors
            /// As for the guard layers ([`AuthzRejection`](super::AuthzRejection)).
            pub fn from_extensions(ext: &http::Extensions) -> Result<Self, super::AuthzRejection> {
                Self::checked(None, ext)
            }

            /// The check, with the method for the audit event when known.
            fn checked(
                method: Option<&http::Method>,
                ext: &http::Extensions,
            ) -> Result<Self, super::AuthzRejection> {
                one($marker::$value, $role).check(method, ext).map(|claims| Self {
                    claims,
                    _marker: PhantomData,
                })
            }
        }

        impl<$marker> Deref for $name<$marker> {
            type Target = VerifiedClaims;

            fn deref(&self) -> &VerifiedClaims {
                &self.claims
            }
        }

        impl<$marker> Clone for $name<$marker> {
            fn clone(&self) -> Self {
                Self {
                    claims: self.claims.clone(),
                    _marker: PhantomData,
                }
            }
        }

        impl<$marker: $bound> std::fmt::Debug for $name<$marker> {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.debug_struct(stringify!($name))
                    .field($field, &$marker::$value)
                    .field("claims", &self.claims)
                    .finish()
            }
        }

        #[cfg(feature = "axum")]
        impl<$marker: $bound, St: Send + Sync> axum::extract::FromRequestParts<St> for $name<$marker> {
            type Rejection = super::AuthzRejection;

            async fn from_request_parts(
                parts: &mut http::request::Parts,
                _state: &St,
            ) -> Result<Self, Self::Rejection> {
                Self::checked(Some(&parts.method), &parts.extensions)
            }
        }
    };
}

single_name_extractor!(
/// Extracts the request's [`VerifiedClaims`] if the token has the scope
/// `S::SCOPE`; otherwise the handler is not called and the answer is the
/// guard's 403 (401 on an optional layer without a token, 500 without an
/// `AuthLayer`), see [`AuthzRejection`](super::AuthzRejection).
///
/// Dereferences to [`VerifiedClaims`].
///
/// ```
/// use oauth2_guard::authz::HasScope;
/// oauth2_guard::scope!(OrdersWrite = "orders:write");
///
/// async fn create(token: HasScope<OrdersWrite>) -> String {
///     format!("{} may write orders", token.subject().unwrap_or("?"))
/// }
/// # let _ = axum::routing::post::<_, _, ()>(create);
/// ```
    HasScope<S: ScopeName>, "scope", SCOPE, false
);

single_name_extractor!(
/// Extracts the request's [`VerifiedClaims`] if the token carries the role
/// `R::ROLE`; otherwise the handler is not called and the answer is the
/// role guard's 403 (body `missing role(s): <role>`, `WWW-Authenticate`
/// `insufficient_scope` described as a missing role), or 401 on an
/// optional layer without a token, or 500 without an `AuthLayer`; see
/// [`AuthzRejection`](super::AuthzRejection).
///
/// Dereferences to [`VerifiedClaims`]. Two roles both required: take two
/// extractors; either of several: [`RequireRole::any_of`](super::RequireRole::any_of).
///
/// Behind issuers that map no roles it can never pass. Being a type, not
/// a layer, it is not reported at start by itself: call
/// [`check_roles_mapped::<R>(issuers)`](super::check_roles_mapped) where
/// the layer is built to make that a `ConfigError`; otherwise a WARN
/// (`check="unmapped_roles"`) names it at its first such refusal.
///
/// ```
/// use oauth2_guard::authz::HasRole;
/// oauth2_guard::role!(Admin = "admin");
///
/// async fn purge(token: HasRole<Admin>) -> String {
///     format!("{} purged the cache", token.subject().unwrap_or("?"))
/// }
/// # let _ = axum::routing::post::<_, _, ()>(purge);
/// ```
    HasRole<R: RoleName>, "role", ROLE, true
);

#[cfg(feature = "axum")]
mod axum_impl {
    use crate::authz::AuthzRejection;

    impl axum::response::IntoResponse for AuthzRejection {
        fn into_response(self) -> axum::response::Response {
            self.to_response()
        }
    }

    impl axum::response::IntoResponse for crate::authz::MissingAuthLayer {
        fn into_response(self) -> axum::response::Response {
            self.to_response()
        }
    }
}
