//! The ops console, end to end: `vodfarm serve` on an embedded store while one
//! `vodfarm worker` process with two job threads (the embedded store admits one
//! worker process) makes three titles, driven in headless Chromium by
//! players/console.mjs: titles listed with progress rising without a reload, a
//! published title with its ladder plot and a preview that plays and switches
//! rendition (hls.js and Shaka), a title failed on purpose (its master removed from
//! the store before ingest) with its cause, a malformed message in the dead-letter
//! view, markup in stored records and message bodies shown as text, requeue and retry
//! refused without the token and working with it. Then both `/metrics` (the
//! console's and the worker's) are read by an independent parser (Python's
//! prometheus_client) and their counters checked against what happened.

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use workers::queue::{LocalQueue, Queue};
use workers::testkit::http::http_get;

use crate::support::*;

struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

const TOKEN: &str = "console-test-token";
const HOSTILE_ERROR: &str = "<script>window.pwned=1</script><img src=x onerror=\"window.pwned=2\">";

/// Samples of a Prometheus text exposition, parsed by prometheus_client:
/// (name, labels, value).
fn parse_metrics(text: &str) -> Vec<(String, serde_json::Map<String, serde_json::Value>, f64)> {
    let mut py = Command::new("python3")
        .args([
            "-c",
            "import sys, json\n\
from prometheus_client.parser import text_string_to_metric_families as parse\n\
print(json.dumps([[s.name, s.labels, s.value] for f in parse(sys.stdin.read()) for s in f.samples]))",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python3 runs (prometheus_client: pip install prometheus-client)");
    py.stdin.take().unwrap().write_all(text.as_bytes()).unwrap();
    let out = py.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "prometheus_client refused the exposition: {}\n{text}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Vec<(String, serde_json::Map<String, serde_json::Value>, f64)> =
        serde_json::from_slice(&out.stdout).unwrap();
    v
}

/// The one sample named `name` whose labels include `labels`.
fn sample(
    samples: &[(String, serde_json::Map<String, serde_json::Value>, f64)],
    name: &str,
    labels: &[(&str, &str)],
) -> f64 {
    let found: Vec<f64> = samples
        .iter()
        .filter(|(n, l, _)| {
            n == name
                && labels
                    .iter()
                    .all(|(k, v)| l.get(*k).and_then(|x| x.as_str()) == Some(*v))
        })
        .map(|(_, _, v)| *v)
        .collect();
    assert_eq!(found.len(), 1, "{name}{labels:?}: {found:?}");
    found[0]
}

fn submit(master: &Path, store: &Path, title: &str, extra: &[&str]) {
    let mut args = vec!["submit", master.to_str().unwrap(), "--title", title];
    args.extend_from_slice(&["--store", store.to_str().unwrap()]);
    args.extend_from_slice(extra);
    ok(vodfarm(&args));
}

/// Wait for a line in a file that a process writes (its log), up to a minute.
fn line_in(path: &Path, prefix: &str) -> String {
    let until = Instant::now() + Duration::from_secs(60);
    while Instant::now() < until {
        if let Ok(text) = std::fs::read_to_string(path) {
            if let Some(l) = text.lines().find(|l| l.starts_with(prefix)) {
                return l.to_string();
            }
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!(
        "no line starting with '{prefix}' in {}: {}",
        path.display(),
        std::fs::read_to_string(path).unwrap_or_default()
    );
}

#[test]
fn console_in_chromium_with_metrics() {
    let players = players_dir();
    let tmp = tempfile::tempdir().unwrap();
    let store = tmp.path().join("store");
    let master = tmp.path().join("master.mp4");
    ok(vodfarm(&[
        "sample",
        master.to_str().unwrap(),
        "--seconds",
        "8",
        "--width",
        "640",
        "--height",
        "360",
    ]));
    // Short chunks, so that progress has steps to show.
    let chunks = ["--segment-seconds", "2", "--chunk-segments", "1"];
    submit(&master, &store, "published-title", &chunks);
    let fixed = [&chunks[..], &["--ladder", "apple-avc"]].concat();
    submit(&master, &store, "second-title", &fixed);
    submit(&master, &store, "failed-title", &fixed);
    // Failed on purpose: its master is gone from the store before any worker runs.
    let removed = store.join("ingest/failed-title/master.mp4");
    std::fs::remove_file(&removed).unwrap();
    // Records written by something other than vodfarm (another tool, a person with
    // bucket access) are shown, and must stay text.
    std::fs::create_dir_all(store.join("ingest/hostile-title")).unwrap();
    std::fs::write(
        store.join("ingest/hostile-title/request.json"),
        serde_json::json!({ "master_key": HOSTILE_ERROR }).to_string(),
    )
    .unwrap();
    std::fs::write(
        store.join("control/titles/hostile-title.json"),
        serde_json::json!({ "title": "hostile-title", "state": "failed", "error": HOSTILE_ERROR })
            .to_string(),
    )
    .unwrap();
    // A malformed message: the worker dead-letters it.
    let queue = LocalQueue::open(&store.join("queues"), workers::runner::MAX_RECEIVES).unwrap();
    queue
        .send("encode", "<script>window.pwned=3</script>")
        .unwrap();

    let mut serve = Command::new(env!("CARGO_BIN_EXE_vodfarm"))
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--token",
            TOKEN,
            "--store",
        ])
        .arg(&store)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("vodfarm serve starts");
    let mut first = String::new();
    BufReader::new(serve.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    let _serve = Killed(serve);
    let base = first
        .trim()
        .strip_prefix("console at ")
        .unwrap_or_else(|| panic!("serve printed {first:?}, not its address"))
        .trim_end_matches('/')
        .to_string();

    let shot = Path::new(env!("CARGO_TARGET_TMPDIR")).join("console.jpg");
    let mut node = Command::new("node")
        .current_dir(&players)
        .arg("console.mjs")
        .args([
            &base,
            TOKEN,
            "published-title",
            "failed-title",
            "hostile-title",
        ])
        .arg(&shot)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("node runs");
    let mut to_node = node.stdin.take().unwrap();
    let from_node = BufReader::new(node.stdout.take().unwrap());
    let worker_log = tmp.path().join("worker.log");
    let mut worker = None;
    let mut report = Vec::new();
    for line in from_node.lines() {
        let line = line.unwrap();
        eprintln!("{line}");
        let v: serde_json::Value =
            serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line}"));
        match v["wait"].as_str() {
            Some("workers") => {
                worker = Some(Killed(
                    Command::new(env!("CARGO_BIN_EXE_vodfarm"))
                        .args(["worker", "--concurrency", "2", "--metrics", "127.0.0.1:0"])
                        .arg("--scratch")
                        .arg(tmp.path().join("scratch"))
                        .arg("--store")
                        .arg(&store)
                        .env("VODFARM_LOG", "info")
                        .stdout(Stdio::null())
                        .stderr(std::fs::File::create(&worker_log).unwrap())
                        .spawn()
                        .expect("vodfarm worker starts"),
                ));
                writeln!(to_node, "ok").unwrap();
            }
            Some("restore") => {
                std::fs::copy(&master, &removed).unwrap();
                writeln!(to_node, "ok").unwrap();
            }
            Some(other) => panic!("unknown sync point {other}"),
            None => report.push(v),
        }
    }
    let status = node.wait().unwrap();
    let failed: Vec<_> = report.iter().filter(|v| v["ok"] == false).collect();
    assert!(
        status.success() && failed.is_empty() && report.iter().any(|v| v["done"] == true),
        "console checks failed: {failed:#?}\nworker log:\n{}",
        std::fs::read_to_string(&worker_log).unwrap_or_default()
    );
    assert!(
        std::fs::metadata(&shot)
            .map(|m| m.len() > 10_000)
            .unwrap_or(false),
        "no screenshot at {}",
        shot.display()
    );
    eprintln!("console screenshot: {}", shot.display());

    // The worker's counters: what it did, by stage.
    let addr = line_in(&worker_log, "metrics at ");
    let url = addr.trim_start_matches("metrics at ").trim();
    let (code, head, body) = http_get(url, None);
    assert_eq!(code, 200);
    assert!(head.contains("text/plain; version=0.0.4"), "{head}");
    let w = parse_metrics(&String::from_utf8(body).unwrap());
    let plan_chunks = |t: &str| -> f64 {
        let plan: serde_json::Value = serde_json::from_slice(
            &std::fs::read(store.join(format!("work/{t}/plan.json"))).unwrap(),
        )
        .unwrap();
        plan["chunks"].as_array().unwrap().len() as f64
    };
    let chunks_total =
        plan_chunks("published-title") + plan_chunks("second-title") + plan_chunks("failed-title");
    let jobs = |name: &str, stage: &str| sample(&w, name, &[("stage", stage)]);
    // Three ingests succeeded (the failed title's after the retry), one failed.
    assert_eq!(jobs("vodfarm_jobs_succeeded_total", "ingest"), 3.0);
    assert_eq!(jobs("vodfarm_jobs_failed_total", "ingest"), 1.0);
    assert_eq!(jobs("vodfarm_jobs_received_total", "ingest"), 4.0);
    assert_eq!(jobs("vodfarm_jobs_succeeded_total", "encode"), chunks_total);
    assert_eq!(jobs("vodfarm_jobs_succeeded_total", "audio"), 3.0);
    assert_eq!(jobs("vodfarm_jobs_succeeded_total", "package"), 3.0);
    assert_eq!(
        sample(
            &w,
            "vodfarm_job_duration_seconds_count",
            &[("stage", "package"), ("outcome", "succeeded")]
        ),
        3.0
    );
    // The malformed message, dead-lettered twice: sent, then requeued from the console.
    assert_eq!(
        sample(
            &w,
            "vodfarm_jobs_dead_lettered_total",
            &[("queue", "encode")]
        ),
        2.0
    );
    assert!(
        sample(
            &w,
            "vodfarm_store_written_bytes_total",
            &[("backend", "embedded")]
        ) > 0.0
    );
    assert!(sample(&w, "vodfarm_encoded_frames_total", &[("size", "360p")]) > 0.0);
    assert_eq!(
        sample(&w, "vodfarm_queue_depth", &[("queue", "encode-dlq")]),
        1.0
    );

    // The console's: titles by state.
    let (code, _, body) = http_get(&format!("{base}/metrics"), None);
    assert_eq!(code, 200);
    let c = parse_metrics(&String::from_utf8(body).unwrap());
    assert_eq!(sample(&c, "vodfarm_titles", &[("state", "published")]), 3.0);
    assert_eq!(sample(&c, "vodfarm_titles", &[("state", "failed")]), 1.0);
    drop(worker);

    // `status --json` agrees with the pages: a report per title, the published ones at
    // 100%, with the times of each state.
    let out = ok(vodfarm(&[
        "status",
        "--json",
        "--store",
        store.to_str().unwrap(),
    ]));
    let all: Vec<workers::progress::Report> = serde_json::from_str(&out).unwrap();
    assert_eq!(all.len(), 4);
    for r in all.iter().filter(|r| r.title != "hostile-title") {
        assert_eq!(
            (r.state, r.percent),
            (workers::status::State::Published, 100),
            "{r:?}"
        );
        assert!(
            r.finished_ms >= r.submitted_ms && r.submitted_ms.is_some(),
            "{r:?}"
        );
        assert!(r.stage_seconds.contains_key("encode"), "{r:?}");
    }
}
