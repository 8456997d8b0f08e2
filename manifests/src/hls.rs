//! HLS version 7: master playlist, media playlists and I-frame playlists (m3u8-rs).

use m3u8_rs::{
    AlternativeMedia, AlternativeMediaType, ByteRange, Map, MasterPlaylist, MediaPlaylist,
    MediaPlaylistType, MediaSegment, Resolution, VariantStream,
};

use crate::model::SegmentInfo;
use crate::{AudioTrack, Presentation, VideoTrack};

/// The stereo AAC group, which every title with audio has.
pub const AUDIO_GROUP: &str = "aac-2ch";

/// The audio groups of the master playlist, each with one codec at one channel
/// configuration (players reject a variant whose CODECS misses a codec of its group):
/// stereo AAC with every track, and, when some track has 5.1, a 5.1 group with each
/// track's 5.1 rendition, or its stereo one where the master's track has no 5.1, so
/// that every language is offered whichever group a variant names.
pub fn audio_groups(p: &Presentation) -> Vec<(String, Vec<&AudioTrack>)> {
    let mut configs: Vec<(&str, u16)> = Vec::new();
    for a in &p.audio {
        if !configs.contains(&(a.codecs.as_str(), a.channels)) {
            configs.push((a.codecs.as_str(), a.channels));
        }
    }
    configs.sort_by_key(|(_, ch)| *ch);
    let mut tracks: Vec<u32> = p.audio.iter().map(|a| a.track).collect();
    tracks.dedup();
    configs
        .iter()
        .map(|&(codecs, channels)| {
            let family = if codecs.starts_with("mp4a.40.") {
                "aac"
            } else {
                codecs.split('.').next().unwrap_or("audio")
            };
            let members = tracks
                .iter()
                .filter_map(|&t| {
                    let of_track = || p.audio.iter().filter(move |a| a.track == t);
                    of_track()
                        .find(|a| a.codecs == codecs && a.channels == channels)
                        .or_else(|| of_track().find(|a| a.codecs == codecs))
                        .or_else(|| of_track().next())
                })
                .collect();
            (format!("{family}-{channels}ch"), members)
        })
        .collect()
}
/// The one subtitle group every variant names.
pub const SUBTITLE_GROUP: &str = "subs";

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
/// every audio rendition in an EXT-X-MEDIA group ([`audio_groups`]), and one I-frame
/// variant each.
pub fn master_playlist(p: &Presentation) -> String {
    let groups = audio_groups(p);
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
    // Each rung once per audio group (stereo first, so the default variant is stereo);
    // its bitrates include the group's largest audio rendition, its CODECS every codec
    // of the group.
    let with_audio: Vec<(Option<&str>, u64, u64, Vec<&str>)> = if groups.is_empty() {
        vec![(None, 0, 0, Vec::new())]
    } else {
        groups
            .iter()
            .map(|(id, members)| {
                let peak = members.iter().map(|a| a.bitrates().0).max().unwrap_or(0);
                let avg = members.iter().map(|a| a.bitrates().1).max().unwrap_or(0);
                let mut codecs: Vec<&str> = Vec::new();
                for a in members {
                    if !codecs.contains(&a.codecs.as_str()) {
                        codecs.push(&a.codecs);
                    }
                }
                (Some(id.as_str()), peak, avg, codecs)
            })
            .collect()
    };
    let mut variants = Vec::new();
    for (group, apeak, aavg, acodecs) in &with_audio {
        for v in &order {
            let (peak, avg) = v.bitrates();
            let mut codecs = vec![v.codecs.as_str()];
            codecs.extend(acodecs.iter().copied());
            variants.push(VariantStream {
                uri: format!("{}/playlist.m3u8", v.id),
                bandwidth: peak + apeak,
                average_bandwidth: Some(avg + aavg),
                codecs: Some(codecs.join(",")),
                resolution: Some(Resolution {
                    width: v.width as u64,
                    height: v.height as u64,
                }),
                frame_rate: Some((v.frame_rate() * 1000.0).round() / 1000.0),
                audio: group.map(str::to_string),
                subtitles: subtitle_group(p),
                ..Default::default()
            });
        }
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
    let mut alternatives: Vec<AlternativeMedia> = groups
        .iter()
        .flat_map(|(id, members)| {
            members.iter().map(move |a| AlternativeMedia {
                media_type: AlternativeMediaType::Audio,
                uri: Some(format!("{}/playlist.m3u8", a.id)),
                group_id: id.clone(),
                language: Some(a.language.clone()),
                name: a.name.clone(),
                default: a.default,
                autoselect: true,
                channels: Some(a.channels.to_string()),
                ..Default::default()
            })
        })
        .collect();
    alternatives.extend(subtitle_media(p));
    let m = MasterPlaylist {
        version: Some(7),
        variants,
        independent_segments: true,
        alternatives,
        ..Default::default()
    };
    text(|w| m.write_to(w))
}

fn subtitle_group(p: &Presentation) -> Option<String> {
    (!p.subtitles.is_empty()).then(|| SUBTITLE_GROUP.to_string())
}

/// `EXT-X-MEDIA:TYPE=SUBTITLES` for each subtitle track: none is DEFAULT (the viewer
/// turns subtitles on), all AUTOSELECT (players may pick one by the user's language),
/// FORCED as the track says.
fn subtitle_media(p: &Presentation) -> Vec<AlternativeMedia> {
    p.subtitles
        .iter()
        .map(|s| AlternativeMedia {
            media_type: AlternativeMediaType::Subtitles,
            uri: Some(format!("{}/playlist.m3u8", s.id)),
            group_id: SUBTITLE_GROUP.into(),
            language: Some(s.language.clone()),
            name: s.name.clone(),
            default: false,
            autoselect: true,
            forced: s.forced,
            ..Default::default()
        })
        .collect()
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
