//! What the pages and the API show, gathered from the store and the queues: plain
//! data, serialisable, no HTML. Blocking calls (run them through `crate::blocking`).

use serde::Serialize;
use workers::deadletter::{self, DeadLetter};
use workers::progress::{self, Report};
use workers::queue::Queue;
use workers::status::State;
use workers::store::{ObjectStore, StoreError};
use workers::{keys, runner, FarmError, TitleId};

/// Dead-lettered messages shown per queue.
pub const DEAD_LETTERS_SHOWN: usize = 50;

/// Every title's report, optionally only those in `state`, newest first.
pub fn titles(store: &dyn ObjectStore, state: Option<State>) -> Result<Vec<Report>, FarmError> {
    let mut out = Vec::new();
    for t in progress::titles(store)? {
        if let Some(p) = progress::read(store, &t)? {
            if state.is_none_or(|s| p.status.state == s) {
                out.push(p.report());
            }
        }
    }
    out.sort_by(|a, b| {
        b.submitted_ms
            .cmp(&a.submitted_ms)
            .then_with(|| a.title.cmp(&b.title))
    });
    Ok(out)
}

/// One rung of the title's ladder: what it was chosen for and what it got.
#[derive(Debug, Clone, Serialize)]
pub struct RungView {
    /// Rendition id.
    pub id: String,
    /// Picture size.
    pub width: u32,
    /// Picture size.
    pub height: u32,
    /// Target bitrate, kbit/s.
    pub target_kbps: f64,
    /// VMAF the per-title analysis predicted (per-title ladders only).
    pub predicted_vmaf: Option<f64>,
    /// The prediction's standard error from the probed windows' spread (absent when
    /// there is none, as in `ladder.json`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub predicted_se: Option<f64>,
    /// VMAF measured on the published rendition, when the farm measured it.
    pub measured_vmaf: Option<f64>,
}

/// One published rendition and its measured bitrate (from the segments' sizes).
#[derive(Debug, Clone, Serialize)]
pub struct RenditionView {
    /// Rendition id.
    pub id: String,
    /// video, audio or subtitles.
    pub kind: &'static str,
    /// `1280x720`, `fra 2ch`, `en forced`.
    pub detail: String,
    /// Bytes of its segments.
    pub bytes: u64,
    /// Seconds of its segments.
    pub seconds: f64,
    /// Average bitrate over the title, kbit/s.
    pub average_kbps: f64,
    /// The highest segment's bitrate, kbit/s.
    pub peak_kbps: f64,
}

/// Everything the title page shows.
#[derive(Debug, Clone, Serialize)]
pub struct TitleDetail {
    /// Status and progress.
    pub report: Report,
    /// The request it was submitted with.
    pub request: Option<serde_json::Value>,
    /// The master's QC record.
    pub inspection: Option<serde_json::Value>,
    /// The per-title ladder's policy and why its top rung is where it is.
    pub ladder_policy: Option<String>,
    /// Why the top rung is where it is.
    pub top_reason: Option<String>,
    /// The ladder's rungs (planned rungs for a fixed ladder).
    pub rungs: Vec<RungView>,
    /// Published renditions with measured bitrates.
    pub renditions: Vec<RenditionView>,
    /// The title's job events, oldest first (`control/events/<ID>/`).
    pub events: Vec<workers::events::Event>,
    /// Stored events that could not be read (newer kinds, damaged files): skipped.
    pub events_unreadable: usize,
}

fn json(store: &dyn ObjectStore, key: &str) -> Result<Option<serde_json::Value>, FarmError> {
    match store.get(key) {
        Ok(b) => Ok(serde_json::from_slice(&b).ok()),
        Err(StoreError::NotFound { .. }) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// The per-title decision of `t`, if its ladder was per-title.
pub fn decision(store: &dyn ObjectStore, t: &TitleId) -> Option<ladders::Decision> {
    store
        .get(&keys::ladder(t))
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
}

fn kbps(bytes: u64, seconds: f64) -> f64 {
    if seconds > 0.0 {
        bytes as f64 * 8.0 / seconds / 1000.0
    } else {
        0.0
    }
}

fn rendition(
    id: &str,
    kind: &'static str,
    detail: String,
    timescale: u32,
    segs: &[manifests::SegmentInfo],
) -> RenditionView {
    let scale = timescale.max(1) as f64;
    let bytes = segs.iter().map(|s| s.bytes).sum();
    let seconds = segs.iter().map(|s| s.duration as f64 / scale).sum();
    let peak_kbps = segs
        .iter()
        .map(|s| kbps(s.bytes, s.duration as f64 / scale))
        .fold(0.0, f64::max);
    RenditionView {
        id: id.to_string(),
        kind,
        detail,
        bytes,
        seconds,
        average_kbps: kbps(bytes, seconds),
        peak_kbps,
    }
}

/// The title page's data; `None` when there is no such title.
pub fn title(store: &dyn ObjectStore, t: &TitleId) -> Result<Option<TitleDetail>, FarmError> {
    let Some(p) = progress::read(store, t)? else {
        return Ok(None);
    };
    let decision = decision(store, t);
    // Measured at packaging and kept in the status record.
    let measured_vmaf = |id: &str| {
        p.status
            .quality
            .iter()
            .find(|m| m.id == id)
            .and_then(|m| m.vmaf)
    };
    let plan: Option<workers::plan::Plan> =
        json(store, &keys::plan(t))?.and_then(|v| serde_json::from_value(v).ok());
    let rungs = match (&decision, &plan) {
        (Some(d), _) => d
            .rungs
            .iter()
            .map(|r| RungView {
                id: r.rung.id.clone(),
                width: r.rung.width,
                height: r.rung.height,
                target_kbps: r.rung.bitrate as f64 / 1000.0,
                predicted_vmaf: Some(r.predicted_vmaf),
                predicted_se: r.predicted_se,
                measured_vmaf: measured_vmaf(&r.rung.id),
            })
            .collect(),
        (None, Some(plan)) => plan
            .rungs
            .iter()
            .map(|r| RungView {
                id: r.id.clone(),
                width: r.width,
                height: r.height,
                target_kbps: r.bitrate as f64 / 1000.0,
                predicted_vmaf: None,
                predicted_se: None,
                measured_vmaf: measured_vmaf(&r.id),
            })
            .collect(),
        (None, None) => Vec::new(),
    };
    let presentation: Option<manifests::Presentation> =
        json(store, &keys::presentation(t))?.and_then(|v| serde_json::from_value(v).ok());
    let mut renditions = Vec::new();
    if let Some(pr) = &presentation {
        for v in &pr.video {
            let detail = format!("{}x{}", v.width, v.height);
            renditions.push(rendition(&v.id, "video", detail, v.timescale, &v.segments));
        }
        for a in &pr.audio {
            let detail = format!("{} {}ch", a.language, a.channels);
            renditions.push(rendition(&a.id, "audio", detail, a.timescale, &a.segments));
        }
        for s in &pr.subtitles {
            let detail = format!("{}{}", s.language, if s.forced { " forced" } else { "" });
            renditions.push(rendition(
                &s.id,
                "subtitles",
                detail,
                s.timescale,
                &s.segments,
            ));
        }
    }
    // One event that does not parse (a kind newer than this console, a damaged file)
    // is counted and skipped; the others are shown.
    let (mut events, mut events_unreadable) = (Vec::new(), 0);
    for k in workers::events::keys_of(store, Some(t))? {
        match store.get(&k).map(|b| serde_json::from_slice(&b)) {
            Ok(Ok(e)) => events.push(e),
            Ok(Err(_)) | Err(StoreError::NotFound { .. }) => events_unreadable += 1,
            Err(e) => return Err(e.into()),
        }
    }
    Ok(Some(TitleDetail {
        report: p.report(),
        request: json(store, &keys::request(t))?,
        inspection: json(store, &keys::inspection(t))?,
        ladder_policy: decision.as_ref().map(|d| d.policy.clone()),
        top_reason: decision.as_ref().map(|d| d.top_reason.clone()),
        rungs,
        renditions,
        events,
        events_unreadable,
    }))
}

/// One queue's figures.
#[derive(Debug, Clone, Serialize)]
pub struct QueueView {
    /// The queue (`encode`).
    pub queue: String,
    /// Messages visible.
    pub depth: usize,
    /// Messages in flight.
    pub in_flight: usize,
    /// Messages in its dead-letter queue.
    pub dead_lettered: usize,
}

/// The farm page's data.
#[derive(Debug, Clone, Serialize)]
pub struct FarmView {
    /// Every farm queue.
    pub queues: Vec<QueueView>,
    /// What the dead-letter queues hold (up to [`DEAD_LETTERS_SHOWN`] each).
    pub dead_letters: Vec<DeadLetter>,
}

/// The queues and the dead letters now.
pub fn farm(queue: &dyn Queue) -> Result<FarmView, FarmError> {
    let mut queues = Vec::new();
    for q in runner::QUEUES {
        queues.push(QueueView {
            queue: q.to_string(),
            depth: queue.depth(q)?,
            in_flight: queue.in_flight(q)?,
            dead_lettered: queue.depth(&deadletter::dlq(q))?,
        });
    }
    Ok(FarmView {
        queues,
        dead_letters: deadletter::list(queue, DEAD_LETTERS_SHOWN)?,
    })
}

/// One appliance on the placement page.
#[derive(Debug, Clone, Serialize)]
pub struct ApplianceView {
    /// Its id.
    pub appliance: String,
    /// Its site.
    pub site: String,
    /// The site's fill window, local hours [start, end).
    pub window: (u32, u32),
    /// Bytes it can fetch in one night's window.
    pub window_bytes: u64,
    /// Its capacity.
    pub capacity_bytes: u64,
    /// Titles and bytes of its fill plan.
    pub plan_titles: usize,
    /// Bytes of its fill plan.
    pub plan_bytes: u64,
    /// Bytes it reports holding (none before its first report).
    pub held_bytes: Option<u64>,
    /// Titles it can serve whole.
    pub held_titles: Option<usize>,
    /// Tonight's fill: plan bytes it does not hold yet.
    pub add_bytes: u64,
    /// Tonight's deletions: held bytes no longer in the plan.
    pub remove_bytes: u64,
    /// When it last reported (Unix seconds) and its last fill's bytes.
    pub reported_unix: Option<u64>,
    /// Bytes fetched by its last fill.
    pub last_fill_bytes: Option<u64>,
    /// Why its last fill stopped early, if it did.
    pub last_fill_stopped: Option<String>,
    /// Healthy by its own report; `None` before its first report.
    pub healthy: Option<bool>,
    /// What its report says is wrong.
    pub errors: Vec<String>,
}

/// The fleet as planned and as reported; empty when no fleet was given.
pub fn placement(store: &dyn ObjectStore) -> Result<Vec<ApplianceView>, FarmError> {
    let fleet = match store.get(&keys::fleet()) {
        Ok(b) => placement::Fleet::parse(&String::from_utf8_lossy(&b))?,
        Err(StoreError::NotFound { .. }) => return Ok(Vec::new()),
        Err(e) => return Err(e.into()),
    };
    let mut out = Vec::new();
    for site in &fleet.sites {
        for a in &site.appliances {
            let plan: Option<placement::FillPlan> =
                json(store, &keys::fill_plan(&a.id))?.and_then(|v| serde_json::from_value(v).ok());
            let report: Option<appliance::fill::ApplianceReport> =
                json(store, &keys::appliance_report(&a.id))?
                    .and_then(|v| serde_json::from_value(v).ok());
            let plan_bytes = plan.as_ref().map_or(0, |p| p.bytes);
            let (add, remove) = match &report {
                // What it holds of the plan is plan - missing; the rest it holds goes.
                Some(r) => (
                    r.missing_bytes,
                    r.held_bytes
                        .saturating_sub(r.plan_bytes.saturating_sub(r.missing_bytes)),
                ),
                None => (plan_bytes, 0),
            };
            out.push(ApplianceView {
                appliance: a.id.clone(),
                site: site.id.clone(),
                window: site.fill_window,
                window_bytes: site.window_bytes(a),
                capacity_bytes: a.capacity_bytes,
                plan_titles: plan.as_ref().map_or(0, |p| p.titles.len()),
                plan_bytes,
                held_bytes: report.as_ref().map(|r| r.held_bytes),
                held_titles: report.as_ref().map(|r| r.held_titles.len()),
                add_bytes: add,
                remove_bytes: remove,
                reported_unix: report.as_ref().map(|r| r.reported_unix),
                last_fill_bytes: report.as_ref().map(|r| r.last_fill.fetched_bytes),
                last_fill_stopped: report.as_ref().and_then(|r| r.last_fill.stopped.clone()),
                healthy: report.as_ref().map(|r| r.health.ok),
                errors: report.map(|r| r.health.errors).unwrap_or_default(),
            });
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use workers::store::LocalStore;

    const FLEET: &str = r#"
popularity_per_copy = 100.0
max_copies = 2
[[site]]
id = "lon"
fill_window = [2, 6]
[[site.appliance]]
id = "lon-1"
kind = "storage"
capacity_bytes = 1000000
fill_rate_bps = 8000
[[site.appliance]]
id = "lon-2"
kind = "storage"
capacity_bytes = 1000000
fill_rate_bps = 8000
"#;

    #[test]
    fn placement_from_plans_and_reports() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalStore::open(dir.path()).unwrap();
        assert!(
            placement(&store).unwrap().is_empty(),
            "no fleet, no appliances"
        );
        store.put(&keys::fleet(), FLEET.as_bytes()).unwrap();
        let plan = serde_json::json!({"appliance": "lon-1", "site": "lon", "titles": ["a", "b"],
            "files": [], "bytes": 5000, "capacity_bytes": 1000000});
        store
            .put(&keys::fill_plan("lon-1"), plan.to_string().as_bytes())
            .unwrap();
        // Holds 3000 of the plan's 5000 bytes (2000 missing) and 700 bytes no longer in it.
        let report = serde_json::json!({"appliance": "lon-1", "site": "lon", "reported_unix": 1_795_000_000,
            "plan_files": 4, "plan_bytes": 5000, "held_files": 4, "held_bytes": 3700,
            "held_titles": ["a"], "missing_files": 2, "missing_bytes": 2000,
            "last_fill": {"started_unix": 1_795_000_000u64, "seconds": 1.0, "window": "open",
                "rate_bytes_per_s": 1000, "fetched_files": 1, "fetched_bytes": 900,
                "resumed_files": 0, "resumed_bytes": 0, "deleted_files": 0, "deleted_bytes": 0,
                "stopped": "window closed"},
            "health": {"ok": false, "errors": ["disk <b>failing</b>"], "cache_free_bytes": null}});
        store
            .put(
                &keys::appliance_report("lon-1"),
                report.to_string().as_bytes(),
            )
            .unwrap();
        let v = placement(&store).unwrap();
        assert_eq!(v.len(), 2);
        let a = &v[0];
        assert_eq!(
            (a.appliance.as_str(), a.plan_titles, a.plan_bytes),
            ("lon-1", 2, 5000)
        );
        assert_eq!((a.add_bytes, a.remove_bytes), (2000, 700));
        // 4 hours at 8000 bit/s.
        assert_eq!(a.window_bytes, 4 * 3600 * 1000);
        assert_eq!((a.healthy, a.last_fill_bytes), (Some(false), Some(900)));
        let b = &v[1];
        assert_eq!(
            (b.healthy, b.plan_bytes, b.add_bytes, b.held_bytes),
            (None, 0, 0, None)
        );
        // The page shows the report's text as text.
        let html = crate::pages::placement_live(&v);
        assert!(html.contains("disk &lt;b&gt;failing&lt;/b&gt;"), "{html}");
        assert!(html.contains("stopped: window closed"), "{html}");
    }
}
