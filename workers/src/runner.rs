//! The worker loop shared by `vodfarm run` (N threads in one process) and, later,
//! `vodfarm worker`: receive, decode, handle, delete; permanent failures fail the title,
//! transient ones are retried after a back-off, malformed messages are dead-lettered.

use std::time::Duration;

use crate::messages::{Message, QUEUE_ENCODE, QUEUE_INGEST, QUEUE_PACKAGE};
use crate::stages::{handle, Ctx};
use crate::status::{self, State};
use crate::StageError;

/// Visibility while a message is being worked on (embedded runs recover in-flight
/// messages at start-up, so this only matters for concurrent processes).
pub const VISIBILITY: Duration = Duration::from_secs(30 * 60);
/// Back-off before a transiently failed message is seen again.
pub const RETRY_AFTER: Duration = Duration::from_secs(2);
/// Receives before a message is dead-lettered.
pub const MAX_RECEIVES: u32 = 5;

/// Queues in the order a worker serves them: finish titles before starting new ones.
pub const QUEUES: &[&str] = &[QUEUE_PACKAGE, QUEUE_ENCODE, QUEUE_INGEST];

/// Take and process one message from the first queue that has one. False if all empty.
pub fn process_one(ctx: &Ctx) -> Result<bool, StageError> {
    for q in QUEUES {
        let Some(msg) = ctx.queue.receive(q, VISIBILITY)? else {
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
        match handle(ctx, &m.job) {
            Ok(()) => ctx.queue.delete(q, &msg.receipt)?,
            Err(StageError::Permanent(e)) => {
                tracing::error!(title = %m.title(), job = ?m.job, error = %e, "failed");
                status::set(ctx.store.as_ref(), m.title(), State::Failed, Some(e))?;
                ctx.queue.delete(q, &msg.receipt)?;
            }
            Err(StageError::Transient(e)) => {
                tracing::warn!(title = %m.title(), job = ?m.job, error = %e, receives = msg.receive_count, "will retry");
                let _ = ctx.queue.extend(q, &msg.receipt, RETRY_AFTER);
            }
        }
        return Ok(true);
    }
    Ok(false)
}
