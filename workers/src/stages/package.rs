//! Package and publish: CMAF segments per rendition, then playlists, then the MPD and
//! the master playlist last, so nothing is referenced before it exists and a failed
//! title has no master playlist.

use manifests::{avc_codec_string, AudioTrack, IFrameInfo, Presentation, SegmentInfo, VideoTrack};
use packager::{cut_segments, init_segment, Codec, SegmentCut, TrackChunk};

use crate::messages::Job;
use crate::plan::Plan;
use crate::stages::Ctx;
use crate::status::{self, State};
use crate::{keys, StageError, TitleId};

pub fn run(ctx: &Ctx, t: &TitleId, message_id: &str) -> Result<(), StageError> {
    if ctx.store.exists(&keys::origin(t, "master.m3u8"))? {
        tracing::debug!(title = %t, "already published");
        // A completing part that raced the publish may have written Packaging over
        // Published (it sends this job after writing its status): put it right.
        status::set(ctx.store.as_ref(), t, State::Published, None)?;
        // A kill between the manifests and the event must not lose the event.
        crate::events::emit_once(ctx.store.as_ref(), t, crate::events::published(t));
        // A crash between publishing and sending the place job must not lose it.
        ctx.send(Job::Place { title: t.clone() })?;
        return Ok(());
    }
    // Only the part that completes the set sends the package job; one that arrives
    // earlier (a stray or replayed message) would package half a title. Dropping it is
    // safe: the completing part sends its own.
    let planned = ctx.store.exists(&keys::plan(t))?;
    let done = ctx.store.list(&keys::done_prefix(t))?.len();
    let parts = if planned {
        ctx.plan(t)?.parts()
    } else {
        usize::MAX
    };
    if done < parts {
        tracing::warn!(title = %t, done, planned, "package job before every part is done; dropped");
        return Ok(());
    }
    let plan = ctx.plan(t)?;
    // One package job packages a title: the first to claim it by conditional create.
    // Its own redelivery (same message id: the worker died or stalled) goes on; any
    // other package message for the title is a duplicate, and dropping it is safe
    // because the owner is redelivered until it publishes.
    let claim = keys::claim(t, "packager");
    let owner = ctx.store.create_if_absent(&claim, message_id.as_bytes())?
        || ctx.store.get(&claim)? == message_id.as_bytes();
    if !owner {
        tracing::info!(title = %t, "duplicate package job dropped; another message owns packaging");
        return Ok(());
    }
    tracing::info!(title = %t, "packaging");
    let mut video = Vec::new();
    for r in &plan.rungs {
        let (codec, segments, timescale) = package_track(ctx, t, &plan, &r.id, plan.video_cut())?;
        let Codec::Avc { avcc, .. } = &codec else {
            return Err(StageError::Permanent(format!(
                "{}: not a video track",
                r.id
            )));
        };
        let v = VideoTrack {
            id: r.id.clone(),
            width: r.width,
            height: r.height,
            frame_rate_num: plan.fps.num,
            frame_rate_den: plan.fps.den * r.decimation,
            codecs: avc_codec_string(avcc).map_err(|e| StageError::Permanent(e.to_string()))?,
            timescale,
            segments,
        };
        put_text(
            ctx,
            t,
            &format!("{}/playlist.m3u8", v.id),
            &manifests::media_playlist(&v.segments, timescale),
        )?;
        put_text(
            ctx,
            t,
            &format!("{}/iframes.m3u8", v.id),
            &manifests::iframe_playlist(&v),
        )?;
        video.push(v);
    }
    let measured = crate::measured::record(ctx, t, &plan, &video)?;
    for m in &measured {
        tracing::info!(title = %t, "{}", m.line());
    }
    let mut audio = Vec::new();
    for a in &plan.audio {
        let (_, segments, timescale) = package_track(
            ctx,
            t,
            &plan,
            &a.id,
            plan.audio_cut(plan.grid.segment_frames),
        )?;
        let track = AudioTrack {
            id: a.id.clone(),
            track: a.track,
            language: a.language.clone(),
            name: a.name.clone(),
            default: a.default,
            codecs: "mp4a.40.2".into(),
            channels: a.channels,
            sample_rate: a.sample_rate,
            timescale,
            segments,
        };
        put_text(
            ctx,
            t,
            &format!("{}/playlist.m3u8", a.id),
            &manifests::audio_playlist(&track),
        )?;
        audio.push(track);
    }
    // Subtitle sidecars, on the first rendition's segment grid (every rendition has the
    // same boundaries), published before the manifests like every other file.
    let sidecars = crate::subtitles::all_tracks(ctx, t)?;
    let subtitles = match video.first() {
        Some(v) => crate::subtitles::publish(ctx, t, &sidecars, v)?,
        None => Vec::new(),
    };
    let p = Presentation {
        video,
        audio,
        subtitles,
    };
    // Once: this packager's own redelivery after a kill packages again.
    crate::events::emit_once(ctx.store.as_ref(), t, crate::events::packaged(&p));
    // The publish record, before the manifests that make the title visible: a title
    // published by more than one package message would show more than one record
    // (how the chaos tests check exactly-once publishing in the store itself).
    ctx.store
        .create_if_absent(&keys::publish_record(t, message_id), message_id.as_bytes())?;
    ctx.put_json(&keys::presentation(t), &p)?;
    put_text(ctx, t, "manifest.mpd", &manifests::mpd(&p))?;
    put_text(ctx, t, "master.m3u8", &manifests::master_playlist(&p))?;
    status::set(ctx.store.as_ref(), t, State::Published, None)?;
    tracing::info!(title = %t, "published");
    crate::events::emit_once(ctx.store.as_ref(), t, crate::events::published(t));
    ctx.send(Job::Place { title: t.clone() })?;
    Ok(())
}

fn put_text(ctx: &Ctx, t: &TitleId, name: &str, text: &str) -> Result<(), StageError> {
    ctx.store.put(&keys::origin(t, name), text.as_bytes())?;
    Ok(())
}

/// Segments of one rendition, chunk by chunk (memory bounded by one chunk), then its
/// init segment.
fn package_track(
    ctx: &Ctx,
    t: &TitleId,
    plan: &Plan,
    id: &str,
    cut: SegmentCut,
) -> Result<(Codec, Vec<SegmentInfo>, u32), StageError> {
    // Codec configuration, time scale and reorder delay: the same in every chunk.
    let mut first: Option<(Codec, u32, u32)> = None;
    let mut infos: Vec<SegmentInfo> = Vec::new();
    let mut seq = 1u32;
    for c in &plan.chunks {
        let bytes = ctx.store.get(&keys::encoded(t, id, c.index))?;
        let track = TrackChunk::from_bytes(&bytes)?;
        match &first {
            None => first = Some((track.codec.clone(), track.timescale, track.reorder_delay)),
            Some((codec, ts, delay))
                if *codec != track.codec
                    || *ts != track.timescale
                    || *delay != track.reorder_delay =>
            {
                return Err(packager::PackagerError::ConfigMismatch {
                    track: id.into(),
                    index: c.index,
                }
                .into())
            }
            Some(_) => {}
        }
        for s in cut_segments(&track, cut, seq)? {
            seq += s.fragments;
            if s.number != infos.len() as u64 {
                return Err(StageError::Permanent(format!(
                    "{id}: segment {} follows segment {} (chunk {})",
                    s.number,
                    infos.len() as i64 - 1,
                    c.index
                )));
            }
            let uri = format!("{}.m4s", s.number + 1);
            ctx.store
                .put(&keys::origin(t, &format!("{id}/{uri}")), &s.bytes)?;
            infos.push(SegmentInfo {
                uri,
                start: s.start,
                duration: s.duration,
                bytes: s.bytes.len() as u64,
                iframes: s
                    .iframes
                    .iter()
                    .map(|f| IFrameInfo {
                        offset: f.offset,
                        length: f.length,
                        pts: f.pts,
                    })
                    .collect(),
            });
        }
    }
    let (codec, timescale, reorder_delay) =
        first.ok_or_else(|| StageError::Permanent(format!("{id}: no chunks")))?;
    ctx.store.put(
        &keys::origin(t, &format!("{id}/init.mp4")),
        &init_segment(&codec, timescale, reorder_delay),
    )?;
    Ok((codec, infos, timescale))
}
