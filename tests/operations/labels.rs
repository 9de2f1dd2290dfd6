//! The `issuer` label of tenant-template and lazily discovered issuers:
//! bounded by configuration, never a token's `iss`.

use super::*;
use common::loopback;
use oauth2_guard::tenant::TenantPolicy;
use oauth2_guard::{Issuer, LazyIssuers};

const A: &str = "aaaaaaaa-0000-4000-8000-00000000000a";
const B: &str = "bbbbbbbb-0000-4000-8000-00000000000b";

fn tenant_token(idp: &MockIssuer, tenant: &str) -> String {
    idp.token()
        .issuer(&format!("{}/{tenant}/v2.0", idp.issuer_url()))
        .claim("tid", tenant)
        .scope("orders:write")
        .sign()
}

#[tokio::test]
async fn tenant_tokens_count_under_the_template() {
    let _serial = serial().await;
    let idp = MockIssuer::start().await;
    let template = format!("{}/{{tenantid}}/v2.0", idp.issuer_url());
    let issuer = Issuer::builder(&template)
        .jwks_uri(idp.jwks_url())
        .audience("orders-api")
        .tenants("tid", TenantPolicy::allow([A]))
        .http(loopback())
        .build()
        .await
        .expect("template issuer");
    let app = app(AuthLayer::builder().issuer(issuer).build().unwrap());
    let before = scrape();

    let ok = call(&app, Some(&tenant_token(&idp, A))).await;
    assert_eq!(ok.status(), StatusCode::OK);
    let refused = call(&app, Some(&tenant_token(&idp, B))).await;
    assert_eq!(reason_of(&refused), Some(Reason::TenantNotAllowed));

    let after = scrape();
    let d = "oauth2_guard_decisions_total";
    let allowed = [
        ("outcome", "allowed"),
        ("reason", "none"),
        ("issuer", template.as_str()),
    ];
    assert_eq!(delta(&before, &after, d, &allowed), 1.0);
    let not_allowed = [
        ("outcome", "refused"),
        ("reason", "tenant_not_allowed"),
        ("issuer", template.as_str()),
    ];
    assert_eq!(delta(&before, &after, d, &not_allowed), 1.0);
    // No series carries a tenant's own `iss`.
    let text = prometheus().render();
    assert!(!text.contains(&format!("{}/{A}/v2.0", idp.issuer_url())));
    assert!(!text.contains(B));
}

#[tokio::test]
async fn lazy_issuers_count_under_their_discovered_identifier() {
    let _serial = serial().await;
    let idp = MockIssuer::start().await;
    let lazy = LazyIssuers::from_list([idp.issuer_url()], |b| {
        b.audience("orders-api").http(loopback())
    });
    let app = app(AuthLayer::builder().lazy_issuers(lazy).build().unwrap());
    let stranger = MockIssuer::start().await;
    let before = scrape();

    let token = idp.token().scope("orders:write").sign();
    assert_eq!(call(&app, Some(&token)).await.status(), StatusCode::OK);
    // An `iss` the factory refuses is never discovered, never a label.
    let foreign = stranger.token().scope("orders:write").sign();
    assert_eq!(
        reason_of(&call(&app, Some(&foreign)).await),
        Some(Reason::UnknownIssuer)
    );

    let after = scrape();
    let d = "oauth2_guard_decisions_total";
    let iss = idp.issuer_url();
    let allowed = [("outcome", "allowed"), ("reason", "none"), ("issuer", &iss)];
    assert_eq!(delta(&before, &after, d, &allowed), 1.0);
    let unknown = [
        ("outcome", "refused"),
        ("reason", "unknown_issuer"),
        ("issuer", "unknown"),
    ];
    assert_eq!(delta(&before, &after, d, &unknown), 1.0);
    assert!(!prometheus().render().contains(&stranger.issuer_url()));
}
