//! The worker loop shared by `vodfarm run` (N threads in one process) and `vodfarm
//! worker` (any number of processes on any number of machines): receive (long-polling
//! when idle), decode, handle while a heartbeat keeps the message invisible, delete on
//! success; permanent failures fail the title, transient ones come back after an
//! exponential back-off until the last permitted receive, which fails the title naming
//! the cause (so a title never sits dead-lettered without a word); malformed messages
//! go to the dead-letter queue. A stage that panics fails its job like a permanent
//! error: the panic is a bug, and retrying it would only repeat it. A job that fails on
//! a full disk makes a farm worker take no job until there is room again (`room`).

use std::panic::AssertUnwindSafe;
use std::sync::mpsc;
use std::time::Duration;

use crate::messages::{Message, QUEUE_ENCODE, QUEUE_INGEST, QUEUE_PACKAGE};
use crate::metrics::{self, Outcome};
use crate::stages::{handle, Ctx};
use crate::StageError;

/// Visibility while a message is being worked on, unless configured: a heartbeat
/// extends it every third of it, so a dead worker's message is back within this long.
pub const VISIBILITY: Duration = Duration::from_secs(60);
/// First back-off before a transiently failed message is seen again; doubles with
/// every receive.
pub const RETRY_AFTER: Duration = Duration::from_secs(2);
/// The longest back-off: the doubling stops here.
pub const RETRY_MAX: Duration = Duration::from_secs(300);
/// How long a worker waiting for room on a full disk sleeps between looks.
const NO_ROOM_PAUSE: Duration = Duration::from_secs(2);
/// Receives before a message is dead-lettered.
pub const MAX_RECEIVES: u32 = 5;

/// Queues in the order a worker serves them: finish titles before starting new ones.
pub const QUEUES: &[&str] = &[QUEUE_PACKAGE, QUEUE_ENCODE, QUEUE_INGEST];

/// How a worker takes and handles messages; the default serves every queue, no long polling.
pub struct Settings {
    /// How long a received message stays invisible; the heartbeat renews it.
    pub visibility: Duration,
    /// How long to long-poll each queue when a pass found all of them empty.
    pub wait: Duration,
    /// The queues this worker serves, in priority order.
    pub queues: Vec<&'static str>,
    /// Fail a title at once when a job finds the disk full, instead of retrying: for
    /// `vodfarm run`, where nobody else will free the space meanwhile.
    pub disk_full_fails: bool,
    /// A title whose failure the caller reports itself (`vodfarm run` ends with it as
    /// its `error:` line): logged at debug, not as a second error line.
    pub reported_by_caller: Option<crate::TitleId>,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            visibility: VISIBILITY,
            wait: Duration::ZERO,
            queues: QUEUES.to_vec(),
            disk_full_fails: false,
            reported_by_caller: None,
        }
    }
}

fn backoff(receives: u32) -> Duration {
    RETRY_AFTER
        .saturating_mul(1 << receives.saturating_sub(1).min(16))
        .min(RETRY_MAX)
}

/// Take and process one message from the first queue that has one; `wait` long-polls
/// each queue in turn. False if all were empty.
pub fn process_one(ctx: &Ctx, s: &Settings, wait: bool) -> Result<bool, StageError> {
    // After a job failed on a full disk, take none until there is room (see `room`).
    if !s.disk_full_fails && !crate::room::room() {
        std::thread::sleep(NO_ROOM_PAUSE);
        return Ok(false);
    }
    for q in &s.queues {
        let poll = if wait { s.wait } else { Duration::ZERO };
        let Some(msg) = ctx.queue.receive(q, s.visibility, poll)? else {
            continue;
        };
        let m = match Message::decode(&msg.body) {
            Ok(m) => m,
            Err(e) => {
                tracing::error!(queue = q, error = %e, "dead-lettering message");
                ctx.queue.send(&format!("{q}-dlq"), &msg.body)?;
                ctx.queue.delete(q, &msg.receipt)?;
                metrics::get()
                    .jobs_dead_lettered
                    .with_label_values(&[q])
                    .inc();
                return Ok(true);
            }
        };
        let stage = m.stage();
        metrics::get()
            .jobs_received
            .with_label_values(&[stage])
            .inc();
        let started = std::time::Instant::now();
        // The heartbeat: keep the message invisible while the stage runs.
        let (done, stop) = mpsc::channel::<()>();
        let result = std::thread::scope(|scope| {
            let (q, receipt) = (*q, msg.receipt.as_str());
            scope.spawn(move || {
                let every = s.visibility / 3;
                while let Err(mpsc::RecvTimeoutError::Timeout) = stop.recv_timeout(every) {
                    if let Err(e) = ctx.queue.extend(q, receipt, s.visibility) {
                        tracing::warn!(queue = q, error = %e, "visibility heartbeat");
                    }
                }
            });
            let r = std::panic::catch_unwind(AssertUnwindSafe(|| handle(ctx, &m.job, &msg.id)))
                .unwrap_or_else(|panic| {
                    Err(StageError::Panicked {
                        job: format!("{:?}", m.job),
                        message: panic_message(&*panic),
                    })
                });
            drop(done);
            r
        });
        let last_try = msg.receive_count >= MAX_RECEIVES;
        let outcome = match &result {
            Ok(()) => Outcome::Succeeded,
            Err(e) if e.is_transient() && !last_try && !(s.disk_full_fails && e.is_disk_full()) => {
                Outcome::Retried
            }
            Err(_) => Outcome::Failed,
        };
        metrics::get().job_done(stage, outcome, started.elapsed());
        match result {
            Ok(()) => ctx.queue.delete(q, &msg.receipt)?,
            Err(e) if outcome == Outcome::Retried => {
                if e.is_disk_full() {
                    let mut folders = vec![ctx.scratch.clone()];
                    // An embedded store's own disk (a file of it: S3 has none).
                    folders.extend(ctx.store.local_path(&crate::keys::status(m.title())));
                    crate::room::note_full(&folders);
                }
                let after = backoff(msg.receive_count);
                tracing::warn!(title = %m.title(), job = ?m.job, error = %e, receives = msg.receive_count, retry_in = ?after, "will retry");
                let _ = ctx.queue.extend(q, &msg.receipt, after);
            }
            Err(e) => {
                let why = failure_text(&e, msg.receive_count);
                if s.reported_by_caller.as_ref() == Some(m.title()) {
                    tracing::debug!(title = %m.title(), job = ?m.job, error = %why, "failed");
                } else {
                    tracing::error!(title = %m.title(), job = ?m.job, error = %why, "failed");
                }
                // If even the status cannot be written (a full disk), the message stays
                // in flight and comes back; the caller sees the error.
                // A place job runs after publishing: its failure is placement's, not
                // the title's (status::set keeps a published title published).
                crate::events::fail_title(ctx.store.as_ref(), m.title(), why)?;
                ctx.queue.delete(q, &msg.receipt)?;
                if e.is_disk_full() {
                    return Err(e);
                }
            }
        }
        return Ok(true);
    }
    Ok(false)
}

/// What a failed title's status says: the error, its causes, and what to do.
fn failure_text(e: &StageError, receives: u32) -> String {
    let text = crate::error::one_line(e);
    if e.is_disk_full() {
        format!("disk full: {text}; free space, then `vodfarm retry` (or `vodfarm run --retry`)")
    } else if e.is_transient() {
        format!("gave up after {receives} attempts: {text}")
    } else {
        text
    }
}

/// The text a panic was raised with.
pub fn panic_message(p: &(dyn std::any::Any + Send)) -> String {
    p.downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| p.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic without a message".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_and_is_capped() {
        assert_eq!(backoff(1), Duration::from_secs(2));
        assert_eq!(backoff(3), Duration::from_secs(8));
        assert_eq!(backoff(40), RETRY_MAX);
    }
}
