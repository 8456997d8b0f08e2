//! The per-title policy file (`presets/per-title.toml`): what to probe and how rungs
//! are chosen. Validated on parse so that a bad knob is a one-line error naming it.

use serde::{Deserialize, Serialize};

use crate::fit::{decimation, fit_box};
use crate::preset::{check_encode, PRESETS};
use crate::{LadderError, MasterShape};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AnalysisPolicy {
    pub boxes: Vec<[u32; 2]>,
    pub crfs: Vec<f32>,
    pub preset: String,
    pub sample_share: f64,
    pub min_windows: u32,
    pub max_windows: u32,
    pub vmaf_subsample: u32,
    /// VMAF scores about this many frames of each probe point over all its windows
    /// (never more densely than one in `vmaf_subsample`); 0: one in `vmaf_subsample`
    /// of every window, however many (see [`PerTitlePolicy::vmaf_step`]).
    #[serde(default)]
    pub vmaf_frames: u32,
    /// Probe in rounds, only the points that can move the hull (see `probing`);
    /// false (the default) probes every size at every CRF.
    #[serde(default)]
    pub adaptive: bool,
    /// Rung check: when fewer than this many windows are probed, each chosen rung's own
    /// encode is measured on this many windows spread over the title and its predicted
    /// VMAF is their mean (see [`PerTitlePolicy::check_windows`]); 0: never.
    #[serde(default)]
    pub check_windows: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RungPolicy {
    pub min_kbps: u32,
    pub max_kbps: u32,
    pub step_ratio: f64,
    pub vmaf_ceiling: f64,
    pub vmaf_floor: f64,
    pub max_rungs: u32,
    pub low_height: u32,
    pub low_max_fps: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EncodePolicy {
    pub preset: String,
    pub profile: String,
    pub maxrate_ratio: f64,
    pub bufsize_ratio: f64,
    pub audio_kbps: u32,
    /// How the chosen rungs are encoded; capped CRF unless set.
    #[serde(default)]
    pub rate_control: FinalRateControl,
}

/// The final encodes' rate control.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FinalRateControl {
    /// The CRF the probes measured at the rung's size and bitrate, with the rung's
    /// maxrate/bufsize as a VBV cap: the mode the probes ran in, so the rung gets the
    /// quality it was chosen for (its bitrate follows the content).
    #[default]
    CappedCrf,
    /// Average bitrate at the rung's bitrate with the same cap: the bitrate is kept,
    /// the quality follows the content (it may fall short of the prediction).
    Abr,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PerTitlePolicy {
    pub name: String,
    #[serde(default)]
    pub description: String,
    pub analysis: AnalysisPolicy,
    pub rungs: RungPolicy,
    pub encode: EncodePolicy,
}

/// The built-in policy.
pub fn builtin_policy() -> PerTitlePolicy {
    PerTitlePolicy::parse(include_str!("../presets/per-title.toml"))
        .expect("the built-in policy is valid (tested)")
}

impl PerTitlePolicy {
    pub fn parse(text: &str) -> Result<Self, LadderError> {
        let p: PerTitlePolicy = toml::from_str(text).map_err(|e| LadderError::Parse {
            detail: tomlerr::one_line(&e),
        })?;
        p.validate()?;
        Ok(p)
    }

    fn validate(&self) -> Result<(), LadderError> {
        let bad = |detail: String| LadderError::Invalid {
            name: self.name.clone(),
            detail,
        };
        let a = &self.analysis;
        if a.boxes.is_empty() || a.crfs.is_empty() {
            return Err(bad("analysis needs at least one box and one crf".into()));
        }
        if let Some(b) = a
            .boxes
            .iter()
            .find(|b| !(16..=8192).contains(&b[0]) || !(16..=8192).contains(&b[1]))
        {
            return Err(bad(format!(
                "analysis box {}x{} outside 16..=8192",
                b[0], b[1]
            )));
        }
        if let Some(c) = a.crfs.iter().find(|c| !(0.0..=51.0).contains(*c)) {
            return Err(bad(format!("analysis crf {c} outside 0..=51")));
        }
        if !PRESETS.contains(&a.preset.as_str()) {
            return Err(bad(format!(
                "analysis preset '{}' is not an x264 preset",
                a.preset
            )));
        }
        if !(0.0..=1.0).contains(&a.sample_share)
            || a.min_windows == 0
            || a.max_windows < a.min_windows
        {
            return Err(bad(format!(
                "sample_share {} must be in 0..=1 and 1 <= min_windows {} <= max_windows {}",
                a.sample_share, a.min_windows, a.max_windows
            )));
        }
        if a.check_windows > 64 {
            return Err(bad(format!(
                "check_windows {} outside 0..=64",
                a.check_windows
            )));
        }
        if a.vmaf_frames != 0 && !(8..=100_000).contains(&a.vmaf_frames) {
            return Err(bad(format!(
                "vmaf_frames {} outside 8..=100000 (or 0: no budget)",
                a.vmaf_frames
            )));
        }
        if !(1..=30).contains(&a.vmaf_subsample) {
            return Err(bad(format!(
                "vmaf_subsample {} outside 1..=30",
                a.vmaf_subsample
            )));
        }
        let r = &self.rungs;
        if !(50..=100_000).contains(&r.min_kbps) || r.max_kbps < r.min_kbps || r.max_kbps > 100_000
        {
            return Err(bad(format!(
                "min_kbps {} and max_kbps {} must satisfy 50 <= min <= max <= 100000",
                r.min_kbps, r.max_kbps
            )));
        }
        if !(1.1..=4.0).contains(&r.step_ratio) {
            return Err(bad(format!("step_ratio {} outside 1.1..=4", r.step_ratio)));
        }
        if !(0.0..=100.0).contains(&r.vmaf_floor)
            || !(r.vmaf_floor..=100.0).contains(&r.vmaf_ceiling)
        {
            return Err(bad(format!(
                "vmaf_floor {} and vmaf_ceiling {} must satisfy 0 <= floor <= ceiling <= 100",
                r.vmaf_floor, r.vmaf_ceiling
            )));
        }
        if !(1..=20).contains(&r.max_rungs) || !(1.0..=240.0).contains(&r.low_max_fps) {
            return Err(bad(format!(
                "max_rungs {} must be in 1..=20 and low_max_fps {} in 1..=240",
                r.max_rungs, r.low_max_fps
            )));
        }
        let e = &self.encode;
        check_encode(
            &e.preset,
            &e.profile,
            e.maxrate_ratio,
            e.bufsize_ratio,
            e.audio_kbps,
        )
        .map_err(bad)?;
        Ok(())
    }

    /// Probe sizes for a master: each box fitted to the master's aspect, none larger
    /// than the master, largest first; plus the master's own size when a box had to be
    /// dropped for being larger, so the best quality the master allows is probed.
    pub fn probe_sizes(&self, shape: MasterShape) -> Vec<(u32, u32)> {
        let own = ((shape.width & !1).max(2), (shape.height & !1).max(2));
        let mut out: Vec<(u32, u32)> = Vec::new();
        let mut dropped = false;
        for b in &self.analysis.boxes {
            let (w, h) = fit_box(shape.width, shape.height, b[0], b[1]);
            if w > shape.width || h > shape.height {
                dropped = true;
            } else if !out.contains(&(w, h)) {
                out.push((w, h));
            }
        }
        if (dropped || out.is_empty()) && !out.contains(&own) {
            out.push(own);
        }
        out.sort_by_key(|s| std::cmp::Reverse(s.1));
        out
    }

    /// The decimation a rung of `size` gets for a master of `shape`: a rung below
    /// `low_height` lines is capped at `low_max_fps`. Its probes encode at the same
    /// rate, so that they measure the frames the rung will have.
    pub fn rung_decimation(&self, shape: MasterShape, size: (u32, u32)) -> u32 {
        let r = &self.rungs;
        let max_fps = (size.0.min(size.1) < r.low_height).then_some(r.low_max_fps);
        decimation(shape.fps_num as f64 / shape.fps_den as f64, max_fps)
    }

    /// Decimations a per-title rung may get for a master at `fps_num/fps_den`: full
    /// rate, and the low-rung frame-rate cap. The grid is planned for both before the
    /// rungs are known, so every choice fits it.
    pub fn possible_decimations(&self, fps_num: u32, fps_den: u32) -> Vec<u32> {
        let fps = fps_num as f64 / fps_den as f64;
        vec![1, decimation(fps, Some(self.rungs.low_max_fps))]
    }

    /// Which IDR intervals to probe, out of `intervals` in the title: about
    /// `sample_share` of them (within the window bounds), spread evenly, each at the
    /// middle of its stretch of the title.
    pub fn windows(&self, intervals: u64) -> Vec<u64> {
        if intervals == 0 {
            return vec![];
        }
        let a = &self.analysis;
        let k = ((intervals as f64 * a.sample_share).round() as u64)
            .clamp(a.min_windows as u64, a.max_windows as u64)
            .min(intervals);
        spread(intervals, k)
    }

    /// VMAF's step (score one frame in this many) for `windows` windows of
    /// `window_frames` frames each: `vmaf_frames` spread over them, never denser than
    /// `vmaf_subsample` nor sparser than a third of a window (so that a window keeps two
    /// scored frames once the step is made coprime with 6, which adds at most 3).
    /// A long title's twelve windows need no more scored frames than a short title's
    /// four: the windows' means differ by several VMAF, a window's frames around its
    /// mean by less, so the error of a point's average is mostly which windows it saw
    /// (on four real clips' windows, one frame in 7 read their points within 1 VMAF of
    /// every frame, one in 5 within 1.2). Scoring is half of probing's CPU.
    pub fn vmaf_step(&self, windows: usize, window_frames: u64) -> u32 {
        let a = &self.analysis;
        if a.vmaf_frames == 0 {
            return a.vmaf_subsample;
        }
        let step = windows as u64 * window_frames / a.vmaf_frames as u64;
        let sparsest = (window_frames / 3).max(a.vmaf_subsample as u64);
        step.clamp(a.vmaf_subsample as u64, sparsest) as u32
    }

    /// Which IDR intervals to measure the chosen rungs on, when `probed` windows were
    /// probed: none when those were at least `check_windows` (their average is close
    /// enough to the title's) or the whole title, else `check_windows` of them (all of
    /// a title that has fewer) spread evenly. One window of a title a few shots long
    /// can sit 5-10 VMAF from the title at a CRF, and its curves put a rung where the
    /// title's would not; measuring the rung's own encode on windows across the title
    /// corrects the prediction without probing every point of the grid there.
    pub fn check_windows(&self, intervals: u64, probed: usize) -> Vec<u64> {
        let k = (self.analysis.check_windows as u64).min(intervals);
        if probed as u64 >= k {
            return vec![];
        }
        spread(intervals, k)
    }
}

/// `k` of `intervals`, each at the middle of its share of the title.
fn spread(intervals: u64, k: u64) -> Vec<u64> {
    (0..k).map(|i| (2 * i + 1) * intervals / (2 * k)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shape(w: u32, h: u32) -> MasterShape {
        MasterShape {
            width: w,
            height: h,
            fps_num: 24,
            fps_den: 1,
        }
    }

    #[test]
    fn rungs_are_checked_on_windows_across_a_title_only_probed_in_few() {
        let mut p = builtin_policy();
        p.analysis.min_windows = 1;
        p.analysis.check_windows = 4;
        // A 20 s title (10 intervals): one probe window, four check windows spread.
        assert_eq!(p.windows(10), vec![5]);
        assert_eq!(p.check_windows(10, 1), vec![1, 3, 6, 8]);
        // Fewer intervals than check windows: each once.
        assert_eq!(p.check_windows(3, 1), vec![0, 1, 2]);
        // A title of one interval, probed whole: nothing left to check.
        assert!(p.check_windows(1, 1).is_empty());
        // Probed on enough windows already: no check.
        assert!(p.check_windows(300, 12).is_empty());
        assert!(p.check_windows(300, 4).is_empty());
        p.analysis.check_windows = 0;
        assert!(p.check_windows(10, 1).is_empty());
        p.analysis.check_windows = 65;
        assert!(p.validate().is_err());
    }

    #[test]
    fn a_policy_without_a_vmaf_budget_scores_one_in_vmaf_subsample() {
        let text = include_str!("../presets/per-title.toml").replace("vmaf_frames = 32\n", "");
        let p = PerTitlePolicy::parse(&text).unwrap();
        assert_eq!(p.analysis.vmaf_frames, 0);
        assert_eq!(p.vmaf_step(12, 48), p.analysis.vmaf_subsample);
    }

    #[test]
    fn vmaf_scores_about_the_budget_over_all_windows() {
        let mut p = builtin_policy();
        p.analysis.vmaf_subsample = 5;
        p.analysis.vmaf_frames = 32;
        // Four 2 s windows at 24 fps: 192 / 32, one in 6 (7 once made coprime with 6 in
        // `media`: 28 frames).
        assert_eq!(p.vmaf_step(4, 48), 6);
        // Twelve: 576 / 32 = 18, capped at a third of a window: 16 (17 once coprime:
        // frames 8, 25 and 42 of each, 36 in all), about as many.
        assert_eq!(p.vmaf_step(12, 48), 16);
        // One window: never denser than vmaf_subsample.
        assert_eq!(p.vmaf_step(1, 48), 5);
        // More windows: still three a window.
        assert_eq!(p.vmaf_step(64, 48), 16);
        // Windows too short for that: vmaf_subsample.
        assert_eq!(p.vmaf_step(64, 6), 5);
        for windows in 1..=64 {
            for frames in [24u64, 48, 50, 60, 100, 120] {
                let step = p.vmaf_step(windows, frames) as u64;
                // Made coprime with 6: at most 3 more; the first scored at half of it.
                let coprime = (step..step + 4).find(|s| s % 2 != 0 && s % 3 != 0).unwrap();
                let scored = (frames - coprime / 2).div_ceil(coprime);
                assert!(scored >= 2, "{windows} x {frames}: step {step}, {scored}");
            }
        }
        p.analysis.vmaf_frames = 0;
        assert_eq!(p.vmaf_step(12, 48), 5);
        p.analysis.vmaf_frames = 4;
        assert!(p.validate().is_err());
    }

    #[test]
    fn builtin_policy_parses() {
        let p = builtin_policy();
        assert_eq!(p.rungs.min_kbps, 145);
    }

    #[test]
    fn probe_sizes_never_upscale() {
        let p = builtin_policy();
        assert_eq!(
            p.probe_sizes(shape(1280, 720)),
            vec![(1280, 720), (960, 540), (640, 360), (416, 234)]
        );
        assert_eq!(p.probe_sizes(shape(320, 180)), vec![(320, 180)]);
        // 4:3 keeps its aspect.
        assert_eq!(
            p.probe_sizes(shape(640, 480)),
            vec![(640, 480), (480, 360), (312, 234)]
        );
    }

    #[test]
    fn windows_are_spread_and_bounded() {
        let p = builtin_policy();
        // A 20 s title: at least four windows, each at the middle of its quarter (here
        // neither the first interval nor the last).
        assert_eq!(p.windows(10), vec![1, 3, 6, 8]);
        assert_eq!(p.windows(5), vec![0, 1, 3, 4]);
        // Fewer intervals than that: each once.
        assert_eq!(p.windows(3), vec![0, 1, 2]);
        assert_eq!(p.windows(1), vec![0]);
        assert!(p.windows(0).is_empty());
        let w = p.windows(3600);
        assert_eq!(w.len(), 12);
        assert!(w.windows(2).all(|x| x[0] < x[1]) && *w.last().unwrap() < 3600);
    }

    #[test]
    fn bad_knob_is_named() {
        let text = include_str!("../presets/per-title.toml")
            .replace("step_ratio = 1.7", "step_ratio = 9.0");
        let e = PerTitlePolicy::parse(&text).unwrap_err().to_string();
        assert!(e.contains("step_ratio 9"), "{e}");
    }
}
