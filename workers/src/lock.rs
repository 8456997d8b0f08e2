//! The embedded store's lock: one process at a time drives an embedded store, because
//! recovering in-flight messages and cleaning staging files at start-up would steal
//! another live process's work. `vodfarm run` and `vodfarm worker` on an embedded store
//! both hold it.

use std::os::fd::AsRawFd;
use std::path::Path;

use crate::FarmError;

/// Held for the life of the process; released when dropped (or when the process dies).
pub struct StoreLock {
    _file: std::fs::File,
}

/// Take the lock on the store at `root`, or say which store is in use.
pub fn lock_store(root: &Path) -> Result<StoreLock, FarmError> {
    if root.exists() && !root.is_dir() {
        return Err(FarmError::Permanent(format!(
            "store {} is not a directory",
            root.display()
        )));
    }
    std::fs::create_dir_all(root).map_err(FarmError::io(format!("store {}", root.display())))?;
    let f = std::fs::File::create(root.join(".lock")).map_err(FarmError::io(format!(
        "creating the lock of store {}",
        root.display()
    )))?;
    // SAFETY: flock on a descriptor we own.
    let rc = unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
    if rc != 0 {
        return Err(FarmError::Permanent(format!(
            "store {} is in use by another vodfarm process",
            root.display()
        )));
    }
    Ok(StoreLock { _file: f })
}
