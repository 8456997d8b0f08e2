//! A static DASH MPD (isoff-live + CMAF profiles) with SegmentTemplate and a
//! SegmentTimeline. Written as text: the document is small and fixed in shape, and
//! tests read it back with an independent parser (dash-mpd) and FFmpeg.

use std::fmt::Write;

use crate::model::SegmentInfo;
use crate::Presentation;

fn iso_duration(s: f64) -> String {
    format!("PT{:.3}S", s)
}

fn timeline(out: &mut String, segments: &[SegmentInfo]) {
    out.push_str("        <SegmentTimeline>\n");
    let mut i = 0;
    while i < segments.len() {
        let d = segments[i].duration;
        let mut r = 0;
        while i + r + 1 < segments.len()
            && segments[i + r + 1].duration == d
            && segments[i + r + 1].start == segments[i + r].start + d
        {
            r += 1;
        }
        let t = segments[i].start;
        if r > 0 {
            let _ = writeln!(out, "          <S t=\"{t}\" d=\"{d}\" r=\"{r}\"/>");
        } else {
            let _ = writeln!(out, "          <S t=\"{t}\" d=\"{d}\"/>");
        }
        i += r + 1;
    }
    out.push_str("        </SegmentTimeline>\n");
}

/// One representation's SegmentTemplate: `<id>/init.mp4`, `<id>/<n>.m4s` from 1.
fn segment_template(out: &mut String, timescale: u32, segments: &[SegmentInfo]) {
    let _ = writeln!(
        out,
        "        <SegmentTemplate timescale=\"{timescale}\" initialization=\"$RepresentationID$/init.mp4\" media=\"$RepresentationID$/$Number$.m4s\" startNumber=\"1\">"
    );
    timeline(out, segments);
    out.push_str("        </SegmentTemplate>\n");
}

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The MPD. Segment numbers start at 1 in every representation.
pub fn mpd(p: &Presentation) -> String {
    let dur = iso_duration(p.duration_s());
    let mut o = String::new();
    o.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        o,
        "<MPD xmlns=\"urn:mpeg:dash:schema:mpd:2011\" profiles=\"urn:mpeg:dash:profile:isoff-live:2011,urn:mpeg:dash:profile:cmaf:2019\" type=\"static\" mediaPresentationDuration=\"{dur}\" minBufferTime=\"PT2S\">"
    );
    let _ = writeln!(o, "  <Period id=\"0\" start=\"PT0S\">");
    if !p.video.is_empty() {
        let max_w = p.video.iter().map(|v| v.width).max().unwrap_or(0);
        let max_h = p.video.iter().map(|v| v.height).max().unwrap_or(0);
        let _ = writeln!(
            o,
            "    <AdaptationSet id=\"0\" contentType=\"video\" mimeType=\"video/mp4\" segmentAlignment=\"true\" startWithSAP=\"1\" maxWidth=\"{max_w}\" maxHeight=\"{max_h}\" par=\"{max_w}:{max_h}\">"
        );
        for v in &p.video {
            let (peak, _) = v.bitrates();
            let _ = writeln!(
                o,
                "      <Representation id=\"{}\" codecs=\"{}\" bandwidth=\"{peak}\" width=\"{}\" height=\"{}\" sar=\"1:1\" frameRate=\"{}/{}\">",
                v.id, v.codecs, v.width, v.height, v.frame_rate_num, v.frame_rate_den
            );
            segment_template(&mut o, v.timescale, &v.segments);
            o.push_str("      </Representation>\n");
        }
        o.push_str("    </AdaptationSet>\n");
    }
    // One adaptation set per audio rendition: per language (track) and channel
    // configuration, so that players offer each as a track; the default track's sets
    // have Role main, the others alternate.
    for (i, a) in p.audio.iter().enumerate() {
        let (peak, _) = a.bitrates();
        let _ = writeln!(
            o,
            "    <AdaptationSet id=\"{}\" contentType=\"audio\" mimeType=\"audio/mp4\" lang=\"{}\" segmentAlignment=\"true\" startWithSAP=\"1\">",
            i + 1,
            xml_escape(&a.language)
        );
        let _ = writeln!(o, "      <Label>{}</Label>", xml_escape(&a.name));
        let _ = writeln!(
            o,
            "      <Role schemeIdUri=\"urn:mpeg:dash:role:2011\" value=\"{}\"/>",
            if a.default { "main" } else { "alternate" }
        );
        let _ = writeln!(
            o,
            "      <Representation id=\"{}\" codecs=\"{}\" bandwidth=\"{peak}\" audioSamplingRate=\"{}\">",
            a.id, a.codecs, a.sample_rate
        );
        let _ = writeln!(
            o,
            "        <AudioChannelConfiguration schemeIdUri=\"urn:mpeg:dash:23003:3:audio_channel_configuration:2011\" value=\"{}\"/>",
            a.channels
        );
        segment_template(&mut o, a.timescale, &a.segments);
        o.push_str("      </Representation>\n    </AdaptationSet>\n");
    }
    subtitle_sets(&mut o, p);
    o.push_str("  </Period>\n</MPD>\n");
    o
}

/// First AdaptationSet id of the subtitle sets: clear of the video's and audio's.
const SUBTITLE_SET_IDS: usize = 100;

/// One text/vtt AdaptationSet per subtitle track, its Representation the whole title's
/// WebVTT file by BaseURL (the form dash.js and Shaka both read; FFmpeg 5.1's DASH
/// reader reads it only with `-allowed_extensions ALL`). Role `subtitle`, or
/// `forced-subtitle` for forced tracks.
fn subtitle_sets(o: &mut String, p: &Presentation) {
    let dur = p.duration_s();
    for (i, s) in p.subtitles.iter().enumerate() {
        let bandwidth = if dur > 0.0 {
            ((s.file_bytes as f64 * 8.0 / dur).ceil() as u64).max(1)
        } else {
            1
        };
        let role = if s.forced {
            "forced-subtitle"
        } else {
            "subtitle"
        };
        let _ = writeln!(
            o,
            "    <AdaptationSet id=\"{}\" contentType=\"text\" mimeType=\"text/vtt\" lang=\"{}\">",
            SUBTITLE_SET_IDS + i,
            s.language
        );
        let _ = writeln!(
            o,
            "      <Role schemeIdUri=\"urn:mpeg:dash:role:2011\" value=\"{role}\"/>"
        );
        let _ = writeln!(
            o,
            "      <Representation id=\"{}\" bandwidth=\"{bandwidth}\">",
            s.id
        );
        let _ = writeln!(o, "        <BaseURL>{}/{}</BaseURL>", s.id, s.file);
        o.push_str("      </Representation>\n    </AdaptationSet>\n");
    }
}
