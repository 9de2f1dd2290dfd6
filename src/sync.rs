//! Lock helpers shared by the whole crate.

use std::sync::{Mutex, MutexGuard, PoisonError};

/// Locks `m`, using the data as is if a thread panicked while holding it.
///
/// Every mutex in this crate guards data that is consistent after each
/// statement that writes it (plain fields, caches that are replaced whole),
/// so poisoning carries no information, and turning it into a panic would put
/// a panic on the request path (or, in the testkit, turn one failed test into
/// a panic in every later request).
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}
