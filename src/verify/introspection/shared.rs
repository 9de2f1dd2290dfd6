//! The seam for a cache shared between instances (the Redis backend of
//! feature `redis` implements [`SharedCache`]; nothing here talks to a
//! network).
//!
//! What is stored: only the mapped claims of an *active* answer (issuer,
//! claims, `exp`, `iat`, audiences, roles, and the instant the entry stops
//! being valid) as JSON, under `<scope>:<hex of the token's keyed hash>`,
//! with a TTL of min(TTL, `exp` − now). Never the token; never a refusal.
//! Instances that share a cache must share the hash key
//! ([`hash_key`](crate::introspection::IntrospectorBuilder::hash_key), a
//! per-deployment secret, required with a shared cache), so the store holds
//! nothing that can be looked up by someone who guesses tokens without it.
//!
//! `<scope>` ([`scope_tag`]) digests what shapes the mapped claims (issuer,
//! audiences, `client_id` fallback, role paths): two services that share a
//! Redis *and* a hash key but accept different audiences never read each
//! other's entries, so a token accepted for one is not accepted by the
//! other through the cache.
//!
//! A stored entry is checked again when read (`exp`, its own validity, and
//! the issuer must be this introspector's), and then kept in the local
//! cache — no longer than the entry itself was still valid, so a token
//! revoked at the server is seen within the TTL however many instances
//! passed the answer on. The local cache stays in front: a local hit costs
//! no round trip.
//!
//! Refusals are not shared: a flood of random tokens would otherwise become
//! a flood of writes to the shared store, and one instance's refusal (its
//! clock, its transient view) would lock a token out of the whole fleet.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use crate::claims::{now_unix, ClaimPath, Fingerprint, Verified, VerifiedClaims};

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

/// The stored form of mapped claims (format version 1: see [`scope_tag`]).
#[derive(Serialize, Deserialize)]
struct Stored {
    iss: String,
    claims: Map<String, Value>,
    exp: u64,
    iat: Option<u64>,
    aud: Vec<String>,
    roles: Vec<String>,
    /// Unix seconds: the entry is not used from then on (written as now +
    /// min(TTL, `exp` − now)).
    until: u64,
}

/// Serialize an opaque token's mapped claims, valid for `ttl` from now.
pub(crate) fn encode(claims: &VerifiedClaims, ttl: Duration) -> Option<Vec<u8>> {
    let stored = Stored {
        iss: claims.issuer().to_owned(),
        claims: claims.raw().clone(),
        exp: claims.exp_unix(),
        iat: claims.iat_unix(),
        aud: claims.audiences().to_vec(),
        roles: claims.roles().to_vec(),
        until: now_unix().saturating_add(ttl.as_secs()),
    };
    serde_json::to_vec(&stored).ok()
}

/// Claims read back from the shared cache, with how much longer the entry
/// may be used: `None` (a miss) unless they parse, name `issuer`, and
/// neither the token nor the entry has expired.
pub(crate) fn decode(
    bytes: &[u8],
    issuer: &Arc<str>,
    fingerprint: Fingerprint,
) -> Option<(VerifiedClaims, Duration)> {
    let stored: Stored = serde_json::from_slice(bytes).ok()?;
    let now = now_unix();
    if stored.iss != **issuer || now >= stored.exp || now >= stored.until {
        return None;
    }
    let left = Duration::from_secs(stored.until - now);
    let claims = VerifiedClaims::new(Verified {
        issuer: issuer.clone(),
        payload: stored.claims,
        expires_at: stored.exp,
        issued_at: stored.iat,
        audiences: stored.aud,
        roles: stored.roles,
        algorithm: None,
        key_id: None,
        fingerprint,
    });
    Some((claims, left))
}

/// What makes two introspectors' mapped claims interchangeable, digested:
/// the stored format's version, the issuer, the accepted audiences (sorted),
/// the `client_id` fallback and the role paths. 16 hex digits; not secret.
pub(crate) fn scope_tag(
    issuer: &str,
    audiences: &[String],
    client_id_fallback: bool,
    roles: &[ClaimPath],
) -> String {
    let mut audiences: Vec<&str> = audiences.iter().map(String::as_str).collect();
    audiences.sort_unstable();
    audiences.dedup();
    // Length-prefixed fields: no two configurations digest the same input.
    let mut h = Sha256::new();
    let mut field = |bytes: &[u8]| {
        h.update((bytes.len() as u64).to_be_bytes());
        h.update(bytes);
    };
    field(b"v1");
    field(issuer.as_bytes());
    field(&(audiences.len() as u64).to_be_bytes());
    for aud in &audiences {
        field(aud.as_bytes());
    }
    field(&[u8::from(client_id_fallback)]);
    field(&(roles.len() as u64).to_be_bytes());
    for path in roles {
        field(&(path.segments().len() as u64).to_be_bytes());
        for segment in path.segments() {
            field(segment.as_bytes());
        }
    }
    let digest = h.finalize();
    super::hash::hex(&digest.into())[..16].to_owned()
}

/// `cache` with every name put under `tag` (`<tag>:<name>`).
pub(crate) fn scoped(cache: Arc<dyn SharedCache>, tag: String) -> Arc<dyn SharedCache> {
    Arc::new(Scoped { inner: cache, tag })
}

struct Scoped {
    inner: Arc<dyn SharedCache>,
    tag: String,
}

impl SharedCache for Scoped {
    fn get<'a>(
        &'a self,
        key: &'a str,
    ) -> CacheFuture<'a, Result<Option<Vec<u8>>, SharedCacheError>> {
        Box::pin(async move { self.inner.get(&format!("{}:{key}", self.tag)).await })
    }

    fn put<'a>(
        &'a self,
        key: &'a str,
        value: Vec<u8>,
        ttl: Duration,
    ) -> CacheFuture<'a, Result<(), SharedCacheError>> {
        Box::pin(async move {
            let name = format!("{}:{key}", self.tag);
            self.inner.put(&name, value, ttl).await
        })
    }
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
        let bytes = encode(&c, Duration::from_secs(30)).unwrap();
        let (back, left) = decode(&bytes, &iss, Fingerprint::of("t")).unwrap();
        assert!(left <= Duration::from_secs(30) && left >= Duration::from_secs(29));
        assert_eq!(back.scopes(), ["x", "y"]);
        assert_eq!(back.subject(), Some("a"));
        assert_eq!(back.exp_unix(), c.exp_unix());
        assert_eq!(back.audiences(), c.audiences());
        let other: Arc<str> = "https://other".into();
        assert!(decode(&bytes, &other, Fingerprint::of("t")).is_none());
        assert!(decode(b"garbage", &iss, Fingerprint::of("t")).is_none());
    }

    #[test]
    fn an_entry_past_its_own_validity_is_a_miss() {
        let iss: Arc<str> = "https://idp.example.com".into();
        let c = crate::claims::test_claims(serde_json::json!({"sub": "a"}));
        // Under a second of TTL: nothing worth sharing, and never readable.
        let bytes = encode(&c, Duration::from_millis(900)).unwrap();
        assert!(decode(&bytes, &iss, Fingerprint::of("t")).is_none());
        let stored = String::from_utf8(encode(&c, Duration::from_secs(5)).unwrap()).unwrap();
        assert!(stored.contains("\"until\":"), "{stored}");
    }

    #[test]
    fn the_scope_tag_follows_what_shapes_the_claims() {
        let roles = [ClaimPath::parse("realm_access/roles").unwrap()];
        let auds = |a: &[&str]| a.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        let base = scope_tag("https://idp", &auds(&["a", "b"]), false, &roles);
        assert_eq!(base.len(), 16);
        assert!(base.bytes().all(|b| b.is_ascii_hexdigit()));
        // Order and duplicates of audiences do not matter...
        assert_eq!(
            base,
            scope_tag("https://idp", &auds(&["b", "a", "a"]), false, &roles)
        );
        // ...every setting that changes the mapped claims does.
        for other in [
            scope_tag("https://idp2", &auds(&["a", "b"]), false, &roles),
            scope_tag("https://idp", &auds(&["a"]), false, &roles),
            scope_tag("https://idp", &auds(&["ab"]), false, &roles),
            scope_tag("https://idp", &auds(&["a", "b"]), true, &roles),
            scope_tag("https://idp", &auds(&["a", "b"]), false, &[]),
        ] {
            assert_ne!(base, other);
        }
    }

    #[tokio::test]
    async fn scoped_names_carry_the_tag() {
        let store = Arc::new(MemoryShared::default());
        let scoped = scoped(store.clone(), "0123456789abcdef".into());
        scoped
            .put("k", b"v".to_vec(), Duration::from_secs(1))
            .await
            .unwrap();
        assert!(crate::sync::lock(&store.map).contains_key("0123456789abcdef:k"));
        assert_eq!(scoped.get("k").await.unwrap().as_deref(), Some(&b"v"[..]));
        assert_eq!(store.get("k").await.unwrap(), None);
    }
}
