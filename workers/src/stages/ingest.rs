//! Ingest: inspect the master (QC: a truncated one is refused here, before anything
//! is planned; see `crate::qc`), probe, validate, plan (ladder, segment grid, chunks),
//! split the master into chunk files, then one encode job per chunk and one audio job.

use ladders::fit_ladder;

use crate::analysis;
use crate::messages::Job;
use crate::plan::{AudioPlan, ChunkPlan, LadderSpec, LoudnessPlan, Plan, Request};
use crate::stages::Ctx;
use crate::status::{self, State};
use crate::{keys, StageError, TitleId};

/// Output sample rate of every audio rendition.
const AUDIO_RATE: u32 = 48_000;

pub fn run(ctx: &Ctx, t: &TitleId) -> Result<(), StageError> {
    if !ctx.store.exists(&keys::plan(t))? {
        make_plan(ctx, t)?;
    }
    let plan = ctx.plan(t)?;
    let mut s = status::read(ctx.store.as_ref(), t)
        .unwrap_or_else(|| status::TitleStatus::new(t, State::Encoding));
    s.chunks = plan.chunks.len();
    s.renditions = plan.rungs.iter().map(|r| r.id.clone()).collect();
    s.renditions.extend(plan.audio.iter().map(|a| a.id.clone()));
    if s.state == State::Submitted {
        s.enter(State::Encoding);
    }
    status::write(ctx.store.as_ref(), &s)?;
    // Re-sending on redelivery is harmless: encode and audio are idempotent.
    for c in &plan.chunks {
        ctx.send(Job::Encode {
            title: t.clone(),
            chunk: c.index,
        })?;
    }
    if !plan.audio.is_empty() {
        ctx.send(Job::Audio { title: t.clone() })?;
    }
    Ok(())
}

fn make_plan(ctx: &Ctx, t: &TitleId) -> Result<(), StageError> {
    let req: Request = ctx.get_json(&keys::request(t))?;
    let tmp = ctx.scratch_dir()?;
    let master = ctx.local_copy(&req.master_key, tmp.path())?;
    let qc = crate::qc::inspect_master(ctx.store.as_ref(), t, &master, &req);
    crate::events::inspected(ctx.store.as_ref(), t, &req.master_sha256, &qc);
    let qc = qc?;
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
    // Once: a redelivered or duplicate ingest (a submit repeated while the first
    // waited in the queue) plans again.
    crate::events::emit_once(
        ctx.store.as_ref(),
        t,
        crate::events::ladder_chosen(&req.ladder, &rungs),
    );
    let total_samples = ((report.frame_count as u128 * fps.den as u128 * AUDIO_RATE as u128
        + fps.num as u128 / 2)
        / fps.num as u128) as u64;
    let audio = audio_plans(&master, &req, &split.probe, total_samples)?;
    // Text subtitle streams of the master, stored before the plan like the chunks.
    crate::subtitles::extract_embedded(
        ctx,
        t,
        &master,
        &req,
        (
            report.origin_pts * report.time_base.0 as i64,
            report.time_base.1 as i64,
        ),
    )?;
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
        x264_threads: crate::plan::X264_THREADS,
        shot_idrs: if req.shot_idrs {
            shot_idrs(&qc.inspection.shot_pts, report, fps, split.grid)
        } else {
            Vec::new()
        },
    };
    tracing::info!(title = %t, frames = plan.frame_count, chunks = plan.chunks.len(), rungs = plan.rungs.len(), "planned");
    // The plan is written last: its presence means every chunk file exists.
    ctx.put_json(&keys::plan(t), &plan)
}

/// The inspection's shot starts (timestamps in the video stream's time base) as frames
/// of the plan's grid, placed as the chunks place every picture, and those of them that
/// get an IDR.
fn shot_idrs(
    shot_pts: &[i64],
    report: &media::SplitReport,
    fps: media::Rational,
    grid: ladders::Grid,
) -> Vec<u64> {
    let starts: Vec<u64> = shot_pts
        .iter()
        .map(|&p| media::frame_index(p, report.origin_pts, report.time_base, fps))
        .filter_map(|i| u64::try_from(i).ok())
        .collect();
    let rate = fps.num as f64 / fps.den as f64;
    let gap = (crate::plan::SHOT_IDR_MIN_GAP_S * rate).round() as u64;
    ladders::shot_idrs(&starts, grid.idr_frames, gap, report.frame_count)
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
    tracing::info!(title = %t, windows = a.windows.len(), checked_on = a.checks.len(), secs = a.wall_s, rungs = a.decision.rungs.len(), "per-title ladder chosen");
    ctx.put_json(&keys::ladder(t), &a.decision)?;
    Ok(a.decision.fitted())
}

/// Every audio track of the master: a stereo rendition, plus 5.1 when the track has at
/// least six channels; each measured (one decode pass of the track, every output
/// layout measured on the way) and given the gain that brings it to the target.
fn audio_plans(
    master: &std::path::Path,
    req: &Request,
    probe: &media::ProbeInfo,
    total_samples: u64,
) -> Result<Vec<AudioPlan>, StageError> {
    let kbps = req.ladder.audio_kbps() as u64;
    let mut named: Vec<(u32, String, String)> = Vec::new();
    for (i, a) in probe.audio_tracks.iter().enumerate() {
        let track = i as u32 + 1;
        // The request's languages were validated at submit; the master's own tag is
        // used when it is one we know, else the track is undetermined.
        let language = match req.audio.languages.get(&track) {
            Some(l) => l.clone(),
            None => a
                .language
                .as_deref()
                .and_then(|l| manifests::language::normalise(l).ok())
                .unwrap_or_else(|| manifests::language::UNDETERMINED.into()),
        };
        let name = manifests::language::name(&language).unwrap_or_else(|| format!("Track {track}"));
        named.push((track, language, name));
    }
    let mut plans: Vec<AudioPlan> = Vec::new();
    for (a, (track, language, name)) in probe.audio_tracks.iter().zip(&named) {
        // Names must differ within an HLS group: two tracks in one language get their
        // numbers.
        let name = if named.iter().filter(|(_, _, n)| n == name).count() > 1 {
            format!("{name} (track {track})")
        } else {
            name.clone()
        };
        let layouts: Vec<u16> = if a.channels >= 6 { vec![2, 6] } else { vec![2] };
        let measured = media::measure_loudness(master, a.stream_index, AUDIO_RATE, &layouts)?;
        for (&channels, m) in layouts.iter().zip(measured) {
            // The ladder's audio_kbps is for stereo; 5.1 gets it per channel pair for
            // its five full-band channels (the LFE is nearly free).
            let bitrate_kbps = kbps * u64::from(channels.min(5)) / 2;
            let mut id = format!("a-{language}-{bitrate_kbps}k-{channels}ch");
            if plans.iter().any(|p| p.id == id) {
                id = format!("{id}-t{track}");
            }
            plans.push(AudioPlan {
                id,
                track: *track,
                stream_index: a.stream_index,
                language: language.clone(),
                name: name.clone(),
                default: *track == 1,
                channels,
                bitrate: bitrate_kbps * 1000,
                sample_rate: AUDIO_RATE,
                total_samples,
                loudness: LoudnessPlan::new(m, req.audio.loudness_lkfs, req.audio.true_peak_dbtp),
            });
        }
    }
    for a in &plans {
        tracing::info!(rendition = %a.id, loudness = %a.loudness.describe(), "audio planned");
    }
    Ok(plans)
}
