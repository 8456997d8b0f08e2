//! The command line: every command and its arguments (clap). What each command does
//! is in `commands`.

use std::path::PathBuf;

use clap::{Parser, Subcommand};
use workers::submit::PER_TITLE;

#[derive(Parser)]
#[command(
    name = "vodfarm",
    version,
    about = "Video-on-demand ingest, transcoding and packaging farm"
)]
pub struct Cli {
    /// Log as JSON lines instead of human-readable text.
    #[arg(long, global = true)]
    pub log_json: bool,
    /// Backends (S3/SQS or embedded) from this TOML file; also VODFARM_CONFIG. Without
    /// one, commands use the embedded store in --store.
    #[arg(long, global = true)]
    pub config: Option<PathBuf>,
    #[command(subcommand)]
    pub cmd: Cmd,
}

#[derive(Subcommand)]
pub enum Cmd {
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
        /// Serve Prometheus metrics at http://ADDR/metrics (this worker's jobs, encode
        /// speed, store bytes, and the queues).
        #[arg(long, value_name = "ADDR")]
        metrics: Option<std::net::SocketAddr>,
        #[arg(long, default_value = "./vodfarm-data")]
        store: PathBuf,
    },
    /// The ops console: web pages for content ops (titles, farm, placement), the JSON
    /// API (/api/...), actions (retry, requeue, discard) and Prometheus /metrics.
    Serve {
        /// Address to listen at (port 0: any free port; the URL is printed).
        #[arg(long, default_value = "127.0.0.1:8080")]
        listen: std::net::SocketAddr,
        /// Bearer token that actions need (also VODFARM_TOKEN); without one the console
        /// is read-only.
        #[arg(long)]
        token: Option<String>,
        #[arg(long, default_value = "./vodfarm-data")]
        store: PathBuf,
    },
    /// Resume a failed or stalled title from what is done: queue the parts that are not
    /// encoded yet, or its packaging. `run --retry` does the same and waits for it.
    Retry {
        title: String,
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
        /// Print the machine-readable report (schema in the README): an object for one
        /// title, an array for all.
        #[arg(long)]
        json: bool,
        #[arg(long, default_value = "./vodfarm-data")]
        store: PathBuf,
    },
    /// Print the job events as JSON lines (schema in the README): every title's, or one
    /// title's, each title's in order; --follow keeps printing new ones until SIGINT.
    Events {
        /// Only this title's events.
        #[arg(long)]
        title: Option<String>,
        /// Keep polling the store and print each new event as it is stored, until
        /// SIGINT or SIGTERM.
        #[arg(long)]
        follow: bool,
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
pub enum ManifestArg {
    Hls,
    Dash,
}

#[derive(Subcommand)]
pub enum OcaCmd {
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
pub enum LadderCmd {
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
pub struct RunArgs {
    /// The master file (mp4/mov, mkv/webm, mxf, mpeg-ts or y4m).
    pub master: PathBuf,
    /// Title id: 1-64 characters from a-z, A-Z, 0-9, '-', '_'.
    #[arg(long)]
    pub title: String,
    /// Embedded object store and queue directory.
    #[arg(long, default_value = "./vodfarm-data")]
    pub store: PathBuf,
    /// Worker threads (each encodes one chunk, every rung in parallel). Default: cores.
    #[arg(long)]
    pub workers: Option<usize>,
    /// Resume a title that failed (after fixing the cause, say freeing disk space)
    /// from what is done, instead of refusing it.
    #[arg(long)]
    pub retry: bool,
    #[command(flatten)]
    pub settings: TitleArgs,
}

#[derive(clap::Args)]
pub struct SubmitArgs {
    /// The master file (probed here first: a bad master is refused before uploading).
    pub master: PathBuf,
    /// Title id: 1-64 characters from a-z, A-Z, 0-9, '-', '_'.
    #[arg(long)]
    pub title: String,
    #[arg(long, default_value = "./vodfarm-data")]
    pub store: PathBuf,
    #[command(flatten)]
    pub settings: TitleArgs,
}

/// What a title is made with: the same for `run` and `submit`.
#[derive(clap::Args)]
pub struct TitleArgs {
    /// Ladder: per-title (chosen from the title's own rate-quality hull), a fixed
    /// built-in (apple-avc, benchmark), or a TOML file (fixed ladder or per-title policy).
    #[arg(long, default_value = PER_TITLE)]
    pub ladder: String,
    /// Target segment duration in seconds (made a whole number of frames).
    #[arg(long, default_value_t = 4.0)]
    pub segment_seconds: f64,
    /// Segments per chunk (the unit of parallel encoding).
    #[arg(long, default_value_t = 2)]
    pub chunk_segments: u32,
    /// Popularity hint for placement until viewing statistics exist: hot, warm, cold.
    #[arg(long, value_parser = parse_tier)]
    pub tier: Option<placement::Tier>,
    /// Publish what decodes of a truncated master (header declares more than decodes,
    /// or the file ends inside a frame) instead of refusing it; status and
    /// work/<ID>/inspection.json say so.
    #[arg(long)]
    pub accept_truncated: bool,
    /// Language of a master audio track, overriding its tag: TRACK=CODE, tracks
    /// numbered from 1 in stream order, CODE ISO 639-1 or 639-2 (fr, fra, pt-BR).
    /// Repeat for several tracks. Untagged tracks are `und`.
    #[arg(long = "audio-lang", value_name = "TRACK=CODE")]
    pub audio_lang: Vec<String>,
    /// Integrated loudness (EBU R128 / ITU-R BS.1770) every audio rendition is
    /// normalised to, in LKFS (-40 to -5).
    #[arg(long, default_value_t = workers::plan::DEFAULT_LOUDNESS_LKFS, allow_negative_numbers = true, value_name = "LKFS")]
    pub loudness: f64,
    /// True-peak ceiling in dBTP (-9 to 0): a limiter is added where the loudness
    /// gain would take peaks past it.
    #[arg(long, default_value_t = workers::plan::DEFAULT_TRUE_PEAK_DBTP, allow_negative_numbers = true, value_name = "DBTP")]
    pub true_peak: f64,
    /// A subtitle sidecar, LANG=FILE; repeat for more tracks. SRT (.srt), WebVTT (.vtt)
    /// or TTML (.ttml, .dfxp, .xml), UTF-8. LANG is a BCP 47 tag (en, fr, pt-BR);
    /// LANG:forced=FILE marks forced subtitles (FORCED=YES in HLS, Role forced-subtitle
    /// in DASH). Checked before anything is uploaded: bad timing, overlapping cues or
    /// text that is not UTF-8 are refused with the line number.
    #[arg(long = "subtitles", value_name = "LANG=FILE", value_parser = workers::subtitles::SubtitleInput::parse)]
    pub subtitles: Vec<workers::subtitles::SubtitleInput>,
    /// Do not give shot changes found at ingest key frames of their own: only the
    /// segment grid's IDRs and x264's own scene cuts, which it places rendition by
    /// rendition. For comparing shot-aware encoding with plain per-title.
    #[arg(long)]
    pub no_shot_idrs: bool,
}

pub fn parse_tier(s: &str) -> Result<placement::Tier, String> {
    serde_json::from_value(serde_json::Value::String(s.into()))
        .map_err(|_| format!("'{s}' is not a tier (hot, warm, cold)"))
}

impl From<&TitleArgs> for workers::submit::TitleSettings {
    fn from(a: &TitleArgs) -> Self {
        Self {
            ladder: a.ladder.clone(),
            segment_seconds: a.segment_seconds,
            chunk_segments: a.chunk_segments,
            tier: a.tier,
            accept_truncated: a.accept_truncated,
            audio_lang: a.audio_lang.clone(),
            loudness_lkfs: a.loudness,
            true_peak_dbtp: a.true_peak,
            subtitles: a.subtitles.clone(),
            shot_idrs: !a.no_shot_idrs,
        }
    }
}
