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

/// A TOML error on one line: where, then what. toml's own text puts the reason after
/// a multi-line excerpt of the file, so its first line alone says only where.
pub(crate) fn toml_detail(e: &toml::de::Error) -> String {
    let what = e
        .message()
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join("; ");
    match e.to_string().lines().next() {
        Some(place) if place.starts_with("TOML parse error") => format!("{place}: {what}"),
        _ => what,
    }
}
