//! Crash safety: SIGKILL in the middle of encoding, run again, finish without redoing
//! finished chunks, byte-identical to an uninterrupted run.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::*;

#[test]
fn killed_run_resumes_to_identical_output() {
    let (_, master) = fixture("h264-24fps-aac");
    let tmp = tempfile::tempdir().unwrap();
    let clean = tmp.path().join("clean");
    let args = [
        "--workers",
        "1",
        "--chunk-segments",
        "1",
        "--ladder",
        "benchmark",
    ];
    let out = run_title(&master, "t", &clean, &args);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let store = tmp.path().join("crashy");
    let mut child = Command::new(env!("CARGO_BIN_EXE_vodfarm"))
        .args([
            "run",
            master.to_str().unwrap(),
            "--title",
            "t",
            "--store",
            store.to_str().unwrap(),
        ])
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Kill as soon as the first chunk is done and before the last.
    let done_dir = store.join("work/t/done");
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let n = std::fs::read_dir(&done_dir).map(|d| d.count()).unwrap_or(0);
        if n >= 1 {
            break;
        }
        assert!(Instant::now() < deadline, "no chunk finished");
        std::thread::sleep(Duration::from_millis(5));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(
        !store.join("origin/t/master.m3u8").exists(),
        "killed before publishing"
    );
    let done_before: Vec<String> = std::fs::read_dir(&done_dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    let chunks_before: Vec<_> = done_before
        .iter()
        .filter(|n| n.starts_with('c'))
        .cloned()
        .collect();
    assert!(!chunks_before.is_empty());
    // Modification times of the finished chunks' encodes: must not change.
    let enc = |c: &str| {
        store
            .join("work/t/enc/v360p-600k")
            .join(c.trim_start_matches('c'))
    };
    let before: Vec<_> = chunks_before
        .iter()
        .map(|c| std::fs::metadata(enc(c)).unwrap().modified().unwrap())
        .collect();

    let out = run_title(&master, "t", &store, &args);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let after: Vec<_> = chunks_before
        .iter()
        .map(|c| std::fs::metadata(enc(c)).unwrap().modified().unwrap())
        .collect();
    assert_eq!(before, after, "finished chunks were encoded again");
    let a = tree(&clean.join("origin/t"));
    let b = tree(&store.join("origin/t"));
    assert_eq!(a.keys().collect::<Vec<_>>(), b.keys().collect::<Vec<_>>());
    for (k, v) in &a {
        assert!(v == &b[k], "{k} differs after a crash and resume");
    }
}
