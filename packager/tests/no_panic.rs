//! Property tests standing in for fuzz targets: whatever bytes an encoded-chunk file
//! holds, reading it is a value or an error, never a panic; and whatever a file that
//! reads back holds, packaging it is too.

use packager::{cut_segments, init_segment, Codec, Sample, SegmentCut, TrackChunk};
use proptest::prelude::*;

use crate::support::*;

/// A small valid file to mutate: a few video frames with B-frames.
fn seed() -> Vec<u8> {
    let mut c = video_chunk(0, 30);
    c.samples.truncate(5);
    let keep: usize = c.samples.iter().map(|s| s.size as usize).sum();
    c.payload.truncate(keep);
    c.to_bytes()
}

#[derive(Debug, Clone)]
enum Edit {
    Set(usize, u8),
    Insert(usize, u8),
    Remove(usize),
    /// Replace a byte with an ASCII digit: inside JSON numbers this makes values
    /// large, small or malformed, which flips alone rarely reach.
    Digit(usize, u8),
    Truncate(usize),
}

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        (any::<usize>(), any::<u8>()).prop_map(|(i, b)| Edit::Set(i, b)),
        (any::<usize>(), any::<u8>()).prop_map(|(i, b)| Edit::Insert(i, b)),
        any::<usize>().prop_map(Edit::Remove),
        (any::<usize>(), 0u8..10).prop_map(|(i, d)| Edit::Digit(i, b'0' + d)),
        any::<usize>().prop_map(Edit::Truncate),
    ]
}

fn apply(mut bytes: Vec<u8>, edits: &[Edit]) -> Vec<u8> {
    for e in edits {
        let n = bytes.len().max(1);
        match *e {
            Edit::Set(i, b) | Edit::Digit(i, b) if !bytes.is_empty() => bytes[i % n] = b,
            Edit::Insert(i, b) => bytes.insert(i % (bytes.len() + 1), b),
            Edit::Remove(i) if !bytes.is_empty() => {
                bytes.remove(i % n);
            }
            Edit::Truncate(i) => bytes.truncate(i % (bytes.len() + 1)),
            _ => {}
        }
    }
    bytes
}

/// Package whatever was read, as the packaging stage would, on a realistic grid.
fn package(chunk: &TrackChunk) {
    let _ = init_segment(&chunk.codec, chunk.timescale, chunk.reorder_delay);
    let cut = match chunk.codec {
        Codec::Avc { .. } => SegmentCut {
            num: 60 * 1001,
            den: 1,
        },
        Codec::Aac { .. } => SegmentCut {
            num: 60 * 1001 * 48_000,
            den: 30_000,
        },
    };
    if let Ok(segs) = cut_segments(chunk, cut, 1) {
        let total: u64 = segs.iter().map(|s| s.duration).sum();
        let expected: u64 = chunk.samples.iter().map(|s| s.duration as u64).sum();
        assert_eq!(total, expected, "every sample lands in one segment");
    }
}

/// Decode times that reach the ends of the i64 and u64 ranges, where presentation
/// time arithmetic can overflow, as well as ordinary ones.
fn dts_base() -> impl Strategy<Value = u64> {
    prop_oneof![
        0u64..1 << 40,
        (i64::MAX as u64 - (1 << 33))..=(i64::MAX as u64 + (1 << 33)),
        (u64::MAX - (1 << 33))..=u64::MAX,
        any::<u64>(),
    ]
}

fn arb_samples() -> impl Strategy<Value = Vec<(u32, i32, bool, u8)>> {
    prop::collection::vec(
        (
            0u32..5000,
            prop_oneof![-3000i32..3000, any::<i32>()],
            any::<bool>(),
            1u8..8,
        ),
        0..40,
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        let _ = TrackChunk::from_bytes(&bytes);
    }

    #[test]
    fn arbitrary_bytes_after_the_magic_never_panic(hlen in prop_oneof![0u32..600, any::<u32>()], rest in prop::collection::vec(any::<u8>(), 0..512)) {
        let mut bytes = b"VFTRACK1".to_vec();
        bytes.extend_from_slice(&hlen.to_le_bytes());
        bytes.extend_from_slice(&rest);
        let _ = TrackChunk::from_bytes(&bytes);
    }

    #[test]
    fn mutated_files_never_panic(edits in prop::collection::vec(edit(), 1..6)) {
        let bytes = apply(seed(), &edits);
        if let Ok(chunk) = TrackChunk::from_bytes(&bytes) {
            // What reads back writes back the same.
            prop_assert_eq!(TrackChunk::from_bytes(&chunk.to_bytes()).unwrap(), chunk.clone());
            package(&chunk);
        }
    }

    /// Sample tables a damaged (but well-formed) file could hold: any decode times,
    /// composition offsets and sync flags. Cutting is an error or segments.
    #[test]
    fn any_sample_table_is_packaged_or_refused(base in dts_base(), table in arb_samples(), video in any::<bool>(), reorder_delay in prop_oneof![0u32..4000, any::<u32>()]) {
        let mut dts = base;
        let mut samples = Vec::new();
        let mut payload = Vec::new();
        for (i, &(duration, cts_offset, sync, size)) in table.iter().enumerate() {
            samples.push(Sample { dts, cts_offset, duration, sync, size: size as u32 });
            payload.extend(std::iter::repeat_n(i as u8, size as usize));
            dts = dts.wrapping_add(duration as u64);
        }
        let chunk = TrackChunk {
            track: "t".into(),
            codec: if video { avc() } else { aac() },
            timescale: 48_000,
            reorder_delay,
            samples,
            payload,
        };
        // Through the file format, as the packaging stage reads it.
        let chunk = TrackChunk::from_bytes(&chunk.to_bytes()).unwrap();
        package(&chunk);
    }
}

/// Found by `any_sample_table_is_packaged_or_refused`: a decode time of 2^63 and a
/// negative offset overflowed the presentation time (`dts as i64 + cts`).
#[test]
fn decode_times_past_i64_do_not_overflow() {
    for (dts, cts_offset) in [(1u64 << 63, -1), (i64::MAX as u64, 1), (u64::MAX, i32::MIN)] {
        let s = Sample {
            dts,
            cts_offset,
            duration: 1024,
            sync: true,
            size: 1,
        };
        assert!(s.pts() >= i64::MAX + i32::MIN as i64, "{dts} {cts_offset}");
        let mut chunk = audio_chunk(0, 1);
        chunk.samples[0].dts = dts;
        chunk.samples[0].cts_offset = cts_offset;
        chunk.payload.truncate(1);
        chunk.samples[0].size = 1;
        package(&chunk);
        chunk.codec = avc();
        package(&chunk);
    }
}
