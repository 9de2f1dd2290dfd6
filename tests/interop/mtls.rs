//! RFC 8705 certificate-bound access tokens against the real provider, over
//! real TLS connections on 127.0.0.1.
//!
//! The test makes a throwaway PKI with rcgen (`common/pki.rs`): a CA, a
//! server certificate for 127.0.0.1, and client certificates `alice` and
//! `bob`. The provider (`provider.mjs` with `TLS_KEY`/`TLS_CERT`/`TLS_CA`)
//! then serves HTTPS, asks every client for a certificate of that CA
//! (optional), and binds every token of its client `mtls-bound` to the
//! certificate of the token request (`cnf["x5t#S256"]`). The guard is the
//! crate's `mtls::serve` with the same CA, client certificates optional, so
//! a request without one reaches the `AuthLayer`.
//!
//! The crate's `Issuer` fetches discovery and JWKS over HTTPS from the
//! provider through a caller-built `reqwest::Client` that trusts the test CA
//! (`HttpConfig::client`); no loopback-HTTP opt-in is involved.
//!
//! Tests (all `#[ignore]`d like the rest of the suite):
//! - `certificate_bound_token_over_mtls`: the provider binds the token to
//!   the certificate it saw (and refuses a bound client without one, or with
//!   one of another CA); the guard accepts it with that certificate only:
//!   `certificate_mismatch` with another, `certificate_missing` without;
//!   unbound tokens pass with or without a certificate.
//! - `client_credentials_source_gets_bound_token` (feature `client`): the
//!   crate's own `ClientCredentials`, given a `reqwest::Client` that presents
//!   a certificate, obtains a bound token the guard accepts from that
//!   certificate only.
#![cfg(feature = "mtls")]

use std::net::SocketAddr;
use std::time::Duration;

use axum::body::Body;
use axum::{routing::get, Extension, Json, Router};
use base64::Engine as _;
use http::{Response, StatusCode};
use oauth2_guard::{mtls, HttpConfig, Issuer, Rejection, VerifiedClaims};
use serde_json::{json, Value};

use super::{free_port, init_tracing, run, Provider, HTTP_TIMEOUT, ORDERS};
use crate::common::pki::{Identity, Pki};
use crate::common::{bind_loopback, orders_layer};

/// The provider's client whose tokens are certificate-bound.
const BOUND: &str = "mtls-bound";
/// An ordinary client: its tokens carry no `cnf`.
const UNBOUND: &str = "cc-es256";

/// An HTTPS client trusting only the test CA, presenting `who`'s
/// certificate when `Some`. Idle connections are dropped below Node's 5 s
/// keep-alive timeout, as in `Provider`.
fn https(pki: &Pki, who: Option<&Identity>) -> reqwest::Client {
    pki.https_client_builder(who)
        .timeout(HTTP_TIMEOUT)
        .pool_idle_timeout(Duration::from_secs(2))
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("https client")
}

/// A provider on a free port serving HTTPS with `pki`'s server certificate
/// and its CA for client certificates (see `Provider::start`, whose port
/// retry this repeats with the TLS files added).
async fn start_tls_provider(test: &str, pki: &Pki) -> Provider {
    let mut errors = Vec::new();
    for _ in 0..3 {
        let port = free_port();
        let dir = std::env::temp_dir().join(format!(
            "oauth2-guard-interop-{test}-{}-{port}",
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create the provider's temp dir");
        // From here on the guard owns the directory (and the process, once started).
        let idp = Provider {
            port,
            dir,
            issuer: format!("https://127.0.0.1:{port}"),
            http: https(pki, None),
            at_ttl: None,
        };
        let mut cmd = idp.start_sh("start");
        for (var, file, pem) in [
            ("TLS_KEY", "tls-key.pem", pki.server.key_pem()),
            ("TLS_CERT", "tls-cert.pem", pki.server.cert_pem.clone()),
            ("TLS_CA", "tls-ca.pem", pki.ca_pem.clone()),
        ] {
            let path = idp.dir.join(file);
            std::fs::write(&path, pem).expect("write a PEM file");
            cmd.env(var, path);
        }
        match run(cmd, "start.sh start (TLS)").await {
            Ok(_) => return idp,
            Err(e) => errors.push(e),
        }
    }
    panic!(
        "the interop provider did not start over TLS (3 attempts):\n{}",
        errors.join("\n---\n")
    );
}

/// A client-credentials token request for `client` over `http` (whose
/// certificate, if any, is the one the provider binds to): the status and
/// the JSON answer.
async fn token_request(
    idp: &Provider,
    http: &reqwest::Client,
    client: &str,
) -> (StatusCode, Value) {
    let response = http
        .post(idp.token_endpoint())
        .basic_auth(client, Some(format!("secret-{client}")))
        .form(&[
            ("grant_type", "client_credentials"),
            ("resource", ORDERS),
            ("scope", "orders:read"),
        ])
        .send()
        .await
        .unwrap_or_else(|e| panic!("token request for {client}: {e}"));
    let status = response.status();
    (status, response.json().await.expect("token answer is JSON"))
}

/// The access token of a successful token request.
async fn token(idp: &Provider, http: &reqwest::Client, client: &str) -> String {
    let (status, body) = token_request(idp, http, client).await;
    assert_eq!(status, StatusCode::OK, "{client}: {body}");
    assert_eq!(body["token_type"], "Bearer", "RFC 8705 tokens stay Bearer");
    body["access_token"]
        .as_str()
        .expect("access_token")
        .to_owned()
}

/// The unverified payload of a compact JWT (test bookkeeping only).
fn payload(token: &str) -> Value {
    let segment = token.split('.').nth(1).unwrap_or_default();
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(segment)
        .expect("payload is base64url");
    serde_json::from_slice(&bytes).expect("payload is JSON")
}

/// The issuer as a service would configure it: discovery over HTTPS through
/// a client that trusts the test CA.
async fn guard_issuer(idp: &Provider, pki: &Pki) -> Issuer {
    let issuer = Issuer::builder(&idp.issuer)
        .http(HttpConfig::default().client(https(pki, None)))
        .audience(ORDERS)
        .strict_rfc9068(true)
        .build()
        .await
        .expect("Issuer::build with discovery over HTTPS");
    assert_eq!(issuer.metadata().expect("discovered").issuer, idp.issuer);
    issuer
}

/// `GET /orders` behind the layer, served by `mtls::serve` with client
/// certificates of `pki`'s CA optional. The handler answers the token's
/// `client_id`; a refusal's reason code is copied into `x-reason`
/// (extensions do not cross the wire).
async fn serve_guard(issuer: Issuer, pki: &Pki) -> SocketAddr {
    let app = Router::new()
        .route(
            "/orders",
            get(|Extension(claims): Extension<VerifiedClaims>| async move {
                Json(json!({ "client_id": claims.client_id() }))
            }),
        )
        .layer(orders_layer(issuer))
        .layer(axum::middleware::map_response(
            |mut res: Response<Body>| async move {
                let code = res
                    .extensions()
                    .get::<Rejection>()
                    .map(|r| r.reason().code());
                if let Some(code) = code {
                    res.headers_mut()
                        .insert("x-reason", http::HeaderValue::from_static(code));
                }
                res
            },
        ));
    let listener = bind_loopback().await;
    let addr = listener.local_addr().expect("local_addr");
    tokio::spawn(mtls::serve(listener, pki.server_config(true), app));
    addr
}

/// `GET /orders` on the guard with `token` as Bearer, over a TLS connection
/// presenting `who`'s certificate (none when `None`): the status and either
/// the refusal's reason code or the `client_id` the handler saw.
async fn call_guard(
    pki: &Pki,
    guard: SocketAddr,
    who: Option<&Identity>,
    token: &str,
) -> (StatusCode, String) {
    let response = https(pki, who)
        .get(format!("https://127.0.0.1:{}/orders", guard.port()))
        .bearer_auth(token)
        .send()
        .await
        .expect("request to the guard");
    let status = response.status();
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    if let Some(reason) = header("x-reason") {
        let challenge = header("www-authenticate").unwrap_or_default();
        assert!(challenge.contains("error=\"invalid_token\""), "{challenge}");
        return (status, reason);
    }
    let body: Value = response.json().await.expect("handler answers JSON");
    (
        status,
        body["client_id"].as_str().unwrap_or_default().to_owned(),
    )
}

fn passed(client: &str) -> (StatusCode, String) {
    (StatusCode::OK, client.to_owned())
}

fn refused(code: &str) -> (StatusCode, String) {
    (StatusCode::UNAUTHORIZED, code.to_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs Node.js 20+ and `npm ci` in tests/interop: run tests/interop/run-ci.sh"]
async fn certificate_bound_token_over_mtls() {
    init_tracing();
    let pki = Pki::new();
    let (alice, bob) = (pki.client("alice"), pki.client("bob"));
    let idp = start_tls_provider("mtls-bound", &pki).await;

    let discovery: Value = https(&pki, None)
        .get(format!("{}/.well-known/openid-configuration", idp.issuer))
        .send()
        .await
        .and_then(reqwest::Response::error_for_status)
        .expect("discovery over HTTPS")
        .json()
        .await
        .expect("discovery is JSON");
    assert_eq!(
        discovery["tls_client_certificate_bound_access_tokens"],
        true
    );

    // The provider binds to the certificate of the token request.
    let bound = token(&idp, &https(&pki, Some(&alice)), BOUND).await;
    let claims = payload(&bound);
    assert_eq!(
        claims["cnf"],
        json!({"x5t#S256": alice.client_certificate().x5t_s256()})
    );
    assert_ne!(alice.client_certificate(), bob.client_certificate());
    let bobs = token(&idp, &https(&pki, Some(&bob)), BOUND).await;
    assert_eq!(
        payload(&bobs)["cnf"]["x5t#S256"],
        bob.client_certificate().x5t_s256()
    );
    // … and refuses a bound client without a certificate of its CA.
    let stranger = Pki::with_ca_name("stranger CA").client("alice");
    for (who, what) in [(None, "no certificate"), (Some(&stranger), "another CA")] {
        let (status, body) = token_request(&idp, &https(&pki, who), BOUND).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{what}: {body}");
        assert_eq!(body["error"], "invalid_grant", "{what}");
    }
    // An ordinary client's token is unbound, even when a certificate was presented.
    let unbound = token(&idp, &https(&pki, Some(&alice)), UNBOUND).await;
    assert_eq!(payload(&unbound).get("cnf"), None);

    let guard = serve_guard(guard_issuer(&idp, &pki).await, &pki).await;
    let call = |who, token| call_guard(&pki, guard, who, token);
    assert_eq!(call(Some(&alice), &bound).await, passed(BOUND));
    assert_eq!(
        call(Some(&bob), &bound).await,
        refused("certificate_mismatch")
    );
    assert_eq!(call(None, &bound).await, refused("certificate_missing"));
    assert_eq!(call(Some(&bob), &bobs).await, passed(BOUND));
    assert_eq!(
        call(Some(&alice), &bobs).await,
        refused("certificate_mismatch")
    );
    assert_eq!(call(Some(&alice), &unbound).await, passed(UNBOUND));
    assert_eq!(call(None, &unbound).await, passed(UNBOUND));
}

/// The crate's own client-credentials source presenting a certificate
/// (a caller-built `reqwest::Client` with an identity): the token endpoint
/// is discovered over HTTPS and the token it gets is bound to that
/// certificate: two services using this crate talk RFC 8705 end to end.
#[cfg(feature = "client")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs Node.js 20+ and `npm ci` in tests/interop: run tests/interop/run-ci.sh"]
async fn client_credentials_source_gets_bound_token() {
    use oauth2_guard::client::ClientCredentials;
    init_tracing();
    let pki = Pki::new();
    let (alice, bob) = (pki.client("alice"), pki.client("bob"));
    let idp = start_tls_provider("mtls-source", &pki).await;
    let source = ClientCredentials::builder(BOUND)
        .issuer(idp.issuer.clone())
        .http(HttpConfig::default().client(https(&pki, Some(&alice))))
        .client_secret(format!("secret-{BOUND}"))
        .resource(ORDERS)
        .scope("orders:read")
        .build()
        .await
        .expect("ClientCredentials::build with discovery over HTTPS");
    assert_eq!(source.token_endpoint(), idp.token_endpoint(), "discovered");
    let token = source.token().await.expect("bound token from the provider");
    assert_eq!(
        payload(token.secret())["cnf"]["x5t#S256"],
        alice.client_certificate().x5t_s256()
    );

    let guard = serve_guard(guard_issuer(&idp, &pki).await, &pki).await;
    let call = |who| call_guard(&pki, guard, who, token.secret());
    assert_eq!(call(Some(&alice)).await, passed(BOUND));
    assert_eq!(call(Some(&bob)).await, refused("certificate_mismatch"));
    assert_eq!(call(None).await, refused("certificate_missing"));
}
