//! The farm core's integration tests, in one binary: the conformance suites on the
//! embedded backends, and faults (a full disk, panics) with the pipeline driven
//! through the library.

mod conformance;
mod events;
mod faults;
mod qc;
