//! Every preset's documented checks, each shown to refuse what it should
//! (and its role mapping to map), against a `MockIssuer`. A preset's page
//! lists exactly these; what every issuer does anyway (the `typ: JWT`
//! header, `aud` arrays) is shown to be generic here too.
#![cfg(all(feature = "testkit", feature = "axum"))]
mod common;

use std::time::Duration;

use axum::body::Body;
use axum::routing::get;
use axum::{Extension, Router};
use http::{Response, StatusCode};
use http_body_util::BodyExt;
use oauth2_guard::presets::{Auth0, Cognito, Entra, Keycloak, Okta};
use oauth2_guard::testkit::{MockIssuer, TokenBuilder};
use oauth2_guard::{AuthLayer, ConfigError, IssuerBuilder, Reason, VerifiedClaims};
use serde_json::json;
use tower::ServiceExt;

use common::{bearer, get_with_auth, loopback, reason_of};

/// `GET /x` answering the token's roles, space-separated, behind an
/// `AuthLayer` for the preset's issuer (keys: the mock's JWKS).
async fn app_for(preset: Result<IssuerBuilder, ConfigError>, idp: &MockIssuer) -> Router {
    let issuer = preset
        .expect("preset")
        .jwks_uri(idp.jwks_url())
        .http(loopback())
        .build()
        .await
        .expect("issuer");
    Router::new()
        .route(
            "/x",
            get(|Extension(c): Extension<VerifiedClaims>| async move { c.roles().join(" ") }),
        )
        .layer(AuthLayer::new(issuer))
}

/// `Ok(roles)` or `Err(reason)`.
async fn send(app: &Router, token: String) -> Result<String, Option<Reason>> {
    let res: Response<Body> = tokio::time::timeout(
        Duration::from_secs(5),
        app.clone().oneshot(get_with_auth("/x", bearer(&token))),
    )
    .await
    .expect("in time")
    .expect("infallible");
    if res.status() != StatusCode::OK {
        return Err(reason_of(&res));
    }
    Ok(String::from_utf8(res.into_body().collect().await.unwrap().to_bytes().to_vec()).unwrap())
}

fn sign(b: TokenBuilder) -> String {
    b.sign()
}

#[tokio::test]
async fn keycloak_requires_typ_bearer_and_maps_realm_and_client_roles() {
    let idp = MockIssuer::start().await;
    let iss = format!("{}/realms/shop", idp.issuer_url());
    let preset = Keycloak::from_issuer(&iss)
        .client_roles("orders.api")
        .audience("orders-api")
        .builder();
    let app = app_for(preset, &idp).await;
    let tok = |typ: Option<&str>| {
        let mut b = idp
            .token()
            .issuer(&iss)
            .typ(Some("JWT"))
            .claim("realm_access", json!({"roles": ["clerk"]}))
            .claim(
                "resource_access",
                json!({"orders.api": {"roles": ["admin"]}, "other": {"roles": ["x"]}}),
            );
        if let Some(t) = typ {
            b = b.claim("typ", t);
        }
        sign(b)
    };
    // The `typ: JWT` header is accepted, as for every issuer.
    assert_eq!(
        send(&app, tok(Some("Bearer"))).await,
        Ok("clerk admin".into())
    );
    for refused in [Some("ID"), Some("Refresh"), None] {
        assert_eq!(
            send(&app, tok(refused)).await,
            Err(Some(Reason::InvalidClaim)),
            "{refused:?}"
        );
    }
    // Realm roles off: client roles only.
    let only_client = Keycloak::from_issuer(&iss)
        .client_roles("orders.api")
        .without_realm_roles()
        .audience("orders-api")
        .builder();
    assert_eq!(
        send(&app_for(only_client, &idp).await, tok(Some("Bearer"))).await,
        Ok("admin".into())
    );
    // The `typ: JWT` header is generic, not a Keycloak quirk: strict RFC 9068 refuses it here too.
    let strict = Keycloak::from_issuer(&iss)
        .audience("orders-api")
        .builder()
        .map(|b| b.strict_rfc9068(true));
    assert_eq!(
        send(&app_for(strict, &idp).await, tok(Some("Bearer"))).await,
        Err(Some(Reason::BadType))
    );
}

#[tokio::test]
async fn auth0_issuer_has_its_trailing_slash_and_maps_permissions_and_named_claims() {
    let idp = MockIssuer::start().await;
    let preset = Auth0::from_issuer(&idp.issuer_url())
        .roles_claim("https://example.com/roles")
        .audience("orders-api")
        .builder();
    let app = app_for(preset, &idp).await;
    let with_slash = format!("{}/", idp.issuer_url());
    let tok = |iss: &str| {
        sign(
            idp.token()
                .issuer(iss)
                .audience(json!(["orders-api", "https://t.auth0.com/userinfo"]))
                .claim("permissions", json!(["orders:read"]))
                .claim("https://example.com/roles", json!(["admin"])),
        )
    };
    assert_eq!(
        send(&app, tok(&with_slash)).await,
        Ok("orders:read admin".into())
    );
    assert_eq!(
        send(&app, tok(&idp.issuer_url())).await,
        Err(Some(Reason::WrongIssuer))
    );
    let no_permissions = Auth0::from_issuer(&idp.issuer_url())
        .without_permissions()
        .audience("orders-api")
        .builder();
    assert_eq!(
        send(&app_for(no_permissions, &idp).await, tok(&with_slash)).await,
        Ok(String::new())
    );
}

#[tokio::test]
async fn okta_refuses_the_org_server_and_maps_the_groups_claim() {
    for org in [
        "https://acme.okta.com",
        "https://acme.okta.com/",
        "https://login.acme.com",
    ] {
        assert!(
            matches!(
                Okta::from_issuer(org)
                    .audience("api://orders")
                    .build_deferred(),
                Err(ConfigError::InvalidUrl { .. })
            ),
            "{org}"
        );
    }
    let idp = MockIssuer::start().await;
    let iss = format!("{}/oauth2/default", idp.issuer_url());
    let preset = Okta::from_issuer(&iss)
        .groups_claim("groups")
        .audience("orders-api")
        .builder();
    let app = app_for(preset, &idp).await;
    let tok = sign(
        idp.token()
            .issuer(&iss)
            .claim("scp", json!(["orders:read"]))
            .claim("groups", json!(["Everyone", "admins"])),
    );
    assert_eq!(send(&app, tok).await, Ok("Everyone admins".into()));
}

#[tokio::test]
async fn cognito_checks_client_id_instead_of_aud_and_token_use() {
    let idp = MockIssuer::start().await;
    let preset = Cognito::from_issuer(&idp.issuer_url())
        .app_clients(["app-1"])
        .builder();
    let app = app_for(preset, &idp).await;
    let tok = |client: Option<&str>, token_use: &str| {
        let mut b = idp
            .token()
            .without_claim("aud")
            .claim("token_use", token_use)
            .claim("cognito:groups", json!(["clerks"]));
        if let Some(c) = client {
            b = b.claim("client_id", c);
        }
        sign(b)
    };
    assert_eq!(
        send(&app, tok(Some("app-1"), "access")).await,
        Ok("clerks".into())
    );
    assert_eq!(
        send(&app, tok(Some("app-2"), "access")).await,
        Err(Some(Reason::WrongAudience))
    );
    assert_eq!(
        send(&app, tok(None, "access")).await,
        Err(Some(Reason::WrongAudience))
    );
    assert_eq!(
        send(&app, tok(Some("app-1"), "id")).await,
        Err(Some(Reason::InvalidClaim))
    );
    // An ID token with an `aud` of the app client is not accepted via `aud`.
    let id_token = sign(idp.token().audience("app-1").claim("token_use", "id"));
    assert!(send(&app, id_token).await.is_err());
}

#[tokio::test]
async fn entra_single_tenant_checks_ver_and_maps_roles() {
    let idp = MockIssuer::start().await;
    let v2 = app_for(
        Entra::from_issuer(&idp.issuer_url())
            .audience("orders-api")
            .builder(),
        &idp,
    )
    .await;
    let tok = |ver: Option<&str>| {
        let mut b = idp.token().claim("roles", json!(["Task.Write"]));
        if let Some(v) = ver {
            b = b.claim("ver", v);
        }
        sign(b)
    };
    assert_eq!(send(&v2, tok(Some("2.0"))).await, Ok("Task.Write".into()));
    assert_eq!(
        send(&v2, tok(Some("1.0"))).await,
        Err(Some(Reason::InvalidClaim))
    );
    assert_eq!(send(&v2, tok(None)).await, Err(Some(Reason::InvalidClaim)));
    let v1 = app_for(
        Entra::from_issuer(&idp.issuer_url())
            .v1()
            .audience("orders-api")
            .builder(),
        &idp,
    )
    .await;
    assert_eq!(send(&v1, tok(Some("1.0"))).await, Ok("Task.Write".into()));
    assert_eq!(
        send(&v1, tok(Some("2.0"))).await,
        Err(Some(Reason::InvalidClaim))
    );
    // A token of another tenant (its own issuer) is not this tenant's.
    let other = sign(
        idp.token()
            .issuer("https://login.microsoftonline.com/other/v2.0")
            .claim("ver", "2.0"),
    );
    assert_eq!(send(&v2, other).await, Err(Some(Reason::WrongIssuer)));
    for endpoint in ["common", "organizations", "consumers"] {
        assert!(matches!(
            Entra::new(endpoint).audience("a").build_deferred(),
            Err(ConfigError::InvalidUrl { .. })
        ));
    }
}
