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
