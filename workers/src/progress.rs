//! Progress as data: how far a title has got, from its status record, its plan, its
//! done markers and what it has published, plus the queues' backlog. The binary draws
//! bars from it (`run`) or prints it (`status`); nothing here prints.

use crate::plan::Plan;
use crate::queue::Queue;
use crate::runner;
use crate::status::{self, State, TitleStatus};
use crate::store::{ObjectStore, StoreError};
use crate::{keys, FarmError, TitleId};

/// One title's progress.
#[derive(Debug, Clone, PartialEq)]
pub struct Progress {
    /// The title's status record.
    pub status: TitleStatus,
    /// Whether ingest has planned the title (the split and the ladder are done).
    pub planned: bool,
    /// Parts (chunks, and audio when the master has it) encoded, of all parts.
    pub parts_done: usize,
    /// All parts: every chunk, plus audio when the master has it.
    pub parts: usize,
    /// Tracks with a published init segment, of all tracks (every rung, audio).
    pub tracks_packaged: usize,
    /// All tracks: every rung, plus audio when the master has it.
    pub tracks: usize,
    /// The chosen per-title ladder's size, when the ladder was per-title.
    pub per_title_rungs: Option<usize>,
    /// The master's QC summary, once ingest has inspected it.
    pub qc: Option<String>,
    /// What is done to the master's pictures (rotation, deinterlace, tone map), once planned.
    pub conversion: Vec<String>,
    /// Each audio rendition and its loudness normalisation (from the plan).
    pub audio: Vec<String>,
}

/// The title's progress; `None` when the store has no such title.
pub fn read(store: &dyn ObjectStore, t: &TitleId) -> Result<Option<Progress>, FarmError> {
    let Some(status) = status::read(store, t) else {
        return Ok(None);
    };
    let plan: Option<Plan> = match store.get(&keys::plan(t)) {
        Ok(b) => serde_json::from_slice(&b).ok(),
        Err(StoreError::NotFound { .. }) => None,
        Err(e) => return Err(e.into()),
    };
    let parts_done = store.list(&keys::done_prefix(t))?.len();
    let (parts, tracks) = match &plan {
        Some(p) => (p.parts(), p.rungs.len() + p.audio.len()),
        None => (status.chunks, status.renditions.len()),
    };
    let tracks_packaged = if plan.is_some() {
        store
            .list(&keys::origin_prefix(t))?
            .iter()
            .filter(|k| k.ends_with("/init.mp4"))
            .count()
    } else {
        0
    };
    let per_title_rungs = store
        .get(&keys::ladder(t))
        .ok()
        .and_then(|b| serde_json::from_slice::<ladders::Decision>(&b).ok())
        .map(|d| d.rungs.len());
    let conversion = plan
        .as_ref()
        .map(|p| p.conversion.describe())
        .unwrap_or_default();
    Ok(Some(Progress {
        status,
        conversion,
        planned: plan.is_some(),
        parts_done,
        parts,
        tracks_packaged,
        tracks,
        per_title_rungs,
        qc: crate::qc::read(store, t).map(|r| r.summary()),
        audio: plan.as_ref().map(Plan::audio_lines).unwrap_or_default(),
    }))
}

impl Progress {
    /// One line for `vodfarm status`, then one indented line per audio rendition.
    pub fn line(&self) -> String {
        let s = &self.status;
        let ladder = self
            .per_title_rungs
            .map(|n| format!(", per-title ladder of {n} rungs"))
            .unwrap_or_default();
        let error = s
            .error
            .as_ref()
            .map(|e| format!(", error: {e}"))
            .unwrap_or_default();
        let qc = self
            .qc
            .as_ref()
            .map(|q| format!(", master: {q}"))
            .unwrap_or_default();
        let converted = if self.conversion.is_empty() {
            String::new()
        } else {
            format!(", {}", self.conversion.join(", "))
        };
        let audio: String = self
            .audio
            .iter()
            .map(|a| format!("\n  audio {a}"))
            .collect();
        let quality: String = s
            .quality
            .iter()
            .map(|q| format!("\n  video {}", q.line()))
            .collect();
        format!(
            "{}: {:?}, {} of {} parts encoded, {} renditions{ladder}{qc}{converted}{error}{quality}{audio}",
            s.title,
            s.state,
            self.parts_done,
            self.parts,
            s.renditions.len()
        )
    }

    /// Whether the title is published.
    pub fn published(&self) -> bool {
        self.status.state == State::Published
    }

    /// How far the title is, 0-100, from its done parts: planning is the first 5%,
    /// encoding the parts up to 90% (in proportion to the parts done), packaging the
    /// tracks up to 99%, publishing the last 1%. A failed title keeps the figure of
    /// what it had done.
    pub fn percent(&self) -> u8 {
        let frac = |done: usize, all: usize| {
            if all == 0 {
                0.0
            } else {
                done.min(all) as f64 / all as f64
            }
        };
        let p = match self.status.state {
            State::Published => 100.0,
            State::Submitted => 0.0,
            State::Packaging => 90.0 + 9.0 * frac(self.tracks_packaged, self.tracks),
            State::Encoding | State::Failed if !self.planned => 0.0,
            State::Encoding | State::Failed => 5.0 + 85.0 * frac(self.parts_done, self.parts),
        };
        p.floor() as u8
    }

    /// The stage the title is at (`ingest`, `encode`, `package`), or `done`/`failed`.
    pub fn stage(&self) -> &'static str {
        match self.status.state {
            State::Submitted => "ingest",
            State::Encoding if !self.planned => "ingest",
            State::Encoding => "encode",
            State::Packaging => "package",
            State::Published => "done",
            State::Failed => "failed",
        }
    }

    /// The machine-readable report (`vodfarm status --json`, `/api/titles`).
    pub fn report(&self) -> Report {
        let s = &self.status;
        Report {
            schema: REPORT_SCHEMA,
            title: s.title.to_string(),
            state: s.state,
            stage: self.stage().to_string(),
            percent: self.percent(),
            parts_done: self.parts_done,
            parts: self.parts,
            tracks_packaged: self.tracks_packaged,
            tracks: self.tracks,
            renditions: s.renditions.clone(),
            error: s.error.clone(),
            submitted_ms: s
                .started_ms
                .or_else(|| s.times.get(&State::Submitted).copied()),
            finished_ms: match s.state {
                State::Published | State::Failed => s.times.get(&s.state).copied(),
                _ => None,
            },
            times_ms: s.times.clone(),
            stage_seconds: s
                .stage_seconds()
                .into_iter()
                .map(|(k, v)| (k.to_string(), v))
                .collect(),
            per_title_rungs: self.per_title_rungs,
            qc: self.qc.clone(),
            conversion: self.conversion.clone(),
            audio: self.audio.clone(),
            quality: s.quality.clone(),
        }
    }
}

/// The version of [`Report`]'s layout: raised when a field changes meaning or goes.
pub const REPORT_SCHEMA: u32 = 1;

/// A title's status for machines (`vodfarm status --json`, `/api/titles/<ID>`).
/// Times are milliseconds since the Unix epoch.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Report {
    /// [`REPORT_SCHEMA`].
    pub schema: u32,
    /// The title id.
    pub title: String,
    /// submitted, encoding, packaging, published or failed.
    pub state: State,
    /// ingest, encode, package, done or failed.
    pub stage: String,
    /// 0-100 from the done parts (see [`Progress::percent`]).
    pub percent: u8,
    /// Parts (chunks, audio) encoded.
    pub parts_done: usize,
    /// All parts; 0 until planned.
    pub parts: usize,
    /// Tracks with a published init segment.
    pub tracks_packaged: usize,
    /// All tracks.
    pub tracks: usize,
    /// Rendition ids planned (video, then audio).
    pub renditions: Vec<String>,
    /// Why the title failed.
    pub error: Option<String>,
    /// When it was first submitted (a retry does not move it).
    pub submitted_ms: Option<u64>,
    /// When it was published or failed.
    pub finished_ms: Option<u64>,
    /// When it last entered each state.
    pub times_ms: std::collections::BTreeMap<State, u64>,
    /// Seconds spent in each finished stage (ingest, encode, package).
    pub stage_seconds: std::collections::BTreeMap<String, f64>,
    /// Rungs of the chosen per-title ladder, when per-title.
    pub per_title_rungs: Option<usize>,
    /// The master's QC summary.
    pub qc: Option<String>,
    /// What is done to the master's pictures.
    pub conversion: Vec<String>,
    /// Each audio rendition and its loudness normalisation.
    pub audio: Vec<String>,
    /// Each published video rendition's measured bitrate and VMAF against the
    /// prediction (empty until packaged).
    #[serde(default)]
    pub quality: Vec<crate::measured::RenditionMeasure>,
}

/// Every title in the store, by id.
pub fn titles(store: &dyn ObjectStore) -> Result<Vec<TitleId>, FarmError> {
    Ok(store
        .list("control/titles/")?
        .iter()
        .filter_map(|k| {
            k.strip_prefix("control/titles/")?
                .strip_suffix(".json")
                .map(str::to_string)
        })
        .filter_map(|t| TitleId::parse(&t).ok())
        .collect())
}

/// Messages queued or in flight on the farm's queues (placement included).
pub fn backlog(queue: &dyn Queue) -> Result<usize, FarmError> {
    let mut n = 0;
    for q in runner::QUEUES {
        n += queue.depth(q)? + queue.in_flight(q)?;
    }
    Ok(n)
}

/// Messages in the farm's dead-letter queues.
pub fn dead_lettered(queue: &dyn Queue) -> Result<usize, FarmError> {
    let mut n = 0;
    for q in runner::QUEUES {
        n += queue.depth(&format!("{q}-dlq"))?;
    }
    Ok(n)
}
