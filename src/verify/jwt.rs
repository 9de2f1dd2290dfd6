//! The JWT verifier: a signed access token (RFC 9068) checked against its
//! issuer's JWKS. The path of one token, top to bottom:
//!
//! 1. the verified-token cache (a hit still checks `exp` and that the key is
//!    still published);
//! 2. shape: length before any decoding, three segments, base64url, JSON;
//! 3. the issuer, chosen by the token's exact unverified `iss`, else by a
//!    tenant template it fills (a lazy issuer may need discovery first: I/O);
//! 4. the header against that issuer's profile: `alg` allowlist, `typ`, `crit`;
//! 5. the key by `kid`, bound to the algorithm (a `kid` never seen before
//!    triggers one rate-limited key refresh: I/O);
//! 6. the signature, then the claims: `iss`, `exp`, `nbf`, `iat`, `aud`,
//!    required values; roles read from the configured claim paths;
//! 7. for a tenant-template issuer ([`super::tenant`]): `iss` must name the
//!    token's own tenant, and the tenant policy must admit it (a new tenant
//!    of a lookup policy waits for one lookup: I/O);
//! 8. a success is cached (a cache hit asks the tenant policy again).
//!
//! Every refusal is built from the parsed token ([`Parsed::reject`]), so it
//! carries the `kid` and fingerprint; the layer logs it and answers.

use std::sync::Arc;

use super::cache::{Entry, TokenCache};
use super::tenant::{self, Admission};
use super::validate::{self, Parsed};
use super::{Verdict, Verifier};
use crate::claims::VerifiedClaims;
use crate::error::Reason;
use crate::issuer::Issuer;
use crate::jwks::parse::VerifyingKey;
use crate::jwks::store::Lookup;
use crate::layer::lazy::{Discovery, Lazy, LazyPick};

/// Verifies JWT access tokens of the configured (and lazily discovered)
/// issuers. Cheap to clone.
#[derive(Clone)]
pub(crate) struct JwtVerifier(Arc<Inner>);

struct Inner {
    issuers: Vec<Issuer>,
    /// Shared with the discovery tasks it starts (they hold a `Weak`).
    lazy: Option<Arc<Lazy>>,
    cache: Option<TokenCache>,
    max_token_bytes: usize,
}

/// Which kinds of I/O one verification may still do: at most one lazy
/// issuer discovery, then at most one key refresh.
#[derive(Clone, Copy)]
struct Budget {
    discover: bool,
    refresh: bool,
}

impl Budget {
    const FULL: Budget = Budget {
        discover: true,
        refresh: true,
    };
}

enum Selected {
    Issuer(Issuer),
    Lazy(LazyPick),
    Unknown,
}

impl JwtVerifier {
    pub(crate) fn new(
        issuers: Vec<Issuer>,
        lazy: Option<Lazy>,
        cache: Option<TokenCache>,
        max_token_bytes: usize,
    ) -> Self {
        Self(Arc::new(Inner {
            issuers,
            lazy: lazy.map(Arc::new),
            cache,
            max_token_bytes,
        }))
    }
}

#[cfg(feature = "introspection")]
impl JwtVerifier {
    /// Whether `token` is this verifier's to judge: three segments whose
    /// payload names, as `iss`, a configured issuer or one the lazy-issuer
    /// factory trusts — whatever the header and signature hold, so a
    /// damaged JWT of a known issuer is refused here, not introspected.
    /// No I/O (a trusted lazy issuer's discovery may start, in its own task).
    pub(crate) fn routes(&self, token: &str) -> bool {
        use base64::Engine as _;
        #[derive(serde::Deserialize)]
        struct Iss {
            iss: Option<String>,
        }
        if token.len() > self.0.max_token_bytes {
            return false;
        }
        let mut parts = token.split('.');
        let (Some(_), Some(payload), Some(_), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return false;
        };
        let Ok(json) = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload) else {
            return false;
        };
        let Ok(Iss { iss: Some(iss) }) = serde_json::from_slice::<Iss>(&json) else {
            return false;
        };
        let iss = iss.as_str();
        self.0.configured(iss).is_some()
            || self
                .0
                .lazy
                .as_ref()
                .is_some_and(|l| !matches!(l.pick(iss), LazyPick::Refuse))
    }
}

impl std::fmt::Debug for JwtVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JwtVerifier")
            .field("issuers", &self.0.issuers)
            .field("lazy_issuers", &self.0.lazy.is_some())
            .field("cache", &self.0.cache.is_some())
            .finish_non_exhaustive()
    }
}

impl Verifier for JwtVerifier {
    #[inline]
    fn verify(&self, token: &str) -> Verdict {
        match self.cache_hit(token) {
            Some(verdict) => verdict,
            None => self.fresh(token),
        }
    }
}

impl JwtVerifier {
    /// Step 1: the verdict of a token-cache hit, `None` on a miss. A hit of
    /// a tenant-template issuer asks the tenant policy again (it may have
    /// changed since).
    #[inline]
    pub(crate) fn cache_hit(&self, token: &str) -> Option<Verdict> {
        let entry = self.0.cache.as_ref()?.get(token)?;
        Some(match entry.issuer.tenancy() {
            None => Verdict::Verified(entry.claims),
            // Already bound to its tenant; the policy may have changed.
            Some(t) => match tenant::admit(t, entry.claims) {
                Admission::Now(result) => Verdict::of(result),
                Admission::Later(later) => Verdict::Pending(later),
            },
        })
    }

    /// Steps 2 to 8, for a token the cache does not hold.
    pub(crate) fn fresh(&self, token: &str) -> Verdict {
        let timer = crate::ops::Timer::start();
        let verdict = self.0.attempt(token, Budget::FULL);
        timer.done(crate::ops::VerifyKind::Jwt);
        verdict
    }
}

impl Inner {
    /// One synchronous pass over the token; I/O, when needed and still
    /// within `budget`, is returned as [`Verdict::Pending`], which runs it
    /// and then makes one more pass.
    fn attempt(self: &Arc<Self>, token: &str, budget: Budget) -> Verdict {
        let parsed = match Parsed::parse(token, self.max_token_bytes) {
            Ok(p) => p,
            Err(r) => return Verdict::Rejected(r),
        };
        let issuer = match self.select(parsed.unverified_issuer()) {
            Selected::Issuer(i) | Selected::Lazy(LazyPick::Ready(i)) => i,
            Selected::Lazy(LazyPick::Unavailable(wait)) => {
                let r = parsed.reject(Reason::KeysUnavailable);
                return Verdict::Rejected(r.with_unverified_issuer(&parsed).with_retry_after(wait));
            }
            Selected::Lazy(LazyPick::Wait(discovery)) if budget.discover => {
                return self.discover_then_retry(token, &parsed, discovery, budget)
            }
            Selected::Lazy(_) | Selected::Unknown => {
                return Verdict::Rejected(parsed.reject(Reason::UnknownIssuer))
            }
        };
        let name = issuer.name_arc();
        let profile = issuer.profile();
        let alg = match validate::check_header(&parsed, profile) {
            Ok(alg) => alg,
            Err(reason) => return Verdict::Rejected(parsed.reject(reason).with_issuer(name)),
        };
        // An HMAC issuer verifies with its secret; every other with a published key.
        let key = if profile.hmac.is_some() {
            None
        } else {
            match issuer.store().lookup(parsed.kid(), alg) {
                Lookup::Found(key) => Some(key),
                Lookup::Unknown if budget.refresh => {
                    return self.refresh_then_retry(token, issuer, budget)
                }
                Lookup::Unknown => {
                    return Verdict::Rejected(parsed.reject(Reason::UnknownKey).with_issuer(name))
                }
                Lookup::Unavailable { retry_after } => {
                    let r = parsed.reject(Reason::KeysUnavailable).with_issuer(name);
                    return Verdict::Rejected(r.with_retry_after(retry_after));
                }
            }
        };
        let Some(tenancy) = issuer.tenancy() else {
            return match validate::verify(parsed, alg, key.as_ref(), name, profile) {
                Ok(claims) => Verdict::Verified(self.remember(token, claims, issuer, key)),
                Err(rejection) => Verdict::Rejected(rejection),
            };
        };
        let verify_as = tenant::verify_as(tenancy, name, &parsed);
        let claims = validate::verify(parsed, alg, key.as_ref(), &verify_as, profile)
            .and_then(|claims| tenant::bind(tenancy, claims));
        let claims = match claims {
            Ok(claims) => claims,
            Err(rejection) => return Verdict::Rejected(rejection),
        };
        match tenant::admit(tenancy, claims) {
            Admission::Now(Ok(claims)) => {
                Verdict::Verified(self.remember(token, claims, issuer, key))
            }
            Admission::Now(Err(rejection)) => Verdict::Rejected(rejection),
            Admission::Later(later) => {
                let this = Arc::clone(self);
                let token = token.to_owned();
                Verdict::Pending(Box::pin(async move {
                    let claims = later.await?;
                    Ok(this.remember(&token, claims, issuer, key))
                }))
            }
        }
    }

    /// Cache an accepted token.
    fn remember(
        &self,
        token: &str,
        claims: VerifiedClaims,
        issuer: Issuer,
        key: Option<Arc<VerifyingKey>>,
    ) -> VerifiedClaims {
        let claims = claims.counted_by(issuer.counters());
        if let Some(cache) = &self.cache {
            let entry = Entry {
                claims: claims.clone(),
                issuer,
                key,
            };
            cache.insert(token, entry);
        }
        claims
    }

    /// The configured issuer of an unverified `iss`: by exact match, else
    /// the first tenant template it fills.
    fn configured(&self, iss: &str) -> Option<&Issuer> {
        self.issuers.iter().find(|i| i.name() == iss).or_else(|| {
            self.issuers
                .iter()
                .find(|i| i.tenancy().is_some_and(|t| t.tenant_in(iss).is_some()))
        })
    }

    /// The issuer for the token's unverified `iss`, by exact match, else the
    /// first tenant template it fills. No I/O: an `iss` that is neither
    /// configured nor accepted by the lazy-issuer factory is refused here.
    fn select(&self, iss: Option<&str>) -> Selected {
        match (iss, self.issuers.as_slice(), &self.lazy) {
            // One issuer: a missing or wrong `iss` is reported as wrong_issuer after the signature check.
            (_, [only], None) => Selected::Issuer(only.clone()),
            (Some(iss), _, lazy) => match self.configured(iss) {
                Some(i) => Selected::Issuer(i.clone()),
                None => match lazy {
                    Some(l) => Selected::Lazy(l.pick(iss)),
                    None => Selected::Unknown,
                },
            },
            (None, _, _) => Selected::Unknown,
        }
    }

    /// A `kid` this issuer's set does not hold: one (rate-limited, shared)
    /// key refresh, then one more pass without another refresh.
    fn refresh_then_retry(
        self: &Arc<Self>,
        token: &str,
        issuer: Issuer,
        budget: Budget,
    ) -> Verdict {
        let this = Arc::clone(self);
        let token = token.to_owned();
        Verdict::Pending(Box::pin(async move {
            issuer.store().refresh_for_unknown_kid().await;
            let budget = Budget {
                refresh: false,
                ..budget
            };
            this.attempt(&token, budget).resolve().await
        }))
    }

    /// A trusted lazy issuer not yet known: wait for its discovery (one
    /// per issuer, run by a task of its own, so dropping this request
    /// abandons nothing), then one more pass without another discovery.
    fn discover_then_retry(
        self: &Arc<Self>,
        token: &str,
        parsed: &Parsed<'_>,
        discovery: Discovery,
        budget: Budget,
    ) -> Verdict {
        let unavailable = parsed
            .reject(Reason::KeysUnavailable)
            .with_unverified_issuer(parsed);
        let this = Arc::clone(self);
        let token = token.to_owned();
        Verdict::Pending(Box::pin(async move {
            if let Some(wait) = discovery.wait().await {
                return Err(unavailable.with_retry_after(wait));
            }
            let budget = Budget {
                discover: false,
                ..budget
            };
            this.attempt(&token, budget).resolve().await
        }))
    }
}
