//! `vodfarm run`: every stage in this process, on the embedded store, with progress
//! bars; ends when the title is published (and placed), or with the real cause as soon
//! as it cannot get there.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _, Result};
use indicatif::{MultiProgress, ProgressBar, ProgressStyle};
use workers::pool::Pool;
use workers::progress;
use workers::queue::{LocalQueue, Queue};
use workers::runner;
use workers::stages::Ctx;
use workers::status::State;
use workers::store::{LocalStore, ObjectStore};
use workers::submit::{enqueue, request_for, Submitted, TitleSettings};
use workers::{keys, TitleId};

use crate::cli::RunArgs;

/// How long `run` waits with nothing queued or in flight before it calls the title
/// stuck (the pool's slots poll every 100 ms).
const STUCK_AFTER: Duration = Duration::from_secs(2);
/// How long the pool may fail outside any stage (the queue, the status record)
/// without a job going through before `run` gives up with that error.
const ERRORS_FOR: Duration = Duration::from_secs(10);

pub fn run(args: RunArgs, events: &crate::sinks::EventsConfig) -> Result<()> {
    let title = TitleId::parse(&args.title)?;
    // Validate everything before writing anything.
    let settings: TitleSettings = (&args.settings).into();
    let request = request_for(&title, &args.master, &settings)?;
    // `run` is the farm, on the machine that holds the master: inspect it now, before
    // anything is written, so that a truncated master is refused with one line and
    // nothing stored; ingest reuses this inspection (see workers::qc). A title already
    // planned was inspected before.
    let qc = if args.store.join(keys::plan(&title)).exists() {
        None
    } else {
        let r = workers::qc::inspect(&args.master, &request)?;
        r.refusal()?;
        Some(r)
    };
    let store_dir = args.store.clone();
    let _lock = workers::lock::lock_store(&store_dir)?;
    let store = Arc::new(LocalStore::open(&store_dir)?);
    store.clean_staging()?;
    // Scratch folders of killed runs: nobody else can be using them while we hold the
    // lock.
    let scratch = store_dir.join("scratch");
    if scratch.is_dir() {
        std::fs::remove_dir_all(&scratch)
            .with_context(|| format!("cleaning {}", scratch.display()))?;
    }
    let queue = Arc::new(LocalQueue::open(
        &store_dir.join("queues"),
        runner::MAX_RECEIVES,
    )?);
    // We hold the lock: whatever is in flight belongs to a process that is gone.
    for q in runner::QUEUES {
        queue.recover_all(q)?;
    }
    // Before the submit, so that its event goes out too. Dropped on an early return,
    // which still delivers what was emitted (within drain_seconds).
    let sinks = crate::sinks::start(events, Some(queue.clone()))?;
    let resumed = match enqueue(
        store.as_ref(),
        queue.as_ref(),
        &title,
        &args.master,
        &settings.subtitle_files(),
        &request,
    ) {
        Ok(s) => s,
        Err(e) if args.retry && is_failed(store.as_ref(), &title) => {
            tracing::info!(error = %e, "retrying a failed title");
            workers::retry::retry(store.as_ref(), queue.as_ref(), &title)?;
            Submitted::Exists
        }
        Err(e) => return Err(e.into()),
    };
    if let Some(r) = &qc {
        if !store.exists(&keys::plan(&title))? {
            workers::qc::store_record(store.as_ref(), &title, r)?;
        }
    }
    if resumed == Submitted::Exists {
        eprintln!("resuming title '{title}'");
        // A title that stalled earlier (its work dead-lettered) has nothing queued:
        // queue what is missing, from what is done.
        if !is_published(store.as_ref(), &title) && progress::backlog(queue.as_ref())? == 0 {
            workers::retry::retry(store.as_ref(), queue.as_ref(), &title)?;
        }
    }
    let workers = args.workers.unwrap_or_else(crate::cores).max(1);
    let ctx = Arc::new(Ctx {
        store: store.clone(),
        queue: queue.clone(),
        scratch: store_dir.join("scratch"),
    });
    let settings = Arc::new(runner::Settings {
        disk_full_fails: true,
        reported_by_caller: Some(title.clone()),
        ..runner::Settings::default()
    });
    let pool = Pool::start(ctx, settings, workers, false);
    let outcome = watch(store.as_ref(), queue.as_ref(), &title, &pool);
    pool.stop();
    // The stages name the store's copy of the master; whoever runs us named the file.
    let stored = store_dir.join(&request.master_key).display().to_string();
    let outcome = outcome.map_err(|e| {
        anyhow::anyhow!(
            "{}",
            format!("{e:#}").replace(&stored, &args.master.display().to_string())
        )
    });
    if let Err(e) = outcome {
        // The `failed` event still goes out before the error ends the process.
        sinks.finish_and_report();
        return Err(e);
    }
    let origin = store_dir.join("origin").join(title.as_str());
    let hls = origin.join("master.m3u8");
    let dash = origin.join("manifest.mpd");
    if let Some(qc) = workers::qc::read(store.as_ref(), &title) {
        eprintln!("master QC: {}", qc.summary());
    }
    // A per-title decision's table holds each rung's measurement beside its
    // prediction; a fixed ladder's renditions are listed with theirs.
    match store
        .get(&keys::ladder(&title))
        .ok()
        .and_then(|b| serde_json::from_slice::<ladders::Decision>(&b).ok())
    {
        Some(d) => eprint!("{}", d.table()),
        None => {
            for m in workers::measured::read(store.as_ref(), &title).unwrap_or_default() {
                eprintln!("rendition {}", m.line());
            }
        }
    }
    if let Ok(plan) = store
        .get(&keys::plan(&title))
        .map_err(anyhow::Error::from)
        .and_then(|b| Ok(serde_json::from_slice::<workers::plan::Plan>(&b)?))
    {
        for what in plan.conversion.describe() {
            eprintln!("master {what}");
        }
        for line in plan.audio_lines() {
            eprintln!("audio {line}");
        }
    }
    println!("{}", hls.display());
    println!("{}", dash.display());
    eprintln!(
        "published '{title}'. Play: ffplay {}  (or serve {} over HTTP for hls.js / dash.js)",
        hls.display(),
        origin.display()
    );
    // The title is published and said so; a slow receiver only delays the exit.
    sinks.finish_and_report();
    Ok(())
}

fn is_failed(store: &dyn ObjectStore, t: &TitleId) -> bool {
    workers::status::read(store, t).is_some_and(|s| s.state == State::Failed)
}

fn is_published(store: &dyn ObjectStore, t: &TitleId) -> bool {
    workers::status::read(store, t).is_some_and(|s| s.state == State::Published)
}

/// Show progress until the title is published and placed; fail with the cause when it
/// failed, when its work is gone (dead-lettered), or when the pool keeps failing.
fn watch(store: &dyn ObjectStore, queue: &dyn Queue, title: &TitleId, pool: &Pool) -> Result<()> {
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
    let (mut idle_since, mut erroring_since): (Option<Instant>, Option<Instant>) = (None, None);
    let fail = |mp: &MultiProgress, msg: String| -> Result<()> {
        mp.clear().ok();
        bail!("{msg}")
    };
    loop {
        let report = pool.report();
        if let Some(e) = &report.last_error {
            // A full disk will not clear by itself while we wait.
            if e.disk_full {
                return fail(
                    &mp,
                    format!(
                        "disk full: {}; free space, then run again with --retry",
                        e.message
                    ),
                );
            }
        }
        if report.errors_in_a_row > 0 {
            let since = erroring_since.get_or_insert_with(Instant::now);
            if since.elapsed() >= ERRORS_FOR {
                let why = report.last_error.map(|e| e.message).unwrap_or_default();
                return fail(&mp, format!("title '{title}' cannot go on: {why}"));
            }
        } else {
            erroring_since = None;
        }
        let busy = progress::backlog(queue)?;
        let Some(p) = progress::read(store, title)? else {
            return fail(&mp, format!("title '{title}' has no status record"));
        };
        match p.status.state {
            // Published, and the place job it sent has run.
            State::Published if busy == 0 => break,
            State::Failed => {
                return fail(
                    &mp,
                    p.status.error.clone().unwrap_or_else(|| "failed".into()),
                )
            }
            _ => {}
        }
        if p.planned {
            ingest.set_position(1);
        }
        encode.set_length(p.parts.max(1) as u64);
        encode.set_position(p.parts_done as u64);
        package.set_length(p.tracks.max(1) as u64);
        package.set_position(p.tracks_packaged as u64);
        // Nothing queued or in flight and not finished: the work is gone.
        if busy == 0 {
            let since = idle_since.get_or_insert_with(Instant::now);
            if since.elapsed() >= STUCK_AFTER {
                let dead = progress::dead_lettered(queue)?;
                let last = report
                    .last_error
                    .map(|e| format!("; last error: {}", e.message))
                    .unwrap_or_default();
                return fail(
                    &mp,
                    format!(
                        "title '{title}' stalled: nothing left queued ({dead} message(s) dead-lettered){last}; `vodfarm retry {title}` resumes it"
                    ),
                );
            }
        } else {
            idle_since = None;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    for b in [&ingest, &encode, &package] {
        b.set_position(b.length().unwrap_or(0));
        b.finish();
    }
    Ok(())
}
