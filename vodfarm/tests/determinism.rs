//! Determinism: the same master and settings give the same bytes however often, and in
//! whichever process, a stage runs. The same chunks are encoded in a second process, in a
//! process resumed after a SIGKILL, and (the last chunk of one rendition alone) in a third
//! process that has run other jobs first; every encoded chunk and every origin object must
//! be byte-identical to a clean run.
//!
//! A farm worker's heap holds whatever its earlier jobs left there, and a decoder or encoder
//! that reads memory it never wrote turns that into different bytes (libx264's AVX-512
//! macroblock-tree code did, for rungs not a multiple of 128 pixels wide). Each later
//! process therefore runs with glibc's MALLOC_PERTURB_, which fills every allocation with a
//! byte pattern: a read of unwritten memory then changes the output every time, instead of
//! only when the heap happens to hold other data. (Other C libraries ignore the variable.)
//! The values 1 to 3 fill with 0xfe to 0xfc (negative as 16-bit numbers), which the x264
//! read reacted to every time; a pattern close to zero looks like fresh memory and may not.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::support::*;

/// One chunk per segment: 96, 96 and 24 frames, so the last chunk is a short one.
const SETTINGS: [&str; 6] = [
    "--ladder",
    "benchmark",
    "--chunk-segments",
    "1",
    "--workers",
    "1",
];

/// The 854x480 rung of the benchmark ladder: not a multiple of 128 pixels wide.
const ODD_RUNG: &str = "v480p-1200k";

/// A 9 s 854x480 master: the benchmark ladder gives it a 640x360 and an 854x480 rung.
fn master(dir: &Path) -> PathBuf {
    let m = dir.join("m854.mp4");
    ok(vodfarm(&[
        "sample",
        m.to_str().unwrap(),
        "--seconds",
        "9",
        "--width",
        "854",
        "--height",
        "480",
    ]));
    m
}

fn run_cmd(master: &Path, store: &Path, heap: &str) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_vodfarm"));
    c.args(["run", master.to_str().unwrap(), "--title", "t", "--store"])
        .arg(store)
        .args(SETTINGS)
        .env("VODFARM_LOG", "error")
        .env("MALLOC_PERTURB_", heap);
    c
}

fn run_with_heap(master: &Path, store: &Path, heap: &str) -> Output {
    run_cmd(master, store, heap).output().unwrap()
}

/// Every file under `dir` but a killed put's leftover temporary file (`.tmp-*`).
fn objects(dir: &Path) -> std::collections::BTreeMap<String, Vec<u8>> {
    let mut t = tree(dir);
    t.retain(|k, _| {
        !k.rsplit('/')
            .next()
            .unwrap_or_default()
            .starts_with(".tmp-")
    });
    t
}

/// Every encoded chunk and every origin object of `b` is byte-identical to `a`'s.
fn assert_same(a: &Path, b: &Path, what: &str) {
    for sub in ["work/t/enc", "origin/t"] {
        let (want, got) = (objects(&a.join(sub)), objects(&b.join(sub)));
        assert_eq!(
            want.keys().collect::<Vec<_>>(),
            got.keys().collect::<Vec<_>>(),
            "{what}: the same files under {sub}"
        );
        for (k, v) in &want {
            assert!(
                v == &got[k],
                "{what}: {sub}/{k} differs from the clean run ({} bytes, clean {})",
                got[k].len(),
                v.len()
            );
        }
    }
}

#[test]
fn chunks_encoded_again_in_other_processes_are_byte_identical() {
    let tmp = tempfile::tempdir().unwrap();
    let master = master(tmp.path());
    let clean = tmp.path().join("clean");
    ok(run_title(&master, "t", &clean, &SETTINGS));
    let chunks = std::fs::read_dir(clean.join("work/t/chunks"))
        .unwrap()
        .count();
    assert_eq!(chunks, 3, "216 frames in chunks of 96");
    let last = (chunks - 1).to_string();
    assert!(clean
        .join("work/t/enc")
        .join(ODD_RUNG)
        .join(&last)
        .is_file());

    // 1. Every chunk again, in another process (with another heap).
    let again = tmp.path().join("again");
    ok(run_with_heap(&master, &again, "1"));
    assert_same(&clean, &again, "a second process");

    // 2. SIGKILLed as soon as the first chunk is done, then resumed: the other chunks
    //    are encoded by the resumed process.
    let killed = tmp.path().join("killed");
    let mut child = run_cmd(&master, &killed, "2")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(120);
    while !killed.join("work/t/done/c0").exists() {
        assert!(Instant::now() < deadline, "no chunk finished");
        std::thread::sleep(Duration::from_millis(5));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(
        !killed.join("origin/t/master.m3u8").exists(),
        "killed before publishing"
    );
    ok(run_with_heap(&master, &killed, "3"));
    assert_same(&clean, &killed, "a resume after SIGKILL");

    // 3. What a worker killed between two renditions' puts leaves: the last chunk stored
    //    for one rendition and not for the other, no done marker. A process that has
    //    ingested and handled the other jobs first encodes that one rendition again; the
    //    title is packaged again from it.
    let store = &again;
    std::fs::remove_file(store.join("work/t/enc").join(ODD_RUNG).join(&last)).unwrap();
    std::fs::remove_file(store.join("work/t/done").join(format!("c{last}"))).unwrap();
    std::fs::remove_dir_all(store.join("work/t/claims")).unwrap();
    std::fs::remove_dir_all(store.join("origin/t")).unwrap();
    // Without its request the title is submitted anew (same master, same settings): the
    // ingest finds the plan and re-sends every part's job.
    std::fs::remove_file(store.join("ingest/t/request.json")).unwrap();
    ok(run_with_heap(&master, store, "2"));
    assert_same(
        &clean,
        store,
        "the last chunk of one rendition encoded again",
    );
}
