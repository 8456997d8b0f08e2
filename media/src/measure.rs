//! Measuring what was encoded: every rendition's encode of a chunk decoded and scored
//! with VMAF against the same pictures the encoders were given (the chunk decoded
//! again and converted), both brought to the master's quality size; one pair in
//! `subsample` scored, so the sample is spread evenly over the chunk. Memory stays bounded: reference pictures are streamed to one thread
//! per rendition through small channels, never collected.

use std::path::Path;
use std::sync::{mpsc, Arc};

use ffmpeg_next::{codec, format::Pixel, frame, Packet};

use crate::error::Context;
use crate::quality::{quality_size, QualityOptions, Vmaf};
use crate::video::{decode_slots, ToSize};
use crate::{ChunkGrid, Conversion, EncodedPacket, EncodedVideo, MediaError, QualityReport};

/// One encoded rendition of a chunk and the frame-rate decimation it was encoded with.
#[derive(Clone, Copy)]
pub struct EncodedRendition<'a> {
    pub video: &'a EncodedVideo,
    pub decimation: u32,
}

/// Score every rendition of `encoded` (packets relative to the chunk start, as
/// [`crate::encode_chunk`] returns them) against chunk `grid`'s own pictures after
/// `conv`. One report per rendition, in order. `subsample`: score one pair in this
/// many (motion still sees every pair).
pub fn measure_chunk(
    chunk: &Path,
    grid: ChunkGrid,
    conv: &Conversion,
    encoded: &[EncodedRendition<'_>],
    subsample: u32,
) -> Result<Vec<QualityReport>, MediaError> {
    let span = grid.end_frame - grid.start_frame;
    std::thread::scope(|s| {
        let mut senders = Vec::new();
        let mut handles = Vec::new();
        for r in encoded {
            let (tx, rx) = mpsc::sync_channel::<(u64, Arc<frame::Video>)>(2);
            senders.push(tx);
            let d = r.decimation.max(1) as u64;
            handles.push(
                s.spawn(move || score_rendition(rx, r.video, d, span, grid.start_frame, subsample)),
            );
        }
        // At the quality size already (most masters up to 1080p): shared as it is.
        let mut to_q: Option<ToSize> = None;
        let mut scale_err = None;
        let decoded = decode_slots(chunk, grid, conv, |slot, f| {
            let (qw, qh) = quality_size(f.width(), f.height());
            let reference = if f.format() == Pixel::YUV420P && (f.width(), f.height()) == (qw, qh) {
                f.clone()
            } else {
                match to_q.get_or_insert_with(|| ToSize::new(qw, qh)).run(f) {
                    Ok(r) => Arc::new(r),
                    Err(e) => {
                        scale_err = Some(e);
                        return false;
                    }
                }
            };
            senders
                .iter()
                .all(|tx| tx.send((slot, reference.clone())).is_ok())
        });
        drop(senders);
        let scored: Vec<_> = handles
            .into_iter()
            .map(|h| h.join().expect("scorer thread panicked"))
            .collect();
        if let Some(e) = scale_err {
            return Err(e);
        }
        let scored = scored.into_iter().collect::<Result<Vec<_>, _>>()?;
        decoded?;
        Ok(scored)
    })
}

/// Decode `video` (rendition frame p shows master frame `start + p·d`, of `span`) and
/// score each picture against its reference from `rx`. Every reference is received,
/// scored or not, so the sender never blocks.
fn score_rendition(
    rx: mpsc::Receiver<(u64, Arc<frame::Video>)>,
    video: &EncodedVideo,
    d: u64,
    span: u64,
    start: u64,
    subsample: u32,
) -> Result<QualityReport, MediaError> {
    let mut vmaf: Option<Vmaf> = None;
    let mut up: Option<ToSize> = None;
    let mut refs = rx.iter();
    let result = decode_packets(&video.avcc, &video.packets, &video.rung, |pts, f| {
        let slot = start + pts as u64 * d;
        if pts < 0 || slot >= start + span {
            return Ok(());
        }
        let reference = loop {
            match refs.next() {
                Some((s, r)) if s == slot => break r,
                Some((s, _)) if s < slot => continue,
                other => {
                    return Err(MediaError::Quality {
                        detail: format!(
                            "{}: no reference picture for frame {slot} (got {:?})",
                            video.rung,
                            other.map(|o| o.0)
                        ),
                    })
                }
            }
        };
        let (qw, qh) = (reference.width(), reference.height());
        let v = match &mut vmaf {
            Some(v) => v,
            None => vmaf.insert(Vmaf::new(
                qw,
                qh,
                QualityOptions {
                    threads: 0,
                    subsample,
                },
            )?),
        };
        if v.scores_next() {
            let up = up.get_or_insert_with(|| ToSize::new(qw, qh));
            v.push(&reference, &up.run(f)?)
        } else {
            v.push(&reference, &reference)
        }
    });
    // Whatever happened, take the rest so that the decoding side is not left waiting.
    for _ in refs {}
    result?;
    vmaf.ok_or_else(|| MediaError::Quality {
        detail: format!("{}: no frames in the measured window", video.rung),
    })?
    .finish()
}

/// Decode our own H.264 (avcC + length-prefixed packets in decode order), handing each
/// picture with its presentation index to `each`, in presentation order.
pub(crate) fn decode_packets(
    avcc: &[u8],
    packets: &[EncodedPacket],
    what: &str,
    mut each: impl FnMut(i64, &frame::Video) -> Result<(), MediaError>,
) -> Result<(), MediaError> {
    let codec = ffmpeg_next::decoder::find(codec::Id::H264).ok_or_else(|| MediaError::Quality {
        detail: "no H.264 decoder".into(),
    })?;
    let mut ctx = codec::context::Context::new_with_codec(codec);
    // SAFETY: extradata is allocated with FFmpeg's allocator (the context frees it),
    // padded as FFmpeg requires, before the decoder is opened.
    unsafe {
        let pad = ffmpeg_next::ffi::AV_INPUT_BUFFER_PADDING_SIZE as usize;
        let buf = ffmpeg_next::ffi::av_mallocz(avcc.len() + pad) as *mut u8;
        std::ptr::copy_nonoverlapping(avcc.as_ptr(), buf, avcc.len());
        let p = ctx.as_mut_ptr();
        (*p).extradata = buf;
        (*p).extradata_size = avcc.len() as i32;
    }
    let mut dec = ctx
        .decoder()
        .video()
        .ctx(|| "opening H.264 decoder".into())?;
    let mut f = frame::Video::empty();
    for p in packets {
        let mut pkt = Packet::copy(&p.data);
        pkt.set_pts(Some(p.pts));
        pkt.set_dts(Some(p.dts));
        dec.send_packet(&pkt).ctx(|| format!("decoding {what}"))?;
        while dec.receive_frame(&mut f).is_ok() {
            each(f.pts().unwrap_or(0), &f)?;
        }
    }
    dec.send_eof()
        .ctx(|| format!("flushing the {what} decoder"))?;
    while dec.receive_frame(&mut f).is_ok() {
        each(f.pts().unwrap_or(0), &f)?;
    }
    Ok(())
}
