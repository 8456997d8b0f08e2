//! The AWS backends against real servers started on 127.0.0.1 (moto for S3 and SQS,
//! s3s-fs for S3): the same conformance suites as the embedded backends.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use vodfarm_aws::{S3Store, SqsQueue};
use workers::testkit::conformance::{check_event_numbering, check_queue, check_store};
use workers::testkit::servers;

fn buckets(prefix: &str) -> BTreeMap<String, String> {
    ["ingest", "origin", "control"]
        .iter()
        .map(|b| (b.to_string(), format!("{prefix}{b}")))
        .collect()
}

#[test]
fn store_and_queue_conformance_moto() {
    let server = servers::moto();
    let store = S3Store::new(
        "conf-work",
        buckets("conf-"),
        Some(&server.url),
        Some("us-east-1"),
    );
    store.create_buckets().unwrap();
    check_store(&store, "moto", true);
    check_event_numbering(&store, "moto", 4, 8);
    let q = SqsQueue::new("conf-", Some(&server.url), Some("us-east-1"));
    q.create(
        "ingest",
        workers::runner::MAX_RECEIVES,
        Duration::from_secs(30),
    )
    .unwrap();
    check_queue(Arc::new(q), "moto");
}

#[test]
fn store_conformance_s3s_fs() {
    let server = servers::s3s_fs();
    let mut b = BTreeMap::new();
    b.insert("control".to_string(), "vodfarm-control".to_string());
    let store = S3Store::new("vodfarm-work", b, Some(&server.url), Some("us-east-1"));
    store.create_buckets().unwrap();
    check_store(&store, "s3s-fs", false);
}
