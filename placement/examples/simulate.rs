//! Placement simulation (scripts/bench-placement.sh): a week of daily demand on a
//! fleet of 100 sites, each with 2 flash and 4 storage appliances, for a catalogue of
//! 10,000 titles with Zipf popularity that drifts day by day, per-site tastes, and new
//! releases (planned first with the hot tier's stand-in popularity). Every night the
//! real planner re-plans from the day's viewing statistics; the next day is served
//! from what the plan put at each site. Printed per night: offload (share of bytes
//! served from an appliance at the client's site), the same for a reactive LRU cache
//! of the same capacity per site fed the same requests, the fill each appliance needs
//! against what its window allows, churn (bytes fetched overnight / bytes held, over
//! the fleet, and for the appliance with the most), and planning time.
//!
//! The random numbers come from a seeded SplitMix64 written here (not the rand crate)
//! so that the figures stay the same across dependency upgrades.

use std::collections::{BTreeMap, HashMap};
use std::time::Instant;

use placement::{
    diff, plan_from, Appliance, ApplianceKind, Catalogue, CatalogueFile, CatalogueTitle, FillPlan,
    Fleet, Site, Tier, TierPopularity,
};

struct Args {
    titles: usize,
    sites: usize,
    days: usize,
    views: usize,
    releases: usize,
    zipf: f64,
    drift: f64,
    taste: f64,
    seed: u64,
}

fn args() -> Args {
    let mut a = Args {
        titles: 10_000,
        sites: 100,
        days: 7,
        views: 20_000,
        releases: 4,
        zipf: 0.9,
        drift: 0.15,
        taste: 0.3,
        seed: 1,
    };
    let v: Vec<String> = std::env::args().skip(1).collect();
    for pair in v.chunks(2) {
        let [k, val] = pair else {
            panic!("usage: simulate [--titles N] [--sites N] [--days N] [--views N] [--releases N] [--zipf S] [--drift S] [--taste S] [--seed N]")
        };
        let f: f64 = val
            .parse()
            .unwrap_or_else(|_| panic!("{k} {val}: not a number"));
        match k.as_str() {
            "--titles" => a.titles = f as usize,
            "--sites" => a.sites = f as usize,
            "--days" => a.days = f as usize,
            "--views" => a.views = f as usize,
            "--releases" => a.releases = f as usize,
            "--zipf" => a.zipf = f,
            "--drift" => a.drift = f,
            "--taste" => a.taste = f,
            "--seed" => a.seed = f as u64,
            _ => panic!("unknown option {k}"),
        }
    }
    a
}

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        mix(self.0)
    }
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
    fn normal(&mut self) -> f64 {
        let (u, v) = (self.unit().max(1e-12), self.unit());
        (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
    }
}

fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// A site's taste for a title: a fixed log-normal factor, from a hash (no table).
fn taste(site: usize, title: usize, sigma: f64) -> f64 {
    let mut r = Rng(mix((site as u64) << 32 ^ title as u64));
    (sigma * r.normal()).exp()
}

const GB: u64 = 1_000_000_000;
const TB: u64 = 1000 * GB;
/// Renditions per title (one file each) and the share of views each gets.
const FILE_SHARE: [f64; 4] = [0.1, 0.2, 0.3, 0.4];
/// Share of a file a view streams.
const WATCHED: f64 = 0.6;

struct Title {
    files: [u64; 4],
    base: f64,
    drift: f64,
    /// Day of release (< 0: in the catalogue from the start).
    born: i64,
}

impl Title {
    fn size(&self) -> u64 {
        self.files.iter().sum()
    }
    fn weight(&self, day: i64) -> f64 {
        if day < self.born {
            return 0.0;
        }
        // A release starts hot and settles over a couple of weeks.
        let age = (day - self.born) as f64;
        self.base * self.drift * (1.0 + 9.0 * 0.8f64.powf(age))
    }
}

fn fleet(sites: usize) -> Fleet {
    Fleet {
        popularity_per_copy: 1.0, // set from the demand below
        max_copies: 3,
        new_title_popularity: None,
        hysteresis: 0.5,
        sites: (0..sites)
            .map(|s| Site {
                id: format!("s{s:03}"),
                location: "embedded".into(),
                // Spread over time zones; every window is 02:00-14:00 local.
                utc_offset_minutes: ((s % 24) as i32 - 11) * 60,
                fill_window: (2, 14),
                nearby: Vec::new(),
                appliances: (0..6)
                    .map(|a| Appliance {
                        id: format!("s{s:03}-{}{}", if a < 2 { "f" } else { "s" }, a),
                        kind: if a < 2 {
                            ApplianceKind::Flash
                        } else {
                            ApplianceKind::Storage
                        },
                        capacity_bytes: if a < 2 { TB / 2 } else { 3 * TB },
                        fill_rate_bps: if a < 2 { 300_000_000 } else { 1_200_000_000 },
                        url: None,
                    })
                    .collect(),
            })
            .collect(),
    }
}

/// A per-site LRU cache of whole files.
struct Lru {
    capacity: u64,
    used: u64,
    tick: u64,
    at: HashMap<u64, (u64, u64)>,
    order: BTreeMap<u64, u64>,
}

impl Lru {
    fn new(capacity: u64) -> Self {
        Self {
            capacity,
            used: 0,
            tick: 0,
            at: HashMap::new(),
            order: BTreeMap::new(),
        }
    }
    /// True on a hit; a miss fetches the file and evicts the least recently used.
    fn request(&mut self, key: u64, size: u64) -> bool {
        self.tick += 1;
        if let Some((t, s)) = self.at.get(&key).copied() {
            self.order.remove(&t);
            self.order.insert(self.tick, key);
            self.at.insert(key, (self.tick, s));
            return true;
        }
        if size <= self.capacity {
            self.at.insert(key, (self.tick, size));
            self.order.insert(self.tick, key);
            self.used += size;
            while self.used > self.capacity {
                let (_, k) = self
                    .order
                    .pop_first()
                    .expect("over capacity means non-empty");
                let (_, s) = self.at.remove(&k).expect("indexed");
                self.used -= s;
            }
        }
        false
    }
}

fn main() {
    let a = args();
    let mut rng = Rng(a.seed);
    // The catalogue: Zipf weights over a random order; sizes 1-8 GB a title.
    let total = a.titles + a.releases * a.days;
    let mut ranks: Vec<usize> = (0..a.titles).collect();
    for i in (1..ranks.len()).rev() {
        ranks.swap(i, (rng.next() % (i as u64 + 1)) as usize);
    }
    let mut titles: Vec<Title> = Vec::with_capacity(total);
    for i in 0..total {
        let size = GB + (rng.unit() * 7.0 * GB as f64) as u64;
        // Rendition j's size grows with its bitrate: 1, 2, 3, 4 parts of 10.
        let files = [1u64, 2, 3, 4].map(|k| size * k / 10);
        let (base, born) = if let Some(rank) = ranks.get(i) {
            (1.0 / ((rank + 1) as f64).powf(a.zipf), -1_000)
        } else {
            // A release enters about as popular as the catalogue's 10th-50th title.
            let r = 10.0 + rng.unit() * 40.0;
            (
                1.0 / r.powf(a.zipf) / 10.0,
                ((i - a.titles) / a.releases) as i64,
            )
        };
        titles.push(Title {
            files,
            base,
            drift: 1.0,
            born,
        });
    }

    let mut fleet = fleet(a.sites);
    let site_capacity: u64 = fleet.sites[0]
        .appliances
        .iter()
        .map(|x| x.capacity_bytes)
        .sum();
    let catalogue_bytes: u64 = titles[..a.titles].iter().map(|t| t.size()).sum();

    // Viewing statistics (popularity = bytes streamed a day / size), smoothed over
    // days; the planner starts from the expected demand of the day before day 0.
    let expected = |titles: &[Title], day: i64| -> Vec<f64> {
        let w: Vec<f64> = titles.iter().map(|t| t.weight(day)).collect();
        let sum: f64 = w.iter().sum();
        w.iter()
            .map(|x| x / sum * (a.views * a.sites) as f64 * WATCHED * 0.3)
            .collect()
    };
    let mut popularity = expected(&titles, -1);
    {
        let mut sorted = popularity.clone();
        sorted.sort_by(|x, y| y.total_cmp(x));
        // Copies: the top 20 titles get at least two, on the same fixed scale after.
        fleet.popularity_per_copy = sorted[19];
        fleet.new_title_popularity = Some(TierPopularity {
            hot: sorted[9],
            warm: sorted[199],
            cold: 0.0,
        });
    }
    let catalogue_for = |titles: &[Title], popularity: &[f64], day: i64| Catalogue {
        titles: titles
            .iter()
            .enumerate()
            .filter(|(_, t)| t.born <= day)
            .map(|(i, t)| CatalogueTitle {
                id: format!("t{i:05}"),
                // Not seen yet: planned with the hot tier's stand-in.
                popularity: if t.born == day {
                    fleet.tier_popularity(Tier::Hot)
                } else {
                    popularity[i]
                },
                files: t
                    .files
                    .iter()
                    .enumerate()
                    .map(|(j, s)| CatalogueFile {
                        key: format!("origin/t{i:05}/v{j}.mp4"),
                        size: *s,
                        sha256: String::new(),
                    })
                    .collect(),
            })
            .collect(),
    };

    println!(
        "catalogue {} titles ({:.1} TB) + {} releases; {} sites x (2 flash {} TB + 4 storage {} TB) = {:.1} TB a site ({:.0}% of the catalogue); {} views a site a day; Zipf {}, drift {}/day, taste {}",
        a.titles,
        catalogue_bytes as f64 / TB as f64,
        a.releases * a.days,
        a.sites,
        0.5,
        3,
        site_capacity as f64 / TB as f64,
        100.0 * site_capacity as f64 / catalogue_bytes as f64,
        a.views,
        a.zipf,
        a.drift,
        a.taste
    );

    let t0 = Instant::now();
    let mut plans: BTreeMap<String, FillPlan> = plan_from(
        &fleet,
        &catalogue_for(&titles, &popularity, 0),
        &BTreeMap::new(),
    );
    let first_plan_s = t0.elapsed().as_secs_f64();
    let window_ok = |plans: &BTreeMap<String, FillPlan>,
                     prev: Option<&BTreeMap<String, FillPlan>>| {
        let mut worst: f64 = 0.0;
        let (mut added, mut held, mut max) = (0u64, 0u64, 0.0f64);
        for (id, p) in plans {
            let d = diff(prev.and_then(|m| m.get(id)), p);
            let (site, app) = fleet.appliance(id).expect("planned");
            worst = worst.max(d.add_bytes as f64 / site.window_bytes(app) as f64);
            added += d.add_bytes;
            held += p.bytes;
            if p.bytes > 0 {
                max = max.max(d.add_bytes as f64 / p.bytes as f64);
            }
        }
        (worst, added as f64 / held.max(1) as f64, max)
    };
    let (w0, _, _) = window_ok(&plans, None);
    println!(
        "night -1 (first fill): planned in {first_plan_s:.2} s; largest fill {:.0}% of its window",
        100.0 * w0
    );

    // Warm the LRU caches with a day of demand before measuring.
    let mut lru: Vec<Lru> = (0..a.sites).map(|_| Lru::new(site_capacity)).collect();
    let mut totals = (0.0, 0.0, 0.0);
    let mut worst_window: f64 = w0;
    let mut worst_churn: f64 = 0.0;
    let mut worst_one: f64 = 0.0;
    let mut worst_plan_s = first_plan_s;
    println!(
        "{:>4} {:>9} {:>9} {:>12} {:>11} {:>10} {:>9}",
        "day", "offload", "LRU", "fill/window", "churn", "worst one", "plan s"
    );
    for day in -1..a.days as i64 {
        // The day's drift.
        for t in titles.iter_mut() {
            t.drift *= (a.drift * rng.normal() - a.drift * a.drift / 2.0).exp();
        }
        // Which titles each site holds today (the plan filled last night).
        let mut held: Vec<std::collections::HashSet<usize>> = vec![Default::default(); a.sites];
        for p in plans.values() {
            let s: usize = p.site[1..].parse().expect("site id");
            for t in &p.titles {
                held[s].insert(t[1..].parse().expect("title id"));
            }
        }
        let mut streamed = vec![0.0f64; titles.len()];
        let (mut bytes, mut hit, mut lru_hit) = (0.0, 0.0, 0.0);
        for s in 0..a.sites {
            let mut cum = Vec::with_capacity(titles.len());
            let mut acc = 0.0;
            for (i, t) in titles.iter().enumerate() {
                acc += t.weight(day) * taste(s, i, a.taste);
                cum.push(acc);
            }
            for _ in 0..a.views {
                let x = rng.unit() * acc;
                let i = cum.partition_point(|c| *c < x).min(titles.len() - 1);
                let u = rng.unit();
                let mut j = 0;
                let mut c = FILE_SHARE[0];
                while u > c && j < 3 {
                    j += 1;
                    c += FILE_SHARE[j];
                }
                let size = titles[i].files[j];
                let b = size as f64 * WATCHED;
                streamed[i] += b;
                bytes += b;
                if held[s].contains(&i) {
                    hit += b;
                }
                if lru[s].request((i as u64) << 3 | j as u64, size) {
                    lru_hit += b;
                }
            }
        }
        // Tonight's statistics and plan.
        for (i, t) in titles.iter().enumerate() {
            let seen = streamed[i] / t.size() as f64;
            popularity[i] = if t.born > day - 1 {
                seen
            } else {
                0.5 * popularity[i] + 0.5 * seen
            };
        }
        let t0 = Instant::now();
        let next = plan_from(
            &fleet,
            &catalogue_for(&titles, &popularity, day + 1),
            &plans,
        );
        let plan_s = t0.elapsed().as_secs_f64();
        let (w, churn_mean, churn_max) = window_ok(&next, Some(&plans));
        plans = next;
        if day < 0 {
            continue; // warm-up day: not counted
        }
        worst_window = worst_window.max(w);
        worst_churn = worst_churn.max(churn_mean);
        worst_one = worst_one.max(churn_max);
        worst_plan_s = worst_plan_s.max(plan_s);
        totals.0 += bytes;
        totals.1 += hit;
        totals.2 += lru_hit;
        println!(
            "{:>4} {:>8.1}% {:>8.1}% {:>11.0}% {:>10.2}% {:>9.2}% {:>9.2}",
            day,
            100.0 * hit / bytes,
            100.0 * lru_hit / bytes,
            100.0 * w,
            100.0 * churn_mean,
            100.0 * churn_max,
            plan_s
        );
    }
    let offload = 100.0 * totals.1 / totals.0;
    let lru = 100.0 * totals.2 / totals.0;
    println!(
        "week: offload {offload:.1}% vs LRU {lru:.1}% ({:+.1} points); largest night's fill {:.0}% of its window; churn at most {:.2}% a day (fleet), {:.2}% (worst appliance); planning at most {:.2} s",
        offload - lru,
        100.0 * worst_window,
        100.0 * worst_churn,
        100.0 * worst_one,
        worst_plan_s
    );
    let met = |b: bool| if b { "met" } else { "NOT met" };
    println!(
        "targets: offload >= LRU + 10 points {}; fills fit the windows {}; churn < 5%/day {}; planning < 2 s {}",
        met(offload >= lru + 10.0),
        met(worst_window <= 1.0),
        met(worst_churn < 0.05),
        met(worst_plan_s < 2.0)
    );
}
