//! The daily placement: the catalogue of published titles (files, sizes, checksums,
//! popularity) planned onto the fleet, one fill plan per appliance written to
//! `control/fill/<appliance>.json`, with its diff against the plan it replaces.

use std::collections::BTreeMap;

use placement::{Catalogue, CatalogueFile, CatalogueTitle, Fleet, PlanDiff};
use sha2::Digest;

use crate::status::{self, State};
use crate::store::ObjectStore;
use crate::{keys, StageError, TitleId};

/// Every published title with its files. Checksums are computed once per title and
/// kept in `control/catalogue/<title>.json`.
pub fn catalogue(
    store: &dyn ObjectStore,
    popularity: &BTreeMap<String, f64>,
) -> Result<Catalogue, StageError> {
    let mut titles = Vec::new();
    for k in store.list("control/titles/")? {
        let Some(id) = k
            .strip_prefix("control/titles/")
            .and_then(|r| r.strip_suffix(".json"))
            .and_then(|r| TitleId::parse(r).ok())
        else {
            continue;
        };
        if status::read(store, &id).map(|s| s.state) != Some(State::Published) {
            continue;
        }
        let files: Vec<CatalogueFile> = match store.get(&keys::catalogue_entry(&id)) {
            Ok(b) => serde_json::from_slice(&b)
                .map_err(|e| StageError::Permanent(format!("catalogue entry of {id}: {e}")))?,
            Err(_) => {
                let mut files = Vec::new();
                for key in store.list(&keys::origin_prefix(&id))? {
                    let bytes = store.get(&key)?;
                    files.push(CatalogueFile {
                        sha256: hex::encode(sha2::Sha256::digest(&bytes)),
                        size: bytes.len() as u64,
                        key,
                    });
                }
                store.put(
                    &keys::catalogue_entry(&id),
                    &serde_json::to_vec_pretty(&files).expect("serialisable"),
                )?;
                files
            }
        };
        titles.push(CatalogueTitle {
            popularity: popularity.get(id.as_str()).copied().unwrap_or(0.0),
            id: id.as_str().to_string(),
            files,
        });
    }
    Ok(Catalogue { titles })
}

/// One appliance's outcome of a re-plan.
pub struct Placed {
    pub appliance: String,
    pub site: String,
    pub titles: usize,
    pub bytes: u64,
    pub capacity_bytes: u64,
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
    let plans = placement::plan(fleet, catalogue);
    let mut out = Vec::new();
    for (id, p) in plans {
        let key = keys::fill_plan(&id);
        let previous: Option<placement::FillPlan> = store
            .get(&key)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok());
        let diff = placement::diff(previous.as_ref(), &p);
        store.put(&key, &serde_json::to_vec_pretty(&p).expect("serialisable"))?;
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
