//! From an [`IssuerBuilder`]'s settings to a running [`Issuer`]: every
//! check `build` makes (issuer URL, tenancy, audience, conflicting key
//! sources, leeway, HMAC secret, algorithms), the key source, and the
//! background refresh.

use std::sync::Arc;
use std::time::Duration;

use jsonwebtoken::{Algorithm, DecodingKey};

use super::builder::KeysFrom;
use super::{AudienceCheck, Issuer, IssuerBuilder, IssuerInner};
use crate::error::ConfigError;
use crate::jwks::parse::KeySet;
use crate::jwks::store::{KeyStore, Source};
use crate::task::AbortOnDrop;
use crate::tenant::template::{looks_like_template, Tenancy};
use crate::verify::validate::{self, Profile};

/// The shortest HMAC secret accepted: 32 bytes, the output size of SHA-256
/// (RFC 7518 §3.2).
const MIN_HMAC_SECRET_BYTES: usize = 32;

/// What `prepare` hands to `finish`: the key store, the validation profile,
/// the tenant template, and the start-up timeout.
type Prepared = (Arc<KeyStore>, Profile, Option<Tenancy>, Duration);

impl IssuerBuilder {
    pub(super) fn finish(
        store: Arc<KeyStore>,
        profile: Profile,
        tenancy: Option<Tenancy>,
        first_delay: Duration,
    ) -> Result<Issuer, ConfigError> {
        let counters = crate::ops::issuer_built(store.issuer());
        let refresh = match store.source() {
            Source::Static => None,
            Source::Remote { .. } => {
                let handle =
                    tokio::runtime::Handle::try_current().map_err(|_| ConfigError::NoRuntime)?;
                let task = handle.spawn(store.clone().run(first_delay));
                Some(AbortOnDrop::new(task.abort_handle()))
            }
        };
        Ok(Issuer(Arc::new(IssuerInner {
            name: store.issuer().clone(),
            profile,
            store,
            tenancy,
            counters,
            _refresh: refresh,
        })))
    }

    pub(super) fn prepare(self) -> Result<Prepared, ConfigError> {
        let http = self.http.build()?;
        if self.issuer.is_empty() {
            return Err(ConfigError::InvalidUrl {
                url: self.issuer,
                reason: "empty issuer",
            });
        }
        // Whether or not it is fetched from: no userinfo, query or fragment.
        crate::http::check_issuer_identifier(&self.issuer)?;
        let tenancy = match self.tenants {
            Some((claim, policy)) => {
                if matches!(self.keys, KeysFrom::Discovery) && self.hmac_secret.is_none() {
                    return Err(ConfigError::MissingSetting {
                        setting: "jwks_uri",
                        hint: "a tenant-template issuer has no discovery document of its own: give the shared key set with jwks_uri (or static_jwks)",
                    });
                }
                Some(Tenancy::new(&self.issuer, claim, policy)?)
            }
            None if looks_like_template(&self.issuer) => {
                return Err(ConfigError::InvalidUrl {
                    url: self.issuer,
                    reason:
                        "`{…}` in an issuer: a multi-tenant template needs `tenants(claim, policy)`",
                })
            }
            None => None,
        };
        let audience = match self.audience_claim {
            Some((name, allowed)) => AudienceCheck::Claim { name, allowed },
            None => AudienceCheck::Aud(self.audiences),
        };
        if !audience.is_usable() {
            return Err(ConfigError::NoAudience);
        }
        if self.required.iter().any(|(n, _)| n.is_empty()) {
            return Err(ConfigError::EmptyClaimName {
                setting: "require_claim",
            });
        }
        if let Some((first, second)) = self.conflict {
            return Err(ConfigError::ConflictingSettings { first, second });
        }
        if self.hmac_secret.is_some() && !matches!(self.keys, KeysFrom::Discovery) {
            return Err(ConfigError::ConflictingSettings {
                first: "hmac_secret",
                second: self.keys.setting(),
            });
        }
        if self.leeway > validate::MAX_LEEWAY {
            return Err(ConfigError::LeewayTooLarge {
                configured: self.leeway,
                max: validate::MAX_LEEWAY,
            });
        }
        self.refresh.validate()?;
        let hmac = match &self.hmac_secret {
            Some(s) if s.len() < MIN_HMAC_SECRET_BYTES => {
                return Err(ConfigError::HmacSecretTooShort {
                    len: s.len(),
                    min: MIN_HMAC_SECRET_BYTES,
                })
            }
            Some(s) => {
                Some(DecodingKey::from_secret(s).map_err(|_| ConfigError::HmacSecretUnusable)?)
            }
            None => None,
        };
        let algorithms = match self.algorithms {
            Some(a) => a,
            None if hmac.is_some() => vec![Algorithm::HS256, Algorithm::HS384, Algorithm::HS512],
            None => validate::DEFAULT_ALGORITHMS.to_vec(),
        };
        Profile::validate_algorithms(&algorithms, hmac.is_some())?;
        let name: Arc<str> = self.issuer.into();
        let static_keys = |json: &[u8]| {
            KeySet::parse(json, http.max_response_bytes, None).map_err(ConfigError::StaticJwks)
        };
        let (source, initial) = match self.keys {
            _ if hmac.is_some() => (Source::Static, None),
            KeysFrom::Static(json) => (Source::Static, Some(static_keys(json.as_bytes())?)),
            KeysFrom::StaticFile(path) => {
                let json = std::fs::read(&path).map_err(|source| ConfigError::JwksFile {
                    path: path.display().to_string(),
                    source,
                })?;
                (Source::Static, Some(static_keys(&json)?))
            }
            KeysFrom::JwksUri(uri) => {
                let url = http.check_url(&uri)?;
                let cell = std::sync::OnceLock::new();
                let _ = cell.set(url);
                (
                    Source::Remote {
                        http,
                        url: cell,
                        metadata: std::sync::OnceLock::new(),
                    },
                    None,
                )
            }
            KeysFrom::Discovery => {
                http.check_issuer(&name)?;
                (
                    Source::Remote {
                        http,
                        url: std::sync::OnceLock::new(),
                        metadata: std::sync::OnceLock::new(),
                    },
                    None,
                )
            }
        };
        let profile = Profile {
            algorithms,
            audience,
            required: self.required,
            roles: self.roles,
            leeway: self.leeway.as_secs(),
            strict_typ: self.strict_typ,
            hmac,
        };
        let timeout = self.refresh.startup_timeout;
        let store = KeyStore::new(name, source, self.refresh);
        if let Some(set) = initial {
            store.install(set);
        }
        Ok((store, profile, tenancy, timeout))
    }
}
