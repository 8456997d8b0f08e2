//! WebVTT: the `WEBVTT` header, then blocks: cues (`[id]`, timing line with optional
//! settings, payload) and NOTE/STYLE/REGION blocks, which carry no cues and are skipped.

use crate::cue::parse_clock;
use crate::text::{escape_vtt, lines, strip_markup};
use crate::{Cue, SubtitleError, Timestamp};

const EXPECTED: &str = "[HH:]MM:SS.mmm";

fn timestamp(line: usize, s: &str) -> Result<u64, SubtitleError> {
    parse_clock(s, &['.'], true, false).ok_or_else(|| SubtitleError::BadTimestamp {
        line,
        text: s.to_string(),
        expected: EXPECTED,
    })
}

fn timing(line: usize, s: &str) -> Result<(u64, u64), SubtitleError> {
    let (a, b) = s.split_once("-->").expect("caller checked");
    // Cue settings (position, align, …) follow the end time; they are not kept.
    let b = b.split_whitespace().next().unwrap_or("");
    Ok((timestamp(line, a.trim())?, timestamp(line, b)?))
}

fn is_block(l: &str, kw: &str) -> bool {
    l.strip_prefix(kw)
        .is_some_and(|r| r.is_empty() || r.starts_with([' ', '\t']))
}

/// Parse WebVTT text into cues (not yet validated: see [`crate::parse`]). Times are
/// read as the file's own; an `X-TIMESTAMP-MAP` in the header is not applied (it maps
/// to an MPEG-2 clock a sidecar has no relation to).
pub fn parse_vtt(text: &str) -> Result<Vec<Cue>, SubtitleError> {
    let lines = lines(text);
    let first = lines.first().map(|l| l.1).unwrap_or("");
    if !is_block(first, "WEBVTT") {
        return Err(SubtitleError::Syntax {
            line: 1,
            reason: "a WebVTT file starts with 'WEBVTT'".into(),
        });
    }
    let mut i = 0;
    // The header runs to the first blank line.
    while i < lines.len() && !lines[i].1.trim().is_empty() {
        if i > 0 && lines[i].1.contains("-->") {
            return Err(SubtitleError::Syntax {
                line: lines[i].0,
                reason: "a blank line must separate the WEBVTT header from the first cue".into(),
            });
        }
        i += 1;
    }
    let mut cues = Vec::new();
    while i < lines.len() {
        let (n, l) = lines[i];
        if l.trim().is_empty() {
            i += 1;
            continue;
        }
        let block_end = (i..lines.len())
            .find(|&j| lines[j].1.trim().is_empty())
            .unwrap_or(lines.len());
        if is_block(l, "NOTE") || is_block(l, "STYLE") || is_block(l, "REGION") {
            i = block_end;
            continue;
        }
        // An optional cue identifier, then the timing line.
        let t = if l.contains("-->") { i } else { i + 1 };
        if t >= block_end {
            return Err(SubtitleError::Syntax {
                line: n,
                reason: format!(
                    "'{}' is not followed by a timing line ({EXPECTED} --> {EXPECTED})",
                    l.trim()
                ),
            });
        }
        let (tn, tl) = lines[t];
        if !tl.contains("-->") {
            return Err(SubtitleError::Syntax {
                line: tn,
                reason: format!(
                    "'{}' is not a timing line ({EXPECTED} --> {EXPECTED})",
                    tl.trim()
                ),
            });
        }
        let (start, end) = timing(tn, tl)?;
        let body: Vec<&str> = lines[t + 1..block_end].iter().map(|l| l.1).collect();
        cues.push(Cue {
            start,
            end,
            text: strip_markup(&body, true),
            line: tn,
        });
        i = block_end;
    }
    Ok(cues)
}

/// Cue blocks (identifier, timing, escaped payload) of `cues`, identifiers from
/// `first_id`. Identifiers let players drop the copy of a cue that a later segment
/// repeats.
pub(crate) fn cue_blocks(out: &mut String, cues: &[(usize, &Cue)]) {
    for (id, c) in cues {
        out.push_str(&format!(
            "\n{id}\n{} --> {}\n",
            Timestamp(c.start),
            Timestamp(c.end)
        ));
        let payload = escape_vtt(&c.text);
        if !payload.is_empty() {
            out.push_str(&payload);
            out.push('\n');
        }
    }
}

/// A whole WebVTT file of `cues` (DASH's single-file text representation), cue
/// identifiers numbered from 1.
pub fn write_vtt(cues: &[Cue]) -> String {
    let mut out = String::from("WEBVTT\n");
    let numbered: Vec<(usize, &Cue)> = cues.iter().enumerate().map(|(i, c)| (i + 1, c)).collect();
    cue_blocks(&mut out, &numbered);
    out
}
