use serde::{Deserialize, Serialize};

use crate::LadderError;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RateControl {
    /// Average bitrate, capped by maxrate/bufsize.
    Abr,
    /// Constant rate factor, capped by maxrate/bufsize (bitrate becomes the cap's base).
    CappedCrf,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rung {
    /// Box the picture is fitted into (16:9 boxes in the presets).
    pub width: u32,
    pub height: u32,
    pub kbps: u32,
    /// Highest frame rate for this rung; higher masters are decimated by whole frames.
    #[serde(default)]
    pub max_fps: Option<f64>,
    /// CRF for capped-CRF rate control.
    #[serde(default)]
    pub crf: Option<f32>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Ladder {
    pub name: String,
    #[serde(default)]
    pub description: String,
    pub preset: String,
    pub profile: String,
    pub rate_control: RateControl,
    pub maxrate_ratio: f64,
    pub bufsize_ratio: f64,
    pub audio_kbps: u32,
    #[serde(rename = "rung")]
    pub rungs: Vec<Rung>,
}

const BUILTIN: &[(&str, &str)] = &[
    ("apple-avc", include_str!("../presets/apple-avc.toml")),
    ("benchmark", include_str!("../presets/benchmark.toml")),
];

pub fn builtin_names() -> Vec<&'static str> {
    BUILTIN.iter().map(|(n, _)| *n).collect()
}

/// A built-in preset by name.
pub fn builtin(name: &str) -> Result<Ladder, LadderError> {
    let text = BUILTIN
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, t)| *t)
        .ok_or_else(|| LadderError::UnknownPreset {
            name: name.into(),
            known: builtin_names().join(", "),
        })?;
    Ladder::parse(text)
}

pub(crate) const PRESETS: &[&str] = &[
    "ultrafast",
    "superfast",
    "veryfast",
    "faster",
    "fast",
    "medium",
    "slow",
    "slower",
    "veryslow",
    "placebo",
];

/// The encoder settings fixed ladders and per-title policies share: the x264 preset and
/// profile, the VBV caps as ratios of the bitrate, and the audio bitrate.
pub(crate) fn check_encode(
    preset: &str,
    profile: &str,
    maxrate_ratio: f64,
    bufsize_ratio: f64,
    audio_kbps: u32,
) -> Result<(), String> {
    if !PRESETS.contains(&preset) {
        return Err(format!(
            "preset '{preset}' is not an x264 preset ({})",
            PRESETS.join(", ")
        ));
    }
    if !["baseline", "main", "high"].contains(&profile) {
        return Err(format!("profile '{profile}' is not baseline, main or high"));
    }
    if !(1.0..=4.0).contains(&maxrate_ratio) || !(0.5..=8.0).contains(&bufsize_ratio) {
        return Err(format!(
            "maxrate_ratio {maxrate_ratio} must be in 1..=4 and bufsize_ratio {bufsize_ratio} in 0.5..=8"
        ));
    }
    if !(32..=512).contains(&audio_kbps) {
        return Err(format!("audio_kbps {audio_kbps} is outside 32..=512"));
    }
    Ok(())
}

impl Ladder {
    /// Parse and validate a ladder file's text.
    pub fn parse(text: &str) -> Result<Self, LadderError> {
        let ladder: Ladder = toml::from_str(text).map_err(|e| LadderError::Parse {
            detail: tomlerr::one_line(&e),
        })?;
        ladder.validate()?;
        Ok(ladder)
    }

    fn validate(&self) -> Result<(), LadderError> {
        let bad = |detail: String| LadderError::Invalid {
            name: self.name.clone(),
            detail,
        };
        if self.rungs.is_empty() {
            return Err(bad("no rungs".into()));
        }
        check_encode(
            &self.preset,
            &self.profile,
            self.maxrate_ratio,
            self.bufsize_ratio,
            self.audio_kbps,
        )
        .map_err(bad)?;
        for (i, r) in self.rungs.iter().enumerate() {
            if r.width < 16 || r.height < 16 || r.width > 8192 || r.height > 8192 {
                return Err(bad(format!(
                    "rung {i}: size {}x{} outside 16..=8192",
                    r.width, r.height
                )));
            }
            if !(50..=100_000).contains(&r.kbps) {
                return Err(bad(format!(
                    "rung {i}: {} kbit/s outside 50..=100000",
                    r.kbps
                )));
            }
            if let Some(f) = r.max_fps {
                if !(1.0..=240.0).contains(&f) {
                    return Err(bad(format!("rung {i}: max_fps {f} outside 1..=240")));
                }
            }
            if self.rate_control == RateControl::CappedCrf && r.crf.is_none() {
                return Err(bad(format!("rung {i}: capped-crf rate control needs crf")));
            }
        }
        Ok(())
    }
}
