//! Subtitles end to end: sidecars given to `vodfarm run` come out as segmented WebVTT
//! on the video's segment grid, listed in the HLS master (read by m3u8-rs) and read by
//! FFmpeg; bad sidecars are refused at submit with their line, and nothing is stored.

use std::path::Path;
use std::process::Command;

use m3u8_rs::{AlternativeMediaType, MasterPlaylist, MediaPlaylist, Playlist};

use crate::support::*;

fn master_playlist(path: &Path) -> MasterPlaylist {
    match m3u8_rs::parse_playlist_res(&std::fs::read(path).unwrap()) {
        Ok(Playlist::MasterPlaylist(m)) => m,
        other => panic!("{}: not a master playlist: {other:?}", path.display()),
    }
}

fn media_playlist(path: &Path) -> MediaPlaylist {
    match m3u8_rs::parse_playlist_res(&std::fs::read(path).unwrap()) {
        Ok(Playlist::MediaPlaylist(m)) => m,
        other => panic!("{}: not a media playlist: {other:?}", path.display()),
    }
}

/// `--subtitles` arguments for the fixture sidecars written into `dir`.
pub fn sidecar_args(dir: &Path) -> Vec<String> {
    let paths = fixtures::subtitles::write_sidecars(dir).unwrap();
    fixtures::subtitles::KNOWN_CUES
        .iter()
        .zip(paths)
        .flat_map(|((lang, forced, ..), p)| {
            let lang = if *forced {
                format!("{lang}:forced")
            } else {
                lang.to_string()
            };
            ["--subtitles".to_string(), format!("{lang}={}", p.display())]
        })
        .collect()
}

/// (start ms, end ms, text) of WebVTT text, read by our parser.
fn cues(vtt: &str) -> Vec<(u64, u64, String)> {
    ::subtitles::parse(vtt.as_bytes(), ::subtitles::Format::Vtt)
        .unwrap_or_else(|e| panic!("{e}\n{vtt}"))
        .into_iter()
        .map(|c| (c.start, c.end, c.text))
        .collect()
}

#[test]
fn run_with_sidecars_publishes_segmented_webvtt_in_the_hls_master() {
    let (_, master) = fixture("h264-24fps-aac");
    let tmp = tempfile::tempdir().unwrap();
    let side = tempfile::tempdir().unwrap();
    let args = sidecar_args(side.path());
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let mut extra = vec!["--ladder", "benchmark"];
    extra.extend(&args);
    let out = run_title(&master, "subs", tmp.path(), &extra);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let origin = tmp.path().join("origin/subs");

    // The master lists one SUBTITLES rendition per sidecar, with its language, and
    // every variant names the group.
    let m = master_playlist(&origin.join("master.m3u8"));
    let subs: Vec<_> = m
        .alternatives
        .iter()
        .filter(|a| a.media_type == AlternativeMediaType::Subtitles)
        .map(|a| {
            (
                a.language.clone().unwrap(),
                a.forced,
                a.uri.clone().unwrap(),
                a.group_id.clone(),
                a.default,
                a.autoselect,
            )
        })
        .collect();
    assert_eq!(
        subs,
        [
            (
                "en".into(),
                false,
                "s-en/playlist.m3u8".into(),
                "subs".into(),
                false,
                true
            ),
            (
                "fr".into(),
                false,
                "s-fr/playlist.m3u8".into(),
                "subs".into(),
                false,
                true
            ),
            (
                "de".into(),
                false,
                "s-de/playlist.m3u8".into(),
                "subs".into(),
                false,
                true
            ),
            (
                "en".into(),
                true,
                "s-en-forced/playlist.m3u8".into(),
                "subs".into(),
                false,
                true
            ),
        ]
    );
    for v in m.variants.iter().filter(|v| !v.is_i_frame) {
        assert_eq!(v.subtitles.as_deref(), Some("subs"), "{}", v.uri);
    }

    // One WebVTT file per video segment, with the video playlist's durations.
    let video = media_playlist(&origin.join("v360p-600k/playlist.m3u8"));
    let durations: Vec<f32> = video.segments.iter().map(|s| s.duration).collect();
    assert_eq!(durations, [4.0, 4.0, 1.0]);
    for (id, want) in [
        ("s-en", "Six seconds in."),
        ("s-fr", "Six secondes, déjà & voilà."),
        ("s-de", "Sechs Sekunden, schön."),
    ] {
        let pl = media_playlist(&origin.join(id).join("playlist.m3u8"));
        assert!(pl.end_list);
        assert_eq!(
            pl.segments.iter().map(|s| s.duration).collect::<Vec<_>>(),
            durations,
            "{id}"
        );
        let files: Vec<String> = pl
            .segments
            .iter()
            .map(|s| std::fs::read_to_string(origin.join(id).join(&s.uri)).unwrap())
            .collect();
        for f in &files {
            // Media time 0 (the first segment's tfdt) is MPEG-TS time 0.
            assert!(
                f.starts_with("WEBVTT\nX-TIMESTAMP-MAP=MPEGTS:0,LOCAL:00:00:00.000\n"),
                "{id}: {f}"
            );
        }
        let seg: Vec<Vec<(u64, u64, String)>> = files.iter().map(|f| cues(f)).collect();
        // The cue across 4 s is in segments 1 and 2; the 6 s cue in segment 2 only;
        // the last cue is cut at the title's end (9 s) in segment 3.
        assert_eq!(seg[0].len(), 2, "{id}: {:?}", seg[0]);
        assert_eq!(seg[0][1], seg[1][0], "{id}");
        assert_eq!((seg[0][1].0, seg[0][1].1), (3500, 4500));
        assert_eq!(seg[1][1], (6000, 7500, want.to_string()), "{id}");
        assert_eq!(seg[2].len(), 1, "{id}: {:?}", seg[2]);
        assert_eq!((seg[2][0].0, seg[2][0].1), (8200, 9000), "{id}");
        // The whole-title file (DASH) has every cue once, clipped the same way.
        let all = cues(&std::fs::read_to_string(origin.join(id).join("all.vtt")).unwrap());
        assert_eq!(all.len(), 4, "{id}");
        assert_eq!(all[2], seg[1][1]);
        assert_eq!(all[3], seg[2][0]);
    }
    // The sidecars were stored next to the master and named in the request.
    let request: serde_json::Value = serde_json::from_slice(
        &std::fs::read(tmp.path().join("ingest/subs/request.json")).unwrap(),
    )
    .unwrap();
    let keys: Vec<&str> = request["subtitles"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["key"].as_str().unwrap())
        .collect();
    assert_eq!(
        keys,
        [
            "ingest/subs/subtitles/s-en.srt",
            "ingest/subs/subtitles/s-fr.vtt",
            "ingest/subs/subtitles/s-de.ttml",
            "ingest/subs/subtitles/s-en-forced.srt"
        ]
    );
    for k in keys {
        assert!(tmp.path().join(k).is_file(), "{k}");
    }

    // FFmpeg reads each subtitle rendition (its HLS playlist of WebVTT segments) and
    // finds the known cue at its time.
    for (id, want) in [
        ("s-en", "Six seconds in."),
        ("s-de", "Sechs Sekunden, schön."),
    ] {
        let out = Command::new("ffmpeg")
            .args(["-v", "error", "-nostdin", "-i"])
            .arg(origin.join(id).join("playlist.m3u8"))
            .args(["-map", "0:s:0", "-c:s", "webvtt", "-f", "webvtt", "-"])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{id}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let text = String::from_utf8(out.stdout).unwrap();
        let read = cues(&text);
        assert!(
            read.iter()
                .any(|c| c.0 <= 6500 && 6500 < c.1 && c.2 == want),
            "{id}: FFmpeg read {read:?}"
        );
    }
}

#[test]
fn bad_sidecars_are_refused_with_their_line_and_nothing_is_stored() {
    let (_, master) = fixture("h264-24fps-aac");
    let side = tempfile::tempdir().unwrap();
    let good = fixtures::subtitles::write_sidecars(side.path()).unwrap();
    for (name, bytes, words) in fixtures::subtitles::bad_sidecars() {
        let bad = fixtures::subtitles::write(side.path(), name, &bytes).unwrap();
        for cmd in ["run", "submit"] {
            let tmp = tempfile::tempdir().unwrap();
            let store = tmp.path().join("store");
            let out = vodfarm(&[
                cmd,
                master.to_str().unwrap(),
                "--title",
                "bad",
                "--store",
                store.to_str().unwrap(),
                "--subtitles",
                &format!("en={}", good[0].display()),
                "--subtitles",
                &format!("fr={}", bad.display()),
            ]);
            let err = String::from_utf8_lossy(&out.stderr);
            assert!(!out.status.success(), "{cmd} {name} accepted");
            assert!(err.contains(words), "{cmd} {name}: {err}");
            assert!(
                err.contains(&format!("subtitles fr ({})", bad.display())),
                "{cmd} {name}: {err}"
            );
            assert_eq!(
                err.trim().lines().count(),
                1,
                "{cmd} {name}: one line: {err}"
            );
            // Nothing half-submitted: no master, no sidecar, no request.
            assert!(
                !store.join("ingest").exists(),
                "{cmd} {name}: something was stored"
            );
        }
    }
    // Flags that are wrong before any file is read.
    for (arg, words) in [
        ("english=x.srt", "'english' is not a language tag"),
        (
            "en:hearing=x.srt",
            "the only suffix after the language is ':forced'",
        ),
        ("en", "is not LANG=FILE"),
    ] {
        let out = vodfarm(&[
            "run",
            master.to_str().unwrap(),
            "--title",
            "bad",
            "--subtitles",
            arg,
        ]);
        assert!(!out.status.success());
        assert!(
            String::from_utf8_lossy(&out.stderr).contains(words),
            "{arg}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    // A format we do not read, two tracks of one language, a cue after the master's end.
    let ass = fixtures::subtitles::write(side.path(), "x.ass", b"[Script Info]\n").unwrap();
    let late = fixtures::subtitles::write(
        side.path(),
        "late.srt",
        b"1\n00:00:01,000 --> 00:00:02,000\nok\n\n2\n00:00:09,500 --> 00:00:10,000\nlate\n",
    )
    .unwrap();
    for (args, words) in [
        (
            vec![format!("en={}", ass.display())],
            "'.ass' is not a subtitle format we read",
        ),
        (
            vec![
                format!("en={}", good[0].display()),
                format!("en={}", good[3].display()),
            ],
            "a second en track",
        ),
        (
            vec![format!("en={}", late.display())],
            "line 6: the cue starts at 00:00:09.500, after the master ends (00:00:09.000)",
        ),
    ] {
        let tmp = tempfile::tempdir().unwrap();
        let mut a = vec![
            "run".to_string(),
            master.display().to_string(),
            "--title".into(),
            "bad".into(),
            "--store".into(),
            tmp.path().join("s").display().to_string(),
        ];
        for x in args {
            a.push("--subtitles".into());
            a.push(x);
        }
        let a: Vec<&str> = a.iter().map(String::as_str).collect();
        let out = vodfarm(&a);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success() && err.contains(words), "{err}");
        assert!(!tmp.path().join("s/ingest").exists());
    }
}

/// Real players: hls.js, dash.js and Shaka (HLS and DASH) in Chromium list every
/// subtitle track with its language and forced flag, and show a known cue of each at
/// its time; FFmpeg reads both manifests with the text tracks (players/play.mjs).
#[test]
fn players_list_the_subtitle_tracks_and_show_a_cue_at_its_time() {
    players_dir();
    let (_, master) = fixture("h264-24fps-aac");
    let tmp = tempfile::tempdir().unwrap();
    let side = tempfile::tempdir().unwrap();
    let args = sidecar_args(side.path());
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let mut extra = vec!["--ladder", "benchmark"];
    extra.extend(&args);
    let out = run_title(&master, "subs", tmp.path(), &extra);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let expected: Vec<serde_json::Value> = fixtures::subtitles::KNOWN_CUES
        .iter()
        .map(|(lang, forced, _, text, at)| serde_json::json!({"lang": lang, "forced": forced, "at": at, "text": text}))
        .collect();
    let origin = tmp
        .path()
        .join("origin/subs")
        .to_string_lossy()
        .into_owned();
    let expected = serde_json::Value::Array(expected).to_string();
    let lines = play(
        &[
            "play.mjs",
            "--subtitles",
            origin.as_str(),
            expected.as_str(),
        ],
        "players failed",
    );
    // 4 browser cases (hls.js, dash.js, Shaka on HLS and DASH) and 2 FFmpeg reads.
    assert_eq!(lines.len(), 6, "{lines:?}");
    for l in &lines {
        assert_eq!(l["ok"], true, "{l}");
    }
    for l in &lines[..4] {
        let langs: Vec<(String, bool)> = l["tracks"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| {
                (
                    t["lang"].as_str().unwrap().to_string(),
                    t["forced"].as_bool().unwrap(),
                )
            })
            .collect();
        for (lang, forced, ..) in fixtures::subtitles::KNOWN_CUES {
            assert!(
                langs.contains(&(lang.to_string(), forced)),
                "{}: {langs:?}",
                l["player"]
            );
        }
        assert!(
            l["cues"]
                .as_array()
                .unwrap()
                .iter()
                .all(|c| c["found"] == true),
            "{l}"
        );
    }
}

/// A master with a mov_text subtitle stream (language eng): its cues are published as
/// the `en` track, as a sidecar's would be; a sidecar of the same language wins.
#[test]
fn a_mov_text_stream_in_the_master_is_published_as_webvtt() {
    let (_, plain) = fixture("h264-24fps-aac");
    let master = fixtures::subtitles::with_mov_text(&fixture_dir(), &plain).unwrap();
    // The fixture really has the stream (read by ffprobe, not by us).
    let out = Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-select_streams",
            "s",
            "-show_entries",
            "stream=codec_name:stream_tags=language",
            "-of",
            "csv=p=0",
        ])
        .arg(&master)
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "mov_text,eng");

    let tmp = tempfile::tempdir().unwrap();
    let out = run_title(&master, "movtext", tmp.path(), &["--ladder", "benchmark"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let origin = tmp.path().join("origin/movtext");
    let m = master_playlist(&origin.join("master.m3u8"));
    let subs: Vec<(String, String)> = m
        .alternatives
        .iter()
        .filter(|a| a.media_type == AlternativeMediaType::Subtitles)
        .map(|a| (a.language.clone().unwrap(), a.uri.clone().unwrap()))
        .collect();
    assert_eq!(subs, [("en".to_string(), "s-en/playlist.m3u8".to_string())]);
    let all = cues(&std::fs::read_to_string(origin.join("s-en/all.vtt")).unwrap());
    let want: Vec<(u64, u64, String)> = ::subtitles::parse(
        fixtures::subtitles::EN_SRT.as_bytes(),
        ::subtitles::Format::Srt,
    )
    .unwrap()
    .into_iter()
    .map(|c| (c.start, c.end.min(9000), c.text))
    .collect();
    assert_eq!(all, want);
    let seg2 = cues(&std::fs::read_to_string(origin.join("s-en/2.vtt")).unwrap());
    assert!(
        seg2.contains(&(6000, 7500, "Six seconds in.".to_string())),
        "{seg2:?}"
    );

    // With an English sidecar too, the sidecar's cues are published, once.
    let side = tempfile::tempdir().unwrap();
    let fr = fixtures::subtitles::write(
        side.path(),
        "en.vtt",
        fixtures::subtitles::FR_VTT.as_bytes(),
    )
    .unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let arg = format!("en={}", fr.display());
    let out = run_title(
        &master,
        "both",
        tmp.path(),
        &["--ladder", "benchmark", "--subtitles", &arg],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let m = master_playlist(&tmp.path().join("origin/both/master.m3u8"));
    assert_eq!(
        m.alternatives
            .iter()
            .filter(|a| a.media_type == AlternativeMediaType::Subtitles)
            .count(),
        1
    );
    let all = cues(&std::fs::read_to_string(tmp.path().join("origin/both/s-en/all.vtt")).unwrap());
    assert_eq!(all[2].2, "Six secondes, déjà & voilà.");
}

/// Golden text of a title with subtitles: the master with its SUBTITLES group, the MPD
/// with its text sets, a subtitle playlist and WebVTT files. UPDATE_GOLDEN=1 rewrites.
#[test]
fn golden_manifests_with_subtitles() {
    let (_, master) = fixture("h264-24fps-aac");
    let tmp = tempfile::tempdir().unwrap();
    let side = tempfile::tempdir().unwrap();
    let args = sidecar_args(side.path());
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let mut extra = vec!["--ladder", "benchmark"];
    extra.extend(&args);
    let out = run_title(&master, "golden", tmp.path(), &extra);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let golden = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden");
    for f in [
        "master.m3u8",
        "manifest.mpd",
        "s-en/playlist.m3u8",
        "s-en/1.vtt",
        "s-en/2.vtt",
        "s-fr/3.vtt",
        "s-de/all.vtt",
    ] {
        let got = std::fs::read_to_string(tmp.path().join("origin/golden").join(f)).unwrap();
        let path = golden.join(format!("subs__{}", f.replace('/', "__")));
        if std::env::var_os("UPDATE_GOLDEN").is_some() {
            std::fs::write(&path, &got).unwrap();
        }
        let want = std::fs::read_to_string(&path)
            .unwrap_or_else(|_| panic!("{} missing: run with UPDATE_GOLDEN=1", path.display()));
        assert_eq!(got, want, "{f} differs from its golden copy");
    }
}
