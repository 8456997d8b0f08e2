//! TTML (and its profiles DFXP, IMSC1 text, EBU-TT-D, SMPTE-TT text): `<p>` elements
//! with `begin`, `end` or `dur` in `<body>`/`<div>`, times relative to their parent's
//! begin, `<br/>` for line breaks. The XML itself is read by quick-xml; only the timing
//! rules of TTML are ours (a handful of expressions, no crate covers them).
//! Styling, regions and spans' own timing are not kept.

use quick_xml::escape::resolve_predefined_entity;
use quick_xml::events::{BytesStart, Event};
use quick_xml::Reader;

use crate::text::line_at;
use crate::{Cue, SubtitleError};

/// The document's timing parameters (`ttp:frameRate`, `ttp:frameRateMultiplier`,
/// `ttp:tickRate` on `<tt>`).
#[derive(Debug, Clone, Copy)]
struct Rates {
    frame_rate: f64,
    tick_rate: f64,
}

const EXPECTED: &str = "HH:MM:SS[.fff], HH:MM:SS:FF or a number with h, m, s, ms, f or t";
/// Past this a time is not a title's (and f64 → u64 stays exact).
const MAX_MS: f64 = 1e12;

fn attr(e: &BytesStart, name: &str, line: usize) -> Result<Option<String>, SubtitleError> {
    for a in e.attributes() {
        let a = a.map_err(|err| SubtitleError::Xml {
            line,
            source: err.into(),
        })?;
        if a.key.local_name().as_ref() == name {
            let v = a
                .normalized_value(quick_xml::XmlVersion::Implicit1_0)
                .map_err(|source| SubtitleError::Xml { line, source })?;
            return Ok(Some(v.trim().to_string()));
        }
    }
    Ok(None)
}

fn number(s: &str) -> Option<f64> {
    // Digits with an optional fraction; no sign, no exponent.
    let (i, f) = s.split_once('.').unwrap_or((s, "0"));
    let ok = |d: &str| !d.is_empty() && d.len() <= 12 && d.bytes().all(|b| b.is_ascii_digit());
    if !ok(i) || !ok(f) {
        return None;
    }
    s.parse().ok()
}

/// A TTML time expression in milliseconds.
fn time(s: &str, rates: Rates, line: usize) -> Result<u64, SubtitleError> {
    let bad = || SubtitleError::BadTimestamp {
        line,
        text: s.to_string(),
        expected: EXPECTED,
    };
    let ms = if s.contains(':') {
        let parts: Vec<&str> = s.split(':').collect();
        let two = |d: &str| d.len() == 2 && d.bytes().all(|b| b.is_ascii_digit());
        match parts.as_slice() {
            [h, m, sec] | [h, m, sec, _] => {
                let (h, m) = (
                    number(h).filter(|_| h.len() >= 2),
                    number(m).filter(|_| two(m)),
                );
                let sec_whole = sec.split('.').next().unwrap_or("");
                let sec = number(sec).filter(|_| two(sec_whole));
                let (Some(h), Some(m), Some(sec)) = (h, m, sec) else {
                    return Err(bad());
                };
                if h.fract() != 0.0 || m >= 60.0 || sec >= 61.0 {
                    return Err(bad());
                }
                let frames = match parts.get(3) {
                    // Frames may carry sub-frames after a dot; they are dropped.
                    Some(f) => {
                        let f = f.split('.').next().unwrap_or("");
                        number(f).ok_or_else(bad)? / rates.frame_rate
                    }
                    None => 0.0,
                };
                ((h * 60.0 + m) * 60.0 + sec + frames) * 1000.0
            }
            _ => return Err(bad()),
        }
    } else {
        let split = s.find(|c: char| c.is_ascii_alphabetic()).ok_or_else(bad)?;
        let (n, unit) = s.split_at(split);
        let n = number(n).ok_or_else(bad)?;
        n * match unit {
            "h" => 3_600_000.0,
            "m" => 60_000.0,
            "s" => 1000.0,
            "ms" => 1.0,
            "f" => 1000.0 / rates.frame_rate,
            "t" => 1000.0 / rates.tick_rate,
            _ => return Err(bad()),
        }
    };
    if !(0.0..MAX_MS).contains(&ms) {
        return Err(bad());
    }
    Ok(ms.round() as u64)
}

fn rates(e: &BytesStart, line: usize) -> Result<Rates, SubtitleError> {
    let bad = |what: &str, v: String| SubtitleError::Syntax {
        line,
        reason: format!("ttp:{what} '{v}' is not a positive number"),
    };
    let positive = |v: &str| number(v).filter(|x| *x > 0.0);
    let frame_attr = attr(e, "frameRate", line)?;
    let mut frame_rate = match &frame_attr {
        Some(v) => positive(v).ok_or_else(|| bad("frameRate", v.clone()))?,
        None => 30.0,
    };
    if let Some(v) = attr(e, "frameRateMultiplier", line)? {
        let mut it = v.split_whitespace().map(positive);
        match (it.next().flatten(), it.next().flatten(), it.next()) {
            (Some(n), Some(d), None) => frame_rate = frame_rate * n / d,
            _ => return Err(bad("frameRateMultiplier", v)),
        }
    }
    // TTML: without a tick rate, ticks are frames when a frame rate is given, else seconds.
    let tick_rate = match attr(e, "tickRate", line)? {
        Some(v) => positive(&v).ok_or_else(|| bad("tickRate", v))?,
        None if frame_attr.is_some() => frame_rate,
        None => 1.0,
    };
    Ok(Rates {
        frame_rate,
        tick_rate,
    })
}

/// An element's active interval, absolute: its begin, and its end when it has one.
#[derive(Clone, Copy)]
struct Interval {
    begin: u64,
    end: Option<u64>,
}

fn interval(
    e: &BytesStart,
    parent: Interval,
    rates: Rates,
    line: usize,
) -> Result<Interval, SubtitleError> {
    let t = |name: &str| -> Result<Option<u64>, SubtitleError> {
        attr(e, name, line)?
            .map(|v| time(&v, rates, line))
            .transpose()
    };
    let begin = parent.begin + t("begin")?.unwrap_or(0);
    let end = match (t("end")?, t("dur")?) {
        (Some(end), _) => Some(parent.begin + end),
        (None, Some(dur)) => Some(begin + dur),
        (None, None) => parent.end,
    };
    Ok(Interval { begin, end })
}

/// Parse TTML text into cues, one per `<p>` (not yet validated: see [`crate::parse`]).
pub fn parse_ttml(text: &str) -> Result<Vec<Cue>, SubtitleError> {
    let mut r = Reader::from_str(text);
    let line = |pos: u64| line_at(text.as_bytes(), pos as usize);
    let mut rates = Rates {
        frame_rate: 30.0,
        tick_rate: 1.0,
    };
    let mut root_seen = false;
    // Open timed containers (body, div, p, span): their intervals.
    let mut stack: Vec<(String, Interval)> = Vec::new();
    // The <p> being read: its interval, line and text so far.
    let mut current: Option<(Interval, usize, String)> = None;
    let mut cues = Vec::new();
    loop {
        let at = line(r.buffer_position());
        let ev = r.read_event().map_err(|source| SubtitleError::Xml {
            line: line(r.error_position()),
            source,
        })?;
        match ev {
            Event::Start(ref e) | Event::Empty(ref e) => {
                let empty = matches!(ev, Event::Empty(_));
                let name = e.local_name().as_ref().to_string();
                if !root_seen {
                    if name != "tt" {
                        return Err(SubtitleError::Syntax {
                            line: at,
                            reason: format!("the root element is <{}>, not TTML's <tt>", name),
                        });
                    }
                    root_seen = true;
                    rates = self::rates(e, at)?;
                    continue;
                }
                match name.as_str() {
                    "br" => {
                        if let Some((_, _, t)) = current.as_mut() {
                            t.push('\n');
                        }
                    }
                    "body" | "div" | "p" | "span" => {
                        let parent = stack.last().map(|s| s.1).unwrap_or(Interval {
                            begin: 0,
                            end: None,
                        });
                        let iv = interval(e, parent, rates, at)?;
                        if name == "p" {
                            if current.is_some() {
                                return Err(SubtitleError::Syntax {
                                    line: at,
                                    reason: "a <p> inside a <p>".into(),
                                });
                            }
                            current = Some((iv, at, String::new()));
                            if empty {
                                finish(&mut current, &mut cues)?;
                            }
                        }
                        if !empty {
                            stack.push((name, iv));
                        }
                    }
                    _ => {}
                }
            }
            Event::End(e) => {
                let name = e.local_name().as_ref().to_string();
                if matches!(name.as_str(), "body" | "div" | "p" | "span") {
                    stack.pop();
                }
                if name == "p" {
                    finish(&mut current, &mut cues)?;
                }
            }
            Event::Text(t) => {
                if let Some((_, _, s)) = current.as_mut() {
                    // Line ends in the source are whitespace; only <br/> breaks a line.
                    s.push_str(&t.xml10_content().replace(['\n', '\r', '\t'], " "));
                }
            }
            Event::CData(t) => {
                if let Some((_, _, s)) = current.as_mut() {
                    s.push_str(&t.xml10_content().replace(['\n', '\r', '\t'], " "));
                }
            }
            Event::GeneralRef(g) => {
                if let Some((_, _, s)) = current.as_mut() {
                    let resolved = match g.resolve_char_ref() {
                        Ok(Some(c)) => Some(c.to_string()),
                        _ => resolve_predefined_entity(&g.xml10_content()).map(str::to_string),
                    };
                    match resolved {
                        Some(c) => s.push_str(&c),
                        None => {
                            return Err(SubtitleError::Syntax {
                                line: at,
                                reason: format!("unknown entity &{};", g.xml10_content()),
                            })
                        }
                    }
                }
            }
            Event::Eof => break,
            _ => {}
        }
    }
    if !root_seen {
        return Err(SubtitleError::Syntax {
            line: 1,
            reason: "no <tt> element: not TTML".into(),
        });
    }
    Ok(cues)
}

/// The cue of the `<p>` just closed. XML whitespace rules: runs of spaces and line
/// ends inside the text are one space; `<br/>` is the only line break.
fn finish(
    current: &mut Option<(Interval, usize, String)>,
    cues: &mut Vec<Cue>,
) -> Result<(), SubtitleError> {
    let Some((iv, line, raw)) = current.take() else {
        return Ok(());
    };
    let end = iv.end.ok_or_else(|| SubtitleError::Syntax {
        line,
        reason: "the <p> has no end or dur, nor has any element around it".into(),
    })?;
    let text = raw
        .split('\n')
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join("\n");
    cues.push(Cue {
        start: iv.begin,
        end,
        text,
        line,
    });
    Ok(())
}
