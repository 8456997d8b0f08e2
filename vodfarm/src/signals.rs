//! SIGTERM and SIGINT: stop taking work, finish what is held, exit 0 (ECS sends
//! SIGTERM before it stops a task).

use std::sync::atomic::{AtomicBool, Ordering};

static STOP: AtomicBool = AtomicBool::new(false);

extern "C" fn on_signal(_: libc::c_int) {
    STOP.store(true, Ordering::SeqCst);
}

/// Install the handlers for SIGTERM and SIGINT.
pub fn install() {
    // SAFETY: the handler only stores to an atomic.
    unsafe {
        libc::signal(libc::SIGTERM, on_signal as *const () as libc::sighandler_t);
        libc::signal(libc::SIGINT, on_signal as *const () as libc::sighandler_t);
    }
}

/// Whether either signal has arrived.
pub fn stopped() -> bool {
    STOP.load(Ordering::SeqCst)
}
