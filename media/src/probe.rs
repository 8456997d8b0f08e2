//! Probe a master: container, streams, duration, frame rate, dimensions, audio layout.
//! Reads only the header and the first packets; the exact frame count is established
//! while splitting, which reads every packet anyway.

use std::path::Path;

use ffmpeg_next::{codec, media, util::mathematics::rescale::Rescale, Rational as FfRational};
use serde::{Deserialize, Serialize};

use crate::convert::{Colour, UNSPECIFIED};
use crate::{open_untrusted, MediaError, Rational};

/// Limits on what a master may claim, so that a crafted header cannot make a worker
/// allocate or run without bound.
const MAX_DIMENSION: u64 = 8192;
/// libvmaf's ADM feature reads outside pictures narrower or lower than 18 pixels
/// (SIGSEGV in `integer_compute_adm` at 16 and 17, fine from 18), and every rendition
/// is scored at the master's size; 32 leaves a margin and no real content is smaller.
const MIN_DIMENSION: u64 = 32;
/// The displayed shape, at most this many times wider than high or higher than wide:
/// the smallest rung box (416x234) then keeps at least 29 pixels on the short side.
const MAX_DISPLAY_ASPECT: f64 = 8.0;
const MAX_DURATION_S: u64 = 12 * 3600;
const MAX_STREAMS: u64 = 64;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AudioInfo {
    /// The stream's index in the master (what the audio stage decodes).
    #[serde(default)]
    pub stream_index: usize,
    /// The stream's `language` tag as stored (ISO 639-2 in MP4/MKV, say "eng"); `None`
    /// when untagged or tagged "und".
    #[serde(default)]
    pub language: Option<String>,
    pub codec: String,
    pub sample_rate: u32,
    pub channels: u16,
    /// FFmpeg's description of the layout, for example "5.1" or "stereo".
    pub layout: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProbeInfo {
    pub container: String,
    pub video_codec: String,
    pub width: u32,
    pub height: u32,
    /// Sample (pixel) aspect ratio; 1/1 for square pixels.
    pub sample_aspect: Rational,
    /// Clockwise rotation in degrees from the display matrix (0, 90, 180, 270).
    pub rotation: i32,
    /// Whether the display matrix also mirrors the picture.
    #[serde(default)]
    pub mirrored: bool,
    pub frame_rate: Rational,
    pub duration_s: f64,
    /// Frame count estimated from duration × frame rate (exact count comes from the split).
    pub frame_count_estimate: u64,
    pub pixel_format: String,
    /// The stream's colour description as tagged (unspecified values left so).
    #[serde(default = "unspecified_colour")]
    pub colour: Colour,
    /// Field order as the stream declares it: "progressive", "tt", "bb", "tb", "bt" or
    /// "unknown".
    #[serde(default)]
    pub field_order: String,
    /// The first audio track (the one a single-track player would pick).
    pub audio: Option<AudioInfo>,
    /// Every audio stream, in stream order: each becomes its own rendition.
    #[serde(default)]
    pub audio_tracks: Vec<AudioInfo>,
}

fn unspecified_colour() -> Colour {
    Colour {
        primaries: UNSPECIFIED,
        transfer: UNSPECIFIED,
        matrix: UNSPECIFIED,
        full_range: false,
    }
}

impl ProbeInfo {
    /// Width and height as displayed (sample aspect applied, then the rotation), even
    /// numbers: the shape the ladder is fitted to. The conversion rotates the pixels.
    pub fn display_size(&self) -> (u32, u32) {
        let sar = if self.sample_aspect.num == 0 || self.sample_aspect.den == 0 {
            1.0
        } else {
            self.sample_aspect.as_f64()
        };
        let w = (self.width as f64 * sar).round() as u32 & !1;
        let h = self.height & !1;
        if self.rotation.rem_euclid(180) == 90 {
            (h, w)
        } else {
            (w, h)
        }
    }

    /// Whether the stream says its frames hold two fields.
    pub fn is_interlaced(&self) -> bool {
        matches!(self.field_order.as_str(), "tt" | "bb" | "tb" | "bt")
    }
}

/// The rates masters are made at.
const STANDARD_RATES: &[(u32, u32)] = &[
    (24000, 1001),
    (24, 1),
    (25, 1),
    (30000, 1001),
    (30, 1),
    (48, 1),
    (50, 1),
    (60000, 1001),
    (60, 1),
];

/// Snap a measured frame rate to the broadcast rate it is meant to be (29.97 stored as
/// 2997/100 becomes 30000/1001), or keep it when it is already a small exact ratio.
pub(crate) fn snap_frame_rate(r: FfRational) -> Option<Rational> {
    if r.numerator() <= 0 || r.denominator() <= 0 {
        return None;
    }
    let fps = f64::from(r);
    for &(num, den) in STANDARD_RATES {
        let k = num as f64 / den as f64;
        if (fps - k).abs() / k < 0.0005 {
            return Some(Rational { num, den });
        }
    }
    if !(1.0..=120.0).contains(&fps) {
        return None;
    }
    // Any other rate: nearest ratio with denominator 1 or 1001.
    let whole = fps.round();
    if (fps - whole).abs() < 0.001 {
        return Some(Rational {
            num: whole as u32,
            den: 1,
        });
    }
    Some(Rational {
        num: (fps * 1001.0).round() as u32,
        den: 1001,
    })
}

/// Refuse pictures whose sample aspect makes them display thinner than
/// `MIN_DIMENSION` or beyond `MAX_DISPLAY_ASPECT`: a rendition fitted to that shape would
/// be a few pixels across.
fn check_shape(path: &Path, width: u32, height: u32, sar: Rational) -> Result<(), MediaError> {
    let display_w = (width as f64 * sar.as_f64()).round();
    let aspect = display_w / height as f64;
    if display_w < MIN_DIMENSION as f64
        || !(1.0 / MAX_DISPLAY_ASPECT..=MAX_DISPLAY_ASPECT).contains(&aspect)
    {
        return Err(MediaError::Shape {
            path: path.into(),
            width,
            height,
            sar_num: sar.num,
            sar_den: sar.den,
            display_w: display_w as u64,
        });
    }
    Ok(())
}

fn check_bound(
    path: &Path,
    what: &'static str,
    value: u64,
    min: u64,
    max: u64,
) -> Result<(), MediaError> {
    if value < min || value > max {
        return Err(MediaError::OutOfBounds {
            path: path.into(),
            what,
            value,
            min,
            max,
        });
    }
    Ok(())
}

/// Probe `path` (opened through the hardened path).
pub fn probe(path: &Path) -> Result<ProbeInfo, MediaError> {
    let ictx = open_untrusted(path)?;
    check_bound(
        path,
        "stream count",
        ictx.nb_streams() as u64,
        1,
        MAX_STREAMS,
    )?;
    let container = ictx.format().name().to_string();
    let vstream = ictx
        .streams()
        .best(media::Type::Video)
        .ok_or_else(|| MediaError::NoVideo { path: path.into() })?;
    // FFmpeg offers an audio file's cover picture as its best video stream when it
    // has no other: one still is not a title's pictures.
    if vstream
        .disposition()
        .contains(ffmpeg_next::format::stream::Disposition::ATTACHED_PIC)
    {
        return Err(MediaError::CoverOnly { path: path.into() });
    }
    let params = vstream.parameters();
    let vctx = codec::context::Context::from_parameters(params.clone()).map_err(|e| {
        MediaError::Corrupt {
            path: path.into(),
            detail: e.to_string(),
        }
    })?;
    let video_codec = vctx.id().name().to_string();
    let dec = vctx.decoder().video().map_err(|e| MediaError::Corrupt {
        path: path.into(),
        detail: format!("video stream cannot be decoded: {e}"),
    })?;
    let (width, height) = (dec.width(), dec.height());
    check_bound(path, "width", width as u64, MIN_DIMENSION, MAX_DIMENSION)?;
    check_bound(path, "height", height as u64, MIN_DIMENSION, MAX_DIMENSION)?;
    let sar = dec.aspect_ratio();
    let sample_aspect = if sar.numerator() > 0 && sar.denominator() > 0 {
        Rational {
            num: sar.numerator() as u32,
            den: sar.denominator() as u32,
        }
    } else {
        Rational { num: 1, den: 1 }
    };
    check_shape(path, width, height, sample_aspect)?;
    let frame_rate = nominal_rate(vstream.avg_frame_rate(), vstream.rate()).ok_or_else(|| {
        MediaError::Corrupt {
            path: path.into(),
            detail: format!(
                "video frame rate {} (average {}) is not usable",
                vstream.rate(),
                vstream.avg_frame_rate()
            ),
        }
    })?;
    let duration_s = if vstream.duration() > 0 {
        vstream.duration() as f64 * f64::from(vstream.time_base())
    } else if ictx.duration() > 0 {
        ictx.duration()
            .rescale(ffmpeg_next::rescale::TIME_BASE, FfRational::new(1, 1000)) as f64
            / 1000.0
    } else {
        0.0
    };
    check_bound(
        path,
        "duration (seconds)",
        duration_s.ceil() as u64,
        0,
        MAX_DURATION_S,
    )?;
    let (rotation, mirrored) = rotation_of(&vstream);
    let pixel_format = format!("{:?}", dec.format()).to_lowercase();
    let (colour, field_order) = colour_and_fields(&params, dec.format());
    let mut audio_tracks = Vec::new();
    for a in ictx.streams() {
        if a.parameters().medium() != media::Type::Audio {
            continue;
        }
        // A track we cannot decode cannot be published faithfully: refuse the master
        // rather than drop the track without a word.
        let undecodable = |e: ffmpeg_next::Error| MediaError::Corrupt {
            path: path.into(),
            detail: format!("audio stream {} cannot be decoded: {e}", a.index()),
        };
        let actx = codec::context::Context::from_parameters(a.parameters()).map_err(undecodable)?;
        let codec = actx.id().name().to_string();
        let dec = actx.decoder().audio().map_err(undecodable)?;
        let language = a
            .metadata()
            .get("language")
            .map(|l| l.trim().to_string())
            .filter(|l| !l.is_empty() && l != "und");
        audio_tracks.push(AudioInfo {
            stream_index: a.index(),
            language,
            codec,
            sample_rate: dec.rate(),
            channels: dec.channels(),
            layout: crate::audio::layout_name(&dec),
        });
    }
    let audio = audio_tracks.first().cloned();
    Ok(ProbeInfo {
        container,
        video_codec,
        width,
        height,
        sample_aspect,
        rotation,
        mirrored,
        frame_rate,
        duration_s,
        frame_count_estimate: (duration_s * frame_rate.as_f64()).round() as u64,
        pixel_format,
        colour,
        field_order,
        audio,
        audio_tracks,
    })
}

/// The nominal frame rate: the average rate when it is a rate masters are made at;
/// otherwise (frames dropped from a constant rate make the average 27.304 fps) the
/// stream's base rate, which is what the timestamps were made on. The encode then holds
/// or drops pictures by their timestamps onto that rate's grid, so timing is kept.
pub(crate) fn nominal_rate(avg: FfRational, base: FfRational) -> Option<Rational> {
    let snapped_avg = if avg.numerator() > 0 {
        snap_frame_rate(avg)
    } else {
        None
    };
    if let Some(r) = snapped_avg {
        if is_standard(r) {
            return Some(r);
        }
    }
    let snapped_base = if base.numerator() > 0 {
        snap_frame_rate(base)
    } else {
        None
    };
    match snapped_base {
        Some(b) if is_standard(b) => Some(b),
        _ => snapped_avg.or(snapped_base),
    }
}

fn is_standard(r: Rational) -> bool {
    STANDARD_RATES.contains(&(r.num, r.den))
}

/// The colour description and field order the stream declares.
fn colour_and_fields(
    params: &codec::Parameters,
    format: ffmpeg_next::format::Pixel,
) -> (Colour, String) {
    use ffmpeg_next::format::Pixel;
    // SAFETY: reading plain fields of parameters we hold.
    let p = unsafe { &*params.as_ptr() };
    let full_range = p.color_range == ffmpeg_next::ffi::AVColorRange::AVCOL_RANGE_JPEG
        || matches!(
            format,
            Pixel::YUVJ420P | Pixel::YUVJ422P | Pixel::YUVJ444P | Pixel::YUVJ440P | Pixel::YUVJ411P
        );
    let code = |v: i32| u8::try_from(v).unwrap_or(UNSPECIFIED);
    let colour = Colour {
        primaries: code(p.color_primaries as i32),
        transfer: code(p.color_trc as i32),
        matrix: code(p.color_space as i32),
        full_range,
    };
    use ffmpeg_next::ffi::AVFieldOrder::*;
    let fields = match p.field_order {
        AV_FIELD_PROGRESSIVE => "progressive",
        AV_FIELD_TT => "tt",
        AV_FIELD_BB => "bb",
        AV_FIELD_TB => "tb",
        AV_FIELD_BT => "bt",
        _ => "unknown",
    };
    (colour, fields.to_string())
}

/// Clockwise rotation in degrees of the display matrix, and whether it mirrors.
fn rotation_of(stream: &ffmpeg_next::format::stream::Stream) -> (i32, bool) {
    for sd in stream.side_data() {
        if sd.kind() == ffmpeg_next::codec::packet::side_data::Type::DisplayMatrix {
            let data = sd.data();
            if data.len() >= 36 {
                let m: Vec<i32> = data[..36]
                    .chunks_exact(4)
                    .map(|b| i32::from_ne_bytes(b.try_into().expect("4 bytes")))
                    .collect();
                // SAFETY: the display matrix is nine 32-bit integers; FFmpeg reads it in place.
                let angle = unsafe { ffmpeg_next::ffi::av_display_rotation_get(m.as_ptr()) };
                // A negative determinant of the 2x2 part is a reflection.
                let det = m[0] as f64 * m[4] as f64 - m[1] as f64 * m[3] as f64;
                if angle.is_finite() {
                    // av_display_rotation_get is counter-clockwise.
                    let cw = (-angle).round() as i32;
                    return (cw.rem_euclid(360), det < 0.0);
                }
            }
        }
    }
    (0, false)
}
