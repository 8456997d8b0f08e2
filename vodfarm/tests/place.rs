//! `vodfarm place`: published titles planned onto a fleet, fill plans in the store
//! naming every origin file with its real size and checksum, diffs on re-plan.

use sha2::Digest;

use crate::support::*;

const FLEET: &str = r#"
popularity_per_copy = 100.0
max_copies = 2
[[site]]
id = "lon"
[[site.appliance]]
id = "lon-flash-1"
kind = "flash"
capacity_bytes = 100
fill_rate_bps = 300000000
[[site.appliance]]
id = "lon-store-1"
kind = "storage"
capacity_bytes = 1000000000
fill_rate_bps = 1200000000
"#;

#[test]
fn place_writes_fill_plans_with_real_checksums() {
    let (_, master) = fixture("h264-24fps-aac");
    let tmp = tempfile::tempdir().unwrap();
    let store = tmp.path().join("store");
    let out = run_title(&master, "hot", &store, &["--ladder", "benchmark"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let fleet = tmp.path().join("fleet.toml");
    std::fs::write(&fleet, FLEET).unwrap();
    let stats = tmp.path().join("stats.json");
    std::fs::write(&stats, r#"{"hot": 150.0}"#).unwrap();
    let place = || {
        let out = vodfarm(&[
            "place",
            "--fleet",
            fleet.to_str().unwrap(),
            "--stats",
            stats.to_str().unwrap(),
            "--store",
            store.to_str().unwrap(),
        ]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).to_string()
    };
    let first = place();
    assert!(
        first.contains("1 published title(s) planned onto 2 appliance(s)"),
        "{first}"
    );

    // The flash appliance is too small for the title: it goes to storage, whole.
    let read = |id: &str| -> placement::FillPlan {
        serde_json::from_slice(
            &std::fs::read(store.join(format!("control/fill/{id}.json"))).unwrap(),
        )
        .unwrap()
    };
    assert!(read("lon-flash-1").files.is_empty());
    let plan = read("lon-store-1");
    let origin = tree(&store.join("origin/hot"));
    assert_eq!(plan.files.len(), origin.len());
    for f in &plan.files {
        let bytes = std::fs::read(store.join(&f.key)).unwrap();
        assert_eq!(f.size, bytes.len() as u64, "{}", f.key);
        assert_eq!(
            f.sha256,
            hex::encode(sha2::Sha256::digest(&bytes)),
            "{}",
            f.key
        );
    }
    // A re-plan with nothing new changes nothing.
    let second = place();
    assert!(second.contains("+0 -0 bytes tonight"), "{second}");

    // A bad fleet file is one clear line.
    std::fs::write(
        &fleet,
        FLEET.replace("capacity_bytes = 100\n", "capacity_bytes = 0\n"),
    )
    .unwrap();
    let out = vodfarm(&[
        "place",
        "--fleet",
        fleet.to_str().unwrap(),
        "--store",
        store.to_str().unwrap(),
    ]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.starts_with("error: fleet file")
            && err.contains("lon-flash-1")
            && err.lines().count() == 1,
        "{err}"
    );
}
