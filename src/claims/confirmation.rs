//! The token's binding (`cnf`, RFC 7800), read once when the claims are made.

use serde_json::{Map, Value};

/// What a verified token is bound to. `None` on [`VerifiedClaims`](super::VerifiedClaims)
/// means a plain bearer token (no `cnf`, or an empty one).
///
/// Enforced in one place, after verification: `crate::layer::binding`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Confirmation {
    /// `cnf.jkt`: a DPoP key thumbprint (RFC 9449 §6).
    Jkt(Box<str>),
    /// `cnf["x5t#S256"]`: a client-certificate thumbprint (RFC 8705 §3.1).
    X5tS256(Box<str>),
    /// A binding the crate cannot check (`jwk`, `kid`, several methods, a
    /// member that is not a string, …): always refused.
    Unsupported,
}

impl Confirmation {
    /// The binding in `payload`. A `cnf` that is not an object never gets
    /// here: the claim checks refuse it (`invalid_claim`).
    pub(crate) fn of(payload: &Map<String, Value>) -> Option<Self> {
        let methods = match payload.get("cnf")? {
            Value::Object(m) if m.is_empty() => return None,
            Value::Object(m) => m,
            _ => return Some(Self::Unsupported),
        };
        let mut members = methods.iter();
        let (Some((name, value)), None) = (members.next(), members.next()) else {
            return Some(Self::Unsupported);
        };
        Some(match (name.as_str(), value) {
            ("jkt", Value::String(s)) if !s.is_empty() => Self::Jkt(s.as_str().into()),
            ("x5t#S256", Value::String(s)) if !s.is_empty() => Self::X5tS256(s.as_str().into()),
            _ => Self::Unsupported,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn of(v: Value) -> Option<Confirmation> {
        let Value::Object(m) = v else { unreachable!() };
        Confirmation::of(&m)
    }

    #[test]
    fn parsed_once_strictly() {
        assert_eq!(of(json!({})), None);
        assert_eq!(of(json!({"cnf": {}})), None);
        assert_eq!(
            of(json!({"cnf": {"jkt": "abc"}})),
            Some(Confirmation::Jkt("abc".into()))
        );
        assert_eq!(
            of(json!({"cnf": {"x5t#S256": "xyz"}})),
            Some(Confirmation::X5tS256("xyz".into()))
        );
        for unsupported in [
            json!({"cnf": {"jwk": {"kty": "EC"}}}),
            json!({"cnf": {"kid": "k"}}),
            json!({"cnf": {"jkt": 1}}),
            json!({"cnf": {"jkt": ""}}),
            json!({"cnf": {"jkt": "a", "x5t#S256": "b"}}),
            json!({"cnf": "jkt"}),
        ] {
            assert_eq!(
                of(unsupported.clone()),
                Some(Confirmation::Unsupported),
                "{unsupported}"
            );
        }
    }
}
