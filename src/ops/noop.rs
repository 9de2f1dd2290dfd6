//! Without feature `metrics`: the same handles, doing nothing. Keep in
//! step with `metrics::keys` (the labels they take are `ops::kinds`).

use super::kinds::{FetchResult, UnknownKid};

pub(crate) struct KeyMetrics;

impl KeyMetrics {
    #[inline]
    pub(crate) fn new(_issuer: &str, _remote: bool) -> Self {
        KeyMetrics
    }
    #[inline]
    pub(crate) fn fetched(&self, _result: FetchResult) {}
    #[inline]
    pub(crate) fn installed(&self, _keys: usize) {}
    #[inline]
    pub(crate) fn scheduled(
        &self,
        _refresh_in: std::time::Duration,
        _stale_in: std::time::Duration,
    ) {
    }
    #[inline]
    pub(crate) fn unknown_kid(&self, _what: UnknownKid) {}
}
