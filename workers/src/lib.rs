//! `workers`: the farm core. The domain (title ids and keys, requests, plans, status,
//! messages), the `ObjectStore` and `Queue` traits with their embedded backends (a
//! local directory with the S3 key layout, a durable local queue with SQS semantics,
//! the store lock), the pipeline (submit, ingest, encode, audio, package, place, retry)
//! and the one worker pool that `vodfarm run` and `vodfarm worker` share, with progress
//! as data. Stages are idempotent with deterministic keys, so at-least-once delivery
//! gives exactly-once effects. No AWS SDK, no HTTP server, no CLI: those are the
//! `vodfarm-aws`, `appliance` and `vodfarm` crates.

#![warn(missing_docs)]

pub mod analysis;
pub mod deadletter;
pub mod error;
pub mod evaluate;
pub mod events;
pub mod keys;
pub mod lock;
pub mod measured;
pub mod messages;
pub mod metered;
pub mod metrics;
pub mod place;
pub mod plan;
pub mod pool;
pub mod progress;
pub mod qc;
pub mod queue;
pub mod retry;
pub mod room;
pub mod runner;
pub mod stages;
pub mod status;
pub mod store;
pub mod submit;
pub mod subtitles;
#[cfg(feature = "testkit")]
pub mod testkit;

pub use error::{FarmError, StageError};
pub use keys::TitleId;
