//! A/V sync: the flash-and-beep master (a white frame and the onset of a beep at 1 s and
//! at 3 s) through `vodfarm run`, then each flash presented and each beep started within
//! one frame of the master's time:
//! - by FFmpeg, from the HLS master playlist and from the MPD (over HTTP), in every video
//!   rendition; timestamps are FFmpeg's demuxers' own (`-copyts`): what an FFmpeg-based
//!   player presents;
//! - by hls.js, dash.js and Shaka in Chromium, on the media element's clock
//!   (players/sync.mjs).

use std::path::PathBuf;
use std::process::Command;

use fixtures::sync::{flash_and_beep, FLASHES, FLASH_LUMA, FPS};

use crate::servers::vodfarm_server;
use crate::support::*;

/// One frame at the master's rate, the tolerance.
const FRAME: f64 = 1.0 / FPS as f64;

fn ffmpeg_stdout(input: &str, args: &[&str]) -> String {
    let out = Command::new("ffmpeg")
        .args(["-v", "error", "-nostdin", "-copyts", "-i", input])
        .args(args)
        .args(["-f", "null", "-"])
        .output()
        .expect("ffmpeg runs");
    assert!(
        out.status.success() && out.stderr.is_empty(),
        "ffmpeg {input} {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// `metadata`/`ametadata` print output (`frame:N pts:P pts_time:T` then `key=value`
/// lines) as (pts_time, value) pairs.
fn printed(text: &str) -> Vec<(f64, f64)> {
    let mut out = Vec::new();
    let mut time = None;
    for line in text.lines() {
        if let Some(t) = line
            .split_whitespace()
            .find_map(|w| w.strip_prefix("pts_time:"))
        {
            time = Some(t.parse::<f64>().unwrap());
        } else if let Some((_, v)) = line.split_once('=') {
            out.push((time.expect("a frame line first"), v.parse().unwrap()));
        }
    }
    out
}

/// Presentation times of the frames of video stream `stream` that are flashes.
fn flashes(input: &str, stream: usize) -> Vec<f64> {
    let text = ffmpeg_stdout(
        input,
        &[
            "-map",
            &format!("0:v:{stream}"),
            "-vf",
            "signalstats,metadata=mode=print:key=lavfi.signalstats.YAVG:file=-",
        ],
    );
    let frames = printed(&text);
    assert!(
        frames.len() > 100,
        "{input} v:{stream}: {} frames",
        frames.len()
    );
    frames
        .into_iter()
        .filter(|&(_, luma)| luma > FLASH_LUMA)
        .map(|(t, _)| t)
        .collect()
}

/// Times at which the first audio stream's silence (below -40 dBFS) ends: the beeps'
/// onsets, to the sample.
fn beeps(input: &str) -> Vec<f64> {
    let text = ffmpeg_stdout(
        input,
        &[
            "-map",
            "0:a:0",
            "-af",
            "silencedetect=noise=-40dB:duration=0.05,\
             ametadata=mode=print:key=lavfi.silence_end:file=-",
        ],
    );
    let onsets: Vec<f64> = printed(&text).into_iter().map(|(_, end)| end).collect();
    // Silence after the last beep runs to the end of the stream, where silencedetect
    // ends it too: only onsets before the end are beeps.
    onsets.into_iter().filter(|&t| t < 4.9).collect()
}

/// Every flash and every beep within a frame of the master's times, and so of each other.
fn assert_in_sync(what: &str, flashes: &[f64], beeps: &[f64]) {
    eprintln!("{what}: flashes at {flashes:?}, beeps at {beeps:?}");
    assert_eq!(flashes.len(), FLASHES.len(), "{what}: flashes {flashes:?}");
    assert_eq!(beeps.len(), FLASHES.len(), "{what}: beeps {beeps:?}");
    for ((&want, &flash), &beep) in FLASHES.iter().zip(flashes).zip(beeps) {
        assert!(
            (flash - want).abs() < FRAME && (beep - want).abs() < FRAME,
            "{what}: flash at {flash} s and beep at {beep} s, the master has both at {want} s"
        );
        assert!(
            (flash - beep).abs() < FRAME,
            "{what}: flash at {flash} s, beep at {beep} s"
        );
    }
}

/// How many video streams FFmpeg finds in `input`.
fn video_streams(input: &str) -> usize {
    let out = Command::new("ffprobe")
        .args(["-v", "error", "-select_streams", "v", "-show_entries"])
        .args(["stream=index", "-of", "csv=p=0", input])
        .output()
        .expect("ffprobe runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Streams are listed once more under each program (HLS variant) that holds them.
    let text = String::from_utf8_lossy(&out.stdout);
    let ids: std::collections::BTreeSet<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    ids.len()
}

/// The flash-and-beep title published in a fresh store: (store, origin folder).
fn publish() -> (tempfile::TempDir, PathBuf) {
    let master = write_fixture(&flash_and_beep());
    let tmp = tempfile::tempdir().unwrap();
    ok(run_title(
        &master,
        "sync",
        tmp.path(),
        &["--ladder", "apple-avc"],
    ));
    let origin = tmp.path().join("origin/sync");
    (tmp, origin)
}

#[test]
fn ffmpeg_presents_flash_and_beep_together_from_hls_and_dash() {
    let master = write_fixture(&flash_and_beep());
    let m = master.to_str().unwrap();
    // The master itself: the fixture and the measurement agree with the design.
    assert_in_sync("master", &flashes(m, 0), &beeps(m));

    let (tmp, origin) = publish();
    // The MPD over HTTP (FFmpeg's DASH demuxer reads no local MPD), the HLS master
    // playlist both ways.
    let server = vodfarm_server(&[
        "oca",
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--cache",
        tmp.path().to_str().unwrap(),
    ]);
    let hls = origin.join("master.m3u8");
    let inputs = [
        hls.to_str().unwrap().to_string(),
        format!("{}/origin/sync/master.m3u8", server.url),
        format!("{}/origin/sync/manifest.mpd", server.url),
    ];
    for input in &inputs {
        let renditions = video_streams(input);
        assert!(renditions >= 2, "{input}: {renditions} video streams");
        let beeps = beeps(input);
        for v in 0..renditions {
            assert_in_sync(&format!("{input} v:{v}"), &flashes(input, v), &beeps);
        }
    }
}

#[test]
fn hls_js_dash_js_and_shaka_present_flash_and_beep_together() {
    players_dir();
    let (_tmp, origin) = publish();
    let lines = play(
        &[
            "sync.mjs".into(),
            origin.clone().into_os_string(),
            FLASHES.len().to_string().into(),
            FLASH_LUMA.to_string().into(),
        ],
        "players did not give a full measurement",
    );
    // One line per case: hls.js, dash.js, Shaka on HLS and on DASH.
    assert_eq!(lines.len(), 4, "{lines:?}");
    let times = |v: &serde_json::Value| -> Vec<f64> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|t| t.as_f64().unwrap())
            .collect()
    };
    for l in &lines {
        assert_eq!(l["ok"], true, "{l}");
        assert_in_sync(
            &format!("{} {}", l["player"], l["manifest"]),
            &times(&l["flashes"]),
            &times(&l["beeps"]),
        );
    }
}
