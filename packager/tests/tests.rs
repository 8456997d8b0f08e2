//! The packager's integration tests, one binary (fast to build on two cores): init and
//! media segments read back with an independent parser (mp4-atom, strict), the
//! encoded-chunk file format, and property tests that stand in for fuzz targets.

mod chunk_file;
mod init;
mod no_panic;
mod segments;
mod support;
