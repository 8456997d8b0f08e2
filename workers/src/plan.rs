//! The request (what content ops asked for) and the plan (what ingest decided): ladder,
//! segment grid, chunks. Both are stored as JSON; every later stage reads the plan.

use serde::{Deserialize, Serialize};

use ladders::{FittedRung, Grid, Ladder, PerTitlePolicy};
use media::{ProbeInfo, Rational};

/// Written by `run`/`submit` next to the master: the settings the title is made with.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Request {
    /// The master's object key (`ingest/<title>/master.<ext>`).
    pub master_key: String,
    /// SHA-256 of the master, so that a second run can tell the same master from another.
    pub master_sha256: String,
    /// The ladder the title is made with.
    pub ladder: LadderSpec,
    /// Target segment length in seconds; the grid makes it a whole number of frames.
    pub segment_seconds: f64,
    /// Segments per chunk: how much of the title one encode job takes.
    pub chunk_segments: u32,
    /// Content ops' popularity hint, used for placement until viewing statistics exist.
    #[serde(default)]
    pub tier: Option<placement::Tier>,
    /// Publish what decodes of a truncated master instead of refusing it.
    #[serde(default)]
    pub accept_truncated: bool,
    /// The master's size when it was probed and hashed; the stored copy must match.
    #[serde(default)]
    pub master_bytes: u64,
}

/// A fixed ladder, or a per-title policy whose rungs ingest chooses from the title.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum LadderSpec {
    /// The same rungs for every title, less those larger than the master.
    Fixed {
        /// The rungs and encoder settings, fitted to the master's shape at ingest.
        ladder: Ladder,
    },
    /// Rungs chosen at ingest by analysing the title.
    PerTitle {
        /// How the title is probed and its rungs chosen.
        policy: PerTitlePolicy,
    },
}

impl LadderSpec {
    /// The ladder's or the policy's name.
    pub fn name(&self) -> &str {
        match self {
            LadderSpec::Fixed { ladder } => &ladder.name,
            LadderSpec::PerTitle { policy } => &policy.name,
        }
    }
    /// The x264 preset every rendition is encoded with.
    pub fn preset(&self) -> &str {
        match self {
            LadderSpec::Fixed { ladder } => &ladder.preset,
            LadderSpec::PerTitle { policy } => &policy.encode.preset,
        }
    }
    /// The H.264 profile every rendition is encoded with.
    pub fn profile(&self) -> &str {
        match self {
            LadderSpec::Fixed { ladder } => &ladder.profile,
            LadderSpec::PerTitle { policy } => &policy.encode.profile,
        }
    }
    /// The audio rendition's bitrate in kbit/s.
    pub fn audio_kbps(&self) -> u32 {
        match self {
            LadderSpec::Fixed { ladder } => ladder.audio_kbps,
            LadderSpec::PerTitle { policy } => policy.encode.audio_kbps,
        }
    }
}

/// One chunk of the master: what one encode job encodes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChunkPlan {
    /// The chunk's number, from 0; its file is `work/<title>/chunks/<index>.nut`.
    pub index: u32,
    /// The chunk's first master frame.
    pub start_frame: u64,
    /// One past the chunk's last master frame.
    pub end_frame: u64,
}

/// The title's audio rendition (AAC), when the master has audio.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AudioPlan {
    /// The rendition id, used in its keys and the manifests.
    pub id: String,
    /// Target bitrate in bit/s.
    pub bitrate: u64,
    /// Output sample rate in Hz.
    pub sample_rate: u32,
    /// Samples in the title: the video's duration at `sample_rate`, rounded.
    pub total_samples: u64,
}

/// What ingest decided for a title (`work/<title>/plan.json`); every later stage reads it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    /// What probing the master found.
    pub probe: ProbeInfo,
    /// What is done to the master's pictures before scaling, and the renditions' colour.
    #[serde(default)]
    pub conversion: media::Conversion,
    /// The master's frame rate.
    pub fps: Rational,
    /// Frames in the master on its frame grid.
    pub frame_count: u64,
    /// Presentation time of frame 0 in the master's video time base.
    pub origin_pts: i64,
    /// The master's video time base (num, den).
    pub time_base: (i32, i32),
    /// Added to the master's timestamps in the chunk files (see media::SplitReport).
    #[serde(default)]
    pub chunk_shift: i64,
    /// The segment grid: master frames per segment and between forced IDRs.
    pub grid: Grid,
    /// Master frames per chunk: a whole number of segments.
    pub chunk_frames: u64,
    /// The chunks, in order; one encode job each.
    pub chunks: Vec<ChunkPlan>,
    /// The video renditions, fitted to the master.
    pub rungs: Vec<FittedRung>,
    /// The audio rendition; `None` when the master has no audio.
    pub audio: Option<AudioPlan>,
    /// The x264 preset every rung is encoded with.
    pub preset: String,
    /// The H.264 profile every rung is encoded with.
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

    /// The title's length in seconds: its frames at its frame rate.
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
