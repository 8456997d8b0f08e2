//! Property tests of the placement planner: capacity, catalogue membership, flash
//! holding the most popular, bounded movement when a title or an appliance is added,
//! determinism.

use std::collections::{BTreeMap, BTreeSet};

use placement::{
    diff, plan, plan_from, Appliance, ApplianceKind, Catalogue, CatalogueFile, CatalogueTitle,
    Fleet, Site,
};
use proptest::prelude::*;

fn title(i: usize, popularity: f64, size: u64) -> CatalogueTitle {
    CatalogueTitle {
        id: format!("t{i}"),
        popularity,
        files: (0..3)
            .map(|f| CatalogueFile {
                key: format!("origin/t{i}/v{f}/1.m4s"),
                size: size / 3 + f,
                sha256: format!("{i:064x}"),
            })
            .collect(),
    }
}

fn fleet(sites: usize, flash: usize, storage: usize, flash_cap: u64, storage_cap: u64) -> Fleet {
    Fleet {
        popularity_per_copy: 500.0,
        max_copies: 3,
        new_title_popularity: None,
        hysteresis: 0.5,
        sites: (0..sites)
            .map(|s| Site {
                id: format!("s{s}"),
                location: "embedded".into(),
                utc_offset_minutes: 60 * s as i32,
                fill_window: (2, 14),
                nearby: Vec::new(),
                appliances: (0..flash + storage)
                    .map(|a| Appliance {
                        id: format!("s{s}-a{a}"),
                        kind: if a < flash {
                            ApplianceKind::Flash
                        } else {
                            ApplianceKind::Storage
                        },
                        capacity_bytes: if a < flash { flash_cap } else { storage_cap },
                        fill_rate_bps: 1_000_000_000,
                        url: None,
                    })
                    .collect(),
            })
            .collect(),
    }
}

fn arb_catalogue() -> impl Strategy<Value = Catalogue> {
    prop::collection::vec((0.0f64..3000.0, 1_000u64..50_000), 1..120).prop_map(|v| Catalogue {
        titles: v
            .into_iter()
            .enumerate()
            .map(|(i, (p, s))| title(i, p, s))
            .collect(),
    })
}

/// Where each title is: title -> set of appliances.
fn placements(p: &BTreeMap<String, placement::FillPlan>) -> BTreeMap<String, BTreeSet<String>> {
    let mut m: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for fp in p.values() {
        for t in &fp.titles {
            m.entry(t.clone()).or_default().insert(fp.appliance.clone());
        }
    }
    m
}

proptest! {
    #[test]
    fn capacity_membership_tiers_and_determinism(c in arb_catalogue(), flash in 0usize..3, storage in 1usize..5, fcap in 10_000u64..200_000, scap in 50_000u64..800_000) {
        let f = fleet(2, flash, storage, fcap, scap);
        let p = plan(&f, &c);
        prop_assert_eq!(&p, &plan(&f, &c));
        let keys: BTreeSet<&str> = c.titles.iter().flat_map(|t| t.files.iter().map(|f| f.key.as_str())).collect();
        for fp in p.values() {
            prop_assert!(fp.bytes <= fp.capacity_bytes, "{} holds {} of {}", fp.appliance, fp.bytes, fp.capacity_bytes);
            for file in &fp.files {
                prop_assert!(keys.contains(file.key.as_str()));
            }
        }
        let pop: BTreeMap<&str, f64> = c.titles.iter().map(|t| (t.id.as_str(), t.popularity)).collect();
        for s in &f.sites {
            let mut on_flash = BTreeSet::new();
            let mut on_storage = BTreeSet::new();
            for a in &s.appliances {
                for t in &p[&a.id].titles {
                    if a.kind == ApplianceKind::Flash { on_flash.insert(t.as_str()); } else { on_storage.insert(t.as_str()); }
                }
            }
            let min_flash = on_flash.iter().map(|t| pop[t]).fold(f64::INFINITY, f64::min);
            for t in on_storage.difference(&on_flash) {
                prop_assert!(pop[t] <= min_flash, "{} on storage only is more popular than flash's least", t);
            }
        }
    }

    #[test]
    fn adding_a_title_or_an_appliance_moves_few_titles(c in arb_catalogue()) {
        // Room for everything: movement then comes only from hashing.
        let f = fleet(1, 2, 6, 10_000_000, 10_000_000);
        let before = placements(&plan(&f, &c));
        let mut c2 = c.clone();
        c2.titles.push(title(10_000, 2999.0, 30_000));
        let after = placements(&plan(&f, &c2));
        let moved = before.iter().filter(|(t, a)| after.get(*t) != Some(a)).count();
        prop_assert_eq!(moved, 0, "adding one title moved {} titles", moved);

        let mut f2 = f.clone();
        f2.sites[0].appliances.push(Appliance { id: "s0-new".into(), kind: ApplianceKind::Storage, capacity_bytes: 10_000_000, fill_rate_bps: 1_000_000_000, url: None });
        let after = placements(&plan(&f2, &c));
        let moved = before.iter().filter(|(t, a)| after.get(*t) != Some(a)).count();
        // Each storage copy moves with probability about 1/7 (the new appliance's
        // share); titles have at most 3 copies, so well under half move.
        prop_assert!(moved as f64 <= 0.5 * before.len() as f64 + 2.0, "adding one appliance moved {} of {}", moved, before.len());
        prop_assert!(after.values().all(|a| !a.contains("s0-new") || a.len() <= 3));
    }
}

proptest! {
    #[test]
    fn replanning_with_the_previous_plan_is_stable(c in arb_catalogue(), drift in prop::collection::vec(0.5f64..2.0, 120), flash in 1usize..3, fcap in 10_000u64..200_000, scap in 50_000u64..400_000) {
        let f = fleet(1, flash, 3, fcap, scap);
        let first = plan(&f, &c);
        // Nothing changed: the re-plan is the same plan.
        prop_assert_eq!(&plan_from(&f, &c, &first), &first);
        // Popularity drifts: capacity still holds, and a storage-only title is never
        // more than (1 + hysteresis) times as popular as the least popular on flash.
        let mut c2 = c.clone();
        for (t, d) in c2.titles.iter_mut().zip(&drift) {
            t.popularity *= d;
        }
        let next = plan_from(&f, &c2, &first);
        let pop: BTreeMap<&str, f64> = c2.titles.iter().map(|t| (t.id.as_str(), t.popularity)).collect();
        let (mut on_flash, mut on_storage) = (BTreeSet::new(), BTreeSet::new());
        for a in &f.sites[0].appliances {
            let p = &next[&a.id];
            prop_assert!(p.bytes <= p.capacity_bytes);
            for t in &p.titles {
                if a.kind == ApplianceKind::Flash { on_flash.insert(t.as_str()); } else { on_storage.insert(t.as_str()); }
            }
        }
        let min_flash = on_flash.iter().map(|t| pop[t]).fold(f64::INFINITY, f64::min);
        for t in on_storage.difference(&on_flash) {
            prop_assert!(pop[t] <= min_flash * (1.0 + f.hysteresis), "{} on storage only", t);
        }
    }
}

#[test]
fn diff_lists_what_to_fetch_and_what_to_drop() {
    let f = fleet(1, 0, 1, 1_000_000, 1_000_000);
    let c1 = Catalogue {
        titles: vec![title(1, 10.0, 3000), title(2, 5.0, 3000)],
    };
    let c2 = Catalogue {
        titles: vec![title(2, 5.0, 3000), title(3, 1.0, 3000)],
    };
    let (p1, p2) = (plan(&f, &c1), plan(&f, &c2));
    let d = diff(p1.get("s0-a0"), &p2["s0-a0"]);
    assert!(d.add.iter().all(|x| x.title == "t3") && d.add.len() == 3);
    assert!(d.remove.iter().all(|x| x.title == "t1") && d.remove.len() == 3);
    assert_eq!(d.add_bytes, title(3, 1.0, 3000).bytes());
    let none = diff(None, &p2["s0-a0"]);
    assert_eq!(none.add.len(), 6);
}

#[test]
fn hot_titles_get_more_copies_and_flash() {
    let f = fleet(1, 2, 4, 1_000_000, 1_000_000);
    let c = Catalogue {
        titles: vec![title(1, 1600.0, 3000), title(2, 10.0, 3000)],
    };
    let p = placements(&plan(&f, &c));
    assert_eq!(
        p["t1"].len(),
        2,
        "capped by the two flash appliances: {p:?}"
    );
    assert!(p["t1"].iter().all(|a| a == "s0-a0" || a == "s0-a1"));
    assert_eq!(p["t2"].len(), 1);
}
