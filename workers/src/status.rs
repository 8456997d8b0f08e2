//! Status records for content ops (`control/titles/<id>.json`).

use serde::{Deserialize, Serialize};

use crate::store::ObjectStore;
use crate::{keys, TitleId};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum State {
    Submitted,
    Encoding,
    Packaging,
    Published,
    Failed,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TitleStatus {
    pub title: TitleId,
    pub state: State,
    #[serde(default)]
    pub error: Option<String>,
    #[serde(default)]
    pub chunks: usize,
    #[serde(default)]
    pub renditions: Vec<String>,
}

pub fn read(store: &dyn ObjectStore, t: &TitleId) -> Option<TitleStatus> {
    store
        .get(&keys::status(t))
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
}

pub fn write(store: &dyn ObjectStore, s: &TitleStatus) -> Result<(), crate::store::StoreError> {
    store.put(
        &keys::status(&s.title),
        &serde_json::to_vec_pretty(s).expect("serialisable"),
    )
}

/// Move a title to `state` (a failed or published title keeps its state).
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
    if matches!(s.state, State::Failed | State::Published) && state != State::Failed {
        return Ok(());
    }
    s.state = state;
    if error.is_some() {
        s.error = error;
    }
    write(store, &s)
}
