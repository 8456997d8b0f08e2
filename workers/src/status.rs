//! Status records for content ops (`control/titles/<id>.json`).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::store::ObjectStore;
use crate::{keys, TitleId};

/// Where a title is in the pipeline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
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

impl State {
    /// The state's name, as in the JSON (`published`).
    pub fn as_str(self) -> &'static str {
        match self {
            State::Submitted => "submitted",
            State::Encoding => "encoding",
            State::Packaging => "packaging",
            State::Published => "published",
            State::Failed => "failed",
        }
    }
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
    /// When the title last entered each state (milliseconds since the Unix epoch):
    /// the title's started and finished times and its per-stage timings. Records
    /// written before times were kept have none.
    #[serde(default)]
    pub times: BTreeMap<State, u64>,
    /// When the title was first submitted (milliseconds since the Unix epoch). Kept
    /// apart from `times`, whose Submitted entry a retry from ingest moves: the title
    /// started when it was first submitted, not when it was last retried.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_ms: Option<u64>,
    /// Each published video rendition's measured bitrate and VMAF against the
    /// prediction; empty until the title is packaged.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub quality: Vec<crate::measured::RenditionMeasure>,
}

impl TitleStatus {
    /// A title that has just entered `state`, nothing planned yet.
    /// A title submitted now starts now; a record made later (its status was lost)
    /// does not know when it started.
    pub fn new(title: &TitleId, state: State) -> Self {
        let now = now_ms();
        Self {
            title: title.clone(),
            state,
            error: None,
            chunks: 0,
            renditions: Vec::new(),
            times: BTreeMap::from([(state, now)]),
            started_ms: (state == State::Submitted).then_some(now),
            quality: Vec::new(),
        }
    }

    /// Move to `state` now, recording the time (a state entered again, by a retry,
    /// gets its new time).
    pub fn enter(&mut self, state: State) {
        let now = now_ms();
        // A record written before `started_ms` was kept started when it last entered
        // Submitted, as far as it knows: take that before a retry moves it (one that
        // never recorded times does not know, and leaves it unset).
        if self.started_ms.is_none() {
            self.started_ms = self.times.get(&State::Submitted).copied();
        }
        if self.state != state || !self.times.contains_key(&state) {
            self.times.insert(state, now);
        }
        self.state = state;
    }

    /// Seconds spent in each stage that has ended: ingest (submitted to encoding),
    /// encode (encoding to packaging), package (packaging to published).
    pub fn stage_seconds(&self) -> Vec<(&'static str, f64)> {
        let at = |s: State| self.times.get(&s).copied();
        [
            ("ingest", State::Submitted, State::Encoding),
            ("encode", State::Encoding, State::Packaging),
            ("package", State::Packaging, State::Published),
        ]
        .into_iter()
        .filter_map(|(name, from, to)| {
            let (a, b) = (at(from)?, at(to)?);
            (b >= a).then(|| (name, (b - a) as f64 / 1000.0))
        })
        .collect()
    }
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
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
    let mut s = read(store, t).unwrap_or_else(|| TitleStatus::new(t, state));
    if (s.state == State::Published && state != State::Published)
        || (s.state == State::Failed && state != State::Failed)
    {
        return Ok(());
    }
    s.enter(state);
    if error.is_some() {
        s.error = error;
    }
    write(store, &s)
}
