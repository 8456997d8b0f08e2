//! A hand-built presentation (what the packaging stage would measure from real
//! segments, without encoding anything), expected values computed independently of
//! the crate, and golden-file comparison.

use std::path::PathBuf;

use manifests::{AudioTrack, IFrameInfo, Presentation, SegmentInfo, VideoTrack};

/// 30000/1001 video: segments of 60 frames (2.002 s), the last one half as long.
pub const VIDEO_DURATIONS: [u64; 4] = [60_060, 60_060, 60_060, 30_030];
/// AAC frames of 1024 at 48 kHz that start in each 2.002 s segment: 94, 94, 94 and 47
/// (what packager::cut_segments gives for 7.007 s).
pub const AUDIO_DURATIONS: [u64; 4] = [96_256, 96_256, 96_256, 48_128];

pub fn segments(durations: &[u64], bytes: &[u64], iframes: bool) -> Vec<SegmentInfo> {
    let mut start = 0;
    durations
        .iter()
        .zip(bytes)
        .enumerate()
        .map(|(i, (&duration, &bytes))| {
            let s = SegmentInfo {
                uri: format!("{}.m4s", i + 1),
                start,
                duration,
                bytes,
                // One keyframe per 30 frames (1.001 s): each fragment's moof, from the
                // styp's end (24 bytes), through the keyframe.
                iframes: if iframes {
                    (0..duration / 30_030)
                        .map(|k| IFrameInfo {
                            offset: 24 + k * bytes / 2,
                            length: bytes / 8 + k * 100,
                            pts: start + k * 30_030,
                        })
                        .collect()
                } else {
                    Vec::new()
                },
            };
            start += duration;
            s
        })
        .collect()
}

pub fn video(id: &str, width: u32, height: u32, bytes: [u64; 4]) -> VideoTrack {
    VideoTrack {
        id: id.into(),
        width,
        height,
        frame_rate_num: 30_000,
        frame_rate_den: 1001,
        codecs: "avc1.64001F".into(),
        timescale: 30_000,
        segments: segments(&VIDEO_DURATIONS, &bytes, true),
    }
}

pub fn audio() -> AudioTrack {
    AudioTrack {
        id: "audio".into(),
        track: 1,
        language: "und".into(),
        name: "Track 1".into(),
        default: true,
        codecs: "mp4a.40.2".into(),
        channels: 2,
        sample_rate: 48_000,
        timescale: 48_000,
        segments: segments(&AUDIO_DURATIONS, &[24_000, 24_100, 23_900, 12_000], false),
    }
}

/// Three rungs, listed lowest first; v540 (about 2 Mbit/s) is the default variant.
pub fn presentation() -> Presentation {
    Presentation {
        video: vec![
            video("v360", 640, 360, [200_200, 240_000, 180_000, 90_000]),
            video("v540", 960, 540, [500_500, 600_000, 450_000, 230_000]),
            video("v720", 1280, 720, [1_001_000, 1_300_000, 900_000, 420_000]),
        ],
        audio: vec![audio()],
        subtitles: vec![],
    }
}

/// ceil(a / b) on integers.
pub fn ceil_div(a: u128, b: u128) -> u64 {
    a.div_ceil(b) as u64
}

/// (peak segment, mean) bit/s, in exact integer arithmetic, rounded up.
pub fn expected_bitrates(segments: &[SegmentInfo], timescale: u32) -> (u64, u64) {
    let ts = timescale as u128;
    let peak = segments
        .iter()
        .map(|s| ceil_div(s.bytes as u128 * 8 * ts, s.duration as u128))
        .max()
        .unwrap();
    let bytes: u128 = segments.iter().map(|s| s.bytes as u128).sum();
    let ticks: u128 = segments.iter().map(|s| s.duration as u128).sum();
    (peak, ceil_div(bytes * 8 * ts, ticks))
}

/// Compare with `tests/golden/<name>`; `VODFARM_BLESS=1` writes the file instead.
pub fn golden(name: &str, actual: &str) {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(name);
    if std::env::var_os("VODFARM_BLESS").is_some_and(|v| v == "1") {
        std::fs::write(&path, actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e} (run with VODFARM_BLESS=1 to write it)",
            path.display()
        )
    });
    if expected != actual {
        panic!(
            "{name} differs from its golden file (VODFARM_BLESS=1 rewrites it after review):\n{}",
            diff(&expected, actual)
        );
    }
}

/// The differing lines, with their numbers; enough to read without a diff tool.
fn diff(expected: &str, actual: &str) -> String {
    let (e, a): (Vec<&str>, Vec<&str>) = (expected.lines().collect(), actual.lines().collect());
    let mut out = String::new();
    for i in 0..e.len().max(a.len()) {
        let (x, y) = (e.get(i), a.get(i));
        if x != y {
            out += &format!(
                "line {}:\n  - {}\n  + {}\n",
                i + 1,
                x.unwrap_or(&"<none>"),
                y.unwrap_or(&"<none>")
            );
        }
    }
    if out.is_empty() {
        out = "(only line endings differ)".into();
    }
    out
}
