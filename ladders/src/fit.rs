//! Fit a ladder to one master: no upscaling, aspect kept, even sizes, frame-rate caps.

use serde::{Deserialize, Serialize};

use crate::{Ladder, RateControl};

/// What the fit needs to know of the master.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MasterShape {
    /// Display size (sample aspect applied).
    pub width: u32,
    pub height: u32,
    pub fps_num: u32,
    pub fps_den: u32,
}

/// One rendition the farm will encode.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FittedRung {
    /// Key-safe id, for example `v720p-3000k`.
    pub id: String,
    pub width: u32,
    pub height: u32,
    /// Keep one master frame in `decimation`.
    pub decimation: u32,
    pub bitrate: u64,
    pub maxrate: u64,
    pub bufsize: u64,
    pub crf: Option<f32>,
}

fn even(x: f64) -> u32 {
    ((x / 2.0).round() as u32 * 2).max(2)
}

/// Fit `box_w`x`box_h` around a `w`x`h` picture: the largest even size of the
/// picture's aspect inside the box. Ladders are written in landscape boxes; a portrait
/// picture (rotated phone video) is fitted in the same box turned upright, so that a
/// 1080x1920 master gets a 1080x1920 top rung rather than 608x1080.
pub(crate) fn fit_box(w: u32, h: u32, box_w: u32, box_h: u32) -> (u32, u32) {
    let (box_w, box_h) = if h > w && box_w > box_h {
        (box_h, box_w)
    } else {
        (box_w, box_h)
    };
    let scale = (box_w as f64 / w as f64).min(box_h as f64 / h as f64);
    (even(w as f64 * scale), even(h as f64 * scale))
}

/// Whole-frame decimation that brings `fps` to at most `max_fps`.
pub(crate) fn decimation(fps: f64, max_fps: Option<f64>) -> u32 {
    match max_fps {
        Some(cap) if fps > cap * 1.001 => (fps / cap - 1e-6).ceil() as u32,
        _ => 1,
    }
}

/// The renditions of `ladder` for a master of `shape`, lowest first. Rungs larger than
/// the master are dropped; when every rung is larger, the master's own size is kept
/// at the lowest rung's bitrate, so a small master still gets one rendition.
pub fn fit_ladder(ladder: &Ladder, shape: MasterShape) -> Vec<FittedRung> {
    let fps = shape.fps_num as f64 / shape.fps_den as f64;
    let mut rungs: Vec<FittedRung> = Vec::new();
    let mut sorted = ladder.rungs.clone();
    sorted.sort_by_key(|r| (r.height, r.kbps));
    for r in &sorted {
        let (w, h) = fit_box(shape.width, shape.height, r.width, r.height);
        if w > shape.width || h > shape.height {
            continue;
        }
        push_rung(
            &mut rungs,
            ladder,
            w,
            h,
            r.kbps,
            decimation(fps, r.max_fps),
            r.crf,
        );
    }
    if rungs.is_empty() {
        let low = &sorted[0];
        push_rung(
            &mut rungs,
            ladder,
            shape.width & !1,
            shape.height & !1,
            low.kbps,
            decimation(fps, low.max_fps),
            low.crf,
        );
    }
    rungs
}

fn push_rung(
    out: &mut Vec<FittedRung>,
    ladder: &Ladder,
    w: u32,
    h: u32,
    kbps: u32,
    decimation: u32,
    crf: Option<f32>,
) {
    let bitrate = kbps as u64 * 1000;
    // Named by the short side, as people name sizes ("1080p" is 1080x1920 upright too).
    let id = format!("v{}p-{kbps}k", w.min(h));
    if out.iter().any(|r| r.id == id) {
        return;
    }
    out.push(FittedRung {
        id,
        width: w,
        height: h,
        decimation,
        bitrate,
        maxrate: (bitrate as f64 * ladder.maxrate_ratio).round() as u64,
        bufsize: (bitrate as f64 * ladder.bufsize_ratio).round() as u64,
        crf: match ladder.rate_control {
            RateControl::Abr => None,
            RateControl::CappedCrf => crf,
        },
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::builtin;

    fn shape(w: u32, h: u32, n: u32, d: u32) -> MasterShape {
        MasterShape {
            width: w,
            height: h,
            fps_num: n,
            fps_den: d,
        }
    }

    #[test]
    fn apple_ladder_on_720p_drops_1080p_rungs() {
        let l = builtin("apple-avc").unwrap();
        let r = fit_ladder(&l, shape(1280, 720, 24, 1));
        assert_eq!(r.len(), 7);
        assert!(r.iter().all(|x| x.height <= 720));
        assert_eq!(r.last().unwrap().id, "v720p-4500k");
    }

    #[test]
    fn non_16_9_master_keeps_aspect_with_even_sizes() {
        let l = builtin("benchmark").unwrap();
        // 4:3 master.
        let r = fit_ladder(&l, shape(960, 720, 25, 1));
        for x in &r {
            assert_eq!(x.width % 2, 0);
            assert_eq!(x.height % 2, 0);
            let aspect = x.width as f64 / x.height as f64;
            assert!((aspect - 4.0 / 3.0).abs() < 0.02, "{x:?}");
        }
        assert_eq!(r.last().unwrap().height, 720);
    }

    #[test]
    fn frame_rate_caps_decimate_by_whole_frames() {
        let l = builtin("apple-avc").unwrap();
        let r = fit_ladder(&l, shape(1280, 720, 50, 1));
        let low = r.iter().find(|x| x.height == 360).unwrap();
        assert_eq!(low.decimation, 2);
        let top = r.last().unwrap();
        assert_eq!(top.decimation, 1);
        assert_eq!(decimation(30000.0 / 1001.0, Some(30.0)), 1);
        assert_eq!(decimation(60.0, Some(30.0)), 2);
    }

    #[test]
    fn master_smaller_than_every_rung_keeps_its_own_size() {
        let l = builtin("benchmark").unwrap();
        let r = fit_ladder(&l, shape(320, 180, 25, 1));
        assert_eq!(r.len(), 1);
        assert_eq!((r[0].width, r[0].height), (320, 180));
    }
}
