//! Decode one chunk file once and encode every rung from it (libx264).
//!
//! Frame exactness: each decoded frame is placed on the master's frame grid by its
//! timestamp (not its position); every slot of the chunk's range gets exactly one
//! frame (a missing slot repeats the previous frame, a duplicate is dropped), so the
//! joined output has the master's frame count. IDRs are forced on the IDR grid, which
//! contains every segment boundary, so every rendition can be cut at the same times.

use std::path::Path;
use std::sync::{mpsc, Arc};

use ffmpeg_next::{codec, format::Pixel, frame, media, picture, software::scaling, Dictionary};

use crate::convert::FilterChain;
use crate::error::Context;
use crate::split::frame_index_in;
use crate::{open_untrusted, Colour, Conversion, MediaError, Rational};

/// What one rung of the ladder asks of the encoder.
#[derive(Debug, Clone, PartialEq)]
pub struct RungSettings {
    pub id: String,
    pub width: u32,
    pub height: u32,
    /// Keep one master frame in `decimation` (frame-rate cap).
    pub decimation: u32,
    /// Target bitrate, bit/s (ABR) — ignored for rate control when `crf` is set.
    pub bitrate: u64,
    pub maxrate: u64,
    pub bufsize: u64,
    /// Capped CRF when set.
    pub crf: Option<f32>,
    pub preset: String,
    pub profile: String,
    /// libx264 threads. Fixed (not "auto") so that output does not depend on the machine.
    pub threads: u32,
    /// What the pictures are after conversion: written into the SPS's VUI.
    pub colour: Colour,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncodedPacket {
    /// Presentation time in output frames, relative to the chunk start.
    pub pts: i64,
    /// Decode time in output frames, relative to the chunk start (may be negative).
    pub dts: i64,
    pub keyframe: bool,
    pub data: Vec<u8>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncodedVideo {
    pub rung: String,
    /// `avcC` (AVCDecoderConfigurationRecord) from the encoder's global header.
    pub avcc: Vec<u8>,
    pub width: u32,
    pub height: u32,
    /// How many frames the encoder may hold back before presenting (its B-frame
    /// reorder depth, libx264's `has_b_frames`): no frame is presented more than this
    /// many frames before its decode position, so the packager can delay presentation
    /// by this much and keep every composition offset non-negative.
    pub reorder_frames: u32,
    /// Packets in decode order.
    pub packets: Vec<EncodedPacket>,
}

/// Where a chunk sits on the master's frame grid.
#[derive(Debug, Clone, Copy)]
pub struct ChunkGrid {
    pub fps: Rational,
    pub origin_pts: i64,
    pub time_base: (i32, i32),
    pub start_frame: u64,
    pub end_frame: u64,
    /// IDR every this many master frames (a divisor of the segment length).
    pub idr_frames: u64,
}

/// One rendition of a chunk: its encode and, when asked for, what it measured.
#[derive(Debug, Clone, PartialEq)]
pub struct EncodedChunk {
    pub video: EncodedVideo,
    /// VMAF of sampled frames against the converted master pictures (empty frames when
    /// the chunk is too short to sample); `None` when no measurement was asked for.
    pub quality: Option<crate::QualityReport>,
}

/// Decode `chunk` once, convert its pictures (`conv`: deinterlace, tone-map, rotate)
/// and encode them for every rung in `rungs`, one thread per rung. With a non-zero
/// `measure_every`, each rung's encode is then measured on one frame in about that
/// many master frames, spread over the chunk (see [`crate::measure`]'s notes), against
/// the same decoded pictures: a density, not a count, so a short last chunk gets fewer.
/// `shot_idrs` (master frames, sorted) get an IDR in every rung besides the grid's.
///
/// Each rung is measured in its own thread once its encode ends, on the pictures that
/// thread kept. The encodes end nearly together (the decoder feeds every rung in step
/// through short queues), and a rung measures only while fewer than two of the chunk's
/// threads are encoding or measuring ([`BUSY_AT_ONCE`]): a libvmaf context at 1080p
/// holds some 126 MiB, and four at once raised a worker's peak by 300 MB (for 15% less
/// wall time with one worker on two cores).
pub fn encode_chunk(
    chunk: &Path,
    grid: ChunkGrid,
    conv: &Conversion,
    rungs: &[RungSettings],
    measure_every: u64,
    shot_idrs: &[u64],
) -> Result<Vec<EncodedChunk>, MediaError> {
    let started = std::time::Instant::now();
    // Each chunk samples at its own distances from the IDRs (see `sampled_frames`).
    let seed = grid.start_frame / grid.idr_frames.max(1);
    let span = grid.end_frame - grid.start_frame;
    let samples = match measure_every {
        0 => 0,
        n => ((span + n / 2) / n).max(1) as u32,
    };
    // A place among the process's encodes (see `gate`), held by every rung thread
    // until it has measured: the chunk's measuring never overlaps another chunk's
    // encoders.
    let place = Arc::new(crate::gate::enter());
    // One encoder thread per rung, fed the same decoded frames.
    let mut senders = Vec::new();
    let mut handles = Vec::new();
    let busy = Busy::new(BUSY_AT_ONCE);
    let encodings: Vec<Encoding> = rungs.iter().map(|_| Busy::encoding(&busy)).collect();
    let shots: Arc<[u64]> = shot_idrs
        .iter()
        .copied()
        .filter(|s| (grid.start_frame..grid.end_frame).contains(s))
        .collect();
    for (rung, encoding) in rungs.iter().cloned().zip(encodings) {
        let (tx, rx) = mpsc::sync_channel::<(u64, Arc<frame::Video>)>(4);
        senders.push(tx);
        let chunk = ChunkShare {
            grid,
            shots: shots.clone(),
            samples,
            seed,
            busy: busy.clone(),
            encoding,
            place: place.clone(),
        };
        handles.push(std::thread::spawn(move || {
            encode_and_measure(rx, rung, chunk)
        }));
    }
    drop(place);
    let decoded = decode_slots(chunk, grid, conv, |slot, f| {
        senders.iter().all(|tx| tx.send((slot, f.clone())).is_ok())
    });
    drop(senders);
    // Every thread joined before any error is returned: none may go on measuring
    // into the next job.
    let joined: Vec<_> = handles
        .into_iter()
        .map(|h| h.join().expect("encoder thread panicked"))
        .collect();
    // An encoder's own error first: a rung that failed closed its queue, which the
    // decoder reports as a chunk it could not hand out.
    let out = joined.into_iter().collect::<Result<Vec<_>, _>>()?;
    decoded?;
    tracing::debug!(
        secs = started.elapsed().as_secs_f64(),
        "chunk encoded and measured"
    );
    Ok(out)
}

/// What the rung threads of one chunk share.
struct ChunkShare {
    grid: ChunkGrid,
    /// Shot IDRs inside the chunk.
    shots: Arc<[u64]>,
    /// Sampled frames to measure, and the chunk's sampling phase.
    samples: u32,
    seed: u64,
    /// Which of the chunk's rungs are encoding and measuring.
    busy: Arc<Busy>,
    /// This rung's encode, counted in `busy`.
    encoding: Encoding,
    /// The chunk's place among the process's encodes.
    place: Arc<crate::gate::Place>,
}

/// One rung of a chunk: encode the frames from `rx`, keeping the master pictures its
/// samples need (shared with the other rungs, not copied), then score the samples.
fn encode_and_measure(
    rx: mpsc::Receiver<(u64, Arc<frame::Video>)>,
    rung: RungSettings,
    chunk: ChunkShare,
) -> Result<EncodedChunk, MediaError> {
    let ChunkShare {
        grid,
        shots,
        samples,
        seed,
        busy,
        encoding,
        place,
    } = chunk;
    let d = rung.decimation.max(1) as u64;
    let span = grid.end_frame - grid.start_frame;
    let wanted: std::collections::BTreeSet<u64> = if samples == 0 {
        Default::default()
    } else {
        crate::measure::reference_slots(span.div_ceil(d), d, samples, seed)
            .into_iter()
            .map(|s| grid.start_frame + s)
            .collect()
    };
    let mut kept = std::collections::BTreeMap::new();
    let mut received = 0u64;
    let frames = rx.into_iter().inspect(|(slot, f)| {
        received += 1;
        if wanted.contains(slot) {
            kept.insert(*slot, f.clone());
        }
    });
    let video = encode_rung(frames, grid, rung, &shots);
    drop(encoding);
    let video = video?;
    // A decode that stopped short fails the chunk: nothing to measure.
    let quality = (samples > 0 && received == span)
        .then(|| {
            let _measuring = busy.measure();
            crate::measure::score_samples(&video, d, grid.start_frame, samples, seed, &kept)
        })
        .transpose()?;
    drop(place);
    Ok(EncodedChunk { video, quality })
}

/// Decode the frames of `grid`'s range from `chunk`, convert them (`conv`) and hand
/// each frame slot, in order, to `emit` exactly once. `emit` returns false when its
/// consumer is gone.
pub(crate) fn decode_slots(
    chunk: &Path,
    grid: ChunkGrid,
    conv: &Conversion,
    emit: impl FnMut(u64, &Arc<frame::Video>) -> bool,
) -> Result<(), MediaError> {
    let mut ictx = open_untrusted(chunk)?;
    let (vi, params, in_tb) = {
        let s = ictx
            .streams()
            .best(media::Type::Video)
            .ok_or_else(|| MediaError::NoVideo { path: chunk.into() })?;
        (s.index(), s.parameters(), s.time_base())
    };
    let mut decoder = open_decoder(params, in_tb)?;
    let mut filters = FilterChain::new(conv, in_tb);
    let mut feeder = Feeder {
        emit,
        grid,
        chunk_tb: (in_tb.numerator(), in_tb.denominator()),
        next: grid.start_frame,
        last: None,
        send_err: false,
    };
    let mut decoded = frame::Video::empty();
    for (stream, packet) in ictx.packets() {
        if stream.index() != vi {
            continue;
        }
        if feeder.next >= grid.end_frame {
            break;
        }
        decoder
            .send_packet(&packet)
            .ctx(|| format!("decoding {}", chunk.display()))?;
        while decoder.receive_frame(&mut decoded).is_ok() {
            filters.push(Some(&mut decoded), |f| feeder.frame(f))?;
        }
    }
    if feeder.next < grid.end_frame {
        decoder.send_eof().ctx(|| "flushing video decoder".into())?;
        while decoder.receive_frame(&mut decoded).is_ok() {
            filters.push(Some(&mut decoded), |f| feeder.frame(f))?;
        }
        // Filters that look ahead (bwdif) hold the last picture until the end.
        filters.push(None, |f| feeder.frame(f))?;
    }
    feeder.finish();
    if feeder.send_err || feeder.next < grid.end_frame {
        return Err(MediaError::Corrupt {
            path: chunk.into(),
            detail: format!(
                "chunk has no decodable frames for {}..{}",
                grid.start_frame, grid.end_frame
            ),
        });
    }
    Ok(())
}

/// A frame-threaded video decoder for a stream with time base `tb`.
pub(crate) fn open_decoder(
    params: codec::Parameters,
    tb: ffmpeg_next::Rational,
) -> Result<ffmpeg_next::decoder::Video, MediaError> {
    let mut dctx = codec::context::Context::from_parameters(params)
        .ctx(|| "video decoder parameters".into())?;
    // Decoders default to one thread.
    dctx.set_threading(codec::threading::Config {
        kind: codec::threading::Type::Frame,
        count: 0,
        safe: false,
    });
    // SAFETY: setting a plain field of a context we own before it is opened.
    unsafe {
        (*dctx.as_mut_ptr()).pkt_timebase = tb.into();
    }
    dctx.decoder()
        .video()
        .ctx(|| "opening video decoder".into())
}

/// Set an option on the encoder or its private context; a misspelt key is an error
/// (FFmpeg silently ignores unknown keys passed in a dictionary).
fn set_opt(ctx: &mut codec::context::Context, key: &str, value: &str) -> Result<(), MediaError> {
    let k = std::ffi::CString::new(key).expect("no NUL");
    let v = std::ffi::CString::new(value).expect("no NUL");
    // SAFETY: ctx is a live AVCodecContext; av_opt_set copies the strings.
    let rc = unsafe {
        ffmpeg_next::ffi::av_opt_set(
            ctx.as_mut_ptr() as *mut std::ffi::c_void,
            k.as_ptr(),
            v.as_ptr(),
            ffmpeg_next::ffi::AV_OPT_SEARCH_CHILDREN,
        )
    };
    if rc < 0 {
        return Err(MediaError::UnknownOption {
            codec: "libx264",
            options: format!("{key}={value}"),
        });
    }
    Ok(())
}

/// Extra x264-params that keep libx264's output a function of its input alone.
///
/// libx264's AVX-512 macroblock-tree code (x264 0.164.3095, Debian 12's) reads memory it
/// never wrote when the picture is not a multiple of 8 macroblocks (128 pixels) wide, such
/// as the 854x480 and 960x540 rungs (426, 832, 864 wide too; 640, 896, 1280 are not
/// affected): its output then depends on what the process's heap held before. A chunk
/// re-encoded by a worker that has run other jobs (the redelivery after a kill, a duplicate
/// message) came out different from the first encode, and the farm different from `vodfarm
/// run`. The AVX2 code has no such read (MALLOC_PERTURB_ changes nothing with it). So on
/// x86-64 hosts with AVX-512, x264 gets its own detected CPU flags less AVX-512 (`asm=`,
/// from the loaded libx264), which also makes those hosts encode like AVX2 ones. If that
/// detection cannot be found, the macroblock tree is turned off instead: other bytes, but
/// the same every time.
pub(crate) fn x264_cpu() -> &'static str {
    static PARAMS: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    PARAMS.get_or_init(|| {
        #[cfg(all(target_os = "linux", target_arch = "x86_64"))]
        if std::arch::is_x86_feature_detected!("avx512f") {
            /// X264_CPU_AVX512 in x264.h.
            const X264_CPU_AVX512: u32 = 1 << 16;
            extern "C" {
                fn dlsym(
                    handle: *mut std::ffi::c_void,
                    symbol: *const std::ffi::c_char,
                ) -> *mut std::ffi::c_void;
            }
            // SAFETY: RTLD_DEFAULT (null on Linux) searches the libraries loaded with the
            // program, libavcodec's libx264 among them; `x264_cpu_detect` is exported by
            // libx264 as `uint32_t x264_cpu_detect(void)` and only reads CPUID.
            let detect = unsafe { dlsym(std::ptr::null_mut(), c"x264_cpu_detect".as_ptr()) };
            return if detect.is_null() {
                tracing::warn!("x264_cpu_detect not found: encoding without mbtree");
                ":mbtree=0".to_string()
            } else {
                // SAFETY: the symbol's C signature, above.
                let detect = unsafe {
                    std::mem::transmute::<*mut std::ffi::c_void, extern "C" fn() -> u32>(detect)
                };
                format!(":asm={}", detect() & !X264_CPU_AVX512)
            };
        }
        String::new()
    })
}

/// Encode `frames` (master slot, picture) for `rung`: IDRs on the grid and at the first
/// of the rung's frames at or after each of `shot_idrs` (master frames, sorted).
pub(crate) fn encode_rung(
    frames: impl IntoIterator<Item = (u64, Arc<frame::Video>)>,
    grid: ChunkGrid,
    rung: RungSettings,
    shot_idrs: &[u64],
) -> Result<EncodedVideo, MediaError> {
    let enc_err = |detail: String| MediaError::Encoder {
        codec: "libx264",
        detail,
    };
    let codec = codec::encoder::find_by_name("libx264")
        .ok_or_else(|| enc_err("libx264 is not available".into()))?;
    let mut ctx = codec::context::Context::new_with_codec(codec);
    let d = rung.decimation.max(1);
    // Output time base: one tick per output frame.
    let tb = ffmpeg_next::Rational::new((grid.fps.den * d) as i32, grid.fps.num as i32);
    {
        let mut enc = ctx.encoder().video().ctx(|| "libx264 context".into())?;
        enc.set_width(rung.width);
        enc.set_height(rung.height);
        enc.set_format(Pixel::YUV420P);
        enc.set_time_base(tb);
        enc.set_frame_rate(Some(ffmpeg_next::Rational::new(
            grid.fps.num as i32,
            (grid.fps.den * d) as i32,
        )));
        enc.set_gop((grid.idr_frames / d as u64) as u32);
        enc.set_flags(codec::Flags::GLOBAL_HEADER);
        if rung.crf.is_none() {
            enc.set_bit_rate(rung.bitrate as usize);
        }
        enc.set_max_bit_rate(rung.maxrate as usize);
        // SAFETY: plain fields of a context we own, before it is opened.
        unsafe {
            (*enc.as_mut_ptr()).rc_buffer_size = rung.bufsize as i32;
            (*enc.as_mut_ptr()).sample_aspect_ratio =
                ffmpeg_next::ffi::AVRational { num: 1, den: 1 };
            // libx264 writes these into the SPS's VUI (colour description present). The
            // fields are C enums (ints): written as ints so any code point is sound.
            let c = rung.colour;
            let e = enc.as_mut_ptr();
            *(std::ptr::addr_of_mut!((*e).color_primaries) as *mut i32) = c.primaries.into();
            *(std::ptr::addr_of_mut!((*e).color_trc) as *mut i32) = c.transfer.into();
            *(std::ptr::addr_of_mut!((*e).colorspace) as *mut i32) = c.matrix.into();
            (*enc.as_mut_ptr()).color_range = if c.full_range {
                ffmpeg_next::ffi::AVColorRange::AVCOL_RANGE_JPEG
            } else {
                ffmpeg_next::ffi::AVColorRange::AVCOL_RANGE_MPEG
            };
        }
        ctx = enc.0 .0;
    }
    set_opt(&mut ctx, "preset", &rung.preset)?;
    set_opt(&mut ctx, "profile", &rung.profile)?;
    set_opt(&mut ctx, "threads", &rung.threads.to_string())?;
    set_opt(&mut ctx, "forced-idr", "1")?;
    // Closed GOPs. (x264 writes its settings into an SEI in each chunk's first frame;
    // libx264 has no option to leave it out, and players ignore it.)
    // Plus the CPU cap that keeps the output independent of the heap (see `x264_cpu`).
    set_opt(
        &mut ctx,
        "x264-params",
        &format!("open-gop=0{}", x264_cpu()),
    )?;
    if let Some(crf) = rung.crf {
        set_opt(&mut ctx, "crf", &format!("{crf}"))?;
    }
    let mut encoder = ctx
        .encoder()
        .video()
        .ctx(|| "libx264 context".into())?
        .open_with(Dictionary::new())
        .ctx(|| format!("opening libx264 for {}", rung.id))?;
    let extradata = {
        // SAFETY: extradata/extradata_size describe a buffer owned by the open encoder.
        unsafe {
            let p = encoder.as_ptr();
            std::slice::from_raw_parts((*p).extradata, (*p).extradata_size as usize).to_vec()
        }
    };
    let avcc = crate::annexb::avcc_from_extradata(&extradata)
        .ok_or_else(|| enc_err("global header holds no SPS/PPS".into()))?;
    // SAFETY: a plain field of the open encoder; libx264 sets it from its B-frame
    // settings (2 with a B-pyramid, 1 without, 0 with no B-frames).
    let reorder_frames = u32::try_from(unsafe { (*encoder.as_ptr()).has_b_frames })
        .map_err(|_| enc_err("negative B-frame reorder depth".into()))?;

    let mut scaler = ToSize::new(rung.width, rung.height);
    let mut scaled = frame::Video::new(Pixel::YUV420P, rung.width, rung.height);
    let mut packets = Vec::new();
    let mut pkt = ffmpeg_next::Packet::empty();
    let mut drain = |encoder: &mut ffmpeg_next::encoder::Video,
                     packets: &mut Vec<EncodedPacket>| {
        while encoder.receive_packet(&mut pkt).is_ok() {
            packets.push(EncodedPacket {
                pts: pkt.pts().unwrap_or(0),
                dts: pkt.dts().unwrap_or(0),
                keyframe: pkt.is_key(),
                data: crate::annexb::to_length_prefixed(pkt.data().unwrap_or_default()),
            });
        }
    };
    for (slot, src) in frames {
        let rel = slot - grid.start_frame;
        if !rel.is_multiple_of(d as u64) {
            continue;
        }
        scaler.run_into(&src, &mut scaled)?;
        // swscale copies no timestamps and the source's picture type must not leak:
        // only our IDR grid and the shot IDRs decide keyframes.
        scaled.set_pts(Some((rel / d as u64) as i64));
        scaled.set_kind(
            if slot % grid.idr_frames == 0 || starts_shot(slot, d as u64, shot_idrs) {
                picture::Type::I
            } else {
                picture::Type::None
            },
        );
        encoder
            .send_frame(&scaled)
            .ctx(|| format!("encoding {}", rung.id))?;
        drain(&mut encoder, &mut packets);
    }
    encoder.send_eof().ctx(|| format!("flushing {}", rung.id))?;
    drain(&mut encoder, &mut packets);
    Ok(EncodedVideo {
        rung: rung.id,
        avcc,
        width: rung.width,
        height: rung.height,
        reorder_frames,
        packets,
    })
}

/// Places decoded frames on the chunk's frame slots and hands each slot to every rung.
struct Feeder<E> {
    emit: E,
    grid: ChunkGrid,
    /// Time base of the chunk file's stream (NUT may differ from the master's).
    chunk_tb: (i32, i32),
    next: u64,
    last: Option<Arc<frame::Video>>,
    send_err: bool,
}

impl<E: FnMut(u64, &Arc<frame::Video>) -> bool> Feeder<E> {
    fn emit(&mut self, slot: u64, f: &Arc<frame::Video>) {
        if !(self.emit)(slot, f) {
            self.send_err = true;
        }
    }

    fn frame(&mut self, decoded: &frame::Video) {
        let g = self.grid;
        let pts = decoded.timestamp().or(decoded.pts()).unwrap_or(0);
        let idx = frame_index_in(pts, self.chunk_tb, g.origin_pts, g.time_base, g.fps);
        if idx < g.start_frame as i64 {
            self.last = Some(Arc::new(share(decoded)));
            return;
        }
        let idx = idx as u64;
        if idx >= g.end_frame {
            return;
        }
        let f = Arc::new(share(decoded));
        while self.next < idx {
            // A missing slot repeats the previous picture.
            let fill = self.last.clone().unwrap_or_else(|| f.clone());
            self.emit(self.next, &fill);
            self.next += 1;
        }
        if idx == self.next {
            self.emit(self.next, &f);
            self.next += 1;
        }
        self.last = Some(f);
    }

    /// A master that ends early holds its last picture to the end of the range.
    fn finish(&mut self) {
        if let Some(f) = self.last.clone() {
            while self.next < self.grid.end_frame {
                self.emit(self.next, &f);
                self.next += 1;
            }
        }
    }
}

/// Whether the rendition frame at master `slot` (a rung showing one slot in `d`) is the
/// first of a shot in `shot_idrs` (sorted): a shot starting between two of its frames
/// starts at the next one.
fn starts_shot(slot: u64, d: u64, shot_idrs: &[u64]) -> bool {
    debug_assert!(shot_idrs.windows(2).all(|w| w[0] < w[1]));
    shot_idrs
        .binary_search_by(|&s| {
            if s > slot {
                std::cmp::Ordering::Greater
            } else if s + d <= slot {
                std::cmp::Ordering::Less
            } else {
                std::cmp::Ordering::Equal
            }
        })
        .is_ok()
}

/// A new reference to `f`'s picture buffers, not a copy of them. (ffmpeg-next's `Clone`
/// copies every plane into freshly allocated ones: 3 MB a 1080p frame, and with the fixed
/// mmap threshold in the binary a new mapping the kernel zeroes, which was 10% of a
/// chunk encode's CPU.) The decoder or filter graph that made the buffers allocates
/// others while we hold these, and reuses them from its pool once every reference is
/// dropped. Nothing writes to a shared picture: scalers and libvmaf only read.
fn share(f: &frame::Video) -> frame::Video {
    // SAFETY: av_frame_clone makes a new AVFrame holding new references to the same
    // (reference-counted) buffers, or returns null when out of memory.
    let p = unsafe { ffmpeg_next::ffi::av_frame_clone(f.as_ptr()) };
    assert!(!p.is_null(), "av_frame_clone: out of memory");
    // SAFETY: p is a valid AVFrame we own; Video frees it with av_frame_free.
    unsafe { frame::Video::wrap(p) }
}

/// Converts any decoded picture to yuv420p at one size (bicubic), caching the scaler.
pub(crate) struct ToSize {
    width: u32,
    height: u32,
    scaler: Option<(scaling::Context, (Pixel, u32, u32))>,
}

impl ToSize {
    pub(crate) fn new(width: u32, height: u32) -> Self {
        Self {
            width,
            height,
            scaler: None,
        }
    }

    pub(crate) fn run(&mut self, src: &frame::Video) -> Result<frame::Video, MediaError> {
        let mut out = frame::Video::new(Pixel::YUV420P, self.width, self.height);
        self.run_into(src, &mut out)?;
        out.set_pts(src.pts());
        Ok(out)
    }

    /// Scale into a frame the caller reuses (timestamps are not copied).
    pub(crate) fn run_into(
        &mut self,
        src: &frame::Video,
        out: &mut frame::Video,
    ) -> Result<(), MediaError> {
        let key = (src.format(), src.width(), src.height());
        if self.scaler.as_ref().map(|s| s.1) != Some(key) {
            let ctx = scaling::Context::get(
                src.format(),
                src.width(),
                src.height(),
                Pixel::YUV420P,
                self.width,
                self.height,
                scaling::Flags::BICUBIC,
            )
            .ctx(|| "creating scaler".into())?;
            self.scaler = Some((ctx, key));
        }
        let sc = &mut self.scaler.as_mut().expect("set above").0;
        sc.run(src, out).ctx(|| "scaling".into())
    }
}

/// Threads of one chunk busy at once with its heavy work, encoders and measurements
/// together, before another rung may start measuring. Measuring happens while the
/// chunk holds its place (`gate`), so with one place on two cores a single measuring
/// thread would leave a core idle once the encoders are gone: two keep both busy (30 s
/// 1080p benchmark, two slots: wall time within 2% of measuring outside the place, peak
/// RSS 634-654 -> 542-557 MiB; one at a time: 475 MiB but 17% more wall time). The
/// encoders count too: the small rungs end first, and while the 1080p encoder (some
/// 156 MiB) was still flushing its lookahead two libvmaf contexts at 1080p (about 126
/// MiB each) came up beside it, the benchmark's peak (an RSS timeline: 545-559 MiB for
/// half a second, 440-465 MiB while the four encoders run).
const BUSY_AT_ONCE: usize = 2;

/// What one chunk's rung threads are doing: encoding or measuring. A rung measures
/// only while fewer than `limit` threads are busy.
struct Busy {
    limit: usize,
    /// (rungs encoding, rungs measuring).
    state: std::sync::Mutex<(usize, usize)>,
    changed: std::sync::Condvar,
}

/// A rung's encode, counted busy until dropped (an encode that fails too).
struct Encoding(Arc<Busy>);

/// A rung's measurement, counted busy until dropped.
struct Measuring<'a>(&'a Busy);

impl Busy {
    fn new(limit: usize) -> Arc<Self> {
        Arc::new(Self {
            limit: limit.max(1),
            state: std::sync::Mutex::new((0, 0)),
            changed: std::sync::Condvar::new(),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, (usize, usize)> {
        // A holder that panicked poisons nothing worth keeping.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A rung's encode, counted from now: every rung's is taken before any rung thread
    /// starts, so a rung that ends early cannot measure beside encoders not yet counted.
    fn encoding(this: &Arc<Self>) -> Encoding {
        this.lock().0 += 1;
        Encoding(this.clone())
    }

    /// Wait until fewer than `limit` threads are busy, then measure.
    fn measure(&self) -> Measuring<'_> {
        let mut s = self.lock();
        while s.0 + s.1 >= self.limit {
            s = self.changed.wait(s).unwrap_or_else(|e| e.into_inner());
        }
        s.1 += 1;
        Measuring(self)
    }
}

impl Drop for Encoding {
    fn drop(&mut self) {
        self.0.lock().0 -= 1;
        self.0.changed.notify_all();
    }
}

impl Drop for Measuring<'_> {
    fn drop(&mut self) {
        self.0.lock().1 -= 1;
        self.0.changed.notify_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Four rungs, two busy at once: nothing measures while two or more encoders run,
    /// one measurement starts beside the last encoder, a second once it is gone.
    #[test]
    fn rungs_measure_only_while_fewer_than_two_threads_are_busy() {
        let busy = Busy::new(2);
        let encoders: Vec<Encoding> = (0..4).map(|_| Busy::encoding(&busy)).collect();
        let (started, measuring) = mpsc::channel();
        let (release, released) = mpsc::channel::<()>();
        let released = std::sync::Mutex::new(released);
        let quiet = std::time::Duration::from_millis(200);
        let soon = std::time::Duration::from_secs(10);
        std::thread::scope(|s| {
            // Owned here, so that a failed assertion drops them while unwinding and
            // the measuring threads end (the test fails instead of hanging).
            let (mut encoders, release) = (encoders, release);
            for _ in 0..2 {
                let (busy, started, released) = (&busy, started.clone(), &released);
                s.spawn(move || {
                    let m = busy.measure();
                    started.send(()).unwrap();
                    // Measures until the test lets it go (or is gone).
                    let _ = released.lock().unwrap().recv();
                    drop(m);
                });
            }
            encoders.truncate(2);
            assert!(
                measuring.recv_timeout(quiet).is_err(),
                "beside two encoders"
            );
            encoders.truncate(1);
            measuring
                .recv_timeout(soon)
                .expect("one measures beside the last encoder");
            assert!(
                measuring.recv_timeout(quiet).is_err(),
                "two beside an encoder"
            );
            encoders.clear();
            measuring
                .recv_timeout(soon)
                .expect("two measure once the encoders are gone");
            assert_eq!(*busy.lock(), (0, 2));
            release.send(()).unwrap();
            release.send(()).unwrap();
        });
        assert_eq!(*busy.lock(), (0, 0));
    }

    /// Key frames (output frame numbers) of 48 still grey 64x64 frames at 24 fps, IDR
    /// grid 48, encoded with `shots` as shot IDRs and one rendition frame in `d`.
    fn keys_of_still_encode(d: u32, shots: &[u64]) -> Vec<i64> {
        crate::init();
        let grid = ChunkGrid {
            fps: Rational { num: 24, den: 1 },
            origin_pts: 0,
            time_base: (1, 24),
            start_frame: 0,
            end_frame: 48,
            idr_frames: 48,
        };
        let rung = RungSettings {
            id: "still".into(),
            width: 64,
            height: 64,
            decimation: d,
            bitrate: 0,
            maxrate: 200_000,
            bufsize: 400_000,
            crf: Some(23.0),
            preset: "veryfast".into(),
            profile: "high".into(),
            threads: 1,
            colour: crate::Colour::BT709,
        };
        let mut grey = frame::Video::new(Pixel::YUV420P, 64, 64);
        for p in 0..3 {
            grey.data_mut(p).fill(128);
        }
        let grey = Arc::new(grey);
        let frames = (0..48u64).map(|slot| (slot, grey.clone()));
        let video = encode_rung(frames, grid, rung, shots).unwrap();
        video
            .packets
            .iter()
            .filter(|p| p.keyframe)
            .map(|p| p.pts)
            .collect()
    }

    #[test]
    fn shot_idrs_are_key_frames_where_x264_would_place_none() {
        // A still picture: x264 alone codes one IDR, at 0.
        assert_eq!(keys_of_still_encode(1, &[]), vec![0]);
        assert_eq!(keys_of_still_encode(1, &[20, 33]), vec![0, 20, 33]);
        // One frame in two: master frame 33 starts at rendition frame 17 (master 34).
        assert_eq!(keys_of_still_encode(2, &[20, 33]), vec![0, 10, 17]);
    }

    #[test]
    fn a_shot_starts_at_the_first_rendition_frame_at_or_after_it() {
        let shots = [25, 60, 101];
        // Every frame (d = 1): exactly the shot starts.
        let every: Vec<u64> = (0..120).filter(|&s| starts_shot(s, 1, &shots)).collect();
        assert_eq!(every, vec![25, 60, 101]);
        // One frame in two (even slots): 25 -> 26, 60 -> 60, 101 -> 102.
        let half: Vec<u64> = (0..120)
            .step_by(2)
            .filter(|&s| starts_shot(s, 2, &shots))
            .collect();
        assert_eq!(half, vec![26, 60, 102]);
        assert!(!starts_shot(24, 1, &[]));
    }
}
