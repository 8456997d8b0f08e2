//! Segmented WebVTT on the video's segment grid, and the HLS playlist that lists it.

use m3u8_rs::{MediaPlaylist, MediaPlaylistType, MediaSegment};

use crate::vtt::cue_blocks;
use crate::Cue;

/// One video segment: start and duration in ticks of the video's time scale (the CMAF
/// media timeline, as in `tfdt`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span {
    pub start: u64,
    pub duration: u64,
}

impl Span {
    fn end(&self) -> u64 {
        self.start + self.duration
    }
}

/// `ticks` of `timescale` as milliseconds, rounded up.
fn ms_ceil(ticks: u64, timescale: u32) -> u64 {
    (ticks as u128 * 1000).div_ceil(timescale as u128) as u64
}

/// Whether cue `c` (ms) is shown at some instant of `[from, to)` (ticks).
fn active(c: &Cue, from: u64, to: u64, timescale: u32) -> bool {
    let ts = timescale as u128;
    (c.start as u128) * ts < to as u128 * 1000 && (c.end as u128) * ts > from as u128 * 1000
}

/// The cues as far as the title goes: a cue that starts at or after `end_ticks` is
/// dropped, one that runs past it is cut at the end (to the next millisecond).
pub fn clip(cues: &[Cue], end_ticks: u64, timescale: u32) -> Vec<Cue> {
    let end_ms = ms_ceil(end_ticks, timescale);
    cues.iter()
        .filter(|c| active(c, 0, end_ticks, timescale))
        .map(|c| Cue {
            end: c.end.min(end_ms),
            ..c.clone()
        })
        .collect()
}

/// One WebVTT file per segment of `spans` (same order): each holds the cues shown
/// during its segment, so a cue that crosses a boundary is in both files (with the
/// same identifier, its number in `cues` from 1, and the same times, so players show it
/// once). Cue times are media times; `X-TIMESTAMP-MAP` maps LOCAL 0 to `mpegts_origin`,
/// the 90 kHz time of media time 0, as HLS asks for fMP4 renditions. Cues are clipped
/// to the title first (see [`clip`]).
pub fn segment_webvtt(
    cues: &[Cue],
    spans: &[Span],
    timescale: u32,
    mpegts_origin: u64,
) -> Vec<String> {
    let end = spans.last().map(Span::end).unwrap_or(0);
    let cues = clip(cues, end, timescale);
    spans
        .iter()
        .map(|s| {
            let mut out =
                format!("WEBVTT\nX-TIMESTAMP-MAP=MPEGTS:{mpegts_origin},LOCAL:00:00:00.000\n");
            let here: Vec<(usize, &Cue)> = cues
                .iter()
                .enumerate()
                .filter(|(_, c)| active(c, s.start, s.end(), timescale))
                .map(|(i, c)| (i + 1, c))
                .collect();
            cue_blocks(&mut out, &here);
            // End on a blank line: readers that join segments into one stream (FFmpeg's
            // HLS reader) then see the next file's header as a block of its own rather
            // than as more text of this file's last cue.
            out.push('\n');
            out
        })
        .collect()
}

/// Round-trip-safe EXTINF (m3u8-rs stores f32), as the video playlists write it.
fn extinf(ticks: u64, timescale: u32) -> f32 {
    ((ticks as f64 / timescale as f64) * 1e5).round() as f32 / 1e5
}

/// The HLS subtitle media playlist: one `.vtt` per segment with the video's durations
/// (`uris[i]` for `spans[i]`), VOD, ended.
pub fn hls_playlist(spans: &[Span], timescale: u32, uris: &[String]) -> String {
    let segments: Vec<MediaSegment> = spans
        .iter()
        .zip(uris)
        .map(|(s, uri)| MediaSegment {
            uri: uri.clone(),
            duration: extinf(s.duration, timescale),
            ..Default::default()
        })
        .collect();
    let target = segments
        .iter()
        .map(|s| s.duration.round() as u64)
        .max()
        .unwrap_or(1)
        .max(1);
    let m = MediaPlaylist {
        version: Some(7),
        target_duration: target,
        media_sequence: 0,
        segments,
        end_list: true,
        playlist_type: Some(MediaPlaylistType::Vod),
        independent_segments: true,
        ..Default::default()
    };
    let mut out = Vec::new();
    m.write_to(&mut out).expect("writing to a Vec cannot fail");
    String::from_utf8(out).expect("m3u8-rs writes UTF-8")
}
