//! Job events: every state change of a title (submitted, inspected, ladder chosen,
//! progress, packaged, published, placed, failed with its cause) as a versioned JSON
//! record, one object per event under `control/events/<title>/<seq:08>.json`.
//!
//! The store is S3-like and has no append, so each event is its own object and its
//! sequence number is claimed by conditional create: list the title's events, try the
//! next number, and on a conflict (another process took it) the one after. A number is
//! only tried once the one before it exists, so a title's events are gap-free and
//! totally ordered however many worker processes emit at once; readers order by `seq`,
//! never by `time` (clocks of different machines disagree).
//!
//! Emitting never fails a stage: the event is part of the record, not of the work, so
//! a store error is logged as a warning and the stage goes on. After the event is
//! stored, it is handed to this process's listeners ([`subscribe`]): the binary's
//! sinks (webhooks, a queue), which deliver it off the stage's thread. Listeners are
//! process-wide, like a logging subscriber, because events are emitted from every path
//! that changes a title (submit, the stages, the worker loop), and these are reached
//! through many entry points that would otherwise all need a handle passed down.
//! Within one process a title's events reach the listeners in `seq` order (the claim
//! and the hand-over happen under one lock per title); across processes they are
//! delivered by whichever process emitted each one, so a receiver orders by `seq`.
//!
//! No HTTP here: delivery is the binary's (`vodfarm/src/sinks.rs`).

use std::collections::BTreeMap;
use std::hash::{Hash, Hasher};
use std::sync::{Arc, Mutex, MutexGuard, RwLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use crate::plan::{LadderSpec, Request};
use crate::qc::QcRecord;
use crate::status::State;
use crate::store::{ObjectStore, StoreError};
use crate::{keys, StageError, TitleId};

/// The schema version every event carries. A reader that meets a higher one should
/// still read the fields it knows: new fields and kinds are added, never changed
/// (a change of meaning would get a new version).
pub const SCHEMA: u32 = 1;

/// Progress is emitted each time a title crosses another this many percent of its
/// parts encoded...
pub const PROGRESS_STEP: u32 = 10;
/// ...and at most this often per title and process (100% always goes), so a title of
/// thousands of chunks on many threads does not flood the receivers.
pub const PROGRESS_EVERY: Duration = Duration::from_secs(10);

/// Conditional creates lost in a row before an append gives up (each loss means
/// another event was stored meanwhile, so this only happens under a storm).
const MAX_CONFLICTS: u32 = 1000;

/// One job event, as stored and as delivered.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// The schema version ([`SCHEMA`]).
    pub schema: u32,
    /// Unique and stable: `<title>:<seq>` (the same on every redelivery, so a receiver
    /// can drop duplicates by it).
    pub id: String,
    /// The event's place in its title's history: 1, 2, 3... without gaps.
    pub seq: u64,
    /// When it was emitted: RFC 3339, UTC, milliseconds (the emitting machine's clock).
    pub time: String,
    /// The title it is about.
    pub title: TitleId,
    /// What happened: `kind` and its `details`.
    #[serde(flatten)]
    pub what: What,
}

/// What happened to the title: serialised as `"kind": "<snake_case>"` and
/// `"details": {...}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "details", rename_all = "snake_case")]
pub enum What {
    /// The master and request are stored and the ingest is queued.
    Submitted {
        /// The stored master's object key.
        master: String,
        /// Its size in bytes.
        master_bytes: u64,
        /// Its SHA-256 (hex).
        master_sha256: String,
        /// The ladder's or per-title policy's name.
        ladder: String,
        /// Whether the rungs are chosen per title.
        per_title: bool,
    },
    /// Ingest inspected the master (QC).
    Inspected {
        /// "passed", "refused" (truncated) or "accepted-truncated".
        verdict: String,
        /// The one-line summary `vodfarm status` shows.
        summary: String,
        /// Warnings for content ops.
        warnings: Vec<String>,
    },
    /// The title's video rungs are chosen (fitted fixed ladder, or per-title analysis).
    LadderChosen {
        /// Whether they were chosen by analysing the title.
        per_title: bool,
        /// The rungs, lowest first as planned.
        rungs: Vec<Rung>,
    },
    /// Parts (chunks and audio) encoded so far.
    Progress {
        /// `parts_done * 100 / parts`, rounded down.
        percent: u32,
        /// Parts with a done marker.
        parts_done: usize,
        /// All parts of the title.
        parts: usize,
    },
    /// Every rendition's segments and init segment are stored; manifests come next.
    Packaged {
        /// Video and audio rendition ids.
        renditions: Vec<String>,
        /// Subtitle track ids.
        subtitles: Vec<String>,
        /// Media segments written, all renditions together.
        segments: usize,
    },
    /// The master playlist is written: the title can be played.
    Published {
        /// The HLS master playlist's key.
        hls: String,
        /// The DASH MPD's key.
        dash: String,
    },
    /// Placement re-planned the fleet after the publish.
    Placed {
        /// Appliances whose new fill plan adds the title's files.
        added_to: Vec<String>,
    },
    /// The title failed.
    Failed {
        /// The error and its causes, as the status record has it.
        cause: String,
    },
    /// A failed or stalled title was resumed from what is done (`vodfarm retry`, `run
    /// --retry`, the console's Retry).
    Retried {
        /// What was queued again: `ingest`, `parts` or `package`.
        from: String,
        /// With `parts`: the parts queued (`c<chunk>`, `audio`).
        parts: Vec<String>,
    },
}

/// A video rung as the `ladder_chosen` event shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Rung {
    /// Rendition id.
    pub id: String,
    /// Picture width.
    pub width: u32,
    /// Picture height.
    pub height: u32,
    /// Target bitrate, bits/s.
    pub bitrate: u64,
}

impl What {
    /// The kind's name, as in the JSON.
    pub fn kind(&self) -> &'static str {
        match self {
            What::Submitted { .. } => "submitted",
            What::Inspected { .. } => "inspected",
            What::LadderChosen { .. } => "ladder_chosen",
            What::Progress { .. } => "progress",
            What::Packaged { .. } => "packaged",
            What::Published { .. } => "published",
            What::Placed { .. } => "placed",
            What::Failed { .. } => "failed",
            What::Retried { .. } => "retried",
        }
    }
}

impl Event {
    /// The event as one line of JSON, without the newline: the webhook body, and the
    /// stored object less its final newline.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("an event always serialises")
    }
}

/// Why an event could not be stored.
#[derive(Debug, thiserror::Error)]
pub enum EventError {
    /// Listing the title's events or creating the next one failed.
    #[error("storing an event of {title}: {source}")]
    Store {
        /// The title.
        title: TitleId,
        /// The store's error.
        #[source]
        source: StoreError,
    },
    /// Other processes took every number tried.
    #[error("storing an event of {title}: {tries} sequence numbers in a row were taken by others")]
    Contended {
        /// The title.
        title: TitleId,
        /// Numbers tried.
        tries: u32,
    },
    /// A stored event that does not parse.
    #[error("{key}: {source}")]
    Json {
        /// Its key.
        key: String,
        /// Why.
        #[source]
        source: serde_json::Error,
    },
}

/// A listener: called with each event this process stores, on the emitting thread, so
/// it must only hand the event on (a channel send), never block.
pub type Listener = Arc<dyn Fn(&Event) + Send + Sync>;

static LISTENERS: RwLock<Vec<(u64, Listener)>> = RwLock::new(Vec::new());
static NEXT_LISTENER: Mutex<u64> = Mutex::new(0);

/// Hands every event this process stores to `f` until the returned guard is dropped.
pub fn subscribe(f: impl Fn(&Event) + Send + Sync + 'static) -> Subscription {
    let id = {
        let mut n = lock(&NEXT_LISTENER);
        *n += 1;
        *n
    };
    LISTENERS
        .write()
        .unwrap_or_else(|p| p.into_inner())
        .push((id, Arc::new(f)));
    Subscription { id }
}

/// A listener's registration; dropping it removes the listener.
#[must_use = "dropping the subscription removes the listener"]
pub struct Subscription {
    id: u64,
}

impl Drop for Subscription {
    fn drop(&mut self) {
        LISTENERS
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .retain(|(id, _)| *id != self.id);
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // An emitter that panicked holding the lock leaves nothing half-done in it.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// One lock per title (striped: bounded memory in a long-lived worker), held from
/// claiming a number to handing the event to the listeners, so that this process's
/// listeners see a title's events in `seq` order.
static ORDER: [Mutex<()>; 32] = [const { Mutex::new(()) }; 32];

fn order_lock(t: &TitleId) -> MutexGuard<'static, ()> {
    let mut h = std::hash::DefaultHasher::new();
    t.as_str().hash(&mut h);
    lock(&ORDER[(h.finish() % ORDER.len() as u64) as usize])
}

/// Store an event of `title` and hand it to the listeners. Never fails the caller: a
/// store error is logged (the event is then not delivered either, since it has no
/// number). Returns the stored event.
pub fn emit(store: &dyn ObjectStore, title: &TitleId, what: What) -> Option<Event> {
    let _order = order_lock(title);
    let kind = what.kind();
    match append(store, title, what) {
        Ok(e) => {
            let listeners: Vec<Listener> = LISTENERS
                .read()
                .unwrap_or_else(|p| p.into_inner())
                .iter()
                .map(|(_, l)| l.clone())
                .collect();
            for l in listeners {
                l(&e);
            }
            Some(e)
        }
        Err(err) => {
            tracing::warn!(title = %title, kind, error = %crate::error::one_line(&err), "event not stored");
            None
        }
    }
}

/// [`emit`], unless the title already has an event of `what`'s kind since its last
/// `retried` or `submitted` (a new attempt): for the events of a job that a
/// redelivery or a duplicate message runs again (`inspected`, `ladder_chosen`,
/// `packaged`, `published`), so that each is stored once per attempt, and a
/// redelivery that finds the work done can still store the one a kill lost. Reads
/// back from the newest event, so it costs a few reads. A store error in the check
/// emits (a duplicate is better than a lost event).
pub fn emit_once(store: &dyn ObjectStore, title: &TitleId, what: What) -> Option<Event> {
    let kind = what.kind();
    let seen = || -> Result<bool, StoreError> {
        for k in keys_of(store, Some(title))?.iter().rev() {
            let bytes = store.get(k)?;
            let Ok(e) = serde_json::from_slice::<Event>(&bytes) else {
                continue;
            };
            match e.what.kind() {
                k if k == kind => return Ok(true),
                "retried" | "submitted" => return Ok(false),
                _ => {}
            }
        }
        Ok(false)
    };
    match seen() {
        Ok(true) => {
            tracing::debug!(title = %title, kind, "event already stored");
            None
        }
        _ => emit(store, title, what),
    }
}

/// Store the next event of `title` (no listeners): claim the number after the highest
/// stored, or the next free one after it.
pub fn append(store: &dyn ObjectStore, title: &TitleId, what: What) -> Result<Event, EventError> {
    let err = |source| EventError::Store {
        title: title.clone(),
        source,
    };
    let first = store
        .list(&keys::events_prefix(title))
        .map_err(err)?
        .iter()
        .filter_map(|k| seq_of(k))
        .max()
        .map_or(1, |s| s + 1);
    let mut event = Event {
        schema: SCHEMA,
        id: String::new(),
        seq: first,
        time: rfc3339(SystemTime::now()),
        title: title.clone(),
        what,
    };
    for seq in first..first + u64::from(MAX_CONFLICTS) {
        event.seq = seq;
        event.id = format!("{title}:{seq}");
        let line = event.to_json() + "\n";
        if store
            .create_if_absent(&keys::event(title, seq), line.as_bytes())
            .map_err(err)?
        {
            return Ok(event);
        }
    }
    Err(EventError::Contended {
        title: title.clone(),
        tries: MAX_CONFLICTS,
    })
}

/// The sequence number in an event's key (`control/events/<title>/<seq>.json`).
pub fn seq_of(key: &str) -> Option<u64> {
    key.rsplit('/').next()?.strip_suffix(".json")?.parse().ok()
}

/// Keys of every stored event, or of one title's, in (title, seq) order.
pub fn keys_of(
    store: &dyn ObjectStore,
    title: Option<&TitleId>,
) -> Result<Vec<String>, StoreError> {
    let prefix = match title {
        Some(t) => keys::events_prefix(t),
        None => keys::EVENTS.to_string(),
    };
    // Keys sort by title, then by the zero-padded number.
    let mut keys: Vec<String> = store
        .list(&prefix)?
        .into_iter()
        .filter(|k| seq_of(k).is_some())
        .collect();
    keys.sort();
    Ok(keys)
}

/// One title's stored events, in `seq` order.
pub fn read(store: &dyn ObjectStore, title: &TitleId) -> Result<Vec<Event>, EventError> {
    let mut out = Vec::new();
    for k in keys_of(store, Some(title)).map_err(|source| EventError::Store {
        title: title.clone(),
        source,
    })? {
        let bytes = store.get(&k).map_err(|source| EventError::Store {
            title: title.clone(),
            source,
        })?;
        out.push(
            serde_json::from_slice(&bytes).map_err(|source| EventError::Json { key: k, source })?,
        );
    }
    Ok(out)
}

/// What progress this process last emitted for a title: the step and when.
struct Sent {
    step: u32,
    at: Instant,
}

static PROGRESS: Mutex<BTreeMap<String, Sent>> = Mutex::new(BTreeMap::new());

/// A part of `title` is done: `done` of `parts`. Emits a `progress` event when the
/// title has crossed into a new step of [`PROGRESS_STEP`] percent since this process
/// last emitted one for it, and at least [`PROGRESS_EVERY`] has passed (100% always
/// goes). The throttle is per process: workers on many machines each emit their own,
/// which is why progress carries the counts and a receiver keeps the highest.
pub fn progress(store: &dyn ObjectStore, title: &TitleId, done: usize, parts: usize) {
    if parts == 0 {
        return;
    }
    let done = done.min(parts);
    let percent = (done * 100 / parts) as u32;
    let step = percent / PROGRESS_STEP;
    // Held while emitting: two threads of one process never emit out of order.
    let mut sent = lock(&PROGRESS);
    let due = match sent.get(title.as_str()) {
        None => step > 0,
        Some(s) => step > s.step && (percent == 100 || s.at.elapsed() >= PROGRESS_EVERY),
    };
    if !due {
        return;
    }
    if percent == 100 {
        sent.remove(title.as_str());
    } else {
        sent.insert(
            title.as_str().to_string(),
            Sent {
                step,
                at: Instant::now(),
            },
        );
    }
    emit(
        store,
        title,
        What::Progress {
            percent,
            parts_done: done,
            parts,
        },
    );
}

/// Ingest inspected the master: the `inspected` event, for a passed or accepted
/// master (`Ok`) and for one refused as truncated (its record is stored before the
/// refusal); nothing when the inspection did not happen (the stored copy was wrong).
pub fn inspected(
    store: &dyn ObjectStore,
    title: &TitleId,
    master_sha256: &str,
    result: &Result<QcRecord, StageError>,
) {
    let record = match result {
        Ok(r) => Some(r.clone()),
        Err(_) => crate::qc::read(store, title)
            .filter(|r| r.verdict == "refused" && r.master_sha256 == master_sha256),
    };
    if let Some(r) = record {
        emit_once(
            store,
            title,
            What::Inspected {
                verdict: r.verdict.clone(),
                summary: r.summary(),
                warnings: r.warnings.clone(),
            },
        );
    }
}

/// The `submitted` event of a stored request.
pub fn submitted(r: &Request) -> What {
    What::Submitted {
        master: r.master_key.clone(),
        master_bytes: r.master_bytes,
        master_sha256: r.master_sha256.clone(),
        ladder: r.ladder.name().to_string(),
        per_title: matches!(r.ladder, LadderSpec::PerTitle { .. }),
    }
}

/// The `ladder_chosen` event of the rungs ingest planned.
pub fn ladder_chosen(spec: &LadderSpec, rungs: &[ladders::FittedRung]) -> What {
    What::LadderChosen {
        per_title: matches!(spec, LadderSpec::PerTitle { .. }),
        rungs: rungs
            .iter()
            .map(|r| Rung {
                id: r.id.clone(),
                width: r.width,
                height: r.height,
                bitrate: r.bitrate,
            })
            .collect(),
    }
}

/// The `packaged` event of a presentation whose files are all stored.
pub fn packaged(p: &manifests::Presentation) -> What {
    What::Packaged {
        renditions: p
            .video
            .iter()
            .map(|v| v.id.clone())
            .chain(p.audio.iter().map(|a| a.id.clone()))
            .collect(),
        subtitles: p.subtitles.iter().map(|s| s.id.clone()).collect(),
        segments: p.video.iter().map(|v| v.segments.len()).sum::<usize>()
            + p.audio.iter().map(|a| a.segments.len()).sum::<usize>(),
    }
}

/// The `published` event: where the manifests are.
pub fn published(t: &TitleId) -> What {
    What::Published {
        hls: keys::origin(t, "master.m3u8"),
        dash: keys::origin(t, "manifest.mpd"),
    }
}

/// The `placed` event after a re-plan: the appliances that take the title.
pub fn placed(t: &TitleId, placed: &[crate::place::Placed]) -> What {
    What::Placed {
        added_to: placed
            .iter()
            .filter(|p| p.diff.add.iter().any(|f| f.title == t.as_str()))
            .map(|p| p.appliance.clone())
            .collect(),
    }
}

/// Fail the title with `cause` (`status::set`) and emit the `failed` event, unless the
/// title had already failed (one event per failure of the title, not per failing job)
/// or is published (it stays published, whatever fails after).
pub fn fail_title(store: &dyn ObjectStore, t: &TitleId, cause: String) -> Result<(), StoreError> {
    let before = crate::status::read(store, t).map(|s| s.state);
    crate::status::set(store, t, State::Failed, Some(cause.clone()))?;
    if !matches!(before, Some(State::Failed | State::Published)) {
        emit(store, t, What::Failed { cause });
    }
    Ok(())
}

/// The `retried` event of what a retry queued.
pub fn retried(r: &crate::retry::Resumed) -> What {
    use crate::retry::Resumed;
    let (from, parts) = match r {
        Resumed::Ingest => ("ingest", Vec::new()),
        Resumed::Parts(p) => ("parts", p.clone()),
        Resumed::Package => ("package", Vec::new()),
        // Not emitted: retry returns early for a published title.
        Resumed::Published => ("published", Vec::new()),
    };
    What::Retried {
        from: from.into(),
        parts,
    }
}

/// `t` as RFC 3339 in UTC with milliseconds (`2026-11-23T20:05:00.123Z`).
pub fn rfc3339(t: SystemTime) -> String {
    let d = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = d.as_secs() as i64;
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let (y, m, day) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3600,
        rem / 60 % 60,
        rem % 60,
        d.subsec_millis()
    )
}

/// Days since 1970-01-01 to (year, month, day) in the proleptic Gregorian calendar
/// (Howard Hinnant's `civil_from_days`): no date crate for one format.
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::LocalStore;

    fn title(s: &str) -> TitleId {
        TitleId::parse(s).unwrap()
    }

    #[test]
    fn rfc3339_dates() {
        let at = |ms: u64| rfc3339(UNIX_EPOCH + Duration::from_millis(ms));
        assert_eq!(at(0), "1970-01-01T00:00:00.000Z");
        // 2000-02-29 (a leap day of a century leap year), 12:34:56.789.
        assert_eq!(at(951_827_696_789), "2000-02-29T12:34:56.789Z");
        assert_eq!(at(1_798_761_599_999), "2026-12-31T23:59:59.999Z");
        assert_eq!(at(4_107_542_400_000), "2100-03-01T00:00:00.000Z");
    }

    #[test]
    fn schema_of_a_line() {
        let e = Event {
            schema: SCHEMA,
            id: "t:3".into(),
            seq: 3,
            time: "2026-11-23T20:05:00.000Z".into(),
            title: title("t"),
            what: What::Progress {
                percent: 50,
                parts_done: 1,
                parts: 2,
            },
        };
        assert_eq!(
            e.to_json(),
            r#"{"schema":1,"id":"t:3","seq":3,"time":"2026-11-23T20:05:00.000Z","title":"t","kind":"progress","details":{"percent":50,"parts_done":1,"parts":2}}"#
        );
        assert_eq!(serde_json::from_str::<Event>(&e.to_json()).unwrap(), e);
    }

    /// Many threads append to one title at once, each through its own store handle
    /// (as separate processes would): the numbers are 1..=n, each once, and every
    /// stored object holds the number its key says.
    #[test]
    fn concurrent_appends_are_gap_free_and_unique() {
        let dir = tempfile::tempdir().unwrap();
        let t = title("race");
        let (threads, each) = (8, 25);
        std::thread::scope(|s| {
            for i in 0..threads {
                let (dir, t) = (dir.path(), t.clone());
                s.spawn(move || {
                    let store = LocalStore::open(dir).unwrap();
                    for j in 0..each {
                        append(
                            &store,
                            &t,
                            What::Failed {
                                cause: format!("{i}/{j}"),
                            },
                        )
                        .unwrap();
                    }
                });
            }
        });
        let store = LocalStore::open(dir.path()).unwrap();
        let events = read(&store, &t).unwrap();
        let seqs: Vec<u64> = events.iter().map(|e| e.seq).collect();
        assert_eq!(seqs, (1..=(threads * each) as u64).collect::<Vec<_>>());
        let mut causes: Vec<String> = events
            .iter()
            .map(|e| match &e.what {
                What::Failed { cause } => cause.clone(),
                other => panic!("{other:?}"),
            })
            .collect();
        causes.sort();
        causes.dedup();
        assert_eq!(causes.len(), threads * each, "every append stored once");
        for e in &events {
            assert_eq!(e.id, format!("race:{}", e.seq));
        }
    }

    /// Listeners see one title's events in `seq` order however many threads emit.
    #[test]
    fn listeners_see_seq_order() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalStore::open(dir.path()).unwrap();
        let t = title("listened-order");
        let seen = Arc::new(Mutex::new(Vec::new()));
        let sub = {
            let (seen, t) = (seen.clone(), t.clone());
            subscribe(move |e| {
                if e.title == t {
                    lock(&seen).push(e.seq);
                }
            })
        };
        std::thread::scope(|s| {
            for _ in 0..6 {
                let (store, t) = (&store, &t);
                s.spawn(move || {
                    for _ in 0..20 {
                        emit(store, t, What::Failed { cause: "x".into() }).expect("stored");
                    }
                });
            }
        });
        drop(sub);
        emit(
            &store,
            &t,
            What::Failed {
                cause: "after".into(),
            },
        )
        .unwrap();
        let seen = lock(&seen).clone();
        assert_eq!(
            seen,
            (1..=120).collect::<Vec<u64>>(),
            "in order, and none after unsubscribing"
        );
    }

    #[test]
    fn progress_steps() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalStore::open(dir.path()).unwrap();
        let t = title("progress-steps");
        // 1 of 20 (5%): below the first step. 2 of 20: 10%. 3 of 20: 15%, same step.
        // 4 of 20: 20%, a new step but within PROGRESS_EVERY of the last. 20 of 20:
        // always.
        for done in [1, 2, 3, 4, 20] {
            progress(&store, &t, done, 20);
        }
        let got: Vec<u32> = read(&store, &t)
            .unwrap()
            .into_iter()
            .map(|e| match e.what {
                What::Progress { percent, .. } => percent,
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(got, vec![10, 100]);
    }
}
