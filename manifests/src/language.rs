//! Language tags for `LANGUAGE` (HLS) and `lang` (DASH): both want BCP 47 (RFC 5646),
//! which uses the two-letter ISO 639-1 code where one exists ("en", not the "eng" that
//! MP4 and Matroska store). A small table of the languages content ops deliver, with
//! their names for HLS `NAME` and DASH `Label`.

/// (ISO 639-1, ISO 639-2/T, ISO 639-2/B, English name).
const LANGUAGES: &[(&str, &str, &str, &str)] = &[
    ("ar", "ara", "ara", "Arabic"),
    ("bg", "bul", "bul", "Bulgarian"),
    ("ca", "cat", "cat", "Catalan"),
    ("cs", "ces", "cze", "Czech"),
    ("cy", "cym", "wel", "Welsh"),
    ("da", "dan", "dan", "Danish"),
    ("de", "deu", "ger", "German"),
    ("el", "ell", "gre", "Greek"),
    ("en", "eng", "eng", "English"),
    ("es", "spa", "spa", "Spanish"),
    ("et", "est", "est", "Estonian"),
    ("eu", "eus", "baq", "Basque"),
    ("fa", "fas", "per", "Persian"),
    ("fi", "fin", "fin", "Finnish"),
    ("fr", "fra", "fre", "French"),
    ("ga", "gle", "gle", "Irish"),
    ("gl", "glg", "glg", "Galician"),
    ("he", "heb", "heb", "Hebrew"),
    ("hi", "hin", "hin", "Hindi"),
    ("hr", "hrv", "hrv", "Croatian"),
    ("hu", "hun", "hun", "Hungarian"),
    ("id", "ind", "ind", "Indonesian"),
    ("is", "isl", "ice", "Icelandic"),
    ("it", "ita", "ita", "Italian"),
    ("ja", "jpn", "jpn", "Japanese"),
    ("ko", "kor", "kor", "Korean"),
    ("lt", "lit", "lit", "Lithuanian"),
    ("lv", "lav", "lav", "Latvian"),
    ("ms", "msa", "may", "Malay"),
    ("mt", "mlt", "mlt", "Maltese"),
    ("nb", "nob", "nob", "Norwegian Bokmål"),
    ("nl", "nld", "dut", "Dutch"),
    ("nn", "nno", "nno", "Norwegian Nynorsk"),
    ("no", "nor", "nor", "Norwegian"),
    ("pl", "pol", "pol", "Polish"),
    ("pt", "por", "por", "Portuguese"),
    ("ro", "ron", "rum", "Romanian"),
    ("ru", "rus", "rus", "Russian"),
    ("sk", "slk", "slo", "Slovak"),
    ("sl", "slv", "slv", "Slovenian"),
    ("sr", "srp", "srp", "Serbian"),
    ("sv", "swe", "swe", "Swedish"),
    ("ta", "tam", "tam", "Tamil"),
    ("th", "tha", "tha", "Thai"),
    ("tr", "tur", "tur", "Turkish"),
    ("uk", "ukr", "ukr", "Ukrainian"),
    ("ur", "urd", "urd", "Urdu"),
    ("vi", "vie", "vie", "Vietnamese"),
    ("zh", "zho", "chi", "Chinese"),
];

/// "Undetermined": a track with no language tag.
pub const UNDETERMINED: &str = "und";

/// A language code that is not one we know, or not a language tag at all.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("'{code}' is not a known language code (ISO 639-1 or 639-2 such as en, eng, fr, fra, optionally with a region: pt-BR; or und)")]
pub struct LanguageError {
    pub code: String,
}

/// The BCP 47 tag for an ISO 639-1/639-2 code, with an optional region subtag
/// (`eng` → `en`, `fre` → `fr`, `pt-br` → `pt-BR`, `und` → `und`).
pub fn normalise(code: &str) -> Result<String, LanguageError> {
    let bad = || LanguageError {
        code: code.to_string(),
    };
    let mut parts = code.trim().split(['-', '_']);
    let primary = parts.next().unwrap_or("").to_ascii_lowercase();
    let region = parts.next();
    if parts.next().is_some() {
        return Err(bad());
    }
    let base = if primary == UNDETERMINED {
        UNDETERMINED
    } else {
        LANGUAGES
            .iter()
            .find(|(a, t, b, _)| primary == *a || primary == *t || primary == *b)
            .map(|(a, ..)| *a)
            .ok_or_else(bad)?
    };
    match region {
        None => Ok(base.to_string()),
        Some(r)
            if base != UNDETERMINED
                && ((r.len() == 2 && r.chars().all(|c| c.is_ascii_alphabetic()))
                    || (r.len() == 3 && r.chars().all(|c| c.is_ascii_digit()))) =>
        {
            Ok(format!("{base}-{}", r.to_ascii_uppercase()))
        }
        Some(_) => Err(bad()),
    }
}

/// The English name of a normalised tag ("English", "Portuguese (BR)"); `None` for
/// `und`.
pub fn name(tag: &str) -> Option<String> {
    let (primary, region) = match tag.split_once('-') {
        Some((p, r)) => (p, Some(r)),
        None => (tag, None),
    };
    let (_, _, _, name) = LANGUAGES.iter().find(|(a, ..)| *a == primary)?;
    Some(match region {
        Some(r) => format!("{name} ({r})"),
        None => name.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_become_bcp47() {
        assert_eq!(normalise("eng").unwrap(), "en");
        assert_eq!(normalise("fre").unwrap(), "fr");
        assert_eq!(normalise("FRA").unwrap(), "fr");
        assert_eq!(normalise("pt-br").unwrap(), "pt-BR");
        assert_eq!(normalise("es-419").unwrap(), "es-419");
        assert_eq!(normalise("und").unwrap(), "und");
        for bad in ["", "xx", "english", "en-", "en-US-x", "und-US", "e1"] {
            assert_eq!(normalise(bad).unwrap_err().code, bad, "{bad}");
        }
        assert_eq!(name("fr").as_deref(), Some("French"));
        assert_eq!(name("pt-BR").as_deref(), Some("Portuguese (BR)"));
        assert_eq!(name("und"), None);
    }
}
