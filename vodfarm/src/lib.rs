//! The `vodfarm` binary's library half: the command line (clap), the backend config,
//! one module per command group, signals. `main.rs` only parses and dispatches.
//! Everything a command does beyond arguments and printing lives in the core crates.

pub mod cli;
pub mod commands;
pub mod config;
pub mod heap;
pub mod signals;
pub mod sinks;

/// Cores of this machine: the default for worker threads and analysis encodes.
pub fn cores() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
}
