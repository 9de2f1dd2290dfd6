//! RFC 9728 protected-resource metadata: the document, its well-known URLs,
//! and `resource_metadata` in the layer's challenges.
#![cfg(all(feature = "testkit", feature = "axum"))]

use std::time::Duration;

use axum::body::Body;
use axum::routing::get;
use axum::Router;
use http::{Request, Response, StatusCode};
use http_body_util::BodyExt;
use oauth2_guard::authz::RequireScope;
use oauth2_guard::layer::ProtectedResourceMetadata;
use oauth2_guard::testkit::MockIssuer;
use oauth2_guard::{AuthLayer, ConfigError, Reason, Rejection};
use serde_json::json;
use tower::ServiceExt;

const LIMIT: Duration = Duration::from_secs(10);

async fn get_path(app: &Router, path: &str, token: Option<&str>) -> Response<Body> {
    let mut req = Request::get(path);
    if let Some(t) = token {
        req = req.header("authorization", format!("Bearer {t}"));
    }
    tokio::time::timeout(LIMIT, app.clone().oneshot(req.body(Body::empty()).unwrap()))
        .await
        .expect("bounded")
        .unwrap()
}

async fn json_of(res: Response<Body>) -> serde_json::Value {
    let bytes = res.into_body().collect().await.unwrap().to_bytes();
    serde_json::from_slice(&bytes).unwrap()
}

fn www_authenticate(res: &Response<Body>) -> String {
    res.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .to_owned()
}

fn reason_of(res: &Response<Body>) -> Option<Reason> {
    res.extensions().get::<Rejection>().map(Rejection::reason)
}

#[tokio::test]
async fn document_served_at_the_path_suffixed_url_with_exact_fields() {
    let idp = MockIssuer::start().await;
    let issuer = idp
        .issuer_builder()
        .audience("orders-api")
        .build()
        .await
        .unwrap();
    let metadata = ProtectedResourceMetadata::builder("https://api.example.com/orders")
        .issuer(&issuer)
        .authorization_server("https://sso.example.com/realms/shop")
        .scopes_supported(["orders:read", "orders:write"])
        .resource_name("Orders API")
        .resource_documentation("https://docs.example.com/orders")
        .build()
        .unwrap();
    assert_eq!(
        metadata.well_known_url(),
        "https://api.example.com/.well-known/oauth-protected-resource/orders"
    );
    let app: Router = Router::new().merge(metadata.router());
    let res = get_path(&app, "/.well-known/oauth-protected-resource/orders", None).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["content-type"], "application/json");
    assert_eq!(res.headers()["cache-control"], "public, max-age=3600");
    assert_eq!(
        json_of(res).await,
        json!({
            "resource": "https://api.example.com/orders",
            "authorization_servers": [issuer.name(), "https://sso.example.com/realms/shop"],
            "scopes_supported": ["orders:read", "orders:write"],
            "bearer_methods_supported": ["header"],
            "resource_name": "Orders API",
            "resource_documentation": "https://docs.example.com/orders",
        })
    );
    // The unsuffixed URL names the host's root resource (RFC 9728 §3.1,
    // §3.3): not this document.
    let res = get_path(&app, "/.well-known/oauth-protected-resource", None).await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn root_resource_is_served_at_the_plain_url_with_defaults_only() {
    let metadata = ProtectedResourceMetadata::builder("https://api.example.com")
        .build()
        .unwrap();
    assert_eq!(
        metadata.well_known_url(),
        "https://api.example.com/.well-known/oauth-protected-resource"
    );
    let app: Router = metadata.router();
    let res = get_path(&app, "/.well-known/oauth-protected-resource", None).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(
        json_of(res).await,
        json!({
            "resource": "https://api.example.com",
            "bearer_methods_supported": ["header"],
        })
    );
    // Only GET (and HEAD, which axum derives from it).
    let post = Request::post("/.well-known/oauth-protected-resource")
        .body(Body::empty())
        .unwrap();
    let res = app.clone().oneshot(post).await.unwrap();
    assert_eq!(res.status(), StatusCode::METHOD_NOT_ALLOWED);
}

#[tokio::test]
async fn metadata_and_protected_routes_on_one_router() {
    let idp = MockIssuer::start().await;
    let issuer = idp
        .issuer_builder()
        .audience("orders-api")
        .build()
        .await
        .unwrap();
    let metadata = ProtectedResourceMetadata::builder("https://api.example.com/orders")
        .issuer(&issuer)
        .build()
        .unwrap();
    let auth = AuthLayer::builder()
        .issuer(issuer)
        .realm("orders")
        .resource_metadata(metadata.well_known_url())
        .build()
        .unwrap();
    let protected = Router::new()
        .route("/orders", get(|| async { "orders" }))
        .route(
            "/orders/write",
            get(|| async { "written" }).layer(RequireScope::all_of(["orders:write"])),
        )
        .layer(auth);
    let app = Router::new().merge(metadata.router()).merge(protected);

    // The document needs no token.
    let res = get_path(&app, "/.well-known/oauth-protected-resource/orders", None).await;
    assert_eq!(res.status(), StatusCode::OK);

    let rm = r#"resource_metadata="https://api.example.com/.well-known/oauth-protected-resource/orders""#;
    let res = get_path(&app, "/orders", None).await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(reason_of(&res), Some(Reason::MissingToken));
    assert_eq!(
        www_authenticate(&res),
        format!(r#"Bearer realm="orders", {rm}"#)
    );

    let expired = idp.token().audience("orders-api").expired().sign();
    let res = get_path(&app, "/orders", Some(&expired)).await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(reason_of(&res), Some(Reason::Expired));
    assert_eq!(
        www_authenticate(&res),
        format!(
            r#"Bearer realm="orders", error="invalid_token", error_description="The access token expired", {rm}"#
        )
    );

    let read_only = idp
        .token()
        .audience("orders-api")
        .scope("orders:read")
        .sign();
    let res = get_path(&app, "/orders/write", Some(&read_only)).await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        www_authenticate(&res),
        format!(
            r#"Bearer realm="orders", error="insufficient_scope", error_description="The access token lacks the required scope", scope="orders:write", {rm}"#
        )
    );

    let ok = idp.token().audience("orders-api").sign();
    let res = get_path(&app, "/orders", Some(&ok)).await;
    assert_eq!(res.status(), StatusCode::OK);
}

#[tokio::test]
async fn no_resource_metadata_unless_configured() {
    let idp = MockIssuer::start().await;
    let issuer = idp
        .issuer_builder()
        .audience("orders-api")
        .build()
        .await
        .unwrap();
    let auth = AuthLayer::builder()
        .issuer(issuer)
        .realm("orders")
        .build()
        .unwrap();
    let app = Router::new()
        .route("/orders", get(|| async { "orders" }))
        .layer(auth);
    let res = get_path(&app, "/orders", None).await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(www_authenticate(&res), r#"Bearer realm="orders""#);
    let res = get_path(&app, "/orders", Some("not.a.jwt")).await;
    assert!(!www_authenticate(&res).contains("resource_metadata"));
}

#[tokio::test]
async fn invalid_resource_metadata_urls_are_config_errors() {
    let idp = MockIssuer::start().await;
    let issuer = idp
        .issuer_builder()
        .audience("orders-api")
        .build()
        .await
        .unwrap();
    for bad in [
        "http://api.example.com/.well-known/oauth-protected-resource",
        "https://user:pw@api.example.com/.well-known/oauth-protected-resource",
        "https://api.example.com/.well-known/oauth-protected-resource#x",
        "https://api.example.com/a\"b",
        "/.well-known/oauth-protected-resource",
        "",
    ] {
        let err = AuthLayer::builder()
            .issuer(issuer.clone())
            .resource_metadata(bad)
            .build()
            .unwrap_err();
        assert!(
            matches!(
                err,
                ConfigError::InvalidUrl { .. }
                    | ConfigError::InsecureUrl { .. }
                    | ConfigError::InvalidHeaderValue { .. }
            ),
            "{bad}: {err:?}"
        );
    }
}

#[test]
fn invalid_resources_are_config_errors() {
    type Check = fn(&ConfigError) -> bool;
    let cases: &[(&str, Check)] = &[
        ("http://api.example.com", |e| {
            matches!(e, ConfigError::InsecureUrl { .. })
        }),
        ("https://u:p@api.example.com", |e| {
            matches!(e, ConfigError::InvalidUrl { .. })
        }),
        ("https://api.example.com/#top", |e| {
            matches!(e, ConfigError::InvalidUrl { .. })
        }),
        ("https://api.example.com/?tenant=a", |e| {
            matches!(e, ConfigError::InvalidUrl { .. })
        }),
        ("api.example.com", |e| {
            matches!(e, ConfigError::InvalidUrl { .. })
        }),
        ("https://api.example.com/a\"b", |e| {
            matches!(e, ConfigError::InvalidUrl { .. })
        }),
        ("https://api.example.com/:id", |e| {
            matches!(e, ConfigError::InvalidUrl { .. })
        }),
        ("ftp://api.example.com", |e| {
            matches!(e, ConfigError::InvalidUrl { .. })
        }),
    ];
    for (bad, expected) in cases {
        let err = ProtectedResourceMetadata::builder(*bad)
            .build()
            .unwrap_err();
        assert!(expected(&err), "{bad}: {err:?}");
    }
    let err = ProtectedResourceMetadata::builder("https://api.example.com")
        .authorization_server("http://sso.example.com")
        .build()
        .unwrap_err();
    assert!(matches!(err, ConfigError::InsecureUrl { .. }), "{err:?}");
    let err = ProtectedResourceMetadata::builder("https://api.example.com")
        .authorization_server("https://sso.example.com/?q=1")
        .build()
        .unwrap_err();
    assert!(matches!(err, ConfigError::InvalidUrl { .. }), "{err:?}");
    let err = ProtectedResourceMetadata::builder("https://api.example.com")
        .scopes_supported(["a b"])
        .build()
        .unwrap_err();
    assert!(matches!(err, ConfigError::InvalidScope { .. }), "{err:?}");
    let err = ProtectedResourceMetadata::builder("https://api.example.com")
        .resource_documentation("http://docs.example.com")
        .build()
        .unwrap_err();
    assert!(matches!(err, ConfigError::InsecureUrl { .. }), "{err:?}");
}

/// The inventory behind `scopes_from_guards` is process-wide: a guard on
/// any router counts, built before the document.
#[test]
fn scopes_from_guards_lists_every_guard_built_in_the_process() {
    let metadata_scope = "metadata-test:read";
    let elsewhere = "metadata-test:elsewhere";
    let _guarded: Router = Router::new().route(
        "/reports",
        get(|| async { "reports" }).layer(RequireScope::any_of([metadata_scope, "orders:read"])),
    );
    // Another router, never merged with the first.
    let _other: Router = Router::new().route(
        "/other",
        get(|| async { "other" }).layer(RequireScope::new(elsewhere)),
    );
    let m = ProtectedResourceMetadata::builder("https://api.example.com")
        .scopes_supported(["orders:read"])
        .scopes_from_guards()
        .build()
        .unwrap();
    let v: serde_json::Value = serde_json::from_str(m.json()).unwrap();
    let scopes: Vec<&str> = v["scopes_supported"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap())
        .collect();
    assert!(scopes.contains(&metadata_scope), "{scopes:?}");
    assert!(scopes.contains(&elsewhere), "{scopes:?}");
    // Listed once, though named twice.
    assert_eq!(scopes.iter().filter(|s| **s == "orders:read").count(), 1);
    // A scope no guard requires is not invented.
    assert!(!scopes.contains(&"metadata-test:never"), "{scopes:?}");
}

#[cfg(feature = "dpop")]
#[tokio::test]
async fn dpop_fields_follow_the_layer() {
    use oauth2_guard::dpop::DpopConfig;
    use oauth2_guard::Algorithm;

    let idp = MockIssuer::start().await;
    let issuer = || async {
        idp.issuer_builder()
            .audience("orders-api")
            .build()
            .await
            .unwrap()
    };
    let dpop = || {
        DpopConfig::builder("https://api.example.com")
            .algorithms([Algorithm::ES256, Algorithm::PS256])
            .build()
            .unwrap()
    };
    let fields = |layer: &AuthLayer| {
        let m = ProtectedResourceMetadata::builder("https://api.example.com")
            .dpop_from_layer(layer)
            .build()
            .unwrap();
        let v: serde_json::Value = serde_json::from_str(m.json()).unwrap();
        (
            v.get("dpop_signing_alg_values_supported").cloned(),
            v.get("dpop_bound_access_tokens_required").cloned(),
        )
    };
    let required = AuthLayer::builder()
        .issuer(issuer().await)
        .dpop(dpop())
        .require_dpop()
        .build()
        .unwrap();
    assert_eq!(
        fields(&required),
        (Some(json!(["ES256", "PS256"])), Some(json!(true)))
    );
    let beside_bearer = AuthLayer::builder()
        .issuer(issuer().await)
        .dpop(dpop())
        .build()
        .unwrap();
    assert_eq!(
        fields(&beside_bearer),
        (Some(json!(["ES256", "PS256"])), None)
    );
    // A layer without DPoP clears what was set by hand.
    let plain = AuthLayer::builder().issuer(issuer().await).build().unwrap();
    let m = ProtectedResourceMetadata::builder("https://api.example.com")
        .dpop(&dpop())
        .dpop_bound_access_tokens_required(true)
        .dpop_from_layer(&plain)
        .build()
        .unwrap();
    assert!(!m.json().contains("dpop"), "{}", m.json());
    // Required without any algorithm: a configuration error.
    let err = ProtectedResourceMetadata::builder("https://api.example.com")
        .dpop_bound_access_tokens_required(true)
        .build()
        .unwrap_err();
    assert!(
        matches!(
            err,
            ConfigError::MissingSetting {
                setting: "dpop",
                ..
            }
        ),
        "{err:?}"
    );
}
