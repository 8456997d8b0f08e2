//! Real players: the output of `vodfarm run` served on 127.0.0.1 and played in headless
//! Chromium by hls.js, dash.js and Shaka, plus FFmpeg over HTTP (players/play.mjs).
//! Needs `players/node_modules` (scripts/test.sh runs `npm ci`) and /usr/bin/chromium:
//! without them this test fails, it never skips.

use std::path::Path;
use std::process::Command;

use crate::support::*;

#[test]
fn hls_js_dash_js_shaka_and_ffmpeg_play_fixed_and_per_title_ladders() {
    let players = Path::new(env!("CARGO_MANIFEST_DIR")).join("../players");
    assert!(
        players.join("node_modules/playwright-core").is_dir(),
        "players/node_modules missing: run `npm ci` in players/ (scripts/test.sh does)"
    );
    assert!(
        Path::new("/usr/bin/chromium").exists(),
        "Debian chromium missing: apt-get install chromium"
    );
    let (_, master) = fixture("h264-24fps-aac");
    // The fixed Apple ladder and the per-title one (the default).
    for ladder in ["apple-avc", "per-title"] {
        play(&players, &master, ladder);
    }
}

fn play(players: &Path, master: &Path, ladder: &str) {
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
    let out = Command::new("node")
        .current_dir(players)
        .arg("play.mjs")
        .arg(tmp.path().join("origin/play"))
        .arg(&lowest)
        .output()
        .expect("node runs");
    let report = String::from_utf8_lossy(&out.stdout);
    eprintln!("{report}");
    assert!(
        out.status.success(),
        "players failed on the {ladder} ladder:\n{report}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // One line per case, all ok: 4 browser cases and 2 FFmpeg reads.
    let lines: Vec<&str> = report.lines().collect();
    assert_eq!(lines.len(), 6, "{report}");
    assert!(lines.iter().all(|l| l.contains("\"ok\":true")), "{report}");
}

/// The three-track master: each player lists en, fr and und, switches from the track it
/// starts with to another, reports the new language, fetches the new rendition's
/// segments and keeps playing (players/play.mjs --audio).
#[test]
fn hls_js_dash_js_and_shaka_switch_audio_tracks() {
    let players = Path::new(env!("CARGO_MANIFEST_DIR")).join("../players");
    assert!(
        players.join("node_modules/playwright-core").is_dir(),
        "players/node_modules missing: run `npm ci` in players/ (scripts/test.sh does)"
    );
    let t = crate::audio::publish("three-tracks", 128, &[]);
    let out = Command::new("node")
        .current_dir(&players)
        .args(["play.mjs", "--audio", "en,fr,und"])
        .arg(&t.origin)
        .output()
        .expect("node runs");
    let report = String::from_utf8_lossy(&out.stdout);
    eprintln!("{report}");
    assert!(
        out.status.success(),
        "audio switching failed:\n{report}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<&str> = report.lines().collect();
    assert_eq!(lines.len(), 6, "{report}");
    for l in &lines[..4] {
        let v: serde_json::Value = serde_json::from_str(l).unwrap();
        assert_eq!(v["ok"], true, "{l}");
        assert_eq!(v["offered"], serde_json::json!(["en", "fr", "und"]), "{l}");
        assert_ne!(v["reported"], v["before"], "{l}");
    }
    assert!(lines.iter().all(|l| l.contains("\"ok\":true")), "{report}");
}
