//! Steering: which appliance a player at a site should stream a title from. An
//! appliance at the client's own site that holds the whole title, else one at the
//! site's nearby sites in their listed order, else the origin. Within a site flash
//! comes before storage (it is there to serve the hottest titles), and among equals
//! the rendezvous score of (appliance, title) picks, so one title's players all go to
//! the same appliance while different titles spread over the site.

use serde::{Deserialize, Serialize};

use crate::fleet::{ApplianceKind, Fleet};
use crate::{rendezvous_score, PlacementError};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Via {
    /// An appliance at the client's site.
    Site,
    /// An appliance at one of the site's nearby sites.
    Nearby,
    Origin,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Steer {
    pub via: Via,
    pub appliance: Option<String>,
    pub site: Option<String>,
    /// The appliance's base URL (None for the origin).
    pub base_url: Option<String>,
}

/// `holds(appliance, title)`: whether the appliance reported the whole title as held.
pub fn steer(
    fleet: &Fleet,
    holds: impl Fn(&str, &str) -> bool,
    title: &str,
    site: &str,
) -> Result<Steer, PlacementError> {
    let home =
        fleet
            .sites
            .iter()
            .find(|s| s.id == site)
            .ok_or_else(|| PlacementError::Invalid {
                detail: format!("site '{site}' is not in the fleet"),
            })?;
    let order = std::iter::once((home, Via::Site)).chain(
        home.nearby
            .iter()
            .filter_map(|n| fleet.sites.iter().find(|s| &s.id == n))
            .map(|s| (s, Via::Nearby)),
    );
    for (s, via) in order {
        let best = s
            .appliances
            .iter()
            .filter(|a| a.url.is_some() && holds(&a.id, title))
            .max_by_key(|a| {
                (
                    a.kind == ApplianceKind::Flash,
                    rendezvous_score(&a.id, title),
                )
            });
        if let Some(a) = best {
            return Ok(Steer {
                via,
                appliance: Some(a.id.clone()),
                site: Some(s.id.clone()),
                base_url: a.url.clone(),
            });
        }
    }
    Ok(Steer {
        via: Via::Origin,
        appliance: None,
        site: None,
        base_url: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const FLEET: &str = r#"
popularity_per_copy = 100.0
max_copies = 2
[[site]]
id = "lon"
nearby = ["ams"]
[[site.appliance]]
id = "lon-f"
kind = "flash"
capacity_bytes = 1000
fill_rate_bps = 1000
url = "http://lon-f"
[[site.appliance]]
id = "lon-s"
kind = "storage"
capacity_bytes = 1000
fill_rate_bps = 1000
url = "http://lon-s"
[[site]]
id = "ams"
[[site.appliance]]
id = "ams-s"
kind = "storage"
capacity_bytes = 1000
fill_rate_bps = 1000
url = "http://ams-s"
"#;

    #[test]
    fn site_then_nearby_then_origin() {
        let f = Fleet::parse(FLEET).unwrap();
        let held = |list: &'static [(&'static str, &'static str)]| {
            move |a: &str, t: &str| list.contains(&(a, t))
        };
        // Flash before storage at the client's site.
        let s = steer(&f, held(&[("lon-s", "x"), ("lon-f", "x")]), "x", "lon").unwrap();
        assert_eq!(
            (s.via, s.base_url.as_deref()),
            (Via::Site, Some("http://lon-f"))
        );
        // Not at the site: the nearby one.
        let s = steer(&f, held(&[("ams-s", "x")]), "x", "lon").unwrap();
        assert_eq!(
            (s.via, s.appliance.as_deref()),
            (Via::Nearby, Some("ams-s"))
        );
        // Nearby is not symmetric unless listed: ams does not fall back to lon.
        let s = steer(&f, held(&[("lon-f", "x")]), "x", "ams").unwrap();
        assert_eq!(s.via, Via::Origin);
        assert!(steer(&f, held(&[]), "x", "nowhere").is_err());
    }
}
