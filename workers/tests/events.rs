//! Job events recorded by the pipeline driven through the library: a truncated master
//! refused at ingest (inspected, then failed with the status's cause), retried and
//! refused again, the same title taking `--accept-truncated` (its history goes on
//! from the next number), and the
//! place job's `placed` event with a fleet in the store.

use std::path::PathBuf;
use std::sync::Arc;

use workers::events::{self, What};
use workers::queue::LocalQueue;
use workers::status::State;
use workers::store::{LocalStore, ObjectStore};
use workers::submit::{enqueue, request_for, Submitted, TitleSettings};
use workers::{keys, TitleId};

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

fn dir() -> PathBuf {
    let d = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("events-fixtures");
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Run every queued job, one at a time, until the queues are empty.
fn drain(ctx: &workers::stages::Ctx) {
    let s = workers::runner::Settings::default();
    while workers::runner::process_one(ctx, &s, false).unwrap() {}
}

fn kinds(events: &[events::Event]) -> Vec<&'static str> {
    events.iter().map(|e| e.what.kind()).collect()
}

#[test]
fn refused_then_accepted_then_placed() {
    let tmp = tempfile::tempdir().unwrap();
    let master = fixtures::qc::truncated_ts(&dir()).unwrap();
    let store = Arc::new(LocalStore::open(&tmp.path().join("store")).unwrap());
    let queue = Arc::new(LocalQueue::open(&tmp.path().join("store/queues"), 5).unwrap());
    store.put(&keys::fleet(), FLEET.as_bytes()).unwrap();
    let ctx = workers::stages::Ctx {
        store: store.clone(),
        queue: queue.clone(),
        scratch: tmp.path().join("scratch"),
    };
    let t = TitleId::parse("cut-events").unwrap();
    let mut settings = TitleSettings {
        ladder: "benchmark".into(),
        ..TitleSettings::default()
    };
    let request = request_for(&t, &master, &settings).unwrap();
    enqueue(store.as_ref(), queue.as_ref(), &t, &master, &[], &request).unwrap();
    drain(&ctx);

    let history = events::read(store.as_ref(), &t).unwrap();
    assert_eq!(kinds(&history), ["submitted", "inspected", "failed"]);
    let status = workers::status::read(store.as_ref(), &t).unwrap();
    match (&history[1].what, &history[2].what) {
        (
            What::Inspected {
                verdict, summary, ..
            },
            What::Failed { cause },
        ) => {
            assert_eq!(verdict, "refused");
            assert!(
                summary.starts_with("refused: master is truncated"),
                "{summary}"
            );
            assert_eq!(Some(cause), status.error.as_ref(), "the status's cause");
        }
        other => panic!("{other:?}"),
    }

    // A retry ingests it again (it was never planned), and it fails again: one
    // `retried`, then the second inspection and failure.
    let started = status
        .started_ms
        .expect("a new record knows when it started");
    assert_eq!(status.times.get(&State::Submitted), Some(&started));
    let resumed = workers::retry::retry(store.as_ref(), queue.as_ref(), &t).unwrap();
    assert_eq!(resumed, workers::retry::Resumed::Ingest);
    drain(&ctx);
    // The retry entered Submitted again (the ingest stage's time starts there), but the
    // title started when it was first submitted: what status and the console show.
    let status = workers::status::read(store.as_ref(), &t).unwrap();
    assert!(status.times[&State::Submitted] > started, "{status:?}");
    assert_eq!(status.started_ms, Some(started));
    let report = workers::progress::read(store.as_ref(), &t)
        .unwrap()
        .expect("a status record")
        .report();
    assert_eq!(report.submitted_ms, Some(started));
    let history = events::read(store.as_ref(), &t).unwrap();
    assert_eq!(
        kinds(&history),
        [
            "submitted",
            "inspected",
            "failed",
            "retried",
            "inspected",
            "failed"
        ]
    );
    match &history[3].what {
        What::Retried { from, parts } => assert_eq!((from.as_str(), parts.len()), ("ingest", 0)),
        other => panic!("{other:?}"),
    }

    // The same title, accepting what decodes: its history goes on from number 7,
    // through publishing, and placement puts it on the storage appliance (the flash
    // one holds 100 bytes).
    settings.accept_truncated = true;
    let request = request_for(&t, &master, &settings).unwrap();
    let s = enqueue(store.as_ref(), queue.as_ref(), &t, &master, &[], &request).unwrap();
    assert_eq!(s, Submitted::New);
    drain(&ctx);
    let history = events::read(store.as_ref(), &t).unwrap();
    let seqs: Vec<u64> = history.iter().map(|e| e.seq).collect();
    assert_eq!(seqs, (1..=history.len() as u64).collect::<Vec<_>>());
    let k = kinds(&history);
    let progress = k.iter().filter(|k| **k == "progress").count();
    assert!(progress >= 1, "{k:?}");
    let mut want = vec![
        "submitted",
        "inspected",
        "failed",
        "retried",
        "inspected",
        "failed",
    ];
    want.extend(["submitted", "inspected", "ladder_chosen"]);
    want.extend(std::iter::repeat_n("progress", progress));
    want.extend(["packaged", "published", "placed"]);
    assert_eq!(k, want);
    match &history[7].what {
        What::Inspected { verdict, .. } => assert_eq!(verdict, "accepted-truncated"),
        other => panic!("{other:?}"),
    }
    match &history.last().unwrap().what {
        What::Placed { added_to } => assert_eq!(added_to, &["lon-store-1".to_string()]),
        other => panic!("{other:?}"),
    }
    // Every stored object is the event's JSON line and its key names its number.
    for e in &history {
        let bytes = store.get(&keys::event(&t, e.seq)).unwrap();
        assert_eq!(String::from_utf8(bytes).unwrap(), e.to_json() + "\n");
    }
}

/// A store that refuses every job-event write and listing (S3 answering 503 under
/// `control/events/`), and is the embedded store for everything else.
struct EventsRefused(LocalStore);

fn refused(key: &str) -> Result<(), workers::store::StoreError> {
    if key.starts_with(keys::EVENTS) {
        Err(workers::store::StoreError::Remote {
            what: "put",
            key: key.into(),
            status: Some(503),
            detail: "SlowDown".into(),
        })
    } else {
        Ok(())
    }
}

impl ObjectStore for EventsRefused {
    fn put(&self, key: &str, bytes: &[u8]) -> Result<(), workers::store::StoreError> {
        refused(key)?;
        self.0.put(key, bytes)
    }
    fn put_file(
        &self,
        key: &str,
        path: &std::path::Path,
    ) -> Result<(), workers::store::StoreError> {
        refused(key)?;
        self.0.put_file(key, path)
    }
    fn get(&self, key: &str) -> Result<Vec<u8>, workers::store::StoreError> {
        self.0.get(key)
    }
    fn get_to_file(
        &self,
        key: &str,
        path: &std::path::Path,
    ) -> Result<(), workers::store::StoreError> {
        self.0.get_to_file(key, path)
    }
    fn read_from(
        &self,
        key: &str,
        offset: u64,
    ) -> Result<Box<dyn std::io::Read + Send>, workers::store::StoreError> {
        self.0.read_from(key, offset)
    }
    fn exists(&self, key: &str) -> Result<bool, workers::store::StoreError> {
        self.0.exists(key)
    }
    fn create_if_absent(
        &self,
        key: &str,
        bytes: &[u8],
    ) -> Result<bool, workers::store::StoreError> {
        refused(key)?;
        self.0.create_if_absent(key, bytes)
    }
    fn list(&self, prefix: &str) -> Result<Vec<String>, workers::store::StoreError> {
        refused(prefix)?;
        self.0.list(prefix)
    }
    fn delete(&self, key: &str) -> Result<(), workers::store::StoreError> {
        self.0.delete(key)
    }
}

/// Recording events never fails a stage: with every event write refused, the title
/// is still published, and no event reaches a listener (an event that is not stored
/// has no number).
#[test]
fn a_store_refusing_events_still_publishes() {
    let tmp = tempfile::tempdir().unwrap();
    let m = fixtures::masters()
        .into_iter()
        .find(|m| m.name == "h264-24fps-aac")
        .unwrap();
    let master = m.write(&dir()).unwrap();
    let root = tmp.path().join("store");
    let store = Arc::new(EventsRefused(LocalStore::open(&root).unwrap()));
    let queue = Arc::new(LocalQueue::open(&root.join("queues"), 5).unwrap());
    let ctx = workers::stages::Ctx {
        store: store.clone(),
        queue: queue.clone(),
        scratch: tmp.path().join("scratch"),
    };
    let t = TitleId::parse("events-refused").unwrap();
    let heard = Arc::new(std::sync::Mutex::new(0usize));
    let _sub = {
        let (heard, t) = (heard.clone(), t.clone());
        events::subscribe(move |e| {
            if e.title == t {
                *heard.lock().unwrap() += 1;
            }
        })
    };
    let settings = TitleSettings {
        ladder: "benchmark".into(),
        ..TitleSettings::default()
    };
    let request = request_for(&t, &master, &settings).unwrap();
    enqueue(store.as_ref(), queue.as_ref(), &t, &master, &[], &request).unwrap();
    drain(&ctx);
    let status = workers::status::read(store.as_ref(), &t).unwrap();
    assert_eq!(
        status.state,
        workers::status::State::Published,
        "{:?}",
        status.error
    );
    assert!(store.0.exists(&keys::origin(&t, "master.m3u8")).unwrap());
    assert_eq!(store.0.list(keys::EVENTS).unwrap(), Vec::<String>::new());
    assert_eq!(*heard.lock().unwrap(), 0);
}

/// An embedded farm in a folder, and a title of the smallest fixture with audio on
/// the benchmark ladder, not yet submitted.
struct Farm {
    store: Arc<LocalStore>,
    queue: Arc<LocalQueue>,
    ctx: workers::stages::Ctx,
    t: TitleId,
    master: PathBuf,
    request: workers::plan::Request,
}

fn farm(dir_: &std::path::Path, title: &str) -> Farm {
    let master = fixtures::masters()
        .into_iter()
        .find(|m| m.name == "h264-24fps-aac")
        .unwrap()
        .write(&dir())
        .unwrap();
    let root = dir_.join("store");
    let store = Arc::new(LocalStore::open(&root).unwrap());
    let queue = Arc::new(LocalQueue::open(&root.join("queues"), 5).unwrap());
    let ctx = workers::stages::Ctx {
        store: store.clone(),
        queue: queue.clone(),
        scratch: dir_.join("scratch"),
    };
    let t = TitleId::parse(title).unwrap();
    let settings = TitleSettings {
        ladder: "benchmark".into(),
        ..TitleSettings::default()
    };
    let request = request_for(&t, &master, &settings).unwrap();
    Farm {
        store,
        queue,
        ctx,
        t,
        master,
        request,
    }
}

/// A packager killed after its `packaged` event and before the publish record is
/// redelivered (same message id) and packages again: one `packaged`, one `published`.
/// One killed after the manifests and before `published` leaves a title that any
/// package message finds published: it stores the lost `published` once.
#[test]
fn a_killed_packager_stores_packaged_and_published_once() {
    let tmp = tempfile::tempdir().unwrap();
    let Farm {
        store,
        queue,
        ctx,
        t,
        master,
        request,
    } = farm(tmp.path(), "killed-packager");
    enqueue(store.as_ref(), queue.as_ref(), &t, &master, &[], &request).unwrap();
    drain(&ctx);
    let once = |k: &[&str]| {
        for kind in ["packaged", "published"] {
            assert_eq!(k.iter().filter(|x| **x == kind).count(), 1, "{kind}: {k:?}");
        }
    };
    let history = events::read(store.as_ref(), &t).unwrap();
    once(&kinds(&history));
    let packager = String::from_utf8(store.get(&keys::claim(&t, "packager")).unwrap()).unwrap();

    // The store as the kill after `packaged` left it: no publish record, no
    // manifests, no later events.
    let packaged = history
        .iter()
        .find(|e| e.what.kind() == "packaged")
        .unwrap()
        .seq;
    for e in history.iter().filter(|e| e.seq > packaged) {
        store.delete(&keys::event(&t, e.seq)).unwrap();
    }
    for key in [
        keys::publish_record(&t, &packager),
        keys::origin(&t, "master.m3u8"),
        keys::origin(&t, "manifest.mpd"),
        keys::presentation(&t),
    ] {
        store.delete(&key).unwrap();
    }
    let job = workers::messages::Job::Package { title: t.clone() };
    workers::stages::handle(&ctx, &job, &packager).unwrap();
    drain(&ctx);
    let k = events::read(store.as_ref(), &t).unwrap();
    once(&kinds(&k));
    assert!(store.exists(&keys::origin(&t, "master.m3u8")).unwrap());

    // The kill after the manifests: `published` (and what followed) lost.
    let published = k.iter().find(|e| e.what.kind() == "published").unwrap().seq;
    for e in k.iter().filter(|e| e.seq >= published) {
        store.delete(&keys::event(&t, e.seq)).unwrap();
    }
    workers::stages::handle(&ctx, &job, "another-message").unwrap();
    drain(&ctx);
    let k = kinds(&events::read(store.as_ref(), &t).unwrap());
    once(&k);
    assert_eq!(k.last(), Some(&"published"), "{k:?}");
}

/// The same submit twice before a worker runs (the second finds the title Submitted
/// and sends the ingest again, for a first submit that died before sending): two
/// ingests, as two workers would run them at once (the second before the first's plan
/// is stored), store one `inspected` and one `ladder_chosen`, and nothing but
/// placement comes after `published`.
#[test]
fn a_repeated_submit_stores_each_event_once() {
    let tmp = tempfile::tempdir().unwrap();
    let Farm {
        store,
        queue,
        ctx,
        t,
        master,
        request,
    } = farm(tmp.path(), "twice");
    let first = enqueue(store.as_ref(), queue.as_ref(), &t, &master, &[], &request).unwrap();
    let second = enqueue(store.as_ref(), queue.as_ref(), &t, &master, &[], &request).unwrap();
    assert_eq!((first, second), (Submitted::New, Submitted::Exists));
    let ingest_only = workers::runner::Settings {
        queues: vec![workers::messages::QUEUE_INGEST],
        ..workers::runner::Settings::default()
    };
    assert!(workers::runner::process_one(&ctx, &ingest_only, false).unwrap());
    store.delete(&keys::plan(&t)).unwrap();
    assert!(workers::runner::process_one(&ctx, &ingest_only, false).unwrap());
    drain(&ctx);
    let k = kinds(&events::read(store.as_ref(), &t).unwrap());
    for kind in [
        "submitted",
        "inspected",
        "ladder_chosen",
        "packaged",
        "published",
    ] {
        assert_eq!(k.iter().filter(|x| **x == kind).count(), 1, "{kind}: {k:?}");
    }
    let after: Vec<_> = k.iter().skip_while(|x| **x != "published").collect();
    assert_eq!(after, [&"published"], "{k:?}");
}
