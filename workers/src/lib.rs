//! `workers` owns everything with side effects outside FFmpeg: the message schemas, the
//! `ObjectStore` and `Queue` traits with their embedded backends (a local directory with
//! the S3 key layout, a durable local queue with SQS semantics), the stages, and the
//! `vodfarm` binary. Stages are idempotent with deterministic keys, so at-least-once
//! delivery gives exactly-once effects.

pub mod analysis;
pub mod aws;
pub mod config;
pub mod error;
pub mod evaluate;
pub mod http;
pub mod keys;
pub mod messages;
pub mod oca;
pub mod place;
pub mod plan;
pub mod queue;
pub mod queue_sqs;
pub mod runner;
pub mod stages;
pub mod status;
pub mod steer;
pub mod store;
pub mod store_s3;

pub use error::StageError;
pub use keys::TitleId;
