//! Role names: the [`RoleName`] marker trait of the
//! [`HasRole<R>`](super::HasRole) extractor, the [`role!`](crate::role)
//! macro that declares one, and the rule a role name follows.

/// A marker type naming one role; declare one with [`role!`](crate::role).
pub trait RoleName: Send + Sync + 'static {
    /// The role, as the issuer's role mapping yields it
    /// ([`IssuerBuilder::roles_from`](crate::IssuerBuilder::roles_from)).
    const ROLE: &'static str;
}

/// Check at start that a [`HasRole<R>`](super::HasRole) extractor can ever
/// pass behind an [`AuthLayer`](crate::AuthLayer) over `issuers`: at least
/// one of them must map roles
/// ([`IssuerBuilder::roles_from`](crate::IssuerBuilder::roles_from), or a
/// preset's role claims). The extractor's counterpart of
/// [`RequireRole::checked_against`](super::RequireRole::checked_against).
///
/// An extractor is a type in a handler's signature, never built before a
/// request, so nothing reports it at start unless you call this (the
/// automatic start-up warning covers `RequireRole` layers only; `HasRole`
/// gets the request-time one, at its first refusal for that reason).
///
/// ```
/// # async fn run() -> Result<(), oauth2_guard::ConfigError> {
/// use oauth2_guard::authz::check_roles_mapped;
/// use oauth2_guard::{ClaimPath, Issuer};
/// oauth2_guard::role!(Admin = "admin");
///
/// let issuer = Issuer::builder("https://sso.example.com/realms/shop")
///     .audience("orders-api")
///     .roles_from(ClaimPath::parse("realm_access/roles")?)
///     .build_deferred()?;
/// check_roles_mapped::<Admin>([&issuer])?;
/// # Ok(()) }
/// ```
///
/// # Errors
/// [`ConfigError::InvalidRole`](crate::ConfigError::InvalidRole) (naming `R::ROLE`) when no issuer maps
/// roles — including when `issuers` is empty.
pub fn check_roles_mapped<'a, R: RoleName>(
    issuers: impl IntoIterator<Item = &'a crate::Issuer>,
) -> Result<(), crate::ConfigError> {
    if issuers.into_iter().any(crate::Issuer::maps_roles) {
        return Ok(());
    }
    Err(crate::ConfigError::InvalidRole {
        role: R::ROLE.to_owned(),
        reason: "no issuer of the AuthLayer maps roles (IssuerBuilder::roles_from, or a preset's role claims): HasRole can never pass",
    })
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
        $crate::__name_marker!(
            $(#[$meta])* $vis $name = $role,
            RoleName::ROLE if is_role_name else "role!: `", "` is empty or has control characters"
        );
    };
}

/// The body of [`scope!`](crate::scope) and [`role!`](crate::role): the
/// marker type, the compile-time check of the literal, the trait impl.
#[doc(hidden)]
#[macro_export]
macro_rules! __name_marker {
    (
        $(#[$meta:meta])* $vis:vis $name:ident = $value:literal,
        $trait:ident::$const:ident if $check:ident else $before:literal, $after:literal
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
        $vis struct $name;
        const _: () = ::core::assert!(
            $crate::authz::$check($value),
            ::core::concat!($before, $value, $after)
        );
        impl $crate::authz::$trait for $name {
            const $const: &'static str = $value;
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
