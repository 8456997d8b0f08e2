//! HTML text: escaping and the page frame. Every value that comes from a title, a
//! file or a message goes through [`esc`] (element text and quoted attribute values).

use std::fmt::Write;

/// `s` safe in element text and in a double- or single-quoted attribute value.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// `s` as one URL path segment (for links to a title: ids are checked, but a link is
/// built from whatever is in the store).
pub fn path_segment(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.' {
            out.push(b as char);
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

/// A whole page: the navigation, `body` (already HTML), our style sheet and script.
pub fn page(title: &str, active: &str, body: &str) -> String {
    let nav: String = [
        ("/", "Titles"),
        ("/farm", "Farm"),
        ("/placement", "Placement"),
    ]
    .iter()
    .map(|(href, name)| {
        let class = if *name == active {
            " class=\"active\""
        } else {
            ""
        };
        format!("<a href=\"{href}\"{class}>{name}</a>")
    })
    .collect();
    format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
<title>{} · vodfarm</title><link rel=\"icon\" href=\"data:,\">\
<link rel=\"stylesheet\" href=\"/assets/console.css\"></head><body>\
<header><span class=\"brand\">vodfarm</span><nav>{nav}</nav>\
<label class=\"token\">token <input id=\"token\" type=\"password\" autocomplete=\"off\" \
placeholder=\"for actions\"></label></header>\
<main>{body}</main><div id=\"flash\" role=\"status\"></div>\
<script src=\"/assets/console.js\"></script></body></html>\n",
        esc(title)
    )
}

/// Bytes in binary units, for people (`1.5 GiB`).
pub fn bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = n as f64;
    let mut u = 0;
    while v >= 1024.0 && u < UNITS.len() - 1 {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}

/// A Unix time in milliseconds as UTC to the second (`2026-11-23 20:31:05Z`): the job
/// events' RFC 3339 rendering, shortened for tables.
pub fn time_ms(ms: u64) -> String {
    let t = std::time::UNIX_EPOCH + std::time::Duration::from_millis(ms);
    let full = workers::events::rfc3339(t); // 2026-11-23T20:31:05.123Z
    format!("{}Z", full[..19].replacen('T', " ", 1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup_and_quotes() {
        assert_eq!(
            esc(r#"<script>alert("x")</script> & 'y'"#),
            "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#39;y&#39;"
        );
        assert_eq!(path_segment("a b/<c>"), "a%20b%2F%3Cc%3E");
    }

    #[test]
    fn dates() {
        assert_eq!(time_ms(0), "1970-01-01 00:00:00Z");
        assert_eq!(time_ms(1_795_000_000_000), "2026-11-18 11:06:40Z");
        assert_eq!(time_ms(951_782_400_000), "2000-02-29 00:00:00Z");
        assert_eq!(bytes(1536), "1.5 KiB");
    }
}
