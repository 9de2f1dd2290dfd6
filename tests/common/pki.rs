//! A throwaway PKI made at start with rcgen: a CA, a server certificate for
//! `localhost` / 127.0.0.1, and client certificates. Shared by `tests/mtls.rs`
//! (the crate's own TLS server) and `tests/interop/mtls.rs` (which also hands
//! the PEM files to node-oidc-provider's HTTPS listener).

use std::sync::Arc;

use oauth2_guard::mtls::rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use oauth2_guard::mtls::rustls::server::WebPkiClientVerifier;
use oauth2_guard::mtls::rustls::{RootCertStore, ServerConfig};
use oauth2_guard::mtls::ClientCertificate;
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
};

/// A certificate and its key.
pub struct Identity {
    pub der: CertificateDer<'static>,
    pub cert_pem: String,
    key: KeyPair,
}

impl Identity {
    /// What the layer sees: its thumbprint is a bound token's `cnf.x5t#S256`.
    pub fn client_certificate(&self) -> ClientCertificate {
        ClientCertificate::from_der(self.der.to_vec())
    }

    /// A reqwest client trusting `ca`, presenting this identity.
    pub fn reqwest_identity(&self) -> reqwest::Identity {
        let pem = format!("{}{}", self.cert_pem, self.key_pem());
        reqwest::Identity::from_pem(pem.as_bytes()).expect("identity")
    }

    /// The private key, PKCS#8 PEM (for a TLS server outside this process).
    pub fn key_pem(&self) -> String {
        self.key.serialize_pem()
    }
}

pub struct Pki {
    pub ca_der: CertificateDer<'static>,
    pub ca_pem: String,
    issuer: Issuer<'static, KeyPair>,
    pub server: Identity,
}

impl Pki {
    pub fn new() -> Self {
        Self::with_ca_name("test CA")
    }

    /// A PKI whose CA has the common name `ca_name`. OpenSSL (so Node's TLS
    /// server) drops the handshake, even with `rejectUnauthorized: false`,
    /// when a client certificate names a trusted CA that did not sign it: a
    /// "stranger" PKI meant to be merely untrusted needs a name of its own.
    pub fn with_ca_name(ca_name: &str) -> Self {
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("params");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name.push(DnType::CommonName, ca_name);
        let key = KeyPair::generate().expect("key");
        let ca = params.self_signed(&key).expect("CA");
        let issuer = Issuer::new(params, key);
        let server = leaf(
            &issuer,
            &["localhost", "127.0.0.1"],
            ExtendedKeyUsagePurpose::ServerAuth,
        );
        Pki {
            ca_der: ca.der().clone(),
            ca_pem: ca.pem(),
            issuer,
            server,
        }
    }

    /// A client certificate for `name`, issued by the CA.
    pub fn client(&self, name: &str) -> Identity {
        leaf(&self.issuer, &[name], ExtendedKeyUsagePurpose::ClientAuth)
    }

    /// The server's TLS configuration: client certificates of the CA
    /// required, or optional (`allow_unauthenticated`).
    pub fn server_config(&self, optional: bool) -> Arc<ServerConfig> {
        let mut roots = RootCertStore::empty();
        roots.add(self.ca_der.clone()).expect("root");
        let verifier = WebPkiClientVerifier::builder(Arc::new(roots));
        let verifier = if optional {
            verifier.allow_unauthenticated()
        } else {
            verifier
        };
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(self.server.key.serialize_der()));
        Arc::new(
            ServerConfig::builder()
                .with_client_cert_verifier(verifier.build().expect("verifier"))
                .with_single_cert(vec![self.server.der.clone()], key)
                .expect("server config"),
        )
    }

    /// An HTTPS client trusting only the CA, presenting `identity`; requests
    /// time out after 10 s.
    pub fn https_client(&self, identity: Option<&Identity>) -> reqwest::Client {
        self.https_client_builder(identity)
            .timeout(std::time::Duration::from_secs(10))
            .build()
            .expect("client")
    }

    /// [`https_client`](Self::https_client)'s builder, before its timeout.
    pub fn https_client_builder(&self, identity: Option<&Identity>) -> reqwest::ClientBuilder {
        let ca = reqwest::Certificate::from_der(&self.ca_der).expect("ca");
        let builder = reqwest::Client::builder().tls_certs_only([ca]);
        match identity {
            Some(identity) => builder.identity(identity.reqwest_identity()),
            None => builder,
        }
    }
}

fn leaf(
    issuer: &Issuer<'static, KeyPair>,
    names: &[&str],
    usage: ExtendedKeyUsagePurpose,
) -> Identity {
    let names: Vec<String> = names.iter().map(|n| (*n).to_owned()).collect();
    let mut params = CertificateParams::new(names.clone()).expect("params");
    params
        .distinguished_name
        .push(DnType::CommonName, names[0].clone());
    params.extended_key_usages = vec![usage];
    let key = KeyPair::generate().expect("key");
    let cert = params.signed_by(&key, issuer).expect("leaf");
    Identity {
        der: cert.der().clone(),
        cert_pem: cert.pem(),
        key,
    }
}
