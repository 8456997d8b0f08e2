//! The request (what content ops asked for) and the plan (what ingest decided): ladder,
//! segment grid, chunks. Both are stored as JSON; every later stage reads the plan.

use serde::{Deserialize, Serialize};

use ladders::{FittedRung, Grid, Ladder, PerTitlePolicy};
use media::{ProbeInfo, Rational};

/// Written by `run`/`submit` next to the master: the settings the title is made with.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Request {
    pub master_key: String,
    /// SHA-256 of the master, so that a second run can tell the same master from another.
    pub master_sha256: String,
    pub ladder: LadderSpec,
    pub segment_seconds: f64,
    pub chunk_segments: u32,
    /// Content ops' popularity hint, used for placement until viewing statistics exist.
    #[serde(default)]
    pub tier: Option<placement::Tier>,
}

/// A fixed ladder, or a per-title policy whose rungs ingest chooses from the title.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum LadderSpec {
    Fixed { ladder: Ladder },
    PerTitle { policy: PerTitlePolicy },
}

impl LadderSpec {
    pub fn name(&self) -> &str {
        match self {
            LadderSpec::Fixed { ladder } => &ladder.name,
            LadderSpec::PerTitle { policy } => &policy.name,
        }
    }
    pub fn preset(&self) -> &str {
        match self {
            LadderSpec::Fixed { ladder } => &ladder.preset,
            LadderSpec::PerTitle { policy } => &policy.encode.preset,
        }
    }
    pub fn profile(&self) -> &str {
        match self {
            LadderSpec::Fixed { ladder } => &ladder.profile,
            LadderSpec::PerTitle { policy } => &policy.encode.profile,
        }
    }
    pub fn audio_kbps(&self) -> u32 {
        match self {
            LadderSpec::Fixed { ladder } => ladder.audio_kbps,
            LadderSpec::PerTitle { policy } => policy.encode.audio_kbps,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChunkPlan {
    pub index: u32,
    pub start_frame: u64,
    pub end_frame: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AudioPlan {
    pub id: String,
    pub bitrate: u64,
    pub sample_rate: u32,
    /// Samples in the title: the video's duration at `sample_rate`, rounded.
    pub total_samples: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    pub probe: ProbeInfo,
    pub fps: Rational,
    pub frame_count: u64,
    pub origin_pts: i64,
    pub time_base: (i32, i32),
    /// Added to the master's timestamps in the chunk files (see media::SplitReport).
    #[serde(default)]
    pub chunk_shift: i64,
    pub grid: Grid,
    pub chunk_frames: u64,
    pub chunks: Vec<ChunkPlan>,
    pub rungs: Vec<FittedRung>,
    pub audio: Option<AudioPlan>,
    pub preset: String,
    pub profile: String,
    /// libx264 threads per rung: fixed, so that output does not depend on the machine.
    pub x264_threads: u32,
}

impl Plan {
    /// Video time scale and master-frame duration in it: 24 fps → 24000/1000,
    /// 30000/1001 → 30000/1001.
    pub fn video_timescale(&self) -> (u32, u32) {
        if self.fps.den == 1 {
            (self.fps.num * 1000, 1000)
        } else {
            (self.fps.num, self.fps.den)
        }
    }

    pub fn duration_s(&self) -> f64 {
        self.frame_count as f64 * self.fps.den as f64 / self.fps.num as f64
    }

    /// Parts whose completion triggers packaging: every chunk, plus audio.
    pub fn parts(&self) -> usize {
        self.chunks.len() + usize::from(self.audio.is_some())
    }

    /// Segment boundaries for video in its time scale.
    pub fn video_cut(&self) -> packager::SegmentCut {
        let (_, f) = self.video_timescale();
        packager::SegmentCut {
            num: self.grid.segment_frames * f as u64,
            den: 1,
        }
    }

    /// Boundaries of `frames`-long spans (segments or chunks) in audio samples.
    pub fn audio_cut(&self, frames: u64) -> packager::SegmentCut {
        let rate = self.audio.as_ref().map(|a| a.sample_rate).unwrap_or(48_000) as u64;
        packager::SegmentCut {
            num: frames * self.fps.den as u64 * rate,
            den: self.fps.num as u64,
        }
    }
}
