//! Choosing a title's rungs along its convex hull.
//!
//! Each probe size's curve is its measured points in (log2 kbps, VMAF), read between
//! them along a monotone cubic (`pchip`: the straight line between probes predicted
//! about 1 VMAF low); a curve holds its best measurement beyond its top point. The
//! best quality one encode can reach at a rate is the highest of the curves there.
//!
//! The top rung sits where that best quality reaches the VMAF ceiling (more bits are
//! not seen), or at the best measured point, or at `max_kbps`, whichever is cheapest.
//! The lowest sits where it reaches the VMAF floor, but not below `min_kbps` nor below
//! the cheapest measured point. Between them rungs are spaced evenly in log-bitrate,
//! no further apart than `step_ratio`, at most `max_rungs`. Each rung takes the probe
//! size whose curve is highest at its bitrate, and sizes never shrink as bitrate
//! rises.

use serde::{Deserialize, Serialize};

use crate::fit::FittedRung;
use crate::hull::{crf_at, curves, interpolate, upper_hull, Measured};
use crate::pchip::Pchip;
use crate::policy::FinalRateControl;
use crate::{LadderError, MasterShape, PerTitlePolicy};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChosenRung {
    pub rung: FittedRung,
    /// VMAF the probes predict for this rung: its size's curve at its bitrate, or its
    /// check's mean when it was checked.
    pub predicted_vmaf: f64,
    /// The prediction's standard error from the windows' spread: each probed window's
    /// VMAF at the rung's size and CRF (read between its probe CRFs), their sample
    /// standard deviation over the square root of their number, times the
    /// finite-population factor √(1 − windows/intervals) once the title's length is
    /// known ([`Decision::sampled`]); a checked rung's is its check windows'. It says
    /// how far the title may be from the windows' mean: a few windows of a title whose
    /// scenes differ make a large one (on the whole Big Buck Bunny film one window's
    /// VMAF at a point has a standard deviation of 2 to 12, `scripts/bench-sampling.sh`).
    /// The windows are spread evenly, not drawn at random, and the encoder's own biases
    /// (no lead-in, the VBV cap) are not in it. None with fewer than two windows, for
    /// an unchecked ABR rung (its bitrate, not its CRF, is fixed, so its error has a
    /// rate part too), when a probe of its size has no finite VMAF or its probes kept unequal
    /// windows, and in decisions made before it existed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub predicted_se: Option<f64>,
    /// The rung's own encode measured on windows across the title before it was
    /// encoded, when the policy checks rungs: `predicted_vmaf` is then its VMAF.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub check: Option<RungCheck>,
    /// What the published rendition measured: added once the title is packaged, so
    /// that every decision says how honest its predictions were.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub measured: Option<MeasuredRung>,
}

/// A chosen rung encoded with its final settings (size, CRF or bitrate, VBV cap) on
/// windows spread over the title, before the title is encoded.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct RungCheck {
    /// Windows measured.
    pub windows: u32,
    /// Mean bitrate over them (kbit/s).
    pub kbps: f64,
    /// Mean VMAF over their scored frames.
    pub vmaf: f64,
    /// What the probe curves predicted at the rung's bitrate, before the check.
    pub curve_vmaf: f64,
}

/// A published rendition's measured rate and quality: bitrate from all its segments,
/// VMAF from sampled windows scored against the converted master at its quality size.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct MeasuredRung {
    /// Media segment bytes × 8 over the title's duration.
    pub kbps: f64,
    /// Mean VMAF over the scored frames.
    pub vmaf: f64,
    /// 5th percentile of the scored frames' VMAF.
    pub vmaf_p5: f64,
    /// Frames scored (a sample of the title).
    pub frames_scored: u32,
}

/// Everything the choice was made from, stored per title (`ladder.json`) and plotted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Decision {
    pub policy: String,
    pub points: Vec<Measured>,
    /// Indices into `points`, by rising bitrate.
    pub hull: Vec<usize>,
    pub rungs: Vec<ChosenRung>,
    /// Why the top rung is where it is.
    pub top_reason: String,
}

/// Rung bitrates are rounded to this many kbit/s, so that ids read well.
const ROUND_KBPS: f64 = 5.0;

pub fn choose_ladder(
    policy: &PerTitlePolicy,
    shape: MasterShape,
    points: &[Measured],
) -> Result<Decision, LadderError> {
    let hull = upper_hull(points);
    if hull.is_empty() {
        return Err(LadderError::NoMeasurements {
            count: points.len(),
        });
    }
    let r = &policy.rungs;
    let line: Vec<(f64, f64)> = hull
        .iter()
        .map(|&i| (points[i].x(), points[i].vmaf))
        .collect();
    let (x_lo, x_hi) = (line[0].0, line[line.len() - 1].0);
    let (min_x, max_x) = ((r.min_kbps as f64).log2(), (r.max_kbps as f64).log2());

    let curves = size_curves(points);
    let ceiling = best_reaches(&curves, x_lo, r.vmaf_ceiling);
    let (mut top, mut top_reason) = match ceiling {
        Some(x) => (
            x,
            format!("the best size reaches VMAF {} here", r.vmaf_ceiling),
        ),
        None => (
            x_hi,
            format!(
                "best measured quality (VMAF {:.1}) is below the ceiling {}",
                line[line.len() - 1].1,
                r.vmaf_ceiling
            ),
        ),
    };
    if top > max_x {
        top = max_x;
        top_reason = format!("capped at max_kbps {}", r.max_kbps);
    }
    if top < min_x {
        top = min_x;
        top_reason = format!("raised to min_kbps {}", r.min_kbps);
    }
    let floor = best_reaches(&curves, x_lo, r.vmaf_floor).unwrap_or(x_hi);
    let bottom = floor.max(x_lo).max(min_x).min(top);

    let step = r.step_ratio.log2();
    let gaps = (((top - bottom) / step) - 1e-9).ceil().max(0.0) as u32;
    let n = (gaps + 1).min(r.max_rungs);
    let xs: Vec<f64> = if n <= 1 {
        vec![top]
    } else {
        (0..n)
            .map(|i| bottom + (top - bottom) * i as f64 / (n - 1) as f64)
            .collect()
    };

    let mut rungs: Vec<ChosenRung> = Vec::new();
    let mut min_height = 0;
    for x in xs {
        let kbps = ((x.exp2() / ROUND_KBPS).round() * ROUND_KBPS).max(ROUND_KBPS);
        // Outside every curve, the size of the nearest hull point.
        let best = best_at(&curves, x, min_height);
        let (size, q) = match best {
            Some(b) => b,
            None => {
                let near = hull
                    .iter()
                    .map(|&i| &points[i])
                    .filter(|p| p.height >= min_height)
                    .min_by(|a, b| (a.x() - x).abs().total_cmp(&(b.x() - x).abs()))
                    .or_else(|| {
                        points
                            .iter()
                            .filter(|p| p.height >= min_height)
                            .min_by_key(|p| p.height)
                    })
                    .expect("the hull is not empty and min_height comes from a point");
                (
                    (near.width, near.height),
                    interpolate(&line, x).unwrap_or(near.vmaf),
                )
            }
        };
        min_height = size.1;
        let kbps_u = kbps as u32;
        if rungs
            .last()
            .is_some_and(|l| l.rung.bitrate >= kbps_u as u64 * 1000)
        {
            continue;
        }
        let bitrate = kbps_u as u64 * 1000;
        let crf = match policy.encode.rate_control {
            FinalRateControl::CappedCrf => crf_at(points, size, kbps.log2()),
            FinalRateControl::Abr => None,
        };
        rungs.push(ChosenRung {
            measured: None,
            check: None,
            predicted_se: crf.and_then(|c| windows_se(points, size, c as f64)),
            rung: FittedRung {
                id: format!("v{}p-{kbps_u}k", size.0.min(size.1)),
                width: size.0,
                height: size.1,
                decimation: policy.rung_decimation(shape, size),
                bitrate,
                maxrate: (bitrate as f64 * policy.encode.maxrate_ratio).round() as u64,
                bufsize: (bitrate as f64 * policy.encode.bufsize_ratio).round() as u64,
                crf,
            },
            predicted_vmaf: q,
        });
    }
    Ok(Decision {
        policy: policy.name.clone(),
        points: points.to_vec(),
        hull,
        rungs,
        top_reason,
    })
}

/// The standard error of the windows' mean VMAF at `size` and `crf`: each window's
/// VMAF there read along straight lines between its probes of that size by CRF
/// (past the probed CRFs, the nearest probe's: the curves hold their end too), their
/// sample standard deviation over √windows. Probes count as they do for the rung's
/// CRF (a positive rate). None unless every such probe of the size has a finite VMAF
/// and kept the same two or more windows.
fn windows_se(points: &[Measured], size: (u32, u32), crf: f64) -> Option<f64> {
    let mut probes: Vec<&Measured> = points
        .iter()
        .filter(|p| (p.width, p.height) == size && p.kbps > 0.0)
        .collect();
    probes.sort_by(|a, b| a.crf.total_cmp(&b.crf));
    probes.dedup_by(|b, a| a.crf == b.crf);
    let n = probes.first()?.windows.len();
    if n < 2
        || probes
            .iter()
            .any(|p| p.windows.len() != n || !p.vmaf.is_finite())
    {
        return None;
    }
    // The piece of the probed CRFs the rung's CRF falls in, the same for every window:
    // probes a and b and how far from a towards b (0 at or past the end probes).
    let last = probes.len() - 1;
    let crf = crf.clamp(probes[0].crf as f64, probes[last].crf as f64);
    let b = probes
        .iter()
        .position(|p| crf <= p.crf as f64)
        .unwrap_or(last);
    let a = b.saturating_sub(1);
    let t = if a == b {
        0.0
    } else {
        (crf - probes[a].crf as f64) / (probes[b].crf - probes[a].crf) as f64
    };
    let at = |w: usize| {
        let (va, vb) = (probes[a].windows[w], probes[b].windows[w]);
        (va + t * (vb - va)).clamp(0.0, 100.0)
    };
    standard_error(&(0..n).map(at).collect::<Vec<_>>())
}

/// The sample standard deviation of `v` over √len; None below two values or when
/// one is not finite.
pub(crate) fn standard_error(v: &[f64]) -> Option<f64> {
    let n = v.len();
    if n < 2 {
        return None;
    }
    let mean = v.iter().sum::<f64>() / n as f64;
    let var = v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1) as f64;
    let se = (var / n as f64).sqrt();
    se.is_finite().then_some(se)
}

/// Each probe size's curve, largest size first. Probes of one size at the same rate
/// (a still picture's, whose rate hardly moves with the CRF) count once, at their best;
/// a probe without a finite VMAF does not count (it would not take its size with it).
fn size_curves(points: &[Measured]) -> Vec<((u32, u32), Pchip)> {
    curves(points)
        .into_iter()
        .filter_map(|(size, mut line)| {
            line.retain(|p| p.0.is_finite() && p.1.is_finite());
            line.dedup_by(|b, a| {
                let same = (b.0 - a.0).abs() < 1e-9;
                if same {
                    a.1 = a.1.max(b.1);
                }
                same
            });
            Some((size, Pchip::new(&line)?))
        })
        .collect()
}

/// The size whose curve is highest at `x` (log2 kbit/s) among sizes at least
/// `min_height` tall, and its VMAF there. Above a curve's measured range its best
/// measurement holds (more bits do not make a picture worse), a lower bound; below its
/// range a size is not considered. On equal quality the larger size.
fn best_at(curves: &[((u32, u32), Pchip)], x: f64, min_height: u32) -> Option<((u32, u32), f64)> {
    curves
        .iter()
        .filter(|(s, _)| s.1 >= min_height)
        .filter_map(|(s, c)| {
            let q = if x > c.range().1 {
                Some(c.best())
            } else {
                c.at(x)
            };
            q.map(|q| (*s, q))
        })
        .max_by(|a, b| a.1.total_cmp(&b.1).then(a.0 .1.cmp(&b.0 .1)))
}

/// The lowest rate, not below `lo` (log2 kbit/s), at which some size's curve reaches
/// VMAF `y`: where the best of them first does. None if none does.
fn best_reaches(curves: &[((u32, u32), Pchip)], lo: f64, y: f64) -> Option<f64> {
    curves
        .iter()
        .filter_map(|(_, c)| c.first_reaching(y))
        .min_by(f64::total_cmp)
        .map(|x| x.max(lo))
}

impl ChosenRung {
    /// Record the rung's check (`windows` measured, at `kbps` and `vmaf` on average,
    /// each window's own VMAF in `each`): the check's VMAF becomes the prediction and
    /// its windows' standard error the prediction's, the curves' reading is kept
    /// beside it.
    pub fn checked(&mut self, windows: u32, kbps: f64, vmaf: f64, each: &[f64]) {
        let curve_vmaf = self.check.map_or(self.predicted_vmaf, |c| c.curve_vmaf);
        self.check = Some(RungCheck {
            windows,
            kbps,
            vmaf,
            curve_vmaf,
        });
        self.predicted_vmaf = vmaf;
        self.predicted_se = standard_error(each);
    }
}

impl Decision {
    /// Scale every rung's standard error for windows that were `share` (0..1) of the
    /// title's intervals: a short title's four windows of ten leave less unknown than
    /// four of a film's three hundred (the finite-population factor √(1 − share)).
    pub fn sampled(&mut self, share: f64) {
        let factor = (1.0 - share.clamp(0.0, 1.0)).sqrt();
        for r in &mut self.rungs {
            r.predicted_se = r.predicted_se.map(|se| se * factor);
        }
    }

    pub fn fitted(&self) -> Vec<FittedRung> {
        self.rungs.iter().map(|r| r.rung.clone()).collect()
    }

    /// A plain-text table of the measured points, the hull and the chosen rungs.
    pub fn table(&self) -> String {
        let mut s = String::from("probe points (averaged over the sampled windows):\n");
        s.push_str("  size        crf    kbit/s    VMAF   VMAF p5  PSNR-Y  hull\n");
        let mut order: Vec<usize> = (0..self.points.len()).collect();
        order.sort_by(|&a, &b| {
            let (pa, pb) = (&self.points[a], &self.points[b]);
            pb.height.cmp(&pa.height).then(pa.kbps.total_cmp(&pb.kbps))
        });
        for i in order {
            let p = &self.points[i];
            s.push_str(&format!(
                "  {:>4}x{:<5} {:>4.0} {:>9.0} {:>7.2} {:>8.2} {:>7.2}  {}\n",
                p.width,
                p.height,
                p.crf,
                p.kbps,
                p.vmaf,
                p.vmaf_p5,
                p.psnr_y,
                if self.hull.contains(&i) { "*" } else { "" }
            ));
        }
        s.push_str(&format!(
            "chosen rungs ({}; top: {}):\n",
            self.policy, self.top_reason
        ));
        for r in &self.rungs {
            s.push_str(&format!(
                "  {:<14} {:>4}x{:<5} {:>6} kbit/s  predicted VMAF {:.1}",
                r.rung.id,
                r.rung.width,
                r.rung.height,
                r.rung.bitrate / 1000,
                r.predicted_vmaf
            ));
            if let Some(se) = r.predicted_se {
                s.push_str(&format!(" ±{se:.1}"));
            }
            if let Some(c) = &r.check {
                s.push_str(&format!(
                    " (checked on {} windows at {:.0} kbit/s; curves {:.1})",
                    c.windows, c.kbps, c.curve_vmaf
                ));
            }
            if let Some(m) = &r.measured {
                s.push_str(&format!(
                    "  measured {:.1} ({:+.1}) at {:.0} kbit/s, p5 {:.1}",
                    m.vmaf,
                    m.vmaf - r.predicted_vmaf,
                    m.kbps,
                    m.vmaf_p5
                ));
            }
            s.push('\n');
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn probe(crf: f32, windows: &[f64]) -> Measured {
        Measured {
            width: 640,
            height: 360,
            crf,
            kbps: 1000.0 / crf as f64,
            vmaf: windows.iter().sum::<f64>() / windows.len().max(1) as f64,
            vmaf_p5: 0.0,
            psnr_y: 0.0,
            windows: windows.to_vec(),
        }
    }

    /// Sample sd over √n, written out.
    fn se_of(v: &[f64]) -> f64 {
        let n = v.len() as f64;
        let mean = v.iter().sum::<f64>() / n;
        (v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0) / n).sqrt()
    }

    #[test]
    fn the_standard_error_is_the_windows_spread_at_the_rungs_crf() {
        let points = [
            probe(22.0, &[90.0, 80.0, 70.0]),
            probe(29.0, &[80.0, 66.0, 56.0]),
            probe(36.0, &[60.0, 50.0, 30.0]),
        ];
        let se = |crf| windows_se(&points, (640, 360), crf).unwrap();
        // At CRF 25.5, halfway between the first two: 85, 73, 63.
        assert!((se(25.5) - se_of(&[85.0, 73.0, 63.0])).abs() < 1e-9);
        // At 34.25, three quarters of the way from 29 to 36: 65, 54, 36.5.
        assert!((se(34.25) - se_of(&[65.0, 54.0, 36.5])).abs() < 1e-9);
        // Past the probed CRFs the nearest probe's windows, as the curves hold theirs.
        assert!((se(15.0) - se_of(&[90.0, 80.0, 70.0])).abs() < 1e-9);
        assert!((se(40.0) - se_of(&[60.0, 50.0, 30.0])).abs() < 1e-9);
        // Another size has no probes.
        assert_eq!(windows_se(&points, (1280, 720), 25.5), None);
    }

    #[test]
    fn no_standard_error_from_one_window_windows_not_kept_or_a_probe_without_vmaf() {
        let one = [probe(22.0, &[90.0]), probe(29.0, &[80.0])];
        assert_eq!(windows_se(&one, (640, 360), 25.0), None);
        let old = [probe(22.0, &[]), probe(29.0, &[])];
        assert_eq!(windows_se(&old, (640, 360), 25.0), None);
        let uneven = [probe(22.0, &[90.0, 80.0]), probe(29.0, &[80.0])];
        assert_eq!(windows_se(&uneven, (640, 360), 25.0), None);
        let mut nan = [probe(22.0, &[90.0, 80.0]), probe(29.0, &[80.0, f64::NAN])];
        nan[1].vmaf = f64::NAN;
        assert_eq!(windows_se(&nan, (640, 360), 25.0), None);
        // A probe without a rate does not count (nor does it for the rung's CRF).
        let mut rateless = [probe(22.0, &[90.0, 80.0]), probe(29.0, &[80.0, 60.0])];
        rateless[1].kbps = 0.0;
        assert!((windows_se(&rateless, (640, 360), 25.0).unwrap() - 5.0).abs() < 1e-9);
    }

    #[test]
    fn a_short_titles_windows_leave_less_unknown() {
        let points = [probe(22.0, &[90.0, 80.0]), probe(29.0, &[80.0, 60.0])];
        let mut d = Decision {
            policy: "p".into(),
            points: points.to_vec(),
            hull: vec![0, 1],
            rungs: vec![],
            top_reason: String::new(),
        };
        let mut r = ChosenRung {
            rung: FittedRung {
                id: "v".into(),
                width: 640,
                height: 360,
                decimation: 1,
                bitrate: 1,
                maxrate: 1,
                bufsize: 1,
                crf: Some(22.0),
            },
            predicted_vmaf: 85.0,
            predicted_se: windows_se(&points, (640, 360), 22.0),
            check: None,
            measured: None,
        };
        assert_eq!(r.predicted_se, Some(5.0));
        d.rungs.push(r.clone());
        d.sampled(0.36);
        assert!((d.rungs[0].predicted_se.unwrap() - 4.0).abs() < 1e-9);
        d.sampled(1.0);
        assert_eq!(d.rungs[0].predicted_se, Some(0.0));
        // A check's own windows make a checked rung's error.
        r.checked(4, 500.0, 80.0, &[78.0, 82.0, 78.0, 82.0]);
        assert!((r.predicted_se.unwrap() - se_of(&[78.0, 82.0, 78.0, 82.0])).abs() < 1e-9);
    }

    proptest! {
        /// At a probed CRF the error is that probe's windows'; halfway between two,
        /// that of each window's halfway value; shifting every window leaves it as it
        /// was, drawing them halfway to their mean halves it.
        #[test]
        fn the_standard_error_follows_the_windows(
            w in proptest::collection::vec(proptest::collection::vec(20.0f64..80.0, 3), 2..12),
            shift in -15.0f64..15.0,
        ) {
            let crfs = [22.0f32, 29.0, 36.0];
            let make = |k: f64, s: f64| -> Vec<Measured> {
                let mean: Vec<f64> = (0..3).map(|c| w.iter().map(|x| x[c]).sum::<f64>() / w.len() as f64).collect();
                crfs.iter()
                    .enumerate()
                    .map(|(c, &crf)| probe(crf, &w.iter().map(|x| mean[c] + k * (x[c] - mean[c]) + s).collect::<Vec<_>>()))
                    .collect()
            };
            let points = make(1.0, 0.0);
            for (c, &crf) in crfs.iter().enumerate() {
                let at = windows_se(&points, (640, 360), crf as f64).unwrap();
                let want = se_of(&w.iter().map(|x| x[c]).collect::<Vec<_>>());
                prop_assert!((at - want).abs() < 1e-9, "CRF {crf}: {at} against {want}");
            }
            for c in 0..2 {
                let mid = (crfs[c] + crfs[c + 1]) as f64 / 2.0;
                let at = windows_se(&points, (640, 360), mid).unwrap();
                let want = se_of(&w.iter().map(|x| (x[c] + x[c + 1]) / 2.0).collect::<Vec<_>>());
                prop_assert!((at - want).abs() < 1e-9, "CRF {mid}: {at} against {want}");
            }
            for crf in [24.0, 31.5, 35.0] {
                let se = windows_se(&points, (640, 360), crf).unwrap();
                let shifted = windows_se(&make(1.0, shift), (640, 360), crf).unwrap();
                prop_assert!((shifted - se).abs() < 1e-9);
                let halved = windows_se(&make(0.5, 0.0), (640, 360), crf).unwrap();
                prop_assert!((2.0 * halved - se).abs() < 1e-9);
            }
        }
    }
}
