//! Ingest: inspect the master (QC: a truncated one is refused here, before anything
//! is planned; see `crate::qc`), probe, validate, plan (ladder, segment grid, chunks),
//! split the master into chunk files, then one encode job per chunk and one audio job.

use ladders::fit_ladder;

use crate::analysis;
use crate::messages::Job;
use crate::plan::{AudioPlan, ChunkPlan, LadderSpec, Plan, Request};
use crate::stages::Ctx;
use crate::status::{self, State};
use crate::{keys, StageError, TitleId};

pub const AUDIO_RENDITION: &str = "a128k";

pub fn run(ctx: &Ctx, t: &TitleId) -> Result<(), StageError> {
    if !ctx.store.exists(&keys::plan(t))? {
        make_plan(ctx, t)?;
    }
    let plan = ctx.plan(t)?;
    let mut s = status::read(ctx.store.as_ref(), t).unwrap_or(status::TitleStatus {
        title: t.clone(),
        state: State::Encoding,
        error: None,
        chunks: 0,
        renditions: vec![],
    });
    s.chunks = plan.chunks.len();
    s.renditions = plan.rungs.iter().map(|r| r.id.clone()).collect();
    if s.state == State::Submitted {
        s.state = State::Encoding;
    }
    status::write(ctx.store.as_ref(), &s)?;
    // Re-sending on redelivery is harmless: encode and audio are idempotent.
    for c in &plan.chunks {
        ctx.send(Job::Encode {
            title: t.clone(),
            chunk: c.index,
        })?;
    }
    if plan.audio.is_some() {
        ctx.send(Job::Audio { title: t.clone() })?;
    }
    Ok(())
}

fn make_plan(ctx: &Ctx, t: &TitleId) -> Result<(), StageError> {
    let req: Request = ctx.get_json(&keys::request(t))?;
    let tmp = ctx.scratch_dir()?;
    let master = ctx.local_copy(&req.master_key, tmp.path())?;
    let qc = crate::qc::inspect_master(ctx.store.as_ref(), t, &master, &req)?;
    let mut split = analysis::split_master(
        &master,
        &req.ladder,
        req.segment_seconds,
        req.chunk_segments,
        &tmp.path().join("chunks"),
    )?;
    if qc.inspection.interlace.interlaced && !split.conversion.deinterlace {
        // The stream does not say so, but idet sees fields (a master flagged progressive
        // by its encoder): deinterlacing is what keeps the combing out.
        split.conversion.deinterlace = true;
    }
    if let Some(n) = qc.published_frames {
        // An accepted truncated master: the title is what decodes whole, not what the
        // demuxer hands out (a frame cut short at the end is read but does not decode).
        let r = &mut split.report;
        r.frame_count = r.frame_count.min(n.max(1));
        r.files
            .truncate(r.frame_count.div_ceil(split.chunk_frames) as usize);
    }
    let (report, chunk_frames, shape) = (&split.report, split.chunk_frames, split.shape);
    let mut chunks = Vec::new();
    for (i, file) in report.files.iter().enumerate() {
        let i = i as u32;
        ctx.store.put_file(&keys::chunk(t, i), file)?;
        let start = i as u64 * chunk_frames;
        chunks.push(ChunkPlan {
            index: i,
            start_frame: start,
            end_frame: (start + chunk_frames).min(report.frame_count),
        });
    }
    let fps = split.probe.frame_rate;
    let rungs = match &req.ladder {
        LadderSpec::Fixed { ladder } => fit_ladder(ladder, shape),
        LadderSpec::PerTitle { policy } => per_title(ctx, t, policy, &split)?,
    };
    let audio = split.probe.audio.as_ref().map(|_| AudioPlan {
        id: AUDIO_RENDITION.into(),
        bitrate: req.ladder.audio_kbps() as u64 * 1000,
        sample_rate: 48_000,
        total_samples: ((report.frame_count as u128 * fps.den as u128 * 48_000
            + fps.num as u128 / 2)
            / fps.num as u128) as u64,
    });
    let plan = Plan {
        probe: split.probe.clone(),
        conversion: split.conversion.clone(),
        fps,
        frame_count: report.frame_count,
        origin_pts: report.origin_pts,
        chunk_shift: report.chunk_shift,
        time_base: report.time_base,
        grid: split.grid,
        chunk_frames,
        chunks,
        rungs,
        audio,
        preset: req.ladder.preset().to_string(),
        profile: req.ladder.profile().to_string(),
        x264_threads: 1,
    };
    tracing::info!(title = %t, frames = plan.frame_count, chunks = plan.chunks.len(), rungs = plan.rungs.len(), "planned");
    // The plan is written last: its presence means every chunk file exists.
    ctx.put_json(&keys::plan(t), &plan)
}

/// The title's own rungs: from its stored decision when an earlier attempt got that
/// far (analysis is deterministic, so this only saves time), else by analysis.
fn per_title(
    ctx: &Ctx,
    t: &TitleId,
    policy: &ladders::PerTitlePolicy,
    split: &analysis::SplitMaster,
) -> Result<Vec<ladders::FittedRung>, StageError> {
    if let Ok(d) = ctx.get_json::<ladders::Decision>(&keys::ladder(t)) {
        return Ok(d.fitted());
    }
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    let a = split.analyse(policy, threads)?;
    tracing::info!(title = %t, windows = a.windows.len(), secs = a.wall_s, rungs = a.decision.rungs.len(), "per-title ladder chosen");
    ctx.put_json(&keys::ladder(t), &a.decision)?;
    Ok(a.decision.fitted())
}
