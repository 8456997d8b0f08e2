//! The appliance path end to end: a fleet kept in the store, three titles published
//! with tiers hot, warm and cold (each publish re-plans), two appliances filled with
//! --now (one fill killed mid-file and resumed with a ranged read), checksums checked
//! against the origin, a third appliance outside its fill window fetching nothing,
//! steering to the hot title's appliance (and from a nearby site), hls.js playing it
//! from the appliance with every media request served there, and a re-plan whose
//! fill deletes what the plan dropped.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::servers::{vodfarm_server, Server};
use crate::support::*;
use workers::testkit::http::http_get;

/// `vodfarm oca serve` of `cache`, stopped on drop.
fn serve(cache: &Path) -> Server {
    std::fs::create_dir_all(cache).unwrap();
    vodfarm_server(&[
        "oca",
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--cache",
        cache.to_str().unwrap(),
    ])
}

fn json(path: PathBuf) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(&path).unwrap_or_else(|e| panic!("{path:?}: {e}")))
        .unwrap()
}

fn strings(v: &serde_json::Value) -> Vec<String> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap().to_string())
        .collect()
}

#[test]
fn tiers_fill_resume_steer_and_play_through_an_appliance() {
    let (_, master) = fixture("h264-24fps-aac");
    let tmp = tempfile::tempdir().unwrap();
    let store = tmp.path().join("store");
    let st = store.to_str().unwrap();
    let flash_cache = tmp.path().join("lon-flash");
    let storage_cache = tmp.path().join("lon-store");
    let flash = serve(&flash_cache);

    // The Paris site's window is closed now: it starts two hours from now (UTC+0).
    let hour = (std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        / 3600)
        % 24;
    let fleet = format!(
        r#"
popularity_per_copy = 100.0
max_copies = 2
[[site]]
id = "lon"
[[site.appliance]]
id = "lon-flash"
kind = "flash"
capacity_bytes = 1000000
fill_rate_bps = 300000000
url = "{}"
[[site.appliance]]
id = "lon-store"
kind = "storage"
capacity_bytes = 10000000
fill_rate_bps = 1200000000
url = "http://127.0.0.1:9"
[[site]]
id = "par"
nearby = ["lon"]
fill_window = [{}, {}]
[[site.appliance]]
id = "par-store"
kind = "storage"
capacity_bytes = 10000000
fill_rate_bps = 1200000000
"#,
        flash.url,
        (hour + 2) % 24,
        (hour + 3) % 24
    );
    let fleet_file = tmp.path().join("fleet.toml");
    std::fs::write(&fleet_file, fleet).unwrap();
    let out = ok(vodfarm(&[
        "place",
        "--fleet",
        fleet_file.to_str().unwrap(),
        "--store",
        st,
    ]));
    assert!(out.contains("0 published title(s)"), "{out}");

    // Publishing re-plans: no `place` call between the runs and the fills.
    for tier in ["hot", "warm", "cold"] {
        ok(run_title(
            &master,
            tier,
            &store,
            &["--ladder", "benchmark", "--tier", tier],
        ));
    }
    let plan = |id: &str| json(store.join(format!("control/fill/{id}.json")));
    assert_eq!(strings(&plan("lon-flash")["titles"]), ["hot"]);
    assert_eq!(strings(&plan("lon-store")["titles"]), ["warm", "cold"]);

    // The flash appliance fills whole.
    let fill = |id: &str, cache: &Path, extra: &[&str]| {
        let mut args = vec!["oca", "fill", "--appliance", id, "--store", st, "--cache"];
        args.push(cache.to_str().unwrap());
        args.extend_from_slice(extra);
        ok(vodfarm(&args));
        json(store.join(format!("control/appliances/{id}.json")))
    };
    let r = fill("lon-flash", &flash_cache, &["--now"]);
    assert_eq!(strings(&r["held_titles"]), ["hot"]);
    assert!(r["health"]["ok"].as_bool().unwrap(), "{r}");

    // The storage fill is killed in the middle of a file, then resumed from there.
    let mut child = Command::new(env!("CARGO_BIN_EXE_vodfarm"))
        .args([
            "oca",
            "fill",
            "--appliance",
            "lon-store",
            "--now",
            "--rate",
            "20000",
        ])
        .args(["--store", st, "--cache"])
        .arg(&storage_cache)
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while !has_partial(&storage_cache.join(".partial")) {
        assert!(Instant::now() < deadline, "no partial download appeared");
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let r = fill("lon-store", &storage_cache, &["--now"]);
    assert!(
        r["last_fill"]["resumed_files"].as_u64().unwrap() >= 1,
        "{r}"
    );
    assert!(r["last_fill"]["resumed_bytes"].as_u64().unwrap() > 0, "{r}");
    assert_eq!(strings(&r["held_titles"]), ["cold", "warm"]);
    assert_eq!(r["missing_files"], 0, "{r}");

    // Every cached file is the origin's, byte for byte, and nothing else is cached.
    for (cache, titles) in [
        (&flash_cache, vec!["hot"]),
        (&storage_cache, vec!["warm", "cold"]),
    ] {
        let mut want = std::collections::BTreeMap::new();
        for t in titles {
            for (k, bytes) in tree(&store.join("origin").join(t)) {
                want.insert(format!("origin/{t}/{k}"), bytes);
            }
        }
        // The cache's own index and partial-download folder are not content.
        let mut got = tree(cache);
        got.retain(|k, _| !k.starts_with('.'));
        assert!(
            got == want,
            "{} cached, {} at the origin, or bytes differ",
            got.len(),
            want.len()
        );
    }

    // Outside its window an appliance fetches nothing.
    let r = fill("par-store", &tmp.path().join("par-store"), &[]);
    assert_eq!(r["last_fill"]["fetched_files"], 0, "{r}");
    assert_eq!(r["last_fill"]["window"], "closed", "{r}");

    // Steering: the hot title from the London flash appliance, also for Paris (nearby).
    let steer = |title: &str, site: &str| {
        ok(vodfarm(&[
            "steer", "--title", title, "--site", site, "--store", st,
        ]))
        .trim()
        .to_string()
    };
    let hot_url = format!("{}/origin/hot/master.m3u8", flash.url);
    assert_eq!(steer("hot", "lon"), hot_url);
    assert_eq!(steer("hot", "par"), hot_url);

    // The same answer from the steering endpoint.
    let steerd = vodfarm_server(&["steer", "--listen", "127.0.0.1:0", "--store", st]);
    let (status, _, body) = http_get(
        &format!("{}?title=hot&site=par&manifest=dash", steerd.url),
        None,
    );
    drop(steerd);
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    let answer: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(
        answer["url"],
        format!("{}/origin/hot/manifest.mpd", flash.url)
    );
    assert_eq!(answer["via"], "nearby");

    // The appliance serves byte ranges with streaming content types, and nothing
    // under a dot name (its index, partial downloads).
    let (status, headers, body) = http_get(
        &format!("{}/origin/hot/manifest.mpd", flash.url),
        Some("bytes=5-14"),
    );
    assert_eq!(status, 206, "{headers}");
    assert_eq!(
        body,
        std::fs::read(flash_cache.join("origin/hot/manifest.mpd")).unwrap()[5..15]
    );
    assert!(
        headers.contains("content-type: application/dash+xml"),
        "{headers}"
    );
    assert!(headers.contains("content-range: bytes 5-14/"), "{headers}");
    let seg = tree(&flash_cache.join("origin/hot"))
        .into_keys()
        .find(|k| k.ends_with(".m4s"))
        .map(|k| format!("origin/hot/{k}"))
        .unwrap();
    let (status, headers, _) = http_get(&format!("{}/{seg}", flash.url), None);
    assert_eq!(status, 200);
    assert!(
        headers.contains("content-type: video/iso.segment"),
        "{headers}"
    );
    for hidden in ["/.index.json", "/%2eindex.json", "/origin/../.index.json"] {
        let (status, _, _) = http_get(&format!("{}{hidden}", flash.url), None);
        assert_eq!(status, 404, "{hidden}");
    }

    // hls.js plays it from the appliance; every media request is served there.
    let players = Path::new(env!("CARGO_MANIFEST_DIR")).join("../players");
    assert!(
        players.join("node_modules/playwright-core").is_dir(),
        "players/node_modules missing: run `npm ci` in players/ (scripts/test.sh does)"
    );
    let out = Command::new("node")
        .current_dir(&players)
        .args(["play.mjs", "--via", &hot_url, "360"])
        .output()
        .expect("node runs");
    let report = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && report.contains("\"ok\":true"),
        "hls.js through the appliance:\n{report}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // New statistics make the cold title the hottest: the flash fill deletes the old
    // hot title, and steering stops sending its players to an appliance without it.
    let stats = tmp.path().join("stats.json");
    std::fs::write(&stats, r#"{"cold": 1000.0, "hot": 1.0, "warm": 1.0}"#).unwrap();
    ok(vodfarm(&[
        "place",
        "--stats",
        stats.to_str().unwrap(),
        "--store",
        st,
    ]));
    let r = fill("lon-flash", &flash_cache, &["--now"]);
    assert_eq!(strings(&r["held_titles"]), ["cold"]);
    assert!(r["last_fill"]["deleted_files"].as_u64().unwrap() > 0, "{r}");
    assert!(!flash_cache.join("origin/hot").exists());
    assert!(
        steer("hot", "lon").starts_with("file://"),
        "origin expected"
    );
}

/// A partial download with bytes in it. (Not `tree`: the fill being watched renames
/// partials away while this looks, so a file may vanish between listing and reading.)
fn has_partial(dir: &Path) -> bool {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return false;
    };
    rd.flatten().any(|e| {
        let p = e.path();
        if p.is_dir() {
            has_partial(&p)
        } else {
            std::fs::metadata(&p).is_ok_and(|m| m.len() > 0)
        }
    })
}
