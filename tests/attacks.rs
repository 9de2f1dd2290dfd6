//! The JWT attack catalogue, sent through the real `AuthLayer` (axum router,
//! `tower::ServiceExt::oneshot`) against a `MockIssuer`.
//!
//! Every attack must be refused with 401 `invalid_token` (or 400
//! `invalid_request` where RFC 6750 §3.1 says so), with the exact internal
//! [`Reason`] the layer puts into the response extensions, in well under a
//! second, and without any token reaching the logs. Each test installs a
//! thread-local `tracing` subscriber writing to a buffer (the tests run on a
//! current-thread runtime, so the layer's events and its refresh task are
//! captured) and scans that buffer for every token it sent.
//!
//! See `docs/security.md` for the catalogue as a table.
#![cfg(all(feature = "testkit", feature = "axum"))]
mod common;

#[path = "attacks/dpop.rs"]
mod dpop;
#[path = "attacks/http.rs"]
mod http_attacks;
#[path = "attacks/introspection.rs"]
mod introspection;

#[path = "attacks/jwks.rs"]
mod jwks;
#[path = "attacks/lazy.rs"]
mod lazy;
#[path = "attacks/mtls.rs"]
mod mtls;
#[path = "attacks/tenants.rs"]
mod tenants;

use std::time::{Duration, Instant};

use axum::{body::Body, routing::get, Router};
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use http::{header, Request, StatusCode};
#[cfg(feature = "aws_lc_rs")]
use jsonwebtoken::crypto::aws_lc::DEFAULT_PROVIDER;
#[cfg(not(feature = "aws_lc_rs"))]
use jsonwebtoken::crypto::rust_crypto::DEFAULT_PROVIDER;
use jsonwebtoken::EncodingKey;
use oauth2_guard::testkit::{Algorithm, MockIssuer};
use oauth2_guard::{AuthLayer, Reason, Rejection};
use serde_json::{json, Value};
use tower::ServiceExt;

use common::logs::{assert_no_token_in, LogCapture, ScanMin, REJECTED_EVENT};
use common::{
    bearer, challenge, get_with_auth, now, ok_app, orders_issuer, orders_layer, reason_of,
};

#[path = "attacks/bound.rs"]
mod bound;
#[path = "attacks/cookie.rs"]
mod cookie;
#[path = "attacks/extractors.rs"]
mod extractors;

/// Sanity bound per request (not a benchmark).
const MAX_WALL: Duration = Duration::from_secs(1);

const P256_N: &str = "FFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551";
const P384_N: &str = "FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFC7634D81F4372DDF581A0DB248B0A77AECEC196ACCC52973";

/// One MockIssuer, one app behind the layer, a log buffer, and every token sent.
struct Harness {
    idp: MockIssuer,
    app: Router,
    logs: LogCapture,
    _guard: tracing::subscriber::DefaultGuard,
    sent: Vec<String>,
    cases: usize,
}

impl Harness {
    async fn new() -> Self {
        // Thread-local: the tests run on a current-thread runtime, so the
        // layer's events and its refresh task's are all on this thread.
        let logs = LogCapture::default();
        let guard = logs.set_thread_default(tracing::Level::TRACE);
        let idp = MockIssuer::start().await;
        let app = ok_app(orders_layer(orders_issuer(&idp).await));
        Harness {
            idp,
            app,
            logs,
            _guard: guard,
            sent: Vec::new(),
            cases: 0,
        }
    }

    fn iss(&self) -> String {
        self.idp.issuer_url()
    }

    /// Valid claims for this issuer.
    fn claims(&self) -> Value {
        json!({
            "iss": self.iss(),
            "sub": "mallory",
            "aud": "orders-api",
            "iat": now(),
            "exp": now() + 300,
            "scope": "orders:read",
        })
    }

    async fn send_header(&mut self, value: http::HeaderValue) -> (http::Response<Body>, Duration) {
        let req = get_with_auth("/x", value);
        let start = Instant::now();
        let res = self.app.clone().oneshot(req).await.unwrap();
        (res, start.elapsed())
    }

    /// A valid token must pass: the positive control for a family of attacks.
    async fn accept(&mut self, name: &str, token: &str) {
        let (res, took) = self.send_header(bearer(token)).await;
        assert_eq!(
            res.status(),
            StatusCode::OK,
            "{name}: control token refused: {:?}",
            res.extensions().get::<Rejection>()
        );
        assert!(took < MAX_WALL, "{name}: took {took:?}");
        self.sent.push(token.to_owned());
    }

    /// The attack must be refused with `reason` and the RFC 6750 answer.
    async fn refuse(&mut self, name: &str, token: &str, reason: Reason) {
        let (res, took) = self.send_header(bearer(token)).await;
        self.sent.push(token.to_owned());
        self.check(name, res, took, reason);
    }

    fn check(&mut self, name: &str, res: http::Response<Body>, took: Duration, reason: Reason) {
        self.cases += 1;
        let (status, code) = match reason {
            Reason::InvalidRequest => (StatusCode::BAD_REQUEST, "invalid_request"),
            _ => (StatusCode::UNAUTHORIZED, "invalid_token"),
        };
        assert_eq!(res.status(), status, "{name}");
        let challenge = challenge(&res);
        assert!(challenge.starts_with("Bearer"), "{name}: {challenge}");
        assert!(
            challenge.contains(&format!("error=\"{code}\"")),
            "{name}: {challenge}"
        );
        assert_eq!(reason_of(&res), Some(reason), "{name}");
        assert!(took < MAX_WALL, "{name}: took {took:?}");
    }

    /// No token sent by this test appears in the captured logs, and the
    /// capture did see the layer's events.
    fn finish(self) {
        let logs = self.logs.text();
        assert!(
            logs.contains(REJECTED_EVENT),
            "log capture saw no rejection events"
        );
        // Every token however short; signatures from 16 characters.
        let min = ScanMin {
            token: 0,
            signature: 16,
        };
        assert_no_token_in(&logs, &self.sent, min);
        assert!(self.cases > 0);
    }
}

fn enc(v: &Value) -> String {
    URL_SAFE_NO_PAD.encode(v.to_string())
}

fn split(token: &str) -> (String, String, Vec<u8>) {
    let mut it = token.split('.');
    let h = it.next().unwrap().to_owned();
    let p = it.next().unwrap().to_owned();
    let s = URL_SAFE_NO_PAD.decode(it.next().unwrap()).unwrap();
    (h, p, s)
}

fn with_sig(token: &str, sig: &[u8]) -> String {
    let (h, p, _) = split(token);
    format!("{h}.{p}.{}", URL_SAFE_NO_PAD.encode(sig))
}

/// Sign `header.claims` with `alg` and `key`, bypassing the mock's helpers.
fn sign_with(alg: Algorithm, key: &EncodingKey, header: &Value, claims: &Value) -> String {
    let input = format!("{}.{}", enc(header), enc(claims));
    let signer = (DEFAULT_PROVIDER.signer_factory)(&alg, key).expect("signer");
    let sig = signer.try_sign(input.as_bytes()).expect("sign");
    format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig))
}

fn private_key(idp: &MockIssuer, kid: &str) -> EncodingKey {
    let pem = idp.private_key_pem(kid).expect("known kid");
    let pem = pem.as_bytes();
    if kid.starts_with("rsa") {
        EncodingKey::from_rsa_pem(pem).unwrap()
    } else if kid.starts_with("ec") {
        EncodingKey::from_ec_pem(pem).unwrap()
    } else {
        EncodingKey::from_ed_pem(pem).unwrap()
    }
}

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

/// ASN.1 DER `SEQUENCE { INTEGER r, INTEGER s }` from a raw `r‖s` signature.
fn der_ecdsa(raw: &[u8]) -> Vec<u8> {
    fn int(x: &[u8]) -> Vec<u8> {
        let mut x: Vec<u8> = x.iter().copied().skip_while(|b| *b == 0).collect();
        if x.is_empty() || x[0] & 0x80 != 0 {
            x.insert(0, 0);
        }
        let mut out = vec![0x02, x.len() as u8];
        out.extend(x);
        out
    }
    let (r, s) = raw.split_at(raw.len() / 2);
    let body: Vec<u8> = int(r).into_iter().chain(int(s)).collect();
    assert!(body.len() < 128);
    let mut out = vec![0x30, body.len() as u8];
    out.extend(body);
    out
}

#[tokio::test]
async fn alg_none_and_empty_signatures() {
    let mut h = Harness::new().await;
    let claims = h.claims();
    let good = h
        .idp
        .sign_raw(json!({"alg": "RS256", "kid": "rsa-1"}), claims.clone());
    h.accept("control rs256", &good).await;
    for none in ["none", "None", "NONE", "nOnE"] {
        let unsigned = format!(
            "{}.{}.",
            enc(&json!({"alg": none, "typ": "at+jwt"})),
            enc(&claims)
        );
        h.refuse(
            &format!("alg {none} without signature"),
            &unsigned,
            Reason::DisallowedAlg,
        )
        .await;
        // The same header with the valid RS256 signature of another token attached.
        let (_, _, sig) = split(&good);
        let signed = format!(
            "{}.{}.{}",
            enc(&json!({"alg": none, "kid": "rsa-1"})),
            enc(&claims),
            URL_SAFE_NO_PAD.encode(&sig)
        );
        h.refuse(
            &format!("alg {none} with signature"),
            &signed,
            Reason::DisallowedAlg,
        )
        .await;
        let dummy = format!("{}.{}.c2ln", enc(&json!({"alg": none})), enc(&claims));
        h.refuse(
            &format!("alg {none} with junk signature"),
            &dummy,
            Reason::DisallowedAlg,
        )
        .await;
    }
    let mock_none = h.idp.sign_raw(json!({"alg": "none"}), claims.clone());
    h.refuse("mock sign_raw alg none", &mock_none, Reason::DisallowedAlg)
        .await;
    // Null / empty / zero signatures on a correct RS256 header.
    h.refuse(
        "empty signature",
        &format!("{}.", good.rsplit_once('.').unwrap().0),
        Reason::BadSignature,
    )
    .await;
    h.refuse(
        "one zero byte",
        &with_sig(&good, &[0]),
        Reason::BadSignature,
    )
    .await;
    h.refuse(
        "256 zero bytes",
        &with_sig(&good, &[0; 256]),
        Reason::BadSignature,
    )
    .await;
    let null_sig = format!("{}.bnVsbA", good.rsplit_once('.').unwrap().0);
    h.refuse("signature 'null'", &null_sig, Reason::BadSignature)
        .await;
    // Not a JWS at all / a JWE.
    h.refuse(
        "two segments",
        good.rsplit_once('.').unwrap().0,
        Reason::Malformed,
    )
    .await;
    h.refuse(
        "five segments (JWE)",
        "eyJhbGciOiJSU0EtT0FFUCJ9.a.b.c.d",
        Reason::Encrypted,
    )
    .await;
    h.refuse(
        "padding in segment",
        &format!("{good}=="),
        Reason::Malformed,
    )
    .await;
    h.finish();
}

#[tokio::test]
async fn rs_to_hs_key_confusion() {
    let mut h = Harness::new().await;
    let claims = h.claims();
    let pem = h.idp.public_key_pem("rsa-1").unwrap();
    let der_b64: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    let der = STANDARD.decode(der_b64).unwrap();
    let jwk = h.idp.jwks_json()["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["kid"] == "rsa-1")
        .unwrap()
        .clone();
    let forms: [(&str, Vec<u8>); 5] = [
        ("PEM", pem.clone().into_bytes()),
        (
            "PEM without trailing newline",
            pem.trim_end().as_bytes().to_vec(),
        ),
        ("DER", der),
        ("JWK JSON", jwk.to_string().into_bytes()),
        (
            "JWK n",
            URL_SAFE_NO_PAD.decode(jwk["n"].as_str().unwrap()).unwrap(),
        ),
    ];
    for (form, secret) in forms {
        for alg in [Algorithm::HS256, Algorithm::HS384, Algorithm::HS512] {
            let header = json!({"alg": format!("{alg:?}"), "kid": "rsa-1", "typ": "at+jwt"});
            let token = sign_with(
                alg,
                &EncodingKey::from_secret(&secret).unwrap(),
                &header,
                &claims,
            );
            h.refuse(
                &format!("{alg:?} keyed with RSA public key ({form})"),
                &token,
                Reason::DisallowedAlg,
            )
            .await;
        }
    }
    // The mock's own confusion forgery, and one without kid.
    let forged = h
        .idp
        .sign_raw(json!({"alg": "HS256", "kid": "rsa-1"}), claims.clone());
    h.refuse("mock HS256 confusion", &forged, Reason::DisallowedAlg)
        .await;
    let no_kid = sign_with(
        Algorithm::HS256,
        &EncodingKey::from_secret(pem.as_bytes()).unwrap(),
        &json!({"alg": "HS256"}),
        &claims,
    );
    h.refuse(
        "HS256 confusion without kid",
        &no_kid,
        Reason::DisallowedAlg,
    )
    .await;
    h.finish();
}

#[tokio::test]
async fn header_key_injection_makes_no_request() {
    let mut h = Harness::new().await;
    let claims = h.claims();
    let evil = format!("{}/evil-jwks", h.iss());
    let evil_cert = format!("{}/evil-cert.pem", h.iss());
    // The attacker's key: generated by the mock, then unpublished.
    let attacker = h.idp.add_key(Algorithm::RS256);
    let attacker_jwk = h.idp.jwks_json()["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["kid"] == attacker.as_str())
        .unwrap()
        .clone();
    h.idp.remove_key(&attacker);
    let attacker_pem = h.idp.public_key_pem(&attacker).unwrap();
    let spki: String = attacker_pem
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .collect();
    let key = private_key(&h.idp, &attacker);
    let fetches_before = h.idp.jwks_fetches();
    let headers = [
        (
            "embedded jwk, attacker kid",
            json!({"alg": "RS256", "kid": attacker, "jwk": attacker_jwk}),
        ),
        (
            "embedded jwk, no kid",
            json!({"alg": "RS256", "jwk": attacker_jwk}),
        ),
        (
            "embedded jwk, victim kid",
            json!({"alg": "RS256", "kid": "rsa-1", "jwk": attacker_jwk}),
        ),
        (
            "jku, attacker kid",
            json!({"alg": "RS256", "kid": attacker, "jku": evil}),
        ),
        (
            "jku, victim kid",
            json!({"alg": "RS256", "kid": "rsa-1", "jku": evil}),
        ),
        ("jku, no kid", json!({"alg": "RS256", "jku": evil})),
        (
            "x5u",
            json!({"alg": "RS256", "kid": attacker, "x5u": evil_cert}),
        ),
        (
            "x5u, victim kid",
            json!({"alg": "RS256", "kid": "rsa-1", "x5u": evil_cert}),
        ),
        (
            "x5c",
            json!({"alg": "RS256", "kid": attacker, "x5c": [spki]}),
        ),
        (
            "x5c, victim kid",
            json!({"alg": "RS256", "kid": "rsa-1", "x5c": [spki]}),
        ),
        (
            "all of them",
            json!({"alg": "RS256", "kid": "rsa-1", "jwk": attacker_jwk, "jku": evil, "x5u": evil_cert, "x5c": [spki]}),
        ),
    ];
    for (name, header) in headers {
        let token = sign_with(Algorithm::RS256, &key, &header, &claims);
        // Without a kid, the single published RS256 key is tried: bad signature.
        let reason = match header.get("kid").and_then(Value::as_str) {
            Some("rsa-1") | None => Reason::BadSignature,
            Some(_) => Reason::UnknownKey,
        };
        h.refuse(name, &token, reason).await;
    }
    assert_eq!(
        h.idp.requests_to("/evil-jwks"),
        0,
        "the injected jku was fetched"
    );
    assert_eq!(
        h.idp.requests_to("/evil-cert.pem"),
        0,
        "the injected x5u was fetched"
    );
    // An unknown kid may trigger at most one rate-limited refresh of the
    // configured JWKS, never more.
    assert!(
        h.idp.jwks_fetches() <= fetches_before + 1,
        "refresh was not rate-limited"
    );
    // The configured issuer's own token with the same headers still verifies:
    // the members are ignored, not a reason to refuse.
    let ok = h
        .idp
        .sign_raw(json!({"alg": "RS256", "kid": "rsa-1", "jku": evil}), claims);
    h.accept("control with ignored jku", &ok).await;
    assert_eq!(h.idp.requests_to("/evil-jwks"), 0);
    h.finish();
}

#[tokio::test]
async fn hostile_kids() {
    let mut h = Harness::new().await;
    let claims = h.claims();
    let key = private_key(&h.idp, "rsa-1");
    let long = "k".repeat(8 * 1024);
    let kids: [(&str, &str); 11] = [
        ("path traversal", "../../dev/null"),
        ("path traversal to passwd", "../../../../etc/passwd"),
        ("absolute path", "/dev/null"),
        ("SQL", "' OR 1=1 --"),
        ("SQL union", "x' UNION SELECT 'secret' --"),
        ("command substitution", "$(curl http://127.0.0.1:1/pwn)"),
        ("backticks", "`id`"),
        ("NUL byte", "rsa-1\u{0}"),
        ("CRLF", "rsa-1\r\nX-Injected: 1"),
        ("URL", "http://127.0.0.1:1/evil-jwks"),
        ("very long kid", long.as_str()),
    ];
    for (name, kid) in kids {
        let token = sign_with(
            Algorithm::RS256,
            &key,
            &json!({"alg": "RS256", "kid": kid}),
            &claims,
        );
        h.refuse(&format!("kid {name}"), &token, Reason::UnknownKey)
            .await;
    }
    for (name, kid) in [
        ("number", json!(1)),
        ("object", json!({"a": 1})),
        ("array", json!(["rsa-1"])),
    ] {
        let token = sign_with(
            Algorithm::RS256,
            &key,
            &json!({"alg": "RS256", "kid": kid}),
            &claims,
        );
        h.refuse(&format!("kid as {name}"), &token, Reason::Malformed)
            .await;
    }
    // `"kid": null` reads as no kid: the single RS256 key is tried. Signed by
    // the issuer it verifies; signed by anyone else it does not.
    let token = sign_with(
        Algorithm::RS256,
        &key,
        &json!({"alg": "RS256", "kid": null}),
        &claims,
    );
    h.accept("kid null, issuer's signature", &token).await;
    let stranger = h.idp.add_key(Algorithm::RS256);
    h.idp.remove_key(&stranger);
    let token = sign_with(
        Algorithm::RS256,
        &private_key(&h.idp, &stranger),
        &json!({"alg": "RS256", "kid": null}),
        &claims,
    );
    h.refuse(
        "kid null, stranger's signature",
        &token,
        Reason::BadSignature,
    )
    .await;
    h.finish();
}

#[tokio::test]
async fn malformed_ecdsa_signatures() {
    let mut h = Harness::new().await;
    let claims = h.claims();
    // Publish both keys before the first request: an unknown kid triggers one
    // refresh, then a cooldown.
    let kids = [
        h.idp.add_key(Algorithm::ES256),
        h.idp.add_key(Algorithm::ES384),
    ];
    for ((alg, n_hex), kid) in [(Algorithm::ES256, P256_N), (Algorithm::ES384, P384_N)]
        .into_iter()
        .zip(kids)
    {
        let good = h.idp.sign_raw(
            json!({"alg": format!("{alg:?}"), "kid": kid}),
            claims.clone(),
        );
        h.accept(&format!("control {alg:?}"), &good).await;
        let (_, _, raw) = split(&good);
        let len = raw.len() / 2;
        let n = hex(n_hex);
        assert_eq!(n.len(), len);
        let (r, s) = raw.split_at(len);
        let cat = |a: &[u8], b: &[u8]| [a, b].concat();
        let cases: Vec<(&str, Vec<u8>)> = vec![
            ("psychic r=s=0 (CVE-2022-21449)", vec![0; 2 * len]),
            ("r=0", cat(&vec![0; len], s)),
            ("s=0", cat(r, &vec![0; len])),
            ("r=s=n", cat(&n, &n)),
            ("r=n", cat(&n, s)),
            ("s=n", cat(r, &n)),
            ("all 0xFF", vec![0xFF; 2 * len]),
            ("truncated by one byte", raw[..raw.len() - 1].to_vec()),
            ("one byte too long", cat(&raw, &[0])),
            ("half length", raw[..len].to_vec()),
            ("DER-encoded valid signature", der_ecdsa(&raw)),
            ("flipped bit", {
                let mut v = raw.clone();
                v[len / 2] ^= 1;
                v
            }),
            ("r and s swapped", cat(s, r)),
        ];
        for (name, sig) in cases {
            h.refuse(
                &format!("{alg:?} {name}"),
                &with_sig(&good, &sig),
                Reason::BadSignature,
            )
            .await;
        }
    }
    h.finish();
}

#[tokio::test]
async fn algorithm_key_type_mismatch() {
    let mut h = Harness::new().await;
    let claims = h.claims();
    let ec256 = h.idp.add_key(Algorithm::ES256);
    let ec384 = h.idp.add_key(Algorithm::ES384);
    let ed = h.idp.add_key(Algorithm::EdDSA);
    let rsa_key = private_key(&h.idp, "rsa-1");
    // A second publication of rsa-1's public key, bound to RS256 by its `alg`.
    let mut bound = h.idp.jwks_json()["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["kid"] == "rsa-1")
        .unwrap()
        .clone();
    bound["kid"] = json!("rsa-bound");
    bound["alg"] = json!("RS256");
    h.idp.add_raw_jwk(bound);
    let control = sign_with(
        Algorithm::RS256,
        &rsa_key,
        &json!({"alg": "RS256", "kid": "rsa-bound"}),
        &claims,
    );
    h.accept("control RS256 on the RS256-bound key", &control)
        .await;
    let cases = [
        (
            "RS256 header, EC kid, RSA signature",
            Algorithm::RS256,
            ec256.clone(),
            rsa_key.clone(),
        ),
        (
            "ES256 header, RSA kid, EC signature",
            Algorithm::ES256,
            "rsa-1".to_owned(),
            private_key(&h.idp, &ec256),
        ),
        (
            "ES384 header, P-256 kid",
            Algorithm::ES384,
            ec256.clone(),
            private_key(&h.idp, &ec384),
        ),
        (
            "ES256 header, P-384 kid",
            Algorithm::ES256,
            ec384.clone(),
            private_key(&h.idp, &ec256),
        ),
        (
            "EdDSA header, RSA kid",
            Algorithm::EdDSA,
            "rsa-1".to_owned(),
            private_key(&h.idp, &ed),
        ),
        (
            "RS256 header, Ed25519 kid",
            Algorithm::RS256,
            ed.clone(),
            rsa_key.clone(),
        ),
        (
            "PS256 on a key bound to RS256",
            Algorithm::PS256,
            "rsa-bound".to_owned(),
            rsa_key.clone(),
        ),
        (
            "RS512 on a key bound to RS256",
            Algorithm::RS512,
            "rsa-bound".to_owned(),
            rsa_key.clone(),
        ),
    ];
    for (name, alg, kid, key) in cases {
        let token = sign_with(
            alg,
            &key,
            &json!({"alg": format!("{alg:?}"), "kid": kid}),
            &claims,
        );
        h.refuse(name, &token, Reason::DisallowedAlg).await;
    }
    // Algorithms that are not on the allowlist or do not exist.
    for alg in [
        "HS256", "rs256", "RS1", "ES512", "ES256K", "Ed25519", "", "RSA-OAEP",
    ] {
        let t = format!(
            "{}.{}.c2ln",
            enc(&json!({"alg": alg, "kid": "rsa-1"})),
            enc(&claims)
        );
        h.refuse(&format!("alg {alg:?}"), &t, Reason::DisallowedAlg)
            .await;
    }
    h.finish();
}

#[tokio::test]
async fn header_and_payload_tampering() {
    let mut h = Harness::new().await;
    let claims = h.claims();
    let key = private_key(&h.idp, "rsa-1");
    let crit = sign_with(
        Algorithm::RS256,
        &key,
        &json!({"alg": "RS256", "kid": "rsa-1", "crit": ["exp"], "exp": 1}),
        &claims,
    );
    h.refuse("unknown crit", &crit, Reason::UnknownCrit).await;
    let crit_b64 = sign_with(
        Algorithm::RS256,
        &key,
        &json!({"alg": "RS256", "kid": "rsa-1", "crit": ["b64"], "b64": false}),
        &claims,
    );
    h.refuse("crit b64=false", &crit_b64, Reason::UnknownCrit)
        .await;
    let empty_crit = sign_with(
        Algorithm::RS256,
        &key,
        &json!({"alg": "RS256", "kid": "rsa-1", "crit": []}),
        &claims,
    );
    h.refuse("empty crit", &empty_crit, Reason::UnknownCrit)
        .await;

    let good = sign_with(
        Algorithm::RS256,
        &key,
        &json!({"alg": "RS256", "kid": "rsa-1"}),
        &claims,
    );
    h.accept("control", &good).await;
    let (hdr, _, sig) = split(&good);
    let mut admin = claims.clone();
    admin["scope"] = json!("orders:read admin");
    let tampered = format!("{hdr}.{}.{}", enc(&admin), URL_SAFE_NO_PAD.encode(&sig));
    h.refuse("tampered payload", &tampered, Reason::BadSignature)
        .await;
    let mut other = claims.clone();
    other["sub"] = json!("alice");
    let tampered = format!("{hdr}.{}.{}", enc(&other), URL_SAFE_NO_PAD.encode(&sig));
    h.refuse("tampered sub", &tampered, Reason::BadSignature)
        .await;
    let retyped = format!(
        "{}.{}",
        enc(&json!({"alg": "RS256", "kid": "rsa-1", "typ": "at+jwt"})),
        good.split_once('.').unwrap().1
    );
    h.refuse("tampered header", &retyped, Reason::BadSignature)
        .await;
    // The mock binds rsa-1 to RS256 (its `alg`): relabelling is refused before
    // the signature. On an unbound copy of the key, the signature must fail.
    let (_, p, _) = split(&good);
    let ps = format!(
        "{}.{p}.{}",
        enc(&json!({"alg": "PS256", "kid": "rsa-1"})),
        URL_SAFE_NO_PAD.encode(&sig)
    );
    h.refuse(
        "RS256 signature relabelled PS256 (bound key)",
        &ps,
        Reason::DisallowedAlg,
    )
    .await;
    let mut unbound = h.idp.jwks_json()["keys"][0].clone();
    assert_eq!(unbound["kid"], "rsa-1");
    unbound["kid"] = json!("rsa-any");
    unbound.as_object_mut().unwrap().remove("alg");
    h.idp.add_raw_jwk(unbound);
    let any = sign_with(
        Algorithm::RS256,
        &key,
        &json!({"alg": "RS256", "kid": "rsa-any"}),
        &claims,
    );
    h.accept("control on the unbound key", &any).await;
    let (_, p, sig) = split(&any);
    for alg in ["PS256", "RS384", "RS512", "PS512"] {
        let t = format!(
            "{}.{p}.{}",
            enc(&json!({"alg": alg, "kid": "rsa-any"})),
            URL_SAFE_NO_PAD.encode(&sig)
        );
        h.refuse(
            &format!("RS256 signature relabelled {alg} (unbound key)"),
            &t,
            Reason::BadSignature,
        )
        .await;
    }
    let bad_typ = sign_with(
        Algorithm::RS256,
        &key,
        &json!({"alg": "RS256", "kid": "rsa-1", "typ": "dpop+jwt"}),
        &claims,
    );
    h.refuse("typ dpop+jwt", &bad_typ, Reason::BadType).await;
    h.finish();
}

#[tokio::test]
async fn claim_attacks() {
    let mut h = Harness::new().await;
    let key = private_key(&h.idp, "rsa-1");
    let base = h.claims();
    let edit = |f: &dyn Fn(&mut serde_json::Map<String, Value>)| {
        let mut c = base.as_object().unwrap().clone();
        f(&mut c);
        Value::Object(c)
    };
    let iss = h.iss();
    let cases: Vec<(&str, Value, Reason)> = vec![
        (
            "wrong iss",
            edit(&|c| {
                c.insert("iss".into(), json!("https://evil.example"));
            }),
            Reason::WrongIssuer,
        ),
        (
            "iss with trailing slash",
            edit(&|c| {
                c.insert("iss".into(), json!(format!("{iss}/")));
            }),
            Reason::WrongIssuer,
        ),
        (
            "absent iss",
            edit(&|c| {
                c.remove("iss");
            }),
            Reason::WrongIssuer,
        ),
        (
            "iss as array",
            edit(&|c| {
                c.insert("iss".into(), json!([iss.clone()]));
            }),
            Reason::WrongIssuer,
        ),
        (
            "wrong aud",
            edit(&|c| {
                c.insert("aud".into(), json!("billing-api"));
            }),
            Reason::WrongAudience,
        ),
        (
            "absent aud",
            edit(&|c| {
                c.remove("aud");
            }),
            Reason::WrongAudience,
        ),
        (
            "aud case differs",
            edit(&|c| {
                c.insert("aud".into(), json!("Orders-API"));
            }),
            Reason::WrongAudience,
        ),
        (
            "aud as number",
            edit(&|c| {
                c.insert("aud".into(), json!(1));
            }),
            Reason::InvalidClaim,
        ),
        (
            "expired",
            edit(&|c| {
                c.insert("exp".into(), json!(now() - 3600));
            }),
            Reason::Expired,
        ),
        (
            "absent exp",
            edit(&|c| {
                c.remove("exp");
            }),
            Reason::InvalidClaim,
        ),
        (
            "exp as string",
            edit(&|c| {
                c.insert("exp".into(), json!((now() + 300).to_string()));
            }),
            Reason::InvalidClaim,
        ),
        (
            "exp null",
            edit(&|c| {
                c.insert("exp".into(), Value::Null);
            }),
            Reason::InvalidClaim,
        ),
        (
            "exp negative",
            edit(&|c| {
                c.insert("exp".into(), json!(-1));
            }),
            Reason::InvalidClaim,
        ),
        (
            "exp huge float",
            edit(&|c| {
                c.insert("exp".into(), json!(1e300));
            }),
            Reason::InvalidClaim,
        ),
        (
            "nbf in the future",
            edit(&|c| {
                c.insert("nbf".into(), json!(now() + 3600));
            }),
            Reason::NotYetValid,
        ),
        (
            "nbf as string",
            edit(&|c| {
                c.insert("nbf".into(), json!("0"));
            }),
            Reason::InvalidClaim,
        ),
    ];
    for (name, claims, reason) in cases {
        let token = sign_with(
            Algorithm::RS256,
            &key,
            &json!({"alg": "RS256", "kid": "rsa-1"}),
            &claims,
        );
        h.refuse(name, &token, reason).await;
    }
    let arr = edit(&|c| {
        c.insert("aud".into(), json!(["x", "orders-api"]));
    });
    let ok = sign_with(
        Algorithm::RS256,
        &key,
        &json!({"alg": "RS256", "kid": "rsa-1"}),
        &arr,
    );
    h.accept("control aud array", &ok).await;
    h.finish();
}

#[tokio::test]
async fn huge_and_odd_requests() {
    let mut h = Harness::new().await;
    let claims = h.claims();
    let key = private_key(&h.idp, "rsa-1");
    // Just over the 16 KiB bound, validly signed.
    let mut big = claims.clone();
    big["pad"] = json!("x".repeat(16 * 1024));
    let token = sign_with(
        Algorithm::RS256,
        &key,
        &json!({"alg": "RS256", "kid": "rsa-1"}),
        &big,
    );
    assert!(token.len() > 16 * 1024);
    h.refuse("token > 16 KiB", &token, Reason::TooLarge).await;
    // A 1 MiB header segment: refused on length before any decoding.
    let header = URL_SAFE_NO_PAD.encode(format!(
        "{{\"alg\":\"RS256\",\"x\":\"{}\"}}",
        "a".repeat(768 * 1024)
    ));
    let token = format!("{header}.{}.c2ln", enc(&claims));
    assert!(token.len() > 1 << 20);
    h.refuse("1 MiB header", &token, Reason::TooLarge).await;
    // 1 MiB of dots and of base64 characters.
    h.refuse("1 MiB of dots", &".".repeat(1 << 20), Reason::TooLarge)
        .await;
    h.refuse("1 MiB of 'A'", &"A".repeat(1 << 20), Reason::TooLarge)
        .await;
    // Deeply nested JSON inside the size bound.
    let nested = format!("{}{}", "[".repeat(6000), "]".repeat(6000));
    // In an ignored header member it is skipped without recursion; in `crit`
    // or the payload it hits serde_json's depth limit. No stack overflow.
    let hdr = |extra: &str| {
        URL_SAFE_NO_PAD.encode(format!("{{\"alg\":\"RS256\",\"kid\":\"rsa-1\",{extra}}}"))
    };
    let token = format!("{}.{}.c2ln", hdr(&format!("\"x\":{nested}")), enc(&claims));
    h.refuse(
        "deeply nested ignored header member",
        &token,
        Reason::BadSignature,
    )
    .await;
    let token = format!(
        "{}.{}.c2ln",
        hdr(&format!("\"crit\":{nested}")),
        enc(&claims)
    );
    h.refuse("deeply nested crit", &token, Reason::Malformed)
        .await;
    let payload = URL_SAFE_NO_PAD.encode(format!("{{\"iss\":\"x\",\"a\":{nested}}}"));
    let token = format!("{}.{payload}.c2ln", hdr("\"typ\":\"at+jwt\""));
    h.refuse("deeply nested payload", &token, Reason::Malformed)
        .await;
    // RFC 6750 §3.1: a malformed request is 400 invalid_request.
    for (name, value) in [
        ("two credentials", "Bearer a.b.c d.e.f"),
        ("empty bearer", "Bearer "),
        ("comma list", "Bearer a.b.c, Bearer d.e.f"),
    ] {
        let (res, took) = h.send_header(http::HeaderValue::from_static(value)).await;
        h.check(name, res, took, Reason::InvalidRequest);
    }
    // Non-token characters in the credential are a bad token.
    let (res, took) = h
        .send_header(http::HeaderValue::from_static("Bearer a\"b.c.d"))
        .await;
    h.check("quote in token", res, took, Reason::Malformed);
    let mut bytes = b"Bearer ".to_vec();
    bytes.extend_from_slice(&[0xC3, 0xA9, b'.', b'a', b'.', b'b']);
    let (res, took) = h
        .send_header(http::HeaderValue::from_bytes(&bytes).unwrap())
        .await;
    h.check("non-ASCII header", res, took, Reason::InvalidRequest);
    h.finish();
}
