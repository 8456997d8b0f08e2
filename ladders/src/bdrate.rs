//! Bjøntegaard delta rate (BD-rate): the average bitrate difference of a test
//! rate–quality curve against an anchor at equal quality, over the quality range both
//! cover. Log-rate is interpolated as a function of quality with piecewise cubic
//! Hermite (monotone, Fritsch–Carlson) curves — the "piecewise cubic" variant used by
//! JVET/AOM tools instead of the original cubic polynomial fit, which overshoots with
//! four or more points — and integrated numerically.

use crate::LadderError;

/// BD-rate of `test` against `anchor`, percent: negative means `test` needs fewer bits
/// for the same quality. Points are (kbit/s, quality); each curve needs at least two
/// points with distinct qualities and quality rising with rate.
pub fn bd_rate(anchor: &[(f64, f64)], test: &[(f64, f64)]) -> Result<f64, LadderError> {
    let a = curve("anchor", anchor)?;
    let t = curve("test", test)?;
    let lo = a.q[0].max(t.q[0]);
    let hi = a.q[a.q.len() - 1].min(t.q[t.q.len() - 1]);
    if hi - lo <= 1e-9 {
        return Err(LadderError::BdRate {
            detail: format!(
                "quality ranges do not overlap (anchor {:.2}..{:.2}, test {:.2}..{:.2})",
                a.q[0],
                a.q[a.q.len() - 1],
                t.q[0],
                t.q[t.q.len() - 1]
            ),
        });
    }
    // Composite Simpson's rule; the integrands are smooth piecewise cubics.
    let n = 2000;
    let h = (hi - lo) / n as f64;
    let mut sum = 0.0;
    for i in 0..=n {
        let q = lo + i as f64 * h;
        let w = if i == 0 || i == n {
            1.0
        } else if i % 2 == 1 {
            4.0
        } else {
            2.0
        };
        sum += w * (t.log_rate(q) - a.log_rate(q));
    }
    let mean_diff = sum * h / 3.0 / (hi - lo);
    Ok((mean_diff.exp() - 1.0) * 100.0)
}

/// ln(rate) as a monotone piecewise cubic function of quality.
struct Curve {
    q: Vec<f64>,
    r: Vec<f64>,
    slope: Vec<f64>,
}

fn curve(which: &str, pts: &[(f64, f64)]) -> Result<Curve, LadderError> {
    let bad = |detail: String| LadderError::BdRate {
        detail: format!("{which} curve: {detail}"),
    };
    if pts.len() < 2 {
        return Err(bad(format!("{} point(s); at least 2 needed", pts.len())));
    }
    let mut p: Vec<(f64, f64)> = pts.to_vec();
    for &(rate, q) in &p {
        if !(rate > 0.0 && rate.is_finite() && q.is_finite()) {
            return Err(bad(format!(
                "point ({rate}, {q}) is not a positive rate with a finite quality"
            )));
        }
    }
    p.sort_by(|x, y| x.0.total_cmp(&y.0));
    for w in p.windows(2) {
        if w[1].1 <= w[0].1 {
            return Err(bad(format!(
                "quality does not rise with rate ({:.1} kbit/s: {:.3}, {:.1} kbit/s: {:.3})",
                w[0].0, w[0].1, w[1].0, w[1].1
            )));
        }
    }
    let q: Vec<f64> = p.iter().map(|x| x.1).collect();
    let r: Vec<f64> = p.iter().map(|x| x.0.ln()).collect();
    let slope = pchip_slopes(&q, &r);
    Ok(Curve { q, r, slope })
}

/// Fritsch–Carlson slopes: a monotone cubic Hermite interpolant through the points.
fn pchip_slopes(x: &[f64], y: &[f64]) -> Vec<f64> {
    let n = x.len();
    let d: Vec<f64> = (0..n - 1)
        .map(|i| (y[i + 1] - y[i]) / (x[i + 1] - x[i]))
        .collect();
    if n == 2 {
        return vec![d[0], d[0]];
    }
    let mut m = vec![0.0; n];
    for i in 1..n - 1 {
        if d[i - 1] * d[i] <= 0.0 {
            m[i] = 0.0;
        } else {
            let (h0, h1) = (x[i] - x[i - 1], x[i + 1] - x[i]);
            let (w1, w2) = (2.0 * h1 + h0, h1 + 2.0 * h0);
            m[i] = (w1 + w2) / (w1 / d[i - 1] + w2 / d[i]);
        }
    }
    // One-sided, shape-preserving end slopes.
    let end = |h0: f64, h1: f64, d0: f64, d1: f64| {
        let s = ((2.0 * h0 + h1) * d0 - h0 * d1) / (h0 + h1);
        if s.signum() != d0.signum() {
            0.0
        } else if d0.signum() != d1.signum() && s.abs() > 3.0 * d0.abs() {
            3.0 * d0
        } else {
            s
        }
    };
    m[0] = end(x[1] - x[0], x[2] - x[1], d[0], d[1]);
    m[n - 1] = end(x[n - 1] - x[n - 2], x[n - 2] - x[n - 3], d[n - 2], d[n - 3]);
    m
}

impl Curve {
    fn log_rate(&self, q: f64) -> f64 {
        let n = self.q.len();
        let i = match self.q.iter().position(|&x| x > q) {
            Some(0) => 0,
            Some(i) => i - 1,
            None => n - 2,
        }
        .min(n - 2);
        let (x0, x1) = (self.q[i], self.q[i + 1]);
        let h = x1 - x0;
        let t = ((q - x0) / h).clamp(0.0, 1.0);
        let (t2, t3) = (t * t, t * t * t);
        (2.0 * t3 - 3.0 * t2 + 1.0) * self.r[i]
            + (t3 - 2.0 * t2 + t) * h * self.slope[i]
            + (-2.0 * t3 + 3.0 * t2) * self.r[i + 1]
            + (t3 - t2) * h * self.slope[i + 1]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn anchor() -> Vec<(f64, f64)> {
        vec![
            (500.0, 60.0),
            (1000.0, 75.0),
            (2000.0, 85.0),
            (4000.0, 92.0),
        ]
    }

    #[test]
    fn same_curve_is_zero() {
        assert!(bd_rate(&anchor(), &anchor()).unwrap().abs() < 1e-9);
    }

    #[test]
    fn uniformly_cheaper_curve_gives_that_saving() {
        // Every quality reached at 80% of the rate: exactly -20%, by hand.
        let t: Vec<_> = anchor().iter().map(|&(r, q)| (r * 0.8, q)).collect();
        let v = bd_rate(&anchor(), &t).unwrap();
        assert!((v + 20.0).abs() < 1e-9, "{v}");
        // And the anchor against it: 1/0.8 - 1 = +25%.
        let v = bd_rate(&t, &anchor()).unwrap();
        assert!((v - 25.0).abs() < 1e-9, "{v}");
    }

    #[test]
    fn two_point_curves_are_linear_in_log_rate() {
        // Anchor: ln r = ln 1000 + (q - 70) / 10 * ln 2 over q in 70..80.
        // Test: half the rate at q = 70, the same at q = 80: the difference in ln r
        // falls linearly from -ln 2 to 0, mean -ln2/2, so BD-rate = 2^-0.5 - 1.
        let a = [(1000.0, 70.0), (2000.0, 80.0)];
        let t = [(500.0, 70.0), (2000.0, 80.0)];
        let v = bd_rate(&a, &t).unwrap();
        let want = (0.5f64.sqrt() - 1.0) * 100.0;
        assert!((v - want).abs() < 1e-6, "{v} vs {want}");
    }

    #[test]
    fn only_the_overlapping_quality_range_counts() {
        // Test covers 70..90 at half the rate, anchor 60..80: overlap 70..80.
        let a = [(500.0, 60.0), (1000.0, 70.0), (2000.0, 80.0)];
        let t = [(500.0, 70.0), (1000.0, 80.0), (2000.0, 90.0)];
        let v = bd_rate(&a, &t).unwrap();
        assert!((v + 50.0).abs() < 0.5, "{v}");
    }

    #[test]
    fn refuses_unusable_curves() {
        assert!(bd_rate(&[(100.0, 50.0)], &anchor()).is_err());
        assert!(bd_rate(&[(100.0, 50.0), (200.0, 40.0)], &anchor()).is_err());
        assert!(bd_rate(&[(100.0, 10.0), (200.0, 20.0)], &anchor()).is_err());
        assert!(bd_rate(&[(0.0, 10.0), (200.0, 70.0)], &anchor()).is_err());
    }
}
