//! Bytes to text: UTF-8 only (a BOM dropped), lines split on LF, CRLF or CR.

use crate::SubtitleError;

/// The file as UTF-8 text without its byte order mark. Legacy encodings (Latin-1,
/// Windows-1252) are refused rather than guessed: a wrong guess publishes wrong letters.
pub(crate) fn decode(bytes: &[u8]) -> Result<&str, SubtitleError> {
    if bytes.starts_with(&[0xFF, 0xFE]) {
        return Err(SubtitleError::Utf16 {
            bom: "little-endian",
        });
    }
    if bytes.starts_with(&[0xFE, 0xFF]) {
        return Err(SubtitleError::Utf16 { bom: "big-endian" });
    }
    let bytes = bytes.strip_prefix(&[0xEF, 0xBB, 0xBF]).unwrap_or(bytes);
    std::str::from_utf8(bytes).map_err(|e| {
        let at = e.valid_up_to();
        SubtitleError::NotUtf8 {
            line: line_at(bytes, at),
            byte: bytes[at],
        }
    })
}

/// The 1-based line of byte offset `at` (LF, CRLF and lone CR all end a line).
pub(crate) fn line_at(bytes: &[u8], at: usize) -> usize {
    let before = &bytes[..at.min(bytes.len())];
    let mut line = 1;
    let mut i = 0;
    while i < before.len() {
        match before[i] {
            b'\n' => line += 1,
            b'\r' if before.get(i + 1) != Some(&b'\n') => line += 1,
            _ => {}
        }
        i += 1;
    }
    line
}

/// Lines with their 1-based numbers; LF, CRLF and lone CR all end a line.
pub(crate) fn lines(text: &str) -> Vec<(usize, &str)> {
    let mut out = Vec::new();
    let mut rest = text;
    let mut n = 1;
    while !rest.is_empty() {
        match rest.find(['\n', '\r']) {
            Some(i) => {
                out.push((n, &rest[..i]));
                let skip = if rest[i..].starts_with("\r\n") { 2 } else { 1 };
                rest = &rest[i + skip..];
            }
            None => {
                out.push((n, rest));
                rest = "";
            }
        }
        n += 1;
    }
    out
}

/// Cue text without markup: tags (`<i>`, `<font color=…>`, WebVTT's `<c.x>`, `<v Bob>`)
/// and SSA override blocks (`{\an8}`, common in SRT) dropped, lines trimmed, empty lines
/// removed (a blank line would end the cue when written back).
pub(crate) fn strip_markup(lines: &[&str], entities: bool) -> String {
    let mut out: Vec<String> = Vec::new();
    for l in lines {
        let mut s = String::with_capacity(l.len());
        let mut chars = l.chars().peekable();
        while let Some(c) = chars.next() {
            match c {
                '<' if l.contains('>') => {
                    for d in chars.by_ref() {
                        if d == '>' {
                            break;
                        }
                    }
                }
                '{' if chars.peek() == Some(&'\\') => {
                    for d in chars.by_ref() {
                        if d == '}' {
                            break;
                        }
                    }
                }
                _ => s.push(c),
            }
        }
        let s = if entities { unescape(&s) } else { s };
        let s = s.trim();
        if !s.is_empty() {
            out.push(s.to_string());
        }
    }
    out.join("\n")
}

/// WebVTT's character references (the named ones it defines, and numeric ones).
fn unescape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find('&') {
        out.push_str(&rest[..i]);
        rest = &rest[i..];
        let end = rest.find(';').filter(|&e| e <= 10);
        let named = end.and_then(|e| {
            let name = &rest[1..e];
            let c = match name {
                "amp" => Some('&'),
                "lt" => Some('<'),
                "gt" => Some('>'),
                "quot" => Some('"'),
                "apos" => Some('\''),
                "nbsp" => Some('\u{a0}'),
                "lrm" => Some('\u{200e}'),
                "rlm" => Some('\u{200f}'),
                _ => name
                    .strip_prefix("#x")
                    .or_else(|| name.strip_prefix("#X"))
                    .and_then(|h| u32::from_str_radix(h, 16).ok())
                    .or_else(|| name.strip_prefix('#').and_then(|d| d.parse().ok()))
                    .and_then(char::from_u32),
            };
            c.map(|c| (c, e))
        });
        match named {
            Some((c, e)) => {
                out.push(c);
                rest = &rest[e + 1..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// Text made safe for a WebVTT cue payload: `&`, `<` and `>` escaped (so `-->` cannot
/// appear), no empty lines.
pub(crate) fn escape_vtt(text: &str) -> String {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(|l| {
            l.replace('&', "&amp;")
                .replace('<', "&lt;")
                .replace('>', "&gt;")
        })
        .collect::<Vec<_>>()
        .join("\n")
}
