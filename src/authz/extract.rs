//! [`HasScope<S>`]: the scope requirement in a handler's signature.

use std::marker::PhantomData;
use std::ops::Deref;

use crate::claims::VerifiedClaims;

use super::{Requirement, Set};

/// A marker type naming one scope; declare one with [`scope!`](crate::scope).
pub trait ScopeName: Send + Sync + 'static {
    /// The scope (an RFC 6749 §3.3 scope token; `scope!` checks it at compile time).
    const SCOPE: &'static str;
}

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
pub struct HasScope<S> {
    claims: VerifiedClaims,
    _scope: PhantomData<fn() -> S>,
}

impl<S: ScopeName> HasScope<S> {
    /// The verified claims.
    pub fn claims(&self) -> &VerifiedClaims {
        &self.claims
    }

    /// The verified claims, by value.
    pub fn into_inner(self) -> VerifiedClaims {
        self.claims
    }

    /// Check `ext` (request extensions) for the scope.
    ///
    /// # Errors
    /// As for the guard layers.
    pub fn from_extensions(ext: &http::Extensions) -> Result<Self, super::AuthzRejection> {
        let req = Requirement::new(
            Some(Set {
                all: true,
                names: vec![S::SCOPE.to_owned()],
            }),
            None,
        );
        req.check(ext).map(|claims| Self {
            claims,
            _scope: PhantomData,
        })
    }
}

impl<S> Deref for HasScope<S> {
    type Target = VerifiedClaims;

    fn deref(&self) -> &VerifiedClaims {
        &self.claims
    }
}

impl<S> Clone for HasScope<S> {
    fn clone(&self) -> Self {
        Self {
            claims: self.claims.clone(),
            _scope: PhantomData,
        }
    }
}

impl<S: ScopeName> std::fmt::Debug for HasScope<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HasScope")
            .field("scope", &S::SCOPE)
            .field("claims", &self.claims)
            .finish()
    }
}

#[cfg(feature = "axum")]
mod axum_impl {
    use super::*;
    use crate::authz::AuthzRejection;

    impl<S: ScopeName, St: Send + Sync> axum::extract::FromRequestParts<St> for HasScope<S> {
        type Rejection = AuthzRejection;

        async fn from_request_parts(
            parts: &mut http::request::Parts,
            _state: &St,
        ) -> Result<Self, Self::Rejection> {
            Self::from_extensions(&parts.extensions)
        }
    }

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
