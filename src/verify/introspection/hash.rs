//! The cache key of an opaque token: HMAC-SHA256 (RFC 2104) of the token
//! under a secret key, so neither the local cache nor a shared one ever
//! holds the token, nor anything an attacker who reads the cache could turn
//! back into it or look up by guessing tokens without the key.
//!
//! Written over `sha2` (already a dependency) rather than with another
//! crate: HMAC is the two nested hashes below, and the RFC 4231 vectors in
//! the tests pin it. The inner and outer states are computed once per key,
//! so a lookup costs the hashes of the token, not of the key.

use sha2::{Digest, Sha256};

/// SHA-256's block size.
const BLOCK: usize = 64;

/// A 32-byte keyed hash of a token: the cache key.
pub(crate) type Key = [u8; 32];

/// HMAC-SHA256 with a fixed key, its pads already absorbed.
#[derive(Clone)]
pub(crate) struct KeyedHash {
    inner: Sha256,
    outer: Sha256,
}

impl KeyedHash {
    /// HMAC-SHA256 under `key` (any length; RFC 2104 hashes a longer one).
    pub(crate) fn new(key: &[u8]) -> Self {
        let mut block = [0u8; BLOCK];
        if key.len() > BLOCK {
            block[..32].copy_from_slice(&Sha256::digest(key));
        } else {
            block[..key.len()].copy_from_slice(key);
        }
        let pad = |byte: u8| {
            let mut h = Sha256::new();
            let padded: Vec<u8> = block.iter().map(|b| b ^ byte).collect();
            h.update(&padded);
            h
        };
        Self {
            inner: pad(0x36),
            outer: pad(0x5c),
        }
    }

    /// A key drawn from the operating system's random source, for one process.
    pub(crate) fn random() -> Self {
        Self::new(&rand::random::<[u8; 32]>())
    }

    /// HMAC(key, `token`).
    pub(crate) fn hash(&self, token: &str) -> Key {
        let mut inner = self.inner.clone();
        inner.update(token.as_bytes());
        let mut outer = self.outer.clone();
        outer.update(inner.finalize());
        outer.finalize().into()
    }
}

impl std::fmt::Debug for KeyedHash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("KeyedHash(HMAC-SHA256, key redacted)")
    }
}

/// Lower-case hex of a key: the name of a shared-cache entry.
pub(crate) fn hex(key: &Key) -> String {
    use std::fmt::Write as _;
    key.iter().fold(String::with_capacity(64), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unhex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    #[test]
    fn rfc4231_vectors() {
        // Test case 2: a short key.
        let h = KeyedHash::new(b"Jefe");
        assert_eq!(
            hex(&h.hash("what do ya want for nothing?")),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        // Test case 6: a key longer than the block.
        let h = KeyedHash::new(&[0xaa; 131]);
        assert_eq!(
            hex(&h.hash("Test Using Larger Than Block-Size Key - Hash Key First")),
            "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"
        );
        // Test case 1: a 20-byte key.
        let h = KeyedHash::new(&unhex("0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b"));
        assert_eq!(
            hex(&h.hash("Hi There")),
            "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"
        );
    }

    #[test]
    fn keys_differ_per_secret_and_debug_hides_the_key() {
        let a = KeyedHash::random();
        let b = KeyedHash::random();
        assert_ne!(a.hash("tok"), b.hash("tok"));
        assert_eq!(a.hash("tok"), a.hash("tok"));
        assert!(!format!("{a:?}").contains("tok"));
    }
}
