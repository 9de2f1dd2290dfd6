//! The handles registered on first use: the revocation list's gauges and
//! the outbound client's fetch counters and token gauges.

use std::sync::OnceLock;
use std::time::Duration;

use metrics::{counter, describe_counter, describe_gauge, gauge, Counter, Gauge, Unit};

use super::unix_now;
use crate::ops::names::*;

struct Others {
    revocation_entries: Gauge,
    // Set by the Redis revocation backend only.
    #[cfg_attr(not(feature = "redis"), allow(dead_code))]
    revocation_last_sync: Gauge,
    client_ok: Counter,
    client_error: Counter,
}

/// The outbound client's gauges, registered at its first token (before
/// that there is no token, and a zero would read as "overdue since 1970").
struct ClientToken {
    expiry: Gauge,
    refresh: Gauge,
}

static CLIENT_TOKEN: OnceLock<ClientToken> = OnceLock::new();

static OTHERS: OnceLock<Others> = OnceLock::new();

fn others() -> &'static Others {
    OTHERS.get_or_init(|| {
        describe_gauge!(REVOCATION_ENTRIES, "Entries in the revocation list");
        describe_gauge!(
            REVOCATION_LAST_SYNC,
            Unit::Seconds,
            "Unix time the Redis revocation list was last in sync"
        );
        describe_counter!(CLIENT_FETCHES, "Outbound client-credentials token fetches");
        describe_gauge!(
            CLIENT_EXPIRY,
            Unit::Seconds,
            "Unix time the outbound client's cached token expires"
        );
        describe_gauge!(
            CLIENT_REFRESH,
            Unit::Seconds,
            "Unix time the outbound client's cached token is due for refresh"
        );
        Others {
            revocation_entries: gauge!(REVOCATION_ENTRIES),
            revocation_last_sync: gauge!(REVOCATION_LAST_SYNC),
            client_ok: counter!(CLIENT_FETCHES, "result" => "ok"),
            client_error: counter!(CLIENT_FETCHES, "result" => "error"),
        }
    })
}

pub(crate) fn revocation_entries(n: usize) {
    others().revocation_entries.set(n as f64);
}

#[cfg_attr(not(feature = "redis"), allow(dead_code))]
pub(crate) fn revocation_synced() {
    others().revocation_last_sync.set(unix_now());
}

/// A client token fetch: the new token's remaining lifetime and the time
/// until the client refreshes it, or `None` on error.
pub(crate) fn client_fetched(token: Option<(Duration, Duration)>) {
    let o = others();
    match token {
        Some((left, refresh_in)) => {
            o.client_ok.increment(1);
            let g = CLIENT_TOKEN.get_or_init(|| ClientToken {
                expiry: gauge!(CLIENT_EXPIRY),
                refresh: gauge!(CLIENT_REFRESH),
            });
            let now = unix_now();
            g.expiry.set(now + left.as_secs_f64());
            g.refresh.set(now + refresh_in.as_secs_f64());
        }
        None => o.client_error.increment(1),
    }
}
