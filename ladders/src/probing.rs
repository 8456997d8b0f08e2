//! Adaptive probing: which (size, CRF) points to measure next, given those measured.
//!
//! The full grid (every probe size at every CRF) spends encodes on points that never
//! reach the hull: on real clips the largest sizes' high-CRF points and the smallest
//! sizes' low-CRF points are always beaten. So probing starts with every size at the
//! middle CRF, then, round by round:
//! - every size with a point on the hull below the VMAF ceiling gets its next lower CRF
//!   (more rate and quality): each size that can carry a rung gets a curve with a
//!   slope, so a rung's prediction and CRF are interpolated, not guessed from one point
//!   (with one point per size the middle rungs were predicted 15 VMAF low);
//! - the top (the hull's highest-rate point) at or above the ceiling gets its next
//!   higher CRF, so that the ceiling's crossing is measured within one size;
//! - the bottom (its lowest-rate point) above the VMAF floor gets its next higher CRF
//!   (toward the floor).
//!
//! It stops when no such step is left unprobed. Opt-in (`adaptive = true` in the
//! policy; the default probes the full grid): on four real clips it probed about 2/3 of
//! the points but the ladders lost 1-3.5 points of BD-rate against Apple's, because a
//! larger size whose curve lacks its high-CRF point cannot stand for low rates, and a
//! smaller size got those rungs.

use crate::hull::{upper_hull, Measured};
use crate::{MasterShape, PerTitlePolicy};

/// One probe: a size and a CRF.
pub type Probe = (u32, u32, f32);

/// The points to measure next for a master of `shape` (empty: probing is done).
/// `measured` holds every point measured so far (averaged over the windows).
pub fn next_probes(
    policy: &PerTitlePolicy,
    shape: MasterShape,
    measured: &[Measured],
) -> Vec<Probe> {
    let sizes = policy.probe_sizes(shape);
    let mut crfs = policy.analysis.crfs.clone();
    crfs.sort_by(f32::total_cmp);
    crfs.dedup();
    let probed = |w: u32, h: u32, crf: f32| {
        measured
            .iter()
            .any(|m| (m.width, m.height) == (w, h) && m.crf == crf)
    };
    let mut out: Vec<Probe> = Vec::new();
    let mut want = |p: Probe| {
        if !probed(p.0, p.1, p.2) && !out.contains(&p) {
            out.push(p);
        }
    };
    if !policy.analysis.adaptive {
        for &(w, h) in &sizes {
            for &c in &crfs {
                want((w, h, c));
            }
        }
        return out;
    }
    let middle = crfs[crfs.len() / 2];
    if measured.is_empty() {
        for &(w, h) in &sizes {
            want((w, h, middle));
        }
        return out;
    }
    // A CRF step from `crf` at the same size: lower (more quality) or higher.
    let step = |crf: f32, lower: bool| {
        let i = crfs.iter().position(|&c| c == crf)?;
        if lower {
            i.checked_sub(1).map(|j| crfs[j])
        } else {
            crfs.get(i + 1).copied()
        }
    };
    let hull = upper_hull(measured);
    let (Some(&top), Some(&bottom)) = (hull.last(), hull.first()) else {
        return out;
    };
    let r = &policy.rungs;
    for &i in &hull {
        let m = &measured[i];
        if m.vmaf < r.vmaf_ceiling {
            if let Some(c) = step(m.crf, true) {
                want((m.width, m.height, c));
            }
        }
    }
    let t = &measured[top];
    if t.vmaf >= r.vmaf_ceiling {
        if let Some(c) = step(t.crf, false) {
            want((t.width, t.height, c));
        }
    }
    let b = &measured[bottom];
    if b.vmaf > r.vmaf_floor {
        if let Some(c) = step(b.crf, false) {
            want((b.width, b.height, c));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::builtin_policy;

    fn shape() -> MasterShape {
        MasterShape {
            width: 1280,
            height: 720,
            fps_num: 24,
            fps_den: 1,
        }
    }

    /// A plausible title: quality rises with rate, each size saturating lower.
    fn measure(p: Probe) -> Measured {
        let (w, h, crf) = p;
        let pixels = (w * h) as f64;
        let kbps = pixels / 600.0 * 2f64.powf((29.0 - crf as f64) / 6.0);
        let cap = 100.0 - 3_000_000.0 / pixels.max(1.0);
        let vmaf = (cap * (1.0 - (-kbps / (pixels / 900.0)).exp())).clamp(0.0, 100.0);
        Measured {
            width: w,
            height: h,
            crf,
            kbps,
            vmaf,
            vmaf_p5: vmaf - 5.0,
            psnr_y: 40.0,
            windows: vec![],
        }
    }

    fn run(policy: &PerTitlePolicy) -> Vec<Measured> {
        let mut measured = Vec::new();
        for _ in 0..20 {
            let next = next_probes(policy, shape(), &measured);
            if next.is_empty() {
                return measured;
            }
            measured.extend(next.into_iter().map(measure));
        }
        panic!("probing did not stop: {measured:?}");
    }

    fn adaptive() -> PerTitlePolicy {
        let mut p = builtin_policy();
        p.analysis.adaptive = true;
        p
    }

    #[test]
    fn adaptive_probing_starts_at_the_middle_crf_and_stops() {
        let p = adaptive();
        let first = next_probes(&p, shape(), &[]);
        assert_eq!(first.len(), p.probe_sizes(shape()).len());
        assert!(first.iter().all(|x| x.2 == 29.0), "{first:?}");
        let measured = run(&p);
        let full = p.probe_sizes(shape()).len() * p.analysis.crfs.len();
        assert!(
            measured.len() < full,
            "{} of {full} points probed",
            measured.len()
        );
    }

    #[test]
    fn adaptive_probing_keeps_the_hulls_ends() {
        // The hull of the adaptive points reaches as high and as low as the full grid's.
        let p = adaptive();
        let adaptive = run(&p);
        let mut full_policy = p.clone();
        full_policy.analysis.adaptive = false;
        let full = run(&full_policy);
        let ends = |m: &[Measured]| {
            let h = upper_hull(m);
            (m[h[0]].kbps, m[*h.last().unwrap()].vmaf)
        };
        // Every size that carries part of the hull below the ceiling has a curve with
        // a slope (two points), not one point to guess from.
        for &i in &upper_hull(&adaptive) {
            let m = &adaptive[i];
            let n = adaptive
                .iter()
                .filter(|x| (x.width, x.height) == (m.width, m.height))
                .count();
            assert!(n >= 2 || m.vmaf >= p.rungs.vmaf_ceiling, "{m:?} alone");
        }
        let (a_low, a_top) = ends(&adaptive);
        let (f_low, f_top) = ends(&full);
        assert!((a_low - f_low).abs() < 1e-9, "{a_low} vs {f_low}");
        assert!((a_top - f_top).abs() < 1e-9, "{a_top} vs {f_top}");
    }

    #[test]
    fn non_adaptive_probing_is_the_full_grid_in_one_round() {
        let mut p = builtin_policy();
        p.analysis.adaptive = false;
        let first = next_probes(&p, shape(), &[]);
        assert_eq!(
            first.len(),
            p.probe_sizes(shape()).len() * p.analysis.crfs.len()
        );
        let measured: Vec<Measured> = first.into_iter().map(measure).collect();
        assert!(next_probes(&p, shape(), &measured).is_empty());
    }
}
