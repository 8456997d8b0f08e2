//! The appliance fleet, described in a TOML file: sites (ISP-embedded or at an
//! exchange point) with a time zone and a nightly fill window, and their appliances.

use serde::{Deserialize, Serialize};

use crate::PlacementError;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ApplianceKind {
    /// Small and fast: serves the most popular titles.
    Flash,
    /// Large: holds the long tail.
    Storage,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Appliance {
    pub id: String,
    pub kind: ApplianceKind,
    pub capacity_bytes: u64,
    /// Fill rate from the origin, bit/s.
    pub fill_rate_bps: u64,
    /// Base URL the appliance serves its cache at (`vodfarm oca serve`); steering
    /// hands out `<url>/<object key>`. An appliance without one is never steered to.
    #[serde(default)]
    pub url: Option<String>,
}

fn default_hysteresis() -> f64 {
    0.5
}

fn default_window() -> (u32, u32) {
    (2, 14)
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Site {
    pub id: String,
    /// "embedded" (inside an ISP) or "ixp" (at an exchange point).
    #[serde(default = "default_location")]
    pub location: String,
    /// Local time = UTC + this many minutes.
    #[serde(default)]
    pub utc_offset_minutes: i32,
    /// Fill window in local hours [start, end); 02:00–14:00 unless set.
    #[serde(default = "default_window")]
    pub fill_window: (u32, u32),
    /// Sites to steer to, in order, when no appliance here holds a title.
    #[serde(default)]
    pub nearby: Vec<String>,
    #[serde(rename = "appliance")]
    pub appliances: Vec<Appliance>,
}

fn default_location() -> String {
    "embedded".into()
}

/// Content ops' guess of a new title's popularity, given at submit; stands in until
/// viewing statistics exist for the title.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Tier {
    Hot,
    Warm,
    Cold,
}

/// Popularity a new title of each tier is planned with (same unit as the statistics).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TierPopularity {
    pub hot: f64,
    pub warm: f64,
    pub cold: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Fleet {
    /// A title gets one extra copy per this much popularity (bytes streamed / size a
    /// day), up to `max_copies`. A fixed scale, so that a new hit does not change every
    /// other title's copy count.
    pub popularity_per_copy: f64,
    pub max_copies: u32,
    /// Popularity of a new title by its tier hint. Unless set: hot gets the most copies
    /// (`popularity_per_copy * max_copies`), warm two (`popularity_per_copy`), cold 0.
    #[serde(default)]
    pub new_title_popularity: Option<TierPopularity>,
    /// A title a site's storage already holds is ranked as if `1 + hysteresis` times
    /// as popular when the site is re-planned: it keeps its place unless something
    /// clearly more popular needs the room (lower churn, one fill a night).
    #[serde(default = "default_hysteresis")]
    pub hysteresis: f64,
    #[serde(rename = "site")]
    pub sites: Vec<Site>,
}

impl Fleet {
    pub fn parse(text: &str) -> Result<Self, PlacementError> {
        let f: Fleet = toml::from_str(text).map_err(|e| PlacementError::Parse {
            detail: tomlerr::one_line(&e),
        })?;
        f.validate()?;
        Ok(f)
    }

    pub fn validate(&self) -> Result<(), PlacementError> {
        let bad = |detail: String| Err(PlacementError::Invalid { detail });
        let positive = self.popularity_per_copy.is_finite() && self.popularity_per_copy > 0.0;
        if !positive || !(1..=16).contains(&self.max_copies) {
            return bad(format!(
                "popularity_per_copy {} must be positive and max_copies {} in 1..=16",
                self.popularity_per_copy, self.max_copies
            ));
        }
        if !self.hysteresis.is_finite() || !(0.0..=10.0).contains(&self.hysteresis) {
            return bad(format!(
                "hysteresis {} must be within 0..=10",
                self.hysteresis
            ));
        }
        if let Some(t) = &self.new_title_popularity {
            for (name, v) in [("hot", t.hot), ("warm", t.warm), ("cold", t.cold)] {
                if !v.is_finite() || v < 0.0 {
                    return bad(format!("new_title_popularity.{name} {v} must be 0 or more"));
                }
            }
        }
        let sites: std::collections::BTreeSet<&str> =
            self.sites.iter().map(|s| s.id.as_str()).collect();
        let mut ids = std::collections::BTreeSet::new();
        for s in &self.sites {
            if let Some(n) = s
                .nearby
                .iter()
                .find(|n| !sites.contains(n.as_str()) || **n == s.id)
            {
                return bad(format!(
                    "site {}: nearby site '{n}' is not another site of the fleet",
                    s.id
                ));
            }
            if !ids.insert(s.id.clone()) {
                return bad(format!("site id '{}' is used twice", s.id));
            }
            let (a, b) = s.fill_window;
            if a > 23 || b > 24 || a == b {
                return bad(format!(
                    "site {}: fill window {a}..{b} is not a span of hours",
                    s.id
                ));
            }
            // unsigned_abs: abs() of i32::MIN overflows (a panic on a fleet file).
            if s.utc_offset_minutes.unsigned_abs() > 14 * 60 {
                return bad(format!(
                    "site {}: UTC offset {} min is out of range",
                    s.id, s.utc_offset_minutes
                ));
            }
            for a in &s.appliances {
                if !ids.insert(a.id.clone()) {
                    return bad(format!("appliance id '{}' is used twice", a.id));
                }
                if a.capacity_bytes == 0 || a.fill_rate_bps == 0 {
                    return bad(format!(
                        "appliance {}: capacity and fill rate must be positive",
                        a.id
                    ));
                }
                if a.id.is_empty()
                    || !a
                        .id
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
                {
                    return bad(format!(
                        "appliance id '{}' must be letters, digits, '-' or '_'",
                        a.id
                    ));
                }
            }
        }
        Ok(())
    }

    /// The popularity a new title with this tier hint is planned with.
    pub fn tier_popularity(&self, tier: Tier) -> f64 {
        let p = self.new_title_popularity.clone().unwrap_or(TierPopularity {
            hot: self.popularity_per_copy * self.max_copies as f64,
            warm: self.popularity_per_copy,
            cold: 0.0,
        });
        match tier {
            Tier::Hot => p.hot,
            Tier::Warm => p.warm,
            Tier::Cold => p.cold,
        }
    }

    pub fn appliance(&self, id: &str) -> Option<(&Site, &Appliance)> {
        self.sites
            .iter()
            .find_map(|s| s.appliances.iter().find(|a| a.id == id).map(|a| (s, a)))
    }
}

impl Site {
    /// Bytes `a` can fetch in one night's window.
    pub fn window_bytes(&self, a: &Appliance) -> u64 {
        let (s, e) = self.fill_window;
        let hours = if e > s { e - s } else { 24 - s + e };
        // Saturating: fill rates are not bounded, and a typo (a few zeros too many)
        // overflowed here, a panic in `vodfarm place`.
        (a.fill_rate_bps / 8).saturating_mul(3600 * hours as u64)
    }

    /// Whether `utc_minute_of_day` falls in this site's fill window.
    pub fn in_window(&self, utc_minute_of_day: u32) -> bool {
        let local = (utc_minute_of_day as i64 + self.utc_offset_minutes as i64).rem_euclid(1440)
            as u32
            / 60;
        let (s, e) = self.fill_window;
        if s < e {
            (s..e).contains(&local)
        } else {
            local >= s || local < e
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FLEET: &str = r#"
popularity_per_copy = 100.0
max_copies = 2
[[site]]
id = "lon"
utc_offset_minutes = 0
[[site.appliance]]
id = "lon-f1"
kind = "flash"
capacity_bytes = 1000
fill_rate_bps = 300000000
"#;

    #[test]
    fn parses_with_default_window() {
        let f = Fleet::parse(FLEET).unwrap();
        assert_eq!(f.sites[0].fill_window, (2, 14));
        let s = &f.sites[0];
        assert!(s.in_window(2 * 60) && s.in_window(13 * 60 + 59) && !s.in_window(14 * 60));
        // 300 Mbit/s for 12 h.
        assert_eq!(
            s.window_bytes(&s.appliances[0]),
            300_000_000 / 8 * 3600 * 12
        );
    }

    #[test]
    fn bad_fleet_is_named() {
        let e = Fleet::parse(&FLEET.replace("capacity_bytes = 1000", "capacity_bytes = 0"))
            .unwrap_err();
        assert!(e.to_string().contains("lon-f1"), "{e}");
        let e = Fleet::parse(&FLEET.replace("max_copies = 2", "max_copies = 0")).unwrap_err();
        assert!(e.to_string().contains("max_copies 0"), "{e}");
    }
}
