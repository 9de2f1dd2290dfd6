//! The audit trail: one structured `tracing` event per decision, on target
//! `oauth2_guard::audit`, and the inventory of the scopes and roles the
//! application's guards require.
//!
//! ```
//! use oauth2_guard::authz::RequireScope;
//!
//! // Guards declare what they need; the inventory collects it as they are built.
//! let _guard = RequireScope::new("orders:write");
//! assert!(oauth2_guard::audit::required_scopes().contains(&"orders:write".to_owned()));
//! oauth2_guard::audit::log_inventory(); // one INFO line listing them
//! ```
//!
//! # The inventory: what it lists, and when
//! Guard *layers* ([`RequireScope`](crate::authz::RequireScope),
//! [`RequireRole`](crate::authz::RequireRole) and their combinators, and
//! the rules of `grpc::MethodGuards`) record their requirement when they
//! are built, so a [`log_inventory`] call after the router is built lists
//! them all. The [`HasScope`](crate::authz::HasScope) /
//! [`HasRole`](crate::authz::HasRole) *extractors* are types, not values:
//! nothing of them exists until a request runs one, so their requirement
//! is recorded at its first use — a start-up inventory misses a scope that
//! only an extractor requires. Name such scopes in a guard layer too, or
//! log the inventory again later (it grows, never shrinks).
//!
//! # Events
//! Route the target to its own sink (for example with
//! `tracing_subscriber`'s `Targets` filter) to keep an audit log apart
//! from the operational one. Field names follow OpenTelemetry semantic
//! conventions where one exists.
//!
//! | field | what |
//! |---|---|
//! | `decision` | `allowed`, `refused` or `anonymous` |
//! | `stage` | `authenticate` (the layer: is the token valid?) or `authorize` (a guard: does it grant what the route requires?) |
//! | `reason` | the [`Reason`](crate::Reason) code of a refusal, `insufficient_scope` / `insufficient_role` of a guard's, else `none` |
//! | `issuer` | the issuer (for a refused token: the `iss` it claims, unverified) |
//! | `enduser.id` | the subject (`sub`) of a verified token |
//! | `client_id` | the client (`client_id` / `azp`) of a verified token |
//! | `scopes.required`, `roles.required` | what the guard requires (space-separated names; absent at the layer) |
//! | `roles.missing` | on a guard's refusal: the required roles the token lacks (space-separated; for an "any of" guard every listed role, since it holds none; empty for a scope-only guard) |
//! | `scopes.granted`, `roles.granted` | what the verified token grants (space-separated) |
//! | `http.request.method` | the method (layer and guard events; absent on a guard event when the caller checked bare extensions, as `HasScope::from_extensions` does) |
//! | `http.route` | the matched route template (axum `MatchedPath`), never the raw path |
//! | `rpc.service`, `rpc.method` | a gRPC method that `grpc::MethodGuards` (feature `grpc`) refused because no rule lists it (reason `unlisted_method`) |
//! | `token.fingerprint` | the token's [`Fingerprint`](crate::Fingerprint) — never the token |
//!
//! Refused decisions are written at WARN, allowed and anonymous ones at INFO.
//!
//! # Sampling
//! | setting | default | why |
//! |---|---|---|
//! | [`sample_allowed`] | every allowed decision (`1`) | an audit trail that drops events by default is not one; busy services opt in to 1-in-N |
//! | refusals | never sampled | they are the events an investigation needs |

use std::collections::BTreeSet;
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::Mutex;

use crate::claims::VerifiedClaims;
use crate::error::Rejection;
use crate::layer::RequestHead;

const TARGET: &str = "oauth2_guard::audit";

static ONE_IN: AtomicU32 = AtomicU32::new(1);
static ALLOWED_SEEN: AtomicU64 = AtomicU64::new(0);

/// Write one event for every `one_in` allowed decisions (process-wide;
/// deterministic: the 1st, the `one_in + 1`-th, …). Refusals are always
/// written. The default is `1`: every decision.
pub fn sample_allowed(one_in: NonZeroU32) {
    ONE_IN.store(one_in.get(), Ordering::Relaxed);
}

fn keep_allowed() -> bool {
    let n = u64::from(ONE_IN.load(Ordering::Relaxed));
    n <= 1
        || ALLOWED_SEEN
            .fetch_add(1, Ordering::Relaxed)
            .is_multiple_of(n)
}

fn route(ext: &http::Extensions) -> Option<&str> {
    #[cfg(feature = "axum")]
    {
        ext.get::<axum::extract::MatchedPath>().map(|m| m.as_str())
    }
    #[cfg(not(feature = "axum"))]
    {
        let _ = ext;
        None
    }
}

fn enabled() -> bool {
    tracing::enabled!(target: TARGET, tracing::Level::WARN)
}

pub(crate) fn layer_allowed(head: &RequestHead<'_>, c: &VerifiedClaims) {
    if !enabled() || !keep_allowed() {
        return;
    }
    tracing::info!(
        target: TARGET,
        decision = "allowed",
        stage = "authenticate",
        reason = "none",
        issuer = c.issuer(),
        enduser.id = c.subject(),
        client_id = c.client_id(),
        scopes.granted = c.scopes().join(" "),
        roles.granted = c.roles().join(" "),
        http.request.method = head.method.as_str(),
        http.route = route(head.extensions),
        token.fingerprint = %c.fingerprint(),
        "access decision"
    );
}

pub(crate) fn layer_refused(head: &RequestHead<'_>, r: &Rejection) {
    if !enabled() {
        return;
    }
    tracing::warn!(
        target: TARGET,
        decision = "refused",
        stage = "authenticate",
        reason = r.reason.code(),
        issuer = r.issuer.as_deref(),
        http.request.method = head.method.as_str(),
        http.route = route(head.extensions),
        token.fingerprint = r.fingerprint.map(|f| f.to_string()),
        "access decision"
    );
}

pub(crate) fn layer_anonymous(head: &RequestHead<'_>) {
    if !enabled() || !keep_allowed() {
        return;
    }
    tracing::info!(
        target: TARGET,
        decision = "anonymous",
        stage = "authenticate",
        reason = "none",
        http.request.method = head.method.as_str(),
        http.route = route(head.extensions),
        "access decision"
    );
}

/// A guard's decision on verified claims (`refused`: the failure code).
/// `roles`: the guard's required role names; `method`: the request's
/// method (`None` when only the extensions were given, as with
/// `HasScope::from_extensions`).
pub(crate) fn guard(
    method: Option<&http::Method>,
    ext: &http::Extensions,
    c: &VerifiedClaims,
    scopes: &str,
    roles: &[String],
    refused: Option<&'static str>,
) {
    if !enabled() || (refused.is_none() && !keep_allowed()) {
        return;
    }
    let required_roles = roles.join(" ");
    let method = method.map(http::Method::as_str);
    match refused {
        Some(reason) => {
            // What the token lacks: for "all of", the roles it does not
            // hold; for "any of", every listed role (it holds none).
            let missing: Vec<&str> = roles
                .iter()
                .map(String::as_str)
                .filter(|r| !c.has_role(r))
                .collect();
            tracing::warn!(
                target: TARGET,
                decision = "refused",
                stage = "authorize",
                reason,
                issuer = c.issuer(),
                enduser.id = c.subject(),
                client_id = c.client_id(),
                scopes.required = scopes,
                roles.required = required_roles.as_str(),
                roles.missing = missing.join(" "),
                scopes.granted = c.scopes().join(" "),
                roles.granted = c.roles().join(" "),
                http.request.method = method,
                http.route = route(ext),
                token.fingerprint = %c.fingerprint(),
                "access decision"
            )
        }
        None => tracing::info!(
            target: TARGET,
            decision = "allowed",
            stage = "authorize",
            reason = "none",
            issuer = c.issuer(),
            enduser.id = c.subject(),
            client_id = c.client_id(),
            scopes.required = scopes,
            roles.required = required_roles.as_str(),
            scopes.granted = c.scopes().join(" "),
            roles.granted = c.roles().join(" "),
            http.request.method = method,
            http.route = route(ext),
            token.fingerprint = %c.fingerprint(),
            "access decision"
        ),
    }
}

/// `MethodGuards` refused a gRPC method that no rule lists (`path`:
/// `/package.Service/Method`, written as `rpc.service` and `rpc.method`;
/// the caller chose it, so it is never a metric label).
#[cfg(feature = "grpc")]
pub(crate) fn unlisted_method(method: &http::Method, path: &str, ext: &http::Extensions) {
    if !enabled() {
        return;
    }
    let (service, rpc) = path
        .strip_prefix('/')
        .and_then(|p| p.split_once('/'))
        .unwrap_or(("", path));
    let c = ext.get::<VerifiedClaims>();
    tracing::warn!(
        target: TARGET,
        decision = "refused",
        stage = "authorize",
        reason = "unlisted_method",
        issuer = c.map(VerifiedClaims::issuer),
        enduser.id = c.and_then(VerifiedClaims::subject),
        client_id = c.and_then(VerifiedClaims::client_id),
        scopes.granted = c.map(|c| c.scopes().join(" ")),
        roles.granted = c.map(|c| c.roles().join(" ")),
        http.request.method = method.as_str(),
        rpc.service = service,
        rpc.method = rpc,
        token.fingerprint = c.map(|c| c.fingerprint().to_string()),
        "access decision"
    );
}

/// What guards require, collected as they are built.
static INVENTORY: Mutex<(BTreeSet<String>, BTreeSet<String>)> =
    Mutex::new((BTreeSet::new(), BTreeSet::new()));

/// Record a guard's requirement (at guard build).
///
/// The `HasScope` / `HasRole` extractors build their requirement on every
/// request: a requirement already known costs one lock-free read, and the
/// lock is taken only for a name never seen.
pub(crate) fn record_requirement(scopes: &[String], roles: &[String]) {
    let known = KNOWN.load();
    if scopes.iter().all(|s| known.0.contains(s)) && roles.iter().all(|r| known.1.contains(r)) {
        return;
    }
    let mut inv = crate::sync::lock(&INVENTORY);
    inv.0.extend(scopes.iter().cloned());
    inv.1.extend(roles.iter().cloned());
    KNOWN.store(std::sync::Arc::new(inv.clone()));
}

/// A lock-free copy of [`INVENTORY`], for the repeat check above.
static KNOWN: std::sync::LazyLock<arc_swap::ArcSwap<(BTreeSet<String>, BTreeSet<String>)>> =
    std::sync::LazyLock::new(Default::default);

/// Every scope a guard built so far in this process requires, sorted
/// (an extractor's only once it has run: see
/// [the inventory](self#the-inventory-what-it-lists-and-when)).
/// Feed it to RFC 9728 metadata with
/// [`ProtectedResourceMetadataBuilder::scopes_from_guards`](crate::layer::ProtectedResourceMetadataBuilder::scopes_from_guards).
pub fn required_scopes() -> Vec<String> {
    crate::sync::lock(&INVENTORY).0.iter().cloned().collect()
}

/// Every role a guard built so far in this process requires, sorted
/// (an extractor's only once it has run).
pub fn required_roles() -> Vec<String> {
    crate::sync::lock(&INVENTORY).1.iter().cloned().collect()
}

/// One INFO event on `oauth2_guard::audit` listing the inventory
/// (`scopes.required`, `roles.required`): call it once the routes are
/// built. It lists every guard layer built so far; the `HasScope` /
/// `HasRole` extractors appear once a request has run them.
pub fn log_inventory() {
    tracing::info!(
        target: TARGET,
        event = "inventory",
        scopes.required = required_scopes().join(" "),
        roles.required = required_roles().join(" "),
        "scope inventory"
    );
}
