//! Picture quality: VMAF (libvmaf, model vmaf_v0.6.1, built in) and PSNR-Y, computed
//! in-process between a reference picture and a distorted one of the same size.
//!
//! Callers bring the distorted picture to the reference size first (bicubic), as
//! VMAF's model was trained on pictures viewed at the reference size; `compare_files`
//! does that for two files and matches frames by timestamp, not by position.

use std::ffi::CString;
use std::path::Path;

use ffmpeg_next::{format::Pixel, frame, media};
use libvmaf_sys as vm;

use crate::error::Context;
use crate::video::ToSize;
use crate::{open_untrusted, MediaError};

/// The VMAF model every score in vodfarm uses.
pub const VMAF_MODEL: &str = "vmaf_v0.6.1";

/// Largest picture VMAF is computed at: vmaf_v0.6.1 models a 1080p screen, so larger
/// references are brought down to fit 1920x1080 (Netflix's practice for this model).
pub const QUALITY_BOX: (u32, u32) = (1920, 1080);

#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct FrameQuality {
    /// Index of the frame among the compared pairs.
    pub index: u32,
    pub vmaf: f64,
    pub psnr_y: f64,
}

/// Scores of the compared frames (every `subsample`-th pair) and their pooling.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct QualityReport {
    pub frames: Vec<FrameQuality>,
    /// Pairs read (scored or not).
    pub pairs: u32,
    pub vmaf_mean: f64,
    /// 5th percentile of per-frame VMAF: the bad moments the mean hides.
    pub vmaf_p5: f64,
    pub psnr_y_mean: f64,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct QualityOptions {
    /// libvmaf worker threads (0: in the calling thread).
    pub threads: u32,
    /// Score one pair in this many (motion is still measured on every pair).
    pub subsample: u32,
}

impl Default for QualityOptions {
    fn default() -> Self {
        Self {
            threads: 0,
            subsample: 1,
        }
    }
}

fn vmaf_err(detail: String) -> MediaError {
    MediaError::Quality { detail }
}

/// The name libvmaf gives VMAF's motion feature (the model's input): the smaller of a
/// picture's blurred difference to the one before and to the one after.
const MOTION2: &str = "VMAF_integer_feature_motion2_score";

/// Which features a [`Vmaf`] extracts from the pictures itself.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Extract {
    /// Everything the model needs, and PSNR.
    All,
    /// The model's spatial features (VIF, ADM) and PSNR; motion, which looks at the
    /// reference alone, is given with each pair ([`Vmaf::push_scored`]), so that one
    /// reference scored against many distorted versions measures it once.
    GivenMotion,
    /// Motion alone ([`motion_scores`]).
    MotionOnly,
}

/// A libvmaf context: the VMAF model's features (or some of them, see [`Extract`]) and
/// PSNR registered.
pub(crate) struct Vmaf {
    ctx: *mut vm::VmafContext,
    model: *mut vm::VmafModel,
    width: u32,
    height: u32,
    /// libvmaf's index of the first pair (see [`Vmaf::start_at`]).
    first: u32,
    pairs: u32,
    subsample: u32,
    extract: Extract,
    /// With [`Extract::GivenMotion`]: the index of every pair pushed (all are scored).
    scored: Vec<u32>,
    /// With [`Extract::GivenMotion`]: the pairs the caller's run holds, scored or not.
    given_pairs: u32,
}

// SAFETY: the context is used from one thread at a time (we own it exclusively).
unsafe impl Send for Vmaf {}

impl Vmaf {
    pub(crate) fn new(width: u32, height: u32, opts: QualityOptions) -> Result<Self, MediaError> {
        Self::with(width, height, opts, Extract::All)
    }

    /// A scorer that takes each pair's motion from the caller ([`motion_scores`]) and
    /// scores every pair it is given ([`Vmaf::push_scored`]), out of `pairs` in the
    /// caller's run (what the report counts as read).
    pub(crate) fn given_motion(width: u32, height: u32, pairs: u32) -> Result<Self, MediaError> {
        let mut v = Self::with(
            width,
            height,
            QualityOptions::default(),
            Extract::GivenMotion,
        )?;
        v.given_pairs = pairs;
        Ok(v)
    }

    fn with(
        width: u32,
        height: u32,
        opts: QualityOptions,
        extract: Extract,
    ) -> Result<Self, MediaError> {
        let subsample = opts.subsample.max(1);
        let cfg = vm::VmafConfiguration {
            log_level: vm::VmafLogLevel::VMAF_LOG_LEVEL_NONE,
            n_threads: opts.threads,
            n_subsample: subsample,
            cpumask: 0,
        };
        let mut ctx = std::ptr::null_mut();
        // SAFETY: out-pointer to a fresh context; cfg is passed by value.
        let rc = unsafe { vm::vmaf_init(&mut ctx, cfg) };
        if rc < 0 || ctx.is_null() {
            return Err(vmaf_err(format!("vmaf_init failed ({rc})")));
        }
        let mut this = Self {
            ctx,
            model: std::ptr::null_mut(),
            width,
            height,
            first: 0,
            pairs: 0,
            subsample,
            extract,
            scored: Vec::new(),
            given_pairs: 0,
        };
        let feature = |name: &str| -> Result<(), MediaError> {
            let c = CString::new(name).expect("no NUL");
            // SAFETY: live context; a null options dictionary means defaults.
            let rc = unsafe { vm::vmaf_use_feature(this.ctx, c.as_ptr(), std::ptr::null_mut()) };
            if rc < 0 {
                return Err(vmaf_err(format!("{name} failed to register ({rc})")));
            }
            Ok(())
        };
        if extract == Extract::MotionOnly {
            feature("motion")?;
            return Ok(this);
        }
        let name = CString::new("vmaf").expect("no NUL");
        let version = CString::new(VMAF_MODEL).expect("no NUL");
        let mut mcfg = vm::VmafModelConfig {
            name: name.as_ptr(),
            flags: vm::VmafModelFlags::VMAF_MODEL_FLAGS_DEFAULT as u64,
        };
        // SAFETY: the strings outlive the call; libvmaf copies the name.
        let rc = unsafe { vm::vmaf_model_load(&mut this.model, &mut mcfg, version.as_ptr()) };
        if rc < 0 || this.model.is_null() {
            return Err(vmaf_err(format!(
                "model {VMAF_MODEL} failed to load ({rc})"
            )));
        }
        if extract == Extract::All {
            // SAFETY: live context and model.
            let rc = unsafe { vm::vmaf_use_features_from_model(this.ctx, this.model) };
            if rc < 0 {
                return Err(vmaf_err(format!(
                    "model features failed to register ({rc})"
                )));
            }
        } else {
            // vmaf_v0.6.1's features other than motion, with their default options
            // (as the model asks; `motion_is_given_once_for_every_distorted_version`
            // checks the scores are the same as the model's own extraction).
            feature("vif")?;
            feature("adm")?;
        }
        feature("psnr")?;
        Ok(this)
    }

    /// Copy an 8-bit YUV 4:2:0 frame of our size into a libvmaf picture.
    fn picture(&self, f: &frame::Video) -> Result<vm::VmafPicture, MediaError> {
        if f.format() != Pixel::YUV420P || f.width() != self.width || f.height() != self.height {
            return Err(vmaf_err(format!(
                "picture {:?} {}x{} given to a {}x{} yuv420p scorer",
                f.format(),
                f.width(),
                f.height(),
                self.width,
                self.height
            )));
        }
        // SAFETY: zeroed is a valid "empty" picture for vmaf_picture_alloc to fill.
        let mut pic: vm::VmafPicture = unsafe { std::mem::zeroed() };
        // SAFETY: out-pointer to our picture.
        let rc = unsafe {
            vm::vmaf_picture_alloc(
                &mut pic,
                vm::VmafPixelFormat::VMAF_PIX_FMT_YUV420P,
                8,
                self.width,
                self.height,
            )
        };
        if rc < 0 {
            return Err(vmaf_err(format!("picture allocation failed ({rc})")));
        }
        for plane in 0..3 {
            let (w, h) = (pic.w[plane] as usize, pic.h[plane] as usize);
            let src = f.data(plane);
            let src_stride = f.stride(plane);
            let dst_stride = pic.stride[plane] as usize;
            for row in 0..h {
                // SAFETY: libvmaf allocated h rows of dst_stride >= w bytes; the frame
                // holds h rows of src_stride >= w bytes.
                unsafe {
                    std::ptr::copy_nonoverlapping(
                        src.as_ptr().add(row * src_stride),
                        (pic.data[plane] as *mut u8).add(row * dst_stride),
                        w,
                    );
                }
            }
        }
        Ok(pic)
    }

    /// Number the pairs from `index` instead of 0 (before the first push). libvmaf
    /// scores the indices that are multiples of the subsample step, and pair 0 always;
    /// starting later lets a caller choose which of its pairs are scored. (Motion on
    /// the first pair then compares with a zeroed picture: that pair's own motion is
    /// meaningless, as pair 0's is.)
    pub(crate) fn start_at(&mut self, index: u32) {
        assert_eq!(self.pairs, 0, "start_at after pairs were pushed");
        self.first = index;
    }

    /// Whether the next pair will be scored (the others only feed motion, which looks
    /// at the reference alone, so their distorted picture need not be prepared).
    pub(crate) fn scores_next(&self) -> bool {
        (self.first + self.pairs).is_multiple_of(self.subsample)
    }

    /// Queue one pair; both must be yuv420p at the scorer's size.
    pub(crate) fn push(
        &mut self,
        reference: &frame::Video,
        distorted: &frame::Video,
    ) -> Result<(), MediaError> {
        assert_ne!(
            self.extract,
            Extract::GivenMotion,
            "push_scored gives motion"
        );
        self.push_as(self.first + self.pairs, reference, distorted)?;
        self.pairs += 1;
        Ok(())
    }

    fn push_as(
        &mut self,
        index: u32,
        reference: &frame::Video,
        distorted: &frame::Video,
    ) -> Result<(), MediaError> {
        let mut r = self.picture(reference)?;
        let mut d = match self.picture(distorted) {
            Ok(d) => d,
            Err(e) => {
                // SAFETY: r was allocated above and not handed over.
                unsafe { vm::vmaf_picture_unref(&mut r) };
                return Err(e);
            }
        };
        // SAFETY: libvmaf takes ownership of both pictures.
        let rc = unsafe { vm::vmaf_read_pictures(self.ctx, &mut r, &mut d, index) };
        if rc < 0 {
            return Err(vmaf_err(format!("reading pair {index} failed ({rc})")));
        }
        Ok(())
    }

    /// Queue one pair as pair `index`, scored, with its reference's motion (from
    /// [`motion_scores`] over the reference pictures the caller numbers the same way).
    /// Only for a scorer made by [`Vmaf::given_motion`]; indices must rise.
    pub(crate) fn push_scored(
        &mut self,
        index: u32,
        motion2: f64,
        reference: &frame::Video,
        distorted: &frame::Video,
    ) -> Result<(), MediaError> {
        assert_eq!(
            self.extract,
            Extract::GivenMotion,
            "push_scored needs given motion"
        );
        // Indices come from decoded timestamps: a repeated or earlier one is the
        // input's fault, not ours.
        if let Some(&last) = self.scored.last().filter(|&&l| l >= index) {
            return Err(vmaf_err(format!(
                "pair {index} after pair {last}: indices must rise"
            )));
        }
        let name = CString::new(MOTION2).expect("no NUL");
        // SAFETY: live context; libvmaf copies the name.
        let rc = unsafe { vm::vmaf_import_feature_score(self.ctx, name.as_ptr(), motion2, index) };
        if rc < 0 {
            return Err(vmaf_err(format!("motion of pair {index} refused ({rc})")));
        }
        self.push_as(index, reference, distorted)?;
        self.scored.push(index);
        Ok(())
    }

    /// Flush and collect the scores of every scored pair.
    pub(crate) fn finish(self) -> Result<QualityReport, MediaError> {
        if self.pairs == 0 && self.scored.is_empty() {
            return Err(vmaf_err("no frame pairs to compare".into()));
        }
        // SAFETY: null pictures flush the extractors.
        let rc = unsafe {
            vm::vmaf_read_pictures(self.ctx, std::ptr::null_mut(), std::ptr::null_mut(), 0)
        };
        if rc < 0 {
            return Err(vmaf_err(format!("flush failed ({rc})")));
        }
        let psnr_y = CString::new("psnr_y").expect("no NUL");
        let mut frames = Vec::new();
        let scored: Vec<u32> = match self.extract {
            Extract::GivenMotion => self.scored.clone(),
            _ => (self.first..self.first + self.pairs)
                .filter(|i| i.is_multiple_of(self.subsample))
                .collect(),
        };
        let pairs = match self.extract {
            Extract::GivenMotion => self.given_pairs,
            _ => self.pairs,
        };
        for i in scored {
            let (mut v, mut p) = (0.0, 0.0);
            // SAFETY: live context and model; out-pointers to locals.
            let (a, b) = unsafe {
                (
                    vm::vmaf_score_at_index(self.ctx, self.model, &mut v, i),
                    vm::vmaf_feature_score_at_index(self.ctx, psnr_y.as_ptr(), &mut p, i),
                )
            };
            if a < 0 || b < 0 {
                return Err(vmaf_err(format!("no score for pair {i} ({a}, {b})")));
            }
            frames.push(FrameQuality {
                index: i,
                vmaf: v,
                psnr_y: p,
            });
        }
        Ok(pool(frames, pairs))
    }
}

/// VMAF's motion feature of each of `references` (pair index = position), measured
/// once: a window probed at many points scores one reference against every point's
/// pictures, and motion depends on the reference alone.
pub(crate) fn motion_scores(references: &[&frame::Video]) -> Result<Vec<f64>, MediaError> {
    let Some(first) = references.first() else {
        return Ok(Vec::new());
    };
    let mut m = Vmaf::with(
        first.width(),
        first.height(),
        QualityOptions::default(),
        Extract::MotionOnly,
    )?;
    for r in references {
        m.push(r, r)?;
    }
    // SAFETY: null pictures flush the extractors.
    let rc =
        unsafe { vm::vmaf_read_pictures(m.ctx, std::ptr::null_mut(), std::ptr::null_mut(), 0) };
    if rc < 0 {
        return Err(vmaf_err(format!("flush failed ({rc})")));
    }
    let name = CString::new(MOTION2).expect("no NUL");
    (0..references.len() as u32)
        .map(|i| {
            let mut v = 0.0;
            // SAFETY: live context; out-pointer to a local.
            let rc = unsafe { vm::vmaf_feature_score_at_index(m.ctx, name.as_ptr(), &mut v, i) };
            if rc < 0 {
                return Err(vmaf_err(format!("no motion for pair {i} ({rc})")));
            }
            Ok(v)
        })
        .collect()
}

impl Drop for Vmaf {
    fn drop(&mut self) {
        // SAFETY: both were created by libvmaf and are released once.
        unsafe {
            if !self.model.is_null() {
                vm::vmaf_model_destroy(self.model);
            }
            vm::vmaf_close(self.ctx);
        }
    }
}

/// Mean, 5th percentile (nearest rank) and PSNR mean of per-frame scores.
pub(crate) fn pool(frames: Vec<FrameQuality>, pairs: u32) -> QualityReport {
    let n = frames.len().max(1) as f64;
    let mut sorted: Vec<f64> = frames.iter().map(|f| f.vmaf).collect();
    sorted.sort_by(f64::total_cmp);
    let rank = ((sorted.len() as f64 * 0.05).ceil() as usize).clamp(1, sorted.len().max(1));
    QualityReport {
        vmaf_mean: frames.iter().map(|f| f.vmaf).sum::<f64>() / n,
        vmaf_p5: sorted.get(rank - 1).copied().unwrap_or(0.0),
        psnr_y_mean: frames.iter().map(|f| f.psnr_y).sum::<f64>() / n,
        frames,
        pairs,
    }
}

impl QualityReport {
    /// One report over the frames of several (for example one per probed window).
    pub fn merged(reports: &[QualityReport]) -> QualityReport {
        let mut frames = Vec::new();
        let mut pairs = 0;
        for r in reports {
            for f in &r.frames {
                frames.push(FrameQuality {
                    index: pairs + f.index,
                    ..*f
                });
            }
            pairs += r.pairs;
        }
        pool(frames, pairs)
    }
}

/// Size VMAF is computed at for a reference of `w`x`h`: its own, or fitted into
/// [`QUALITY_BOX`] when larger (even sizes).
pub fn quality_size(w: u32, h: u32) -> (u32, u32) {
    let (bw, bh) = QUALITY_BOX;
    if w <= bw && h <= bh {
        return (w & !1, h & !1);
    }
    let s = (bw as f64 / w as f64).min(bh as f64 / h as f64);
    (
        ((w as f64 * s / 2.0).round() as u32 * 2).max(2),
        ((h as f64 * s / 2.0).round() as u32 * 2).max(2),
    )
}

/// Decoded frames of a file's best video stream with their time in seconds from the
/// stream's first frame.
struct FrameReader {
    ictx: ffmpeg_next::format::context::Input,
    decoder: ffmpeg_next::decoder::Video,
    index: usize,
    tb: f64,
    first: Option<i64>,
    eof: bool,
    path: std::path::PathBuf,
}

impl FrameReader {
    fn open(path: &Path) -> Result<Self, MediaError> {
        let ictx = open_untrusted(path)?;
        let (index, params, tb) = {
            let s = ictx
                .streams()
                .best(media::Type::Video)
                .ok_or_else(|| MediaError::NoVideo { path: path.into() })?;
            (s.index(), s.parameters(), s.time_base())
        };
        let decoder = crate::video::open_decoder(params, tb)?;
        Ok(Self {
            ictx,
            decoder,
            index,
            tb: f64::from(tb),
            first: None,
            eof: false,
            path: path.into(),
        })
    }

    fn size(&self) -> (u32, u32) {
        (self.decoder.width(), self.decoder.height())
    }

    fn next(&mut self) -> Result<Option<(f64, frame::Video)>, MediaError> {
        let mut f = frame::Video::empty();
        loop {
            if self.decoder.receive_frame(&mut f).is_ok() {
                let ts = f.timestamp().or(f.pts()).unwrap_or(0);
                let first = *self.first.get_or_insert(ts);
                return Ok(Some(((ts - first) as f64 * self.tb, f)));
            }
            if self.eof {
                return Ok(None);
            }
            let mut got = false;
            for (stream, packet) in self.ictx.packets() {
                if stream.index() == self.index {
                    self.decoder
                        .send_packet(&packet)
                        .ctx(|| format!("decoding {}", self.path.display()))?;
                    got = true;
                    break;
                }
            }
            if !got {
                self.eof = true;
                self.decoder
                    .send_eof()
                    .ctx(|| format!("flushing {}", self.path.display()))?;
            }
        }
    }
}

/// VMAF and PSNR-Y of `distorted` against `reference`. Each distorted frame is scaled
/// (bicubic) to the reference's quality size and paired with the reference frame
/// nearest its time, both measured from each stream's first frame — so container
/// start offsets do not shift the pairing, and a frame-rate-capped rendition is
/// compared on the frames it kept.
pub fn compare_files(
    reference: &Path,
    distorted: &Path,
    opts: QualityOptions,
) -> Result<QualityReport, MediaError> {
    let mut r = FrameReader::open(reference)?;
    let mut d = FrameReader::open(distorted)?;
    let (rw, rh) = r.size();
    let (qw, qh) = quality_size(rw, rh);
    let mut vmaf = Vmaf::new(qw, qh, opts)?;
    let mut to_ref = ToSize::new(qw, qh);
    let mut to_dist = ToSize::new(qw, qh);
    let mut cur = r.next()?;
    let mut next = r.next()?;
    while let Some((t, df)) = d.next()? {
        // Advance the reference while its next frame is at least as close to t.
        loop {
            match (&cur, &next) {
                (Some((tc, _)), Some((tn, _))) if (tn - t).abs() <= (tc - t).abs() => {
                    cur = next.take();
                    next = r.next()?;
                }
                _ => break,
            }
        }
        let Some((_, rf)) = &cur else {
            break;
        };
        let a = to_ref.run(rf)?;
        let b = to_dist.run(&df)?;
        vmaf.push(&a, &b)?;
    }
    vmaf.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pooling_mean_and_low_percentile() {
        let frames: Vec<FrameQuality> = (0..20)
            .map(|i| FrameQuality {
                index: i,
                vmaf: i as f64 * 5.0,
                psnr_y: 40.0,
            })
            .collect();
        let r = pool(frames, 20);
        assert!((r.vmaf_mean - 47.5).abs() < 1e-9);
        // ceil(20 * 0.05) = 1st smallest.
        assert_eq!(r.vmaf_p5, 0.0);
        assert_eq!(r.psnr_y_mean, 40.0);
    }

    /// `n` textured pictures moving by a few pixels a frame, and a distorted version of
    /// each (coarser steps, other noise).
    fn moving_pictures(n: usize, w: u32, h: u32) -> (Vec<frame::Video>, Vec<frame::Video>) {
        let mut seed = 12345u32;
        let mut noise = move || {
            seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12345);
            (seed >> 24) as u8 % 16
        };
        let mut refs = Vec::new();
        let mut dist = Vec::new();
        for t in 0..n {
            let mut r = frame::Video::new(Pixel::YUV420P, w, h);
            let mut d = frame::Video::new(Pixel::YUV420P, w, h);
            let (rs, ds) = (r.stride(0), d.stride(0));
            for y in 0..h as usize {
                for x in 0..w as usize {
                    let v = ((x * 3 + y * 5 + t * (4 + t % 3)) % 200) as u8 + noise();
                    r.data_mut(0)[y * rs + x] = v;
                    d.data_mut(0)[y * ds + x] = (v & 0xC0) + noise() * 2;
                }
            }
            for p in 1..3 {
                r.data_mut(p).fill(128);
                d.data_mut(p).fill(128);
            }
            refs.push(r);
            dist.push(d);
        }
        (refs, dist)
    }

    /// Motion measured once over the reference and given with each scored pair scores
    /// exactly what the model's own extraction scores, pushing every pair.
    #[test]
    fn motion_is_given_once_for_every_distorted_version() {
        crate::init();
        let (w, h) = (176, 144);
        let (refs, dist) = moving_pictures(20, w, h);
        let motion = motion_scores(&refs.iter().collect::<Vec<_>>()).unwrap();
        assert_eq!(motion.len(), 20);
        assert!(motion.iter().skip(1).all(|&m| m > 0.5), "{motion:?}");
        for every in [1u32, 3, 6] {
            let opts = QualityOptions {
                threads: 0,
                subsample: every,
            };
            let mut all = Vmaf::new(w, h, opts).unwrap();
            for (r, d) in refs.iter().zip(&dist) {
                all.push(r, d).unwrap();
            }
            let want = all.finish().unwrap();
            let mut given = Vmaf::given_motion(w, h, refs.len() as u32).unwrap();
            for (i, (r, d)) in refs.iter().zip(&dist).enumerate() {
                if i.is_multiple_of(every as usize) {
                    given.push_scored(i as u32, motion[i], r, d).unwrap();
                }
            }
            let got = given.finish().unwrap();
            assert_eq!(got, want, "one in {every}");
            assert!(want.vmaf_mean > 5.0 && want.vmaf_mean < 95.0, "{want:?}");
        }
    }

    #[test]
    fn quality_size_caps_at_1080p() {
        assert_eq!(quality_size(640, 360), (640, 360));
        assert_eq!(quality_size(3840, 2160), (1920, 1080));
        assert_eq!(quality_size(4096, 1716), (1920, 804));
    }
}
