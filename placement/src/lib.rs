//! `placement` plans which published titles go onto which CDN appliances (Open
//! Connect-style), by popularity: per site, the most popular titles fill the site,
//! the hottest on flash appliances and the long tail on storage appliances, each title
//! with copies in proportion to its popularity, each copy on the appliance that ranks
//! highest for it by rendezvous hashing (so adding a title or an appliance moves few
//! titles and placement is stable from day to day). Pure: callers hand in the fleet
//! (TOML text) and the catalogue; the output is a fill plan per appliance and its diff
//! against the previous plan.

mod error;
mod fleet;
mod hash;
mod plan;
mod steer;

pub use error::PlacementError;
pub use fleet::{Appliance, ApplianceKind, Fleet, Site, Tier, TierPopularity};
pub use hash::rendezvous_score;
pub use plan::{
    diff, plan, plan_from, Catalogue, CatalogueFile, CatalogueTitle, FillPlan, PlanDiff,
    PlannedFile,
};
pub use steer::{steer, Steer, Via};
