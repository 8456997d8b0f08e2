/// How a stage failed. Permanent failures (bad input) fail the title at once; transient
/// ones leave the message to be delivered again (and dead-lettered after N receives).
#[derive(Debug, thiserror::Error)]
pub enum StageError {
    #[error("{0}")]
    Permanent(String),
    #[error("{0}")]
    Transient(String),
}

impl From<media::MediaError> for StageError {
    fn from(e: media::MediaError) -> Self {
        match e {
            media::MediaError::Io { .. } => StageError::Transient(e.to_string()),
            other => StageError::Permanent(other.to_string()),
        }
    }
}

impl From<crate::store::StoreError> for StageError {
    fn from(e: crate::store::StoreError) -> Self {
        StageError::Transient(e.to_string())
    }
}

impl From<packager::PackagerError> for StageError {
    fn from(e: packager::PackagerError) -> Self {
        StageError::Permanent(e.to_string())
    }
}

impl From<crate::queue::QueueError> for StageError {
    fn from(e: crate::queue::QueueError) -> Self {
        StageError::Transient(e.to_string())
    }
}
