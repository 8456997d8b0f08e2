//! Subtitle tracks in the master playlist (read back with m3u8-rs).

use m3u8_rs::AlternativeMediaType;
use manifests::{master_playlist, SegmentInfo, SubtitleTrack, SUBTITLE_GROUP};

use crate::hls::parse_master;
use crate::support::*;

fn track(id: &str, language: &str, forced: bool) -> SubtitleTrack {
    SubtitleTrack {
        id: id.into(),
        language: language.into(),
        name: id.into(),
        forced,
        timescale: 30_000,
        segments: segments(&VIDEO_DURATIONS, &[300, 0, 120, 40], false)
            .into_iter()
            .enumerate()
            .map(|(i, s)| SegmentInfo {
                uri: format!("{}.vtt", i + 1),
                ..s
            })
            .collect(),
        file: "all.vtt".into(),
        file_bytes: 700,
    }
}

#[test]
fn every_variant_names_the_subtitle_group_and_each_track_is_listed() {
    let mut p = presentation();
    p.subtitles = vec![
        track("s-en", "en", false),
        track("s-fr", "fr", false),
        track("s-en-forced", "en", true),
    ];
    let text = master_playlist(&p);
    let m = parse_master(&text);
    let subs: Vec<_> = m
        .alternatives
        .iter()
        .filter(|a| a.media_type == AlternativeMediaType::Subtitles)
        .collect();
    assert_eq!(
        subs.iter()
            .map(|a| (
                a.language.as_deref().unwrap(),
                a.uri.as_deref().unwrap(),
                a.forced
            ))
            .collect::<Vec<_>>(),
        [
            ("en", "s-en/playlist.m3u8", false),
            ("fr", "s-fr/playlist.m3u8", false),
            ("en", "s-en-forced/playlist.m3u8", true)
        ]
    );
    for a in &subs {
        assert_eq!(a.group_id, SUBTITLE_GROUP);
        assert!(!a.default && a.autoselect, "{a:?}");
    }
    // Names differ within the group (HLS requires it).
    let mut names: Vec<&str> = subs.iter().map(|a| a.name.as_str()).collect();
    names.dedup();
    assert_eq!(names.len(), 3);
    for v in &m.variants {
        if v.is_i_frame {
            // I-frame variants take no rendition groups.
            assert_eq!(v.subtitles, None);
        } else {
            assert_eq!(v.subtitles.as_deref(), Some(SUBTITLE_GROUP), "{}", v.uri);
        }
    }
    // Without subtitle tracks, nothing about subtitles is written.
    let text = master_playlist(&presentation());
    assert!(!text.contains("SUBTITLES"), "{text}");
}

#[test]
fn the_mpd_has_a_text_vtt_set_per_track_with_its_language_and_role() {
    let mut p = presentation();
    p.subtitles = vec![track("s-en", "en", false), track("s-en-forced", "en", true)];
    let text = manifests::mpd(&p);
    let m = dash_mpd_core::parse(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
    let sets: Vec<_> = m.periods[0]
        .adaptations
        .iter()
        .filter(|a| a.contentType.as_deref() == Some("text"))
        .collect();
    assert_eq!(sets.len(), 2, "{text}");
    let ids: Vec<&str> = m.periods[0]
        .adaptations
        .iter()
        .map(|a| a.id.as_deref().unwrap())
        .collect();
    let mut unique = ids.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), ids.len(), "AdaptationSet ids repeat: {ids:?}");
    for (set, (id, role)) in sets
        .iter()
        .zip([("s-en", "subtitle"), ("s-en-forced", "forced-subtitle")])
    {
        assert_eq!(set.mimeType.as_deref(), Some("text/vtt"));
        assert_eq!(set.lang.as_deref(), Some("en"));
        assert_eq!(set.Role.len(), 1);
        assert_eq!(set.Role[0].schemeIdUri, "urn:mpeg:dash:role:2011");
        assert_eq!(set.Role[0].value.as_deref(), Some(role));
        let r = &set.representations[0];
        assert_eq!(r.id.as_deref(), Some(id));
        assert_eq!(r.BaseURL[0].base, format!("{id}/all.vtt"));
        // 700 bytes over the title's 7.007 s.
        assert_eq!(r.bandwidth, Some(800));
    }
}
