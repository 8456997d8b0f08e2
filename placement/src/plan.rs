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

/// The popularity order with the titles in `held` ranked as if `keep` times as
/// popular: a merge of two lists that are each already in order, so no sort.
fn with_bonus<'a>(
    order: &[&'a CatalogueTitle],
    held: impl Fn(&str) -> bool,
    keep: f64,
) -> Vec<&'a CatalogueTitle> {
    let (kept, rest): (Vec<&CatalogueTitle>, Vec<&CatalogueTitle>) =
        order.iter().copied().partition(|t| held(&t.id));
    let mut out = Vec::with_capacity(order.len());
    let (mut i, mut j) = (0, 0);
    while i < kept.len() || j < rest.len() {
        let take_kept =
            j == rest.len() || (i < kept.len() && kept[i].popularity * keep >= rest[j].popularity);
        if take_kept {
            out.push(kept[i]);
            i += 1;
        } else {
            out.push(rest[j]);
            j += 1;
        }
    }
    out
}

fn copies(fleet: &Fleet, popularity: f64, tier_size: usize) -> usize {
    // The quotient can be huge or infinite (a tiny popularity_per_copy such as 1e-320
    // passes validation); the cast saturates, so the + 1 must too.
    let c = ((popularity.max(0.0) / fleet.popularity_per_copy).floor() as usize).saturating_add(1);
    c.min(fleet.max_copies as usize).min(tier_size).max(1)
}

/// One tier of a site during planning: appliance ids with their free bytes, and
/// which titles each held in the previous plan.
struct TierRoom<'a> {
    free: Vec<(String, u64)>,
    before: Vec<BTreeSet<&'a str>>,
    /// Every title the tier held (one lookup instead of one per appliance).
    any: std::collections::HashSet<&'a str>,
}

impl<'a> TierRoom<'a> {
    fn new(site: &Site, kind: ApplianceKind, previous: &'a BTreeMap<String, FillPlan>) -> Self {
        let apps: Vec<_> = site.appliances.iter().filter(|a| a.kind == kind).collect();
        let before: Vec<BTreeSet<&str>> = apps
            .iter()
            .map(|a| {
                previous
                    .get(&a.id)
                    .map(|p| p.titles.iter().map(String::as_str).collect())
                    .unwrap_or_default()
            })
            .collect();
        TierRoom {
            free: apps
                .iter()
                .map(|a| (a.id.clone(), a.capacity_bytes))
                .collect(),
            any: before.iter().flatten().copied().collect(),
            before,
        }
    }

    fn held(&self, title: &str) -> bool {
        self.any.contains(title)
    }

    /// Place `title` on up to `n` appliances: those that held it before first (so a
    /// re-plan does not move it), then by rendezvous score; returns the appliances
    /// used (none if no copy fits).
    fn place(&mut self, title: &CatalogueTitle, n: usize) -> Vec<String> {
        let size = title.bytes();
        // Most titles of a big catalogue fit nowhere once the tier is full.
        if self.free.iter().all(|(_, f)| *f < size) {
            return Vec::new();
        }
        let mut order: Vec<usize> = (0..self.free.len()).collect();
        order.sort_by_key(|&i| {
            std::cmp::Reverse((
                self.before[i].contains(title.id.as_str()),
                rendezvous_score(&self.free[i].0, &title.id),
                i,
            ))
        });
        let mut used = Vec::new();
        for i in order {
            if used.len() == n {
                break;
            }
            if self.free[i].1 >= size {
                self.free[i].1 -= size;
                used.push(self.free[i].0.clone());
            }
        }
        used
    }
}

fn plan_site(
    fleet: &Fleet,
    site: &Site,
    order: &[&CatalogueTitle],
    previous: &BTreeMap<String, FillPlan>,
) -> Vec<FillPlan> {
    let mut flash = TierRoom::new(site, ApplianceKind::Flash, previous);
    let mut storage = TierRoom::new(site, ApplianceKind::Storage, previous);
    let mut held: BTreeMap<String, Vec<&CatalogueTitle>> = BTreeMap::new();
    let mut on_flash = BTreeSet::new();
    // A title a tier already holds ranks as if `1 + hysteresis` times as popular, so
    // that titles near the edge of what fits do not swap in and out day by day.
    let keep = 1.0 + fleet.hysteresis;
    // Flash: the most popular titles, in that order, until one does not fit; so flash
    // never holds a title less popular than one left on storage alone (beyond the
    // hysteresis factor for titles it already held).
    if !flash.free.is_empty() {
        for t in with_bonus(order, |id| flash.held(id), keep) {
            let used = flash.place(t, copies(fleet, t.popularity, flash.free.len()));
            if used.is_empty() {
                break;
            }
            on_flash.insert(t.id.as_str());
            for a in used {
                held.entry(a).or_default().push(t);
            }
        }
    }
    // Storage: the rest, as many as fit.
    let rest: Vec<&CatalogueTitle> = with_bonus(order, |id| storage.held(id), keep)
        .into_iter()
        .filter(|t| !on_flash.contains(t.id.as_str()))
        .collect();
    for t in rest {
        let n = copies(fleet, t.popularity, storage.free.len());
        for a in storage.place(t, n) {
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
    plan_from(fleet, catalogue, &BTreeMap::new())
}

/// Fill plans made knowing the previous ones: titles stay on the appliances that
/// hold them, and storage keeps what it holds unless something clearly more popular
/// (by the fleet's hysteresis) needs the room.
pub fn plan_from(
    fleet: &Fleet,
    catalogue: &Catalogue,
    previous: &BTreeMap<String, FillPlan>,
) -> BTreeMap<String, FillPlan> {
    let order = ranked(catalogue);
    fleet
        .sites
        .iter()
        .flat_map(|s| plan_site(fleet, s, &order, previous))
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
