//! Property tests: the parsers never panic on any input; cue times survive a write and
//! a parse; segmenting covers every cue of the title and nothing outside it.

use proptest::prelude::*;
use subtitles::{
    parse, parse_srt, parse_vtt, segment_webvtt, validate, write_srt, write_vtt, Cue, Format, Span,
};

/// Cues in order, not overlapping, each at least 1 ms long, within about 30 hours.
fn cues() -> impl Strategy<Value = Vec<Cue>> {
    prop::collection::vec(
        (
            0u64..4_000_000,
            1u64..400_000,
            "[a-zA-Z0-9 ,.!?&<>'éü-]{0,30}( [a-z]{1,8}){0,2}",
        ),
        1..30,
    )
    .prop_map(|v| {
        let mut t = 0;
        v.into_iter()
            .map(|(gap, len, text)| {
                let start = t + gap;
                t = start + len;
                Cue {
                    start,
                    end: t,
                    text,
                    line: 0,
                }
            })
            .collect()
    })
}

fn normal(text: &str) -> String {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join("\n")
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn parsers_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..400)) {
        for f in [Format::Srt, Format::Vtt, Format::Ttml] {
            let _ = parse(&bytes, f);
        }
    }

    #[test]
    fn parsers_never_panic_on_near_misses(
        body in prop::collection::vec(prop::sample::select(vec![
            "WEBVTT", "1", "00:00:01,000 --> 00:00:02,000", "00:01.000 --> 00:02.000", "-->", "",
            "99999:59:59.999 --> 99999:59:59.999", "<tt>", "<body>", "<p begin=\"1s\" end=\"2s\">x</p>",
            "<p begin=\"00:00:01:99\" dur=\"1e9h\">", "</tt>", "<br/>", "&amp;", "&#xFFFFFF;", "NOTE",
            ":", ",", ".", "00:00:00,", "1.5h", "ttp:frameRate=\"0\"",
        ]), 0..20)
    ) {
        let text = body.join("\n");
        for f in [Format::Srt, Format::Vtt, Format::Ttml] {
            if let Ok(cues) = parse(text.as_bytes(), f) {
                prop_assert!(cues.windows(2).all(|w| w[0].end <= w[1].start));
                prop_assert!(cues.iter().all(|c| c.start < c.end));
            }
        }
    }

    #[test]
    fn cue_times_round_trip_through_vtt_and_srt(cues in cues()) {
        let vtt = parse_vtt(&write_vtt(&cues)).unwrap();
        let srt = parse_srt(&write_srt(&cues)).unwrap();
        // SRT has no escapes: text that looks like markup does not survive it.
        for (back, check_text) in [(vtt, true), (srt, false)] {
            let back = validate(back).unwrap();
            prop_assert_eq!(back.len(), cues.len());
            for (a, b) in cues.iter().zip(&back) {
                prop_assert_eq!((a.start, a.end), (b.start, b.end));
                if check_text || !a.text.contains('<') {
                    prop_assert_eq!(normal(&a.text), b.text.clone());
                }
            }
        }
    }

    #[test]
    fn segments_cover_every_cue_of_the_title_and_nothing_else(
        cues in cues(),
        seg in 1u64..400,
        count in 1usize..40,
        timescale in prop::sample::select(vec![1000u32, 24_000, 30_000, 90_000, 48_000]),
    ) {
        // Segments of `seg` frames at 24 fps in `timescale`, the last one half as long.
        let ticks = seg * timescale as u64 / 24;
        let mut spans: Vec<Span> = (0..count as u64).map(|i| Span { start: i * ticks, duration: ticks }).collect();
        spans.last_mut().unwrap().duration = (ticks / 2).max(1);
        let end = spans.last().map(|s| s.start + s.duration).unwrap();
        let files = segment_webvtt(&cues, &spans, timescale, 0);
        prop_assert_eq!(files.len(), spans.len());
        let ts = timescale as u128;
        let within = |c: &Cue, a: u64, b: u64| (c.start as u128) * ts < b as u128 * 1000 && (c.end as u128) * ts > a as u128 * 1000;
        for (s, f) in spans.iter().zip(&files) {
            let got = parse_vtt(f).unwrap();
            // Exactly the cues shown during the segment, none outside the title.
            let want: Vec<&Cue> = cues.iter().filter(|c| within(c, s.start, s.start + s.duration)).collect();
            prop_assert_eq!(got.len(), want.len());
            for (g, w) in got.iter().zip(want) {
                prop_assert_eq!(g.start, w.start);
                prop_assert!(g.end <= w.end);
                prop_assert!((g.start as u128) * ts < end as u128 * 1000);
                prop_assert!((g.end as u128) * ts < end as u128 * 1000 + ts);
            }
        }
        // Every cue that is shown at all within the title is in some file.
        for c in cues.iter().filter(|c| within(c, 0, end)) {
            let id = cues.iter().position(|x| x == c).unwrap() + 1;
            let marker = format!("\n{}\n", id);
            prop_assert!(files.iter().any(|f| f.contains(&marker)));
        }
    }
}
