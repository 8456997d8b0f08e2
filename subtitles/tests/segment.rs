//! Segmented WebVTT on a segment grid, and its playlist (read back by m3u8-rs).

use subtitles::{hls_playlist, parse_vtt, segment_webvtt, Cue, Span};

fn c(start: u64, end: u64, text: &str) -> Cue {
    Cue {
        start,
        end,
        text: text.into(),
        line: 0,
    }
}

#[test]
fn cues_land_in_every_segment_they_are_shown_in() {
    // 24 fps, 96-frame segments (4 s) in a 24000 time scale, the last one short.
    let spans: Vec<Span> = [(0, 96_000), (96_000, 96_000), (192_000, 24_000)]
        .iter()
        .map(|&(start, duration)| Span { start, duration })
        .collect();
    let cues = vec![
        c(500, 1500, "first"),
        c(3500, 4500, "across 4 s"),
        c(8000, 8400, "starts on a boundary"),
        c(8500, 12_000, "runs past the end"),
        c(9000 + 1, 10_000, "after the end"),
    ];
    let files = segment_webvtt(&cues[..4], &spans, 24_000, 0);
    assert_eq!(files.len(), 3);
    for f in &files {
        assert!(
            f.starts_with("WEBVTT\nX-TIMESTAMP-MAP=MPEGTS:0,LOCAL:00:00:00.000\n"),
            "{f}"
        );
        // A blank line at the end, for readers that join the files (FFmpeg).
        assert!(f.ends_with("\n\n"), "{f}");
    }
    let texts = |f: &str| {
        parse_vtt(f)
            .unwrap()
            .into_iter()
            .map(|c| (c.start, c.end, c.text))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        texts(&files[0]),
        vec![
            (500, 1500, "first".into()),
            (3500, 4500, "across 4 s".into())
        ]
    );
    assert_eq!(texts(&files[1]), vec![(3500, 4500, "across 4 s".into())]);
    // The title ends at 9 s: the last cue is cut there.
    assert_eq!(
        texts(&files[2]),
        vec![
            (8000, 8400, "starts on a boundary".into()),
            (8500, 9000, "runs past the end".into())
        ]
    );
    // The repeated cue keeps its identifier (2) in both files.
    assert!(files[0].contains("\n2\n00:00:03.500 --> 00:00:04.500\n"));
    assert!(files[1].contains("\n2\n00:00:03.500 --> 00:00:04.500\n"));
    // A cue that starts after the title's end is in no file.
    let files = segment_webvtt(&cues, &spans, 24_000, 900_000);
    assert!(files.iter().all(|f| !f.contains("after the end")));
    assert!(files[0].contains("MPEGTS:900000,"));
}

#[test]
fn the_playlist_lists_one_file_per_segment_with_video_durations() {
    // 29.97 fps: 120-frame segments of 4.004 s in a 30000 time scale.
    let spans = vec![
        Span {
            start: 0,
            duration: 120_120,
        },
        Span {
            start: 120_120,
            duration: 120_120,
        },
        Span {
            start: 240_240,
            duration: 60_060,
        },
    ];
    let uris: Vec<String> = (1..=3).map(|i| format!("{i}.vtt")).collect();
    let text = hls_playlist(&spans, 30_000, &uris);
    let m = match m3u8_rs::parse_playlist_res(text.as_bytes()).unwrap() {
        m3u8_rs::Playlist::MediaPlaylist(m) => m,
        m3u8_rs::Playlist::MasterPlaylist(_) => panic!("not a media playlist"),
    };
    assert!(m.end_list);
    assert_eq!(m.target_duration, 4);
    assert_eq!(
        m.segments
            .iter()
            .map(|s| (s.uri.as_str(), s.duration))
            .collect::<Vec<_>>(),
        vec![("1.vtt", 4.004), ("2.vtt", 4.004), ("3.vtt", 2.002)]
    );
}
