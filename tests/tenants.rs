//! Multi-tenant issuers (one template, one shared key set, a tenant policy),
//! the `Tenant` extractor, and roles as first-class as scopes (`HasRole`,
//! role guards' 403s), through the real `AuthLayer` against a `MockIssuer`.
#![cfg(all(feature = "testkit", feature = "axum"))]
mod common;
#[path = "tenants/lookup.rs"]
mod lookup;
#[path = "tenants/roles.rs"]
mod roles;

use std::time::Duration;

use axum::body::Body;
use axum::extract::Path;
use axum::routing::get;
use axum::{Extension, Router};
use http::{Response, StatusCode};
use http_body_util::BodyExt;
use oauth2_guard::authz::{AuthzRejection, Tenant};
use oauth2_guard::presets::Entra;
use oauth2_guard::tenant::{TenantPolicy, MICROSOFT_PERSONAL_ACCOUNTS_TENANT};
use oauth2_guard::testkit::MockIssuer;
use oauth2_guard::{AuthLayer, ConfigError, Issuer, Reason, VerifiedClaims};
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

/// The README's "to accept both, add two issuers": one layer with the v2
/// and the v1 multi-tenant issuers accepts both token versions of an
/// allowed tenant, each only in its own issuer form.
#[tokio::test]
async fn v1_and_v2_tokens_through_two_issuers_in_one_layer() {
    let idp = MockIssuer::start().await;
    let v1_template = format!("{}/sts/{{tenantid}}/", idp.issuer_url());
    let v1 = Entra::multi_tenant()
        .v1()
        .allow_tenants([A])
        .endpoints(&v1_template, &idp.jwks_url())
        .audience("orders-api")
        .builder()
        .unwrap()
        .http(loopback())
        .build()
        .await
        .unwrap();
    let v2 = multi(&idp, Entra::multi_tenant().allow_tenants([A])).await;
    let app = app(AuthLayer::builder().issuer(v2).issuer(v1).build().unwrap());
    let v1_iss = format!("{}/sts/{A}/", idp.issuer_url());
    let sign = |iss: &str, ver: &str| {
        idp.token()
            .issuer(iss)
            .claim("tid", A)
            .claim("ver", ver)
            .sign()
    };
    let res = send(&app, "/x", &sign(&iss_of(&idp, A), "2.0")).await;
    assert_eq!(res.status(), 200);
    assert_eq!(body(res).await, format!("{A}|{}", iss_of(&idp, A)));
    let res = send(&app, "/x", &sign(&v1_iss, "1.0")).await;
    assert_eq!(res.status(), 200);
    assert_eq!(body(res).await, format!("{A}|{v1_iss}"));
    // Each version only in its own issuer form.
    for (iss, ver) in [(v1_iss.as_str(), "2.0"), (&iss_of(&idp, A), "1.0")] {
        let res = send(&app, "/x", &sign(iss, ver)).await;
        assert_eq!(reason_of(&res), Some(Reason::InvalidClaim), "{iss} {ver}");
    }
    // A v1 token of a tenant not allowed.
    let other = idp
        .token()
        .issuer(&format!("{}/sts/{B}/", idp.issuer_url()))
        .claim("tid", B)
        .claim("ver", "1.0")
        .sign();
    assert_eq!(
        reason_of(&send(&app, "/x", &other).await),
        Some(Reason::TenantNotAllowed)
    );
}
