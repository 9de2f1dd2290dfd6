//! Client authentication at the token endpoint: `client_secret_basic`,
//! `client_secret_post` and `private_key_jwt` (RFC 7523).

use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use http::HeaderValue;
use jsonwebtoken::{Algorithm, EncodingKey};
use url::Url;

use super::error::TokenError;
use super::secret::{SecretReader, SecretSource};
use crate::error::ConfigError;
use crate::sync::lock;

/// The `client_assertion_type` of RFC 7523 §2.2.
pub(crate) const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// Lifetime of a `private_key_jwt` client assertion: long enough for one
/// request, short enough that a leaked assertion is useless.
pub const ASSERTION_LIFETIME: Duration = Duration::from_secs(60);

/// How the client authenticates at the token endpoint.
pub(crate) enum ClientAuth {
    /// `client_secret_basic` (RFC 6749 §2.3.1), the default.
    Basic(SecretReader),
    /// `client_secret_post`: id and secret in the form body.
    Post(SecretReader),
    /// `private_key_jwt` (RFC 7523 §2.2, OIDC Core §9).
    PrivateKeyJwt {
        key: SecretReader,
        alg: Algorithm,
        kid: Option<String>,
        /// The last parsed key, keyed by its PEM, so a rotated key is parsed once.
        parsed: Mutex<Option<(Arc<str>, Arc<EncodingKey>)>>,
    },
}

impl fmt::Debug for ClientAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ClientAuth::Basic(s) => f.debug_tuple("ClientSecretBasic").field(s).finish(),
            ClientAuth::Post(s) => f.debug_tuple("ClientSecretPost").field(s).finish(),
            ClientAuth::PrivateKeyJwt { key, alg, kid, .. } => f
                .debug_struct("PrivateKeyJwt")
                .field("key", key)
                .field("alg", alg)
                .field("kid", kid)
                .finish(),
        }
    }
}

/// What a request must carry to authenticate the client.
pub(crate) struct Credentials {
    pub(crate) authorization: Option<HeaderValue>,
    pub(crate) form: Vec<(&'static str, String)>,
}

/// RFC 6749 §2.3.1: id and secret are form-urlencoded before base64.
fn form_encode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

fn parse_key(alg: Algorithm, pem: &[u8]) -> Result<EncodingKey, jsonwebtoken::errors::Error> {
    match alg {
        Algorithm::ES256 | Algorithm::ES384 => EncodingKey::from_ec_pem(pem),
        Algorithm::EdDSA => EncodingKey::from_ed_pem(pem),
        _ => EncodingKey::from_rsa_pem(pem),
    }
}

impl ClientAuth {
    pub(crate) fn private_key_jwt(
        key: SecretSource,
        alg: Algorithm,
        kid: Option<String>,
    ) -> Result<Self, ConfigError> {
        if matches!(alg, Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512) {
            return Err(ConfigError::Algorithm {
                alg: format!("{alg:?}"),
                reason: "private_key_jwt needs an asymmetric algorithm (use client_secret_* for shared secrets)",
            });
        }
        Ok(ClientAuth::PrivateKeyJwt {
            key: SecretReader::new(key),
            alg,
            kid,
            parsed: Mutex::new(None),
        })
    }

    /// The RFC 8414 name of the method, for logs.
    pub(crate) fn method(&self) -> &'static str {
        match self {
            ClientAuth::Basic(_) => "client_secret_basic",
            ClientAuth::Post(_) => "client_secret_post",
            ClientAuth::PrivateKeyJwt { .. } => "private_key_jwt",
        }
    }

    /// Read the credential once at build time so a missing file or a bad
    /// key fails construction, not the first request.
    pub(crate) fn check(&self) -> Result<(), ConfigError> {
        match self {
            ClientAuth::Basic(s) | ClientAuth::Post(s) => {
                s.read().map(drop).map_err(|e| ConfigError::Credentials {
                    reason: "the client secret cannot be read",
                    source: Some(e),
                })
            }
            ClientAuth::PrivateKeyJwt { .. } => {
                self.encoding_key().map(drop).map_err(|e| match e {
                    TokenError::Credentials { reason, source } => ConfigError::Credentials {
                        reason,
                        source: source.map(|s| std::io::Error::new(s.kind(), s.to_string())),
                    },
                    _ => ConfigError::Credentials {
                        reason: "the private key is unusable",
                        source: None,
                    },
                })
            }
        }
    }

    fn encoding_key(&self) -> Result<Arc<EncodingKey>, TokenError> {
        let ClientAuth::PrivateKeyJwt {
            key, alg, parsed, ..
        } = self
        else {
            return Err(TokenError::credentials(
                "not a private_key_jwt client",
                None,
            ));
        };
        let pem = key
            .read()
            .map_err(|e| TokenError::credentials("the private key cannot be read", Some(e)))?;
        {
            let cached = lock(parsed);
            if let Some((p, k)) = cached.as_ref() {
                if *p == pem {
                    return Ok(k.clone());
                }
            }
        }
        let encoding = parse_key(*alg, pem.as_bytes()).map_err(|_| {
            TokenError::credentials(
                "the private key is not a PKCS#8/PEM key of the configured algorithm",
                None,
            )
        })?;
        // Fail now, not at signing time, if the key cannot sign this algorithm.
        (crate::crypto::provider().signer_factory)(alg, &encoding).map_err(|_| {
            TokenError::credentials(
                "the private key cannot sign with the configured algorithm",
                None,
            )
        })?;
        let encoding = Arc::new(encoding);
        *lock(parsed) = Some((pem, encoding.clone()));
        Ok(encoding)
    }

    /// The header and form parameters that authenticate `client_id` at `endpoint`.
    pub(crate) fn credentials(
        &self,
        client_id: &str,
        endpoint: &Url,
    ) -> Result<Credentials, TokenError> {
        match self {
            ClientAuth::Basic(secret) => {
                let secret = secret.read().map_err(|e| {
                    TokenError::credentials("the client secret cannot be read", Some(e))
                })?;
                let raw = format!("{}:{}", form_encode(client_id), form_encode(&secret));
                let mut value = HeaderValue::try_from(format!("Basic {}", STANDARD.encode(raw)))
                    .map_err(|_| {
                        TokenError::credentials(
                            "the client secret cannot be sent in a header",
                            None,
                        )
                    })?;
                value.set_sensitive(true);
                Ok(Credentials {
                    authorization: Some(value),
                    form: Vec::new(),
                })
            }
            ClientAuth::Post(secret) => {
                let secret = secret.read().map_err(|e| {
                    TokenError::credentials("the client secret cannot be read", Some(e))
                })?;
                Ok(Credentials {
                    authorization: None,
                    form: vec![
                        ("client_id", client_id.to_owned()),
                        ("client_secret", secret.to_string()),
                    ],
                })
            }
            ClientAuth::PrivateKeyJwt { alg, kid, .. } => {
                let key = self.encoding_key()?;
                let assertion =
                    sign_assertion(&key, *alg, kid.as_deref(), client_id, endpoint.as_str())?;
                Ok(Credentials {
                    authorization: None,
                    form: vec![
                        ("client_id", client_id.to_owned()),
                        ("client_assertion_type", JWT_BEARER.to_owned()),
                        ("client_assertion", assertion),
                    ],
                })
            }
        }
    }
}

/// An RFC 7523 client assertion: `iss` = `sub` = client id, `aud` = the
/// token endpoint, `iat` = now, `exp` = now + 60 s, a random 128-bit `jti`.
pub(crate) fn sign_assertion(
    key: &EncodingKey,
    alg: Algorithm,
    kid: Option<&str>,
    client_id: &str,
    endpoint: &str,
) -> Result<String, TokenError> {
    let now = crate::claims::now_unix();
    let mut header = serde_json::json!({ "alg": alg, "typ": "JWT" });
    if let (Some(kid), Some(map)) = (kid, header.as_object_mut()) {
        map.insert("kid".into(), kid.into());
    }
    let claims = serde_json::json!({
        "iss": client_id,
        "sub": client_id,
        "aud": endpoint,
        "iat": now,
        "exp": now.saturating_add(ASSERTION_LIFETIME.as_secs()),
        "jti": format!("{:032x}", rand::random::<u128>()),
    });
    let signer = (crate::crypto::provider().signer_factory)(&alg, key).map_err(|_| {
        TokenError::credentials(
            "the private key cannot sign with the configured algorithm",
            None,
        )
    })?;
    crate::crypto::encode_jws(&header, &claims, |input| {
        signer
            .try_sign(input)
            .map_err(|_| TokenError::credentials("signing the client assertion failed", None))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_credentials_are_form_encoded_first() {
        let auth = ClientAuth::Basic(SecretReader::new("p@ss word:/+".into()));
        let url = Url::parse("https://idp.example.com/token").unwrap();
        let c = auth.credentials("my client", &url).unwrap();
        let h = c.authorization.unwrap();
        assert!(h.is_sensitive());
        let b64 = h.to_str().unwrap().strip_prefix("Basic ").unwrap();
        let raw = String::from_utf8(STANDARD.decode(b64).unwrap()).unwrap();
        assert_eq!(raw, "my+client:p%40ss+word%3A%2F%2B");
        assert!(c.form.is_empty());
    }

    #[test]
    fn debug_redacts() {
        let auth = ClientAuth::Post(SecretReader::new("topsecret".into()));
        assert!(!format!("{auth:?}").contains("topsecret"));
    }

    #[test]
    fn hmac_refused_for_private_key_jwt() {
        assert!(ClientAuth::private_key_jwt("x".into(), Algorithm::HS256, None).is_err());
    }
}
