//! Several audio tracks and a 5.1 rendition: HLS groups (one codec and channel
//! configuration each, every language in every group), variants once per group with
//! CODECS and BANDWIDTH from their group; DASH one adaptation set per rendition with
//! lang, Label, Role and AudioChannelConfiguration. Read back with m3u8-rs and
//! dash-mpd-core.

use manifests::{master_playlist, mpd, AudioTrack, Presentation};

use crate::hls::parse_master;
use crate::support::*;

fn track(
    id: &str,
    track: u32,
    language: &str,
    name: &str,
    channels: u16,
    bytes: u64,
) -> AudioTrack {
    AudioTrack {
        id: id.into(),
        track,
        language: language.into(),
        name: name.into(),
        default: track == 1,
        codecs: "mp4a.40.2".into(),
        channels,
        sample_rate: 48_000,
        timescale: 48_000,
        segments: segments(&AUDIO_DURATIONS, &[bytes, bytes, bytes, bytes / 2], false),
    }
}

/// English with 5.1, French stereo only, an untagged third track.
fn presentation_with_tracks() -> Presentation {
    let mut p = presentation();
    p.audio = vec![
        track("a-en-128k-2ch", 1, "en", "English", 2, 32_000),
        track("a-en-320k-6ch", 1, "en", "English", 6, 80_000),
        track("a-fr-128k-2ch", 2, "fr", "French", 2, 33_000),
        track("a-und-128k-2ch", 3, "und", "Track 3", 2, 31_000),
    ];
    p
}

#[test]
fn hls_has_a_stereo_and_a_surround_group_with_every_language() {
    let p = presentation_with_tracks();
    let m = parse_master(&master_playlist(&p));
    let group = |g: &str| -> Vec<(String, String, String, bool, String)> {
        m.alternatives
            .iter()
            .filter(|a| a.group_id == g)
            .map(|a| {
                (
                    a.uri.clone().unwrap(),
                    a.language.clone().unwrap(),
                    a.name.clone(),
                    a.default,
                    a.channels.clone().unwrap(),
                )
            })
            .collect()
    };
    let row = |u: &str, l: &str, n: &str, d: bool, c: &str| {
        (
            format!("{u}/playlist.m3u8"),
            l.to_string(),
            n.to_string(),
            d,
            c.to_string(),
        )
    };
    assert_eq!(
        group("aac-2ch"),
        [
            row("a-en-128k-2ch", "en", "English", true, "2"),
            row("a-fr-128k-2ch", "fr", "French", false, "2"),
            row("a-und-128k-2ch", "und", "Track 3", false, "2"),
        ]
    );
    // French and track 3 have no 5.1: their stereo renditions stand in.
    assert_eq!(
        group("aac-6ch"),
        [
            row("a-en-320k-6ch", "en", "English", true, "6"),
            row("a-fr-128k-2ch", "fr", "French", false, "2"),
            row("a-und-128k-2ch", "und", "Track 3", false, "2"),
        ]
    );
    assert_eq!(m.alternatives.len(), 6);
    assert!(m.alternatives.iter().all(|a| a.autoselect));

    let variants: Vec<_> = m.variants.iter().filter(|v| !v.is_i_frame).collect();
    assert_eq!(
        variants.len(),
        2 * p.video.len(),
        "each rung once per group"
    );
    // Stereo first: the default variant plays stereo.
    assert_eq!(variants[0].audio.as_deref(), Some("aac-2ch"));
    for v in &variants {
        let g = v.audio.as_deref().unwrap();
        let members: Vec<&AudioTrack> = m
            .alternatives
            .iter()
            .filter(|a| a.group_id == g)
            .map(|a| {
                let id = a.uri.as_deref().unwrap().split('/').next().unwrap();
                p.audio.iter().find(|t| t.id == id).unwrap()
            })
            .collect();
        let apeak = members
            .iter()
            .map(|a| expected_bitrates(&a.segments, 48_000).0)
            .max()
            .unwrap();
        let id = v.uri.split('/').next().unwrap();
        let video = p.video.iter().find(|t| t.id == id).unwrap();
        let (vpeak, _) = expected_bitrates(&video.segments, 30_000);
        assert_eq!(
            v.bandwidth,
            vpeak + apeak,
            "{g} {id}: largest audio of the group"
        );
        assert_eq!(v.codecs.as_deref(), Some("avc1.64001F,mp4a.40.2"));
    }
}

#[test]
fn dash_has_a_set_per_language_and_channel_configuration() {
    let p = presentation_with_tracks();
    let m = dash_mpd_core::parse(&mpd(&p)).expect("MPD parses");
    let audio: Vec<_> = m.periods[0]
        .adaptations
        .iter()
        .filter(|a| a.contentType.as_deref() == Some("audio"))
        .collect();
    let got: Vec<(String, String, String, String, String)> = audio
        .iter()
        .map(|a| {
            assert_eq!(a.representations.len(), 1);
            let r = &a.representations[0];
            let acc = &r.AudioChannelConfiguration[0];
            assert_eq!(
                acc.schemeIdUri,
                "urn:mpeg:dash:23003:3:audio_channel_configuration:2011"
            );
            assert_eq!(a.Role[0].schemeIdUri, "urn:mpeg:dash:role:2011");
            (
                r.id.clone().unwrap(),
                a.lang.clone().unwrap(),
                a.Label[0].content.clone(),
                a.Role[0].value.clone().unwrap(),
                acc.value.clone().unwrap(),
            )
        })
        .collect();
    let row = |i: &str, l: &str, n: &str, r: &str, c: &str| {
        (
            i.to_string(),
            l.to_string(),
            n.to_string(),
            r.to_string(),
            c.to_string(),
        )
    };
    assert_eq!(
        got,
        [
            row("a-en-128k-2ch", "en", "English", "main", "2"),
            row("a-en-320k-6ch", "en", "English", "main", "6"),
            row("a-fr-128k-2ch", "fr", "French", "alternate", "2"),
            row("a-und-128k-2ch", "und", "Track 3", "alternate", "2"),
        ]
    );
}
