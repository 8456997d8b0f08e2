//! The farm's commands: `submit` (a master in, its ingest queued), `worker` (serve
//! the queues until SIGTERM/SIGINT), `init` (buckets and queues), `retry` (resume a
//! failed or stalled title).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use workers::messages::{QUEUE_ENCODE, QUEUE_INGEST, QUEUE_PACKAGE};
use workers::pool::Pool;
use workers::retry::Resumed;
use workers::runner;
use workers::stages::Ctx;
use workers::submit::{enqueue, request_for, Submitted, TitleSettings};
use workers::TitleId;

use crate::cli::SubmitArgs;
use crate::config::Backends;

pub fn submit(b: Backends, args: SubmitArgs) -> Result<()> {
    let title = TitleId::parse(&args.title)?;
    let settings: TitleSettings = (&args.settings).into();
    let request = request_for(&title, &args.master, &settings)?;
    // The `submitted` event goes to the sinks from here (the workers emit the rest).
    let sinks = crate::sinks::start(&b.config.events, Some(b.queue.clone()))?;
    let s = enqueue(
        b.store.as_ref(),
        b.queue.as_ref(),
        &title,
        &args.master,
        &settings.subtitle_files(),
        &request,
    )?;
    sinks.finish_and_report();
    if s == Submitted::Exists {
        eprintln!("title '{title}' was already submitted with this master and settings");
    }
    println!("{title}");
    Ok(())
}

pub fn retry(b: Backends, title: &str) -> Result<()> {
    let title = TitleId::parse(title)?;
    // On the embedded store, no process may be working on it meanwhile.
    let _lock = match b.config.embedded_dir() {
        Some(dir) => Some(workers::lock::lock_store(dir)?),
        None => None,
    };
    let sinks = crate::sinks::start(&b.config.events, Some(b.queue.clone()))?;
    let resumed = workers::retry::retry(b.store.as_ref(), b.queue.as_ref(), &title);
    sinks.finish_and_report();
    match resumed? {
        Resumed::Published => eprintln!("title '{title}' is already published"),
        Resumed::Ingest => eprintln!("title '{title}': ingest queued again"),
        Resumed::Package => eprintln!("title '{title}': every part is done; packaging queued"),
        Resumed::Parts(p) => eprintln!(
            "title '{title}': {} part(s) queued again: {}",
            p.len(),
            p.join(", ")
        ),
    }
    println!("{title}");
    Ok(())
}

pub fn worker(
    b: Backends,
    stages: &[String],
    concurrency: Option<usize>,
    scratch: Option<PathBuf>,
    metrics: Option<std::net::SocketAddr>,
) -> Result<()> {
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
    // One process at a time drives an embedded store: holding its lock, we may clean
    // the staging files that killed processes left (their messages come back at their
    // visibility deadline by themselves).
    let _lock = match b.config.embedded_dir() {
        Some(dir) => {
            let lock = workers::lock::lock_store(dir)?;
            workers::store::LocalStore::open(dir)?.clean_staging()?;
            Some(lock)
        }
        None => None,
    };
    if let Some(addr) = metrics {
        let bound = vodfarm_console::spawn(
            vodfarm_console::metrics::worker_router(b.queue.clone()),
            addr,
        )
        .with_context(|| format!("serving metrics at {addr}"))?;
        eprintln!("metrics at http://{bound}/metrics");
    }
    let sinks = crate::sinks::start(&b.config.events, Some(b.queue.clone()))?;
    crate::signals::install();
    let scratch_dir = match scratch {
        Some(d) => d,
        None => std::env::temp_dir().join(format!("vodfarm-worker-{}", std::process::id())),
    };
    let n = concurrency.unwrap_or_else(crate::cores).max(1);
    let settings = Arc::new(runner::Settings {
        visibility: b.config.visibility(),
        wait: Duration::from_secs(b.config.worker.wait_seconds),
        queues,
        disk_full_fails: false,
        reported_by_caller: None,
    });
    let ctx = Arc::new(Ctx {
        store: b.store.clone(),
        queue: b.queue.clone(),
        scratch: scratch_dir.clone(),
    });
    tracing::info!(concurrency = n, queues = ?settings.queues, "worker started");
    let pool = Pool::start(ctx, settings, n, true);
    while !crate::signals::stopped() {
        std::thread::sleep(Duration::from_millis(100));
    }
    pool.stop();
    sinks.finish_and_report();
    let _ = std::fs::remove_dir_all(&scratch_dir);
    tracing::info!("worker stopped: every message it held was finished");
    eprintln!("worker stopped");
    Ok(())
}
