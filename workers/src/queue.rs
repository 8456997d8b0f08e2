//! The queue: SQS semantics (at-least-once delivery, visibility timeout, receive count,
//! dead-letter after N receives) behind a trait, with the embedded backend: a durable
//! queue of files.
//!
//! Layout under `<root>/<queue>/`: `ready/<seq>` holds visible messages; a receive
//! renames one into `inflight/` (rename is atomic, so one receiver wins) and sets the
//! file's modification time to its visibility deadline; an expired deadline puts it
//! back in `ready/`. Messages received more than `max_receives` times move to
//! `<queue>-dlq`.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    #[error("queue {queue}: {detail}")]
    Io { queue: String, detail: String },
    #[error("queue {queue}: receipt {receipt} is no longer held (visibility expired)")]
    ReceiptExpired { queue: String, receipt: String },
}

#[derive(Debug, Clone)]
pub struct Received {
    pub body: String,
    pub receive_count: u32,
    /// Opaque handle for delete/extend.
    pub receipt: String,
    /// The message's id: the same on every delivery of this message, different for
    /// another message with the same body (SQS MessageId). Claims name it, so that a
    /// redelivered message recognises its own claim.
    pub id: String,
}

pub trait Queue: Send + Sync {
    fn send(&self, queue: &str, body: &str) -> Result<(), QueueError>;
    /// One message, waiting up to `wait` for one to arrive (long polling).
    fn receive(
        &self,
        queue: &str,
        visibility: Duration,
        wait: Duration,
    ) -> Result<Option<Received>, QueueError>;
    fn delete(&self, queue: &str, receipt: &str) -> Result<(), QueueError>;
    fn extend(&self, queue: &str, receipt: &str, visibility: Duration) -> Result<(), QueueError>;
    /// Messages visible now (approximate, like SQS).
    fn depth(&self, queue: &str) -> Result<usize, QueueError>;
    /// Messages received and not yet deleted (approximate, like SQS).
    fn in_flight(&self, queue: &str) -> Result<usize, QueueError>;
}

#[derive(Serialize, Deserialize)]
struct Envelope {
    body: String,
    receive_count: u32,
}

pub struct LocalQueue {
    root: PathBuf,
    max_receives: u32,
    seq: AtomicU64,
}

fn qerr(queue: &str) -> impl Fn(std::io::Error) -> QueueError + '_ {
    move |e| QueueError::Io {
        queue: queue.to_string(),
        detail: e.to_string(),
    }
}

impl LocalQueue {
    pub fn open(root: &Path, max_receives: u32) -> Result<Self, QueueError> {
        std::fs::create_dir_all(root).map_err(qerr("*"))?;
        Ok(Self {
            root: root.to_path_buf(),
            max_receives,
            seq: AtomicU64::new(0),
        })
    }

    fn dir(&self, queue: &str, part: &str) -> PathBuf {
        assert!(
            queue.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'),
            "queue name {queue:?}"
        );
        self.root.join(queue).join(part)
    }

    /// Make every in-flight message visible again. Only safe when no other process
    /// uses the queue (`vodfarm run` holds the store lock).
    pub fn recover_all(&self, queue: &str) -> Result<usize, QueueError> {
        let inflight = self.dir(queue, "inflight");
        let ready = self.dir(queue, "ready");
        std::fs::create_dir_all(&ready).map_err(qerr(queue))?;
        let mut n = 0;
        if let Ok(rd) = std::fs::read_dir(&inflight) {
            for e in rd.flatten() {
                if std::fs::rename(e.path(), ready.join(e.file_name())).is_ok() {
                    n += 1;
                }
            }
        }
        Ok(n)
    }

    fn requeue_expired(&self, queue: &str) -> Result<(), QueueError> {
        let inflight = self.dir(queue, "inflight");
        let ready = self.dir(queue, "ready");
        let now = SystemTime::now();
        if let Ok(rd) = std::fs::read_dir(&inflight) {
            for e in rd.flatten() {
                let expired = e
                    .metadata()
                    .and_then(|m| m.modified())
                    .map(|t| t <= now)
                    .unwrap_or(false);
                if expired {
                    let _ = std::fs::rename(e.path(), ready.join(e.file_name()));
                }
            }
        }
        Ok(())
    }

    fn receive_now(
        &self,
        queue: &str,
        visibility: Duration,
    ) -> Result<Option<Received>, QueueError> {
        self.requeue_expired(queue)?;
        let ready = self.dir(queue, "ready");
        let inflight = self.dir(queue, "inflight");
        std::fs::create_dir_all(&inflight).map_err(qerr(queue))?;
        let mut names: Vec<_> = match std::fs::read_dir(&ready) {
            Ok(rd) => rd
                .flatten()
                .map(|e| e.file_name())
                .filter(|n| !n.to_string_lossy().starts_with(".tmp-"))
                .collect(),
            Err(_) => return Ok(None),
        };
        names.sort();
        for name in names {
            let dst = inflight.join(&name);
            if std::fs::rename(ready.join(&name), &dst).is_err() {
                continue; // another receiver won it
            }
            let raw = std::fs::read(&dst).map_err(qerr(queue))?;
            let mut env: Envelope = match serde_json::from_slice(&raw) {
                Ok(e) => e,
                Err(_) => Envelope {
                    body: String::from_utf8_lossy(&raw).into_owned(),
                    receive_count: self.max_receives,
                },
            };
            env.receive_count += 1;
            if env.receive_count > self.max_receives {
                self.write_new(&self.dir(&format!("{queue}-dlq"), "ready"), queue, &env)?;
                let _ = std::fs::remove_file(&dst);
                tracing::warn!(
                    queue,
                    receives = env.receive_count,
                    "message moved to the dead-letter queue"
                );
                continue;
            }
            std::fs::write(&dst, serde_json::to_vec(&env).expect("serialisable"))
                .map_err(qerr(queue))?;
            let f = std::fs::File::options()
                .write(true)
                .open(&dst)
                .map_err(qerr(queue))?;
            f.set_modified(SystemTime::now() + visibility)
                .map_err(qerr(queue))?;
            let name = name.to_string_lossy().into_owned();
            return Ok(Some(Received {
                body: env.body,
                receive_count: env.receive_count,
                id: name.clone(),
                receipt: name,
            }));
        }
        Ok(None)
    }

    fn write_new(&self, dir: &Path, queue: &str, env: &Envelope) -> Result<(), QueueError> {
        std::fs::create_dir_all(dir).map_err(qerr(queue))?;
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_nanos();
        let name = format!(
            "{nanos:024}-{:06}-{:08}",
            self.seq.fetch_add(1, Ordering::Relaxed) % 1_000_000,
            std::process::id()
        );
        let tmp = dir.join(format!(".tmp-{name}"));
        std::fs::write(&tmp, serde_json::to_vec(env).expect("serialisable"))
            .map_err(qerr(queue))?;
        std::fs::rename(&tmp, dir.join(name)).map_err(qerr(queue))?;
        Ok(())
    }
}

impl Queue for LocalQueue {
    fn send(&self, queue: &str, body: &str) -> Result<(), QueueError> {
        self.write_new(
            &self.dir(queue, "ready"),
            queue,
            &Envelope {
                body: body.to_string(),
                receive_count: 0,
            },
        )
    }

    fn receive(
        &self,
        queue: &str,
        visibility: Duration,
        wait: Duration,
    ) -> Result<Option<Received>, QueueError> {
        let deadline = std::time::Instant::now() + wait;
        loop {
            if let Some(m) = self.receive_now(queue, visibility)? {
                return Ok(Some(m));
            }
            if std::time::Instant::now() >= deadline {
                return Ok(None);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn delete(&self, queue: &str, receipt: &str) -> Result<(), QueueError> {
        std::fs::remove_file(self.dir(queue, "inflight").join(receipt)).map_err(|_| {
            QueueError::ReceiptExpired {
                queue: queue.into(),
                receipt: receipt.into(),
            }
        })
    }

    fn extend(&self, queue: &str, receipt: &str, visibility: Duration) -> Result<(), QueueError> {
        let f = std::fs::File::options()
            .write(true)
            .open(self.dir(queue, "inflight").join(receipt))
            .map_err(|_| QueueError::ReceiptExpired {
                queue: queue.into(),
                receipt: receipt.into(),
            })?;
        f.set_modified(SystemTime::now() + visibility)
            .map_err(qerr(queue))
    }

    fn in_flight(&self, queue: &str) -> Result<usize, QueueError> {
        Ok(std::fs::read_dir(self.dir(queue, "inflight"))
            .map(|rd| rd.count())
            .unwrap_or(0))
    }

    fn depth(&self, queue: &str) -> Result<usize, QueueError> {
        Ok(std::fs::read_dir(self.dir(queue, "ready"))
            .map(|rd| {
                rd.flatten()
                    .filter(|e| !e.file_name().to_string_lossy().starts_with(".tmp-"))
                    .count()
            })
            .unwrap_or(0))
    }
}
