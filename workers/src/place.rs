//! Placement: the catalogue of published titles (files, sizes, checksums, popularity)
//! planned onto the fleet, one fill plan per appliance written to
//! `control/fill/<appliance>.json`, with its diff against the plan it replaces. Runs on
//! every publish (the place job) and as the daily re-plan (`vodfarm place`), with the
//! fleet and the viewing statistics kept in `control/`.

use std::collections::{BTreeMap, BTreeSet};

use placement::{Catalogue, CatalogueFile, CatalogueTitle, Fleet, PlanDiff};
use sha2::Digest;

use crate::plan::Request;
use crate::status::{self, State};
use crate::store::{ObjectStore, StoreError};
use crate::{keys, StageError, TitleId};

/// Title id -> popularity (bytes streamed a day / title size).
pub type Stats = BTreeMap<String, f64>;

/// Ids of every published title, sorted.
pub fn published(store: &dyn ObjectStore) -> Result<Vec<TitleId>, StageError> {
    let mut out = Vec::new();
    for k in store.list("control/titles/")? {
        let Some(id) = k
            .strip_prefix("control/titles/")
            .and_then(|r| r.strip_suffix(".json"))
            .and_then(|r| TitleId::parse(r).ok())
        else {
            continue;
        };
        if status::read(store, &id).map(|s| s.state) == Some(State::Published) {
            out.push(id);
        }
    }
    Ok(out)
}

/// Every published title with its files. Checksums are computed once per title and
/// kept in `control/catalogue/<title>.json`. A title's popularity is its viewing
/// statistic, else its tier hint's stand-in from the fleet, else 0.
pub fn catalogue(
    store: &dyn ObjectStore,
    fleet: &Fleet,
    stats: &Stats,
) -> Result<Catalogue, StageError> {
    let mut titles = Vec::new();
    for id in published(store)? {
        let files = match store.get(&keys::catalogue_entry(&id)) {
            Ok(b) => serde_json::from_slice(&b)
                .map_err(|e| StageError::Permanent(format!("catalogue entry of {id}: {e}")))?,
            Err(_) => checksum_title(store, &id)?,
        };
        let popularity = match stats.get(id.as_str()) {
            Some(p) => *p,
            None => tier(store, &id)?.map_or(0.0, |t| fleet.tier_popularity(t)),
        };
        titles.push(CatalogueTitle {
            popularity,
            id: id.as_str().to_string(),
            files,
        });
    }
    Ok(Catalogue { titles })
}

fn checksum_title(store: &dyn ObjectStore, id: &TitleId) -> Result<Vec<CatalogueFile>, StageError> {
    let mut files = Vec::new();
    for key in store.list(&keys::origin_prefix(id))? {
        // Streamed: memory does not grow with the file.
        let mut hash = sha2::Sha256::new();
        let size = std::io::copy(&mut store.read_from(&key, 0)?, &mut hash)
            .map_err(|e| StageError::Transient(format!("reading {key}: {e}")))?;
        files.push(CatalogueFile {
            sha256: hex::encode(hash.finalize()),
            size,
            key,
        });
    }
    store.put(
        &keys::catalogue_entry(id),
        &serde_json::to_vec_pretty(&files).expect("serialisable"),
    )?;
    Ok(files)
}

fn tier(store: &dyn ObjectStore, id: &TitleId) -> Result<Option<placement::Tier>, StageError> {
    match store.get(&keys::request(id)) {
        Ok(b) => Ok(serde_json::from_slice::<Request>(&b)
            .map_err(|e| StageError::Permanent(format!("request of {id}: {e}")))?
            .tier),
        Err(StoreError::NotFound { .. }) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// One appliance's outcome of a re-plan.
pub struct Placed {
    /// The appliance's id.
    pub appliance: String,
    /// The id of the site it is at.
    pub site: String,
    /// Titles in its new fill plan.
    pub titles: usize,
    /// Bytes its new fill plan holds.
    pub bytes: u64,
    /// Bytes the appliance can hold.
    pub capacity_bytes: u64,
    /// What the new fill plan adds and removes against the one it replaces.
    pub diff: PlanDiff,
    /// Bytes the appliance can fetch in one fill window.
    pub window_bytes: u64,
}

/// Plan the fleet and write every appliance's fill plan.
pub fn replan(
    store: &dyn ObjectStore,
    fleet: &Fleet,
    catalogue: &Catalogue,
) -> Result<Vec<Placed>, StageError> {
    // The plans in force: the new plan keeps titles where they are where it can.
    let mut previous = BTreeMap::new();
    for a in fleet.sites.iter().flat_map(|s| &s.appliances) {
        match store.get(&keys::fill_plan(&a.id)) {
            Ok(b) => {
                if let Ok(p) = serde_json::from_slice::<placement::FillPlan>(&b) {
                    previous.insert(a.id.clone(), p);
                }
            }
            Err(StoreError::NotFound { .. }) => {}
            Err(e) => return Err(e.into()),
        }
    }
    let plans = placement::plan_from(fleet, catalogue, &previous);
    let mut out = Vec::new();
    for (id, p) in plans {
        let key = keys::fill_plan(&id);
        let previous = previous.get(&id);
        let diff = placement::diff(previous, &p);
        if previous != Some(&p) {
            store.put(&key, &serde_json::to_vec_pretty(&p).expect("serialisable"))?;
        }
        let (site, appliance) = fleet.appliance(&id).expect("planned from this fleet");
        out.push(Placed {
            appliance: id,
            site: site.id.clone(),
            titles: p.titles.len(),
            bytes: p.bytes,
            capacity_bytes: p.capacity_bytes,
            window_bytes: site.window_bytes(appliance),
            diff,
        });
    }
    Ok(out)
}

/// The fleet kept in the store, if one was configured.
pub fn stored_fleet(store: &dyn ObjectStore) -> Result<Option<Fleet>, StageError> {
    match store.get(&keys::fleet()) {
        Ok(b) => {
            let text = String::from_utf8_lossy(&b);
            Fleet::parse(&text)
                .map(Some)
                .map_err(|e| StageError::Permanent(format!("{}: {e}", keys::fleet())))
        }
        Err(StoreError::NotFound { .. }) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// The viewing statistics kept in the store; empty when there are none yet.
pub fn stored_stats(store: &dyn ObjectStore) -> Result<Stats, StageError> {
    match store.get(&keys::stats()) {
        Ok(b) => serde_json::from_slice(&b)
            .map_err(|e| StageError::Permanent(format!("{}: {e}", keys::stats()))),
        Err(StoreError::NotFound { .. }) => Ok(Stats::new()),
        Err(e) => Err(e.into()),
    }
}

/// Re-plan with the fleet and statistics kept in the store; None when no fleet is
/// configured. Two titles may publish at once on different workers, and a re-plan
/// that read the catalogue before the other title published could write its plans
/// last. So after writing, the set of published titles is read again and, if it
/// grew, the plan is made again: the last writer has always checked that it planned
/// every title published before it wrote.
pub fn replan_stored(
    store: &dyn ObjectStore,
) -> Result<Option<(Catalogue, Vec<Placed>)>, StageError> {
    let Some(fleet) = stored_fleet(store)? else {
        return Ok(None);
    };
    let stats = stored_stats(store)?;
    for _ in 0..16 {
        let catalogue = catalogue(store, &fleet, &stats)?;
        let placed = replan(store, &fleet, &catalogue)?;
        let planned: BTreeSet<&str> = catalogue.titles.iter().map(|t| t.id.as_str()).collect();
        let now = published(store)?;
        if now.iter().all(|t| planned.contains(t.as_str())) {
            return Ok(Some((catalogue, placed)));
        }
    }
    Err(StageError::Transient(
        "titles kept publishing during 16 re-plans; will retry".into(),
    ))
}
