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

#[test]
fn toml_errors_say_where_and_what() {
    let cases = [
        ("name = 'x'\n", "line 1, column 1: missing field `preset`"),
        (
            "name = 'x'\nname = 'y'\n",
            "line 2, column 1: duplicate key `name`",
        ),
        ("name = \n", "line 1, column 8: "),
    ];
    for (text, expected) in cases {
        let e = ladders::Ladder::parse(text).unwrap_err().to_string();
        assert!(e.contains(expected), "{e}");
        assert!(!e.contains('\n'), "one line: {e}");
        let e = ladders::PerTitlePolicy::parse(text)
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("ladder file is not valid: TOML parse error at line"),
            "{e}"
        );
    }
    let e = ladders::Ladder::parse(&include_str!("../presets/apple-avc.toml").replacen(
        "kbps = 145",
        "kbps = 'fast'",
        1,
    ))
    .unwrap_err()
    .to_string();
    assert!(
        e.contains("invalid type: string \"fast\", expected u32"),
        "{e}"
    );
}

mod per_title {
    use ladders::{
        builtin_policy, choose_ladder, upper_hull, Decision, FinalRateControl, MasterShape,
        Measured,
    };
    use proptest::prelude::*;

    const SIZES: &[(u32, u32)] = &[
        (1920, 1080),
        (1280, 720),
        (960, 540),
        (640, 360),
        (416, 234),
    ];

    fn shape() -> MasterShape {
        MasterShape {
            width: 1920,
            height: 1080,
            fps_num: 24,
            fps_den: 1,
        }
    }

    fn point(size: (u32, u32), crf: f32, kbps: f64, vmaf: f64) -> Measured {
        Measured {
            width: size.0,
            height: size.1,
            crf,
            kbps,
            vmaf,
            vmaf_p5: vmaf,
            psnr_y: 40.0,
            windows: vec![],
        }
    }

    fn arb_points() -> impl Strategy<Value = Vec<Measured>> {
        prop::collection::vec(
            (0usize..SIZES.len(), 10.0f64..30_000.0, 0.0f64..100.0),
            1..25,
        )
        .prop_map(|v| {
            v.into_iter()
                .enumerate()
                .map(|(i, (s, k, q))| point(SIZES[s], i as f32, k, q))
                .collect()
        })
    }

    /// A plausible title: per size, quality saturating with rate, larger sizes
    /// better at high rates and worse at low ones.
    fn curve_points(difficulty: f64) -> Vec<Measured> {
        let mut v = Vec::new();
        for (i, &s) in SIZES.iter().enumerate() {
            let cap = 100.0 - 8.0 * i as f64;
            let pixels = (s.0 * s.1) as f64 / 1e3;
            for crf in [21.0f32, 27.0, 33.0, 39.0] {
                let kbps = pixels * difficulty * (2f64).powf((30.0 - crf as f64) / 6.0);
                let q = cap * (1.0 - (-kbps / (pixels * difficulty * 0.4)).exp());
                v.push(point(s, crf, kbps, q));
            }
        }
        v
    }

    proptest! {
        #[test]
        fn hull_is_upper_and_concave(points in arb_points()) {
            let hull = upper_hull(&points);
            prop_assert!(!hull.is_empty());
            let line: Vec<(f64, f64)> = hull.iter().map(|&i| (points[i].kbps.log2(), points[i].vmaf)).collect();
            for w in line.windows(2) {
                prop_assert!(w[1].0 > w[0].0 && w[1].1 > w[0].1, "hull not rising: {:?}", line);
            }
            for w in line.windows(3) {
                let s1 = (w[1].1 - w[0].1) / (w[1].0 - w[0].0);
                let s2 = (w[2].1 - w[1].1) / (w[2].0 - w[1].0);
                prop_assert!(s2 < s1 + 1e-9, "not concave: {:?}", line);
            }
            let best = line.last().unwrap().1;
            for p in &points {
                let x = p.kbps.log2();
                prop_assert!(p.vmaf <= best + 1e-9);
                // On or below the hull wherever the hull is defined.
                if x >= line[0].0 && x <= line.last().unwrap().0 {
                    let seg = line.windows(2).find(|w| x <= w[1].0).map(|w| w.to_vec()).unwrap_or_else(|| vec![line[0], line[0]]);
                    let q = if seg[1].0 > seg[0].0 { seg[0].1 + (x - seg[0].0) / (seg[1].0 - seg[0].0) * (seg[1].1 - seg[0].1) } else { seg[0].1 };
                    prop_assert!(p.vmaf <= q + 1e-6, "{:?} above hull {:?}", p, line);
                }
            }
        }

        #[test]
        fn chosen_rungs_rise_in_rate_and_never_shrink(points in arb_points()) {
            let policy = builtin_policy();
            let d = choose_ladder(&policy, shape(), &points).unwrap();
            prop_assert!(!d.rungs.is_empty());
            prop_assert!(d.rungs.len() <= policy.rungs.max_rungs as usize);
            for r in &d.rungs {
                let k = r.rung.bitrate / 1000;
                prop_assert!(k + 5 >= policy.rungs.min_kbps as u64 && k <= policy.rungs.max_kbps as u64 + 5, "{:?}", r);
                prop_assert!(r.rung.width % 2 == 0 && r.rung.height % 2 == 0);
            }
            for w in d.rungs.windows(2) {
                prop_assert!(w[1].rung.bitrate > w[0].rung.bitrate, "{:?}", d.rungs);
                prop_assert!(w[1].rung.height >= w[0].rung.height, "{:?}", d.rungs);
                let ratio = w[1].rung.bitrate as f64 / w[0].rung.bitrate as f64;
                // Evenly spaced within step_ratio, unless max_rungs forced wider steps.
                if d.rungs.len() < policy.rungs.max_rungs as usize {
                    prop_assert!(ratio <= policy.rungs.step_ratio * 1.05, "ratio {} in {:?}", ratio, d.rungs);
                }
            }
        }
    }

    #[test]
    fn easy_content_gets_a_cheaper_top_and_no_more_rungs() {
        let policy = builtin_policy();
        let easy = choose_ladder(&policy, shape(), &curve_points(0.3)).unwrap();
        let hard = choose_ladder(&policy, shape(), &curve_points(4.0)).unwrap();
        let top = |d: &ladders::Decision| d.rungs.last().unwrap().rung.bitrate;
        assert!(
            top(&easy) < top(&hard),
            "{}\n{}",
            easy.table(),
            hard.table()
        );
        assert!(easy.rungs.len() <= hard.rungs.len());
        assert!(
            hard.rungs.last().unwrap().rung.height >= 720,
            "{}",
            hard.table()
        );
    }

    #[test]
    fn one_resolution_gives_a_ladder_of_that_size() {
        let pts: Vec<Measured> = curve_points(1.0)
            .into_iter()
            .filter(|p| p.height == 720)
            .collect();
        let d = choose_ladder(&builtin_policy(), shape(), &pts).unwrap();
        assert!(
            d.rungs.iter().all(|r| r.rung.height == 720),
            "{}",
            d.table()
        );
    }

    #[test]
    fn flat_quality_gives_one_rung_at_the_cheapest_point() {
        let pts: Vec<Measured> = (0..4)
            .map(|i| point(SIZES[1], i as f32, 500.0 * (i + 1) as f64, 80.0))
            .collect();
        let d = choose_ladder(&builtin_policy(), shape(), &pts).unwrap();
        assert_eq!(d.rungs.len(), 1, "{}", d.table());
        assert_eq!(d.rungs[0].rung.bitrate, 500_000);
    }

    #[test]
    fn crossing_curves_switch_size_where_they_cross() {
        // 360p is better below ~1 Mbit/s, 1080p above.
        let pts = vec![
            point(SIZES[3], 1.0, 200.0, 50.0),
            point(SIZES[3], 2.0, 800.0, 70.0),
            point(SIZES[3], 3.0, 3000.0, 75.0),
            point(SIZES[0], 1.0, 300.0, 30.0),
            point(SIZES[0], 2.0, 1200.0, 72.0),
            point(SIZES[0], 3.0, 5000.0, 95.0),
        ];
        let d = choose_ladder(&builtin_policy(), shape(), &pts).unwrap();
        let low = d.rungs.first().unwrap();
        let top = d.rungs.last().unwrap();
        assert_eq!(low.rung.height, 360, "{}", d.table());
        assert_eq!(top.rung.height, 1080, "{}", d.table());
    }

    #[test]
    fn a_small_size_keeps_its_best_quality_just_above_its_range() {
        // At 150 kbit/s, 234p measured up to 145 kbit/s (VMAF 58) beats 360p (VMAF ~40):
        // the lowest rung must not switch to 360p only because 234p's range ended.
        let pts = vec![
            point(SIZES[4], 1.0, 87.0, 32.0),
            point(SIZES[4], 2.0, 97.0, 46.0),
            point(SIZES[4], 3.0, 145.0, 58.3),
            point(SIZES[3], 1.0, 142.0, 40.1),
            point(SIZES[3], 2.0, 164.0, 56.0),
            point(SIZES[3], 3.0, 277.0, 70.8),
            point(SIZES[0], 1.0, 1076.0, 68.7),
            point(SIZES[0], 2.0, 7675.0, 91.0),
        ];
        let d = choose_ladder(&builtin_policy(), shape(), &pts).unwrap();
        assert_eq!(d.rungs[0].rung.height, 234, "{}", d.table());
        for w in d.rungs.windows(2) {
            assert!(
                w[1].predicted_vmaf >= w[0].predicted_vmaf - 1e-9,
                "{}",
                d.table()
            );
        }
    }

    #[test]
    fn rungs_are_predicted_along_their_sizes_bending_curve() {
        // One size whose quality bends with log-rate, as measured ones do: between
        // probes the prediction lies above the straight line and below the next probe,
        // and the top rung sits where the curve (not the line) reaches the ceiling.
        let probes = [(300.0, 60.0), (700.0, 80.0), (1600.0, 92.0), (4000.0, 97.0)];
        let pts: Vec<Measured> = probes
            .iter()
            .enumerate()
            .map(|(i, &(k, q))| point(SIZES[1], 36.0 - 7.0 * i as f32, k, q))
            .collect();
        let policy = builtin_policy();
        let d = choose_ladder(&policy, shape(), &pts).unwrap();
        let chord = |x: f64| {
            let w = probes
                .windows(2)
                .find(|w| x <= w[1].0.log2())
                .expect("inside the probes");
            let (x0, x1) = (w[0].0.log2(), w[1].0.log2());
            (w[0].1 + (x - x0) / (x1 - x0) * (w[1].1 - w[0].1), w[1].1)
        };
        let mut between = 0;
        for r in &d.rungs {
            let x = (r.rung.bitrate as f64 / 1000.0).log2();
            if probes.iter().any(|p| (p.0.log2() - x).abs() < 0.05) {
                continue;
            }
            let (line, next) = chord(x);
            assert!(
                r.predicted_vmaf > line + 0.1 && r.predicted_vmaf < next,
                "{} kbit/s: {} against the line's {line}\n{}",
                r.rung.bitrate / 1000,
                r.predicted_vmaf,
                d.table()
            );
            between += 1;
        }
        assert!(between >= 2, "{}", d.table());
        let top = d.rungs.last().unwrap();
        assert!(
            (top.predicted_vmaf - policy.rungs.vmaf_ceiling).abs() < 0.01,
            "{}",
            d.table()
        );
        // The line would reach 94 at 1600 * 2.5^0.4 = 2310 kbit/s.
        assert!(top.rung.bitrate < 2_250_000, "{}", d.table());
    }

    #[test]
    fn a_probe_without_a_vmaf_does_not_take_its_size_off_the_ladder() {
        let mut pts = curve_points(1.0);
        let i = pts
            .iter()
            .position(|p| p.height == 1080 && p.crf == 27.0)
            .unwrap();
        pts[i].vmaf = f64::NAN;
        let d = choose_ladder(&builtin_policy(), shape(), &pts).unwrap();
        assert_eq!(d.rungs.last().unwrap().rung.height, 1080, "{}", d.table());
        assert!(d.rungs.iter().all(|r| r.predicted_vmaf.is_finite()));
    }

    #[test]
    fn a_checked_rung_is_predicted_by_its_check_and_keeps_the_curves_reading() {
        let mut d = choose_ladder(&builtin_policy(), shape(), &curve_points(1.0)).unwrap();
        let curve = d.rungs[0].predicted_vmaf;
        d.rungs[0].checked(4, 600.0, curve + 5.0, &[]);
        // Checked again (a retried analysis): the curves' reading is still the first.
        d.rungs[0].checked(4, 610.0, curve + 6.0, &[]);
        let c = d.rungs[0].check.unwrap();
        assert_eq!((c.windows, c.kbps, c.vmaf), (4, 610.0, curve + 6.0));
        assert_eq!(c.curve_vmaf, curve);
        assert_eq!(d.rungs[0].predicted_vmaf, curve + 6.0);
        assert!(d.table().contains("checked on 4 windows"), "{}", d.table());
        // Stored and read back; a decision stored before checks existed reads as
        // unchecked.
        let json = serde_json::to_string(&d).unwrap();
        let back: Decision = serde_json::from_str(&json).unwrap();
        let b = back.rungs[0].check.unwrap();
        assert_eq!((b.windows, b.kbps), (4, 610.0));
        assert!((b.vmaf - c.vmaf).abs() < 1e-9 && (b.curve_vmaf - curve).abs() < 1e-9);
        assert!(back.rungs[1..].iter().all(|r| r.check.is_none()));
        let mut old: serde_json::Value = serde_json::from_str(&json).unwrap();
        old["rungs"][0].as_object_mut().unwrap().remove("check");
        let old: Decision = serde_json::from_value(old).unwrap();
        assert!(old.rungs[0].check.is_none());
    }

    #[test]
    fn rungs_carry_the_standard_error_of_their_windows() {
        // Four windows per point, apart by an amount that grows with the CRF and
        // differs by size, so that a rung's error says which size and CRF it was read
        // at: window w at a point is its mean + d·s_w, s = (+1, −1, +1, −1).
        let spread = |p: &Measured| (p.crf as f64 - 15.0) / 4.0 * (1.0 + p.height as f64 / 1080.0);
        let points: Vec<Measured> = curve_points(1.0)
            .into_iter()
            .map(|mut p| {
                let d = spread(&p);
                p.windows = [1.0, -1.0, 1.0, -1.0]
                    .iter()
                    .map(|s| p.vmaf + s * d)
                    .collect();
                p
            })
            .collect();
        let mut d = choose_ladder(&builtin_policy(), shape(), &points).unwrap();
        for r in &d.rungs {
            // The windows at the rung's CRF (held at the probed 21..39) are their mean
            // ± the spread there (linear in the CRF, as it is read): a sample standard
            // deviation of d·√(4/3), over √4 windows.
            let crf = (r.rung.crf.unwrap() as f64).clamp(21.0, 39.0);
            let at = Measured {
                crf: crf as f32,
                height: r.rung.height,
                ..points[0].clone()
            };
            let want = spread(&at) * (4.0f64 / 3.0).sqrt() / 2.0;
            let se = r.predicted_se.unwrap();
            assert!(
                (se - want).abs() < 1e-6,
                "{} at CRF {crf}: ±{se} against ±{want}",
                r.rung.id
            );
        }
        let first = d.rungs[0].predicted_se.unwrap();
        assert!(d.table().contains(&format!("±{first:.1}")), "{}", d.table());
        let back: Decision = serde_json::from_str(&serde_json::to_string(&d).unwrap()).unwrap();
        for (b, r) in back.rungs.iter().zip(&d.rungs) {
            assert!((b.predicted_se.unwrap() - r.predicted_se.unwrap()).abs() < 1e-9);
        }
        assert_eq!(back.points[0].windows.len(), 4);
        // An ABR ladder's rungs hit a bitrate, not a CRF: no error from the CRF alone.
        let mut abr = builtin_policy();
        abr.encode.rate_control = FinalRateControl::Abr;
        let mut a = choose_ladder(&abr, shape(), &points).unwrap();
        assert!(a.rungs.iter().all(|r| r.predicted_se.is_none()));
        // Checked, an ABR rung's error is its check windows' (its own encode, at its
        // bitrate).
        a.rungs[0].checked(2, 600.0, 80.0, &[79.0, 81.0]);
        assert!((a.rungs[0].predicted_se.unwrap() - 1.0).abs() < 1e-9);
        // A checked rung's error is its check windows'.
        d.rungs[0].checked(2, 600.0, 80.0, &[79.0, 81.0]);
        assert!((d.rungs[0].predicted_se.unwrap() - 1.0).abs() < 1e-9);
        // Decisions made without windows (or before they were kept) have none.
        let d = choose_ladder(&builtin_policy(), shape(), &curve_points(1.0)).unwrap();
        assert!(d.rungs.iter().all(|r| r.predicted_se.is_none()));
        assert!(!serde_json::to_string(&d).unwrap().contains("predicted_se"));
    }

    #[test]
    fn master_smaller_than_every_probe_size() {
        let policy = builtin_policy();
        let small = MasterShape {
            width: 320,
            height: 180,
            fps_num: 25,
            fps_den: 1,
        };
        let sizes = policy.probe_sizes(small);
        assert_eq!(sizes, vec![(320, 180)]);
        let pts: Vec<Measured> = [(100.0, 60.0), (300.0, 85.0), (900.0, 96.0)]
            .iter()
            .enumerate()
            .map(|(i, &(k, q))| point(sizes[0], i as f32, k, q))
            .collect();
        let d = choose_ladder(&policy, small, &pts).unwrap();
        assert!(d
            .rungs
            .iter()
            .all(|r| (r.rung.width, r.rung.height) == (320, 180)));
        assert!(d.rungs.len() >= 2, "{}", d.table());
    }

    #[test]
    fn no_measurements_is_a_clear_error() {
        let e = choose_ladder(&builtin_policy(), shape(), &[])
            .unwrap_err()
            .to_string();
        assert!(e.contains("no usable"), "{e}");
    }

    #[test]
    fn svg_plot_is_well_formed_and_shows_everything() {
        let d = choose_ladder(&builtin_policy(), shape(), &curve_points(1.0)).unwrap();
        let svg = ladders::plot_svg(&d, "title <1>");
        assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"));
        assert_eq!(svg.matches("<polyline").count(), SIZES.len() + 1);
        assert!(svg.contains("title &lt;1&gt;"));
        assert_eq!(
            svg.matches("fill=\"#d62728\"><title>").count(),
            d.rungs.len()
        );
    }
}

/// Property tests standing in for fuzz targets: ladder and policy files are user input,
/// so any text is a value or an error, never a panic; and what parses is usable.
mod no_panic {
    use ladders::{
        fit_ladder, plan_grid, Ladder, LadderError, MasterShape, PerTitlePolicy, RateControl,
    };
    use proptest::prelude::*;

    const LADDER: &str = include_str!("../presets/apple-avc.toml");
    const CAPPED: &str = include_str!("../presets/benchmark.toml");
    const POLICY: &str = include_str!("../presets/per-title.toml");

    /// Values that sit on the edges of TOML's and the validators' ranges.
    const TOKENS: &[&str] = &[
        "0",
        "-1",
        "1",
        "16",
        "8193",
        "4294967295",
        "4294967296",
        "18446744073709551616",
        "-9223372036854775809",
        "nan",
        "+nan",
        "-nan",
        "inf",
        "-inf",
        "1e309",
        "0.0",
        "-0.0",
        "1.1",
        "4.0",
        "51.0",
        "51.00001",
        "240.0",
        "240.1",
        "1e-320",
        "\"\"",
        "\"x\"",
        "[]",
        "[[0, 0]]",
        "[[16, 16]]",
        "[1.0]",
        "{}",
        "true",
        "'abr'",
        "\"capped-crf\"",
        "1979-05-27",
        "\"\u{0}\"",
        "\"\\u0000\"",
        "\"é\u{feff}\"",
        "[[rung]]",
        "[analysis]",
        "\n",
        "=",
        "#",
        "[",
        "]",
        "\"",
        "'''",
        ",",
        ".",
        "\\",
    ];

    #[derive(Debug, Clone)]
    enum Edit {
        /// Replace the value of the n-th `key = value` line.
        Value(usize, usize),
        /// Insert a token at a char position.
        Insert(usize, usize),
        /// Remove a run of chars.
        Remove(usize, usize),
        /// Remove or duplicate the n-th line.
        DropLine(usize),
        DupLine(usize),
        /// Replace one char with any char.
        Char(usize, char),
    }

    fn edit() -> impl Strategy<Value = Edit> {
        prop_oneof![
            4 => (any::<usize>(), 0..TOKENS.len()).prop_map(|(l, t)| Edit::Value(l, t)),
            2 => (any::<usize>(), 0..TOKENS.len()).prop_map(|(p, t)| Edit::Insert(p, t)),
            1 => (any::<usize>(), 1usize..20).prop_map(|(p, n)| Edit::Remove(p, n)),
            1 => any::<usize>().prop_map(Edit::DropLine),
            1 => any::<usize>().prop_map(Edit::DupLine),
            1 => (any::<usize>(), any::<char>()).prop_map(|(p, c)| Edit::Char(p, c)),
        ]
    }

    fn apply(text: &str, edits: &[Edit]) -> String {
        let mut chars: Vec<char> = text.chars().collect();
        for e in edits {
            let n = chars.len() + 1;
            match *e {
                Edit::Value(l, t) => {
                    let s: String = chars.iter().collect();
                    let mut lines: Vec<String> = s.lines().map(str::to_string).collect();
                    let keyed: Vec<usize> = (0..lines.len())
                        .filter(|&i| lines[i].contains(" = "))
                        .collect();
                    if !keyed.is_empty() {
                        let i = keyed[l % keyed.len()];
                        let key = lines[i].split(" = ").next().unwrap().to_string();
                        lines[i] = format!("{key} = {}", TOKENS[t]);
                    }
                    chars = lines.join("\n").chars().collect();
                }
                Edit::Insert(p, t) => {
                    let at = p % n;
                    chars.splice(at..at, TOKENS[t].chars());
                }
                Edit::Remove(p, len) => {
                    let at = p % n;
                    chars.drain(at..(at + len).min(chars.len()));
                }
                Edit::DropLine(l) | Edit::DupLine(l) => {
                    let s: String = chars.iter().collect();
                    let mut lines: Vec<&str> = s.lines().collect();
                    if !lines.is_empty() {
                        let i = l % lines.len();
                        if matches!(e, Edit::DropLine(_)) {
                            lines.remove(i);
                        } else {
                            lines.insert(i, lines[i]);
                        }
                    }
                    chars = lines.join("\n").chars().collect();
                }
                Edit::Char(p, c) => {
                    if !chars.is_empty() {
                        let at = p % chars.len();
                        chars[at] = c;
                    }
                }
            }
        }
        chars.into_iter().collect()
    }

    const SHAPES: &[(u32, u32, u32, u32)] = &[
        (1920, 1080, 24, 1),
        (1280, 720, 30000, 1001),
        (640, 480, 25, 1),
        (2, 2, 240, 1),
        (7680, 4320, 1, 1),
    ];

    /// An accepted ladder holds what its validation promises, and fits any master.
    fn use_ladder(l: &Ladder) {
        assert!(!l.rungs.is_empty());
        assert!((1.0..=4.0).contains(&l.maxrate_ratio));
        assert!((0.5..=8.0).contains(&l.bufsize_ratio));
        for r in &l.rungs {
            assert!((16..=8192).contains(&r.width) && (16..=8192).contains(&r.height));
            assert!((50..=100_000).contains(&r.kbps));
            assert!(l.rate_control == RateControl::Abr || r.crf.is_some());
        }
        for &(width, height, fps_num, fps_den) in SHAPES {
            let shape = MasterShape {
                width,
                height,
                fps_num,
                fps_den,
            };
            let rungs = fit_ladder(l, shape);
            assert!(!rungs.is_empty());
            let decimations: Vec<u32> = rungs.iter().map(|r| r.decimation).collect();
            plan_grid(fps_num, fps_den, 4.0, &decimations).unwrap();
        }
    }

    /// An accepted policy plans probes, decimations and windows for any master.
    fn use_policy(p: &PerTitlePolicy) {
        for &(width, height, fps_num, fps_den) in SHAPES {
            let shape = MasterShape {
                width,
                height,
                fps_num,
                fps_den,
            };
            let sizes = p.probe_sizes(shape);
            assert!(!sizes.is_empty());
            let d = p.possible_decimations(fps_num, fps_den);
            plan_grid(fps_num, fps_den, 4.0, &d).unwrap();
            // Up to a day at 0.5 s IDR intervals (windows() lists its picks, so an
            // absurd interval count with an unbounded max_windows is a huge Vec).
            for n in [0u64, 1, 7, 3600, 172_800] {
                let w = p.windows(n);
                assert!(w.len() as u64 <= n && w.iter().all(|&i| i < n.max(1)));
            }
        }
    }

    fn check_error(e: &LadderError) {
        if let LadderError::Parse { detail } = e {
            // Where ("TOML parse error at line L, column C") and what, after ": ".
            assert!(detail.contains(": "), "{detail}");
        }
        assert!(!e.to_string().is_empty());
    }

    #[test]
    fn the_seeds_are_valid() {
        use_ladder(&Ladder::parse(LADDER).unwrap());
        use_ladder(&Ladder::parse(CAPPED).unwrap());
        use_policy(&PerTitlePolicy::parse(POLICY).unwrap());
        // The editor reaches values: a bad one is refused by name.
        let e = Ladder::parse(&apply(LADDER, &[Edit::Value(6, 9)])).unwrap_err();
        assert!(e.to_string().contains("bufsize_ratio NaN"), "{e}");
    }

    /// Every edge value on every key of every seed, exhaustively (about 3,000 files):
    /// the cases a random search reaches only by luck.
    #[test]
    fn every_edge_value_on_every_key() {
        for seed in [LADDER, CAPPED, POLICY] {
            let keys = seed.lines().filter(|l| l.contains(" = ")).count();
            for l in 0..keys {
                for t in 0..TOKENS.len() {
                    let text = apply(seed, &[Edit::Value(l, t)]);
                    let r = std::panic::catch_unwind(|| {
                        if seed == POLICY {
                            PerTitlePolicy::parse(&text).map(|p| use_policy(&p))
                        } else {
                            Ladder::parse(&text).map(|l| use_ladder(&l))
                        }
                    });
                    match r {
                        Ok(Ok(())) => {}
                        Ok(Err(e)) => check_error(&e),
                        Err(_) => panic!("panic on:\n{text}"),
                    }
                }
            }
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(384))]

        #[test]
        fn any_text_is_a_ladder_or_an_error(text in "\\PC{0,300}") {
            match Ladder::parse(&text) {
                Ok(l) => use_ladder(&l),
                Err(e) => check_error(&e),
            }
            match PerTitlePolicy::parse(&text) {
                Ok(p) => use_policy(&p),
                Err(e) => check_error(&e),
            }
        }

        #[test]
        fn mutated_ladders_are_ladders_or_errors(seed in prop::sample::select(vec![LADDER, CAPPED]), edits in prop::collection::vec(edit(), 1..5)) {
            match Ladder::parse(&apply(seed, &edits)) {
                Ok(l) => use_ladder(&l),
                Err(e) => check_error(&e),
            }
        }

        #[test]
        fn mutated_policies_are_policies_or_errors(edits in prop::collection::vec(edit(), 1..5)) {
            match PerTitlePolicy::parse(&apply(POLICY, &edits)) {
                Ok(p) => use_policy(&p),
                Err(e) => check_error(&e),
            }
        }
    }
}
