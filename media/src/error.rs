use std::path::PathBuf;

/// Every way a media operation fails, with the values that were wrong.
#[derive(Debug, thiserror::Error)]
pub enum MediaError {
    #[error("{path}: file not found")]
    NotFound { path: PathBuf },
    #[error("{path}: file is empty")]
    Empty { path: PathBuf },
    #[error("{path}: not a recognised media file (accepted containers: {accepted})")]
    Unrecognised { path: PathBuf, accepted: String },
    #[error("{path}: container '{format}' is not accepted (accepted: {accepted})")]
    FormatRefused {
        path: PathBuf,
        format: String,
        accepted: String,
    },
    #[error("{path}: no video stream")]
    NoVideo { path: PathBuf },
    #[error("{path}: no video stream, only a cover picture (an audio file)")]
    CoverOnly { path: PathBuf },
    #[error("{path}: not a regular file (a directory, a pipe or a device)")]
    NotAFile { path: PathBuf },
    #[error("{path}: unreadable media ({detail})")]
    Corrupt { path: PathBuf, detail: String },
    #[error("{path}: {what} {value} is outside the accepted range {min}..={max}")]
    OutOfBounds {
        path: PathBuf,
        what: &'static str,
        value: u64,
        min: u64,
        max: u64,
    },
    #[error("{path}: {width}x{height} pictures at sample aspect {sar_num}:{sar_den} display as {display_w}x{height}; accepted are displayed shapes at least 32 pixels each way and at most 8:1 either way")]
    Shape {
        path: PathBuf,
        width: u32,
        height: u32,
        sar_num: u32,
        sar_den: u32,
        display_w: u64,
    },
    #[error("{path}: video codec {codec} cannot be split into chunks ({detail}); re-encode the master (ProRes, DNxHR, H.264 or HEVC)")]
    ChunkCodec {
        path: PathBuf,
        codec: String,
        detail: String,
    },
    #[error("master's pictures change from {} to {} at {:.2} s (two sources joined?): a title has one shape; cut the master there or re-encode it to one shape", .0.from, .0.to, .0.at_s)]
    ShapeChanges(crate::inspect::ShapeChange),
    #[error("master's video decode times go back from {:.3} s to {:.3} s at packet {} (two recordings joined, or a broken mux?): remux it with rising timestamps or re-encode it", .0.from_s, .0.to_s, .0.packet)]
    DecodeTimeBack(crate::inspect::DecodeTimeBack),
    #[error("{path}: cannot be converted faithfully: {reason}")]
    Unconvertible {
        path: PathBuf,
        reason: crate::ConversionRefused,
    },
    #[error("{path}: group of pictures longer than {max_packets} packets; re-encode the master with keyframes at least every few seconds")]
    GopTooLong { path: PathBuf, max_packets: usize },
    /// Inspection found less than the header declares, or a file that ends inside a
    /// frame (see `inspect`).
    #[error(transparent)]
    Truncated(#[from] crate::inspect::Truncated),
    #[error("encoder {codec}: {detail}")]
    Encoder { codec: &'static str, detail: String },
    #[error("encoder {codec} rejected option(s) {options}")]
    UnknownOption {
        codec: &'static str,
        options: String,
    },
    #[error("quality measurement: {detail}")]
    Quality { detail: String },
    #[error("{context}: {source}")]
    Ffmpeg {
        context: String,
        #[source]
        source: ffmpeg_next::Error,
    },
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl MediaError {
    /// The kind of system error behind it, if any: a file of ours, or an FFmpeg read or
    /// write that failed with an errno (a chunk file on a full disk says ENOSPC only
    /// through FFmpeg).
    pub fn io_kind(&self) -> Option<std::io::ErrorKind> {
        match self {
            MediaError::Io { source, .. } => Some(source.kind()),
            MediaError::Ffmpeg {
                source: ffmpeg_next::Error::Other { errno },
                ..
            } => Some(std::io::Error::from_raw_os_error(*errno).kind()),
            _ => None,
        }
    }
}

pub(crate) trait Context<T> {
    fn ctx(self, context: impl FnOnce() -> String) -> Result<T, MediaError>;
}

impl<T> Context<T> for Result<T, ffmpeg_next::Error> {
    fn ctx(self, context: impl FnOnce() -> String) -> Result<T, MediaError> {
        self.map_err(|source| MediaError::Ffmpeg {
            context: context(),
            source,
        })
    }
}
