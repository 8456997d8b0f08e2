#[derive(Debug, thiserror::Error, PartialEq)]
pub enum PlacementError {
    #[error("fleet file is not valid: {detail}")]
    Parse { detail: String },
    #[error("fleet: {detail}")]
    Invalid { detail: String },
}
