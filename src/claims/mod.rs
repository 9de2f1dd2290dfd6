//! Verified claims — the proof that a request carried a valid token — and the
//! standard claim set.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use jsonwebtoken::Algorithm;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

/// Now, as a NumericDate (seconds since the epoch).
///
/// A clock set before 1970 reads as the far future, so every time check
/// fails closed (tokens count as expired) instead of open.
pub(crate) fn now_unix() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(u64::MAX)
}

/// A short, non-reversible token identifier for logs: the first 8 bytes of
/// the token's SHA-256, in hex. Lets operators correlate log lines for one
/// token without the token itself ever being written.
///
/// # Canonical for ECDSA
/// An ES256/ES384 signature `(r, s)` has a twin, `(r, n − s)`, that verifies
/// just as well: anyone holding a token can respell it. The layer therefore
/// fingerprints such tokens over the signing input and the *low-`s`*
/// signature, so both spellings log (and report, in
/// [`VerifiedClaims::fingerprint`] and [`Rejection`](crate::Rejection)) the
/// same value: [`Fingerprint::of`] of the low-`s` spelling. For every other
/// token it is [`Fingerprint::of`] the token as sent.
///
/// # Security
/// A fingerprint correlates log lines; it is not an identity. Revoke and
/// deduplicate tokens by `jti` (or `sub`), never by token bytes or by
/// [`Fingerprint::of`] an encoding you did not make canonical yourself:
/// the twin spelling of a revoked ES256 token would pass such a check.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Fingerprint([u8; 8]);

impl Fingerprint {
    /// The fingerprint of `token`, as sent (no ECDSA canonicalisation: see
    /// the type's docs).
    pub fn of(token: &str) -> Self {
        Self::of_parts(&[token.as_bytes()])
    }

    /// The fingerprint of the concatenation of `parts`.
    pub(crate) fn of_parts(parts: &[&[u8]]) -> Self {
        let mut hasher = Sha256::new();
        for part in parts {
            hasher.update(part);
        }
        let digest = hasher.finalize();
        let mut out = [0u8; 8];
        out.copy_from_slice(&digest[..8]);
        Self(out)
    }
}

impl fmt::Display for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for b in self.0 {
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Fingerprint({self})")
    }
}

/// The claims of a token whose signature, issuer, audience and lifetime were
/// checked.
///
/// Only this crate's verifier can create a value of this type, so a guard or
/// handler that holds one knows the checks ran. Cheap to clone (one `Arc`).
/// The layer inserts it into the request's extensions.
#[derive(Clone)]
pub struct VerifiedClaims(Arc<Inner>);

struct Inner {
    issuer: Arc<str>,
    payload: Value,
    expires_at: u64,
    audiences: Vec<String>,
    scopes: Vec<String>,
    roles: Vec<String>,
    algorithm: Algorithm,
    key_id: Option<Box<str>>,
    fingerprint: Fingerprint,
}

/// Everything the verifier learned, handed to [`VerifiedClaims::new`].
pub(crate) struct Verified {
    pub(crate) issuer: Arc<str>,
    pub(crate) payload: Map<String, Value>,
    pub(crate) expires_at: u64,
    pub(crate) audiences: Vec<String>,
    pub(crate) roles: Vec<String>,
    pub(crate) algorithm: Algorithm,
    pub(crate) key_id: Option<Box<str>>,
    pub(crate) fingerprint: Fingerprint,
}

impl VerifiedClaims {
    pub(crate) fn new(v: Verified) -> Self {
        let scopes = scopes_of(&v.payload);
        Self(Arc::new(Inner {
            issuer: v.issuer,
            expires_at: v.expires_at,
            audiences: v.audiences,
            scopes,
            roles: v.roles,
            algorithm: v.algorithm,
            key_id: v.key_id,
            fingerprint: v.fingerprint,
            payload: Value::Object(v.payload),
        }))
    }

    /// The issuer (`iss`), exactly as configured.
    pub fn issuer(&self) -> &str {
        &self.0.issuer
    }

    /// The subject (`sub`), if present.
    pub fn subject(&self) -> Option<&str> {
        self.get("sub").and_then(Value::as_str)
    }

    /// The audiences (`aud`), as a list whether the token had a string or an array.
    pub fn audiences(&self) -> &[String] {
        &self.0.audiences
    }

    /// The token's `jti`, if present.
    pub fn jti(&self) -> Option<&str> {
        self.get("jti").and_then(Value::as_str)
    }

    /// The client the token was issued to: `client_id`, else `azp`, else `cid` (Okta), else `appid` (Entra v1).
    pub fn client_id(&self) -> Option<&str> {
        ["client_id", "azp", "cid", "appid"]
            .iter()
            .find_map(|c| self.get(c).and_then(Value::as_str))
    }

    /// When the token expires (`exp`).
    pub fn expires_at(&self) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(self.0.expires_at)
    }

    pub(crate) fn exp_unix(&self) -> u64 {
        self.0.expires_at
    }

    /// The scopes the token grants, from `scope` (space-delimited, RFC 9068)
    /// and `scp` (array or space-delimited string: Okta, Entra), parsed once.
    pub fn scopes(&self) -> &[String] {
        &self.0.scopes
    }

    /// Whether the token grants `scope`.
    pub fn has_scope(&self, scope: &str) -> bool {
        self.0.scopes.iter().any(|s| s == scope)
    }

    /// The roles the issuer's claim mapping found in the token.
    pub fn roles(&self) -> &[String] {
        &self.0.roles
    }

    /// Whether the token carries `role`.
    pub fn has_role(&self, role: &str) -> bool {
        self.0.roles.iter().any(|r| r == role)
    }

    /// One claim by name.
    pub fn get(&self, name: &str) -> Option<&Value> {
        self.0.payload.get(name)
    }

    /// All claims, as sent.
    pub fn raw(&self) -> &Map<String, Value> {
        match &self.0.payload {
            Value::Object(m) => m,
            // `new` only ever stores an object.
            _ => empty_map(),
        }
    }

    /// Deserialize the claims into a custom type.
    ///
    /// # Errors
    /// When the claims do not fit `T`.
    pub fn deserialize<T: DeserializeOwned>(&self) -> Result<T, ClaimsError> {
        T::deserialize(&self.0.payload).map_err(|e| ClaimsError {
            source: Arc::new(e),
        })
    }

    /// The algorithm the signature was verified with.
    pub fn algorithm(&self) -> Algorithm {
        self.0.algorithm
    }

    /// The `kid` of the verifying key.
    pub fn key_id(&self) -> Option<&str> {
        self.0.key_id.as_deref()
    }

    /// The token's fingerprint, for logs and audit records: canonical for
    /// ES256/ES384, so both spellings of an ECDSA signature give the same
    /// value (see [`Fingerprint`]).
    ///
    /// # Security
    /// Not a revocation key: revoke by [`jti`](Self::jti) or
    /// [`subject`](Self::subject), never by token bytes or fingerprints of
    /// encodings that are not canonical.
    pub fn fingerprint(&self) -> Fingerprint {
        self.0.fingerprint
    }

    pub(crate) fn issuer_arc(&self) -> &Arc<str> {
        &self.0.issuer
    }
}

fn empty_map() -> &'static Map<String, Value> {
    static EMPTY: std::sync::OnceLock<Map<String, Value>> = std::sync::OnceLock::new();
    EMPTY.get_or_init(Map::new)
}

impl fmt::Debug for VerifiedClaims {
    /// Claim names only: values may hold personal data.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VerifiedClaims")
            .field("issuer", &self.issuer())
            .field("subject", &self.subject())
            .field("expires_at", &self.0.expires_at)
            .field("scopes", &self.0.scopes)
            .field("claims", &self.raw().keys().collect::<Vec<_>>())
            .field("token", &self.0.fingerprint)
            .finish()
    }
}

/// Claims that did not fit the requested type; the deserializer's error
/// (which claim, what was expected) is its [`source`](std::error::Error::source).
#[derive(Debug, Clone, thiserror::Error)]
#[error("claims do not fit the requested type")]
pub struct ClaimsError {
    source: Arc<serde_json::Error>,
}

/// Space-delimited `scope` plus `scp` (array or string), de-duplicated, in order.
fn scopes_of(payload: &Map<String, Value>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut add = |s: &str| {
        if !s.is_empty() && !out.iter().any(|o| o == s) {
            out.push(s.to_owned());
        }
    };
    for name in ["scope", "scp"] {
        match payload.get(name) {
            Some(Value::String(s)) => s.split(' ').for_each(&mut add),
            Some(Value::Array(items)) => items.iter().filter_map(Value::as_str).for_each(&mut add),
            _ => {}
        }
    }
    out
}

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

/// A claim that may be one string or an array of strings (`aud`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum OneOrMany {
    /// A single value.
    One(String),
    /// Several values.
    Many(Vec<String>),
}

impl OneOrMany {
    /// Iterate the values.
    pub fn iter(&self) -> impl Iterator<Item = &str> {
        let s: &[String] = match self {
            OneOrMany::One(s) => std::slice::from_ref(s),
            OneOrMany::Many(v) => v,
        };
        s.iter().map(String::as_str)
    }
}

/// The registered claims of an RFC 9068 access token, for handlers that need
/// nothing custom. Use your own `Deserialize` type with
/// [`Claims<T>`](crate::extract::Claims) for more.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct StandardClaims {
    /// Issuer.
    pub iss: String,
    /// Subject.
    #[serde(default)]
    pub sub: Option<String>,
    /// Audience(s).
    #[serde(default)]
    pub aud: Option<OneOrMany>,
    /// Expiry (seconds since the epoch).
    pub exp: u64,
    /// Issued at.
    #[serde(default)]
    pub iat: Option<u64>,
    /// Not before.
    #[serde(default)]
    pub nbf: Option<u64>,
    /// Token id.
    #[serde(default)]
    pub jti: Option<String>,
    /// The client the token was issued to.
    #[serde(default)]
    pub client_id: Option<String>,
    /// Authorized party (OIDC).
    #[serde(default)]
    pub azp: Option<String>,
    /// Space-delimited scopes.
    #[serde(default)]
    pub scope: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    pub(crate) fn claims(payload: Value) -> VerifiedClaims {
        let Value::Object(payload) = payload else {
            panic!("object")
        };
        VerifiedClaims::new(Verified {
            issuer: "https://idp".into(),
            payload,
            expires_at: 4_000_000_000,
            audiences: vec!["api".into()],
            roles: vec![],
            algorithm: Algorithm::RS256,
            key_id: Some("k1".into()),
            fingerprint: Fingerprint::of("t"),
        })
    }

    #[test]
    fn scopes_from_scope_and_scp() {
        let c = claims(json!({"scope": "a b  c", "scp": ["c", "d"]}));
        assert_eq!(c.scopes(), ["a", "b", "c", "d"]);
        let c = claims(json!({"scp": "x y"}));
        assert_eq!(c.scopes(), ["x", "y"]);
        assert!(c.has_scope("x") && !c.has_scope("z"));
        let c = claims(json!({"scope": 5}));
        assert!(c.scopes().is_empty());
    }

    #[test]
    fn fingerprint_is_short_hex_and_debug_has_no_values() {
        let f = Fingerprint::of("secret-token");
        assert_eq!(f.to_string().len(), 16);
        let c = claims(json!({"sub": "alice", "email": "alice@example.com"}));
        let dbg = format!("{c:?}");
        assert!(!dbg.contains("alice@example.com"));
        assert!(dbg.contains("email"));
    }

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

    #[test]
    fn standard_claims_deserialize() {
        let c = claims(json!({"iss": "https://idp", "exp": 10, "aud": ["a", "b"], "sub": "s"}));
        let s: StandardClaims = c.deserialize().unwrap();
        assert_eq!(s.aud.unwrap().iter().collect::<Vec<_>>(), ["a", "b"]);
        assert!(c.deserialize::<Vec<u8>>().is_err());
    }
}
