//! mTLS certificate-bound access tokens (RFC 8705), end to end on 127.0.0.1.
//!
//! - A throwaway PKI is made at start with rcgen: a CA, the server's
//!   certificate and two client certificates (alice, bob).
//! - `orders` is an axum service served over rustls by `mtls::serve`,
//!   requiring client certificates of that CA.
//! - The embedded test issuer signs a token bound to alice's certificate
//!   (`cnf: {"x5t#S256": …}`): alice's calls are accepted, bob presenting
//!   the same (stolen) token is refused with `certificate_mismatch`.
//! - A token without `cnf` is accepted on `/orders`, and refused on
//!   `/admin`, whose layer requires certificate-bound tokens.
//!
//! `cargo run --features testkit,mtls --example mtls` — exits 0 when every
//! answer is the expected one.

use std::sync::Arc;

use axum::{routing::get, Router};
use oauth2_guard::mtls::rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use oauth2_guard::mtls::rustls::server::WebPkiClientVerifier;
use oauth2_guard::mtls::rustls::{RootCertStore, ServerConfig};
use oauth2_guard::mtls::{self, ClientCertificate};
use oauth2_guard::testkit::MockIssuer;
use oauth2_guard::{AuthLayer, Reason, Rejection, VerifiedClaims};
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
};
use serde_json::json;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

struct Leaf {
    der: CertificateDer<'static>,
    pem: String,
    key: KeyPair,
}

fn leaf(
    ca: &Issuer<'_, KeyPair>,
    name: &str,
    usage: ExtendedKeyUsagePurpose,
) -> Result<Leaf, BoxError> {
    let mut params = CertificateParams::new(vec![name.to_owned()])?;
    params.distinguished_name.push(DnType::CommonName, name);
    params.extended_key_usages = vec![usage];
    let key = KeyPair::generate()?;
    let cert = params.signed_by(&key, ca)?;
    Ok(Leaf {
        der: cert.der().clone(),
        pem: cert.pem(),
        key,
    })
}

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    // 1. The PKI.
    let mut ca_params = CertificateParams::new(Vec::<String>::new())?;
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "example client CA");
    let ca_key = KeyPair::generate()?;
    let ca_der = ca_params.self_signed(&ca_key)?.der().clone();
    let ca = Issuer::new(ca_params, ca_key);
    let server = leaf(&ca, "127.0.0.1", ExtendedKeyUsagePurpose::ServerAuth)?;
    let alice = leaf(&ca, "alice", ExtendedKeyUsagePurpose::ClientAuth)?;
    let bob = leaf(&ca, "bob", ExtendedKeyUsagePurpose::ClientAuth)?;

    // 2. The service: TLS requiring a client certificate of the CA.
    let mut roots = RootCertStore::empty();
    roots.add(ca_der.clone())?;
    let tls = ServerConfig::builder()
        .with_client_cert_verifier(WebPkiClientVerifier::builder(Arc::new(roots)).build()?)
        .with_single_cert(
            vec![server.der.clone()],
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(server.key.serialize_der())),
        )?;
    let idp = MockIssuer::start().await;
    let issuer = || async {
        idp.issuer_builder()
            .audience(idp.default_audience())
            .build()
            .await
    };
    let orders = AuthLayer::builder().issuer(issuer().await?).build()?;
    // /admin: only certificate-bound tokens (a plain bearer token is refused).
    let admin = AuthLayer::builder()
        .issuer(issuer().await?)
        .post_verify(|claims: &VerifiedClaims| {
            if claims.is_sender_constrained() {
                Ok(())
            } else {
                Err(Rejection::from_reason(Reason::SenderConstrained))
            }
        })
        .build()?;
    let app = Router::new()
        .route("/orders", get(|| async { "orders" }).layer(orders))
        .route("/admin", get(|| async { "admin" }).layer(admin));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let port = listener.local_addr()?.port();
    let server_task = tokio::spawn(mtls::serve(listener, Arc::new(tls), app));
    println!("orders: https://127.0.0.1:{port} (client certificates required)");

    // 3. Callers: reqwest presenting alice's or bob's certificate.
    let client = |who: &Leaf| -> Result<reqwest::Client, BoxError> {
        let identity = format!("{}{}", who.pem, who.key.serialize_pem());
        Ok(reqwest::Client::builder()
            .tls_certs_only([reqwest::Certificate::from_der(&ca_der)?])
            .identity(reqwest::Identity::from_pem(identity.as_bytes())?)
            .timeout(std::time::Duration::from_secs(10))
            .build()?)
    };
    let (as_alice, as_bob) = (client(&alice)?, client(&bob)?);

    // 4. A token bound to alice's certificate, and one bound to nothing.
    let alice_x5t = ClientCertificate::from_der(alice.der.to_vec())
        .x5t_s256()
        .to_owned();
    let bound = idp
        .token()
        .claim("cnf", json!({"x5t#S256": alice_x5t}))
        .sign();
    let unbound = idp.token().sign();

    let mut failures = 0;
    for (who, http, path, token, want) in [
        ("alice", &as_alice, "/orders", &bound, 200),
        ("bob (stolen token)", &as_bob, "/orders", &bound, 401),
        ("alice", &as_alice, "/admin", &bound, 200),
        ("bob, unbound token", &as_bob, "/orders", &unbound, 200),
        ("bob, unbound token", &as_bob, "/admin", &unbound, 401),
    ] {
        let res = http
            .get(format!("https://127.0.0.1:{port}{path}"))
            .bearer_auth(token)
            .send()
            .await?;
        let status = res.status().as_u16();
        let challenge = res
            .headers()
            .get("www-authenticate")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned();
        let verdict = if status == want {
            "as expected"
        } else {
            "UNEXPECTED"
        };
        println!("{who:>20} GET {path:<8} -> {status} {challenge} ({verdict})");
        failures += usize::from(status != want);
    }
    server_task.abort();
    if failures > 0 {
        return Err(format!("{failures} unexpected answers").into());
    }
    println!("ok: the bound token works only with alice's certificate");
    Ok(())
}
