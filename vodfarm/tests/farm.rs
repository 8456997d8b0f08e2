//! The farm on moto (S3 + SQS on 127.0.0.1): three `vodfarm worker` processes, two
//! titles submitted with `vodfarm submit`, a malformed message sent on purpose, one
//! worker SIGKILLed in the middle of an encode and another SIGTERMed in the middle of
//! one. Both titles publish; every origin object is byte-identical to an embedded
//! `vodfarm run` of the same master; each title is packaged and published exactly once
//! (one publish record each in the store); the dead-letter queues hold only the malformed
//! message; the SIGTERMed worker finished its chunk and exited cleanly.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use vodfarm::config::Config;
use workers::status::State;
use workers::TitleId;

use crate::servers;
use crate::support::*;

pub(crate) struct Worker {
    pub(crate) child: Child,
    pub(crate) log: PathBuf,
}

impl Drop for Worker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub(crate) fn vodfarm_cmd(config: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_vodfarm"));
    c.arg("--config")
        .arg(config)
        .env("AWS_ACCESS_KEY_ID", servers::ACCESS_KEY)
        .env("AWS_SECRET_ACCESS_KEY", servers::SECRET_KEY)
        .env("AWS_REGION", "us-east-1")
        .env("VODFARM_LOG", "info");
    c
}

pub(crate) fn start_worker(config: &Path, dir: &Path, n: usize) -> Worker {
    start_worker_with(vodfarm_cmd(config), dir, n, &[])
}

/// `cmd worker` with one job at a time, its JSON log in `dir`; `extra` after the flags.
fn start_worker_with(mut cmd: Command, dir: &Path, n: usize, extra: &[&str]) -> Worker {
    let log = dir.join(format!("worker-{n}.log"));
    let child = cmd
        .args(["--log-json", "worker", "--concurrency", "1", "--scratch"])
        .arg(dir.join(format!("scratch-{n}")))
        .args(extra)
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .expect("vodfarm worker starts");
    Worker { child, log }
}

/// (message, title, chunk) of every JSON log line of a worker.
pub(crate) fn events(log: &Path) -> Vec<(String, String, Option<u64>)> {
    std::fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .map(|v| {
            let f = &v["fields"];
            (
                f["message"].as_str().unwrap_or_default().to_string(),
                f["title"].as_str().unwrap_or_default().to_string(),
                f["chunk"].as_u64(),
            )
        })
        .collect()
}

/// moto on 127.0.0.1, a farm config for it (queue visibility `visibility` s, names
/// prefixed `prefix`) in a fresh folder, and `vodfarm init` run on it.
pub(crate) fn moto_farm(
    prefix: &str,
    visibility: u64,
) -> (servers::Server, tempfile::TempDir, PathBuf) {
    let server = servers::moto();
    let tmp = tempfile::tempdir().unwrap();
    let config = tmp.path().join("farm.toml");
    std::fs::write(
        &config,
        servers::moto_config(&server.url, prefix, visibility),
    )
    .unwrap();
    ok(vodfarm_cmd(&config).arg("init").output().unwrap());
    (server, tmp, config)
}

/// A 12 s 1280x720 sample master with audio in `dir` (under 8 MiB).
pub(crate) fn sample_720p(dir: &Path) -> PathBuf {
    let big = dir.join("big.mp4");
    ok(vodfarm(&[
        "sample",
        big.to_str().unwrap(),
        "--seconds",
        "12",
        "--width",
        "1280",
        "--height",
        "720",
    ]));
    big
}

#[test]
fn three_workers_on_moto_survive_sigkill_and_sigterm_exactly_once() {
    // A short visibility: a killed worker's message is back in 5 s.
    let (_server, tmp, config) = moto_farm("chaos-", 5);

    // Two masters: a 720p sample (encodes long enough to be caught in the middle) and
    // the 24 fps fixture.
    let big = sample_720p(tmp.path());
    let (_, small) = fixture("h264-24fps-aac");
    let titles = [("alpha", big.clone()), ("beta", small.clone())];
    let settings = ["--ladder", "benchmark", "--chunk-segments", "1"];

    let mut workers: Vec<Worker> = (0..3)
        .map(|n| start_worker(&config, tmp.path(), n))
        .collect();
    for (t, m) in &titles {
        let out = ok(vodfarm_cmd(&config)
            .args(["submit", m.to_str().unwrap(), "--title", t])
            .args(settings)
            .output()
            .unwrap());
        assert_eq!(out.trim(), *t);
    }
    // A malformed message, on purpose: dead-lettered, and the farm goes on.
    let b = Config::parse(&std::fs::read_to_string(&config).unwrap())
        .unwrap()
        .open()
        .unwrap();
    b.queue.send("encode", "{not json").unwrap();

    // SIGKILL the first worker seen starting an encode, before that chunk is done.
    let deadline = Instant::now() + Duration::from_secs(120);
    let (victim, title, chunk) = 'found: loop {
        assert!(Instant::now() < deadline, "no worker started an encode");
        for (i, w) in workers.iter().enumerate() {
            if let Some((_, t, Some(c))) = events(&w.log)
                .into_iter()
                .find(|(m, t, _)| m == "encoding" && t == "alpha")
            {
                break 'found (i, t, c);
            }
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    workers[victim].child.kill().unwrap(); // SIGKILL
    workers[victim].child.wait().unwrap();
    let t_id = TitleId::parse(&title).unwrap();
    assert!(
        !b.store
            .exists(&workers::keys::done(&t_id, &format!("c{chunk}")))
            .unwrap(),
        "the killed worker had already finished chunk {chunk}: not killed mid-encode"
    );

    // SIGTERM another worker in the middle of its next encode: it must finish it.
    let term = (victim + 1) % 3;
    let seen = events(&workers[term].log)
        .iter()
        .filter(|e| e.0 == "encoding")
        .count();
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut held = None;
    while Instant::now() < deadline {
        let enc: Vec<_> = events(&workers[term].log)
            .into_iter()
            .filter(|e| e.0 == "encoding")
            .collect();
        if enc.len() > seen {
            held = enc.last().cloned();
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let (_, held_title, held_chunk) = held.expect("the second worker started another encode");
    unsafe {
        libc::kill(workers[term].child.id() as i32, libc::SIGTERM);
    }
    let deadline = Instant::now() + Duration::from_secs(90);
    let status = loop {
        if let Some(s) = workers[term].child.try_wait().unwrap() {
            break s;
        }
        assert!(Instant::now() < deadline, "SIGTERMed worker did not stop");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "SIGTERMed worker exited with {status}");
    let held_id = TitleId::parse(&held_title).unwrap();
    assert!(
        b.store
            .exists(&workers::keys::done(
                &held_id,
                &format!("c{}", held_chunk.unwrap())
            ))
            .unwrap(),
        "the SIGTERMed worker did not finish the chunk it held"
    );
    assert!(std::fs::read_to_string(&workers[term].log)
        .unwrap()
        .contains("worker stopped"));

    // The one left (and a fresh one, as autoscaling would start) finish both titles.
    workers.push(start_worker(&config, tmp.path(), 3));
    let deadline = Instant::now() + Duration::from_secs(300);
    loop {
        let states: Vec<_> = titles
            .iter()
            .map(|(t, _)| {
                workers::status::read(b.store.as_ref(), &TitleId::parse(t).unwrap())
                    .map(|s| s.state)
            })
            .collect();
        if states.iter().all(|s| *s == Some(State::Published)) {
            break;
        }
        assert!(
            !states.contains(&Some(State::Failed)),
            "a title failed: {states:?}"
        );
        assert!(
            Instant::now() < deadline,
            "not published in time: {states:?}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }

    // Exactly once, as the store records it: one publish record per title.
    for (t, _) in &titles {
        let id = TitleId::parse(t).unwrap();
        let records = b.store.list(&workers::keys::publish_prefix(&id)).unwrap();
        assert_eq!(records.len(), 1, "{t}: published {} times", records.len());
    }

    // Byte-identical to embedded runs of the same masters.
    let embedded = tmp.path().join("embedded");
    for (t, m) in &titles {
        let out = run_title(m, t, &embedded, &settings);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let want = tree(&embedded.join("origin").join(t));
        let prefix = format!("origin/{t}/");
        let got = b.store.list(&prefix).unwrap();
        assert_eq!(
            got.iter().map(|k| &k[prefix.len()..]).collect::<Vec<_>>(),
            want.keys().map(String::as_str).collect::<Vec<_>>(),
            "{t}: the same objects"
        );
        for key in got {
            assert!(
                b.store.get(&key).unwrap() == want[&key[prefix.len()..]],
                "{key} differs from the embedded run"
            );
        }
    }

    // Dead-letter queues: only the malformed message.
    std::thread::sleep(Duration::from_secs(1));
    for (q, n) in [("ingest-dlq", 0), ("encode-dlq", 1), ("package-dlq", 0)] {
        assert_eq!(b.queue.depth(q).unwrap(), n, "{q}");
    }
    let m = b
        .queue
        .receive(
            "encode-dlq",
            Duration::from_secs(30),
            Duration::from_secs(1),
        )
        .unwrap()
        .unwrap();
    assert_eq!(m.body, "{not json");
    // An appliance fills from S3 too: plan, fill with --now, every file as at the origin.
    let fleet = tmp.path().join("fleet.toml");
    std::fs::write(
        &fleet,
        "popularity_per_copy = 100.0\nmax_copies = 1\n[[site]]\nid = \"lon\"\n[[site.appliance]]\nid = \"lon-1\"\nkind = \"storage\"\ncapacity_bytes = 1000000000\nfill_rate_bps = 1000000000\n",
    )
    .unwrap();
    ok(vodfarm_cmd(&config)
        .args(["place", "--fleet", fleet.to_str().unwrap()])
        .output()
        .unwrap());
    let cache = tmp.path().join("cache");
    ok(vodfarm_cmd(&config)
        .args(["oca", "fill", "--appliance", "lon-1", "--now", "--cache"])
        .arg(&cache)
        .output()
        .unwrap());
    let report: serde_json::Value =
        serde_json::from_slice(&b.store.get("control/appliances/lon-1.json").unwrap()).unwrap();
    assert_eq!(report["held_titles"], serde_json::json!(["alpha", "beta"]));
    for (t, _) in &titles {
        for key in b.store.list(&format!("origin/{t}/")).unwrap() {
            assert!(
                std::fs::read(cache.join(&key)).unwrap() == b.store.get(&key).unwrap(),
                "{key}"
            );
        }
    }

    // The workers that were not stopped are still serving.
    for (i, w) in workers.iter_mut().enumerate() {
        if i != victim && i != term {
            assert!(w.child.try_wait().unwrap().is_none(), "worker {i} died");
        }
    }
}

/// Duplicate and stray messages on the embedded backends with a two-slot worker: a
/// second ingest message, a package message before any chunk is encoded, and another
/// after publishing. Still one publish (one publish record in the store), and the same
/// bytes as a plain `vodfarm run`. A second worker process on the same embedded store
/// is refused: the store lock covers `worker` too.
#[test]
fn duplicates_and_strays_still_package_and_publish_once() {
    use workers::messages::{Job, Message};
    use workers::queue::{LocalQueue, Queue};
    let (_, master) = fixture("h264-24fps-aac");
    let tmp = tempfile::tempdir().unwrap();
    let store = tmp.path().join("store");
    let st = store.to_str().unwrap();
    let settings = ["--ladder", "benchmark", "--chunk-segments", "1"];
    let mut args = vec![
        "submit",
        master.to_str().unwrap(),
        "--title",
        "dup",
        "--store",
        st,
    ];
    args.extend_from_slice(&settings);
    assert_eq!(ok(vodfarm(&args)).trim(), "dup");
    let q = LocalQueue::open(&store.join("queues"), workers::runner::MAX_RECEIVES).unwrap();
    let t = TitleId::parse("dup").unwrap();
    let send = |job: Job| {
        let m = Message::new(job);
        q.send(m.queue(), &m.encode()).unwrap();
    };
    send(Job::Ingest { title: t.clone() });
    send(Job::Package { title: t.clone() });

    let worker = |extra: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_vodfarm"))
            .env("VODFARM_LOG", "warn")
            .env_remove("VODFARM_CONFIG")
            .env_remove("VODFARM_CONFIG_TOML")
            .args(["worker", "--store", st])
            .args(extra)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("vodfarm worker starts")
    };
    let mut first = worker(&["--concurrency", "2"]);
    // The lock is taken at start-up: wait until the first worker holds it.
    std::thread::sleep(Duration::from_millis(500));
    let second = worker(&["--concurrency", "1"]).wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&second.stderr);
    assert!(
        !second.status.success() && err.contains("in use by another vodfarm process"),
        "a second worker on one embedded store must be refused: {err}"
    );
    let local = workers::store::LocalStore::open(&store).unwrap();
    let deadline = Instant::now() + Duration::from_secs(120);
    while workers::status::read(&local, &t).map(|s| s.state) != Some(State::Published) {
        assert!(Instant::now() < deadline, "not published");
        std::thread::sleep(Duration::from_millis(100));
    }
    send(Job::Package { title: t.clone() });
    let deadline = Instant::now() + Duration::from_secs(60);
    while workers::runner::QUEUES
        .iter()
        .any(|name| q.depth(name).unwrap() + q.in_flight(name).unwrap() > 0)
    {
        assert!(Instant::now() < deadline, "queues did not drain");
        std::thread::sleep(Duration::from_millis(100));
    }
    // SIGTERM: the worker finishes what it holds and exits 0.
    // SAFETY: kill(2) on our own child's pid.
    unsafe { libc::kill(first.id() as i32, libc::SIGTERM) };
    assert!(first.wait().unwrap().success());
    use workers::store::ObjectStore as _;
    let records = local.list(&workers::keys::publish_prefix(&t)).unwrap();
    assert_eq!(records.len(), 1, "published more than once: {records:?}");

    let embedded = tmp.path().join("embedded");
    let out = run_title(&master, "dup", &embedded, &settings);
    assert!(out.status.success());
    assert!(
        tree(&store.join("origin/dup")) == tree(&embedded.join("origin/dup")),
        "not byte-identical to the embedded run"
    );
}
