//! Audio: decode one of the master's audio streams, down- or upmix it to stereo or 5.1
//! at 48 kHz, apply the loudness gain (and a limiter when the gain would push peaks past
//! the ceiling), encode AAC-LC trimmed or padded to the video's exact duration, aligned
//! so that audio sample 0 plays with video frame 0. Packets go to a sink as they come,
//! so memory does not grow with the master's length. Loudness is measured (EBU R128 /
//! ITU-R BS.1770 through libavfilter's `ebur128`) in a decode pass of its own, on the
//! signal exactly as it will be encoded (resampled and downmixed), so that the gain
//! hits the target on each output.
//!
//! Channel-layout APIs changed between FFmpeg 5.1, 6 and 7: every layout call lives
//! in this file (`layout_name`, `output_layout`, the abuffer arguments).

use std::path::Path;

use ffmpeg_next::{codec, filter, format::Sample, frame, media, ChannelLayout};
use serde::{Deserialize, Serialize};

use crate::error::Context;
use crate::{open_untrusted, MediaError};

pub const AAC_FRAME: u32 = 1024;

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AudioSettings {
    /// The master's stream to encode (its index in the file).
    pub stream_index: usize,
    /// Output channels: 2 (stereo) or 6 (5.1).
    pub channels: u16,
    pub sample_rate: u32,
    pub bitrate: u64,
    /// Total samples to produce (the video's duration at `sample_rate`).
    pub total_samples: u64,
    /// Presentation time of video frame 0 in the master, in seconds as (num, den).
    pub video_origin: (i64, i64),
    /// Linear gain applied before encoding, dB (loudness normalisation).
    pub gain_db: f64,
    /// Ceiling of a look-ahead peak limiter after the gain, dBFS; `None`: no limiter.
    pub limit_dbfs: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AudioOutput {
    /// AudioSpecificConfig from the encoder.
    pub asc: Vec<u8>,
    pub channels: u16,
    pub sample_rate: u32,
    pub packets: u64,
}

/// Loudness of a signal per EBU R128 / ITU-R BS.1770 (gated integrated loudness,
/// loudness range, true peak with 4x oversampling), as libavfilter's `ebur128` reports.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Loudness {
    /// Integrated loudness, LUFS (= LKFS). -70 is the absolute gate: silence.
    pub integrated_lufs: f64,
    /// Loudness range, LU.
    pub range_lu: f64,
    /// True peak, dBTP (at most -200 for digital silence).
    pub true_peak_dbtp: f64,
}

pub(crate) fn layout_name(dec: &ffmpeg_next::decoder::Audio) -> String {
    let mask = dec.channel_layout();
    match dec.channels() {
        1 => "mono".into(),
        2 => "stereo".into(),
        6 if mask.contains(ChannelLayout::_5POINT1)
            || mask.contains(ChannelLayout::_5POINT1_BACK) =>
        {
            "5.1".into()
        }
        8 => "7.1".into(),
        n => format!("{n} channels"),
    }
}

/// The layout an output of `channels` channels is made in: its libavfilter name and
/// the encoder's layout. AAC's channel configuration 6 is 5.1 with back surrounds;
/// libswresample maps a 5.1(side) source's sides onto it and mixes a 7.1 source's
/// side pair into the back pair at -3 dB (its standard matrix), and for stereo mixes
/// centre and surrounds in at -3 dB and leaves out the LFE.
fn output_layout(channels: u16) -> Result<(&'static str, ChannelLayout), MediaError> {
    match channels {
        2 => Ok(("stereo", ChannelLayout::STEREO)),
        // "5.1(back)" by name is not accepted by aformat in FFmpeg 5.1.
        6 => Ok(("FL+FR+FC+LFE+BL+BR", ChannelLayout::_5POINT1_BACK)),
        n => Err(MediaError::Encoder {
            codec: "aac",
            detail: format!("{n} output channels asked for; renditions are stereo or 5.1"),
        }),
    }
}

/// Decode stream `index` of `master`, handing `each` every frame re-timed to 1/rate
/// relative to `origin` (seconds as num/den).
fn decode_stream(
    master: &Path,
    index: usize,
    origin: (i64, i64),
    mut each: impl FnMut(&mut frame::Audio) -> Result<(), MediaError>,
) -> Result<(), MediaError> {
    let mut ictx = open_untrusted(master)?;
    let (params, in_tb) = {
        let s = ictx
            .stream(index)
            .filter(|s| s.parameters().medium() == media::Type::Audio)
            .ok_or_else(|| MediaError::Corrupt {
                path: master.into(),
                detail: format!("no audio stream at index {index}"),
            })?;
        (s.parameters(), s.time_base())
    };
    let mut dctx = codec::context::Context::from_parameters(params)
        .ctx(|| "audio decoder parameters".into())?;
    // SAFETY: plain field of a context we own, before open.
    unsafe {
        (*dctx.as_mut_ptr()).pkt_timebase = in_tb.into();
    }
    let mut decoder = dctx
        .decoder()
        .audio()
        .ctx(|| "opening audio decoder".into())?;
    let (on, od) = origin;
    let retime = |decoded: &mut frame::Audio| {
        let in_rate = decoded.rate() as i64;
        if let Some(ts) = decoded.timestamp().or(decoded.pts()) {
            let t = (ts as i128 * in_tb.numerator() as i128 * in_rate as i128)
                / in_tb.denominator() as i128;
            let origin = on as i128 * in_rate as i128 / od as i128;
            decoded.set_pts(Some((t - origin) as i64));
        }
    };
    let mut decoded = frame::Audio::empty();
    for (stream, packet) in ictx.packets() {
        if stream.index() != index {
            continue;
        }
        if decoder.send_packet(&packet).is_err() {
            // A damaged audio packet: skip it; the resampler fills the gap in time.
            continue;
        }
        while decoder.receive_frame(&mut decoded).is_ok() {
            retime(&mut decoded);
            each(&mut decoded)?;
        }
    }
    decoder.send_eof().ctx(|| "flushing audio decoder".into())?;
    while decoder.receive_frame(&mut decoded).is_ok() {
        retime(&mut decoded);
        each(&mut decoded)?;
    }
    Ok(())
}

/// abuffer (in the decoded frame's format) → `spec` → abuffersink.
fn graph_for(dec: &frame::Audio, spec: &str) -> Result<filter::Graph, MediaError> {
    let mut g = filter::Graph::new();
    let in_rate = dec.rate();
    let layout = if dec.channel_layout().is_empty() {
        ChannelLayout::default(dec.channels() as i32)
    } else {
        dec.channel_layout()
    };
    let args = format!(
        "time_base=1/{in_rate}:sample_rate={in_rate}:sample_fmt={}:channel_layout=0x{:x}",
        dec.format().name(),
        layout.bits()
    );
    g.add(&filter::find("abuffer").expect("abuffer"), "in", &args)
        .ctx(|| format!("audio source ({args})"))?;
    g.add(
        &filter::find("abuffersink").expect("abuffersink"),
        "out",
        "",
    )
    .ctx(|| "audio sink".into())?;
    g.output("in", 0)
        .and_then(|p| p.input("out", 0))
        .and_then(|p| p.parse(spec))
        .ctx(|| format!("audio filter graph {spec}"))?;
    g.validate().ctx(|| "validating audio graph".into())?;
    Ok(g)
}

/// Feed a frame to a graph's source, keeping the caller's reference (one decoded
/// frame may feed several graphs).
fn push(g: &mut filter::Graph, f: &frame::Audio) -> Result<(), MediaError> {
    let mut src = g.get("in").expect("source");
    // SAFETY: both pointers are live; write_frame takes a new reference to the frame.
    let r = unsafe { ffmpeg_next::ffi::av_buffersrc_write_frame(src.as_mut_ptr(), f.as_ptr()) };
    if r < 0 {
        return Err(MediaError::Ffmpeg {
            context: "feeding audio graph".into(),
            source: ffmpeg_next::Error::from(r),
        });
    }
    Ok(())
}

fn flush(g: &mut filter::Graph) -> Result<(), MediaError> {
    g.get("in")
        .expect("src")
        .source()
        .flush()
        .ctx(|| "flushing audio graph".into())
}

/// The running measurement `ebur128` attached to a frame (metadata=1).
fn r128_of(f: &frame::Audio) -> Option<Loudness> {
    let m = f.metadata();
    let num = |k: &str| m.get(k).and_then(|v| v.trim().parse::<f64>().ok());
    let peak = num("lavfi.r128.true_peak")?;
    Some(Loudness {
        integrated_lufs: num("lavfi.r128.I")?,
        range_lu: num("lavfi.r128.LRA")?,
        // Reported linear (full scale = 1).
        true_peak_dbtp: if peak > 0.0 {
            (20.0 * peak.log10()).max(-200.0)
        } else {
            -200.0
        },
    })
}

/// Measure stream `stream_index` of `master` as each output of `channel_counts`
/// channels would carry it (resampled to `sample_rate`, downmixed like the encode),
/// in one decode pass: decoding the audio once, one `ebur128` per output.
pub fn measure_loudness(
    master: &Path,
    stream_index: usize,
    sample_rate: u32,
    channel_counts: &[u16],
) -> Result<Vec<Loudness>, MediaError> {
    let mut specs = Vec::new();
    for &c in channel_counts {
        let (name, _) = output_layout(c)?;
        specs.push(format!(
            "aresample={sample_rate},aformat=sample_fmts=fltp:channel_layouts={name},ebur128=peak=true:metadata=1"
        ));
    }
    let mut graphs: Vec<filter::Graph> = Vec::new();
    let mut found: Vec<Option<Loudness>> = vec![None; specs.len()];
    let mut out = frame::Audio::empty();
    let mut drain = |g: &mut filter::Graph, slot: &mut Option<Loudness>| {
        while g.get("out").expect("sink").sink().frame(&mut out).is_ok() {
            if let Some(l) = r128_of(&out) {
                *slot = Some(l);
            }
        }
    };
    decode_stream(master, stream_index, (0, 1), |f| {
        if graphs.is_empty() {
            for s in &specs {
                graphs.push(graph_for(f, s)?);
            }
        }
        for (g, slot) in graphs.iter_mut().zip(found.iter_mut()) {
            push(g, f)?;
            drain(g, slot);
        }
        Ok(())
    })?;
    for (g, slot) in graphs.iter_mut().zip(found.iter_mut()) {
        flush(g)?;
        drain(g, slot);
    }
    found
        .into_iter()
        .map(|l| {
            l.ok_or_else(|| MediaError::Corrupt {
                path: master.into(),
                detail: format!("audio stream {stream_index} has no decodable frames"),
            })
        })
        .collect()
}

/// Encode stream `settings.stream_index` of the master. `sink(asc, pts_in_samples,
/// data)` receives each AAC packet in order, with pts starting at 0, and the
/// AudioSpecificConfig.
pub fn encode_audio(
    master: &Path,
    settings: AudioSettings,
    mut sink: impl FnMut(&[u8], u64, &[u8]) -> Result<(), MediaError>,
) -> Result<AudioOutput, MediaError> {
    let (layout_name, layout) = output_layout(settings.channels)?;
    let aac = codec::encoder::find(codec::Id::AAC).ok_or_else(|| MediaError::Encoder {
        codec: "aac",
        detail: "AAC encoder not available".into(),
    })?;
    let mut enc = codec::context::Context::new_with_codec(aac)
        .encoder()
        .audio()
        .ctx(|| "aac context".into())?;
    enc.set_rate(settings.sample_rate as i32);
    enc.set_channel_layout(layout);
    enc.set_format(Sample::F32(ffmpeg_next::format::sample::Type::Planar));
    enc.set_bit_rate(settings.bitrate as usize);
    enc.set_time_base(ffmpeg_next::Rational::new(1, settings.sample_rate as i32));
    enc.set_flags(codec::Flags::GLOBAL_HEADER);
    let mut encoder = enc.open_as(aac).ctx(|| "opening AAC encoder".into())?;
    let asc = unsafe {
        // SAFETY: extradata of the open encoder.
        let p = encoder.as_ptr();
        std::slice::from_raw_parts((*p).extradata, (*p).extradata_size as usize).to_vec()
    };

    let mut graph: Option<filter::Graph> = None;
    let mut filtered = frame::Audio::empty();
    let mut pkt = ffmpeg_next::Packet::empty();
    let mut count = 0u64;
    let n = settings.total_samples;
    let rate = settings.sample_rate;

    let mut drain_encoder =
        |encoder: &mut ffmpeg_next::encoder::Audio, count: &mut u64| -> Result<(), MediaError> {
            while encoder.receive_packet(&mut pkt).is_ok() {
                let pts = pkt.pts().unwrap_or(0);
                // The first packet(s) carry only the encoder's priming (pts < 0): drop them
                // so that audio sample 0 plays at time 0, exactly with video frame 0.
                if pts + AAC_FRAME as i64 <= 0 {
                    continue;
                }
                let pts = pts.max(0) as u64;
                if pts >= n {
                    continue;
                }
                sink(&asc, pts, pkt.data().unwrap_or_default())?;
                *count += 1;
            }
            Ok(())
        };

    let mut pump = |graph: &mut filter::Graph,
                    encoder: &mut ffmpeg_next::encoder::Audio,
                    filtered: &mut frame::Audio,
                    count: &mut u64|
     -> Result<(), MediaError> {
        while graph
            .get("out")
            .expect("sink")
            .sink()
            .frame(filtered)
            .is_ok()
        {
            encoder.send_frame(filtered).ctx(|| "encoding AAC".into())?;
            drain_encoder(encoder, count)?;
        }
        Ok(())
    };

    // first_pts=0 pads or trims the start so that audio starts with video frame 0; the
    // gain is one linear factor for the whole title (loudness normalisation, not
    // compression); the limiter (only when the gain would take the true peak over the
    // ceiling) compensates its own look-ahead delay so timing is kept; apad + atrim make
    // the total exactly the video's duration.
    let limiter = settings
        .limit_dbfs
        .map(|l| {
            format!(
                ",alimiter=limit={:.6}:attack=5:release=50:level=0:latency=1",
                10f64.powf(l / 20.0).clamp(0.0625, 1.0)
            )
        })
        .unwrap_or_default();
    let spec = format!(
        "aresample={rate}:async=1:first_pts=0,aformat=sample_fmts=fltp:channel_layouts={layout_name},volume=volume={:.3}dB:precision=float{limiter},aformat=sample_fmts=fltp,apad=whole_len={n},atrim=end_sample={n}",
        settings.gain_db
    );
    let build = |dec: &frame::Audio| -> Result<filter::Graph, MediaError> {
        let mut g = graph_for(dec, &spec)?;
        g.get("out").expect("sink").sink().set_frame_size(AAC_FRAME);
        Ok(g)
    };

    decode_stream(
        master,
        settings.stream_index,
        settings.video_origin,
        |decoded| {
            if graph.is_none() {
                graph = Some(build(decoded)?);
            }
            let g = graph.as_mut().expect("built");
            push(g, decoded)?;
            pump(g, &mut encoder, &mut filtered, &mut count)
        },
    )?;
    let mut g = graph.ok_or_else(|| MediaError::Corrupt {
        path: master.into(),
        detail: format!(
            "audio stream {} has no decodable frames",
            settings.stream_index
        ),
    })?;
    flush(&mut g)?;
    pump(&mut g, &mut encoder, &mut filtered, &mut count)?;
    encoder.send_eof().ctx(|| "flushing AAC".into())?;
    drain_encoder(&mut encoder, &mut count)?;
    Ok(AudioOutput {
        asc,
        channels: settings.channels,
        sample_rate: settings.sample_rate,
        packets: count,
    })
}
