//! Bad masters: one clear line, non-zero exit, quickly, and nothing published or leaked.

use std::time::{Duration, Instant};

use crate::support::*;

#[test]
fn bad_inputs_are_refused_with_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let secret = dir.path().join("secret.txt");
    let marker = "VODFARM-SECRET-7f3a9c";
    std::fs::write(&secret, format!("{marker}\n")).unwrap();
    let inputs = fixtures::bad_inputs(dir.path(), &secret).unwrap();
    assert_eq!(inputs.len(), 7);
    for (what, path, words) in inputs {
        let store = dir.path().join(format!("store-{}", what.replace(' ', "-")));
        let started = Instant::now();
        let out = run_title(&path, "bad", &store, &["--workers", "1"]);
        let took = started.elapsed();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{what}: accepted");
        assert!(took < Duration::from_secs(20), "{what}: took {took:?}");
        let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
        assert_eq!(lines.len(), 1, "{what}: one line, got {stderr:?}");
        assert!(
            lines[0].starts_with("error: ") && lines[0].contains(words),
            "{what}: {:?} lacks {words:?}",
            lines[0]
        );
        assert!(
            !store.join("origin/bad").exists(),
            "{what}: something was published"
        );
        if store.exists() {
            for (name, bytes) in tree(&store) {
                assert!(
                    !String::from_utf8_lossy(&bytes).contains(marker),
                    "{what}: secret leaked into {name}"
                );
            }
        }
    }
}

#[test]
fn bad_title_and_ladder_are_refused() {
    let (_, master) = fixture("h264-24fps-aac");
    let dir = tempfile::tempdir().unwrap();
    let out = run_title(&master, "../etc", dir.path(), &[]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("title id '../etc' is not valid"));
    let out = run_title(&master, "t", dir.path(), &["--ladder", "nope"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown ladder 'nope'"));
    assert!(!dir.path().join("origin").exists());
}
