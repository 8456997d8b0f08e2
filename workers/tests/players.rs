//! Real players: the output of `vodfarm run` served on 127.0.0.1 and played in headless
//! Chromium by hls.js, dash.js and Shaka, plus FFmpeg over HTTP (players/play.mjs).
//! Needs `players/node_modules` (scripts/test.sh runs `npm ci`) and /usr/bin/chromium:
//! without them this test fails, it never skips.

use std::path::Path;
use std::process::Command;

use crate::support::*;

#[test]
fn hls_js_dash_js_shaka_and_ffmpeg_play_the_ladder() {
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
    let tmp = tempfile::tempdir().unwrap();
    let out = run_title(&master, "play", tmp.path(), &[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = Command::new("node")
        .current_dir(&players)
        .arg("play.mjs")
        .arg(tmp.path().join("origin/play"))
        .arg("234") // the lowest Apple rung fitted to this 640x360 master
        .output()
        .expect("node runs");
    let report = String::from_utf8_lossy(&out.stdout);
    eprintln!("{report}");
    assert!(
        out.status.success(),
        "players failed:\n{report}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // One line per case, all ok: 4 browser cases and 2 FFmpeg reads.
    let lines: Vec<&str> = report.lines().collect();
    assert_eq!(lines.len(), 6, "{report}");
    assert!(lines.iter().all(|l| l.contains("\"ok\":true")), "{report}");
}
