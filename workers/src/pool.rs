//! The one worker pool, for `vodfarm run` (threads in one process beside a watcher)
//! and `vodfarm worker` (a process serving the farm's queues). Each slot runs
//! [`runner::process_one`] until told to stop. A slot whose loop panics is replaced
//! (the panic is logged with its message); errors outside a stage (the queue, the
//! status record) are kept in a report so that the caller can end with the real cause
//! instead of waiting forever.

use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::runner::{self, Settings};
use crate::stages::Ctx;

/// The last error the pool's slots met outside a stage, and when.
#[derive(Debug, Clone)]
pub struct PoolError {
    /// When it happened.
    pub at: Instant,
    /// The error, as text.
    pub message: String,
    /// Whether the cause was a full disk.
    pub disk_full: bool,
}

/// What the pool has seen, shared with its caller.
#[derive(Debug, Default, Clone)]
pub struct Report {
    /// Jobs taken (messages received and handled, whatever the outcome).
    pub jobs: u64,
    /// Errors outside a stage since the last job that went through.
    pub errors_in_a_row: u64,
    /// The latest error outside a stage, if any.
    pub last_error: Option<PoolError>,
    /// Slots replaced after a panic.
    pub panics: u64,
}

/// A running pool: `stop()` lets each slot finish the job it holds, then returns.
pub struct Pool {
    stop: Arc<AtomicBool>,
    report: Arc<Mutex<Report>>,
    handles: Vec<JoinHandle<()>>,
}

/// How long a slot sleeps when every queue was empty (without long polling).
const IDLE: Duration = Duration::from_millis(100);

impl Pool {
    /// Start `n` slots serving `settings.queues`. `long_poll` makes idle slots wait on
    /// the queue (the farm) rather than sleep (one process, embedded queue). Half of
    /// the slots (at least one) may hold chunk encoders at once (`media::gate`): a
    /// chunk encode runs a thread per rung, so half keep the cores busy while the
    /// other slots measure, package or ingest, at about half the encoders' memory.
    pub fn start(ctx: Arc<Ctx>, settings: Arc<Settings>, n: usize, long_poll: bool) -> Pool {
        media::gate::set_encodes_at_once((n / 2).max(1));
        let stop = Arc::new(AtomicBool::new(false));
        let report = Arc::new(Mutex::new(Report::default()));
        let handles = (0..n.max(1))
            .map(|slot| {
                let (ctx, settings, stop, report) =
                    (ctx.clone(), settings.clone(), stop.clone(), report.clone());
                std::thread::Builder::new()
                    .name(format!("vodfarm-slot-{slot}"))
                    .spawn(move || slot_loop(&ctx, &settings, &stop, &report, long_poll))
                    .expect("spawning a worker thread")
            })
            .collect();
        Pool {
            stop,
            report,
            handles,
        }
    }

    /// A copy of what the pool has seen so far.
    pub fn report(&self) -> Report {
        self.report
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Whether someone asked the pool to stop.
    pub fn stopping(&self) -> bool {
        self.stop.load(Ordering::SeqCst)
    }

    /// The flag that stops the pool (for a signal handler's thread to set).
    pub fn stop_flag(&self) -> Arc<AtomicBool> {
        self.stop.clone()
    }

    /// Stop taking work; wait for every slot to finish the job it holds.
    pub fn stop(self) {
        self.stop.store(true, Ordering::SeqCst);
        for h in self.handles {
            // Slots catch their own panics; a join error cannot carry news.
            let _ = h.join();
        }
    }
}

/// One slot: process messages until stopped. A panic outside a stage's handler (the
/// runner catches those inside) replaces the loop: logged, counted, and the slot
/// goes on, so the pool never shrinks.
fn slot_loop(
    ctx: &Ctx,
    settings: &Settings,
    stop: &AtomicBool,
    report: &Mutex<Report>,
    long_poll: bool,
) {
    let mut idle = false;
    while !stop.load(Ordering::SeqCst) {
        let step = std::panic::catch_unwind(AssertUnwindSafe(|| {
            runner::process_one(ctx, settings, long_poll && idle)
        }));
        let mut r = report.lock().unwrap_or_else(|p| p.into_inner());
        match step {
            Ok(Ok(found)) => {
                if found {
                    r.jobs += 1;
                    r.errors_in_a_row = 0;
                }
                idle = !found;
                drop(r);
                if !found && !long_poll {
                    std::thread::sleep(IDLE);
                }
            }
            Ok(Err(e)) => {
                tracing::error!(error = %e, "worker");
                r.errors_in_a_row += 1;
                r.last_error = Some(PoolError {
                    at: Instant::now(),
                    message: e.to_string(),
                    disk_full: e.is_disk_full(),
                });
                let pause = Duration::from_millis(500 * r.errors_in_a_row.min(4));
                drop(r);
                std::thread::sleep(pause);
            }
            Err(panic) => {
                let message = runner::panic_message(&*panic);
                tracing::error!(panic = %message, "worker slot panicked; replacing it");
                r.panics += 1;
                r.errors_in_a_row += 1;
                r.last_error = Some(PoolError {
                    at: Instant::now(),
                    message: format!("a worker panicked: {message}"),
                    disk_full: false,
                });
            }
        }
    }
}
