//! Key sets: parsing, the lock-free store and its background refresher.
//!
//! The store keeps the current key set in an `ArcSwap`: verifying a token
//! whose `kid` is known is one atomic load, never a lock or I/O. A single
//! background task per issuer refreshes the set on the schedule the JWKS
//! response asks for (`Cache-Control: max-age`, clamped), on demand when a
//! token names an unknown `kid` (single-flight, rate-limited by a cooldown),
//! and with exponential backoff when the issuer is down, while the last good
//! keys keep serving up to a max-stale bound. A set that was fetched and is
//! well-formed replaces the keys whole, even when it holds no usable key: a
//! key the issuer removed never outlives the refresh that saw it gone.

pub(crate) mod parse;
pub(crate) mod store;

pub use store::RefreshConfig;
#[cfg(test)]
mod wycheproof_tests;
