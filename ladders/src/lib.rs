//! `ladders` owns ladder presets (TOML data files) and the pure maths that fits a
//! ladder and a segment grid to a master: no upscaling, aspect ratio kept with even
//! dimensions, frame-rate caps as whole-frame decimation, a grid whose segment and IDR
//! boundaries are whole frames for every rung. No I/O: callers hand in text and values.

mod error;
mod fit;
mod grid;
mod preset;

pub use error::LadderError;
pub use fit::{fit_ladder, FittedRung, MasterShape};
pub use grid::{plan_grid, Grid};
pub use preset::{builtin, builtin_names, Ladder, RateControl, Rung};
