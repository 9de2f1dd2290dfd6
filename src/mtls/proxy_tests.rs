use super::*;

const DER: &[u8] = &[0x30, 0x03, 0x02, 0x01, 0x01];
const PEM: &str = "-----BEGIN CERTIFICATE-----\nMAMCAQE=\n-----END CERTIFICATE-----\n";

fn escaped() -> String {
    percent_encoding::utf8_percent_encode(PEM, percent_encoding::NON_ALPHANUMERIC).to_string()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn run(layer: &ForwardedCertLayer, peer: Option<&str>, values: &[&str]) -> Request<()> {
    let mut req = Request::new(());
    for v in values {
        req.headers_mut()
            .append(&layer.config.header, v.parse().unwrap());
    }
    if let Some(p) = peer {
        req.extensions_mut()
            .insert(ConnectInfo::<SocketAddr>(p.parse().unwrap()));
    }
    layer.config.apply(&mut req);
    assert!(
        req.headers().get(&layer.config.header).is_none(),
        "header stripped"
    );
    req
}

fn cert(req: &Request<()>) -> Option<&ClientCertificate> {
    req.extensions().get::<ClientCertificate>()
}

fn envoy() -> ForwardedCertLayer {
    ForwardedCertLayer::envoy()
        .trusted_proxies(["10.0.0.0/8", "fd00::/8"])
        .build()
        .unwrap()
}

#[test]
fn envoy_cert_from_trusted_peer_only() {
    let layer = envoy();
    let want = ClientCertificate::from_der(DER.to_vec());
    let xfcc = format!(
        "By=spiffe://a/b;Hash={};Cert=\"{}\";Subject=\"CN=x,O=y\";URI=spiffe://c",
        hex(want.sha256()),
        escaped()
    );
    for peer in ["10.1.2.3:1", "[::ffff:10.9.9.9]:1", "[fd00::1]:1"] {
        let req = run(&layer, Some(peer), &[&xfcc]);
        assert_eq!(cert(&req), Some(&want), "{peer}");
        assert_eq!(cert(&req).unwrap().der(), Some(DER));
    }
    for peer in [Some("11.0.0.1:1"), Some("[fe00::1]:1"), None] {
        assert!(cert(&run(&layer, peer, &[&xfcc])).is_none(), "{peer:?}");
    }
}

#[test]
fn envoy_hash_alone_and_disagreeing_hash() {
    let layer = envoy();
    let want = ClientCertificate::from_der(DER.to_vec());
    let req = run(
        &layer,
        Some("10.0.0.1:1"),
        &[&format!("Hash={}", hex(want.sha256()))],
    );
    assert_eq!(cert(&req), Some(&want));
    assert_eq!(cert(&req).unwrap().der(), None);
    let wrong = format!("Hash={};Cert={}", "00".repeat(32), escaped());
    assert!(cert(&run(&layer, Some("10.0.0.1:1"), &[&wrong])).is_none());
}

#[test]
fn malformed_xfcc_is_ignored() {
    let layer = envoy();
    let good = format!("Cert={}", escaped());
    let two_elements = format!("{good},{good}");
    let long = format!("Cert={}", "A".repeat(MAX_HEADER_BYTES));
    let cases: Vec<&str> = vec![
        "",
        "garbage",
        "Cert=",
        "Cert=\"unterminated",
        "Hash=zz",
        "Hash=abcd",
        "By=spiffe://a",
        &two_elements,
        &long,
        "Cert=%ZZ%",
        "Cert=-----BEGIN%20CERTIFICATE-----%0AAAAA%0A-----END%20CERTIFICATE-----",
    ];
    for v in cases {
        assert!(
            cert(&run(&layer, Some("10.0.0.1:1"), &[v])).is_none(),
            "{v}"
        );
    }
    // Two header lines: refused as well.
    assert!(cert(&run(&layer, Some("10.0.0.1:1"), &[&good, &good])).is_none());
    assert!(cert(&run(&layer, Some("10.0.0.1:1"), &[&good])).is_some());
}

#[test]
fn nginx_escaped_pem() {
    let layer = ForwardedCertLayer::nginx("x-client-cert")
        .trusted_proxies(["127.0.0.1"])
        .build()
        .unwrap();
    let want = ClientCertificate::from_der(DER.to_vec());
    assert_eq!(
        cert(&run(&layer, Some("127.0.0.1:9"), &[&escaped()])),
        Some(&want)
    );
    assert!(cert(&run(&layer, Some("127.0.0.2:9"), &[&escaped()])).is_none());
    assert!(cert(&run(&layer, Some("127.0.0.1:9"), &[""])).is_none());
    assert!(cert(&run(&layer, Some("127.0.0.1:9"), &["%2D%2D"])).is_none());
}

#[test]
fn config_errors() {
    assert!(matches!(
        ForwardedCertLayer::envoy().build(),
        Err(ConfigError::MissingSetting {
            setting: "trusted_proxies",
            ..
        })
    ));
    for bad in [
        "10.0.0.0/33",
        "::/0",
        "0.0.0.0/0",
        "localhost",
        "10.0.0.1/x",
        "",
    ] {
        assert!(
            matches!(
                ForwardedCertLayer::envoy().trusted_proxies([bad]).build(),
                Err(ConfigError::InvalidAddress { .. })
            ),
            "{bad}"
        );
    }
    assert!(matches!(
        ForwardedCertLayer::nginx("bad header")
            .trusted_proxies(["::1"])
            .build(),
        Err(ConfigError::InvalidHeaderValue { .. })
    ));
}
