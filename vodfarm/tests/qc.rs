//! Master QC through the binary: truncated masters are refused with the declared and
//! the decoded figures on one line, a non-zero exit and nothing published;
//! `--accept-truncated` publishes what decodes and says so; the inspection is stored
//! in work/<ID>/inspection.json and summarised by `run` and `status`.

use std::path::Path;

use crate::support::*;

fn qc_dir() -> std::path::PathBuf {
    let d = fixture_dir().join("qc");
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn inspection(store: &Path, title: &str) -> serde_json::Value {
    let p = store.join(format!("work/{title}/inspection.json"));
    serde_json::from_slice(&std::fs::read(&p).unwrap()).unwrap()
}

/// Every file under origin/ (nothing may be published from a refused master).
fn published(store: &Path) -> Vec<String> {
    let origin = store.join("origin");
    if !origin.exists() {
        return vec![];
    }
    tree(&origin).into_keys().collect()
}

fn refused_line(out: &std::process::Output) -> String {
    assert!(!out.status.success(), "accepted");
    let stderr = String::from_utf8_lossy(&out.stderr);
    let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "one line, got {stderr:?}");
    lines[0].to_string()
}

#[test]
fn truncated_faststart_mp4_is_refused_with_both_numbers() {
    let master = fixtures::qc::truncated_mp4(&qc_dir()).unwrap();
    // What FFmpeg itself decodes of it, independently of our code.
    let decodable = ffprobe_count(master.to_str().unwrap(), "v:0");
    assert!(decodable < fixtures::qc::FASTSTART_FRAMES);
    let tmp = tempfile::tempdir().unwrap();
    let store = tmp.path().join("store");
    let out = run_title(
        &master,
        "cut",
        &store,
        &["--ladder", "benchmark", "--workers", "1"],
    );
    let line = refused_line(&out);
    let want = format!(
        "error: master is truncated: header declares 150 frames (6.00 s), {decodable} decode ({:.2} s)",
        decodable as f64 / 25.0
    );
    assert_eq!(line, want);
    // `run` inspects before it writes anything: no store, nothing published.
    assert!(!store.exists(), "{:?}", published(&store));
}

#[test]
fn truncated_ts_is_refused_with_both_numbers() {
    let master = fixtures::qc::truncated_ts(&qc_dir()).unwrap();
    // FFmpeg counts every frame it gets a picture out of, the last one concealed.
    let read = ffprobe_count(master.to_str().unwrap(), "v:0");
    let tmp = tempfile::tempdir().unwrap();
    let store = tmp.path().join("store");
    let out = run_title(
        &master,
        "cut",
        &store,
        &["--ladder", "benchmark", "--workers", "1"],
    );
    let line = refused_line(&out);
    let prefix =
        format!("error: master is truncated: the file ends inside a frame: {read} frames read (");
    assert!(line.starts_with(&prefix), "{line}\nwanted {prefix}");
    // The time the packets read span (B-frames: more than their count), then what
    // decodes whole.
    let (span, rest) = line[prefix.len()..].split_once(" s), ").unwrap();
    assert!(span.parse::<f64>().unwrap() >= read as f64 / 25.0, "{line}");
    let whole: u64 = rest.split(' ').next().unwrap().parse().unwrap();
    assert!(whole < read && whole > 0, "{whole} of {read}");
    assert_eq!(
        rest,
        format!(
            "{whole} decode whole from the start ({:.2} s)",
            whole as f64 / 25.0
        )
    );
    assert!(!store.exists(), "{:?}", published(&store));
}

#[test]
fn accept_truncated_publishes_what_decodes_and_says_so() {
    let master = fixtures::qc::truncated_mp4(&qc_dir()).unwrap();
    let decodable = ffprobe_count(master.to_str().unwrap(), "v:0");
    let tmp = tempfile::tempdir().unwrap();
    let store = tmp.path().join("store");
    let args = ["--ladder", "benchmark", "--workers", "2"];
    // Refused first; the same title then takes the flag (it was never planned).
    refused_line(&run_title(&master, "cut", &store, &args));
    let mut with_flag = args.to_vec();
    with_flag.push("--accept-truncated");
    let out = run_title(&master, "cut", &store, &with_flag);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "master QC: master is truncated: header declares 150 frames (6.00 s), {decodable} decode"
        )) && stderr.contains(&format!("accepted (--accept-truncated): published {decodable} frames")),
        "{stderr}"
    );
    let i = inspection(&store, "cut");
    assert_eq!(i["verdict"], "accepted-truncated");
    assert_eq!(i["published_frames"], decodable);
    // Every rendition has exactly the frames that decode, and decodes cleanly.
    let origin = store.join("origin/cut");
    let text = std::fs::read(origin.join("master.m3u8")).unwrap();
    let pl = m3u8_rs::parse_master_playlist_res(&text).unwrap();
    let variants: Vec<_> = pl.variants.iter().filter(|v| !v.is_i_frame).collect();
    assert!(!variants.is_empty());
    for v in variants {
        let d = (25.0 / v.frame_rate.unwrap()).round() as u64;
        let p = origin.join(&v.uri);
        assert_eq!(ffmpeg_decode_errors(p.to_str().unwrap()), "");
        assert_eq!(
            ffprobe_count(p.to_str().unwrap(), "v:0"),
            decodable.div_ceil(d),
            "{}",
            v.uri
        );
    }
    let st = ok(vodfarm(&[
        "status",
        "cut",
        "--store",
        store.to_str().unwrap(),
    ]));
    assert!(
        st.contains("Published") && st.contains("accepted (--accept-truncated)"),
        "{st}"
    );
}

#[test]
fn stretches_are_listed_in_inspection_json_and_status() {
    let master = fixtures::qc::stretches(&qc_dir()).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let store = tmp.path().join("store");
    let out = run_title(
        &master,
        "s",
        &store,
        &["--ladder", "benchmark", "--workers", "2"],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let i = inspection(&store, "s");
    assert_eq!(i["verdict"], "passed");
    let at = |v: &serde_json::Value, want: (f64, f64)| {
        let s = v["start_s"].as_f64().unwrap();
        let e = v["end_s"].as_f64().unwrap();
        assert!(
            (s - want.0).abs() <= 0.5 && (e - want.1).abs() <= 0.5,
            "{v} vs {want:?}"
        );
    };
    let insp = &i["inspection"];
    assert_eq!(insp["black"].as_array().unwrap().len(), 1, "{insp}");
    at(&insp["black"][0], fixtures::qc::BLACK);
    assert_eq!(insp["frozen"].as_array().unwrap().len(), 1, "{insp}");
    at(&insp["frozen"][0], fixtures::qc::FROZEN);
    assert_eq!(
        insp["audio"][0]["silent"].as_array().unwrap().len(),
        1,
        "{insp}"
    );
    at(&insp["audio"][0]["silent"][0], fixtures::qc::SILENT);
    // Warnings, not refusals: published, and said in the summary and the status.
    assert!(
        stderr.contains("master QC: 300 frames (12.00 s) decode; warnings: black 2.0-5.0 s"),
        "{stderr}"
    );
    let st = ok(vodfarm(&[
        "status",
        "s",
        "--store",
        store.to_str().unwrap(),
    ]));
    assert!(
        st.contains("Published") && st.contains("frozen") && st.contains("silent"),
        "{st}"
    );
}

/// Times (seconds) of the frames FFmpeg's own scene score (`select`'s, another measure
/// than the `scdet` the inspection runs) calls new shots.
fn ffmpeg_scene_changes(master: &Path) -> Vec<f64> {
    let out = std::process::Command::new("ffmpeg")
        .args(["-v", "info", "-nostdin", "-i"])
        .arg(master)
        .args([
            "-vf",
            "select='gt(scene,0.25)',showinfo",
            "-an",
            "-f",
            "null",
            "-",
        ])
        .output()
        .expect("ffmpeg runs");
    assert!(out.status.success());
    String::from_utf8_lossy(&out.stderr)
        .lines()
        .filter_map(|l| l.split("pts_time:").nth(1))
        .filter_map(|t| t.split_whitespace().next()?.parse().ok())
        .collect()
}

/// Frame numbers (from their presentation times, 24 fps) of the key frames of a
/// published rendition, read by ffprobe through its playlist.
fn key_frames(playlist: &Path) -> Vec<u64> {
    let out = std::process::Command::new("ffprobe")
        .args(["-v", "error", "-select_streams", "v:0", "-show_entries"])
        .args(["frame=key_frame,pts_time", "-of", "csv=p=0"])
        .arg(playlist)
        .output()
        .expect("ffprobe runs");
    assert!(out.status.success());
    // Lines are "key_frame,pts_time" (side data, when any, on lines of their own).
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| {
            let mut f = l.split(',');
            let key = f.next()?.trim() == "1";
            let t: f64 = f.next()?.trim().parse().ok()?;
            key.then(|| (t * 24.0).round() as u64)
        })
        .collect()
}

#[test]
fn shots_found_at_ingest_start_an_idr_in_every_rendition() {
    // 6 s of the trailer from 35 s: hard cuts at 36.0 s and 37.5 s (1 s and 2.5 s in).
    let master = fixtures::qc::footage_cut(&qc_dir(), 35, 6).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let store = tmp.path().join("store");
    ok(run_title(
        &master,
        "cuts",
        &store,
        &["--ladder", "benchmark"],
    ));
    let shots: Vec<f64> = inspection(&store, "cuts")["inspection"]["shots"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap())
        .collect();
    let theirs = ffmpeg_scene_changes(&master);
    assert!(theirs.len() >= 2, "FFmpeg finds {theirs:?}");
    // The same cuts as FFmpeg's scene score, to the frame (24 fps).
    assert_eq!(
        shots.len(),
        theirs.len(),
        "ours {shots:?}, FFmpeg's {theirs:?}"
    );
    for (a, b) in shots.iter().zip(&theirs) {
        assert!(
            (a - b).abs() < 0.5 / 24.0,
            "ours {shots:?}, FFmpeg's {theirs:?}"
        );
    }
    let plan: serde_json::Value =
        serde_json::from_slice(&std::fs::read(store.join("work/cuts/plan.json")).unwrap()).unwrap();
    let idrs: Vec<u64> = plan["shot_idrs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap())
        .collect();
    // 1.0 s is frame 24, half-way between the grid's IDRs at 0 and 48: an IDR of its own.
    assert!(idrs.contains(&24), "{idrs:?}");
    let origin = store.join("origin/cuts");
    let mut renditions = 0;
    for e in std::fs::read_dir(&origin).unwrap() {
        let dir = e.unwrap().path();
        // Video renditions only (v360p-600k, not the audio's a-und-128k-2ch).
        if !dir.file_name().unwrap().to_string_lossy().starts_with('v') {
            continue;
        }
        let playlist = dir.join("playlist.m3u8");
        renditions += 1;
        let keys = key_frames(&playlist);
        for f in idrs.iter().chain(&[0, 48, 96]) {
            assert!(
                keys.contains(f),
                "{}: key frames {keys:?}",
                playlist.display()
            );
        }
    }
    // The benchmark ladder's rungs up to the master's 720p.
    assert_eq!(renditions, 3);

    // The same master with --no-shot-idrs (the baseline shot-aware encoding is
    // compared with): the shots are still found, but the plan forces no key frame
    // for them, and the request says so.
    ok(run_title(
        &master,
        "cuts-plain",
        &store,
        &["--ladder", "benchmark", "--no-shot-idrs"],
    ));
    assert_eq!(
        inspection(&store, "cuts-plain")["inspection"]["shots"]
            .as_array()
            .unwrap()
            .len(),
        shots.len()
    );
    let read = |key: &str| -> serde_json::Value {
        serde_json::from_slice(&std::fs::read(store.join(key)).unwrap()).unwrap()
    };
    assert_eq!(
        read("work/cuts-plain/plan.json")["shot_idrs"],
        serde_json::json!([])
    );
    assert_eq!(read("ingest/cuts-plain/request.json")["shot_idrs"], false);
    assert!(
        read("ingest/cuts/request.json").get("shot_idrs").is_none(),
        "on: not written"
    );
}

fn ffmpeg(args: &[&str]) {
    let status = std::process::Command::new("ffmpeg")
        .args(["-v", "error", "-nostdin", "-y"])
        .args(args)
        .status()
        .expect("ffmpeg runs");
    assert!(status.success(), "ffmpeg {args:?}");
}

/// MPEG-TS recordings of 2 s of the test pattern joined into `dir/NAME.ts`, as a
/// broadcast capture or a careless `cat` joins them: each part's size, its extra
/// options (filters, x264) and the clock offset it starts at.
fn joined_ts(dir: &Path, name: &str, parts: &[(&str, &[&str], &str)]) -> std::path::PathBuf {
    let mut joined = Vec::new();
    for (i, (size, extra, offset)) in parts.iter().enumerate() {
        let p = dir.join(format!("{name}-{i}.ts"));
        let pattern = format!("testsrc2=s={size}:r=25:d=2");
        let mut args = vec!["-f", "lavfi", "-i", &pattern];
        args.extend_from_slice(extra);
        args.extend([
            "-c:v",
            "libx264",
            "-pix_fmt",
            "yuv420p",
            "-output_ts_offset",
        ]);
        args.extend([*offset, "-f", "mpegts", p.to_str().unwrap()]);
        ffmpeg(&args);
        joined.extend(std::fs::read(&p).unwrap());
    }
    let master = dir.join(format!("{name}.ts"));
    std::fs::write(&master, joined).unwrap();
    master
}

#[test]
fn a_master_that_changes_shape_is_refused_even_when_truncation_is_accepted() {
    // Two MPEG-TS recordings joined, 4:3 then 16:9 on the same 720x576 pictures: the
    // second half was published squeezed into the first's shape.
    let tmp = tempfile::tempdir().unwrap();
    let master = joined_ts(
        tmp.path(),
        "joined",
        &[
            ("720x576", &["-vf", "setsar=16/15", "-bf", "0"], "0"),
            ("720x576", &["-vf", "setsar=64/45", "-bf", "0"], "2.04"),
        ],
    );
    let store = tmp.path().join("store");
    let out = run_title(
        &master,
        "joined",
        &store,
        &["--ladder", "benchmark", "--accept-truncated"],
    );
    let line = refused_line(&out);
    assert!(
        line.starts_with(
            "error: master's pictures change from 720x576 SAR 16:15 to 720x576 SAR 64:45 at 2.0"
        ),
        "{line}"
    );
    assert!(!store.exists(), "{:?}", published(&store));

    // A resolution switch that keeps the shape (a WebRTC recording) is scaled, not
    // refused: every frame, at the rendition's size.
    let master = joined_ts(
        tmp.path(),
        "switched",
        &[
            ("640x360", &["-bf", "0"], "0"),
            ("320x180", &["-bf", "0"], "2"),
        ],
    );
    let store = tmp.path().join("store2");
    let out = run_title(&master, "switched", &store, &["--ladder", "benchmark"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let playlist = store.join("origin/switched/v360p-600k/playlist.m3u8");
    assert_eq!(ffprobe_count(playlist.to_str().unwrap(), "v:0"), 100);
}

#[test]
fn a_master_whose_decode_times_go_back_is_refused_by_name() {
    // Two B-frame MPEG-TS recordings joined where the second's clock starts inside
    // the first's: the split failed at ingest with "writing chunk packet: Invalid
    // argument".
    let tmp = tempfile::tempdir().unwrap();
    let master = joined_ts(
        tmp.path(),
        "joined",
        &[("640x360", &[], "0"), ("640x360", &[], "2")],
    );
    let store = tmp.path().join("store");
    let out = run_title(&master, "joined", &store, &["--ladder", "benchmark"]);
    let line = refused_line(&out);
    assert!(
        line.starts_with("error: master's video decode times go back from "),
        "{line}"
    );
    assert!(!store.exists(), "{:?}", published(&store));
}

#[test]
fn complete_masters_with_an_edit_list_or_a_late_first_timestamp_publish_whole() {
    let tmp = tempfile::tempdir().unwrap();
    let long = tmp.path().join("long.mp4");
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "testsrc2=s=640x360:r=25:d=8",
        "-c:v",
        "libx264",
        "-g",
        "100",
        "-pix_fmt",
        "yuv420p",
        long.to_str().unwrap(),
    ]);
    // Cut by stream copy between key frames: the header's sample count includes the
    // frames before the cut that the edit list hides (it was refused as truncated).
    let cut = tmp.path().join("cut.mp4");
    ffmpeg(&[
        "-ss",
        "2.5",
        "-i",
        long.to_str().unwrap(),
        "-c",
        "copy",
        "-t",
        "4",
        cut.to_str().unwrap(),
    ]);
    // Matroska's Duration counts from the segment's time 0: 4 s from 10 s declares 14.
    let late = tmp.path().join("late.mkv");
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "testsrc2=s=640x360:r=25:d=4",
        "-c:v",
        "libx264",
        "-pix_fmt",
        "yuv420p",
        "-output_ts_offset",
        "10",
        late.to_str().unwrap(),
    ]);
    for master in [cut, late] {
        let shown = ffprobe_count(master.to_str().unwrap(), "v:0");
        let store = tmp.path().join("store");
        let out = run_title(&master, "whole", &store, &["--ladder", "benchmark"]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let playlist = store.join("origin/whole/v360p-600k/playlist.m3u8");
        assert_eq!(
            ffprobe_count(playlist.to_str().unwrap(), "v:0"),
            shown,
            "{}",
            master.display()
        );
        assert_eq!(inspection(&store, "whole")["verdict"], "passed");
        std::fs::remove_dir_all(&store).unwrap();
    }
}

#[test]
fn a_second_video_stream_is_named_in_the_warnings() {
    // It was dropped without a word.
    let tmp = tempfile::tempdir().unwrap();
    let master = tmp.path().join("two.mp4");
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "testsrc2=s=640x360:r=25:d=2",
        "-f",
        "lavfi",
        "-i",
        "smptebars=s=320x240:r=25:d=2",
        "-map",
        "0:v",
        "-map",
        "1:v",
        "-c:v",
        "libx264",
        "-pix_fmt",
        "yuv420p",
        master.to_str().unwrap(),
    ]);
    let store = tmp.path().join("store");
    let out = run_title(&master, "two", &store, &["--ladder", "benchmark"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let warnings = inspection(&store, "two")["warnings"].to_string();
    assert!(
        warnings.contains("1 more video stream(s) not used: stream 1 (320x240 h264)"),
        "{warnings}"
    );
}
