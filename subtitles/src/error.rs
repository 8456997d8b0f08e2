use crate::Timestamp;

/// Why a subtitle file is refused: each names the line (1-based) it is about.
#[derive(Debug, thiserror::Error)]
pub enum SubtitleError {
    /// Bytes that are not UTF-8.
    #[error("line {line}: not UTF-8 (byte 0x{byte:02X}); save the file as UTF-8")]
    NotUtf8 { line: usize, byte: u8 },
    /// A UTF-16 byte order mark.
    #[error("line 1: UTF-16 text ({bom} byte order mark); save the file as UTF-8")]
    Utf16 { bom: &'static str },
    /// A timestamp that does not parse.
    #[error("line {line}: '{text}' is not a timestamp (expected {expected})")]
    BadTimestamp {
        line: usize,
        text: String,
        expected: &'static str,
    },
    /// A cue that ends at or before its start.
    #[error("line {line}: the cue ends at {end}, not after its start {start}")]
    EndNotAfterStart {
        line: usize,
        start: Timestamp,
        end: Timestamp,
    },
    /// Two cues shown at once.
    #[error("line {line}: the cue starts at {start}, before the cue of line {previous_line} ends at {previous_end}; overlapping cues are refused")]
    Overlap {
        line: usize,
        start: Timestamp,
        previous_line: usize,
        previous_end: Timestamp,
    },
    /// Anything else about the file's shape.
    #[error("line {line}: {reason}")]
    Syntax { line: usize, reason: String },
    /// TTML that is not well-formed XML.
    #[error("line {line}: not well-formed XML: {source}")]
    Xml {
        line: usize,
        #[source]
        source: quick_xml::Error,
    },
    /// A file with no cue at all.
    #[error("line 1: no cues in the file")]
    NoCues,
}

impl SubtitleError {
    /// The line the error is about.
    pub fn line(&self) -> usize {
        match self {
            Self::NotUtf8 { line, .. }
            | Self::BadTimestamp { line, .. }
            | Self::EndNotAfterStart { line, .. }
            | Self::Overlap { line, .. }
            | Self::Syntax { line, .. }
            | Self::Xml { line, .. } => *line,
            Self::Utf16 { .. } | Self::NoCues => 1,
        }
    }
}
