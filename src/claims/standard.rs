//! The registered claims of an RFC 9068 access token, and the scopes it
//! grants.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// Space-delimited `scope` plus `scp` (array or string), de-duplicated, in order.
pub(super) fn scopes_of(payload: &Map<String, Value>) -> Vec<String> {
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
    use crate::claims::tests::claims;
    use serde_json::json;

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
    fn standard_claims_deserialize() {
        let c = claims(json!({"iss": "https://idp", "exp": 10, "aud": ["a", "b"], "sub": "s"}));
        let s: StandardClaims = c.deserialize().unwrap();
        assert_eq!(s.aud.unwrap().iter().collect::<Vec<_>>(), ["a", "b"]);
        assert!(c.deserialize::<Vec<u8>>().is_err());
    }
}
