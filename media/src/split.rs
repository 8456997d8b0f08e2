//! Split a master's video stream into chunk files by stream copy (no re-encode).
//!
//! Chunks are cut on our segment grid, which rarely coincides with the master's own
//! keyframes, so each chunk file holds every group of pictures that overlaps its frame
//! range, plus the group before it when the first may be open (its leading pictures
//! may refer back). A group that starts with an H.264 or HEVC IDR is closed and gets
//! no group before it: with the long GOPs of real deliveries (x264's default keyint
//! 250, ten seconds) the group before doubled what each chunk decoded. The encode stage decodes the file and keeps exactly the frames of its range.
//! Chunk files use NUT, FFmpeg's own container, because it keeps any codec and the
//! master's exact time base.

use std::path::{Path, PathBuf};

use ffmpeg_next::{codec, format, media, Packet};

use crate::error::Context;
use crate::{open_untrusted, MediaError, Rational};

/// The longest group of pictures we buffer (packets). Bounds memory for masters with
/// one keyframe at the start and none after.
const MAX_GOP_PACKETS: usize = 3000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChunkRange {
    pub index: u32,
    pub start_frame: u64,
    pub end_frame: u64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct SplitReport {
    /// Frames in the master on its frame grid (last frame index + 1).
    pub frame_count: u64,
    /// Presentation time of frame 0 in the master's video time base.
    pub origin_pts: i64,
    /// The master's video time base (num, den).
    pub time_base: (i32, i32),
    /// Added to every timestamp written to the chunk files (master time base), so that
    /// none is negative: NUT cannot store negative times, and FFmpeg's muxer would
    /// otherwise shift them silently, moving every picture off its frame slot.
    pub chunk_shift: i64,
    /// Chunk files written, in order; `files[i]` holds chunk `i`.
    pub files: Vec<PathBuf>,
}

/// Frame index of a timestamp on the frame grid starting at `origin` (both in `tb`).
pub fn frame_index(pts: i64, origin: i64, tb: (i32, i32), fps: Rational) -> i64 {
    frame_index_in(pts, tb, origin, tb, fps)
}

/// Frame index of `pts` (in `pts_tb`) on the grid whose frame 0 is at `origin` (in
/// `origin_tb`): chunk files may carry another time base than the master.
pub(crate) fn frame_index_in(
    pts: i64,
    pts_tb: (i32, i32),
    origin: i64,
    origin_tb: (i32, i32),
    fps: Rational,
) -> i64 {
    let num = (pts as i128 * pts_tb.0 as i128 * origin_tb.1 as i128
        - origin as i128 * origin_tb.0 as i128 * pts_tb.1 as i128)
        * fps.num as i128;
    let den = pts_tb.1 as i128 * origin_tb.1 as i128 * fps.den as i128;
    // Round half away from zero.
    let q = if num >= 0 {
        (2 * num + den) / (2 * den)
    } else {
        -((-2 * num + den) / (2 * den))
    };
    q as i64
}

/// Which keyframes start a closed group of pictures: H.264 IDR (NAL type 5), HEVC
/// IDR_W_RADL / IDR_N_LP (19, 20). Anything else (HEVC CRA, an H.264 recovery-point
/// I picture, MPEG-2, other codecs) counts as open.
struct ClosedGop {
    codec: codec::Id,
    /// Bytes in each NAL length prefix (from avcC/hvcC), or `None` for Annex B.
    length_size: Option<usize>,
}

impl ClosedGop {
    fn for_stream(params: &codec::Parameters) -> Self {
        // SAFETY: the parameters own their extradata buffer of extradata_size bytes.
        let extradata = unsafe {
            let p = params.as_ptr();
            if (*p).extradata.is_null() || (*p).extradata_size <= 0 {
                &[][..]
            } else {
                std::slice::from_raw_parts((*p).extradata, (*p).extradata_size as usize)
            }
        };
        let codec = params.id();
        // avcC: version 1, lengthSizeMinusOne in byte 4; hvcC: version 1, in byte 21.
        let length_size = match (codec, extradata.first()) {
            (codec::Id::H264, Some(1)) => extradata.get(4).map(|b| (b & 3) as usize + 1),
            (codec::Id::HEVC, Some(1)) => extradata.get(21).map(|b| (b & 3) as usize + 1),
            _ => None,
        };
        Self { codec, length_size }
    }

    fn starts(&self, keyframe: &Packet) -> bool {
        let Some(data) = keyframe.data() else {
            return false;
        };
        let nals = crate::annexb::access_unit_nals(data, self.length_size);
        match self.codec {
            codec::Id::H264 => nals
                .iter()
                .any(|n| n.first().is_some_and(|h| h & 0x1f == 5)),
            codec::Id::HEVC => nals.iter().any(|n| {
                n.first()
                    .is_some_and(|h| matches!((h >> 1) & 0x3f, 19 | 20))
            }),
            _ => false,
        }
    }
}

struct ChunkWriter {
    octx: format::context::Output,
    out_tb: ffmpeg_next::Rational,
}

/// Split `master` into chunk files of `chunk_frames` frames each, written as
/// `dir/<index>.nut`. Memory is bounded by two groups of pictures.
pub fn split_video(
    master: &Path,
    fps: Rational,
    chunk_frames: u64,
    dir: &Path,
) -> Result<SplitReport, MediaError> {
    assert!(chunk_frames > 0, "chunk_frames must be positive");
    let mut ictx = open_untrusted(master)?;
    let (vi, in_tb, params, start_time) = {
        let s = ictx
            .streams()
            .best(media::Type::Video)
            .ok_or_else(|| MediaError::NoVideo {
                path: master.into(),
            })?;
        (s.index(), s.time_base(), s.parameters(), s.start_time())
    };
    let tb = (in_tb.numerator(), in_tb.denominator());
    let closed = ClosedGop::for_stream(&params);
    let mut origin: Option<i64> =
        (start_time != ffmpeg_next::ffi::AV_NOPTS_VALUE).then_some(start_time);

    let mut writers: std::collections::BTreeMap<u32, ChunkWriter> = Default::default();
    let mut files: Vec<PathBuf> = Vec::new();
    let mut gop: Vec<Packet> = Vec::new();
    let mut prev_gop: Vec<Packet> = Vec::new();
    let mut max_index: i64 = -1;
    // Set from the first packet: decode times rise, so its is the lowest.
    let mut shift: Option<i64> = None;

    let corrupt = |detail: String| MediaError::Corrupt {
        path: master.into(),
        detail,
    };

    let flush = |gop: &mut Vec<Packet>,
                 prev_gop: &mut Vec<Packet>,
                 writers: &mut std::collections::BTreeMap<u32, ChunkWriter>,
                 files: &mut Vec<PathBuf>,
                 origin: i64,
                 shift: i64,
                 max_index: &mut i64|
     -> Result<(), MediaError> {
        if gop.is_empty() {
            return Ok(());
        }
        let mut lo = i64::MAX;
        let mut hi = i64::MIN;
        for p in gop.iter() {
            let pts = p.pts().or(p.dts()).unwrap_or(origin);
            let idx = frame_index(pts, origin, tb, fps);
            lo = lo.min(idx);
            hi = hi.max(idx);
            if !p.is_corrupt() {
                *max_index = (*max_index).max(idx);
            }
        }
        if hi >= 0 {
            let first = (lo.max(0) as u64 / chunk_frames) as u32;
            let last = (hi as u64 / chunk_frames) as u32;
            // Chunks before this group's first one are complete.
            let done: Vec<u32> = writers.range(..first).map(|(k, _)| *k).collect();
            for k in done {
                let mut w = writers.remove(&k).expect("present");
                w.octx
                    .write_trailer()
                    .ctx(|| format!("finishing chunk {k}"))?;
            }
            for c in first..=last {
                if let std::collections::btree_map::Entry::Vacant(slot) = writers.entry(c) {
                    let path = dir.join(format!("{c}.nut"));
                    let mut w = open_writer(&path, &params, in_tb)?;
                    // The group before may hold references for our leading pictures,
                    // unless ours starts closed.
                    if !gop.first().is_some_and(|k| closed.starts(k)) {
                        for p in prev_gop.iter() {
                            write_packet(&mut w, p, in_tb, shift)?;
                        }
                    }
                    while files.len() <= c as usize {
                        files.push(dir.join(format!("{}.nut", files.len())));
                    }
                    slot.insert(w);
                }
                let w = writers.get_mut(&c).expect("just inserted");
                for p in gop.iter() {
                    write_packet(w, p, in_tb, shift)?;
                }
            }
        }
        *prev_gop = std::mem::take(gop);
        Ok(())
    };

    for (stream, packet) in ictx.packets() {
        if stream.index() != vi {
            continue;
        }
        if packet.pts().is_none() && packet.dts().is_none() {
            return Err(corrupt("video packet without a timestamp".into()));
        }
        let o = *origin.get_or_insert_with(|| packet.pts().or(packet.dts()).unwrap_or(0));
        let sh = *shift.get_or_insert_with(|| {
            let first = packet.dts().or(packet.pts()).unwrap_or(0);
            let lowest = packet.pts().map_or(first, |p| p.min(first));
            (-lowest).max(0)
        });
        if packet.is_key() && !gop.is_empty() {
            flush(
                &mut gop,
                &mut prev_gop,
                &mut writers,
                &mut files,
                o,
                sh,
                &mut max_index,
            )?;
        }
        if gop.len() >= MAX_GOP_PACKETS {
            return Err(MediaError::GopTooLong {
                path: master.into(),
                max_packets: MAX_GOP_PACKETS,
            });
        }
        gop.push(packet);
    }
    let o = origin.unwrap_or(0);
    let sh = shift.unwrap_or(0);
    flush(
        &mut gop,
        &mut prev_gop,
        &mut writers,
        &mut files,
        o,
        sh,
        &mut max_index,
    )?;
    for (k, mut w) in writers {
        w.octx
            .write_trailer()
            .ctx(|| format!("finishing chunk {k}"))?;
    }
    if max_index < 0 {
        return Err(corrupt("no video frames".into()));
    }
    let frame_count = max_index as u64 + 1;
    let expected_chunks = frame_count.div_ceil(chunk_frames) as usize;
    files.truncate(expected_chunks);
    if files.len() != expected_chunks || files.iter().any(|f| !f.exists()) {
        return Err(corrupt(format!(
            "video timestamps leave chunks empty ({} of {expected_chunks} chunks have frames)",
            files.iter().filter(|f| f.exists()).count()
        )));
    }
    decoder_opens(master, &files[0], &params)?;
    Ok(SplitReport {
        frame_count,
        origin_pts: o,
        chunk_shift: sh,
        time_base: tb,
        files,
    })
}

fn open_writer(
    path: &Path,
    params: &codec::Parameters,
    in_tb: ffmpeg_next::Rational,
) -> Result<ChunkWriter, MediaError> {
    let mut octx = format::output_as(path, "nut").ctx(|| format!("creating {}", path.display()))?;
    // SAFETY: the context's output format, set by output_as and static in libavformat.
    let oformat = unsafe { (*octx.as_ptr()).oformat };
    {
        let mut ost = octx
            .add_stream(codec::encoder::find(codec::Id::None))
            .ctx(|| "adding chunk stream".into())?;
        let mut params = params.clone();
        // SAFETY: our own copy of the parameters, and the output format's tag table
        // (static in libavformat).
        unsafe {
            let p = params.as_mut_ptr();
            if !keep_codec_tag(oformat, (*p).codec_id, (*p).codec_tag) {
                (*p).codec_tag = 0;
            }
        }
        ost.set_parameters(params);
        ost.set_time_base(in_tb);
    }
    // Never shift timestamps behind our back (see `SplitReport::chunk_shift`): a
    // negative one is then an error, not a picture moved to another frame slot.
    // SAFETY: a plain field of a context we own, before the header is written.
    unsafe {
        (*octx.as_mut_ptr()).avoid_negative_ts = 0; // AVFMT_AVOID_NEG_TS_DISABLED
    }
    octx.write_header()
        .ctx(|| format!("writing header of {}", path.display()))?;
    let out_tb = octx.stream(0).expect("one stream").time_base();
    Ok(ChunkWriter { octx, out_tb })
}

/// Refuse a master whose video codec does not survive the trip into a chunk file: NUT
/// keeps the codec and its extradata but not, say, QuickTime Animation's bit depth,
/// without which its decoder does not open. Found here, at the split, the title fails
/// with the codec named instead of at its first encode.
fn decoder_opens(
    master: &Path,
    chunk: &Path,
    params: &codec::Parameters,
) -> Result<(), MediaError> {
    let refused = |detail: String| MediaError::ChunkCodec {
        path: master.into(),
        codec: params.id().name().to_string(),
        detail,
    };
    let ictx = format::input(&chunk).map_err(|e| refused(e.to_string()))?;
    let stream = ictx
        .streams()
        .next()
        .ok_or_else(|| refused("no stream".into()))?;
    crate::video::open_decoder(stream.parameters(), stream.time_base())
        .map(drop)
        .map_err(|e| refused(e.to_string()))
}

/// Whether a stream copied into `oformat` keeps the master's codec tag: FFmpeg's own
/// rule for stream copy. A tag NUT's tables map to the same codec (MP4's `avc1` for
/// H.264) is kept, one they map to another codec is dropped (NUT then writes its own),
/// and a codec NUT has no tag for (ProRes, DNxHR, QuickTime Animation) keeps the
/// master's, or the header cannot be written; raw video keeps the tag that names its
/// pixel format, or the chunk cannot be decoded.
///
/// # Safety
/// `oformat` must be a valid output format.
unsafe fn keep_codec_tag(
    oformat: *const ffmpeg_next::ffi::AVOutputFormat,
    id: ffmpeg_next::ffi::AVCodecID,
    tag: u32,
) -> bool {
    let tags = (*oformat).codec_tag;
    if tags.is_null() {
        return true;
    }
    let mut own = 0u32;
    ffmpeg_next::ffi::av_codec_get_id(tags, tag) == id
        || ffmpeg_next::ffi::av_codec_get_tag2(tags, id, &mut own) == 0
}

fn write_packet(
    w: &mut ChunkWriter,
    p: &Packet,
    in_tb: ffmpeg_next::Rational,
    shift: i64,
) -> Result<(), MediaError> {
    let mut p = p.clone();
    p.set_pts(p.pts().map(|t| t + shift));
    p.set_dts(p.dts().map(|t| t + shift));
    p.set_stream(0);
    p.set_position(-1);
    p.rescale_ts(in_tb, w.out_tb);
    p.write(&mut w.octx).ctx(|| "writing chunk packet".into())?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frame_index_rounds_to_nearest_frame() {
        let fps = Rational {
            num: 30000,
            den: 1001,
        };
        // 90 kHz time base, frame duration 3003 ticks.
        assert_eq!(frame_index(0, 0, (1, 90000), fps), 0);
        assert_eq!(frame_index(3003, 0, (1, 90000), fps), 1);
        assert_eq!(frame_index(3003 * 100 + 1400, 0, (1, 90000), fps), 100);
        assert_eq!(frame_index(126_000 + 3003, 126_000, (1, 90000), fps), 1);
        assert_eq!(frame_index(-3003, 0, (1, 90000), fps), -1);
    }
}
