//! Media segments: cut on the grid, then read back with mp4-atom (strict) and a raw
//! walker, fragment by fragment, against the samples that went in.

use mp4_atom::{Any, FourCC, Moof, Styp, TrunSamples};
use packager::{
    cut_segments, init_segment, PackagerError, Sample, Segment, SegmentCut, TrackChunk,
};
use proptest::prelude::*;

use crate::support::*;

/// 60 frames at 30000/1001 (2.002 s) in the video time scale.
const VIDEO_CUT: SegmentCut = SegmentCut {
    num: 60 * FRAME as u64,
    den: 1,
};
/// The same 2.002 s in 48 kHz audio ticks: 60 * 1001 * 48000 / 30000 = 96,096.
const AUDIO_CUT: SegmentCut = SegmentCut {
    num: 60 * 1001 * 48_000,
    den: 30_000,
};

struct Fragment {
    moof_at: usize,
    moof: Moof,
    mdat_at: usize,
    mdat: Vec<u8>,
}

/// styp, then moof+mdat pairs covering the rest of the segment exactly.
fn read(bytes: &[u8]) -> (Styp, Vec<Fragment>) {
    let mut boxes = top_level(bytes).into_iter();
    let styp = match boxes.next() {
        Some((0, Any::Styp(s))) => s,
        other => panic!("expected styp first: {other:?}"),
    };
    let mut frags = Vec::new();
    while let Some((moof_at, moof)) = boxes.next() {
        let (Any::Moof(moof), Some((mdat_at, Any::Mdat(mdat)))) = (moof, boxes.next()) else {
            panic!("expected moof then mdat at {moof_at}");
        };
        frags.push(Fragment {
            moof_at,
            moof,
            mdat_at,
            mdat: mdat.data,
        });
    }
    (styp, frags)
}

/// The fragments we expect, as sample index lists: a new one at every keyframe for
/// video, one per segment for audio.
fn expected_fragments(chunk: &TrackChunk, samples: &[usize], video: bool) -> Vec<Vec<usize>> {
    let mut out: Vec<Vec<usize>> = Vec::new();
    for &i in samples {
        if out.is_empty() || (video && chunk.samples[i].sync) {
            out.push(Vec::new());
        }
        out.last_mut().unwrap().push(i);
    }
    out
}

/// Everything a player reads from one segment, against the samples it should hold.
/// Returns the next mfhd sequence number.
fn check_segment(
    seg: &Segment,
    chunk: &TrackChunk,
    samples: &[usize],
    mut seq: u32,
    video: bool,
) -> u32 {
    let first = &chunk.samples[samples[0]];
    assert_eq!(seg.start, first.dts, "segment {}", seg.number);
    let duration: u64 = samples
        .iter()
        .map(|&i| chunk.samples[i].duration as u64)
        .sum();
    assert_eq!(seg.duration, duration);

    let (styp, frags) = read(&seg.bytes);
    assert_eq!(styp.major_brand, FourCC::new(b"cmfs"));
    assert_eq!(
        styp.compatible_brands,
        vec![FourCC::new(b"cmfs"), FourCC::new(b"msdh")]
    );
    let expected = expected_fragments(chunk, samples, video);
    assert_eq!(frags.len(), expected.len(), "segment {}", seg.number);
    assert_eq!(seg.fragments as usize, expected.len());

    let raw_moofs: Vec<_> = raw_boxes(&seg.bytes)
        .into_iter()
        .filter(|b| &b.kind == b"moof")
        .collect();
    let mut iframes = Vec::new();
    for ((f, idx), raw) in frags.iter().zip(&expected).zip(&raw_moofs) {
        assert_eq!(f.moof.mfhd.sequence_number, seq);
        seq += 1;
        assert_eq!(f.moof.traf.len(), 1);
        let traf = &f.moof.traf[0];
        assert_eq!(traf.tfhd.track_id, 1);
        assert!(traf.tfhd.default_base_is_moof);
        assert_eq!(traf.tfhd.base_data_offset, None);
        assert_eq!(traf.tfhd.default_sample_flags, None);
        let s0 = &chunk.samples[idx[0]];
        assert_eq!(
            traf.tfdt.as_ref().map(|t| t.base_media_decode_time),
            Some(s0.dts),
            "tfdt is the first sample's decode time"
        );
        assert_eq!(traf.trun.len(), 1);
        let trun = &traf.trun[0];
        // default-base-is-moof: the offset counts from the moof to the mdat payload.
        assert_eq!(
            trun.data_offset,
            Some((f.mdat_at + 8 - f.moof_at) as i32),
            "data_offset points at the mdat payload"
        );
        let TrunSamples::Explicit(entries) = &trun.samples else {
            panic!("per-sample trun entries expected");
        };
        assert_eq!(entries.len(), idx.len());
        let mut payload = Vec::new();
        for (e, &i) in entries.iter().zip(idx) {
            let s = &chunk.samples[i];
            assert_eq!(e.duration, Some(s.duration), "sample {i}");
            assert_eq!(e.size, Some(s.size), "sample {i}");
            // Delayed to be non-negative; the init segment's edit list takes it back.
            assert_eq!(
                e.cts,
                Some(s.cts_offset as i64 + chunk.reorder_delay as i64),
                "sample {i}"
            );
            let flags = e.flags.expect("per-sample flags");
            let depends_on = (flags >> 24) & 3;
            let non_sync = (flags >> 16) & 1;
            if s.sync {
                assert_eq!((depends_on, non_sync), (2, 0), "keyframe {i}: {flags:#x}");
            } else {
                assert_eq!((depends_on, non_sync), (1, 1), "sample {i}: {flags:#x}");
            }
            payload.extend_from_slice(sample_bytes(chunk, i));
        }
        assert_eq!(
            f.mdat, payload,
            "mdat holds the fragment's samples in order"
        );

        // Non-negative composition offsets: trun version 0 (unsigned), which every
        // reader takes at face value.
        let traf_raw = raw_find(raw.body(), &[(b"traf", 0)]);
        let trun_raw = raw_find(traf_raw.body(), &[(b"trun", 0)]);
        assert_eq!(trun_raw.version(), 0);
        assert_eq!(trun_raw.flags(), 0x000f01);

        if video && s0.sync {
            iframes.push((f.moof_at, idx[0]));
        }
    }

    // I-frame byte ranges: from the fragment's moof through the end of its keyframe.
    assert_eq!(seg.iframes.len(), iframes.len());
    for (fr, (moof_at, i)) in seg.iframes.iter().zip(iframes) {
        assert_eq!(fr.offset, moof_at as u64);
        assert_eq!(fr.pts, chunk.samples[i].pts() as u64);
        let range = &seg.bytes[fr.offset as usize..(fr.offset + fr.length) as usize];
        assert_eq!(&range[4..8], b"moof");
        assert!(
            range.ends_with(sample_bytes(chunk, i)),
            "the range ends with the keyframe's bytes"
        );
        let moof_len = u32::from_be_bytes(range[..4].try_into().unwrap()) as usize;
        assert_eq!(&range[moof_len + 4..moof_len + 8], b"mdat");
        assert_eq!(range.len(), moof_len + 8 + chunk.samples[i].size as usize);
    }
    seq
}

#[test]
fn video_is_cut_on_the_idr_grid_with_a_fragment_per_keyframe() {
    let chunk = video_chunk(0, 120);
    assert!(
        chunk.samples.iter().any(|s| s.cts_offset < 0),
        "B-frames have negative offsets"
    );
    let segs = cut_segments(&chunk, VIDEO_CUT, 1).unwrap();
    assert_eq!(segs.iter().map(|s| s.number).collect::<Vec<_>>(), [0, 1]);
    let mut seq = 1;
    for (k, seg) in segs.iter().enumerate() {
        let idx: Vec<usize> = (k * 60..k * 60 + 60).collect();
        seq = check_segment(seg, &chunk, &idx, seq, true);
        // Two GOPs of 30 frames: two fragments, two I-frames at 0 and 1.001 s.
        assert_eq!(seg.fragments, 2);
        let pts: Vec<u64> = seg.iframes.iter().map(|f| f.pts).collect();
        assert_eq!(pts, [k as u64 * 60_060, k as u64 * 60_060 + 30_030]);
    }
    assert_eq!(seq, 5);
}

#[test]
fn a_later_chunk_continues_segment_and_fragment_numbers() {
    let chunk = video_chunk(120, 60);
    let segs = cut_segments(&chunk, VIDEO_CUT, 5).unwrap();
    assert_eq!(segs.len(), 1);
    assert_eq!(segs[0].number, 2);
    assert_eq!(segs[0].start, 120 * FRAME as u64);
    let idx: Vec<usize> = (0..60).collect();
    assert_eq!(check_segment(&segs[0], &chunk, &idx, 5, true), 7);
}

#[test]
fn audio_follows_the_video_grid_by_sample_start() {
    let chunk = audio_chunk(0, 200);
    let segs = cut_segments(&chunk, AUDIO_CUT, 1).unwrap();
    // Boundaries at 96,096 and 192,192 ticks: frame 93 starts at 95,232 (segment 0)
    // and frame 94 at 96,256 (segment 1); frame 187 at 191,488, frame 188 at 192,512.
    let counts: Vec<usize> = segs.iter().map(|s| (s.duration / 1024) as usize).collect();
    assert_eq!(counts, [94, 94, 12]);
    let mut seq = 1;
    let mut first = 0;
    for (k, (seg, n)) in segs.iter().zip(counts).enumerate() {
        assert_eq!(seg.number, k as u64);
        assert!(seg.iframes.is_empty());
        let idx: Vec<usize> = (first..first + n).collect();
        seq = check_segment(seg, &chunk, &idx, seq, false);
        assert_eq!(seg.fragments, 1);
        // The first frame starts within one frame after the boundary.
        let boundary = AUDIO_CUT.start_of(k as u64);
        assert!(seg.start >= boundary && seg.start < boundary + 1024);
        first += n;
    }
    assert_eq!(seq, 4);
}

#[test]
fn grid_positions() {
    assert_eq!(AUDIO_CUT.start_of(1), 96_096);
    assert_eq!(AUDIO_CUT.segment_of(96_095), 0);
    assert_eq!(AUDIO_CUT.segment_of(96_096), 1);
    assert_eq!(
        VIDEO_CUT.segment_of(-5),
        0,
        "negative times fall in segment 0"
    );
    // 120 frames at 24000/1001 in 48 kHz: 240,240 ticks, a whole number.
    let odd = SegmentCut {
        num: 120 * 1001 * 48_000,
        den: 24_000,
    };
    assert_eq!(odd.start_of(1), 240_240);
    // One third of a tick is rounded up to the next whole tick.
    let thirds = SegmentCut { num: 10, den: 3 };
    assert_eq!(
        (thirds.start_of(1), thirds.start_of(2), thirds.start_of(3)),
        (4, 7, 10)
    );
}

#[test]
fn a_segment_must_start_with_a_keyframe_on_the_grid() {
    // Starts with a P-frame (the IDR dropped).
    let mut chunk = video_chunk(0, 60);
    let first = chunk.samples.remove(0);
    chunk.payload.drain(..first.size as usize);
    let e = cut_segments(&chunk, VIDEO_CUT, 1).unwrap_err();
    assert_eq!(
        e,
        PackagerError::NoIdrAtBoundary {
            track: "v360".into(),
            segment: 0,
            expected_pts: 0,
            found_pts: Some(2 * FRAME as i64),
        }
    );
    assert!(e.to_string().contains("'v360'"), "{e}");

    // Starts with a keyframe half way through a segment.
    let e = cut_segments(&video_chunk(30, 30), VIDEO_CUT, 1).unwrap_err();
    assert_eq!(
        e,
        PackagerError::NoIdrAtBoundary {
            track: "v360".into(),
            segment: 0,
            expected_pts: 0,
            found_pts: Some(30_030),
        }
    );
}

#[test]
fn decode_times_must_increase() {
    let mut chunk = video_chunk(0, 60);
    chunk.samples[5].dts = chunk.samples[4].dts;
    assert_eq!(
        cut_segments(&chunk, VIDEO_CUT, 1).unwrap_err(),
        PackagerError::NonMonotonic {
            track: "v360".into(),
            sample: 5
        }
    );
}

#[test]
fn a_frame_reordered_beyond_the_delay_is_refused() {
    // The chunk's B-frames are presented one frame early; a delay of less than a
    // frame cannot make that non-negative.
    let mut chunk = video_chunk(0, 60);
    chunk.reorder_delay = FRAME - 1;
    let e = cut_segments(&chunk, VIDEO_CUT, 1).unwrap_err();
    assert_eq!(
        e,
        PackagerError::CompositionOutOfRange {
            track: "v360".into(),
            sample: 2,
            cts_offset: -(FRAME as i32),
            reorder_delay: FRAME - 1,
        }
    );
    assert!(e.to_string().contains("-1001"), "{e}");
    // Nor can any delay make an offset above u32::MAX.
    chunk.reorder_delay = u32::MAX;
    assert!(matches!(
        cut_segments(&chunk, VIDEO_CUT, 1),
        Err(PackagerError::CompositionOutOfRange { sample: 1, .. })
    ));
}

#[test]
fn an_empty_chunk_has_no_segments() {
    let mut chunk = audio_chunk(0, 0);
    assert!(cut_segments(&chunk, AUDIO_CUT, 1).unwrap().is_empty());
    chunk.codec = avc();
    assert!(cut_segments(&chunk, VIDEO_CUT, 1).unwrap().is_empty());
}

#[test]
fn segments_are_byte_identical_across_runs() {
    let chunk = video_chunk(0, 120);
    assert_eq!(
        cut_segments(&chunk, VIDEO_CUT, 1).unwrap(),
        cut_segments(&chunk, VIDEO_CUT, 1).unwrap()
    );
}

/// A GOP of `n` frames in decode order with B-frames up to `depth` deep: the
/// presentation index of each decoded frame. Each P-frame is followed by the B-frames
/// that precede it in presentation, `runs[k] % (depth + 1)` of them, last first (as
/// in a B-pyramid), so the last decoded is presented up to `depth` frames early.
fn reordered_gop(n: usize, depth: usize, runs: &[usize]) -> Vec<usize> {
    let mut order = vec![0];
    let mut next = 1;
    let mut k = 0;
    while next < n {
        let b = (runs[k % runs.len()] % (depth + 1)).min(n - next - 1);
        k += 1;
        order.push(next + b);
        order.extend((next..next + b).rev());
        next += b + 1;
    }
    order
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// Whatever the B-frame structure, a reader that applies the init segment's edit
    /// list (read by mp4-atom) to the trun's composition offsets and the tfdt presents
    /// every frame at its own presentation time, the first IDR at 0; every offset is
    /// non-negative (trun version 0).
    #[test]
    fn presentation_through_the_edit_list_is_exact(
        depth in 0usize..4,
        runs in prop::collection::vec(0usize..8, 1..12),
        gops in 1u64..4,
        duration in prop::sample::select(vec![1000u32, 1001, 512, 3600]),
    ) {
        const N: usize = 12;
        let mut samples = Vec::new();
        let mut data = Vec::new();
        for g in 0..gops {
            for (j, p) in reordered_gop(N, depth, &runs).into_iter().enumerate() {
                let n = g * N as u64 + j as u64;
                let dts = n * duration as u64;
                let pts = (g * N as u64 + p as u64) * duration as u64;
                data.extend(payload(n, 8, if j == 0 { 0x65 } else { 0x41 }));
                samples.push(Sample {
                    dts,
                    cts_offset: (pts as i64 - dts as i64) as i32,
                    duration,
                    sync: j == 0,
                    size: 8,
                });
            }
        }
        let chunk = TrackChunk {
            track: "v".into(),
            codec: avc(),
            timescale: 25_000,
            reorder_delay: depth as u32 * duration,
            samples,
            payload: data,
        };
        let cut = SegmentCut { num: N as u64 * duration as u64, den: 1 };
        let init = init_segment(&chunk.codec, chunk.timescale, chunk.reorder_delay);
        let Some((_, Any::Moov(moov))) = top_level(&init).into_iter().nth(1) else {
            panic!("no moov");
        };
        let media_time = moov.trak[0]
            .edts
            .as_ref()
            .and_then(|e| e.elst.as_ref())
            .map(|e| e.entries[0].media_time.unwrap() as i64)
            .unwrap_or(0);
        let mut presented = Vec::new();
        for seg in cut_segments(&chunk, cut, 1).unwrap() {
            for (_, b) in top_level(&seg.bytes) {
                let Any::Moof(moof) = b else { continue };
                let traf = &moof.traf[0];
                let mut dts = traf.tfdt.as_ref().unwrap().base_media_decode_time as i64;
                let TrunSamples::Explicit(entries) = &traf.trun[0].samples else {
                    panic!("per-sample entries");
                };
                for e in entries {
                    let cts = e.cts.unwrap();
                    prop_assert!(cts >= 0);
                    presented.push(dts + cts - media_time);
                    dts += e.duration.unwrap() as i64;
                }
            }
            for moof in raw_boxes(&seg.bytes).iter().filter(|b| &b.kind == b"moof") {
                let traf = raw_find(moof.body(), &[(b"traf", 0)]);
                prop_assert_eq!(raw_find(traf.body(), &[(b"trun", 0)]).version(), 0);
            }
        }
        let want: Vec<i64> = chunk.samples.iter().map(|s| s.pts()).collect();
        prop_assert_eq!(presented.iter().min().copied(), Some(0));
        prop_assert_eq!(presented, want);
    }

    /// Every non-negative time lies in the segment whose span contains it.
    #[test]
    fn segment_of_and_start_of_agree(num in 1u64..10_000_000, den in 1u64..100_000, t in 0i64..1 << 40) {
        let cut = SegmentCut { num, den };
        let k = cut.segment_of(t);
        prop_assert!(cut.start_of(k) <= t as u64, "{:?} t={} k={}", cut, t, k);
        prop_assert!((t as u64) < cut.start_of(k + 1), "{:?} t={} k={}", cut, t, k);
    }

    /// Audio: whatever the frame size and grid, segments partition the samples in
    /// order, each holding the frames that start in it.
    #[test]
    fn audio_segments_partition_the_samples(frames in 1u64..400, size in prop::sample::select(vec![960u32, 1024, 2048]), seconds in 1u64..5) {
        let mut chunk = audio_chunk(0, frames);
        for s in &mut chunk.samples {
            s.dts = s.dts / 1024 * size as u64;
            s.duration = size;
        }
        let cut = SegmentCut { num: seconds * 48_000, den: 1 };
        let segs = cut_segments(&chunk, cut, 1).unwrap();
        let total: u64 = segs.iter().map(|s| s.duration).sum();
        prop_assert_eq!(total, frames * size as u64);
        for (i, s) in segs.iter().enumerate() {
            prop_assert_eq!(cut.segment_of(s.start as i64), s.number);
            prop_assert_eq!(s.fragments, 1);
            if i > 0 {
                prop_assert_eq!(s.number, segs[i - 1].number + 1);
                prop_assert_eq!(s.start, segs[i - 1].start + segs[i - 1].duration);
            }
        }
    }
}
