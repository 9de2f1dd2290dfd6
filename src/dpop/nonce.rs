//! Server nonces (RFC 9449 §8, §9) verifiable without shared state.
//!
//! A nonce is `base64url(slot ‖ HMAC-SHA256(secret, label ‖ slot))`, where
//! `slot` = ⌊now / rotation⌋ as 8 big-endian bytes. The current and the
//! previous slot are accepted, so a nonce lives between one and two
//! rotation periods; any instance holding the same secret issues and checks
//! the same nonces, with nothing shared but the secret. The MAC is computed
//! and checked (in constant time) by the crate's signature backend.

use std::fmt;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey};

use crate::error::ConfigError;

/// Domain separation: these MACs are never valid for anything else.
const LABEL: &[u8] = b"oauth2-guard/dpop-nonce/v1\0";
/// Shortest secret accepted: as long as the HMAC-SHA256 output (RFC 2104 §3,
/// RFC 7518 §3.2).
pub(crate) const MIN_SECRET_BYTES: usize = 32;

/// The secret DPoP server nonces are MAC'd with.
///
/// Instances behind one load balancer must share it (each proof may reach
/// another instance than the one that issued its nonce); by default every
/// [`DpopChecker`](super::DpopChecker) draws a random one, which is right for
/// a single instance. Never shown by `Debug`.
#[derive(Clone)]
pub struct NonceSecret(Vec<u8>);

impl NonceSecret {
    /// A secret from configuration.
    ///
    /// # Errors
    /// [`ConfigError::HmacSecretTooShort`] under 32 bytes.
    pub fn from_bytes(secret: &[u8]) -> Result<Self, ConfigError> {
        if secret.len() < MIN_SECRET_BYTES {
            return Err(ConfigError::HmacSecretTooShort {
                len: secret.len(),
                min: MIN_SECRET_BYTES,
            });
        }
        Ok(Self(secret.to_vec()))
    }

    /// 32 random bytes from the operating system's CSPRNG (via `rand`).
    pub fn random() -> Self {
        Self(rand::random::<[u8; 32]>().to_vec())
    }
}

impl fmt::Debug for NonceSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("NonceSecret(***)")
    }
}

/// Issues and checks nonces.
#[derive(Clone)]
pub(crate) struct Nonces {
    sign: EncodingKey,
    check: DecodingKey,
    rotation: u64,
}

impl fmt::Debug for Nonces {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Nonces")
            .field("rotation", &self.rotation)
            .finish_non_exhaustive()
    }
}

fn message(slot: u64) -> Vec<u8> {
    [LABEL, &slot.to_be_bytes()].concat()
}

impl Nonces {
    /// `rotation` in seconds, at least 1 (the builder enforces its range).
    pub(crate) fn new(secret: &NonceSecret, rotation: u64) -> Result<Self, ConfigError> {
        let sign =
            EncodingKey::from_secret(&secret.0).map_err(|_| ConfigError::HmacSecretUnusable)?;
        let check =
            DecodingKey::from_secret(&secret.0).map_err(|_| ConfigError::HmacSecretUnusable)?;
        let nonces = Self {
            sign,
            check,
            rotation: rotation.max(1),
        };
        // Fail at construction, not on the request path, if the backend
        // refuses the key.
        nonces
            .mac(0)
            .ok_or(ConfigError::HmacSecretUnusable)
            .map(|_| nonces)
    }

    fn mac(&self, slot: u64) -> Option<Vec<u8>> {
        let signer =
            (crate::crypto::provider().signer_factory)(&Algorithm::HS256, &self.sign).ok()?;
        signer.try_sign(&message(slot)).ok()
    }

    /// The nonce for the slot `now` falls in.
    pub(crate) fn issue(&self, now: u64) -> String {
        let slot = now / self.rotation;
        let mut raw = slot.to_be_bytes().to_vec();
        // `new` proved the backend signs with this key.
        raw.extend(self.mac(slot).unwrap_or_default());
        URL_SAFE_NO_PAD.encode(raw)
    }

    /// Whether `nonce` was issued (with this secret) in the current or the
    /// previous slot.
    pub(crate) fn verify(&self, nonce: &str, now: u64) -> bool {
        // 8 + 32 bytes → 54 characters; anything longer is not ours.
        if nonce.len() > 64 {
            return false;
        }
        let Ok(raw) = URL_SAFE_NO_PAD.decode(nonce) else {
            return false;
        };
        let Some((slot, mac)) = raw.split_first_chunk::<8>() else {
            return false;
        };
        let slot = u64::from_be_bytes(*slot);
        let current = now / self.rotation;
        if slot != current && slot.checked_add(1) != Some(current) {
            return false;
        }
        (crate::crypto::provider().verifier_factory)(&Algorithm::HS256, &self.check)
            .is_ok_and(|v| v.verify(&message(slot), &mac.to_vec()).is_ok())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rotation_and_tampering() {
        let secret = NonceSecret::from_bytes(&[7u8; 32]).unwrap();
        let nonces = Nonces::new(&secret, 300).unwrap();
        let n = nonces.issue(1_000_200); // slot 3334, [1_000_200, 1_000_500)
        assert_eq!(n.len(), 54);
        assert_eq!(nonces.issue(1_000_499), n, "same slot, same nonce");
        assert_ne!(nonces.issue(1_000_500), n, "next slot, new nonce");
        assert!(nonces.verify(&n, 1_000_200));
        assert!(nonces.verify(&n, 1_000_799), "previous slot still accepted");
        assert!(!nonces.verify(&n, 1_000_800), "two slots old: stale");
        assert!(!nonces.verify(&n, 999_999), "from the future");
        // Another secret, a tampered slot or MAC, garbage.
        let other = Nonces::new(&NonceSecret::from_bytes(&[8u8; 32]).unwrap(), 300).unwrap();
        assert!(!other.verify(&n, 1_000_200));
        let mut raw = URL_SAFE_NO_PAD.decode(&n).unwrap();
        raw[7] ^= 1;
        assert!(!nonces.verify(&URL_SAFE_NO_PAD.encode(&raw), 1_000_200));
        raw[7] ^= 1;
        raw[20] ^= 1;
        assert!(!nonces.verify(&URL_SAFE_NO_PAD.encode(&raw), 1_000_200));
        for bad in ["", "AAAA", "!!!", &"A".repeat(100)] {
            assert!(!nonces.verify(bad, 1_000_200), "{bad}");
        }
        assert!(matches!(
            NonceSecret::from_bytes(&[1u8; 31]),
            Err(ConfigError::HmacSecretTooShort { len: 31, min: 32 })
        ));
        assert_eq!(format!("{secret:?}"), "NonceSecret(***)");
    }
}
