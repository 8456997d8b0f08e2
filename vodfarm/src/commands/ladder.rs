//! Per-title ladder tools: `ladder analyze` (a master's rate-quality points, hull and
//! chosen rungs) and `ladder compare` (two published ladders of one master, scored).

use std::path::{Path, PathBuf};

use anyhow::{bail, Context as _, Result};
use workers::plan::LadderSpec;
use workers::store::LocalStore;
use workers::submit::load_ladder;
use workers::TitleId;

pub fn analyze(
    master: &Path,
    policy: &str,
    svg: Option<PathBuf>,
    json: Option<PathBuf>,
    segment_seconds: f64,
    threads: Option<usize>,
) -> Result<()> {
    let LadderSpec::PerTitle { policy } = load_ladder(policy)? else {
        bail!("--policy {policy} is a fixed ladder, not a per-title policy");
    };
    let threads = threads.unwrap_or_else(crate::cores).max(1);
    let tmp = tempfile::tempdir().context("temporary directory")?;
    let cpu0 = cpu_seconds();
    let spec = LadderSpec::PerTitle {
        policy: policy.clone(),
    };
    let split = workers::analysis::split_master(master, &spec, segment_seconds, 2, tmp.path())?;
    let a = split.analyse(&policy, threads)?;
    let (grid, report) = (split.grid, &split.report);
    let cpu = cpu_seconds() - cpu0;
    print!("{}", a.decision.table());
    // A window is one IDR interval, or what is left of the title after its start.
    let probed: u64 = a
        .windows
        .iter()
        .map(|&w| grid.idr_frames.min(report.frame_count.saturating_sub(w)))
        .sum();
    let checked = if a.checks.is_empty() {
        String::new()
    } else {
        format!(
            ", rungs checked on {} window(s) ({:.1} s CPU of the total)",
            a.checks.len(),
            a.check_cpu_s
        )
    };
    println!(
        "analysis: {} window(s), {} of {} frames{checked}, {:.1} s wall, {:.1} s CPU",
        a.windows.len(),
        probed,
        report.frame_count,
        a.wall_s,
        cpu
    );
    if let Some(path) = svg {
        let title = format!(
            "{} — per-title ladder ({})",
            master.file_name().unwrap_or_default().to_string_lossy(),
            policy.name
        );
        std::fs::write(&path, ladders::plot_svg(&a.decision, &title))
            .with_context(|| format!("writing {}", path.display()))?;
        println!("plot: {}", path.display());
    }
    if let Some(path) = json {
        std::fs::write(&path, serde_json::to_vec_pretty(&a.decision)?)
            .with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(())
}

pub fn compare(
    master: &Path,
    store_dir: &Path,
    anchor: &str,
    test: &str,
    subsample: u32,
    json: Option<PathBuf>,
) -> Result<()> {
    let store = LocalStore::open(store_dir)?;
    let opts = media::QualityOptions {
        threads: std::thread::available_parallelism()
            .map(|n| n.get() as u32)
            .unwrap_or(1),
        subsample: subsample.max(1),
    };
    let mut curves = Vec::new();
    let mut all = serde_json::Map::new();
    for t in [anchor, test] {
        let id = TitleId::parse(t)?;
        let r = workers::evaluate::rendition_quality(&store, &id, master, opts)
            .with_context(|| format!("title {t}"))?;
        println!("{t}:");
        for x in &r {
            println!(
                "  {:<14} {:>4}x{:<5} {:>8.0} kbit/s  VMAF {:6.2}  p5 {:6.2}  PSNR-Y {:5.2}",
                x.id, x.width, x.height, x.kbps, x.vmaf, x.vmaf_p5, x.psnr_y
            );
        }
        curves.push(workers::evaluate::ladder_curve(&r));
        all.insert(t.to_string(), serde_json::to_value(&r)?);
    }
    let bd = ladders::bd_rate(&curves[0], &curves[1]);
    match &bd {
        Ok(v) => {
            println!("BD-rate of {test} against {anchor}: {v:+.1}% (VMAF; negative = fewer bits)")
        }
        Err(e) => println!("BD-rate of {test} against {anchor}: not defined ({e})"),
    }
    all.insert("bd_rate".into(), bd.as_ref().ok().copied().into());
    if let Some(path) = json {
        std::fs::write(&path, serde_json::to_vec_pretty(&all)?)
            .with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(())
}

/// CPU time (user + system) of this process and its finished children, seconds.
fn cpu_seconds() -> f64 {
    let mut total = 0.0;
    for who in [libc::RUSAGE_SELF, libc::RUSAGE_CHILDREN] {
        // SAFETY: getrusage fills a struct we own.
        let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
        if unsafe { libc::getrusage(who, &mut ru) } == 0 {
            let tv = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
            total += tv(ru.ru_utime) + tv(ru.ru_stime);
        }
    }
    total
}
