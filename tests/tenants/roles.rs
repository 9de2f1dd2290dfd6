//! Roles as first-class as scopes: `HasRole`, role guards' 403s and log
//! fields, role guards no issuer can satisfy.

use std::sync::{Arc, Mutex};

use axum::routing::get;
use axum::Router;
use http::StatusCode;
use oauth2_guard::authz::{check_roles_mapped, AuthzRejection, HasRole, RequireRole};
use oauth2_guard::testkit::MockIssuer;
use oauth2_guard::{AuthLayer, ConfigError};
use serde_json::json;

use super::common::challenge;
use super::{body, send};

oauth2_guard::role!(Admin = "admin");

/// Records the `missing_roles` and `required_roles` fields of authz events.
#[derive(Clone, Default)]
struct Fields(Arc<Mutex<Vec<(String, String)>>>);

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for Fields {
    fn on_event(&self, event: &tracing::Event<'_>, _: tracing_subscriber::layer::Context<'_, S>) {
        struct V(Vec<(String, String)>);
        impl tracing::field::Visit for V {
            fn record_str(&mut self, f: &tracing::field::Field, v: &str) {
                self.0.push((f.name().to_owned(), v.to_owned()));
            }
            fn record_debug(&mut self, f: &tracing::field::Field, v: &dyn std::fmt::Debug) {
                self.0.push((f.name().to_owned(), format!("{v:?}")));
            }
        }
        if event.metadata().target() != "oauth2_guard::authz" {
            return;
        }
        let mut v = V(Vec::new());
        event.record(&mut v);
        self.0.lock().unwrap().extend(v.0);
    }
}

impl Fields {
    fn get(&self, name: &str) -> Vec<String> {
        let all = self.0.lock().unwrap();
        all.iter()
            .filter(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
            .collect()
    }
}

fn roles_issuer_builder(idp: &MockIssuer) -> oauth2_guard::IssuerBuilder {
    idp.issuer_builder()
        .audience("orders-api")
        .roles_from(oauth2_guard::ClaimPath::key("roles").unwrap())
}

#[tokio::test(flavor = "current_thread")]
async fn has_role_and_role_guards_name_the_missing_role() {
    use tracing_subscriber::layer::SubscriberExt;
    let fields = Fields::default();
    let _guard =
        tracing::subscriber::set_default(tracing_subscriber::registry().with(fields.clone()));
    let idp = MockIssuer::start().await;
    let issuer = roles_issuer_builder(&idp).build().await.unwrap();
    async fn purge(t: HasRole<Admin>) -> String {
        format!("purged by {}", t.subject().unwrap_or("-"))
    }
    let app = Router::new()
        .route("/purge", get(purge))
        .route(
            "/staff",
            get(|| async { "staff" }).layer(RequireRole::all_of(["admin", "support"])),
        )
        .layer(
            AuthLayer::builder()
                .issuer(issuer)
                .realm("orders")
                .build()
                .unwrap(),
        );
    let with_roles =
        |roles: serde_json::Value| idp.token().subject("alice").claim("roles", roles).sign();

    let res = send(&app, "/purge", &with_roles(json!(["admin"]))).await;
    assert_eq!(res.status(), 200);
    assert_eq!(body(res).await, "purged by alice");

    let res = send(&app, "/purge", &with_roles(json!(["user"]))).await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        challenge(&res),
        r#"Bearer realm="orders", error="insufficient_scope", error_description="The access token lacks the required role""#
    );
    let rejection = res
        .extensions()
        .get::<AuthzRejection>()
        .cloned()
        .expect("rejection");
    assert_eq!(
        rejection.kind(),
        oauth2_guard::authz::AuthzFailure::InsufficientRole
    );
    assert_eq!(rejection.missing_roles(), Some("admin"));
    assert_eq!(body(res).await, "missing role(s): admin");

    // All of two: the body names only the one the token lacks.
    let res = send(&app, "/staff", &with_roles(json!(["support"]))).await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert_eq!(body(res).await, "missing role(s): admin");
    assert_eq!(
        send(&app, "/staff", &with_roles(json!(["support", "admin"])))
            .await
            .status(),
        200
    );
    // The log names them too (it said required="" for role guards).
    assert_eq!(fields.get("missing_roles"), ["admin", "admin"]);
    assert_eq!(fields.get("required_roles"), ["admin", "admin, support"]);
}

#[tokio::test]
async fn a_role_guard_no_issuer_can_satisfy_is_a_config_error() {
    let idp = MockIssuer::start().await;
    let no_roles = idp
        .issuer_builder()
        .audience("orders-api")
        .build()
        .await
        .unwrap();
    let roles = roles_issuer_builder(&idp).build().await.unwrap();
    assert!(!no_roles.maps_roles() && roles.maps_roles());
    match RequireRole::any_of(["admin", "ops"]).checked_against([&no_roles]) {
        Err(ConfigError::InvalidRole { role, .. }) => assert_eq!(role, "admin, ops"),
        other => panic!("{other:?}"),
    }
    assert!(RequireRole::new("admin")
        .checked_against([&no_roles, &roles])
        .is_ok());
    // With a scope alternative the guard can pass.
    assert!(RequireRole::new("admin")
        .or_scope("orders:admin")
        .checked_against([&no_roles])
        .is_ok());
    // The extractor's check.
    match check_roles_mapped::<Admin>([&no_roles]) {
        Err(ConfigError::InvalidRole { role, .. }) => assert_eq!(role, "admin"),
        other => panic!("{other:?}"),
    }
    assert!(check_roles_mapped::<Admin>([&no_roles, &roles]).is_ok());
    assert!(check_roles_mapped::<Admin>([]).is_err());
}

#[tokio::test]
async fn role_or_scope_guard() {
    let idp = MockIssuer::start().await;
    let issuer = roles_issuer_builder(&idp).build().await.unwrap();
    let app = Router::new()
        .route(
            "/ops",
            get(|| async { "ok" }).layer(RequireRole::new("ops").or_scope("ops:write")),
        )
        .layer(
            AuthLayer::builder()
                .issuer(issuer)
                .realm("orders")
                .build()
                .unwrap(),
        );
    let tok = |scope: &str, roles: serde_json::Value| {
        idp.token().scope(scope).claim("roles", roles).sign()
    };
    assert_eq!(
        send(&app, "/ops", &tok("ops:write", json!([])))
            .await
            .status(),
        200
    );
    assert_eq!(
        send(&app, "/ops", &tok("x", json!(["ops"]))).await.status(),
        200
    );
    let res = send(&app, "/ops", &tok("x", json!(["user"]))).await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        challenge(&res),
        r#"Bearer realm="orders", error="insufficient_scope", error_description="The access token lacks the required scope", scope="ops:write""#
    );
    assert_eq!(body(res).await, "missing role(s): ops");
}
