#[derive(Debug, thiserror::Error, PartialEq)]
pub enum PlacementError {
    #[error("fleet file is not valid: {detail}")]
    Parse { detail: String },
    #[error("fleet: {detail}")]
    Invalid { detail: String },
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
