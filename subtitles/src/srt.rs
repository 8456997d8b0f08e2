//! SubRip: numbered blocks `N`, `HH:MM:SS,mmm --> HH:MM:SS,mmm`, text lines, a blank line.

use crate::cue::{digits, parse_clock};
use crate::text::{lines, strip_markup};
use crate::{Cue, SubtitleError, Timestamp};

const EXPECTED: &str = "HH:MM:SS,mmm";

fn timing(line: usize, s: &str) -> Result<(u64, u64), SubtitleError> {
    let (a, b) = s.split_once("-->").ok_or_else(|| SubtitleError::Syntax {
        line,
        reason: format!("'{s}' is not a timing line (HH:MM:SS,mmm --> HH:MM:SS,mmm)"),
    })?;
    let a = a.trim();
    // Some writers add display coordinates after the end time (X1:… Y1:…).
    let b = b.split_whitespace().next().unwrap_or("");
    let t = |x: &str| {
        parse_clock(x, &[',', '.'], false, true).ok_or_else(|| SubtitleError::BadTimestamp {
            line,
            text: x.to_string(),
            expected: EXPECTED,
        })
    };
    Ok((t(a)?, t(b)?))
}

/// Parse SRT text into cues (not yet validated: see [`crate::parse`]).
pub fn parse_srt(text: &str) -> Result<Vec<Cue>, SubtitleError> {
    let lines = lines(text);
    let mut cues = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let (n, l) = lines[i];
        if l.trim().is_empty() {
            i += 1;
            continue;
        }
        // The cue number is optional in practice; a timing line may come first.
        let (tn, tl) = if l.contains("-->") {
            (n, l)
        } else if digits(l.trim(), 12).is_some() {
            match lines.get(i + 1) {
                Some(&(tn, tl)) if !tl.trim().is_empty() => {
                    i += 1;
                    (tn, tl)
                }
                _ => {
                    return Err(SubtitleError::Syntax {
                        line: n,
                        reason: format!("cue {} has no timing line after it", l.trim()),
                    })
                }
            }
        } else {
            return Err(SubtitleError::Syntax {
                line: n,
                reason: format!(
                    "'{}' is neither a cue number nor a timing line (HH:MM:SS,mmm --> HH:MM:SS,mmm)",
                    l.trim()
                ),
            });
        };
        let (start, end) = timing(tn, tl)?;
        i += 1;
        let mut body = Vec::new();
        while i < lines.len() && !lines[i].1.trim().is_empty() {
            body.push(lines[i].1);
            i += 1;
        }
        cues.push(Cue {
            start,
            end,
            text: strip_markup(&body, false),
            line: tn,
        });
    }
    Ok(cues)
}

/// SRT text of `cues`, numbered from 1.
pub fn write_srt(cues: &[Cue]) -> String {
    let mut out = String::new();
    for (i, c) in cues.iter().enumerate() {
        out.push_str(&format!(
            "{}\n{} --> {}\n",
            i + 1,
            Timestamp(c.start).with_separator(','),
            Timestamp(c.end).with_separator(',')
        ));
        for l in c.text.lines().map(str::trim).filter(|l| !l.is_empty()) {
            out.push_str(l);
            out.push('\n');
        }
        out.push('\n');
    }
    out
}
