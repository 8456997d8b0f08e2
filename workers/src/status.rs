//! Status records for content ops (`control/titles/<id>.json`).

use serde::{Deserialize, Serialize};

use crate::store::ObjectStore;
use crate::{keys, TitleId};

/// Where a title is in the pipeline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum State {
    /// Master and request stored, ingest queued; not yet planned.
    Submitted,
    /// Planned; its chunks and audio are being encoded.
    Encoding,
    /// Every part encoded; being packaged and published.
    Packaging,
    /// Its master playlist is written: the title can be played.
    Published,
    /// Given up on; `error` says why (`vodfarm retry` starts it again).
    Failed,
}

/// A title's status record for content ops (`control/titles/<id>.json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TitleStatus {
    /// The title it describes.
    pub title: TitleId,
    /// Where the title is.
    pub state: State,
    /// Why the title failed: the error, its causes, and what to do.
    #[serde(default)]
    pub error: Option<String>,
    /// Chunks planned; 0 until ingest has planned the title.
    #[serde(default)]
    pub chunks: usize,
    /// Video rendition ids planned; empty until ingest has planned the title.
    #[serde(default)]
    pub renditions: Vec<String>,
}

/// The title's status record; `None` when it is missing, unreadable or does not parse.
pub fn read(store: &dyn ObjectStore, t: &TitleId) -> Option<TitleStatus> {
    store
        .get(&keys::status(t))
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
}

/// Store `s` as its title's status record, replacing the one there.
pub fn write(store: &dyn ObjectStore, s: &TitleStatus) -> Result<(), crate::store::StoreError> {
    store.put(
        &keys::status(&s.title),
        &serde_json::to_vec_pretty(s).expect("serialisable"),
    )
}

/// Move a title to `state`. A published title keeps its state (what is published
/// stays published, whatever fails after); a failed one changes only by `retry`.
pub fn set(
    store: &dyn ObjectStore,
    t: &TitleId,
    state: State,
    error: Option<String>,
) -> Result<(), crate::store::StoreError> {
    let mut s = read(store, t).unwrap_or(TitleStatus {
        title: t.clone(),
        state,
        error: None,
        chunks: 0,
        renditions: Vec::new(),
    });
    if (s.state == State::Published && state != State::Published)
        || (s.state == State::Failed && state != State::Failed)
    {
        return Ok(());
    }
    s.state = state;
    if error.is_some() {
        s.error = error;
    }
    write(store, &s)
}
