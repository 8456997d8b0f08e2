//! An object store that counts the bytes read and written through it
//! (`vodfarm_store_read_bytes_total` and `..._written_bytes_total`, by backend).

use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use prometheus::IntCounter;

use crate::metrics;
use crate::store::{ObjectStore, StoreError};

/// `inner`, counted under the backend's name (`embedded`, `s3`).
pub struct Metered {
    inner: Arc<dyn ObjectStore>,
    read: IntCounter,
    written: IntCounter,
}

impl Metered {
    /// Count what goes through `inner` as `backend`'s bytes.
    pub fn new(inner: Arc<dyn ObjectStore>, backend: &str) -> Self {
        let m = metrics::get();
        Self {
            inner,
            read: m.store_read_bytes.with_label_values(&[backend]),
            written: m.store_written_bytes.with_label_values(&[backend]),
        }
    }
}

fn file_len(path: &Path) -> u64 {
    std::fs::metadata(path).map(|m| m.len()).unwrap_or(0)
}

/// A reader that counts what is read from it.
struct Counting<R> {
    inner: R,
    read: IntCounter,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read.inc_by(n as u64);
        Ok(n)
    }
}

impl ObjectStore for Metered {
    fn put(&self, key: &str, bytes: &[u8]) -> Result<(), StoreError> {
        self.inner.put(key, bytes)?;
        self.written.inc_by(bytes.len() as u64);
        Ok(())
    }
    fn put_file(&self, key: &str, path: &Path) -> Result<(), StoreError> {
        self.inner.put_file(key, path)?;
        self.written.inc_by(file_len(path));
        Ok(())
    }
    fn get(&self, key: &str) -> Result<Vec<u8>, StoreError> {
        let b = self.inner.get(key)?;
        self.read.inc_by(b.len() as u64);
        Ok(b)
    }
    fn get_to_file(&self, key: &str, path: &Path) -> Result<(), StoreError> {
        self.inner.get_to_file(key, path)?;
        self.read.inc_by(file_len(path));
        Ok(())
    }
    fn read_from(&self, key: &str, offset: u64) -> Result<Box<dyn Read + Send>, StoreError> {
        Ok(Box::new(Counting {
            inner: self.inner.read_from(key, offset)?,
            read: self.read.clone(),
        }))
    }
    fn exists(&self, key: &str) -> Result<bool, StoreError> {
        self.inner.exists(key)
    }
    fn create_if_absent(&self, key: &str, bytes: &[u8]) -> Result<bool, StoreError> {
        let created = self.inner.create_if_absent(key, bytes)?;
        if created {
            self.written.inc_by(bytes.len() as u64);
        }
        Ok(created)
    }
    fn list(&self, prefix: &str) -> Result<Vec<String>, StoreError> {
        self.inner.list(prefix)
    }
    fn delete(&self, key: &str) -> Result<(), StoreError> {
        self.inner.delete(key)
    }
    fn local_path(&self, key: &str) -> Option<PathBuf> {
        self.inner.local_path(key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::LocalStore;

    #[test]
    fn counts_bytes_both_ways() {
        let dir = tempfile::tempdir().unwrap();
        let inner: Arc<dyn ObjectStore> = Arc::new(LocalStore::open(dir.path()).unwrap());
        let s = Metered::new(inner, "metered-test");
        let (r0, w0) = (s.read.get(), s.written.get());
        s.put("a/b", b"12345").unwrap();
        assert!(!s.create_if_absent("a/b", b"xx").unwrap());
        assert_eq!(s.get("a/b").unwrap(), b"12345");
        let mut rest = String::new();
        s.read_from("a/b", 2)
            .unwrap()
            .read_to_string(&mut rest)
            .unwrap();
        assert_eq!(rest, "345");
        assert_eq!(s.written.get() - w0, 5);
        assert_eq!(s.read.get() - r0, 8);
    }
}
