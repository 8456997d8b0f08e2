//! Job events: what `vodfarm run` records in `control/events/`, what `vodfarm events`
//! prints (at once and with --follow), and delivery to webhooks (retried when the
//! receiver is down, signed, never holding up a stage).

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use crate::support::{fixture, ok, run_title, vodfarm};

/// A small title: 9 s of 640x360 at 24 fps, one rung (the benchmark ladder fitted to
/// it), three chunks and the audio: four parts.
const SETTINGS: &[&str] = &["--ladder", "benchmark", "--chunk-segments", "1"];

/// A child process killed when the test ends, however it ends.
struct Child(std::process::Child);

impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The stored events of `title`, in key order, as (key, text, JSON).
fn stored(store: &Path, title: &str) -> Vec<(String, String, serde_json::Value)> {
    let dir = store.join("control/events").join(title);
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    names
        .into_iter()
        .map(|n| {
            let text = std::fs::read_to_string(dir.join(&n)).unwrap();
            let json = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{n}: {e}"));
            (n, text, json)
        })
        .collect()
}

fn kinds(events: &[serde_json::Value]) -> Vec<String> {
    events
        .iter()
        .map(|e| e["kind"].as_str().unwrap().to_string())
        .collect()
}

/// The history of a title, checked against the schema: numbered 1..=n without gaps,
/// ids `<title>:<seq>`, schema 1, RFC 3339 times; submitted, inspected, ladder chosen,
/// progress rising to 100%, packaged, published, in that order.
fn check_history(title: &str, events: &[serde_json::Value]) {
    for (i, e) in events.iter().enumerate() {
        let seq = i as u64 + 1;
        assert_eq!(e["schema"], 1, "{e}");
        assert_eq!(e["seq"], seq, "{e}");
        assert_eq!(e["id"], format!("{title}:{seq}"), "{e}");
        assert_eq!(e["title"], title, "{e}");
        let time = e["time"].as_str().unwrap();
        assert!(
            time.len() == 24 && time.ends_with('Z') && &time[10..11] == "T",
            "{time}"
        );
    }
    let kinds = kinds(events);
    let progress: Vec<&serde_json::Value> =
        events.iter().filter(|e| e["kind"] == "progress").collect();
    let mut expected = vec!["submitted", "inspected", "ladder_chosen"];
    expected.extend(std::iter::repeat_n("progress", progress.len()));
    expected.extend(["packaged", "published"]);
    assert_eq!(kinds, expected);
    let percents: Vec<u64> = progress
        .iter()
        .map(|e| e["details"]["percent"].as_u64().unwrap())
        .collect();
    assert!(percents.windows(2).all(|w| w[0] < w[1]), "{percents:?}");
    assert_eq!(percents.last(), Some(&100), "{percents:?}");
    let d = |k: &str| &events[kinds.iter().position(|x| x == k).unwrap()]["details"];
    assert_eq!(d("submitted")["ladder"], "benchmark");
    assert_eq!(d("submitted")["per_title"], false);
    assert_eq!(d("inspected")["verdict"], "passed");
    let rungs = d("ladder_chosen")["rungs"].as_array().unwrap();
    assert_eq!(
        rungs.len(),
        1,
        "the 640x360 master takes the 360p rung only"
    );
    assert_eq!(rungs[0]["width"], 640);
    assert_eq!(d("progress")["parts"], 4);
    assert_eq!(
        d("packaged")["renditions"].as_array().unwrap().len(),
        2,
        "one video and one audio rendition"
    );
    assert_eq!(d("published")["hls"], format!("origin/{title}/master.m3u8"));
}

/// `vodfarm run` records the title's history; `vodfarm events --title` prints exactly
/// the stored lines; a follower started before the run prints the same lines as they
/// are stored and exits 0 on SIGINT.
#[test]
fn run_records_the_history_and_events_prints_it() {
    let (_, master) = fixture("h264-24fps-aac");
    let tmp = tempfile::tempdir().unwrap();
    let store = tmp.path().join("store");
    std::fs::create_dir_all(&store).unwrap();
    let mut follower = Child(
        Command::new(env!("CARGO_BIN_EXE_vodfarm"))
            .args(["events", "--follow", "--store", store.to_str().unwrap()])
            .stdout(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let (tx, lines) = mpsc::channel();
    let out = follower.0.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        for l in BufReader::new(out).lines() {
            if tx.send(l.unwrap()).is_err() {
                break;
            }
        }
    });
    ok(run_title(&master, "ev1", &store, SETTINGS));

    let events = stored(&store, "ev1");
    let json: Vec<serde_json::Value> = events.iter().map(|(_, _, j)| j.clone()).collect();
    check_history("ev1", &json);
    for (name, text, j) in &events {
        assert_eq!(name, &format!("{:08}.json", j["seq"].as_u64().unwrap()));
        assert!(
            text.ends_with('\n') && text.matches('\n').count() == 1,
            "one line: {text:?}"
        );
    }
    let expected: Vec<String> = events
        .iter()
        .map(|(_, t, _)| t.trim_end().to_string())
        .collect();

    let printed = ok(vodfarm(&[
        "events",
        "--title",
        "ev1",
        "--store",
        store.to_str().unwrap(),
    ]));
    assert_eq!(printed.lines().collect::<Vec<_>>(), expected);

    // The follower: every line, in order (a guard against hanging, not a timing claim).
    let mut followed = Vec::new();
    while followed.len() < expected.len() {
        match lines.recv_timeout(Duration::from_secs(60)) {
            Ok(l) => followed.push(l),
            Err(e) => panic!(
                "follower printed {} of {} lines: {e}",
                followed.len(),
                expected.len()
            ),
        }
    }
    assert_eq!(followed, expected);
    // SAFETY: kill(2) on our own child's pid.
    unsafe { libc::kill(follower.0.id() as i32, libc::SIGINT) };
    let status = follower.0.wait().unwrap();
    assert!(status.success(), "follower exits 0 on SIGINT: {status}");
    reader.join().unwrap();
}
