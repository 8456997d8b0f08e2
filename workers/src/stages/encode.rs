//! Encode one chunk: decode it once, encode every rung not already stored and measure
//! sampled frames of each against the chunk's pictures, store each as an encoded-chunk
//! file (its measurement first), mark the chunk done.

use media::{ChunkGrid, EncodedVideo, RungSettings};
use packager::{Codec, Sample, TrackChunk};

use crate::plan::{ChunkPlan, Plan};
use crate::stages::{part_done, Ctx};
use crate::{keys, StageError, TitleId};

/// Seconds of each rendition per scored frame (spread evenly; pooled over the title).
/// VMAF at 1080p costs some 60 ms a frame: scoring one frame in 8 cost as much CPU as
/// the encode itself, one every 1.5 s costs a few percent. (Scoring only each chunk's
/// first seconds was cheap too but not representative: 70 against 77 for the whole
/// file on a test pattern that changes within a chunk.)
const MEASURE_EVERY_S: f64 = 2.0;
/// A short title is sampled more densely, to at least this many frames a rendition:
/// fewer leave the mean several VMAF points from the whole title's.
const MEASURE_MIN_SAMPLES: u64 = 16;

/// Master frames per scored frame for `plan`'s title.
fn measure_every(plan: &Plan) -> u64 {
    let every = (MEASURE_EVERY_S * plan.fps.num as f64 / plan.fps.den as f64).round() as u64;
    every.min(plan.frame_count / MEASURE_MIN_SAMPLES).max(1)
}

pub fn run(ctx: &Ctx, t: &TitleId, index: u32) -> Result<(), StageError> {
    let plan = ctx.plan(t)?;
    let chunk = plan
        .chunks
        .get(index as usize)
        .ok_or_else(|| {
            StageError::Permanent(format!(
                "title {t} has no chunk {index} (it has {})",
                plan.chunks.len()
            ))
        })?
        .clone();
    let part = format!("c{index}");
    if ctx.store.exists(&keys::done(t, &part))? {
        tracing::debug!(title = %t, chunk = index, "already done");
        return part_done(ctx, t, &plan, &part, false);
    }
    tracing::info!(title = %t, chunk = index, "encoding");
    let mut todo = Vec::new();
    for r in &plan.rungs {
        if !ctx.store.exists(&keys::encoded(t, &r.id, index))? {
            todo.push(crate::plan::rung_settings(
                r,
                &plan.preset,
                &plan.profile,
                plan.x264_threads,
                plan.conversion.output,
            ));
        }
    }
    if !todo.is_empty() {
        let tmp = ctx.scratch_dir()?;
        let file = ctx.local_copy(&keys::chunk(t, index), tmp.path())?;
        let grid = ChunkGrid {
            fps: plan.fps,
            // Frame 0's time in the chunk files.
            origin_pts: plan.origin_pts + plan.chunk_shift,
            time_base: plan.time_base,
            start_frame: chunk.start_frame,
            end_frame: chunk.end_frame,
            idr_frames: plan.grid.idr_frames,
        };
        let started = std::time::Instant::now();
        let outs = media::encode_chunk(
            &file,
            grid,
            &plan.conversion,
            &todo,
            measure_every(&plan),
            &plan.shot_idrs,
        )?;
        let took = started.elapsed();
        tracing::info!(title = %t, chunk = index, rungs = outs.len(), secs = took.as_secs_f64(), "encoded and measured");
        for (settings, out) in todo.iter().zip(&outs) {
            let size = format!("{}p", settings.width.min(settings.height));
            crate::metrics::get().chunk_encoded(&size, out.video.packets.len() as u64, took);
        }
        for (settings, out) in todo.iter().zip(outs) {
            // The measurement first: an encoded chunk in the store has its measurement.
            if let Some(q) = &out.quality {
                ctx.put_json(&keys::measured(t, &settings.id, index), q)?;
            }
            let track = to_track(&plan, &chunk, settings, out.video)?;
            ctx.store
                .put(&keys::encoded(t, &settings.id, index), &track.to_bytes())?;
        }
    }
    // A duplicate message that encoded the same chunk at the same time finds the
    // marker made: it reports no progress.
    let newly = ctx.store.create_if_absent(&keys::done(t, &part), b"")?;
    part_done(ctx, t, &plan, &part, newly)
}

/// Encoder packets to absolute-time samples: decode times are the decode order on the
/// output frame grid, so each segment's IDR decodes at its own presentation time.
fn to_track(
    plan: &Plan,
    chunk: &ChunkPlan,
    rung: &RungSettings,
    out: EncodedVideo,
) -> Result<TrackChunk, StageError> {
    let (timescale, f) = plan.video_timescale();
    let d = rung.decimation.max(1) as u64;
    let dur = f as u64 * d;
    let expected = (chunk.end_frame - chunk.start_frame).div_ceil(d);
    if out.packets.len() as u64 != expected {
        return Err(StageError::Permanent(format!(
            "rung {} chunk {}: encoder returned {} frames, expected {expected}",
            rung.id,
            chunk.index,
            out.packets.len()
        )));
    }
    // Presentation is delayed by the encoder's reorder depth so that every composition
    // offset is non-negative; the init segment's edit list takes it back.
    let reorder_delay = u32::try_from(out.reorder_frames as u64 * dur).map_err(|_| {
        StageError::Permanent(format!(
            "rung {}: reorder delay of {} frames of {dur} ticks overflows",
            rung.id, out.reorder_frames
        ))
    })?;
    let base = chunk.start_frame * f as u64;
    let mut samples = Vec::with_capacity(out.packets.len());
    let mut payload = Vec::new();
    for (n, p) in out.packets.iter().enumerate() {
        let dts = base + n as u64 * dur;
        let pts = base as i64 + p.pts * dur as i64;
        samples.push(Sample {
            dts,
            cts_offset: (pts - dts as i64) as i32,
            duration: dur as u32,
            sync: p.keyframe,
            size: p.data.len() as u32,
        });
        payload.extend_from_slice(&p.data);
    }
    Ok(TrackChunk {
        track: rung.id.clone(),
        codec: Codec::Avc {
            avcc: out.avcc,
            width: out.width,
            height: out.height,
            colour: Some(packager::Colr {
                primaries: rung.colour.primaries,
                transfer: rung.colour.transfer,
                matrix: rung.colour.matrix,
                full_range: rung.colour.full_range,
            }),
        },
        timescale,
        reorder_delay,
        samples,
        payload,
    })
}
