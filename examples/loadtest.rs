//! Load benchmark (issue 5 §3): the same route served bare and behind the
//! Layer, in one process, on loopback.
//!
//! ```text
//! cargo run --release --example loadtest --features testkit
//! LOADTEST_SECS=5 LOADTEST_CONNECTIONS=32 cargo run --release --example loadtest --features testkit
//! ```
//!
//! - A [`MockIssuer`] (its own one-thread runtime) issues the tokens.
//! - Three axum servers on `127.0.0.1` (ephemeral ports) share ONE server
//!   runtime with ONE worker thread: `bare` (no layer), `guarded` (the Layer
//!   with its defaults, verified-token cache on) and `guarded-nocache` (the
//!   Layer with [`CacheConfig::disabled`]: every request verifies a signature).
//!   Each guarded server has its own [`Issuer`], built before the run.
//! - The load generator runs on the main thread (a current-thread runtime):
//!   a minimal HTTP/1.1 keep-alive client, `LOADTEST_CONNECTIONS` (32)
//!   connections, closed loop, pre-built request bytes, per-request latency.
//! - Scenarios, each given `LOADTEST_SECS` (4) seconds or
//!   `LOADTEST_MAX_REQUESTS` (2 000 000) requests per server, split into
//!   `LOADTEST_ROUNDS` (4) rounds; each round runs every server in turn for
//!   its slice (after a 0.2 s warm-up), so drifting machine load hits all
//!   servers alike:
//!   1. `repeated`: one token;
//!   2. `distinct`: 2 000 distinct RS256 tokens, cycled;
//!   3. `rotation`: the IdP rotates its RS256 key before the run (the old key
//!      stays published); the first half of each slice sends old-key tokens only,
//!      the second half alternates old-key and new-kid tokens. The verifier
//!      has never seen the new key, so the first new-kid request triggers its
//!      one key refresh in the middle of the run. Every response must be 200.
//! - The RS256 signature verification cost is measured in the same run, and
//!   (on the server thread, after each scenario's bare run) gives the bound
//!   "bare route + one RS256 verification per request":
//!   `allowed_rps = 1 / (1 / bare_rps + verify_time)`.
//!
//! Targets: `repeated` guarded ≥ 85 % of bare; `distinct` guarded-nocache
//! ≥ 80 % of the allowed bound.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::routing::get;
use axum::Router;
use base64::Engine as _;
use jsonwebtoken::{Algorithm, DecodingKey};
use oauth2_guard::testkit::MockIssuer;
use oauth2_guard::{AuthLayer, CacheConfig, Issuer};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const DISTINCT: usize = 2_000;
/// Warm-up of each slice (new connections, caches).
const WARMUP: Duration = Duration::from_millis(200);

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[derive(Clone, Copy)]
struct Settings {
    secs: f64,
    connections: usize,
    max_requests: usize,
    /// Each scenario's time is split into this many rounds; every round runs
    /// bare, guarded and guarded-nocache one after the other, so a change in
    /// machine load during the run affects all three alike.
    rounds: usize,
}

/// Which pre-built requests a run sends.
#[derive(Clone)]
enum Tokens {
    /// Cycle through these.
    Cycle(Arc<Vec<Vec<u8>>>),
    /// `old` only during the first half, then `old` and `new` alternately.
    Rotation {
        old: Arc<Vec<Vec<u8>>>,
        new: Arc<Vec<Vec<u8>>>,
    },
}

/// One slice of load against one server.
struct Slice {
    latencies: Vec<u32>,
    elapsed: f64,
    non_200: usize,
}

/// All slices of one server in one scenario.
#[derive(Default)]
struct RunResult {
    latencies: Vec<u32>,
    elapsed: f64,
    non_200: usize,
}

impl RunResult {
    fn add(&mut self, s: Slice) {
        self.latencies.extend(s.latencies);
        self.elapsed += s.elapsed;
        self.non_200 += s.non_200;
    }

    fn rps(&self) -> f64 {
        self.latencies.len() as f64 / self.elapsed.max(f64::EPSILON)
    }

    fn percentile(&mut self, p: f64) -> u32 {
        self.latencies.sort_unstable();
        let n = self.latencies.len();
        self.latencies
            .get(((n as f64 * p) as usize).min(n.saturating_sub(1)))
            .copied()
            .unwrap_or(0)
    }
}

fn request_bytes(token: &str) -> Vec<u8> {
    format!("GET /orders HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\n\r\n")
        .into_bytes()
}

async fn handler() -> &'static str {
    "ok"
}

fn route() -> Router {
    Router::new().route("/orders", get(handler))
}

async fn serve(app: Router) -> Result<SocketAddr, std::io::Error> {
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app).await {
            eprintln!("server {addr} stopped: {e}");
        }
    });
    Ok(addr)
}

/// Read one HTTP/1.1 response (Content-Length framed) from `stream`.
/// Returns the status code. `buf` keeps bytes of the next response, if any.
async fn read_response(stream: &mut TcpStream, buf: &mut Vec<u8>) -> std::io::Result<u16> {
    loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = std::str::from_utf8(&buf[..end]).map_err(std::io::Error::other)?;
            let status: u16 = head
                .get(9..12)
                .and_then(|s| s.parse().ok())
                .ok_or_else(|| std::io::Error::other("bad status line"))?;
            let mut length = 0usize;
            for line in head.split("\r\n").skip(1) {
                if let Some((name, value)) = line.split_once(':') {
                    if name.eq_ignore_ascii_case("content-length") {
                        length = value.trim().parse().map_err(std::io::Error::other)?;
                    } else if name.eq_ignore_ascii_case("transfer-encoding") {
                        return Err(std::io::Error::other("chunked responses are not supported"));
                    }
                }
            }
            let total = end + 4 + length;
            while buf.len() < total {
                read_more(stream, buf).await?;
            }
            buf.drain(..total);
            return Ok(status);
        }
        read_more(stream, buf).await?;
    }
}

async fn read_more(stream: &mut TcpStream, buf: &mut Vec<u8>) -> std::io::Result<()> {
    let mut chunk = [0u8; 4096];
    let n = stream.read(&mut chunk).await?;
    if n == 0 {
        return Err(std::io::Error::new(
            std::io::ErrorKind::UnexpectedEof,
            "server closed",
        ));
    }
    buf.extend_from_slice(&chunk[..n]);
    Ok(())
}

/// Drive `addr` with closed-loop load for one slice: warm-up, then measured
/// until the slice's deadline or its share of the request budget.
async fn run(addr: SocketAddr, tokens: Tokens, s: Settings) -> std::io::Result<Slice> {
    let next = Arc::new(AtomicUsize::new(0));
    let sent = Arc::new(AtomicUsize::new(0));
    let slice = s.secs / s.rounds as f64;
    let max_requests = (s.max_requests / s.rounds).max(1);
    let start = Instant::now() + WARMUP;
    let deadline = start + Duration::from_secs_f64(slice);
    let half = start + Duration::from_secs_f64(slice / 2.0);
    let mut tasks = Vec::new();
    for _ in 0..s.connections {
        let (next, sent, tokens) = (next.clone(), sent.clone(), tokens.clone());
        let mut stream = TcpStream::connect(addr).await?;
        stream.set_nodelay(true)?;
        tasks.push(tokio::task::spawn_local(async move {
            let mut latencies: Vec<u32> = Vec::with_capacity(1 << 16);
            let mut non_200 = 0usize;
            let mut buf = Vec::with_capacity(8192);
            loop {
                let t0 = Instant::now();
                if t0 >= deadline {
                    break;
                }
                let measured = t0 >= start;
                if measured && sent.fetch_add(1, Ordering::Relaxed) >= max_requests {
                    break;
                }
                let i = next.fetch_add(1, Ordering::Relaxed);
                let req = match &tokens {
                    Tokens::Cycle(all) => &all[i % all.len()],
                    Tokens::Rotation { old, new } => {
                        if t0 < half || i % 2 == 0 {
                            &old[(i / 2) % old.len()]
                        } else {
                            &new[(i / 2) % new.len()]
                        }
                    }
                };
                stream.write_all(req).await?;
                let status = read_response(&mut stream, &mut buf).await?;
                if measured {
                    latencies.push(u32::try_from(t0.elapsed().as_micros()).unwrap_or(u32::MAX));
                    if status != 200 {
                        non_200 += 1;
                    }
                }
            }
            Ok::<_, std::io::Error>((latencies, non_200))
        }));
    }
    let mut all = Vec::new();
    let mut non_200 = 0;
    for t in tasks {
        let (l, n) = t.await.map_err(std::io::Error::other)??;
        all.extend(l);
        non_200 += n;
    }
    let elapsed = (Instant::now().min(deadline + Duration::from_secs(1)) - start).as_secs_f64();
    Ok(Slice {
        latencies: all,
        elapsed,
        non_200,
    })
}

/// Mean time of one RS256 signature verification (what the bound allows per
/// request), measured on the server's worker thread, so under the same CPU
/// contention as the server itself.
fn rs256_verify_time(server: &tokio::runtime::Runtime, token: &str, key: &DecodingKey) -> Duration {
    let (token, key) = (token.to_owned(), key.clone());
    let task = server.spawn(async move {
        let (message, sig) = token.rsplit_once('.').unwrap_or_default();
        let verify = || {
            jsonwebtoken::crypto::verify(sig, message.as_bytes(), &key, Algorithm::RS256)
                .unwrap_or(false)
        };
        if !verify() {
            return None;
        }
        for _ in 0..100 {
            verify();
        }
        let n = 2_000;
        let t = Instant::now();
        for _ in 0..n {
            std::hint::black_box(verify());
        }
        Some(t.elapsed() / n)
    });
    match server.block_on(task) {
        Ok(Some(d)) => d,
        _ => panic!("the RS256 test token must verify"),
    }
}

fn kid_of(token: &str) -> String {
    let header = token.split('.').next().unwrap_or_default();
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(header)
        .unwrap_or_default();
    let v: serde_json::Value = serde_json::from_slice(&bytes).unwrap_or_default();
    v["kid"].as_str().unwrap_or_default().to_owned()
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // `jsonwebtoken::crypto::verify` uses the process-wide provider: pin it.
    #[cfg(feature = "aws_lc_rs")]
    let _ = jsonwebtoken::crypto::aws_lc::DEFAULT_PROVIDER.install_default();
    #[cfg(all(feature = "rust_crypto", not(feature = "aws_lc_rs")))]
    let _ = jsonwebtoken::crypto::rust_crypto::DEFAULT_PROVIDER.install_default();

    let s = Settings {
        secs: env_or("LOADTEST_SECS", 4.0f64).clamp(0.5, 60.0),
        connections: env_or("LOADTEST_CONNECTIONS", 32usize).clamp(1, 1024),
        max_requests: env_or("LOADTEST_MAX_REQUESTS", 2_000_000usize).max(1),
        rounds: env_or("LOADTEST_ROUNDS", 4usize).clamp(1, 100),
    };

    // The IdP: its own runtime, one thread.
    let idp_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()?;
    let idp = idp_rt.block_on(MockIssuer::start());

    eprintln!(
        "minting {DISTINCT} RS256 tokens (+{} after the rotation)...",
        DISTINCT / 2
    );
    let repeated = idp.token().scope("orders:read").sign();
    let distinct: Vec<String> = (0..DISTINCT)
        .map(|i| idp.token().subject(&format!("user-{i}")).sign())
        .collect();
    let old_kid = kid_of(&repeated);
    let key =
        DecodingKey::from_rsa_pem(idp.public_key_pem(&old_kid).unwrap_or_default().as_bytes())?;

    // The servers: ONE runtime, ONE worker thread. Issuers are built here,
    // before the rotation, so their refresh tasks also live on the server core.
    let server_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()?;
    let (bare, guarded, nocache) = server_rt.block_on(async {
        let issuer = || {
            Issuer::builder(idp.issuer_url())
                .audience(idp.default_audience())
                .build()
        };
        let guarded_layer = AuthLayer::builder().issuer(issuer().await?).build()?;
        let nocache_layer = AuthLayer::builder()
            .issuer(issuer().await?)
            .cache(CacheConfig::disabled())
            .build()?;
        Ok::<_, Box<dyn std::error::Error>>((
            serve(route()).await?,
            serve(route().layer(guarded_layer)).await?,
            serve(route().layer(nocache_layer)).await?,
        ))
    })?;

    // Rotation: the IdP publishes a new key and signs with it from now on.
    let new_kid = idp.rotate(Algorithm::RS256);
    let rotated: Vec<String> = (0..DISTINCT / 2)
        .map(|i| idp.token().subject(&format!("new-{i}")).sign())
        .collect();
    assert!(rotated.iter().all(|t| kid_of(t) == new_kid));

    let bytes = |ts: &[String]| Arc::new(ts.iter().map(|t| request_bytes(t)).collect::<Vec<_>>());
    let scenarios = [
        (
            "repeated",
            Tokens::Cycle(bytes(std::slice::from_ref(&repeated))),
        ),
        ("distinct", Tokens::Cycle(bytes(&distinct))),
        (
            "rotation",
            Tokens::Rotation {
                old: bytes(&distinct[..DISTINCT / 2]),
                new: bytes(&rotated),
            },
        ),
    ];
    let servers = [
        ("bare", bare),
        ("guarded", guarded),
        ("guarded-nocache", nocache),
    ];

    println!(
        "oauth2-guard load test: backend {}, {} connections, {} s per scenario and server in {} interleaved rounds, server runtime 1 worker thread",
        oauth2_guard::crypto::backend_name(),
        s.connections,
        s.secs,
        s.rounds
    );
    println!("bound = 1 / (1 / bare_rps + t_verify), t_verify = one RS256 signature verification");
    println!("measured on the server thread after each round's bare slice (mean)");
    println!();
    println!(
        "{:<10} {:<16} {:>10} {:>9} {:>9} {:>10} {:>8}  vs",
        "scenario", "server", "req/s", "p50 µs", "p99 µs", "requests", "non-200"
    );

    let driver = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let local = tokio::task::LocalSet::new();
    let mut failed = false;
    for (name, tokens) in &scenarios {
        let mut results: Vec<RunResult> = servers.iter().map(|_| RunResult::default()).collect();
        let mut verify = Duration::ZERO;
        for _ in 0..s.rounds {
            for ((server, addr), result) in servers.iter().zip(&mut results) {
                result.add(local.block_on(&driver, run(*addr, tokens.clone(), s))?);
                if *server == "bare" {
                    verify += rs256_verify_time(&server_rt, &repeated, &key) / s.rounds as u32;
                }
            }
        }
        let bare_rps = results[0].rps();
        let allowed = 1.0 / (1.0 / bare_rps + verify.as_secs_f64());
        for ((server, _), mut r) in servers.iter().zip(results) {
            let rps = r.rps();
            let vs = match (*name, *server) {
                (_, "bare") => format!("t_verify = {:.1} µs", verify.as_secs_f64() * 1e6),
                ("repeated", "guarded") => {
                    let ratio = rps / bare_rps;
                    failed |= ratio < 0.85;
                    format!("{:.1} % of bare (target ≥ 85 %)", ratio * 100.0)
                }
                ("distinct", "guarded-nocache") => {
                    let ratio = rps / allowed;
                    failed |= ratio < 0.80;
                    format!(
                        "{:.1} % of bare, {:.1} % of the bound {:.0} req/s (target ≥ 80 %)",
                        rps / bare_rps * 100.0,
                        ratio * 100.0,
                        allowed
                    )
                }
                _ => format!(
                    "{:.1} % of bare, {:.1} % of the bound {:.0} req/s",
                    rps / bare_rps * 100.0,
                    rps / allowed * 100.0,
                    allowed
                ),
            };
            failed |= r.non_200 > 0;
            let (p50, p99) = (r.percentile(0.50), r.percentile(0.99));
            println!(
                "{:<10} {:<16} {:>10.0} {:>9} {:>9} {:>10} {:>8}  {}",
                name,
                server,
                rps,
                p50,
                p99,
                r.latencies.len(),
                r.non_200,
                vs
            );
        }
    }
    println!();
    println!(
        "JWKS fetches at the IdP: {} (startup: 2 issuers; rotation: one per guarded server)",
        idp.jwks_fetches()
    );
    drop(server_rt);
    drop(idp);
    drop(idp_rt);
    if failed {
        println!("RESULT: a target was missed or a request was refused");
        std::process::exit(1);
    }
    println!("RESULT: all targets met, no request refused");
    Ok(())
}
