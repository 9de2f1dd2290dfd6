//! Where a client secret or private key comes from, and how it is re-read.

use std::fmt;
use std::io;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use crate::sync::lock;

/// A callback that returns the current secret (see [`SecretSource::from_fn`]).
pub type SecretFn = Arc<dyn Fn() -> io::Result<String> + Send + Sync>;

/// Where a client secret (or a private key PEM for `private_key_jwt`) comes
/// from. Every source except [`Value`](Self::Value) is re-read, so rotating
/// a credential needs no restart.
///
/// | source | read |
/// |---|---|
/// | [`File`](Self::File) | before each token request, cheaply: the file is re-read only when its modification time or size changed (or it changed in the last 2 s, where timestamps are too coarse to tell) |
/// | [`Callback`](Self::Callback) ([`from_fn`](Self::from_fn)) | before each token request |
/// | [`Value`](Self::Value) | never changes |
///
/// Leading and trailing whitespace (the newline of `echo secret > file`) is
/// trimmed. Token requests happen once per token lifetime, not per call,
/// so re-reading costs nothing on the request path.
///
/// # Security
///
/// This is the answer to "no static secrets indefinitely": point `File` at
/// a file your secret manager rotates (a Kubernetes secret volume, a Vault
/// agent template, a systemd credential), or use a callback over your own
/// secret client. The next token request uses the new value; tokens already
/// issued stay valid until they expire. `Debug` never shows the value.
///
/// ```
/// use oauth2_guard::client::SecretSource;
///
/// let from_disk = SecretSource::File("/run/secrets/checkout-client-secret".into());
/// let from_env = SecretSource::from_fn(|| {
///     std::env::var("CHECKOUT_CLIENT_SECRET").map_err(std::io::Error::other)
/// });
/// # let _ = (from_disk, from_env);
/// ```
#[derive(Clone)]
#[non_exhaustive]
pub enum SecretSource {
    /// A fixed value. Rotating it needs a restart; prefer a file or callback.
    Value(String),
    /// A file, re-read when it changes.
    File(PathBuf),
    /// A callback asked before each token request.
    Callback(SecretFn),
}

impl SecretSource {
    /// A source asking `f` before each token request. Errors fail that
    /// request (a cached token stays in use while it is valid).
    pub fn from_fn<F>(f: F) -> Self
    where
        F: Fn() -> io::Result<String> + Send + Sync + 'static,
    {
        SecretSource::Callback(Arc::new(f))
    }
}

impl From<String> for SecretSource {
    fn from(value: String) -> Self {
        SecretSource::Value(value)
    }
}

impl From<&str> for SecretSource {
    fn from(value: &str) -> Self {
        SecretSource::Value(value.to_owned())
    }
}

impl From<PathBuf> for SecretSource {
    fn from(path: PathBuf) -> Self {
        SecretSource::File(path)
    }
}

impl fmt::Debug for SecretSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SecretSource::Value(_) => f.write_str("Value(<redacted>)"),
            SecretSource::File(path) => f.debug_tuple("File").field(path).finish(),
            SecretSource::Callback(_) => f.write_str("Callback(..)"),
        }
    }
}

/// A file younger than this is always re-read: some file systems keep
/// modification times in whole seconds.
const COARSE_MTIME: Duration = Duration::from_secs(2);

struct FileStamp {
    modified: SystemTime,
    len: u64,
    value: Arc<str>,
}

/// Reads a [`SecretSource`], caching file contents by modification time.
pub(crate) struct SecretReader {
    source: SecretSource,
    file: Mutex<Option<FileStamp>>,
}

impl fmt::Debug for SecretReader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.source, f)
    }
}

impl SecretReader {
    pub(crate) fn new(source: SecretSource) -> Self {
        SecretReader {
            source,
            file: Mutex::new(None),
        }
    }

    /// The current secret, trimmed; empty values are an error.
    pub(crate) fn read(&self) -> io::Result<Arc<str>> {
        let value: Arc<str> = match &self.source {
            SecretSource::Value(v) => v.trim().into(),
            SecretSource::Callback(f) => f()?.trim().into(),
            SecretSource::File(path) => {
                let meta = std::fs::metadata(path)?;
                let modified = meta.modified()?;
                let recent = modified.elapsed().map_or(true, |age| age < COARSE_MTIME);
                {
                    let cached = lock(&self.file);
                    if let Some(stamp) = cached.as_ref() {
                        if !recent && stamp.modified == modified && stamp.len == meta.len() {
                            return Ok(stamp.value.clone());
                        }
                    }
                }
                let value: Arc<str> = std::fs::read_to_string(path)?.trim().into();
                let mut cached = lock(&self.file);
                let changed = cached.as_ref().is_some_and(|s| s.value != value);
                if changed {
                    tracing::info!(path = %path.display(), "client credential file changed; using the new value");
                }
                *cached = Some(FileStamp {
                    modified,
                    len: meta.len(),
                    value: value.clone(),
                });
                value
            }
        };
        if value.is_empty() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "the secret is empty",
            ));
        }
        Ok(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_the_value() {
        let s = SecretSource::from("hunter2-very-secret");
        assert!(!format!("{s:?}").contains("hunter2"));
        let r = SecretReader::new(s);
        assert!(!format!("{r:?}").contains("hunter2"));
        assert_eq!(&*r.read().unwrap(), "hunter2-very-secret");
    }

    #[test]
    fn file_is_reread_after_change_and_trimmed() {
        let dir = std::env::temp_dir().join(format!("oauth2-guard-secret-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("secret");
        std::fs::write(&path, "one\n").unwrap();
        let r = SecretReader::new(SecretSource::File(path.clone()));
        assert_eq!(&*r.read().unwrap(), "one");
        std::fs::write(&path, "two\n").unwrap();
        assert_eq!(&*r.read().unwrap(), "two");
        std::fs::write(&path, "  \n").unwrap();
        assert!(r.read().is_err());
        std::fs::remove_file(&path).unwrap();
        assert!(r.read().is_err());
    }

    #[test]
    fn callback_is_asked_each_time() {
        let n = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counter = n.clone();
        let r = SecretReader::new(SecretSource::from_fn(move || {
            let i = counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            Ok(format!("secret-{i}"))
        }));
        assert_eq!(&*r.read().unwrap(), "secret-0");
        assert_eq!(&*r.read().unwrap(), "secret-1");
    }
}
