//! mTLS certificate-bound tokens (RFC 8705) over real connections on
//! 127.0.0.1: `mtls::serve` over rustls with rcgen certificates, and
//! `ForwardedCertLayer` behind a (simulated) TLS-terminating proxy.
#![cfg(all(feature = "testkit", feature = "mtls"))]
mod common;

use std::net::SocketAddr;
use std::time::Duration;

use axum::http::{HeaderMap, Response, StatusCode};
use axum::{routing::get, Router};
use oauth2_guard::mtls::{self, ForwardedCertLayer};
use oauth2_guard::testkit::MockIssuer;
use oauth2_guard::{AuthLayer, Rejection};
use serde_json::json;

use common::pki::{Identity, Pki};
use common::{bind_loopback, orders_issuer, orders_layer};

const XFCC: &str = "x-forwarded-client-cert";

/// `GET /x` behind `auth`; the handler answers whether it saw a forwarded
/// certificate header, and the refusal's reason code is copied into
/// `x-reason` (extensions do not cross the wire).
fn app(auth: AuthLayer) -> Router {
    Router::new()
        .route(
            "/x",
            get(|headers: HeaderMap| async move {
                if headers.contains_key(XFCC) || headers.contains_key("x-client-cert") {
                    "ok, header reached the handler"
                } else {
                    "ok"
                }
            }),
        )
        .layer(auth)
        .layer(axum::middleware::map_response(
            |mut res: Response<axum::body::Body>| async move {
                if let Some(code) = res
                    .extensions()
                    .get::<Rejection>()
                    .map(|r| r.reason().code())
                {
                    res.headers_mut().insert("x-reason", code.parse().unwrap());
                }
                res
            },
        ))
}

struct Tls {
    idp: MockIssuer,
    pki: Pki,
    addr: SocketAddr,
}

impl Tls {
    async fn start(optional_client_auth: bool) -> Self {
        let idp = MockIssuer::start().await;
        let pki = Pki::new();
        let listener = bind_loopback().await;
        let addr = listener.local_addr().unwrap();
        let app = app(orders_layer(orders_issuer(&idp).await));
        tokio::spawn(mtls::serve(
            listener,
            pki.server_config(optional_client_auth),
            app,
        ));
        Tls { idp, pki, addr }
    }

    fn bound_to(&self, who: &Identity) -> String {
        self.idp
            .token()
            .claim(
                "cnf",
                json!({"x5t#S256": who.client_certificate().x5t_s256()}),
            )
            .sign()
    }

    async fn get(
        &self,
        who: Option<&Identity>,
        token: &str,
    ) -> Result<(StatusCode, String), reqwest::Error> {
        let res = self
            .pki
            .https_client(who)
            .get(format!("https://127.0.0.1:{}/x", self.addr.port()))
            .bearer_auth(token)
            .send()
            .await?;
        Ok(answer(res).await)
    }
}

async fn answer(res: reqwest::Response) -> (StatusCode, String) {
    let status = res.status();
    let reason = res
        .headers()
        .get("x-reason")
        .map(|v| v.to_str().unwrap().to_owned());
    let www = res
        .headers()
        .get("www-authenticate")
        .map(|v| v.to_str().unwrap().to_owned());
    if status == StatusCode::UNAUTHORIZED {
        assert!(www.unwrap().contains("error=\"invalid_token\""));
    }
    let body = res.text().await.unwrap();
    (status, reason.unwrap_or(body))
}

fn ok() -> (StatusCode, String) {
    (StatusCode::OK, "ok".into())
}

fn refused(code: &str) -> (StatusCode, String) {
    (StatusCode::UNAUTHORIZED, code.into())
}

#[tokio::test]
async fn bound_token_passes_only_with_its_certificate() {
    let t = Tls::start(true).await;
    let (alice, bob) = (t.pki.client("alice"), t.pki.client("bob"));
    let token = t.bound_to(&alice);
    assert_eq!(t.get(Some(&alice), &token).await.unwrap(), ok());
    assert_eq!(
        t.get(Some(&bob), &token).await.unwrap(),
        refused("certificate_mismatch")
    );
    assert_eq!(
        t.get(None, &token).await.unwrap(),
        refused("certificate_missing")
    );
    // Bob's own bound token passes for Bob: the check is per certificate.
    assert_eq!(t.get(Some(&bob), &t.bound_to(&bob)).await.unwrap(), ok());
}

#[tokio::test]
async fn unbound_tokens_are_unaffected() {
    let t = Tls::start(true).await;
    let alice = t.pki.client("alice");
    let token = t.idp.token().sign();
    assert_eq!(t.get(Some(&alice), &token).await.unwrap(), ok());
    assert_eq!(t.get(None, &token).await.unwrap(), ok());
    // A DPoP-bound token is still refused over an mTLS connection.
    let dpop = t
        .idp
        .token()
        .claim("cnf", json!({"jkt": alice.client_certificate().x5t_s256()}))
        .sign();
    assert_eq!(
        t.get(Some(&alice), &dpop).await.unwrap(),
        refused("sender_constrained")
    );
}

#[tokio::test]
async fn required_client_auth_refuses_the_handshake() {
    let t = Tls::start(false).await;
    let alice = t.pki.client("alice");
    let token = t.bound_to(&alice);
    assert_eq!(t.get(Some(&alice), &token).await.unwrap(), ok());
    assert!(
        t.get(None, &token).await.is_err(),
        "no certificate, no connection"
    );
    // A certificate of another CA is refused by the TLS layer too.
    let stranger = Pki::new().client("alice");
    assert!(t.get(Some(&stranger), &token).await.is_err());
    // The server is still serving.
    assert_eq!(t.get(Some(&alice), &token).await.unwrap(), ok());
}

#[tokio::test]
async fn a_stalled_handshake_does_not_block_other_clients() {
    let t = Tls::start(false).await;
    let alice = t.pki.client("alice");
    // Connected but silent: no ClientHello.
    let _stalled = tokio::net::TcpStream::connect(t.addr).await.unwrap();
    let token = t.bound_to(&alice);
    let answer = tokio::time::timeout(Duration::from_secs(5), t.get(Some(&alice), &token));
    assert_eq!(answer.await.expect("not blocked").unwrap(), ok());
}

/// A plain-HTTP app behind `forwarded`, served with the peer address, as
/// behind a TLS-terminating proxy.
async fn behind_proxy(idp: &MockIssuer, forwarded: ForwardedCertLayer) -> SocketAddr {
    let app = app(orders_layer(orders_issuer(idp).await)).layer(forwarded);
    let listener = bind_loopback().await;
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let _ = axum::serve(
            listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await;
    });
    addr
}

async fn get_plain(
    addr: SocketAddr,
    header: &str,
    value: &str,
    token: &str,
) -> (StatusCode, String) {
    let res = reqwest::Client::new()
        .get(format!("http://{addr}/x"))
        .header(header, value)
        .bearer_auth(token)
        .timeout(Duration::from_secs(10))
        .send()
        .await
        .unwrap();
    answer(res).await
}

fn escaped_pem(who: &Identity) -> String {
    percent_encode(&who.cert_pem)
}

fn percent_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[tokio::test]
async fn envoy_header_from_a_trusted_proxy() {
    let idp = MockIssuer::start().await;
    let pki = Pki::new();
    let (alice, bob) = (pki.client("alice"), pki.client("bob"));
    let token = idp
        .token()
        .claim(
            "cnf",
            json!({"x5t#S256": alice.client_certificate().x5t_s256()}),
        )
        .sign();
    let trusted = behind_proxy(
        &idp,
        ForwardedCertLayer::envoy()
            .trusted_proxies(["127.0.0.1"])
            .build()
            .unwrap(),
    )
    .await;
    let xfcc = |who: &Identity| {
        format!(
            "By=spiffe://orders;Cert=\"{}\";Subject=\"CN=x\"",
            escaped_pem(who)
        )
    };
    assert_eq!(get_plain(trusted, XFCC, &xfcc(&alice), &token).await, ok());
    assert_eq!(
        get_plain(trusted, XFCC, &xfcc(&bob), &token).await,
        refused("certificate_mismatch")
    );
    let hash: String = alice
        .client_certificate()
        .sha256()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(
        get_plain(trusted, XFCC, &format!("Hash={hash}"), &token).await,
        ok()
    );
    // Malformed from the trusted proxy: ignored, the server keeps serving.
    for bad in [
        "Cert=\"%%%",
        "Cert=garbage",
        "Hash=00",
        &format!("{},{}", xfcc(&alice), xfcc(&bob)),
        "\"\"\"",
        ";;;,,,=",
    ] {
        assert_eq!(
            get_plain(trusted, XFCC, bad, &token).await,
            refused("certificate_missing"),
            "{bad}"
        );
    }
    // An unbound token is unaffected, and the header never reaches the handler.
    assert_eq!(
        get_plain(trusted, XFCC, &xfcc(&alice), &idp.token().sign()).await,
        ok()
    );
}

#[tokio::test]
async fn header_from_an_untrusted_peer_is_stripped() {
    let idp = MockIssuer::start().await;
    let pki = Pki::new();
    let alice = pki.client("alice");
    let token = idp
        .token()
        .claim(
            "cnf",
            json!({"x5t#S256": alice.client_certificate().x5t_s256()}),
        )
        .sign();
    // The test client connects from 127.0.0.1, which is not the proxy.
    let elsewhere = behind_proxy(
        &idp,
        ForwardedCertLayer::envoy()
            .trusted_proxies(["10.0.0.0/8"])
            .build()
            .unwrap(),
    )
    .await;
    let xfcc = format!("Cert=\"{}\"", escaped_pem(&alice));
    assert_eq!(
        get_plain(elsewhere, XFCC, &xfcc, &token).await,
        refused("certificate_missing")
    );
    assert_eq!(
        get_plain(elsewhere, XFCC, &xfcc, &idp.token().sign()).await,
        ok(),
        "stripped before the handler"
    );
    // nginx: the same.
    let nginx = ForwardedCertLayer::nginx("x-client-cert")
        .trusted_proxies(["192.0.2.1"])
        .build()
        .unwrap();
    let addr = behind_proxy(&idp, nginx).await;
    assert_eq!(
        get_plain(addr, "x-client-cert", &escaped_pem(&alice), &token).await,
        refused("certificate_missing")
    );
    assert_eq!(
        get_plain(
            addr,
            "x-client-cert",
            &escaped_pem(&alice),
            &idp.token().sign()
        )
        .await,
        ok()
    );
}

#[tokio::test]
async fn nginx_header_from_a_trusted_proxy() {
    let idp = MockIssuer::start().await;
    let pki = Pki::new();
    let (alice, bob) = (pki.client("alice"), pki.client("bob"));
    let token = idp
        .token()
        .claim(
            "cnf",
            json!({"x5t#S256": alice.client_certificate().x5t_s256()}),
        )
        .sign();
    let nginx = ForwardedCertLayer::nginx("x-client-cert")
        .trusted_proxies(["127.0.0.0/8", "::1"])
        .build()
        .unwrap();
    let addr = behind_proxy(&idp, nginx).await;
    assert_eq!(
        get_plain(addr, "x-client-cert", &escaped_pem(&alice), &token).await,
        ok()
    );
    assert_eq!(
        get_plain(addr, "x-client-cert", &escaped_pem(&bob), &token).await,
        refused("certificate_mismatch")
    );
    for bad in [
        "",
        "-----BEGIN%20CERTIFICATE-----%0A%25%25%0A-----END%20CERTIFICATE-----",
        "%ZZ",
    ] {
        assert_eq!(
            get_plain(addr, "x-client-cert", bad, &token).await,
            refused("certificate_missing"),
            "{bad:?}"
        );
    }
}
