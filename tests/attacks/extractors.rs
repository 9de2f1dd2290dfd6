//! Refusals made by the axum extractors after the layer accepted the token:
//! a genuine token whose claims do not fit the handler's type is answered
//! exactly like the layer's own refusals (realm, `no-store`, the `Rejection`
//! in the response extensions, one log event, no token in the logs).

use super::*;
use oauth2_guard::extract::Claims;

#[derive(serde::Deserialize)]
struct NeedsTenant {
    tenant: String,
}

#[tokio::test]
async fn unfit_claims_take_the_layers_answer() {
    let mut h = Harness::new().await;
    // Keys given directly: no HTTP to the mock is needed for this case.
    let issuer = h
        .idp
        .issuer_builder()
        .audience("orders-api")
        .static_jwks(h.idp.jwks_json().to_string())
        .build()
        .await
        .expect("issuer");
    let layer = orders_layer(issuer);
    h.app = Router::new()
        .route(
            "/x",
            get(|Claims(c): Claims<NeedsTenant>| async move { c.tenant }),
        )
        .route(
            "/opt",
            get(|c: Option<Claims<NeedsTenant>>| async move { c.is_some().to_string() }),
        )
        .layer(layer);

    // Positive control: the claim is there.
    let fits = h.idp.token().claim("tenant", "acme").sign();
    h.accept("tenant present", &fits).await;

    let cases = [
        ("claim missing", h.idp.token().sign()),
        (
            "claim of the wrong type",
            h.idp.token().claim("tenant", 7).sign(),
        ),
    ];
    for (name, token) in cases {
        for path in ["/x", "/opt"] {
            let req = get_with_auth(path, bearer(&token));
            let start = Instant::now();
            let res = h.app.clone().oneshot(req).await.unwrap();
            let took = start.elapsed();
            h.sent.push(token.clone());
            let name = format!("{name} ({path})");
            assert!(
                res.headers()[header::WWW_AUTHENTICATE]
                    .to_str()
                    .unwrap()
                    .starts_with(r#"Bearer realm="orders", "#),
                "{name}: the layer's realm"
            );
            assert_eq!(res.headers()[header::CACHE_CONTROL], "no-store", "{name}");
            h.check(&name, res, took, Reason::InvalidClaim);
        }
    }
    h.finish();
}
