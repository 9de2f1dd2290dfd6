//! Multi-tenant issuers (one template, one shared key set, a tenant policy),
//! the `Tenant` extractor, and roles as first-class as scopes (`HasRole`,
//! role guards' 403s), through the real `AuthLayer` against a `MockIssuer`.
#![cfg(all(feature = "testkit", feature = "axum"))]
mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Body;
use axum::extract::Path;
use axum::routing::get;
use axum::{Extension, Router};
use http::{Response, StatusCode};
use http_body_util::BodyExt;
use oauth2_guard::authz::{AuthzRejection, HasRole, RequireRole, Tenant};
use oauth2_guard::presets::Entra;
use oauth2_guard::tenant::{TenantLookupConfig, TenantPolicy, MICROSOFT_PERSONAL_ACCOUNTS_TENANT};
use oauth2_guard::testkit::MockIssuer;
use oauth2_guard::{AuthLayer, ConfigError, Issuer, Reason, VerifiedClaims};
use serde_json::json;
use tower::ServiceExt;

use common::{bearer, challenge, get_with_auth, loopback, reason_of};

const A: &str = "aaaaaaaa-0000-4000-8000-00000000000a";
const B: &str = "bbbbbbbb-0000-4000-8000-00000000000b";
const C: &str = "cccccccc-0000-4000-8000-00000000000c";

/// The mock's issuer URL as an Entra-style template: `{url}/{tenantid}/v2.0`.
fn template(idp: &MockIssuer) -> String {
    format!("{}/{{tenantid}}/v2.0", idp.issuer_url())
}

fn iss_of(idp: &MockIssuer, tenant: &str) -> String {
    format!("{}/{tenant}/v2.0", idp.issuer_url())
}

/// An Entra multi-tenant preset on the mock (its keys are the shared set).
async fn multi(idp: &MockIssuer, entra: Entra) -> Issuer {
    entra
        .endpoints(&template(idp), &idp.jwks_url())
        .audience("orders-api")
        .builder()
        .expect("preset")
        .http(loopback())
        .build()
        .await
        .expect("issuer")
}

/// A v2 token of `tenant` (its `iss` and `tid` agree), distinct per `n`.
fn token(idp: &MockIssuer, tenant: &str, n: usize) -> String {
    idp.token()
        .issuer(&iss_of(idp, tenant))
        .subject(&format!("user-{n}"))
        .claim("tid", tenant)
        .claim("ver", "2.0")
        .sign()
}

async fn whoami(Extension(c): Extension<VerifiedClaims>) -> String {
    format!("{}|{}", c.tenant().unwrap_or("-"), c.issuer())
}

fn app(layer: AuthLayer) -> Router {
    Router::new().route("/x", get(whoami)).layer(layer)
}

async fn send(app: &Router, path: &str, token: &str) -> Response<Body> {
    tokio::time::timeout(
        Duration::from_secs(5),
        app.clone().oneshot(get_with_auth(path, bearer(token))),
    )
    .await
    .expect("answered in time")
    .expect("infallible")
}

async fn body(res: Response<Body>) -> String {
    String::from_utf8(res.into_body().collect().await.unwrap().to_bytes().to_vec()).unwrap()
}

#[tokio::test]
async fn two_allowed_tenants_and_one_refused_with_shared_keys() {
    let idp = MockIssuer::start().await;
    let issuer = multi(&idp, Entra::multi_tenant().allow_tenants([A, B])).await;
    assert!(issuer.is_multi_tenant());
    let app = app(AuthLayer::new(issuer));
    for tenant in [A, B] {
        let res = send(&app, "/x", &token(&idp, tenant, 1)).await;
        assert_eq!(res.status(), StatusCode::OK, "{tenant}");
        assert_eq!(
            body(res).await,
            format!("{tenant}|{}", iss_of(&idp, tenant))
        );
    }
    let res = send(&app, "/x", &token(&idp, C, 1)).await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(reason_of(&res), Some(Reason::TenantNotAllowed));
    assert!(challenge(&res).contains(r#"error="invalid_token""#));
}

#[tokio::test]
async fn iss_of_another_tenant_than_tid_is_refused() {
    let idp = MockIssuer::start().await;
    let app = app(AuthLayer::new(
        multi(&idp, Entra::multi_tenant().allow_tenants([A, B])).await,
    ));
    // Tenant A's token claiming tenant B's issuer (both allowed).
    let crossed = idp
        .token()
        .issuer(&iss_of(&idp, B))
        .claim("tid", A)
        .claim("ver", "2.0")
        .sign();
    let res = send(&app, "/x", &crossed).await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(reason_of(&res), Some(Reason::TenantMismatch));
    // No tenant claim at all.
    let no_tid = idp
        .token()
        .issuer(&iss_of(&idp, A))
        .claim("ver", "2.0")
        .sign();
    assert_eq!(
        reason_of(&send(&app, "/x", &no_tid).await),
        Some(Reason::TenantMismatch)
    );
    // The bare template as `iss`.
    let bare = idp
        .token()
        .issuer(&template(&idp))
        .claim("tid", A)
        .claim("ver", "2.0")
        .sign();
    assert_eq!(
        reason_of(&send(&app, "/x", &bare).await),
        Some(Reason::WrongIssuer)
    );
}

/// Counts lookups per tenant; allows `allowed`, after `delay`.
#[derive(Clone, Default)]
struct Lookups(Arc<Mutex<Vec<String>>>);

impl Lookups {
    fn policy(&self, allowed: &'static [&'static str], delay: Duration) -> TenantPolicy {
        self.policy_with(allowed, delay, TenantLookupConfig::default())
    }

    fn policy_with(
        &self,
        allowed: &'static [&'static str],
        delay: Duration,
        config: TenantLookupConfig,
    ) -> TenantPolicy {
        let seen = self.0.clone();
        TenantPolicy::lookup_with(
            move |tenant: String| {
                seen.lock().unwrap().push(tenant.clone());
                async move {
                    tokio::time::sleep(delay).await;
                    allowed.contains(&tenant.as_str())
                }
            },
            config,
        )
    }

    fn of(&self, tenant: &str) -> usize {
        self.0
            .lock()
            .unwrap()
            .iter()
            .filter(|t| *t == tenant)
            .count()
    }

    fn total(&self) -> usize {
        self.0.lock().unwrap().len()
    }
}

#[tokio::test]
async fn lookup_runs_once_per_new_tenant_and_never_for_a_known_one() {
    let idp = MockIssuer::start().await;
    let lookups = Lookups::default();
    let policy = lookups.policy(&[A, B], Duration::ZERO);
    let app = app(AuthLayer::new(
        multi(&idp, Entra::multi_tenant().tenant_policy(policy)).await,
    ));
    // Distinct tokens: each one is verified, none is a token-cache hit.
    for n in 0..3 {
        assert_eq!(send(&app, "/x", &token(&idp, A, n)).await.status(), 200);
        assert_eq!(send(&app, "/x", &token(&idp, B, n)).await.status(), 200);
        let res = send(&app, "/x", &token(&idp, C, n)).await;
        assert_eq!(reason_of(&res), Some(Reason::TenantNotAllowed));
    }
    // And the same token again (a token-cache hit asks the policy again).
    let again = token(&idp, A, 0);
    assert_eq!(send(&app, "/x", &again).await.status(), 200);
    assert_eq!((lookups.of(A), lookups.of(B), lookups.of(C)), (1, 1, 1));
    assert_eq!(lookups.total(), 3);
}

#[tokio::test]
async fn concurrent_first_requests_of_a_new_tenant_share_one_lookup() {
    let idp = MockIssuer::start().await;
    let lookups = Lookups::default();
    let policy = lookups.policy(&[A], Duration::from_millis(100));
    let app = app(AuthLayer::new(
        multi(&idp, Entra::multi_tenant().tenant_policy(policy)).await,
    ));
    let requests = (0..20).map(|n| {
        let app = app.clone();
        let token = token(&idp, A, n);
        async move { send(&app, "/x", &token).await.status() }
    });
    let statuses = futures_join_all(requests).await;
    assert!(
        statuses.iter().all(|s| *s == StatusCode::OK),
        "{statuses:?}"
    );
    assert_eq!(lookups.of(A), 1);
}

/// `join_all` without a futures dependency: spawn on the test runtime.
async fn futures_join_all<F>(futures: impl Iterator<Item = F>) -> Vec<StatusCode>
where
    F: std::future::Future<Output = StatusCode> + Send + 'static,
{
    let handles: Vec<_> = futures.map(tokio::spawn).collect();
    let mut out = Vec::new();
    for h in handles {
        out.push(h.await.expect("task"));
    }
    out
}

#[tokio::test]
async fn a_lookup_that_times_out_is_503_and_not_cached() {
    let idp = MockIssuer::start().await;
    let lookups = Lookups::default();
    let config = TenantLookupConfig::default().timeout(Duration::from_millis(50));
    let policy = lookups.policy_with(&[A], Duration::from_secs(10), config);
    let app = app(AuthLayer::new(
        multi(&idp, Entra::multi_tenant().tenant_policy(policy)).await,
    ));
    for n in 0..2 {
        let res = send(&app, "/x", &token(&idp, A, n)).await;
        assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(reason_of(&res), Some(Reason::TenantLookupUnavailable));
        assert!(res.headers().contains_key("retry-after"));
    }
    assert_eq!(lookups.of(A), 2, "an undecided lookup is not cached");
}

#[tokio::test]
async fn organizations_refuse_personal_accounts_and_consumers_only_take_them() {
    let idp = MockIssuer::start().await;
    let orgs = app(AuthLayer::new(
        multi(
            &idp,
            Entra::organizations().tenant_policy(TenantPolicy::any_tenant_dangerous()),
        )
        .await,
    ));
    assert_eq!(send(&orgs, "/x", &token(&idp, A, 0)).await.status(), 200);
    let res = send(
        &orgs,
        "/x",
        &token(&idp, MICROSOFT_PERSONAL_ACCOUNTS_TENANT, 0),
    )
    .await;
    assert_eq!(reason_of(&res), Some(Reason::TenantNotAllowed));

    let consumers = app(AuthLayer::new(multi(&idp, Entra::consumers()).await));
    let res = send(
        &consumers,
        "/x",
        &token(&idp, MICROSOFT_PERSONAL_ACCOUNTS_TENANT, 0),
    )
    .await;
    assert_eq!(res.status(), 200);
    assert_eq!(
        reason_of(&send(&consumers, "/x", &token(&idp, A, 0)).await),
        Some(Reason::TenantNotAllowed)
    );
}

#[tokio::test]
async fn v1_template_checks_ver_and_its_own_issuer_form() {
    let idp = MockIssuer::start().await;
    let issuer = Entra::multi_tenant()
        .v1()
        .allow_tenants([A])
        .endpoints(
            &format!("{}/sts/{{tenantid}}/", idp.issuer_url()),
            &idp.jwks_url(),
        )
        .audience("orders-api")
        .builder()
        .unwrap()
        .http(loopback())
        .build()
        .await
        .unwrap();
    let app = app(AuthLayer::new(issuer));
    let v1 = |ver: &str| {
        idp.token()
            .issuer(&format!("{}/sts/{A}/", idp.issuer_url()))
            .claim("tid", A)
            .claim("ver", ver)
            .sign()
    };
    assert_eq!(send(&app, "/x", &v1("1.0")).await.status(), 200);
    assert_eq!(
        reason_of(&send(&app, "/x", &v1("2.0")).await),
        Some(Reason::InvalidClaim)
    );
}

#[tokio::test]
async fn multi_tenant_apps_need_a_policy_and_templates_need_keys() {
    assert!(matches!(
        Entra::multi_tenant().audience("a").build_deferred(),
        Err(ConfigError::MissingSetting { .. })
    ));
    assert!(matches!(
        Issuer::builder("https://login.example.com/{tenantid}/v2.0")
            .audience("a")
            .tenants("tid", TenantPolicy::any_tenant_dangerous())
            .build_deferred(),
        Err(ConfigError::MissingSetting {
            setting: "jwks_uri",
            ..
        })
    ));
    // A template without `tenants(..)` is a mistake, not an issuer.
    assert!(matches!(
        Issuer::builder("https://login.example.com/{tenantid}/v2.0")
            .audience("a")
            .jwks_uri("https://login.example.com/keys")
            .build_deferred(),
        Err(ConfigError::InvalidUrl { .. })
    ));
}

#[tokio::test]
async fn tenant_extractor_scopes_a_route_to_the_token_tenant() {
    let idp = MockIssuer::start().await;
    let multi_issuer = multi(&idp, Entra::multi_tenant().allow_tenants([A, B])).await;
    let single = Issuer::builder("https://single.example.com")
        .audience("orders-api")
        .static_jwks(idp.jwks_json().to_string())
        .build()
        .await
        .unwrap();
    async fn orders(Path(tid): Path<String>, t: Tenant) -> Result<String, AuthzRejection> {
        t.require(&tid)?;
        Ok(format!("orders of {}", t.id()))
    }
    let app = Router::new().route("/t/{tid}/orders", get(orders)).layer(
        AuthLayer::builder()
            .issuer(multi_issuer)
            .issuer(single)
            .realm("orders")
            .build()
            .unwrap(),
    );
    let res = send(&app, &format!("/t/{A}/orders"), &token(&idp, A, 0)).await;
    assert_eq!(res.status(), 200);
    assert_eq!(body(res).await, format!("orders of {A}"));
    let res = send(&app, &format!("/t/{B}/orders"), &token(&idp, A, 0)).await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        challenge(&res),
        r#"Bearer realm="orders", error="insufficient_scope", error_description="The access token is not for this tenant""#
    );
    assert_eq!(body(res).await, "wrong tenant");
    let single_token = idp.token().issuer("https://single.example.com").sign();
    let res = send(&app, &format!("/t/{A}/orders"), &single_token).await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN, "no tenant: refused");
}

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

/// A layer that also introspects opaque tokens: a tenant token (its `iss`
/// fills the template, it names no configured issuer exactly) is still the
/// JWT verifier's, never sent to introspection; and a token-cache hit still
/// asks the tenant policy again.
#[cfg(feature = "introspection")]
#[tokio::test]
async fn tenant_tokens_stay_local_beside_introspection_and_cache_hits_ask_the_policy() {
    use oauth2_guard::introspection::Introspector;
    let idp = MockIssuer::start().await;
    idp.register_client("rs", "rs-secret");
    let lookups = Lookups::default();
    let policy = lookups.policy_with(
        &[A],
        Duration::ZERO,
        TenantLookupConfig::default().allowed_ttl(Duration::from_millis(200)),
    );
    let introspector = Introspector::builder(idp.issuer_url(), "rs")
        .client_secret("rs-secret")
        .audience("orders-api")
        .http(loopback())
        .build()
        .await
        .expect("introspector");
    let layer = AuthLayer::builder()
        .issuer(multi(&idp, Entra::multi_tenant().tenant_policy(policy)).await)
        .introspection(introspector)
        .build()
        .expect("layer");
    let app = app(layer);
    let t = token(&idp, A, 0);
    assert_eq!(send(&app, "/x", &t).await.status(), 200);
    assert_eq!(idp.introspection_requests(), 0, "verified locally");
    assert_eq!(lookups.of(A), 1);
    // Past the lookup's allowed_ttl: the cached token asks the policy again.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(send(&app, "/x", &t).await.status(), 200);
    assert_eq!(lookups.of(A), 2, "a token-cache hit re-admits its tenant");
    assert_eq!(idp.introspection_requests(), 0);
}
