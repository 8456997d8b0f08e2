//! Text subtitle streams of a master (mov_text, SubRip, WebVTT, ASS/SSA, and other
//! decoders that give text): each decoded to plain text with its display times in
//! milliseconds from the master's first video frame. Bitmap subtitles (DVD, PGS,
//! DVB) are not text and are listed as such, so the caller can say what it skips.

use std::path::Path;

use ffmpeg_next::{codec, media, Rational as FfRational};

use crate::error::Context;
use crate::{open_untrusted, MediaError};

/// One decoded cue: shown from `start_ms` to `end_ms` (from video frame 0; negative
/// when a cue begins before it), `text` plain with `\n` between lines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TextCue {
    pub start_ms: i64,
    pub end_ms: i64,
    pub text: String,
}

/// A subtitle stream of the master.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubtitleStream {
    /// The stream's index in the master.
    pub index: usize,
    /// FFmpeg's codec name (`mov_text`, `subrip`, `ass`, `hdmv_pgs_subtitle`, …).
    pub codec: String,
    /// The stream's `language` tag (ISO 639-2, as containers store it), if any.
    pub language: Option<String>,
    /// Whether the stream is marked forced (its disposition).
    pub forced: bool,
    /// The cues, in stream order; `None` for a bitmap stream (not text).
    pub cues: Option<Vec<TextCue>>,
}

/// The text of an ASS event as FFmpeg's text decoders give it (`ReadOrder, Layer,
/// Style, Name, MarginL, MarginR, MarginV, Effect, Text`): the Text field, override
/// blocks (`{\i1}`) dropped, `\N`/`\n` as line breaks, `\h` as a space.
fn ass_text(line: &str) -> String {
    let text = line.splitn(9, ',').nth(8).unwrap_or("");
    let mut out = String::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '{' => {
                for d in chars.by_ref() {
                    if d == '}' {
                        break;
                    }
                }
            }
            '\\' => match chars.peek() {
                Some('N') | Some('n') => {
                    chars.next();
                    out.push('\n');
                }
                Some('h') => {
                    chars.next();
                    out.push(' ');
                }
                _ => out.push('\\'),
            },
            _ => out.push(c),
        }
    }
    out.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join("\n")
}

fn to_ms(ts: i64, tb: FfRational) -> i64 {
    (ts as i128 * tb.numerator() as i128 * 1000 / tb.denominator().max(1) as i128) as i64
}

/// Every subtitle stream of `master`, text ones decoded. `video_origin` is the
/// presentation time of video frame 0 in seconds as (num, den): cue times are
/// relative to it, as the published title's are.
pub fn subtitle_streams(
    master: &Path,
    video_origin: (i64, i64),
) -> Result<Vec<SubtitleStream>, MediaError> {
    let mut ictx = open_untrusted(master)?;
    let origin_ms = (video_origin.0 as i128 * 1000 / video_origin.1.max(1) as i128) as i64;
    let mut streams = Vec::new();
    let mut decoders = Vec::new();
    for s in ictx.streams() {
        if s.parameters().medium() != media::Type::Subtitle {
            continue;
        }
        let id = s.parameters().id();
        let codec = id.name().to_string();
        let language = s.metadata().get("language").map(str::to_string);
        let forced = s
            .disposition()
            .contains(ffmpeg_next::format::stream::Disposition::FORCED);
        let text = !matches!(
            id,
            codec::Id::DVD_SUBTITLE
                | codec::Id::DVB_SUBTITLE
                | codec::Id::HDMV_PGS_SUBTITLE
                | codec::Id::XSUB
                | codec::Id::DVB_TELETEXT
                | codec::Id::HDMV_TEXT_SUBTITLE
                | codec::Id::ARIB_CAPTION
        );
        let decoder = if text {
            let mut dctx = codec::context::Context::from_parameters(s.parameters())
                .ctx(|| format!("subtitle stream {} parameters", s.index()))?;
            // SAFETY: plain field of a context we own, before open.
            unsafe {
                (*dctx.as_mut_ptr()).pkt_timebase = s.time_base().into();
            }
            Some(
                dctx.decoder()
                    .subtitle()
                    .ctx(|| format!("opening the {codec} decoder of stream {}", s.index()))?,
            )
        } else {
            None
        };
        decoders.push((s.index(), s.time_base(), decoder));
        streams.push(SubtitleStream {
            index: s.index(),
            codec,
            language,
            forced,
            cues: text.then(Vec::new),
        });
    }
    if streams.is_empty() {
        return Ok(streams);
    }
    for (stream, packet) in ictx.packets() {
        let Some(k) = decoders.iter().position(|d| d.0 == stream.index()) else {
            continue;
        };
        let (_, tb, Some(dec)) = &mut decoders[k] else {
            continue;
        };
        let Some(pts) = packet.pts() else { continue };
        let mut sub = ffmpeg_next::Subtitle::new();
        let got = dec
            .decode(&packet, &mut sub)
            .ctx(|| format!("decoding subtitle stream {}", stream.index()));
        let got = match got {
            Ok(g) => g,
            Err(e) => {
                return Err(MediaError::Corrupt {
                    path: master.into(),
                    detail: e.to_string(),
                })
            }
        };
        if got {
            let text: Vec<String> = sub
                .rects()
                .filter_map(|r| match r {
                    codec::subtitle::Rect::Text(t) => Some(t.get().trim().to_string()),
                    codec::subtitle::Rect::Ass(a) => Some(ass_text(a.get())),
                    _ => None,
                })
                .filter(|t| !t.is_empty())
                .collect();
            let start = to_ms(pts, *tb) + sub.start() as i64 - origin_ms;
            // Text decoders leave the end to the packet's duration.
            let end = if sub.end() > sub.start() && sub.end() != u32::MAX {
                to_ms(pts, *tb) + sub.end() as i64 - origin_ms
            } else {
                to_ms(pts + packet.duration(), *tb) - origin_ms
            };
            if !text.is_empty() {
                if let Some(cues) = streams[k].cues.as_mut() {
                    cues.push(TextCue {
                        start_ms: start,
                        end_ms: end,
                        text: text.join("\n"),
                    });
                }
            }
        }
        // SAFETY: frees what the decoder allocated in `sub`, once; ffmpeg-next's
        // Subtitle has no Drop of its own.
        unsafe { ffmpeg_next::ffi::avsubtitle_free(sub.as_mut_ptr()) };
    }
    Ok(streams)
}

#[cfg(test)]
mod tests {
    use super::ass_text;

    #[test]
    fn ass_events_become_plain_text() {
        assert_eq!(
            ass_text("0,0,Default,,0,0,0,,{\\i1}Hello{\\i0}\\Nworld, again"),
            "Hello\nworld, again"
        );
        assert_eq!(ass_text("3,0,Default,,0,0,0,,a\\hb"), "a b");
    }
}
