//! DPoP (RFC 9449) on the request path: the `DPoP` authorization scheme and
//! its proof header, the proof check against the token's `cnf.jkt`, server
//! nonces and the replay store. Called from [`super::binding`].

use std::borrow::Cow;

use http::{header, HeaderValue};

use super::binding::{Checked, Proven};
use super::source::{check_token, query_has_token, RequestHead};
use crate::claims::now_unix;
use crate::dpop::{replay_verdict, DpopChecker, DpopConfig, DpopError};
use crate::error::{Reason, Rejection};

/// The `DPoP` proof header.
pub(crate) const DPOP: &str = "dpop";

/// A layer's DPoP settings: the checker (configuration, in-memory replay
/// cache, nonce key) and whether Bearer is refused.
#[derive(Debug)]
pub(crate) struct LayerDpop {
    pub(crate) checker: DpopChecker,
    pub(crate) require: bool,
}

/// How long a client is told to wait when the shared replay store is down.
const STORE_RETRY_AFTER: std::time::Duration = std::time::Duration::from_secs(1);

fn dpop_refusal(e: DpopError) -> Rejection {
    let rejection = Rejection::new(Reason::Dpop(e));
    if e == DpopError::ReplayStoreUnavailable {
        return rejection.with_retry_after(STORE_RETRY_AFTER);
    }
    rejection
}

impl LayerDpop {
    pub(crate) fn new(config: DpopConfig, require: bool) -> Self {
        Self {
            checker: DpopChecker::new(config),
            require,
        }
    }

    /// `Authorization: DPoP <token>` and its one `DPoP` proof, or `None`
    /// when the request uses another scheme.
    pub(crate) fn extract<'a>(
        head: &RequestHead<'a>,
    ) -> Result<Option<(Cow<'a, str>, &'a str)>, Rejection> {
        let mut values = head.headers.get_all(header::AUTHORIZATION).iter();
        let Some(value) = values.next() else {
            return Ok(None);
        };
        let Some(rest) = value
            .as_bytes()
            .get(..5)
            .filter(|s| s.eq_ignore_ascii_case(b"dpop "))
            .map(|_| &value.as_bytes()[5..])
        else {
            return Ok(None);
        };
        let invalid = || Rejection::new(Reason::InvalidRequest);
        // Two `Authorization` headers, or a token in the query: as for Bearer.
        if values.next().is_some() || query_has_token(head.uri) {
            return Err(invalid());
        }
        let token = std::str::from_utf8(rest)
            .map_err(|_| invalid())?
            .trim_matches(' ');
        check_token(token)?;
        let mut proofs = head.headers.get_all(DPOP).iter();
        let proof = proofs
            .next()
            .ok_or_else(|| dpop_refusal(DpopError::Missing))?;
        // RFC 9449 §4.3 (1): not more than one `DPoP` header.
        if proofs.next().is_some() {
            return Err(invalid());
        }
        let proof = proof
            .to_str()
            .map_err(|_| dpop_refusal(DpopError::ProofMalformed))?;
        Ok(Some((Cow::Borrowed(token), proof)))
    }

    /// Check `proof` for `token` (bound to `jkt`) and the request `head`,
    /// then record it in the replay store.
    pub(crate) fn check(
        &self,
        proof: &str,
        head: &RequestHead<'_>,
        token: &str,
        jkt: &str,
    ) -> Checked {
        let now = now_unix();
        let unreplayed = match self
            .checker
            .check_unreplayed(proof, head, token, Some(jkt), now)
        {
            Ok(u) => u,
            Err(e) => return Checked::Done(Err(self.refusal(e, now))),
        };
        let nonce = if unreplayed.stale_nonce() {
            self.nonce_header(now)
        } else {
            None
        };
        let Some(store) = self.checker.config().store.clone() else {
            return Checked::Done(
                self.checker
                    .record(unreplayed, now)
                    .map(|checked| Proven {
                        dpop: Some(checked),
                        nonce,
                    })
                    .map_err(dpop_refusal),
            );
        };
        Checked::Pending(Box::pin(async move {
            let answer = store
                .0
                .check_and_insert(unreplayed.replay_key(), unreplayed.ttl(now))
                .await;
            replay_verdict(answer).map_err(dpop_refusal)?;
            Ok(Proven {
                dpop: Some(unreplayed.fresh()),
                nonce,
            })
        }))
    }

    /// The refusal for `e`.
    fn refusal(&self, e: DpopError, _now: u64) -> Rejection {
        dpop_refusal(e)
    }

    /// The `DPoP-Nonce` for the answer to `rejection`: a fresh nonce on
    /// `use_dpop_nonce` refusals (RFC 9449 §9), whatever the responder.
    pub(crate) fn nonce_for(&self, rejection: &Rejection) -> Option<HeaderValue> {
        (rejection.reason() == Reason::Dpop(DpopError::Nonce))
            .then(|| self.nonce_header(now_unix()))
            .flatten()
    }

    fn nonce_header(&self, now: u64) -> Option<HeaderValue> {
        self.checker
            .issue_nonce(now)
            .and_then(|n| HeaderValue::from_str(&n).ok())
    }
}
