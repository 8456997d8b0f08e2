#[derive(Debug, thiserror::Error, PartialEq)]
pub enum PackagerError {
    #[error("encoded chunk file is not valid: {detail}")]
    BadChunkFile { detail: String },
    #[error("segment {segment} of '{track}' does not start with a keyframe at {expected_pts} (found pts {found_pts:?})")]
    NoIdrAtBoundary {
        track: String,
        segment: u64,
        expected_pts: i64,
        found_pts: Option<i64>,
    },
    #[error("chunk {index} of '{track}' has a different codec configuration, time scale or reorder delay from chunk 0")]
    ConfigMismatch { track: String, index: u32 },
    #[error("'{track}': sample {sample} has composition offset {cts_offset}, which the chunk's reorder delay {reorder_delay} does not make a non-negative 32-bit offset")]
    CompositionOutOfRange {
        track: String,
        sample: usize,
        cts_offset: i32,
        reorder_delay: u32,
    },
    #[error("'{track}': sample times are not increasing at sample {sample}")]
    NonMonotonic { track: String, sample: usize },
}
