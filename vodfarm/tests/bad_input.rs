//! Bad masters: one clear line, non-zero exit, quickly, and nothing published or leaked.

use std::time::{Duration, Instant};

use std::process::Output;

use crate::support::*;

#[test]
fn bad_inputs_are_refused_with_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let secret = dir.path().join("secret.txt");
    let marker = "VODFARM-SECRET-7f3a9c";
    std::fs::write(&secret, format!("{marker}\n")).unwrap();
    let inputs = fixtures::bad_inputs(dir.path(), &secret).unwrap();
    assert_eq!(inputs.len(), 7);
    for (what, path, words) in inputs {
        let store = dir.path().join(format!("store-{}", what.replace(' ', "-")));
        let started = Instant::now();
        let out = run_title(&path, "bad", &store, &["--workers", "1"]);
        let took = started.elapsed();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{what}: accepted");
        assert!(took < Duration::from_secs(20), "{what}: took {took:?}");
        let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
        assert_eq!(lines.len(), 1, "{what}: one line, got {stderr:?}");
        assert!(
            lines[0].starts_with("error: ") && lines[0].contains(words),
            "{what}: {:?} lacks {words:?}",
            lines[0]
        );
        assert!(
            !store.join("origin/bad").exists(),
            "{what}: something was published"
        );
        if store.exists() {
            for (name, bytes) in tree(&store) {
                assert!(
                    !String::from_utf8_lossy(&bytes).contains(marker),
                    "{what}: secret leaked into {name}"
                );
            }
        }
    }
}

#[test]
fn bad_title_and_ladder_are_refused() {
    let (_, master) = fixture("h264-24fps-aac");
    let dir = tempfile::tempdir().unwrap();
    let out = run_title(&master, "../etc", dir.path(), &[]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("title id '../etc' is not valid"));
    let out = run_title(&master, "t", dir.path(), &["--ladder", "nope"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown ladder 'nope'"));
    assert!(!dir.path().join("origin").exists());
}

fn refused_with(out: &Output, store: &std::path::Path, title: &str, words: &str) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "accepted: {stderr}");
    let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "one line, got {stderr:?}");
    assert!(lines[0].contains(words), "{:?} lacks {words:?}", lines[0]);
    assert!(!store.join("origin").join(title).exists(), "published");
}

#[test]
fn pictures_too_small_or_too_thin_to_score_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    // libvmaf's ADM crashed the process on pictures 16 or 17 lines high.
    let low = dir.path().join("low.mp4");
    ffmpeg_master(
        &low,
        "640x16",
        1,
        &["-c:v", "libx264", "-pix_fmt", "yuv420p"],
    );
    let store = dir.path().join("s1");
    let out = run_title(&low, "low", &store, &["--ladder", "benchmark"]);
    refused_with(
        &out,
        &store,
        "low",
        "height 16 is outside the accepted range 32..=8192",
    );
    // A sample aspect of 1:100 would display 720x480 pictures 7 pixels wide.
    let thin = dir.path().join("thin.mp4");
    ffmpeg_master(
        &thin,
        "720x480",
        1,
        &[
            "-vf",
            "setsar=1/100",
            "-c:v",
            "libx264",
            "-pix_fmt",
            "yuv420p",
        ],
    );
    let store = dir.path().join("s2");
    let out = run_title(&thin, "thin", &store, &["--ladder", "benchmark"]);
    refused_with(&out, &store, "thin", "display as 7x480");
}

#[test]
fn mezzanine_codecs_publish_every_frame_and_an_unsplittable_one_is_named() {
    let dir = tempfile::tempdir().unwrap();
    // ProRes and DNxHR keep their QuickTime codec tags in the chunk files (NUT has no
    // tag of its own for them); Y4M's raw video keeps the tag that names its pixels.
    let masters = [
        (
            "prores.mov",
            &[
                "-pix_fmt",
                "yuv422p10le",
                "-c:v",
                "prores_ks",
                "-profile:v",
                "3",
            ][..],
        ),
        (
            "dnxhr.mov",
            &[
                "-pix_fmt",
                "yuv422p",
                "-c:v",
                "dnxhd",
                "-profile:v",
                "dnxhr_sq",
            ][..],
        ),
        ("raw.y4m", &["-pix_fmt", "yuv420p"][..]),
    ];
    for (name, args) in masters {
        let master = dir.path().join(name);
        ffmpeg_master(&master, "640x360", 2, args);
        let store = dir.path().join(format!("store-{name}"));
        let out = run_title(&master, "mezz", &store, &["--ladder", "benchmark"]);
        assert!(
            out.status.success(),
            "{name}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let playlist = store.join("origin/mezz/v360p-600k/playlist.m3u8");
        assert_eq!(
            ffprobe_count(playlist.to_str().unwrap(), "v:0"),
            50,
            "{name}"
        );
    }
    // QuickTime Animation loses its bit depth in NUT, without which it cannot be
    // decoded: refused at the split, naming the codec, nothing published.
    let master = dir.path().join("qtrle.mov");
    ffmpeg_master(&master, "640x360", 1, &["-c:v", "qtrle"]);
    let store = dir.path().join("store-qtrle");
    let out = run_title(&master, "anim", &store, &["--ladder", "benchmark"]);
    refused_with(
        &out,
        &store,
        "anim",
        // The user's file, not the store's copy that the split read.
        &format!(
            "error: {}: video codec qtrle cannot be split into chunks",
            master.display()
        ),
    );
}

#[test]
fn a_cover_picture_or_a_directory_is_named_for_what_it_is() {
    let dir = tempfile::tempdir().unwrap();
    // An audio file with its cover: FFmpeg offers the cover as the best video stream
    // (it was refused for its "video frame rate 90000/1").
    let cover = dir.path().join("cover.mp4");
    let status = std::process::Command::new("ffmpeg")
        .args([
            "-v", "error", "-nostdin", "-y", "-f", "lavfi", "-i", "sine=d=2", "-f", "lavfi",
        ])
        .args([
            "-i",
            "testsrc2=s=300x300:d=1",
            "-map",
            "0:a",
            "-map",
            "1:v",
            "-frames:v",
            "1",
        ])
        .args([
            "-c:a",
            "aac",
            "-c:v",
            "png",
            "-disposition:v",
            "attached_pic",
        ])
        .arg(&cover)
        .status()
        .unwrap();
    assert!(status.success());
    let store = dir.path().join("s1");
    let out = run_title(&cover, "cover", &store, &["--ladder", "benchmark"]);
    refused_with(
        &out,
        &store,
        "cover",
        "no video stream, only a cover picture",
    );
    let folder = dir.path().join("folder.mp4");
    std::fs::create_dir(&folder).unwrap();
    let store = dir.path().join("s2");
    let out = run_title(&folder, "folder", &store, &["--ladder", "benchmark"]);
    refused_with(&out, &store, "folder", "not a regular file");
}
