//! DPoP (RFC 9449) attacks through a layer that accepts DPoP beside Bearer:
//! a stolen bound token (with or without a stolen proof) must be useless,
//! every refusal has its exact reason and `DPoP` challenge, in time, and
//! neither tokens nor proofs reach the logs.
#![cfg(feature = "dpop")]

use super::*;
use oauth2_guard::dpop::{DpopConfig, DpopError};
use oauth2_guard::testkit::DpopKey;

const URL: &str = "https://api.example.com/x";

struct Dpop {
    idp: MockIssuer,
    app: Router,
    logs: LogCapture,
    _guard: tracing::subscriber::DefaultGuard,
    sent: Vec<String>,
}

impl Dpop {
    async fn new() -> Self {
        let logs = LogCapture::default();
        let guard = logs.set_thread_default(tracing::Level::TRACE);
        let idp = MockIssuer::start().await;
        let layer = AuthLayer::builder()
            .issuer(orders_issuer(&idp).await)
            .realm("orders")
            .dpop(
                DpopConfig::builder("https://api.example.com")
                    .build()
                    .unwrap(),
            )
            .build()
            .unwrap();
        Dpop {
            app: ok_app(layer),
            idp,
            logs,
            _guard: guard,
            sent: Vec::new(),
        }
    }

    async fn send(
        &mut self,
        method: &str,
        auth: &str,
        token: &str,
        proofs: &[&str],
    ) -> http::Response<Body> {
        self.sent.push(token.to_owned());
        self.sent.extend(proofs.iter().map(|p| (*p).to_owned()));
        let mut req = Request::builder()
            .method(method)
            .uri("/x")
            .header(header::AUTHORIZATION, format!("{auth} {token}"));
        for p in proofs {
            req = req.header("dpop", *p);
        }
        let started = Instant::now();
        let res = self
            .app
            .clone()
            .oneshot(req.body(Body::empty()).unwrap())
            .await
            .unwrap();
        assert!(started.elapsed() < MAX_WALL);
        res
    }

    fn finish(self) {
        let min = ScanMin {
            token: 16,
            signature: 16,
        };
        assert_no_token_in(&self.logs.text(), &self.sent, min);
    }
}

fn refused(res: &http::Response<Body>, status: StatusCode, reason: Reason, name: &str) {
    assert_eq!(res.status(), status, "{name}");
    assert_eq!(reason_of(res), Some(reason), "{name}");
}

#[tokio::test(flavor = "current_thread")]
async fn stolen_dpop_bound_tokens_are_useless() {
    let mut h = Dpop::new().await;
    let victim = DpopKey::generate(Algorithm::ES256);
    let thief = DpopKey::generate(Algorithm::ES256);
    let token = h.idp.token().claim("cnf", victim.cnf()).sign();
    let stolen_proof = victim.proof_builder("GET", URL).access_token(&token).sign();

    // The legitimate request goes through first; its proof is now spent.
    let res = h.send("GET", "DPoP", &token, &[&stolen_proof]).await;
    assert_eq!(res.status(), StatusCode::OK);

    let unauthorized = StatusCode::UNAUTHORIZED;
    let res = h.send("GET", "Bearer", &token, &[]).await;
    refused(
        &res,
        unauthorized,
        Reason::SenderConstrained,
        "downgrade to Bearer",
    );
    let res = h.send("GET", "bearer", &token, &[&stolen_proof]).await;
    refused(
        &res,
        unauthorized,
        Reason::SenderConstrained,
        "Bearer with the stolen proof",
    );
    let res = h.send("GET", "DPoP", &token, &[&stolen_proof]).await;
    refused(
        &res,
        unauthorized,
        Reason::Dpop(DpopError::Replay),
        "replayed proof",
    );
    let res = h.send("POST", "DPoP", &token, &[&stolen_proof]).await;
    refused(
        &res,
        unauthorized,
        Reason::Dpop(DpopError::Htm),
        "proof for another method",
    );
    let own = thief.proof_builder("GET", URL).access_token(&token).sign();
    let res = h.send("GET", "DPoP", &token, &[&own]).await;
    refused(
        &res,
        unauthorized,
        Reason::Dpop(DpopError::JktMismatch),
        "thief's own key",
    );
    // The thief re-signs the victim's key into the header: signature fails.
    let forged = thief
        .proof_builder("GET", URL)
        .access_token(&token)
        .jwk(victim.public_jwk())
        .sign();
    let res = h.send("GET", "DPoP", &token, &[&forged]).await;
    refused(
        &res,
        unauthorized,
        Reason::Dpop(DpopError::Signature),
        "victim's jwk, thief's signature",
    );
    let hs = victim
        .proof_builder("GET", URL)
        .access_token(&token)
        .header_alg("HS256")
        .sign();
    let res = h.send("GET", "DPoP", &token, &[&hs]).await;
    refused(
        &res,
        unauthorized,
        Reason::Dpop(DpopError::Alg),
        "HS256 proof",
    );
    let res = h.send("GET", "DPoP", &token, &[]).await;
    refused(
        &res,
        unauthorized,
        Reason::Dpop(DpopError::Missing),
        "no proof",
    );
    let fresh = victim.proof_builder("GET", URL).access_token(&token).sign();
    let res = h.send("GET", "DPoP", &token, &[&fresh, &fresh]).await;
    refused(
        &res,
        StatusCode::BAD_REQUEST,
        Reason::InvalidRequest,
        "two DPoP headers",
    );
    let huge = "a".repeat(9 * 1024);
    let res = h.send("GET", "DPoP", &token, &[&huge]).await;
    refused(
        &res,
        unauthorized,
        Reason::Dpop(DpopError::ProofTooLarge),
        "9 KiB proof",
    );
    // Every DPoP refusal challenges DPoP with the error, Bearer without.
    let c: Vec<_> = res
        .headers()
        .get_all(header::WWW_AUTHENTICATE)
        .iter()
        .collect();
    assert!(c[0]
        .to_str()
        .unwrap()
        .starts_with("DPoP realm=\"orders\", algs="));
    assert!(c[0]
        .to_str()
        .unwrap()
        .contains("error=\"invalid_dpop_proof\""));
    assert_eq!(c[1], "Bearer realm=\"orders\"");
    h.finish();
}
