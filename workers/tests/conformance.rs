//! The conformance suites (workers::testkit) on the embedded store and queue.

use std::sync::Arc;

use workers::queue::LocalQueue;
use workers::store::LocalStore;
use workers::testkit::conformance::{check_queue, check_store};

#[test]
fn store_conformance_embedded() {
    let tmp = tempfile::tempdir().unwrap();
    check_store(&LocalStore::open(tmp.path()).unwrap(), "embedded", true);
}

#[test]
fn queue_conformance_embedded() {
    let tmp = tempfile::tempdir().unwrap();
    let q = LocalQueue::open(tmp.path(), workers::runner::MAX_RECEIVES).unwrap();
    check_queue(Arc::new(q), "embedded");
}
