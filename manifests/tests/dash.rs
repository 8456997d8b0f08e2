//! The MPD read back with dash-mpd-core: one period, a video and an audio adaptation
//! set, representations with measured bandwidth, and SegmentTimelines that expand to
//! exactly the segments (and the same file names as the HLS playlists).

use std::time::Duration;

use dash_mpd_core::{AdaptationSet, SegmentTemplate, MPD};
use manifests::{media_playlist, mpd, Presentation, SegmentInfo};
use proptest::prelude::*;

use crate::support::*;

fn parse(text: &str) -> MPD {
    dash_mpd_core::parse(text).unwrap_or_else(|e| panic!("{e}\n{text}"))
}

/// (start, duration) of every segment a SegmentTimeline describes.
fn expand(st: &SegmentTemplate) -> Vec<(u64, u64)> {
    let tl = st.SegmentTimeline.as_ref().expect("SegmentTimeline");
    let mut out = Vec::new();
    let mut t = 0;
    for s in &tl.segments {
        if let Some(start) = s.t {
            t = start;
        }
        for _ in 0..=s.r.unwrap_or(0) {
            out.push((t, s.d));
            t += s.d;
        }
    }
    out
}

fn spans(segments: &[SegmentInfo]) -> Vec<(u64, u64)> {
    segments.iter().map(|s| (s.start, s.duration)).collect()
}

/// The media URL of the `i`-th segment (0-based) of a representation.
fn media_url(st: &SegmentTemplate, rep: &str, i: usize) -> String {
    let n = st.startNumber.unwrap_or(1) + i as u64;
    st.media
        .as_deref()
        .unwrap()
        .replace("$RepresentationID$", rep)
        .replace("$Number$", &n.to_string())
}

fn sets(m: &MPD) -> (&AdaptationSet, Option<&AdaptationSet>) {
    assert_eq!(m.periods.len(), 1);
    let p = &m.periods[0];
    let video = p
        .adaptations
        .iter()
        .find(|a| a.contentType.as_deref() == Some("video"))
        .expect("video set");
    let audio = p
        .adaptations
        .iter()
        .find(|a| a.contentType.as_deref() == Some("audio"));
    (video, audio)
}

#[test]
fn mpd_is_static_with_one_period_and_the_title_duration() {
    let m = parse(&mpd(&presentation()));
    assert_eq!(m.mpdtype.as_deref(), Some("static"));
    assert_eq!(
        m.mediaPresentationDuration,
        Some(Duration::from_millis(7007))
    );
    assert_eq!(m.minBufferTime, Some(Duration::from_secs(2)));
    let profiles = m.profiles.as_deref().unwrap();
    assert!(profiles.contains("urn:mpeg:dash:profile:isoff-live:2011"));
    assert!(profiles.contains("urn:mpeg:dash:profile:cmaf:2019"));
    assert_eq!(m.periods[0].id.as_deref(), Some("0"));
    assert_eq!(m.periods[0].start, Some(Duration::ZERO));
    assert_eq!(m.periods[0].adaptations.len(), 2);
    assert_eq!(dash_mpd_core::check_conformity(&m), Vec::<String>::new());
}

#[test]
fn video_representations() {
    let p = presentation();
    let m = parse(&mpd(&p));
    let (v, _) = sets(&m);
    assert_eq!(v.mimeType.as_deref(), Some("video/mp4"));
    assert_eq!(v.segmentAlignment, Some(true));
    assert_eq!(v.startWithSAP, Some(1));
    assert_eq!((v.maxWidth, v.maxHeight), (Some(1280), Some(720)));
    assert_eq!(v.representations.len(), 3);
    for (r, t) in v.representations.iter().zip(&p.video) {
        assert_eq!(r.id.as_deref(), Some(t.id.as_str()));
        assert_eq!(r.codecs.as_deref(), Some("avc1.64001F"));
        // The peak segment bitrate, as in the HLS BANDWIDTH (video part).
        assert_eq!(r.bandwidth, Some(expected_bitrates(&t.segments, 30_000).0));
        assert_eq!(
            (r.width, r.height),
            (Some(t.width as u64), Some(t.height as u64))
        );
        assert_eq!(r.frameRate.as_deref(), Some("30000/1001"));
        assert_eq!(r.sar.as_deref(), Some("1:1"));
        let st = r.SegmentTemplate.as_ref().expect("SegmentTemplate");
        assert_eq!(st.timescale, Some(30_000));
        assert_eq!(st.startNumber, Some(1));
        assert_eq!(
            st.initialization.as_deref(),
            Some("$RepresentationID$/init.mp4")
        );
        assert_eq!(expand(st), spans(&t.segments));
        // Three equal, contiguous segments fold into one S with r=2.
        let s = &st.SegmentTimeline.as_ref().unwrap().segments;
        assert_eq!(s.len(), 2);
        assert_eq!((s[0].t, s[0].d, s[0].r), (Some(0), 60_060, Some(2)));
        assert_eq!((s[1].t, s[1].d, s[1].r), (Some(180_180), 30_030, None));
        // $Number$ names the same files as the HLS playlist.
        let hls = crate::hls::parse_media(&media_playlist(&t.segments, t.timescale));
        for (i, seg) in hls.segments.iter().enumerate() {
            assert_eq!(media_url(st, &t.id, i), format!("{}/{}", t.id, seg.uri));
        }
    }
}

#[test]
fn audio_representation() {
    let p = presentation();
    let m = parse(&mpd(&p));
    let (_, a) = sets(&m);
    let a = a.expect("audio set");
    let t = &p.audio[0];
    assert_eq!(a.mimeType.as_deref(), Some("audio/mp4"));
    assert_eq!(a.lang.as_deref(), Some("und"));
    assert_eq!(a.representations.len(), 1);
    let r = &a.representations[0];
    assert_eq!(r.id.as_deref(), Some("audio"));
    assert_eq!(r.codecs.as_deref(), Some("mp4a.40.2"));
    assert_eq!(r.audioSamplingRate.as_deref(), Some("48000"));
    assert_eq!(r.bandwidth, Some(expected_bitrates(&t.segments, 48_000).0));
    assert_eq!(r.AudioChannelConfiguration.len(), 1);
    let acc = &r.AudioChannelConfiguration[0];
    assert_eq!(
        acc.schemeIdUri,
        "urn:mpeg:dash:23003:3:audio_channel_configuration:2011"
    );
    assert_eq!(acc.value.as_deref(), Some("2"));
    let st = r.SegmentTemplate.as_ref().unwrap();
    assert_eq!(st.timescale, Some(48_000));
    assert_eq!(expand(st), spans(&t.segments));
    assert_eq!(media_url(st, "audio", 3), "audio/4.m4s");
}

#[test]
fn no_audio_means_no_audio_set() {
    let mut p = presentation();
    p.audio = Vec::new();
    let m = parse(&mpd(&p));
    assert_eq!(m.periods[0].adaptations.len(), 1);
    assert!(sets(&m).1.is_none());
}

#[test]
fn a_gap_in_the_timeline_restarts_it_with_an_explicit_time() {
    let mut p = Presentation {
        video: vec![video("v", 640, 360, [1000, 1000, 1000, 1000])],
        audio: vec![],
        subtitles: vec![],
    };
    // Segment 3 starts late (a missing span), segment 4 follows it.
    p.video[0].segments[2].start += 1001;
    p.video[0].segments[3].start += 1001;
    let m = parse(&mpd(&p));
    let st = sets(&m).0.representations[0]
        .SegmentTemplate
        .clone()
        .unwrap();
    assert_eq!(expand(&st), spans(&p.video[0].segments));
    let s = &st.SegmentTimeline.unwrap().segments;
    assert_eq!(s.len(), 3);
    assert_eq!((s[1].t, s[1].r), (Some(121_121), None));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Whatever the durations and gaps, the timeline expands to exactly the segments.
    #[test]
    fn timeline_expands_to_the_segments(spans_in in prop::collection::vec((prop::sample::select(vec![1001u64, 30_030, 60_060, 96_256]), prop_oneof![3 => Just(0u64), 1 => 1u64..5000]), 1..40)) {
        let mut start = 0;
        let segments: Vec<SegmentInfo> = spans_in
            .iter()
            .enumerate()
            .map(|(i, &(duration, gap))| {
                start += gap;
                let s = SegmentInfo { uri: format!("{}.m4s", i + 1), start, duration, bytes: 1000, iframes: vec![] };
                start += duration;
                s
            })
            .collect();
        let mut v = video("v", 640, 360, [1, 1, 1, 1]);
        v.segments = segments;
        let p = Presentation {
            video: vec![v],
            audio: vec![],
            subtitles: vec![],
        };
        let m = parse(&mpd(&p));
        let st = sets(&m).0.representations[0].SegmentTemplate.clone().unwrap();
        prop_assert_eq!(expand(&st), spans(&p.video[0].segments));
    }
}
