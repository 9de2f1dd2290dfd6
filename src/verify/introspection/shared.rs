//! The seam for a cache shared between instances (the Redis backend of
//! feature `redis` implements [`SharedCache`]; nothing here talks to a
//! network).
//!
//! What is stored: only the mapped claims of an *active* answer (issuer,
//! claims, `exp`, `iat`, audiences, roles) as JSON, under the lower-case hex
//! of the token's keyed hash, with a TTL of min(TTL, `exp` − now). Never
//! the token; never a refusal. Instances that share a cache must share the
//! hash key ([`hash_key`](crate::introspection::IntrospectorBuilder::hash_key)),
//! a per-deployment secret, so the store holds nothing that can be looked
//! up by someone who guesses tokens without it.
//!
//! A stored entry is checked again when read (`exp`, and the issuer must be
//! this introspector's), and then kept in the local cache, which stays in
//! front: a local hit costs no round trip.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::claims::{now_unix, Fingerprint, Verified, VerifiedClaims};

/// A boxed future of the shared cache.
pub(crate) type CacheFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Why a shared-cache call failed; the verifier logs it at WARN and treats
/// it as a miss (a get) or ignores it (a put): the local cache and the
/// authorization server keep working.
pub(crate) type SharedCacheError = Box<dyn std::error::Error + Send + Sync>;

/// Opaque bytes under a hex key, with a TTL: what a store shared by many
/// instances (Redis) offers the introspection verifier.
pub(crate) trait SharedCache: Send + Sync + 'static {
    /// The bytes stored under `key`, `None` when there are none.
    fn get<'a>(
        &'a self,
        key: &'a str,
    ) -> CacheFuture<'a, Result<Option<Vec<u8>>, SharedCacheError>>;
    /// Store `value` under `key` for `ttl` (the store expires it).
    fn put<'a>(
        &'a self,
        key: &'a str,
        value: Vec<u8>,
        ttl: Duration,
    ) -> CacheFuture<'a, Result<(), SharedCacheError>>;
}

/// The shared cache, when one is set, as the verifier holds it.
pub(crate) type Shared = Option<Arc<dyn SharedCache>>;

/// The stored form of mapped claims.
#[derive(Serialize, Deserialize)]
struct Stored {
    iss: String,
    claims: Map<String, Value>,
    exp: u64,
    iat: Option<u64>,
    aud: Vec<String>,
    roles: Vec<String>,
}

/// Serialize an opaque token's mapped claims.
pub(crate) fn encode(claims: &VerifiedClaims) -> Option<Vec<u8>> {
    let stored = Stored {
        iss: claims.issuer().to_owned(),
        claims: claims.raw().clone(),
        exp: claims.exp_unix(),
        iat: claims.iat_unix(),
        aud: claims.audiences().to_vec(),
        roles: claims.roles().to_vec(),
    };
    serde_json::to_vec(&stored).ok()
}

/// Claims read back from the shared cache: `None` (a miss) unless they
/// parse, name `issuer` and have not expired.
pub(crate) fn decode(
    bytes: &[u8],
    issuer: &Arc<str>,
    fingerprint: Fingerprint,
) -> Option<VerifiedClaims> {
    let stored: Stored = serde_json::from_slice(bytes).ok()?;
    if stored.iss != **issuer || now_unix() >= stored.exp {
        return None;
    }
    Some(VerifiedClaims::new(Verified {
        issuer: issuer.clone(),
        payload: stored.claims,
        expires_at: stored.exp,
        issued_at: stored.iat,
        audiences: stored.aud,
        roles: stored.roles,
        algorithm: None,
        key_id: None,
        fingerprint,
    }))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::collections::HashMap;
    use std::sync::Mutex;

    /// An in-memory [`SharedCache`], standing in for a store shared by
    /// instances; counts its calls; can be made to fail.
    #[derive(Default)]
    pub(crate) struct MemoryShared {
        pub(crate) map: Mutex<HashMap<String, (Vec<u8>, Duration)>>,
        pub(crate) down: std::sync::atomic::AtomicBool,
    }

    impl SharedCache for MemoryShared {
        fn get<'a>(
            &'a self,
            key: &'a str,
        ) -> CacheFuture<'a, Result<Option<Vec<u8>>, SharedCacheError>> {
            Box::pin(async move {
                if self.down.load(std::sync::atomic::Ordering::SeqCst) {
                    return Err("down".into());
                }
                Ok(crate::sync::lock(&self.map)
                    .get(key)
                    .map(|(v, _)| v.clone()))
            })
        }
        fn put<'a>(
            &'a self,
            key: &'a str,
            value: Vec<u8>,
            ttl: Duration,
        ) -> CacheFuture<'a, Result<(), SharedCacheError>> {
            Box::pin(async move {
                if self.down.load(std::sync::atomic::Ordering::SeqCst) {
                    return Err("down".into());
                }
                crate::sync::lock(&self.map).insert(key.to_owned(), (value, ttl));
                Ok(())
            })
        }
    }

    #[test]
    fn round_trip_keeps_claims_and_refuses_expired_or_foreign() {
        let iss: Arc<str> = "https://idp.example.com".into();
        let c = crate::claims::test_claims(serde_json::json!({"sub": "a", "scope": "x y"}));
        let bytes = encode(&c).unwrap();
        let back = decode(&bytes, &iss, Fingerprint::of("t")).unwrap();
        assert_eq!(back.scopes(), ["x", "y"]);
        assert_eq!(back.subject(), Some("a"));
        assert_eq!(back.exp_unix(), c.exp_unix());
        assert_eq!(back.audiences(), c.audiences());
        let other: Arc<str> = "https://other".into();
        assert!(decode(&bytes, &other, Fingerprint::of("t")).is_none());
        assert!(decode(b"garbage", &iss, Fingerprint::of("t")).is_none());
    }
}
