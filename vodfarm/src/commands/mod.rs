//! One module per command group; each function is a whole command.

pub mod events;
pub mod farm;
pub mod ladder;
pub mod place;
pub mod run;
pub mod sample;
pub mod serve;
pub mod status;
