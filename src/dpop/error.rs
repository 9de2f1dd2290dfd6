//! Why a DPoP proof was refused: [`DpopError`], one variant per check, each
//! with a stable code and the RFC 9449 error it answers with.

/// Why a DPoP proof (RFC 9449) was refused.
///
/// Each variant names exactly one check, so logs and metrics can tell a
/// replayed proof from a clock problem. [`code`](DpopError::code) is stable;
/// [`rfc_error`](DpopError::rfc_error) is the `error` parameter of the
/// `WWW-Authenticate: DPoP` challenge (RFC 9449 §7.1, §9).
///
/// | variant | code | RFC error | suggested status |
/// |---|---|---|---|
/// | [`Missing`](Self::Missing) | `dpop_proof_missing` | `invalid_dpop_proof` | 401 |
/// | [`Required`](Self::Required) | `dpop_required` | `invalid_token` | 401 |
/// | [`ProofTooLarge`](Self::ProofTooLarge) | `dpop_proof_too_large` | `invalid_dpop_proof` | 401 |
/// | [`ProofMalformed`](Self::ProofMalformed) | `dpop_proof_malformed` | `invalid_dpop_proof` | 401 |
/// | [`Typ`](Self::Typ) | `dpop_typ` | `invalid_dpop_proof` | 401 |
/// | [`Alg`](Self::Alg) | `dpop_alg` | `invalid_dpop_proof` | 401 |
/// | [`Jwk`](Self::Jwk) | `dpop_jwk` | `invalid_dpop_proof` | 401 |
/// | [`JwkPrivate`](Self::JwkPrivate) | `dpop_jwk_private` | `invalid_dpop_proof` | 401 |
/// | [`JwkTooSmall`](Self::JwkTooSmall) | `dpop_jwk_too_small` | `invalid_dpop_proof` | 401 |
/// | [`Signature`](Self::Signature) | `dpop_signature` | `invalid_dpop_proof` | 401 |
/// | [`Jti`](Self::Jti) | `dpop_jti` | `invalid_dpop_proof` | 401 |
/// | [`Htm`](Self::Htm) | `dpop_htm` | `invalid_dpop_proof` | 401 |
/// | [`Htu`](Self::Htu) | `dpop_htu` | `invalid_dpop_proof` | 401 |
/// | [`Iat`](Self::Iat) | `dpop_iat` | `invalid_dpop_proof` | 401 |
/// | [`Ath`](Self::Ath) | `dpop_ath` | `invalid_dpop_proof` | 401 |
/// | [`JktMismatch`](Self::JktMismatch) | `dpop_jkt_mismatch` | `invalid_token` | 401 |
/// | [`Nonce`](Self::Nonce) | `dpop_nonce` | `use_dpop_nonce` | 401, with a fresh `DPoP-Nonce` |
/// | [`Replay`](Self::Replay) | `dpop_replay` | `invalid_dpop_proof` | 401 |
/// | [`ReplayKeyLimit`](Self::ReplayKeyLimit) | `dpop_replay_key_limit` | `invalid_dpop_proof` | 401 |
/// | [`ReplayCacheFull`](Self::ReplayCacheFull) | `dpop_replay_cache_full` | — (server side) | 503 |
/// | [`ReplayStoreUnavailable`](Self::ReplayStoreUnavailable) | `dpop_replay_store_unavailable` | — (server side) | 503, with `Retry-After` |
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
#[non_exhaustive]
pub enum DpopError {
    /// The `DPoP` authorization scheme came without a `DPoP` proof header
    /// (RFC 9449 §7.1).
    #[error("DPoP proof is missing")]
    Missing,
    /// The layer or route accepts only DPoP-bound tokens and the request
    /// used another scheme (`Bearer`).
    #[error("a DPoP proof is required")]
    Required,
    /// The proof is longer than the configured maximum; refused before any
    /// decoding.
    #[error("DPoP proof exceeds the maximum length")]
    ProofTooLarge,
    /// The proof is not a compact JWS with a JSON header and claims, a
    /// claim has the wrong type, or the header has `crit` extensions.
    #[error("DPoP proof is malformed")]
    ProofMalformed,
    /// The `typ` header is not `dpop+jwt` (RFC 9449 §4.2).
    #[error("DPoP proof typ is not dpop+jwt")]
    Typ,
    /// The `alg` is `none`, symmetric, unknown or not on the allowlist.
    #[error("DPoP proof alg is not allowed")]
    Alg,
    /// The `jwk` header is missing, is not a supported public key, or its
    /// key type does not fit `alg`.
    #[error("DPoP proof jwk is missing or unusable")]
    Jwk,
    /// The `jwk` header holds private key members (`d`, `p`, `q`, `dp`,
    /// `dq`, `qi`, `oth`) or a symmetric key (`k`).
    #[error("DPoP proof jwk contains private key material")]
    JwkPrivate,
    /// The `jwk` is an RSA key shorter than 2048 bits (RFC 7518 §3.3).
    #[error("DPoP proof jwk is an RSA key shorter than 2048 bits")]
    JwkTooSmall,
    /// The signature does not verify with the `jwk` of the header.
    #[error("DPoP proof signature does not verify")]
    Signature,
    /// `jti` is missing, empty, or longer than 256 bytes.
    #[error("DPoP proof jti is missing or invalid")]
    Jti,
    /// `htm` is missing or is not the request method.
    #[error("DPoP proof htm does not match the request method")]
    Htm,
    /// `htu` is missing or is not the request URI (RFC 3986 normalised,
    /// without query and fragment).
    #[error("DPoP proof htu does not match the request URI")]
    Htu,
    /// `iat` is missing or outside the accepted window.
    #[error("DPoP proof iat is outside the accepted window")]
    Iat,
    /// `ath` is missing or is not the hash of the access token.
    #[error("DPoP proof ath does not match the access token")]
    Ath,
    /// The access token is not bound to the proof's key: its `cnf.jkt` is
    /// missing or is another key's thumbprint.
    #[error("access token is not bound to the DPoP proof key")]
    JktMismatch,
    /// Server nonces are required and the proof's `nonce` is missing, not
    /// one this server issued, or stale (RFC 9449 §8, §9).
    #[error("DPoP proof nonce is missing, invalid or stale")]
    Nonce,
    /// This proof (key thumbprint and `jti`) was already accepted within the
    /// window.
    #[error("DPoP proof was replayed")]
    Replay,
    /// The replay cache already remembers the configured maximum of proofs
    /// for this key; the proof is refused rather than an older one forgotten.
    #[error("too many DPoP proofs for one key within the window")]
    ReplayKeyLimit,
    /// The replay cache is full; the proof is refused rather than an older
    /// one forgotten. A server-side condition.
    #[error("DPoP replay cache is full")]
    ReplayCacheFull,
    /// The shared replay store (e.g. [`RedisReplayStore`](crate::dpop::RedisReplayStore))
    /// did not answer in time or failed: the proof is refused (fail closed,
    /// a replay check that cannot be made must not accept). A server-side
    /// condition.
    #[error("DPoP replay store is unavailable")]
    ReplayStoreUnavailable,
}

impl DpopError {
    /// A stable snake_case code for logs, metrics and tests.
    pub const fn code(self) -> &'static str {
        match self {
            Self::Missing => "dpop_proof_missing",
            Self::Required => "dpop_required",
            Self::ProofTooLarge => "dpop_proof_too_large",
            Self::ProofMalformed => "dpop_proof_malformed",
            Self::Typ => "dpop_typ",
            Self::Alg => "dpop_alg",
            Self::Jwk => "dpop_jwk",
            Self::JwkPrivate => "dpop_jwk_private",
            Self::JwkTooSmall => "dpop_jwk_too_small",
            Self::Signature => "dpop_signature",
            Self::Jti => "dpop_jti",
            Self::Htm => "dpop_htm",
            Self::Htu => "dpop_htu",
            Self::Iat => "dpop_iat",
            Self::Ath => "dpop_ath",
            Self::JktMismatch => "dpop_jkt_mismatch",
            Self::Nonce => "dpop_nonce",
            Self::Replay => "dpop_replay",
            Self::ReplayKeyLimit => "dpop_replay_key_limit",
            Self::ReplayCacheFull => "dpop_replay_cache_full",
            Self::ReplayStoreUnavailable => "dpop_replay_store_unavailable",
        }
    }

    /// The RFC 9449 / RFC 6750 `error` for the `DPoP` challenge, or `None`
    /// for a server-side condition (answer 503 without a challenge error).
    pub const fn rfc_error(self) -> Option<&'static str> {
        match self {
            Self::Nonce => Some("use_dpop_nonce"),
            Self::JktMismatch | Self::Required => Some("invalid_token"),
            Self::ReplayCacheFull | Self::ReplayStoreUnavailable => None,
            _ => Some("invalid_dpop_proof"),
        }
    }
}
