//! Placement and the appliance side: `place` (plan the fleet's fill), `oca fill` and
//! `oca serve` (an appliance), `steer` (which appliance a player should use).

use std::path::Path;
use std::sync::Arc;

use anyhow::{bail, Context as _, Result};
use workers::keys;
use workers::store::ObjectStore;

use crate::cli::ManifestArg;

pub fn place(fleet: Option<&Path>, stats: Option<&Path>, store: &dyn ObjectStore) -> Result<()> {
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

pub fn oca_fill(
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
    let mut cache = appliance::Cache::open(cache_dir)?;
    let r = appliance::fill(
        store,
        &fleet,
        appliance,
        &mut cache,
        &appliance::FillOptions { now, rate },
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

pub fn steer(
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
        let app = appliance::steer::router(store, origin_url);
        return appliance::http::run(app, addr, |a| {
            println!("steering at http://{a}/steer");
        })
        .with_context(|| format!("serving at {addr}"));
    }
    let manifest = match manifest {
        ManifestArg::Hls => appliance::steer::Manifest::Hls,
        ManifestArg::Dash => appliance::steer::Manifest::Dash,
    };
    let (title, site) = (title.unwrap_or_default(), site.unwrap_or_default());
    let a = appliance::steer::steer(store.as_ref(), &title, &site, manifest, &origin_url)?;
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

/// `oca serve`: the cache over HTTP until the process is stopped.
pub fn oca_serve(cache: &Path, listen: std::net::SocketAddr) -> Result<()> {
    if !cache.is_dir() {
        bail!("cache directory {} does not exist", cache.display());
    }
    let app = appliance::serve::router(cache);
    appliance::http::run(app, listen, |addr| {
        println!("serving {} at http://{addr}", cache.display());
    })
    .with_context(|| format!("serving at {listen}"))
}
