//! Master inspection (QC): one demux-and-decode pass over the whole master that says
//! whether it is complete and what is in it, before anything is planned.
//!
//! - completeness: what the header declares (frame count, duration) against what
//!   actually decodes, demux and decode errors counted, and whether the file ends
//!   inside a frame (an upload cut short). A truncated master is judged by
//!   [`Inspection::truncated`]; the caller refuses it or, when told to, publishes what
//!   decodes.
//! - black, frozen and silent stretches of at least `min_stretch_s` (FFmpeg's
//!   blackdetect, freezedetect and silencedetect through libavfilter): warnings.
//! - interlace: the container's field order and a measurement (FFmpeg's `idet`).
//! - colour description, bit depth and HDR metadata; display matrix (rotation) and
//!   sample aspect ratio; frame timing from the decoded timestamps (constant or
//!   variable frame rate).
//!
//! Every figure is measured from the file; nothing is assumed from its name or its
//! container alone. Times are seconds from the first video frame (the title's 0).

use std::path::Path;
use std::time::Instant;

use ffmpeg_next::packet::Ref as _;
use ffmpeg_next::{codec, filter, frame, media, Packet, Rational as FfRational};
use serde::{Deserialize, Serialize};

use crate::error::Context;
use crate::{open_untrusted, MediaError, Rational};

/// What to look for.
#[derive(Debug, Clone, PartialEq)]
pub struct InspectOptions {
    /// Black, frozen and silent stretches shorter than this are not listed (seconds).
    pub min_stretch_s: f64,
    /// A pixel darker than this share of the luma range counts as black (blackdetect's
    /// `pix_th`).
    pub black_pixel_threshold: f64,
    /// Frames whose difference and audio below this level count as frozen or silent (dB).
    pub noise_db: f64,
    /// Interlace measurement on runs of `idet_run` frames out of every `idet_every`
    /// (1 of 1: every frame). idet is the most expensive of the filters; a sample of
    /// runs spread over the title measures the same thing for far less.
    pub idet_every: u32,
    /// Consecutive frames per idet run (idet compares neighbours, so runs, not frames).
    pub idet_run: u32,
    /// idet measures every one of the first `idet_first` frames before it samples, so
    /// a short master is measured whole (a few runs are too few to judge by).
    pub idet_first: u64,
    /// A frame that differs from the one before by at least this share (percent) of the
    /// largest possible change starts a new shot (FFmpeg's `scdet` score; its manual
    /// calls 8 to 14 good values: the top of that range, since each shot start becomes
    /// an IDR in every rendition and a false one costs bits).
    pub shot_threshold: f64,
}

impl Default for InspectOptions {
    fn default() -> Self {
        Self {
            min_stretch_s: 2.0,
            black_pixel_threshold: 0.10,
            noise_db: -60.0,
            idet_every: 1,
            idet_run: 1,
            idet_first: 0,
            shot_threshold: 14.0,
        }
    }
}

/// A stretch of the title, in seconds from its first video frame.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Stretch {
    pub start_s: f64,
    pub end_s: f64,
}

impl Stretch {
    pub fn duration_s(&self) -> f64 {
        self.end_s - self.start_s
    }
}

/// Declared against decoded: is the whole master there?
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Completeness {
    /// Frame count written in the container's header (mp4 sample table), if any.
    pub declared_frames: Option<u64>,
    /// Duration written in the header (not estimated from the file's last timestamps:
    /// for MPEG-TS FFmpeg estimates it from what is there, so it declares nothing).
    pub declared_duration_s: Option<f64>,
    /// Video packets the demuxer delivered.
    pub packets_read: u64,
    /// Of them, those outside the edit list (decoded for reference, never shown): a
    /// master cut by stream copy between key frames declares them among its frames.
    #[serde(default)]
    pub discarded_packets: u64,
    /// Time spanned by the video packets read: last packet's end minus the first's start.
    pub read_duration_s: f64,
    /// Video frames that decode without an error.
    pub decoded_frames: u64,
    /// Their span: the first frame to the end of the last whole one.
    pub decoded_duration_s: f64,
    /// Whole frames from the first, on the nominal frame grid, up to the first slot
    /// with no whole frame: what a truncated master can be published as.
    pub whole_prefix_frames: u64,
    /// Video frames the decoder returned with errors concealed or flagged corrupt.
    pub damaged_frames: u64,
    /// Reads the demuxer failed (for example "partial file": the index points past
    /// the end of the data).
    pub demux_errors: u64,
    /// Packets the decoders refused, plus damaged frames (video and audio).
    pub decode_errors: u64,
    /// The master ends damaged: a failed read, a refused packet or a damaged frame
    /// after the last whole video frame (the file ends inside a frame).
    pub ends_damaged: bool,
    /// The file's size in bytes.
    pub file_bytes: u64,
}

/// Field order and a measurement of interlacing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Interlace {
    /// The container's/codec's field order: progressive, tt, bb, tb, bt or unknown.
    pub field_order: String,
    /// Frames the decoder flagged as interlaced-coded.
    pub coded_interlaced_frames: u64,
    /// idet's multi-frame classification counts.
    pub tff: u64,
    pub bff: u64,
    pub progressive: u64,
    pub undetermined: u64,
    /// Frames idet looked at (all of them, or the sampled runs).
    pub frames_measured: u64,
    /// The verdict: interlaced fields make up most of the frames idet could classify.
    pub interlaced: bool,
}

/// SMPTE ST 2086 mastering display colour volume.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MasteringDisplay {
    /// Red, green, blue primaries as CIE 1931 (x, y).
    pub primaries: [[f64; 2]; 3],
    pub white_point: [f64; 2],
    /// cd/m².
    pub min_luminance: f64,
    pub max_luminance: f64,
}

/// CTA-861.3 content light level.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ContentLight {
    /// Maximum content light level, cd/m².
    pub max_cll: u32,
    /// Maximum frame-average light level, cd/m².
    pub max_fall: u32,
}

/// The picture's colour description as decoded.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ColourFound {
    pub pixel_format: String,
    pub bit_depth: u32,
    /// FFmpeg's names: bt709, bt2020, smpte2084, arib-std-b67, bt2020nc, tv, pc, or
    /// "unknown" when the master leaves it unspecified.
    pub primaries: String,
    pub transfer: String,
    pub matrix: String,
    pub range: String,
    /// "pq" or "hlg" from the transfer characteristic; none for SDR.
    pub hdr: Option<String>,
    pub mastering_display: Option<MasteringDisplay>,
    pub content_light: Option<ContentLight>,
}

/// Stored size, display matrix and pixel shape.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Geometry {
    pub width: u32,
    pub height: u32,
    pub sample_aspect: Rational,
    /// Clockwise rotation in degrees the display matrix asks for (0, 90, 180, 270).
    pub rotation: i32,
    /// The display matrix is mirrored.
    pub flipped: bool,
    /// The raw display matrix (3×3, 16.16 and 2.30 fixed point), if the master has one.
    pub display_matrix: Option<[i32; 9]>,
    /// The first place where the pictures change the shape they are shown in (size
    /// times sample aspect; two sources joined): a master with two shapes cannot be
    /// converted to one without squeezing one of them, so it is refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub change: Option<ShapeChange>,
}

/// Pictures shown in another shape than the first picture.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ShapeChange {
    /// Seconds from the first video frame.
    pub at_s: f64,
    /// `720x576 SAR 16:15`.
    pub from: String,
    pub to: String,
}

/// A picture's stored size and the sample aspect it is shown with, in lowest terms:
/// the container's when it states one (as FFmpeg's players and our conversion take
/// it, whatever the codec's headers say), else the picture's own (unknown: square).
fn shape_of(f: &frame::Video, container: FfRational) -> (u32, u32, u32, u32) {
    let sar = if container.numerator() > 0 && container.denominator() > 0 {
        container
    } else {
        f.aspect_ratio()
    };
    let (mut n, mut d) = if sar.numerator() > 0 && sar.denominator() > 0 {
        (sar.numerator() as u32, sar.denominator() as u32)
    } else {
        (1, 1)
    };
    let (mut a, mut b) = (n, d);
    while b != 0 {
        (a, b) = (b, a % b);
    }
    n /= a;
    d /= a;
    (f.width(), f.height(), n, d)
}

fn shape_name((w, h, n, d): (u32, u32, u32, u32)) -> String {
    format!("{w}x{h} SAR {n}:{d}")
}

/// Whether two pictures are shown in the same shape (within 1%): a resolution switch
/// that keeps the shape (WebRTC and MediaRecorder recordings) is scaled like any
/// picture; another shape would be squeezed into the first's.
fn same_shape(
    (w0, h0, n0, d0): (u32, u32, u32, u32),
    (w1, h1, n1, d1): (u32, u32, u32, u32),
) -> bool {
    let a0 = w0 as f64 * n0 as f64 / (d0 as f64 * h0 as f64);
    let a1 = w1 as f64 * n1 as f64 / (d1 as f64 * h1 as f64);
    (a0 / a1 - 1.0).abs() <= 0.01
}

/// Frame timing from the decoded timestamps.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Timing {
    /// The nominal rate (the stream's base rate, snapped to the broadcast rate it is).
    pub nominal_rate: Option<Rational>,
    /// Frames per second over the decoded span.
    pub mean_rate: f64,
    /// Frame intervals measured, and those that differ from the nominal interval by
    /// more than a tenth of it (a dropped, held or doubled frame).
    pub intervals: u64,
    pub off_nominal_intervals: u64,
    pub shortest_interval_s: f64,
    pub longest_interval_s: f64,
    /// More than 1% of intervals off nominal: variable frame rate.
    pub variable: bool,
    /// The first video packet whose decode time is not after the one before (two
    /// recordings joined, a broken remux): chunk files cannot hold such a stream.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decode_time_back: Option<DecodeTimeBack>,
}

/// A video decode time that does not rise: seconds on the master's own clock.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DecodeTimeBack {
    /// The packet's number among the video packets, from 0.
    pub packet: u64,
    pub from_s: f64,
    pub to_s: f64,
}

/// One audio stream: how much decodes and where it is silent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AudioTrackCheck {
    /// The stream's index in the container.
    pub stream: usize,
    pub codec: String,
    pub channels: u16,
    pub sample_rate: u32,
    pub decoded_s: f64,
    pub decode_errors: u64,
    pub silent: Vec<Stretch>,
}

/// What the inspection cost.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InspectCost {
    pub wall_s: f64,
    /// Video frames decoded per wall-clock second.
    pub frames_per_s: f64,
    /// idet measured a sample of the frames, not all of them.
    pub idet_sampled: bool,
}

/// Everything the inspection found (stored as `work/<title>/inspection.json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Inspection {
    /// FFmpeg's demuxer name.
    pub container: String,
    pub video_codec: String,
    pub completeness: Completeness,
    pub black: Vec<Stretch>,
    pub frozen: Vec<Stretch>,
    /// Where shots start: seconds from the first frame, in order (the first shot's
    /// start, 0, is not listed). Empty in records made before shots were detected.
    #[serde(default)]
    pub shots: Vec<f64>,
    /// The same shot starts as the frames' timestamps in the video stream's time base
    /// (what ingest places on the plan's frame grid).
    #[serde(default)]
    pub shot_pts: Vec<i64>,
    pub audio: Vec<AudioTrackCheck>,
    pub interlace: Interlace,
    pub colour: ColourFound,
    pub geometry: Geometry,
    pub timing: Timing,
    pub cost: InspectCost,
    /// Video streams other than the one the title is made of (stream index, size and
    /// codec), cover pictures left out: dropped, so said in the warnings.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub other_video: Vec<String>,
    /// The index of the video stream the title is made of.
    #[serde(default)]
    pub video_stream: usize,
    /// Shortest stretch the lists report (the option the inspection was run with).
    pub min_stretch_s: f64,
}

/// Audio that runs this many seconds past the last picture makes a master truncated
/// (both measured as decoded lengths from each stream's first frame).
const AUDIO_PAST_VIDEO_S: f64 = 2.0;

/// Why a master counts as truncated: both numbers, the declared and the decoded.
#[derive(Debug, Clone, PartialEq, thiserror::Error, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Truncated {
    /// The header declares more frames than decode.
    #[error("master is truncated: header declares {declared} frames ({declared_s:.2} s), {decoded} decode ({decoded_s:.2} s)")]
    Frames {
        declared: u64,
        declared_s: f64,
        decoded: u64,
        decoded_s: f64,
    },
    /// The header declares a longer duration than decodes.
    #[error("master is truncated: header declares {declared_s:.2} s, {decoded_s:.2} s decode ({decoded} frames)")]
    Duration {
        declared_s: f64,
        decoded: u64,
        decoded_s: f64,
    },
    /// The pictures stop well before an audio track does (a bad export): published,
    /// the title would be cut to its pictures and the rest of the sound dropped.
    #[error("master is truncated: its video ends after {decoded_s:.2} s ({decoded} frames) but audio stream {stream} runs {audio_s:.2} s")]
    VideoEndsEarly {
        decoded: u64,
        decoded_s: f64,
        stream: usize,
        audio_s: f64,
    },
    /// Nothing declared (MPEG-TS), but the file ends inside a frame.
    #[error("master is truncated: the file ends inside a frame: {read} frames read ({read_s:.2} s), {decoded} decode whole from the start ({decoded_s:.2} s)")]
    EndsInsideFrame {
        read: u64,
        read_s: f64,
        decoded: u64,
        decoded_s: f64,
    },
}

impl Inspection {
    /// The frame duration at the nominal rate (or the mean rate), seconds.
    fn frame_s(&self) -> f64 {
        match self.timing.nominal_rate {
            Some(r) => r.den as f64 / r.num as f64,
            None if self.timing.mean_rate > 0.0 => 1.0 / self.timing.mean_rate,
            None => 0.04,
        }
    }

    /// Whether the master is truncated, with the declared and the decoded figures.
    /// Tolerance: 2 frames or 1% (whichever is more), so that edit lists that trim a
    /// frame or two at the start do not count.
    pub fn truncated(&self) -> Option<Truncated> {
        let c = &self.completeness;
        let frame_s = self.frame_s();
        if let Some(declared) = c
            .declared_frames
            .map(|d| d.saturating_sub(c.discarded_packets))
        {
            let slack = 2.max(declared / 100);
            if c.decoded_frames + slack < declared {
                return Some(Truncated::Frames {
                    declared,
                    declared_s: self
                        .completeness
                        .declared_duration_s
                        .unwrap_or(declared as f64 * frame_s),
                    decoded: c.decoded_frames,
                    decoded_s: c.decoded_duration_s,
                });
            }
        }
        if let Some(declared_s) = c.declared_duration_s {
            let slack = (2.0 * frame_s).max(declared_s / 100.0);
            if c.decoded_duration_s + slack < declared_s {
                return Some(Truncated::Duration {
                    declared_s,
                    decoded: c.decoded_frames,
                    decoded_s: c.decoded_duration_s,
                });
            }
        }
        // Audio a little longer than the pictures is common (an encoder's padding, a
        // last frame's worth); seconds of it are not.
        if let Some(a) = self
            .audio
            .iter()
            .filter(|a| a.decoded_s > c.decoded_duration_s + AUDIO_PAST_VIDEO_S)
            .max_by(|a, b| a.decoded_s.total_cmp(&b.decoded_s))
        {
            return Some(Truncated::VideoEndsEarly {
                decoded: c.decoded_frames,
                decoded_s: c.decoded_duration_s,
                stream: a.stream,
                audio_s: a.decoded_s,
            });
        }
        if c.ends_damaged {
            return Some(Truncated::EndsInsideFrame {
                read: c.packets_read,
                read_s: c.read_duration_s,
                decoded: c.whole_prefix_frames,
                decoded_s: c.whole_prefix_frames as f64 * frame_s,
            });
        }
        None
    }

    /// Warnings for content ops (not refusals): errors, stretches, interlacing, HDR,
    /// rotation, VFR. Empty for a clean master.
    pub fn warnings(&self) -> Vec<String> {
        let mut w = Vec::new();
        if !self.other_video.is_empty() {
            w.push(format!(
                "{} more video stream(s) not used: {} (the title is stream {}, {}x{})",
                self.other_video.len(),
                self.other_video.join(", "),
                self.video_stream,
                self.geometry.width,
                self.geometry.height
            ));
        }
        let c = &self.completeness;
        if c.demux_errors > 0 || c.decode_errors > 0 {
            w.push(format!(
                "{} demux and {} decode errors",
                c.demux_errors, c.decode_errors
            ));
        }
        let list = |v: &[Stretch]| {
            v.iter()
                .map(|s| format!("{:.1}-{:.1} s", s.start_s, s.end_s))
                .collect::<Vec<_>>()
                .join(", ")
        };
        if !self.black.is_empty() {
            w.push(format!("black {}", list(&self.black)));
        }
        if !self.frozen.is_empty() {
            w.push(format!("frozen {}", list(&self.frozen)));
        }
        for a in &self.audio {
            if !a.silent.is_empty() {
                w.push(format!("silent (stream {}) {}", a.stream, list(&a.silent)));
            }
        }
        if self.interlace.interlaced {
            w.push(format!(
                "interlaced (idet: {} tff, {} bff, {} progressive)",
                self.interlace.tff, self.interlace.bff, self.interlace.progressive
            ));
        }
        if let Some(h) = &self.colour.hdr {
            w.push(format!("HDR ({h})"));
        }
        if self.geometry.rotation != 0 || self.geometry.flipped {
            w.push(format!(
                "display matrix: rotate {}°{}",
                self.geometry.rotation,
                if self.geometry.flipped {
                    ", mirrored"
                } else {
                    ""
                }
            ));
        }
        if self.timing.variable {
            w.push(format!(
                "variable frame rate ({} of {} frame intervals off nominal, mean {:.3} fps)",
                self.timing.off_nominal_intervals, self.timing.intervals, self.timing.mean_rate
            ));
        }
        w
    }

    /// One line: frames and duration, and the warnings.
    pub fn summary(&self) -> String {
        let c = &self.completeness;
        let mut s = format!(
            "{} frames ({:.2} s) decode",
            c.decoded_frames, c.decoded_duration_s
        );
        let w = self.warnings();
        if w.is_empty() {
            s.push_str(", no warnings");
        } else {
            s.push_str("; ");
            s.push_str(&w.join("; "));
        }
        s
    }
}

/// Black/frozen/silent stretches from a detector's start/end marks.
#[derive(Default)]
struct Marks {
    open: Option<f64>,
    done: Vec<Stretch>,
}

impl Marks {
    fn start(&mut self, t: f64) {
        if self.open.is_none() {
            self.open = Some(t);
        }
    }
    fn end(&mut self, t: f64) {
        if let Some(s) = self.open.take() {
            self.done.push(Stretch {
                start_s: s,
                end_s: t,
            });
        }
    }
    /// Close a stretch still open at the end of the stream; keep those long enough,
    /// shifted to the title's time (`origin` seconds is its 0).
    fn finish(mut self, end: f64, min: f64, origin: f64) -> Vec<Stretch> {
        self.end(end);
        self.done
            .into_iter()
            .filter(|s| s.duration_s() + 1e-6 >= min)
            .map(|s| Stretch {
                start_s: s.start_s - origin,
                end_s: s.end_s - origin,
            })
            .collect()
    }
}

/// Hand `f` to a buffer source keeping our reference (ffmpeg-next's `add` moves the
/// frame's buffers out, leaving the caller an empty frame).
fn push(src: &mut filter::Context, f: &frame::Frame) -> Result<(), ffmpeg_next::Error> {
    // SAFETY: a live buffer source and frame; KEEP_REF makes FFmpeg take a new reference.
    let rc = unsafe {
        ffmpeg_next::ffi::av_buffersrc_add_frame_flags(
            src.as_mut_ptr(),
            f.as_ptr() as *mut _,
            ffmpeg_next::ffi::AV_BUFFERSRC_FLAG_KEEP_REF as i32,
        )
    };
    if rc < 0 {
        Err(ffmpeg_next::Error::from(rc))
    } else {
        Ok(())
    }
}

fn meta_s(f: &frame::Frame, key: &str) -> Option<f64> {
    f.metadata()
        .get(key)
        .and_then(|v| v.trim().parse::<f64>().ok())
}

/// idet writes its counts as fixed-point text ("12.00").
fn meta_u64(f: &frame::Frame, key: &str) -> u64 {
    meta_s(f, key).map_or(0, |v| v.round().max(0.0) as u64)
}

/// The video filter graph: blackdetect, freezedetect, scdet and idet report through
/// frame metadata; the frames themselves are dropped at the sink.
struct VideoFilters {
    graph: filter::Graph,
    black: Marks,
    frozen: Marks,
    /// Shot starts: the frames' timestamps (the graph keeps the stream's time base).
    shots: Vec<i64>,
    idet: [u64; 4],
    key: (u32, u32, i32),
}

impl VideoFilters {
    fn new(f: &frame::Video, tb: FfRational, spec: &str) -> Result<Self, MediaError> {
        let g = crate::convert::video_graph(f, tb, spec)?;
        let fmt: ffmpeg_next::ffi::AVPixelFormat = f.format().into();
        Ok(Self {
            graph: g,
            black: Marks::default(),
            frozen: Marks::default(),
            shots: Vec::new(),
            idet: [0; 4],
            key: (f.width(), f.height(), fmt as i32),
        })
    }

    fn feed(&mut self, f: &frame::Video) -> Result<(), MediaError> {
        push(&mut self.graph.get("in").expect("source"), f)
            .ctx(|| "feeding inspection graph".into())?;
        self.drain()
    }

    fn drain(&mut self) -> Result<(), MediaError> {
        let mut out = frame::Video::empty();
        while self
            .graph
            .get("out")
            .expect("sink")
            .sink()
            .frame(&mut out)
            .is_ok()
        {
            if let Some(t) = meta_s(&out, "lavfi.black_start") {
                self.black.start(t);
            }
            if let Some(t) = meta_s(&out, "lavfi.black_end") {
                self.black.end(t);
            }
            if let Some(t) = meta_s(&out, "lavfi.freezedetect.freeze_start") {
                self.frozen.start(t);
            }
            if let Some(t) = meta_s(&out, "lavfi.freezedetect.freeze_end") {
                self.frozen.end(t);
            }
            // scdet's own time is printed with 6 significant digits (0.1 s late in a
            // long master): the frame's timestamp is exact.
            if out.metadata().get("lavfi.scd.time").is_some() {
                self.shots.extend(out.pts());
            }
            if out.metadata().get("lavfi.idet.multiple.tff").is_some() {
                // Counts are cumulative since the graph started.
                self.idet = [
                    meta_u64(&out, "lavfi.idet.multiple.tff"),
                    meta_u64(&out, "lavfi.idet.multiple.bff"),
                    meta_u64(&out, "lavfi.idet.multiple.progressive"),
                    meta_u64(&out, "lavfi.idet.multiple.undetermined"),
                ];
            }
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<(), MediaError> {
        self.graph
            .get("in")
            .expect("source")
            .source()
            .flush()
            .ctx(|| "flushing inspection graph".into())?;
        self.drain()
    }
}

/// silencedetect on one audio stream.
struct AudioLane {
    stream: usize,
    decoder: ffmpeg_next::decoder::Audio,
    tb: FfRational,
    graph: Option<filter::Graph>,
    silent: Marks,
    samples: u64,
    rate: u32,
    errors: u64,
    last_end_s: f64,
    codec: String,
    channels: u16,
}

impl AudioLane {
    fn build(&mut self, f: &frame::Audio, opts: &InspectOptions) -> Result<(), MediaError> {
        let mut g = filter::Graph::new();
        let layout = if f.channel_layout().is_empty() {
            ffmpeg_next::ChannelLayout::default(f.channels() as i32)
        } else {
            f.channel_layout()
        };
        let args = format!(
            "time_base={}/{}:sample_rate={}:sample_fmt={}:channel_layout=0x{:x}",
            self.tb.numerator(),
            self.tb.denominator(),
            f.rate(),
            f.format().name(),
            layout.bits()
        );
        g.add(&filter::find("abuffer").expect("abuffer"), "in", &args)
            .ctx(|| format!("inspection audio source ({args})"))?;
        g.add(
            &filter::find("abuffersink").expect("abuffersink"),
            "out",
            "",
        )
        .ctx(|| "inspection audio sink".into())?;
        let spec = format!(
            "silencedetect=n={}dB:d={}",
            opts.noise_db, opts.min_stretch_s
        );
        g.output("in", 0)
            .and_then(|p| p.input("out", 0))
            .and_then(|p| p.parse(&spec))
            .ctx(|| format!("inspection audio graph {spec}"))?;
        g.validate()
            .ctx(|| "validating inspection audio graph".into())?;
        self.graph = Some(g);
        Ok(())
    }

    fn drain_decoder(&mut self, opts: &InspectOptions) -> Result<(), MediaError> {
        let mut f = frame::Audio::empty();
        while self.decoder.receive_frame(&mut f).is_ok() {
            if f.is_corrupt() || f.has_decode_errors() {
                self.errors += 1;
            }
            let ts = f.timestamp().or(f.pts());
            f.set_pts(ts);
            if let Some(t) = ts {
                let s = t as f64 * f64::from(self.tb);
                self.last_end_s = s + f.samples() as f64 / f.rate().max(1) as f64;
            }
            self.samples += f.samples() as u64;
            self.rate = f.rate();
            if self.graph.is_none() {
                self.build(&f, opts)?;
            }
            let g = self.graph.as_mut().expect("built");
            // A frame the graph refuses (a layout change mid-stream) is skipped: the
            // silence measure is a warning, not worth failing the inspection over.
            if push(&mut g.get("in").expect("source"), &f).is_err() {
                continue;
            }
            self.drain_graph();
        }
        Ok(())
    }

    fn drain_graph(&mut self) {
        let Some(g) = self.graph.as_mut() else { return };
        let mut out = frame::Audio::empty();
        while g.get("out").expect("sink").sink().frame(&mut out).is_ok() {
            if let Some(t) = meta_s(&out, "lavfi.silence_start") {
                self.silent.start(t);
            }
            if let Some(t) = meta_s(&out, "lavfi.silence_end") {
                self.silent.end(t);
            }
        }
    }
}

fn cstr(p: *const std::os::raw::c_char) -> String {
    if p.is_null() {
        "unknown".into()
    } else {
        // SAFETY: FFmpeg's name tables hold static NUL-terminated strings.
        unsafe { std::ffi::CStr::from_ptr(p) }
            .to_string_lossy()
            .into_owned()
    }
}

fn q(r: ffmpeg_next::ffi::AVRational) -> f64 {
    if r.den == 0 {
        0.0
    } else {
        r.num as f64 / r.den as f64
    }
}

/// libavutil's `AVMasteringDisplayMetadata` (mastering_display_metadata.h, a stable
/// public struct that ffmpeg-sys-next does not bind): side data holds it as its bytes.
#[repr(C)]
#[derive(Clone, Copy)]
struct RawMasteringDisplay {
    display_primaries: [[ffmpeg_next::ffi::AVRational; 2]; 3],
    white_point: [ffmpeg_next::ffi::AVRational; 2],
    min_luminance: ffmpeg_next::ffi::AVRational,
    max_luminance: ffmpeg_next::ffi::AVRational,
    has_primaries: std::os::raw::c_int,
    has_luminance: std::os::raw::c_int,
}

/// libavutil's `AVContentLightMetadata`, likewise.
#[repr(C)]
#[derive(Clone, Copy)]
#[allow(non_snake_case)]
struct RawContentLight {
    MaxCLL: std::os::raw::c_uint,
    MaxFALL: std::os::raw::c_uint,
}

fn colour_of(f: &frame::Video, stream: &ffmpeg_next::format::stream::Stream) -> ColourFound {
    use ffmpeg_next::ffi;
    let fmt: ffi::AVPixelFormat = f.format().into();
    // SAFETY: FFmpeg's descriptor table is static; the frame is a live decoded frame.
    let (pixel_format, bit_depth) = unsafe {
        let d = ffi::av_pix_fmt_desc_get(fmt);
        if d.is_null() {
            ("unknown".to_string(), 0)
        } else {
            (cstr((*d).name), (*d).comp[0].depth as u32)
        }
    };
    let p = unsafe { f.as_ptr() };
    // SAFETY: plain enum fields of a live frame; the name functions return static strings.
    let (primaries, transfer, matrix, range, trc) = unsafe {
        (
            cstr(ffi::av_color_primaries_name((*p).color_primaries)),
            cstr(ffi::av_color_transfer_name((*p).color_trc)),
            cstr(ffi::av_color_space_name((*p).colorspace)),
            cstr(ffi::av_color_range_name((*p).color_range)),
            (*p).color_trc,
        )
    };
    let hdr = match trc {
        ffi::AVColorTransferCharacteristic::AVCOL_TRC_SMPTE2084 => Some("pq".to_string()),
        ffi::AVColorTransferCharacteristic::AVCOL_TRC_ARIB_STD_B67 => Some("hlg".to_string()),
        _ => None,
    };
    // HDR side data: on the decoded frame (HEVC SEI), else on the stream (mp4/mkv boxes).
    let stream_sd = |kind: codec::packet::side_data::Type| {
        stream
            .side_data()
            .find(|sd| sd.kind() == kind)
            .map(|sd| sd.data().to_vec())
    };
    let md = f
        .side_data(frame::side_data::Type::MasteringDisplayMetadata)
        .map(|sd| sd.data().to_vec())
        .or_else(|| stream_sd(codec::packet::side_data::Type::MasteringDisplayMetadata));
    let mastering_display = md.and_then(|b| {
        if b.len() < std::mem::size_of::<RawMasteringDisplay>() {
            return None;
        }
        // SAFETY: FFmpeg stores the struct itself as the side data's bytes; read unaligned.
        let m: RawMasteringDisplay = unsafe { std::ptr::read_unaligned(b.as_ptr() as *const _) };
        (m.has_primaries != 0 || m.has_luminance != 0).then(|| MasteringDisplay {
            primaries: std::array::from_fn(|i| {
                [q(m.display_primaries[i][0]), q(m.display_primaries[i][1])]
            }),
            white_point: [q(m.white_point[0]), q(m.white_point[1])],
            min_luminance: q(m.min_luminance),
            max_luminance: q(m.max_luminance),
        })
    });
    let cl = f
        .side_data(frame::side_data::Type::ContentLightLevel)
        .map(|sd| sd.data().to_vec())
        .or_else(|| stream_sd(codec::packet::side_data::Type::ContentLightLevel));
    let content_light = cl.and_then(|b| {
        if b.len() < std::mem::size_of::<RawContentLight>() {
            return None;
        }
        // SAFETY: as above.
        let c: RawContentLight = unsafe { std::ptr::read_unaligned(b.as_ptr() as *const _) };
        Some(ContentLight {
            max_cll: c.MaxCLL,
            max_fall: c.MaxFALL,
        })
    });
    ColourFound {
        pixel_format,
        bit_depth,
        primaries,
        transfer,
        matrix,
        range,
        hdr,
        mastering_display,
        content_light,
    }
}

fn display_matrix(stream: &ffmpeg_next::format::stream::Stream) -> Option<[i32; 9]> {
    stream
        .side_data()
        .find(|sd| sd.kind() == codec::packet::side_data::Type::DisplayMatrix)
        .and_then(|sd| {
            let d = sd.data();
            (d.len() >= 36).then(|| {
                std::array::from_fn(|i| i32::from_ne_bytes(d[i * 4..i * 4 + 4].try_into().unwrap()))
            })
        })
}

const EAGAIN: i32 = 11;

/// Make the decoder report damage instead of hiding it: FFmpeg 5.1's H.264 decoder
/// conceals a frame cut short (the last one of an interrupted upload) without flagging
/// it; with `err_detect=explode` such a frame is an error we count.
fn explode_on_errors(ctx: &mut codec::context::Context) {
    use ffmpeg_next::ffi;
    // SAFETY: a plain field of a context we own, before it is opened.
    unsafe {
        (*ctx.as_mut_ptr()).err_recognition |=
            ffi::AV_EF_EXPLODE | ffi::AV_EF_BUFFER | ffi::AV_EF_BITSTREAM;
    }
}

fn field_order_name(o: ffmpeg_next::ffi::AVFieldOrder) -> &'static str {
    use ffmpeg_next::ffi::AVFieldOrder::*;
    match o {
        AV_FIELD_PROGRESSIVE => "progressive",
        AV_FIELD_TT => "tt",
        AV_FIELD_BB => "bb",
        AV_FIELD_TB => "tb",
        AV_FIELD_BT => "bt",
        _ => "unknown",
    }
}

/// Inspect `path` in one pass: every packet demuxed, the video and every audio stream
/// decoded, the detectors run on the decoded frames.
pub fn inspect(path: &Path, opts: &InspectOptions) -> Result<Inspection, MediaError> {
    let started = Instant::now();
    let file_bytes = std::fs::metadata(path)
        .map(|m| m.len())
        .map_err(|source| MediaError::Io {
            path: path.into(),
            source,
        })?;
    let mut ictx = open_untrusted(path)?;
    let container = ictx.format().name().to_string();
    let (vi, vtb, vparams, nb_frames, stream_duration, display, r_rate, avg_rate) = {
        let s = ictx
            .streams()
            .best(media::Type::Video)
            .ok_or_else(|| MediaError::NoVideo { path: path.into() })?;
        (
            s.index(),
            s.time_base(),
            s.parameters(),
            s.frames(),
            s.duration(),
            display_matrix(&s),
            s.rate(),
            s.avg_frame_rate(),
        )
    };
    let other_video: Vec<String> = ictx
        .streams()
        .filter(|s| {
            s.index() != vi
                && s.parameters().medium() == media::Type::Video
                && !s
                    .disposition()
                    .contains(ffmpeg_next::format::stream::Disposition::ATTACHED_PIC)
        })
        .map(|s| {
            // SAFETY: plain fields of the stream's codec parameters.
            let (w, h) = unsafe {
                let p = s.parameters().as_ptr();
                ((*p).width, (*p).height)
            };
            format!(
                "stream {} ({w}x{h} {})",
                s.index(),
                s.parameters().id().name()
            )
        })
        .collect();
    // SAFETY: plain fields of the open input's context and codec parameters.
    let (from_header, format_duration, start_time, field_order) = unsafe {
        let p = ictx.as_ptr();
        (
            (*p).duration_estimation_method
                == ffmpeg_next::ffi::AVDurationEstimationMethod::AVFMT_DURATION_FROM_STREAM,
            (*p).duration,
            (*p).start_time,
            field_order_name((*vparams.as_ptr()).field_order),
        )
    };
    // Matroska's Duration is the segment's, from its time 0, not the span of what it
    // holds: a file whose first timestamp is at 10 s and runs 4 s declares 14 s.
    let lead_s = if container.starts_with("matroska")
        && start_time != ffmpeg_next::ffi::AV_NOPTS_VALUE
        && start_time > 0
    {
        start_time as f64 / ffmpeg_next::ffi::AV_TIME_BASE as f64
    } else {
        0.0
    };
    let video_codec = vparams.id().name().to_string();
    let declared_frames = (nb_frames > 0).then_some(nb_frames as u64);
    let declared_duration_s = if !from_header {
        None
    } else if stream_duration > 0 {
        Some(stream_duration as f64 * f64::from(vtb))
    } else if format_duration > 0 {
        Some(format_duration as f64 / ffmpeg_next::ffi::AV_TIME_BASE as f64 - lead_s)
    } else {
        None
    };
    let nominal_rate = crate::probe::snap_frame_rate(if r_rate.numerator() > 0 {
        r_rate
    } else {
        avg_rate
    });

    let mut vdec = {
        let mut dctx = codec::context::Context::from_parameters(vparams)
            .ctx(|| "inspection video decoder parameters".into())?;
        dctx.set_threading(codec::threading::Config {
            kind: codec::threading::Type::Frame,
            count: 0,
            safe: false,
        });
        // SAFETY: a plain field of a context we own, before it is opened.
        unsafe {
            (*dctx.as_mut_ptr()).pkt_timebase = vtb.into();
        }
        explode_on_errors(&mut dctx);
        dctx.decoder()
            .video()
            .ctx(|| "opening inspection video decoder".into())?
    };
    let mut lanes: Vec<AudioLane> = Vec::new();
    for s in ictx.streams() {
        if s.parameters().medium() != media::Type::Audio {
            continue;
        }
        let Ok(mut actx) = codec::context::Context::from_parameters(s.parameters()) else {
            continue;
        };
        // SAFETY: as above.
        unsafe {
            (*actx.as_mut_ptr()).pkt_timebase = s.time_base().into();
        }
        let codec_name = actx.id().name().to_string();
        explode_on_errors(&mut actx);
        let Ok(decoder) = actx.decoder().audio() else {
            continue;
        };
        lanes.push(AudioLane {
            stream: s.index(),
            channels: decoder.channels(),
            decoder,
            tb: s.time_base(),
            graph: None,
            silent: Marks::default(),
            samples: 0,
            rate: 0,
            errors: 0,
            last_end_s: 0.0,
            codec: codec_name,
        });
    }

    let frame_s_nominal = nominal_rate.map(|r| r.den as f64 / r.num as f64);
    let mut st = VideoState {
        opts: opts.clone(),
        tb: vtb,
        detect: None,
        idet: None,
        retired: Vec::new(),
        colour: None,
        sar: None,
        coded_interlaced: 0,
        whole: 0,
        damaged: 0,
        decode_errors: 0,
        first_s: None,
        last_whole_s: None,
        last_s: None,
        intervals: Vec::new(),
        whole_ts: Vec::new(),
        idet_frames: 0,
        decoded_index: 0,
        size: (0, 0),
        shape: None,
        change: None,
        container_sar: FfRational::from(unsafe {
            // SAFETY: a plain field of the open input's video stream.
            (*ictx.stream(vi).expect("video stream").as_ptr()).sample_aspect_ratio
        }),
    };
    let mut packets_read = 0u64;
    let mut discarded_packets = 0u64;
    let mut last_dts: Option<i64> = None;
    let mut decode_time_back: Option<DecodeTimeBack> = None;
    let mut first_pkt_s: Option<f64> = None;
    let mut last_pkt_end_s = 0.0f64;
    let mut demux_errors = 0u64;
    let mut read_error_at_end = false;
    let mut errors_in_a_row = 0u32;
    let mut vframe = frame::Video::empty();
    loop {
        let mut pkt = Packet::empty();
        match pkt.read(&mut ictx) {
            Ok(()) => errors_in_a_row = 0,
            Err(ffmpeg_next::Error::Eof) => break,
            Err(_) => {
                // "partial file": the index points past the data. What follows is
                // judged by whether a whole frame comes after it.
                demux_errors += 1;
                read_error_at_end = true;
                errors_in_a_row += 1;
                if errors_in_a_row > 10_000 {
                    break;
                }
                continue;
            }
        }
        let idx = pkt.stream();
        // SAFETY: a plain field of the packet just read.
        let discard = unsafe { (*pkt.as_ptr()).flags } & ffmpeg_next::ffi::AV_PKT_FLAG_DISCARD != 0;
        if idx == vi {
            if let Some(d) = pkt.dts() {
                if let Some(p) = last_dts.filter(|&p| d <= p) {
                    decode_time_back.get_or_insert(DecodeTimeBack {
                        packet: packets_read,
                        from_s: p as f64 * f64::from(vtb),
                        to_s: d as f64 * f64::from(vtb),
                    });
                }
                last_dts = Some(d);
            }
            packets_read += 1;
            discarded_packets += discard as u64;
            read_error_at_end = false;
            // A sample outside an edit list is decoded for reference but never shown.
            if let Some(t) = pkt.pts().or(pkt.dts()).filter(|_| !discard) {
                let s = t as f64 * f64::from(vtb);
                let d = if pkt.duration() > 0 {
                    pkt.duration() as f64 * f64::from(vtb)
                } else {
                    frame_s_nominal.unwrap_or(0.0)
                };
                first_pkt_s = Some(first_pkt_s.map_or(s, |f: f64| f.min(s)));
                last_pkt_end_s = last_pkt_end_s.max(s + d);
            }
            if pkt.is_corrupt() {
                st.decode_errors += 1;
            }
            if vdec.send_packet(&pkt).is_err() {
                st.decode_errors += 1;
            }
            st.receive(&mut vdec, &mut vframe, &ictx, vi)?;
        } else if let Some(lane) = lanes.iter_mut().find(|l| l.stream == idx) {
            if lane.decoder.send_packet(&pkt).is_err() {
                lane.errors += 1;
            }
            lane.drain_decoder(opts)?;
        }
    }
    let _ = vdec.send_eof();
    st.receive(&mut vdec, &mut vframe, &ictx, vi)?;
    for lane in lanes.iter_mut() {
        let _ = lane.decoder.send_eof();
        lane.drain_decoder(opts)?;
        if let Some(g) = lane.graph.as_mut() {
            let _ = g.get("in").expect("source").source().flush();
        }
        lane.drain_graph();
    }
    let graphs = st.finish()?;

    let Some(first_s) = st.first_s else {
        return Err(MediaError::Corrupt {
            path: path.into(),
            detail: format!(
                "no video frame decodes ({packets_read} video packets read, {demux_errors} read errors)"
            ),
        });
    };
    let frame_s = frame_s_nominal.unwrap_or_else(|| {
        // No usable nominal rate: the median interval.
        let mut v = st.intervals.clone();
        v.sort_by(f64::total_cmp);
        v.get(v.len() / 2).copied().unwrap_or(0.04)
    });
    let last_whole = st.last_whole_s.unwrap_or(first_s);
    let decoded_duration_s = if st.whole > 0 {
        last_whole - first_s + frame_s
    } else {
        0.0
    };
    let end_s = st.last_s.unwrap_or(first_s) + frame_s;
    let whole_prefix_frames = {
        let mut slots: Vec<i64> = st
            .whole_ts
            .iter()
            .map(|s| ((s - first_s) / frame_s).round() as i64)
            .collect();
        slots.sort_unstable();
        slots.dedup();
        slots
            .iter()
            .enumerate()
            .take_while(|(i, s)| **s == *i as i64)
            .count() as u64
    };
    // The file ends inside a frame: the last video packets were read but their frames
    // do not decode whole (a frame-threaded decoder reports the error out of order,
    // so this is judged by time), a read failed after the last video packet, or an
    // MPEG-TS file ends inside a transport packet.
    let whole_end = if st.whole > 0 {
        last_whole + frame_s
    } else {
        first_s
    };
    let ts_cut = container == "mpegts" && [188u64, 192, 204].iter().all(|n| file_bytes % n != 0);
    let ends_damaged = read_error_at_end || ts_cut || last_pkt_end_s > whole_end + frame_s / 2.0;
    let min = opts.min_stretch_s;

    let (mut black, mut frozen, mut idet) = (Vec::new(), Vec::new(), [0u64; 4]);
    let mut shot_pts = Vec::new();
    for g in graphs {
        shot_pts.extend(&g.shots);
        black.extend(g.black.finish(end_s, min, first_s));
        frozen.extend(g.frozen.finish(end_s, min, first_s));
        for (sum, n) in idet.iter_mut().zip(g.idet) {
            *sum += n;
        }
    }
    shot_pts.sort_unstable();
    let shots = shot_pts
        .iter()
        .map(|&p| p as f64 * f64::from(st.tb) - first_s)
        .collect();
    // A black stretch is also a still one: report it once, as black.
    frozen.retain(|z: &Stretch| {
        !black.iter().any(|b: &Stretch| {
            let overlap = z.end_s.min(b.end_s) - z.start_s.max(b.start_s);
            overlap > 0.9 * z.duration_s()
        })
    });
    let idet_frames = st.idet_frames;
    let [tff, bff, progressive, undetermined] = idet;
    // Interlaced: one field order dominates, consistently. Sharp synthetic patterns
    // (testsrc2) fool idet into a mix of both orders; real interlaced video is one.
    // A stream coded progressive needs more evidence: idet must call most of at least
    // 100 frames interlaced (a second of testsrc2 alone looks top-field-first to it).
    let (dominant, other) = (tff.max(bff), tff.min(bff));
    let classified = tff + bff + progressive;
    let coded_interlaced = !matches!(field_order, "progressive" | "unknown")
        || 2 * st.coded_interlaced > st.whole + st.damaged;
    let interlaced = dominant >= 4 * other
        && 2 * dominant > classified
        && dominant >= 3.max(idet_frames / 20)
        && (coded_interlaced || (dominant >= 100 && 5 * dominant >= 4 * classified));

    let mut intervals = 0u64;
    let mut off = 0u64;
    let (mut shortest, mut longest) = (f64::INFINITY, 0.0f64);
    let tick = f64::from(vtb);
    for &d in &st.intervals {
        intervals += 1;
        shortest = shortest.min(d);
        longest = longest.max(d);
        if (d - frame_s).abs() > (0.1 * frame_s).max(1.5 * tick) {
            off += 1;
        }
    }
    let span = st.last_s.unwrap_or(first_s) - first_s;
    let mean_rate = if span > 0.0 {
        intervals as f64 / span
    } else {
        0.0
    };

    let audio = lanes
        .into_iter()
        .map(|l| {
            let end = l.last_end_s;
            AudioTrackCheck {
                stream: l.stream,
                codec: l.codec,
                channels: l.channels,
                sample_rate: l.rate,
                decoded_s: l.samples as f64 / l.rate.max(1) as f64,
                decode_errors: l.errors,
                silent: l.silent.finish(end, min, first_s),
            }
        })
        .collect::<Vec<_>>();
    let audio_errors: u64 = audio.iter().map(|a| a.decode_errors).sum();

    let (rotation, flipped) = match display {
        Some(m) => {
            // SAFETY: nine 32-bit integers, read in place by FFmpeg.
            let angle = unsafe { ffmpeg_next::ffi::av_display_rotation_get(m.as_ptr()) };
            let det = m[0] as i64 * m[4] as i64 - m[1] as i64 * m[3] as i64;
            let cw = if angle.is_finite() {
                (-angle).round() as i32
            } else {
                0
            };
            (cw.rem_euclid(360), det < 0)
        }
        None => (0, false),
    };
    let (width, height) = st.size;
    let sar = st.sar.unwrap_or(Rational { num: 1, den: 1 });
    let wall_s = started.elapsed().as_secs_f64();
    let decoded_total = st.whole + st.damaged;
    Ok(Inspection {
        container,
        other_video,
        video_stream: vi,
        video_codec,
        completeness: Completeness {
            declared_frames,
            declared_duration_s,
            packets_read,
            discarded_packets,
            read_duration_s: first_pkt_s.map_or(0.0, |f| (last_pkt_end_s - f).max(0.0)),
            decoded_frames: st.whole,
            decoded_duration_s,
            whole_prefix_frames,
            damaged_frames: st.damaged,
            demux_errors,
            decode_errors: st.decode_errors + audio_errors,
            ends_damaged,
            file_bytes,
        },
        black,
        frozen,
        shots,
        shot_pts,
        audio,
        interlace: Interlace {
            field_order: field_order.into(),
            coded_interlaced_frames: st.coded_interlaced,
            tff,
            bff,
            progressive,
            undetermined,
            frames_measured: idet_frames,
            interlaced,
        },
        colour: st.colour.unwrap_or(ColourFound {
            pixel_format: "unknown".into(),
            bit_depth: 0,
            primaries: "unknown".into(),
            transfer: "unknown".into(),
            matrix: "unknown".into(),
            range: "unknown".into(),
            hdr: None,
            mastering_display: None,
            content_light: None,
        }),
        geometry: Geometry {
            width,
            height,
            sample_aspect: sar,
            rotation,
            flipped,
            display_matrix: display,
            change: st.change.take(),
        },
        timing: Timing {
            nominal_rate,
            mean_rate,
            intervals,
            off_nominal_intervals: off,
            shortest_interval_s: if intervals > 0 { shortest } else { 0.0 },
            longest_interval_s: longest,
            // One dropped frame is not a variable rate.
            variable: off >= 3 && off * 100 > intervals,
            decode_time_back,
        },
        cost: InspectCost {
            wall_s,
            frames_per_s: decoded_total as f64 / wall_s.max(1e-9),
            idet_sampled: opts.idet_every > 1 && decoded_total > opts.idet_first,
        },
        min_stretch_s: min,
    })
}

/// The video side of the pass: counts, timing, and the detectors' graphs.
struct VideoState {
    opts: InspectOptions,
    tb: FfRational,
    /// blackdetect + freezedetect, on every frame.
    detect: Option<VideoFilters>,
    /// idet, on every frame or on the sampled runs.
    idet: Option<VideoFilters>,
    /// Graphs replaced after a change of size or format, flushed, kept for their results.
    retired: Vec<VideoFilters>,
    colour: Option<ColourFound>,
    sar: Option<Rational>,
    coded_interlaced: u64,
    whole: u64,
    damaged: u64,
    decode_errors: u64,
    first_s: Option<f64>,
    last_whole_s: Option<f64>,
    last_s: Option<f64>,
    intervals: Vec<f64>,
    /// Times of the whole frames, for the whole prefix.
    whole_ts: Vec<f64>,
    idet_frames: u64,
    decoded_index: u64,
    size: (u32, u32),
    /// The first picture's shape, and the first change from it.
    shape: Option<(u32, u32, u32, u32)>,
    change: Option<ShapeChange>,
    /// The sample aspect the container states (0/1: none), for the shape check.
    container_sar: FfRational,
}

impl VideoState {
    fn detect_spec(&self) -> String {
        // blackdetect marks every black run (its `d` only gates its log line); the
        // length filter is ours. freezedetect marks a freeze once it has lasted `d`.
        // scdet marks each frame that starts a shot.
        format!(
            "blackdetect=d=0:pix_th={}:pic_th=0.98,freezedetect=n={}dB:d={},scdet=threshold={}",
            self.opts.black_pixel_threshold,
            self.opts.noise_db,
            self.opts.min_stretch_s,
            self.opts.shot_threshold
        )
    }

    /// Take every frame the decoder has ready. With frame threading a packet's decode
    /// error comes back here, not from `send_packet`: count it and go on draining.
    fn receive(
        &mut self,
        dec: &mut ffmpeg_next::decoder::Video,
        f: &mut frame::Video,
        ictx: &ffmpeg_next::format::context::Input,
        vi: usize,
    ) -> Result<(), MediaError> {
        loop {
            match dec.receive_frame(f) {
                Ok(()) => self.frame(f, ictx, vi)?,
                Err(ffmpeg_next::Error::Eof) => return Ok(()),
                Err(ffmpeg_next::Error::Other { errno }) if errno == EAGAIN => return Ok(()),
                Err(_) => self.decode_errors += 1,
            }
        }
    }

    fn frame(
        &mut self,
        f: &mut frame::Video,
        ictx: &ffmpeg_next::format::context::Input,
        vi: usize,
    ) -> Result<(), MediaError> {
        let damaged = f.is_corrupt() || f.has_decode_errors();
        if damaged {
            self.damaged += 1;
            self.decode_errors += 1;
        } else {
            self.whole += 1;
        }
        let ts = f.timestamp().or(f.pts());
        if let Some(t) = ts {
            let s = t as f64 * f64::from(self.tb);
            if let Some(prev) = self.last_s {
                if s > prev {
                    self.intervals.push(s - prev);
                }
            }
            self.first_s.get_or_insert(s);
            self.last_s = Some(self.last_s.map_or(s, |p| p.max(s)));
            if !damaged {
                self.last_whole_s = Some(self.last_whole_s.map_or(s, |p| p.max(s)));
                self.whole_ts.push(s);
            }
        }
        if f.is_interlaced() {
            self.coded_interlaced += 1;
        }
        let shape = shape_of(f, self.container_sar);
        match self.shape {
            None => self.shape = Some(shape),
            Some(first) if !same_shape(first, shape) && self.change.is_none() => {
                self.change = Some(ShapeChange {
                    at_s: ts.map_or(0.0, |t| t as f64 * f64::from(self.tb))
                        - self.first_s.unwrap_or(0.0),
                    from: shape_name(first),
                    to: shape_name(shape),
                });
            }
            Some(_) => {}
        }
        if self.colour.is_none() {
            let stream = ictx.stream(vi).expect("video stream");
            self.colour = Some(colour_of(f, &stream));
            let sar = f.aspect_ratio();
            self.sar = (sar.numerator() > 0 && sar.denominator() > 0).then(|| Rational {
                num: sar.numerator() as u32,
                den: sar.denominator() as u32,
            });
            self.size = (f.width(), f.height());
        }
        // The detectors see frames on their own timestamps.
        f.set_pts(ts);
        // A change of size or format starts new graphs (stretches do not span it).
        let fmt: ffmpeg_next::ffi::AVPixelFormat = f.format().into();
        let key = (f.width(), f.height(), fmt as i32);
        // A new picture size or format is a new shot, whatever the pictures (a splice
        // of two sources): scdet in the new graph has no picture before it to compare
        // with, so it is marked here.
        let spliced = self.detect.as_ref().is_some_and(|v| v.key != key);
        if self.detect.as_ref().is_some_and(|v| v.key != key) {
            for mut old in [self.detect.take(), self.idet.take()].into_iter().flatten() {
                old.flush()?;
                self.retired.push(old);
            }
        }
        if self.detect.is_none() {
            let mut graph = VideoFilters::new(f, self.tb, &self.detect_spec())?;
            if spliced {
                graph.shots.extend(ts);
            }
            self.detect = Some(graph);
        }
        self.detect.as_mut().expect("built").feed(f)?;
        let i = self.decoded_index;
        self.decoded_index += 1;
        let every = self.opts.idet_every.max(1) as u64;
        let run = (self.opts.idet_run.max(1) as u64).min(every);
        if i < self.opts.idet_first || i % every < run {
            if self.idet.is_none() {
                self.idet = Some(VideoFilters::new(f, self.tb, "idet")?);
            }
            self.idet_frames += 1;
            self.idet.as_mut().expect("built").feed(f)?;
        }
        Ok(())
    }

    /// Flush the graphs; every graph's results, in order.
    fn finish(&mut self) -> Result<Vec<VideoFilters>, MediaError> {
        let mut all = std::mem::take(&mut self.retired);
        for mut g in [self.detect.take(), self.idet.take()].into_iter().flatten() {
            g.flush()?;
            all.push(g);
        }
        Ok(all)
    }
}
