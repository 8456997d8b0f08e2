//! Quality of a published title's renditions against its master: each rendition's
//! CMAF track (init + media segments, which concatenate into a playable fragmented
//! MP4) is read back and scored with VMAF at the master's size; its bitrate is the
//! media bytes over the title's duration. Two titles of one master — two ladders —
//! compare by BD-rate over the quality range both cover.

use std::io::Write;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::plan::Plan;
use crate::store::ObjectStore;
use crate::{keys, StageError, TitleId};

/// One rendition's measured bitrate and quality against the master.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RenditionQuality {
    /// The rendition id, as in the plan.
    pub id: String,
    /// Encoded width in pixels.
    pub width: u32,
    /// Encoded height in pixels.
    pub height: u32,
    /// Measured: media segment bytes × 8 / duration.
    pub kbps: f64,
    /// Mean VMAF, scored at the master's size.
    pub vmaf: f64,
    /// 5th percentile of per-frame VMAF: the bad moments the mean hides.
    pub vmaf_p5: f64,
    /// Mean luma PSNR in dB.
    pub psnr_y: f64,
}

/// Score every video rendition of published title `t` against `master`.
pub fn rendition_quality(
    store: &dyn ObjectStore,
    t: &TitleId,
    master: &Path,
    opts: media::QualityOptions,
) -> Result<Vec<RenditionQuality>, StageError> {
    let plan: Plan = serde_json::from_slice(&store.get(&keys::plan(t))?)
        .map_err(|e| StageError::Permanent(format!("plan of {t}: {e}")))?;
    let tmp = tempfile::tempdir().map_err(|e| StageError::Transient(e.to_string()))?;
    let mut out = Vec::new();
    for r in &plan.rungs {
        let prefix = keys::origin(t, &format!("{}/", r.id));
        let mut segments: Vec<(u64, String)> = store
            .list(&prefix)?
            .into_iter()
            .filter_map(|k| {
                let n = k
                    .strip_prefix(&prefix)?
                    .strip_suffix(".m4s")?
                    .parse()
                    .ok()?;
                Some((n, k))
            })
            .collect();
        segments.sort();
        if segments.is_empty() {
            return Err(StageError::Permanent(format!(
                "title {t} has no published segments for {}",
                r.id
            )));
        }
        let file = tmp.path().join(format!("{}.mp4", r.id));
        let mut f =
            std::fs::File::create(&file).map_err(|e| StageError::Transient(e.to_string()))?;
        let mut media_bytes = 0u64;
        let init = store.get(&keys::origin(t, &format!("{}/init.mp4", r.id)))?;
        f.write_all(&init)
            .map_err(|e| StageError::Transient(e.to_string()))?;
        for (_, k) in &segments {
            let b = store.get(k)?;
            media_bytes += b.len() as u64;
            f.write_all(&b)
                .map_err(|e| StageError::Transient(e.to_string()))?;
        }
        drop(f);
        let q = media::compare_files(master, &file, opts)?;
        out.push(RenditionQuality {
            id: r.id.clone(),
            width: r.width,
            height: r.height,
            kbps: media_bytes as f64 * 8.0 / plan.duration_s() / 1000.0,
            vmaf: q.vmaf_mean,
            vmaf_p5: q.vmaf_p5,
            psnr_y: q.psnr_y_mean,
        });
    }
    Ok(out)
}

/// A ladder's rate–quality curve for BD-rate: (kbit/s, VMAF) by rising rate, keeping
/// only renditions better than every cheaper one (a dominated rendition is never the
/// one a player should pick, and BD-rate needs quality rising with rate).
pub fn ladder_curve(r: &[RenditionQuality]) -> Vec<(f64, f64)> {
    let mut pts: Vec<(f64, f64)> = r.iter().map(|x| (x.kbps, x.vmaf)).collect();
    pts.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mut out: Vec<(f64, f64)> = Vec::new();
    for p in pts {
        if out.last().is_none_or(|l| p.1 > l.1) {
            out.push(p);
        }
    }
    out
}
