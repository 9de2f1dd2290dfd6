//! The `WWW-Authenticate` challenges of a refusal: RFC 6750 §3 `Bearer`,
//! RFC 9449 §7.1 `DPoP`, and RFC 9728 `resource_metadata`.

use std::sync::Arc;

use http::{HeaderValue, StatusCode};

use super::ErrorDetail;
use crate::error::{ConfigError, Reason, Rejection};

/// The `WWW-Authenticate` challenge of RFC 6750 §3 for `rejection`.
///
/// `realm` must already be validated (no `"` or `\`); see [`Challenge::new`].
///
/// With [`with_resource_metadata`](Self::with_resource_metadata), the RFC
/// 9728 §5.1 `resource_metadata="<url>"` parameter ends every 401 challenge
/// and every 403 `insufficient_scope` challenge: those are the answers after
/// which a client needs to know where to get a (better) token. It is left
/// out of 400 `invalid_request` (the request is malformed, a new token does
/// not help) and of 503 (no challenge at all).
#[derive(Debug, Clone)]
pub struct Challenge {
    realm: Option<Arc<str>>,
    pub(super) detail: ErrorDetail,
    resource_metadata: Option<Arc<str>>,
    /// One pointer: guards and extractor rejections carry a `Challenge`.
    dpop: Option<Arc<DpopChallenge>>,
    /// The request was authenticated with the `DPoP` scheme: a guard's
    /// answer to it carries its error on the `DPoP` challenge.
    dpop_request: bool,
}

/// The `DPoP` challenge (RFC 9449 §7.1) of a layer that accepts DPoP.
#[derive(Debug, Clone)]
struct DpopChallenge {
    /// `algs`: the accepted proof algorithms, space-separated.
    algs: Arc<str>,
    /// Whether `Bearer` is accepted (and challenged) too.
    bearer: bool,
}

impl Challenge {
    /// A challenge with an optional realm.
    ///
    /// # Errors
    /// When `realm` contains a quote, a backslash or a non-visible character.
    pub fn new(realm: Option<&str>, detail: ErrorDetail) -> Result<Self, ConfigError> {
        if let Some(r) = realm {
            if !r
                .bytes()
                .all(|b| (0x20..0x7f).contains(&b) && b != b'"' && b != b'\\')
            {
                return Err(ConfigError::InvalidHeaderValue {
                    setting: "realm",
                    reason: "only visible ASCII without quote or backslash",
                });
            }
        }
        Ok(Self {
            realm: realm.map(Into::into),
            detail,
            resource_metadata: None,
            dpop: None,
            dpop_request: false,
        })
    }

    /// Also point clients at the RFC 9728 protected-resource metadata
    /// document at `url` (see
    /// [`ProtectedResourceMetadata::well_known_url`](crate::layer::ProtectedResourceMetadata::well_known_url)).
    ///
    /// # Errors
    /// [`ConfigError::InvalidUrl`] when `url` is not absolute, has userinfo
    /// or a fragment, or holds a quote, a backslash or a non-visible
    /// character (it is sent in a quoted header parameter);
    /// [`ConfigError::InsecureUrl`] when it is not `https`.
    pub fn with_resource_metadata(mut self, url: &str) -> Result<Self, ConfigError> {
        crate::layer::metadata::check_public_url(url, crate::http::UrlRole::Endpoint)?;
        self.resource_metadata = Some(url.into());
        Ok(self)
    }

    /// No realm.
    pub(crate) fn bare(detail: ErrorDetail) -> Self {
        Self {
            realm: None,
            detail,
            resource_metadata: None,
            dpop: None,
            dpop_request: false,
        }
    }

    /// Also challenge `DPoP algs="…"` (RFC 9449 §7.1), beside `Bearer`
    /// when `bearer` is still accepted.
    #[cfg(feature = "dpop")]
    pub(crate) fn with_dpop(mut self, algs: &[jsonwebtoken::Algorithm], bearer: bool) -> Self {
        let algs: Vec<String> = algs.iter().map(|a| format!("{a:?}")).collect();
        self.dpop = Some(Arc::new(DpopChallenge {
            algs: algs.join(" ").into(),
            bearer,
        }));
        self
    }

    /// The same challenge for a request authenticated with the `DPoP`
    /// scheme (set by the layer for the guards behind it).
    #[cfg(feature = "dpop")]
    pub(crate) fn for_dpop_request(mut self) -> Self {
        self.dpop_request = true;
        self
    }

    /// The header value for `rejection`; `None` for 503 answers. With DPoP
    /// on, the challenge that carries the error (see
    /// [`AuthLayerBuilder::dpop`](crate::layer::AuthLayerBuilder::dpop)); the layer
    /// sends every challenge, one `WWW-Authenticate` field each.
    pub fn header_for(&self, rejection: &Rejection) -> Option<HeaderValue> {
        self.header_values(rejection.reason(), false)
            .into_iter()
            .next()
    }

    /// Every challenge for `reason`, the one that carries the error first:
    /// `Bearer`, or with DPoP on `DPoP algs="…"` and (unless DPoP is
    /// required) `Bearer`. The error goes on the `DPoP` challenge for a
    /// DPoP refusal or a request that used the `DPoP` scheme (RFC 9449
    /// §7.1), else on `Bearer`. Two fields rather than one comma-joined
    /// value: RFC 9110 §11.6.1 allows both, and clients split separate
    /// fields more reliably than challenges inside one.
    pub(crate) fn header_values(&self, reason: Reason, dpop_scheme: bool) -> Vec<HeaderValue> {
        let Some(dpop) = &self.dpop else {
            return self.header_with(reason).into_iter().collect();
        };
        if reason.status() == StatusCode::SERVICE_UNAVAILABLE {
            return Vec::new();
        }
        #[cfg(feature = "dpop")]
        let dpop_reason = matches!(reason, Reason::Dpop(_));
        #[cfg(not(feature = "dpop"))]
        let dpop_reason = false;
        let on_dpop = !dpop.bearer || dpop_scheme || self.dpop_request || dpop_reason;
        let dpop_value = self.value("DPoP", on_dpop.then_some(reason), Some(&dpop.algs), reason);
        let bearer_value = dpop
            .bearer
            .then(|| self.value("Bearer", (!on_dpop).then_some(reason), None, reason));
        let (first, second) = if on_dpop {
            (dpop_value, bearer_value.flatten())
        } else {
            (bearer_value.flatten(), dpop_value)
        };
        first.into_iter().chain(second).collect()
    }

    /// One challenge: `scheme`, realm, `algs`, the error of `error` (if
    /// any), `resource_metadata` on 401 answers.
    fn value(
        &self,
        scheme: &str,
        error: Option<Reason>,
        algs: Option<&str>,
        reason: Reason,
    ) -> Option<HeaderValue> {
        let mut v = String::from(scheme);
        let mut params = Vec::new();
        if let Some(realm) = &self.realm {
            params.push(format!("realm=\"{realm}\""));
        }
        if let Some(algs) = algs {
            params.push(format!("algs=\"{algs}\""));
        }
        if let Some(code) = error.and_then(Reason::error_code) {
            let mut description = String::from(reason.description());
            if self.detail == ErrorDetail::ReasonCode {
                description.push_str(&format!(" ({})", reason.code()));
            }
            params.push(format!(
                "error=\"{code}\", error_description=\"{description}\""
            ));
        }
        if reason.status() == StatusCode::UNAUTHORIZED {
            if let Some(url) = &self.resource_metadata {
                params.push(format!("resource_metadata=\"{url}\""));
            }
        }
        if !params.is_empty() {
            v.push(' ');
            v.push_str(&params.join(", "));
        }
        // Every piece is a fixed ASCII string or a validated setting.
        HeaderValue::from_str(&v).ok()
    }

    /// The header value for an RFC 6750 `insufficient_scope` answer.
    pub fn insufficient_scope(&self, scopes: &str) -> HeaderValue {
        self.insufficient("The access token lacks the required scope", scopes)
    }

    /// The header value for a role guard's 403: RFC 6750 has no code of its
    /// own for it, so `insufficient_scope`, described as a missing role and
    /// without a `scope` (a role is not something a client can request).
    pub(crate) fn insufficient_role(&self) -> HeaderValue {
        self.insufficient_role_or_tenant(false)
    }

    /// As [`insufficient_role`](Self::insufficient_role), or for a token of
    /// another tenant on a tenant-scoped route.
    pub(crate) fn insufficient_role_or_tenant(&self, tenant: bool) -> HeaderValue {
        let description = if tenant {
            "The access token is not for this tenant"
        } else {
            "The access token lacks the required role"
        };
        self.insufficient(description, "")
    }

    /// A 403 challenge: `Bearer`, or `DPoP algs="…"` when the layer accepts
    /// only DPoP or the request used the `DPoP` scheme (RFC 9449 §7.1: the
    /// error goes on the scheme the client used).
    fn insufficient(&self, description: &str, scopes: &str) -> HeaderValue {
        let dpop = self
            .dpop
            .as_ref()
            .filter(|d| !d.bearer || self.dpop_request);
        let scheme = if dpop.is_some() { "DPoP" } else { "Bearer" };
        let mut params = Vec::new();
        if let Some(realm) = &self.realm {
            params.push(format!("realm=\"{realm}\""));
        }
        if let Some(d) = dpop {
            params.push(format!("algs=\"{}\"", d.algs));
        }
        params.push(format!(
            "error=\"insufficient_scope\", error_description=\"{description}\""
        ));
        if !scopes.is_empty() {
            params.push(format!("scope=\"{scopes}\""));
        }
        if let Some(url) = &self.resource_metadata {
            params.push(format!("resource_metadata=\"{url}\""));
        }
        // Every piece is a fixed ASCII string or a validated setting.
        HeaderValue::from_str(&format!("{scheme} {}", params.join(", ")))
            .unwrap_or_else(|_| HeaderValue::from_static("Bearer error=\"insufficient_scope\""))
    }

    fn push_realm(&self, v: &mut String) {
        if let Some(realm) = &self.realm {
            v.push_str(" realm=\"");
            v.push_str(realm);
            v.push('"');
        }
    }

    fn push_resource_metadata(&self, v: &mut String) {
        if let Some(url) = &self.resource_metadata {
            sep(v);
            v.push_str("resource_metadata=\"");
            v.push_str(url);
            v.push('"');
        }
    }

    fn header_with(&self, reason: Reason) -> Option<HeaderValue> {
        // A 503 is no challenge: the client's token may be fine.
        if reason.status() == StatusCode::SERVICE_UNAVAILABLE {
            return None;
        }
        let mut v = String::from("Bearer");
        self.push_realm(&mut v);
        if let Some(code) = reason.error_code() {
            sep(&mut v);
            v.push_str("error=\"");
            v.push_str(code);
            v.push_str("\", error_description=\"");
            v.push_str(reason.description());
            if self.detail == ErrorDetail::ReasonCode {
                v.push_str(" (");
                v.push_str(reason.code());
                v.push(')');
            }
            v.push('"');
        }
        if reason.status() == http::StatusCode::UNAUTHORIZED {
            self.push_resource_metadata(&mut v);
        }
        // Every piece is a fixed ASCII string or a validated realm.
        HeaderValue::from_str(&v).ok()
    }
}

fn sep(v: &mut String) {
    if v.len() > "Bearer".len() {
        v.push(',');
    }
    v.push(' ');
}
