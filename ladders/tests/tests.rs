//! Property tests for the ladder and grid maths.

use ladders::{builtin, fit_ladder, plan_grid, MasterShape};
use proptest::prelude::*;

proptest! {
    #[test]
    fn grid_is_whole_frames_for_every_rung(fps_num in 10u32..=120, den in prop::sample::select(vec![1u32, 1001]), target in 2.0f64..=8.0, d1 in 1u32..=4, d2 in 1u32..=4) {
        let fps_num = if den == 1001 { fps_num * 1000 } else { fps_num };
        let g = plan_grid(fps_num, den, target, &[d1, d2]).unwrap();
        prop_assert_eq!(g.segment_frames % g.idr_frames, 0);
        prop_assert_eq!(g.idr_frames % d1 as u64, 0);
        prop_assert_eq!(g.idr_frames % d2 as u64, 0);
        let seconds = g.segment_frames as f64 * den as f64 / fps_num as f64;
        // Rounding to whole units of lcm(d1, d2) frames per half segment moves the
        // segment by at most one unit per half.
        let unit = (d1 * d2) as f64;
        prop_assert!((seconds - target).abs() <= unit * den as f64 / fps_num as f64 + 1e-9, "{} s for target {}", seconds, target);
    }

    #[test]
    fn fitted_rungs_never_upscale_and_are_even(w in 16u32..=4096, h in 16u32..=2160, preset in prop::sample::select(vec!["apple-avc", "benchmark"])) {
        let l = builtin(preset).unwrap();
        let rungs = fit_ladder(&l, MasterShape { width: w, height: h, fps_num: 25, fps_den: 1 });
        prop_assert!(!rungs.is_empty());
        for r in &rungs {
            prop_assert!(r.width <= w.max(2) && r.height <= h.max(2), "{:?} for {}x{}", r, w, h);
            prop_assert_eq!(r.width % 2, 0);
            prop_assert_eq!(r.height % 2, 0);
        }
        // Bitrates never decrease up the ladder.
        for pair in rungs.windows(2) {
            prop_assert!(pair[0].height <= pair[1].height);
        }
    }
}

#[test]
fn unknown_preset_names_the_known_ones() {
    let e = builtin("nope").unwrap_err().to_string();
    assert!(e.contains("apple-avc") && e.contains("benchmark"), "{e}");
}

#[test]
fn invalid_ladder_file_is_a_clear_error() {
    let e = ladders::Ladder::parse("name = 'x'\npreset = 'warp'\nprofile='high'\nrate_control='abr'\nmaxrate_ratio=1.5\nbufsize_ratio=2\naudio_kbps=128\n[[rung]]\nwidth=640\nheight=360\nkbps=500\n")
        .unwrap_err()
        .to_string();
    assert!(e.contains("preset 'warp'"), "{e}");
}
