//! One layer, two kinds of token: the [`Router`] sends each token to the
//! JWT verifier or to introspection.
//!
//! The rule: a token the JWT cache holds, or that parses as a JWS whose
//! unverified `iss` names a configured issuer (exactly, or by filling its
//! tenant template, as the JWT verifier selects issuers) or one the
//! lazy-issuer factory trusts, goes to the JWT verifier — and is refused there if it
//! does not verify, never introspected instead. Anything else (an opaque
//! string, a JWS of an unknown issuer, a JWE) goes to introspection.
//!
//! Real-time mode (`introspect_jwts`): a JWT of the introspector's own
//! issuer is verified locally first, so a forgery costs no call, then
//! introspected (cached like any token); the JWT's claims are kept, the
//! answer only says whether it is still active and passes the checks.

use super::introspection::IntrospectionVerifier;
use super::jwt::JwtVerifier;
use super::{Verdict, Verifier};
use crate::claims::VerifiedClaims;

#[derive(Debug)]
pub(crate) struct Router {
    pub(crate) jwt: Option<JwtVerifier>,
    pub(crate) introspection: IntrospectionVerifier,
    pub(crate) introspect_jwts: bool,
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
        self.introspection.verify(token)
    }
}

impl Router {
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
