//! The appliance side of placement (Open Connect-style): the fill agent that brings an
//! appliance's cache in line with its fill plan inside the site's fill window, and the
//! HTTP server that plays the cache out to players.

pub mod cache;
pub mod fill;
pub mod serve;

pub use cache::Cache;
pub use fill::{fill, ApplianceReport, FillOptions};
