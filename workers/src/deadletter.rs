//! The farm's dead-letter queues for ops: what is in them and why, and the two things
//! to do about a message there: requeue it on the queue it came from, or discard it.
//! Built on the [`Queue`] trait alone, so it works the same on the embedded queue and
//! on SQS (whose redrive policy moves messages there by itself).

use std::time::Duration;

use crate::messages::{Job, Message};
use crate::queue::{Queue, QueueError};
use crate::runner;
use crate::store::{ObjectStore, StoreError};

/// A message in a dead-letter queue, with the reason it is there.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct DeadLetter {
    /// The queue it was dead-lettered from (`ingest`, `encode`, `package`).
    pub queue: String,
    /// Its id (stable across deliveries; what requeue and discard name).
    pub id: String,
    /// Its body as sent (a malformed one as its bytes, lossily decoded).
    pub body: String,
    /// Why it is there, worked out from the body: malformed (with the parser's
    /// complaint), or a job that no worker finished within the permitted receives.
    pub reason: String,
}

/// The dead-letter queue of `queue`.
pub fn dlq(queue: &str) -> String {
    format!("{queue}-dlq")
}

/// Why a dead-lettered message with `body` is there. The runner dead-letters only
/// malformed bodies itself; the queue dead-letters a message received
/// `MAX_RECEIVES` times without being deleted, which a failing job never causes (the
/// runner fails the title on the last receive): the workers holding it died or hung.
pub fn reason(body: &str) -> String {
    match Message::decode(body) {
        Err(e) => e.to_string(),
        Ok(m) => {
            let chunk = match m.job {
                crate::messages::Job::Encode { chunk, .. } => format!(" (chunk {chunk})"),
                _ => String::new(),
            };
            format!(
                "{} job{chunk} for title '{}' was received {} times and never finished (the workers holding it died or hung)",
                m.stage(),
                m.title(),
                runner::MAX_RECEIVES
            )
        }
    }
}

/// Up to `max` messages of each of the farm's dead-letter queues.
pub fn list(queue: &dyn Queue, max: usize) -> Result<Vec<DeadLetter>, QueueError> {
    let mut out = Vec::new();
    for q in runner::QUEUES {
        for p in queue.peek(&dlq(q), max)? {
            out.push(DeadLetter {
                queue: q.to_string(),
                reason: reason(&p.body),
                id: p.id,
                body: p.body,
            });
        }
    }
    Ok(out)
}

/// What to do with a dead-lettered message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Send its body to the queue it came from again (as a new message), then delete it.
    Requeue,
    /// Delete it.
    Discard,
}

/// How long the messages looked through stay invisible to others: long enough to find
/// the one asked for, short enough that a requeue interrupted by a crash hides nothing
/// for long.
const HOLD: Duration = Duration::from_secs(30);
/// The most messages looked through for the one asked for.
const SEARCH: usize = 1000;

/// Do `action` to the message `id` in `queue`'s dead-letter queue. False when it is not
/// there (already requeued or discarded by someone else). The messages received on the
/// way are held (not made visible at once, which would hand the same one back on the
/// next receive) and released together at the end. A requeued package job goes out as
/// a new message: the packaging claim its dead predecessor may hold in `store` is
/// released first, or the package stage would drop it as a duplicate.
pub fn act(
    queue: &dyn Queue,
    store: &dyn ObjectStore,
    from: &str,
    id: &str,
    action: Action,
) -> Result<bool, ActError> {
    if !runner::QUEUES.contains(&from) {
        return Ok(false);
    }
    let dlq = dlq(from);
    let mut held = Vec::new();
    let mut found = Ok(false);
    for _ in 0..SEARCH {
        let Some(m) = queue.receive(&dlq, HOLD, Duration::ZERO)? else {
            break;
        };
        if m.id != id {
            held.push(m.receipt);
            continue;
        }
        found = (|| -> Result<bool, ActError> {
            if action == Action::Requeue {
                if let Ok(Message {
                    job: Job::Package { title },
                    ..
                }) = Message::decode(&m.body)
                {
                    store.delete(&crate::keys::claim(&title, "packager"))?;
                }
                // Send first: a crash between the two leaves a copy, never nothing
                // (stages are idempotent).
                queue.send(from, &m.body)?;
            }
            queue.delete(&dlq, &m.receipt)?;
            Ok(true)
        })();
        break;
    }
    for r in held {
        // Comes back by itself at the end of HOLD if this fails.
        let _ = queue.extend(&dlq, &r, Duration::ZERO);
    }
    found
}

/// Why a dead letter could not be handled: the queue or the store.
#[derive(Debug, thiserror::Error)]
pub enum ActError {
    /// Receiving, sending or deleting the message.
    #[error(transparent)]
    Queue(#[from] QueueError),
    /// Releasing a requeued package job's claim.
    #[error(transparent)]
    Store(#[from] StoreError),
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::messages::{Job, QUEUE_ENCODE};
    use crate::queue::LocalQueue;
    use crate::TitleId;

    #[test]
    fn peek_requeue_and_discard() {
        let dir = tempfile::tempdir().unwrap();
        let q = LocalQueue::open(dir.path(), 5).unwrap();
        let store = crate::store::LocalStore::open(&dir.path().join("store")).unwrap();
        let good = Message::new(Job::Encode {
            title: TitleId::parse("t1").unwrap(),
            chunk: 3,
        })
        .encode();
        q.send(&dlq(QUEUE_ENCODE), "{not json").unwrap();
        q.send(&dlq(QUEUE_ENCODE), &good).unwrap();
        q.send(&dlq(QUEUE_ENCODE), "third").unwrap();
        let dead = list(&q, 10).unwrap();
        assert_eq!(dead.len(), 3);
        // Peeking takes nothing.
        assert_eq!(q.depth(&dlq(QUEUE_ENCODE)).unwrap(), 3);
        let malformed = dead.iter().find(|d| d.body == "{not json").unwrap();
        assert!(
            malformed.reason.starts_with("malformed message"),
            "{}",
            malformed.reason
        );
        let job = dead.iter().find(|d| d.body == good).unwrap();
        assert!(job.reason.contains("'t1'"), "{}", job.reason);

        assert!(act(&q, &store, QUEUE_ENCODE, &job.id, Action::Requeue).unwrap());
        assert!(!act(&q, &store, QUEUE_ENCODE, &job.id, Action::Requeue).unwrap());
        let again = q
            .receive(QUEUE_ENCODE, Duration::from_secs(5), Duration::ZERO)
            .unwrap()
            .unwrap();
        assert_eq!(again.body, good);
        assert!(act(&q, &store, QUEUE_ENCODE, &malformed.id, Action::Discard).unwrap());
        // The others are visible again at once, untouched, and listed.
        let left = list(&q, 10).unwrap();
        assert_eq!(q.in_flight(&dlq(QUEUE_ENCODE)).unwrap(), 0);
        assert_eq!(left.len(), 1);
        assert_eq!(left[0].body, "third");
        assert!(!act(&q, &store, "nonsense", &left[0].id, Action::Discard).unwrap());
    }

    #[test]
    fn a_requeued_package_job_is_not_dropped_for_its_dead_predecessors_claim() {
        let dir = tempfile::tempdir().unwrap();
        let q = LocalQueue::open(dir.path(), 5).unwrap();
        let store = crate::store::LocalStore::open(&dir.path().join("store")).unwrap();
        let t = TitleId::parse("t2").unwrap();
        let claim = crate::keys::claim(&t, "packager");
        assert!(store.create_if_absent(&claim, b"the-dead-message").unwrap());
        let body = Message::new(Job::Package { title: t }).encode();
        q.send(&dlq(runner::QUEUES[0]), &body).unwrap();
        let dead = list(&q, 10).unwrap();
        assert!(act(&q, &store, runner::QUEUES[0], &dead[0].id, Action::Requeue).unwrap());
        assert!(!store.exists(&claim).unwrap());
        assert_eq!(q.depth(runner::QUEUES[0]).unwrap(), 1);
    }
}
