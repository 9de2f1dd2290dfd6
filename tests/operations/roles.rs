//! A role guard behind issuers that map no roles: one WARN on
//! `oauth2_guard::authz` at start (guard and layer, in either order) and at
//! the first request it refuses for that reason. Asserted on fields.

use super::*;
use oauth2_guard::authz::RequireRole;

/// The unmapped-roles warnings captured since the last call (their `fields`).
fn unmapped_warnings() -> Vec<serde_json::Map<String, Value>> {
    capture()
        .take()
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|v| v["target"] == "oauth2_guard::authz" && v["level"] == "WARN")
        .filter_map(|v| v["fields"].as_object().cloned())
        .filter(|f| f["check"] == "unmapped_roles")
        .collect()
}

/// A route behind `guard`. `with_state` finalises the router, as serving
/// it does: axum applies a handler's layers then.
fn guarded(guard: RequireRole) -> Router {
    Router::new()
        .route("/admin", get(|| async { "ok" }).route_layer(guard))
        .with_state(())
}

fn about<'a>(
    events: &'a [serde_json::Map<String, Value>],
    roles: &str,
) -> Vec<&'a serde_json::Map<String, Value>> {
    events
        .iter()
        .filter(|e| e["roles.required"] == roles)
        .collect()
}

/// The start warnings about `roles` naming the layer over `iss` (other
/// tests' layers of this process are named in warnings of their own: the
/// process cannot tell which layer a guard is behind).
fn at_start_for<'a>(
    events: &'a [serde_json::Map<String, Value>],
    roles: &str,
    iss: &str,
) -> Vec<&'a serde_json::Map<String, Value>> {
    about(events, roles)
        .into_iter()
        .filter(|e| e["stage"] == "start")
        .filter(|e| {
            e["issuers"]
                .as_str()
                .unwrap_or("")
                .split(' ')
                .any(|i| i == iss)
        })
        .collect()
}

#[tokio::test]
async fn a_role_guard_and_a_layer_without_role_mapping_warn_once_in_either_order() {
    let _serial = serial().await;
    let idp = MockIssuer::start().await;
    let iss = idp.issuer_url();
    let issuer = common::orders_issuer(&idp).await;
    unmapped_warnings();

    // Guard first, then the layer.
    let routes = guarded(RequireRole::new("ops2-first"));
    let app = routes.layer(common::orders_layer(issuer.clone()));
    let events = unmapped_warnings();
    assert_eq!(
        at_start_for(&events, "ops2-first", &iss).len(),
        1,
        "{events:?}"
    );

    // Layer first (above), then another guard: one warning for it.
    let _more = guarded(RequireRole::any_of(["ops2-second-a", "ops2-second-b"]));
    let events = unmapped_warnings();
    let second = at_start_for(&events, "ops2-second-a, ops2-second-b", &iss);
    assert_eq!(second.len(), 1, "{events:?}");
    assert_eq!(about(&events, "ops2-first").len(), 0, "once per pair");

    // A guard with a scope alternative can pass: no warning.
    let _either = guarded(RequireRole::new("ops2-or-scope").or_scope("orders:write"));
    // A layer whose issuer maps roles: no warning naming it.
    let mapped_idp = MockIssuer::start().await;
    let mapped = mapped_idp
        .issuer_builder()
        .audience("orders-api")
        .roles_from(oauth2_guard::ClaimPath::parse("roles").unwrap())
        .build()
        .await
        .unwrap();
    let _ok = common::orders_layer(mapped);
    let events = unmapped_warnings();
    assert!(about(&events, "ops2-or-scope").is_empty(), "{events:?}");
    assert!(
        !events.iter().any(|e| e["issuers"]
            .as_str()
            .unwrap_or("")
            .contains(&mapped_idp.issuer_url())),
        "{events:?}"
    );

    // The first refusal for that reason warns again (once per guard).
    let token = idp.token().scope("orders:write").sign();
    for _ in 0..2 {
        let res = app
            .clone()
            .oneshot(common::get_with_auth("/admin", bearer(&token)))
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::FORBIDDEN);
    }
    let events = unmapped_warnings();
    let at_request = about(&events, "ops2-first");
    assert_eq!(at_request.len(), 1, "{events:?}");
    assert_eq!(at_request[0]["stage"], "request");
    assert_eq!(at_request[0]["issuer"], iss);
}

#[tokio::test]
async fn a_token_of_an_issuer_that_maps_roles_but_lacks_the_role_does_not_warn() {
    let _serial = serial().await;
    let idp = MockIssuer::start().await;
    let issuer = idp
        .issuer_builder()
        .audience("orders-api")
        .roles_from(oauth2_guard::ClaimPath::parse("roles").unwrap())
        .build()
        .await
        .unwrap();
    let app = guarded(RequireRole::new("ops2-mapped")).layer(common::orders_layer(issuer));
    let token = idp.token().claim("roles", serde_json::json!([])).sign();
    unmapped_warnings();
    let res = app
        .clone()
        .oneshot(common::get_with_auth("/admin", bearer(&token)))
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let events = unmapped_warnings();
    // (A start warning may name another test's layer: the process cannot
    // tell which layer a guard is behind.)
    let at_request: Vec<_> = about(&events, "ops2-mapped")
        .into_iter()
        .filter(|e| e["stage"] == "request")
        .collect();
    assert!(at_request.is_empty(), "{events:?}");
}
