//! The object store: S3 semantics (flat keys, whole-object puts, conditional create)
//! behind a trait, with the embedded backend: a local directory using the same key
//! layout. Puts are atomic (write to a temporary file, then rename), so a crash never
//! leaves a half-written object under its real key. Temporary files live in the store's
//! own `.staging/` folder (same file system, so the rename stays atomic), never beside
//! the object: a process killed mid-write leaves nothing under `origin/` for a web
//! server to list. Objects get mode 0666 less the umask, like any file a user writes,
//! so a web server running as another user can serve the origin.

use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

/// Why an object store call failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// No object under the key.
    #[error("object {key} not found")]
    NotFound {
        /// The key asked for.
        key: String,
    },
    /// A local file operation failed: the embedded store's, or a file uploaded or downloaded.
    #[error("object store {what} {key}: {source}")]
    Io {
        /// The operation: `put`, `get`, `create`, `list` or `delete`.
        what: &'static str,
        /// The key it was about (the prefix for `list`, the folder when opening a store).
        key: String,
        /// The file-system error; its kind decides whether a retry can help.
        #[source]
        source: std::io::Error,
    },
    /// A remote store (S3) refused or failed a request.
    #[error("object store {what} {key}: {detail}")]
    Remote {
        /// The request that failed (`put`, `get`, `list`, ...).
        what: &'static str,
        /// The key (or the prefix listed, or the bucket made) it was about.
        key: String,
        /// The HTTP status, when the request got an answer.
        status: Option<u16>,
        /// What the store answered, or why there was no answer.
        detail: String,
    },
}

impl StoreError {
    /// Whether the same call may succeed later: timeouts, resets, throttling (429,
    /// 503 SlowDown), conflicting conditional writes (409) and other 5xx answers; not a
    /// missing key, a refused permission or another 4xx answer.
    pub fn is_transient(&self) -> bool {
        match self {
            StoreError::NotFound { .. } => false,
            StoreError::Io { source, .. } => crate::error::io_is_transient(source),
            StoreError::Remote { status, .. } => match status {
                None => true,
                // 409: a conditional write raced another one (S3's
                // ConditionalRequestConflict); trying again settles it.
                Some(s) => *s >= 500 || *s == 429 || *s == 408 || *s == 409,
            },
        }
    }
}

/// Where the farm's objects live: S3, or the embedded local directory.
pub trait ObjectStore: Send + Sync {
    /// Store `bytes` under `key` whole, replacing any object there.
    fn put(&self, key: &str, bytes: &[u8]) -> Result<(), StoreError>;
    /// Upload a local file (streamed; memory does not grow with its size).
    fn put_file(&self, key: &str, path: &Path) -> Result<(), StoreError>;
    /// The whole object under `key`; `NotFound` when there is none.
    fn get(&self, key: &str) -> Result<Vec<u8>, StoreError>;
    /// Download to a local file (streamed).
    fn get_to_file(&self, key: &str, path: &Path) -> Result<(), StoreError>;
    /// Stream the object from byte `offset` to its end (S3: a ranged GET), so that an
    /// interrupted download resumes where it stopped.
    fn read_from(&self, key: &str, offset: u64) -> Result<Box<dyn Read + Send>, StoreError>;
    /// Whether an object is stored under `key`.
    fn exists(&self, key: &str) -> Result<bool, StoreError>;
    /// Create `key` only if absent (S3 `If-None-Match: *`). True if this call created it.
    fn create_if_absent(&self, key: &str, bytes: &[u8]) -> Result<bool, StoreError>;
    /// Keys under `prefix`, sorted.
    fn list(&self, prefix: &str) -> Result<Vec<String>, StoreError>;
    /// Remove the object under `key`; a missing one is not an error (as with S3).
    fn delete(&self, key: &str) -> Result<(), StoreError>;
    /// A local path holding the object, when the backend has one (saves a copy).
    fn local_path(&self, _key: &str) -> Option<PathBuf> {
        None
    }
}

/// Where the embedded store writes objects before renaming them into place.
pub const STAGING: &str = ".staging";

/// The process's umask (read by setting it and putting it back, once).
fn umask() -> u32 {
    static MASK: std::sync::OnceLock<u32> = std::sync::OnceLock::new();
    *MASK.get_or_init(|| {
        // SAFETY: umask has no failure mode; the second call restores the value.
        let old = unsafe { libc::umask(0o022) };
        unsafe { libc::umask(old) };
        old as u32
    })
}

/// The embedded backend: `<root>/<key>`.
pub struct LocalStore {
    root: PathBuf,
}

fn io<'a>(what: &'static str, key: &'a str) -> impl FnOnce(std::io::Error) -> StoreError + 'a {
    move |source| {
        if source.kind() == std::io::ErrorKind::NotFound {
            StoreError::NotFound {
                key: key.to_string(),
            }
        } else {
            StoreError::Io {
                what,
                key: key.to_string(),
                source,
            }
        }
    }
}

impl LocalStore {
    /// The store rooted at `root`, creating the folder when missing.
    pub fn open(root: &Path) -> Result<Self, StoreError> {
        let what = root.display().to_string();
        // create_dir_all says "File exists" of a file in the way.
        if root.exists() && !root.is_dir() {
            let e = std::io::Error::new(std::io::ErrorKind::NotADirectory, "not a directory");
            return Err(io("open", &what)(e));
        }
        std::fs::create_dir_all(root).map_err(io("create", &what))?;
        Ok(Self {
            root: root.to_path_buf(),
        })
    }

    /// The folder objects are stored under.
    pub fn root(&self) -> &Path {
        &self.root
    }

    fn path(&self, key: &str) -> PathBuf {
        // Keys are built by `keys` from validated parts; refuse anything else outright.
        assert!(
            !key.is_empty()
                && !key.starts_with('/')
                && !key.split('/').any(|p| p == ".." || p == "."),
            "invalid object key {key:?}"
        );
        self.root.join(key)
    }

    /// A temporary file in `.staging/` for an object to be renamed to `path`: its
    /// folder is made, and its mode set to what a new file would get (0666 less the
    /// umask) rather than tempfile's 0600.
    fn temp_for(&self, path: &Path) -> Result<tempfile::NamedTempFile, std::io::Error> {
        let dir = path.parent().expect("keys have a parent");
        std::fs::create_dir_all(dir)?;
        let staging = self.root.join(STAGING);
        std::fs::create_dir_all(&staging)?;
        let tmp = tempfile::Builder::new()
            .prefix(".tmp-")
            .tempfile_in(staging)?;
        use std::os::unix::fs::PermissionsExt;
        tmp.as_file()
            .set_permissions(std::fs::Permissions::from_mode(0o666 & !umask()))?;
        Ok(tmp)
    }

    /// Remove temporary files left by killed processes. Only safe while no other
    /// process writes to the store (`vodfarm run` holds the store lock).
    pub fn clean_staging(&self) -> Result<usize, StoreError> {
        let dir = self.root.join(STAGING);
        let mut n = 0;
        if let Ok(rd) = std::fs::read_dir(&dir) {
            for e in rd.flatten() {
                if std::fs::remove_file(e.path()).is_ok() {
                    n += 1;
                }
            }
        }
        Ok(n)
    }
}

impl ObjectStore for LocalStore {
    fn put(&self, key: &str, bytes: &[u8]) -> Result<(), StoreError> {
        let path = self.path(key);
        let mut tmp = self.temp_for(&path).map_err(io("put", key))?;
        tmp.write_all(bytes).map_err(io("put", key))?;
        tmp.as_file().sync_data().map_err(io("put", key))?;
        tmp.persist(&path).map_err(|e| io("put", key)(e.error))?;
        Ok(())
    }

    fn put_file(&self, key: &str, src: &Path) -> Result<(), StoreError> {
        let path = self.path(key);
        let tmp = self.temp_for(&path).map_err(io("put", key))?;
        // Copy the bytes only: fs::copy would also give the object the source's mode.
        let mut from = std::fs::File::open(src).map_err(io("put", key))?;
        std::io::copy(&mut from, &mut tmp.as_file()).map_err(io("put", key))?;
        tmp.persist(&path).map_err(|e| io("put", key)(e.error))?;
        Ok(())
    }

    fn get(&self, key: &str) -> Result<Vec<u8>, StoreError> {
        std::fs::read(self.path(key)).map_err(io("get", key))
    }

    fn get_to_file(&self, key: &str, dst: &Path) -> Result<(), StoreError> {
        std::fs::copy(self.path(key), dst).map_err(io("get", key))?;
        Ok(())
    }

    fn read_from(&self, key: &str, offset: u64) -> Result<Box<dyn Read + Send>, StoreError> {
        let mut f = std::fs::File::open(self.path(key)).map_err(io("get", key))?;
        f.seek(SeekFrom::Start(offset)).map_err(io("get", key))?;
        Ok(Box::new(f))
    }

    fn exists(&self, key: &str) -> Result<bool, StoreError> {
        Ok(self.path(key).is_file())
    }

    fn create_if_absent(&self, key: &str, bytes: &[u8]) -> Result<bool, StoreError> {
        let path = self.path(key);
        // Write the body aside, then link it in: link fails if the key exists, so the
        // object appears whole or not at all, and only one creator wins.
        let mut tmp = self.temp_for(&path).map_err(io("create", key))?;
        tmp.write_all(bytes).map_err(io("create", key))?;
        match std::fs::hard_link(tmp.path(), &path) {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(false),
            Err(e) => Err(io("create", key)(e)),
        }
    }

    fn list(&self, prefix: &str) -> Result<Vec<String>, StoreError> {
        let (dir_part, _) = prefix.rsplit_once('/').unwrap_or(("", prefix));
        let base = if dir_part.is_empty() {
            self.root.clone()
        } else {
            self.path(dir_part)
        };
        let mut out = Vec::new();
        let mut stack = vec![base];
        while let Some(d) = stack.pop() {
            let rd = match std::fs::read_dir(&d) {
                Ok(rd) => rd,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(io("list", prefix)(e)),
            };
            for entry in rd {
                let entry = entry.map_err(io("list", prefix))?;
                let p = entry.path();
                let name = entry.file_name();
                // Temporary files, the staging folder, the lock: not objects.
                if name.to_string_lossy().starts_with('.') {
                    continue;
                }
                if p.is_dir() {
                    stack.push(p);
                } else if let Ok(rel) = p.strip_prefix(&self.root) {
                    let key = rel.to_string_lossy().replace('\\', "/");
                    if key.starts_with(prefix) {
                        out.push(key);
                    }
                }
            }
        }
        out.sort();
        Ok(out)
    }

    fn delete(&self, key: &str) -> Result<(), StoreError> {
        match std::fs::remove_file(self.path(key)) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(io("delete", key)(e)),
        }
    }

    fn local_path(&self, key: &str) -> Option<PathBuf> {
        let p = self.path(key);
        p.is_file().then_some(p)
    }
}
