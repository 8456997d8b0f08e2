//! The vodfarm binary's integration tests, in one binary (fast to build on two cores):
//! the `vodfarm` binary on fixture masters, read back with independent readers
//! (m3u8-rs, FFmpeg's ffprobe, a box reader), bad inputs, crash safety, real
//! players, VMAF and per-title ladders.

mod support;

mod audio;
mod bad_input;
mod camera;
mod chaos;
mod console;
mod convert;
mod crash;
mod deploy;
mod determinism;
mod e2e;
mod events;
mod farm;
mod oca;
mod place;
mod players;
mod qc;
mod quality;
mod servers;
mod subtitles;
mod sync;
