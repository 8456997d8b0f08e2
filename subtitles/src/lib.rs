//! `subtitles` owns subtitle text: SRT, WebVTT and TTML sidecars parsed into one cue
//! list ([`Cue`]), validated (timing, overlaps, encoding: each refusal names its line),
//! and written back out as WebVTT: one file per video segment, on the segment grid, with
//! the `X-TIMESTAMP-MAP` that ties cue times to the CMAF media timeline, plus the HLS
//! subtitle media playlist that lists them, and one whole-title file for DASH.
//!
//! Pure: bytes in, text out. No I/O and no FFmpeg: the farm's stages fetch and store
//! the files, and `media` turns subtitle streams of a master into cues.

mod cue;
mod error;
mod segment;
mod srt;
mod text;
mod ttml;
mod vtt;

pub use cue::{Cue, Timestamp};
pub use error::SubtitleError;
pub use segment::{clip, hls_playlist, segment_webvtt, Span};
pub use srt::{parse_srt, write_srt};
pub use ttml::parse_ttml;
pub use vtt::{parse_vtt, write_vtt};

/// A sidecar's format, told by its file extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// SubRip (`.srt`).
    Srt,
    /// WebVTT (`.vtt`).
    Vtt,
    /// TTML / DFXP / IMSC text (`.ttml`, `.dfxp`, `.xml`).
    Ttml,
}

impl Format {
    /// The format of a file named `*.ext`; `None` for an extension we do not read.
    pub fn from_extension(ext: &str) -> Option<Self> {
        match ext.to_ascii_lowercase().as_str() {
            "srt" => Some(Self::Srt),
            "vtt" | "webvtt" => Some(Self::Vtt),
            "ttml" | "dfxp" | "xml" => Some(Self::Ttml),
            _ => None,
        }
    }
    /// The extension the farm stores a sidecar of this format under.
    pub fn extension(self) -> &'static str {
        match self {
            Self::Srt => "srt",
            Self::Vtt => "vtt",
            Self::Ttml => "ttml",
        }
    }
}

/// Parse and validate a sidecar: UTF-8 (a byte order mark is dropped), every cue's end
/// after its start, no two cues overlapping, at least one cue. Cues come back sorted
/// by start time.
pub fn parse(bytes: &[u8], format: Format) -> Result<Vec<Cue>, SubtitleError> {
    let text = text::decode(bytes)?;
    let cues = match format {
        Format::Srt => srt::parse_srt(text)?,
        Format::Vtt => vtt::parse_vtt(text)?,
        Format::Ttml => ttml::parse_ttml(text)?,
    };
    validate(cues)
}

/// The checks every parser's output goes through: end after start, no overlap (cues
/// sorted by start first, so only a real overlap is refused, not a file out of order),
/// at least one cue.
pub fn validate(mut cues: Vec<Cue>) -> Result<Vec<Cue>, SubtitleError> {
    for c in &cues {
        if c.end <= c.start {
            return Err(SubtitleError::EndNotAfterStart {
                line: c.line,
                start: Timestamp(c.start),
                end: Timestamp(c.end),
            });
        }
    }
    cues.sort_by_key(|c| (c.start, c.line));
    for w in cues.windows(2) {
        if w[1].start < w[0].end {
            return Err(SubtitleError::Overlap {
                line: w[1].line,
                start: Timestamp(w[1].start),
                previous_line: w[0].line,
                previous_end: Timestamp(w[0].end),
            });
        }
    }
    if cues.is_empty() {
        return Err(SubtitleError::NoCues);
    }
    Ok(cues)
}
