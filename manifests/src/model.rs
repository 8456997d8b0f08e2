use serde::{Deserialize, Serialize};

/// One keyframe's byte range in a segment (I-frame playlists).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IFrameInfo {
    pub offset: u64,
    pub length: u64,
    /// Presentation time in the track's time scale.
    pub pts: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SegmentInfo {
    /// File name relative to the rendition folder, for example `3.m4s`.
    pub uri: String,
    /// Start time (tfdt) and duration in the track's time scale.
    pub start: u64,
    pub duration: u64,
    pub bytes: u64,
    #[serde(default)]
    pub iframes: Vec<IFrameInfo>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VideoTrack {
    pub id: String,
    pub width: u32,
    pub height: u32,
    pub frame_rate_num: u32,
    pub frame_rate_den: u32,
    pub codecs: String,
    pub timescale: u32,
    pub segments: Vec<SegmentInfo>,
}

/// One audio rendition: one of the master's tracks at one channel configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AudioTrack {
    pub id: String,
    /// The master's track it is made from, 1-based in stream order.
    #[serde(default = "first_track")]
    pub track: u32,
    /// BCP 47 tag (`en`, `fr`, `und`).
    #[serde(default = "undetermined")]
    pub language: String,
    /// What players show: the language's name, or "Track N".
    #[serde(default)]
    pub name: String,
    /// The title's default track (the master's first).
    #[serde(default)]
    pub default: bool,
    pub codecs: String,
    pub channels: u16,
    pub sample_rate: u32,
    pub timescale: u32,
    pub segments: Vec<SegmentInfo>,
}

/// A subtitle track: WebVTT, one file per video segment (HLS) and one whole file (DASH).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SubtitleTrack {
    /// The rendition id: its folder under the title.
    pub id: String,
    /// BCP 47 language tag.
    pub language: String,
    /// What players show in their menus.
    pub name: String,
    /// Forced subtitles (shown when the audio's language matches, without a choice).
    pub forced: bool,
    /// Time scale of `segments` (the video's).
    pub timescale: u32,
    /// One `.vtt` per video segment, on the video's times.
    pub segments: Vec<SegmentInfo>,
    /// The whole title's cues in one WebVTT file, relative to the rendition folder.
    pub file: String,
    /// Size of `file` in bytes (its DASH bandwidth).
    pub file_bytes: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Presentation {
    pub video: Vec<VideoTrack>,
    /// Every audio rendition: per master track, stereo, plus 5.1 when the track has it.
    pub audio: Vec<AudioTrack>,
    #[serde(default)]
    pub subtitles: Vec<SubtitleTrack>,
}

fn first_track() -> u32 {
    1
}

fn undetermined() -> String {
    crate::language::UNDETERMINED.into()
}

fn secs(ticks: u64, timescale: u32) -> f64 {
    ticks as f64 / timescale as f64
}

/// Measured bitrates of a list of segments, bit/s: (peak segment, mean).
pub(crate) fn measured(segments: &[SegmentInfo], timescale: u32) -> (u64, u64) {
    let mut peak = 0f64;
    let (mut bytes, mut ticks) = (0u64, 0u64);
    for s in segments {
        let d = secs(s.duration, timescale);
        if d > 0.0 {
            peak = peak.max(s.bytes as f64 * 8.0 / d);
        }
        bytes += s.bytes;
        ticks += s.duration;
    }
    let mean = if ticks > 0 {
        bytes as f64 * 8.0 / secs(ticks, timescale)
    } else {
        0.0
    };
    (peak.ceil() as u64, mean.ceil() as u64)
}

impl VideoTrack {
    pub fn duration_s(&self) -> f64 {
        secs(
            self.segments.iter().map(|s| s.duration).sum(),
            self.timescale,
        )
    }
    pub fn frame_rate(&self) -> f64 {
        self.frame_rate_num as f64 / self.frame_rate_den as f64
    }
    /// (peak segment bitrate, mean bitrate), bit/s.
    pub fn bitrates(&self) -> (u64, u64) {
        measured(&self.segments, self.timescale)
    }
}

impl AudioTrack {
    pub fn bitrates(&self) -> (u64, u64) {
        measured(&self.segments, self.timescale)
    }
}

impl Presentation {
    pub fn duration_s(&self) -> f64 {
        self.video.first().map(|v| v.duration_s()).unwrap_or(0.0)
    }
}
