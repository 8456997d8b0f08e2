//! Measuring what was encoded, while encoding: a few frames of each rendition of a
//! chunk, spread evenly over it, decoded and scored with VMAF against the pictures the
//! encoders were given (converted, brought to the master's quality size). VMAF at the
//! master's size costs tens of milliseconds a frame, so only samples are scored; each
//! sample goes to libvmaf as its frame between its two neighbours, so that the motion
//! feature (which compares a frame with the one before and the one after) sees what it
//! would see on the whole sequence. The references are the chunk's own decoded
//! pictures, kept only for the sampled slots: no second decode of the master.

use std::collections::BTreeMap;
use std::sync::Arc;

use ffmpeg_next::{codec, frame, Packet};

use crate::error::Context;
use crate::quality::{pool, quality_size, QualityOptions, Vmaf};
use crate::video::ToSize;
use crate::{EncodedPacket, EncodedVideo, MediaError, QualityReport};

/// The rendition frames a chunk's measurement scores: `samples` frames, one in each of
/// as many equal stretches of `frames`, each with a neighbour on either side inside its
/// stretch (so no two samples share one). Where in its stretch a sample falls is drawn
/// from a low-discrepancy sequence seeded by `seed` (the chunk's index): over a title
/// the samples fall at every distance from the IDRs, not always at one (frames just
/// after an IDR are better than the GOP's average; a fixed place would bias the mean).
pub(crate) fn sampled_frames(frames: u64, samples: u32, seed: u64) -> Vec<u64> {
    const PHI: f64 = 0.618_033_988_749_894_9;
    let k = (samples as u64).min(frames / 3);
    (0..k)
        .map(|j| {
            let (lo, hi) = (j * frames / k, (j + 1) * frames / k);
            let u = ((seed * k + j) as f64 * PHI).fract();
            lo + 1 + (u * (hi - lo - 2) as f64) as u64
        })
        .collect()
}

/// The master slots (chunk-relative, before `start` is added) a rendition with
/// decimation `d` needs as references for its samples among `frames`.
pub(crate) fn reference_slots(frames: u64, d: u64, samples: u32, seed: u64) -> Vec<u64> {
    sampled_frames(frames, samples, seed)
        .into_iter()
        .flat_map(|p| [p - 1, p, p + 1])
        .map(|p| p * d)
        .collect()
}

/// Score the sampled frames of `video` (rendition frame p shows master slot
/// `start + p·d`) against `refs`, which holds every slot [`reference_slots`] named.
/// Only the sampled pictures are decoded, each from its GOP's IDR (closed GOPs), so
/// decoding costs half a GOP a sample on average rather than the whole chunk.
pub(crate) fn score_samples(
    video: &EncodedVideo,
    d: u64,
    start: u64,
    samples: u32,
    seed: u64,
    refs: &BTreeMap<u64, Arc<frame::Video>>,
) -> Result<QualityReport, MediaError> {
    let frames = video.packets.len() as u64;
    let centres = sampled_frames(frames, samples, seed);
    let Some(any) = refs.values().next() else {
        // Too short to sample (a last chunk of a frame or two): nothing scored.
        return Ok(pool(Vec::new(), 0));
    };
    if centres.is_empty() {
        return Ok(pool(Vec::new(), 0));
    }
    let (qw, qh) = quality_size(any.width(), any.height());
    let mut to_q = ToSize::new(qw, qh);
    // A picture already at the quality size in yuv420p (the usual master) is used as
    // it is; any other is scaled.
    let mut reference = |p: u64| -> Result<Picture<'_>, MediaError> {
        let slot = start + p * d;
        let r = refs.get(&slot).ok_or_else(|| MediaError::Quality {
            detail: format!("{}: no reference picture kept for slot {slot}", video.rung),
        })?;
        // (A bottom-up picture, negative strides, is copied the ordinary way.)
        // SAFETY: reading plain fields of a live AVFrame.
        let upright = (0..3).all(|p| unsafe { (*r.as_ptr()).linesize[p] } > 0);
        if upright
            && (r.format(), r.width(), r.height()) == (ffmpeg_next::format::Pixel::YUV420P, qw, qh)
        {
            Ok(Picture::Kept(r))
        } else {
            to_q.run(r).map(Picture::Scaled)
        }
    };
    // libvmaf scores the pairs numbered 0, 3, 6, …: numbered from 2, every sample
    // lands on a scored index (3j + 3) between its neighbours on unscored ones, which
    // only feed the motion feature (reference-only: the pair is the reference twice).
    let mut vmaf = Vmaf::new(
        qw,
        qh,
        QualityOptions {
            threads: 0,
            subsample: 3,
        },
    )?;
    vmaf.start_at(2);
    let mut up = ToSize::new(qw, qh);
    for &p in &centres {
        let before = reference(p - 1)?;
        vmaf.push(&before, &before)?;
        let picture = decode_one(video, p)?;
        debug_assert!(vmaf.scores_next());
        vmaf.push(&*reference(p)?, &up.run(&picture)?)?;
        let after = reference(p + 1)?;
        vmaf.push(&after, &after)?;
    }
    vmaf.finish()
}

/// A reference picture: kept as decoded, or scaled to the quality size.
enum Picture<'a> {
    Kept(&'a frame::Video),
    Scaled(frame::Video),
}

impl std::ops::Deref for Picture<'_> {
    type Target = frame::Video;
    fn deref(&self) -> &frame::Video {
        match self {
            Picture::Kept(f) => f,
            Picture::Scaled(f) => f,
        }
    }
}

/// Decode rendition frame `p` of `video`: from the IDR before it, packets in decode
/// order until the decoder has presented it.
fn decode_one(video: &EncodedVideo, p: u64) -> Result<frame::Video, MediaError> {
    let p = p as i64;
    let packets = &video.packets;
    // The GOP holding p: the last keyframe presented at or before it.
    let from = packets
        .iter()
        .rposition(|k| k.keyframe && k.pts <= p)
        .ok_or_else(|| MediaError::Quality {
            detail: format!("{}: no keyframe before frame {p}", video.rung),
        })?;
    let mut dec = h264_decoder(&video.avcc)?;
    let mut f = frame::Video::empty();
    let mut presented = |dec: &mut ffmpeg_next::decoder::Video| {
        while dec.receive_frame(&mut f).is_ok() {
            if f.pts() == Some(p) {
                return Some(f.clone());
            }
        }
        None
    };
    for pk in &packets[from..] {
        let mut pkt = Packet::copy(&pk.data);
        pkt.set_pts(Some(pk.pts));
        pkt.set_dts(Some(pk.dts));
        dec.send_packet(&pkt)
            .ctx(|| format!("decoding {}", video.rung))?;
        if let Some(picture) = presented(&mut dec) {
            return Ok(picture);
        }
    }
    dec.send_eof()
        .ctx(|| format!("flushing the {} decoder", video.rung))?;
    presented(&mut dec).ok_or_else(|| MediaError::Quality {
        detail: format!("{}: frame {p} never decoded", video.rung),
    })
}

/// An H.264 decoder for our own encodes (avcC as extradata).
fn h264_decoder(avcc: &[u8]) -> Result<ffmpeg_next::decoder::Video, MediaError> {
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
    ctx.decoder().video().ctx(|| "opening H.264 decoder".into())
}

/// Decode our own H.264 (avcC + length-prefixed packets in decode order), handing each
/// picture with its presentation index to `each`, in presentation order.
pub(crate) fn decode_packets(
    avcc: &[u8],
    packets: &[EncodedPacket],
    what: &str,
    mut each: impl FnMut(i64, &frame::Video) -> Result<(), MediaError>,
) -> Result<(), MediaError> {
    let mut dec = h264_decoder(avcc)?;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn samples_are_spread_whole_triplets_inside_the_chunk() {
        for frames in 0..200u64 {
            for samples in 0..12u32 {
                for seed in 0..5 {
                    let c = sampled_frames(frames, samples, seed);
                    let k = (samples as u64).min(frames / 3);
                    assert_eq!(c.len() as u64, k);
                    for (j, &p) in c.iter().enumerate() {
                        // The sample and both neighbours inside its own stretch.
                        let (lo, hi) = (j as u64 * frames / k, (j as u64 + 1) * frames / k);
                        assert!(lo < p && p + 1 < hi, "{frames} {samples} {seed}: {c:?}");
                    }
                }
            }
        }
    }

    #[test]
    fn samples_fall_at_every_distance_from_the_idrs() {
        // 4 samples a chunk of 192 frames with an IDR every 48: over 50 chunks the
        // distances from the IDR before each sample cover the GOP evenly.
        let mut per_quarter = [0u32; 4];
        for chunk in 0..50 {
            for p in sampled_frames(192, 4, chunk) {
                per_quarter[((p % 48) / 12) as usize] += 1;
            }
        }
        for n in per_quarter {
            assert!((40..=60).contains(&n), "{per_quarter:?}");
        }
    }
}
