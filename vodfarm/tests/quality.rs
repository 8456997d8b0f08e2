//! VMAF measurement and per-title ladders: VMAF against itself and against the `vmaf`
//! tool that libvmaf-sys builds, and easy content getting a cheaper ladder than hard.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::support::*;

fn ffmpeg(args: &[&str]) {
    let out = Command::new("ffmpeg")
        .args(["-y", "-v", "error", "-nostdin"])
        .args(args)
        .output()
        .expect("ffmpeg runs");
    assert!(
        out.status.success(),
        "ffmpeg {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The `vmaf` command-line tool libvmaf-sys built beside this test binary.
fn vmaf_tool() -> PathBuf {
    let target = Path::new(env!("CARGO_TARGET_TMPDIR")).parent().unwrap();
    let mut found: Vec<PathBuf> = Vec::new();
    for profile in std::fs::read_dir(target).unwrap().flatten() {
        let build = profile.path().join("build");
        let Ok(dirs) = std::fs::read_dir(&build) else {
            continue;
        };
        for d in dirs.flatten() {
            let tool = d.path().join("out/build/tools/vmaf");
            if d.file_name().to_string_lossy().starts_with("libvmaf-sys-") && tool.is_file() {
                found.push(tool);
            }
        }
    }
    found.sort();
    found
        .pop()
        .unwrap_or_else(|| panic!("libvmaf-sys built no vmaf tool under {}", target.display()))
}

#[test]
fn vmaf_against_itself_and_against_the_vmaf_tool() {
    let (m, master) = fixture("h264-24fps-aac");
    let same = media::compare_files(&master, &master, media::QualityOptions::default()).unwrap();
    assert!(same.vmaf_mean >= 99.0, "self VMAF {}", same.vmaf_mean);
    assert_eq!(same.pairs as u64, m.frames);

    // A degraded encode: a quarter of the pixels at a high CRF.
    let tmp = tempfile::tempdir().unwrap();
    let p = |n: &str| tmp.path().join(n).to_str().unwrap().to_string();
    let m_s = master.to_str().unwrap();
    ffmpeg(&[
        "-i",
        m_s,
        "-vf",
        "scale=320:180",
        "-c:v",
        "libx264",
        "-crf",
        "36",
        &p("dist.mp4"),
    ]);
    let ours = media::compare_files(
        &master,
        Path::new(&p("dist.mp4")),
        media::QualityOptions::default(),
    )
    .unwrap();
    assert_eq!(ours.pairs as u64, m.frames);
    assert!(ours.vmaf_mean < 90.0, "degraded VMAF {}", ours.vmaf_mean);

    // The same pair through the vmaf tool: raw y4m, the distorted one scaled back up
    // with the same (bicubic) scaler.
    ffmpeg(&["-i", m_s, "-pix_fmt", "yuv420p", &p("ref.y4m")]);
    ffmpeg(&[
        "-i",
        &p("dist.mp4"),
        "-vf",
        "scale=640:360:flags=bicubic",
        "-pix_fmt",
        "yuv420p",
        &p("dist.y4m"),
    ]);
    let out = Command::new(vmaf_tool())
        .args([
            "-r",
            &p("ref.y4m"),
            "-d",
            &p("dist.y4m"),
            "--model",
            "version=vmaf_v0.6.1",
            "--json",
            "-o",
            &p("vmaf.json"),
            "-q",
        ])
        .output()
        .expect("vmaf runs");
    assert!(
        out.status.success(),
        "vmaf: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(p("vmaf.json")).unwrap()).unwrap();
    let tool = json["pooled_metrics"]["vmaf"]["mean"]
        .as_f64()
        .expect("pooled mean");
    assert!(
        (ours.vmaf_mean - tool).abs() <= 0.5,
        "ours {:.3} vs vmaf tool {tool:.3}",
        ours.vmaf_mean
    );
}

fn analyze(master: &Path, dir: &Path, extra: &[&str]) -> ladders::Decision {
    let json = dir.join(format!(
        "{}{}.json",
        master.file_stem().unwrap().to_string_lossy(),
        extra.len()
    ));
    let svg = json.with_extension("svg");
    let mut args = vec![
        "ladder",
        "analyze",
        master.to_str().unwrap(),
        "--json",
        json.to_str().unwrap(),
        "--svg",
        svg.to_str().unwrap(),
    ];
    args.extend(extra);
    let out = vodfarm(&args);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("chosen rungs") && stdout.contains("analysis: 1 window"),
        "{stdout}"
    );
    let text = std::fs::read_to_string(&svg).unwrap();
    assert!(text.starts_with("<svg") && text.contains("convex hull"));
    serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap()
}

#[test]
fn easy_content_gets_a_cheaper_ladder_than_hard_content() {
    let set = fixtures::content_set(640, 360, 48);
    let dir = fixture_dir();
    let tmp = tempfile::tempdir().unwrap();
    let write = |name: &str| {
        set.iter()
            .find(|m| m.name == name)
            .unwrap()
            .write(&dir)
            .unwrap()
    };
    let easy = analyze(&write("slides-360p"), tmp.path(), &[]);
    let hard = analyze(&write("high-motion-360p"), tmp.path(), &[]);
    let top = |d: &ladders::Decision| d.rungs.last().unwrap().rung.bitrate;
    assert!(
        top(&easy) < top(&hard),
        "easy:\n{}\nhard:\n{}",
        easy.table(),
        hard.table()
    );
    assert!(
        easy.rungs.len() <= hard.rungs.len(),
        "easy:\n{}\nhard:\n{}",
        easy.table(),
        hard.table()
    );
    // Every point measured (the default policy probes the full grid), the hull drawn
    // from them.
    assert_eq!(easy.points.len(), 2 * 3);
    assert!(!easy.hull.is_empty());
    // Adaptive probing (opt-in): both sizes at the middle CRF, then only the steps
    // that can move the hull, in rounds; fewer points, a ladder still chosen.
    let policy = tmp.path().join("adaptive.toml");
    std::fs::write(
        &policy,
        include_str!("../../ladders/presets/per-title.toml")
            .replace("adaptive = false", "adaptive = true"),
    )
    .unwrap();
    let adaptive = analyze(
        &write("high-motion-360p"),
        tmp.path(),
        &["--policy", policy.to_str().unwrap()],
    );
    let n = adaptive.points.len();
    assert!((3..2 * 3).contains(&n), "{}", adaptive.table());
    assert_eq!(adaptive.points.iter().filter(|p| p.crf == 29.0).count(), 2);
    assert!(!adaptive.rungs.is_empty());
}

/// Every rendition shows the master's pictures at the master's times: a picture
/// shifted by even one frame drops VMAF far below these bounds on moving test content.
#[test]
fn renditions_match_the_master_frame_for_frame() {
    // The H.264 fixture again with 2.5 s closed GOPs: the chunk from 8 s starts at the
    // IDR at 7.5 s and holds nothing before it (a closed group needs no group before).
    let long_gop = {
        let (_, master) = fixture("h264-24fps-aac");
        let out = fixture_dir().join("h264-24fps-gop60.mp4");
        if !out.is_file() {
            let tmp = fixture_dir().join(format!(".tmp-{}-gop60.mp4", std::process::id()));
            ffmpeg(&[
                "-i",
                master.to_str().unwrap(),
                "-c:v",
                "libx264",
                "-preset",
                "veryfast",
                "-x264-params",
                "keyint=60:min-keyint=60:scenecut=0",
                "-c:a",
                "copy",
                tmp.to_str().unwrap(),
            ]);
            std::fs::rename(&tmp, &out).unwrap();
        }
        out
    };
    for name in ["h264-24fps-aac", "mpeg2-29.97fps-ts", "gop60"] {
        let master = if name == "gop60" {
            long_gop.clone()
        } else {
            fixture(name).1
        };
        let tmp = tempfile::tempdir().unwrap();
        let out = run_title(&master, "q", tmp.path(), &["--ladder", "apple-avc"]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let store = workers::store::LocalStore::open(tmp.path()).unwrap();
        let t = workers::TitleId::parse("q").unwrap();
        let opts = media::QualityOptions {
            threads: 2,
            subsample: 3,
        };
        let r = workers::evaluate::rendition_quality(&store, &t, &master, opts).unwrap();
        let top = r.last().unwrap();
        assert!(top.vmaf >= 70.0 && top.vmaf_p5 >= 50.0, "{name}: {r:#?}");
        for x in &r {
            assert!(x.vmaf_p5 >= 25.0, "{name}: a picture off its slot? {r:#?}");
        }
        // What the farm measured itself (a window per chunk, scored while encoding)
        // agrees with the published files decoded whole by FFmpeg and scored against
        // the master, and it is in the status record and the run summary.
        let st = workers::status::read(&store, &t).unwrap();
        assert_eq!(st.quality.len(), r.len(), "{name}: {:#?}", st.quality);
        for (farm, whole) in st.quality.iter().zip(&r) {
            assert_eq!(farm.id, whole.id);
            assert!(
                (farm.kbps - whole.kbps).abs() < 0.01 * whole.kbps,
                "{name}: {farm:?} vs {whole:?}"
            );
            let v = farm.vmaf.expect("measured");
            assert!(
                (v - whole.vmaf).abs() <= 3.0 && farm.frames_scored > 0,
                "{name} {}: farm measured VMAF {v:.2}, whole file {:.2}",
                farm.id,
                whole.vmaf
            );
        }
        if name == "gop60" {
            let chunk = tmp.path().join("work/q/chunks/1.nut");
            let packets = Command::new("ffprobe")
                .args(["-v", "error", "-count_packets", "-select_streams", "v:0"])
                .args(["-show_entries", "stream=nb_read_packets", "-of", "csv=p=0"])
                .arg(&chunk)
                .output()
                .unwrap();
            assert_eq!(
                String::from_utf8_lossy(&packets.stdout).trim(),
                "36",
                "chunk 1 should hold frames 180..216 only"
            );
        }
        let summary = String::from_utf8_lossy(&out.stderr);
        assert!(
            summary.contains(&format!("rendition {} ", top.id)) && summary.contains(" VMAF "),
            "{summary}"
        );
    }
}

/// Encode `seconds` of the lavfi `source` to an H.264 master in `dir`, publish it as
/// `title` through `vodfarm run` (with the default per-title ladder unless `extra` says
/// otherwise), and return the store and the title's ladder decision (at least one
/// rung).
fn per_title_run(
    dir: &Path,
    source: &str,
    seconds: u32,
    title: &str,
    extra: &[&str],
) -> (PathBuf, ladders::Decision) {
    let master = dir.join(format!("{title}.mp4"));
    let seconds = seconds.to_string();
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        source,
        "-t",
        &seconds,
        "-c:v",
        "libx264",
        "-pix_fmt",
        "yuv420p",
        master.to_str().unwrap(),
    ]);
    let store = dir.join("store");
    let out = run_title(&master, title, &store, extra);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let ladder = store.join(format!("work/{title}/ladder.json"));
    let decision: ladders::Decision =
        serde_json::from_slice(&std::fs::read(ladder).unwrap()).unwrap();
    assert!(!decision.rungs.is_empty());
    (store, decision)
}

/// An 8 s master whose third 2 s interval is far harder than the rest (heavy grain
/// there only): that window's curves put a rung several VMAF from what the title gets.
const GRAIN_IN_ONE_INTERVAL: &str =
    "testsrc2=size=320x180:rate=24,noise=alls=60:allf=t:enable='between(t,4,6)'";

/// The default policy probes at least four windows spread over the title: a 20 s
/// master (ten 2 s intervals) whose second half is heavy grain is probed on four
/// intervals, two in each half, as the title is, and each rung's prediction is what the
/// published rendition measures (the farm's own sampled VMAF, stored in the decision),
/// with no rung check. One window (the middle interval, grainy) put rungs far off.
#[test]
fn rungs_are_predicted_from_four_windows_across_the_title() {
    let tmp = tempfile::tempdir().unwrap();
    let (_, decision) = per_title_run(
        tmp.path(),
        "testsrc2=size=320x180:rate=24,noise=alls=60:allf=t:enable='between(t,10,20)'",
        20,
        "w",
        &[],
    );
    let master = tmp.path().join("w.mp4");
    let out = vodfarm(&["ladder", "analyze", master.to_str().unwrap()]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("analysis: 4 window(s), 192 of 480 frames"),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Each point keeps its four windows' own VMAF, and each rung the standard error
    // they give its prediction: two clean windows and two grainy ones are far apart
    // at low rates (at the top both are near the ceiling).
    assert!(decision.points.iter().all(|p| p.windows.len() == 4));
    let mut widest = 0.0f64;
    for r in &decision.rungs {
        assert!(r.check.is_none(), "{}", decision.table());
        let se = r.predicted_se.expect("four windows give a standard error");
        assert!(se > 0.0, "{}: ±{se:.2}\n{}", r.rung.id, decision.table());
        widest = widest.max(se);
        measured_within_3_of_prediction(&decision, r);
    }
    assert!(widest > 3.0, "±{widest:.2}\n{}", decision.table());
}

/// The published rendition's VMAF (the farm's own sampled measurement, stored in the
/// decision), asserted within 3 of the rung's prediction.
fn measured_within_3_of_prediction(decision: &ladders::Decision, r: &ladders::ChosenRung) -> f64 {
    let measured = r.measured.expect("measured").vmaf;
    assert!(
        (measured - r.predicted_vmaf).abs() <= 3.0,
        "{}: measured {measured:.1}, predicted {:.1}\n{}",
        r.rung.id,
        r.predicted_vmaf,
        decision.table()
    );
    measured
}

/// A policy that probes one window (the grainy one) and checks the rungs instead:
/// each rung's own encode is measured on four windows across the title, and its
/// prediction, their mean, is what the published rendition measures.
#[test]
fn rungs_are_checked_on_windows_across_the_title() {
    let tmp = tempfile::tempdir().unwrap();
    let builtin = include_str!("../../ladders/presets/per-title.toml");
    for knob in ["\nmin_windows = 4\n", "\ncheck_windows = 0\n"] {
        assert!(builtin.contains(knob), "the built-in policy has{knob}");
    }
    let policy_text = builtin
        .replace("\nmin_windows = 4\n", "\nmin_windows = 1\n")
        .replace("\ncheck_windows = 0\n", "\ncheck_windows = 4\n");
    let policy = tmp.path().join("one-window.toml");
    std::fs::write(&policy, policy_text).unwrap();
    let (_, decision) = per_title_run(
        tmp.path(),
        GRAIN_IN_ONE_INTERVAL,
        8,
        "c",
        &["--ladder", policy.to_str().unwrap()],
    );
    let mut moved = 0.0f64;
    for r in &decision.rungs {
        let check = r.check.expect("a one-window title's rungs are checked");
        assert_eq!(check.windows, 4, "{}", decision.table());
        assert_eq!(r.predicted_vmaf, check.vmaf);
        // The check windows are all four of the title's intervals: its error is theirs,
        // and none is left of which windows were measured.
        assert_eq!(r.predicted_se, Some(0.0), "{}", decision.table());
        let measured = measured_within_3_of_prediction(&decision, r);
        moved = moved.max((measured - check.curve_vmaf).abs());
    }
    // The check mattered: the probe window's curves alone were off by more than the
    // tolerance on some rung.
    assert!(moved > 3.0, "{}", decision.table());
}

/// A black master (and any still picture) costs a few kbit/s at every CRF, far below
/// the per-title floor of 145 kbit/s: its rungs still encode (at a CRF near the
/// probes', not the lossless CRF 0 that x264's High profile refuses) and publish.
#[test]
fn a_black_master_publishes_a_per_title_ladder() {
    let tmp = tempfile::tempdir().unwrap();
    let (store, decision) =
        per_title_run(tmp.path(), "color=black:size=320x180:rate=24", 2, "b", &[]);
    for r in &decision.rungs {
        let crf = r.rung.crf.expect("capped CRF by default");
        assert!((1.0..=51.0).contains(&crf), "{}: CRF {crf}", r.rung.id);
        assert!(r.measured.is_some_and(|m| m.kbps > 0.0), "{r:?}");
    }
    assert!(store.join("origin/b/master.m3u8").is_file());
}

/// A 50 fps master's rungs below 720 lines are capped at 25 fps, and their probes
/// encode at 25 fps too: each rung's measured bitrate is near the rate it was chosen
/// for (probed at 50 fps it came out about 40% under, and VMAF off with it).
#[test]
fn probes_of_frame_rate_capped_rungs_encode_at_the_capped_rate() {
    let tmp = tempfile::tempdir().unwrap();
    let (_, decision) = per_title_run(tmp.path(), "testsrc2=size=320x180:rate=50", 4, "f", &[]);
    for r in &decision.rungs {
        assert_eq!(r.rung.decimation, 2, "{}", r.rung.id);
        let m = r.measured.expect("measured");
        let ratio = m.kbps * 1000.0 / r.rung.bitrate as f64;
        assert!(
            (0.75..1.33).contains(&ratio),
            "{}: chosen for {} kbit/s, measured {:.0} ({ratio:.2})\n{}",
            r.rung.id,
            r.rung.bitrate / 1000,
            m.kbps,
            decision.table()
        );
    }
}
