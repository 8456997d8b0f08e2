//! Rate–quality curves per probe size and their upper convex hull, in the plane of
//! log2(bitrate) and VMAF — the plane the ladder is read from and plotted in, where
//! equal bitrate ratios are equal distances.

use serde::{Deserialize, Serialize};

/// One probe encode's result, averaged over the probed windows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Measured {
    pub width: u32,
    pub height: u32,
    pub crf: f32,
    pub kbps: f64,
    pub vmaf: f64,
    /// 5th percentile of per-frame VMAF.
    pub vmaf_p5: f64,
    pub psnr_y: f64,
    /// Each probed window's own VMAF at this point (its scored frames' mean), in window
    /// order: how far apart the windows are says how far `vmaf` may be from the
    /// title's (see `ChosenRung::predicted_se`). Empty in decisions made before they
    /// were kept.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub windows: Vec<f64>,
}

impl Measured {
    pub(crate) fn x(&self) -> f64 {
        self.kbps.log2()
    }
}

fn cross(o: (f64, f64), a: (f64, f64), b: (f64, f64)) -> f64 {
    (a.0 - o.0) * (b.1 - o.1) - (a.1 - o.1) * (b.0 - o.0)
}

/// Indices of the points on the upper convex hull, by rising bitrate, from the
/// cheapest point up to the best quality (the falling part beyond it is no use to a
/// ladder). Concave in (log2 kbps, VMAF): slopes strictly decrease along it.
pub fn upper_hull(points: &[Measured]) -> Vec<usize> {
    let mut idx: Vec<usize> = (0..points.len())
        .filter(|&i| {
            points[i].kbps > 0.0 && points[i].kbps.is_finite() && points[i].vmaf.is_finite()
        })
        .collect();
    // By x, and at equal x the best quality last so it survives.
    idx.sort_by(|&a, &b| {
        points[a]
            .x()
            .total_cmp(&points[b].x())
            .then(points[a].vmaf.total_cmp(&points[b].vmaf))
    });
    let mut hull: Vec<usize> = Vec::new();
    for i in idx {
        let p = (points[i].x(), points[i].vmaf);
        if let Some(&last) = hull.last() {
            if points[last].x() == p.0 {
                hull.pop();
            }
        }
        while hull.len() >= 2 {
            let a = &points[hull[hull.len() - 2]];
            let b = &points[hull[hull.len() - 1]];
            // Drop b unless it lies strictly above the line from a to p.
            if cross((a.x(), a.vmaf), (b.x(), b.vmaf), p) >= 0.0 {
                hull.pop();
            } else {
                break;
            }
        }
        hull.push(i);
    }
    // Keep the rising part: up to the first point of best quality.
    if let Some(best) = hull
        .iter()
        .enumerate()
        .max_by(|a, b| {
            points[*a.1]
                .vmaf
                .total_cmp(&points[*b.1].vmaf)
                .then(b.0.cmp(&a.0))
        })
        .map(|(k, _)| k)
    {
        hull.truncate(best + 1);
    }
    hull
}

/// Piecewise-linear value of a polyline (x rising) at `x`; None outside its range.
pub(crate) fn interpolate(line: &[(f64, f64)], x: f64) -> Option<f64> {
    let first = line.first()?;
    let last = line.last()?;
    if x < first.0 - 1e-12 || x > last.0 + 1e-12 {
        return None;
    }
    if line.len() == 1 {
        return Some(first.1);
    }
    for w in line.windows(2) {
        if x <= w[1].0 + 1e-12 {
            let span = w[1].0 - w[0].0;
            if span <= 0.0 {
                return Some(w[1].1);
            }
            let t = ((x - w[0].0) / span).clamp(0.0, 1.0);
            return Some(w[0].1 + t * (w[1].1 - w[0].1));
        }
    }
    Some(last.1)
}

/// A probe size and its curve in (log2 kbps, VMAF).
pub(crate) type SizeCurve = ((u32, u32), Vec<(f64, f64)>);

/// CRF steps past the probed CRFs that an extension may reach: by x264's rule of thumb
/// one halving or doubling of the rate. Further out the probes say nothing, and on a
/// still or black picture, whose rate hardly moves with the CRF, the extension would
/// run to CRF 0, which x264 takes as lossless (refused by the High profile).
const CRF_REACH: f64 = 6.0;

/// The x264 CRF that gives rate `x` (log2 kbit/s) at `size`, from that size's probes:
/// interpolated between measured CRFs in log rate, and outside them extended along the
/// nearest two (or, with one probe, by x264's rule of thumb: 6 CRF steps halve the
/// rate), at most [`CRF_REACH`] past the probed CRFs. Kept within 1-51 (CRF 0 is
/// lossless), to a tenth.
pub(crate) fn crf_at(points: &[Measured], size: (u32, u32), x: f64) -> Option<f32> {
    let mut line: Vec<(f64, f64)> = points
        .iter()
        .filter(|p| (p.width, p.height) == size && p.kbps > 0.0)
        .map(|p| (p.x(), p.crf as f64))
        .collect();
    // The probed CRFs, before probes of equal rate collapse into one.
    let lowest = line.iter().map(|p| p.1).fold(f64::INFINITY, f64::min);
    let highest = line.iter().map(|p| p.1).fold(f64::NEG_INFINITY, f64::max);
    line.sort_by(|a, b| a.0.total_cmp(&b.0));
    line.dedup_by(|a, b| (a.0 - b.0).abs() < 1e-9);
    let crf = match line.as_slice() {
        [] => return None,
        [one] => one.1 - 6.0 * (x - one.0),
        [a, b, ..] if x < a.0 => a.1 + (x - a.0) * (b.1 - a.1) / (b.0 - a.0),
        [.., a, b] if x > b.0 => b.1 + (x - b.0) * (b.1 - a.1) / (b.0 - a.0),
        _ => interpolate(&line, x)?,
    };
    let crf = crf
        .clamp(lowest - CRF_REACH, highest + CRF_REACH)
        .clamp(1.0, 51.0);
    Some(((crf * 10.0).round() / 10.0) as f32)
}

/// Each probe size's curve in (log2 kbps, VMAF), by rising bitrate, largest size
/// first.
pub(crate) fn curves(points: &[Measured]) -> Vec<SizeCurve> {
    let mut sizes: Vec<(u32, u32)> = points.iter().map(|p| (p.width, p.height)).collect();
    sizes.sort_by_key(|s| std::cmp::Reverse((s.1, s.0)));
    sizes.dedup();
    sizes
        .into_iter()
        .map(|s| {
            let mut line: Vec<(f64, f64)> = points
                .iter()
                .filter(|p| (p.width, p.height) == s && p.kbps > 0.0)
                .map(|p| (p.x(), p.vmaf))
                .collect();
            line.sort_by(|a, b| a.0.total_cmp(&b.0));
            (s, line)
        })
        .collect()
}

#[cfg(test)]
mod crf_tests {
    use super::*;

    fn m(crf: f32, kbps: f64) -> Measured {
        Measured {
            width: 1280,
            height: 720,
            crf,
            kbps,
            vmaf: 80.0,
            vmaf_p5: 70.0,
            psnr_y: 40.0,
            windows: vec![],
        }
    }

    #[test]
    fn crf_from_the_probes_of_the_size() {
        let pts = [m(22.0, 4000.0), m(29.0, 1600.0), m(36.0, 700.0)];
        let size = (1280, 720);
        // On a probe: its CRF.
        assert_eq!(crf_at(&pts, size, 1600f64.log2()), Some(29.0));
        // Between probes: between their CRFs, falling as the rate rises.
        let mid = crf_at(&pts, size, 2500f64.log2()).unwrap();
        assert!(mid > 22.0 && mid < 29.0, "{mid}");
        // Beyond them: extended, at most one rate doubling's worth of CRF past them.
        assert!(crf_at(&pts, size, 8000f64.log2()).unwrap() < 22.0);
        assert!(crf_at(&pts, size, 300f64.log2()).unwrap() > 36.0);
        assert_eq!(crf_at(&pts, size, 1e9f64.log2()), Some(16.0));
        assert_eq!(crf_at(&pts, size, 1f64.log2()), Some(42.0));
        // Another size has no probes here.
        assert_eq!(crf_at(&pts, (640, 360), 1000f64.log2()), None);
        // One probe: 6 CRF steps per halving.
        assert_eq!(crf_at(&pts[1..2], size, 800f64.log2()), Some(35.0));
    }

    /// A black or still picture costs the same few kbit/s at every CRF: a rung asked
    /// for far more than that gets a CRF near the probes', never 0 (lossless, which
    /// x264's High profile refuses).
    #[test]
    fn a_flat_curve_never_extends_to_lossless() {
        let flat = [m(22.0, 7.0), m(29.0, 7.0), m(36.0, 7.0)];
        let nearly = [m(22.0, 7.2), m(29.0, 7.1), m(36.0, 7.0)];
        let size = (1280, 720);
        for pts in [&flat[..], &nearly[..]] {
            let crf = crf_at(pts, size, 145f64.log2()).unwrap();
            assert!((16.0..22.0).contains(&crf), "{crf} from {pts:?}");
            let low = crf_at(pts, size, 1f64.log2()).unwrap();
            assert!(low > 36.0 && low <= 42.0, "{low} from {pts:?}");
        }
        // A size probed at CRF 1 already cannot go below it.
        assert_eq!(crf_at(&[m(1.0, 900.0)], size, 1e6f64.log2()), Some(1.0));
    }
}
