//! The client certificate of a request and its RFC 8705 thumbprint.

use std::fmt;
use std::sync::Arc;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use bytes::Bytes;
use sha2::{Digest, Sha256};
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::CertificateDer;

/// The client certificate of the connection a request came on.
///
/// Put into the request's extensions by [`serve`](super::serve), by
/// [`ForwardedCertLayer`](super::ForwardedCertLayer), or by your own TLS
/// termination; read by the [`AuthLayer`](crate::AuthLayer) to check a
/// certificate-bound token (RFC 8705). Its `x5t#S256` thumbprint (base64url
/// SHA-256 of the DER) is computed once, when it is made.
///
/// `Debug` shows the thumbprint only.
#[derive(Clone)]
pub struct ClientCertificate {
    der: Option<Bytes>,
    sha256: [u8; 32],
    x5t_s256: Arc<str>,
}

impl ClientCertificate {
    /// The certificate in DER, as a TLS stack hands it over (the first, end
    /// entity, certificate of the client's chain).
    ///
    /// The bytes are not parsed: the TLS layer authenticated them, and the
    /// binding is to their exact hash.
    pub fn from_der(der: impl Into<Bytes>) -> Self {
        let der = der.into();
        let sha256: [u8; 32] = Sha256::digest(&der).into();
        Self {
            der: Some(der),
            ..Self::from_sha256(sha256)
        }
    }

    /// The first `CERTIFICATE` block of a PEM document.
    ///
    /// # Errors
    /// [`CertificateError::Pem`] when there is no `CERTIFICATE` block or it
    /// is not valid base64; [`CertificateError::NotDer`] when its content is
    /// not a DER `SEQUENCE`.
    pub fn from_pem(pem: &[u8]) -> Result<Self, CertificateError> {
        let der = CertificateDer::from_pem_slice(pem).map_err(|_| CertificateError::Pem)?;
        let der: &[u8] = der.as_ref();
        // A certificate is a DER SEQUENCE (0x30) with a non-empty body.
        if der.len() < 2 || der[0] != 0x30 {
            return Err(CertificateError::NotDer);
        }
        Ok(Self::from_der(der.to_vec()))
    }

    /// Only the SHA-256 hash of the certificate's DER is known (Envoy's
    /// `Hash=` element without `Cert=`): enough to check a binding.
    pub fn from_sha256(sha256: [u8; 32]) -> Self {
        Self {
            der: None,
            sha256,
            x5t_s256: URL_SAFE_NO_PAD.encode(sha256).into(),
        }
    }

    /// The DER, when the certificate (not only its hash) was given.
    pub fn der(&self) -> Option<&[u8]> {
        self.der.as_deref()
    }

    /// The RFC 8705 thumbprint: base64url (no padding) of the SHA-256 of
    /// the DER, the value of a bound token's `cnf["x5t#S256"]`.
    pub fn x5t_s256(&self) -> &str {
        &self.x5t_s256
    }

    /// The SHA-256 of the DER.
    pub fn sha256(&self) -> &[u8; 32] {
        &self.sha256
    }

    /// Whether `x5t_s256` (a token's `cnf["x5t#S256"]`) is this
    /// certificate's thumbprint. Only the canonical unpadded base64url of 32
    /// bytes matches; the comparison takes the same time wherever the
    /// bytes differ.
    pub fn matches(&self, x5t_s256: &str) -> bool {
        let mut decoded = [0u8; 32];
        match URL_SAFE_NO_PAD.decode_slice(x5t_s256.as_bytes(), &mut decoded) {
            Ok(32) => constant_time_eq(&decoded, &self.sha256),
            _ => false,
        }
    }
}

impl PartialEq for ClientCertificate {
    fn eq(&self, other: &Self) -> bool {
        constant_time_eq(&self.sha256, &other.sha256)
    }
}

impl Eq for ClientCertificate {}

impl fmt::Debug for ClientCertificate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientCertificate")
            .field("x5t#S256", &&*self.x5t_s256)
            .finish_non_exhaustive()
    }
}

/// No early exit: every byte is looked at.
fn constant_time_eq(a: &[u8; 32], b: &[u8; 32]) -> bool {
    let diff = a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y));
    std::hint::black_box(diff) == 0
}

/// Why a forwarded certificate could not be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CertificateError {
    /// No PEM `CERTIFICATE` block, or its base64 is invalid.
    #[error("no PEM certificate")]
    Pem,
    /// The certificate's bytes are not a DER `SEQUENCE`.
    #[error("the certificate is not DER")]
    NotDer,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thumbprint_is_base64url_sha256_of_der() {
        // SHA-256("") = e3b0c442…; base64url of it, no padding.
        let cert = ClientCertificate::from_der(Vec::new());
        assert_eq!(
            cert.x5t_s256(),
            "47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU"
        );
        assert!(cert.matches("47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU"));
        // Standard base64 alphabet, padding, truncation: no match.
        assert!(!cert.matches("47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU"));
        assert!(!cert.matches("47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU="));
        assert!(!cert.matches("47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuF"));
        // Non-canonical last character (trailing bits set) is refused.
        assert!(!cert.matches("47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFV"));
        assert_eq!(cert, ClientCertificate::from_sha256(*cert.sha256()));
        assert!(format!("{cert:?}").contains("47DEQ"));
    }

    #[test]
    fn pem_must_hold_a_der_certificate() {
        assert_eq!(
            ClientCertificate::from_pem(b"garbage").unwrap_err(),
            CertificateError::Pem
        );
        let not_der = b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";
        assert_eq!(
            ClientCertificate::from_pem(not_der).unwrap_err(),
            CertificateError::NotDer
        );
        let ok = b"-----BEGIN CERTIFICATE-----\nMAMCAQE=\n-----END CERTIFICATE-----\n";
        let cert = ClientCertificate::from_pem(ok).unwrap();
        assert_eq!(cert.der(), Some(&[0x30, 0x03, 0x02, 0x01, 0x01][..]));
    }
}
