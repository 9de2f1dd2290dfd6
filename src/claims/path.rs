//! Where roles live in the claims: [`ClaimPath`], parsed once at
//! configuration time, and the roles found at those paths.

use serde_json::{Map, Value};

/// Where in the claims a list of roles (or groups, or permissions) lives,
/// parsed once at configuration time.
///
/// # Syntax of [`parse`](Self::parse)
/// JSON-pointer-like without the leading `/`: segments are separated by
/// **`/`**, and `~1` / `~0` stand for a literal `/` / `~` inside a segment
/// (RFC 6901). A path that starts with `http://` or `https://` is one key,
/// as Auth0 namespaced claims are written (`https://example.com/roles`).
///
/// **`.` is not a separator, and a segment containing `.` is refused**
/// ([`ConfigError::InvalidClaimPath`](crate::ConfigError::InvalidClaimPath)):
/// `realm_access.roles` — the dotted form other tools and older docs use —
/// would otherwise be read as one key that no token has, and every role
/// guard would silently answer 403. Claim names that really contain a `.`
/// (or a `/`) are spelled out explicitly instead:
///
/// | claim | constructor |
/// |---|---|
/// | a top-level claim named literally, whatever it contains (`custom.roles`, `https://example.com/roles`) | [`ClaimPath::key`] |
/// | nested claims whose names contain `.` or `/` (`{"https://example.com/app": {"roles.v2": [..]}}`) | [`ClaimPath::from_segments`] |
///
/// ```
/// use oauth2_guard::ClaimPath;
///
/// let keycloak = ClaimPath::parse("resource_access/orders-api/roles")?;
/// assert_eq!(keycloak.segments(), ["resource_access", "orders-api", "roles"]);
/// let auth0 = ClaimPath::parse("https://example.com/roles")?;
/// assert_eq!(auth0.segments(), ["https://example.com/roles"]);
/// let cognito = ClaimPath::parse("cognito:groups")?;
/// assert_eq!(cognito.segments(), ["cognito:groups"]);
/// // A client id containing `/`, escaped as in a JSON pointer.
/// let odd = ClaimPath::parse("resource_access/a~1b/roles")?;
/// assert_eq!(odd.segments(), ["resource_access", "a/b", "roles"]);
/// assert!(ClaimPath::parse("realm_access//roles").is_err());
/// // The dotted form is a configuration error, never a silent literal key.
/// assert!(ClaimPath::parse("realm_access.roles").is_err());
/// // Names with dots, spelled out.
/// let dotted = ClaimPath::key("custom.roles")?;
/// assert_eq!(dotted.segments(), ["custom.roles"]);
/// let nested = ClaimPath::from_segments(["resource_access", "orders.api", "roles"])?;
/// assert_eq!(nested.segments(), ["resource_access", "orders.api", "roles"]);
/// # Ok::<(), oauth2_guard::ConfigError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimPath(Vec<String>);

impl ClaimPath {
    /// Parse `path` (see the type docs).
    ///
    /// # Errors
    /// [`ConfigError::InvalidClaimPath`](crate::ConfigError::InvalidClaimPath)
    /// for an empty path or segment, a `~` not followed by `0` or `1`, or a
    /// segment containing `.` (use [`key`](Self::key) or
    /// [`from_segments`](Self::from_segments) for such names).
    pub fn parse(path: &str) -> Result<Self, crate::ConfigError> {
        let bad = |reason| crate::ConfigError::InvalidClaimPath {
            path: path.to_owned(),
            reason,
        };
        if path.is_empty() {
            return Err(bad("empty path"));
        }
        if path.starts_with("https://") || path.starts_with("http://") {
            return Ok(Self(vec![path.to_owned()]));
        }
        let mut out = Vec::new();
        for raw in path.split('/') {
            if raw.is_empty() {
                return Err(bad("empty segment"));
            }
            if raw.contains('.') {
                return Err(bad(
                    "`.` is not a separator: write `realm_access/roles`; for a claim name \
                     containing `.` use ClaimPath::key or ClaimPath::from_segments",
                ));
            }
            let mut seg = String::with_capacity(raw.len());
            let mut chars = raw.chars();
            while let Some(c) = chars.next() {
                match (c, c == '~') {
                    (_, false) => seg.push(c),
                    (_, true) => match chars.next() {
                        Some('0') => seg.push('~'),
                        Some('1') => seg.push('/'),
                        _ => return Err(bad("`~` must be followed by 0 or 1")),
                    },
                }
            }
            out.push(seg);
        }
        Ok(Self(out))
    }

    /// A path of exactly one key, taken literally (no `/` splitting, any
    /// character allowed).
    ///
    /// # Errors
    /// When `key` is empty.
    pub fn key(key: &str) -> Result<Self, crate::ConfigError> {
        Self::from_segments([key])
    }

    /// A path from its segments, each taken literally: nested claims whose
    /// names contain `.`, `/` or `~` (a Keycloak client id `orders.api`, an
    /// Auth0 namespaced object `https://example.com/app`).
    ///
    /// # Errors
    /// [`ConfigError::InvalidClaimPath`](crate::ConfigError::InvalidClaimPath)
    /// for no segment or an empty one.
    pub fn from_segments<I, S>(segments: I) -> Result<Self, crate::ConfigError>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let segments: Vec<String> = segments.into_iter().map(Into::into).collect();
        let reason = if segments.is_empty() || segments == [""] {
            "empty path"
        } else if segments.iter().any(String::is_empty) {
            "empty segment"
        } else {
            return Ok(Self(segments));
        };
        Err(crate::ConfigError::InvalidClaimPath {
            path: segments.join("/"),
            reason,
        })
    }

    /// The decoded segments.
    pub fn segments(&self) -> &[String] {
        &self.0
    }

    /// The value at this path in `claims`, if any.
    pub fn find<'a>(&self, claims: &'a Map<String, Value>) -> Option<&'a Value> {
        let (first, rest) = self.0.split_first()?;
        let mut v = claims.get(first)?;
        for seg in rest {
            v = v.as_object()?.get(seg)?;
        }
        Some(v)
    }
}

impl std::str::FromStr for ClaimPath {
    type Err = crate::ConfigError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

/// The roles at `paths`: each value may be an array of strings or one
/// space-delimited string; other shapes are ignored. De-duplicated, in order.
pub(crate) fn roles_of(payload: &Map<String, Value>, paths: &[ClaimPath]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for path in paths {
        let mut add = |s: &str| {
            if !s.is_empty() && !out.iter().any(|o| o == s) {
                out.push(s.to_owned());
            }
        };
        match path.find(payload) {
            Some(Value::String(s)) => s.split(' ').for_each(&mut add),
            Some(Value::Array(items)) => items.iter().filter_map(Value::as_str).for_each(&mut add),
            _ => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn roles_from_paths() {
        let payload = json!({
            "realm_access": {"roles": ["admin", "user"]},
            "resource_access": {"orders-api": {"roles": ["orders:manage", "admin"]}},
            "https://example.com/roles": ["editor"],
            "cognito:groups": ["ops"],
            "permissions": "read:orders write:orders",
            "roles": 7,
        });
        let Value::Object(m) = payload else { panic!() };
        let paths: Vec<ClaimPath> = [
            "realm_access/roles",
            "resource_access/orders-api/roles",
            "https://example.com/roles",
            "cognito:groups",
            "permissions",
            "roles",
            "missing/deeper",
        ]
        .iter()
        .map(|p| ClaimPath::parse(p).unwrap())
        .collect();
        assert_eq!(
            roles_of(&m, &paths),
            [
                "admin",
                "user",
                "orders:manage",
                "editor",
                "ops",
                "read:orders",
                "write:orders"
            ]
        );
        assert!(ClaimPath::parse("").is_err());
        assert!(ClaimPath::parse("a/~2").is_err());
        assert!(ClaimPath::parse("/a").is_err());
        assert_eq!(ClaimPath::key("a/b").unwrap().segments(), ["a/b"]);
        assert!(ClaimPath::key("").is_err());
        assert!(ClaimPath::from_segments(Vec::<String>::new()).is_err());
        assert!(ClaimPath::from_segments(["a", ""]).is_err());
    }

    /// Regression: the docs wrote `realm_access.roles`, which parsed as one
    /// literal key that no token has, so every role guard answered 403.
    #[test]
    fn dotted_path_is_a_config_error_not_a_literal_key() {
        for dotted in [
            "realm_access.roles",
            "resource_access.orders-api.roles",
            "resource_access/orders-api/roles.x",
        ] {
            assert!(
                matches!(
                    ClaimPath::parse(dotted),
                    Err(crate::ConfigError::InvalidClaimPath { .. })
                ),
                "{dotted}"
            );
        }
    }
}
