//! The one trait every revocation backend implements.

use std::future::{ready, Future};
use std::time::SystemTime;

use super::{RevocationConfig, RevocationError, RevocationList};

/// Where revocations are written: the in-memory [`RevocationList`] or,
/// with the `redis` feature, [`RedisRevocations`](super::RedisRevocations),
/// which shares them between instances.
///
/// [`handler`](super::handler) takes any store. Writing is async because a
/// shared store talks to a server; *checking* is not part of this trait: a
/// backend checks tokens through [`PostVerify`](crate::PostVerify) against a
/// local in-memory snapshot, with no I/O on the request path.
///
/// ```
/// use std::time::SystemTime;
/// use oauth2_guard::revocation::{RevocationError, RevocationList, RevocationStore};
///
/// /// An incident runbook step that works with either backend.
/// async fn lock_out<S: RevocationStore>(store: &S, user: &str) -> Result<(), RevocationError> {
///     store.revoke_subject_before(user, SystemTime::now()).await
/// }
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let list = RevocationList::new();
/// lock_out(&list, "alice").await?;
/// assert_eq!(list.len(), 1);
/// # Ok::<(), RevocationError>(()) }).unwrap();
/// ```
pub trait RevocationStore: Send + Sync + 'static {
    /// The limits entries are made with (the handler reads the max token
    /// lifetime for a `jti` posted without `expires_at`).
    fn config(&self) -> RevocationConfig;

    /// Revokes the token with this `jti` until `expires_at` (its `exp`).
    ///
    /// # Errors
    /// A bad id, a full list, or (shared stores) the store could not be
    /// written: see each backend.
    fn revoke_jti(
        &self,
        jti: &str,
        expires_at: SystemTime,
    ) -> impl Future<Output = Result<(), RevocationError>> + Send;

    /// Revokes every token of `sub` issued before `issued_before`.
    ///
    /// # Errors
    /// As [`revoke_jti`](Self::revoke_jti).
    fn revoke_subject_before(
        &self,
        sub: &str,
        issued_before: SystemTime,
    ) -> impl Future<Output = Result<(), RevocationError>> + Send;

    /// Revokes every token issued to `client_id` before `issued_before`.
    ///
    /// # Errors
    /// As [`revoke_jti`](Self::revoke_jti).
    fn revoke_client_before(
        &self,
        client_id: &str,
        issued_before: SystemTime,
    ) -> impl Future<Output = Result<(), RevocationError>> + Send;
}

/// The in-memory list: every call completes at once (the future is ready).
impl RevocationStore for RevocationList {
    fn config(&self) -> RevocationConfig {
        RevocationList::config(self)
    }

    fn revoke_jti(
        &self,
        jti: &str,
        expires_at: SystemTime,
    ) -> impl Future<Output = Result<(), RevocationError>> + Send {
        ready(RevocationList::revoke_jti(self, jti, expires_at))
    }

    fn revoke_subject_before(
        &self,
        sub: &str,
        issued_before: SystemTime,
    ) -> impl Future<Output = Result<(), RevocationError>> + Send {
        ready(RevocationList::revoke_subject_before(
            self,
            sub,
            issued_before,
        ))
    }

    fn revoke_client_before(
        &self,
        client_id: &str,
        issued_before: SystemTime,
    ) -> impl Future<Output = Result<(), RevocationError>> + Send {
        ready(RevocationList::revoke_client_before(
            self,
            client_id,
            issued_before,
        ))
    }
}
