//! RFC 9728 protected-resource metadata: the JSON document that tells a
//! client which authorization servers issue tokens for this API, which
//! scopes it knows and how to send a token — served at
//! `/.well-known/oauth-protected-resource{/path}`.
//!
//! ```
//! # #[cfg(feature = "axum")] {
//! use axum::{routing::get, Router};
//! use oauth2_guard::layer::ProtectedResourceMetadata;
//!
//! # fn run() -> Result<(), oauth2_guard::ConfigError> {
//! let metadata = ProtectedResourceMetadata::builder("https://api.example.com/orders")
//!     .authorization_server("https://sso.example.com/realms/shop")
//!     .scopes_supported(["orders:read", "orders:write"])
//!     .resource_name("Orders API")
//!     .build()?;
//! assert_eq!(
//!     metadata.well_known_url(),
//!     "https://api.example.com/.well-known/oauth-protected-resource/orders"
//! );
//! // Public: merge it next to the protected routes, not under the AuthLayer.
//! // The layer's 401 answers point at it with
//! // `AuthLayer::builder().resource_metadata(metadata.well_known_url())`.
//! let app: Router = Router::new()
//!     .merge(metadata.router())
//!     .merge(Router::new().route("/orders", get(|| async { "orders" })));
//! # let _ = app; Ok(()) }
//! # run().unwrap();
//! # }
//! ```
//!
//! # Where it is served (RFC 9728 §3.1)
//! `/.well-known/oauth-protected-resource` is inserted between the host and
//! the path of `resource`: `https://api.example.com` is served at
//! `/.well-known/oauth-protected-resource`, `https://api.example.com/orders`
//! at `/.well-known/oauth-protected-resource/orders` only. The unsuffixed URL
//! is the metadata of the host's root resource: a client checks that the
//! document's `resource` is the identifier it derived the URL from
//! (§3.3), and several resources on one host each merge their own router
//! without colliding.
//!
//! # Fields
//! Emitted: `resource`, `authorization_servers`, `scopes_supported`,
//! `bearer_methods_supported`, `resource_name`, `resource_documentation`;
//! empty lists and unset values are left out. The sender-constraint fields
//! are emitted when set, and only then:
//!
//! | field | set by | with the layer |
//! |---|---|---|
//! | `dpop_signing_alg_values_supported` (RFC 9449 §5.1) | [`dpop_from_layer`](ProtectedResourceMetadataBuilder::dpop_from_layer) or [`dpop`](ProtectedResourceMetadataBuilder::dpop) (feature `dpop`) | the algorithms of the layer's [`DpopConfig`](crate::dpop::DpopConfig) |
//! | `dpop_bound_access_tokens_required` | [`dpop_from_layer`](ProtectedResourceMetadataBuilder::dpop_from_layer) or [`dpop_bound_access_tokens_required`](ProtectedResourceMetadataBuilder::dpop_bound_access_tokens_required) | the layer's [`require_dpop`](super::AuthLayerBuilder::require_dpop) |
//! | `tls_client_certificate_bound_access_tokens` (RFC 8705 §3.4) | [`tls_client_certificate_bound_access_tokens`](ProtectedResourceMetadataBuilder::tls_client_certificate_bound_access_tokens) (feature `mtls`) | — the layer cannot know whether certificates reach it; say `true` when they do ([`mtls::serve`](crate::mtls::serve), a trusted proxy) |
//!
//! [`dpop_from_layer`](ProtectedResourceMetadataBuilder::dpop_from_layer)
//! takes both DPoP fields from the `AuthLayer` that protects the resource,
//! so the document cannot advertise another algorithm list or requirement
//! than the layer enforces; set by hand, `dpop_bound_access_tokens_required`
//! without any DPoP algorithm is refused at build. Signed metadata
//! (`signed_metadata`) is not produced.
//!
//! # `scopes_supported` from the guards
//! [`scopes_from_guards`](ProtectedResourceMetadataBuilder::scopes_from_guards)
//! reads the process-wide inventory
//! ([`audit::required_scopes`](crate::audit::required_scopes)): every scope
//! of every guard built so far in this process, whichever router or layer
//! it belongs to. With several protected resources in one process, list
//! each one's scopes with
//! [`scopes_supported`](ProtectedResourceMetadataBuilder::scopes_supported)
//! instead.

use bytes::Bytes;
use serde::Serialize;
use url::Url;

use crate::error::ConfigError;
use crate::http::{check_url, PlainHttp, UrlRole};
use crate::issuer::Issuer;

/// The well-known path prefix of RFC 9728 §3.
const WELL_KNOWN: &str = "/.well-known/oauth-protected-resource";

/// The `Cache-Control` of the served document.
#[cfg(feature = "axum")]
const CACHE_CONTROL: &str = "public, max-age=3600";

/// An RFC 9728 protected-resource metadata document, validated and
/// serialized once. Build it with [`ProtectedResourceMetadata::builder`];
/// serve it with [`router`](Self::router) (feature `axum`) or
/// [`json`](Self::json). It also implements [`Serialize`].
#[derive(Debug, Clone, Serialize)]
pub struct ProtectedResourceMetadata {
    resource: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    authorization_servers: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    scopes_supported: Vec<String>,
    bearer_methods_supported: [&'static str; 1],
    #[serde(skip_serializing_if = "Vec::is_empty")]
    dpop_signing_alg_values_supported: Vec<String>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    dpop_bound_access_tokens_required: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    resource_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    resource_documentation: Option<String>,
    /// RFC 9728 §2 / RFC 8705: left out when `false` (its default).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    tls_client_certificate_bound_access_tokens: bool,
    #[serde(skip)]
    path: String,
    #[serde(skip)]
    well_known_url: String,
    #[serde(skip)]
    json: Bytes,
}

impl ProtectedResourceMetadata {
    /// Describe the protected resource identified by `resource` (an
    /// absolute `https` URL, RFC 9728 §2).
    pub fn builder(resource: impl Into<String>) -> ProtectedResourceMetadataBuilder {
        ProtectedResourceMetadataBuilder {
            resource: resource.into(),
            authorization_servers: Vec::new(),
            scopes_supported: Vec::new(),
            dpop_algs: Vec::new(),
            dpop_required: false,
            resource_name: None,
            resource_documentation: None,
            tls_client_certificate_bound_access_tokens: false,
        }
    }

    /// The resource identifier, exactly as configured.
    pub fn resource(&self) -> &str {
        &self.resource
    }

    /// The path the document is served at (RFC 9728 §3.1), for mounting it
    /// in another framework: `/.well-known/oauth-protected-resource` followed
    /// by the path of `resource`, if any.
    pub fn well_known_path(&self) -> &str {
        &self.path
    }

    /// The absolute URL of the document: what
    /// [`AuthLayerBuilder::resource_metadata`](super::AuthLayerBuilder::resource_metadata)
    /// should be given.
    pub fn well_known_url(&self) -> &str {
        &self.well_known_url
    }

    /// The serialized document (`application/json`).
    pub fn json(&self) -> &str {
        // Serialized from `String`s by serde_json: always UTF-8.
        std::str::from_utf8(&self.json).unwrap_or("{}")
    }

    /// An axum router answering `GET` (and `HEAD`) at
    /// [`well_known_path`](Self::well_known_path) with the document,
    /// `Content-Type: application/json` and
    /// `Cache-Control: public, max-age=3600`.
    ///
    /// # Security
    /// The document is public by design (RFC 9728 §3): merge this router
    /// beside the routes the `AuthLayer` protects, not under the layer —
    /// `Router::new().merge(metadata.router()).merge(protected.layer(auth))`.
    /// It holds nothing secret; one hour of caching bounds how long a
    /// client keeps a stale list of authorization servers.
    #[cfg(feature = "axum")]
    #[cfg_attr(docsrs, doc(cfg(feature = "axum")))]
    pub fn router<S>(&self) -> axum::Router<S>
    where
        S: Clone + Send + Sync + 'static,
    {
        use axum::response::IntoResponse;
        use http::header;

        let body = self.json.clone();
        let handler = move || {
            let body = body.clone();
            async move {
                (
                    [
                        (header::CONTENT_TYPE, "application/json"),
                        (header::CACHE_CONTROL, CACHE_CONTROL),
                    ],
                    body,
                )
                    .into_response()
            }
        };
        axum::Router::new().route(&self.path, axum::routing::get(handler))
    }
}

/// Builds a [`ProtectedResourceMetadata`].
///
/// | setting | default | why |
/// |---|---|---|
/// | `resource` | **required** | an `https` URL without userinfo, query or fragment: clients compare it byte for byte (RFC 9728 §3.3) |
/// | `authorization_servers` / `issuer` | none (left out) | only what you name is advertised; `issuer` takes the name of a configured [`Issuer`] |
/// | `scopes_supported` | none (left out) | RFC 6749 §3.3 scope tokens; advertise what your guards require |
/// | `bearer_methods_supported` | `["header"]`, fixed | the layer reads the `Authorization` header only ([`BearerSource`](super::BearerSource)); query and body tokens leak into logs and caches (RFC 6750 §2.3, §5.3) |
/// | `resource_name` | none | human-readable, shown by clients |
/// | `resource_documentation` | none | an `https` URL |
/// | [`dpop`](Self::dpop) (`dpop_signing_alg_values_supported`) | left out | set it from the layer's [`DpopConfig`](crate::dpop::DpopConfig), so what is advertised is what is accepted |
/// | [`dpop_bound_access_tokens_required`](Self::dpop_bound_access_tokens_required) | `false` (left out) | say `true` only with [`require_dpop`](super::AuthLayerBuilder::require_dpop): clients then ask for DPoP-bound tokens |
/// | `tls_client_certificate_bound_access_tokens` | `false` (left out) | feature `mtls`: advertise only what the deployment checks (a certificate reaches the layer through [`mtls::serve`](crate::mtls::serve) or a trusted proxy) |
#[derive(Debug, Clone)]
pub struct ProtectedResourceMetadataBuilder {
    resource: String,
    authorization_servers: Vec<(String, bool)>,
    scopes_supported: Vec<String>,
    dpop_algs: Vec<String>,
    dpop_required: bool,
    resource_name: Option<String>,
    resource_documentation: Option<String>,
    tls_client_certificate_bound_access_tokens: bool,
}

impl ProtectedResourceMetadataBuilder {
    /// Advertise DPoP (RFC 9449 §5.1): `dpop_signing_alg_values_supported`
    /// from the algorithms `config` accepts.
    #[cfg(feature = "dpop")]
    #[cfg_attr(docsrs, doc(cfg(feature = "dpop")))]
    pub fn dpop(mut self, config: &crate::dpop::DpopConfig) -> Self {
        self.dpop_algs = config
            .algorithms()
            .iter()
            .map(|a| format!("{a:?}"))
            .collect();
        self
    }

    /// Both DPoP fields from the layer that protects this resource:
    /// `dpop_signing_alg_values_supported` from its
    /// [`dpop`](super::AuthLayerBuilder::dpop) configuration and
    /// `dpop_bound_access_tokens_required` from its
    /// [`require_dpop`](super::AuthLayerBuilder::require_dpop). A layer
    /// without DPoP clears both: what is advertised is what is enforced.
    /// (A route-level [`RequireDpop`](crate::dpop::RequireDpop) does not
    /// make the whole resource DPoP-only, so it does not count.)
    #[cfg(feature = "dpop")]
    #[cfg_attr(docsrs, doc(cfg(feature = "dpop")))]
    pub fn dpop_from_layer<R>(mut self, layer: &super::AuthLayer<R>) -> Self {
        match &layer.auth.binding.dpop {
            Some(dpop) => {
                self = self.dpop(dpop.checker.config());
                self.dpop_required = dpop.require;
            }
            None => {
                self.dpop_algs.clear();
                self.dpop_required = false;
            }
        }
        self
    }

    /// `dpop_bound_access_tokens_required` (RFC 9728 §2): whether this
    /// resource accepts only DPoP-bound tokens
    /// ([`require_dpop`](super::AuthLayerBuilder::require_dpop)). Prefer
    /// [`dpop_from_layer`](Self::dpop_from_layer), which cannot disagree
    /// with the layer; `true` without [`dpop`](Self::dpop) is refused at
    /// build.
    #[cfg(feature = "dpop")]
    #[cfg_attr(docsrs, doc(cfg(feature = "dpop")))]
    pub fn dpop_bound_access_tokens_required(mut self, required: bool) -> Self {
        self.dpop_required = required;
        self
    }

    /// Advertise `tls_client_certificate_bound_access_tokens` (RFC 8705
    /// §3.4): this resource supports certificate-bound tokens (feature
    /// `mtls`; serve it with [`mtls::serve`](crate::mtls::serve) or behind a
    /// [`ForwardedCertLayer`](crate::mtls::ForwardedCertLayer)).
    #[cfg(feature = "mtls")]
    #[cfg_attr(docsrs, doc(cfg(feature = "mtls")))]
    pub fn tls_client_certificate_bound_access_tokens(mut self, supported: bool) -> Self {
        self.tls_client_certificate_bound_access_tokens = supported;
        self
    }

    /// Advertise an authorization server by its issuer identifier (an
    /// `https` URL without query or fragment, RFC 8414 §2).
    pub fn authorization_server(mut self, issuer: impl Into<String>) -> Self {
        self.authorization_servers.push((issuer.into(), true));
        self
    }

    /// Advertise the authorization server of a configured [`Issuer`] (its
    /// [`name`](Issuer::name), already checked when the issuer was built —
    /// a loopback `http` test issuer included).
    pub fn issuer(mut self, issuer: &Issuer) -> Self {
        self.authorization_servers
            .push((issuer.name().to_owned(), false));
        self
    }

    /// Add every scope the guards built so far require
    /// ([`audit::required_scopes`](crate::audit::required_scopes)) to
    /// `scopes_supported`: build the routes (and their guards) first.
    ///
    /// The inventory is process-wide: it holds the scopes of every guard
    /// of every router in the process (and of [`HasScope`](crate::authz::HasScope)
    /// extractors once they have run), not only this resource's.
    pub fn scopes_from_guards(self) -> Self {
        self.scopes_supported(crate::audit::required_scopes())
    }

    /// Scopes this resource knows (RFC 6749 §3.3 scope tokens).
    pub fn scopes_supported<I, S>(mut self, scopes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.scopes_supported
            .extend(scopes.into_iter().map(Into::into));
        self
    }

    /// A human-readable name for the resource.
    pub fn resource_name(mut self, name: impl Into<String>) -> Self {
        self.resource_name = Some(name.into());
        self
    }

    /// Where developers read about the resource (an `https` URL).
    pub fn resource_documentation(mut self, url: impl Into<String>) -> Self {
        self.resource_documentation = Some(url.into());
        self
    }

    /// Validate and serialize the document.
    ///
    /// # Errors
    /// [`ConfigError::InvalidUrl`] for an unparsable URL, userinfo, a
    /// fragment, a query in `resource` or an authorization server, a quote,
    /// backslash or non-ASCII character, or a `resource` path axum cannot
    /// route (a segment starting with `:` or `*`, a brace);
    /// [`ConfigError::InsecureUrl`] for `http`;
    /// [`ConfigError::InvalidScope`] for a scope that is not a scope token;
    /// [`ConfigError::MissingSetting`] for
    /// `dpop_bound_access_tokens_required(true)` without DPoP algorithms.
    pub fn build(self) -> Result<ProtectedResourceMetadata, ConfigError> {
        if self.dpop_required && self.dpop_algs.is_empty() {
            return Err(ConfigError::MissingSetting {
                setting: "dpop",
                hint: "dpop_bound_access_tokens_required needs the DPoP algorithms: \
                       ProtectedResourceMetadataBuilder::dpop_from_layer or ::dpop",
            });
        }
        let url = check_public_url(&self.resource, UrlRole::Issuer)?;
        let path = well_known_path(&url)?;
        let well_known_url = format!("{}{path}", url.origin().ascii_serialization());
        let mut authorization_servers: Vec<String> = Vec::new();
        for (server, check) in self.authorization_servers {
            if check {
                check_public_url(&server, UrlRole::Issuer)?;
            }
            if !authorization_servers.contains(&server) {
                authorization_servers.push(server);
            }
        }
        let mut scopes_supported: Vec<String> = Vec::new();
        for scope in self.scopes_supported {
            let scope = crate::authz::scope_token(&scope)?;
            if !scopes_supported.contains(&scope) {
                scopes_supported.push(scope);
            }
        }
        if let Some(doc) = &self.resource_documentation {
            check_public_url(doc, UrlRole::Endpoint)?;
        }
        let mut metadata = ProtectedResourceMetadata {
            resource: self.resource,
            authorization_servers,
            scopes_supported,
            bearer_methods_supported: ["header"],
            dpop_signing_alg_values_supported: self.dpop_algs,
            dpop_bound_access_tokens_required: self.dpop_required,
            resource_name: self.resource_name,
            resource_documentation: self.resource_documentation,
            tls_client_certificate_bound_access_tokens: self
                .tls_client_certificate_bound_access_tokens,
            path,
            well_known_url,
            json: Bytes::new(),
        };
        // Strings, string lists and options only: serialization cannot fail.
        metadata.json = serde_json::to_vec(&metadata)
            .map(Bytes::from)
            .unwrap_or_default();
        Ok(metadata)
    }
}

/// An absolute `https` URL that a client fetches or compares, and that may
/// be written into a quoted header parameter: no userinfo, no fragment (no
/// query for [`UrlRole::Issuer`]), only visible ASCII without `"` or `\`.
pub(super) fn check_public_url(raw: &str, role: UrlRole) -> Result<Url, ConfigError> {
    let url = check_url(raw, PlainHttp::Never, role)?;
    if !raw
        .bytes()
        .all(|b| (0x21..0x7f).contains(&b) && b != b'"' && b != b'\\')
    {
        return Err(ConfigError::InvalidUrl {
            url: url.to_string(),
            reason: "only visible ASCII without quote or backslash (percent-encode the rest)",
        });
    }
    Ok(url)
}

/// RFC 9728 §3.1: the well-known path, then the resource's path without
/// its terminating slash.
fn well_known_path(url: &Url) -> Result<String, ConfigError> {
    let suffix = url.path().strip_suffix('/').unwrap_or(url.path());
    let routable = suffix
        .split('/')
        .all(|s| !s.starts_with(':') && !s.starts_with('*') && !s.contains(['{', '}']));
    if !routable {
        return Err(ConfigError::InvalidUrl {
            url: url.to_string(),
            reason: "a path segment starting with `:` or `*`, or a brace, cannot be routed",
        });
    }
    Ok(format!("{WELL_KNOWN}{suffix}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn well_known_paths() {
        for (resource, path) in [
            ("https://api.example.com", WELL_KNOWN),
            ("https://api.example.com/", WELL_KNOWN),
            (
                "https://api.example.com/orders/v1/",
                "/.well-known/oauth-protected-resource/orders/v1",
            ),
        ] {
            let m = ProtectedResourceMetadata::builder(resource)
                .build()
                .unwrap();
            assert_eq!(m.well_known_path(), path);
            assert_eq!(m.resource(), resource);
        }
        let m = ProtectedResourceMetadata::builder("https://API.example.com:8443/a")
            .build()
            .unwrap();
        assert_eq!(
            m.well_known_url(),
            "https://api.example.com:8443/.well-known/oauth-protected-resource/a"
        );
        assert_eq!(
            m.json(),
            r#"{"resource":"https://API.example.com:8443/a","bearer_methods_supported":["header"]}"#
        );
    }
}
