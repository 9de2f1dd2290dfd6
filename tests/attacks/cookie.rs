//! Token cookies (`BearerSource::with_cookie`): a second cookie of the same
//! name is refused, never chosen by its position.

use super::*;
use oauth2_guard::layer::BearerSource;

#[tokio::test]
async fn duplicate_token_cookies() {
    let mut h = Harness::new().await;
    let layer = AuthLayer::builder()
        .issuer(orders_issuer(&h.idp).await)
        .realm("orders")
        .token_source(BearerSource::new().with_cookie("at"))
        .build()
        .expect("layer");
    h.app = ok_app(layer);
    let victim = h.idp.token().subject("victim").sign();
    let attacker = h.idp.token().subject("attacker").sign();
    h.sent.extend([victim.clone(), attacker.clone()]);
    let app = h.app.clone();
    let send = |cookies: Vec<String>| {
        let app = app.clone();
        async move {
            let mut req = Request::get("/x");
            for c in cookies {
                req = req.header(header::COOKIE, c);
            }
            let start = Instant::now();
            let res = app.oneshot(req.body(Body::empty()).unwrap()).await.unwrap();
            (res, start.elapsed())
        }
    };
    // Positive control: one cookie.
    let (res, _) = send(vec![format!("theme=dark; at={victim}")]).await;
    assert_eq!(res.status(), StatusCode::OK);
    for (name, cookies) in [
        (
            "two in one header",
            vec![format!("at={attacker}; at={victim}")],
        ),
        (
            "two in separate headers",
            vec![format!("at={attacker}"), format!("at={victim}")],
        ),
        ("malformed first", vec![format!("at=%%; at={victim}")]),
    ] {
        let (res, took) = send(cookies).await;
        h.check(name, res, took, Reason::InvalidRequest);
    }
    h.finish();
}
