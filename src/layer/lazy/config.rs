//! The settings of [`LazyIssuers`]: which issuers are trusted, and the
//! bounds on what discovering them may cost.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use crate::error::ConfigError;
use crate::issuer::{Issuer, IssuerBuilder};

type Factory = dyn Fn(&str) -> Option<IssuerBuilder> + Send + Sync;

/// Longest accepted refill interval of [`LazyIssuers::max_discoveries`].
const MAX_REFILL: Duration = Duration::from_secs(24 * 60 * 60);

/// Issuers the layer may add at run time: discovered on the first token
/// that names them, then cached — for multi-tenant services where tenants
/// (and so issuers) are added without a redeploy.
///
/// Only issuers the factory accepts are ever contacted: a token naming any
/// other `iss` is refused at once with no network traffic. A discovery runs
/// in its own task, so a client that disconnects does not abandon it; every
/// request for that issuer waits for the same one.
///
/// | setting | default | why |
/// |---|---|---|
/// | [`max_issuers`](Self::max_issuers) | 16 | each discovered issuer keeps its keys and a refresh task for the life of the layer. Only discovered issuers count: a discovery in flight or failed holds no place, so tokens naming issuers that do not exist cannot lock the real ones out. Beyond the cap new issuers are refused (401 `unknown_issuer`) |
/// | [`retry_after`](Self::retry_after) | 30 s | a failed discovery is not tried again sooner: its tokens are answered 503 with the remaining time as `Retry-After`, so a down IdP is not hammered |
/// | [`max_failed_issuers`](Self::max_failed_issuers) | 64 | failures are remembered for `retry_after`, in a bounded list (oldest forgotten first), so a flood of distinct `iss` values cannot grow memory |
/// | [`max_discoveries`](Self::max_discoveries) | 8 at once, then 1 per 2 s | discovery happens *before* any signature is checked, and costs up to three metadata requests and one JWKS fetch. The budget answers a cold start with a handful of tenants at once, yet holds a flood of unsigned tokens to at most about two requests a second to your IdPs. Over budget: 503 with `Retry-After` (until the next discovery is allowed), no network |
///
/// ```no_run
/// use oauth2_guard::{AuthLayer, Issuer, LazyIssuers};
///
/// # fn f() -> Result<(), oauth2_guard::ConfigError> {
/// // A fixed list of trusted issuers, configured alike.
/// let lazy = LazyIssuers::from_list(
///     ["https://sso.example.com/realms/tenant-a", "https://sso.example.com/realms/tenant-b"],
///     |b| b.audience("orders-api"),
/// );
/// // Or a template: every realm of one Keycloak whose name is a known tenant id.
/// let template = LazyIssuers::new(|iss: &str| {
///     let tenant = iss.strip_prefix("https://sso.example.com/realms/tenant-")?;
///     (tenant.len() <= 32 && tenant.bytes().all(|b| b.is_ascii_alphanumeric()))
///         .then(|| Issuer::builder(iss).audience("orders-api"))
/// })
/// .max_issuers(100);
/// let layer = AuthLayer::builder().lazy_issuers(template).build()?;
/// # let _ = (lazy, layer); Ok(()) }
/// ```
///
/// # Security
/// The factory decides which issuers are trusted: it must accept only
/// issuers you control or have vetted. Never accept an `iss` just because
/// it is a well-formed URL — anyone can run an IdP.
///
/// A token's `iss` is read before its signature can be checked (the keys
/// come from the discovery), so anyone can make the layer discover any
/// issuer the factory accepts. What that costs is bounded: discoveries by
/// the global budget ([`max_discoveries`](Self::max_discoveries)), the
/// issuers kept by [`max_issuers`](Self::max_issuers), the failures
/// remembered by [`max_failed_issuers`](Self::max_failed_issuers) (each
/// forgotten after [`retry_after`](Self::retry_after)). A discovery in
/// flight is owned by the layer, not by the request that started it: it
/// records its own result even if that request is dropped, and dropping the
/// layer cancels it. A template should still accept only names of tenants
/// that can exist (a length and character limit at least, as above).
#[derive(Clone)]
pub struct LazyIssuers {
    pub(super) factory: Arc<Factory>,
    pub(super) max: usize,
    pub(super) retry_after: Duration,
    pub(super) max_failed: usize,
    pub(super) burst: u32,
    pub(super) refill: Duration,
}

impl fmt::Debug for LazyIssuers {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LazyIssuers")
            .field("max_issuers", &self.max)
            .field("retry_after", &self.retry_after)
            .field("max_failed_issuers", &self.max_failed)
            .field("max_discoveries", &(self.burst, self.refill))
            .finish_non_exhaustive()
    }
}

impl LazyIssuers {
    /// Trust the issuers for which `factory` returns a builder.
    pub fn new<F>(factory: F) -> Self
    where
        F: Fn(&str) -> Option<IssuerBuilder> + Send + Sync + 'static,
    {
        Self {
            factory: Arc::new(factory),
            max: 16,
            retry_after: Duration::from_secs(30),
            max_failed: 64,
            burst: 8,
            refill: Duration::from_secs(2),
        }
    }

    /// Trust exactly these issuer URLs, each built with `configure`
    /// (audience, roles, …) applied to `Issuer::builder(url)`.
    pub fn from_list<I, U, C>(issuers: I, configure: C) -> Self
    where
        I: IntoIterator<Item = U>,
        U: Into<String>,
        C: Fn(IssuerBuilder) -> IssuerBuilder + Send + Sync + 'static,
    {
        let list: Vec<String> = issuers.into_iter().map(Into::into).collect();
        Self::new(move |iss| {
            list.iter()
                .any(|l| l == iss)
                .then(|| configure(Issuer::builder(iss)))
        })
    }

    /// How many issuers may be discovered (default 16, at least 1).
    /// Discoveries in flight and failed ones do not count.
    #[must_use]
    pub fn max_issuers(mut self, n: usize) -> Self {
        self.max = n;
        self
    }

    /// How long after a failed discovery before it is tried again
    /// (default 30 s); meanwhile its tokens are answered 503 with the
    /// remaining time as `Retry-After`.
    #[must_use]
    pub fn retry_after(mut self, d: Duration) -> Self {
        self.retry_after = d;
        self
    }

    /// How many failed discoveries are remembered (default 64, at least 1);
    /// beyond that the oldest is forgotten (its issuer may then be tried
    /// again before its `retry_after`, within the discovery budget).
    #[must_use]
    pub fn max_failed_issuers(mut self, n: usize) -> Self {
        self.max_failed = n;
        self
    }

    /// The discovery budget, shared by all issuers: at most `burst`
    /// discoveries at once, then one more every `per` (default 8, then one
    /// per 2 s). `burst` is at least 1, `per` between 1 ms and one day.
    #[must_use]
    pub fn max_discoveries(mut self, burst: u32, per: Duration) -> Self {
        self.burst = burst;
        self.refill = per;
        self
    }

    /// The settings' ranges, checked when the layer is built.
    pub(crate) fn validate(&self) -> Result<(), ConfigError> {
        let out_of_range = |setting, reason| Err(ConfigError::OutOfRange { setting, reason });
        if self.max == 0 {
            return out_of_range("lazy_issuers.max_issuers", "must be at least 1");
        }
        if self.max_failed == 0 {
            return out_of_range("lazy_issuers.max_failed_issuers", "must be at least 1");
        }
        if self.burst == 0 {
            return out_of_range("lazy_issuers.max_discoveries", "burst must be at least 1");
        }
        if self.refill < Duration::from_millis(1) || self.refill > MAX_REFILL {
            return out_of_range(
                "lazy_issuers.max_discoveries",
                "the refill interval must be between 1 ms and one day",
            );
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_are_validated() {
        let ok = || LazyIssuers::new(|_: &str| None);
        assert!(ok().validate().is_ok());
        for bad in [
            ok().max_issuers(0),
            ok().max_failed_issuers(0),
            ok().max_discoveries(0, Duration::from_secs(1)),
            ok().max_discoveries(1, Duration::ZERO),
            ok().max_discoveries(1, MAX_REFILL + Duration::from_secs(1)),
        ] {
            assert!(matches!(
                bad.validate(),
                Err(ConfigError::OutOfRange { .. })
            ));
        }
    }
}
