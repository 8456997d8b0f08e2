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

#[test]
fn toml_errors_say_where_and_what() {
    let e = Fleet::parse("max_copies = 2\n").unwrap_err().to_string();
    assert_eq!(
        e,
        "fleet file is not valid: TOML parse error at line 1, column 1: missing field `popularity_per_copy`"
    );
    let e = Fleet::parse("popularity_per_copy = 1.0\nmax_copies = -2\nsite = []\n")
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("line 2, column 14: invalid value: integer `-2`, expected u32"),
        "{e}"
    );
}

/// Property tests standing in for a fuzz target: a fleet file is operator input, so any
/// text is a fleet or an error, never a panic; and an accepted fleet can be planned,
/// steered and scheduled.
mod no_panic {
    use placement::{plan, steer, Catalogue, Fleet, PlacementError, Tier};
    use proptest::prelude::*;

    const FLEET: &str = r#"popularity_per_copy = 100.0
max_copies = 3
hysteresis = 0.5
[new_title_popularity]
hot = 300.0
warm = 100.0
cold = 0.0
[[site]]
id = "lon"
location = "embedded"
utc_offset_minutes = 60
fill_window = [22, 6]
nearby = ["ams"]
[[site.appliance]]
id = "lon-f1"
kind = "flash"
capacity_bytes = 100000
fill_rate_bps = 300000000
url = "http://127.0.0.1:9001"
[[site.appliance]]
id = "lon-s1"
kind = "storage"
capacity_bytes = 1000000
fill_rate_bps = 1200000000
[[site]]
id = "ams"
location = "ixp"
utc_offset_minutes = -300
nearby = ["lon"]
[[site.appliance]]
id = "ams-s1"
kind = "storage"
capacity_bytes = 1000000
fill_rate_bps = 1000000000
url = "http://127.0.0.1:9002"
"#;

    /// Values on the edges of TOML's and the validator's ranges.
    const TOKENS: &[&str] = &[
        "0",
        "-1",
        "1",
        "16",
        "17",
        "23",
        "24",
        "25",
        "840",
        "841",
        "-841",
        "2147483647",
        "-2147483648",
        "4294967295",
        "4294967296",
        "9223372036854775807",
        "18446744073709551615",
        "18446744073709551616",
        "nan",
        "-nan",
        "inf",
        "-inf",
        "1e309",
        "0.0",
        "-0.0",
        "10.0",
        "10.000001",
        "1e-320",
        "\"\"",
        "\"lon\"",
        "\"ams\"",
        "\"a b\"",
        "\"é\"",
        "[]",
        "[\"lon\"]",
        "[\"nowhere\"]",
        "[0, 0]",
        "[23, 24]",
        "[24, 0]",
        "[5, 5]",
        "\"flash\"",
        "\"tape\"",
        "{}",
        "true",
        "1979-05-27",
        "[[site]]",
        "[[site.appliance]]",
        "\n",
        "=",
        "#",
        "[",
        "]",
        "\"",
        "'''",
        ",",
        ".",
    ];

    #[derive(Debug, Clone)]
    enum Edit {
        Value(usize, usize),
        Insert(usize, usize),
        Remove(usize, usize),
        DropLine(usize),
        DupLine(usize),
        Char(usize, char),
    }

    fn edit() -> impl Strategy<Value = Edit> {
        prop_oneof![
            4 => (any::<usize>(), 0..TOKENS.len()).prop_map(|(l, t)| Edit::Value(l, t)),
            2 => (any::<usize>(), 0..TOKENS.len()).prop_map(|(p, t)| Edit::Insert(p, t)),
            1 => (any::<usize>(), 1usize..20).prop_map(|(p, n)| Edit::Remove(p, n)),
            1 => any::<usize>().prop_map(Edit::DropLine),
            1 => any::<usize>().prop_map(Edit::DupLine),
            1 => (any::<usize>(), any::<char>()).prop_map(|(p, c)| Edit::Char(p, c)),
        ]
    }

    fn apply(text: &str, edits: &[Edit]) -> String {
        let mut chars: Vec<char> = text.chars().collect();
        for e in edits {
            let n = chars.len() + 1;
            match *e {
                Edit::Value(l, t) => {
                    let s: String = chars.iter().collect();
                    let mut lines: Vec<String> = s.lines().map(str::to_string).collect();
                    let keyed: Vec<usize> = (0..lines.len())
                        .filter(|&i| lines[i].contains(" = "))
                        .collect();
                    if !keyed.is_empty() {
                        let i = keyed[l % keyed.len()];
                        let key = lines[i].split(" = ").next().unwrap().to_string();
                        lines[i] = format!("{key} = {}", TOKENS[t]);
                    }
                    chars = lines.join("\n").chars().collect();
                }
                Edit::Insert(p, t) => {
                    let at = p % n;
                    chars.splice(at..at, TOKENS[t].chars());
                }
                Edit::Remove(p, len) => {
                    let at = p % n;
                    chars.drain(at..(at + len).min(chars.len()));
                }
                Edit::DropLine(l) | Edit::DupLine(l) => {
                    let s: String = chars.iter().collect();
                    let mut lines: Vec<&str> = s.lines().collect();
                    if !lines.is_empty() {
                        let i = l % lines.len();
                        if matches!(e, Edit::DropLine(_)) {
                            lines.remove(i);
                        } else {
                            lines.insert(i, lines[i]);
                        }
                    }
                    chars = lines.join("\n").chars().collect();
                }
                Edit::Char(p, c) => {
                    if !chars.is_empty() {
                        let at = p % chars.len();
                        chars[at] = c;
                    }
                }
            }
        }
        chars.into_iter().collect()
    }

    /// Everything the farm does with a fleet it accepted.
    fn use_fleet(f: &Fleet) {
        f.validate().unwrap();
        for t in [Tier::Hot, Tier::Warm, Tier::Cold] {
            assert!(f.tier_popularity(t) >= 0.0);
        }
        let c = Catalogue {
            titles: (0..4)
                .map(|i| crate::title(i, 50.0 * i as f64, 3000))
                .collect(),
        };
        let p = plan(f, &c);
        for s in &f.sites {
            for a in &s.appliances {
                let _ = s.window_bytes(a);
                assert!(p[&a.id].bytes <= a.capacity_bytes);
            }
            for minute in (0..1440).step_by(59) {
                let _ = s.in_window(minute);
            }
            steer(f, |_, _| true, "t1", &s.id).unwrap();
        }
    }

    fn check_error(e: &PlacementError) {
        if let PlacementError::Parse { detail } = e {
            // Where ("TOML parse error at line L, column C") and what, after ": ".
            assert!(detail.contains(": "), "{detail}");
        }
        assert!(!e.to_string().is_empty());
    }

    #[test]
    fn the_seed_is_valid() {
        use_fleet(&Fleet::parse(FLEET).unwrap());
        let e = Fleet::parse(&apply(FLEET, &[Edit::Value(8, 10)])).unwrap_err();
        assert!(e.to_string().contains("lon: UTC offset"), "{e}");
    }

    /// Every edge value on every key, exhaustively (about 1,400 files): the cases a
    /// random search reaches only by luck.
    #[test]
    fn every_edge_value_on_every_key() {
        let keys = FLEET.lines().filter(|l| l.contains(" = ")).count();
        for l in 0..keys {
            for t in 0..TOKENS.len() {
                let text = apply(FLEET, &[Edit::Value(l, t)]);
                match std::panic::catch_unwind(|| Fleet::parse(&text).map(|f| use_fleet(&f))) {
                    Ok(Ok(())) => {}
                    Ok(Err(e)) => check_error(&e),
                    Err(_) => panic!("panic on:\n{text}"),
                }
            }
        }
    }

    /// Found by `every_edge_value_on_every_key`.
    #[test]
    fn extreme_offsets_and_fill_rates_are_handled() {
        let e = Fleet::parse(&FLEET.replace("= 60\n", "= -2147483648\n")).unwrap_err();
        assert!(e.to_string().contains("UTC offset -2147483648 min"), "{e}");
        let f = Fleet::parse(&FLEET.replace("300000000", "9223372036854775807")).unwrap();
        // 22:00 to 06:00 at i64::MAX bit/s: more than any appliance can hold.
        assert_eq!(f.sites[0].window_bytes(&f.sites[0].appliances[0]), u64::MAX);
        // A positive but subnormal popularity_per_copy: every title wants infinitely
        // many copies, capped by max_copies and the tier.
        let f = Fleet::parse(&FLEET.replace("copy = 100.0", "copy = 1e-320")).unwrap();
        let c = Catalogue {
            titles: vec![crate::title(1, 1e300, 3000)],
        };
        let p = plan(&f, &c);
        assert_eq!(p["lon-f1"].titles, ["t1"]);
        assert_eq!(p["ams-s1"].titles, ["t1"]);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        #[test]
        fn any_text_is_a_fleet_or_an_error(text in "\\PC{0,300}") {
            match Fleet::parse(&text) {
                Ok(f) => use_fleet(&f),
                Err(e) => check_error(&e),
            }
        }

        #[test]
        fn mutated_fleets_are_fleets_or_errors(edits in prop::collection::vec(edit(), 1..5)) {
            match Fleet::parse(&apply(FLEET, &edits)) {
                Ok(f) => use_fleet(&f),
                Err(e) => check_error(&e),
            }
        }
    }
}
