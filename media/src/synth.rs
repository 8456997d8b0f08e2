//! Render synthetic masters from lavfi sources (testsrc2, mandelbrot, sine, ...) through
//! a filter graph and an encoder into a real container. Used by `fixtures` and by the
//! quick start's sample master; deterministic for the same spec.

use std::path::Path;

use ffmpeg_next::{
    codec, encoder, filter, format, frame, ChannelLayout, Dictionary, Rational as FfRational,
};

use crate::error::Context;
use crate::{MediaError, Rational};

#[derive(Debug, Clone, PartialEq)]
pub struct SynthSpec {
    /// A lavfi video graph with no inputs, for example
    /// `testsrc2=size=640x360:rate=25:duration=6`. Its duration must be inside the source.
    pub video: String,
    pub fps: Rational,
    /// Video encoder name: `libx264`, `mpeg2video`, `rawvideo`, ...
    pub video_codec: String,
    /// Keyframe interval of the master, in frames (deliberately off our grid in fixtures).
    pub gop: u32,
    /// A lavfi audio graph with no inputs, or `None` for a silent master.
    pub audio: Option<String>,
    /// Audio encoder name: `aac`, `pcm_s16le`, ...
    pub audio_codec: String,
    /// Container (FFmpeg muxer name): `mp4`, `matroska`, `mpegts`, `yuv4mpegpipe`, `mxf`.
    pub container: String,
    /// Sample aspect ratio to tag the master with (1/1 for square pixels).
    pub sample_aspect: Rational,
}

struct Lane {
    graph: filter::Graph,
    encoder: Enc,
    ost: usize,
    enc_tb: FfRational,
    done: bool,
}

enum Enc {
    Video(encoder::Video),
    Audio(encoder::Audio),
}

fn source_graph(
    spec: &str,
    sink: &str,
    audio_frame: Option<u32>,
) -> Result<filter::Graph, MediaError> {
    let mut g = filter::Graph::new();
    g.add(&filter::find(sink).expect("sink filter"), "out", "")
        .ctx(|| "synthetic sink".into())?;
    g.input("out", 0)
        .and_then(|p| p.parse(spec))
        .ctx(|| format!("synthetic graph {spec}"))?;
    g.validate().ctx(|| format!("validating {spec}"))?;
    if let Some(n) = audio_frame {
        g.get("out").expect("sink").sink().set_frame_size(n);
    }
    Ok(g)
}

/// Render `spec` to `path`.
pub fn render_synthetic(spec: &SynthSpec, path: &Path) -> Result<(), MediaError> {
    crate::init();
    let mut octx =
        format::output_as(path, &spec.container).ctx(|| format!("creating {}", path.display()))?;
    let global = octx.format().flags().contains(format::Flags::GLOBAL_HEADER);
    let mut lanes = Vec::new();

    // Video lane (an empty graph makes an audio-only file, a bad-input fixture).
    if !spec.video.is_empty() {
        let g = source_graph(
            &format!("{},format=yuv420p", spec.video),
            "buffersink",
            None,
        )?;
        // Pull one frame to learn the size.
        let mut probe = frame::Video::empty();
        let mut g = g;
        g.get("out")
            .expect("sink")
            .sink()
            .frame(&mut probe)
            .ctx(|| "synthetic first frame".into())?;
        let (w, h) = (probe.width(), probe.height());
        // Rebuild the graph so that the first frame is not lost.
        drop(g);
        let g = source_graph(
            &format!("{},format=yuv420p", spec.video),
            "buffersink",
            None,
        )?;
        let vcodec =
            codec::encoder::find_by_name(&spec.video_codec).ok_or_else(|| MediaError::Encoder {
                codec: "synthetic video",
                detail: format!("encoder {} not available", spec.video_codec),
            })?;
        let mut ost = octx
            .add_stream(vcodec)
            .ctx(|| "adding video stream".into())?;
        let mut enc = codec::context::Context::new_with_codec(vcodec)
            .encoder()
            .video()
            .ctx(|| "video encoder".into())?;
        let tb = FfRational::new(spec.fps.den as i32, spec.fps.num as i32);
        enc.set_width(w);
        enc.set_height(h);
        enc.set_format(ffmpeg_next::format::Pixel::YUV420P);
        enc.set_time_base(tb);
        enc.set_frame_rate(Some(FfRational::new(
            spec.fps.num as i32,
            spec.fps.den as i32,
        )));
        enc.set_gop(spec.gop);
        enc.set_aspect_ratio(FfRational::new(
            spec.sample_aspect.num as i32,
            spec.sample_aspect.den as i32,
        ));
        if global {
            enc.set_flags(codec::Flags::GLOBAL_HEADER);
        }
        let mut opts = Dictionary::new();
        if spec.video_codec == "libx264" {
            opts.set("preset", "veryfast");
            opts.set("crf", "16");
            opts.set("threads", "1");
            // The CPU cap too: a sample or fixture master is the same file every time.
            opts.set(
                "x264-params",
                &format!("scenecut=0{}", crate::video::x264_cpu()),
            );
        } else if spec.video_codec != "rawvideo" {
            enc.set_bit_rate(12_000_000);
            enc.set_max_b_frames(2);
        }
        let encoder = enc
            .open_with(opts)
            .ctx(|| format!("opening {}", spec.video_codec))?;
        ost.set_parameters(&encoder);
        ost.set_time_base(tb);
        // SAFETY: plain field of a stream we own.
        unsafe {
            (*ost.as_mut_ptr()).sample_aspect_ratio = ffmpeg_next::ffi::AVRational {
                num: spec.sample_aspect.num as i32,
                den: spec.sample_aspect.den as i32,
            };
            (*ost.as_mut_ptr()).avg_frame_rate = ffmpeg_next::ffi::AVRational {
                num: spec.fps.num as i32,
                den: spec.fps.den as i32,
            };
        }
        lanes.push(Lane {
            graph: g,
            encoder: Enc::Video(encoder),
            ost: ost.index(),
            enc_tb: tb,
            done: false,
        });
    }

    if let Some(audio) = &spec.audio {
        let acodec =
            codec::encoder::find_by_name(&spec.audio_codec).ok_or_else(|| MediaError::Encoder {
                codec: "synthetic audio",
                detail: format!("encoder {} not available", spec.audio_codec),
            })?;
        // Learn the layout and rate the source produces.
        let mut g = source_graph(audio, "abuffersink", None)?;
        let mut probe = frame::Audio::empty();
        g.get("out")
            .expect("sink")
            .sink()
            .frame(&mut probe)
            .ctx(|| "synthetic audio frame".into())?;
        let (rate, layout) = (probe.rate(), probe.channel_layout());
        let fmt = acodec
            .audio()
            .ok()
            .and_then(|a| a.formats().and_then(|mut f| f.next()))
            .unwrap_or(ffmpeg_next::format::Sample::I16(
                ffmpeg_next::format::sample::Type::Packed,
            ));
        // 1024 samples: what AAC needs, and a fine size for PCM too.
        let frame_size = Some(1024);
        let g = source_graph(
            &format!("{audio},aformat=sample_fmts={}", fmt.name()),
            "abuffersink",
            frame_size,
        )?;
        let mut ost = octx
            .add_stream(acodec)
            .ctx(|| "adding audio stream".into())?;
        let mut enc = codec::context::Context::new_with_codec(acodec)
            .encoder()
            .audio()
            .ctx(|| "audio encoder".into())?;
        let tb = FfRational::new(1, rate as i32);
        enc.set_rate(rate as i32);
        enc.set_channel_layout(if layout.is_empty() {
            ChannelLayout::MONO
        } else {
            layout
        });
        enc.set_format(fmt);
        enc.set_time_base(tb);
        if spec.audio_codec == "aac" {
            enc.set_bit_rate(256_000);
        }
        if global {
            enc.set_flags(codec::Flags::GLOBAL_HEADER);
        }
        let encoder = enc
            .open_as(acodec)
            .ctx(|| format!("opening {}", spec.audio_codec))?;
        ost.set_parameters(&encoder);
        ost.set_time_base(tb);
        lanes.push(Lane {
            graph: g,
            encoder: Enc::Audio(encoder),
            ost: ost.index(),
            enc_tb: tb,
            done: false,
        });
    }

    octx.write_header()
        .ctx(|| format!("writing header of {}", path.display()))?;
    let out_tbs: Vec<FfRational> = octx.streams().map(|s| s.time_base()).collect();

    // Interleave: always advance the lane that is furthest behind in time.
    let mut vframe = frame::Video::empty();
    let mut aframe = frame::Audio::empty();
    let mut pkt = ffmpeg_next::Packet::empty();
    let mut clocks = vec![0f64; lanes.len()];
    while let Some(i) = (0..lanes.len())
        .filter(|&i| !lanes[i].done)
        .min_by(|&a, &b| clocks[a].total_cmp(&clocks[b]))
    {
        let lane = &mut lanes[i];
        let mut sink = lane.graph.get("out").expect("sink");
        let got = match &mut lane.encoder {
            Enc::Video(e) => match sink.sink().frame(&mut vframe) {
                Ok(()) => {
                    clocks[i] = vframe.pts().unwrap_or(0) as f64 * f64::from(lane.enc_tb);
                    vframe.set_kind(ffmpeg_next::picture::Type::None);
                    e.send_frame(&vframe)
                        .ctx(|| "synthetic video encode".into())?;
                    true
                }
                Err(_) => {
                    e.send_eof().ctx(|| "synthetic video flush".into())?;
                    false
                }
            },
            Enc::Audio(e) => match sink.sink().frame(&mut aframe) {
                Ok(()) => {
                    clocks[i] = aframe.pts().unwrap_or(0) as f64 * f64::from(lane.enc_tb);
                    e.send_frame(&aframe)
                        .ctx(|| "synthetic audio encode".into())?;
                    true
                }
                Err(_) => {
                    e.send_eof().ctx(|| "synthetic audio flush".into())?;
                    false
                }
            },
        };
        if !got {
            lane.done = true;
        }
        loop {
            let r = match &mut lane.encoder {
                Enc::Video(e) => e.receive_packet(&mut pkt),
                Enc::Audio(e) => e.receive_packet(&mut pkt),
            };
            if r.is_err() {
                break;
            }
            pkt.set_stream(lane.ost);
            pkt.rescale_ts(lane.enc_tb, out_tbs[lane.ost]);
            pkt.write_interleaved(&mut octx)
                .ctx(|| "writing synthetic packet".into())?;
        }
    }
    octx.write_trailer()
        .ctx(|| format!("finishing {}", path.display()))?;
    Ok(())
}
