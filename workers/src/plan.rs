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
    /// Audio: language overrides and the loudness target.
    #[serde(default)]
    pub audio: AudioRequest,
    /// Subtitle sidecars, checked and stored next to the master.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub subtitles: Vec<crate::subtitles::SubtitleSidecar>,
    /// Shot changes get IDRs of their own (`Plan::shot_idrs`). Written only when off,
    /// so requests made before it existed read, and are stored, as they were.
    #[serde(default = "shot_idrs_on", skip_serializing_if = "is_on")]
    pub shot_idrs: bool,
}

fn shot_idrs_on() -> bool {
    true
}

fn is_on(b: &bool) -> bool {
    *b
}

/// What content ops asked of the audio.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AudioRequest {
    /// Language (BCP 47) of master audio tracks by number (1-based, stream order),
    /// overriding the master's tags.
    #[serde(default)]
    pub languages: std::collections::BTreeMap<u32, String>,
    /// Integrated loudness every audio rendition is normalised to, LKFS (= LUFS).
    pub loudness_lkfs: f64,
    /// True-peak ceiling, dBTP.
    pub true_peak_dbtp: f64,
}

impl Default for AudioRequest {
    fn default() -> Self {
        Self {
            languages: Default::default(),
            loudness_lkfs: DEFAULT_LOUDNESS_LKFS,
            true_peak_dbtp: DEFAULT_TRUE_PEAK_DBTP,
        }
    }
}

/// ATSC A/85's integrated loudness, the default target.
pub const DEFAULT_LOUDNESS_LKFS: f64 = -24.0;
/// The default true-peak ceiling.
pub const DEFAULT_TRUE_PEAK_DBTP: f64 = -2.0;
/// Targets accepted for the integrated loudness, LKFS.
pub const LOUDNESS_RANGE: std::ops::RangeInclusive<f64> = -40.0..=-5.0;
/// Ceilings accepted for the true peak, dBTP.
pub const TRUE_PEAK_RANGE: std::ops::RangeInclusive<f64> = -9.0..=0.0;
/// Below this integrated loudness a track is silence (BS.1770's absolute gate): it is
/// left as it is rather than amplified.
pub const SILENCE_LUFS: f64 = -70.0;
/// Head-room the limiter keeps under the true-peak ceiling for peaks between samples
/// and the AAC encoder's overshoot (it limits sample peaks).
pub const LIMITER_MARGIN_DB: f64 = 1.0;

/// How one audio rendition's loudness is normalised: measured, then one linear gain
/// for the whole title, plus a limiter only when the gain would take the true peak
/// over the ceiling.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LoudnessPlan {
    /// The track as this rendition carries it (resampled, downmixed), before the gain.
    pub measured: media::Loudness,
    /// Integrated loudness aimed at, LKFS.
    pub target_lkfs: f64,
    /// True-peak ceiling, dBTP.
    pub true_peak_max_dbtp: f64,
    /// Gain applied, dB.
    pub gain_db: f64,
    /// The limiter's sample-peak ceiling, dBFS, when one is needed.
    pub limiter_dbfs: Option<f64>,
}

impl LoudnessPlan {
    /// The gain that brings `measured` to `target_lkfs`, and a limiter if the true
    /// peak would then pass `true_peak_max_dbtp`. Silence is left alone.
    pub fn new(measured: media::Loudness, target_lkfs: f64, true_peak_max_dbtp: f64) -> Self {
        let gain_db = if measured.integrated_lufs <= SILENCE_LUFS {
            0.0
        } else {
            target_lkfs - measured.integrated_lufs
        };
        let limiter_dbfs = (measured.true_peak_dbtp + gain_db > true_peak_max_dbtp)
            .then_some(true_peak_max_dbtp - LIMITER_MARGIN_DB);
        Self {
            measured,
            target_lkfs,
            true_peak_max_dbtp,
            gain_db,
            limiter_dbfs,
        }
    }

    /// "-40.1 LUFS, LRA 3.2 LU, -31.0 dBTP → +15.1 dB (limiter at -3.0 dBFS)".
    pub fn describe(&self) -> String {
        let m = &self.measured;
        let limiter = self
            .limiter_dbfs
            .map(|l| format!(", limiter at {l:.1} dBFS"))
            .unwrap_or_default();
        format!(
            "measured {:.1} LUFS, LRA {:.1} LU, true peak {:.1} dBTP; gain {:+.1} dB to {:.0} LKFS{limiter}",
            m.integrated_lufs, m.range_lu, m.true_peak_dbtp, self.gain_db, self.target_lkfs
        )
    }
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

/// One audio rendition (AAC-LC): one of the master's tracks, stereo or 5.1.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AudioPlan {
    /// The rendition id, used in its keys and the manifests: language, bitrate and
    /// channels (`a-en-128k-2ch`).
    pub id: String,
    /// The master's audio track, 1-based in stream order.
    pub track: u32,
    /// The track's stream index in the master.
    pub stream_index: usize,
    /// BCP 47 language tag (`und` when neither the master nor the request names one).
    pub language: String,
    /// What players show: the language's name, or "Track N".
    pub name: String,
    /// The default track (the master's first).
    pub default: bool,
    /// Output channels: 2, or 6 for a 5.1 rendition.
    pub channels: u16,
    /// Target bitrate in bit/s.
    pub bitrate: u64,
    /// Output sample rate in Hz.
    pub sample_rate: u32,
    /// Samples in the title: the video's duration at `sample_rate`, rounded.
    pub total_samples: u64,
    /// Measured loudness and the normalisation applied.
    pub loudness: LoudnessPlan,
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
    /// The audio renditions, per master track in order (stereo, then 5.1); empty
    /// when the master has no audio.
    pub audio: Vec<AudioPlan>,
    /// The x264 preset every rung is encoded with.
    pub preset: String,
    /// The H.264 profile every rung is encoded with.
    pub profile: String,
    /// libx264 threads per rung: fixed, so that output does not depend on the machine.
    pub x264_threads: u32,
    /// Master frames where a shot starts between the grid's IDRs: an IDR there in every
    /// rendition (see `ladders::shot_idrs`). Empty in plans made before shots were
    /// detected, and for masters with no cut away from the grid.
    #[serde(default)]
    pub shot_idrs: Vec<u64>,
}

/// A shot start closer than this to another IDR gets none of its own (seconds).
pub const SHOT_IDR_MIN_GAP_S: f64 = 0.5;

/// libx264 threads per rung in the plans ingest writes (`Plan::x264_threads`), and in
/// the per-title analysis' rung checks, which encode as the final encode will. One: the
/// bytes (and so the bits a check measures) do not depend on the machine, and a chunk's
/// rungs run side by side.
pub const X264_THREADS: u32 = 1;

/// The encoder settings of `rung` as the encode stage runs them; the per-title
/// analysis' rung checks use the same, so that they measure what the title will get.
pub fn rung_settings(
    rung: &FittedRung,
    preset: &str,
    profile: &str,
    threads: u32,
    colour: media::Colour,
) -> media::RungSettings {
    media::RungSettings {
        id: rung.id.clone(),
        width: rung.width,
        height: rung.height,
        decimation: rung.decimation,
        bitrate: rung.bitrate,
        maxrate: rung.maxrate,
        bufsize: rung.bufsize,
        crf: rung.crf,
        preset: preset.to_string(),
        profile: profile.to_string(),
        threads,
        colour,
    }
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

    /// Parts whose completion triggers packaging: every chunk, plus audio (one job
    /// for every audio rendition).
    pub fn parts(&self) -> usize {
        self.chunks.len() + usize::from(!self.audio.is_empty())
    }

    /// One line per audio rendition: what it is and its loudness normalisation.
    pub fn audio_lines(&self) -> Vec<String> {
        self.audio
            .iter()
            .map(|a| {
                format!(
                    "{} (track {}, {}, \"{}\"{}): {}",
                    a.id,
                    a.track,
                    a.language,
                    a.name,
                    if a.default { ", default" } else { "" },
                    a.loudness.describe()
                )
            })
            .collect()
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
        let rate = self.audio.first().map(|a| a.sample_rate).unwrap_or(48_000) as u64;
        packager::SegmentCut {
            num: frames * self.fps.den as u64 * rate,
            den: self.fps.num as u64,
        }
    }
}
