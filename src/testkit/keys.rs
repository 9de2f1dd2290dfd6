//! The embedded key pool, the issuer's key store, and JWS signing.
//!
//! RSA key generation is slow, so the test kit never generates keys at run
//! time: a small pool of PEM files (and their public JWKs, precomputed by
//! `keys/gen_jwks.py`) is compiled into the crate. When `rotate`/`add_key`
//! exhaust the pool of one type, the same key material is reused under a new
//! kid (`rsa-1-r2`, `rsa-1-r3`, ...), which is fine for tests.

use std::collections::HashMap;
use std::fmt;
use std::sync::OnceLock;

use jsonwebtoken::{Algorithm, EncodingKey};
use serde_json::{Map, Value};

/// Key type of a pool entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(super) enum Family {
    Rsa,
    P256,
    P384,
    Ed25519,
}

impl Family {
    /// The pool family that can sign `alg`; `None` for HMAC.
    pub(super) fn for_alg(alg: Algorithm) -> Option<Self> {
        match alg {
            Algorithm::RS256
            | Algorithm::RS384
            | Algorithm::RS512
            | Algorithm::PS256
            | Algorithm::PS384
            | Algorithm::PS512 => Some(Self::Rsa),
            Algorithm::ES256 => Some(Self::P256),
            Algorithm::ES384 => Some(Self::P384),
            Algorithm::EdDSA => Some(Self::Ed25519),
            _ => None,
        }
    }
}

/// One embedded key pair.
pub(super) struct PoolKey {
    pub(super) name: &'static str,
    pub(super) family: Family,
    pub(super) private_pem: &'static str,
    pub(super) public_pem: &'static str,
}

// Private keys are test material, but they still never reach `Debug`.
impl fmt::Debug for PoolKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PoolKey")
            .field("name", &self.name)
            .field("family", &self.family)
            .finish_non_exhaustive()
    }
}

macro_rules! pool_key {
    ($name:literal, $family:ident) => {
        PoolKey {
            name: $name,
            family: Family::$family,
            private_pem: include_str!(concat!("keys/", $name, ".pem")),
            public_pem: include_str!(concat!("keys/", $name, ".pub.pem")),
        }
    };
}

static POOL_KEYS: [PoolKey; 16] = [
    pool_key!("rsa-1", Rsa),
    pool_key!("rsa-2", Rsa),
    pool_key!("rsa-3", Rsa),
    pool_key!("rsa-4", Rsa),
    pool_key!("rsa-5", Rsa),
    pool_key!("rsa-6", Rsa),
    pool_key!("ec256-1", P256),
    pool_key!("ec256-2", P256),
    pool_key!("ec256-3", P256),
    pool_key!("ec256-4", P256),
    pool_key!("ec384-1", P384),
    pool_key!("ec384-2", P384),
    pool_key!("ec384-3", P384),
    pool_key!("ed25519-1", Ed25519),
    pool_key!("ed25519-2", Ed25519),
    pool_key!("ed25519-3", Ed25519),
];

static POOL_JWKS: &str = include_str!("keys/jwks.json");

/// The pool, with parsed encoding keys and public JWKs.
pub(super) struct Pool {
    entries: Vec<PoolEntry>,
}

struct PoolEntry {
    key: &'static PoolKey,
    encoding: EncodingKey,
    /// Public JWK without `kid`, `alg` or `use`.
    jwk: Map<String, Value>,
}

impl Pool {
    /// The process-wide pool.
    ///
    /// # Panics
    ///
    /// On first use, if the embedded key material does not parse (a broken
    /// commit, caught by the unit tests). `MockIssuer::start` calls this
    /// first, so later calls cannot panic.
    pub(super) fn get() -> &'static Pool {
        static POOL: OnceLock<Pool> = OnceLock::new();
        POOL.get_or_init(Pool::load)
    }

    fn load() -> Pool {
        let jwks: Value = serde_json::from_str(POOL_JWKS)
            .expect("testkit: embedded keys/jwks.json is valid JSON");
        let mut by_name: HashMap<String, Map<String, Value>> = HashMap::new();
        for jwk in jwks["keys"].as_array().into_iter().flatten() {
            if let Some(mut obj) = jwk.as_object().cloned() {
                if let Some(Value::String(kid)) = obj.remove("kid") {
                    by_name.insert(kid, obj);
                }
            }
        }
        let entries = POOL_KEYS
            .iter()
            .map(|key| {
                let pem = key.private_pem.as_bytes();
                let encoding = match key.family {
                    Family::Rsa => EncodingKey::from_rsa_pem(pem),
                    Family::P256 | Family::P384 => EncodingKey::from_ec_pem(pem),
                    Family::Ed25519 => EncodingKey::from_ed_pem(pem),
                }
                .unwrap_or_else(|e| {
                    panic!("testkit: embedded key {} does not parse: {e}", key.name)
                });
                let jwk = by_name.remove(key.name).unwrap_or_else(|| {
                    panic!("testkit: keys/jwks.json has no entry for {}", key.name)
                });
                PoolEntry { key, encoding, jwk }
            })
            .collect();
        Pool { entries }
    }

    /// Number of pool keys of `family`.
    fn count(&self, family: Family) -> usize {
        self.entries
            .iter()
            .filter(|e| e.key.family == family)
            .count()
    }

    /// The `n`-th pool key of `family`, cycling; `None` only if the family is empty.
    fn nth(&self, family: Family, n: usize) -> Option<usize> {
        let count = self.count(family);
        if count == 0 {
            return None;
        }
        self.entries
            .iter()
            .enumerate()
            .filter(|(_, e)| e.key.family == family)
            .nth(n % count)
            .map(|(i, _)| i)
    }
}

/// What a key signs with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Material {
    /// Index into the pool.
    Pool(usize),
    /// The issuer's shared HMAC secret (never published).
    Hmac,
}

/// A key known to the issuer.
#[derive(Clone, Debug)]
pub(super) struct Key {
    pub(super) kid: String,
    pub(super) alg: Algorithm,
    pub(super) material: Material,
    pub(super) published: bool,
}

impl Key {
    /// The public JWK served for this key; `None` for HMAC keys.
    fn public_jwk(&self, pool: &Pool) -> Option<Value> {
        let Material::Pool(index) = self.material else {
            return None;
        };
        let mut jwk = pool.entries.get(index)?.jwk.clone();
        jwk.insert("kid".into(), Value::String(self.kid.clone()));
        jwk.insert("use".into(), Value::String("sig".into()));
        jwk.insert(
            "alg".into(),
            serde_json::to_value(self.alg).unwrap_or(Value::Null),
        );
        Some(Value::Object(jwk))
    }
}

/// All keys of one issuer. Lives behind the issuer's mutex.
#[derive(Debug)]
pub(super) struct KeyStore {
    /// Every key ever created, in creation order; removed keys stay here
    /// (unpublished) so tests can still sign with them.
    keys: Vec<Key>,
    /// Arbitrary JWKs published verbatim, after the generated ones.
    raw: Vec<Value>,
    /// Index into `keys` of the signing key.
    signing: usize,
    /// How many keys each family has handed out so far.
    allocated: HashMap<Family, usize>,
    hmac_allocated: usize,
}

impl KeyStore {
    /// A store whose signing key is a fresh published key of `alg`.
    pub(super) fn new(alg: Algorithm) -> Self {
        let mut store = KeyStore {
            keys: Vec::new(),
            raw: Vec::new(),
            signing: 0,
            allocated: HashMap::new(),
            hmac_allocated: 0,
        };
        store.signing = store.create(alg);
        store
    }

    /// Creates (and, unless HMAC, publishes) a new key of `alg`; returns its index.
    pub(super) fn create(&mut self, alg: Algorithm) -> usize {
        let pool = Pool::get();
        let (kid, material, published) = match Family::for_alg(alg).and_then(|family| {
            let n = self.allocated.entry(family).or_insert(0);
            let index = pool.nth(family, *n)?;
            let round = *n / pool.count(family);
            *n += 1;
            Some((index, round))
        }) {
            Some((index, round)) => {
                let name = pool.entries[index].key.name;
                let kid = if round == 0 {
                    name.to_owned()
                } else {
                    format!("{name}-r{}", round + 1)
                };
                (kid, Material::Pool(index), true)
            }
            None => {
                self.hmac_allocated += 1;
                (
                    format!("hmac-{}", self.hmac_allocated),
                    Material::Hmac,
                    false,
                )
            }
        };
        self.keys.push(Key {
            kid,
            alg,
            material,
            published,
        });
        self.keys.len() - 1
    }

    pub(super) fn index_of(&self, kid: &str) -> Option<usize> {
        self.keys.iter().position(|k| k.kid == kid)
    }

    pub(super) fn get(&self, index: usize) -> Option<&Key> {
        self.keys.get(index)
    }

    pub(super) fn signing_index(&self) -> usize {
        self.signing
    }

    pub(super) fn signing(&self) -> &Key {
        &self.keys[self.signing]
    }

    pub(super) fn set_signing(&mut self, index: usize) {
        if index < self.keys.len() {
            self.signing = index;
        }
    }

    /// The index of a key to sign `alg` with: the signing key if it has
    /// that alg, else the newest published key of that alg, else a new one.
    pub(super) fn for_alg(&mut self, alg: Algorithm) -> usize {
        if self.signing().alg == alg {
            return self.signing;
        }
        let hmac = Family::for_alg(alg).is_none();
        self.keys
            .iter()
            .rposition(|k| k.alg == alg && (k.published || hmac))
            .unwrap_or_else(|| self.create(alg))
    }

    /// Stops publishing `kid` (generated or raw). Unknown kids are ignored.
    pub(super) fn unpublish(&mut self, kid: &str) {
        for key in self.keys.iter_mut().filter(|k| k.kid == kid) {
            key.published = false;
        }
        self.raw
            .retain(|jwk| jwk.get("kid").and_then(Value::as_str) != Some(kid));
    }

    pub(super) fn add_raw(&mut self, jwk: Value) {
        self.raw.push(jwk);
    }

    /// The JWK Set currently served.
    pub(super) fn jwks(&self) -> Value {
        let pool = Pool::get();
        let keys: Vec<Value> = self
            .keys
            .iter()
            .filter(|k| k.published)
            .filter_map(|k| k.public_jwk(pool))
            .chain(self.raw.iter().cloned())
            .collect();
        serde_json::json!({ "keys": keys })
    }

    /// Published kids, generated then raw.
    pub(super) fn published_kids(&self) -> Vec<String> {
        let generated = self
            .keys
            .iter()
            .filter(|k| k.published)
            .map(|k| k.kid.clone());
        let raw = self
            .raw
            .iter()
            .filter_map(|jwk| jwk.get("kid").and_then(Value::as_str).map(str::to_owned));
        generated.chain(raw).collect()
    }

    /// The public JWK of `kid`, published or not; `None` for unknown and HMAC kids.
    pub(super) fn public_jwk_of(&self, kid: &str) -> Option<Value> {
        self.keys.get(self.index_of(kid)?)?.public_jwk(Pool::get())
    }

    pub(super) fn private_key_pem(&self, kid: &str) -> Option<String> {
        self.pool_key(kid).map(|k| k.private_pem.to_owned())
    }

    pub(super) fn public_key_pem(&self, kid: &str) -> Option<String> {
        self.pool_key(kid).map(|k| k.public_pem.to_owned())
    }

    fn pool_key(&self, kid: &str) -> Option<&'static PoolKey> {
        match self.keys.get(self.index_of(kid)?)?.material {
            Material::Pool(index) => Some(Pool::get().entries.get(index)?.key),
            Material::Hmac => None,
        }
    }
}

/// Builds a compact JWS from header and claims objects.
///
/// The signature uses `alg` with `material`:
/// - `none`, an unknown alg, or a key that cannot produce `alg` (say `ES256`
///   with an RSA key) gives an empty signature segment;
/// - an `HS*` alg with an asymmetric key MACs with that key's public PEM as
///   the secret (the classic algorithm-confusion forgery);
/// - an `HS*` alg with an HMAC key uses `hmac_secret`.
pub(super) fn compact_jws(
    header: &Value,
    claims: &Value,
    alg: Option<Algorithm>,
    material: Material,
    hmac_secret: &[u8],
) -> String {
    let Ok(jws) = crate::crypto::encode_jws(header, claims, |input| {
        // No signature: an empty third segment.
        Ok::<_, std::convert::Infallible>(
            alg.and_then(|alg| sign(input, alg, material, hmac_secret))
                .unwrap_or_default(),
        )
    });
    jws
}

fn sign(input: &[u8], alg: Algorithm, material: Material, hmac_secret: &[u8]) -> Option<Vec<u8>> {
    let pool = Pool::get();
    let hmac = Family::for_alg(alg).is_none();
    let owned;
    let key = match (material, hmac) {
        (Material::Pool(index), false) => &pool.entries.get(index)?.encoding,
        (Material::Pool(index), true) => {
            owned = EncodingKey::from_secret(pool.entries.get(index)?.key.public_pem.as_bytes())
                .ok()?;
            &owned
        }
        (Material::Hmac, true) => {
            owned = EncodingKey::from_secret(hmac_secret).ok()?;
            &owned
        }
        (Material::Hmac, false) => return None,
    };
    let signer = (crate::crypto::provider().signer_factory)(&alg, key).ok()?;
    signer.try_sign(input).ok()
}

/// Parses a JOSE `alg` name; `None` for `none` and unknown names.
pub(super) fn parse_alg(name: &str) -> Option<Algorithm> {
    name.parse().ok()
}
