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

/// A reader that stops reading our standard output (`vodfarm status --json | head`)
/// ends the command quietly, as it ends any Unix tool: exit status 141 (killed by
/// SIGPIPE), no panic message. Rust ignores SIGPIPE so that a socket closed by its
/// peer is an error, not death (the console, the webhooks), so `println!` panics
/// instead; this turns that one panic back into the tool's usual end.
pub fn quiet_on_closed_stdout() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let text = info
            .payload()
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| info.payload().downcast_ref::<&str>().copied())
            .unwrap_or("");
        if text.starts_with("failed printing to stdout") && text.contains("Broken pipe") {
            std::process::exit(128 + libc::SIGPIPE);
        }
        default(info);
    }));
}
