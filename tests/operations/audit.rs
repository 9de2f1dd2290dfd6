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
    assert_eq!(guard["http.request.method"], "GET");
    assert_eq!(guard["http.route"], "/orders/{id}");

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

#[tokio::test]
async fn guard_events_name_the_method_the_route_and_the_missing_role() {
    use oauth2_guard::authz::RequireRole;
    use oauth2_guard::ClaimPath;

    let _serial = serial().await;
    let idp = MockIssuer::start().await;
    let issuer = idp
        .issuer_builder()
        .audience("orders-api")
        .roles_from(ClaimPath::parse("roles").unwrap())
        .build()
        .await
        .unwrap();
    let app = Router::new()
        .route(
            "/refunds/{id}",
            axum::routing::post(|| async { "ok" })
                .route_layer(RequireRole::all_of(["admin", "support"])),
        )
        .layer(common::orders_layer(issuer));
    let support = idp
        .token()
        .subject("carol")
        .claim("roles", serde_json::json!(["support"]))
        .sign();
    let both = idp
        .token()
        .subject("dave")
        .claim("roles", serde_json::json!(["admin", "support"]))
        .sign();
    let post = |token: &str| {
        Request::post("/refunds/7")
            .header("authorization", bearer(token))
            .body(Body::empty())
            .unwrap()
    };
    audit_events();

    let res = app.clone().oneshot(post(&support)).await.unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let events = audit_events();
    let refused = events
        .iter()
        .find(|e| e["stage"] == "authorize")
        .expect("a guard event");
    assert_eq!(refused["decision"], "refused");
    assert_eq!(refused["reason"], "insufficient_role");
    assert_eq!(refused["enduser.id"], "carol");
    assert_eq!(refused["http.request.method"], "POST");
    assert_eq!(refused["http.route"], "/refunds/{id}");
    assert_eq!(refused["roles.required"], "admin support");
    assert_eq!(refused["roles.missing"], "admin", "names what is lacking");
    assert_eq!(refused["roles.granted"], "support");

    let res = app.clone().oneshot(post(&both)).await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let events = audit_events();
    let allowed = events
        .iter()
        .find(|e| e["stage"] == "authorize")
        .expect("a guard event");
    assert_eq!(allowed["decision"], "allowed");
    assert_eq!(allowed["http.request.method"], "POST");
    assert_eq!(allowed["http.route"], "/refunds/{id}");
}

#[cfg(feature = "grpc")]
#[tokio::test]
async fn method_guards_refusing_an_unlisted_method_are_audited_and_counted() {
    use oauth2_guard::grpc::MethodGuards;
    use oauth2_guard::ops::names::AUTHZ_DENIALS;

    let _serial = serial().await;
    let idp = MockIssuer::start().await;
    let layer = common::orders_layer(common::orders_issuer(&idp).await);
    let guards =
        MethodGuards::new().method("/shop.v1.Orders/Get", RequireScope::new("orders:read"));
    let svc = tower::ServiceBuilder::new()
        .layer(layer)
        .layer(guards)
        .service(tower::service_fn(|_req: Request<Body>| async {
            Ok::<_, std::convert::Infallible>(http::Response::new(Body::empty()))
        }));
    let token = idp.token().subject("erin").scope("orders:read").sign();
    let labels = [("kind", "method"), ("required", "unlisted")];
    let before = scrape();
    assert!(
        before.contains_key(&series(AUTHZ_DENIALS, &labels)),
        "registered when the guards are built: {before:?}"
    );
    audit_events();

    let req = Request::post("/shop.v1.Admin/Purge")
        .header("authorization", bearer(&token))
        .header("content-type", "application/grpc")
        .header("te", "trailers")
        .body(Body::empty())
        .unwrap();
    let res = svc.clone().oneshot(req).await.unwrap();
    assert_eq!(res.headers()["grpc-status"], "7", "PERMISSION_DENIED");

    assert_eq!(delta(&before, &scrape(), AUTHZ_DENIALS, &labels), 1.0);
    let events = audit_events();
    let refused = events
        .iter()
        .find(|e| e["stage"] == "authorize")
        .expect("an audit event for the refusal");
    assert_eq!(refused["decision"], "refused");
    assert_eq!(refused["reason"], "unlisted_method");
    assert_eq!(refused["enduser.id"], "erin");
    assert_eq!(refused["http.request.method"], "POST");
    assert_eq!(refused["rpc.service"], "shop.v1.Admin");
    assert_eq!(refused["rpc.method"], "Purge");
    assert_eq!(
        refused["token.fingerprint"],
        Fingerprint::of(&token).to_string()
    );
}

oauth2_guard::scope!(AtFirstUse = "inventory:extractor-only");

#[tokio::test]
async fn guard_layers_are_listed_at_start_and_extractors_at_first_use() {
    use oauth2_guard::authz::{HasScope, RequireRole};

    let _serial = serial().await;
    let idp = MockIssuer::start().await;
    // The application as `main` builds it: guard layers on routes, and an
    // extractor on another route. No request yet.
    let app = Router::new()
        .route(
            "/reports",
            get(|| async { "ok" }).route_layer(RequireScope::new("inventory:reports")),
        )
        .route(
            "/purge",
            axum::routing::post(|| async { "ok" }).route_layer(RequireRole::new("inventory-admin")),
        )
        .route("/lazy", get(|_: HasScope<AtFirstUse>| async { "ok" }))
        .layer(common::orders_layer(common::orders_issuer(&idp).await));
    audit_events();
    oauth2_guard::audit::log_inventory();
    let events = audit_events();
    let line = events
        .iter()
        .find(|e| e["event"] == "inventory")
        .expect("the inventory line");
    let listed =
        |field: &str, name: &str| line[field].as_str().unwrap().split(' ').any(|s| s == name);
    assert!(listed("scopes.required", "inventory:reports"));
    assert!(listed("roles.required", "inventory-admin"));
    // The documented caveat: an extractor's requirement is recorded when
    // it first runs.
    assert!(!listed("scopes.required", "inventory:extractor-only"));

    let token = idp.token().scope("inventory:extractor-only").sign();
    let res = app
        .oneshot(get_with_auth("/lazy", bearer(&token)))
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert!(oauth2_guard::audit::required_scopes().contains(&"inventory:extractor-only".to_owned()));
}
