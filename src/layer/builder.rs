//! [`AuthLayerBuilder`]: every setting of the layer, checked once.

use std::sync::Arc;

use super::authenticator::Authenticator;
use super::binding::Binding;
use super::lazy::{Lazy, LazyIssuers};
use super::response::{Challenge, ErrorDetail, Rfc6750Response};
use super::source::{BearerSource, TokenSource};
use super::{AuthLayer, LayerChallenge, PostVerify};
use crate::error::ConfigError;
use crate::issuer::Issuer;
use crate::verify::cache::{CacheConfig, TokenCache};
use crate::verify::jwt::JwtVerifier;
use crate::verify::validate::DEFAULT_MAX_TOKEN_BYTES;
use crate::verify::Verifier;

/// Builds an [`AuthLayer`].
///
/// | setting | default | why |
/// |---|---|---|
/// | `issuer` | none: at least one **required** (or `lazy_issuers`, or `introspection`) | |
/// | `lazy_issuers` | none | only configured issuers are trusted |
/// | `realm` | none | RFC 6750 `realm` in challenges |
/// | `error_detail` | [`ErrorDetail::Terse`] | no internals on the wire |
/// | `token_source` | [`BearerSource`] | RFC 6750 header only; no query, no cookie |
/// | `cache` | [`CacheConfig::default`] | 10 000 tokens / 32 MiB |
/// | `optional` | off | zero trust: every request needs a token |
/// | `max_token_bytes` | 16 KiB | checked before any decoding |
/// | `introspection` | none (feature `introspection`) | opaque tokens only where an introspector is given; see [`introspection`](crate::introspection#routing) for the routing rule |
/// | `introspect_jwts` | off | JWTs are trusted until `exp` (plus the revocation list); on: real-time validity at one cached call per token |
/// | `introspect_unknown_jws` | off | a JWS whose `iss` is neither a configured issuer nor the introspector's is refused locally (`unknown_issuer`, no call): introspecting it would hand a third party's token to an IdP that did not issue it, and cost a call for an answer that can only be "inactive"; on only if your IdP introspects tokens it issues under another `iss` |
/// | `dpop` | off (feature `dpop`) | DPoP needs the service's external base URL (`htu`) and the clients' cooperation; when on, `Authorization: DPoP` is accepted beside Bearer, and DPoP-bound tokens (`cnf.jkt`) are refused as Bearer either way |
/// | `require_dpop` | off | Bearer clients keep working; on: only DPoP-bound tokens with a proof (a stolen token is useless without its key) |
/// | `resource_metadata` | none | RFC 9728 §5.1 `resource_metadata` in 401 and `insufficient_scope` challenges only when you serve the document ([`ProtectedResourceMetadata`](super::ProtectedResourceMetadata)) |
pub struct AuthLayerBuilder {
    issuers: Vec<Issuer>,
    lazy: Option<LazyIssuers>,
    realm: Option<String>,
    detail: ErrorDetail,
    source: Option<Box<dyn TokenSource>>,
    cache: CacheConfig,
    hooks: Vec<Box<dyn PostVerify>>,
    optional: bool,
    max_token_bytes: usize,
    resource_metadata: Option<String>,
    #[cfg(feature = "dpop")]
    dpop: Option<crate::dpop::DpopConfig>,
    #[cfg(feature = "dpop")]
    require_dpop: bool,
    #[cfg(feature = "introspection")]
    introspection: Option<crate::introspection::Introspector>,
    #[cfg(feature = "introspection")]
    introspect_jwts: bool,
    #[cfg(feature = "introspection")]
    introspect_unknown_jws: bool,
}

impl std::fmt::Debug for AuthLayerBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthLayerBuilder")
            .field("issuers", &self.issuers)
            .field("lazy_issuers", &self.lazy)
            .field("realm", &self.realm)
            .field("optional", &self.optional)
            .finish_non_exhaustive()
    }
}

impl AuthLayerBuilder {
    pub(super) fn new() -> Self {
        Self {
            issuers: Vec::new(),
            lazy: None,
            realm: None,
            detail: ErrorDetail::Terse,
            source: None,
            cache: CacheConfig::default(),
            hooks: Vec::new(),
            optional: false,
            max_token_bytes: DEFAULT_MAX_TOKEN_BYTES,
            resource_metadata: None,
            #[cfg(feature = "dpop")]
            dpop: None,
            #[cfg(feature = "dpop")]
            require_dpop: false,
            #[cfg(feature = "introspection")]
            introspection: None,
            #[cfg(feature = "introspection")]
            introspect_jwts: false,
            #[cfg(feature = "introspection")]
            introspect_unknown_jws: false,
        }
    }

    /// Also accept opaque tokens, verified by `introspector` (RFC 7662):
    /// a token that is not a JWS of a configured (or lazy) issuer is
    /// introspected. A layer may have an introspector and no issuer.
    /// See [`introspection`](crate::introspection#routing).
    #[cfg(feature = "introspection")]
    #[cfg_attr(docsrs, doc(cfg(feature = "introspection")))]
    pub fn introspection(mut self, introspector: crate::introspection::Introspector) -> Self {
        self.introspection = Some(introspector);
        self
    }

    /// Real-time validity: JWTs of the introspector's issuer are verified
    /// locally first (a forgery costs no call), then introspected (cached
    /// for the introspector's TTL), so a revocation at the authorization
    /// server is seen within that TTL. Needs
    /// [`introspection`](Self::introspection).
    #[cfg(feature = "introspection")]
    #[cfg_attr(docsrs, doc(cfg(feature = "introspection")))]
    pub fn introspect_jwts(mut self) -> Self {
        self.introspect_jwts = true;
        self
    }

    /// Whether a token that parses as a JWS whose `iss` names neither a
    /// configured issuer (nor one [`lazy_issuers`](Self::lazy_issuers)
    /// trusts) nor the introspector's issuer is introspected (`true`) or
    /// refused locally with [`Reason::UnknownIssuer`](crate::Reason::UnknownIssuer)
    /// (`false`, the default). Off, such a token never leaves the process: a
    /// third party's token is not sent to your IdP. Opaque tokens, JWEs and
    /// a JWS without a string `iss` are introspected either way. Without
    /// an [`introspection`](Self::introspection) it changes nothing (such a
    /// JWS is refused as `unknown_issuer` by the JWT verifier).
    #[cfg(feature = "introspection")]
    #[cfg_attr(docsrs, doc(cfg(feature = "introspection")))]
    pub fn introspect_unknown_jws(mut self, on: bool) -> Self {
        self.introspect_unknown_jws = on;
        self
    }

    /// Accept DPoP-bound tokens (RFC 9449): `Authorization: DPoP <token>`
    /// with one `DPoP` proof header, checked against `config` and the
    /// token's `cnf.jkt`, beside Bearer tokens (unless
    /// [`require_dpop`](Self::require_dpop)). Challenges add
    /// `DPoP algs="…"`; the checked proof
    /// ([`CheckedProof`](crate::dpop::CheckedProof)) is put into the
    /// request extensions.
    #[cfg(feature = "dpop")]
    #[cfg_attr(docsrs, doc(cfg(feature = "dpop")))]
    pub fn dpop(mut self, config: crate::dpop::DpopConfig) -> Self {
        self.dpop = Some(config);
        self
    }

    /// Accept only DPoP: a token presented with any other scheme is refused
    /// (`dpop_required`, 401) before it is verified, and challenges name
    /// only `DPoP`. Needs [`dpop`](Self::dpop). For one route only, see
    /// [`RequireDpop`](crate::dpop::RequireDpop).
    #[cfg(feature = "dpop")]
    #[cfg_attr(docsrs, doc(cfg(feature = "dpop")))]
    pub fn require_dpop(mut self) -> Self {
        self.require_dpop = true;
        self
    }

    /// Accept tokens of this issuer. Call once per issuer: the token's `iss`
    /// selects one by exact match, and only that issuer's keys are tried.
    pub fn issuer(mut self, issuer: Issuer) -> Self {
        self.issuers.push(issuer);
        self
    }

    /// Also accept issuers discovered at run time from a trusted list or
    /// template; see [`LazyIssuers`]. Configured issuers are matched first.
    pub fn lazy_issuers(mut self, lazy: LazyIssuers) -> Self {
        self.lazy = Some(lazy);
        self
    }

    /// The RFC 6750 `realm`.
    pub fn realm(mut self, realm: impl Into<String>) -> Self {
        self.realm = Some(realm.into());
        self
    }

    /// How much error responses say.
    pub fn error_detail(mut self, detail: ErrorDetail) -> Self {
        self.detail = detail;
        self
    }

    /// Where tokens come from.
    pub fn token_source(mut self, source: impl TokenSource) -> Self {
        self.source = Some(Box::new(source));
        self
    }

    /// Verified-token cache settings ([`CacheConfig::disabled`] turns it off).
    pub fn cache(mut self, cache: CacheConfig) -> Self {
        self.cache = cache;
        self
    }

    /// Run `hook` after verification on every request.
    pub fn post_verify(mut self, hook: impl PostVerify) -> Self {
        self.hooks.push(Box::new(hook));
        self
    }

    /// Let requests without credentials through (handlers see no claims);
    /// invalid tokens are still refused.
    pub fn optional(mut self) -> Self {
        self.optional = true;
        self
    }

    /// Longest token accepted.
    pub fn max_token_bytes(mut self, n: usize) -> Self {
        self.max_token_bytes = n;
        self
    }

    /// Point clients at this RFC 9728 protected-resource metadata URL: 401
    /// and 403 `insufficient_scope` challenges end with
    /// `resource_metadata="<url>"` (RFC 9728 §5.1). Usually
    /// [`ProtectedResourceMetadata::well_known_url`](super::ProtectedResourceMetadata::well_known_url).
    /// Checked by [`build`](Self::build): an absolute `https` URL without
    /// userinfo, fragment, quote or backslash.
    pub fn resource_metadata(mut self, url: impl Into<String>) -> Self {
        self.resource_metadata = Some(url.into());
        self
    }

    /// Build the layer.
    ///
    /// # Errors
    /// No issuer (nor introspector), `introspect_jwts` without an
    /// introspector, the same issuer twice, an unusable realm or
    /// `resource_metadata` URL, or a [`LazyIssuers`] setting out of range.
    pub fn build(self) -> Result<AuthLayer, ConfigError> {
        #[cfg(feature = "introspection")]
        let introspecting = self.introspection.is_some();
        #[cfg(not(feature = "introspection"))]
        let introspecting = false;
        let jwts = !self.issuers.is_empty() || self.lazy.is_some();
        if !jwts && !introspecting {
            return Err(ConfigError::NoIssuer);
        }
        #[cfg(feature = "introspection")]
        if self.introspect_jwts && !introspecting {
            return Err(ConfigError::MissingSetting {
                setting: "introspection",
                hint: "introspect_jwts needs an introspector: AuthLayerBuilder::introspection",
            });
        }
        if let Some(lazy) = &self.lazy {
            lazy.validate()?;
        }
        for (i, a) in self.issuers.iter().enumerate() {
            if self.issuers[..i].iter().any(|b| b.name() == a.name()) {
                return Err(ConfigError::DuplicateIssuer(a.name().to_owned()));
            }
        }
        if self.max_token_bytes < 64 {
            return Err(ConfigError::OutOfRange {
                setting: "max_token_bytes",
                reason: "must be at least 64",
            });
        }
        let mut challenge = Challenge::new(self.realm.as_deref(), self.detail)?;
        if let Some(url) = &self.resource_metadata {
            challenge = challenge.with_resource_metadata(url)?;
        }
        #[cfg_attr(not(feature = "dpop"), allow(unused_mut))]
        let mut binding = Binding::default();
        #[cfg(feature = "dpop")]
        match self.dpop {
            Some(config) => {
                challenge = challenge.with_dpop(config.algorithms(), !self.require_dpop);
                binding.dpop = Some(super::dpop::LayerDpop::new(config, self.require_dpop));
            }
            None if self.require_dpop => {
                return Err(ConfigError::MissingSetting {
                    setting: "dpop",
                    hint: "require_dpop needs a DPoP configuration: AuthLayerBuilder::dpop",
                });
            }
            None => {}
        }
        #[cfg(feature = "introspection")]
        let introspected = (self.introspection.as_ref()).map(|i| (i.issuer(), i.maps_roles()));
        #[cfg(not(feature = "introspection"))]
        let introspected = None;
        crate::authz::unmapped::layer_built(&self.issuers, self.lazy.is_some(), introspected);
        let jwt = jwts.then(|| {
            JwtVerifier::new(
                self.issuers,
                self.lazy.map(Lazy::new),
                TokenCache::new(&self.cache, self.max_token_bytes),
                self.max_token_bytes,
            )
        });
        let verifier: Box<dyn Verifier> = match jwt {
            #[cfg(feature = "introspection")]
            jwt if introspecting => match self.introspection {
                Some(i) => Box::new(crate::verify::router::Router {
                    jwt,
                    introspection: i.verifier(),
                    introspect_jwts: self.introspect_jwts,
                    introspect_unknown_jws: self.introspect_unknown_jws,
                    max_token_bytes: self.max_token_bytes,
                }),
                None => return Err(ConfigError::NoIssuer),
            },
            Some(jwt) => Box::new(jwt),
            None => return Err(ConfigError::NoIssuer),
        };
        Ok(assemble(
            verifier,
            self.source.unwrap_or_else(|| Box::new(BearerSource::new())),
            self.hooks,
            self.optional,
            challenge,
            binding,
        ))
    }
}

/// [`AuthLayer::new`]: one issuer, every default (which cannot fail).
pub(super) fn defaults_for(issuer: Issuer) -> AuthLayer {
    crate::authz::unmapped::layer_built(std::slice::from_ref(&issuer), false, None);
    let cache = TokenCache::new(&CacheConfig::default(), DEFAULT_MAX_TOKEN_BYTES);
    let verifier = JwtVerifier::new(vec![issuer], None, cache, DEFAULT_MAX_TOKEN_BYTES);
    let challenge = Challenge::bare(ErrorDetail::Terse);
    assemble(
        Box::new(verifier),
        Box::new(BearerSource::new()),
        Vec::new(),
        false,
        challenge,
        Binding::default(),
    )
}

fn assemble(
    verifier: Box<dyn Verifier>,
    source: Box<dyn TokenSource>,
    hooks: Vec<Box<dyn PostVerify>>,
    optional: bool,
    challenge: Challenge,
    binding: Binding,
) -> AuthLayer {
    crate::ops::layer_built();
    AuthLayer {
        auth: Arc::new(Authenticator {
            source,
            verifier,
            hooks,
            optional,
            challenge: LayerChallenge(challenge.clone()),
            binding,
        }),
        responder: Rfc6750Response::new(challenge),
    }
}
