//! The worker loop shared by `vodfarm run` (N threads in one process) and `vodfarm
//! worker` (any number of processes on any number of machines): receive (long-polling
//! when idle), decode, handle while a heartbeat keeps the message invisible, delete on
//! success; permanent failures fail the title, transient ones come back after an
//! exponential back-off, malformed messages go to the dead-letter queue.

use std::sync::mpsc;
use std::time::Duration;

use crate::messages::{Message, QUEUE_ENCODE, QUEUE_INGEST, QUEUE_PACKAGE};
use crate::stages::{handle, Ctx};
use crate::status::{self, State};
use crate::StageError;

/// Visibility while a message is being worked on, unless configured: a heartbeat
/// extends it every third of it, so a dead worker's message is back within this long.
pub const VISIBILITY: Duration = Duration::from_secs(60);
/// First back-off before a transiently failed message is seen again; doubles with
/// every receive.
pub const RETRY_AFTER: Duration = Duration::from_secs(2);
pub const RETRY_MAX: Duration = Duration::from_secs(300);
/// Receives before a message is dead-lettered.
pub const MAX_RECEIVES: u32 = 5;

/// Queues in the order a worker serves them: finish titles before starting new ones.
pub const QUEUES: &[&str] = &[QUEUE_PACKAGE, QUEUE_ENCODE, QUEUE_INGEST];

pub struct Settings {
    pub visibility: Duration,
    /// How long to long-poll each queue when a pass found all of them empty.
    pub wait: Duration,
    /// The queues this worker serves, in priority order.
    pub queues: Vec<&'static str>,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            visibility: VISIBILITY,
            wait: Duration::ZERO,
            queues: QUEUES.to_vec(),
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
                return Ok(true);
            }
        };
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
            let r = handle(ctx, &m.job, &msg.id);
            drop(done);
            r
        });
        match result {
            Ok(()) => ctx.queue.delete(q, &msg.receipt)?,
            Err(StageError::Permanent(e)) => {
                tracing::error!(title = %m.title(), job = ?m.job, error = %e, "failed");
                status::set(ctx.store.as_ref(), m.title(), State::Failed, Some(e))?;
                ctx.queue.delete(q, &msg.receipt)?;
            }
            Err(StageError::Transient(e)) => {
                let after = backoff(msg.receive_count);
                tracing::warn!(title = %m.title(), job = ?m.job, error = %e, receives = msg.receive_count, retry_in = ?after, "will retry");
                let _ = ctx.queue.extend(q, &msg.receipt, after);
            }
        }
        return Ok(true);
    }
    Ok(false)
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
