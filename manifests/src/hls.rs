//! HLS version 7: master playlist, media playlists and I-frame playlists (m3u8-rs).

use m3u8_rs::{
    AlternativeMedia, AlternativeMediaType, ByteRange, Map, MasterPlaylist, MediaPlaylist,
    MediaPlaylistType, MediaSegment, Resolution, VariantStream,
};

use crate::model::SegmentInfo;
use crate::{AudioTrack, Presentation, VideoTrack};

pub const AUDIO_GROUP: &str = "aac";

fn text(write: impl FnOnce(&mut Vec<u8>) -> std::io::Result<()>) -> String {
    let mut out = Vec::new();
    write(&mut out).expect("writing to a Vec cannot fail");
    String::from_utf8(out).expect("m3u8-rs writes UTF-8")
}

/// Round-trip safe duration for EXTINF (m3u8-rs stores f32).
fn extinf(ticks: u64, timescale: u32) -> f32 {
    ((ticks as f64 / timescale as f64) * 1e5).round() as f32 / 1e5
}

fn target_duration(segments: &[SegmentInfo], timescale: u32) -> u64 {
    // Each EXTINF rounded to the nearest integer must not exceed the target. Round
    // the value as written: at time scales past 200 kHz a duration just under x.5 s
    // (2.499996) is written as 2.5, which a client rounds up.
    segments
        .iter()
        .map(|s| extinf(s.duration, timescale).round() as u64)
        .max()
        .unwrap_or(1)
        .max(1)
}

/// The master playlist: one variant per video rendition (best first is not required;
/// we list them from the one nearest 2 Mbit/s, the Apple default, then ascending),
/// the audio rendition in an EXT-X-MEDIA group, and one I-frame variant each.
pub fn master_playlist(p: &Presentation) -> String {
    let (apeak, aavg) = p.audio.as_ref().map(|a| a.bitrates()).unwrap_or((0, 0));
    let audio_codec = p.audio.as_ref().map(|a| a.codecs.clone());
    let mut order: Vec<&VideoTrack> = p.video.iter().collect();
    // Default (first) variant: the one closest to 2 Mbit/s.
    if let Some(pos) = order
        .iter()
        .enumerate()
        .min_by_key(|(_, v)| (v.bitrates().1 as i64 - 2_000_000).abs())
        .map(|(i, _)| i)
    {
        let first = order.remove(pos);
        order.insert(0, first);
    }
    let mut variants = Vec::new();
    for v in &order {
        let (peak, avg) = v.bitrates();
        variants.push(VariantStream {
            uri: format!("{}/playlist.m3u8", v.id),
            bandwidth: peak + apeak,
            average_bandwidth: Some(avg + aavg),
            codecs: Some(match &audio_codec {
                Some(a) => format!("{},{a}", v.codecs),
                None => v.codecs.clone(),
            }),
            resolution: Some(Resolution {
                width: v.width as u64,
                height: v.height as u64,
            }),
            frame_rate: Some((v.frame_rate() * 1000.0).round() / 1000.0),
            audio: p.audio.as_ref().map(|_| AUDIO_GROUP.to_string()),
            ..Default::default()
        });
    }
    for v in &order {
        variants.push(VariantStream {
            is_i_frame: true,
            uri: format!("{}/iframes.m3u8", v.id),
            bandwidth: iframe_bandwidth(v),
            codecs: Some(v.codecs.clone()),
            resolution: Some(Resolution {
                width: v.width as u64,
                height: v.height as u64,
            }),
            ..Default::default()
        });
    }
    let alternatives = p
        .audio
        .iter()
        .map(|a| AlternativeMedia {
            media_type: AlternativeMediaType::Audio,
            uri: Some(format!("{}/playlist.m3u8", a.id)),
            group_id: AUDIO_GROUP.into(),
            language: Some("und".into()),
            name: "Main".into(),
            default: true,
            autoselect: true,
            channels: Some(a.channels.to_string()),
            ..Default::default()
        })
        .collect();
    let m = MasterPlaylist {
        version: Some(7),
        variants,
        independent_segments: true,
        alternatives,
        ..Default::default()
    };
    text(|w| m.write_to(w))
}

fn media(
    segments: &[SegmentInfo],
    timescale: u32,
    iframes_only: bool,
    iframe_segments: Vec<MediaSegment>,
) -> String {
    let segs: Vec<MediaSegment> = if iframes_only {
        iframe_segments
    } else {
        segments
            .iter()
            .enumerate()
            .map(|(i, s)| MediaSegment {
                uri: s.uri.clone(),
                duration: extinf(s.duration, timescale),
                map: (i == 0).then(|| Map {
                    uri: "init.mp4".into(),
                    ..Default::default()
                }),
                ..Default::default()
            })
            .collect()
    };
    let target = if iframes_only {
        segs.iter()
            .map(|s| s.duration.round() as u64)
            .max()
            .unwrap_or(1)
            .max(1)
    } else {
        target_duration(segments, timescale)
    };
    let m = MediaPlaylist {
        version: Some(7),
        target_duration: target,
        media_sequence: 0,
        segments: segs,
        end_list: true,
        playlist_type: Some(MediaPlaylistType::Vod),
        i_frames_only: iframes_only,
        independent_segments: true,
        ..Default::default()
    };
    text(|w| m.write_to(w))
}

/// The media playlist of a video or audio rendition.
pub fn media_playlist(segments: &[SegmentInfo], timescale: u32) -> String {
    media(segments, timescale, false, Vec::new())
}

fn iframe_entries(v: &VideoTrack) -> Vec<(MediaSegment, u64)> {
    // Every keyframe, each lasting until the next one (or the end of the rendition).
    let all: Vec<(&SegmentInfo, &crate::IFrameInfo)> = v
        .segments
        .iter()
        .flat_map(|s| s.iframes.iter().map(move |f| (s, f)))
        .collect();
    let end: u64 = v.segments.last().map(|s| s.start + s.duration).unwrap_or(0);
    all.iter()
        .enumerate()
        .map(|(i, (s, f))| {
            let next = all.get(i + 1).map(|(_, n)| n.pts).unwrap_or(end);
            let dur = next.saturating_sub(f.pts);
            (
                MediaSegment {
                    uri: s.uri.clone(),
                    duration: extinf(dur, v.timescale),
                    byte_range: Some(ByteRange {
                        length: f.length,
                        offset: Some(f.offset),
                    }),
                    map: (i == 0).then(|| Map {
                        uri: "init.mp4".into(),
                        ..Default::default()
                    }),
                    ..Default::default()
                },
                f.length,
            )
        })
        .collect()
}

fn iframe_bandwidth(v: &VideoTrack) -> u64 {
    iframe_entries(v)
        .iter()
        .filter(|(s, _)| s.duration > 0.0)
        .map(|(s, len)| (*len as f64 * 8.0 / s.duration as f64).ceil() as u64)
        .max()
        .unwrap_or(1)
        .max(1)
}

/// The I-frame playlist of a video rendition: every keyframe by byte range.
pub fn iframe_playlist(v: &VideoTrack) -> String {
    let entries = iframe_entries(v).into_iter().map(|(s, _)| s).collect();
    media(&v.segments, v.timescale, true, entries)
}

/// Audio media playlist (same writer as video).
pub fn audio_playlist(a: &AudioTrack) -> String {
    media_playlist(&a.segments, a.timescale)
}
