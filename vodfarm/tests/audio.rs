//! Every audio track of a master becomes its own renditions (stereo, plus 5.1 where the
//! track has six channels or more), with its language, name and loudness normalised:
//! read back by m3u8-rs, ffprobe on both manifests, and FFmpeg's `ebur128` and
//! `astats` filters on the published renditions, independently of our own measuring.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Mutex, OnceLock};

use crate::support::*;

fn audio_fixture(name: &str) -> PathBuf {
    static LOCK: OnceLock<Mutex<()>> = OnceLock::new();
    let _g = LOCK.get_or_init(|| Mutex::new(())).lock().unwrap();
    fixtures::audio::audio_master(name)
        .write(&fixture_dir())
        .expect("audio fixture renders")
}

/// A one-rung fixed ladder at the fixtures' size with `audio_kbps`.
fn ladder_file(dir: &Path, audio_kbps: u32) -> PathBuf {
    let p = dir.join(format!("ladder-{audio_kbps}.toml"));
    std::fs::write(
        &p,
        format!(
            "name = \"audio-test\"\npreset = \"veryfast\"\nprofile = \"high\"\nrate_control = \"abr\"\nmaxrate_ratio = 1.5\nbufsize_ratio = 2.0\naudio_kbps = {audio_kbps}\n\n[[rung]]\nwidth = 320\nheight = 180\nkbps = 300\n"
        ),
    )
    .unwrap();
    p
}

pub(crate) struct Title {
    _tmp: tempfile::TempDir,
    store: PathBuf,
    pub(crate) origin: PathBuf,
    plan: serde_json::Value,
}

/// Publish an audio fixture with a one-rung ladder whose audio is `audio_kbps`.
pub(crate) fn publish(fixture: &str, audio_kbps: u32, extra: &[&str]) -> Title {
    let master = audio_fixture(fixture);
    let tmp = tempfile::tempdir().unwrap();
    let ladder = ladder_file(tmp.path(), audio_kbps);
    let store = tmp.path().join("store");
    let mut args = vec!["--ladder", ladder.to_str().unwrap(), "--workers", "2"];
    args.extend_from_slice(extra);
    ok(run_title(&master, "t", &store, &args));
    let plan =
        serde_json::from_slice(&std::fs::read(store.join("work/t/plan.json")).unwrap()).unwrap();
    Title {
        origin: store.join("origin/t"),
        store,
        plan,
        _tmp: tmp,
    }
}

impl Title {
    fn audio(&self) -> Vec<serde_json::Value> {
        self.plan["audio"].as_array().unwrap().clone()
    }
    fn ids(&self) -> Vec<String> {
        self.audio()
            .iter()
            .map(|a| a["id"].as_str().unwrap().to_string())
            .collect()
    }
    fn playlist(&self, id: &str) -> String {
        self.origin
            .join(id)
            .join("playlist.m3u8")
            .to_str()
            .unwrap()
            .to_string()
    }
}

/// (language, channels) of every audio stream ffprobe finds in `input`.
fn ffprobe_audio(input: &Path) -> BTreeSet<(String, u64)> {
    let out = Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-select_streams",
            "a",
            "-show_entries",
            "stream=channels:stream_tags=language",
            "-of",
            "json",
        ])
        .arg(input)
        .output()
        .expect("ffprobe runs");
    assert!(
        out.status.success(),
        "ffprobe {}: {}",
        input.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    v["streams"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["tags"]["language"]
                    .as_str()
                    .unwrap_or("<none>")
                    .to_string(),
                s["channels"].as_u64().unwrap(),
            )
        })
        .collect()
}

/// FFmpeg's own EBU R128 measurement of the first audio stream of `input`:
/// (integrated LUFS, true peak dBTP), from the filter's summary.
fn ebur128(input: &str) -> (f64, f64) {
    let out = Command::new("ffmpeg")
        .args(["-hide_banner", "-nostats", "-nostdin", "-i", input])
        .args([
            "-map",
            "0:a:0",
            "-af",
            "ebur128=peak=true",
            "-f",
            "null",
            "-",
        ])
        .output()
        .expect("ffmpeg runs");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "ffmpeg {input}: {err}");
    let summary = &err[err.rfind("Summary:").expect("ebur128 summary")..];
    let value = |key: &str| -> f64 {
        summary
            .lines()
            .find_map(|l| l.trim().strip_prefix(key))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("no {key} in {summary}"))
    };
    (value("I:"), value("Peak:"))
}

/// RMS level (dB) of each channel of `input`'s first audio stream, per FFmpeg's astats.
fn channel_rms(input: &str) -> Vec<f64> {
    let out = Command::new("ffmpeg")
        .args(["-hide_banner", "-nostats", "-nostdin", "-i", input])
        .args(["-map", "0:a:0", "-af", "astats", "-f", "null", "-"])
        .output()
        .expect("ffmpeg runs");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "ffmpeg {input}: {err}");
    let mut rms = Vec::new();
    let mut in_channel = false;
    for l in err.lines() {
        let l = l.split("] ").nth(1).unwrap_or(l).trim();
        if l.starts_with("Channel:") {
            in_channel = true;
        } else if l.starts_with("Overall") {
            in_channel = false;
        } else if let Some(v) = l.strip_prefix("RMS level dB:") {
            if in_channel {
                rms.push(v.trim().parse().unwrap());
                in_channel = false;
            }
        }
    }
    rms
}

/// Bit/s of a rendition from its files and its playlist's durations.
fn measured_bitrate(t: &Title, id: &str) -> f64 {
    let pl = m3u8_rs::parse_media_playlist_res(
        &std::fs::read(t.origin.join(id).join("playlist.m3u8")).unwrap(),
    )
    .unwrap();
    let bytes: u64 = pl
        .segments
        .iter()
        .map(|s| {
            std::fs::metadata(t.origin.join(id).join(&s.uri))
                .unwrap()
                .len()
        })
        .sum();
    let secs: f64 = pl.segments.iter().map(|s| s.duration as f64).sum();
    bytes as f64 * 8.0 / secs
}

fn assert_loudness(t: &Title, id: &str, target: f64, peak_max: f64) -> (f64, f64) {
    let (i, tp) = ebur128(&t.playlist(id));
    assert!(
        (i - target).abs() <= 1.0,
        "{id}: integrated {i} LUFS, target {target}"
    );
    assert!(tp <= peak_max, "{id}: true peak {tp} dBTP over {peak_max}");
    eprintln!("{id}: {i} LUFS, {tp} dBTP");
    (i, tp)
}

#[test]
fn every_track_is_a_rendition_with_its_language_named_after_its_bitrate() {
    let t = publish("three-tracks", 64, &[]);
    // Names follow the ladder's audio_kbps (64 here), the language and the channels.
    assert_eq!(
        t.ids(),
        ["a-en-64k-2ch", "a-fr-64k-2ch", "a-und-64k-2ch"],
        "{:#}",
        t.plan["audio"]
    );
    for id in t.ids() {
        let kbps = measured_bitrate(&t, &id) / 1000.0;
        assert!((48.0..=80.0).contains(&kbps), "{id}: {kbps} kbit/s");
    }

    // HLS: one stereo AAC group with each track, the first the default.
    let text = std::fs::read(t.origin.join("master.m3u8")).unwrap();
    let m = m3u8_rs::parse_master_playlist_res(&text).expect("master parses");
    let media: Vec<(String, String, String, bool, bool, String, String)> = m
        .alternatives
        .iter()
        .map(|a| {
            (
                a.group_id.clone(),
                a.language.clone().unwrap(),
                a.name.clone(),
                a.default,
                a.autoselect,
                a.channels.clone().unwrap(),
                a.uri.clone().unwrap(),
            )
        })
        .collect();
    let row = |l: &str, n: &str, d: bool, id: &str| {
        (
            "aac-2ch".to_string(),
            l.to_string(),
            n.to_string(),
            d,
            true,
            "2".to_string(),
            format!("{id}/playlist.m3u8"),
        )
    };
    assert_eq!(
        media,
        [
            row("en", "English", true, "a-en-64k-2ch"),
            row("fr", "French", false, "a-fr-64k-2ch"),
            row("und", "Track 3", false, "a-und-64k-2ch"),
        ]
    );
    for v in m.variants.iter().filter(|v| !v.is_i_frame) {
        assert_eq!(v.audio.as_deref(), Some("aac-2ch"));
        assert!(v.codecs.as_deref().unwrap().ends_with(",mp4a.40.2"));
    }

    // FFmpeg, as a second reader of both manifests: every track with its language.
    let want: BTreeSet<(String, u64)> = [("en", 2), ("fr", 2), ("und", 2)]
        .iter()
        .map(|(l, c)| (l.to_string(), *c))
        .collect();
    assert_eq!(ffprobe_audio(&t.origin.join("master.m3u8")), want, "HLS");
    assert_eq!(ffprobe_audio(&t.origin.join("manifest.mpd")), want, "DASH");
    for manifest in ["master.m3u8", "manifest.mpd"] {
        assert_eq!(
            ffmpeg_decode_errors(t.origin.join(manifest).to_str().unwrap()),
            "",
            "{manifest}"
        );
    }

    // Loudness: each track, at its own level in the master, comes out at -24 LKFS.
    for id in t.ids() {
        assert_loudness(&t, &id, -24.0, -2.0);
    }
    // The measured values and gains are in the plan and in `vodfarm status`.
    let st = ok(vodfarm(&[
        "status",
        "t",
        "--store",
        t.store.to_str().unwrap(),
    ]));
    for a in t.audio() {
        let gain = a["loudness"]["gain_db"].as_f64().unwrap();
        assert!(
            st.contains(&format!("audio {}", a["id"].as_str().unwrap()))
                && st.contains(&format!("gain {gain:+.1} dB")),
            "{st}"
        );
    }
}

#[test]
fn audio_languages_can_be_set_and_bad_ones_are_refused_in_one_line() {
    let master = audio_fixture("three-tracks");
    let tmp = tempfile::tempdir().unwrap();
    let store = tmp.path().join("store");
    for (args, words) in [
        (
            ["--audio-lang", "4=fr"],
            "track '4' is not one of the master's audio tracks (1..=3",
        ),
        (["--audio-lang", "0=fr"], "track '0'"),
        (
            ["--audio-lang", "1=xx"],
            "'xx' is not a known language code",
        ),
        (["--audio-lang", "fr"], "expected TRACK=LANGUAGE"),
        (
            ["--loudness", "-60"],
            "--loudness -60 LKFS is outside -40..=-5",
        ),
        (["--true-peak", "3"], "--true-peak 3 dBTP is outside -9..=0"),
    ] {
        let out = run_title(&master, "bad", &store, &args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{args:?} accepted");
        assert!(err.contains(words), "{args:?}: {err}");
        assert_eq!(err.trim().lines().count(), 1, "{args:?}: {err}");
        assert!(!store.join("ingest").exists(), "{args:?}: nothing written");
    }
}

#[test]
fn quiet_and_loud_masters_are_normalised_to_the_target() {
    // Quiet (about -40 LUFS with a click): a gain of about +16 dB, and the limiter,
    // since the click would otherwise pass the ceiling.
    let quiet = publish("quiet", 128, &[]);
    let a = &quiet.audio()[0];
    let l = &a["loudness"];
    let before = l["measured"]["integrated_lufs"].as_f64().unwrap();
    assert!((-41.0..=-38.0).contains(&before), "{l}");
    assert!(l["gain_db"].as_f64().unwrap() > 14.0, "{l}");
    assert!(l["limiter_dbfs"].is_number(), "{l}");
    let (after, peak) = assert_loudness(&quiet, a["id"].as_str().unwrap(), -24.0, -2.0);
    eprintln!("quiet: {before:.1} LUFS -> {after:.1} LUFS, {peak:.1} dBTP");

    // Loud, near clipping, to a target of -16 LKFS and -1 dBTP given on the command
    // line: the gain is negative and no limiter is needed.
    let loud = publish("loud", 128, &["--loudness", "-16", "--true-peak", "-1"]);
    let a = &loud.audio()[0];
    let l = &a["loudness"];
    let before = l["measured"]["integrated_lufs"].as_f64().unwrap();
    assert!((-12.5..=-9.5).contains(&before), "{l}");
    assert!(l["gain_db"].as_f64().unwrap() < -3.0, "{l}");
    assert!(l["limiter_dbfs"].is_null(), "{l}");
    let (after, peak) = assert_loudness(&loud, a["id"].as_str().unwrap(), -16.0, -1.0);
    eprintln!("loud: {before:.1} LUFS -> {after:.1} LUFS, {peak:.1} dBTP");
}

#[test]
fn surround_tracks_get_a_51_rendition_in_its_own_group() {
    for (fixture, lang, extra, side_into_back_db) in [
        // 5.1(side): the sides become AAC's back pair as they are.
        ("surround-5.1", "fr", vec!["--audio-lang", "1=fr"], 0.0),
        // 7.1: the side pair is mixed into the back pair at -3 dB, so the back
        // channels carry 1 + 0.5 of the power of a front one (+1.76 dB).
        ("surround-7.1", "en", vec![], 1.76),
    ] {
        let t = publish(fixture, 128, &extra);
        let stereo = format!("a-{lang}-128k-2ch");
        let surround = format!("a-{lang}-320k-6ch");
        assert_eq!(t.ids(), [stereo.clone(), surround.clone()], "{fixture}");
        let m = m3u8_rs::parse_master_playlist_res(
            &std::fs::read(t.origin.join("master.m3u8")).unwrap(),
        )
        .unwrap();
        let groups: Vec<(&str, &str)> = m
            .alternatives
            .iter()
            .map(|a| (a.group_id.as_str(), a.channels.as_deref().unwrap()))
            .collect();
        assert_eq!(groups, [("aac-2ch", "2"), ("aac-6ch", "6")], "{fixture}");
        let variants: Vec<_> = m.variants.iter().filter(|v| !v.is_i_frame).collect();
        assert_eq!(variants.len(), 2, "{fixture}: the rung once per group");
        let want: BTreeSet<(String, u64)> = [(lang.to_string(), 2), (lang.to_string(), 6)].into();
        assert_eq!(
            ffprobe_audio(&t.origin.join("master.m3u8")),
            want,
            "{fixture} HLS"
        );
        assert_eq!(
            ffprobe_audio(&t.origin.join("manifest.mpd")),
            want,
            "{fixture} DASH"
        );
        // The rendition alone (a media playlist has no language): six channels.
        let channels: Vec<u64> = ffprobe_audio(Path::new(&t.playlist(&surround)))
            .into_iter()
            .map(|(_, c)| c)
            .collect();
        assert_eq!(channels, [6], "{fixture}");
        let rms = channel_rms(&t.playlist(&surround));
        assert_eq!(rms.len(), 6, "{fixture}: {rms:?}");
        // FL, FR and FC carry their tones unchanged relative to each other.
        assert!((rms[0] - rms[2]).abs() < 0.5, "{fixture}: {rms:?}");
        for back in [4, 5] {
            let d = rms[back] - rms[0];
            assert!(
                (d - side_into_back_db).abs() < 0.5,
                "{fixture}: channel {back} is {d:+.2} dB from FL, expected {side_into_back_db:+.2}: {rms:?}"
            );
        }
        for id in [&stereo, &surround] {
            assert_loudness(&t, id, -24.0, -2.0);
        }
    }
}
