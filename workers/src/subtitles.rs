//! Subtitles: sidecars checked at submit before anything is uploaded and stored next
//! to the master (`ingest/<title>/subtitles/<id>.<ext>`); the master's own text
//! subtitle streams taken out at ingest (`work/<title>/subtitles/<id>.vtt`); both at
//! packaging segmented on the video's segment grid and published under
//! `origin/<title>/<id>/`: one WebVTT file per segment with its HLS playlist, and the
//! whole title in one file for DASH.

use std::path::{Path, PathBuf};

use manifests::{SegmentInfo, SubtitleTrack, VideoTrack};
use serde::{Deserialize, Serialize};
use sha2::Digest;
use subtitles::{Format, Span};

use crate::plan::Request;
use crate::stages::Ctx;
use crate::submit::sha256_file;
use crate::{keys, FarmError, StageError, TitleId};

/// A sidecar as given on the command line: `LANG=FILE` or `LANG:forced=FILE`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubtitleInput {
    /// BCP 47 language tag (`en`, `pt-BR`).
    pub language: String,
    /// Forced subtitles (foreign dialogue, signs), shown without the viewer asking.
    pub forced: bool,
    /// The file (SRT, WebVTT or TTML, told by its extension).
    pub path: PathBuf,
}

/// `en`, `fr`, `pt-BR`, `zh-Hant`, `es-419`: a primary tag of 2-3 letters and up to
/// three subtags of 1-8 letters or digits. Anything else would end up in object keys
/// and manifests, so it is refused rather than cleaned.
fn language_ok(tag: &str) -> bool {
    let mut parts = tag.split('-');
    let primary = parts.next().unwrap_or("");
    (2..=3).contains(&primary.len())
        && primary.chars().all(|c| c.is_ascii_alphabetic())
        && parts.clone().count() <= 3
        && parts.all(|p| (1..=8).contains(&p.len()) && p.chars().all(|c| c.is_ascii_alphanumeric()))
}

impl SubtitleInput {
    /// Read `LANG=FILE` or `LANG:forced=FILE`.
    pub fn parse(spec: &str) -> Result<Self, String> {
        let (lang, path) = spec.split_once('=').ok_or_else(|| {
            format!("'{spec}' is not LANG=FILE (for example en=subs.srt, or en:forced=signs.srt)")
        })?;
        let (language, forced) = match lang.split_once(':') {
            Some((l, "forced")) => (l, true),
            Some((_, other)) => {
                return Err(format!(
                    "'{lang}': the only suffix after the language is ':forced', not ':{other}'"
                ))
            }
            None => (lang, false),
        };
        if !language_ok(language) {
            return Err(format!(
                "'{language}' is not a language tag (BCP 47, such as en, fr, pt-BR)"
            ));
        }
        if path.is_empty() {
            return Err(format!("'{spec}': no file after '='"));
        }
        Ok(Self {
            language: language.to_string(),
            forced,
            path: PathBuf::from(path),
        })
    }

    fn id(&self) -> String {
        track_id(&self.language, self.forced)
    }
}

/// The rendition id of a subtitle track: `s-<lang>`, `s-<lang>-forced`.
fn track_id(language: &str, forced: bool) -> String {
    if forced {
        format!("s-{language}-forced")
    } else {
        format!("s-{language}")
    }
}

/// A sidecar as the request records it, once checked and uploaded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubtitleSidecar {
    /// The rendition id (`s-en`, `s-en-forced`): its folder under `origin/<title>/`.
    pub id: String,
    /// BCP 47 language tag.
    pub language: String,
    /// Forced subtitles.
    pub forced: bool,
    /// SRT, WebVTT or TTML.
    pub format: Format,
    /// Where the file is stored (`ingest/<title>/subtitles/<id>.<ext>`).
    pub key: String,
    /// SHA-256 of the file, so that a second submit can tell the same file from another.
    pub sha256: String,
}

fn read(path: &Path) -> Result<(Format, Vec<subtitles::Cue>), String> {
    let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("");
    let format = Format::from_extension(ext).ok_or_else(|| {
        format!("'.{ext}' is not a subtitle format we read (.srt, .vtt, .ttml, .dfxp, .xml)")
    })?;
    let bytes = std::fs::read(path).map_err(|e| format!("cannot read it: {e}"))?;
    let cues = subtitles::parse(&bytes, format).map_err(|e| e.to_string())?;
    Ok((format, cues))
}

/// Check every sidecar before anything is uploaded: a format we read, text that parses
/// and validates, no cue starting after the master ends, one track per language and
/// kind. Returns what the request records, in the order given.
pub fn check(
    title: &TitleId,
    inputs: &[SubtitleInput],
    master_duration_s: f64,
) -> Result<Vec<SubtitleSidecar>, FarmError> {
    let mut out: Vec<SubtitleSidecar> = Vec::new();
    for s in inputs {
        let what = format!(
            "subtitles {}{} ({})",
            s.language,
            if s.forced { ":forced" } else { "" },
            s.path.display()
        );
        if out.iter().any(|o| o.id == s.id()) {
            return Err(FarmError::Permanent(format!(
                "{what}: a second {} track; give one file per language (and one forced)",
                s.language
            )));
        }
        let (format, cues) =
            read(&s.path).map_err(|e| FarmError::Permanent(format!("{what}: {e}")))?;
        let end_ms = (master_duration_s * 1000.0).round() as u64;
        if let Some(c) = cues
            .iter()
            .find(|c| master_duration_s > 0.0 && c.start >= end_ms)
        {
            return Err(FarmError::Permanent(format!(
                "{what}: line {}: the cue starts at {}, after the master ends ({})",
                c.line,
                subtitles::Timestamp(c.start),
                subtitles::Timestamp(end_ms)
            )));
        }
        out.push(SubtitleSidecar {
            id: s.id(),
            language: s.language.clone(),
            forced: s.forced,
            format,
            key: keys::subtitle_sidecar(title, &s.id(), format.extension()),
            sha256: sha256_file(&s.path)?,
        });
    }
    Ok(out)
}

/// What players show for a track.
fn name(s: &SubtitleSidecar) -> String {
    if s.forced {
        format!("{} (forced)", s.language)
    } else {
        s.language.clone()
    }
}

/// Segment and publish each sidecar on `video`'s segment grid: `<id>/<n>.vtt` (n from
/// 1, as the video's segments), `<id>/playlist.m3u8`, and `<id>/all.vtt`. Cue times are
/// the title's media times: the CMAF timeline starts at the first segment's `tfdt`,
/// which `X-TIMESTAMP-MAP` maps LOCAL 0 to (in 90 kHz).
pub fn publish(
    ctx: &Ctx,
    t: &TitleId,
    sidecars: &[SubtitleSidecar],
    video: &VideoTrack,
) -> Result<Vec<SubtitleTrack>, StageError> {
    let spans: Vec<Span> = video
        .segments
        .iter()
        .map(|s| Span {
            start: s.start,
            duration: s.duration,
        })
        .collect();
    let ts = video.timescale;
    let origin_90k = video
        .segments
        .first()
        .map(|s| (s.start as u128 * 90_000 / ts as u128) as u64)
        .unwrap_or(0);
    let end = spans.last().map(|s| s.start + s.duration).unwrap_or(0);
    let mut tracks = Vec::new();
    for s in sidecars {
        let id = s.id.clone();
        let bytes = ctx.store.get(&s.key)?;
        let cues = subtitles::parse(&bytes, s.format)
            .map_err(|e| StageError::Permanent(format!("{}: {e}", s.key)))?;
        let files = subtitles::segment_webvtt(&cues, &spans, ts, origin_90k);
        let mut segments = Vec::new();
        for (i, (span, text)) in spans.iter().zip(&files).enumerate() {
            let uri = format!("{}.vtt", i + 1);
            ctx.store
                .put(&keys::origin(t, &format!("{id}/{uri}")), text.as_bytes())?;
            segments.push(SegmentInfo {
                uri,
                start: span.start,
                duration: span.duration,
                bytes: text.len() as u64,
                iframes: Vec::new(),
            });
        }
        let uris: Vec<String> = segments.iter().map(|s| s.uri.clone()).collect();
        ctx.store.put(
            &keys::origin(t, &format!("{id}/playlist.m3u8")),
            subtitles::hls_playlist(&spans, ts, &uris).as_bytes(),
        )?;
        let whole = subtitles::write_vtt(&subtitles::clip(&cues, end, ts));
        ctx.store
            .put(&keys::origin(t, &format!("{id}/all.vtt")), whole.as_bytes())?;
        tracks.push(SubtitleTrack {
            id,
            language: s.language.clone(),
            name: name(s),
            forced: s.forced,
            timescale: ts,
            segments,
            file: "all.vtt".into(),
            file_bytes: whole.len() as u64,
        });
    }
    Ok(tracks)
}

/// ISO 639-2 codes as containers store them, to the shortest tag (BCP 47 prefers the
/// two-letter code where one exists); others are kept as they are.
fn bcp47(iso639_2: &str) -> String {
    let two = match iso639_2 {
        "eng" => "en",
        "fra" | "fre" => "fr",
        "deu" | "ger" => "de",
        "spa" => "es",
        "ita" => "it",
        "por" => "pt",
        "nld" | "dut" => "nl",
        "swe" => "sv",
        "nor" => "no",
        "dan" => "da",
        "fin" => "fi",
        "pol" => "pl",
        "rus" => "ru",
        "ukr" => "uk",
        "ces" | "cze" => "cs",
        "ell" | "gre" => "el",
        "tur" => "tr",
        "ara" => "ar",
        "heb" => "he",
        "hin" => "hi",
        "jpn" => "ja",
        "kor" => "ko",
        "zho" | "chi" => "zh",
        other => other,
    };
    two.to_string()
}

/// Take the master's text subtitle streams out as WebVTT (`work/<title>/subtitles/`)
/// and list them in `work/<title>/subtitles.json`. A stream whose language and kind a
/// sidecar already gives is left out (the sidecar wins); bitmap streams are not text
/// and are left out with a warning. Cues that overlap or run backwards are refused as
/// in sidecars: the title fails with the stream and the cue's number.
pub fn extract_embedded(
    ctx: &Ctx,
    t: &TitleId,
    master: &Path,
    request: &Request,
    video_origin: (i64, i64),
) -> Result<(), StageError> {
    let streams = media::subtitle_streams(master, video_origin)?;
    let mut taken: Vec<String> = request.subtitles.iter().map(|s| s.id.clone()).collect();
    let mut out = Vec::new();
    for s in streams {
        let language = s
            .language
            .as_deref()
            .map(bcp47)
            .filter(|l| language_ok(l))
            .unwrap_or_else(|| "und".into());
        let Some(cues) = s.cues else {
            tracing::warn!(title = %t, stream = s.index, codec = %s.codec, "bitmap subtitle stream: not text, not published");
            continue;
        };
        let mut id = track_id(&language, s.forced);
        if request.subtitles.iter().any(|r| r.id == id) {
            tracing::info!(title = %t, stream = s.index, %id, "subtitle stream left out: a sidecar gives this track");
            continue;
        }
        if taken.contains(&id) {
            id = format!("{id}-{}", s.index);
        }
        let what = format!(
            "subtitle stream {} of the master ({}, {language})",
            s.index, s.codec
        );
        // Cue numbers stand in for line numbers: a stream has no lines.
        let cues: Vec<subtitles::Cue> = cues
            .into_iter()
            .enumerate()
            .filter(|(_, c)| c.end_ms > 0)
            .map(|(i, c)| subtitles::Cue {
                start: c.start_ms.max(0) as u64,
                end: c.end_ms as u64,
                text: c.text,
                line: i + 1,
            })
            .collect();
        if cues.is_empty() {
            tracing::warn!(title = %t, stream = s.index, "subtitle stream without cues: not published");
            continue;
        }
        let cues = subtitles::validate(cues).map_err(|e| {
            StageError::Permanent(format!(
                "{what}: {} (line = the cue's number in the stream)",
                e
            ))
        })?;
        let vtt = subtitles::write_vtt(&cues);
        let key = keys::embedded_subtitle(t, &id);
        ctx.store.put(&key, vtt.as_bytes())?;
        out.push(SubtitleSidecar {
            id: id.clone(),
            language,
            forced: s.forced,
            format: Format::Vtt,
            key,
            sha256: hex::encode(sha2::Sha256::digest(vtt.as_bytes())),
        });
        taken.push(id);
    }
    ctx.put_json(&keys::embedded_subtitles(t), &out)
}

/// Every subtitle track of the title: the request's sidecars, then the master's text
/// streams that ingest took out (none for titles ingested before it did).
pub fn all_tracks(ctx: &Ctx, t: &TitleId) -> Result<Vec<SubtitleSidecar>, StageError> {
    let request: Request = ctx.get_json(&keys::request(t))?;
    let mut all = request.subtitles;
    let key = keys::embedded_subtitles(t);
    if ctx.store.exists(&key)? {
        let embedded: Vec<SubtitleSidecar> = ctx.get_json(&key)?;
        all.extend(embedded);
    }
    Ok(all)
}
