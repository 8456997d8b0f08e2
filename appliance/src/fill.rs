//! The fill agent: bring an appliance's cache in line with its fill plan. Deletes
//! first (what the plan dropped frees room for what it adds), then downloads in the
//! plan's order (most popular first), only while the site's fill window is open unless
//! told `now`, at most `rate` bytes/s, resuming a partial download with a ranged read,
//! and moving a file into place only when its SHA-256 matches the plan. Ends by
//! reporting what the appliance holds and its health to `control/appliances/<id>.json`.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use placement::{FillPlan, Fleet, PlannedFile};
use serde::{Deserialize, Serialize};

use crate::cache::{io_at, Cache, CacheError};
use workers::store::{ObjectStore, StoreError};
use workers::{keys, StageError};

pub struct FillOptions {
    /// Fill now, whatever the time (first fill of a new appliance, tests).
    pub now: bool,
    /// Bytes/s; the appliance's fill rate from the fleet file unless set.
    pub rate: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LastFill {
    pub started_unix: u64,
    pub seconds: f64,
    /// "open", "closed" (nothing fetched) or "ignored" (--now).
    pub window: String,
    pub rate_bytes_per_s: u64,
    pub fetched_files: usize,
    pub fetched_bytes: u64,
    /// Downloads that went on from a partial file, and the bytes not fetched again.
    pub resumed_files: usize,
    pub resumed_bytes: u64,
    pub deleted_files: usize,
    pub deleted_bytes: u64,
    /// Why the fill stopped before the plan was complete, if it did.
    pub stopped: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Health {
    pub ok: bool,
    pub errors: Vec<String>,
    pub cache_free_bytes: Option<u64>,
}

/// What an appliance holds and how it is, for steering and for operators.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ApplianceReport {
    pub appliance: String,
    pub site: String,
    pub reported_unix: u64,
    pub plan_files: usize,
    pub plan_bytes: u64,
    pub held_files: usize,
    pub held_bytes: u64,
    /// Titles whose every planned file is held and verified: the ones it can serve.
    pub held_titles: Vec<String>,
    pub missing_files: usize,
    pub missing_bytes: u64,
    pub last_fill: LastFill,
    pub health: Health,
}

impl From<CacheError> for StageError {
    fn from(e: CacheError) -> Self {
        match e {
            CacheError::BadKey(_) => StageError::Permanent(e.to_string()),
            CacheError::Io { .. } => StageError::Transient(e.to_string()),
        }
    }
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

fn utc_minute_of_day() -> u32 {
    ((unix_now() / 60) % 1440) as u32
}

/// Sleeps so that bytes moved since `start` never run ahead of `rate` bytes/s.
struct Throttle {
    rate: u64,
    start: Instant,
    bytes: u64,
}

impl Throttle {
    fn take(&mut self, n: usize) {
        self.bytes += n as u64;
        let due = Duration::from_secs_f64(self.bytes as f64 / self.rate as f64);
        if let Some(wait) = due.checked_sub(self.start.elapsed()) {
            std::thread::sleep(wait);
        }
    }
}

/// One appliance's fill pass. Errors that concern one file (a checksum that does not
/// match twice, a missing origin object) are reported in the health record and the
/// pass goes on; a missing plan or a cache that cannot be written ends it.
pub fn fill(
    store: &dyn ObjectStore,
    fleet: &Fleet,
    appliance: &str,
    cache: &mut Cache,
    opts: &FillOptions,
) -> Result<ApplianceReport, StageError> {
    let (site, app) = fleet.appliance(appliance).ok_or_else(|| {
        StageError::Permanent(format!("appliance '{appliance}' is not in the fleet"))
    })?;
    let plan: FillPlan = match store.get(&keys::fill_plan(appliance)) {
        Ok(b) => serde_json::from_slice(&b).map_err(|e| {
            StageError::Permanent(format!("fill plan of {appliance} is not valid: {e}"))
        })?,
        Err(StoreError::NotFound { .. }) => {
            return Err(StageError::Permanent(format!(
                "no fill plan for appliance '{appliance}': run `vodfarm place` first"
            )))
        }
        Err(e) => return Err(e.into()),
    };
    let started = Instant::now();
    let rate = opts.rate.unwrap_or(app.fill_rate_bps / 8).max(1);
    let window_open = || opts.now || site.in_window(utc_minute_of_day());
    let mut last = LastFill {
        started_unix: unix_now(),
        seconds: 0.0,
        window: if opts.now {
            "ignored".into()
        } else if window_open() {
            "open".into()
        } else {
            "closed".into()
        },
        rate_bytes_per_s: rate,
        fetched_files: 0,
        fetched_bytes: 0,
        resumed_files: 0,
        resumed_bytes: 0,
        deleted_files: 0,
        deleted_bytes: 0,
        stopped: None,
    };
    let mut errors = Vec::new();
    let planned: BTreeMap<&str, &PlannedFile> =
        plan.files.iter().map(|f| (f.key.as_str(), f)).collect();

    if window_open() {
        // Deletes first: what the plan dropped makes room for what it adds.
        for key in cache.files()? {
            let keep = match planned.get(key.as_str()) {
                Some(f) => cache.holds(&key, f.size, &f.sha256)?,
                None => false,
            };
            if !keep {
                let size = std::fs::metadata(cache.path(&key)?).map_or(0, |m| m.len());
                cache.remove(&key)?;
                last.deleted_files += 1;
                last.deleted_bytes += size;
            }
        }
        for key in cache.partials()? {
            if !planned.contains_key(key.as_str()) {
                let p = cache.partial(&key)?;
                std::fs::remove_file(&p).map_err(io_at(&p))?;
            }
        }
        cache.save()?;

        let mut throttle = Throttle {
            rate,
            start: Instant::now(),
            bytes: 0,
        };
        let mut since_save = Instant::now();
        for f in &plan.files {
            if cache.holds(&f.key, f.size, &f.sha256)? {
                continue;
            }
            if !window_open() {
                last.stopped = Some("the fill window closed".into());
                break;
            }
            match fetch(store, cache, f, &mut throttle, &mut last) {
                Ok(()) => {}
                Err(FetchError::File(e)) => {
                    tracing::warn!(appliance, key = %f.key, error = %e, "fill");
                    errors.push(e);
                }
                Err(FetchError::Cache(e)) => return Err(e.into()),
            }
            // The index is saved now and then, not per file: files that are in place
            // but not indexed after a crash are re-hashed, never fetched again.
            if since_save.elapsed() > Duration::from_secs(2) {
                cache.save()?;
                since_save = Instant::now();
            }
        }
        cache.save()?;
    } else {
        last.stopped = Some(format!(
            "outside the fill window ({:02}:00-{:02}:00 local at site {})",
            site.fill_window.0, site.fill_window.1, site.id
        ));
    }
    last.seconds = started.elapsed().as_secs_f64();

    // What is held now, by title.
    let mut held_files = 0;
    let mut held_bytes = 0;
    let mut complete: BTreeMap<&str, bool> = BTreeMap::new();
    for f in &plan.files {
        let ok = cache.holds(&f.key, f.size, &f.sha256)?;
        if ok {
            held_files += 1;
            held_bytes += f.size;
        }
        *complete.entry(f.title.as_str()).or_insert(true) &= ok;
    }
    let held_titles: Vec<String> = complete
        .into_iter()
        .filter(|(_, ok)| *ok)
        .map(|(t, _)| t.to_string())
        .collect();
    let report = ApplianceReport {
        appliance: appliance.to_string(),
        site: site.id.clone(),
        reported_unix: unix_now(),
        plan_files: plan.files.len(),
        plan_bytes: plan.bytes,
        held_files,
        held_bytes,
        held_titles,
        missing_files: plan.files.len() - held_files,
        missing_bytes: plan.bytes - held_bytes,
        last_fill: last,
        health: Health {
            ok: errors.is_empty(),
            errors,
            cache_free_bytes: cache.free_bytes(),
        },
    };
    store.put(
        &keys::appliance_report(appliance),
        &serde_json::to_vec_pretty(&report).expect("serialisable"),
    )?;
    Ok(report)
}

enum FetchError {
    /// This file could not be had (reported; the fill goes on).
    File(String),
    /// The cache itself failed (the fill stops).
    Cache(CacheError),
}

impl From<CacheError> for FetchError {
    fn from(e: CacheError) -> Self {
        FetchError::Cache(e)
    }
}

/// Download one file into its partial, resuming from what is there; verify; move it
/// into place. A checksum mismatch discards the partial and tries once more from 0.
fn fetch(
    store: &dyn ObjectStore,
    cache: &mut Cache,
    f: &PlannedFile,
    throttle: &mut Throttle,
    last: &mut LastFill,
) -> Result<(), FetchError> {
    let partial = cache.partial(&f.key)?;
    if let Some(dir) = partial.parent() {
        std::fs::create_dir_all(dir).map_err(|e| FetchError::Cache(io_at(dir)(e)))?;
    }
    for attempt in 0..2 {
        let have = std::fs::metadata(&partial).map_or(0, |m| m.len());
        // Longer than the plan says: not a prefix of this object; start again.
        let offset = if have > f.size { 0 } else { have };
        let mut out = std::fs::OpenOptions::new()
            .create(true)
            .write(true)
            .truncate(false)
            .open(&partial)
            .map_err(|e| FetchError::Cache(io_at(&partial)(e)))?;
        out.set_len(offset)
            .map_err(|e| FetchError::Cache(io_at(&partial)(e)))?;
        if offset > 0 {
            last.resumed_files += 1;
            last.resumed_bytes += offset;
        }
        let mut got = offset;
        if offset < f.size {
            let mut src = store
                .read_from(&f.key, offset)
                .map_err(|e| FetchError::File(format!("{}: {e}", f.key)))?;
            use std::io::Seek;
            out.seek(std::io::SeekFrom::Start(offset))
                .map_err(|e| FetchError::Cache(io_at(&partial)(e)))?;
            let mut buf = vec![0u8; 1 << 16];
            loop {
                // Never read past the planned size: an origin object that grew is
                // caught by the checksum, not by filling the disk.
                let want = buf.len().min((f.size - got) as usize + 1);
                let n = src
                    .read(&mut buf[..want])
                    .map_err(|e| FetchError::File(format!("{}: reading: {e}", f.key)))?;
                if n == 0 {
                    break;
                }
                out.write_all(&buf[..n])
                    .map_err(|e| FetchError::Cache(io_at(&partial)(e)))?;
                got += n as u64;
                last.fetched_bytes += n as u64;
                throttle.take(n);
                if got > f.size {
                    break;
                }
            }
        }
        out.sync_data()
            .map_err(|e| FetchError::Cache(io_at(&partial)(e)))?;
        drop(out);
        let actual = super::cache::sha256_file(&partial)
            .map_err(|e| FetchError::Cache(io_at(&partial)(e)))?;
        if got == f.size && actual == f.sha256 {
            let dst = cache.path(&f.key)?;
            if let Some(dir) = dst.parent() {
                std::fs::create_dir_all(dir).map_err(|e| FetchError::Cache(io_at(dir)(e)))?;
            }
            std::fs::rename(&partial, &dst).map_err(|e| FetchError::Cache(io_at(&dst)(e)))?;
            cache.insert(&f.key, f.size, &f.sha256);
            last.fetched_files += 1;
            return Ok(());
        }
        std::fs::remove_file(&partial).map_err(|e| FetchError::Cache(io_at(&partial)(e)))?;
        if attempt == 1 {
            return Err(FetchError::File(format!(
                "{}: {got} bytes with SHA-256 {actual}, the plan says {} bytes with {}",
                f.key, f.size, f.sha256
            )));
        }
    }
    unreachable!("two attempts return")
}
