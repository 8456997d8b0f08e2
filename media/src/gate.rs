//! How many chunks of this process may encode and measure at once.
//!
//! A chunk encode runs one x264 per rung at the same time, and those encoders are most
//! of a worker's memory (a 720p veryfast x264 holds some 75 MiB of frames for its
//! lookahead, a 1080p one 156 MiB); measuring its renditions afterwards holds libvmaf
//! contexts of about 126 MiB each at 1080p. Two chunks encoding together doubled the
//! peak, and one chunk measuring while the next encoded added some 180 MiB. One
//! chunk's rung threads alone already outnumber two cores, and it keeps two threads
//! busy encoding or measuring to its end (`video::BUSY_AT_ONCE`), so the cores stay
//! as busy when a process lets `limit` chunks hold a place at once and a chunk keeps
//! its place until it has measured. Scheduling only: what is encoded and measured is
//! the same.

use std::sync::{Condvar, Mutex};

struct Gate {
    /// (encodes holding a place, the most allowed; 0: no limit).
    state: Mutex<(usize, usize)>,
    freed: Condvar,
}

static GATE: Gate = Gate {
    state: Mutex::new((0, 0)),
    freed: Condvar::new(),
};

/// At most `limit` chunk encodes hold their encoders at once in this process (0: no
/// limit, the default). Takes effect for the encodes that start after it.
pub fn set_encodes_at_once(limit: usize) {
    let mut s = GATE.state.lock().unwrap_or_else(|e| e.into_inner());
    s.1 = limit;
    GATE.freed.notify_all();
}

/// A chunk encode's place; given back when dropped.
pub struct Place(());

/// Wait for a place.
pub fn enter() -> Place {
    let mut s = GATE.state.lock().unwrap_or_else(|e| e.into_inner());
    while s.1 != 0 && s.0 >= s.1 {
        s = GATE.freed.wait(s).unwrap_or_else(|e| e.into_inner());
    }
    s.0 += 1;
    Place(())
}

impl Drop for Place {
    fn drop(&mut self) {
        let mut s = GATE.state.lock().unwrap_or_else(|e| e.into_inner());
        s.0 -= 1;
        GATE.freed.notify_one();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    /// With a limit of 2, eight threads never hold more than two places at once, and
    /// every one of them gets in.
    #[test]
    fn at_most_limit_places_are_held() {
        set_encodes_at_once(2);
        let (inside, most, done) = (
            Arc::new(AtomicUsize::new(0)),
            Arc::new(AtomicUsize::new(0)),
            Arc::new(AtomicUsize::new(0)),
        );
        let threads: Vec<_> = (0..8)
            .map(|_| {
                let (inside, most, done) = (inside.clone(), most.clone(), done.clone());
                std::thread::spawn(move || {
                    let _p = enter();
                    let n = inside.fetch_add(1, Ordering::SeqCst) + 1;
                    most.fetch_max(n, Ordering::SeqCst);
                    std::thread::sleep(std::time::Duration::from_millis(20));
                    inside.fetch_sub(1, Ordering::SeqCst);
                    done.fetch_add(1, Ordering::SeqCst);
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        set_encodes_at_once(0);
        assert_eq!(done.load(Ordering::SeqCst), 8);
        assert_eq!(most.load(Ordering::SeqCst), 2);
    }
}
