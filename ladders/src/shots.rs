//! Which shot starts get an IDR of their own. Every rendition gets IDRs on the segment
//! grid (every `idr_frames` master frames); a shot that starts between two of them gets
//! one more, at its first frame, in every rendition, so the new picture is coded from
//! scratch at once instead of predicted from the last shot (what x264 would otherwise
//! decide for itself, rendition by rendition, from its own lookahead). A shot start
//! close to another IDR is left alone: a second IDR a few frames from the first costs
//! a whole intra picture and saves little (a flash, a fast cut sequence).

/// The master frames, in order, of `shot_starts` that get an IDR: not on the grid, and
/// at least `min_gap` frames from every grid IDR and from the shot IDR before.
/// `shot_starts` are master frame indices in any order; `frame_count` bounds them.
pub fn shot_idrs(shot_starts: &[u64], idr_frames: u64, min_gap: u64, frame_count: u64) -> Vec<u64> {
    let idr = idr_frames.max(1);
    let mut starts: Vec<u64> = shot_starts
        .iter()
        .copied()
        .filter(|&s| s < frame_count)
        .collect();
    starts.sort_unstable();
    starts.dedup();
    let mut out: Vec<u64> = Vec::new();
    for s in starts {
        let after_grid = s % idr;
        let before_grid = idr - after_grid;
        let near_grid = after_grid < min_gap || before_grid < min_gap || after_grid == 0;
        let near_last = out.last().is_some_and(|&p| s - p < min_gap);
        if !near_grid && !near_last {
            out.push(s);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn keeps_shots_between_grid_idrs_and_drops_close_ones() {
        // IDR every 48, gap 12: 60 (12 after 48) kept, 50 (2 after 48), 66 (6 after
        // 60), 90 (6 before 96) and 105 (9 after 96) dropped, 120 kept, 144 (on the
        // grid) dropped.
        assert_eq!(
            shot_idrs(&[105, 60, 50, 66, 90, 120, 144, 144], 48, 12, 1000),
            vec![60, 120]
        );
        assert_eq!(shot_idrs(&[60, 2000], 48, 12, 1000), vec![60]);
        assert!(shot_idrs(&[], 48, 12, 1000).is_empty());
    }

    proptest! {
        #[test]
        fn every_kept_start_is_a_shot_start_far_from_every_other_idr(
            starts in proptest::collection::vec(0u64..2000, 0..60),
            idr in 1u64..100,
            gap in 0u64..30,
        ) {
            let kept = shot_idrs(&starts, idr, gap, 1500);
            for w in kept.windows(2) {
                prop_assert!(w[0] < w[1]);
                prop_assert!(w[1] - w[0] >= gap);
            }
            for &k in &kept {
                prop_assert!(starts.contains(&k) && k < 1500);
                prop_assert!(k % idr != 0);
                prop_assert!(k % idr >= gap && idr - k % idr >= gap);
            }
        }
    }
}
