//! Interop with a real, OpenID-certified authorization server: panva's
//! `oidc-provider` 8.8.1, run from `tests/interop/` (see the README there).
//!
//! Every test is `#[ignore]`d with the reason "needs Node.js 20+ …", so a
//! plain `cargo test` reports them as ignored — never as passed — on a
//! machine without Node.js. `tests/interop/run-ci.sh` (the CI entry point,
//! called by `.ci/run`) installs the provider with `npm ci` and runs them with
//! `--ignored`: then a missing program is a failure. Every test starts its own provider through
//! `tests/interop/start.sh` on a free loopback port with its own key file in a
//! temporary directory, and stops it when the test ends (a `Drop` guard, so
//! also when the test fails). `tests/interop/run-ci.sh` is the CI entry point.
//!
//! Tests:
//! - `client_credentials_<alg>`: a real client-credentials token of each of
//!   RS256, PS256, ES256, ES384 and EdDSA passes the real `AuthLayer` (issuer
//!   found by OIDC discovery); a token for another resource is refused as
//!   `wrong_audience`.
//! - `pkce_user_token`: a real Authorization Code + PKCE token (driven by
//!   `pkce.mjs`) passes, `sub` = `alice`.
//! - `key_rotation_under_load`: two full RS256 rotations (add, promote,
//!   remove) while four tasks keep minting tokens and sending them through
//!   the layer; zero valid tokens may be refused.
//!
//! - `client_credentials_source_against_provider` (feature `client`): the
//!   crate's own `ClientCredentials` source discovers the provider's token
//!   endpoint, authenticates with `client_secret_basic` and
//!   `client_secret_post`, reuses its token, and the token passes the layer.
//! - `opaque::*` (feature `introspection`, `interop/opaque.rs`): opaque
//!   tokens through the `Introspector`, revocation at the provider, wrong
//!   audience, expiry.
//! - `mtls::*` (feature `mtls`, `interop/mtls.rs`): RFC 8705
//!   certificate-bound tokens from the provider's mTLS feature, over real
//!   TLS connections on loopback (provider and guard).
//! - `dpop::*` (features `client` + `dpop`, `interop/dpop.rs`): DPoP-bound
//!   tokens from the provider, proofs by the crate's client and by `jose`.

mod common;
#[path = "interop/dpop.rs"]
mod dpop;
#[path = "interop/mtls.rs"]
mod mtls;
#[path = "interop/opaque.rs"]
mod opaque;

use std::collections::{BTreeMap, HashSet};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::{body::Body, routing::get, Extension, Json, Router};
use base64::Engine as _;
use http::{Response, StatusCode};
use oauth2_guard::{Issuer, Reason, RefreshConfig, VerifiedClaims};
use serde_json::{json, Value};
use tower::ServiceExt as _;

// The provider runs on `http://127.0.0.1:PORT`: `loopback()` is the explicit opt-in.
use common::{bearer, challenge, get_with_auth, loopback, orders_layer, reason_of};

const ORDERS: &str = "urn:oauth2-guard:orders";
const OTHER: &str = "urn:oauth2-guard:other";
/// Bound on every subprocess (start.sh, keys.mjs, pkce.mjs).
const SUBPROCESS_TIMEOUT: Duration = Duration::from_secs(60);
/// Bound on every HTTP request to the provider.
const HTTP_TIMEOUT: Duration = Duration::from_secs(20);

fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("oauth2_guard=info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_test_writer()
        .try_init();
}

fn interop_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join("interop")
}

/// Run a subprocess to completion, bounded by [`SUBPROCESS_TIMEOUT`]; stdout
/// on success, a description with stderr otherwise. The child is killed if
/// the timeout fires.
async fn run(mut cmd: tokio::process::Command, what: &str) -> Result<String, String> {
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let child = cmd
        .spawn()
        .map_err(|e| format!("{what}: spawn failed: {e}"))?;
    match tokio::time::timeout(SUBPROCESS_TIMEOUT, child.wait_with_output()).await {
        Err(_) => Err(format!("{what}: no exit within {SUBPROCESS_TIMEOUT:?}")),
        Ok(Err(e)) => Err(format!("{what}: {e}")),
        Ok(Ok(out)) if out.status.success() => {
            Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
        }
        Ok(Ok(out)) => Err(format!(
            "{what}: {}\nstdout: {}\nstderr: {}",
            out.status,
            String::from_utf8_lossy(&out.stdout).trim(),
            String::from_utf8_lossy(&out.stderr).trim()
        )),
    }
}

/// A port the OS just handed out on 127.0.0.1 (released again at once; the
/// tiny race with another process is covered by retrying in `Provider::start`).
fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    listener.local_addr().expect("local_addr").port()
}

/// One running `provider.mjs`, owned by one test. Dropping it stops the
/// provider and deletes its directory (key file, pid file, log).
struct Provider {
    port: u16,
    dir: PathBuf,
    issuer: String,
    http: reqwest::Client,
    /// `AT_TTL` of the provider (access-token lifetime, s); `None`: its default (300).
    at_ttl: Option<u64>,
}

impl Provider {
    /// Start a provider on a free port with a fresh key set.
    async fn start(test: &str) -> Provider {
        Self::start_with_at_ttl(test, None).await
    }

    /// [`start`](Self::start), with access tokens living `at_ttl` seconds
    /// when `Some`.
    async fn start_with_at_ttl(test: &str, at_ttl: Option<u64>) -> Provider {
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
            let provider = Provider {
                port,
                dir,
                issuer: format!("http://127.0.0.1:{port}"),
                http: reqwest::Client::builder()
                    .timeout(HTTP_TIMEOUT)
                    // Below Node's 5 s keep-alive timeout: never reuse a
                    // connection the provider is closing at that moment.
                    .pool_idle_timeout(Duration::from_secs(2))
                    .build()
                    .expect("reqwest client"),
                at_ttl,
            };
            match run(provider.start_sh("start"), "start.sh start").await {
                Ok(_) => return provider,
                Err(e) => errors.push(e),
            }
        }
        panic!(
            "the interop provider did not start (3 attempts):\n{}",
            errors.join("\n---\n")
        );
    }

    fn keys_file(&self) -> PathBuf {
        self.dir.join("keys.json")
    }

    fn start_sh(&self, action: &str) -> tokio::process::Command {
        let mut cmd = tokio::process::Command::new(interop_dir().join("start.sh"));
        cmd.arg(action)
            .env("PORT", self.port.to_string())
            .env("STATE_DIR", &self.dir)
            .env("KEYS_FILE", self.keys_file())
            .env("START_TIMEOUT", "45");
        if let Some(ttl) = self.at_ttl {
            cmd.env("AT_TTL", ttl.to_string());
        }
        cmd
    }

    /// `start.sh reload`: the provider re-reads its key file (SIGHUP) and
    /// answers with the new keys once this returns.
    async fn reload(&self) {
        let out = run(self.start_sh("reload"), "start.sh reload")
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(
            out.starts_with("RELOADED"),
            "unexpected reload output: {out}"
        );
    }

    /// `node keys.mjs <args…> <this provider's key file> …`.
    async fn keys(&self, action: &str, args: &[&str]) -> String {
        let mut cmd = tokio::process::Command::new("node");
        cmd.arg(interop_dir().join("keys.mjs"))
            .arg(action)
            .arg(self.keys_file())
            .args(args);
        run(cmd, &format!("keys.mjs {action}"))
            .await
            .unwrap_or_else(|e| panic!("{e}"))
    }

    /// The key file's `(kid, alg)` pairs in file order.
    async fn key_list(&self) -> Vec<(String, String)> {
        self.keys("list", &[])
            .await
            .lines()
            .filter_map(|l| l.split_once(' '))
            .map(|(k, a)| (k.to_owned(), a.to_owned()))
            .collect()
    }

    /// The kids `/jwks` publishes right now.
    async fn published_kids(&self) -> HashSet<String> {
        let jwks: Value = self
            .http
            .get(format!("{}/jwks", self.issuer))
            .send()
            .await
            .and_then(reqwest::Response::error_for_status)
            .expect("GET /jwks")
            .json()
            .await
            .expect("/jwks is JSON");
        jwks["keys"]
            .as_array()
            .expect("/jwks has keys")
            .iter()
            .filter_map(|k| k["kid"].as_str().map(str::to_owned))
            .collect()
    }

    fn token_endpoint(&self) -> String {
        format!("{}/token", self.issuer)
    }

    /// A client-credentials access token for `client` (secret `secret-<client>`).
    async fn token(&self, client: &str, resource: &str, scope: &str) -> Result<String, String> {
        let response = self
            .http
            .post(self.token_endpoint())
            .basic_auth(client, Some(format!("secret-{client}")))
            .form(&[
                ("grant_type", "client_credentials"),
                ("resource", resource),
                ("scope", scope),
            ])
            .send()
            .await
            .map_err(|e| format!("token request: {e}"))?;
        let status = response.status();
        let body: Value = response
            .json()
            .await
            .map_err(|e| format!("token response ({status}) is not JSON: {e}"))?;
        match body["access_token"].as_str() {
            Some(t) if status.is_success() => Ok(t.to_owned()),
            _ => Err(format!("token endpoint answered {status}: {body}")),
        }
    }

    /// The issuer as a service would configure it: OIDC discovery against the
    /// provider, audience = the orders resource, RFC 9068 `typ` enforced
    /// (oidc-provider sends `at+jwt`).
    async fn guard_issuer(&self, refresh: RefreshConfig) -> Issuer {
        let issuer = Issuer::builder(&self.issuer)
            // The provider serves plain HTTP on 127.0.0.1: opted into explicitly.
            .http(loopback())
            .audience(ORDERS)
            .strict_rfc9068(true)
            .refresh(refresh)
            .build()
            .await
            .expect("Issuer::build with discovery against the provider");
        let meta = issuer.metadata().expect("metadata from discovery");
        assert_eq!(meta.issuer, self.issuer);
        assert_eq!(
            meta.jwks_uri.as_deref(),
            Some(&*format!("{}/jwks", self.issuer))
        );
        assert_eq!(
            meta.token_endpoint.as_deref(),
            Some(&*self.token_endpoint())
        );
        issuer
    }
}

impl Drop for Provider {
    fn drop(&mut self) {
        // Blocking on purpose (Drop cannot await); `start.sh stop` is bounded:
        // TERM, up to 5 s, then KILL.
        let mut cmd = std::process::Command::new(interop_dir().join("start.sh"));
        cmd.arg("stop")
            .env("PORT", self.port.to_string())
            .env("STATE_DIR", &self.dir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        if let Err(e) = cmd.status() {
            eprintln!("could not stop the provider on port {}: {e}", self.port);
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The protected route: the handler answers with what it saw of the
/// verified claims.
// Look-alike of attacks/jwks.rs's `fingerprint_app`: this handler answers more claims.
fn app(issuer: Issuer) -> Router {
    let layer = orders_layer(issuer);
    Router::new()
        .route(
            "/orders",
            get(|Extension(claims): Extension<VerifiedClaims>| async move {
                Json(json!({
                    "sub": claims.subject(),
                    "client_id": claims.client_id(),
                    "scopes": claims.scopes(),
                    "aud": claims.audiences(),
                    "alg": claims.algorithm().map(|a| format!("{a:?}")),
                    "kid": claims.key_id(),
                }))
            }),
        )
        .layer(layer)
}

async fn call(app: &Router, token: &str) -> Response<Body> {
    app.clone()
        .oneshot(get_with_auth("/orders", bearer(token)))
        .await
        .expect("the router is infallible")
}

async fn json_body(response: Response<Body>) -> Value {
    let bytes = http_body_util::BodyExt::collect(response.into_body())
        .await
        .expect("body")
        .to_bytes();
    serde_json::from_slice(&bytes).expect("handler answers JSON")
}

/// The unverified JOSE header of a compact JWT (test bookkeeping only).
fn jose_header(token: &str) -> Value {
    let segment = token.split('.').next().unwrap_or_default();
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(segment)
        .expect("header is base64url");
    serde_json::from_slice(&bytes).expect("header is JSON")
}

fn kid_of(token: &str) -> String {
    jose_header(token)["kid"]
        .as_str()
        .expect("token has a kid")
        .to_owned()
}

// ---------------------------------------------------------------------------
// 1. client_credentials tokens of every algorithm

async fn client_credentials(alg: &str) {
    let client = format!("cc-{}", alg.to_lowercase());
    let idp = Provider::start(&client).await;
    let app = app(idp.guard_issuer(RefreshConfig::default()).await);

    let token = idp
        .token(&client, ORDERS, "orders:read")
        .await
        .expect("token for orders");
    let header = jose_header(&token);
    assert_eq!(header["alg"], alg, "provider signed with the client's alg");
    assert_eq!(header["typ"], "at+jwt");

    let response = call(&app, &token).await;
    assert_eq!(
        response.status(),
        StatusCode::OK,
        "real {alg} token refused: {:?}",
        reason_of(&response)
    );
    let seen = json_body(response).await;
    assert_eq!(seen["client_id"], client.as_str());
    assert_eq!(
        seen["sub"],
        client.as_str(),
        "sub == client_id for client_credentials"
    );
    assert_eq!(seen["scopes"], json!(["orders:read"]));
    assert_eq!(
        seen["aud"],
        json!([ORDERS]),
        "string aud normalised to a list"
    );
    assert_eq!(seen["alg"], alg);
    assert_eq!(seen["kid"], header["kid"]);

    // Same client, same keys, same scopes: only `aud` differs.
    let other = idp
        .token(&client, OTHER, "orders:read")
        .await
        .expect("token for other");
    let response = call(&app, &other).await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(reason_of(&response), Some(Reason::WrongAudience));
    let challenge = challenge(&response);
    assert!(
        challenge.starts_with("Bearer realm=\"orders\"")
            && challenge.contains("error=\"invalid_token\""),
        "challenge: {challenge}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs Node.js 20+ and `npm ci` in tests/interop: run tests/interop/run-ci.sh"]
async fn client_credentials_rs256() {
    init_tracing();
    client_credentials("RS256").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs Node.js 20+ and `npm ci` in tests/interop: run tests/interop/run-ci.sh"]
async fn client_credentials_ps256() {
    init_tracing();
    client_credentials("PS256").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs Node.js 20+ and `npm ci` in tests/interop: run tests/interop/run-ci.sh"]
async fn client_credentials_es256() {
    init_tracing();
    client_credentials("ES256").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs Node.js 20+ and `npm ci` in tests/interop: run tests/interop/run-ci.sh"]
async fn client_credentials_es384() {
    init_tracing();
    client_credentials("ES384").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs Node.js 20+ and `npm ci` in tests/interop: run tests/interop/run-ci.sh"]
async fn client_credentials_eddsa() {
    init_tracing();
    client_credentials("EdDSA").await;
}

// ---------------------------------------------------------------------------
// 2. Authorization Code + PKCE user token

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs Node.js 20+ and `npm ci` in tests/interop: run tests/interop/run-ci.sh"]
async fn pkce_user_token() {
    init_tracing();
    let idp = Provider::start("pkce").await;
    let app = app(idp.guard_issuer(RefreshConfig::default()).await);

    let mut cmd = tokio::process::Command::new("node");
    cmd.arg(interop_dir().join("pkce.mjs"))
        .env("ISSUER", &idp.issuer);
    let token = run(cmd, "pkce.mjs").await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(token.split('.').count(), 3, "pkce.mjs prints one JWT");

    let response = call(&app, &token).await;
    assert_eq!(
        response.status(),
        StatusCode::OK,
        "real PKCE token refused: {:?}",
        reason_of(&response)
    );
    let seen = json_body(response).await;
    assert_eq!(seen["sub"], "alice");
    assert_eq!(seen["client_id"], "pkce-public");
    assert_eq!(seen["scopes"], json!(["orders:read", "orders:write"]));
    assert_eq!(seen["alg"], "ES256");
}

// ---------------------------------------------------------------------------
// 3. Key rotation under load

/// What the load tasks saw.
#[derive(Default)]
struct Tally {
    /// Accepted requests per kid.
    accepted: BTreeMap<String, u64>,
    /// Refusals of tokens whose kid was published for the whole request:
    /// must stay empty. `(kid, status, reason)`.
    refused_valid: Vec<(String, u16, Option<Reason>)>,
    /// Refusals of tokens whose kid was being (or had been) unpublished —
    /// legitimate, reported only.
    refused_unpublished: u64,
}

/// Two complete RS256 rotations while four tasks keep fetching fresh tokens
/// from the provider and sending them through one layer.
///
/// Each rotation: `add` a key → reload (published, not yet signing);
/// `promote` it → reload (it signs; the first token with it makes the layer
/// refresh its keys); `remove` the previous key → reload (unpublished).
///
/// "Valid" = freshly minted and signed by a kid the provider publishes. The
/// kid being removed leaves the valid set *before* its key file changes, and
/// a refusal counts only if its kid is still valid after the response, so a
/// token signed by a key that was unpublished meanwhile is never counted.
///
/// `RefreshConfig`: the unknown-kid cooldown is 1 s instead of the default
/// 30 s, because the second rotation brings a second new kid a few seconds
/// after the first, and the default cooldown would — by design, it is the
/// protection against random-kid floods — refuse it until 30 s have passed.
/// A deployment rotating keys hours apart keeps the default. The wait for that
/// refresh is 5 s instead of 2 s so that a JWKS fetch on a loaded 2-core CI
/// machine cannot turn into a false refusal.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs Node.js 20+ and `npm ci` in tests/interop: run tests/interop/run-ci.sh"]
async fn key_rotation_under_load() {
    init_tracing();
    const WORKERS: usize = 4;
    let idp = Arc::new(Provider::start("rotation").await);
    let refresh = RefreshConfig::default()
        .unknown_kid_cooldown(Duration::from_secs(1))
        .unknown_kid_wait(Duration::from_secs(5));
    let app = app(idp.guard_issuer(refresh).await);

    let rs256 = |keys: &[(String, String)]| -> Vec<String> {
        keys.iter()
            .filter(|(_, a)| a == "RS256")
            .map(|(k, _)| k.clone())
            .collect()
    };
    let initial = rs256(&idp.key_list().await);
    assert_eq!(initial.len(), 1, "one RS256 key at start: {initial:?}");
    let k1 = initial[0].clone();
    // Signed by k1; refused at the end, once k1 is gone from the layer's keys.
    let old_token = idp
        .token("cc-rs256", ORDERS, "orders:read")
        .await
        .expect("token");
    assert_eq!(kid_of(&old_token), k1);
    assert_eq!(call(&app, &old_token).await.status(), StatusCode::OK);

    let valid: Arc<Mutex<HashSet<String>>> = Arc::new(Mutex::new(idp.published_kids().await));
    let tally = Arc::new(Mutex::new(Tally::default()));
    let stop = Arc::new(AtomicBool::new(false));
    let mint_errors = Arc::new(AtomicU64::new(0));
    let started = Instant::now();

    let mut workers = Vec::new();
    for _ in 0..WORKERS {
        let (idp, app, valid, tally, stop, mint_errors) = (
            idp.clone(),
            app.clone(),
            valid.clone(),
            tally.clone(),
            stop.clone(),
            mint_errors.clone(),
        );
        workers.push(tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                let token = match idp.token("cc-rs256", ORDERS, "orders:read").await {
                    Ok(t) => t,
                    Err(e) => {
                        // A provider-side hiccup is not a refusal by the guard.
                        eprintln!("mint failed: {e}");
                        mint_errors.fetch_add(1, Ordering::Relaxed);
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let kid = kid_of(&token);
                let response = call(&app, &token).await;
                let status = response.status();
                let still_valid = valid.lock().expect("valid set").contains(&kid);
                let mut t = tally.lock().expect("tally");
                if status == StatusCode::OK {
                    *t.accepted.entry(kid).or_default() += 1;
                } else if still_valid {
                    t.refused_valid
                        .push((kid, status.as_u16(), reason_of(&response)));
                } else {
                    t.refused_unpublished += 1;
                }
            }
        }));
    }

    let pause = || tokio::time::sleep(Duration::from_millis(1500));
    let mut current = k1.clone();
    let mut timeline = Vec::new();
    for round in 1..=2 {
        pause().await;
        let new = idp.keys("add", &["RS256"]).await;
        idp.reload().await;
        assert!(
            idp.published_kids().await.contains(&new),
            "{new} published after add"
        );
        valid.lock().expect("valid set").insert(new.clone());
        timeline.push(format!(
            "{:>5.1}s round {round}: added {new}",
            started.elapsed().as_secs_f64()
        ));

        pause().await;
        idp.keys("promote", &[&new]).await;
        idp.reload().await;
        timeline.push(format!(
            "{:>5.1}s round {round}: promoted {new}",
            started.elapsed().as_secs_f64()
        ));

        pause().await;
        valid.lock().expect("valid set").remove(&current);
        idp.keys("remove", &[&current]).await;
        idp.reload().await;
        assert!(
            !idp.published_kids().await.contains(&current),
            "{current} unpublished"
        );
        timeline.push(format!(
            "{:>5.1}s round {round}: removed {current}",
            started.elapsed().as_secs_f64()
        ));
        current = new;
    }
    pause().await;
    stop.store(true, Ordering::Relaxed);
    for w in workers {
        tokio::time::timeout(Duration::from_secs(30), w)
            .await
            .expect("load task stops within 30 s")
            .expect("load task did not panic");
    }
    let elapsed = started.elapsed();

    let tally = std::mem::take(&mut *tally.lock().expect("tally"));
    let total: u64 = tally.accepted.values().sum();
    eprintln!(
        "rotation under load: {:.1}s, {WORKERS} tasks, {total} accepted ({:.0}/s) {:?}, {} refused valid, \
         {} refused with an unpublished kid, {} mint errors\n{}",
        elapsed.as_secs_f64(),
        total as f64 / elapsed.as_secs_f64(),
        tally.accepted,
        tally.refused_valid.len(),
        tally.refused_unpublished,
        mint_errors.load(Ordering::Relaxed),
        timeline.join("\n"),
    );
    assert!(
        tally.refused_valid.is_empty(),
        "valid tokens refused during rotation: {:?}",
        &tally.refused_valid[..tally.refused_valid.len().min(20)]
    );
    // The rotation really happened under load: every one of the three keys
    // signed tokens that the layer accepted.
    let kids: Vec<&String> = tally.accepted.keys().collect();
    assert_eq!(
        kids.len(),
        3,
        "accepted tokens of exactly three RS256 kids: {:?}",
        tally.accepted
    );
    assert!(tally.accepted.contains_key(&k1) && tally.accepted.contains_key(&current));
    assert!(total >= 100, "too little load to mean anything: {total}");
    assert_eq!(
        mint_errors.load(Ordering::Relaxed),
        0,
        "the provider failed token requests"
    );

    // k1 is gone from the provider and — since the layer refreshed for the
    // third kid after k1's removal — from the layer: its token is refused now,
    // cached verification or not.
    let response = call(&app, &old_token).await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(reason_of(&response), Some(Reason::UnknownKey));
}

/// The crate's own `ClientCredentials` source against the real provider:
/// discovery of the token endpoint, `client_secret_basic` and
/// `client_secret_post`, RFC 8707 `resource`, then the token through the
/// real `AuthLayer`. One token request for repeated calls.
#[cfg(feature = "client")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs Node.js 20+ and `npm ci` in tests/interop: run tests/interop/run-ci.sh"]
async fn client_credentials_source_against_provider() {
    use oauth2_guard::client::ClientCredentials;
    init_tracing();
    let idp = Provider::start("cc-source").await;
    let app = app(idp.guard_issuer(RefreshConfig::default()).await);
    for (client, post) in [("cc-es256", false), ("cc-post", true)] {
        let secret = format!("secret-{client}");
        let builder = ClientCredentials::builder(client)
            .issuer(idp.issuer.clone())
            .http(loopback())
            .resource(ORDERS)
            .scope("orders:read");
        let builder = if post {
            builder.client_secret_post(secret)
        } else {
            builder.client_secret(secret)
        };
        let source = builder.build().await.expect("ClientCredentials::build");
        assert_eq!(source.token_endpoint(), idp.token_endpoint(), "discovered");
        let first = source.token().await.expect("token from the provider");
        let again = source.token().await.expect("cached token");
        assert_eq!(
            first.fingerprint(),
            again.fingerprint(),
            "reused, not re-fetched"
        );
        let response = call(&app, first.secret()).await;
        assert_eq!(
            response.status(),
            StatusCode::OK,
            "{client}: {:?}",
            reason_of(&response)
        );
        let seen = json_body(response).await;
        assert_eq!(seen["client_id"], client);
        assert_eq!(seen["scopes"], json!(["orders:read"]));
    }
}
