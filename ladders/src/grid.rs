//! The segment grid: segment and IDR boundaries in whole master frames, chosen so that
//! every rung (after its decimation) also has whole frames per segment and per GOP.

use serde::{Deserialize, Serialize};

use crate::LadderError;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Grid {
    /// Master frames per segment.
    pub segment_frames: u64,
    /// Master frames between forced IDRs (divides `segment_frames`).
    pub idr_frames: u64,
}

fn gcd(a: u64, b: u64) -> u64 {
    if b == 0 {
        a
    } else {
        gcd(b, a % b)
    }
}

/// Plan the grid for a master at `fps_num/fps_den` with segments of about
/// `segment_target_s` seconds and an IDR every half segment (Apple: keyframes at
/// least every 2 s with 4 s segments). `decimations` are the rungs' frame decimations.
pub fn plan_grid(
    fps_num: u32,
    fps_den: u32,
    segment_target_s: f64,
    decimations: &[u32],
) -> Result<Grid, LadderError> {
    if fps_num == 0 || fps_den == 0 || fps_num as f64 / fps_den as f64 > 240.0 {
        return Err(LadderError::FrameRate {
            num: fps_num,
            den: fps_den,
        });
    }
    if !(1.0..=10.0).contains(&segment_target_s) {
        return Err(LadderError::SegmentTarget {
            seconds: segment_target_s,
        });
    }
    let fps = fps_num as f64 / fps_den as f64;
    // IDR interval must be a whole number of output frames for every rung.
    let unit = decimations.iter().fold(1u64, |acc, &d| {
        acc / gcd(acc, d.max(1) as u64) * d.max(1) as u64
    });
    let half = (segment_target_s * fps / 2.0 / unit as f64)
        .round()
        .max(1.0) as u64
        * unit;
    Ok(Grid {
        segment_frames: half * 2,
        idr_frames: half,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn common_rates() {
        assert_eq!(plan_grid(24, 1, 4.0, &[1]).unwrap().segment_frames, 96);
        assert_eq!(plan_grid(25, 1, 4.0, &[1]).unwrap().segment_frames, 100);
        assert_eq!(
            plan_grid(30000, 1001, 4.0, &[1]).unwrap().segment_frames,
            120
        );
        let g = plan_grid(50, 1, 4.0, &[1, 2]).unwrap();
        assert_eq!((g.segment_frames, g.idr_frames), (200, 100));
    }

    #[test]
    fn rejects_bad_input() {
        assert!(plan_grid(0, 1, 4.0, &[1]).is_err());
        assert!(plan_grid(25, 1, 0.2, &[1]).is_err());
    }
}
