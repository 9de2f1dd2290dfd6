//! [`HasRole<R>`]: the role requirement in a handler's signature, as
//! [`HasScope<S>`](super::HasScope) is for scopes.

use std::marker::PhantomData;
use std::ops::Deref;

use crate::claims::VerifiedClaims;

use super::{Requirement, Set};

/// A marker type naming one role; declare one with [`role!`](crate::role).
pub trait RoleName: Send + Sync + 'static {
    /// The role, as the issuer's role mapping yields it
    /// ([`IssuerBuilder::roles_from`](crate::IssuerBuilder::roles_from)).
    const ROLE: &'static str;
}

/// Whether `s` can name a role: not empty, no control characters (the
/// rule of [`RequireRole`](super::RequireRole)). `const`, so
/// [`role!`](crate::role) checks literals at compile time.
pub const fn is_role_name(s: &str) -> bool {
    let b = s.as_bytes();
    if b.is_empty() {
        return false;
    }
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        // C0 controls and DEL; C1 controls are U+0080–U+009F (`C2 80`–`C2 9F`).
        if c < 0x20 || c == 0x7f {
            return false;
        }
        if c == 0xc2 && i + 1 < b.len() && b[i + 1] >= 0x80 && b[i + 1] <= 0x9f {
            return false;
        }
        i += 1;
    }
    true
}

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
/// ```
/// use oauth2_guard::authz::HasRole;
/// oauth2_guard::role!(Admin = "admin");
///
/// async fn purge(token: HasRole<Admin>) -> String {
///     format!("{} purged the cache", token.subject().unwrap_or("?"))
/// }
/// # let _ = axum::routing::post::<_, _, ()>(purge);
/// ```
pub struct HasRole<R> {
    claims: VerifiedClaims,
    _role: PhantomData<fn() -> R>,
}

impl<R: RoleName> HasRole<R> {
    /// The verified claims.
    pub fn claims(&self) -> &VerifiedClaims {
        &self.claims
    }

    /// The verified claims, by value.
    pub fn into_inner(self) -> VerifiedClaims {
        self.claims
    }

    /// Check `ext` (request extensions) for the role.
    ///
    /// # Errors
    /// As for the [`RequireRole`](super::RequireRole) guard.
    pub fn from_extensions(ext: &http::Extensions) -> Result<Self, super::AuthzRejection> {
        let req = Requirement::new(
            None,
            Some(Set {
                all: true,
                names: vec![R::ROLE.to_owned()],
            }),
        );
        req.check(ext).map(|claims| Self {
            claims,
            _role: PhantomData,
        })
    }
}

impl<R> Deref for HasRole<R> {
    type Target = VerifiedClaims;

    fn deref(&self) -> &VerifiedClaims {
        &self.claims
    }
}

impl<R> Clone for HasRole<R> {
    fn clone(&self) -> Self {
        Self {
            claims: self.claims.clone(),
            _role: PhantomData,
        }
    }
}

impl<R: RoleName> std::fmt::Debug for HasRole<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HasRole")
            .field("role", &R::ROLE)
            .field("claims", &self.claims)
            .finish()
    }
}

#[cfg(feature = "axum")]
impl<R: RoleName, St: Send + Sync> axum::extract::FromRequestParts<St> for HasRole<R> {
    type Rejection = super::AuthzRejection;

    async fn from_request_parts(
        parts: &mut http::request::Parts,
        _state: &St,
    ) -> Result<Self, Self::Rejection> {
        Self::from_extensions(&parts.extensions)
    }
}

/// Declare a marker type naming one role, for the [`HasRole`](crate::authz::HasRole)
/// extractor.
///
/// The literal is checked at compile time (not empty, no control characters).
///
/// ```
/// oauth2_guard::role!(pub Admin = "admin");
/// oauth2_guard::role!(
///     /// Entra app role.
///     TaskWriter = "Task.Write"
/// );
/// use oauth2_guard::authz::RoleName;
/// assert_eq!(TaskWriter::ROLE, "Task.Write");
/// ```
///
/// ```compile_fail
/// oauth2_guard::role!(Bad = "");
/// ```
#[macro_export]
macro_rules! role {
    ($(#[$meta:meta])* $vis:vis $name:ident = $role:literal $(;)?) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
        $vis struct $name;
        const _: () = ::core::assert!(
            $crate::authz::is_role_name($role),
            ::core::concat!("role!: `", $role, "` is empty or has control characters")
        );
        impl $crate::authz::RoleName for $name {
            const ROLE: &'static str = $role;
        }
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn role_names_match_the_guard_rule() {
        for s in [
            "admin",
            "Task.Read",
            "Global Admin",
            "caf\u{e9}",
            "a\u{a0}b",
        ] {
            assert!(is_role_name(s), "{s:?}");
            assert!(super::super::role_name(s).is_ok(), "{s:?}");
        }
        for s in ["", "a\nb", "\u{7f}", "a\u{85}b", "\u{9f}"] {
            assert!(!is_role_name(s), "{s:?}");
            assert!(super::super::role_name(s).is_err(), "{s:?}");
        }
    }
}
