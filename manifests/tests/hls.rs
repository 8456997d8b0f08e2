//! HLS read back with m3u8-rs: the master's variants and their audio group, media
//! playlists, I-frame playlists.

use m3u8_rs::{
    AlternativeMediaType, MasterPlaylist, MediaPlaylist, MediaPlaylistType, Playlist, VariantStream,
};
use manifests::{
    audio_playlist, iframe_playlist, master_playlist, media_playlist, Presentation, AUDIO_GROUP,
};
use proptest::prelude::*;

use crate::support::*;

pub fn parse_master(text: &str) -> MasterPlaylist {
    match m3u8_rs::parse_playlist_res(text.as_bytes()) {
        Ok(Playlist::MasterPlaylist(m)) => m,
        other => panic!("not a master playlist: {other:?}\n{text}"),
    }
}

pub fn parse_media(text: &str) -> MediaPlaylist {
    match m3u8_rs::parse_playlist_res(text.as_bytes()) {
        Ok(Playlist::MediaPlaylist(m)) => m,
        other => panic!("not a media playlist: {other:?}\n{text}"),
    }
}

fn streams(m: &MasterPlaylist) -> Vec<&VariantStream> {
    m.variants.iter().filter(|v| !v.is_i_frame).collect()
}

#[test]
fn master_lists_every_rung_with_measured_bitrates_and_the_audio_group() {
    let p = presentation();
    let m = parse_master(&master_playlist(&p));
    assert_eq!(m.version, Some(7));
    assert!(m.independent_segments);

    let (apeak, amean) = expected_bitrates(&p.audio[0].segments, 48_000);
    let v = streams(&m);
    // The default (first) variant is the one nearest 2 Mbit/s; the rest keep their order.
    let ids: Vec<&str> = v.iter().map(|s| s.uri.as_str()).collect();
    assert_eq!(
        ids,
        [
            "v540/playlist.m3u8",
            "v360/playlist.m3u8",
            "v720/playlist.m3u8"
        ]
    );
    for s in &v {
        let id = s.uri.split('/').next().unwrap();
        let track = p.video.iter().find(|t| t.id == id).unwrap();
        let (peak, mean) = expected_bitrates(&track.segments, 30_000);
        assert_eq!(s.bandwidth, peak + apeak, "{id}: BANDWIDTH");
        assert_eq!(s.average_bandwidth, Some(mean + amean), "{id}");
        assert!(s.average_bandwidth.unwrap() <= s.bandwidth);
        assert_eq!(s.codecs.as_deref(), Some("avc1.64001F,mp4a.40.2"));
        let r = s.resolution.unwrap();
        assert_eq!(
            (r.width, r.height),
            (track.width as u64, track.height as u64)
        );
        assert_eq!(s.frame_rate, Some(29.97));
        assert_eq!(s.audio.as_deref(), Some(AUDIO_GROUP));
    }
    // v540: peak segment 600,000 bytes in 2.002 s.
    assert_eq!(v[0].bandwidth, 2_397_603 + apeak);

    // The audio group every variant names exists, once, with its playlist.
    assert_eq!(m.alternatives.len(), 1);
    let a = &m.alternatives[0];
    assert_eq!(a.media_type, AlternativeMediaType::Audio);
    assert_eq!(a.group_id, AUDIO_GROUP);
    assert_eq!(a.uri.as_deref(), Some("audio/playlist.m3u8"));
    assert!(a.default && a.autoselect);
    assert_eq!(a.channels.as_deref(), Some("2"));
    assert_eq!(a.language.as_deref(), Some("und"));
    assert!(apeak > 0 && amean > 0);
}

#[test]
fn master_lists_an_iframe_variant_per_rung() {
    let p = presentation();
    let m = parse_master(&master_playlist(&p));
    let iframes: Vec<&VariantStream> = m.variants.iter().filter(|v| v.is_i_frame).collect();
    assert_eq!(iframes.len(), 3);
    for s in iframes {
        let id = s.uri.strip_suffix("/iframes.m3u8").expect("iframes.m3u8");
        let track = p.video.iter().find(|t| t.id == id).unwrap();
        assert_eq!(s.codecs.as_deref(), Some("avc1.64001F"), "video only");
        assert_eq!(s.resolution.unwrap().height, track.height as u64);
        assert_eq!(s.audio, None);
        // Peak of keyframe bytes over the time each keyframe stands for (1.001 s).
        let peak = track
            .segments
            .iter()
            .flat_map(|s| &s.iframes)
            .map(|f| ceil_div(f.length as u128 * 8 * 30_000, 30_030))
            .max()
            .unwrap();
        assert_eq!(s.bandwidth, peak, "{id}");
    }
}

#[test]
fn master_without_audio_has_no_group() {
    let mut p = presentation();
    p.audio = Vec::new();
    let m = parse_master(&master_playlist(&p));
    assert!(m.alternatives.is_empty());
    for s in streams(&m) {
        assert_eq!(s.audio, None);
        assert_eq!(s.codecs.as_deref(), Some("avc1.64001F"));
        let id = s.uri.split('/').next().unwrap();
        let track = p.video.iter().find(|t| t.id == id).unwrap();
        assert_eq!(s.bandwidth, expected_bitrates(&track.segments, 30_000).0);
    }
}

#[test]
fn a_single_rung_is_the_default() {
    let p = Presentation {
        video: vec![video(
            "v720",
            1280,
            720,
            [1_001_000, 1_300_000, 900_000, 420_000],
        )],
        audio: vec![],
        subtitles: vec![],
    };
    let m = parse_master(&master_playlist(&p));
    assert_eq!(streams(&m).len(), 1);
    assert_eq!(streams(&m)[0].uri, "v720/playlist.m3u8");
}

/// EXTINF values as written (m3u8-rs keeps f32), against the segments' ticks.
fn check_media(pl: &MediaPlaylist, durations: &[u64], timescale: u32) {
    assert_eq!(pl.version, Some(7));
    assert!(pl.end_list, "ENDLIST: the title is complete");
    assert_eq!(pl.playlist_type, Some(MediaPlaylistType::Vod));
    assert_eq!(pl.media_sequence, 0);
    assert!(pl.independent_segments);
    assert!(!pl.i_frames_only);
    assert_eq!(pl.segments.len(), durations.len());
    for (i, (s, &d)) in pl.segments.iter().zip(durations).enumerate() {
        assert_eq!(s.uri, format!("{}.m4s", i + 1));
        assert!((s.duration as f64 - d as f64 / timescale as f64).abs() < 1e-5);
        assert_eq!(s.byte_range, None);
        // EXT-X-MAP once, before the first segment; it applies to all that follow.
        assert_eq!(
            s.map.as_ref().map(|m| m.uri.as_str()),
            (i == 0).then_some("init.mp4")
        );
    }
    let total: f64 = pl.segments.iter().map(|s| s.duration as f64).sum();
    let expected: u64 = durations.iter().sum();
    assert!(
        (total - expected as f64 / timescale as f64).abs() < 1e-4,
        "{total}"
    );
    // RFC 8216 4.3.3.1: every EXTINF rounded to the nearest integer is at most the
    // target duration. The writer uses exactly that bound.
    let longest = pl
        .segments
        .iter()
        .map(|s| s.duration.round() as u64)
        .max()
        .unwrap();
    assert_eq!(pl.target_duration, longest.max(1));
}

#[test]
fn video_media_playlist() {
    let p = presentation();
    let v = &p.video[1];
    let pl = parse_media(&media_playlist(&v.segments, v.timescale));
    check_media(&pl, &VIDEO_DURATIONS, 30_000);
    assert_eq!(pl.segments[0].duration, 2.002);
    assert_eq!(pl.segments[3].duration, 1.001);
    assert_eq!(pl.target_duration, 2);
}

#[test]
fn audio_media_playlist() {
    let a = audio();
    let pl = parse_media(&audio_playlist(&a));
    check_media(&pl, &AUDIO_DURATIONS, 48_000);
    // 96,256 / 48,000 = 2.005333... written to 5 decimals.
    assert_eq!(pl.segments[0].duration, 2.00533);
    assert_eq!(pl.target_duration, 2);
}

#[test]
fn target_duration_rounds_long_segments_up_only_past_half_a_second() {
    let segs = segments(&[60_000, 134_999, 45_000], &[1, 1, 1], false);
    let pl = parse_media(&media_playlist(&segs, 30_000));
    assert_eq!(pl.target_duration, 4, "4.49997 s rounds to 4");
    let segs = segments(&[60_000, 135_000], &[1, 1], false);
    let pl = parse_media(&media_playlist(&segs, 30_000));
    assert_eq!(pl.target_duration, 5, "4.5 s rounds to 5");
}

#[test]
fn target_duration_bounds_the_extinf_as_written() {
    // 2.499996 s at a 10 MHz time scale is written as EXTINF 2.5 (5 decimals), which
    // a client rounds to 3: the target must be 3, not round(2.499996) = 2.
    let segs = segments(&[24_999_960, 20_000_000], &[1, 1], false);
    let pl = parse_media(&media_playlist(&segs, 10_000_000));
    assert_eq!(pl.segments[0].duration, 2.5);
    assert_eq!(pl.target_duration, 3);
}

#[test]
fn iframe_playlist_addresses_every_keyframe_by_byte_range() {
    let p = presentation();
    let v = &p.video[0];
    let pl = parse_media(&iframe_playlist(v));
    assert!(pl.i_frames_only && pl.end_list);
    assert_eq!(pl.version, Some(7));
    let all: Vec<_> = v
        .segments
        .iter()
        .flat_map(|s| s.iframes.iter().map(move |f| (s, f)))
        .collect();
    assert_eq!(
        all.len(),
        7,
        "two keyframes in each 2.002 s segment, one in the last"
    );
    assert_eq!(pl.segments.len(), all.len());
    for (i, (e, (s, f))) in pl.segments.iter().zip(&all).enumerate() {
        assert_eq!(e.uri, s.uri);
        let br = e.byte_range.as_ref().expect("BYTERANGE");
        assert_eq!((br.length, br.offset), (f.length, Some(f.offset)));
        // Each keyframe lasts until the next, the last until the end of the rendition.
        assert!((e.duration - 1.001).abs() < 1e-6, "{i}: {}", e.duration);
        assert_eq!(e.map.is_some(), i == 0);
    }
    let total: f64 = pl.segments.iter().map(|s| s.duration as f64).sum();
    assert!((total - 7.007).abs() < 1e-4);
    assert_eq!(pl.target_duration, 1);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Any segment durations: the playlist parses, lists every segment with its
    /// duration (to 1e-5 s), and no rounded EXTINF exceeds the target duration.
    #[test]
    fn media_playlists_hold_for_any_durations(durations in prop::collection::vec(1u64..400_000, 1..60), timescale in prop::sample::select(vec![1000u32, 30_000, 48_000, 90_000, 10_000_000])) {
        let segs = segments(&durations, &vec![1; durations.len()], false);
        let pl = parse_media(&media_playlist(&segs, timescale));
        prop_assert_eq!(pl.segments.len(), durations.len());
        for (s, &d) in pl.segments.iter().zip(&durations) {
            prop_assert!((s.duration as f64 - d as f64 / timescale as f64).abs() < 1e-5 + 1e-6 * d as f64 / timescale as f64);
            prop_assert!(s.duration.round() as u64 <= pl.target_duration);
        }
        prop_assert!(pl.target_duration >= 1);
    }
}
