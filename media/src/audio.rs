//! Audio: decode the master's audio, resample and downmix to AAC-LC stereo 48 kHz,
//! trimmed or padded to the video's exact duration, aligned so that audio sample 0
//! plays with video frame 0. Packets go to a sink as they come, so memory does not
//! grow with the master's length.
//!
//! Channel-layout APIs changed between FFmpeg 5.1, 6 and 7: every layout call lives
//! in this file (`layout_name`, the abuffer arguments).

use std::path::Path;

use ffmpeg_next::{codec, filter, format::Sample, frame, media, ChannelLayout};

use crate::error::Context;
use crate::{open_untrusted, MediaError};

pub const AAC_FRAME: u32 = 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AudioSettings {
    pub sample_rate: u32,
    pub bitrate: u64,
    /// Total samples to produce (the video's duration at `sample_rate`).
    pub total_samples: u64,
    /// Presentation time of video frame 0 in the master, in seconds as (num, den).
    pub video_origin: (i64, i64),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AudioOutput {
    /// AudioSpecificConfig from the encoder.
    pub asc: Vec<u8>,
    pub channels: u16,
    pub sample_rate: u32,
    pub packets: u64,
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

/// Encode the master's best audio stream. `sink(asc, pts_in_samples, data)` receives
/// each AAC packet in order, with pts starting at 0, and the AudioSpecificConfig.
pub fn encode_audio(
    master: &Path,
    settings: AudioSettings,
    mut sink: impl FnMut(&[u8], u64, &[u8]) -> Result<(), MediaError>,
) -> Result<AudioOutput, MediaError> {
    let mut ictx = open_untrusted(master)?;
    let (ai, params, in_tb) = {
        let s = ictx
            .streams()
            .best(media::Type::Audio)
            .ok_or_else(|| MediaError::Corrupt {
                path: master.into(),
                detail: "no audio stream".into(),
            })?;
        (s.index(), s.parameters(), s.time_base())
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

    let aac = codec::encoder::find(codec::Id::AAC).ok_or_else(|| MediaError::Encoder {
        codec: "aac",
        detail: "AAC encoder not available".into(),
    })?;
    let mut enc = codec::context::Context::new_with_codec(aac)
        .encoder()
        .audio()
        .ctx(|| "aac context".into())?;
    enc.set_rate(settings.sample_rate as i32);
    enc.set_channel_layout(ChannelLayout::STEREO);
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
    let mut decoded = frame::Audio::empty();
    let mut filtered = frame::Audio::empty();
    let mut pkt = ffmpeg_next::Packet::empty();
    let mut count = 0u64;
    let n = settings.total_samples;
    let rate = settings.sample_rate;
    let (on, od) = settings.video_origin;

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

    let build = |dec: &frame::Audio| -> Result<filter::Graph, MediaError> {
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
        // first_pts=0 pads or trims the start so that audio starts with video frame 0;
        // apad + atrim make the total exactly the video's duration.
        let spec = format!(
            "aresample={rate}:async=1:first_pts=0,aformat=sample_fmts=fltp:channel_layouts=stereo,apad=whole_len={n},atrim=end_sample={n}"
        );
        g.output("in", 0)
            .and_then(|p| p.input("out", 0))
            .and_then(|p| p.parse(&spec))
            .ctx(|| format!("audio filter graph {spec}"))?;
        g.validate().ctx(|| "validating audio graph".into())?;
        g.get("out").expect("sink").sink().set_frame_size(AAC_FRAME);
        Ok(g)
    };

    let feed =
        |decoded: &mut frame::Audio, graph: &mut Option<filter::Graph>| -> Result<(), MediaError> {
            let in_rate = decoded.rate() as i64;
            if graph.is_none() {
                *graph = Some(build(decoded)?);
            }
            // Re-time into 1/in_rate relative to video frame 0.
            if let Some(ts) = decoded.timestamp().or(decoded.pts()) {
                let t = (ts as i128 * in_tb.numerator() as i128 * in_rate as i128)
                    / in_tb.denominator() as i128;
                let origin = on as i128 * in_rate as i128 / od as i128;
                decoded.set_pts(Some((t - origin) as i64));
            }
            let g = graph.as_mut().expect("built");
            g.get("in")
                .expect("src")
                .source()
                .add(decoded)
                .ctx(|| "feeding audio graph".into())?;
            Ok(())
        };

    for (stream, packet) in ictx.packets() {
        if stream.index() != ai {
            continue;
        }
        if decoder.send_packet(&packet).is_err() {
            // A damaged audio packet: skip it; the resampler fills the gap in time.
            continue;
        }
        while decoder.receive_frame(&mut decoded).is_ok() {
            feed(&mut decoded, &mut graph)?;
            let g = graph.as_mut().expect("built");
            pump(g, &mut encoder, &mut filtered, &mut count)?;
        }
    }
    decoder.send_eof().ctx(|| "flushing audio decoder".into())?;
    while decoder.receive_frame(&mut decoded).is_ok() {
        feed(&mut decoded, &mut graph)?;
    }
    let mut g = graph.ok_or_else(|| MediaError::Corrupt {
        path: master.into(),
        detail: "audio stream has no decodable frames".into(),
    })?;
    g.get("in")
        .expect("src")
        .source()
        .flush()
        .ctx(|| "flushing audio graph".into())?;
    pump(&mut g, &mut encoder, &mut filtered, &mut count)?;
    encoder.send_eof().ctx(|| "flushing AAC".into())?;
    drain_encoder(&mut encoder, &mut count)?;
    Ok(AudioOutput {
        asc,
        channels: 2,
        sample_rate: settings.sample_rate,
        packets: count,
    })
}
