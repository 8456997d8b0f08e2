//! The farm's Prometheus metrics: one registry per process, counters and histograms
//! updated where things happen (the runner, the encode stage, the metered store), and
//! gauges of the farm's state (queues, titles) filled in when scraped. The HTTP side
//! (`/metrics`) is the console crate's; here is only the data and the text encoding.

use std::sync::OnceLock;
use std::time::Duration;

use prometheus::{
    Encoder, GaugeVec, HistogramOpts, HistogramVec, IntCounterVec, IntGaugeVec, Opts, Registry,
    TextEncoder,
};

use crate::deadletter;
use crate::progress;
use crate::queue::Queue;
use crate::runner;
use crate::status::{self, State};
use crate::store::ObjectStore;

/// The stages jobs are counted by ([`crate::messages::Message::stage`]).
pub const STAGES: [&str; 5] = ["ingest", "encode", "audio", "package", "place"];

/// Every metric of the process.
pub struct Metrics {
    registry: Registry,
    /// Jobs received by stage (ingest, encode, audio, package, place).
    pub jobs_received: IntCounterVec,
    /// Jobs that succeeded, by stage.
    pub jobs_succeeded: IntCounterVec,
    /// Jobs that failed for good (the title failed), by stage.
    pub jobs_failed: IntCounterVec,
    /// Jobs that failed transiently and will be tried again, by stage.
    pub jobs_retried: IntCounterVec,
    /// Messages this process moved to a dead-letter queue, by queue: malformed ones (the
    /// runner), and on the embedded queue those received too often or unreadable as an
    /// envelope (the receiving process moves them). SQS's own redrive is not seen here:
    /// the dead-letter queue's depth gauge shows it.
    pub jobs_dead_lettered: IntCounterVec,
    /// How long jobs took, by stage and outcome.
    pub job_seconds: HistogramVec,
    /// Wall time of a chunk's encode, by rung size (every rung of a chunk is encoded
    /// in one pass, so each rung of the chunk observes the pass's time).
    pub chunk_encode_seconds: HistogramVec,
    /// Frames encoded, by rung size.
    pub encoded_frames: IntCounterVec,
    /// Frames per second of the last chunk encoded, by rung size.
    pub encode_fps: GaugeVec,
    /// Bytes read from the object store, by backend.
    pub store_read_bytes: IntCounterVec,
    /// Bytes written to the object store, by backend.
    pub store_written_bytes: IntCounterVec,
    /// Messages visible, by queue (dead-letter queues included), when scraped.
    pub queue_depth: IntGaugeVec,
    /// Messages in flight, by queue, when scraped.
    pub queue_in_flight: IntGaugeVec,
    /// Titles by state, when scraped (the console's process only).
    pub titles: IntGaugeVec,
    /// Bytes an appliance holds of its plan, by appliance (from its report).
    pub appliance_held_bytes: IntGaugeVec,
    /// Bytes of an appliance's fill plan, by appliance.
    pub appliance_plan_bytes: IntGaugeVec,
    /// Bytes fetched by an appliance's last fill, by appliance.
    pub appliance_fill_bytes: IntGaugeVec,
    /// 1 when an appliance reports itself healthy, else 0.
    pub appliance_healthy: IntGaugeVec,
}

fn counter(r: &Registry, name: &str, help: &str, labels: &[&str]) -> IntCounterVec {
    let c = IntCounterVec::new(Opts::new(name, help), labels).expect("valid metric");
    r.register(Box::new(c.clone())).expect("registered once");
    c
}

fn gauge(r: &Registry, name: &str, help: &str, labels: &[&str]) -> IntGaugeVec {
    let g = IntGaugeVec::new(Opts::new(name, help), labels).expect("valid metric");
    r.register(Box::new(g.clone())).expect("registered once");
    g
}

fn histogram(
    r: &Registry,
    name: &str,
    help: &str,
    labels: &[&str],
    buckets: Vec<f64>,
) -> HistogramVec {
    let h = HistogramVec::new(HistogramOpts::new(name, help).buckets(buckets), labels)
        .expect("valid metric");
    r.register(Box::new(h.clone())).expect("registered once");
    h
}

/// Job and encode times span a tenth of a second (a place job) to tens of minutes (a
/// long title's ingest).
fn seconds_buckets() -> Vec<f64> {
    prometheus::exponential_buckets(0.1, 2.0, 16).expect("valid buckets")
}

impl Metrics {
    fn new() -> Self {
        let r = Registry::new();
        let fps = GaugeVec::new(
            Opts::new(
                "vodfarm_chunk_encode_frames_per_second",
                "Frames per second of the last chunk encoded, by rung size",
            ),
            &["size"],
        )
        .expect("valid metric");
        r.register(Box::new(fps.clone())).expect("registered once");
        let m = Self {
            jobs_received: counter(
                &r,
                "vodfarm_jobs_received_total",
                "Jobs received, by stage",
                &["stage"],
            ),
            jobs_succeeded: counter(
                &r,
                "vodfarm_jobs_succeeded_total",
                "Jobs that succeeded, by stage",
                &["stage"],
            ),
            jobs_failed: counter(
                &r,
                "vodfarm_jobs_failed_total",
                "Jobs that failed their title, by stage",
                &["stage"],
            ),
            jobs_retried: counter(
                &r,
                "vodfarm_jobs_retried_total",
                "Jobs that failed transiently and will be retried, by stage",
                &["stage"],
            ),
            jobs_dead_lettered: counter(
                &r,
                "vodfarm_jobs_dead_lettered_total",
                "Messages this process moved to a dead-letter queue (malformed, or received too often on the embedded queue), by queue",
                &["queue"],
            ),
            job_seconds: histogram(
                &r,
                "vodfarm_job_duration_seconds",
                "How long jobs took, by stage and outcome",
                &["stage", "outcome"],
                seconds_buckets(),
            ),
            chunk_encode_seconds: histogram(
                &r,
                "vodfarm_chunk_encode_seconds",
                "Wall time of a chunk's encode pass, by rung size",
                &["size"],
                seconds_buckets(),
            ),
            encoded_frames: counter(
                &r,
                "vodfarm_encoded_frames_total",
                "Frames encoded, by rung size",
                &["size"],
            ),
            encode_fps: fps,
            store_read_bytes: counter(
                &r,
                "vodfarm_store_read_bytes_total",
                "Bytes read from the object store, by backend",
                &["backend"],
            ),
            store_written_bytes: counter(
                &r,
                "vodfarm_store_written_bytes_total",
                "Bytes written to the object store, by backend",
                &["backend"],
            ),
            queue_depth: gauge(
                &r,
                "vodfarm_queue_depth",
                "Messages visible, by queue",
                &["queue"],
            ),
            queue_in_flight: gauge(
                &r,
                "vodfarm_queue_in_flight",
                "Messages in flight, by queue",
                &["queue"],
            ),
            titles: gauge(&r, "vodfarm_titles", "Titles by state", &["state"]),
            appliance_held_bytes: gauge(
                &r,
                "vodfarm_appliance_held_bytes",
                "Bytes an appliance holds of its fill plan",
                &["appliance"],
            ),
            appliance_plan_bytes: gauge(
                &r,
                "vodfarm_appliance_plan_bytes",
                "Bytes of an appliance's fill plan",
                &["appliance"],
            ),
            appliance_fill_bytes: gauge(
                &r,
                "vodfarm_appliance_last_fill_bytes",
                "Bytes fetched by an appliance's last fill",
                &["appliance"],
            ),
            appliance_healthy: gauge(
                &r,
                "vodfarm_appliance_healthy",
                "1 when an appliance reports itself healthy",
                &["appliance"],
            ),
            registry: r,
        };
        // Every stage's counters exist from the start, at 0: a rate over a counter that
        // appears only with its first event misses that event.
        for stage in STAGES {
            for c in [
                &m.jobs_received,
                &m.jobs_succeeded,
                &m.jobs_failed,
                &m.jobs_retried,
            ] {
                c.with_label_values(&[stage]);
            }
        }
        for q in runner::QUEUES {
            m.jobs_dead_lettered.with_label_values(&[q]);
        }
        m
    }

    /// Everything in the Prometheus text format (version 0.0.4).
    pub fn encode(&self) -> String {
        let mut out = Vec::new();
        TextEncoder::new()
            .encode(&self.registry.gather(), &mut out)
            .expect("text encoding does not fail");
        String::from_utf8(out).expect("the text format is UTF-8")
    }

    /// Record a job's outcome and duration.
    pub fn job_done(&self, stage: &str, outcome: Outcome, took: Duration) {
        let c = match outcome {
            Outcome::Succeeded => &self.jobs_succeeded,
            Outcome::Failed => &self.jobs_failed,
            Outcome::Retried => &self.jobs_retried,
        };
        c.with_label_values(&[stage]).inc();
        self.job_seconds
            .with_label_values(&[stage, outcome.as_str()])
            .observe(took.as_secs_f64());
    }

    /// Record one rung of a chunk encode pass: `frames` in `took` at `size` (`720p`).
    pub fn chunk_encoded(&self, size: &str, frames: u64, took: Duration) {
        let secs = took.as_secs_f64();
        self.chunk_encode_seconds
            .with_label_values(&[size])
            .observe(secs);
        self.encoded_frames
            .with_label_values(&[size])
            .inc_by(frames);
        if secs > 0.0 {
            self.encode_fps
                .with_label_values(&[size])
                .set(frames as f64 / secs);
        }
    }

    /// Set the queue gauges from the queues now: every farm queue and its dead-letter
    /// queue.
    pub fn observe_queues(&self, queue: &dyn Queue) -> Result<(), crate::queue::QueueError> {
        for q in runner::QUEUES {
            for name in [q.to_string(), deadletter::dlq(q)] {
                self.queue_depth
                    .with_label_values(&[&name])
                    .set(queue.depth(&name)? as i64);
                self.queue_in_flight
                    .with_label_values(&[&name])
                    .set(queue.in_flight(&name)? as i64);
            }
        }
        Ok(())
    }

    /// Set the titles-by-state gauge from the status records now (lists every title:
    /// the console's process does it, not every worker).
    pub fn observe_titles(&self, store: &dyn ObjectStore) -> Result<(), crate::FarmError> {
        let mut counts = std::collections::BTreeMap::new();
        for s in [
            State::Submitted,
            State::Encoding,
            State::Packaging,
            State::Published,
            State::Failed,
        ] {
            counts.insert(s, 0i64);
        }
        for t in progress::titles(store)? {
            if let Some(s) = status::read(store, &t) {
                *counts.entry(s.state).or_default() += 1;
            }
        }
        for (state, n) in counts {
            self.titles.with_label_values(&[state.as_str()]).set(n);
        }
        Ok(())
    }
}

/// How a job ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Done.
    Succeeded,
    /// Failed its title.
    Failed,
    /// Failed transiently: it comes back.
    Retried,
}

impl Outcome {
    fn as_str(self) -> &'static str {
        match self {
            Outcome::Succeeded => "succeeded",
            Outcome::Failed => "failed",
            Outcome::Retried => "retried",
        }
    }
}

/// The process's metrics.
pub fn get() -> &'static Metrics {
    static M: OnceLock<Metrics> = OnceLock::new();
    M.get_or_init(Metrics::new)
}
