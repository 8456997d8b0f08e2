//! `vodfarm-aws`: the farm's backends on AWS. [`S3Store`] implements workers'
//! `ObjectStore` on S3, [`SqsQueue`] its `Queue` on SQS, and [`SnsTopic`] publishes job
//! events to an SNS topic; all block on one tokio
//! runtime per process, because the stages are synchronous. The core (`workers`) never
//! compiles the AWS SDK: only this crate and the binary do.

pub mod runtime;
pub mod s3;
pub mod sns;
pub mod sqs;

pub use s3::S3Store;
pub use sns::SnsTopic;
pub use sqs::SqsQueue;
