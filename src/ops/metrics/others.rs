//! The revocation list's gauges (registered on first use), and each
//! outbound client's fetch counters and token gauges (held by the client).

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
}

/// One outbound client's handles (label `client_id`).
pub(crate) struct ClientHandles {
    client_id: Box<str>,
    ok: Counter,
    error: Counter,
    /// The token gauges, registered at the first token (before that there
    /// is no token, and a zero would read as "overdue since 1970").
    token: OnceLock<ClientToken>,
}

struct ClientToken {
    expiry: Gauge,
    refresh: Gauge,
}

static OTHERS: OnceLock<Others> = OnceLock::new();

fn others() -> &'static Others {
    OTHERS.get_or_init(|| {
        describe_gauge!(REVOCATION_ENTRIES, "Entries in the revocation list");
        describe_gauge!(
            REVOCATION_LAST_SYNC,
            Unit::Seconds,
            "Unix time the Redis revocation list was last in sync"
        );
        Others {
            revocation_entries: gauge!(REVOCATION_ENTRIES),
            revocation_last_sync: gauge!(REVOCATION_LAST_SYNC),
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

impl ClientHandles {
    /// Registered with the recorder installed now (at client build).
    pub(crate) fn register(client_id: &str) -> Self {
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
        let fetches = |result: &'static str| counter!(CLIENT_FETCHES, "client_id" => client_id.to_owned(), "result" => result);
        ClientHandles {
            client_id: client_id.into(),
            ok: fetches("ok"),
            error: fetches("error"),
            token: OnceLock::new(),
        }
    }

    /// A token fetch: the new token's remaining lifetime and the time
    /// until the client refreshes it, or `None` on error.
    pub(crate) fn fetched(&self, token: Option<(Duration, Duration)>) {
        let Some((left, refresh_in)) = token else {
            self.error.increment(1);
            return;
        };
        self.ok.increment(1);
        let g = self.token.get_or_init(|| ClientToken {
            expiry: gauge!(CLIENT_EXPIRY, "client_id" => self.client_id.to_string()),
            refresh: gauge!(CLIENT_REFRESH, "client_id" => self.client_id.to_string()),
        });
        let now = unix_now();
        g.expiry.set(now + left.as_secs_f64());
        g.refresh.set(now + refresh_in.as_secs_f64());
    }
}
