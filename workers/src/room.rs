//! Waiting out a full disk in a farm worker. A job that fails because a disk is full
//! is not the job's fault, and every job this worker takes would fail the same way:
//! each receive spends one of the message's few receives, so within a minute a full
//! disk used to push a title's jobs into the dead-letter queue, and with the embedded
//! store on that disk even the title's failed status could not be written (the title
//! then sat "encoding" with nothing queued). So after such a failure the worker takes
//! no job until the filesystems it writes to (its scratch folder, an embedded store)
//! have room again, for at most [`MAX_WAIT`]; the message waits in the queue, its
//! receives unspent. The wait ends early: a disk that was only full for a while does
//! not hold the title back; and at most: a master too large for the disk (the job
//! filled it itself, then its scratch was removed) fails its title after its five
//! receives, as before, only later. `vodfarm run` does not wait (nobody else frees the
//! space): it fails the title at once.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Room again: a filesystem that was this low when the job failed must gain this
/// much (a chunk's encodes need tens of megabytes)...
const MARGIN: u64 = 64 << 20;
/// ...or reach this much free.
const ENOUGH: u64 = 1 << 30;
/// The longest wait after one failure: then a job is let through to try again.
pub const MAX_WAIT: Duration = Duration::from_secs(120);
/// How often a waiting worker says so.
const SAY_EVERY: Duration = Duration::from_secs(60);

struct Full {
    /// Each watched folder and its filesystem's (free, size) bytes at the failure.
    watched: Vec<(PathBuf, Space)>,
    since: Instant,
    said: Instant,
}

/// Bytes free to an unprivileged writer, and the filesystem's size.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Space {
    /// Bytes an unprivileged writer may still use.
    pub free: u64,
    /// The filesystem's size in bytes.
    pub size: u64,
}

static FULL: Mutex<Option<Full>> = Mutex::new(None);

/// Bytes free to an unprivileged writer on the filesystem of `path` (or of its
/// nearest existing ancestor); None if that cannot be read.
pub fn space(path: &Path) -> Option<Space> {
    let existing = path.ancestors().find(|p| p.exists())?;
    let c = std::ffi::CString::new(existing.as_os_str().as_encoded_bytes()).ok()?;
    // SAFETY: statvfs fills the struct we pass; the path is NUL-terminated.
    let mut s: libc::statvfs = unsafe { std::mem::zeroed() };
    if unsafe { libc::statvfs(c.as_ptr(), &mut s) } != 0 {
        return None;
    }
    Some(Space {
        free: s.f_bavail as u64 * s.f_frsize as u64,
        size: s.f_blocks as u64 * s.f_frsize as u64,
    })
}

/// A job failed on a full disk: wait for room on these folders' filesystems.
pub fn note_full(folders: &[PathBuf]) {
    let watched: Vec<(PathBuf, Space)> = folders
        .iter()
        .filter_map(|f| Some((f.clone(), space(f)?)))
        .collect();
    tracing::warn!(
        space = ?watched,
        wait_at_most = ?MAX_WAIT,
        "disk full: taking no job until there is room again"
    );
    *lock() = Some(Full {
        watched,
        since: Instant::now(),
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
    let now: Vec<Option<Space>> = f.watched.iter().map(|(p, _)| space(p)).collect();
    let has_room = f
        .watched
        .iter()
        .zip(&now)
        .all(|((_, then), now)| now.is_none_or(|now| roomy(*then, now.free)));
    if has_room || f.since.elapsed() >= MAX_WAIT {
        tracing::info!(room = has_room, "taking jobs again");
        *full = None;
        return true;
    }
    if f.said.elapsed() >= SAY_EVERY {
        tracing::warn!(space_now = ?now, "disk still full: taking no job");
        f.said = Instant::now();
    }
    false
}

/// Whether a filesystem as it was at the failure (`then`) has room with `now` bytes
/// free: a margin more, or a gigabyte, or half of what was in use then freed (a small
/// filesystem cannot gain a gigabyte).
fn roomy(then: Space, now: u64) -> bool {
    let half_freed = then.free + then.size.saturating_sub(then.free) / 2;
    now >= then
        .free
        .saturating_add(MARGIN)
        .min(ENOUGH)
        .min(half_freed.max(then.free + 1))
}

fn lock() -> std::sync::MutexGuard<'static, Option<Full>> {
    FULL.lock().unwrap_or_else(|p| p.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(free: u64, size: u64) -> Space {
        Space { free, size }
    }

    #[test]
    fn room_is_a_margin_more_or_enough_or_half_of_what_was_used() {
        let big = 100 << 30;
        assert!(!roomy(at(100 << 10, big), 100 << 10));
        assert!(!roomy(at(100 << 10, big), (100 << 10) + MARGIN - 1));
        assert!(roomy(at(100 << 10, big), (100 << 10) + MARGIN));
        // A disk with a gigabyte free is not the full one, whatever it had.
        assert!(roomy(at(50 << 30, big), ENOUGH));
        assert!(!roomy(at(50 << 30, big), ENOUGH - 1));
        // A 40 MiB filesystem filled to 100 KiB: half of it freed is room.
        let small = 40 << 20;
        assert!(!roomy(at(100 << 10, small), 10 << 20));
        assert!(roomy(at(100 << 10, small), 21 << 20));
        // Empty when the job failed (it filled the disk itself): any byte more; none
        // comes, so the wait ends at MAX_WAIT.
        assert!(!roomy(at(small, small), small));
    }

    #[test]
    fn a_noted_disk_holds_jobs_back_until_it_has_room() {
        let dir = tempfile::tempdir().unwrap();
        assert!(space(&dir.path().join("not/yet/made")).is_some());
        assert!(room());
        note_full(&[dir.path().to_path_buf()]);
        let s = space(dir.path()).unwrap();
        assert_eq!(room(), roomy(s, s.free));
        // A wait that began MAX_WAIT ago ends, room or not.
        if let Some(f) = lock().as_mut() {
            f.since = Instant::now() - MAX_WAIT;
        }
        assert!(room());
        assert!(lock().is_none());
    }
}
