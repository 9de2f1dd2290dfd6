//! Certificate-bound tokens (RFC 8705) under attack: a stolen bound token
//! presented without the certificate, with another one, with a forged
//! forwarded-certificate header, or with a thumbprint bent to look alike.
#![cfg(feature = "mtls")]

use std::net::SocketAddr;

use axum::extract::ConnectInfo;
use oauth2_guard::mtls::{ClientCertificate, ForwardedCertLayer};
use tower::Layer;

use super::*;

const ALICE_DER: &[u8] = &[0x30, 0x03, 0x02, 0x01, 0x01];
const MALLORY_DER: &[u8] = &[0x30, 0x03, 0x02, 0x01, 0x02];

impl Harness {
    /// `token` as a Bearer token on a request that came with `cert` (as
    /// `mtls::serve` or a trusted proxy would put it there), from `peer`,
    /// with `headers`; through `forwarded` when given.
    async fn send_with(
        &mut self,
        token: &str,
        cert: Option<&ClientCertificate>,
        headers: &[(&str, String)],
        forwarded: Option<&ForwardedCertLayer>,
    ) -> (http::Response<Body>, Duration) {
        let mut req = get_with_auth("/x", bearer(token));
        if let Some(cert) = cert {
            req.extensions_mut().insert(cert.clone());
        }
        req.extensions_mut()
            .insert(ConnectInfo::<SocketAddr>(([203, 0, 113, 9], 4000).into()));
        for (name, value) in headers {
            let name = http::HeaderName::from_bytes(name.as_bytes()).expect("header name");
            req.headers_mut()
                .insert(name, value.parse().expect("header value"));
        }
        self.sent.push(token.to_owned());
        let start = Instant::now();
        let res = match forwarded {
            Some(layer) => layer.layer(self.app.clone()).oneshot(req).await,
            None => self.app.clone().oneshot(req).await,
        }
        .unwrap();
        (res, start.elapsed())
    }

    async fn refuse_with(
        &mut self,
        name: &str,
        token: &str,
        cert: Option<&ClientCertificate>,
        headers: &[(&str, String)],
        forwarded: Option<&ForwardedCertLayer>,
        reason: Reason,
    ) {
        let (res, took) = self.send_with(token, cert, headers, forwarded).await;
        self.check(name, res, took, reason);
    }
}

fn escaped_pem(der: &[u8]) -> String {
    let pem = format!(
        "-----BEGIN CERTIFICATE-----\n{}\n-----END CERTIFICATE-----\n",
        STANDARD.encode(der)
    );
    pem.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[tokio::test]
async fn stolen_certificate_bound_token() {
    let mut h = Harness::new().await;
    let alice = ClientCertificate::from_der(ALICE_DER);
    let mallory = ClientCertificate::from_der(MALLORY_DER);
    let x5t = alice.x5t_s256().to_owned();
    let token = h.idp.token().claim("cnf", json!({"x5t#S256": x5t})).sign();

    let (res, _) = h.send_with(&token, Some(&alice), &[], None).await;
    assert_eq!(
        res.status(),
        StatusCode::OK,
        "control: the owner's certificate"
    );

    h.refuse_with(
        "no certificate",
        &token,
        None,
        &[],
        None,
        Reason::CertificateMissing,
    )
    .await;
    h.refuse_with(
        "thief's certificate",
        &token,
        Some(&mallory),
        &[],
        None,
        Reason::CertificateMismatch,
    )
    .await;
    // A forged XFCC header naming Alice's certificate, sent straight to an
    // app without the proxy layer, or through it from an untrusted peer.
    let forged = vec![(
        "x-forwarded-client-cert",
        format!("Cert=\"{}\"", escaped_pem(ALICE_DER)),
    )];
    h.refuse_with(
        "forged XFCC, no proxy layer",
        &token,
        None,
        &forged,
        None,
        Reason::CertificateMissing,
    )
    .await;
    let envoy = ForwardedCertLayer::envoy()
        .trusted_proxies(["10.0.0.0/8"])
        .build()
        .unwrap();
    h.refuse_with(
        "forged XFCC, untrusted peer",
        &token,
        None,
        &forged,
        Some(&envoy),
        Reason::CertificateMissing,
    )
    .await;
    // The header does not override the TLS certificate from an untrusted peer.
    h.refuse_with(
        "forged XFCC over the thief's TLS",
        &token,
        Some(&mallory),
        &forged,
        Some(&envoy),
        Reason::CertificateMismatch,
    )
    .await;
    let hash = vec![(
        "x-forwarded-client-cert",
        format!(
            "Hash={}",
            alice
                .sha256()
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect::<String>()
        ),
    )];
    h.refuse_with(
        "forged XFCC Hash, untrusted peer",
        &token,
        None,
        &hash,
        Some(&envoy),
        Reason::CertificateMissing,
    )
    .await;
    h.finish();
}

#[tokio::test]
async fn bent_thumbprints_never_match() {
    let mut h = Harness::new().await;
    let alice = ClientCertificate::from_der(ALICE_DER);
    let x5t = alice.x5t_s256().to_owned();
    let std_b64 = STANDARD.encode(alice.sha256());
    let hex: String = alice.sha256().iter().map(|b| format!("{b:02x}")).collect();
    let sha1_len = URL_SAFE_NO_PAD.encode(&alice.sha256()[..20]);
    for (name, value) in [
        ("padded", format!("{x5t}=")),
        ("standard alphabet with padding", std_b64),
        ("hex", hex),
        ("SHA-1 length (x5t, not x5t#S256)", sha1_len),
        ("upper-cased", x5t.to_uppercase()),
        ("whitespace", format!(" {x5t}")),
        ("truncated", x5t[..42].to_owned()),
    ] {
        let token = h
            .idp
            .token()
            .claim("cnf", json!({"x5t#S256": value}))
            .sign();
        h.refuse_with(
            name,
            &token,
            Some(&alice),
            &[],
            None,
            Reason::CertificateMismatch,
        )
        .await;
    }
    // The SHA-1 `x5t` member, or a thumbprint beside another binding, is
    // not a certificate binding the crate checks.
    for (name, cnf) in [
        ("cnf.x5t (SHA-1)", json!({"x5t": x5t})),
        ("x5t#S256 and jkt", json!({"x5t#S256": x5t, "jkt": x5t})),
        ("x5t#S256 not a string", json!({"x5t#S256": [x5t]})),
    ] {
        let token = h.idp.token().claim("cnf", cnf).sign();
        h.refuse_with(
            name,
            &token,
            Some(&alice),
            &[],
            None,
            Reason::SenderConstrained,
        )
        .await;
    }
    h.finish();
}
