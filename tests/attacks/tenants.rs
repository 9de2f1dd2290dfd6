//! Attacks on a multi-tenant (template) issuer: tokens that name another
//! tenant's issuer, bend the template, or try to make the service look
//! tenants up without a valid signature.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use oauth2_guard::presets::Entra;
use oauth2_guard::tenant::TenantPolicy;
use oauth2_guard::testkit::MockIssuer;
use oauth2_guard::AuthLayer;
use serde_json::json;

use super::common::{loopback, ok_app};
use super::{Harness, Reason};

const A: &str = "aaaaaaaa-0000-4000-8000-00000000000a";
const B: &str = "bbbbbbbb-0000-4000-8000-00000000000b";

/// The harness's app, behind an Entra multi-tenant issuer on its mock
/// (tenant A allowed outright, every other tenant looked up and refused),
/// and the lookup counter.
async fn multi_tenant_harness() -> (Harness, Arc<AtomicUsize>) {
    let mut h = Harness::new().await;
    let lookups = Arc::new(AtomicUsize::new(0));
    let counted = lookups.clone();
    let policy = TenantPolicy::lookup(move |tenant: String| {
        counted.fetch_add(1, Ordering::SeqCst);
        async move { tenant == A }
    });
    let issuer = Entra::multi_tenant()
        .tenant_policy(policy)
        .endpoints(&format!("{}/{{tenantid}}/v2.0", h.iss()), &h.idp.jwks_url())
        .audience("orders-api")
        .builder()
        .unwrap()
        .http(loopback())
        .build()
        .await
        .unwrap();
    h.app = ok_app(AuthLayer::builder().issuer(issuer).build().unwrap());
    (h, lookups)
}

fn tenant_token(idp: &MockIssuer, iss_tenant: &str, tid: serde_json::Value) -> String {
    idp.token()
        .issuer(&format!("{}/{iss_tenant}/v2.0", idp.issuer_url()))
        .claim("tid", tid)
        .claim("ver", "2.0")
        .sign()
}

#[tokio::test(flavor = "current_thread")]
async fn tenant_template_attacks() {
    let (mut h, lookups) = multi_tenant_harness().await;
    let idp = h.idp.clone();
    h.accept("control: tenant A", &tenant_token(&idp, A, json!(A)))
        .await;
    assert_eq!(lookups.load(Ordering::SeqCst), 1);

    h.refuse(
        "tenant A's token naming tenant B's issuer",
        &tenant_token(&idp, B, json!(A)),
        Reason::TenantMismatch,
    )
    .await;
    h.refuse(
        "tenant B's token naming tenant A's issuer (A is allowed)",
        &tenant_token(&idp, A, json!(B)),
        Reason::TenantMismatch,
    )
    .await;
    h.refuse(
        "tid not a string",
        &tenant_token(&idp, A, json!([A])),
        Reason::TenantMismatch,
    )
    .await;
    h.refuse(
        "tid with a different case than iss",
        &tenant_token(&idp, A, json!(A.to_uppercase())),
        Reason::TenantMismatch,
    )
    .await;
    // `iss` bending the template's shape: not a tenant of it at all.
    for (name, tenant) in [
        ("path traversal in the tenant", format!("{B}/../{A}")),
        ("empty tenant", String::new()),
        ("literal placeholder", "{tenantid}".to_owned()),
        ("query in the tenant", format!("{A}?x=1")),
    ] {
        h.refuse(
            name,
            &tenant_token(&idp, &tenant, json!(A)),
            Reason::WrongIssuer,
        )
        .await;
    }
    let lookups_before = lookups.load(Ordering::SeqCst);
    // A new tenant's token with a bad signature, or none: never looked up.
    let good = tenant_token(&idp, B, json!(B));
    let (h64, p64, _) = super::split(&good);
    h.refuse(
        "new tenant, bad signature",
        &format!("{h64}.{p64}.AAAA"),
        Reason::BadSignature,
    )
    .await;
    let none = format!("{}.{p64}.", super::enc(&json!({"alg": "none"})));
    h.refuse("new tenant, alg none", &none, Reason::DisallowedAlg)
        .await;
    // Signed by a key outside the shared set.
    let stranger = MockIssuer::start().await;
    stranger.rotate(oauth2_guard::testkit::Algorithm::ES384);
    let foreign =
        tenant_token(&stranger, B, json!(B)).replace(&stranger.issuer_url(), &idp.issuer_url());
    let (fh, _, fs) = super::split(&foreign);
    let forged = format!(
        "{fh}.{}.{}",
        super::enc(&json!({
            "iss": format!("{}/{B}/v2.0", idp.issuer_url()), "tid": B, "ver": "2.0",
            "aud": "orders-api", "exp": super::now() + 300,
        })),
        base64_of(&fs)
    );
    h.refuse("new tenant, foreign key", &forged, Reason::UnknownKey)
        .await;
    assert_eq!(
        lookups.load(Ordering::SeqCst),
        lookups_before,
        "no tenant lookup without a verified signature"
    );
    // A genuine new tenant refused by the lookup, once; then from the cache.
    h.refuse("new tenant refused", &good, Reason::TenantNotAllowed)
        .await;
    h.refuse(
        "refused tenant again",
        &tenant_token(&idp, B, json!(B)),
        Reason::TenantNotAllowed,
    )
    .await;
    assert_eq!(lookups.load(Ordering::SeqCst), lookups_before + 1);
    h.finish();
}

fn base64_of(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}
