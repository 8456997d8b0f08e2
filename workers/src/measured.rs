//! What each published video rendition measured: its bitrate from all its segments and
//! its VMAF from the frames the encode stage sampled (a few in every chunk),
//! against what the per-title analysis predicted. Written at packaging into
//! `quality.json`, the title's status and, for a per-title ladder, its `ladder.json`,
//! so that every decision says how honest its predictions were.

use serde::{Deserialize, Serialize};

use crate::plan::Plan;
use crate::stages::Ctx;
use crate::store::StoreError;
use crate::{keys, StageError, TitleId};

/// One video rendition's measured rate and quality.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RenditionMeasure {
    /// The rendition id, as in the plan.
    pub id: String,
    /// Encoded width in pixels.
    pub width: u32,
    /// Encoded height in pixels.
    pub height: u32,
    /// Media segment bytes × 8 over the title's duration.
    pub kbps: f64,
    /// What the per-title analysis predicted (absent for a fixed ladder).
    #[serde(default)]
    pub predicted_vmaf: Option<f64>,
    /// The prediction's standard error from the probed windows' spread (see
    /// `ladders::ChosenRung::predicted_se`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub predicted_se: Option<f64>,
    /// Mean VMAF over the scored frames (absent when a chunk was encoded by a version
    /// that did not measure).
    #[serde(default)]
    pub vmaf: Option<f64>,
    /// 5th percentile of the scored frames' VMAF.
    #[serde(default)]
    pub vmaf_p5: Option<f64>,
    /// Frames scored, of the title's frames in this rendition.
    #[serde(default)]
    pub frames_scored: u32,
}

impl RenditionMeasure {
    /// "v720p-1500k 1280x720 1512 kbit/s VMAF 93.4 (predicted 94.0 ±0.8, -0.6), p5 88.1".
    pub fn line(&self) -> String {
        let mut s = format!(
            "{} {}x{} {:.0} kbit/s",
            self.id, self.width, self.height, self.kbps
        );
        match (self.vmaf, self.predicted_vmaf) {
            (Some(v), Some(p)) => {
                let se = self
                    .predicted_se
                    .map_or(String::new(), |e| format!(" ±{e:.1}"));
                s.push_str(&format!(
                    " VMAF {v:.1} (predicted {p:.1}{se}, {:+.1})",
                    v - p
                ))
            }
            (Some(v), None) => s.push_str(&format!(" VMAF {v:.1}")),
            (None, _) => s.push_str(" VMAF not measured"),
        }
        if let Some(p5) = self.vmaf_p5 {
            s.push_str(&format!(", p5 {p5:.1} over {} frames", self.frames_scored));
        }
        s
    }
}

/// Pool every chunk's measurement of each rendition in `video` (as packaged: segment
/// sizes known) and record the result in `quality.json`, the status record and the
/// title's ladder decision.
pub fn record(
    ctx: &Ctx,
    t: &TitleId,
    plan: &Plan,
    video: &[manifests::VideoTrack],
) -> Result<Vec<RenditionMeasure>, StageError> {
    let mut decision = match ctx.store.get(&keys::ladder(t)) {
        Ok(b) => Some(
            serde_json::from_slice::<ladders::Decision>(&b).map_err(|source| StageError::Json {
                key: keys::ladder(t),
                source,
            })?,
        ),
        Err(StoreError::NotFound { .. }) => None,
        Err(e) => return Err(e.into()),
    };
    let mut out = Vec::new();
    for v in video {
        let bytes: u64 = v.segments.iter().map(|s| s.bytes).sum();
        let kbps = bytes as f64 * 8.0 / plan.duration_s().max(1e-9) / 1000.0;
        let pooled = pooled(ctx, t, plan, &v.id)?;
        let chosen = decision
            .as_mut()
            .and_then(|d| d.rungs.iter_mut().find(|r| r.rung.id == v.id));
        let m = RenditionMeasure {
            id: v.id.clone(),
            width: v.width,
            height: v.height,
            kbps,
            predicted_vmaf: chosen.as_ref().map(|c| c.predicted_vmaf),
            predicted_se: chosen.as_ref().and_then(|c| c.predicted_se),
            vmaf: pooled.map(|q| q.0),
            vmaf_p5: pooled.map(|q| q.1),
            frames_scored: pooled.map_or(0, |q| q.2),
        };
        if let (Some(c), Some((vmaf, vmaf_p5, frames_scored))) = (chosen, pooled) {
            c.measured = Some(ladders::MeasuredRung {
                kbps,
                vmaf,
                vmaf_p5,
                frames_scored,
            });
        }
        out.push(m);
    }
    ctx.put_json(&keys::quality(t), &out)?;
    if let Some(d) = &decision {
        ctx.put_json(&keys::ladder(t), d)?;
    }
    if let Some(mut s) = crate::status::read(ctx.store.as_ref(), t) {
        s.quality = out.clone();
        crate::status::write(ctx.store.as_ref(), &s)?;
    }
    Ok(out)
}

/// Rendition `id`'s sampled frames over every chunk: (mean VMAF with each chunk
/// weighed by its length, 5th percentile of all samples, samples). `None` when a
/// chunk has no measurement (encoded before measuring existed) or nothing was scored.
fn pooled(
    ctx: &Ctx,
    t: &TitleId,
    plan: &Plan,
    id: &str,
) -> Result<Option<(f64, f64, u32)>, StageError> {
    let mut reports = Vec::new();
    let (mut weighted, mut weight) = (0.0, 0.0);
    for c in &plan.chunks {
        let key = keys::measured(t, id, c.index);
        let q = match ctx.store.get(&key) {
            Ok(b) => serde_json::from_slice::<media::QualityReport>(&b)
                .map_err(|source| StageError::Json { key, source })?,
            Err(StoreError::NotFound { .. }) => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        if !q.frames.is_empty() {
            let frames = (c.end_frame - c.start_frame) as f64;
            weighted += q.vmaf_mean * frames;
            weight += frames;
        }
        reports.push(q);
    }
    let all = media::QualityReport::merged(&reports);
    Ok((weight > 0.0).then(|| (weighted / weight, all.vmaf_p5, all.frames.len() as u32)))
}

/// The title's measured renditions, when it has been packaged.
pub fn read(store: &dyn crate::store::ObjectStore, t: &TitleId) -> Option<Vec<RenditionMeasure>> {
    store
        .get(&keys::quality(t))
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_says_the_prediction_and_its_standard_error() {
        let mut m = RenditionMeasure {
            id: "v720p-1500k".into(),
            width: 1280,
            height: 720,
            kbps: 1512.4,
            predicted_vmaf: Some(94.0),
            predicted_se: Some(0.84),
            vmaf: Some(93.4),
            vmaf_p5: Some(88.1),
            frames_scored: 16,
        };
        assert_eq!(
            m.line(),
            "v720p-1500k 1280x720 1512 kbit/s VMAF 93.4 (predicted 94.0 ±0.8, -0.6), p5 88.1 over 16 frames"
        );
        m.predicted_se = None;
        assert!(m.line().contains("(predicted 94.0, -0.6)"), "{}", m.line());
        // Stored without it when there is none; read from a record made before it.
        let json = serde_json::to_string(&m).unwrap();
        assert!(!json.contains("predicted_se"), "{json}");
        let back: RenditionMeasure = serde_json::from_str(&json).unwrap();
        assert_eq!(back, m);
    }
}
