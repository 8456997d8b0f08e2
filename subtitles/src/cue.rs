use std::fmt;

/// One subtitle cue: shown from `start` to `end` (milliseconds from the start of the
/// title, WebVTT's resolution), `text` plain with `\n` between lines (styling is not
/// kept), `line` where it was found in its source (1-based; 0 for cues not read from
/// text, such as a master's subtitle stream).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cue {
    pub start: u64,
    pub end: u64,
    pub text: String,
    pub line: usize,
}

/// A time in milliseconds, shown as `HH:MM:SS.mmm` in messages and in WebVTT.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Timestamp(pub u64);

impl Timestamp {
    /// `HH:MM:SS<sep>mmm` (at least two hour digits, more when needed).
    pub fn with_separator(self, sep: char) -> String {
        let ms = self.0;
        format!(
            "{:02}:{:02}:{:02}{sep}{:03}",
            ms / 3_600_000,
            ms / 60_000 % 60,
            ms / 1000 % 60,
            ms % 1000
        )
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.with_separator('.'))
    }
}

/// Digits only, at most `max` of them, as a number (no sign, no overflow).
pub(crate) fn digits(s: &str, max: usize) -> Option<u64> {
    if s.is_empty() || s.len() > max || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// Hours are bounded so that no arithmetic on times can overflow: 100000 hours is
/// far past any title.
pub(crate) const MAX_HOUR_DIGITS: usize = 5;

/// `[H+:]MM:SS<sep>fff`: the clock form SRT and WebVTT share. `frac_exact` asks for
/// exactly three fraction digits (WebVTT); otherwise one to three (SRT files in the
/// wild write `,5` and `,50`). `need_hours` (SRT) refuses the short `MM:SS.fff` form.
pub(crate) fn parse_clock(
    s: &str,
    seps: &[char],
    frac_exact: bool,
    need_hours: bool,
) -> Option<u64> {
    let (whole, frac) = s.split_once(|c| seps.contains(&c))?;
    let frac_ok = if frac_exact {
        frac.len() == 3
    } else {
        (1..=3).contains(&frac.len())
    };
    if !frac_ok {
        return None;
    }
    let ms = digits(frac, 3)? * 10u64.pow(3 - frac.len() as u32);
    let parts: Vec<&str> = whole.split(':').collect();
    let (h, m, sec) = match parts.as_slice() {
        [h, m, s] => (digits(h, MAX_HOUR_DIGITS)?, *m, *s),
        [m, s] if !need_hours => (0, *m, *s),
        _ => return None,
    };
    if m.len() != 2 || sec.len() != 2 {
        return None;
    }
    let (m, sec) = (digits(m, 2)?, digits(sec, 2)?);
    if m > 59 || sec > 59 {
        return None;
    }
    Some(((h * 60 + m) * 60 + sec) * 1000 + ms)
}
