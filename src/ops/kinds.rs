//! The labels the rest of the crate passes to the metric handles: one
//! definition, whether feature `metrics` records them or `noop` drops them.

/// What verified a token, for the latency histogram (a cache hit's time
/// is recorded by the cache's own handles, `ops::CacheCounters`).
#[derive(Clone, Copy)]
pub(crate) enum VerifyKind {
    Jwt = 0,
    // Named by the introspection verifier only when `metrics` is on.
    #[cfg_attr(not(feature = "metrics"), allow(dead_code))]
    Introspection = 1,
}

/// The outcome of one JWKS fetch, as the `result` label.
#[derive(Clone, Copy)]
pub(crate) enum FetchResult {
    Ok,
    NotModified,
    HttpError,
    Timeout,
    Invalid,
}

/// An unknown kid's demand for a refresh.
#[derive(Clone, Copy)]
pub(crate) enum UnknownKid {
    Started,
    Joined,
    RateLimited,
}
