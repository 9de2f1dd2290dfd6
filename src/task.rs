//! Background tasks owned by a handle.

/// Aborts a task when dropped: a background task (an issuer's key refresh, a
/// client-credentials token refresh, a lazy issuer's discovery, the test
/// kit's server) lives exactly as long as the value that owns it.
pub(crate) struct AbortOnDrop(Option<tokio::task::AbortHandle>);

impl AbortOnDrop {
    pub(crate) fn new(task: tokio::task::AbortHandle) -> Self {
        Self(Some(task))
    }

    /// The task is ending by itself (it is the one dropping its owner):
    /// nothing to cancel.
    pub(crate) fn disarm(mut self) {
        self.0 = None;
    }
}

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        if let Some(task) = self.0.take() {
            task.abort();
        }
    }
}
