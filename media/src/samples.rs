//! Sample masters for trying vodfarm and for benchmarks (`vodfarm sample`): a test
//! card with a tone, and a content set of clearly different coding complexity for
//! per-title ladders. Descriptions only ([`SynthSpec`]); [`crate::render_synthetic`]
//! renders them.

use crate::{Rational, SynthSpec};

/// Content of clearly different coding complexity, for per-title ladders: what each
/// clip stands for, and its lavfi source. Easiest first.
pub const CONTENT: &[(&str, &str)] = &[
    // Static graphics: a textured test card that never moves (the noise pattern is
    // fixed, so only the IDRs cost bits and quality still depends on rate).
    ("slides", "smptehdbars=size={S}:rate={R},noise=alls=10"),
    // Flat colours and hard edges in motion, like cel animation.
    ("animation", "testsrc2=size={S}:rate={R}"),
    // Fine detail moving slowly sideways.
    (
        "slow-pan",
        "mandelbrot=size={S}:rate={R}:start_scale=0.5:end_scale=0.5,scroll=h=0.002",
    ),
    // A dim, low-contrast picture with a little sensor noise.
    (
        "dark",
        "testsrc2=size={S}:rate={R},eq=brightness=-0.3:contrast=0.4,noise=alls=6:allf=t",
    ),
    // Detail under heavy temporal grain.
    (
        "film-grain",
        "mandelbrot=size={S}:rate={R}:start_scale=0.5:end_scale=0.4,noise=alls=18:allf=t",
    ),
    // Fast scrolling motion plus strong noise: the hardest to code.
    (
        "high-motion",
        "testsrc2=size={S}:rate={R},scroll=h=0.03:v=0.02,noise=alls=30:allf=t+u",
    ),
];

/// The content clip `name` at `w`x`h`, 24 fps, `frames` frames, silent, H.264 in mp4.
pub fn content(name: &str, w: u32, h: u32, frames: u64) -> Option<SynthSpec> {
    let (_, graph) = CONTENT.iter().find(|(n, _)| *n == name)?;
    let source = graph
        .replace("{S}", &format!("{w}x{h}"))
        .replace("{R}", "24");
    Some(SynthSpec {
        video: format!("{source},trim=end_frame={frames}"),
        fps: Rational { num: 24, den: 1 },
        video_codec: "libx264".into(),
        gop: 48,
        audio: None,
        audio_codec: "aac".into(),
        container: "mp4".into(),
        sample_aspect: Rational { num: 1, den: 1 },
    })
}

/// testsrc2 with a 440 Hz tone, 24 fps, `seconds` long: the quick start's master.
pub fn test_card(seconds: u32, width: u32, height: u32) -> SynthSpec {
    SynthSpec {
        video: format!("testsrc2=size={width}x{height}:rate=24:duration={seconds}"),
        fps: Rational { num: 24, den: 1 },
        video_codec: "libx264".into(),
        gop: 48,
        audio: Some(format!(
            "sine=frequency=440:sample_rate=48000:duration={seconds}"
        )),
        audio_codec: "aac".into(),
        container: "mp4".into(),
        sample_aspect: Rational { num: 1, den: 1 },
    }
}
