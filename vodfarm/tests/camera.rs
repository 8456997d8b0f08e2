//! Real camera footage (issue 11: "real footage, not test patterns"): a 4 s cut of a CC0
//! night time-lapse, the camera's own MPEG-2 at 720x405 with no colour description
//! (`fixtures::camera`). Master QC measures it, `vodfarm run` publishes it, and FFmpeg's
//! tools read every rendition back.

use std::path::{Path, PathBuf};
use std::process::Command;

use fixtures::camera::{CUT_FRAME, FPS, FRAMES, HEIGHT, WIDTH};

use crate::support::*;

/// A fixed two-rung ladder (no per-title analysis, so the test is quick): the top rung is
/// the 16:9 box the 720x405 master fits exactly at 640x360.
const LADDER: &str = "name = 'camera-test'\npreset = 'veryfast'\nprofile = 'high'\n\
rate_control = 'abr'\nmaxrate_ratio = 1.5\nbufsize_ratio = 2.0\naudio_kbps = 128\n\
[[rung]]\nwidth = 416\nheight = 234\nkbps = 300\n[[rung]]\nwidth = 640\nheight = 360\nkbps = 2500\n";

fn master() -> PathBuf {
    fixtures::camera::city_night(&fixture_dir()).unwrap()
}

/// `key=value` lines of ffprobe's first video stream (or the format).
fn probe(input: &Path, entries: &str) -> String {
    let out = Command::new("ffprobe")
        .args(["-v", "error", "-select_streams", "v:0", "-show_entries"])
        .arg(entries)
        .args(["-of", "default=nw=1"])
        .arg(input)
        .output()
        .expect("ffprobe runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).to_string()
}

fn field<'a>(probed: &'a str, key: &str) -> &'a str {
    probed
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{key}=")))
        .unwrap_or_else(|| panic!("no {key} in {probed}"))
}

/// The frame (0-based) where FFmpeg's scene score is highest: where the shot changes.
fn scene_cut(input: &Path) -> u64 {
    let out = Command::new("ffmpeg")
        .args(["-nostdin", "-hide_banner", "-i"])
        .arg(input)
        .args([
            "-an",
            "-vf",
            "select='gte(scene,0)',metadata=print:key=lavfi.scene_score",
            "-f",
            "null",
            "-",
        ])
        .output()
        .expect("ffmpeg runs");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    // One score per frame from the second on (the first has nothing to compare with).
    let scores: Vec<f64> = err
        .lines()
        .filter_map(|l| l.split("lavfi.scene_score=").nth(1))
        .map(|s| s.trim().parse().unwrap())
        .collect();
    assert!(scores.len() as u64 >= FRAMES - 1, "{} scores", scores.len());
    let (i, _) = scores
        .iter()
        .enumerate()
        .max_by(|a, b| a.1.total_cmp(b.1))
        .unwrap();
    i as u64 + (FRAMES - scores.len() as u64)
}

#[test]
fn camera_cut_is_what_the_fixture_says() {
    let m = master();
    assert_eq!(ffprobe_count(m.to_str().unwrap(), "v:0"), FRAMES);
    let p = probe(
        &m,
        "stream=codec_name,width,height,r_frame_rate,color_primaries,color_space",
    );
    assert_eq!(field(&p, "codec_name"), "mpeg2video");
    assert_eq!(field(&p, "width"), WIDTH.to_string());
    assert_eq!(field(&p, "height"), HEIGHT.to_string());
    assert_eq!(field(&p, "r_frame_rate"), format!("{FPS}/1"));
    assert_eq!(field(&p, "color_primaries"), "unknown");
    assert_eq!(field(&p, "color_space"), "unknown");
    assert_eq!(scene_cut(&m), CUT_FRAME);
}

#[test]
fn camera_master_inspects_clean() {
    let m = master();
    let i = media::inspect(&m, &media::InspectOptions::default()).unwrap();
    assert_eq!(i.container, "mpegts");
    assert_eq!(i.video_codec, "mpeg2video");
    let c = &i.completeness;
    assert_eq!(c.decoded_frames, FRAMES);
    assert_eq!(c.packets_read, FRAMES);
    assert_eq!(
        (c.demux_errors, c.decode_errors, c.damaged_frames),
        (0, 0, 0)
    );
    assert!(!c.ends_damaged);
    assert_eq!(i.truncated(), None);
    // Filmed at night: dark, noisy, but neither black nor frozen anywhere, and no sound.
    assert!(i.black.is_empty(), "black {:?}", i.black);
    assert!(i.frozen.is_empty(), "frozen {:?}", i.frozen);
    assert!(i.audio.is_empty());
    // Progressive (idet agrees with the stream), upright, square pixels, 25 fps constant.
    assert_eq!(i.interlace.field_order, "progressive");
    assert!(!i.interlace.interlaced, "{:?}", i.interlace);
    assert_eq!((i.geometry.width, i.geometry.height), (WIDTH, HEIGHT));
    assert_eq!(
        (i.geometry.sample_aspect.num, i.geometry.sample_aspect.den),
        (1, 1)
    );
    assert_eq!((i.geometry.rotation, i.geometry.flipped), (0, false));
    let rate = i.timing.nominal_rate.expect("a nominal rate");
    assert_eq!((rate.num, rate.den), (FPS, 1));
    assert!(!i.timing.variable, "{:?}", i.timing);
    assert_eq!(i.timing.off_nominal_intervals, 0);
    // The camera wrote no colour description: 8-bit 4:2:0, limited range, the rest unknown.
    assert_eq!(i.colour.pixel_format, "yuv420p");
    assert_eq!(i.colour.bit_depth, 8);
    assert_eq!(i.colour.range, "tv");
    for v in [&i.colour.primaries, &i.colour.transfer, &i.colour.matrix] {
        assert_eq!(v, "unknown", "{:?}", i.colour);
    }
    assert_eq!(i.colour.hdr, None);
    assert!(i.warnings().is_empty(), "{}", i.summary());
}

#[test]
fn camera_master_publishes_every_frame_tagged_bt601() {
    let m = master();
    let frames = ffprobe_count(m.to_str().unwrap(), "v:0");
    let store = tempfile::tempdir().unwrap();
    let ladder = store.path().join("ladder.toml");
    std::fs::write(&ladder, LADDER).unwrap();
    ok(run_title(
        &m,
        "camera",
        store.path(),
        &["--ladder", ladder.to_str().unwrap(), "--workers", "2"],
    ));
    let origin = store.path().join("origin/camera");
    let master_pl = std::fs::read_to_string(origin.join("master.m3u8")).unwrap();
    let mut sizes = Vec::new();
    for e in std::fs::read_dir(&origin).unwrap().flatten() {
        let pl = e.path().join("playlist.m3u8");
        if !pl.is_file() {
            continue;
        }
        let p = probe(
            &pl,
            "stream=codec_type,codec_name,width,height,pix_fmt,color_range,color_primaries,color_transfer,color_space",
        );
        if !p.contains("codec_type=video") {
            continue;
        }
        // Every frame of the master, decoded by FFmpeg from the published playlist.
        assert_eq!(
            ffprobe_count(pl.to_str().unwrap(), "v:0"),
            frames,
            "{}",
            pl.display()
        );
        assert_eq!(field(&p, "codec_name"), "h264");
        assert_eq!(field(&p, "pix_fmt"), "yuv420p");
        // The master says nothing about its colour: vodfarm takes it as players guess a
        // picture under 576 lines (BT.601, SMPTE 170M), leaves the pixels as they are and
        // says so in every rendition, so players no longer have to guess.
        for key in ["color_primaries", "color_transfer", "color_space"] {
            assert_eq!(field(&p, key), "smpte170m", "{key} of {}", pl.display());
        }
        assert_eq!(field(&p, "color_range"), "tv");
        let (w, h): (u32, u32) = (
            field(&p, "width").parse().unwrap(),
            field(&p, "height").parse().unwrap(),
        );
        sizes.push((w, h));
        if (w, h) == (640, 360) {
            // The shot change is on the same frame as in the master: no frame dropped,
            // held or reordered on the way.
            assert_eq!(scene_cut(&pl), CUT_FRAME, "{}", pl.display());
        }
    }
    sizes.sort();
    assert_eq!(sizes, [(416, 234), (640, 360)], "{master_pl}");
    assert!(
        master_pl.contains("FRAME-RATE=25"),
        "the master playlist: {master_pl}"
    );
}
