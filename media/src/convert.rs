//! Faithful conversion of a master's pictures before scaling: what a player would do
//! to show the master right, done once in the farm so that every rendition is a plain
//! progressive, upright, SDR picture with an honest colour description.
//!
//! - Rotation: phone video stores landscape pixels and a display matrix; the pixels
//!   are rotated (`transpose`, or `hflip,vflip` for 180°) and the ladder is fitted to
//!   the displayed shape ([`crate::ProbeInfo::display_size`]).
//! - Interlace: a master whose stream says its frames are fields is deinterlaced with
//!   `bwdif` at the frame rate (one picture per frame, timestamps kept), before any
//!   scaling, which would otherwise smear the two fields into combing.
//! - HDR: PQ (SMPTE ST 2084) and HLG (ARIB STD-B67) masters are tone-mapped to SDR
//!   BT.709 (linearise, convert primaries, Hable curve, BT.709 transfer): cutting
//!   10-bit PQ to 8 bits gives grey, washed-out pictures. Wide-gamut SDR (BT.2020
//!   primaries) is converted to BT.709 primaries the same way without the curve.
//! - Range: full-range ("JPEG") masters are converted to the limited range H.264
//!   players expect.
//!
//! What cannot be converted faithfully is refused with the reason: a mirrored
//! display matrix, a rotation that is not a multiple of 90°, a transfer function we
//! do not know how to map (log, linear, …).
//!
//! All of it runs through one libavfilter graph per decoder ([`FilterChain`]); a
//! master that needs none of it gets no graph at all, so its pictures reach the
//! scaler untouched, exactly as before.

use ffmpeg_next::{filter, frame};
use serde::{Deserialize, Serialize};

use crate::error::Context;
use crate::{MediaError, ProbeInfo};

/// A colour description as ISO/IEC 23091-2 code points (the numbers H.264's VUI, the
/// `colr` box and FFmpeg's enums all use).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Colour {
    /// Colour primaries: 1 BT.709, 5 BT.470BG, 6 SMPTE 170M, 9 BT.2020, 2 unspecified.
    pub primaries: u8,
    /// Transfer characteristics: 1 BT.709, 6 SMPTE 170M, 16 PQ, 18 HLG, 2 unspecified.
    pub transfer: u8,
    /// Matrix coefficients: 1 BT.709, 5 BT.470BG, 6 SMPTE 170M, 9 BT.2020 NCL, 2 unspecified.
    pub matrix: u8,
    /// Full ("JPEG", 0–255) rather than limited (16–235) range.
    pub full_range: bool,
}

pub(crate) const UNSPECIFIED: u8 = 2;
const BT709: u8 = 1;
const SMPTE170M: u8 = 6;
const BT2020: u8 = 9;
const PQ: u8 = 16;
const HLG: u8 = 18;
/// Transfers that are SDR gamma curves close enough to BT.709's that encoding them and
/// tagging them as they are is faithful: BT.709, gamma 2.2 and 2.8, SMPTE 170M and 240M,
/// sRGB, BT.2020 10 and 12 bit.
const SDR_TRANSFERS: &[u8] = &[1, 4, 5, 6, 7, 13, 14, 15];

impl Colour {
    /// What every SDR HD rendition is: BT.709 primaries, transfer and matrix, limited range.
    pub const BT709: Colour = Colour {
        primaries: BT709,
        transfer: BT709,
        matrix: BT709,
        full_range: false,
    };

    /// FFmpeg's names for the three code points and the range, for people and filters.
    pub fn describe(&self) -> String {
        format!(
            "{}/{}/{} {}",
            name(unsafe_primaries_name, self.primaries),
            name(unsafe_transfer_name, self.transfer),
            name(unsafe_matrix_name, self.matrix),
            if self.full_range { "full" } else { "limited" }
        )
    }
}

// FFmpeg's name lookups, declared with `int` arguments (what a C enum is passed as) so
// that any code point, known to this build's bindings or not, can be asked about.
extern "C" {
    fn av_color_primaries_name(v: std::ffi::c_int) -> *const std::ffi::c_char;
    fn av_color_transfer_name(v: std::ffi::c_int) -> *const std::ffi::c_char;
    fn av_color_space_name(v: std::ffi::c_int) -> *const std::ffi::c_char;
}

fn unsafe_primaries_name(v: u8) -> *const std::ffi::c_char {
    // SAFETY: returns a static string, or null for a value it does not know.
    unsafe { av_color_primaries_name(v.into()) }
}

fn unsafe_transfer_name(v: u8) -> *const std::ffi::c_char {
    // SAFETY: as above.
    unsafe { av_color_transfer_name(v.into()) }
}

fn unsafe_matrix_name(v: u8) -> *const std::ffi::c_char {
    // SAFETY: as above.
    unsafe { av_color_space_name(v.into()) }
}

fn name(f: fn(u8) -> *const std::ffi::c_char, v: u8) -> String {
    let p = f(v);
    if p.is_null() {
        return format!("#{v}");
    }
    // SAFETY: FFmpeg's name tables are static NUL-terminated strings.
    unsafe { std::ffi::CStr::from_ptr(p) }
        .to_string_lossy()
        .into_owned()
}

/// HDR transfer functions we tone-map from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum HdrTransfer {
    /// SMPTE ST 2084 (HDR10, Dolby Vision base layers).
    Pq,
    /// ARIB STD-B67 hybrid log-gamma.
    Hlg,
}

/// What is done to a master's pictures before scaling (`work/<title>/plan.json`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Conversion {
    /// Clockwise rotation applied to the pixels: 0, 90, 180 or 270.
    pub rotation: u16,
    /// Deinterlace with bwdif at the frame rate.
    pub deinterlace: bool,
    /// Tone-map from this HDR transfer to SDR BT.709.
    pub tone_map: Option<HdrTransfer>,
    /// The master's colour, with unspecified values resolved the way players guess them.
    pub source: Colour,
    /// What the renditions are, and are tagged as (VUI and `colr`).
    pub output: Colour,
}

impl Default for Conversion {
    /// Nothing to do, BT.709 out: what a plan written before conversions existed meant.
    fn default() -> Self {
        Self {
            rotation: 0,
            deinterlace: false,
            tone_map: None,
            source: Colour::BT709,
            output: Colour::BT709,
        }
    }
}

/// Why a master's pictures cannot be converted faithfully.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConversionRefused {
    #[error("its display matrix mirrors the picture, which vodfarm does not apply")]
    Mirrored,
    #[error("its display matrix rotates by {0}°, not a multiple of 90°")]
    Rotation(i32),
    #[error("its colour transfer '{0}' cannot be converted to SDR faithfully (known: BT.709-like SDR curves, PQ, HLG)")]
    Transfer(String),
}

/// Guess an unspecified colour the way players do (mpv's rule, which FFmpeg's tools and
/// most players share): HD-sized pictures are BT.709, smaller ones BT.601 (SMPTE 170M).
fn resolve(c: Colour, width: u32, height: u32) -> Colour {
    let guess = if width >= 1280 || height > 576 {
        BT709
    } else {
        SMPTE170M
    };
    // 0 is "reserved" for primaries and transfer: as good as unspecified.
    let or_guess = |v: u8| if v == 0 || v == UNSPECIFIED { guess } else { v };
    Colour {
        primaries: or_guess(c.primaries),
        // BT.709 and SMPTE 170M name the same SDR curve.
        transfer: or_guess(c.transfer),
        // 0 here is RGB: swscale turns RGB pictures into YUV with BT.601 coefficients
        // (its default), so that is what the renditions then are.
        matrix: match c.matrix {
            0 => SMPTE170M,
            UNSPECIFIED => guess,
            m => m,
        },
        full_range: c.full_range,
    }
}

impl Conversion {
    /// Decide the conversion for a probed master; refuse what cannot be done faithfully.
    pub fn for_master(p: &ProbeInfo) -> Result<Self, ConversionRefused> {
        if p.mirrored {
            return Err(ConversionRefused::Mirrored);
        }
        let rotation = match p.rotation.rem_euclid(360) {
            r @ (0 | 90 | 180 | 270) => r as u16,
            r => return Err(ConversionRefused::Rotation(r)),
        };
        let source = resolve(p.colour, p.width, p.height);
        let tone_map = match source.transfer {
            PQ => Some(HdrTransfer::Pq),
            HLG => Some(HdrTransfer::Hlg),
            t if SDR_TRANSFERS.contains(&t) => None,
            t => return Err(ConversionRefused::Transfer(name(unsafe_transfer_name, t))),
        };
        let wide_gamut = source.primaries == BT2020 || source.matrix == BT2020;
        let output = if tone_map.is_some() || wide_gamut {
            Colour::BT709
        } else {
            // SDR stays what it is (the pixels are not touched), but always limited range.
            Colour {
                full_range: false,
                ..source
            }
        };
        Ok(Self {
            rotation,
            deinterlace: p.is_interlaced(),
            tone_map,
            source,
            output,
        })
    }

    /// [`Conversion::for_master`] for the master at `path`, refusals as [`MediaError`].
    pub fn for_file(path: &std::path::Path, p: &ProbeInfo) -> Result<Self, MediaError> {
        Self::for_master(p).map_err(|reason| MediaError::Unconvertible {
            path: path.into(),
            reason,
        })
    }

    /// Whether the pictures need the filter graph at all.
    pub fn is_identity(&self) -> bool {
        self.filter_spec().is_none()
    }

    /// The libavfilter graph between the decoder and the scaler, or `None` when the
    /// decoded pictures can go to the scaler as they are.
    pub fn filter_spec(&self) -> Option<String> {
        let mut steps: Vec<String> = Vec::new();
        if self.deinterlace {
            // Before anything that mixes lines. send_frame: one picture per frame, so the
            // frame grid and timestamps stay the master's. parity=auto reads each frame's
            // own field order; deint=all because masters flag interlace unreliably.
            steps.push("bwdif=mode=send_frame:parity=auto:deint=all".into());
        }
        let s = self.source;
        let o = self.output;
        let names = |c: Colour| {
            (
                name(unsafe_primaries_name, c.primaries),
                name(unsafe_transfer_name, c.transfer),
                name(unsafe_matrix_name, c.matrix),
                if c.full_range { "full" } else { "limited" },
            )
        };
        let (pin, tin, min, rin) = names(s);
        if let Some(hdr) = self.tone_map {
            // Linear light (nominal peak 100 nits as SDR white), float RGB, BT.709
            // primaries, Hable's curve (keeps highlights without clipping), then the
            // BT.709 transfer and matrix in limited range, 8 bits.
            let tin = match hdr {
                HdrTransfer::Pq => "smpte2084",
                HdrTransfer::Hlg => "arib-std-b67",
            };
            steps.push(format!(
                "zscale=pin={pin}:tin={tin}:min={min}:rin={rin}:t=linear:npl=100,format=gbrpf32le,\
                 zscale=p=bt709,tonemap=tonemap=hable:desat=0,\
                 zscale=t=bt709:m=bt709:r=limited:dither=none,format=yuv420p"
            ));
        } else if s.primaries != o.primaries || s.matrix != o.matrix || s.full_range != o.full_range
        {
            let (p, t, m, r) = names(o);
            steps.push(format!(
                "zscale=pin={pin}:tin={tin}:min={min}:rin={rin}:p={p}:t={t}:m={m}:r={r}:dither=none,format=yuv420p"
            ));
        }
        match self.rotation {
            90 => steps.push("transpose=clock".into()),
            180 => steps.push("hflip,vflip".into()),
            270 => steps.push("transpose=cclock".into()),
            _ => {}
        }
        if steps.is_empty() {
            None
        } else {
            Some(steps.join(","))
        }
    }

    /// One line per thing done, for status and the run summary.
    pub fn describe(&self) -> Vec<String> {
        let mut out = Vec::new();
        if self.deinterlace {
            out.push("deinterlaced (bwdif, one picture per frame)".into());
        }
        if let Some(hdr) = self.tone_map {
            out.push(format!(
                "tone-mapped {} to SDR BT.709 (zscale + tonemap hable)",
                match hdr {
                    HdrTransfer::Pq => "HDR PQ",
                    HdrTransfer::Hlg => "HDR HLG",
                }
            ));
        } else if self.source != self.output {
            out.push(format!(
                "colour converted from {} to {}",
                self.source.describe(),
                self.output.describe()
            ));
        }
        if self.rotation != 0 {
            out.push(format!("rotated {}° clockwise", self.rotation));
        }
        out
    }
}

/// A libavfilter graph `spec` between a buffer source named "in", set up for pictures
/// like `f` with time base `tb`, and a buffer sink named "out". Used by the conversion
/// and by master inspection.
pub(crate) fn video_graph(
    f: &frame::Video,
    tb: ffmpeg_next::Rational,
    spec: &str,
) -> Result<filter::Graph, MediaError> {
    let mut g = filter::Graph::new();
    let sar = f.aspect_ratio();
    let (sn, sd) = if sar.numerator() > 0 && sar.denominator() > 0 {
        (sar.numerator(), sar.denominator())
    } else {
        (1, 1)
    };
    let args = format!(
        "video_size={}x{}:pix_fmt={}:time_base={}/{}:pixel_aspect={sn}/{sd}",
        f.width(),
        f.height(),
        ffmpeg_next::ffi::AVPixelFormat::from(f.format()) as i32,
        tb.numerator(),
        tb.denominator(),
    );
    g.add(&filter::find("buffer").expect("buffer"), "in", &args)
        .ctx(|| format!("video filter source {args}"))?;
    g.add(&filter::find("buffersink").expect("buffersink"), "out", "")
        .ctx(|| "video filter sink".into())?;
    g.output("in", 0)
        .and_then(|p| p.input("out", 0))
        .and_then(|p| p.parse(spec))
        .ctx(|| format!("video filter graph {spec}"))?;
    g.validate()
        .ctx(|| format!("validating video filter graph {spec}"))?;
    Ok(g)
}

/// The conversion's filter graph for one decoder, built on the first picture (whose
/// format and size it needs) and fed every decoded picture after it.
pub(crate) struct FilterChain {
    spec: Option<String>,
    graph: Option<filter::Graph>,
    time_base: ffmpeg_next::Rational,
    out: frame::Video,
}

impl FilterChain {
    pub(crate) fn new(conv: &Conversion, time_base: ffmpeg_next::Rational) -> Self {
        Self {
            spec: conv.filter_spec(),
            graph: None,
            time_base,
            out: frame::Video::empty(),
        }
    }

    /// Put one decoded picture through the graph and hand every picture that comes out
    /// (none, one or, at the end, the ones held back) to `emit`. `None` flushes.
    pub(crate) fn push(
        &mut self,
        input: Option<&mut frame::Video>,
        mut emit: impl FnMut(&frame::Video),
    ) -> Result<(), MediaError> {
        let Some(spec) = self.spec.as_deref() else {
            if let Some(f) = input {
                emit(f);
            }
            return Ok(());
        };
        match input {
            Some(f) => {
                if self.graph.is_none() {
                    self.graph = Some(video_graph(f, self.time_base, spec)?);
                }
                // Filters see pts only; the decoder's best-effort time is the one we grid on.
                let best = f.timestamp().or(f.pts());
                f.set_pts(best);
                let g = self.graph.as_mut().expect("built");
                g.get("in")
                    .expect("source")
                    .source()
                    .add(f)
                    .ctx(|| "feeding video filter graph".into())?;
            }
            None => match self.graph.as_mut() {
                Some(g) => g
                    .get("in")
                    .expect("source")
                    .source()
                    .flush()
                    .ctx(|| "flushing video filter graph".into())?,
                None => return Ok(()),
            },
        }
        let g = self.graph.as_mut().expect("built");
        while g
            .get("out")
            .expect("sink")
            .sink()
            .frame(&mut self.out)
            .is_ok()
        {
            emit(&self.out);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Rational;

    fn probe(w: u32, h: u32, colour: Colour) -> ProbeInfo {
        ProbeInfo {
            container: "mp4".into(),
            video_codec: "h264".into(),
            width: w,
            height: h,
            sample_aspect: Rational { num: 1, den: 1 },
            rotation: 0,
            mirrored: false,
            frame_rate: Rational { num: 25, den: 1 },
            duration_s: 1.0,
            frame_count_estimate: 25,
            pixel_format: "yuv420p".into(),
            colour,
            field_order: "progressive".into(),
            audio: None,
            audio_tracks: Vec::new(),
        }
    }

    const UNSPEC: Colour = Colour {
        primaries: 2,
        transfer: 2,
        matrix: 2,
        full_range: false,
    };

    #[test]
    fn untagged_masters_are_guessed_by_size_and_left_alone() {
        let hd = Conversion::for_master(&probe(1920, 1080, UNSPEC)).unwrap();
        assert_eq!(hd.output, Colour::BT709);
        assert!(hd.is_identity());
        let sd = Conversion::for_master(&probe(640, 360, UNSPEC)).unwrap();
        assert_eq!((sd.output.primaries, sd.output.matrix), (6, 6));
        assert!(sd.is_identity(), "{:?}", sd.filter_spec());
    }

    #[test]
    fn pq_is_tone_mapped_to_bt709() {
        let c = Conversion::for_master(&probe(
            1920,
            1080,
            Colour {
                primaries: 9,
                transfer: 16,
                matrix: 9,
                full_range: false,
            },
        ))
        .unwrap();
        assert_eq!(c.tone_map, Some(HdrTransfer::Pq));
        assert_eq!(c.output, Colour::BT709);
        let spec = c.filter_spec().unwrap();
        assert!(
            spec.contains("tin=smpte2084") && spec.contains("tonemap=hable"),
            "{spec}"
        );
    }

    #[test]
    fn full_range_becomes_limited_and_rotation_is_applied() {
        let mut p = probe(
            1920,
            1080,
            Colour {
                full_range: true,
                ..Colour::BT709
            },
        );
        p.rotation = 90;
        let c = Conversion::for_master(&p).unwrap();
        assert!(!c.output.full_range);
        let spec = c.filter_spec().unwrap();
        assert!(
            spec.contains("rin=full") && spec.ends_with("transpose=clock"),
            "{spec}"
        );
    }

    #[test]
    fn unfaithful_masters_are_refused() {
        let mut p = probe(640, 360, UNSPEC);
        p.rotation = 45;
        assert_eq!(
            Conversion::for_master(&p),
            Err(ConversionRefused::Rotation(45))
        );
        p.rotation = 0;
        p.mirrored = true;
        assert_eq!(Conversion::for_master(&p), Err(ConversionRefused::Mirrored));
        p.mirrored = false;
        p.colour.transfer = 8; // linear
        assert!(matches!(
            Conversion::for_master(&p),
            Err(ConversionRefused::Transfer(t)) if t == "linear"
        ));
    }
}
