//! Error types: configuration, key fetching, and token rejection reasons.
//!
//! The request path never returns `Err` for anything a client sends: a
//! rejected token becomes a [`Rejection`] that the layer turns into an
//! RFC 6750 response. Errors here are for construction time
//! ([`ConfigError`]) and for background key fetching ([`FetchError`]).
//!
//! One file per concern: `config` ([`ConfigError`]), `fetch`
//! ([`FetchError`], [`FetchErrorKind`], [`JwksError`]) and `reason`
//! ([`Reason`] with its one code and status table, and [`Rejection`]).

mod config;
mod fetch;
mod reason;

pub use config::{ConfigError, HttpClientError};
pub use fetch::{FetchError, FetchErrorKind, JwksError};
pub use reason::{Reason, Rejection};
