//! Background tasks owned by a handle.

/// Aborts a task when dropped: a background task (an issuer's key refresh, a
/// client-credentials token refresh) lives exactly as long as the value that
/// owns it.
pub(crate) struct AbortOnDrop(pub(crate) tokio::task::AbortHandle);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}
