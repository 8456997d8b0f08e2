//! The `vodfarm` command.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context as _, Result};
use clap::{Parser, Subcommand};
use indicatif::{MultiProgress, ProgressBar, ProgressStyle};
use sha2::Digest;

use workers::messages::{Job, Message};
use workers::plan::{LadderSpec, Plan, Request};
use workers::queue::{LocalQueue, Queue};
use workers::stages::Ctx;
use workers::status::{self, State};
use workers::store::{LocalStore, ObjectStore};
use workers::{keys, runner, TitleId};

#[derive(Parser)]
#[command(
    name = "vodfarm",
    version,
    about = "Video-on-demand ingest, transcoding and packaging farm"
)]
struct Cli {
    /// Log as JSON lines instead of human-readable text.
    #[arg(long, global = true)]
    log_json: bool,
    /// Backends (S3/SQS or embedded) from this TOML file; also VODFARM_CONFIG. Without
    /// one, commands use the embedded store in --store.
    #[arg(long, global = true)]
    config: Option<PathBuf>,
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Run every stage in this process on one master and print the manifest paths.
    Run(RunArgs),
    /// Upload a master and queue its ingest for the farm's workers; prints the title id.
    Submit(SubmitArgs),
    /// Serve the farm's queues until SIGTERM/SIGINT (then finish what it holds and exit).
    Worker {
        /// Stages to serve: ingest, encode, package (package includes placement).
        #[arg(long, value_delimiter = ',', default_value = "ingest,encode,package")]
        stages: Vec<String>,
        /// Jobs at once. Default: cores.
        #[arg(long)]
        concurrency: Option<usize>,
        /// Local scratch space (default: a temporary folder).
        #[arg(long)]
        scratch: Option<PathBuf>,
        #[arg(long, default_value = "./vodfarm-data")]
        store: PathBuf,
    },
    /// Create the configured buckets and queues (with dead-letter queues) if missing.
    Init {
        #[arg(long, default_value = "./vodfarm-data")]
        store: PathBuf,
    },
    /// Show a title's status (or every title's) from the status records.
    Status {
        /// Title id; all titles when left out.
        title: Option<String>,
        #[arg(long, default_value = "./vodfarm-data")]
        store: PathBuf,
    },
    /// Plan which published titles go onto which CDN appliances and write each
    /// appliance's fill plan to control/fill/<appliance>.json (the daily re-plan).
    Place {
        /// The fleet: sites, fill windows, appliances (TOML). Kept in the store
        /// (control/fleet.toml) for later re-plans, including the one after each
        /// publish; the stored one is used when left out.
        #[arg(long)]
        fleet: Option<PathBuf>,
        /// Viewing statistics: JSON object of title id -> popularity (bytes streamed a
        /// day / title size). Kept in the store (control/stats.json). Titles not in it
        /// are planned with their tier hint's popularity, else 0.
        #[arg(long)]
        stats: Option<PathBuf>,
        #[arg(long, default_value = "./vodfarm-data")]
        store: PathBuf,
    },
    /// The appliance (Open Connect-style) side: fill agent and cache server.
    #[command(subcommand)]
    Oca(OcaCmd),
    /// The manifest URL a player at SITE should use for a title: an appliance at the
    /// site that holds it, else at a nearby site, else the origin. With --listen, the
    /// same as an HTTP endpoint: GET /steer?title=ID&site=SITE[&manifest=hls|dash].
    Steer {
        #[arg(long, required_unless_present = "listen")]
        title: Option<String>,
        #[arg(long, required_unless_present = "listen")]
        site: Option<String>,
        #[arg(long, value_enum, default_value = "hls")]
        manifest: ManifestArg,
        /// Base URL the origin's keys are served at (default: the store as a file URL).
        #[arg(long)]
        origin_url: Option<String>,
        /// Serve steering over HTTP at this address instead.
        #[arg(long, conflicts_with_all = ["title", "site"])]
        listen: Option<std::net::SocketAddr>,
        #[arg(long, default_value = "./vodfarm-data")]
        store: PathBuf,
    },
    /// Per-title ladder tools.
    #[command(subcommand)]
    Ladder(LadderCmd),
    /// Write a deterministic synthetic sample master (testsrc2 + sine), for trying vodfarm.
    Sample {
        /// Output file (.mp4).
        out: PathBuf,
        /// Duration in seconds.
        #[arg(long, default_value_t = 12)]
        seconds: u32,
        /// Picture width and height.
        #[arg(long, default_value_t = 1280)]
        width: u32,
        #[arg(long, default_value_t = 720)]
        height: u32,
        /// A silent clip of the per-title content set instead (slides, animation,
        /// slow-pan, dark, film-grain, high-motion), 24 fps.
        #[arg(long)]
        content: Option<String>,
    },
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum ManifestArg {
    Hls,
    Dash,
}

#[derive(Subcommand)]
enum OcaCmd {
    /// Bring this appliance's cache in line with its fill plan: deletes, then
    /// downloads (resumed, rate-limited, checksum-verified) inside the site's fill
    /// window; reports to control/appliances/<ID>.json.
    Fill {
        #[arg(long)]
        appliance: String,
        /// The appliance's cache directory.
        #[arg(long)]
        cache: PathBuf,
        /// Fill now, whatever the time.
        #[arg(long)]
        now: bool,
        /// At most this many bytes/s (default: the fleet file's fill rate).
        #[arg(long)]
        rate: Option<u64>,
        #[arg(long, default_value = "./vodfarm-data")]
        store: PathBuf,
    },
    /// Serve the cache over HTTP (Range, HEAD, streaming content types, CORS).
    Serve {
        #[arg(long)]
        cache: PathBuf,
        /// Address to listen at (port 0: any free port; the URL is printed).
        #[arg(long, default_value = "127.0.0.1:8081")]
        listen: std::net::SocketAddr,
    },
}

#[derive(Subcommand)]
enum LadderCmd {
    /// Probe a master and print its rate-quality points, convex hull and chosen rungs.
    Analyze {
        master: PathBuf,
        /// Per-title policy: per-title (built in) or a TOML file.
        #[arg(long, default_value = PER_TITLE)]
        policy: String,
        /// Draw the curves, the hull and the rungs into this SVG file.
        #[arg(long)]
        svg: Option<PathBuf>,
        /// Write the decision (points, hull, rungs) as JSON to this file.
        #[arg(long)]
        json: Option<PathBuf>,
        #[arg(long, default_value_t = 4.0)]
        segment_seconds: f64,
        /// Probe encodes at once. Default: cores.
        #[arg(long)]
        threads: Option<usize>,
    },
    /// Score two published titles of one master (two ladders) against the master:
    /// every rendition's measured bitrate and VMAF, and the BD-rate of test vs anchor.
    Compare {
        master: PathBuf,
        #[arg(long, default_value = "./vodfarm-data")]
        store: PathBuf,
        /// Title whose ladder is the reference (for example one made with apple-avc).
        #[arg(long)]
        anchor: String,
        /// Title whose ladder is compared with it.
        #[arg(long)]
        test: String,
        /// Score one frame in this many with VMAF.
        #[arg(long, default_value_t = 1)]
        subsample: u32,
        /// Write every figure as JSON to this file.
        #[arg(long)]
        json: Option<PathBuf>,
    },
}

#[derive(clap::Args)]
struct RunArgs {
    /// The master file (mp4/mov, mkv/webm, mxf, mpeg-ts or y4m).
    master: PathBuf,
    /// Title id: 1-64 characters from a-z, A-Z, 0-9, '-', '_'.
    #[arg(long)]
    title: String,
    /// Embedded object store and queue directory.
    #[arg(long, default_value = "./vodfarm-data")]
    store: PathBuf,
    /// Worker threads (each encodes one chunk, every rung in parallel). Default: cores.
    #[arg(long)]
    workers: Option<usize>,
    #[command(flatten)]
    settings: TitleSettings,
}

#[derive(clap::Args)]
struct SubmitArgs {
    /// The master file (probed here first: a bad master is refused before uploading).
    master: PathBuf,
    /// Title id: 1-64 characters from a-z, A-Z, 0-9, '-', '_'.
    #[arg(long)]
    title: String,
    #[arg(long, default_value = "./vodfarm-data")]
    store: PathBuf,
    #[command(flatten)]
    settings: TitleSettings,
}

/// What a title is made with: the same for `run` and `submit`.
#[derive(clap::Args)]
struct TitleSettings {
    /// Ladder: per-title (chosen from the title's own rate-quality hull), a fixed
    /// built-in (apple-avc, benchmark), or a TOML file (fixed ladder or per-title policy).
    #[arg(long, default_value = PER_TITLE)]
    ladder: String,
    /// Target segment duration in seconds (made a whole number of frames).
    #[arg(long, default_value_t = 4.0)]
    segment_seconds: f64,
    /// Segments per chunk (the unit of parallel encoding).
    #[arg(long, default_value_t = 2)]
    chunk_segments: u32,
    /// Popularity hint for placement until viewing statistics exist: hot, warm, cold.
    #[arg(long, value_parser = parse_tier)]
    tier: Option<placement::Tier>,
}

fn parse_tier(s: &str) -> Result<placement::Tier, String> {
    serde_json::from_value(serde_json::Value::String(s.into()))
        .map_err(|_| format!("'{s}' is not a tier (hot, warm, cold)"))
}

fn main() {
    let cli = Cli::parse();
    let filter = tracing_subscriber::EnvFilter::try_from_env("VODFARM_LOG")
        .unwrap_or_else(|_| "warn".into());
    if cli.log_json {
        tracing_subscriber::fmt()
            .json()
            .with_env_filter(filter)
            .with_writer(std::io::stderr)
            .init();
    } else {
        tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_writer(std::io::stderr)
            .init();
    }
    if let Err(e) = real_main(cli) {
        // One line: the error and its causes.
        let line = e
            .chain()
            .map(|c| c.to_string())
            .collect::<Vec<_>>()
            .join(": ");
        eprintln!("error: {line}");
        std::process::exit(1);
    }
}

fn real_main(cli: Cli) -> Result<()> {
    let config = cli.config.clone();
    let open = |dir: &Path| -> Result<workers::config::Backends> {
        let c = workers::config::Config::load(config.as_deref(), dir)?;
        Ok(c.open()?)
    };
    let open_store = |dir: &Path| -> Result<Arc<dyn ObjectStore>> {
        let c = workers::config::Config::load(config.as_deref(), dir)?;
        Ok(c.open_store()?)
    };
    match cli.cmd {
        Cmd::Run(args) => run(args),
        Cmd::Submit(args) => submit(open(&args.store)?, args),
        Cmd::Worker {
            stages,
            concurrency,
            scratch,
            store,
        } => worker(open(&store)?, &stages, concurrency, scratch),
        Cmd::Init { store } => {
            let c = workers::config::Config::load(config.as_deref(), &store)?;
            c.init()?;
            println!("backends ready");
            Ok(())
        }
        Cmd::Status { title, store } => show_status(open_store(&store)?.as_ref(), title.as_deref()),
        Cmd::Place {
            fleet,
            stats,
            store,
        } => place(
            fleet.as_deref(),
            stats.as_deref(),
            open(&store)?.store.as_ref(),
        ),
        Cmd::Oca(OcaCmd::Fill {
            appliance,
            cache,
            now,
            rate,
            store,
        }) => oca_fill(&appliance, &cache, now, rate, open_store(&store)?.as_ref()),
        Cmd::Oca(OcaCmd::Serve { cache, listen }) => {
            if !cache.is_dir() {
                bail!("cache directory {} does not exist", cache.display());
            }
            let app = workers::oca::serve::router(&cache);
            workers::http::run(app, listen, |addr| {
                println!("serving {} at http://{addr}", cache.display());
            })
            .with_context(|| format!("serving at {listen}"))
        }
        Cmd::Steer {
            title,
            site,
            manifest,
            origin_url,
            listen,
            store,
        } => steer(
            title,
            site,
            manifest,
            origin_url,
            listen,
            &store,
            open(&store)?.store,
        ),
        Cmd::Ladder(LadderCmd::Analyze {
            master,
            policy,
            svg,
            json,
            segment_seconds,
            threads,
        }) => analyze(&master, &policy, svg, json, segment_seconds, threads),
        Cmd::Ladder(LadderCmd::Compare {
            master,
            store,
            anchor,
            test,
            subsample,
            json,
        }) => compare(&master, &store, &anchor, &test, subsample, json),
        Cmd::Sample {
            out,
            seconds,
            width,
            height,
            content: Some(name),
        } => {
            let clip = fixtures::content_set(width, height, seconds as u64 * 24)
                .into_iter()
                .find(|m| m.name == format!("{name}-{height}p"))
                .with_context(|| {
                    let names: Vec<&str> = fixtures::CONTENT.iter().map(|c| c.0).collect();
                    format!("unknown --content '{name}' (known: {})", names.join(", "))
                })?;
            // Rendered beside the target and renamed, so an interrupted run leaves no
            // partial master under the final name.
            let tmp = out.with_extension("partial.mp4");
            clip.write_to(&tmp)
                .with_context(|| format!("writing sample master {}", out.display()))?;
            std::fs::rename(&tmp, &out)
                .with_context(|| format!("writing sample master {}", out.display()))?;
            println!("{}", out.display());
            Ok(())
        }
        Cmd::Sample {
            out,
            seconds,
            width,
            height,
            content: None,
        } => {
            let spec = media::SynthSpec {
                video: format!("testsrc2=size={width}x{height}:rate=24:duration={seconds}"),
                fps: media::Rational { num: 24, den: 1 },
                video_codec: "libx264".into(),
                gop: 48,
                audio: Some(format!(
                    "sine=frequency=440:sample_rate=48000:duration={seconds}"
                )),
                audio_codec: "aac".into(),
                container: "mp4".into(),
                sample_aspect: media::Rational { num: 1, den: 1 },
            };
            let tmp = out.with_extension("partial.mp4");
            media::render_synthetic(&spec, &tmp)
                .with_context(|| format!("writing sample master {}", out.display()))?;
            std::fs::rename(&tmp, &out)
                .with_context(|| format!("writing sample master {}", out.display()))?;
            println!("{}", out.display());
            Ok(())
        }
    }
}

fn place(fleet: Option<&Path>, stats: Option<&Path>, store: &dyn ObjectStore) -> Result<()> {
    // Validate both files before keeping either.
    let fleet_text = match fleet {
        Some(f) => {
            let text = std::fs::read_to_string(f)
                .with_context(|| format!("fleet file {}", f.display()))?;
            placement::Fleet::parse(&text)
                .with_context(|| format!("fleet file {}", f.display()))?;
            Some(text)
        }
        None => None,
    };
    let stats_bytes = match stats {
        Some(p) => {
            let bytes = std::fs::read(p).with_context(|| format!("stats file {}", p.display()))?;
            serde_json::from_slice::<workers::place::Stats>(&bytes).with_context(|| {
                format!(
                    "stats file {} (expected {{\"title\": popularity, ...}})",
                    p.display()
                )
            })?;
            Some(bytes)
        }
        None => None,
    };
    if let Some(text) = fleet_text {
        store.put(&keys::fleet(), text.as_bytes())?;
    }
    if let Some(bytes) = stats_bytes {
        store.put(&keys::stats(), &bytes)?;
    }
    let Some((catalogue, placed)) = workers::place::replan_stored(store)? else {
        bail!("no fleet in the store: pass --fleet FILE (it is kept for later re-plans)");
    };
    println!(
        "{} published title(s) planned onto {} appliance(s)",
        catalogue.titles.len(),
        placed.len()
    );
    for p in placed {
        println!(
            "  {:<16} {:<10} {:>4} titles {:>14} of {:>14} bytes; +{} -{} bytes tonight{}",
            p.appliance,
            p.site,
            p.titles,
            p.bytes,
            p.capacity_bytes,
            p.diff.add_bytes,
            p.diff.remove_bytes,
            if p.diff.add_bytes > p.window_bytes {
                " (more than one fill window)"
            } else {
                ""
            }
        );
    }
    Ok(())
}

fn oca_fill(
    appliance: &str,
    cache_dir: &Path,
    now: bool,
    rate: Option<u64>,
    store: &dyn ObjectStore,
) -> Result<()> {
    if rate == Some(0) {
        bail!("--rate 0: the rate must be at least 1 byte/s");
    }
    let fleet = workers::place::stored_fleet(store)?
        .context("no fleet in the store: run `vodfarm place --fleet FILE` first")?;
    let mut cache = workers::oca::Cache::open(cache_dir)?;
    let r = workers::oca::fill(
        store,
        &fleet,
        appliance,
        &mut cache,
        &workers::oca::FillOptions { now, rate },
    )?;
    let l = &r.last_fill;
    println!(
        "{}: fetched {} files ({} bytes, {} resumed), deleted {} files ({} bytes) in {:.1} s; holds {} of {} files, {} title(s): {}",
        r.appliance,
        l.fetched_files,
        l.fetched_bytes,
        l.resumed_files,
        l.deleted_files,
        l.deleted_bytes,
        l.seconds,
        r.held_files,
        r.plan_files,
        r.held_titles.len(),
        r.held_titles.join(", ")
    );
    if let Some(why) = &l.stopped {
        println!("{}: stopped: {why}", r.appliance);
    }
    if !r.health.ok {
        bail!(
            "{} file(s) could not be filled; first: {}",
            r.health.errors.len(),
            r.health.errors[0]
        );
    }
    Ok(())
}

fn steer(
    title: Option<String>,
    site: Option<String>,
    manifest: ManifestArg,
    origin_url: Option<String>,
    listen: Option<std::net::SocketAddr>,
    store_dir: &Path,
    store: Arc<dyn ObjectStore>,
) -> Result<()> {
    let origin_url = match origin_url {
        Some(u) => u,
        None => format!(
            "file://{}",
            std::fs::canonicalize(store_dir)
                .with_context(|| {
                    format!(
                        "no --origin-url and no local store at {} to point players at",
                        store_dir.display()
                    )
                })?
                .display()
        ),
    };
    if let Some(addr) = listen {
        let app = workers::steer::router(store, origin_url);
        return workers::http::run(app, addr, |a| {
            println!("steering at http://{a}/steer");
        })
        .with_context(|| format!("serving at {addr}"));
    }
    let manifest = match manifest {
        ManifestArg::Hls => workers::steer::Manifest::Hls,
        ManifestArg::Dash => workers::steer::Manifest::Dash,
    };
    let (title, site) = (title.unwrap_or_default(), site.unwrap_or_default());
    let a = workers::steer::steer(store.as_ref(), &title, &site, manifest, &origin_url)?;
    println!("{}", a.url);
    eprintln!(
        "via {:?}{}",
        a.via,
        a.appliance
            .map(|id| format!(": appliance {id} at site {}", a.site.unwrap_or_default()))
            .unwrap_or_default()
    );
    Ok(())
}

fn analyze(
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
    let probe = media::probe(master)?;
    let (w, h) = probe.display_size();
    let shape = ladders::MasterShape {
        width: w,
        height: h,
        fps_num: probe.frame_rate.num,
        fps_den: probe.frame_rate.den,
    };
    let grid = ladders::plan_grid(
        shape.fps_num,
        shape.fps_den,
        segment_seconds,
        &policy.possible_decimations(probe.frame_rate.num, probe.frame_rate.den),
    )?;
    let chunk_frames = grid.segment_frames * 2;
    let tmp = tempfile::tempdir().context("temporary directory")?;
    let cpu0 = cpu_seconds();
    let report = media::split_video(master, probe.frame_rate, chunk_frames, tmp.path())?;
    let frames = workers::analysis::TitleFrames {
        fps: probe.frame_rate,
        frame_count: report.frame_count,
        chunk_origin: report.origin_pts + report.chunk_shift,
        time_base: report.time_base,
        grid,
        chunk_frames,
    };
    let threads = threads
        .unwrap_or_else(|| {
            std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1)
        })
        .max(1);
    let a = workers::analysis::analyse(&policy, shape, &frames, threads, |i| {
        report
            .files
            .get(i as usize)
            .cloned()
            .ok_or_else(|| workers::StageError::Permanent(format!("no chunk {i}")))
    })?;
    let cpu = cpu_seconds() - cpu0;
    print!("{}", a.decision.table());
    println!(
        "analysis: {} window(s) of {} frames out of {} frames, {:.1} s wall, {:.1} s CPU",
        a.windows.len(),
        grid.idr_frames,
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

fn compare(
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

fn sha256_file(path: &Path) -> Result<String> {
    let mut f = std::fs::File::open(path).with_context(|| format!("{}", path.display()))?;
    let mut h = sha2::Sha256::new();
    std::io::copy(&mut f, &mut h).with_context(|| format!("reading {}", path.display()))?;
    Ok(hex::encode(h.finalize()))
}

/// `per-title`, a built-in fixed ladder, or a TOML file holding either a fixed ladder
/// or a per-title policy (told apart by the policy's `[analysis]` table).
fn load_ladder(spec: &str) -> Result<LadderSpec> {
    if spec == PER_TITLE {
        return Ok(LadderSpec::PerTitle {
            policy: ladders::builtin_policy(),
        });
    }
    if ladders::builtin_names().contains(&spec) {
        return Ok(LadderSpec::Fixed {
            ladder: ladders::builtin(spec)?,
        });
    }
    let p = Path::new(spec);
    if p.extension().is_some_and(|e| e == "toml") || p.exists() {
        let text = std::fs::read_to_string(p).with_context(|| format!("ladder file {spec}"))?;
        let is_policy = text
            .parse::<toml::Table>()
            .is_ok_and(|t| t.contains_key("analysis"));
        return if is_policy {
            let policy = ladders::PerTitlePolicy::parse(&text)
                .with_context(|| format!("per-title policy file {spec}"))?;
            Ok(LadderSpec::PerTitle { policy })
        } else {
            let ladder =
                ladders::Ladder::parse(&text).with_context(|| format!("ladder file {spec}"))?;
            Ok(LadderSpec::Fixed { ladder })
        };
    }
    bail!(
        "unknown ladder '{spec}' (built in: {PER_TITLE}, {}; or a .toml file)",
        ladders::builtin_names().join(", ")
    )
}

const PER_TITLE: &str = "per-title";

/// Holds an exclusive lock on the store for the life of a `run`, so that recovering
/// in-flight messages at start-up cannot steal another live process's work.
struct StoreLock {
    _file: std::fs::File,
}

fn lock_store(root: &Path) -> Result<StoreLock> {
    let f = std::fs::File::create(root.join(".lock")).context("creating the store lock")?;
    use std::os::fd::AsRawFd;
    // SAFETY: flock on a descriptor we own.
    let rc = unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
    if rc != 0 {
        bail!(
            "store {} is in use by another vodfarm process",
            root.display()
        );
    }
    Ok(StoreLock { _file: f })
}

/// Validate a master and its settings before anything is written: the request.
fn request_for(title: &TitleId, master: &Path, settings: &TitleSettings) -> Result<Request> {
    let TitleSettings {
        ladder,
        segment_seconds,
        chunk_segments,
        tier,
    } = settings;
    let (segment_seconds, chunk_segments, tier) = (*segment_seconds, *chunk_segments, *tier);
    let probe = media::probe(master)?;
    let ladder = load_ladder(ladder)?;
    if !(1..=64).contains(&chunk_segments) {
        bail!("--chunk-segments {chunk_segments} is outside 1..=64");
    }
    ladders::plan_grid(
        probe.frame_rate.num,
        probe.frame_rate.den,
        segment_seconds,
        &[1],
    )?;
    let ext = match probe.container.as_str() {
        "mov,mp4,m4a,3gp,3g2,mj2" => "mp4",
        "matroska,webm" => "mkv",
        "mxf" => "mxf",
        "mpegts" => "ts",
        "yuv4mpegpipe" => "y4m",
        _ => "bin",
    };
    Ok(Request {
        master_key: keys::master(title, ext),
        master_sha256: sha256_file(master)?,
        ladder,
        segment_seconds,
        chunk_segments,
        tier,
    })
}

/// Upload the master, write the request and status, queue the ingest. A title that
/// exists with the same request is left as it is (false); with another, refused.
fn enqueue(
    store: &dyn ObjectStore,
    queue: &dyn Queue,
    title: &TitleId,
    master: &Path,
    request: &Request,
) -> Result<bool> {
    match store.get(&keys::request(title)) {
        Ok(bytes) => {
            let existing: Request = serde_json::from_slice(&bytes).context("existing request")?;
            if &existing != request {
                bail!(
                    "title '{title}' already exists with a different master or settings; use another --title"
                );
            }
            let st = status::read(store, title);
            if st.as_ref().is_some_and(|s| s.state == State::Failed) {
                bail!(
                    "title '{title}' failed earlier: {}",
                    st.and_then(|s| s.error).unwrap_or_default()
                );
            }
            Ok(false)
        }
        Err(_) => {
            // The master first: a request never names a master that is not there.
            store.put_file(&request.master_key, master)?;
            store.put(&keys::request(title), &serde_json::to_vec_pretty(request)?)?;
            status::write(
                store,
                &status::TitleStatus {
                    title: title.clone(),
                    state: State::Submitted,
                    error: None,
                    chunks: 0,
                    renditions: vec![],
                },
            )?;
            let m = Message::new(Job::Ingest {
                title: title.clone(),
            });
            queue.send(m.queue(), &m.encode())?;
            Ok(true)
        }
    }
}

fn submit(b: workers::config::Backends, args: SubmitArgs) -> Result<()> {
    let title = TitleId::parse(&args.title)?;
    let request = request_for(&title, &args.master, &args.settings)?;
    if !enqueue(
        b.store.as_ref(),
        b.queue.as_ref(),
        &title,
        &args.master,
        &request,
    )? {
        eprintln!("title '{title}' was already submitted with this master and settings");
    }
    println!("{title}");
    Ok(())
}

/// Set by SIGTERM/SIGINT: stop taking work.
static STOP: AtomicBool = AtomicBool::new(false);

extern "C" fn on_stop(_: libc::c_int) {
    STOP.store(true, Ordering::SeqCst);
}

fn worker(
    b: workers::config::Backends,
    stages: &[String],
    concurrency: Option<usize>,
    scratch: Option<PathBuf>,
) -> Result<()> {
    use workers::messages::{QUEUE_ENCODE, QUEUE_INGEST, QUEUE_PACKAGE};
    let mut queues = Vec::new();
    for s in stages {
        queues.push(match s.as_str() {
            "package" => QUEUE_PACKAGE,
            "encode" => QUEUE_ENCODE,
            "ingest" => QUEUE_INGEST,
            other => bail!("unknown stage '{other}' (ingest, encode, package)"),
        });
    }
    // Priority order whatever the order given: finish titles before starting new ones.
    queues.sort_by_key(|q| runner::QUEUES.iter().position(|x| x == q));
    queues.dedup();
    // SAFETY: the handler only stores to an atomic.
    unsafe {
        libc::signal(libc::SIGTERM, on_stop as *const () as libc::sighandler_t);
        libc::signal(libc::SIGINT, on_stop as *const () as libc::sighandler_t);
    }
    let scratch_dir = match scratch {
        Some(d) => d,
        None => std::env::temp_dir().join(format!("vodfarm-worker-{}", std::process::id())),
    };
    let n = concurrency
        .unwrap_or_else(|| {
            std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1)
        })
        .max(1);
    let settings = Arc::new(runner::Settings {
        visibility: b.config.visibility(),
        wait: Duration::from_secs(b.config.worker.wait_seconds),
        queues,
    });
    let ctx = Arc::new(Ctx {
        store: b.store.clone(),
        queue: b.queue.clone(),
        scratch: scratch_dir.clone(),
    });
    tracing::info!(concurrency = n, queues = ?settings.queues, "worker started");
    let handles: Vec<_> = (0..n)
        .map(|_| {
            let (ctx, settings) = (ctx.clone(), settings.clone());
            std::thread::spawn(move || {
                let mut idle = false;
                while !STOP.load(Ordering::SeqCst) {
                    match runner::process_one(&ctx, &settings, idle) {
                        Ok(found) => idle = !found,
                        Err(e) => {
                            tracing::error!(error = %e, "worker");
                            std::thread::sleep(Duration::from_secs(1));
                        }
                    }
                }
            })
        })
        .collect();
    for h in handles {
        let _ = h.join();
    }
    let _ = std::fs::remove_dir_all(&scratch_dir);
    tracing::info!("worker stopped: every message it held was finished");
    eprintln!("worker stopped");
    Ok(())
}

fn run(args: RunArgs) -> Result<()> {
    let title = TitleId::parse(&args.title)?;
    // Validate everything before writing anything.
    let request = request_for(&title, &args.master, &args.settings)?;
    let store_dir = args.store.clone();
    let store = Arc::new(LocalStore::open(&store_dir)?);
    let _lock = lock_store(&store_dir)?;
    let queue = Arc::new(LocalQueue::open(
        &store_dir.join("queues"),
        runner::MAX_RECEIVES,
    )?);
    for q in runner::QUEUES {
        queue.recover_all(q)?;
    }
    if !enqueue(
        store.as_ref(),
        queue.as_ref(),
        &title,
        &args.master,
        &request,
    )? {
        eprintln!("resuming title '{title}'");
    }

    let workers = args
        .workers
        .unwrap_or_else(|| {
            std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1)
        })
        .max(1);
    let ctx = Arc::new(Ctx {
        store: store.clone(),
        queue: queue.clone(),
        scratch: store_dir.join("scratch"),
    });
    let stop = Arc::new(AtomicBool::new(false));
    let mut handles = Vec::new();
    for _ in 0..workers {
        let ctx = ctx.clone();
        let stop = stop.clone();
        handles.push(std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                match runner::process_one(&ctx, &runner::Settings::default(), false) {
                    Ok(true) => {}
                    Ok(false) => std::thread::sleep(Duration::from_millis(100)),
                    Err(e) => {
                        tracing::error!(error = %e, "worker");
                        std::thread::sleep(Duration::from_millis(500));
                    }
                }
            }
        }));
    }
    let outcome = watch(&*store, &*queue, &title);
    stop.store(true, Ordering::Relaxed);
    for h in handles {
        let _ = h.join();
    }
    outcome?;
    let origin = store_dir.join("origin").join(title.as_str());
    let hls = origin.join("master.m3u8");
    let dash = origin.join("manifest.mpd");
    if let Ok(bytes) = store.get(&keys::ladder(&title)) {
        if let Ok(d) = serde_json::from_slice::<ladders::Decision>(&bytes) {
            eprint!("{}", d.table());
        }
    }
    println!("{}", hls.display());
    println!("{}", dash.display());
    eprintln!(
        "published '{title}'. Play: ffplay {}  (or serve {} over HTTP for hls.js / dash.js)",
        hls.display(),
        origin.display()
    );
    Ok(())
}

/// Show progress until the title is published or failed.
fn watch(store: &dyn ObjectStore, queue: &dyn Queue, title: &TitleId) -> Result<()> {
    let mp = MultiProgress::new();
    let style = ProgressStyle::with_template("{prefix:>8} [{bar:30}] {pos}/{len} {msg}")
        .expect("valid template")
        .progress_chars("=> ");
    let bar = |name: &str, len: u64| {
        let b = mp.add(ProgressBar::new(len));
        b.set_style(style.clone());
        b.set_prefix(name.to_string());
        b
    };
    let ingest = bar("ingest", 1);
    let encode = bar("encode", 1);
    let package = bar("package", 1);
    let mut idle_polls = 0;
    loop {
        // Nothing queued or in flight: the title's work (placement included) is over.
        let busy: usize = runner::QUEUES
            .iter()
            .map(|q| queue.depth(q).unwrap_or(0) + queue.in_flight(q).unwrap_or(0))
            .sum();
        let st = status::read(store, title);
        if let Some(s) = &st {
            match s.state {
                // Published, and the place job it sent has run.
                State::Published if busy == 0 => break,
                State::Failed => {
                    mp.clear().ok();
                    bail!("{}", s.error.clone().unwrap_or_else(|| "failed".into()));
                }
                _ => {}
            }
        }
        if let Ok(bytes) = store.get(&keys::plan(title)) {
            if let Ok(plan) = serde_json::from_slice::<Plan>(&bytes) {
                ingest.set_position(1);
                encode.set_length(plan.parts() as u64);
                encode.set_position(
                    store
                        .list(&keys::done_prefix(title))
                        .map(|v| v.len())
                        .unwrap_or(0) as u64,
                );
                let tracks = plan.rungs.len() + usize::from(plan.audio.is_some());
                package.set_length(tracks as u64);
                let done = store
                    .list(&keys::origin_prefix(title))
                    .map(|v| v.iter().filter(|k| k.ends_with("/init.mp4")).count())
                    .unwrap_or(0);
                package.set_position(done as u64);
            }
        }
        // Nothing queued or in flight and not finished: a message was dead-lettered.
        idle_polls = if busy == 0 { idle_polls + 1 } else { 0 };
        if idle_polls > 50 {
            bail!(
                "title '{title}' stalled: its work was dead-lettered after {} failed attempts",
                runner::MAX_RECEIVES
            );
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    for b in [&ingest, &encode, &package] {
        b.set_position(b.length().unwrap_or(0));
        b.finish();
    }
    Ok(())
}

fn show_status(store: &dyn ObjectStore, title: Option<&str>) -> Result<()> {
    let titles: Vec<TitleId> = match title {
        Some(t) => vec![TitleId::parse(t)?],
        None => store
            .list("control/titles/")?
            .iter()
            .filter_map(|k| {
                k.strip_prefix("control/titles/")?
                    .strip_suffix(".json")
                    .map(str::to_string)
            })
            .filter_map(|t| TitleId::parse(&t).ok())
            .collect(),
    };
    for t in titles {
        let Some(s) = status::read(store, &t) else {
            bail!("no title '{t}' in the store");
        };
        let done = store.list(&keys::done_prefix(&t))?.len();
        // Parts: every chunk, plus audio when the master has it (known once planned).
        let parts = store
            .get(&keys::plan(&t))
            .ok()
            .and_then(|b| serde_json::from_slice::<Plan>(&b).ok())
            .map_or(s.chunks, |p| p.parts());
        let ladder = store
            .get(&keys::ladder(&t))
            .ok()
            .and_then(|b| serde_json::from_slice::<ladders::Decision>(&b).ok())
            .map(|d| format!(", per-title ladder of {} rungs", d.rungs.len()))
            .unwrap_or_default();
        println!(
            "{t}: {:?}, {done} of {parts} parts encoded, {} renditions{ladder}{}",
            s.state,
            s.renditions.len(),
            s.error.map(|e| format!(", error: {e}")).unwrap_or_default()
        );
    }
    Ok(())
}
