//! Bjøntegaard delta rate (BD-rate): the average bitrate difference of a test
//! rate–quality curve against an anchor at equal quality, over the quality range both
//! cover. Log-rate is interpolated as a function of quality with piecewise cubic
//! Hermite (monotone, Fritsch–Carlson) curves — the "piecewise cubic" variant used by
//! JVET/AOM tools instead of the original cubic polynomial fit, which overshoots with
//! four or more points — and integrated numerically.

use crate::pchip::Pchip;
use crate::LadderError;

/// BD-rate of `test` against `anchor`, percent: negative means `test` needs fewer bits
/// for the same quality. Points are (kbit/s, quality); each curve needs at least two
/// points with distinct qualities and quality rising with rate.
pub fn bd_rate(anchor: &[(f64, f64)], test: &[(f64, f64)]) -> Result<f64, LadderError> {
    let a = curve("anchor", anchor)?;
    let t = curve("test", test)?;
    let ((a_lo, a_hi), (t_lo, t_hi)) = (a.range(), t.range());
    let (lo, hi) = (a_lo.max(t_lo), a_hi.min(t_hi));
    if hi - lo <= 1e-9 {
        return Err(LadderError::BdRate {
            detail: format!(
                "quality ranges do not overlap (anchor {:.2}..{:.2}, test {:.2}..{:.2})",
                a_lo, a_hi, t_lo, t_hi
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
    log_rate: Pchip,
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
    let by_quality: Vec<(f64, f64)> = p.iter().map(|x| (x.1, x.0.ln())).collect();
    let log_rate = Pchip::new(&by_quality).expect("qualities checked finite and rising");
    Ok(Curve { log_rate })
}

impl Curve {
    /// The qualities it covers.
    fn range(&self) -> (f64, f64) {
        self.log_rate.range()
    }

    fn log_rate(&self, q: f64) -> f64 {
        self.log_rate.at_clamped(q)
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
