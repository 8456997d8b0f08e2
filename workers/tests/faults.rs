//! Faults in the core, through the library: a disk that fills up mid-title, and a
//! stage and a worker slot that panic. Each must end with a clear error, nothing
//! half-published, and `retry` must finish the title byte-identical to a clean run.

use std::io::{Error, ErrorKind, Read};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use workers::pool::Pool;
use workers::queue::{LocalQueue, Peeked, Queue, QueueError, Received};
use workers::runner::{self, Settings};
use workers::stages::Ctx;
use workers::status::State;
use workers::store::{LocalStore, ObjectStore, StoreError};
use workers::submit::{enqueue, request_for, TitleSettings};
use workers::{keys, TitleId};

/// The smallest fixture with audio, rendered once per test process.
fn master() -> PathBuf {
    static ONCE: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    ONCE.get_or_init(|| {
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("core-fixtures");
        std::fs::create_dir_all(&dir).unwrap();
        fixtures::masters()
            .into_iter()
            .find(|m| m.name == "h264-4x3-25fps")
            .unwrap()
            .write(&dir)
            .unwrap()
    })
    .clone()
}

fn settings() -> TitleSettings {
    TitleSettings {
        ladder: "benchmark".into(),
        ..TitleSettings::default()
    }
}

/// An embedded store with faults: a disk with `budget` bytes left for new objects
/// (writes past it fail with ENOSPC, as a full file system answers), and a bug that
/// panics on the next read of `panic_on` while `armed`.
struct Faulty {
    inner: LocalStore,
    budget: AtomicI64,
    panic_on: String,
    armed: AtomicBool,
}

impl Faulty {
    fn new(root: &Path) -> Self {
        Faulty {
            inner: LocalStore::open(root).unwrap(),
            budget: AtomicI64::new(i64::MAX / 2),
            panic_on: String::new(),
            armed: AtomicBool::new(false),
        }
    }

    fn spend(&self, key: &str, n: u64) -> Result<(), StoreError> {
        if self.budget.fetch_sub(n as i64, Ordering::SeqCst) < n as i64 {
            self.budget.fetch_add(n as i64, Ordering::SeqCst);
            return Err(StoreError::Io {
                what: "put",
                key: key.into(),
                source: Error::from(ErrorKind::StorageFull),
            });
        }
        Ok(())
    }
}

impl ObjectStore for Faulty {
    fn put(&self, key: &str, bytes: &[u8]) -> Result<(), StoreError> {
        self.spend(key, bytes.len() as u64)?;
        self.inner.put(key, bytes)
    }
    fn put_file(&self, key: &str, path: &Path) -> Result<(), StoreError> {
        self.spend(key, std::fs::metadata(path).map(|m| m.len()).unwrap_or(0))?;
        self.inner.put_file(key, path)
    }
    fn get(&self, key: &str) -> Result<Vec<u8>, StoreError> {
        if key == self.panic_on && self.armed.swap(false, Ordering::SeqCst) {
            panic!("injected panic reading {key}");
        }
        self.inner.get(key)
    }
    fn get_to_file(&self, key: &str, path: &Path) -> Result<(), StoreError> {
        self.inner.get_to_file(key, path)
    }
    fn read_from(&self, key: &str, offset: u64) -> Result<Box<dyn Read + Send>, StoreError> {
        self.inner.read_from(key, offset)
    }
    fn exists(&self, key: &str) -> Result<bool, StoreError> {
        self.inner.exists(key)
    }
    fn create_if_absent(&self, key: &str, bytes: &[u8]) -> Result<bool, StoreError> {
        self.spend(key, bytes.len() as u64)?;
        self.inner.create_if_absent(key, bytes)
    }
    fn list(&self, prefix: &str) -> Result<Vec<String>, StoreError> {
        self.inner.list(prefix)
    }
    fn delete(&self, key: &str) -> Result<(), StoreError> {
        self.inner.delete(key)
    }
}

/// How a pool's run of one title ended.
#[derive(Debug)]
enum End {
    Published,
    Failed(String),
    /// The pool kept failing outside any stage with this error.
    Pool(String),
}

/// Run the pool on `ctx` until the title is published (and placed) or cannot be.
fn drive(ctx: Arc<Ctx>, t: &TitleId) -> End {
    let settings = Arc::new(Settings {
        disk_full_fails: true,
        ..Settings::default()
    });
    let pool = Pool::start(ctx.clone(), settings, 2, false);
    let deadline = Instant::now() + Duration::from_secs(300);
    let end = loop {
        assert!(
            Instant::now() < deadline,
            "title {t} neither published nor failed"
        );
        let st = workers::status::read(ctx.store.as_ref(), t).map(|s| (s.state, s.error));
        let busy = workers::progress::backlog(ctx.queue.as_ref()).unwrap();
        match st {
            Some((State::Published, _)) if busy == 0 => break End::Published,
            Some((State::Failed, e)) => break End::Failed(e.unwrap_or_default()),
            _ => {}
        }
        if let Some(e) = pool.report().last_error.filter(|e| e.disk_full) {
            break End::Pool(e.message);
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    pool.stop();
    end
}

fn submit(store: &dyn ObjectStore, queue: &dyn Queue, t: &TitleId) {
    let request = request_for(t, &master(), &settings()).unwrap();
    enqueue(store, queue, t, &master(), &[], &request).unwrap();
}

/// Every object under origin/<t>/ with its bytes.
fn origin(store: &dyn ObjectStore, t: &TitleId) -> Vec<(String, Vec<u8>)> {
    store
        .list(&keys::origin_prefix(t))
        .unwrap()
        .into_iter()
        .map(|k| {
            let b = store.get(&k).unwrap();
            (k, b)
        })
        .collect()
}

fn ctx(store: Arc<dyn ObjectStore>, dir: &Path) -> Arc<Ctx> {
    let queue = LocalQueue::open(&dir.join("queues"), runner::MAX_RECEIVES).unwrap();
    Arc::new(Ctx {
        store,
        queue: Arc::new(queue),
        scratch: dir.join("scratch"),
    })
}

/// Files whose names start with ".tmp" anywhere under `dir`.
fn temp_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(temp_files(&p));
        } else if e.file_name().to_string_lossy().starts_with(".tmp") {
            out.push(p);
        }
    }
    out
}

#[test]
fn a_full_disk_fails_clearly_publishes_nothing_and_retry_finishes_the_title() {
    let t = TitleId::parse("full").unwrap();
    // The reference: a clean run, and how many bytes it stores.
    let clean_dir = tempfile::tempdir().unwrap();
    let clean_store = Arc::new(LocalStore::open(&clean_dir.path().join("store")).unwrap());
    let clean = ctx(clean_store.clone(), clean_dir.path());
    submit(clean.store.as_ref(), clean.queue.as_ref(), &t);
    assert!(matches!(drive(clean.clone(), &t), End::Published));
    let reference = origin(clean_store.as_ref(), &t);
    let stored: u64 = clean_store
        .list("")
        .unwrap()
        .iter()
        .map(|k| clean_store.get(k).unwrap().len() as u64)
        .sum();

    // The same title on a disk with room for the master and about half the rest.
    let dir = tempfile::tempdir().unwrap();
    let disk = Arc::new(Faulty::new(&dir.path().join("store")));
    disk.budget.store(stored as i64 * 3 / 5, Ordering::SeqCst);
    let c = ctx(disk.clone(), dir.path());
    submit(c.store.as_ref(), c.queue.as_ref(), &t);
    let why = match drive(c.clone(), &t) {
        End::Failed(e) | End::Pool(e) => e,
        End::Published => panic!("published on a full disk"),
    };
    assert!(
        why.contains("disk full") || why.contains("No space"),
        "{why}"
    );
    // Nothing half-published: no manifest names anything, no temporary file shows.
    for m in ["master.m3u8", "manifest.mpd"] {
        assert!(!disk.exists(&keys::origin(&t, m)).unwrap(), "{m} published");
    }
    assert!(temp_files(&dir.path().join("store/origin")).is_empty());

    // Space comes back: retry resumes from what is done and publishes the same bytes.
    disk.budget.store(i64::MAX / 2, Ordering::SeqCst);
    workers::retry::retry(c.store.as_ref(), c.queue.as_ref(), &t).unwrap();
    assert!(matches!(drive(c.clone(), &t), End::Published));
    assert_eq!(
        origin(disk.as_ref(), &t),
        reference,
        "retry published other bytes"
    );
    let records = disk.list(&keys::publish_prefix(&t)).unwrap();
    assert_eq!(records.len(), 1, "published more than once: {records:?}");
    assert!(temp_files(&dir.path().join("store/origin")).is_empty());
}

/// A queue whose receives panic `n` times (a bug outside any stage).
struct PanickyQueue {
    inner: LocalQueue,
    panics: AtomicI64,
}

impl Queue for PanickyQueue {
    fn send(&self, queue: &str, body: &str) -> Result<(), QueueError> {
        self.inner.send(queue, body)
    }
    fn receive(
        &self,
        queue: &str,
        visibility: Duration,
        wait: Duration,
    ) -> Result<Option<Received>, QueueError> {
        if self.panics.fetch_sub(1, Ordering::SeqCst) > 0 {
            panic!("injected panic in receive");
        }
        self.inner.receive(queue, visibility, wait)
    }
    fn delete(&self, queue: &str, receipt: &str) -> Result<(), QueueError> {
        self.inner.delete(queue, receipt)
    }
    fn extend(&self, queue: &str, receipt: &str, visibility: Duration) -> Result<(), QueueError> {
        self.inner.extend(queue, receipt, visibility)
    }
    fn peek(&self, queue: &str, max: usize) -> Result<Vec<Peeked>, QueueError> {
        self.inner.peek(queue, max)
    }
    fn depth(&self, queue: &str) -> Result<usize, QueueError> {
        self.inner.depth(queue)
    }
    fn in_flight(&self, queue: &str) -> Result<usize, QueueError> {
        self.inner.in_flight(queue)
    }
}

#[test]
fn panics_fail_the_job_not_the_pool_and_retry_recovers() {
    let t = TitleId::parse("panics").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(Faulty {
        panic_on: keys::request(&t),
        ..Faulty::new(&dir.path().join("store"))
    });
    // Both slots' receives panic a few times first: the pool must go on.
    let queue = Arc::new(PanickyQueue {
        inner: LocalQueue::open(&dir.path().join("queues"), runner::MAX_RECEIVES).unwrap(),
        panics: AtomicI64::new(4),
    });
    let c = Arc::new(Ctx {
        store: store.clone(),
        queue: queue.clone(),
        scratch: dir.path().join("scratch"),
    });
    submit(c.store.as_ref(), c.queue.as_ref(), &t);
    // Ingest reads the request first: that read panics.
    store.armed.store(true, Ordering::SeqCst);
    match drive(c.clone(), &t) {
        End::Failed(e) => assert!(e.contains("injected panic reading"), "{e}"),
        other => panic!("expected a failed title, got {other:?}"),
    }
    assert!(
        queue.panics.load(Ordering::SeqCst) < 0,
        "receives never panicked"
    );
    assert_eq!(
        workers::progress::backlog(queue.as_ref()).unwrap(),
        0,
        "the panicked job was not settled"
    );
    workers::retry::retry(c.store.as_ref(), c.queue.as_ref(), &t).unwrap();
    assert!(matches!(drive(c, &t), End::Published));
}
