//! Parsing the three formats into the same cues, and each refusal with its line.

use subtitles::{parse, Cue, Format, SubtitleError};

fn cue(start: u64, end: u64, text: &str) -> (u64, u64, String) {
    (start, end, text.to_string())
}

fn plain(cues: &[Cue]) -> Vec<(u64, u64, String)> {
    cues.iter()
        .map(|c| (c.start, c.end, c.text.clone()))
        .collect()
}

fn expected() -> Vec<(u64, u64, String)> {
    vec![
        cue(1_000, 2_500, "Hello, world."),
        cue(3_000, 5_250, "Two lines,\nfirst & second."),
        cue(3_723_004, 3_725_000, "After an hour & more"),
    ]
}

const SRT: &str = "\u{feff}1\r\n00:00:01,000 --> 00:00:02,500\r\n<i>Hello</i>, world.\r\n\r\n2\r\n00:00:03,000 --> 00:00:05,250 X1:10 X2:20 Y1:5 Y2:9\r\n{\\an8}Two lines,\r\nfirst & second.\r\n\r\n3\r\n01:02:03,004 --> 01:02:05,000\r\nAfter an hour & more\r\n";

const VTT: &str = "WEBVTT - a title\nKind: captions\n\nNOTE this is\na comment\n\nSTYLE\n::cue { color: yellow }\n\nintro\n00:01.000 --> 00:02.500 align:start position:10%\n<v Ann>Hello</v>, world.\n\n00:00:03.000 --> 00:00:05.250\nTwo lines,\n<c.loud>first &amp; second.</c>\n\n01:02:03.004 --> 01:02:05.000\nAfter an hour &amp; more\n";

const TTML: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<tt xmlns="http://www.w3.org/ns/ttml" xmlns:ttp="http://www.w3.org/ns/ttml#parameter" ttp:frameRate="25" xml:lang="en">
  <head><metadata><title>not a cue</title></metadata></head>
  <body>
    <div begin="1s">
      <p begin="0s" end="1.5s">Hello,
         world.</p>
      <p begin="00:00:02.000" dur="2250ms">Two lines,<br/><span>first &amp; second.</span></p>
    </div>
    <div>
      <p begin="01:02:03:00.1" end="01:02:05:00">After an hour &amp; more</p>
    </div>
  </body>
</tt>
"#;

#[test]
fn srt_vtt_and_ttml_give_the_same_cues() {
    for (name, text, format) in [("srt", SRT, Format::Srt), ("vtt", VTT, Format::Vtt)] {
        let cues = parse(text.as_bytes(), format).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(plain(&cues), expected(), "{name}");
    }
    // 01:02:03:00 at 25 fps is 3723.000 s; the TTML's third cue is 4 ms off the others'.
    let cues = parse(TTML.as_bytes(), Format::Ttml).unwrap();
    let mut want = expected();
    want[2].0 = 3_723_000;
    assert_eq!(plain(&cues), want);
    // Line numbers point at the timing line (SRT, VTT) or the <p> (TTML).
    assert_eq!(
        cues.iter().map(|c| c.line).collect::<Vec<_>>(),
        vec![6, 8, 11]
    );
}

#[test]
fn ttml_frames_ticks_and_offsets() {
    let t = r#"<tt xmlns="http://www.w3.org/ns/ttml" xmlns:ttp="http://www.w3.org/ns/ttml#parameter" ttp:frameRate="30" ttp:frameRateMultiplier="1000 1001" ttp:tickRate="10000000"><body>
<p begin="30f" end="20000000t">a</p>
<p begin="0.05m" end="0.001h">b</p>
<p begin="00:00:04:12" end="00:00:05.5">c</p>
</body></tt>"#;
    let cues = parse(t.as_bytes(), Format::Ttml).unwrap();
    // 30 frames at 29.97 fps = 1.001 s, 12 frames 0.4004 s; 2e7 ticks at 1e7/s = 2 s; 0.05 min = 3 s.
    assert_eq!(
        cues.iter().map(|c| (c.start, c.end)).collect::<Vec<_>>(),
        vec![(1001, 2000), (3000, 3600), (4400, 5500)]
    );
}

fn err(text: &[u8], format: Format) -> SubtitleError {
    match parse(text, format) {
        Ok(c) => panic!("accepted: {c:?}"),
        Err(e) => e,
    }
}

#[test]
fn bad_timing_is_refused_with_its_line() {
    let e = err(
        b"1\n00:00:01,000 --> 00:00:02,000\na\n\n2\n00:00:05,000 --> 00:00:04,000\nb\n",
        Format::Srt,
    );
    assert!(
        matches!(e, SubtitleError::EndNotAfterStart { line: 6, .. }),
        "{e}"
    );
    assert_eq!(
        e.to_string(),
        "line 6: the cue ends at 00:00:04.000, not after its start 00:00:05.000"
    );
    let e = err(
        b"WEBVTT\n\n00:00:01.000 --> 00:00:01.000\nzero length\n",
        Format::Vtt,
    );
    assert_eq!(e.line(), 3, "{e}");
    let e = err(
        b"1\n00:00:01,000 --> 00:00:02,000\na\n\n2\n00:00:0x,000 --> 00:00:04,000\nb\n",
        Format::Srt,
    );
    assert_eq!(
        e.to_string(),
        "line 6: '00:00:0x,000' is not a timestamp (expected HH:MM:SS,mmm)"
    );
    // WebVTT needs three fraction digits and minutes/seconds below 60.
    for bad in ["00:00:01.5 --> 00:00:02.000", "00:61.000 --> 01:02.000"] {
        let e = err(format!("WEBVTT\n\n{bad}\nx\n").as_bytes(), Format::Vtt);
        assert!(
            matches!(e, SubtitleError::BadTimestamp { line: 3, .. }),
            "{bad}: {e}"
        );
    }
    let e = err(
        b"<tt><body>\n<p begin=\"1s\" end=\"soon\">x</p></body></tt>",
        Format::Ttml,
    );
    assert!(
        matches!(e, SubtitleError::BadTimestamp { line: 2, .. }),
        "{e}"
    );
    let e = err(
        b"<tt><body>\n\n<p begin=\"1s\">x</p></body></tt>",
        Format::Ttml,
    );
    assert_eq!(
        e.to_string(),
        "line 3: the <p> has no end or dur, nor has any element around it"
    );
    let e = err(
        b"<tt><body>\n<p begin=\"1s\" end=\"2s\">x</div></body></tt>",
        Format::Ttml,
    );
    assert!(matches!(e, SubtitleError::Xml { line: 2, .. }), "{e}");
}

#[test]
fn overlaps_are_refused_with_both_lines() {
    let srt = b"1\n00:00:01,000 --> 00:00:03,000\na\n\n2\n00:00:02,999 --> 00:00:04,000\nb\n";
    let e = err(srt, Format::Srt);
    assert_eq!(
        e.to_string(),
        "line 6: the cue starts at 00:00:02.999, before the cue of line 2 ends at 00:00:03.000; overlapping cues are refused"
    );
    // Touching cues (one ends as the next starts) are fine, and so is a file out of order.
    let ok = b"WEBVTT\n\n00:00:03.000 --> 00:00:04.000\nb\n\n00:00:01.000 --> 00:00:03.000\na\n";
    let cues = parse(ok, Format::Vtt).unwrap();
    assert_eq!(cues[0].text, "a");
    // An overlap in TTML names the <p>'s line.
    let t = b"<tt><body>\n<p begin=\"1s\" end=\"3s\">a</p>\n<p begin=\"2s\" end=\"4s\">b</p>\n</body></tt>";
    assert!(matches!(
        err(t, Format::Ttml),
        SubtitleError::Overlap {
            line: 3,
            previous_line: 2,
            ..
        }
    ));
}

#[test]
fn encodings_other_than_utf8_are_refused() {
    // "café" in Latin-1 on line 3.
    let mut latin1 = b"1\n00:00:01,000 --> 00:00:02,000\ncaf".to_vec();
    latin1.extend_from_slice(&[0xE9, b'\n']);
    let e = err(&latin1, Format::Srt);
    assert_eq!(
        e.to_string(),
        "line 3: not UTF-8 (byte 0xE9); save the file as UTF-8"
    );
    let e = err(&[0xFF, 0xFE, b'W', 0], Format::Vtt);
    assert!(matches!(e, SubtitleError::Utf16 { .. }), "{e}");
    // A UTF-8 byte order mark is dropped (VTT's header must be the first thing).
    let ok = "\u{feff}WEBVTT\n\n00:01.000 --> 00:02.000\ncafé\n";
    assert_eq!(parse(ok.as_bytes(), Format::Vtt).unwrap()[0].text, "café");
}

#[test]
fn shape_errors_name_the_line() {
    let e = err(b"WEBVTT\n\nhello\nthere\n", Format::Vtt);
    assert_eq!(
        e.to_string(),
        "line 4: 'there' is not a timing line ([HH:]MM:SS.mmm --> [HH:]MM:SS.mmm)"
    );
    let e = err(
        b"1\n00:00:01,000 --> 00:00:02,000\na\n\nwhat is this\n",
        Format::Srt,
    );
    assert_eq!(e.line(), 5, "{e}");
    assert_eq!(err(b"NOT VTT\n", Format::Vtt).line(), 1);
    assert!(matches!(
        err(b"WEBVTT\n\nNOTE nothing\n", Format::Vtt),
        SubtitleError::NoCues
    ));
    let e = err(b"<?xml version=\"1.0\"?>\n<html/>", Format::Ttml);
    assert_eq!(
        e.to_string(),
        "line 2: the root element is <html>, not TTML's <tt>"
    );
}

#[test]
fn formats_by_extension() {
    assert_eq!(Format::from_extension("SRT"), Some(Format::Srt));
    assert_eq!(Format::from_extension("vtt"), Some(Format::Vtt));
    assert_eq!(Format::from_extension("xml"), Some(Format::Ttml));
    assert_eq!(Format::from_extension("dfxp"), Some(Format::Ttml));
    assert_eq!(Format::from_extension("ass"), None);
}
