//! Rate–quality probing for per-title ladders: encode one window of a chunk at a grid
//! of (size, CRF) points and measure each point's bitrate and its VMAF against the
//! master, the encode being decoded and scaled back up (bicubic) to the master's
//! quality size. The window is decoded once; points are encoded in parallel, each
//! with one libx264 thread, so results do not depend on the machine.

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex};

use ffmpeg_next::frame;

use crate::measure::decode_packets;
use crate::quality::{motion_scores, quality_size, Vmaf};
use crate::video::{decode_slots, encode_rung, ToSize};
use crate::{ChunkGrid, MediaError, QualityReport, RungSettings};

/// One encode of the probing grid.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ProbePoint {
    pub width: u32,
    pub height: u32,
    pub crf: f32,
    /// Keep one master frame in this many, as a rung of this size will (the frame-rate
    /// cap of small rungs): a probe at the master's rate would measure twice the frames
    /// of a 60 fps master's 30 fps rung, and their bitrate and quality with them.
    pub decimation: u32,
}

#[derive(Debug, Clone, PartialEq)]
pub struct AnalysisSettings {
    /// x264 preset for probing (a fast one: only the shape of the curves matters).
    pub preset: String,
    pub profile: String,
    /// Score one frame in this many with VMAF (motion still sees every frame).
    pub vmaf_subsample: u32,
    /// Points encoded at once.
    pub threads: usize,
    /// The master's conversion, so that probes see the pictures the renditions get.
    pub conversion: crate::Conversion,
}

/// What one encode measured on one window.
#[derive(Debug, Clone, PartialEq)]
pub struct WindowMeasure {
    pub frames: u64,
    /// Encoded video size, bits.
    pub bits: u64,
    pub quality: QualityReport,
}

/// Encode the frames of `window` (a range inside `chunk`) at every point and measure.
/// Results are in the order of `points`.
pub fn analyse_window(
    chunk: &Path,
    window: ChunkGrid,
    points: &[ProbePoint],
    settings: &AnalysisSettings,
) -> Result<Vec<WindowMeasure>, MediaError> {
    let rungs: Vec<RungSettings> = points
        .iter()
        .map(|p| RungSettings {
            id: format!("probe-{}x{}-crf{}", p.width, p.height, p.crf),
            width: p.width,
            height: p.height,
            decimation: p.decimation.max(1),
            bitrate: 0,
            maxrate: 0,
            bufsize: 0,
            crf: Some(p.crf),
            preset: settings.preset.clone(),
            profile: settings.profile.clone(),
            threads: 1,
            colour: settings.conversion.output,
        })
        .collect();
    measure_encodes(chunk, window, 0, &rungs, settings)
}

/// Encode the frames of `window` with each of `rungs` as given (rate control, VBV cap,
/// preset, frame-rate cap: a final encode's own settings) and measure each the way
/// probe points are measured. Results are in the order of `rungs`. `settings` gives
/// the VMAF sampling, the threads and the conversion (its preset and profile are not
/// used: each rung carries its own).
///
/// Each encode starts `lead_in` frames before the window (fewer when the window starts
/// earlier, and a whole number of every rung's kept frames); those are encoded but
/// neither counted nor scored. x264 carries state from one group of pictures to the
/// next (the I-frame's QP follows the P-frames before it, the VBV buffer's fill, the
/// lookahead), so a window encoded alone is not what the title's encode makes of it:
/// on a real clip, 2 s windows each in their own session measured 1.6 VMAF below the
/// same frames of one session, on 7% fewer bits; with the interval before each as
/// lead-in, 0.4 below.
pub fn measure_encodes(
    chunk: &Path,
    window: ChunkGrid,
    lead_in: u64,
    rungs: &[RungSettings],
    settings: &AnalysisSettings,
) -> Result<Vec<WindowMeasure>, MediaError> {
    let step = rungs
        .iter()
        .map(|r| r.decimation.max(1) as u64)
        .fold(1, lcm);
    let lead_in = lead_in.min(window.start_frame);
    let lead_in = lead_in - lead_in % step;
    let from = ChunkGrid {
        start_frame: window.start_frame - lead_in,
        ..window
    };
    let mut source = Vec::new();
    decode_slots(chunk, from, &settings.conversion, |_, f| {
        source.push(f.clone());
        true
    })?;
    if source.len() as u64 <= lead_in {
        return Err(MediaError::Corrupt {
            path: chunk.into(),
            detail: "analysis window holds no frames".into(),
        });
    }
    let (w, h) = (source[0].width(), source[0].height());
    let (qw, qh) = quality_size(w, h);
    let mut to_q = ToSize::new(qw, qh);
    // The window's pictures at the quality size, and the one before it (motion).
    let lead_in = lead_in as usize;
    let first_ref = lead_in.saturating_sub(step as usize);
    let reference = source[first_ref..]
        .iter()
        .map(|f| to_q.run(f))
        .collect::<Result<Vec<_>, _>>()?;
    // Motion looks at the reference alone: measured once here for each frame rate the
    // encodes run at (a decimated rendition's motion is that of every d-th picture),
    // not once per encode; with a lead-in, from the picture before the window's first,
    // then kept for the window's pictures only.
    let before = lead_in - first_ref;
    let mut motions: Vec<(u32, Vec<f64>)> = Vec::new();
    for r in rungs {
        let d = r.decimation.max(1);
        if !motions.iter().any(|(m, _)| *m == d) {
            let start = before - before.min(d as usize);
            let kept: Vec<&frame::Video> = reference[start..].iter().step_by(d as usize).collect();
            let mut m = motion_scores(&kept)?;
            m.drain(..(before - start) / d as usize);
            motions.push((d, m));
        }
    }
    let (source, reference) = (&source[..], &reference[before..]);
    let span = Span { from, lead_in };

    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<Result<WindowMeasure, MediaError>>>> =
        Mutex::new(rungs.iter().map(|_| None).collect());
    std::thread::scope(|s| {
        for _ in 0..settings.threads.clamp(1, rungs.len().max(1)) {
            s.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(r) = rungs.get(i) else { break };
                let d = r.decimation.max(1);
                let motion = &motions
                    .iter()
                    .find(|(m, _)| *m == d)
                    .expect("measured for every encode's decimation")
                    .1;
                let m = measure_encode(source, reference, motion, span, r, settings);
                results.lock().expect("no panics while held")[i] = Some(m);
            });
        }
    });
    results
        .into_inner()
        .expect("no panics while held")
        .into_iter()
        .map(|r| r.expect("every encode measured"))
        .collect()
}

/// Which of a window's `kept` encoded frames VMAF scores, at a frame-rate cap keeping
/// one master frame in `d`: those `offset + i·every`.
///
/// `every` is the policy's step in kept frames, moved up to the next number sharing no
/// factor with 6: a frame's quality follows its type, and the types repeat with a short
/// period (x264's B-frames: 2-4; an MPEG-2 source's own I/P/B pattern: 3), so a step of
/// 6 (the policy's once) scored the same few kinds of frame in every window and read
/// windows of real footage 0.4 VMAF high on average, 1.6 on an MPEG-2 camera clip
/// (against every frame; 5 from the 3rd frame: +0.04). The first is at the middle of
/// the first step, not at 0: a window's first frame is its IDR, given more bits than
/// the rest, and has no picture before it for the motion feature.
fn scored_frames(subsample: u32, d: usize, kept: usize) -> (usize, usize) {
    let mut every = (subsample.max(1) as usize / d.max(1)).max(1);
    while every.is_multiple_of(2) || every.is_multiple_of(3) {
        every += 1;
    }
    let offset = if kept > every / 2 { every / 2 } else { 0 };
    (every, offset)
}

/// Where an encode starts and where its window does, in the source's frames.
#[derive(Debug, Clone, Copy)]
struct Span {
    /// The encode's frames: from the lead-in's first to the window's end.
    from: ChunkGrid,
    /// Source frames before the window.
    lead_in: usize,
}

fn lcm(a: u64, b: u64) -> u64 {
    let gcd = |mut a: u64, mut b: u64| {
        while b != 0 {
            (a, b) = (b, a % b);
        }
        a
    };
    a / gcd(a, b) * b
}

/// `source` holds the lead-in's pictures, then the window's; `reference` the window's
/// at the quality size; `motion` the motion of the window's kept frames (every
/// `decimation`-th reference).
fn measure_encode(
    source: &[Arc<frame::Video>],
    reference: &[frame::Video],
    motion: &[f64],
    span: Span,
    rung: &RungSettings,
    settings: &AnalysisSettings,
) -> Result<WindowMeasure, MediaError> {
    let (tx, rx) = mpsc::sync_channel(source.len());
    for (i, f) in source.iter().enumerate() {
        tx.send((span.from.start_frame + i as u64, f.clone()))
            .expect("receiver alive, channel sized to fit");
    }
    drop(tx);
    let encoded = encode_rung(rx, span.from, rung.clone(), &[])?;
    let d = rung.decimation.max(1) as usize;
    // Output frames (the encode's pts) before the window's first.
    let lead = (span.lead_in / d) as i64;
    let bits = encoded
        .packets
        .iter()
        .filter(|p| p.pts >= lead)
        .map(|p| p.data.len() as u64 * 8)
        .sum();
    let (qw, qh) = (reference[0].width(), reference[0].height());
    // Only the scored pairs go to libvmaf, each with the window's motion at its index:
    // the same scores as pushing every pair to a subsampling scorer (tested), without
    // copying the unscored pictures or measuring motion again for every point. Encoded
    // frame k of the window shows its reference k·d.
    let d = rung.decimation.max(1) as usize;
    let mut vmaf = Vmaf::given_motion(qw, qh, motion.len() as u32)?;
    let (every, offset) = scored_frames(settings.vmaf_subsample, d, motion.len());
    let mut up = ToSize::new(qw, qh);
    decode_packets(&encoded.avcc, &encoded.packets, &encoded.rung, |pts, f| {
        if (0..lead).contains(&pts) {
            return Ok(());
        }
        let k = usize::try_from(pts - lead).unwrap_or(usize::MAX);
        let (Some(r), Some(&m)) = (
            k.checked_mul(d).and_then(|i| reference.get(i)),
            motion.get(k),
        ) else {
            return Err(MediaError::Quality {
                detail: format!("decoded frame pts {pts} outside the window"),
            });
        };
        if k % every == offset {
            vmaf.push_scored(k as u32, m, r, &up.run(f)?)?;
        }
        Ok(())
    })?;
    Ok(WindowMeasure {
        frames: (source.len() - span.lead_in) as u64,
        bits,
        quality: vmaf.finish()?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scored_frames_avoid_periods_of_2_and_3_and_the_windows_first_frame() {
        // The policy's densest step: one in 5, from the 3rd.
        assert_eq!(scored_frames(5, 1, 48), (5, 2));
        // A step of 6 (or 2, 3, 4) would score one phase of a 2- or 3-frame pattern.
        assert_eq!(scored_frames(6, 1, 48), (7, 3));
        assert_eq!(scored_frames(9, 1, 48), (11, 5));
        // A halved frame rate: 5 master frames are 2 kept frames, moved up to 5.
        assert_eq!(scored_frames(5, 2, 24), (5, 2));
        // Every frame.
        assert_eq!(scored_frames(1, 1, 48), (1, 0));
        // A window too short for the offset still scores its first frame.
        assert_eq!(scored_frames(5, 1, 2), (5, 0));
        assert_eq!(scored_frames(5, 1, 3), (5, 2));
        for (sub, d, kept) in [(5, 1, 48), (7, 2, 24), (30, 1, 48), (5, 4, 12), (5, 1, 1)] {
            let (every, offset) = scored_frames(sub, d, kept);
            assert!(every == 1 || !every.is_multiple_of(2) && !every.is_multiple_of(3));
            assert!(offset < kept.max(1), "{sub} {d} {kept}: nothing scored");
        }
    }

    #[test]
    fn a_lead_in_is_whole_kept_frames_of_every_rung() {
        assert_eq!([1u64, 2].into_iter().fold(1, lcm), 2);
        assert_eq!([2u64, 3].into_iter().fold(1, lcm), 6);
        assert_eq!([1u64].into_iter().fold(1, lcm), 1);
    }
}
