//! How the farm fails. One error type for the core, [`FarmError`], that keeps the
//! error it came from (with the values that were wrong) and decides by cause whether
//! trying again can help: I/O timeouts, throttling and 5xx answers are transient; a
//! missing object, a bad master, bad settings and refused permissions are permanent.
//! Disk full is transient (space may come back) until the job's last permitted
//! attempt, when the runner fails the title naming it.

use std::io::ErrorKind;

use crate::queue::QueueError;
use crate::store::StoreError;

/// An error of the farm core: stages, submit, the worker pool.
#[derive(Debug, thiserror::Error)]
pub enum FarmError {
    /// The title cannot be made as asked (bad input, bad settings, a bug in the plan).
    #[error("{0}")]
    Permanent(String),
    /// A condition that should pass when tried again.
    #[error("{0}")]
    Transient(String),
    /// The object store failed; its error decides whether a retry can help.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The queue failed; its error decides whether a retry can help.
    #[error(transparent)]
    Queue(#[from] QueueError),
    /// Probing, splitting, encoding or scoring media failed (transient only for I/O).
    #[error(transparent)]
    Media(#[from] media::MediaError),
    /// Encoded chunks that cannot be packaged into CMAF segments.
    #[error(transparent)]
    Packager(#[from] packager::PackagerError),
    /// A ladder, policy or segment grid that cannot be used.
    #[error(transparent)]
    Ladder(#[from] ladders::LadderError),
    /// A fleet file that does not parse or does not make sense.
    #[error(transparent)]
    Placement(#[from] placement::PlacementError),
    /// Local files (scratch space, the store lock, a master being read).
    #[error("{what}: {source}")]
    Io {
        /// The file or folder, or what was being done with it.
        what: String,
        /// The I/O error; its kind decides whether a retry can help.
        #[source]
        source: std::io::Error,
    },
    /// A stored JSON document that does not parse.
    #[error("{key}: {source}")]
    Json {
        /// The document's object key.
        key: String,
        /// Where and why it does not parse.
        #[source]
        source: serde_json::Error,
    },
    /// The master changed while it was being submitted (still being written or
    /// uploaded), or the stored copy is not what was probed: both sizes.
    #[error("master is growing: {path} was {before} bytes when probed, {after} bytes {when}; submit it again once it is complete")]
    MasterChanged {
        /// The master file or its object key.
        path: String,
        /// Bytes when it was probed and hashed.
        before: u64,
        /// Bytes afterwards.
        after: u64,
        /// When the second size was taken.
        when: &'static str,
    },
    /// A stage's code panicked: a bug, never retried.
    #[error("{job} panicked: {message}")]
    Panicked {
        /// The job that was running, as its message shows it.
        job: String,
        /// The text the panic was raised with.
        message: String,
    },
}

/// The name the stages have always used for it.
pub type StageError = FarmError;

impl FarmError {
    /// Local I/O on `what`, keeping the error.
    pub fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> FarmError {
        let what = what.into();
        move |source| FarmError::Io { what, source }
    }

    /// Whether the same job may succeed if it is run again.
    pub fn is_transient(&self) -> bool {
        match self {
            FarmError::Permanent(_)
            | FarmError::Panicked { .. }
            | FarmError::MasterChanged { .. } => false,
            FarmError::Transient(_) => true,
            FarmError::Store(e) => e.is_transient(),
            FarmError::Queue(e) => e.is_transient(),
            FarmError::Media(media::MediaError::Io { source, .. }) => io_is_transient(source),
            // FFmpeg's own I/O: only a full disk or quota may pass (decode and format
            // errors come with errnos too, and do not).
            FarmError::Media(e) => e.io_kind().is_some_and(full),
            FarmError::Packager(_) | FarmError::Ladder(_) | FarmError::Placement(_) => false,
            FarmError::Io { source, .. } => io_is_transient(source),
            FarmError::Json { .. } => false,
        }
    }

    /// Whether the cause is a full disk (local or the embedded store's).
    pub fn is_disk_full(&self) -> bool {
        let io = match self {
            FarmError::Store(StoreError::Io { source, .. }) => Some(source),
            FarmError::Queue(e) => e.io_source(),
            FarmError::Media(e) => return e.io_kind().is_some_and(full),
            FarmError::Io { source, .. } => Some(source),
            _ => None,
        };
        io.is_some_and(|e| full(e.kind()))
    }
}

fn full(kind: ErrorKind) -> bool {
    matches!(kind, ErrorKind::StorageFull | ErrorKind::QuotaExceeded)
}

/// An error and its causes on one line, each said once: a cause whose text the line
/// already holds (an error that prints its source) is not repeated.
pub fn one_line(e: &(dyn std::error::Error + 'static)) -> String {
    let mut line = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        let text = c.to_string();
        if !line.contains(&text) {
            line.push_str(": ");
            line.push_str(&text);
        }
        cause = c.source();
    }
    line
}

/// Transient unless retrying cannot change the answer: permissions, a missing file,
/// invalid data. A full disk is transient (space may come back).
pub fn io_is_transient(e: &std::io::Error) -> bool {
    !matches!(
        e.kind(),
        ErrorKind::PermissionDenied
            | ErrorKind::NotFound
            | ErrorKind::InvalidData
            | ErrorKind::InvalidInput
            | ErrorKind::Unsupported
            | ErrorKind::ReadOnlyFilesystem
    )
}

impl QueueError {
    /// The local I/O error behind it, if any (the embedded queue).
    pub fn io_source(&self) -> Option<&std::io::Error> {
        match self {
            QueueError::Fs { source, .. } => Some(source),
            _ => None,
        }
    }

    /// Whether the same call may succeed later: local I/O by its kind; a receipt that is
    /// no longer held never will.
    pub fn is_transient(&self) -> bool {
        match self.io_source() {
            Some(e) => io_is_transient(e),
            None => !matches!(self, QueueError::ReceiptExpired { .. }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ffmpeg(errno: i32) -> FarmError {
        FarmError::Media(media::MediaError::Ffmpeg {
            context: "writing chunk packet".into(),
            source: ffmpeg_next_error(errno),
        })
    }

    /// FFmpeg's error for an errno, as its I/O layer returns it (AVERROR(errno)).
    fn ffmpeg_next_error(errno: i32) -> media::FfmpegError {
        media::FfmpegError::from(-errno)
    }

    #[test]
    fn an_ffmpeg_write_on_a_full_disk_is_a_full_disk() {
        for errno in [libc::ENOSPC, libc::EDQUOT] {
            let e = ffmpeg(errno);
            assert!(e.is_disk_full() && e.is_transient(), "{errno}: {e}");
        }
        // Other errnos from FFmpeg are the master's or ours: not retried.
        for errno in [libc::EINVAL, libc::EIO, libc::ENOENT] {
            let e = ffmpeg(errno);
            assert!(!e.is_disk_full() && !e.is_transient(), "{errno}: {e}");
        }
    }
}
