//! The audit trail and the scope inventory.

use super::*;

#[tokio::test]
async fn audit_events_carry_who_what_where_and_never_the_token() {
    let _serial = serial().await;
    let idp = MockIssuer::start().await;
    let app = app(common::orders_layer(common::orders_issuer(&idp).await));
    let writer = idp
        .token()
        .subject("alice")
        .scope("orders:write")
        .claim("client_id", "shop")
        .sign();
    let reader = idp.token().subject("bob").scope("orders:read").sign();
    let expired = idp.token().expired().sign();
    audit_events();

    assert_eq!(call(&app, Some(&writer)).await.status(), StatusCode::OK);
    let events = audit_events();
    assert_eq!(events.len(), 2, "{events:?}");
    let (layer, guard) = (&events[0], &events[1]);
    assert_eq!(layer["decision"], "allowed");
    assert_eq!(layer["stage"], "authenticate");
    assert_eq!(layer["enduser.id"], "alice");
    assert_eq!(layer["client_id"], "shop");
    assert_eq!(layer["issuer"], idp.issuer_url());
    assert_eq!(layer["http.request.method"], "GET");
    assert_eq!(layer["http.route"], "/orders/{id}");
    assert_eq!(
        layer["token.fingerprint"],
        Fingerprint::of(&writer).to_string()
    );
    assert_eq!(guard["decision"], "allowed");
    assert_eq!(guard["stage"], "authorize");
    assert_eq!(guard["scopes.required"], "orders:write");
    assert_eq!(guard["scopes.granted"], "orders:write");

    assert_eq!(
        call(&app, Some(&reader)).await.status(),
        StatusCode::FORBIDDEN
    );
    let events = audit_events();
    let denied = events.last().unwrap();
    assert_eq!(denied["decision"], "refused");
    assert_eq!(denied["reason"], "insufficient_scope");
    assert_eq!(denied["enduser.id"], "bob");
    assert_eq!(denied["scopes.granted"], "orders:read");

    call(&app, Some(&expired)).await;
    let events = audit_events();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["decision"], "refused");
    assert_eq!(events[0]["reason"], "expired");
    assert_eq!(
        events[0]["token.fingerprint"],
        Fingerprint::of(&expired).to_string()
    );

    // The whole capture of these requests never holds a token.
    call(&app, Some(&writer)).await;
    let text = capture().take();
    assert!(text.contains("oauth2_guard::audit"));
    for t in [&writer, &reader, &expired] {
        assert!(!text.contains(t.as_str()));
    }
}

#[tokio::test]
async fn allowed_decisions_are_sampled_and_refusals_never() {
    let _serial = serial().await;
    let idp = MockIssuer::start().await;
    let app = common::ok_app(common::orders_layer(common::orders_issuer(&idp).await));
    let token = idp.token().sign();
    let expired = idp.token().expired().sign();
    oauth2_guard::audit::sample_allowed(NonZeroU32::new(3).unwrap());
    audit_events();
    for _ in 0..6 {
        let ok = app
            .clone()
            .oneshot(get_with_auth("/x", bearer(&token)))
            .await
            .unwrap();
        assert_eq!(ok.status(), StatusCode::OK);
        let no = app
            .clone()
            .oneshot(get_with_auth("/x", bearer(&expired)))
            .await
            .unwrap();
        assert_eq!(no.status(), StatusCode::UNAUTHORIZED);
    }
    oauth2_guard::audit::sample_allowed(NonZeroU32::MIN);
    let events = audit_events();
    let count = |d: &str| events.iter().filter(|e| e["decision"] == d).count();
    assert_eq!(count("allowed"), 2, "1 in 3 of 6");
    assert_eq!(count("refused"), 6, "refusals are never sampled");
}

#[tokio::test]
async fn guards_build_the_scope_inventory() {
    let _serial = serial().await;
    let _guard = RequireScope::all_of(["inventory:read", "inventory:write"]);
    let scopes = oauth2_guard::audit::required_scopes();
    assert!(scopes.contains(&"inventory:read".to_owned()));
    assert!(scopes.contains(&"inventory:write".to_owned()));
    audit_events();
    oauth2_guard::audit::log_inventory();
    let events = audit_events();
    let listed = events[0]["scopes.required"].as_str().unwrap();
    assert!(listed.split(' ').any(|s| s == "inventory:write"));
}
