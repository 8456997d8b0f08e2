//! `ladders` owns ladder presets (TOML data files) and the pure maths that fits a
//! ladder and a segment grid to a master: no upscaling, aspect ratio kept with even
//! dimensions, frame-rate caps as whole-frame decimation, a grid whose segment and IDR
//! boundaries are whole frames for every rung. It also owns per-title ladders: the
//! policy file, the rate–quality convex hull, the choice of rungs along it, BD-rate
//! and the SVG plot of a decision, and which shot starts get an IDR of their own. No
//! I/O: callers hand in text and values.

mod bdrate;
mod choose;
mod error;
mod fit;
mod grid;
mod hull;
mod pchip;
mod policy;
mod preset;
mod probing;
mod shots;
mod svg;

pub use bdrate::bd_rate;
pub use choose::{choose_ladder, ChosenRung, Decision, MeasuredRung, RungCheck};
pub use error::LadderError;
pub use fit::{fit_ladder, FittedRung, MasterShape};
pub use grid::{plan_grid, Grid};
pub use hull::{upper_hull, Measured};
pub use policy::{
    builtin_policy, AnalysisPolicy, EncodePolicy, FinalRateControl, PerTitlePolicy, RungPolicy,
};
pub use preset::{builtin, builtin_names, Ladder, RateControl, Rung};
pub use probing::{next_probes, Probe};
pub use shots::shot_idrs;
pub use svg::plot_svg;
