//! The `guarded-opaque` server of the load test (feature `introspection`):
//! the route behind a Layer whose only verifier is an RFC 7662
//! `Introspector` against the mock IdP's `/introspect`, and one opaque token.
//! Every request after the first is an introspection cache hit: the row
//! measures the cache-hit path through the layer, the opaque twin of the
//! JWT `repeated` / `guarded` row.

use std::net::SocketAddr;
use std::time::Duration;

use oauth2_guard::introspection::Introspector;
use oauth2_guard::testkit::MockIssuer;
use oauth2_guard::{AuthLayer, HttpConfig};

/// The resource server's own client at the mock IdP.
const CLIENT_ID: &str = "load-resource-server";
const CLIENT_SECRET: &str = "load-resource-server-secret";
/// Longer than any run (at most 60 s per scenario and server): the one
/// cached answer never lapses, so the IdP sees exactly one call.
const LIFETIME: Duration = Duration::from_secs(3600);

/// The served `guarded-opaque` server and the opaque token to send it.
pub(crate) struct OpaqueServer {
    pub(crate) addr: SocketAddr,
    pub(crate) token: String,
}

/// Start the server on the current runtime (the server runtime).
pub(crate) async fn server(idp: &MockIssuer) -> Result<OpaqueServer, Box<dyn std::error::Error>> {
    idp.register_client(CLIENT_ID, CLIENT_SECRET);
    let introspector = Introspector::builder(idp.issuer_url(), CLIENT_ID)
        .client_secret(CLIENT_SECRET)
        .audience(idp.default_audience())
        .cache_ttl(LIFETIME)
        // The mock serves plain HTTP on 127.0.0.1: the explicit opt-in.
        .http(HttpConfig::default().allow_loopback_http())
        .build()
        .await?;
    let layer = AuthLayer::builder().introspection(introspector).build()?;
    let token = idp
        .opaque_token()
        .scope("orders:read")
        .expires_in(LIFETIME)
        .issue();
    Ok(OpaqueServer {
        addr: super::serve(super::route().layer(layer)).await?,
        token,
    })
}
