//! The appliance side of placement (Open Connect-style): the fill agent that brings an
//! appliance's cache in line with its fill plan inside the site's fill window, the HTTP
//! server that plays the cache out to players (`oca serve`), and the steering service
//! that names the appliance a player should use.

pub mod cache;
pub mod fill;
pub mod http;
pub mod serve;
pub mod steer;

pub use cache::Cache;
pub use fill::{fill, ApplianceReport, FillOptions};
