//! Log capture, and the scan proving that no token reaches the logs.
//!
//! Two ways to install a capture, because the suites rely on different
//! scopes:
//! - [`LogCapture::set_thread_default`]: this thread only, for as long as
//!   the guard lives. Right for tests on a current-thread runtime (the
//!   `#[tokio::test]` default), whose layer, refresh task and logs all run
//!   on the test's thread; tests running in parallel do not mix their logs.
//! - [`LogCapture::set_global_default`] / [`global_capture`]: the whole
//!   process, once. Right where events come from other threads (a
//!   multi-thread runtime), or where a thread-local subscriber would miss
//!   events because another test registered the callsites first.

use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};

use tracing::subscriber::{DefaultGuard, SetGlobalDefaultError};
use tracing::Level;

/// The message of the layer's event for a refused request. A scan checks
/// it is there first, to prove the capture saw the layer at all (an empty
/// capture would pass any "no token in the logs" check).
pub const REJECTED_EVENT: &str = "request rejected";

/// An in-memory sink for formatted `tracing` output (no ANSI colours).
/// Clones share one buffer.
#[derive(Clone, Default)]
pub struct LogCapture(Arc<Mutex<Vec<u8>>>);

impl Write for LogCapture {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(data);
        Ok(data.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl LogCapture {
    /// A `fmt` subscriber writing every event up to `level` into this capture.
    fn subscriber(&self, level: Level) -> impl tracing::Subscriber + Send + Sync + 'static {
        let writer = self.clone();
        tracing_subscriber::fmt()
            .with_max_level(level)
            .with_ansi(false)
            .with_writer(move || writer.clone())
            .finish()
    }

    /// Captures the events up to `level` of this thread until the guard is
    /// dropped.
    pub fn set_thread_default(&self, level: Level) -> DefaultGuard {
        tracing::subscriber::set_default(self.subscriber(level))
    }

    /// Captures the events up to `level` of the whole process, for good.
    ///
    /// # Errors
    /// When a global subscriber is already set (by this binary: only one
    /// test, or [`global_capture`], may set it).
    pub fn set_global_default(&self, level: Level) -> Result<(), SetGlobalDefaultError> {
        tracing::subscriber::set_global_default(self.subscriber(level))
    }

    /// The raw bytes captured so far.
    pub fn bytes(&self) -> Vec<u8> {
        self.0.lock().unwrap().clone()
    }

    /// The text captured so far (invalid UTF-8 replaced).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

/// The binary's global capture at `TRACE`, installed by the first call:
/// every log line of the test binary from then on. Call it before any
/// traffic a later scan must see.
pub fn global_capture() -> &'static LogCapture {
    static LOGS: OnceLock<LogCapture> = OnceLock::new();
    LOGS.get_or_init(|| {
        let logs = LogCapture::default();
        let _ = logs.set_global_default(Level::TRACE);
        logs
    })
}

/// The shortest strings [`assert_no_token_in`] looks for: short ones
/// (`abc`, `x`, a one-letter signature) turn up in ordinary log text by
/// chance.
#[derive(Clone, Copy, Debug)]
pub struct ScanMin {
    /// A whole token shorter than this is skipped (with its signature).
    pub token: usize,
    /// A signature segment (after the last `.`) shorter than this is skipped.
    pub signature: usize,
}

/// Asserts that no token of `tokens`, nor its signature segment, appears in
/// `logs`. The panic message never quotes the token.
pub fn assert_no_token_in<T: AsRef<str>>(
    logs: &str,
    tokens: impl IntoIterator<Item = T>,
    min: ScanMin,
) {
    for token in tokens {
        let token = token.as_ref();
        if token.len() < min.token {
            continue;
        }
        assert!(!logs.contains(token), "a token reached the logs");
        if let Some((_, signature)) = token.rsplit_once('.') {
            if signature.len() >= min.signature {
                assert!(
                    !logs.contains(signature),
                    "a token signature reached the logs"
                );
            }
        }
    }
}
