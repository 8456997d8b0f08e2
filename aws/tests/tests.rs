//! The AWS backends against real servers started on 127.0.0.1 (moto for S3, SQS and
//! SNS, s3s-fs for S3): the same conformance suites as the embedded backends, and the
//! events' SNS topic.

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

/// Job events published to an SNS topic on moto reach a subscribed SQS queue as they
/// were sent, with `kind` and `title` attributes a subscription can filter on: a
/// second queue that asks for `failed` only gets that one. The topic is made as its
/// ARN says (`ensure`, what `vodfarm init` does, left alone once it exists), and a
/// topic that does not exist is a refusal, not a transient failure.
#[test]
fn sns_topic_publishes_to_subscribed_queues_on_moto() {
    use aws_sdk_sns::Client;
    use workers::queue::Queue;
    let server = servers::moto();
    let arn = "arn:aws:sns:us-east-1:123456789012:vodfarm-events";
    let timeout = Duration::from_secs(10);
    let topic = vodfarm_aws::SnsTopic::new(arn, Some(&server.url), timeout).unwrap();
    topic.ensure().unwrap();
    topic.ensure().unwrap(); // it exists now: left as it is

    let q = SqsQueue::new("sns-", Some(&server.url), Some("us-east-1"));
    let visibility = Duration::from_secs(30);
    for name in ["all", "failures"] {
        q.create(name, workers::runner::MAX_RECEIVES, visibility)
            .unwrap();
    }
    let sdk = vodfarm_aws::runtime::sdk_config(Some(&server.url), Some("us-east-1"));
    let sns = Client::new(&sdk);
    for (name, filter) in [("all", None), ("failures", Some(r#"{"kind": ["failed"]}"#))] {
        let mut req = sns
            .subscribe()
            .topic_arn(arn)
            .protocol("sqs")
            .endpoint(format!("arn:aws:sqs:us-east-1:123456789012:sns-{name}"))
            .attributes("RawMessageDelivery", "true");
        if let Some(f) = filter {
            req = req.attributes("FilterPolicy", f);
        }
        vodfarm_aws::runtime::block_on(req.send()).unwrap();
    }

    let events = [
        (
            r#"{"id":"t:1","kind":"submitted","note":"ünïcødé \" quotes"}"#,
            "submitted",
        ),
        (r#"{"id":"t:2","kind":"inspected"}"#, "inspected"),
        (r#"{"id":"t:3","kind":"failed"}"#, "failed"),
    ];
    for (body, kind) in events {
        let id = topic
            .publish(body, &[("kind", kind), ("title", "t")], "t", "")
            .unwrap();
        assert!(!id.is_empty());
    }
    let drain = |name: &str| {
        let mut got = Vec::new();
        while let Some(m) = q.receive(name, visibility, Duration::ZERO).unwrap() {
            got.push(m.body);
        }
        got.sort();
        got
    };
    let mut all: Vec<String> = events.iter().map(|(b, _)| b.to_string()).collect();
    all.sort();
    assert_eq!(drain("all"), all, "every event, as sent");
    assert_eq!(
        drain("failures"),
        vec![events[2].0.to_string()],
        "filtered by kind"
    );

    let missing = vodfarm_aws::SnsTopic::new(
        "arn:aws:sns:us-east-1:123456789012:no-such-topic",
        Some(&server.url),
        timeout,
    )
    .unwrap();
    let e = missing.publish("{}", &[], "t", "").unwrap_err();
    assert!(!e.transient, "{e:?}");
    assert!(e.detail.contains("no-such-topic"), "{e}");
}
