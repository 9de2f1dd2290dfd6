//! DPoP at the mock token endpoint (features `testkit` + `dpop`): a token
//! request with a valid `DPoP` proof (checked by the crate's
//! [`DpopChecker`]) gets a DPoP-bound token (`cnf.jkt`, `token_type`
//! `DPoP`, RFC 9449 §5); optionally a server nonce is demanded first (§8).

use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::Response;

use super::grant::{now, oauth_error};
use super::issuer::MockIssuer;
use super::state::Shared;
use crate::dpop::{DpopChecker, DpopConfig, DpopError, DEFAULT_NONCE_ROTATION};
use crate::sync::lock;

/// DPoP state of one issuer's token endpoint.
#[derive(Default)]
pub(super) struct DpopGrant {
    /// Built at the first proof, with the issuer URL as the base.
    checker: Option<DpopChecker>,
    require_nonce: bool,
    proofs: usize,
    bound_tokens: usize,
}

/// The thumbprint a token must be bound to: `Ok(None)` without a `DPoP`
/// header, `Ok(Some(jkt))` for a valid proof, else the error answer
/// (400 `use_dpop_nonce` with a `DPoP-Nonce`, or 400 `invalid_dpop_proof`).
#[allow(clippy::result_large_err)]
pub(super) fn check(shared: &Shared, headers: &HeaderMap) -> Result<Option<String>, Response> {
    let mut proofs = headers.get_all("dpop").iter();
    let Some(proof) = proofs.next() else {
        return Ok(None);
    };
    let invalid = |why: &str| oauth_error(StatusCode::BAD_REQUEST, "invalid_dpop_proof", why);
    if proofs.next().is_some() {
        return Err(invalid("more than one DPoP header"));
    }
    let Ok(proof) = proof.to_str() else {
        return Err(invalid("DPoP header is not visible ASCII"));
    };
    let now = now();
    let mut grant = lock(&shared.grant);
    let dpop = &mut grant.dpop;
    dpop.proofs += 1;
    if dpop.checker.is_none() {
        let mut config = DpopConfig::builder(shared.issuer.clone());
        if dpop.require_nonce {
            config = config.require_nonce(DEFAULT_NONCE_ROTATION);
        }
        match config.build() {
            Ok(config) => dpop.checker = Some(DpopChecker::new(config)),
            Err(_) => return Err(invalid("mock issuer: DPoP configuration unusable")),
        }
    }
    let Some(checker) = dpop.checker.as_ref() else {
        return Err(invalid("mock issuer: no DPoP checker"));
    };
    let uri = Uri::from_static("/token");
    match checker.check_token_request(proof, &Method::POST, &uri, now) {
        Ok(checked) => {
            dpop.bound_tokens += 1;
            Ok(Some(checked.thumbprint().to_owned()))
        }
        Err(DpopError::Nonce) => {
            let mut response = oauth_error(
                StatusCode::BAD_REQUEST,
                "use_dpop_nonce",
                "the authorization server requires a nonce in the DPoP proof",
            );
            if let Some(nonce) = checker
                .issue_nonce(now)
                .and_then(|n| HeaderValue::try_from(n).ok())
            {
                response.headers_mut().insert("dpop-nonce", nonce);
            }
            Err(response)
        }
        Err(e) => Err(invalid(e.code())),
    }
}

impl MockIssuer {
    /// Whether the token endpoint demands a server nonce in DPoP proofs
    /// (RFC 9449 §8): a proof without the current nonce gets 400
    /// `use_dpop_nonce` with a `DPoP-Nonce` header. Off by default.
    pub fn require_dpop_nonce(&self, on: bool) {
        let mut grant = lock(&self.shared().grant);
        grant.dpop.require_nonce = on;
        // Rebuilt at the next proof (a new replay cache and nonce key).
        grant.dpop.checker = None;
    }

    /// How many token requests carried a `DPoP` proof (valid or not).
    pub fn dpop_proofs(&self) -> usize {
        lock(&self.shared().grant).dpop.proofs
    }

    /// How many DPoP-bound tokens (`cnf.jkt`, `token_type` `DPoP`) the
    /// token endpoint issued.
    pub fn dpop_bound_tokens(&self) -> usize {
        lock(&self.shared().grant).dpop.bound_tokens
    }
}
