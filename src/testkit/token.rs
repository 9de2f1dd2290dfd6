//! [`TokenBuilder`]: fluent construction of signed access tokens.

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use jsonwebtoken::Algorithm;
use serde_json::{Map, Value};

use super::keys;
use super::state::Handle;
use crate::sync::lock;

/// The default `sub` of issued tokens.
pub const DEFAULT_SUBJECT: &str = "user-1";
/// The default `client_id` of issued tokens.
pub const DEFAULT_CLIENT_ID: &str = "test-client";
/// The default lifetime of issued tokens.
pub const DEFAULT_LIFETIME: Duration = Duration::from_secs(300);

/// Builds one signed access token; get one from
/// [`MockIssuer::token`](super::MockIssuer::token).
///
/// An outstanding builder keeps its issuer's server running, as a
/// [`MockIssuer`](super::MockIssuer) clone does.
///
/// Defaults — claims: `iss` = the issuer URL, `sub` = `"user-1"`,
/// `aud` = the issuer's default audience, `iat` = now, `exp` = now + 300 s,
/// `jti` = random, `client_id` = `"test-client"`, no `scope`; header: `alg`
/// and `kid` of the signing key, `typ` = `"at+jwt"`.
///
/// Claim setters apply in call order, so `claim("exp", ..)` after
/// [`expired`](Self::expired) wins, and [`without_claim`](Self::without_claim)
/// removes whatever was set before it.
#[must_use = "a TokenBuilder does nothing until `sign` is called"]
pub struct TokenBuilder {
    issuer: Handle,
    alg: Option<Algorithm>,
    kid: Option<String>,
    header_kid: Option<Option<String>>,
    typ: Option<String>,
    extra_header: Map<String, Value>,
    claims: Map<String, Value>,
}

impl fmt::Debug for TokenBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenBuilder")
            .field("alg", &self.alg)
            .field("kid", &self.kid)
            .field("header_kid", &self.header_kid)
            .field("typ", &self.typ)
            .field("extra_header", &self.extra_header)
            .field("claims", &self.claims)
            .finish_non_exhaustive()
    }
}

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

fn secs(d: Duration) -> i64 {
    i64::try_from(d.as_secs()).unwrap_or(i64::MAX)
}

impl TokenBuilder {
    pub(super) fn new(issuer: Handle) -> Self {
        let now = now();
        let mut claims = Map::new();
        claims.insert("iss".into(), issuer.shared().issuer.clone().into());
        claims.insert("sub".into(), DEFAULT_SUBJECT.into());
        claims.insert("aud".into(), issuer.shared().audience.clone().into());
        claims.insert("iat".into(), now.into());
        claims.insert(
            "exp".into(),
            now.saturating_add(secs(DEFAULT_LIFETIME)).into(),
        );
        claims.insert(
            "jti".into(),
            format!("{:032x}", rand::random::<u128>()).into(),
        );
        claims.insert("client_id".into(), DEFAULT_CLIENT_ID.into());
        TokenBuilder {
            issuer,
            alg: None,
            kid: None,
            header_kid: None,
            typ: Some("at+jwt".into()),
            extra_header: Map::new(),
            claims,
        }
    }

    /// Signs with `alg`. If the chosen key has another algorithm, uses the
    /// newest published key of `alg`, creating and publishing one if there
    /// is none (`HS*` uses the shared secret; nothing is published). With
    /// [`kid`](Self::kid), signs that key's material with `alg` instead.
    pub fn alg(mut self, alg: Algorithm) -> Self {
        self.alg = Some(alg);
        self
    }

    /// Signs with the key `kid` (published or removed) and puts `kid` in the
    /// header. If the issuer has no such key, the header still says `kid`
    /// but the token is signed as if `kid` had not been called.
    pub fn kid(mut self, kid: &str) -> Self {
        self.kid = Some(kid.to_owned());
        self
    }

    /// Overrides only the header `kid` (`None` omits it); the signing key is
    /// chosen as usual.
    pub fn header_kid(mut self, kid: Option<&str>) -> Self {
        self.header_kid = Some(kid.map(str::to_owned));
        self
    }

    /// The header `typ` (default `"at+jwt"`, RFC 9068); `None` omits it.
    pub fn typ(mut self, typ: Option<&str>) -> Self {
        self.typ = typ.map(str::to_owned);
        self
    }

    /// Sets an extra header parameter (`crit`, `jku`, `x5u`, `jwk`, ...).
    /// Applied last, so it can also override `alg`, `kid` or `typ`; an
    /// overridden `alg` is the one the token is signed with (see
    /// [`MockIssuer::sign_raw`](super::MockIssuer::sign_raw) for `none` and mismatched algorithms).
    pub fn header(mut self, name: &str, value: Value) -> Self {
        self.extra_header.insert(name.to_owned(), value);
        self
    }

    /// Sets `sub`.
    pub fn subject(self, sub: &str) -> Self {
        self.claim("sub", sub)
    }

    /// Sets `aud`: a string or an array of strings.
    pub fn audience(self, aud: impl Into<Value>) -> Self {
        self.claim("aud", aud)
    }

    /// Sets `iss`.
    pub fn issuer(self, iss: &str) -> Self {
        self.claim("iss", iss)
    }

    /// Sets `scope`, a space-delimited list (RFC 8693 / RFC 9068).
    pub fn scope(self, scope: &str) -> Self {
        self.claim("scope", scope)
    }

    /// Sets any claim.
    pub fn claim(mut self, name: &str, value: impl Into<Value>) -> Self {
        self.claims.insert(name.to_owned(), value.into());
        self
    }

    /// Removes a claim, default or not.
    pub fn without_claim(mut self, name: &str) -> Self {
        self.claims.remove(name);
        self
    }

    /// Sets `exp` to now + `lifetime`.
    pub fn expires_in(self, lifetime: Duration) -> Self {
        self.claim("exp", now().saturating_add(secs(lifetime)))
    }

    /// Makes the token expired: `exp` = now − 10 min, `iat` = now − 20 min.
    pub fn expired(self) -> Self {
        let now = now();
        self.claim("exp", now - 600).claim("iat", now - 1200)
    }

    /// Sets `nbf` (seconds since the Unix epoch).
    pub fn not_before(self, unix: i64) -> Self {
        self.claim("nbf", unix)
    }

    /// Sets `iat` (seconds since the Unix epoch).
    pub fn issued_at(self, unix: i64) -> Self {
        self.claim("iat", unix)
    }

    /// Signs and returns the compact JWS.
    #[must_use]
    pub fn sign(self) -> String {
        let (material, alg, kid) = {
            let mut keys = lock(&self.issuer.shared().keys);
            let named = self.kid.as_deref().and_then(|kid| keys.index_of(kid));
            let index = match (named, self.alg) {
                (Some(index), _) => index,
                (None, Some(alg)) => keys.for_alg(alg),
                (None, None) => keys.signing_index(),
            };
            let key = keys.get(index).unwrap_or_else(|| keys.signing());
            (
                key.material,
                self.alg.unwrap_or(key.alg),
                self.kid.clone().unwrap_or_else(|| key.kid.clone()),
            )
        };

        let mut header = Map::new();
        header.insert(
            "alg".into(),
            serde_json::to_value(alg).unwrap_or(Value::Null),
        );
        if let Some(kid) = self.header_kid.unwrap_or(Some(kid)) {
            header.insert("kid".into(), kid.into());
        }
        if let Some(typ) = self.typ {
            header.insert("typ".into(), typ.into());
        }
        header.extend(self.extra_header);

        let alg = match header.get("alg") {
            Some(Value::String(name)) => keys::parse_alg(name),
            _ => None,
        };
        keys::compact_jws(
            &Value::Object(header),
            &Value::Object(self.claims),
            alg,
            material,
            &self.issuer.shared().hmac_secret,
        )
    }
}
