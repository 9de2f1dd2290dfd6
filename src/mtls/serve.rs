//! An axum router served over rustls, each request carrying the client
//! certificate of its connection.

use std::convert::Infallible;
use std::io;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::ConnectInfo;
use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio_rustls::rustls::ServerConfig;
use tokio_rustls::TlsAcceptor;
use tower_service::Service;

use super::cert::ClientCertificate;

/// How long a client may take to finish the TLS handshake before its
/// connection is dropped (slow or stalled handshakes cannot pile up).
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Serve `app` over TLS on `listener`: HTTP/1.1 over rustls, every request
/// carrying the [`ClientCertificate`] of its connection (when the client
/// presented one) and the peer's [`ConnectInfo<SocketAddr>`](ConnectInfo).
///
/// Whether a client certificate is required, optional, and which CAs issue
/// them is `tls`'s choice: build it with a client-certificate verifier (for
/// example rustls's `WebPkiClientVerifier::builder(roots).build()`, adding
/// `.allow_unauthenticated()` to let clients without a certificate reach
/// routes that do not need one). A certificate-bound token on a connection
/// without a certificate is refused by the [`AuthLayer`](crate::AuthLayer)
/// either way.
///
/// ```no_run
/// use std::sync::Arc;
/// use axum::{routing::get, Router};
/// use oauth2_guard::mtls;
/// use tokio_rustls::rustls::{server::WebPkiClientVerifier, RootCertStore, ServerConfig};
/// # use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
///
/// # async fn run(auth: oauth2_guard::AuthLayer, client_ca: CertificateDer<'static>,
/// #     chain: Vec<CertificateDer<'static>>, key: PrivateKeyDer<'static>)
/// #     -> Result<(), Box<dyn std::error::Error>> {
/// let mut roots = RootCertStore::empty();
/// roots.add(client_ca)?; // the CA of your clients' certificates
/// let tls = ServerConfig::builder()
///     .with_client_cert_verifier(WebPkiClientVerifier::builder(Arc::new(roots)).build()?)
///     .with_single_cert(chain, key)?;
/// let app = Router::new().route("/orders", get(|| async { "orders" })).layer(auth);
/// let listener = tokio::net::TcpListener::bind("0.0.0.0:8443").await?;
/// mtls::serve(listener, Arc::new(tls), app).await?;
/// # Ok(()) }
/// ```
///
/// Handshakes run concurrently (a slow client does not hold up others) and
/// are bounded by [`HANDSHAKE_TIMEOUT`]; failed handshakes are logged at
/// DEBUG and dropped. Transient `accept` errors (out of file descriptors)
/// are logged and retried after a pause, as `axum::serve` does.
///
/// # Errors
/// Never returns while the listener works; the future runs until dropped.
/// Connections already accepted keep running on their own tasks.
pub async fn serve(
    listener: TcpListener,
    tls: Arc<ServerConfig>,
    app: Router,
) -> Result<Infallible, io::Error> {
    let acceptor = TlsAcceptor::from(tls);
    loop {
        let (tcp, peer) = match listener.accept().await {
            Ok(conn) => conn,
            Err(e) => {
                tracing::warn!(target: "oauth2_guard::mtls", error = %e, "accept failed");
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        };
        let acceptor = acceptor.clone();
        let app = app.clone();
        tokio::spawn(async move {
            let tls = match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
                Ok(Ok(tls)) => tls,
                Ok(Err(e)) => {
                    tracing::debug!(target: "oauth2_guard::mtls", %peer, error = %e, "TLS handshake failed");
                    return;
                }
                Err(_) => {
                    tracing::debug!(target: "oauth2_guard::mtls", %peer, "TLS handshake timed out");
                    return;
                }
            };
            let cert = tls
                .get_ref()
                .1
                .peer_certificates()
                .and_then(|chain| chain.first())
                .map(|der| ClientCertificate::from_der(der.as_ref().to_vec()));
            let service = hyper::service::service_fn(move |mut req: http::Request<Incoming>| {
                req.extensions_mut().insert(ConnectInfo(peer));
                if let Some(cert) = &cert {
                    req.extensions_mut().insert(cert.clone());
                }
                // A Router is always ready; `call` on a clone is its documented use.
                app.clone().call(req)
            });
            let conn = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(HANDSHAKE_TIMEOUT)
                .serve_connection(TokioIo::new(tls), service)
                .with_upgrades();
            if let Err(e) = conn.await {
                tracing::debug!(target: "oauth2_guard::mtls", %peer, error = %e, "connection ended with an error");
            }
        });
    }
}
