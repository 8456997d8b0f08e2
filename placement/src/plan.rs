//! The planner: per site, titles ranked by popularity fill the site; the hottest go to
//! flash until a title no longer fits there (so flash never holds a title less
//! popular than one left on storage alone), the rest to storage; each title gets
//! copies in proportion to its popularity, each copy on the appliance of its tier with
//! the highest rendezvous score that has room. A title's files stay together, so an
//! appliance that holds a title can serve all of it.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::fleet::{ApplianceKind, Fleet, Site};
use crate::rendezvous_score;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CatalogueFile {
    pub key: String,
    pub size: u64,
    pub sha256: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CatalogueTitle {
    pub id: String,
    /// Bytes streamed a day / title size (or a tier's stand-in for a new title).
    pub popularity: f64,
    pub files: Vec<CatalogueFile>,
}

impl CatalogueTitle {
    pub fn bytes(&self) -> u64 {
        self.files.iter().map(|f| f.size).sum()
    }
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Catalogue {
    pub titles: Vec<CatalogueTitle>,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct PlannedFile {
    pub key: String,
    pub size: u64,
    pub sha256: String,
    pub title: String,
}

/// What one appliance should hold, in fill order (most popular first).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FillPlan {
    pub appliance: String,
    pub site: String,
    pub titles: Vec<String>,
    pub files: Vec<PlannedFile>,
    pub bytes: u64,
    pub capacity_bytes: u64,
}

/// Popularity order: most popular first, then by id (deterministic).
fn ranked(c: &Catalogue) -> Vec<&CatalogueTitle> {
    let mut t: Vec<&CatalogueTitle> = c.titles.iter().collect();
    t.sort_by(|a, b| b.popularity.total_cmp(&a.popularity).then(a.id.cmp(&b.id)));
    t
}

fn copies(fleet: &Fleet, popularity: f64, tier_size: usize) -> usize {
    let c = 1 + (popularity.max(0.0) / fleet.popularity_per_copy).floor() as usize;
    c.min(fleet.max_copies as usize).min(tier_size).max(1)
}

/// Place `title` on up to `n` appliances of `tier` (ids with free bytes), by rendezvous
/// score; returns the appliances used (none if no copy fits).
fn place(title: &CatalogueTitle, n: usize, tier: &mut [(String, u64)]) -> Vec<String> {
    let size = title.bytes();
    let mut order: Vec<usize> = (0..tier.len()).collect();
    order.sort_by_key(|&i| std::cmp::Reverse((rendezvous_score(&tier[i].0, &title.id), i)));
    let mut used = Vec::new();
    for i in order {
        if used.len() == n {
            break;
        }
        if tier[i].1 >= size {
            tier[i].1 -= size;
            used.push(tier[i].0.clone());
        }
    }
    used
}

fn plan_site(fleet: &Fleet, site: &Site, titles: &[&CatalogueTitle]) -> Vec<FillPlan> {
    let tier = |k: ApplianceKind| -> Vec<(String, u64)> {
        site.appliances
            .iter()
            .filter(|a| a.kind == k)
            .map(|a| (a.id.clone(), a.capacity_bytes))
            .collect()
    };
    let mut flash = tier(ApplianceKind::Flash);
    let mut storage = tier(ApplianceKind::Storage);
    let mut held: BTreeMap<String, Vec<&CatalogueTitle>> = BTreeMap::new();
    let mut flash_open = !flash.is_empty();
    for t in titles {
        if flash_open {
            let used = place(t, copies(fleet, t.popularity, flash.len()), &mut flash);
            if used.is_empty() {
                // Nothing less popular may go to flash from here on.
                flash_open = false;
            } else {
                for a in used {
                    held.entry(a).or_default().push(t);
                }
                continue;
            }
        }
        for a in place(t, copies(fleet, t.popularity, storage.len()), &mut storage) {
            held.entry(a).or_default().push(t);
        }
    }
    site.appliances
        .iter()
        .map(|a| {
            let ts = held.remove(&a.id).unwrap_or_default();
            let files: Vec<PlannedFile> = ts
                .iter()
                .flat_map(|t| {
                    t.files.iter().map(|f| PlannedFile {
                        key: f.key.clone(),
                        size: f.size,
                        sha256: f.sha256.clone(),
                        title: t.id.clone(),
                    })
                })
                .collect();
            FillPlan {
                appliance: a.id.clone(),
                site: site.id.clone(),
                titles: ts.iter().map(|t| t.id.clone()).collect(),
                bytes: files.iter().map(|f| f.size).sum(),
                files,
                capacity_bytes: a.capacity_bytes,
            }
        })
        .collect()
}

/// Fill plans for every appliance of the fleet, by appliance id.
pub fn plan(fleet: &Fleet, catalogue: &Catalogue) -> BTreeMap<String, FillPlan> {
    let titles = ranked(catalogue);
    fleet
        .sites
        .iter()
        .flat_map(|s| plan_site(fleet, s, &titles))
        .map(|p| (p.appliance.clone(), p))
        .collect()
}

/// What changes for one appliance between two plans.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct PlanDiff {
    pub add: Vec<PlannedFile>,
    pub remove: Vec<PlannedFile>,
    pub add_bytes: u64,
    pub remove_bytes: u64,
}

pub fn diff(previous: Option<&FillPlan>, next: &FillPlan) -> PlanDiff {
    let old: BTreeSet<&PlannedFile> = previous
        .map(|p| p.files.iter().collect())
        .unwrap_or_default();
    let new: BTreeSet<&PlannedFile> = next.files.iter().collect();
    let add: Vec<PlannedFile> = next
        .files
        .iter()
        .filter(|f| !old.contains(f))
        .cloned()
        .collect();
    let remove: Vec<PlannedFile> = old.difference(&new).map(|f| (*f).clone()).collect();
    PlanDiff {
        add_bytes: add.iter().map(|f| f.size).sum(),
        remove_bytes: remove.iter().map(|f| f.size).sum(),
        add,
        remove,
    }
}
