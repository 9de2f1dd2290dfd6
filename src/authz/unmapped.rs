//! A role guard behind issuers that map no roles can never pass. Reported
//! without the user calling anything, as one WARN on `oauth2_guard::authz`:
//!
//! - at start: when a role-only guard ([`RequireRole`](super::RequireRole)
//!   without [`or_scope`](super::RequireRole::or_scope)) and an
//!   [`AuthLayer`](crate::AuthLayer) whose issuers map no roles have both
//!   been built (the guard: applied to a route) — whichever comes second
//!   warns, once per (guard, layer);
//! - at the first request where a role-only guard (or
//!   [`HasRole`](super::HasRole)) refuses claims without roles whose issuer
//!   maps none — once per guard.
//!
//! `HasRole` is never built before a request, so it has no start warning;
//! [`check_roles_mapped`](super::check_roles_mapped) is its explicit
//! start-up check (as `RequireRole::checked_against` is the guard's).
//!
//! The process does not know which layer a guard sits behind, so the start
//! warning says "if": a process with one layer mapping roles and another
//! not may see it for a guard that is fine. A layer with
//! [`LazyIssuers`](crate::LazyIssuers) is never judged (its issuers are not
//! known at build).
//!
//! State: the non-mapping layers (at most [`MAX_LAYERS`], oldest
//! forgotten), the role-only guards' requirements, and every layer's
//! issuers with their role mapping, read lock-free on the refusal path.

use std::collections::{BTreeSet, VecDeque};
use std::sync::{Arc, LazyLock, Mutex};

use arc_swap::ArcSwap;

use crate::issuer::Issuer;
use crate::sync::lock;

const TARGET: &str = "oauth2_guard::authz";
/// Layers that map no roles remembered for the start check.
const MAX_LAYERS: usize = 64;
/// Issuers remembered for the request check.
const MAX_ISSUERS: usize = 256;

struct Layer {
    issuers: Arc<str>,
    /// The guards (roles text) already warned about for this layer.
    warned: BTreeSet<Arc<str>>,
}

#[derive(Default)]
struct Start {
    layers: VecDeque<Layer>,
    guards: BTreeSet<Arc<str>>,
}

static START: LazyLock<Mutex<Start>> = LazyLock::new(Default::default);

/// (issuer name or template, maps roles).
type Entry = (Arc<str>, bool);

/// The issuers of every layer built.
static ISSUERS: LazyLock<ArcSwap<Vec<Entry>>> = LazyLock::new(|| ArcSwap::from_pointee(Vec::new()));

/// Guards (roles text) warned about at request time.
static WARNED: LazyLock<ArcSwap<Vec<Arc<str>>>> =
    LazyLock::new(|| ArcSwap::from_pointee(Vec::new()));

fn warn_start(roles: &str, issuers: &str) {
    tracing::warn!(
        target: TARGET,
        check = "unmapped_roles",
        stage = "start",
        roles.required = roles,
        issuers,
        "a role guard and an AuthLayer whose issuers map no roles were built: \
         if the guard is behind that layer it can never pass \
         (map roles with IssuerBuilder::roles_from, or add RequireRole::or_scope)"
    );
}

/// An `AuthLayer` was built over `issuers`, with an introspector
/// (`introspected`: its issuer, whether it maps roles) and/or lazy issuers.
pub(crate) fn layer_built(issuers: &[Issuer], lazy: bool, introspected: Option<(&str, bool)>) {
    let mut entries: Vec<Entry> = issuers
        .iter()
        .map(|i| (i.name_arc().clone(), i.maps_roles()))
        .collect();
    if let Some((name, maps)) = introspected {
        entries.push((Arc::from(name), maps));
    }
    ISSUERS.rcu(|list| {
        let mut list = Vec::clone(list);
        list.retain(|e| !entries.contains(e));
        list.extend(entries.iter().cloned());
        let excess = list.len().saturating_sub(MAX_ISSUERS);
        list.drain(..excess);
        list
    });
    if lazy || entries.iter().any(|(_, maps)| *maps) {
        return;
    }
    let names: Vec<&str> = entries.iter().map(|(n, _)| &**n).collect();
    let mut layer = Layer {
        issuers: Arc::from(names.join(" ")),
        warned: BTreeSet::new(),
    };
    let mut start = lock(&START);
    for roles in &start.guards {
        warn_start(roles, &layer.issuers);
        layer.warned.insert(roles.clone());
    }
    if start.layers.len() >= MAX_LAYERS {
        start.layers.pop_front();
    }
    start.layers.push_back(layer);
}

/// A role-only guard was applied to a route (`roles`: its roles, comma-separated).
pub(crate) fn role_guard_built(roles: &str) {
    let roles: Arc<str> = Arc::from(roles);
    let mut start = lock(&START);
    start.guards.insert(roles.clone());
    for layer in &mut start.layers {
        if layer.warned.insert(roles.clone()) {
            warn_start(&roles, &layer.issuers);
        }
    }
}

/// A role-only guard refused claims that carry no role, issued by `iss`:
/// warn once per guard when every layer's issuer `iss` is maps no roles.
pub(crate) fn refused_without_roles(roles: &str, iss: &str) {
    if WARNED.load().iter().any(|r| **r == *roles) {
        return;
    }
    let issuers = ISSUERS.load();
    let mut matching = issuers
        .iter()
        .filter(|(name, _)| crate::ops::is_issuer(name, iss))
        .peekable();
    if matching.peek().is_none() || matching.any(|(_, maps)| *maps) {
        return;
    }
    let mut first = false;
    WARNED.rcu(|list| {
        let mut list = Vec::clone(list);
        first = !list.iter().any(|r| **r == *roles);
        if first {
            list.push(Arc::from(roles));
        }
        list
    });
    if first {
        tracing::warn!(
            target: TARGET,
            check = "unmapped_roles",
            stage = "request",
            roles.required = roles,
            issuer = iss,
            "a role guard met a token whose issuer maps no roles: it can never pass \
             (map roles with IssuerBuilder::roles_from, or add RequireRole::or_scope)"
        );
    }
}
