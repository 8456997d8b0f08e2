#[derive(Debug, thiserror::Error, PartialEq)]
pub enum LadderError {
    #[error("unknown ladder '{name}' (built in: {known})")]
    UnknownPreset { name: String, known: String },
    #[error("ladder file is not valid: {detail}")]
    Parse { detail: String },
    #[error("ladder '{name}': {detail}")]
    Invalid { name: String, detail: String },
    #[error("frame rate {num}/{den} is not usable")]
    FrameRate { num: u32, den: u32 },
    #[error("BD-rate: {detail}")]
    BdRate { detail: String },
    #[error("no usable rate-quality measurements ({count} point(s) given)")]
    NoMeasurements { count: usize },
    #[error("segment target {seconds} s is outside 1..=10 s")]
    SegmentTarget { seconds: f64 },
}
