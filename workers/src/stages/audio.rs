//! Audio: one job per title. Encodes every audio rendition (each master track in
//! stereo, and in 5.1 where it has it), each in one streaming pass with its loudness
//! gain, and stores it cut at the chunk boundaries (`enc/<rendition>/<chunk>`), so
//! packaging reads it chunk by chunk like video and memory does not grow with the
//! title's length.

use media::AudioSettings;
use packager::{Codec, Sample, TrackChunk};

use crate::stages::{part_done, Ctx};
use crate::{keys, StageError, TitleId};

pub(crate) const PART: &str = "audio";

pub fn run(ctx: &Ctx, t: &TitleId) -> Result<(), StageError> {
    let plan = ctx.plan(t)?;
    if ctx.store.exists(&keys::done(t, PART))? {
        return part_done(ctx, t, &plan, PART, false);
    }
    if plan.audio.is_empty() {
        return Err(StageError::Permanent(format!(
            "title {t} has no audio in its plan"
        )));
    }
    let req: crate::plan::Request = ctx.get_json(&keys::request(t))?;
    let tmp = ctx.scratch_dir()?;
    let master = ctx.local_copy(&req.master_key, tmp.path())?;
    for a in &plan.audio {
        encode_rendition(ctx, t, &plan, a, &master)?;
    }
    let newly = ctx.store.create_if_absent(&keys::done(t, PART), b"")?;
    part_done(ctx, t, &plan, PART, newly)
}

/// One rendition, streamed: encoded and stored chunk by chunk.
fn encode_rendition(
    ctx: &Ctx,
    t: &TitleId,
    plan: &crate::plan::Plan,
    a: &crate::plan::AudioPlan,
    master: &std::path::Path,
) -> Result<(), StageError> {
    let chunk_cut = plan.audio_cut(plan.chunk_frames);
    let settings = AudioSettings {
        stream_index: a.stream_index,
        channels: a.channels,
        sample_rate: a.sample_rate,
        bitrate: a.bitrate,
        total_samples: a.total_samples,
        video_origin: (
            plan.origin_pts * plan.time_base.0 as i64,
            plan.time_base.1 as i64,
        ),
        gain_db: a.loudness.gain_db,
        limit_dbfs: a.loudness.limiter_dbfs,
    };
    let mut current: Option<(u64, TrackChunk)> = None;
    let mut written = 0u64;
    let store = ctx.store.clone();
    let flush = |c: u64, track: &TrackChunk| -> Result<(), media::MediaError> {
        store
            .put(&keys::encoded(t, &a.id, c as u32), &track.to_bytes())
            .map_err(|e| media::MediaError::Io {
                path: keys::encoded(t, &a.id, c as u32).into(),
                source: std::io::Error::other(e.to_string()),
            })
    };
    media::encode_audio(master, settings, |asc, pts, data| {
        let c = chunk_cut.segment_of(pts as i64);
        if current.as_ref().map(|(k, _)| *k) != Some(c) {
            if let Some((k, track)) = current.take() {
                flush(k, &track)?;
                written += 1;
            }
            current = Some((
                c,
                TrackChunk {
                    track: a.id.clone(),
                    codec: Codec::Aac {
                        asc: asc.to_vec(),
                        channels: a.channels,
                        sample_rate: a.sample_rate,
                    },
                    timescale: a.sample_rate,
                    // AAC has no reordering; the priming packet is dropped instead.
                    reorder_delay: 0,
                    samples: Vec::new(),
                    payload: Vec::new(),
                },
            ));
        }
        let (_, track) = current.as_mut().expect("set above");
        track.samples.push(Sample {
            dts: pts,
            cts_offset: 0,
            duration: media::AAC_FRAME,
            sync: true,
            size: data.len() as u32,
        });
        track.payload.extend_from_slice(data);
        Ok(())
    })?;
    if let Some((k, track)) = current.take() {
        flush(k, &track)?;
        written += 1;
    }
    if written != plan.chunks.len() as u64 {
        return Err(StageError::Permanent(format!(
            "audio {} covered {written} of {} chunks",
            a.id,
            plan.chunks.len()
        )));
    }
    Ok(())
}
