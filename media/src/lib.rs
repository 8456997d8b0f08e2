//! `media` owns every call into FFmpeg (through ffmpeg-next): the hardened open of
//! untrusted masters, probing, splitting a master into chunk files by stream copy,
//! decoding a chunk frame-exactly, scaling, libx264 and AAC encoding, quality
//! measurement (VMAF through libvmaf, PSNR-Y), rate–quality probing for per-title
//! ladders, and rendering synthetic sources for fixtures.
//!
//! It returns plain values (packets with timestamps, codec configuration bytes);
//! it never writes manifests, boxes or object-store keys — that is the job of the
//! pure crates and of `workers`.

mod analysis;
mod annexb;
mod audio;
mod convert;
mod error;
pub mod gate;
mod inspect;
mod measure;
mod open;
mod probe;
mod quality;
pub mod samples;
mod split;
mod subtitles;
mod synth;
mod video;

pub use analysis::{analyse_window, measure_encodes, AnalysisSettings, ProbePoint, WindowMeasure};
pub use audio::{encode_audio, measure_loudness, AudioOutput, AudioSettings, Loudness, AAC_FRAME};
pub use convert::{Colour, Conversion, ConversionRefused, HdrTransfer};
pub use error::MediaError;
/// FFmpeg's error, as `MediaError::Ffmpeg` holds it.
pub use ffmpeg_next::Error as FfmpegError;
pub use inspect::{
    inspect, AudioTrackCheck, ColourFound, Completeness, ContentLight, DecodeTimeBack, Geometry,
    InspectCost, InspectOptions, Inspection, Interlace, MasteringDisplay, ShapeChange, Stretch,
    Timing, Truncated,
};
pub use open::{open_untrusted, ALLOWED_DEMUXERS};
pub use probe::{probe, AudioInfo, ProbeInfo};
pub use quality::{
    compare_files, quality_size, FrameQuality, QualityOptions, QualityReport, QUALITY_BOX,
    VMAF_MODEL,
};
pub use split::{frame_index, split_video, ChunkRange, SplitReport};
pub use subtitles::{subtitle_streams, SubtitleStream, TextCue};
pub use synth::{render_synthetic, SynthSpec};
pub use video::{encode_chunk, ChunkGrid, EncodedChunk, EncodedPacket, EncodedVideo, RungSettings};

/// Frame rate as an exact rational (for example 30000/1001).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Rational {
    pub num: u32,
    pub den: u32,
}

impl Rational {
    pub fn as_f64(self) -> f64 {
        self.num as f64 / self.den as f64
    }
}

/// Initialise FFmpeg once and quieten its logging (errors still reach us as values).
pub fn init() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        ffmpeg_next::init().expect("FFmpeg libraries failed to initialise");
        ffmpeg_next::util::log::set_level(ffmpeg_next::util::log::Level::Fatal);
    });
}
