//! The labels the rest of the crate passes to the metric handles: one
//! definition, whether feature `metrics` records them or `noop` drops them.

/// What verified a token, for the latency histogram.
#[derive(Clone, Copy)]
pub(crate) enum VerifyKind {
    CacheHit = 0,
    Jwt = 1,
    // Named by the introspection verifier only when `metrics` is on.
    #[cfg_attr(not(feature = "metrics"), allow(dead_code))]
    Introspection = 2,
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
