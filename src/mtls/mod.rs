//! mTLS certificate-bound access tokens (RFC 8705).
//!
//! A certificate-bound token carries `cnf: {"x5t#S256": …}`: the base64url
//! SHA-256 thumbprint of the client certificate (DER) the authorization
//! server saw when it issued the token. The [`AuthLayer`](crate::AuthLayer)
//! accepts such a token only on a request that came with that same
//! certificate: a token copied out of a log, a proxy or a browser is useless
//! without the private key of the certificate.
//!
//! The layer reads the certificate of the request from its extensions, as a
//! [`ClientCertificate`]. Something in front of the layer puts it there:
//!
//! - [`serve`]: an axum [`Router`](axum::Router) served over rustls with
//!   client-certificate verification (for example rustls's
//!   `WebPkiClientVerifier`); every request of a connection carries the
//!   certificate the client presented in the handshake (and
//!   [`ConnectInfo<SocketAddr>`](axum::extract::ConnectInfo)).
//! - [`ForwardedCertLayer`]: TLS terminated by a proxy that forwards the
//!   client certificate in a header (Envoy's `x-forwarded-client-cert`,
//!   nginx's `$ssl_client_escaped_cert`), read **only** from the proxy
//!   addresses you trust and stripped from every other request.
//! - your own code: [`ClientCertificate::from_der`] from any TLS stack.
//!
//! | token | request | answer |
//! |---|---|---|
//! | `cnf.x5t#S256` = thumbprint of the request's certificate | any | accepted |
//! | `cnf.x5t#S256`, no certificate | | 401 `invalid_token`, [`Reason::CertificateMissing`] |
//! | `cnf.x5t#S256` ≠ thumbprint (or not a SHA-256 thumbprint) | | 401 `invalid_token`, [`Reason::CertificateMismatch`] |
//! | no `cnf` | with or without certificate | as any bearer token |
//!
//! The thumbprints are compared in constant time. The certificate itself is
//! authenticated by the TLS layer (or the trusted proxy), not here: RFC 8705
//! §3 binds the token to *the* certificate, whichever CA issued it, so the
//! TLS server may accept self-signed client certificates (§2.2) if its
//! authorization server does.
//!
//! ```
//! use oauth2_guard::mtls::ClientCertificate;
//!
//! # fn der_of_the_peer_certificate() -> Vec<u8> { vec![0x30, 0x03, 0x02, 0x01, 0x01] }
//! let der: Vec<u8> = der_of_the_peer_certificate();
//! let cert = ClientCertificate::from_der(der);
//! // The value a token bound to this certificate carries in `cnf.x5t#S256`.
//! assert_eq!(cert.x5t_s256().len(), 43);
//! assert!(cert.matches(cert.x5t_s256()));
//! // Insert it into the request before the AuthLayer sees the request:
//! let mut req = http::Request::new(());
//! req.extensions_mut().insert(cert);
//! ```
//!
//! # Security
//! - Choose mTLS where the clients are services with certificates (a service
//!   mesh, B2B APIs); choose DPoP where they are browsers, mobile apps or
//!   anything behind a TLS-terminating proxy you do not control.
//! - Behind a proxy, the proxy must authenticate the client certificate
//!   **and** strip any `x-forwarded-client-cert` (or your nginx header) the
//!   client sent: see [`ForwardedCertLayer`]'s deployment caveat.

mod cert;
mod proxy;
mod serve;

pub use cert::{CertificateError, ClientCertificate};
pub use proxy::{ForwardedCertLayer, ForwardedCertLayerBuilder, ForwardedCertService};
pub use serve::{serve, HANDSHAKE_TIMEOUT};
/// The rustls version [`serve`] takes its `ServerConfig` from (the one
/// reqwest already brings in): build the configuration with these types.
pub use tokio_rustls::rustls;

use http::Extensions;

use crate::error::Reason;

/// RFC 8705 §3: the request's certificate must have the thumbprint the
/// token's `cnf["x5t#S256"]` names.
pub(crate) fn check_certificate_binding(
    x5t_s256: &str,
    extensions: &Extensions,
) -> Result<(), Reason> {
    let cert = extensions
        .get::<ClientCertificate>()
        .ok_or(Reason::CertificateMissing)?;
    if cert.matches(x5t_s256) {
        Ok(())
    } else {
        Err(Reason::CertificateMismatch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binding_needs_the_certificate_with_that_thumbprint() {
        let cert = ClientCertificate::from_der(vec![0x30, 0x00]);
        let other = ClientCertificate::from_der(vec![0x30, 0x01, 0x00]);
        let mut ext = Extensions::new();
        assert_eq!(
            check_certificate_binding(cert.x5t_s256(), &ext),
            Err(Reason::CertificateMissing)
        );
        ext.insert(other);
        assert_eq!(
            check_certificate_binding(cert.x5t_s256(), &ext),
            Err(Reason::CertificateMismatch)
        );
        ext.insert(cert.clone());
        assert_eq!(check_certificate_binding(cert.x5t_s256(), &ext), Ok(()));
        for bad in ["", "x", &format!("{}=", cert.x5t_s256()), "a/b+"] {
            assert_eq!(
                check_certificate_binding(bad, &ext),
                Err(Reason::CertificateMismatch),
                "{bad}"
            );
        }
    }

    #[test]
    fn metadata_advertises_certificate_bound_tokens_only_when_told() {
        use crate::layer::ProtectedResourceMetadata;
        let field = "\"tls_client_certificate_bound_access_tokens\":true";
        let on = ProtectedResourceMetadata::builder("https://api.example.com")
            .tls_client_certificate_bound_access_tokens(true)
            .build()
            .unwrap();
        assert!(on.json().contains(field), "{}", on.json());
        let off = ProtectedResourceMetadata::builder("https://api.example.com")
            .build()
            .unwrap();
        assert!(!off.json().contains("tls_client"), "{}", off.json());
    }

    #[test]
    fn reasons_are_invalid_token_401() {
        for r in [Reason::CertificateMissing, Reason::CertificateMismatch] {
            assert_eq!(r.status(), http::StatusCode::UNAUTHORIZED);
            assert_eq!(r.error_code(), Some("invalid_token"));
        }
        assert_eq!(Reason::CertificateMissing.code(), "certificate_missing");
        assert_eq!(Reason::CertificateMismatch.code(), "certificate_mismatch");
    }
}
