//! The background refresher: replaces the cached token ahead of expiry.

use std::sync::{Arc, Weak};
use std::time::Instant;

use tokio::runtime::Handle;
use tokio::sync::Notify;

use super::state::Shared;
use crate::task::AbortOnDrop;

/// Start the refresher of `shared` on `runtime`. It holds only a weak
/// reference, and stops when the returned handle is dropped.
pub(super) fn spawn(shared: &Arc<Shared>, runtime: &Handle) -> AbortOnDrop {
    let task = runtime.spawn(run(Arc::downgrade(shared), shared.wake()));
    AbortOnDrop::new(task.abort_handle())
}

/// Wakes at each token's refresh time, fetches a new one through the single
/// flight, and on failure keeps the cached token (with a warning) and
/// retries with backoff until it expires.
async fn run(weak: Weak<Shared>, wake: Arc<Notify>) {
    let mut next_attempt: Option<Instant> = None;
    loop {
        let wait = {
            let Some(shared) = weak.upgrade() else { return };
            let now = Instant::now();
            match shared.cached() {
                Some(c) if now < c.token.expires_at() => {
                    let at = next_attempt.map_or(c.refresh_at, |n| n.max(c.refresh_at));
                    Some(at.saturating_duration_since(now))
                }
                // Nothing to refresh: callers fetch in the foreground.
                _ => None,
            }
        };
        match wait {
            None => {
                next_attempt = None;
                wake.notified().await;
                continue;
            }
            Some(wait) if !wait.is_zero() => {
                tokio::select! {
                    () = tokio::time::sleep(wait) => {}
                    () = wake.notified() => { next_attempt = None; continue; }
                }
            }
            Some(_) => {}
        }
        let Some(shared) = weak.upgrade() else { return };
        let current = match shared.cached() {
            Some(c) if Instant::now() >= c.refresh_at => c,
            _ => continue,
        };
        let _flight = shared.single_flight().await;
        if !shared.is_cached(&current.token) {
            continue; // someone else refreshed it
        }
        let outcome = shared.fetch().await;
        match shared.finish(outcome) {
            Ok(_) => next_attempt = None,
            Err(error) => {
                let remaining = current
                    .token
                    .expires_at()
                    .saturating_duration_since(Instant::now());
                let backoff = shared.request.retry.refresh_backoff(remaining);
                // Never sooner than the endpoint's Retry-After.
                let earliest = shared.held_until();
                next_attempt = Some(
                    crate::http::deadline_after(backoff).max(earliest.unwrap_or(Instant::now())),
                );
                tracing::warn!(
                    client_id = %shared.request.client_id,
                    audience = %shared.request.audience_label,
                    error = %error,
                    remaining_s = remaining.as_secs(),
                    "token refresh failed; keeping the cached token until it expires"
                );
            }
        }
    }
}
