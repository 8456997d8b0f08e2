//! Cutting a track into media segments on the grid and writing them as CMAF:
//! `styp` then one `moof`+`mdat` fragment per keyframe (video) or per segment (audio).

use crate::boxes::BoxWriter;
use crate::init::TRACK_ID;
use crate::{PackagerError, TrackChunk};

/// Where segment boundaries fall, in the track's time scale, as a rational so that
/// audio (48 kHz) can follow a video grid like 120 frames at 30000/1001 exactly:
/// segment `k` starts at `k * num / den` ticks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SegmentCut {
    pub num: u64,
    pub den: u64,
}

impl SegmentCut {
    /// Segment number (0-based) that a presentation time falls in.
    pub fn segment_of(&self, pts: i64) -> u64 {
        (pts.max(0) as u128 * self.den as u128 / self.num as u128) as u64
    }
    /// Start of segment `k`, rounded up to a whole tick.
    pub fn start_of(&self, k: u64) -> u64 {
        (k as u128 * self.num as u128).div_ceil(self.den as u128) as u64
    }
}

/// One keyframe's byte range inside a segment (for I-frame playlists).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IFrame {
    /// Offset of the fragment's `moof` in the segment.
    pub offset: u64,
    /// From the `moof` through the end of the keyframe's data.
    pub length: u64,
    /// Presentation time (after the edit list).
    pub pts: u64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Segment {
    /// Segment number (0-based).
    pub number: u64,
    /// Decode time of the first sample (the tfdt), which is also when its keyframe is
    /// presented once the edit list has taken the reorder delay back.
    pub start: u64,
    /// Sum of sample durations, in the track's time scale.
    pub duration: u64,
    pub bytes: Vec<u8>,
    pub iframes: Vec<IFrame>,
    /// Fragments (moof+mdat) in the segment; the next segment's mfhd numbers follow.
    pub fragments: u32,
}

/// Cut `chunk` into segments. Video segments must start with a keyframe presented
/// exactly at the segment's start; audio samples go to the segment their start falls in.
/// `first_sequence` numbers the fragments (mfhd), continuing across chunks.
pub fn cut_segments(
    chunk: &TrackChunk,
    cut: SegmentCut,
    first_sequence: u32,
) -> Result<Vec<Segment>, PackagerError> {
    let is_video = matches!(chunk.codec, crate::Codec::Avc { .. });
    let offsets = chunk.offsets();
    // Group sample indices by segment.
    let mut groups: Vec<(u64, Vec<usize>)> = Vec::new();
    for (i, s) in chunk.samples.iter().enumerate() {
        if i > 0 && s.dts <= chunk.samples[i - 1].dts {
            return Err(PackagerError::NonMonotonic {
                track: chunk.track.clone(),
                sample: i,
            });
        }
        if composition_offset(chunk, i).is_none() {
            return Err(PackagerError::CompositionOutOfRange {
                track: chunk.track.clone(),
                sample: i,
                cts_offset: s.cts_offset,
                reorder_delay: chunk.reorder_delay,
            });
        }
        let starts_segment = if is_video {
            s.sync && s.pts() >= 0 && cut.start_of(cut.segment_of(s.pts())) == s.pts() as u64
        } else {
            groups.last().map(|g| g.0) != Some(cut.segment_of(s.pts()))
        };
        if starts_segment || groups.is_empty() {
            let seg = cut.segment_of(s.pts());
            if is_video && !starts_segment {
                return Err(PackagerError::NoIdrAtBoundary {
                    track: chunk.track.clone(),
                    segment: seg,
                    expected_pts: cut.start_of(seg) as i64,
                    found_pts: Some(s.pts()),
                });
            }
            groups.push((seg, Vec::new()));
        }
        groups.last_mut().expect("pushed").1.push(i);
    }
    let mut seq = first_sequence;
    let mut out = Vec::with_capacity(groups.len());
    for (number, idx) in groups {
        // Fragments: video at every keyframe, audio one per segment.
        let mut frags: Vec<Vec<usize>> = Vec::new();
        for &i in &idx {
            if frags.is_empty() || (is_video && chunk.samples[i].sync) {
                frags.push(Vec::new());
            }
            frags.last_mut().expect("pushed").push(i);
        }
        let mut bytes = Vec::new();
        let mut iframes = Vec::new();
        {
            let mut w = BoxWriter::new(&mut bytes);
            w.plain(b"styp", |w| {
                w.bytes(b"cmfs");
                w.u32(0);
                w.bytes(b"cmfs");
                w.bytes(b"msdh");
            });
        }
        let fragments = frags.len() as u32;
        for frag in frags {
            let moof_at = bytes.len() as u64;
            write_fragment(&mut bytes, chunk, &frag, &offsets, seq);
            seq += 1;
            let first = &chunk.samples[frag[0]];
            if is_video && first.sync {
                // moof + mdat header + the keyframe's own bytes.
                let moof_len = u32::from_be_bytes(
                    bytes[moof_at as usize..moof_at as usize + 4]
                        .try_into()
                        .expect("4"),
                ) as u64;
                iframes.push(IFrame {
                    offset: moof_at,
                    length: moof_len + 8 + first.size as u64,
                    pts: first.pts() as u64,
                });
            }
        }
        let start = chunk.samples[idx[0]].dts;
        let duration = idx.iter().map(|&i| chunk.samples[i].duration as u64).sum();
        out.push(Segment {
            number,
            start,
            duration,
            bytes,
            iframes,
            fragments,
        });
    }
    Ok(out)
}

/// Sample `i`'s composition offset as written: delayed by the chunk's reorder delay,
/// `None` if that is not a non-negative 32-bit value.
fn composition_offset(chunk: &TrackChunk, i: usize) -> Option<u32> {
    u32::try_from(chunk.samples[i].cts_offset as i64 + chunk.reorder_delay as i64).ok()
}

fn write_fragment(
    out: &mut Vec<u8>,
    chunk: &TrackChunk,
    idx: &[usize],
    offsets: &[usize],
    seq: u32,
) {
    let moof_start = out.len();
    let mut data_offset_at = 0usize;
    {
        let mut w = BoxWriter::new(out);
        w.plain(b"moof", |w| {
            w.full(b"mfhd", 0, 0, |w| w.u32(seq));
            w.plain(b"traf", |w| {
                // default-base-is-moof
                w.full(b"tfhd", 0, 0x02_0000, |w| w.u32(TRACK_ID));
                w.full(b"tfdt", 1, 0, |w| w.u64(chunk.samples[idx[0]].dts));
                // data offset, duration, size, flags, composition offset; the offsets
                // are delayed to be non-negative (version 0), the edit list in the init
                // segment takes the delay back.
                w.full(
                    b"trun",
                    0,
                    0x0001 | 0x0100 | 0x0200 | 0x0400 | 0x0800,
                    |w| {
                        w.u32(idx.len() as u32);
                        data_offset_at = w.len();
                        w.u32(0);
                        for &i in idx {
                            let s = &chunk.samples[i];
                            w.u32(s.duration);
                            w.u32(s.size);
                            // sync: depends on nothing; else: depends on others, non-sync.
                            w.u32(if s.sync { 0x0200_0000 } else { 0x0101_0000 });
                            w.u32(composition_offset(chunk, i).expect("checked by cut_segments"));
                        }
                    },
                );
            });
        });
        let moof_len = w.len() - moof_start;
        let payload: usize = idx.iter().map(|&i| chunk.samples[i].size as usize).sum();
        w.patch_u32(data_offset_at, (moof_len + 8) as u32);
        w.u32((payload + 8) as u32);
        w.bytes(b"mdat");
        for &i in idx {
            let o = offsets[i];
            w.bytes(&chunk.payload[o..o + chunk.samples[i].size as usize]);
        }
    }
}
