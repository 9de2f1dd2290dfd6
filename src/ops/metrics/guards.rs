//! The guard-denial registry: one counter per (`kind`, `required`),
//! registered as guards are built and renewed at every layer build.

use std::sync::{Arc, LazyLock};

use arc_swap::ArcSwap;
use metrics::{counter, Counter};

use crate::ops::names::*;

/// Guard denial counters by (`kind`, `required`), registered as guards are built.
/// (`kind`, `required`, counter).
type Denial = (&'static str, Arc<str>, Counter);

static DENIALS: LazyLock<ArcSwap<Vec<Denial>>> =
    LazyLock::new(|| ArcSwap::from_pointee(Vec::new()));

/// Renew every known denial counter (at layer build).
pub(super) fn renew_denials() {
    // Guards built before the recorder hold no-op handles; a guard built
    // again with the same requirement is not registered again, so renew
    // every known one here.
    DENIALS.store(Arc::new(
        DENIALS
            .load()
            .iter()
            .map(|(kind, required, _)| {
                let c =
                    counter!(AUTHZ_DENIALS, "kind" => *kind, "required" => required.to_string());
                (*kind, required.clone(), c)
            })
            .collect(),
    ));
}

/// Register the denial counter of a guard's requirement (at guard build).
pub(crate) fn register_guard(kind: &'static str, required: &str) {
    // The extractors build their requirement per request: a known one is
    // one lock-free read.
    if required.is_empty()
        || DENIALS
            .load()
            .iter()
            .any(|(k, r, _)| *k == kind && **r == *required)
    {
        return;
    }
    let c = counter!(AUTHZ_DENIALS, "kind" => kind, "required" => required.to_owned());
    let required: Arc<str> = Arc::from(required);
    DENIALS.rcu(|list| {
        let mut list: Vec<_> = list
            .iter()
            .filter(|(k, r, _)| !(*k == kind && *r == required))
            .cloned()
            .collect();
        list.push((kind, required.clone(), c.clone()));
        list
    });
}

pub(crate) fn authz_denied(kind: &'static str, required: &str) {
    if let Some((_, _, c)) = DENIALS
        .load()
        .iter()
        .find(|(k, r, _)| *k == kind && **r == *required)
    {
        c.increment(1);
    }
}
