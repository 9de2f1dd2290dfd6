//! An MCP (Model Context Protocol) server over streamable HTTP, built with
//! the official Rust SDK (`rmcp`), protected as the MCP authorization spec
//! asks: OAuth 2.1 bearer tokens checked by oauth2-guard's `AuthLayer`, a
//! scope guard, and RFC 9728 protected-resource metadata — served at its
//! well-known URL and named in every 401 challenge, so an MCP client can
//! find the authorization server by itself.
//!
//! ```text
//! CARGO_TARGET_DIR=target cargo run --manifest-path examples/mcp_server/Cargo.toml
//! ```
//!
//! It starts an embedded test issuer and the server on 127.0.0.1, plays a
//! client (no token → 401 with `resource_metadata`; the metadata document;
//! a token without the scope → 403; with it: `initialize`, `tools/list`,
//! `tools/call`), checks every answer, and exits 0 — or exits 1 naming the
//! step that went wrong.
//!
//! In production: `resource` is the public `https` URL clients use (TLS
//! ends at your proxy), the issuer is your IdP
//! (`Issuer::builder(url).audience(...)`), and rmcp's `allowed_hosts` names
//! your public host.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use oauth2_guard::authz::RequireScope;
use oauth2_guard::layer::ProtectedResourceMetadata;
use oauth2_guard::testkit::MockIssuer;
use oauth2_guard::{AuthLayer, VerifiedClaims};
use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::handler::server::tool::Extension;
use rmcp::model::{ServerCapabilities, ServerConfig};
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use rmcp::{tool, tool_handler, tool_router, ServerHandler};
use serde_json::{json, Value};

/// The public URL of the MCP endpoint (RFC 9728 `resource`).
const RESOURCE: &str = "https://mcp.example.com/mcp";
/// The scope every MCP call needs.
const SCOPE: &str = "mcp:tools";

type Error = Box<dyn std::error::Error + Send + Sync>;

/// The MCP server: two tools.
#[derive(Clone)]
struct Orders {
    #[allow(dead_code)] // read by the `tool_handler` macro
    tool_router: ToolRouter<Self>,
}

#[tool_router]
impl Orders {
    fn new() -> Self {
        Self {
            tool_router: Self::tool_router(),
        }
    }

    #[tool(description = "List the caller's open orders")]
    fn list_orders(&self) -> String {
        json!([{"id": 1, "item": "coffee"}, {"id": 2, "item": "tea"}]).to_string()
    }

    /// The verified claims travel in the HTTP request's extensions, which
    /// rmcp hands to tools: the tool knows who calls, with which scopes.
    #[tool(description = "Who is calling (from the verified access token)")]
    fn whoami(&self, Extension(parts): Extension<http::request::Parts>) -> String {
        match parts.extensions.get::<VerifiedClaims>() {
            Some(c) => json!({"sub": c.subject(), "scopes": c.scopes()}).to_string(),
            None => "no claims: the AuthLayer is not in front of this server".into(),
        }
    }
}

#[tool_handler]
impl ServerHandler for Orders {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
            .with_instructions("Orders, behind OAuth 2.1 (oauth2-guard)")
    }
}

#[tokio::main]
async fn main() {
    if let Err(e) = run().await {
        eprintln!("mcp_server example FAILED: {e}");
        std::process::exit(1);
    }
    println!("mcp_server example: all checks passed");
}

async fn run() -> Result<(), Error> {
    let idp = MockIssuer::start().await;
    let issuer = idp
        .issuer_builder()
        .audience(idp.default_audience())
        .build()
        .await?;

    // RFC 9728: who protects this resource, and with which scopes.
    let metadata = ProtectedResourceMetadata::builder(RESOURCE)
        .issuer(&issuer)
        .scopes_supported([SCOPE])
        .resource_name("Orders MCP server")
        .build()?;
    let auth = AuthLayer::builder()
        .issuer(issuer)
        .resource_metadata(metadata.well_known_url())
        .build()?;

    let mcp = StreamableHttpService::new(
        || Ok(Orders::new()),
        Arc::new(LocalSessionManager::default()),
        StreamableHttpServerConfig::default()
            .with_legacy_session_mode(false) // stateless: any instance answers any call
            .with_json_response(true)
            .with_sse_keep_alive(None),
    );
    let app = Router::new()
        // Public: the metadata document, outside the layer.
        .merge(metadata.router())
        .merge(
            Router::new()
                .nest_service("/mcp", mcp)
                .layer(RequireScope::new(SCOPE))
                .layer(auth),
        );

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move { axum::serve(listener, app).await });
    println!("MCP server on http://{addr}/mcp (resource {RESOURCE})");

    client(&idp, addr, &metadata).await
}

/// What an MCP client does, checked step by step.
async fn client(
    idp: &MockIssuer,
    addr: SocketAddr,
    metadata: &ProtectedResourceMetadata,
) -> Result<(), Error> {
    let http = reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(10))
        .build()?;
    let mcp = format!("http://{addr}/mcp");
    let init = json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-11-25", "capabilities": {},
        "clientInfo": {"name": "example-client", "version": "1.0"}}});

    // 1. No token: 401, and the challenge says where to learn more.
    let res = http.post(&mcp).json(&init).send().await?;
    let challenge = header(&res, "www-authenticate");
    println!("1. no token -> {} {challenge}", res.status());
    let expected = format!("resource_metadata=\"{}\"", metadata.well_known_url());
    check(
        res.status() == 401 && challenge.contains(&expected),
        "401 with resource_metadata",
    )?;

    // 2. The metadata document, from the path the challenge names.
    let url = format!("http://{addr}{}", metadata.well_known_path());
    let doc: Value = http
        .get(&url)
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    println!("2. GET {} -> {doc}", metadata.well_known_path());
    check(doc["resource"] == RESOURCE, "metadata names the resource")?;
    check(
        doc["authorization_servers"][0] == idp.issuer_url().as_str(),
        "metadata names the authorization server",
    )?;

    // 3. A valid token without the scope: 403 insufficient_scope.
    let other = idp.token().subject("alice").scope("orders:read").sign();
    let res = http
        .post(&mcp)
        .bearer_auth(&other)
        .json(&init)
        .send()
        .await?;
    println!("3. token without {SCOPE} -> {}", res.status());
    check(
        res.status() == 403 && header(&res, "www-authenticate").contains("insufficient_scope"),
        "403 insufficient_scope",
    )?;

    // 4. With the scope: initialize, tools/list, tools/call.
    let token = idp.token().subject("alice").scope(SCOPE).sign();
    let call = |body: Value| {
        http.post(&mcp)
            .bearer_auth(&token)
            .header("accept", "application/json, text/event-stream")
            .header("mcp-protocol-version", "2025-11-25")
            .json(&body)
            .send()
    };
    let res: Value = call(init.clone()).await?.error_for_status()?.json().await?;
    println!("4. initialize -> server {}", res["result"]["serverInfo"]);
    check(
        res["result"]["serverInfo"].is_object(),
        "initialize answered",
    )?;

    let res: Value = call(json!({"jsonrpc": "2.0", "id": 2, "method": "tools/list"}))
        .await?
        .error_for_status()?
        .json()
        .await?;
    let names: Vec<&str> = res["result"]["tools"]
        .as_array()
        .map(|t| t.iter().filter_map(|t| t["name"].as_str()).collect())
        .unwrap_or_default();
    println!("5. tools/list -> {names:?}");
    check(
        names.contains(&"list_orders") && names.contains(&"whoami"),
        "both tools listed",
    )?;

    let res: Value = call(json!({"jsonrpc": "2.0", "id": 3, "method": "tools/call",
        "params": {"name": "whoami", "arguments": {}}}))
    .await?
    .error_for_status()?
    .json()
    .await?;
    let text = res["result"]["content"][0]["text"]
        .as_str()
        .unwrap_or_default();
    println!("6. tools/call whoami -> {text}");
    check(
        text.contains("\"sub\":\"alice\"") && text.contains(SCOPE),
        "the tool saw the claims",
    )?;
    Ok(())
}

fn header(res: &reqwest::Response, name: &str) -> String {
    res.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned()
}

fn check(ok: bool, what: &str) -> Result<(), Error> {
    if ok {
        Ok(())
    } else {
        Err(format!("check failed: {what}").into())
    }
}
