//! One layer, two kinds of token: the [`Router`] sends each token to the
//! JWT verifier or to introspection.
//!
//! The rule: a token the JWT cache holds, or that parses as a JWS whose
//! unverified `iss` names a configured issuer (exactly, or by filling its
//! tenant template, as the JWT verifier selects issuers) or one the
//! lazy-issuer factory trusts, goes to the JWT verifier — and is refused there if it
//! does not verify, never introspected instead. A JWS whose `iss` names
//! another issuer (neither those nor the introspector's own) is refused here
//! with `unknown_issuer`, unless `introspect_unknown_jws` is on: sending it
//! would hand a third party's token to an IdP that did not issue it.
//! Anything else (an opaque string, a JWS without a string `iss`, a JWE, a
//! JWS of the introspector's issuer) goes to introspection.
//!
//! Real-time mode (`introspect_jwts`): a JWT of the introspector's own
//! issuer is verified locally first, so a forgery costs no call, then
//! introspected (cached like any token); the JWT's claims are kept, the
//! answer only says whether it is still active and passes the checks.

use super::introspection::IntrospectionVerifier;
use super::jwt::JwtVerifier;
use super::validate::Parsed;
use super::{Verdict, Verifier};
use crate::claims::VerifiedClaims;
use crate::error::{Reason, Rejection};

#[derive(Debug)]
pub(crate) struct Router {
    pub(crate) jwt: Option<JwtVerifier>,
    pub(crate) introspection: IntrospectionVerifier,
    pub(crate) introspect_jwts: bool,
    /// Whether a JWS of an issuer nobody here claims is introspected
    /// (`true`) or refused as `unknown_issuer` (`false`, the default).
    pub(crate) introspect_unknown_jws: bool,
    pub(crate) max_token_bytes: usize,
}

impl Verifier for Router {
    fn verify(&self, token: &str) -> Verdict {
        if let Some(jwt) = &self.jwt {
            if let Some(verdict) = jwt.cache_hit(token) {
                return self.after_jwt(verdict, token);
            }
            if jwt.routes(token) {
                return self.after_jwt(jwt.fresh(token), token);
            }
        }
        if !self.introspect_unknown_jws {
            if let Some(refused) = self.unknown_jws(token) {
                return Verdict::Rejected(refused);
            }
        }
        self.introspection.verify(token)
    }
}

impl Router {
    /// A JWS naming, as `iss`, an issuer other than the introspector's
    /// (the configured ones were tried before): refused locally, no call.
    fn unknown_jws(&self, token: &str) -> Option<Rejection> {
        let parsed = Parsed::parse(token, self.max_token_bytes).ok()?;
        let iss = parsed.unverified_issuer()?;
        (iss != self.introspection.issuer()).then(|| parsed.reject(Reason::UnknownIssuer))
    }

    /// In real-time mode, introspect a verified JWT of the introspector's issuer.
    fn after_jwt(&self, verdict: Verdict, token: &str) -> Verdict {
        if !self.introspect_jwts {
            return verdict;
        }
        match verdict {
            Verdict::Verified(claims) => Router::introspect(&self.introspection, claims, token),
            Verdict::Rejected(r) => Verdict::Rejected(r),
            Verdict::Pending(pending) => {
                let introspection = self.introspection.clone();
                let token = token.to_owned();
                Verdict::Pending(Box::pin(async move {
                    let claims = pending.await?;
                    Router::introspect(&introspection, claims, &token)
                        .resolve()
                        .await
                }))
            }
        }
    }

    fn introspect(
        introspection: &IntrospectionVerifier,
        jwt: VerifiedClaims,
        token: &str,
    ) -> Verdict {
        if jwt.issuer() != introspection.issuer() {
            return Verdict::Verified(jwt);
        }
        match introspection.verify(token) {
            Verdict::Verified(_) => Verdict::Verified(jwt),
            Verdict::Rejected(r) => Verdict::Rejected(r),
            Verdict::Pending(p) => Verdict::Pending(Box::pin(async move { p.await.map(|_| jwt) })),
        }
    }
}
