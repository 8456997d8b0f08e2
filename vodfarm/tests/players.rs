//! Real players: the output of `vodfarm run` served on 127.0.0.1 and played in headless
//! Chromium by hls.js, dash.js and Shaka, plus FFmpeg over HTTP (players/play.mjs).
//! Needs `players/node_modules` (scripts/test.sh runs `npm ci`) and /usr/bin/chromium:
//! without them this test fails, it never skips.

use std::path::Path;

use crate::support::*;

#[test]
fn hls_js_dash_js_shaka_and_ffmpeg_play_fixed_and_per_title_ladders() {
    // Fail before encoding when node_modules or Chromium are missing.
    players_dir();
    let (_, master) = fixture("h264-24fps-aac");
    // The fixed Apple ladder and the per-title one (the default).
    for ladder in ["apple-avc", "per-title"] {
        play_ladder(&master, ladder);
    }
}

fn play_ladder(master: &Path, ladder: &str) {
    let tmp = tempfile::tempdir().unwrap();
    let out = run_title(master, "play", tmp.path(), &["--ladder", ladder]);
    assert!(
        out.status.success(),
        "{ladder}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The lowest rendition's height, from the plan.
    let plan: serde_json::Value =
        serde_json::from_slice(&std::fs::read(tmp.path().join("work/play/plan.json")).unwrap())
            .unwrap();
    let lowest = plan["rungs"][0]["height"]
        .as_u64()
        .expect("a rung")
        .to_string();
    let origin = tmp.path().join("origin/play");
    let lines = play(
        &[Path::new("play.mjs"), &origin, Path::new(&lowest)],
        &format!("players failed on the {ladder} ladder"),
    );
    // One line per case, all ok: 4 browser cases and 2 FFmpeg reads.
    assert_eq!(lines.len(), 6, "{lines:?}");
    for l in &lines {
        assert_eq!(l["ok"], true, "{l}");
    }
}

/// The three-track master: each player lists en, fr and und, switches from the track it
/// starts with to another, reports the new language, fetches the new rendition's
/// segments and keeps playing (players/play.mjs --audio).
#[test]
fn hls_js_dash_js_and_shaka_switch_audio_tracks() {
    players_dir();
    let t = crate::audio::publish("three-tracks", 128, &[]);
    let origin = t.origin.to_string_lossy().into_owned();
    let lines = play(
        &["play.mjs", "--audio", "en,fr,und", origin.as_str()],
        "audio switching failed",
    );
    assert_eq!(lines.len(), 6, "{lines:?}");
    for v in &lines[..4] {
        assert_eq!(v["ok"], true, "{v}");
        assert_eq!(v["offered"], serde_json::json!(["en", "fr", "und"]), "{v}");
        assert_ne!(v["reported"], v["before"], "{v}");
    }
    for l in &lines {
        assert_eq!(l["ok"], true, "{l}");
    }
}
