//! The queue: SQS semantics (at-least-once delivery, visibility timeout, receive count,
//! dead-letter after N receives) behind a trait, with the embedded backend: a durable
//! queue of files that any number of threads and processes on one machine may share
//! (one local file system: rename must be atomic).
//!
//! # Layout
//!
//! Under `<root>/<queue>/`:
//!
//! - `ready/<id>.<n>`: a visible message, received `n` times so far.
//! - `inflight/<id>.<n>.<nonce>.<deadline>`: the message's `n`th receive, invisible
//!   until `deadline` (milliseconds since the Unix epoch). `<id>.<n>.<nonce>` is the
//!   receipt of that receive; the nonce is random.
//! - `tmp/`: messages being written by `send`.
//!
//! A file holds the envelope `{"body": …}`. It is written once, complete and synced, in
//! `tmp/` and renamed into `ready/`; after that its bytes never change. Everything that
//! changes (visible or not, the receive count, the deadline, the receipt) is in the
//! file's name, and every change is one `rename` of the exact name the actor saw, so
//! every message is exactly one file at every moment, and of two actors racing for the
//! same state, the rename of one succeeds and the other's fails with `NotFound`:
//!
//! - send: create `tmp/<id>.0`, write, sync, rename to `ready/<id>.0`.
//! - receive: rename `ready/<id>.<n>` to `inflight/<id>.<n+1>.<nonce>.<now+visibility>`:
//!   the deadline is set by the same rename that takes the message, so no one ever sees
//!   it in flight without its deadline. Then read it (its bytes are immutable). One
//!   receiver wins the rename. Once `n` reached `max_receives` the message is renamed to
//!   `<queue>-dlq/ready/<id>.0` instead (the same bytes and id; no room needed). Queues
//!   whose name ends in `-dlq` never dead-letter.
//! - extend: rename `inflight/<receipt>.<deadline>` to `inflight/<receipt>.<new>`, only
//!   while `deadline` has not passed: once it has, the message is visible again and the
//!   extend fails with `ReceiptExpired`, like SQS's MessageNotInFlight.
//! - delete: unlink `inflight/<receipt>.<deadline>`. A receipt whose deadline has passed
//!   still deletes while no one has received the message again (SQS does the same).
//! - requeue (at the start of every receive, any thread or process): rename an expired
//!   `inflight/<id>.<n>.<nonce>.<deadline>` back to `ready/<id>.<n>`. If a holder
//!   extended or deleted it first, the old name is gone and the rename fails: nothing
//!   happens. If the requeue came first, the extend or delete finds no file for the
//!   receipt: `ReceiptExpired`, and the message is untouched. A receipt is therefore
//!   valid exactly until the message is received again, which changes the count and the
//!   nonce; a stale receipt can never reach the new delivery.
//!
//! A holder whose visibility lapses holds a stale receipt, as with SQS; a receiver
//! paused between its rename and its read for longer than the visibility finds the file
//! gone and moves on. Deadlines are wall-clock time shared by processes: a clock that
//! jumps forward redelivers early (at-least-once allows it), one that jumps back
//! redelivers late.
//!
//! # What is not a message
//!
//! Names that do not parse (hidden files, other tools' files) are ignored and not
//! counted by `depth`/`in_flight`. An empty file in `ready/` is left alone (it may be
//! another writer's file being written; logged at debug level, and at warn if it was
//! found empty only once taken); an unreadable one is put back, logged. Only
//! a file read completely that is not an envelope is malformed: it is dead-lettered by
//! rename, its bytes preserved, and delivered from the dead-letter queue as its bytes
//! (lossily decoded). A file name from the previous layout, `ready/<id>` (its count in
//! the envelope), is taken as received 0 times; `inflight/<id>` has its deadline in its
//! modification time and is requeued by it.
//!
//! # Crash safety
//!
//! Every step is one rename or unlink, atomic, so a process killed at any point leaves
//! each message as exactly one complete file, in `ready/` (it will be received),
//! `inflight/` (it comes back at its deadline: a receiver killed after its rename
//! counts as a receive, as with SQS) or the dead-letter queue. There is no claim or
//! intermediate copy to recover. Only `send` leaves something behind when killed: a
//! file in `tmp/`, which was never a message (the send did not return); tmp files
//! untouched for an hour are removed by later receives (a sender stalled that long sees
//! its rename fail and reports the send as failed). A failed step (disk full, say)
//! leaves the message where it was, removes its tmp file and returns
//! [`QueueError::Fs`] with the `io::Error`. A message's bytes are synced before it is
//! renamed into `ready/`, so its name never outlives its bytes; directories are not
//! synced, so a power failure (unlike a crash) may undo the last renames: a message
//! delivered again, or a send that had returned undone.
//! [`LocalQueue::recover_all`] makes every message in flight visible at once, for a
//! process that knows no one else holds any (`vodfarm run`, under the store lock).

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

/// Why a queue call failed.
#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    /// A failure described in words (the SQS backend).
    #[error("queue {queue}: {detail}")]
    Io {
        /// The queue it was about.
        queue: String,
        /// What went wrong, in words.
        detail: String,
    },
    /// A file operation of the embedded backend failed; the message it concerned is
    /// where it was.
    #[error("queue {queue}: {op} {path:?}: {source}")]
    Fs {
        /// The queue it was about (`*` when opening the root).
        queue: String,
        /// The step: `create`, `receive`, `extend`, `delete`, `requeue`, ...
        op: &'static str,
        /// The file or folder it was done on.
        path: PathBuf,
        /// The file-system error; its kind decides whether a retry can help.
        #[source]
        source: io::Error,
    },
    /// The message was received again (or is visible again): the receipt is stale.
    #[error("queue {queue}: receipt {receipt} is no longer held (visibility expired)")]
    ReceiptExpired {
        /// The queue the message is on.
        queue: String,
        /// The stale receipt.
        receipt: String,
    },
}

impl QueueError {
    /// The kind of the file-system error behind this one, if any.
    pub fn io_kind(&self) -> Option<io::ErrorKind> {
        match self {
            QueueError::Fs { source, .. } => Some(source.kind()),
            _ => None,
        }
    }

    /// The disk (or the user's quota) is full.
    pub fn is_disk_full(&self) -> bool {
        matches!(
            self.io_kind(),
            Some(io::ErrorKind::StorageFull | io::ErrorKind::QuotaExceeded)
        )
    }
}

/// One delivery of a message.
#[derive(Debug, Clone)]
pub struct Received {
    /// The body, as sent.
    pub body: String,
    /// Receives of the message so far, this one included (1 on the first).
    pub receive_count: u32,
    /// Opaque handle for delete/extend; another one on every receive.
    pub receipt: String,
    /// The message's id: the same on every delivery of this message, different for
    /// another message with the same body (SQS MessageId). Claims name it, so that a
    /// redelivered message recognises its own claim.
    pub id: String,
}

/// Named queues with SQS semantics: at-least-once delivery, visibility, dead-letters.
pub trait Queue: Send + Sync {
    /// Add a message with `body` to `queue`.
    fn send(&self, queue: &str, body: &str) -> Result<(), QueueError>;
    /// One message, waiting up to `wait` for one to arrive (long polling).
    fn receive(
        &self,
        queue: &str,
        visibility: Duration,
        wait: Duration,
    ) -> Result<Option<Received>, QueueError>;
    /// Delete a received message for good; `ReceiptExpired` once it was received again.
    fn delete(&self, queue: &str, receipt: &str) -> Result<(), QueueError>;
    /// Keep a received message invisible for `visibility` from now (zero: visible now).
    fn extend(&self, queue: &str, receipt: &str, visibility: Duration) -> Result<(), QueueError>;
    /// Messages visible now (approximate, like SQS).
    fn depth(&self, queue: &str) -> Result<usize, QueueError>;
    /// Messages received and not yet deleted (approximate, like SQS).
    fn in_flight(&self, queue: &str) -> Result<usize, QueueError>;
    /// Up to `max` visible messages, looked at without taking them (the console's
    /// dead-letter view). SQS has no peek: its backend receives with a visibility of
    /// zero, which leaves the messages visible but counts a receive.
    fn peek(&self, queue: &str, max: usize) -> Result<Vec<Peeked>, QueueError>;
}

/// A message looked at by [`Queue::peek`].
#[derive(Debug, Clone, PartialEq)]
pub struct Peeked {
    /// The message's id ([`Received::id`]).
    pub id: String,
    /// The body, as sent (a malformed message's bytes, lossily decoded).
    pub body: String,
    /// Receives so far.
    pub receive_count: u32,
}

/// A message file's content. (Files of the previous layout also hold their receive
/// count, which is ignored.)
#[derive(Serialize, Deserialize)]
struct Envelope {
    body: String,
}

const READY: &str = "ready";
const INFLIGHT: &str = "inflight";
const TMP: &str = "tmp";
/// A file in `tmp/` untouched for this long belongs to a sender that died.
const TMP_ABANDONED: Duration = Duration::from_secs(3600);
/// Attempts at delete/extend when the holder's own other calls keep renaming the file.
const ATTEMPTS: usize = 16;

/// When an in-flight message becomes visible again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Deadline {
    At(u64),
    /// The previous layout: the file's modification time.
    Mtime,
}

#[derive(Debug, PartialEq, Eq)]
struct Inflight<'a> {
    id: &'a str,
    count: u32,
    /// None for the previous layout (no receipt can reach it).
    receipt: Option<&'a str>,
    deadline: Deadline,
}

fn is_id(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

fn digits<T: std::str::FromStr>(s: &str) -> Option<T> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// `<id>.<count>`, or `<id>` (the previous layout, taken as count 0).
fn parse_ready(name: &str) -> Option<(&str, u32)> {
    match name.split_once('.') {
        None => is_id(name).then_some((name, 0)),
        Some((id, n)) => Some((id, digits(n)?)).filter(|_| is_id(id)),
    }
}

/// `<id>.<count>.<nonce>` (a receipt) into id and count.
fn parse_receipt(receipt: &str) -> Option<(&str, u32)> {
    let (head, nonce) = receipt.rsplit_once('.')?;
    if nonce.is_empty() || !nonce.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    parse_ready(head).filter(|_| head.contains('.'))
}

/// `<receipt>.<deadline>`, or `<id>` (the previous layout).
fn parse_inflight(name: &str) -> Option<Inflight<'_>> {
    if is_id(name) {
        return Some(Inflight {
            id: name,
            count: 0,
            receipt: None,
            deadline: Deadline::Mtime,
        });
    }
    let (receipt, deadline) = name.rsplit_once('.')?;
    let (id, count) = parse_receipt(receipt)?;
    Some(Inflight {
        id,
        count,
        receipt: Some(receipt),
        deadline: Deadline::At(digits(deadline)?),
    })
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

fn deadline_after(visibility: Duration) -> u64 {
    now_ms().saturating_add(visibility.as_millis().min(u64::MAX as u128) as u64)
}

impl Inflight<'_> {
    fn expired(&self, path: &Path, now: u64) -> bool {
        match self.deadline {
            Deadline::At(t) => t <= now,
            Deadline::Mtime => fs::symlink_metadata(path)
                .and_then(|m| m.modified())
                .map(|t| t <= SystemTime::now())
                .unwrap_or(false),
        }
    }
}

/// A new message id: send time first, so that names sort oldest first.
fn new_id() -> String {
    static SEQ: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_nanos();
    format!(
        "{nanos:024}-{:06}-{:08}",
        SEQ.fetch_add(1, Ordering::Relaxed) % 1_000_000,
        std::process::id()
    )
}

/// A random number for receipts (std's hasher keys are random per process and differ
/// for every `RandomState`).
fn nonce() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    static SEQ: AtomicU64 = AtomicU64::new(0);
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(SEQ.fetch_add(1, Ordering::Relaxed));
    h.write_u128(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_nanos(),
    );
    h.write_u32(std::process::id());
    h.finish()
}

fn fs_err(queue: &str, op: &'static str, path: &Path, source: io::Error) -> QueueError {
    QueueError::Fs {
        queue: queue.to_string(),
        op,
        path: path.to_path_buf(),
        source,
    }
}

fn expired(queue: &str, receipt: &str) -> QueueError {
    QueueError::ReceiptExpired {
        queue: queue.into(),
        receipt: receipt.into(),
    }
}

/// The names in `dir`, none if it does not exist.
fn list(queue: &str, dir: &Path) -> Result<Vec<String>, QueueError> {
    match fs::read_dir(dir) {
        Ok(rd) => Ok(rd
            .flatten()
            .filter_map(|e| e.file_name().into_string().ok())
            .collect()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(e) => Err(fs_err(queue, "list", dir, e)),
    }
}

/// A message taken from `ready/`: in flight under its new name, not yet read.
struct Taken {
    path: PathBuf,
    id: String,
    count: u32,
    receipt: String,
    /// Its name in `ready/` before, to put it back unread.
    ready_name: String,
}

/// The embedded backend: durable queues of files under one folder (layout in the module doc).
pub struct LocalQueue {
    root: PathBuf,
    max_receives: u32,
}

impl LocalQueue {
    /// Queues under `root`, made if missing; a message dead-letters after `max_receives` receives.
    pub fn open(root: &Path, max_receives: u32) -> Result<Self, QueueError> {
        fs::create_dir_all(root).map_err(|e| fs_err("*", "create", root, e))?;
        Ok(Self {
            root: root.to_path_buf(),
            max_receives,
        })
    }

    fn dir(&self, queue: &str, part: &str) -> PathBuf {
        assert!(
            queue.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'),
            "queue name {queue:?}"
        );
        self.root.join(queue).join(part)
    }

    fn mkdir(&self, queue: &str, part: &str) -> Result<PathBuf, QueueError> {
        let dir = self.dir(queue, part);
        fs::create_dir_all(&dir).map_err(|e| fs_err(queue, "create", &dir, e))?;
        Ok(dir)
    }

    /// Make every in-flight message visible again, whatever its deadline. Only for a
    /// process that knows no one else holds any (`vodfarm run` holds the store lock):
    /// a holder's receipt goes stale and its message is delivered again.
    pub fn recover_all(&self, queue: &str) -> Result<usize, QueueError> {
        let inflight = self.dir(queue, INFLIGHT);
        let ready = self.mkdir(queue, READY)?;
        let mut n = 0;
        for name in list(queue, &inflight)? {
            let Some(m) = parse_inflight(&name) else {
                continue;
            };
            let to = ready.join(format!("{}.{}", m.id, m.count));
            match fs::rename(inflight.join(&name), &to) {
                Ok(()) => n += 1,
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(fs_err(queue, "requeue", &to, e)),
            }
        }
        self.collect_tmp(queue);
        Ok(n)
    }

    /// Make the messages whose deadline has passed visible again; remove abandoned tmp
    /// files. A message that cannot be moved stays in flight for the next attempt.
    fn requeue_expired(&self, queue: &str) -> Result<(), QueueError> {
        let inflight = self.dir(queue, INFLIGHT);
        let ready = self.dir(queue, READY);
        let now = now_ms();
        for name in list(queue, &inflight)? {
            let Some(m) = parse_inflight(&name) else {
                continue;
            };
            let from = inflight.join(&name);
            if !m.expired(&from, now) {
                continue;
            }
            // The exact name: if the holder extended or deleted it meanwhile, or another
            // process requeued it, this fails with NotFound and changes nothing.
            let to = ready.join(format!("{}.{}", m.id, m.count));
            match fs::rename(&from, &to) {
                Ok(()) => tracing::debug!(queue, id = m.id, "visibility expired"),
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => {
                    tracing::warn!(queue, id = m.id, error = %e, "requeueing an expired message")
                }
            }
        }
        self.collect_tmp(queue);
        Ok(())
    }

    fn collect_tmp(&self, queue: &str) {
        let tmp = self.dir(queue, TMP);
        let Ok(names) = list(queue, &tmp) else {
            return;
        };
        for name in names {
            let path = tmp.join(name);
            let old = fs::symlink_metadata(&path)
                .and_then(|m| m.modified())
                .map(|t| t.elapsed().unwrap_or_default() > TMP_ABANDONED)
                .unwrap_or(false);
            if old && fs::remove_file(&path).is_ok() {
                tracing::warn!(queue, path = %path.display(), "removed an abandoned unsent message");
            }
        }
    }

    /// Write a new file `dir/name` whole or not at all: written by `write` and synced
    /// in `tmp/`, then renamed. On failure the tmp file is removed and nothing appears.
    fn create_with(
        &self,
        queue: &str,
        dir: &Path,
        name: &str,
        write: impl FnOnce(&mut fs::File) -> io::Result<()>,
    ) -> Result<(), QueueError> {
        let tmp = self.mkdir(queue, TMP)?.join(name);
        fs::create_dir_all(dir).map_err(|e| fs_err(queue, "create", dir, e))?;
        let mut f = fs::File::options()
            .write(true)
            .create_new(true)
            .open(&tmp)
            .map_err(|e| fs_err(queue, "create", &tmp, e))?;
        let written = write(&mut f).and_then(|()| f.sync_data());
        drop(f);
        let dst = dir.join(name);
        let (op, path, result) = match written {
            Ok(()) => ("rename", &dst, fs::rename(&tmp, &dst)),
            Err(e) => ("write", &tmp, Err(e)),
        };
        result.map_err(|e| {
            let _ = fs::remove_file(&tmp);
            fs_err(queue, op, path, e)
        })
    }

    /// Move a message file to the dead-letter queue as it is (bytes and id), received 0
    /// times there, and count it in this process's metrics (SQS's redrive happens on the
    /// server, where no process sees it; here the receiver does the move). Ok(false): the
    /// file was gone (someone else moved it). On failure it is where it was.
    fn dead_letter(&self, queue: &str, from: &Path, id: &str) -> Result<bool, QueueError> {
        let dlq = self.mkdir(&format!("{queue}-dlq"), READY)?;
        let to = dlq.join(format!("{id}.0"));
        match fs::rename(from, &to) {
            Ok(()) => {
                crate::metrics::get()
                    .jobs_dead_lettered
                    .with_label_values(&[queue])
                    .inc();
                Ok(true)
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(fs_err(queue, "dead-letter", &to, e)),
        }
    }

    /// Take `ready/<name>` in flight until `now + visibility`: one rename. None if
    /// another receiver took it first.
    fn take(
        &self,
        queue: &str,
        name: &str,
        visibility: Duration,
    ) -> Result<Option<Taken>, QueueError> {
        let (id, n) = parse_ready(name).expect("a ready name");
        let count = n.saturating_add(1);
        let receipt = format!("{id}.{count}.{:016x}", nonce());
        let path = self
            .dir(queue, INFLIGHT)
            .join(format!("{receipt}.{}", deadline_after(visibility)));
        match fs::rename(self.dir(queue, READY).join(name), &path) {
            Ok(()) => Ok(Some(Taken {
                path,
                id: id.to_string(),
                count,
                receipt,
                ready_name: format!("{id}.{n}"),
            })),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(fs_err(queue, "receive", &path, e)),
        }
    }

    /// Put a message taken but not delivered back as it was.
    fn untake(&self, queue: &str, t: &Taken) {
        // If this fails it stays in flight and comes back at its deadline.
        let _ = fs::rename(&t.path, self.dir(queue, READY).join(&t.ready_name));
    }

    fn receive_now(
        &self,
        queue: &str,
        visibility: Duration,
    ) -> Result<Option<Received>, QueueError> {
        let ready = self.mkdir(queue, READY)?;
        self.mkdir(queue, INFLIGHT)?;
        self.requeue_expired(queue)?;
        let mut names: Vec<String> = list(queue, &ready)?
            .into_iter()
            .filter(|n| parse_ready(n).is_some())
            .collect();
        names.sort();
        // A message that cannot be moved (disk full, say) stays where it is and the
        // others are still delivered; the error is returned if none was.
        let mut failed = None;
        for name in names {
            match self.deliver(queue, &ready, &name, visibility) {
                Ok(Some(m)) => return Ok(Some(m)),
                Ok(None) => {}
                Err(e) => {
                    tracing::warn!(queue, error = %e, "receive");
                    failed.get_or_insert(e);
                }
            }
        }
        failed.map_or(Ok(None), Err)
    }

    /// Deliver `ready/<name>`: dead-letter it if it was received too often, else take
    /// it and read it. None if it is not delivered now (taken by another receiver,
    /// empty, unreadable, dead-lettered).
    fn deliver(
        &self,
        queue: &str,
        ready: &Path,
        name: &str,
        visibility: Duration,
    ) -> Result<Option<Received>, QueueError> {
        let (id, n) = parse_ready(name).expect("a ready name");
        let is_dlq = queue.ends_with("-dlq");
        let path = ready.join(name);
        match fs::symlink_metadata(&path) {
            Ok(m) if m.is_file() && m.len() > 0 => {}
            Ok(m) if m.is_file() => {
                tracing::debug!(queue, path = %path.display(), "skipping an empty file");
                return Ok(None);
            }
            _ => return Ok(None), // gone (taken), or not a file
        }
        if n >= self.max_receives && !is_dlq {
            if self.dead_letter(queue, &path, id)? {
                tracing::warn!(
                    queue,
                    id,
                    receives = n,
                    "message moved to the dead-letter queue"
                );
            }
            return Ok(None);
        }
        let Some(t) = self.take(queue, name, visibility)? else {
            return Ok(None); // another receiver won it
        };
        let raw = match fs::read(&t.path) {
            Ok(raw) => raw,
            // Requeued while this receiver was paused past the deadline.
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => {
                tracing::warn!(queue, id, error = %e, "unreadable message left in place");
                self.untake(queue, &t);
                return Ok(None);
            }
        };
        if raw.is_empty() {
            tracing::warn!(queue, id, "empty message file left in place");
            self.untake(queue, &t);
            return Ok(None);
        }
        let body = match serde_json::from_slice::<Envelope>(&raw) {
            Ok(env) => env.body,
            Err(_) if is_dlq => String::from_utf8_lossy(&raw).into_owned(),
            Err(e) => {
                // If this fails the message stays in flight and comes back at its
                // deadline: never lost.
                if self.dead_letter(queue, &t.path, id)? {
                    tracing::warn!(queue, id, error = %e, "malformed message moved to the dead-letter queue");
                }
                return Ok(None);
            }
        };
        Ok(Some(Received {
            body,
            receive_count: t.count,
            id: t.id,
            receipt: t.receipt,
        }))
    }

    /// The in-flight file of `receipt` and its deadline, if it is still in flight.
    fn find(&self, queue: &str, receipt: &str) -> Result<Option<(PathBuf, u64)>, QueueError> {
        if parse_receipt(receipt).is_none() {
            return Ok(None);
        }
        let inflight = self.dir(queue, INFLIGHT);
        for name in list(queue, &inflight)? {
            if let Some(Inflight {
                receipt: Some(r),
                deadline: Deadline::At(t),
                ..
            }) = parse_inflight(&name)
            {
                if r == receipt {
                    return Ok(Some((inflight.join(&name), t)));
                }
            }
        }
        Ok(None)
    }

    /// Messages in flight, and those among them whose deadline has passed.
    fn count_inflight(&self, queue: &str) -> Result<(usize, usize), QueueError> {
        let inflight = self.dir(queue, INFLIGHT);
        let now = now_ms();
        let (mut all, mut expired) = (0, 0);
        for name in list(queue, &inflight)? {
            if let Some(m) = parse_inflight(&name) {
                all += 1;
                if m.expired(&inflight.join(&name), now) {
                    expired += 1;
                }
            }
        }
        Ok((all, expired))
    }
}

impl Queue for LocalQueue {
    fn send(&self, queue: &str, body: &str) -> Result<(), QueueError> {
        let bytes = serde_json::to_vec(&Envelope {
            body: body.to_string(),
        })
        .expect("serialisable");
        let ready = self.dir(queue, READY);
        self.create_with(queue, &ready, &format!("{}.0", new_id()), |f| {
            f.write_all(&bytes)
        })
    }

    fn receive(
        &self,
        queue: &str,
        visibility: Duration,
        wait: Duration,
    ) -> Result<Option<Received>, QueueError> {
        let deadline = Instant::now() + wait;
        loop {
            if let Some(m) = self.receive_now(queue, visibility)? {
                return Ok(Some(m));
            }
            if Instant::now() >= deadline {
                return Ok(None);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn delete(&self, queue: &str, receipt: &str) -> Result<(), QueueError> {
        for _ in 0..ATTEMPTS {
            let Some((path, _)) = self.find(queue, receipt)? else {
                return Err(expired(queue, receipt));
            };
            match fs::remove_file(&path) {
                Ok(()) => return Ok(()),
                // Requeued, or extended by the holder: look again.
                Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                Err(e) => return Err(fs_err(queue, "delete", &path, e)),
            }
        }
        Err(expired(queue, receipt))
    }

    fn extend(&self, queue: &str, receipt: &str, visibility: Duration) -> Result<(), QueueError> {
        for _ in 0..ATTEMPTS {
            let Some((path, deadline)) = self.find(queue, receipt)? else {
                return Err(expired(queue, receipt));
            };
            if deadline <= now_ms() {
                // Visible again (whether or not a receive has requeued it yet).
                return Err(expired(queue, receipt));
            }
            let to = self
                .dir(queue, INFLIGHT)
                .join(format!("{receipt}.{}", deadline_after(visibility)));
            match fs::rename(&path, &to) {
                Ok(()) => return Ok(()),
                Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                Err(e) => return Err(fs_err(queue, "extend", &path, e)),
            }
        }
        Err(expired(queue, receipt))
    }

    fn in_flight(&self, queue: &str) -> Result<usize, QueueError> {
        let (all, expired) = self.count_inflight(queue)?;
        Ok(all - expired)
    }

    fn depth(&self, queue: &str) -> Result<usize, QueueError> {
        let ready = list(queue, &self.dir(queue, READY))?
            .iter()
            .filter(|n| parse_ready(n).is_some())
            .count();
        Ok(ready + self.count_inflight(queue)?.1)
    }

    fn peek(&self, queue: &str, max: usize) -> Result<Vec<Peeked>, QueueError> {
        // Messages released by a holder (extend to 0) are visible: show them. Nothing
        // else may receive from a dead-letter queue to move them back.
        self.mkdir(queue, INFLIGHT)?;
        self.requeue_expired(queue)?;
        let ready = self.dir(queue, READY);
        let mut names: Vec<String> = list(queue, &ready)?
            .into_iter()
            .filter(|n| parse_ready(n).is_some())
            .collect();
        names.sort();
        let mut out = Vec::new();
        for name in names {
            if out.len() >= max {
                break;
            }
            let (id, n) = parse_ready(&name).expect("filtered");
            // Files are immutable once in ready/: reading one races only with its
            // receive (then it is gone and skipped).
            let raw = match fs::read(ready.join(&name)) {
                Ok(raw) if !raw.is_empty() => raw,
                Ok(_) => continue,
                Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                Err(e) => return Err(fs_err(queue, "peek", &ready.join(&name), e)),
            };
            let body = serde_json::from_slice::<Envelope>(&raw)
                .map(|e| e.body)
                .unwrap_or_else(|_| String::from_utf8_lossy(&raw).into_owned());
            out.push(Peeked {
                id: id.to_string(),
                body,
                receive_count: n,
            });
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::{HashMap, HashSet};
    use std::sync::atomic::AtomicUsize;
    use std::sync::Mutex;

    const Q: &str = "work";
    const LONG: Duration = Duration::from_secs(5);

    fn open(max_receives: u32) -> (tempfile::TempDir, LocalQueue) {
        let tmp = tempfile::tempdir().unwrap();
        let q = LocalQueue::open(tmp.path(), max_receives).unwrap();
        (tmp, q)
    }

    /// The names in a queue's `part` directory, sorted.
    fn files(q: &LocalQueue, queue: &str, part: &str) -> Vec<String> {
        let mut v = list(queue, &q.dir(queue, part)).unwrap();
        v.sort();
        v
    }

    fn is_expired(e: &QueueError) -> bool {
        matches!(e, QueueError::ReceiptExpired { .. })
    }

    /// xorshift, seeded at random.
    struct Rng(u64);
    impl Rng {
        fn new() -> Self {
            Rng(nonce() | 1)
        }
        fn below(&mut self, n: u64) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0 % n
        }
    }

    #[test]
    fn names_parse() {
        assert_eq!(
            parse_ready("0001-000002-00000003.4"),
            Some(("0001-000002-00000003", 4))
        );
        assert_eq!(
            parse_ready("0001-000002-00000003"),
            Some(("0001-000002-00000003", 0))
        );
        for bad in [".tmp-1", "a.b", "a.", ".1", "a.1.2", "a/b.1", "", "a.+1"] {
            assert_eq!(parse_ready(bad), None, "{bad}");
        }
        assert_eq!(parse_receipt("id.2.00ff"), Some(("id", 2)));
        for bad in ["id", "id.2", "id.2.", "id.x.00ff", "id.2.zz", "../x.2.00"] {
            assert_eq!(parse_receipt(bad), None, "{bad}");
        }
        assert_eq!(
            parse_inflight("id.2.00ff.123"),
            Some(Inflight {
                id: "id",
                count: 2,
                receipt: Some("id.2.00ff"),
                deadline: Deadline::At(123),
            })
        );
        assert_eq!(
            parse_inflight("id").map(|m| m.deadline),
            Some(Deadline::Mtime)
        );
        for bad in ["id.2", "id.2.00ff", "id.2.00ff.x", ".tmp-id.2.00ff.1"] {
            assert_eq!(parse_inflight(bad), None, "{bad}");
        }
    }

    /// 8 threads share one queue: every message is received exactly once (none twice
    /// within its visibility, none lost), none dead-lettered.
    #[test]
    fn eight_threads_receive_each_message_exactly_once() {
        const N: usize = 200;
        let (_tmp, q) = open(5);
        for i in 0..N {
            q.send(Q, &format!("m{i}")).unwrap();
        }
        assert_eq!(q.depth(Q).unwrap(), N);
        let got = Mutex::new(Vec::new());
        let deleted = AtomicUsize::new(0);
        let until = Instant::now() + Duration::from_secs(60);
        std::thread::scope(|s| {
            for _ in 0..8 {
                s.spawn(|| {
                    let mut rng = Rng::new();
                    while deleted.load(Ordering::SeqCst) < N {
                        assert!(Instant::now() < until, "messages lost");
                        let Some(m) = q.receive(Q, LONG, Duration::ZERO).unwrap() else {
                            std::thread::sleep(Duration::from_millis(1));
                            continue;
                        };
                        std::thread::sleep(Duration::from_micros(rng.below(2000)));
                        q.delete(Q, &m.receipt).unwrap();
                        deleted.fetch_add(1, Ordering::SeqCst);
                        got.lock().unwrap().push(m);
                    }
                });
            }
        });
        let got = got.into_inner().unwrap();
        assert_eq!(got.len(), N, "received exactly once in total");
        let ids: HashSet<_> = got.iter().map(|m| m.id.as_str()).collect();
        assert_eq!(ids.len(), N, "no message twice");
        let bodies: HashSet<_> = got.iter().map(|m| m.body.clone()).collect();
        assert_eq!(bodies, (0..N).map(|i| format!("m{i}")).collect());
        assert!(got.iter().all(|m| m.receive_count == 1));
        assert_eq!((q.depth(Q).unwrap(), q.in_flight(Q).unwrap()), (0, 0));
        assert_eq!(q.depth("work-dlq").unwrap(), 0, "nothing dead-lettered");
        for part in [READY, INFLIGHT, TMP] {
            assert!(files(&q, Q, part).is_empty(), "{part}");
        }
    }

    #[test]
    fn stale_receipts_are_refused() {
        let (_tmp, q) = open(5);
        q.send(Q, "job").unwrap();
        let first = q
            .receive(Q, Duration::from_millis(200), Duration::ZERO)
            .unwrap()
            .unwrap();
        assert!(
            q.receive(Q, LONG, Duration::ZERO).unwrap().is_none(),
            "invisible"
        );
        std::thread::sleep(Duration::from_millis(300));
        let second = q
            .receive(Q, LONG, Duration::ZERO)
            .unwrap()
            .expect("visible again");
        assert_eq!(
            (second.id.as_str(), second.receive_count),
            (first.id.as_str(), 2)
        );
        assert_ne!(second.receipt, first.receipt);

        let e = q.delete(Q, &first.receipt).unwrap_err();
        assert!(is_expired(&e), "{e}");
        assert_eq!(q.in_flight(Q).unwrap(), 1, "still in flight");
        let e = q.extend(Q, &first.receipt, LONG).unwrap_err();
        assert!(is_expired(&e), "{e}");
        assert_eq!(q.in_flight(Q).unwrap(), 1);
        // Receipts that are no receipts at all.
        for r in ["", "nonsense", &first.id, "../../etc/passwd"] {
            assert!(is_expired(&q.delete(Q, r).unwrap_err()), "{r}");
        }

        q.extend(Q, &second.receipt, LONG).unwrap();
        q.delete(Q, &second.receipt).unwrap();
        assert_eq!((q.depth(Q).unwrap(), q.in_flight(Q).unwrap()), (0, 0));
        assert!(
            is_expired(&q.delete(Q, &second.receipt).unwrap_err()),
            "deleted"
        );
    }

    /// Like SQS: past its deadline a message is visible, so its visibility can no longer
    /// be changed; its last holder may still delete it while no one received it again.
    #[test]
    fn a_late_holder_may_delete_but_not_extend() {
        let (_tmp, q) = open(5);
        q.send(Q, "job").unwrap();
        let m = q
            .receive(Q, Duration::from_millis(50), Duration::ZERO)
            .unwrap()
            .unwrap();
        std::thread::sleep(Duration::from_millis(80));
        assert_eq!((q.depth(Q).unwrap(), q.in_flight(Q).unwrap()), (1, 0));
        assert!(is_expired(&q.extend(Q, &m.receipt, LONG).unwrap_err()));
        q.delete(Q, &m.receipt).unwrap();
        assert_eq!((q.depth(Q).unwrap(), q.in_flight(Q).unwrap()), (0, 0));
        assert!(q.receive(Q, LONG, Duration::ZERO).unwrap().is_none());
    }

    #[test]
    fn extend_keeps_the_receipt_and_zero_makes_visible() {
        let (_tmp, q) = open(5);
        q.send(Q, "job").unwrap();
        let m = q
            .receive(Q, Duration::from_secs(1), Duration::ZERO)
            .unwrap()
            .unwrap();
        for _ in 0..3 {
            q.extend(Q, &m.receipt, Duration::from_secs(1)).unwrap();
            std::thread::sleep(Duration::from_millis(400));
        }
        assert!(
            q.receive(Q, LONG, Duration::ZERO).unwrap().is_none(),
            "extended"
        );
        q.extend(Q, &m.receipt, Duration::ZERO).unwrap();
        let again = q
            .receive(Q, LONG, Duration::ZERO)
            .unwrap()
            .expect("visible at once");
        assert_eq!((again.id, again.receive_count), (m.id, 2));
    }

    #[test]
    fn redelivery_keeps_the_id_and_dead_letters_after_max_receives() {
        let (_tmp, q) = open(3);
        let body = "{\"job\": \"encode\", \"note\": \"quotes \\\" and ünïcødé\"}";
        q.send(Q, body).unwrap();
        let name = files(&q, Q, READY).pop().unwrap();
        let bytes = fs::read(q.dir(Q, READY).join(&name)).unwrap();
        let mut receipts = HashSet::new();
        let first = q
            .receive(Q, Duration::ZERO, Duration::ZERO)
            .unwrap()
            .unwrap();
        for n in 1..=3 {
            let m = if n == 1 {
                first.clone()
            } else {
                q.receive(Q, Duration::ZERO, Duration::ZERO)
                    .unwrap()
                    .unwrap()
            };
            assert_eq!((m.body.as_str(), m.receive_count), (body, n));
            assert_eq!(m.id, first.id, "the same id on every delivery");
            assert!(receipts.insert(m.receipt));
        }
        assert!(q.receive(Q, LONG, Duration::ZERO).unwrap().is_none());
        assert_eq!(q.depth(Q).unwrap() + q.in_flight(Q).unwrap(), 0);
        assert_eq!(q.depth("work-dlq").unwrap(), 1);
        let dead = files(&q, "work-dlq", READY).pop().unwrap();
        assert_eq!(
            fs::read(q.dir("work-dlq", READY).join(dead)).unwrap(),
            bytes,
            "as it was"
        );
        let m = q
            .receive("work-dlq", LONG, Duration::ZERO)
            .unwrap()
            .unwrap();
        assert_eq!(
            (m.body.as_str(), m.id.as_str(), m.receive_count),
            (body, first.id.as_str(), 1)
        );
        // A dead-letter queue does not dead-letter.
        q.extend("work-dlq", &m.receipt, Duration::ZERO).unwrap();
        for n in 2..=6 {
            let m = q
                .receive("work-dlq", Duration::ZERO, Duration::ZERO)
                .unwrap()
                .unwrap();
            assert_eq!(m.receive_count, n);
        }
    }

    /// An empty file (another writer's, half written) is left alone and never
    /// dead-lettered; files that are not messages are ignored.
    #[test]
    fn empty_and_foreign_files_are_not_messages() {
        let (_tmp, q) = open(1);
        let ready = q.mkdir(Q, READY).unwrap();
        fs::write(
            ready.join("000000000000000000000001-000000-00000001.0"),
            b"",
        )
        .unwrap();
        fs::write(
            ready.join("000000000000000000000001-000000-00000002.7"),
            b"",
        )
        .unwrap();
        fs::write(ready.join("000000000000000000000001-000000-00000003"), b"").unwrap();
        fs::write(ready.join("notes.txt"), b"hello").unwrap();
        fs::write(ready.join(".hidden.0"), b"{\"body\":\"x\"}").unwrap();
        fs::create_dir(ready.join("000000000000000000000001-000000-00000004.0")).unwrap();
        q.send(Q, "real").unwrap();
        let before = files(&q, Q, READY);
        let m = q.receive(Q, LONG, Duration::ZERO).unwrap().unwrap();
        assert_eq!(m.body, "real");
        q.delete(Q, &m.receipt).unwrap();
        for _ in 0..3 {
            assert!(q
                .receive(Q, Duration::ZERO, Duration::ZERO)
                .unwrap()
                .is_none());
        }
        let after = files(&q, Q, READY);
        assert_eq!(
            after.len(),
            before.len() - 1,
            "all left where they were: {after:?}"
        );
        assert!(files(&q, Q, INFLIGHT).is_empty());
        assert!(
            files(&q, "work-dlq", READY).is_empty(),
            "nothing dead-lettered"
        );
        // A foreign writer finishes: now it is a message.
        let first = "000000000000000000000001-000000-00000001.0";
        assert!(after.iter().any(|n| n == first));
        fs::write(ready.join(first), b"{\"body\":\"late\"}").unwrap();
        assert_eq!(
            q.receive(Q, LONG, Duration::ZERO).unwrap().unwrap().body,
            "late"
        );
    }

    /// A complete file that is not an envelope goes to the dead-letter queue, its bytes
    /// as they were; from there it is delivered as its bytes.
    #[test]
    fn a_malformed_file_is_dead_lettered_with_its_bytes() {
        let (_tmp, q) = open(5);
        let ready = q.mkdir(Q, READY).unwrap();
        let bytes = b"{\"body\": \"trunc\xff".to_vec();
        fs::write(
            ready.join("000000000000000000000001-000000-00000001.0"),
            &bytes,
        )
        .unwrap();
        q.send(Q, "good").unwrap();
        assert_eq!(
            q.receive(Q, LONG, Duration::ZERO).unwrap().unwrap().body,
            "good"
        );
        assert_eq!(files(&q, Q, READY), Vec::<String>::new());
        let dead = files(&q, "work-dlq", READY);
        assert_eq!(
            dead,
            vec!["000000000000000000000001-000000-00000001.0".to_string()]
        );
        assert_eq!(
            fs::read(q.dir("work-dlq", READY).join(&dead[0])).unwrap(),
            bytes
        );
        let m = q
            .receive("work-dlq", LONG, Duration::ZERO)
            .unwrap()
            .unwrap();
        assert_eq!(m.body, String::from_utf8_lossy(&bytes));
    }

    /// A receiver killed right after taking a message (nothing else is left behind:
    /// the take is the rename) and a sender killed while writing.
    #[test]
    fn killed_receivers_and_senders_lose_nothing() {
        let (_tmp, q) = open(5);
        q.send(Q, "job").unwrap();
        q.mkdir(Q, INFLIGHT).unwrap(); // as every receive does first
        let name = files(&q, Q, READY).pop().unwrap();
        let taken = q
            .take(Q, &name, Duration::from_millis(300))
            .unwrap()
            .unwrap();
        drop(taken); // killed before reading or returning
        assert_eq!((q.depth(Q).unwrap(), q.in_flight(Q).unwrap()), (0, 1));
        assert!(q.receive(Q, LONG, Duration::ZERO).unwrap().is_none());
        std::thread::sleep(Duration::from_millis(400));
        let m = q
            .receive(Q, LONG, Duration::ZERO)
            .unwrap()
            .expect("not lost");
        assert_eq!((m.body.as_str(), m.receive_count), ("job", 2));
        q.delete(Q, &m.receipt).unwrap();

        // Senders killed mid-write: never messages; an old one is removed.
        let tmp = q.mkdir(Q, TMP).unwrap();
        fs::write(
            tmp.join("000000000000000000000001-000000-00000001.0"),
            b"{\"bo",
        )
        .unwrap();
        let old = tmp.join("000000000000000000000001-000000-00000002.0");
        fs::write(&old, b"{\"bo").unwrap();
        fs::File::options()
            .write(true)
            .open(&old)
            .unwrap()
            .set_modified(SystemTime::now() - 2 * TMP_ABANDONED)
            .unwrap();
        assert_eq!((q.depth(Q).unwrap(), q.in_flight(Q).unwrap()), (0, 0));
        assert!(q.receive(Q, LONG, Duration::ZERO).unwrap().is_none());
        assert_eq!(
            files(&q, Q, TMP),
            vec!["000000000000000000000001-000000-00000001.0".to_string()]
        );
    }

    /// Every message the embedded queue dead-letters itself (received too often, or not
    /// an envelope) is counted in the process's metrics under its queue, as the
    /// runner's malformed messages are: an operator watching the counter sees them all.
    #[test]
    fn the_queues_own_dead_letters_are_counted() {
        // A queue name of this test's own: the counter is the process's.
        const C: &str = "counted";
        let count = || {
            crate::metrics::get()
                .jobs_dead_lettered
                .with_label_values(&[C])
                .get()
        };
        let (_tmp, q) = open(1);
        let before = count();
        q.send(C, "poison").unwrap();
        assert!(q
            .receive(C, Duration::ZERO, Duration::ZERO)
            .unwrap()
            .is_some());
        // Its deadline has passed and it was received once: moved, not delivered.
        assert!(q.receive(C, LONG, Duration::ZERO).unwrap().is_none());
        assert_eq!(q.depth("counted-dlq").unwrap(), 1);
        assert_eq!(count(), before + 1, "received too often");
        let ready = q.mkdir(C, READY).unwrap();
        fs::write(
            ready.join("000000000000000000000009-000000-00000009.0"),
            b"{not json",
        )
        .unwrap();
        assert!(q.receive(C, LONG, Duration::ZERO).unwrap().is_none());
        assert_eq!(q.depth("counted-dlq").unwrap(), 2);
        assert_eq!(count(), before + 2, "not an envelope");
        // A dead-letter queue's own messages are delivered, never moved or counted.
        assert!(q
            .receive("counted-dlq", LONG, Duration::ZERO)
            .unwrap()
            .is_some());
        assert_eq!(count(), before + 2);
    }

    /// A dead-letter move that fails leaves the message where it was, creates nothing,
    /// does not stop other messages; it succeeds once the cause is gone.
    #[test]
    fn a_failed_dead_letter_leaves_the_message_in_place() {
        let (tmp, q) = open(1);
        q.send(Q, "poison").unwrap();
        let m = q
            .receive(Q, Duration::ZERO, Duration::ZERO)
            .unwrap()
            .unwrap();
        // Something in the way of the rename into the dead-letter queue.
        let blocker = q.dir("work-dlq", READY).join(format!("{}.0", m.id));
        fs::create_dir_all(blocker.join("x")).unwrap();
        let tree = |root: &Path| {
            let mut v = Vec::new();
            let mut stack = vec![root.to_path_buf()];
            while let Some(d) = stack.pop() {
                for e in fs::read_dir(d).unwrap().flatten() {
                    if e.file_type().unwrap().is_dir() {
                        stack.push(e.path());
                    }
                    v.push(e.path());
                }
            }
            v.sort();
            v
        };
        // The first receive puts it back in ready/ (its deadline passed) and fails.
        assert!(q.receive(Q, LONG, Duration::ZERO).is_err());
        let before = tree(tmp.path());
        for _ in 0..3 {
            let e = q.receive(Q, LONG, Duration::ZERO).unwrap_err();
            assert!(
                matches!(
                    e,
                    QueueError::Fs {
                        op: "dead-letter",
                        ..
                    }
                ),
                "{e}"
            );
            assert!(!e.is_disk_full());
            assert_eq!(tree(tmp.path()), before, "nothing moved, nothing created");
        }
        assert_eq!(files(&q, Q, READY), vec![format!("{}.1", m.id)]);
        q.send(Q, "healthy").unwrap();
        let h = q
            .receive(Q, LONG, Duration::ZERO)
            .unwrap()
            .expect("others still flow");
        assert_eq!(h.body, "healthy");
        q.delete(Q, &h.receipt).unwrap();
        fs::remove_dir_all(&blocker).unwrap();
        assert!(q.receive(Q, LONG, Duration::ZERO).unwrap().is_none());
        assert_eq!(q.depth("work-dlq").unwrap(), 1);
        assert_eq!(
            q.receive("work-dlq", LONG, Duration::ZERO)
                .unwrap()
                .unwrap()
                .body,
            "poison"
        );
    }

    /// A write that fails (disk full, injected) or a rename that fails removes its tmp
    /// file, creates no message and says what happened.
    #[test]
    fn a_failed_write_removes_its_tmp_file() {
        let (_tmp, q) = open(5);
        let ready = q.mkdir(Q, READY).unwrap();
        let e = q
            .create_with(
                Q,
                &ready,
                "000000000000000000000001-000000-00000001.0",
                |f| {
                    f.write_all(b"{\"bo")?;
                    Err(io::Error::from(io::ErrorKind::StorageFull))
                },
            )
            .unwrap_err();
        assert!(e.is_disk_full(), "{e}");
        assert_eq!(e.io_kind(), Some(io::ErrorKind::StorageFull));
        assert!(matches!(e, QueueError::Fs { op: "write", .. }));
        assert!(files(&q, Q, TMP).is_empty());
        assert!(files(&q, Q, READY).is_empty());

        let name = "000000000000000000000001-000000-00000002.0";
        fs::create_dir_all(ready.join(name).join("x")).unwrap();
        let e = q
            .create_with(Q, &ready, name, |f| f.write_all(b"{}"))
            .unwrap_err();
        assert!(matches!(e, QueueError::Fs { op: "rename", .. }), "{e}");
        assert!(files(&q, Q, TMP).is_empty());
        assert!(!QueueError::ReceiptExpired {
            queue: Q.into(),
            receipt: "r".into()
        }
        .is_disk_full());
    }

    /// Files of the previous layout: `ready/<id>` and `inflight/<id>` with its deadline
    /// in its modification time.
    #[test]
    fn the_previous_layout_is_still_served() {
        let (_tmp, q) = open(5);
        let ready = q.mkdir(Q, READY).unwrap();
        let inflight = q.mkdir(Q, INFLIGHT).unwrap();
        let old = "000000000000000000000001-000000-00000001";
        fs::write(ready.join(old), b"{\"body\":\"old\",\"receive_count\":2}").unwrap();
        let held = "000000000000000000000001-000000-00000002";
        fs::write(
            inflight.join(held),
            b"{\"body\":\"held\",\"receive_count\":1}",
        )
        .unwrap();
        let later = "000000000000000000000001-000000-00000003";
        let f = inflight.join(later);
        fs::write(&f, b"{\"body\":\"later\",\"receive_count\":1}").unwrap();
        let set = |p: &Path, t: SystemTime| {
            fs::File::options()
                .write(true)
                .open(p)
                .unwrap()
                .set_modified(t)
                .unwrap()
        };
        set(
            &inflight.join(held),
            SystemTime::now() - Duration::from_secs(1),
        );
        set(&f, SystemTime::now() + Duration::from_secs(3600));
        assert_eq!((q.depth(Q).unwrap(), q.in_flight(Q).unwrap()), (2, 1));
        let mut got = Vec::new();
        while let Some(m) = q.receive(Q, LONG, Duration::ZERO).unwrap() {
            q.delete(Q, &m.receipt).unwrap();
            got.push((m.body, m.id, m.receive_count));
        }
        assert_eq!(
            got,
            vec![
                ("old".into(), old.into(), 1),
                ("held".into(), held.into(), 1)
            ]
        );
        assert_eq!(q.recover_all(Q).unwrap(), 1);
        let m = q.receive(Q, LONG, Duration::ZERO).unwrap().unwrap();
        assert_eq!((m.body.as_str(), m.id.as_str()), ("later", later));
    }

    #[test]
    fn recover_all_makes_every_message_visible() {
        let (_tmp, q) = open(5);
        for i in 0..3 {
            q.send(Q, &format!("m{i}")).unwrap();
        }
        let a = q.receive(Q, LONG, Duration::ZERO).unwrap().unwrap();
        let b = q.receive(Q, LONG, Duration::ZERO).unwrap().unwrap();
        assert_eq!((q.depth(Q).unwrap(), q.in_flight(Q).unwrap()), (1, 2));
        assert_eq!(q.recover_all(Q).unwrap(), 2);
        assert_eq!((q.depth(Q).unwrap(), q.in_flight(Q).unwrap()), (3, 0));
        assert!(is_expired(&q.delete(Q, &a.receipt).unwrap_err()));
        let again = q.receive(Q, LONG, Duration::ZERO).unwrap().unwrap();
        assert_eq!((again.id, again.receive_count), (a.id, 2));
        assert_ne!(b.id, "");
    }

    /// What one worker saw: receives and successful deletes, as (id, receive count).
    #[derive(Default)]
    struct Seen {
        received: Vec<(String, u32)>,
        deleted: Vec<(String, u32)>,
    }

    /// Receive with a visibility shorter than the work, heartbeat at random, delete:
    /// receives, expiries, requeues, extends and deletes all race.
    fn churn(q: &LocalQueue, done: impl Fn() -> bool, seen: &Mutex<Seen>, until: Instant) {
        let vis = Duration::from_millis(20);
        let mut rng = Rng::new();
        while !done() {
            assert!(Instant::now() < until, "messages lost");
            let Some(m) = q.receive(Q, vis, Duration::ZERO).unwrap() else {
                std::thread::sleep(Duration::from_millis(1));
                continue;
            };
            seen.lock()
                .unwrap()
                .received
                .push((m.id.clone(), m.receive_count));
            for _ in 0..rng.below(3) {
                std::thread::sleep(Duration::from_millis(rng.below(15)));
                if let Err(e) = q.extend(Q, &m.receipt, vis) {
                    assert!(is_expired(&e), "{e}");
                }
            }
            std::thread::sleep(Duration::from_millis(rng.below(25)));
            match q.delete(Q, &m.receipt) {
                Ok(()) => seen.lock().unwrap().deleted.push((m.id, m.receive_count)),
                Err(e) => assert!(is_expired(&e), "{e}"),
            }
        }
    }

    /// Every receive of a message was another one (no two receivers ever got the same
    /// receive), every message was deleted exactly once, by the holder of its last
    /// receive (a stale receipt never deleted it), and nothing is left.
    fn check(seen: &Seen, n: usize) {
        let mut counts: HashMap<&str, Vec<u32>> = HashMap::new();
        for (id, c) in &seen.received {
            counts.entry(id).or_default().push(*c);
        }
        assert_eq!(counts.len(), n);
        for (id, cs) in &mut counts {
            let len = cs.len();
            cs.sort();
            cs.dedup();
            assert_eq!(cs.len(), len, "{id}: one receive delivered twice: {cs:?}");
        }
        let mut deleted: HashMap<&str, u32> = HashMap::new();
        for (id, c) in &seen.deleted {
            assert!(deleted.insert(id, *c).is_none(), "{id} deleted twice");
            assert_eq!(
                Some(c),
                counts[id.as_str()].last(),
                "{id}: deleted by a stale receipt"
            );
        }
        assert_eq!(deleted.len(), n);
    }

    #[test]
    fn short_visibility_races_never_duplicate_a_receive_or_lose_a_message() {
        const N: usize = 100;
        let (_tmp, q) = open(1000);
        for i in 0..N {
            q.send(Q, &format!("m{i}")).unwrap();
        }
        let seen = Mutex::new(Seen::default());
        let until = Instant::now() + Duration::from_secs(60);
        let done = || seen.lock().unwrap().deleted.len() >= N;
        std::thread::scope(|s| {
            for _ in 0..8 {
                s.spawn(|| churn(&q, done, &seen, until));
            }
        });
        let seen = seen.into_inner().unwrap();
        check(&seen, N);
        assert!(seen.received.len() > N, "the test raced nothing");
        for part in [READY, INFLIGHT, TMP] {
            assert!(files(&q, Q, part).is_empty(), "{part}");
        }
    }

    const CHILD_ENV: &str = "QUEUE_STRESS_CHILD_ROOT";

    /// The other process of `two_processes_share_one_queue` (does nothing on its own).
    #[test]
    fn stress_child() {
        let Some(root) = std::env::var_os(CHILD_ENV) else {
            return;
        };
        let q = LocalQueue::open(Path::new(&root), 1000).unwrap();
        let seen = Mutex::new(Seen::default());
        let until = Instant::now() + Duration::from_secs(60);
        // Done once the queue stays empty (no message is ever outside ready/inflight).
        let done = || {
            (0..3).all(|_| {
                std::thread::sleep(Duration::from_millis(30));
                q.depth(Q).unwrap() + q.in_flight(Q).unwrap() == 0
            })
        };
        std::thread::scope(|s| {
            for _ in 0..4 {
                s.spawn(|| churn(&q, done, &seen, until));
            }
        });
        let seen = seen.into_inner().unwrap();
        let mut out = String::new();
        for (tag, v) in [("R", &seen.received), ("D", &seen.deleted)] {
            for (id, c) in v {
                out.push_str(&format!("{tag} {id} {c}\n"));
            }
        }
        fs::write(
            Path::new(&root).join(format!("seen-{}", std::process::id())),
            out,
        )
        .unwrap();
    }

    #[test]
    fn two_processes_share_one_queue() {
        if std::env::var_os(CHILD_ENV).is_some() {
            return;
        }
        const N: usize = 150;
        let (tmp, q) = open(1000);
        for i in 0..N {
            q.send(Q, &format!("m{i}")).unwrap();
        }
        let test = format!(
            "{}::stress_child",
            module_path!().split_once("::").unwrap().1
        );
        let mut children: Vec<_> = (0..2)
            .map(|_| {
                std::process::Command::new(std::env::current_exe().unwrap())
                    .args([&test, "--exact", "--test-threads", "1", "--quiet"])
                    .env(CHILD_ENV, tmp.path())
                    .stdout(std::process::Stdio::null())
                    .spawn()
                    .unwrap()
            })
            .collect();
        let until = Instant::now() + Duration::from_secs(90);
        for c in &mut children {
            loop {
                if let Some(status) = c.try_wait().unwrap() {
                    assert!(status.success());
                    break;
                }
                if Instant::now() > until {
                    let _ = c.kill();
                    panic!("a child did not finish");
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        let mut seen = Seen::default();
        let mut per_child = Vec::new();
        for e in fs::read_dir(tmp.path()).unwrap().flatten() {
            if !e.file_name().to_string_lossy().starts_with("seen-") {
                continue;
            }
            let text = fs::read_to_string(e.path()).unwrap();
            let mut deletes = 0;
            for line in text.lines() {
                let mut w = line.split(' ');
                let (tag, id, c) = (w.next().unwrap(), w.next().unwrap(), w.next().unwrap());
                let entry = (id.to_string(), c.parse().unwrap());
                if tag == "R" {
                    seen.received.push(entry);
                } else {
                    deletes += 1;
                    seen.deleted.push(entry);
                }
            }
            per_child.push(deletes);
        }
        assert_eq!(per_child.len(), 2);
        check(&seen, N);
        assert!(
            per_child.iter().all(|&d| d > 0),
            "both worked: {per_child:?}"
        );
        for part in [READY, INFLIGHT, TMP] {
            assert!(files(&q, Q, part).is_empty(), "{part}");
        }
    }
}
