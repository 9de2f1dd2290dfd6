//! DPoP (RFC 9449) in the orders example, feature `dpop`: DPoP-bound
//! tokens are accepted beside Bearer tokens; `htu` is compared against
//! `ORDERS_PUBLIC_URL` (default `http://` + `ORDERS_ADDR`). With
//! `OAUTH2_REDIS_URL` (feature `redis`) the replay store is shared by
//! every instance through Redis.

use axum::body::Body;
use axum::http::Request;
use axum::Router;
use oauth2_guard::dpop::DpopConfig;
use oauth2_guard::testkit::{Algorithm, DpopKey, MockIssuer};
use oauth2_guard::AuthLayerBuilder;
use tower::ServiceExt as _;

/// Turns DPoP on for `layer`, and says so.
pub(crate) fn enable(
    layer: AuthLayerBuilder,
    public_url: &str,
    redis_url: Option<&str>,
) -> Result<AuthLayerBuilder, Box<dyn std::error::Error>> {
    let config = DpopConfig::builder(public_url);
    let (config, replay) = match redis_url {
        #[cfg(feature = "redis")]
        Some(url) => {
            let store = oauth2_guard::dpop::RedisReplayStore::builder(url)
                .namespace(super::namespace())
                .build()?;
            (config.replay_store(store), "shared through Redis")
        }
        _ => (config, "in memory"),
    };
    println!(
        "DPoP: on beside Bearer (htu base {public_url}, from ORDERS_PUBLIC_URL; replay store {replay})"
    );
    Ok(layer.dpop(config.build()?))
}

/// curl cannot sign proofs: mint a DPoP-bound token, send requests with
/// the test kit's key through `app` (in process, before the server
/// starts), and return what they got, to print.
pub(crate) async fn demo(idp: &MockIssuer, public_url: &str, app: Router) -> String {
    let key = DpopKey::generate(Algorithm::ES256);
    let token = idp
        .token()
        .subject("carol")
        .scope("orders:read")
        .claim("cnf", key.cnf())
        .sign();
    let proof = key.proof("GET", &format!("{public_url}/orders"), Some(&token), None);
    let calls = [
        (
            "a DPoP-bound token with a fresh proof",
            "DPoP",
            Some(&proof),
        ),
        ("the same proof again (a replay)", "DPoP", Some(&proof)),
        ("the DPoP-bound token as Bearer", "Bearer", None),
    ];
    let mut lines = vec![
        "# DPoP (RFC 9449): curl cannot sign proofs, so the example sent GET /orders itself with testkit::DpopKey:"
            .to_owned(),
    ];
    for (what, scheme, proof) in calls {
        let mut req = Request::get("/orders").header("authorization", format!("{scheme} {token}"));
        if let Some(p) = proof {
            req = req.header("dpop", p.as_str());
        }
        let line = match app
            .clone()
            .oneshot(req.body(Body::empty()).unwrap_or_default())
            .await
        {
            Ok(res) => {
                let challenge = res
                    .headers()
                    .get_all("www-authenticate")
                    .iter()
                    .filter_map(|v| v.to_str().ok())
                    .collect::<Vec<_>>()
                    .join(", ");
                format!("#   {what} -> {} {challenge}", res.status())
            }
            Err(e) => match e {},
        };
        lines.push(line);
    }
    lines.join("\n") + "\n"
}
