//! Waiting out a full disk in a farm worker. A job that fails because a disk is full
//! is not the job's fault, and every job this worker takes would fail the same way:
//! each receive spends one of the message's few receives, so within a minute a full
//! disk used to push a title's jobs into the dead-letter queue, and with the embedded
//! store on that disk even the title's failed status could not be written (the title
//! then sat "encoding" with nothing queued). So after such a failure the worker takes
//! no job until the filesystems it writes to (its scratch folder, an embedded store)
//! have room again; the message waits in the queue, its receives unspent. `vodfarm
//! run` does not wait (nobody else frees the space): it fails the title at once.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Room again: a filesystem that was this low when the job failed must gain this
/// much (a chunk's encodes need tens of megabytes)...
const MARGIN: u64 = 64 << 20;
/// ...or reach this much free.
const ENOUGH: u64 = 1 << 30;
/// How often a waiting worker says so.
const SAY_EVERY: Duration = Duration::from_secs(60);

struct Full {
    /// Each watched folder and the bytes free on its filesystem at the failure.
    watched: Vec<(PathBuf, u64)>,
    said: Instant,
}

static FULL: Mutex<Option<Full>> = Mutex::new(None);

/// Bytes free to an unprivileged writer on the filesystem of `path` (or of its
/// nearest existing ancestor); None if that cannot be read.
pub fn free_bytes(path: &Path) -> Option<u64> {
    let existing = path.ancestors().find(|p| p.exists())?;
    let c = std::ffi::CString::new(existing.as_os_str().as_encoded_bytes()).ok()?;
    // SAFETY: statvfs fills the struct we pass; the path is NUL-terminated.
    let mut s: libc::statvfs = unsafe { std::mem::zeroed() };
    if unsafe { libc::statvfs(c.as_ptr(), &mut s) } != 0 {
        return None;
    }
    Some(s.f_bavail as u64 * s.f_frsize as u64)
}

/// A job failed on a full disk: wait for room on these folders' filesystems.
pub fn note_full(folders: &[PathBuf]) {
    let watched: Vec<(PathBuf, u64)> = folders
        .iter()
        .filter_map(|f| Some((f.clone(), free_bytes(f)?)))
        .collect();
    tracing::warn!(
        free = ?watched,
        "disk full: taking no job until there is room again"
    );
    *lock() = Some(Full {
        watched,
        said: Instant::now(),
    });
}

/// Whether this worker may take a job: no full disk noted, or room on every watched
/// filesystem again.
pub fn room() -> bool {
    let mut full = lock();
    let Some(f) = full.as_mut() else {
        return true;
    };
    let has_room = f
        .watched
        .iter()
        .all(|(path, then)| free_bytes(path).is_none_or(|now| roomy(*then, now)));
    if has_room {
        tracing::info!("disk has room again: taking jobs");
        *full = None;
    } else if f.said.elapsed() >= SAY_EVERY {
        tracing::warn!(free = ?f.watched, "disk still full: taking no job");
        f.said = Instant::now();
    }
    has_room
}

/// Whether a filesystem with `then` bytes free at the failure has room with `now`.
fn roomy(then: u64, now: u64) -> bool {
    now >= then.saturating_add(MARGIN).min(ENOUGH)
}

fn lock() -> std::sync::MutexGuard<'static, Option<Full>> {
    FULL.lock().unwrap_or_else(|p| p.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn room_is_a_margin_more_than_at_the_failure_or_enough() {
        assert!(!roomy(100 << 10, 100 << 10));
        assert!(!roomy(100 << 10, (100 << 10) + MARGIN - 1));
        assert!(roomy(100 << 10, (100 << 10) + MARGIN));
        // A disk with a gigabyte free is not the full one, whatever it had.
        assert!(roomy(50 << 30, ENOUGH));
        assert!(!roomy(50 << 30, ENOUGH - 1));
        assert!(roomy(u64::MAX, ENOUGH));
    }

    #[test]
    fn a_noted_disk_holds_jobs_back_until_it_has_room() {
        let dir = tempfile::tempdir().unwrap();
        assert!(free_bytes(&dir.path().join("not/yet/made")).is_some());
        assert!(room());
        note_full(&[dir.path().to_path_buf()]);
        let free = free_bytes(dir.path()).unwrap();
        assert_eq!(room(), roomy(free, free));
        *lock() = None;
        assert!(room());
    }
}
