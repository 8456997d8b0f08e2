//! Master QC at ingest: inspect the stored master (one full decode, `media::inspect`),
//! store what was found in `work/<title>/inspection.json`, and refuse a truncated
//! master before anything is planned, unless the request accepts it.
//!
//! Where the full decode runs: at ingest for `vodfarm submit`, because it costs about
//! as much CPU as decoding the master once more (see docs/architecture.md), which
//! belongs on the farm's workers, not on the machine that submits; because it reads
//! the very bytes the farm will encode (the stored copy, checked against the submitted
//! size and SHA-256 first); and because a refusal there leaves nothing half-made: it
//! comes before the plan, the chunks and every encode job, so nothing is published
//! from a refused master (the title fails with the reason; the same title takes the
//! complete master, or `--accept-truncated`, on the next submit). `vodfarm run` is
//! the farm itself, on the machine that holds the master: it inspects before it
//! writes anything (a refusal is its one error line and exit status, with nothing
//! stored), and ingest reuses that inspection instead of decoding again. Submit keeps
//! the checks that need the local file: a master still growing is refused there.

use std::path::Path;

use media::{InspectOptions, Inspection};
use serde::{Deserialize, Serialize};

use crate::plan::Request;
use crate::store::ObjectStore;
use crate::{keys, FarmError, StageError, TitleId};

/// What ingest decided about the master, with everything the inspection found.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QcRecord {
    /// "passed", "refused" (truncated, or not convertible: see `unconvertible`) or
    /// "accepted-truncated".
    pub verdict: String,
    /// Why the master counts as truncated: the declared and the decoded figures.
    pub truncated: Option<String>,
    /// With `--accept-truncated`: the frames the title is made of (what decodes).
    pub published_frames: Option<u64>,
    /// Warnings for content ops (black, frozen, silent stretches, errors, interlacing,
    /// HDR, rotation, variable frame rate).
    pub warnings: Vec<String>,
    /// SHA-256 of the master inspected (an inspection is reused only for it).
    #[serde(default)]
    pub master_sha256: String,
    /// The inspection itself.
    pub inspection: Inspection,
}

impl QcRecord {
    /// One line for `vodfarm status` and `run`'s summary.
    pub fn summary(&self) -> String {
        let c = &self.inspection.completeness;
        let mut s = match (self.verdict.as_str(), &self.truncated) {
            ("accepted-truncated", Some(t)) => format!(
                "{t}; accepted (--accept-truncated): published {} frames",
                self.published_frames.unwrap_or(c.decoded_frames)
            ),
            (_, Some(t)) => format!("refused: {t}"),
            _ => format!(
                "{} frames ({:.2} s) decode",
                c.decoded_frames, c.decoded_duration_s
            ),
        };
        if self.warnings.is_empty() {
            s.push_str(", no warnings");
        } else {
            s.push_str("; warnings: ");
            s.push_str(&self.warnings.join("; "));
        }
        match self.inspection.shots.len() {
            0 => {}
            1 => s.push_str("; 1 shot change"),
            n => s.push_str(&format!("; {n} shot changes")),
        }
        s
    }
}

/// How ingest inspects: idet on every frame of the first 480, then on runs of 24
/// frames out of every 240 (a tenth of the rest, spread over all of it); the other
/// detectors on every frame. Measured on the 10-minute film: see docs/architecture.md.
pub fn options() -> InspectOptions {
    InspectOptions {
        idet_every: 240,
        idet_run: 24,
        idet_first: 480,
        ..InspectOptions::default()
    }
}

/// Inspect a local master (one full decode) and judge it against `req`.
pub fn inspect(master: &Path, req: &Request) -> Result<QcRecord, StageError> {
    let inspection = media::inspect(master, &options())?;
    Ok(judge(inspection, req))
}

/// Why no flag makes `inspection`'s master faithful to publish: two shapes or two
/// clocks in one master.
fn unconvertible(inspection: &Inspection) -> Option<media::MediaError> {
    if let Some(c) = &inspection.geometry.change {
        return Some(media::MediaError::ShapeChanges(c.clone()));
    }
    inspection
        .timing
        .decode_time_back
        .clone()
        .map(media::MediaError::DecodeTimeBack)
}

/// The verdict on `inspection` for `req`: passed, refused (truncated), or accepted
/// truncated with the frames that decode whole.
pub fn judge(inspection: Inspection, req: &Request) -> QcRecord {
    let truncated = inspection.truncated();
    let c = &inspection.completeness;
    let changes = unconvertible(&inspection).is_some();
    let (verdict, published_frames) = match (&truncated, req.accept_truncated) {
        // Two shapes, or two clocks, in one master: no flag makes that faithful.
        _ if changes => ("refused", None),
        (None, _) => ("passed", None),
        (Some(_), false) => ("refused", None),
        // What decodes whole from the start, on the master's frame grid (frames after
        // a hole near the cut would only be held pictures).
        (Some(_), true) => ("accepted-truncated", Some(c.whole_prefix_frames)),
    };
    QcRecord {
        verdict: verdict.into(),
        truncated: truncated.as_ref().map(|t| t.to_string()),
        published_frames,
        warnings: inspection.warnings(),
        master_sha256: req.master_sha256.clone(),
        inspection,
    }
}

impl QcRecord {
    /// The refusal, when the master changes shape, or is truncated and the request does
    /// not accept it.
    pub fn refusal(&self) -> Result<(), StageError> {
        if let Some(e) = unconvertible(&self.inspection) {
            return Err(FarmError::Media(e));
        }
        match self.inspection.truncated() {
            Some(t) if self.verdict == "refused" => Err(FarmError::Media(t.into())),
            _ => Ok(()),
        }
    }
}

/// Store the record as `work/<title>/inspection.json`.
pub fn store_record(store: &dyn ObjectStore, t: &TitleId, r: &QcRecord) -> Result<(), StageError> {
    store.put(
        &keys::inspection(t),
        &serde_json::to_vec_pretty(r).expect("serialisable"),
    )?;
    Ok(())
}

/// At ingest: check the stored copy against the request (size, SHA-256), inspect it
/// unless an inspection of the same master is stored (`vodfarm run` inspects before
/// submitting), judge it against the request, store the record, and refuse a
/// truncated master unless the request accepts it. `published_frames` caps the title
/// when a truncated master is accepted.
pub fn inspect_master(
    store: &dyn ObjectStore,
    t: &TitleId,
    master: &Path,
    req: &Request,
) -> Result<QcRecord, StageError> {
    if req.master_bytes > 0 {
        let len = std::fs::metadata(master)
            .map_err(FarmError::io(format!("{}", master.display())))?
            .len();
        if len != req.master_bytes {
            return Err(FarmError::MasterChanged {
                path: req.master_key.clone(),
                before: req.master_bytes,
                after: len,
                when: "as stored",
            });
        }
        let sha = crate::submit::sha256_file(master)?;
        if sha != req.master_sha256 {
            return Err(FarmError::Permanent(format!(
                "{}: stored master differs from the one submitted (SHA-256 {sha}, submitted {}); submit it again",
                req.master_key, req.master_sha256
            )));
        }
    }
    let record = match read(store, t) {
        Some(r) if r.master_sha256 == req.master_sha256 => judge(r.inspection, req),
        _ => inspect(master, req)?,
    };
    store_record(store, t, &record)?;
    tracing::info!(title = %t, qc = %record.summary(), "master inspected");
    record.refusal()?;
    Ok(record)
}

/// The title's QC record, if ingest has inspected its master.
pub fn read(store: &dyn ObjectStore, t: &TitleId) -> Option<QcRecord> {
    store
        .get(&keys::inspection(t))
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
}
