//! One conformance suite per trait, run against every backend: `ObjectStore` on the
//! embedded store, on moto and on s3s-fs; `Queue` on the embedded queue and on moto's
//! SQS. The same assertions for all: what the stages rely on, nothing more. These
//! functions panic on the first broken expectation (they are test code, shared by the
//! tests of each backend's crate).

use std::io::Read;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use sha2::Digest;

use crate::queue::Queue;
use crate::store::{ObjectStore, StoreError};

/// `atomic_create`: whether the server makes concurrent conditional creates atomic.
/// S3 does, and so do moto and the embedded store; s3s-fs 0.14 checks existence and
/// then writes, so eight racing creates all "win" there (seen in this suite): it is
/// held to the sequential behaviour only.
pub fn check_store(store: &dyn ObjectStore, backend: &str, atomic_create: bool) {
    let k = |s: &str| format!("work/conformance/{s}");
    // Round trip, absent keys.
    store.put(&k("a/1"), b"one").unwrap();
    assert_eq!(store.get(&k("a/1")).unwrap(), b"one", "{backend}");
    assert!(store.exists(&k("a/1")).unwrap(), "{backend}");
    assert!(!store.exists(&k("a/none")).unwrap(), "{backend}");
    assert!(
        matches!(store.get(&k("a/none")), Err(StoreError::NotFound { .. })),
        "{backend}: a missing key is NotFound"
    );
    store.put(&k("a/1"), b"uno").unwrap();
    assert_eq!(
        store.get(&k("a/1")).unwrap(),
        b"uno",
        "{backend}: overwrite"
    );

    // Files, small and multipart (20 MiB with a pattern that catches part mix-ups).
    let tmp = tempfile::tempdir().unwrap();
    for (name, size) in [("small", 1000usize), ("large", 20 * 1024 * 1024 + 123)] {
        let src = tmp.path().join(name);
        let data: Vec<u8> = (0..size)
            .map(|i| (i / 4096 % 251) as u8 ^ i as u8)
            .collect();
        std::fs::write(&src, &data).unwrap();
        store.put_file(&k(name), &src).unwrap();
        let dst = tmp.path().join(format!("{name}.back"));
        store.get_to_file(&k(name), &dst).unwrap();
        assert_eq!(
            sha2::Sha256::digest(std::fs::read(&dst).unwrap()),
            sha2::Sha256::digest(&data),
            "{backend}: {name} file round trip"
        );
        // Ranged reads: from the middle, and from the very end (nothing).
        let mut rest = Vec::new();
        store
            .read_from(&k(name), size as u64 / 3)
            .unwrap()
            .read_to_end(&mut rest)
            .unwrap();
        assert!(
            rest == data[size / 3..],
            "{backend}: {name} read_from the middle"
        );
        let mut none = Vec::new();
        store
            .read_from(&k(name), size as u64)
            .unwrap()
            .read_to_end(&mut none)
            .unwrap();
        assert!(none.is_empty(), "{backend}: read_from the end");
    }
    assert!(matches!(
        store.read_from(&k("a/none"), 0),
        Err(StoreError::NotFound { .. })
    ));

    // Conditional create: one winner of a race, the loser sees the winner's bytes.
    assert!(
        store.create_if_absent(&k("claim/x"), b"first").unwrap(),
        "{backend}"
    );
    assert!(
        !store.create_if_absent(&k("claim/x"), b"second").unwrap(),
        "{backend}"
    );
    assert_eq!(store.get(&k("claim/x")).unwrap(), b"first", "{backend}");
    let wins = AtomicUsize::new(0);
    let racers = if atomic_create { 8 } else { 1 };
    std::thread::scope(|s| {
        for i in 0..racers {
            let wins = &wins;
            s.spawn(move || {
                if store
                    .create_if_absent(&k("claim/race"), format!("w{i}").as_bytes())
                    .unwrap()
                {
                    wins.fetch_add(1, Ordering::SeqCst);
                }
            });
        }
    });
    assert_eq!(
        wins.load(Ordering::SeqCst),
        1,
        "{backend}: exactly one creator wins"
    );

    // Listing: sorted, recursive, only the prefix.
    store.put(&k("a/2/deep"), b"").unwrap();
    store.put(&k("ab"), b"").unwrap();
    assert_eq!(
        store.list(&k("a/")).unwrap(),
        vec![k("a/1"), k("a/2/deep")],
        "{backend}: list"
    );
    // More keys than one S3 listing page (1,000) holds.
    std::thread::scope(|s| {
        for t in 0..8 {
            s.spawn(move || {
                for i in (t..1005).step_by(8) {
                    store.put(&k(&format!("many/{i:04}")), b"").unwrap();
                }
            });
        }
    });
    let many = store.list(&k("many/")).unwrap();
    assert_eq!(many.len(), 1005, "{backend}: listing past one page");
    assert!(many.windows(2).all(|w| w[0] < w[1]), "{backend}: sorted");
    // Another top-level prefix may live in another bucket.
    store.put("control/conformance/c", b"c").unwrap();
    assert_eq!(
        store.list("control/conformance/").unwrap(),
        vec!["control/conformance/c".to_string()]
    );

    // Delete, and deleting what is gone.
    store.delete(&k("a/1")).unwrap();
    assert!(!store.exists(&k("a/1")).unwrap(), "{backend}");
    store.delete(&k("a/1")).unwrap();
}

/// Hold a `Queue` backend to SQS semantics: visibility, message ids, long polling, dead-letters.
pub fn check_queue(q: Arc<dyn Queue>, backend: &str) {
    let name = "ingest";
    let short = Duration::from_secs(1);
    // Send, receive, delete.
    q.send(name, "m1").unwrap();
    let m = q
        .receive(name, short * 30, short)
        .unwrap()
        .expect("a message");
    assert_eq!((m.body.as_str(), m.receive_count), ("m1", 1), "{backend}");
    q.delete(name, &m.receipt).unwrap();
    assert!(
        q.receive(name, short, short).unwrap().is_none(),
        "{backend}: deleted"
    );

    // Visibility: hidden while held, back after it lapses, same id, counted.
    q.send(name, "m2").unwrap();
    let m = q.receive(name, short, short).unwrap().expect("m2");
    assert!(
        q.receive(name, short, Duration::ZERO).unwrap().is_none(),
        "{backend}: hidden"
    );
    std::thread::sleep(Duration::from_millis(1600));
    let again = q
        .receive(name, short * 30, short)
        .unwrap()
        .expect("m2 again");
    assert_eq!(again.body, "m2");
    assert_eq!(again.id, m.id, "{backend}: a redelivery keeps its id");
    assert_eq!(again.receive_count, 2, "{backend}");
    // Extending keeps it hidden past its first deadline.
    q.extend(name, &again.receipt, short * 4).unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    assert!(
        q.receive(name, short, Duration::ZERO).unwrap().is_none(),
        "{backend}: extended"
    );
    assert_eq!(q.in_flight(name).unwrap(), 1, "{backend}: in flight");
    q.delete(name, &again.receipt).unwrap();

    // Another message with the same body has another id.
    q.send(name, "m2").unwrap();
    let other = q.receive(name, short * 30, short).unwrap().expect("m2'");
    assert_ne!(other.id, m.id, "{backend}");
    q.delete(name, &other.receipt).unwrap();

    // Long polling: an empty queue waits; a message sent meanwhile is returned early.
    let t0 = Instant::now();
    assert!(q.receive(name, short, short * 2).unwrap().is_none());
    assert!(
        t0.elapsed() >= Duration::from_millis(1500),
        "{backend}: waited"
    );
    let sender = q.clone();
    let h = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(500));
        sender.send(name, "late").unwrap();
    });
    let t0 = Instant::now();
    let late = q
        .receive(name, short * 30, short * 10)
        .unwrap()
        .expect("late");
    assert!(
        t0.elapsed() < Duration::from_secs(8),
        "{backend}: long poll returned early"
    );
    h.join().unwrap();
    q.delete(name, &late.receipt).unwrap();

    // Depth.
    for i in 0..3 {
        q.send(name, &format!("d{i}")).unwrap();
    }
    assert_eq!(q.depth(name).unwrap(), 3, "{backend}: depth");

    // Dead-lettering after MAX_RECEIVES receives without a delete.
    let mut seen = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        match q.receive(name, short, short).unwrap() {
            Some(m) => seen.push(m.body),
            None if q.depth(&format!("{name}-dlq")).unwrap() >= 3 => break,
            None => {}
        }
    }
    assert_eq!(
        q.depth(&format!("{name}-dlq")).unwrap(),
        3,
        "{backend}: all three dead-lettered ({} receives)",
        seen.len()
    );
    assert!(
        seen.len() >= 3 * crate::runner::MAX_RECEIVES as usize,
        "{backend}"
    );
}

/// Job events numbered on `store` by `threads` racers at once (as that many worker
/// processes would): every event stored once, numbered 1..=n without gaps. Only for
/// backends whose conditional create is atomic (see [`check_store`]).
pub fn check_event_numbering(store: &dyn ObjectStore, backend: &str, threads: usize, each: usize) {
    use crate::events::{self, What};
    let t = crate::TitleId::parse("conformance-events").unwrap();
    std::thread::scope(|s| {
        for i in 0..threads {
            let t = &t;
            s.spawn(move || {
                for j in 0..each {
                    events::append(
                        store,
                        t,
                        What::Failed {
                            cause: format!("{i}/{j}"),
                        },
                    )
                    .unwrap_or_else(|e| panic!("{backend}: {e}"));
                }
            });
        }
    });
    let stored = events::read(store, &t).unwrap();
    let seqs: Vec<u64> = stored.iter().map(|e| e.seq).collect();
    assert_eq!(
        seqs,
        (1..=(threads * each) as u64).collect::<Vec<_>>(),
        "{backend}: gap-free"
    );
    let mut causes: Vec<String> = stored
        .iter()
        .map(|e| match &e.what {
            What::Failed { cause } => cause.clone(),
            other => panic!("{backend}: {other:?}"),
        })
        .collect();
    causes.sort();
    causes.dedup();
    assert_eq!(
        causes.len(),
        threads * each,
        "{backend}: each event stored once"
    );
}
