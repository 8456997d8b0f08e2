//! An appliance's cache directory. Verified files live at `<dir>/<object key>`, the
//! same paths as at the origin, so manifests' relative URLs resolve on the appliance;
//! downloads in progress live under `<dir>/.partial/` and move into place only after
//! their checksum matched; `<dir>/.index.json` lists the verified files so that a
//! restart does not re-hash the whole cache. Names starting with '.' are never served.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::Digest;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Held {
    pub size: u64,
    pub sha256: String,
}

#[derive(Debug, thiserror::Error)]
pub enum CacheError {
    #[error("object key {0:?} from the fill plan is not a safe relative path")]
    BadKey(String),
    #[error("cache {path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
}

pub(crate) fn io_at(path: &Path) -> impl FnOnce(std::io::Error) -> CacheError + '_ {
    move |source| CacheError::Io {
        path: path.display().to_string(),
        source,
    }
}

pub struct Cache {
    dir: PathBuf,
    index: BTreeMap<String, Held>,
}

const INDEX: &str = ".index.json";
const PARTIAL: &str = ".partial";

/// A fill plan comes from the store, so its keys are checked before they become
/// paths: relative, no empty, '.' or '..' parts, no part starting with '.'.
pub fn check_key(key: &str) -> Result<&str, CacheError> {
    let ok = !key.is_empty()
        && !key.starts_with('/')
        && key.split('/').all(|p| {
            !p.is_empty()
                && !p.starts_with('.')
                && !p.contains('\\')
                && p.chars().all(|c| !c.is_control())
        });
    if ok {
        Ok(key)
    } else {
        Err(CacheError::BadKey(key.to_string()))
    }
}

pub fn sha256_file(path: &Path) -> std::io::Result<String> {
    let mut f = std::fs::File::open(path)?;
    let mut h = sha2::Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(hex::encode(h.finalize()))
}

impl Cache {
    pub fn open(dir: &Path) -> Result<Self, CacheError> {
        std::fs::create_dir_all(dir.join(PARTIAL)).map_err(io_at(dir))?;
        // A missing or unreadable index only costs re-hashing: files not in it are
        // verified again before they count as held.
        let index = std::fs::read(dir.join(INDEX))
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_default();
        Ok(Self {
            dir: dir.to_path_buf(),
            index,
        })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn path(&self, key: &str) -> Result<PathBuf, CacheError> {
        Ok(self.dir.join(check_key(key)?))
    }

    pub fn partial(&self, key: &str) -> Result<PathBuf, CacheError> {
        Ok(self.dir.join(PARTIAL).join(check_key(key)?))
    }

    /// Whether the cache holds `key` with this size and checksum. A file present but
    /// not indexed (a crash after its rename) is hashed once and indexed if it matches.
    pub fn holds(&mut self, key: &str, size: u64, sha256: &str) -> Result<bool, CacheError> {
        let path = self.path(key)?;
        let on_disk = std::fs::metadata(&path).map(|m| m.len()).ok();
        if on_disk != Some(size) {
            self.index.remove(key);
            return Ok(false);
        }
        if let Some(h) = self.index.get(key) {
            return Ok(h.size == size && h.sha256 == sha256);
        }
        let actual = sha256_file(&path).map_err(io_at(&path))?;
        if actual == sha256 {
            self.insert(key, size, sha256);
            Ok(true)
        } else {
            Ok(false)
        }
    }

    pub fn insert(&mut self, key: &str, size: u64, sha256: &str) {
        self.index.insert(
            key.to_string(),
            Held {
                size,
                sha256: sha256.to_string(),
            },
        );
    }

    /// Delete a held file and its index entry; empty parent folders go too.
    pub fn remove(&mut self, key: &str) -> Result<(), CacheError> {
        let path = self.path(key)?;
        self.index.remove(key);
        match std::fs::remove_file(&path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(io_at(&path)(e)),
        }
        let mut d = path.parent();
        while let Some(p) = d {
            if p == self.dir || std::fs::remove_dir(p).is_err() {
                break;
            }
            d = p.parent();
        }
        Ok(())
    }

    /// Every file in the cache (outside the dot folders), as object keys.
    pub fn files(&self) -> Result<Vec<String>, CacheError> {
        let mut out = Vec::new();
        let mut stack = vec![self.dir.clone()];
        while let Some(d) = stack.pop() {
            for e in std::fs::read_dir(&d).map_err(io_at(&d))? {
                let e = e.map_err(io_at(&d))?;
                if e.file_name().to_string_lossy().starts_with('.') {
                    continue;
                }
                let p = e.path();
                if p.is_dir() {
                    stack.push(p);
                } else if let Ok(rel) = p.strip_prefix(&self.dir) {
                    out.push(rel.to_string_lossy().replace('\\', "/"));
                }
            }
        }
        out.sort();
        Ok(out)
    }

    /// Partial downloads, as object keys.
    pub fn partials(&self) -> Result<Vec<String>, CacheError> {
        let root = self.dir.join(PARTIAL);
        let mut out = Vec::new();
        let mut stack = vec![root.clone()];
        while let Some(d) = stack.pop() {
            for e in std::fs::read_dir(&d).map_err(io_at(&d))? {
                let p = e.map_err(io_at(&d))?.path();
                if p.is_dir() {
                    stack.push(p);
                } else if let Ok(rel) = p.strip_prefix(&root) {
                    out.push(rel.to_string_lossy().replace('\\', "/"));
                }
            }
        }
        Ok(out)
    }

    /// Write the index (temporary file, then rename).
    pub fn save(&self) -> Result<(), CacheError> {
        let path = self.dir.join(INDEX);
        let tmp = self.dir.join(".index.json.tmp");
        std::fs::write(&tmp, serde_json::to_vec(&self.index).expect("serialisable"))
            .map_err(io_at(&tmp))?;
        std::fs::rename(&tmp, &path).map_err(io_at(&path))
    }

    /// Free bytes on the cache's file system.
    pub fn free_bytes(&self) -> Option<u64> {
        let c = std::ffi::CString::new(self.dir.as_os_str().as_encoded_bytes()).ok()?;
        let mut s: libc::statvfs = unsafe { std::mem::zeroed() };
        // SAFETY: `c` is a valid NUL-terminated path and `s` a writable statvfs.
        let rc = unsafe { libc::statvfs(c.as_ptr(), &mut s) };
        (rc == 0).then(|| s.f_bavail as u64 * s.f_frsize as u64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_from_plans_are_checked() {
        for ok in ["origin/t/master.m3u8", "origin/t/v720p/1.m4s"] {
            assert!(check_key(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "/etc/passwd",
            "origin/../x",
            "origin//x",
            ".index.json",
            "a/.partial/b",
        ] {
            assert!(check_key(bad).is_err(), "{bad}");
        }
    }
}
