//! Per-title analysis: probe a few windows of a title's chunk files at the policy's
//! grid of sizes × CRFs, average each point over the windows, and choose the rungs
//! along the title's convex hull; when the title was probed in fewer windows than the
//! policy's `check_windows`, measure each chosen rung's own encode on that many
//! windows across the title and predict its VMAF from them. One entry point for the
//! ingest stage and `vodfarm ladder analyze`: [`split_master`] (probe, grid, split on
//! it), then [`SplitMaster::analyse`].

use std::path::{Path, PathBuf};
use std::time::Instant;

use ladders::{
    choose_ladder, fit_ladder, plan_grid, Decision, Grid, MasterShape, Measured, PerTitlePolicy,
};
use media::{
    AnalysisSettings, ChunkGrid, ProbeInfo, ProbePoint, QualityReport, Rational, RungSettings,
    SplitReport,
};

use crate::plan::LadderSpec;
use crate::StageError;

/// A master probed, planned on its segment grid and split into chunk files.
pub struct SplitMaster {
    /// What probing the master found: size, frame rate, audio.
    pub probe: ProbeInfo,
    /// What is done to its pictures before scaling (rotation, deinterlace, tone map).
    pub conversion: media::Conversion,
    /// The master's display shape (what ladders are fitted to).
    pub shape: MasterShape,
    /// The segment grid: master frames per segment and between forced IDRs.
    pub grid: Grid,
    /// Frames per chunk: a whole number of segments.
    pub chunk_frames: u64,
    /// The chunk files (in the folder given to [`split_master`]) and their timing.
    pub report: SplitReport,
}

/// Probe `master`, plan its segment grid for `ladder` (every rung's frame-rate
/// decimation must divide a segment) and split it into chunks of `chunk_segments`
/// segments in `dir`.
pub fn split_master(
    master: &Path,
    ladder: &LadderSpec,
    segment_seconds: f64,
    chunk_segments: u32,
    dir: &Path,
) -> Result<SplitMaster, StageError> {
    let probe = media::probe(master)?;
    let conversion = media::Conversion::for_file(master, &probe)?;
    let (width, height) = probe.display_size();
    let shape = MasterShape {
        width,
        height,
        fps_num: probe.frame_rate.num,
        fps_den: probe.frame_rate.den,
    };
    let decimations: Vec<u32> = match ladder {
        LadderSpec::Fixed { ladder } => fit_ladder(ladder, shape)
            .iter()
            .map(|r| r.decimation)
            .collect(),
        LadderSpec::PerTitle { policy } => {
            policy.possible_decimations(probe.frame_rate.num, probe.frame_rate.den)
        }
    };
    let grid = plan_grid(shape.fps_num, shape.fps_den, segment_seconds, &decimations)?;
    let chunk_frames = grid.segment_frames * chunk_segments.max(1) as u64;
    std::fs::create_dir_all(dir).map_err(StageError::io(format!("{}", dir.display())))?;
    let report = media::split_video(master, probe.frame_rate, chunk_frames, dir)?;
    Ok(SplitMaster {
        probe,
        conversion,
        shape,
        grid,
        chunk_frames,
        report,
    })
}

impl SplitMaster {
    /// Where the title's frames are, for analysis.
    pub fn frames(&self) -> TitleFrames {
        TitleFrames {
            fps: self.probe.frame_rate,
            frame_count: self.report.frame_count,
            chunk_origin: self.report.origin_pts + self.report.chunk_shift,
            time_base: self.report.time_base,
            grid: self.grid,
            chunk_frames: self.chunk_frames,
            conversion: self.conversion.clone(),
        }
    }

    /// Choose the title's per-title ladder from its chunk files.
    pub fn analyse(&self, policy: &PerTitlePolicy, threads: usize) -> Result<Analysis, StageError> {
        let files = &self.report.files;
        analyse(policy, self.shape, &self.frames(), threads, |i| {
            files.get(i as usize).cloned().ok_or_else(|| {
                StageError::Permanent(format!("analysis window in missing chunk {i}"))
            })
        })
    }
}

/// Where the title's frames are: its grid and chunking, as planned at ingest.
pub struct TitleFrames {
    /// The master's frame rate.
    pub fps: Rational,
    /// Frames in the master on its frame grid.
    pub frame_count: u64,
    /// Frame 0's time in the chunk files (the master's plus the split's shift).
    pub chunk_origin: i64,
    /// The master's video time base (num, den), the unit of `chunk_origin`.
    pub time_base: (i32, i32),
    /// The segment grid planned at ingest.
    pub grid: Grid,
    /// Frames per chunk file: a whole number of segments.
    pub chunk_frames: u64,
    /// What is done to the pictures before scaling.
    pub conversion: media::Conversion,
}

impl TitleFrames {
    /// The window of one IDR interval from master frame `start` (the last may be
    /// shorter).
    fn window(&self, start: u64) -> ChunkGrid {
        let idr = self.grid.idr_frames.max(1);
        ChunkGrid {
            fps: self.fps,
            origin_pts: self.chunk_origin,
            time_base: self.time_base,
            start_frame: start,
            end_frame: (start + idr).min(self.frame_count),
            idr_frames: idr,
        }
    }

    /// Frames a rung check's window from master frame `start` is encoded after (see
    /// `media::measure_encodes`): the IDR interval before it, as the title's encode
    /// has, or none at a chunk's start, where the title's encode starts afresh too.
    fn lead_in(&self, start: u64) -> u64 {
        let chunk = self.chunk_frames.max(1);
        self.grid.idr_frames.min(start - start / chunk * chunk)
    }

    /// kbit/s of `bits` over `frames` master frames.
    fn kbps(&self, bits: u64, frames: u64) -> f64 {
        let seconds = frames as f64 * self.fps.den as f64 / self.fps.num as f64;
        bits as f64 / seconds.max(1e-9) / 1000.0
    }
}

/// The decision and what it cost.
pub struct Analysis {
    /// The chosen ladder, with every measured point and the hull it was chosen from.
    pub decision: Decision,
    /// Probed windows (first frame of each).
    pub windows: Vec<u64>,
    /// Windows the chosen rungs were checked on (first frame of each; empty when the
    /// policy did not check them).
    pub checks: Vec<u64>,
    /// CPU seconds of the process while the rungs were checked (every thread's: the
    /// checks' own in `ladder analyze`, more in a worker running other jobs beside).
    pub check_cpu_s: f64,
    /// Wall-clock seconds the analysis took.
    pub wall_s: f64,
}

/// Probe the title and choose its ladder. `chunk_file(i)` gives a local path to chunk i.
pub fn analyse(
    policy: &PerTitlePolicy,
    shape: MasterShape,
    t: &TitleFrames,
    threads: usize,
    mut chunk_file: impl FnMut(u32) -> Result<PathBuf, StageError>,
) -> Result<Analysis, StageError> {
    let started = Instant::now();
    let idr = t.grid.idr_frames.max(1);
    // Whole intervals only (a title shorter than one is one window): the last, shorter
    // one would weigh as much as a whole one in a point's average, though a few frames
    // of it are mostly their IDR.
    let intervals = (t.frame_count / idr).max(1);
    let windows: Vec<u64> = policy
        .windows(intervals)
        .into_iter()
        .map(|w| w * idr)
        .collect();
    let settings = AnalysisSettings {
        preset: policy.analysis.preset.clone(),
        profile: policy.encode.profile.clone(),
        vmaf_subsample: policy.vmaf_step(windows.len(), idr),
        threads,
        conversion: t.conversion.clone(),
    };
    let grids: Vec<(u32, ChunkGrid)> = windows
        .iter()
        .map(|&start| ((start / t.chunk_frames) as u32, t.window(start)))
        .collect();
    // Rounds of probes (see `ladders::next_probes`): each measured on every window
    // and averaged, until the hull's ends stop moving.
    let mut measured: Vec<Measured> = Vec::new();
    loop {
        let points: Vec<ProbePoint> = ladders::next_probes(policy, shape, &measured)
            .into_iter()
            .map(|(width, height, crf)| ProbePoint {
                width,
                height,
                crf,
                decimation: policy.rung_decimation(shape, (width, height)),
            })
            .collect();
        if points.is_empty() {
            break;
        }
        let mut per_point: Vec<(u64, u64, Vec<QualityReport>)> =
            points.iter().map(|_| (0, 0, Vec::new())).collect();
        for (chunk, grid) in &grids {
            let file = chunk_file(*chunk)?;
            let measures = media::analyse_window(&file, *grid, &points, &settings)?;
            for (acc, m) in per_point.iter_mut().zip(measures) {
                acc.0 += m.bits;
                acc.1 += m.frames;
                acc.2.push(m.quality);
            }
        }
        measured.extend(
            points
                .iter()
                .zip(per_point)
                .map(|(p, (bits, frames, reports))| {
                    let q = QualityReport::merged(&reports);
                    Measured {
                        width: p.width,
                        height: p.height,
                        crf: p.crf,
                        kbps: t.kbps(bits, frames),
                        vmaf: q.vmaf_mean,
                        vmaf_p5: q.vmaf_p5,
                        psnr_y: q.psnr_y_mean,
                        windows: reports.iter().map(|r| r.vmaf_mean).collect(),
                    }
                }),
        );
    }
    let mut decision = choose_ladder(policy, shape, &measured)
        .map_err(|e| StageError::Permanent(e.to_string()))?;
    let checks: Vec<u64> = policy
        .check_windows(intervals, windows.len())
        .into_iter()
        .map(|w| w * idr)
        .collect();
    let mut check_cpu_s = 0.0;
    if !checks.is_empty() {
        let before = process_cpu_s();
        let settings = AnalysisSettings {
            vmaf_subsample: policy.vmaf_step(checks.len(), idr),
            ..settings
        };
        check_rungs(
            &mut decision,
            policy,
            t,
            &checks,
            &settings,
            &mut chunk_file,
        )?;
        check_cpu_s = process_cpu_s() - before;
    }
    // A rung's error is its probed windows', or every rung's its check windows' (each
    // check replaces it), a share of the title's intervals.
    let measured_on = if checks.is_empty() {
        windows.len()
    } else {
        checks.len()
    };
    decision.sampled(measured_on as f64 / intervals as f64);
    Ok(Analysis {
        decision,
        windows,
        check_cpu_s,
        checks,
        wall_s: started.elapsed().as_secs_f64(),
    })
}

/// User and system CPU seconds of this process so far, all threads.
fn process_cpu_s() -> f64 {
    // SAFETY: getrusage fills a struct we own.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    if unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) } != 0 {
        return 0.0;
    }
    let tv = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    tv(ru.ru_utime) + tv(ru.ru_stime)
}

/// Encode each chosen rung with its final settings on the windows starting at
/// `starts` (master frames), and make each rung's mean VMAF over them its prediction.
fn check_rungs(
    decision: &mut Decision,
    policy: &PerTitlePolicy,
    t: &TitleFrames,
    starts: &[u64],
    settings: &AnalysisSettings,
    chunk_file: &mut impl FnMut(u32) -> Result<PathBuf, StageError>,
) -> Result<(), StageError> {
    let rungs: Vec<RungSettings> = decision
        .rungs
        .iter()
        .map(|r| {
            crate::plan::rung_settings(
                &r.rung,
                &policy.encode.preset,
                &policy.encode.profile,
                crate::plan::X264_THREADS,
                t.conversion.output,
            )
        })
        .collect();
    let mut per_rung: Vec<(u64, u64, Vec<QualityReport>)> =
        rungs.iter().map(|_| (0, 0, Vec::new())).collect();
    for &start in starts {
        let grid = t.window(start);
        let file = chunk_file((start / t.chunk_frames) as u32)?;
        let measures = media::measure_encodes(&file, grid, t.lead_in(start), &rungs, settings)?;
        for (acc, m) in per_rung.iter_mut().zip(measures) {
            acc.0 += m.bits;
            acc.1 += m.frames;
            acc.2.push(m.quality);
        }
    }
    for (r, (bits, frames, reports)) in decision.rungs.iter_mut().zip(per_rung) {
        let q = QualityReport::merged(&reports);
        let each: Vec<f64> = reports.iter().map(|r| r.vmaf_mean).collect();
        r.checked(
            starts.len() as u32,
            t.kbps(bits, frames),
            q.vmaf_mean,
            &each,
        );
    }
    Ok(())
}
