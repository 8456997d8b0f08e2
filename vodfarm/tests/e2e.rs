//! Every fixture master through `vodfarm run`, read back through both manifests.

use std::path::Path;

use m3u8_rs::{MasterPlaylist, MediaPlaylist};

use crate::support::*;

fn attr<'a>(tag: &'a str, name: &str) -> Option<&'a str> {
    let key = format!(" {name}=\"");
    let start = tag.find(&key)? + key.len();
    Some(&tag[start..start + tag[start..].find('"')?])
}

/// (representation id, number of segments) from the MPD's SegmentTimelines.
fn mpd_representations(mpd: &str) -> Vec<(String, u64)> {
    mpd.split("<Representation ")
        .skip(1)
        .map(|rep| {
            let rep = format!(" {rep}");
            let id = attr(&rep, "id").expect("id").to_string();
            let body = &rep[..rep.find("</Representation>").expect("closed")];
            let count = body
                .split("<S ")
                .skip(1)
                .map(|s| {
                    1 + attr(&format!(" {s}"), "r")
                        .map(|r| r.parse::<u64>().unwrap())
                        .unwrap_or(0)
                })
                .sum();
            (id, count)
        })
        .collect()
}

fn check_title(name: &str) {
    let (m, master) = fixture(name);
    let tmp = tempfile::tempdir().unwrap();
    let store = tmp.path().join("store");
    let out = run_title(&master, "t", &store, &["--workers", "2"]);
    assert!(
        out.status.success(),
        "{name}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let origin = store.join("origin/t");
    // The default ladder is per-title: its decision is stored and reported.
    let decision: ladders::Decision =
        serde_json::from_slice(&std::fs::read(store.join("work/t/ladder.json")).unwrap()).unwrap();
    assert!(!decision.rungs.is_empty() && !decision.hull.is_empty());
    // Packaging measured every rung and wrote it beside its prediction.
    for r in &decision.rungs {
        let m = r
            .measured
            .unwrap_or_else(|| panic!("{name}: {} not measured", r.rung.id));
        assert!(
            m.frames_scored > 0 && (0.0..=100.0).contains(&m.vmaf) && m.kbps > 0.0,
            "{name}: {m:?}"
        );
    }
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("  measured "),
        "no measured VMAF in the run summary"
    );
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("chosen rungs"),
        "no ladder in the run summary"
    );
    // Status counts every chunk plus audio only when there is audio.
    let plan: serde_json::Value =
        serde_json::from_slice(&std::fs::read(store.join("work/t/plan.json")).unwrap()).unwrap();
    let parts = plan["chunks"].as_array().unwrap().len() + usize::from(m.audio);
    let st = vodfarm(&["status", "t", "--store", store.to_str().unwrap()]);
    let st = String::from_utf8_lossy(&st.stdout);
    assert!(
        st.contains(&format!("Published, {parts} of {parts} parts encoded"))
            && st.contains("per-title ladder of"),
        "{st}"
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("master.m3u8") && stdout.contains("manifest.mpd"),
        "{stdout}"
    );

    // HLS, parsed by m3u8-rs.
    let text = std::fs::read(origin.join("master.m3u8")).unwrap();
    let master_pl: MasterPlaylist =
        m3u8_rs::parse_master_playlist_res(&text).expect("master parses");
    assert_eq!(master_pl.version, Some(7));
    let fps = m.fps.num as f64 / m.fps.den as f64;
    // Each rung once per audio group: checked here with the stereo group (the 5.1
    // group's variants are the same playlists; tests/audio.rs checks the groups).
    let video: Vec<_> = master_pl
        .variants
        .iter()
        .filter(|v| !v.is_i_frame && v.audio.as_deref() != Some("aac-6ch"))
        .collect();
    assert!(!video.is_empty());
    let audio = master_pl
        .alternatives
        .first()
        .map(|a| a.uri.clone().unwrap());
    assert_eq!(audio.is_some(), m.audio, "{name}: audio rendition");
    let mut tfdts: Option<Vec<u64>> = None;
    let mut video_duration = 0f64;
    let (audio_peak, audio_mean) = audio
        .as_ref()
        .map(|a| measured(&origin, a))
        .unwrap_or((0.0, 0.0));
    for v in &video {
        let res = v.resolution.unwrap();
        assert!(
            res.width as u32 <= m.width && res.height as u32 <= m.height,
            "{name}: no upscaling"
        );
        assert_eq!(res.width % 2 + res.height % 2, 0);
        let aspect = res.width as f64 / res.height as f64;
        assert!(
            (aspect - m.width as f64 / m.height as f64).abs() < 0.03,
            "{name}: aspect {aspect}"
        );
        let d = (fps / v.frame_rate.unwrap()).round() as u64;
        let expected_frames = m.frames.div_ceil(d);
        let playlist = origin.join(&v.uri);
        // Decodes without error, with exactly the expected frames.
        assert_eq!(
            ffmpeg_decode_errors(playlist.to_str().unwrap()),
            "",
            "{name} {}",
            v.uri
        );
        assert_eq!(
            ffprobe_count(playlist.to_str().unwrap(), "v:0"),
            expected_frames,
            "{name} {} frames",
            v.uri
        );
        // Bitrates measured from the files.
        let (peak, mean) = measured(&origin, &v.uri);
        assert!(
            v.bandwidth as f64 >= peak + audio_peak - 1.0,
            "{name} {}: BANDWIDTH {} < peak {}",
            v.uri,
            v.bandwidth,
            peak + audio_peak
        );
        let avg = v.average_bandwidth.unwrap() as f64;
        assert!(
            (avg - (mean + audio_mean)).abs() <= 0.1 * (mean + audio_mean),
            "{name}: AVERAGE-BANDWIDTH {avg} vs {}",
            mean + audio_mean
        );
        assert!(
            v.codecs.as_ref().unwrap().starts_with("avc1.64"),
            "codec string from the SPS"
        );
        // Boxes: every segment starts with a keyframe at its grid time; starts at 0,
        // once the init segment's edit list has taken the reorder delay back.
        let pl = media_playlist(&origin, &v.uri);
        let dir = playlist.parent().unwrap();
        let delay = edit_media_time(&std::fs::read(dir.join("init.mp4")).unwrap());
        let mut starts = Vec::new();
        let mut earliest = i64::MAX;
        for seg in &pl.segments {
            let frags = fragments(&std::fs::read(dir.join(&seg.uri)).unwrap());
            assert!(
                frags.iter().all(|f| f.samples[0].2),
                "{name}: every fragment starts with a keyframe"
            );
            let first = &frags[0];
            assert_eq!(
                first.samples[0].3 as i64 - delay,
                0,
                "{name}: segment IDR presented at its decode time"
            );
            starts.push(first.tfdt);
            for f in &frags {
                let mut dts = f.tfdt as i64;
                for s in &f.samples {
                    assert!(s.3 >= 0, "{name}: composition offsets are non-negative");
                    earliest = earliest.min(dts + s.3 as i64 - delay);
                    dts += s.0 as i64;
                }
            }
        }
        assert_eq!(earliest, 0, "{name}: presentation starts at 0");
        match &tfdts {
            None => tfdts = Some(starts),
            Some(t) => assert_eq!(
                t, &starts,
                "{name}: segment boundaries identical across renditions"
            ),
        }
        video_duration = pl.segments.iter().map(|s| s.duration as f64).sum();
        // The I-frame playlist lists every keyframe of every segment.
        let iframes = master_pl
            .variants
            .iter()
            .find(|i| i.is_i_frame && i.uri.starts_with(v.uri.split('/').next().unwrap()))
            .unwrap();
        assert!(iframes.bandwidth > 0);
        let ipl = media_playlist(&origin, &iframes.uri);
        assert!(ipl.i_frames_only);
        assert!(
            ipl.segments.len() >= 2 * pl.segments.len() - 1,
            "{name}: an I-frame entry per IDR"
        );
    }
    assert!(
        (video_duration - m.frames as f64 / fps).abs() < 0.01,
        "{name}: video duration {video_duration}"
    );
    if let Some(a) = &audio {
        let apl = origin.join(a);
        assert_eq!(ffmpeg_decode_errors(apl.to_str().unwrap()), "");
        let frames = ffprobe_count(apl.to_str().unwrap(), "a:0");
        let audio_s = frames as f64 * 1024.0 / 48000.0;
        let video_s = m.frames as f64 / fps;
        assert!(
            (audio_s - video_s).abs() <= 1024.0 / 48000.0,
            "{name}: audio {audio_s} s vs video {video_s} s"
        );
    }

    // DASH: every representation read back through the MPD's template and timeline.
    let mpd = std::fs::read_to_string(origin.join("manifest.mpd")).unwrap();
    // An independent MPD parser agrees on the structure.
    let parsed =
        dash_mpd_core::parse(&mpd).expect("MPD parses with dash-mpd-core (the dash-mpd parser)");
    assert_eq!(parsed.mpdtype.as_deref(), Some("static"));
    let sets = &parsed.periods[0].adaptations;
    // Audio: one set per rendition (stereo, plus 5.1 for the 5.1 master).
    let audio_renditions = plan["audio"].as_array().unwrap().len();
    assert_eq!(audio_renditions > 0, m.audio);
    assert_eq!(sets.len(), 1 + audio_renditions);
    assert_eq!(sets[0].representations.len(), video.len());
    for r in sets.iter().flat_map(|a| a.representations.iter()) {
        assert!(
            r.bandwidth.unwrap_or(0) > 0 && r.codecs.is_some(),
            "{name}: {:?}",
            r.id
        );
    }
    let reps = mpd_representations(&mpd);
    assert_eq!(reps.len(), video.len() + audio_renditions);
    for (id, count) in reps {
        let mut bytes = std::fs::read(origin.join(&id).join("init.mp4")).unwrap();
        for n in 1..=count {
            bytes.extend(std::fs::read(origin.join(&id).join(format!("{n}.m4s"))).unwrap());
        }
        assert!(
            !origin.join(&id).join(format!("{}.m4s", count + 1)).exists(),
            "{name}: MPD names every segment"
        );
        let joined = tmp.path().join(format!("{id}.mp4"));
        std::fs::write(&joined, bytes).unwrap();
        if id.starts_with('v') {
            let v = video
                .iter()
                .find(|v| v.uri.starts_with(&format!("{id}/")))
                .unwrap();
            let d = (fps / v.frame_rate.unwrap()).round() as u64;
            assert_eq!(
                ffprobe_count(joined.to_str().unwrap(), "v:0"),
                m.frames.div_ceil(d),
                "{name} DASH {id}"
            );
        }
    }
    // FFmpeg reads both manifests as a client too.
    assert_eq!(
        ffmpeg_decode_errors(origin.join("manifest.mpd").to_str().unwrap()),
        ""
    );
}

fn media_playlist(origin: &Path, uri: &str) -> MediaPlaylist {
    m3u8_rs::parse_media_playlist_res(&std::fs::read(origin.join(uri)).unwrap())
        .expect("media playlist parses")
}

/// (peak segment, mean) bit/s of a media playlist, measured from its files.
fn measured(origin: &Path, uri: &str) -> (f64, f64) {
    let pl = media_playlist(origin, uri);
    let dir = origin.join(uri);
    let dir = dir.parent().unwrap();
    let (mut peak, mut bytes, mut secs) = (0f64, 0f64, 0f64);
    for s in &pl.segments {
        let b = std::fs::metadata(dir.join(&s.uri)).unwrap().len() as f64;
        peak = peak.max(b * 8.0 / s.duration as f64);
        bytes += b;
        secs += s.duration as f64;
    }
    (peak, bytes * 8.0 / secs)
}

#[test]
fn h264_24fps_aac() {
    check_title("h264-24fps-aac");
}

#[test]
fn h264_25fps_51_mkv() {
    check_title("h264-25fps-5.1-mkv");
}

#[test]
fn mpeg2_2997_ts() {
    check_title("mpeg2-29.97fps-ts");
}

#[test]
fn h264_50fps_silent() {
    check_title("h264-50fps-silent");
}

#[test]
fn h264_4x3() {
    check_title("h264-4x3-25fps");
}

/// Golden manifest text for one fixed fixture: byte-for-byte what players will read.
/// Set UPDATE_GOLDEN=1 to rewrite after an intended change.
#[test]
fn golden_manifests() {
    let (_, master) = fixture("h264-24fps-aac");
    let tmp = tempfile::tempdir().unwrap();
    let out = run_title(&master, "golden", tmp.path(), &["--ladder", "benchmark"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let golden = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden");
    for f in [
        "master.m3u8",
        "manifest.mpd",
        "v360p-600k/playlist.m3u8",
        "v360p-600k/iframes.m3u8",
        "a-und-128k-2ch/playlist.m3u8",
    ] {
        let got = std::fs::read_to_string(tmp.path().join("origin/golden").join(f)).unwrap();
        let path = golden.join(f.replace('/', "__"));
        if std::env::var_os("UPDATE_GOLDEN").is_some() {
            std::fs::write(&path, &got).unwrap();
        }
        let want = std::fs::read_to_string(&path)
            .unwrap_or_else(|_| panic!("{} missing: run with UPDATE_GOLDEN=1", path.display()));
        assert_eq!(got, want, "{f} differs from its golden copy");
    }
}
