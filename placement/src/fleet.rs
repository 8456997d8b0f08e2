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
    #[serde(rename = "appliance")]
    pub appliances: Vec<Appliance>,
}

fn default_location() -> String {
    "embedded".into()
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Fleet {
    /// A title gets one extra copy per this much popularity (bytes streamed / size a
    /// day), up to `max_copies`. A fixed scale, so that a new hit does not change every
    /// other title's copy count.
    pub popularity_per_copy: f64,
    pub max_copies: u32,
    #[serde(rename = "site")]
    pub sites: Vec<Site>,
}

impl Fleet {
    pub fn parse(text: &str) -> Result<Self, PlacementError> {
        let f: Fleet = toml::from_str(text).map_err(|e| PlacementError::Parse {
            detail: e.to_string().lines().next().unwrap_or_default().to_string(),
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
        let mut ids = std::collections::BTreeSet::new();
        for s in &self.sites {
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
            if s.utc_offset_minutes.abs() > 14 * 60 {
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
        a.fill_rate_bps / 8 * 3600 * hours as u64
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
