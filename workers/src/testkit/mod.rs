//! Test support shared by the tests of every backend crate (feature `testkit`, never in
//! a production build): the conformance suites of the two traits and real S3/SQS
//! servers started on 127.0.0.1.

pub mod conformance;
pub mod http;
pub mod servers;
