//! Object keys. Every key is built here from a validated [`TitleId`] and typed values,
//! never from unchecked input.

use std::fmt;

/// A title's id: 1-64 characters of a-z, A-Z, 0-9, '-', '_', starting with a letter or digit.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct TitleId(String);

/// A title id that breaks the rules, as it was given.
#[derive(Debug, thiserror::Error, PartialEq)]
#[error("title id '{0}' is not valid: use 1-64 characters from a-z, A-Z, 0-9, '-' and '_', starting with a letter or digit")]
pub struct BadTitle(pub String);

impl TitleId {
    /// Check `s` against the title id rules; `BadTitle` names it when it breaks them.
    pub fn parse(s: &str) -> Result<Self, BadTitle> {
        let ok = !s.is_empty()
            && s.len() <= 64
            && s.chars().next().is_some_and(|c| c.is_ascii_alphanumeric())
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        if ok {
            Ok(Self(s.to_string()))
        } else {
            Err(BadTitle(s.to_string()))
        }
    }
    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for TitleId {
    type Error = BadTitle;
    fn try_from(s: String) -> Result<Self, BadTitle> {
        Self::parse(&s)
    }
}

impl From<TitleId> for String {
    fn from(t: TitleId) -> String {
        t.0
    }
}

impl fmt::Display for TitleId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Rendition ids come from our own ladder fitting (`v720p-3000k`, `a128k`); checked anyway.
fn safe(part: &str) -> &str {
    assert!(
        !part.is_empty()
            && part
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'),
        "unsafe key part {part:?}"
    );
    part
}

/// The uploaded master, keeping its file extension.
pub fn master(t: &TitleId, ext: &str) -> String {
    format!("ingest/{t}/master.{}", safe(ext))
}
/// A subtitle sidecar of the title, stored as uploaded (`id` is `s-<lang>[-forced]`).
pub fn subtitle_sidecar(t: &TitleId, id: &str, ext: &str) -> String {
    format!("ingest/{t}/subtitles/{}.{}", safe(id), safe(ext))
}
/// The title's request: the master and the settings it is made with.
pub fn request(t: &TitleId) -> String {
    format!("ingest/{t}/request.json")
}
/// The text subtitle streams ingest took from the master (a list of sidecars).
pub fn embedded_subtitles(t: &TitleId) -> String {
    format!("work/{t}/subtitles.json")
}
/// One text subtitle stream of the master, as WebVTT (`id` is `s-<lang>[...]`).
pub fn embedded_subtitle(t: &TitleId, id: &str) -> String {
    format!("work/{t}/subtitles/{}.vtt", safe(id))
}
/// The title's plan; ingest writes it last, once every chunk file is stored.
pub fn plan(t: &TitleId) -> String {
    format!("work/{t}/plan.json")
}
/// What inspecting the master found (QC), and whether it was accepted.
pub fn inspection(t: &TitleId) -> String {
    format!("work/{t}/inspection.json")
}
/// The per-title ladder decision: measured points, hull, chosen rungs.
pub fn ladder(t: &TitleId) -> String {
    format!("work/{t}/ladder.json")
}
/// Chunk `i` of the split master (a NUT file).
pub fn chunk(t: &TitleId, i: u32) -> String {
    format!("work/{t}/chunks/{i}.nut")
}
/// Chunk `i` of `rendition`, encoded and ready to package (a packager track chunk).
pub fn encoded(t: &TitleId, rendition: &str, i: u32) -> String {
    format!("work/{t}/enc/{}/{i}", safe(rendition))
}
/// What chunk `i` of `rendition` measured against the master (its sampled frames'
/// quality report, JSON), stored before the encoded chunk itself.
pub fn measured(t: &TitleId, rendition: &str, i: u32) -> String {
    format!("work/{t}/measured/{}/{i}.json", safe(rendition))
}
/// The measured rate and quality of every published video rendition (JSON).
pub fn quality(t: &TitleId) -> String {
    format!("work/{t}/quality.json")
}
/// Where the title's done markers are, one per finished part.
pub fn done_prefix(t: &TitleId) -> String {
    format!("work/{t}/done/")
}
/// The done marker of `part` (`c<chunk>` or `audio`): an empty object.
pub fn done(t: &TitleId, part: &str) -> String {
    format!("work/{t}/done/{}", safe(part))
}
/// A claim on `what`, taken by conditional create so that one message does it.
pub fn claim(t: &TitleId, what: &str) -> String {
    format!("work/{t}/claims/{}", safe(what))
}
/// The title's tracks and segments, as the manifests were written from them.
pub fn presentation(t: &TitleId) -> String {
    format!("work/{t}/presentation.json")
}
/// Published file `name` of the title (playlists, MPD, init and media segments).
pub fn origin(t: &TitleId, name: &str) -> String {
    format!("origin/{t}/{name}")
}
/// Where everything the title publishes is.
pub fn origin_prefix(t: &TitleId) -> String {
    format!("origin/{t}/")
}
/// A published title's files with sizes and checksums (computed once: published files
/// never change).
pub fn catalogue_entry(t: &TitleId) -> String {
    format!("control/catalogue/{t}.json")
}
/// An appliance's fill plan. Appliance ids are checked by the fleet file's parser.
pub fn fill_plan(appliance: &str) -> String {
    format!("control/fill/{}.json", safe(appliance))
}
/// The fleet file placement plans with (TOML, as given to `vodfarm place --fleet`).
pub fn fleet() -> String {
    "control/fleet.toml".into()
}
/// The latest viewing statistics (title id -> popularity).
pub fn stats() -> String {
    "control/stats.json".into()
}
/// What an appliance reports it holds, and its health (written by its fill agent).
pub fn appliance_report(appliance: &str) -> String {
    format!("control/appliances/{}.json", safe(appliance))
}
/// Where every title's job events are (see `crate::events`).
pub const EVENTS: &str = "control/events/";
/// Where a title's job events are, one object per event.
pub fn events_prefix(t: &TitleId) -> String {
    format!("{EVENTS}{t}/")
}
/// The title's event number `seq`, zero-padded so that keys sort in `seq` order.
pub fn event(t: &TitleId, seq: u64) -> String {
    format!("{EVENTS}{t}/{seq:08}.json")
}
/// A title's status record for ops.
pub fn status(t: &TitleId) -> String {
    format!("control/titles/{t}.json")
}
/// Where each publish of a title leaves its record, one per packaging message.
pub fn publish_prefix(t: &TitleId) -> String {
    format!("control/publishes/{t}/")
}
/// The record of the publish done by package message `message_id` (a conditional
/// create: the owner's redeliveries find their own record).
pub fn publish_record(t: &TitleId, message_id: &str) -> String {
    format!("{}{}", publish_prefix(t), safe(message_id))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn title_ids() {
        assert!(TitleId::parse("big-buck_01").is_ok());
        for bad in ["", "../x", "a/b", "-x", "a b", "é", &"x".repeat(65)] {
            assert!(TitleId::parse(bad).is_err(), "{bad}");
        }
    }
}
