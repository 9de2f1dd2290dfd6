//! One introspection call (RFC 7662 §2.1) and what its answer means.
//!
//! The request: `POST token=…&token_type_hint=access_token`, authenticated
//! with the resource server's own credentials (the client module's
//! `ClientAuth`: `client_secret_basic`, `client_secret_post` or
//! `private_key_jwt`), never following a redirect, bounded in time and in
//! the size of the answer.
//!
//! The answer (RFC 7662 §2.2), checked as a JWT's claims are:
//! - `active` must be the boolean `true` (`false`: [`Reason::Inactive`]);
//!   anything else is garbage (503);
//! - `iss`, when sent, must be the configured issuer (absent: the answer is
//!   the configured issuer's own word);
//! - `exp` is required and checked locally, as are `nbf` and `iat`, even
//!   when `active` is `true` (some servers say active for expired tokens);
//! - `aud` must hold a configured audience — or, only where
//!   `audience_or_client_id` is set and the answer has no `aud`, `client_id`
//!   must be one;
//! - `token_type`, when sent, must be `Bearer`, `DPoP` (RFC 9449 §6.2) or
//!   `access_token`; a `cnf` binding is read into the claims as for JWTs
//!   and enforced by the layer (a `cnf.jkt` token needs a DPoP proof);
//! - scopes (`scope`) and roles (the configured claim paths) are read into
//!   the same [`VerifiedClaims`] a JWT gives.

use std::sync::Arc;

use serde_json::{Map, Value};
use url::Url;

use crate::claims::{now_unix, Fingerprint, Verified, VerifiedClaims};
use crate::client::auth::ClientAuth;
use crate::error::{FetchError, FetchErrorKind, Reason};
use crate::http::{read_capped, status_error, TokenClient};
use crate::verify::validate::{check_claims, Profile};

/// How to reach the introspection endpoint.
pub(crate) struct Call {
    pub(crate) endpoint: Url,
    pub(crate) client_id: Arc<str>,
    pub(crate) auth: ClientAuth,
    pub(crate) http: TokenClient,
    pub(crate) max_response_bytes: usize,
}

/// How an answer is checked.
pub(crate) struct Checks {
    pub(crate) issuer: Arc<str>,
    pub(crate) profile: Profile,
    /// The same checks with the audience read from `client_id`, for answers
    /// without `aud` (`audience_or_client_id`).
    pub(crate) client_id_fallback: Option<Profile>,
}

/// What the authorization server said, once checked.
pub(crate) enum Outcome {
    /// Active and every check passed; `size`: the answer's length in bytes.
    Active { claims: VerifiedClaims, size: u64 },
    /// Inactive, or refused by a check.
    Refused(Reason),
}

/// Why no usable answer came back.
#[derive(Debug)]
pub(crate) enum Failure {
    /// Down, slow, an error status, a redirect, an oversized answer.
    Fetch(FetchError),
    /// Our own credentials could not be read or used.
    Credentials,
    /// A 200 whose body is not an RFC 7662 answer.
    Garbage(&'static str),
}

impl Failure {
    pub(crate) fn label(&self) -> String {
        match self {
            Failure::Fetch(e) => format!("{:?}", e.kind()),
            Failure::Credentials => "credentials".to_owned(),
            Failure::Garbage(why) => format!("garbage: {why}"),
        }
    }
}

impl Call {
    /// Ask about `token`.
    pub(crate) async fn ask(&self, token: &str) -> Result<(Map<String, Value>, u64), Failure> {
        let credentials = self
            .auth
            .credentials(&self.client_id, &self.endpoint)
            .map_err(|_| Failure::Credentials)?;
        let mut form: Vec<(&str, &str)> =
            vec![("token", token), ("token_type_hint", "access_token")];
        form.extend(credentials.form.iter().map(|(k, v)| (*k, v.as_str())));
        let mut response = self
            .http
            .post_form(&self.endpoint, &form, credentials.authorization)
            .await
            .map_err(Failure::Fetch)?;
        let status = response.status();
        if !status.is_success() {
            return Err(Failure::Fetch(status_error(
                status.as_u16(),
                response.headers(),
                &self.endpoint,
            )));
        }
        let body = read_capped(&mut response, self.max_response_bytes, &self.endpoint)
            .await
            .map_err(Failure::Fetch)?;
        let size = body.len() as u64;
        match serde_json::from_slice::<Value>(&body) {
            Ok(Value::Object(map)) => Ok((map, size)),
            Ok(_) => Err(Failure::Garbage("not a JSON object")),
            Err(_) => Err(Failure::Fetch(FetchError::new(
                FetchErrorKind::InvalidJson,
                self.endpoint.as_str(),
            ))),
        }
    }
}

impl Checks {
    /// Check an answer and map it into claims.
    pub(crate) fn check(
        &self,
        mut answer: Map<String, Value>,
        size: u64,
        fingerprint: Fingerprint,
    ) -> Result<Outcome, Failure> {
        match answer.remove("active") {
            Some(Value::Bool(true)) => {}
            Some(Value::Bool(false)) => return Ok(Outcome::Refused(Reason::Inactive)),
            _ => return Err(Failure::Garbage("`active` is missing or not a boolean")),
        }
        Ok(match self.map(answer, fingerprint, now_unix()) {
            Ok(claims) => Outcome::Active { claims, size },
            Err(reason) => Outcome::Refused(reason),
        })
    }

    /// An active answer's claims, checked as a JWT's are.
    pub(crate) fn map(
        &self,
        mut payload: Map<String, Value>,
        fingerprint: Fingerprint,
        now: u64,
    ) -> Result<VerifiedClaims, Reason> {
        if !payload.contains_key("iss") {
            payload.insert("iss".into(), Value::String(self.issuer.to_string()));
        }
        let profile = match &self.client_id_fallback {
            Some(fallback) if !payload.contains_key("aud") => fallback,
            _ => &self.profile,
        };
        let checked = check_claims(&payload, &self.issuer, profile, now)?;
        match payload.get("token_type") {
            None => {}
            Some(Value::String(t))
                if t.eq_ignore_ascii_case("bearer")
                    || t.eq_ignore_ascii_case("dpop")
                    || t.eq_ignore_ascii_case("access_token") => {}
            Some(Value::String(_)) => return Err(Reason::BadType),
            Some(_) => return Err(Reason::InvalidClaim),
        }
        let roles = crate::claims::roles_of(&payload, &profile.roles);
        Ok(VerifiedClaims::new(Verified {
            issuer: self.issuer.clone(),
            expires_at: checked.expires_at,
            issued_at: checked.issued_at,
            audiences: checked.audiences,
            roles,
            algorithm: None,
            key_id: None,
            fingerprint,
            payload,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::verify::validate::AudienceCheck;
    use serde_json::json;

    fn profile(aud: AudienceCheck) -> Profile {
        Profile {
            algorithms: Vec::new(),
            audience: aud,
            required: Vec::new(),
            roles: vec![crate::ClaimPath::parse("realm_access/roles").unwrap()],
            leeway: 0,
            strict_typ: false,
            hmac: None,
        }
    }

    fn checks(fallback: bool) -> Checks {
        let allowed = vec!["orders-api".to_owned()];
        Checks {
            issuer: "https://idp.example".into(),
            profile: profile(AudienceCheck::Aud(allowed.clone())),
            client_id_fallback: fallback.then(|| {
                profile(AudienceCheck::Claim {
                    name: "client_id".into(),
                    allowed,
                })
            }),
        }
    }

    fn outcome(c: &Checks, answer: Value) -> Result<Result<VerifiedClaims, Reason>, &'static str> {
        let Value::Object(map) = answer else { panic!() };
        match c.check(map, 10, Fingerprint::of("t")) {
            Ok(Outcome::Active { claims, .. }) => Ok(Ok(claims)),
            Ok(Outcome::Refused(r)) => Ok(Err(r)),
            Err(_) => Err("failure"),
        }
    }

    #[test]
    fn answers_map_and_refuse() {
        let c = checks(false);
        let exp = now_unix() + 60;
        let ok = json!({"active": true, "exp": exp, "aud": "orders-api", "scope": "a b",
            "sub": "alice", "client_id": "web", "jti": "j1", "token_type": "Bearer",
            "realm_access": {"roles": ["admin"]}});
        let claims = outcome(&c, ok).unwrap().unwrap();
        assert_eq!(claims.scopes(), ["a", "b"]);
        assert_eq!(claims.roles(), ["admin"]);
        assert_eq!(claims.issuer(), "https://idp.example");
        assert_eq!(claims.kind(), crate::TokenKind::Opaque);
        assert_eq!(claims.algorithm(), None);
        assert_eq!(
            (claims.subject(), claims.jti()),
            (Some("alice"), Some("j1"))
        );
        assert!(claims.get("active").is_none());

        let cases = [
            (json!({"active": false}), Reason::Inactive),
            (
                json!({"active": true, "exp": now_unix() - 1, "aud": "orders-api"}),
                Reason::Expired,
            ),
            (
                json!({"active": true, "aud": "orders-api"}),
                Reason::InvalidClaim,
            ),
            (
                json!({"active": true, "exp": exp, "nbf": exp, "aud": "orders-api"}),
                Reason::NotYetValid,
            ),
            (
                json!({"active": true, "exp": exp, "aud": "other"}),
                Reason::WrongAudience,
            ),
            (
                json!({"active": true, "exp": exp, "client_id": "orders-api"}),
                Reason::WrongAudience,
            ),
            (
                json!({"active": true, "exp": exp, "aud": "orders-api", "iss": "https://evil"}),
                Reason::WrongIssuer,
            ),
            (
                json!({"active": true, "exp": exp, "aud": "orders-api", "token_type": "refresh_token"}),
                Reason::BadType,
            ),
            (
                json!({"active": true, "exp": exp, "aud": "orders-api", "cnf": ["jkt"]}),
                Reason::InvalidClaim,
            ),
        ];
        for (answer, want) in cases {
            assert_eq!(
                outcome(&c, answer.clone()).unwrap().unwrap_err(),
                want,
                "{answer}"
            );
        }
        // A DPoP-bound answer is read, not refused: the layer checks the proof.
        let bound = json!({"active": true, "exp": exp, "aud": "orders-api", "token_type": "DPoP", "cnf": {"jkt": "x"}});
        let claims = outcome(&c, bound).unwrap().unwrap();
        assert_eq!(
            claims.confirmation(),
            Some(&crate::claims::Confirmation::Jkt("x".into()))
        );
        for garbage in [json!({"active": "true"}), json!({"exp": exp})] {
            assert!(outcome(&c, garbage).is_err());
        }
    }

    #[test]
    fn client_id_stands_for_aud_only_when_configured_and_aud_absent() {
        let c = checks(true);
        let exp = now_unix() + 60;
        let ok = json!({"active": true, "exp": exp, "client_id": "orders-api"});
        assert!(outcome(&c, ok).unwrap().is_ok());
        let wrong = json!({"active": true, "exp": exp, "client_id": "web"});
        assert_eq!(
            outcome(&c, wrong).unwrap().unwrap_err(),
            Reason::WrongAudience
        );
        // An `aud` that is sent is checked, whatever `client_id` says.
        let aud = json!({"active": true, "exp": exp, "aud": "other", "client_id": "orders-api"});
        assert_eq!(
            outcome(&c, aud).unwrap().unwrap_err(),
            Reason::WrongAudience
        );
    }
}
