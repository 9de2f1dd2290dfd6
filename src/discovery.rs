//! OpenID Connect discovery and RFC 8414 authorization-server metadata.
//!
//! Discovery fetches
//! `{issuer}/.well-known/openid-configuration` and, when that is not found,
//! the RFC 8414 document (`/.well-known/oauth-authorization-server` inserted
//! before the issuer's path, then appended to it). The `issuer` member must
//! equal the configured issuer exactly (OIDC Discovery §4.3, RFC 8414 §3.3):
//! a mismatch is a configuration error, never silently accepted.
//!
//! The issuer must be an `https` URL without userinfo, query or fragment
//! (RFC 8414 §2); the discovered `jwks_uri` and `token_endpoint` are held to
//! the same HTTPS policy as configured ones (no userinfo or fragment; a
//! query is allowed). See [`HttpConfig`](crate::issuer::HttpConfig).

use serde::Deserialize;
use url::Url;

use crate::error::{ConfigError, FetchError, FetchErrorKind};
use crate::http::HttpClient;

/// The members of an issuer's metadata this crate uses; everything else is
/// kept in [`extra`](Self::extra).
#[derive(Debug, Clone, Deserialize)]
#[non_exhaustive]
pub struct ProviderMetadata {
    /// The issuer identifier.
    pub issuer: String,
    /// Where the issuer publishes its signing keys.
    #[serde(default)]
    pub jwks_uri: Option<String>,
    /// The OAuth 2.0 token endpoint.
    #[serde(default)]
    pub token_endpoint: Option<String>,
    /// RFC 7662 introspection endpoint.
    #[serde(default)]
    pub introspection_endpoint: Option<String>,
    /// RFC 7009 revocation endpoint.
    #[serde(default)]
    pub revocation_endpoint: Option<String>,
    /// The authorization endpoint.
    #[serde(default)]
    pub authorization_endpoint: Option<String>,
    /// Client authentication methods the token endpoint supports.
    #[serde(default)]
    pub token_endpoint_auth_methods_supported: Option<Vec<String>>,
    /// Any other member.
    #[serde(flatten)]
    pub extra: serde_json::Map<String, serde_json::Value>,
}

impl ProviderMetadata {
    /// Discover the metadata of `issuer`.
    ///
    /// # Errors
    /// [`ConfigError::Discovery`] when no document could be fetched, and
    /// [`ConfigError::IssuerMismatch`] when the document names another issuer.
    pub(crate) async fn discover(http: &HttpClient, issuer: &str) -> Result<Self, ConfigError> {
        let base = http.check_issuer(issuer)?;
        let mut last_error = None;
        for url in candidate_urls(&base) {
            match http.get_json::<ProviderMetadata>(&url).await {
                Ok(fetched) => {
                    let meta = fetched.value;
                    if meta.issuer != issuer {
                        return Err(ConfigError::IssuerMismatch {
                            expected: issuer.to_owned(),
                            found: meta.issuer,
                        });
                    }
                    tracing::info!(issuer, url = %url, "discovered issuer metadata");
                    return Ok(meta);
                }
                // Not found: try the next well-known location.
                Err(e) if matches!(e.kind(), FetchErrorKind::Status(404 | 405 | 410)) => {
                    last_error = Some(e);
                }
                Err(e) => {
                    return Err(ConfigError::Discovery {
                        issuer: issuer.to_owned(),
                        source: e,
                    })
                }
            }
        }
        Err(ConfigError::Discovery {
            issuer: issuer.to_owned(),
            source: last_error
                .unwrap_or_else(|| FetchError::new(FetchErrorKind::Status(404), issuer)),
        })
    }

    /// The `jwks_uri`, checked against the HTTPS policy.
    pub(crate) fn jwks_url(&self, http: &HttpClient) -> Result<Url, ConfigError> {
        match &self.jwks_uri {
            Some(uri) => http.check_url(uri),
            None => Err(ConfigError::NoJwksUri {
                issuer: self.issuer.clone(),
            }),
        }
    }
}

/// The well-known locations to try, in order.
fn candidate_urls(issuer: &Url) -> Vec<Url> {
    let path = issuer.path().trim_end_matches('/');
    let mut out = Vec::with_capacity(3);
    let mut push = |p: String| {
        let mut u = issuer.clone();
        u.set_path(&p);
        u.set_query(None);
        if !out.contains(&u) {
            out.push(u);
        }
    };
    push(format!("{path}/.well-known/openid-configuration"));
    push(format!("/.well-known/oauth-authorization-server{path}"));
    push(format!("{path}/.well-known/oauth-authorization-server"));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn well_known_locations() {
        let u = Url::parse("https://idp.example.com/realms/demo").unwrap();
        let c: Vec<String> = candidate_urls(&u).iter().map(|u| u.to_string()).collect();
        assert_eq!(
            c,
            [
                "https://idp.example.com/realms/demo/.well-known/openid-configuration",
                "https://idp.example.com/.well-known/oauth-authorization-server/realms/demo",
                "https://idp.example.com/realms/demo/.well-known/oauth-authorization-server",
            ]
        );
        // Auth0-style issuer with a trailing slash.
        let u = Url::parse("https://tenant.example.com/").unwrap();
        let c: Vec<String> = candidate_urls(&u).iter().map(|u| u.to_string()).collect();
        assert_eq!(
            c,
            [
                "https://tenant.example.com/.well-known/openid-configuration",
                "https://tenant.example.com/.well-known/oauth-authorization-server",
            ]
        );
    }
}
