//! Resuming a failed or stalled title from what is done: `vodfarm retry TITLE`, and
//! `vodfarm run --retry` on a title that failed. Nothing done is redone: a title with
//! no plan is ingested again; otherwise only the parts without a done marker are
//! queued, or packaging when every part is done.

use crate::messages::{Job, Message};
use crate::plan::Plan;
use crate::queue::Queue;
use crate::status::{self, State};
use crate::store::{ObjectStore, StoreError};
use crate::{keys, FarmError, TitleId};

/// What a retry queued.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resumed {
    /// Already published: nothing to do.
    Published,
    /// No plan yet: the ingest again.
    Ingest,
    /// These parts (`c<i>`, `audio`) again.
    Parts(Vec<String>),
    /// Every part is done: packaging again.
    Package,
}

/// Queue what a failed or stalled title still needs, and move its status out of
/// Failed. Only for a title no worker is working on (its work failed or was
/// dead-lettered): the packaging claim of the failed attempt is released.
pub fn retry(
    store: &dyn ObjectStore,
    queue: &dyn Queue,
    t: &TitleId,
) -> Result<Resumed, FarmError> {
    match store.get(&keys::request(t)) {
        Ok(_) => {}
        Err(StoreError::NotFound { .. }) => {
            return Err(FarmError::Permanent(format!("no title '{t}' in the store")))
        }
        Err(e) => return Err(e.into()),
    }
    if store.exists(&keys::origin(t, "master.m3u8"))? {
        return Ok(Resumed::Published);
    }
    let send = |job: Job| -> Result<(), FarmError> {
        let m = Message::new(job);
        queue.send(m.queue(), &m.encode())?;
        Ok(())
    };
    let plan_key = keys::plan(t);
    let plan: Option<Plan> = match store.get(&plan_key) {
        Ok(b) => Some(
            serde_json::from_slice(&b).map_err(|source| FarmError::Json {
                key: plan_key.clone(),
                source,
            })?,
        ),
        Err(StoreError::NotFound { .. }) => None,
        Err(e) => return Err(e.into()),
    };
    let mut st =
        status::read(store, t).unwrap_or_else(|| status::TitleStatus::new(t, State::Submitted));
    st.error = None;
    // What to queue, decided first: `retried` is stored before any job goes out, so
    // that a job of the new attempt finds it (its events are stored once per attempt).
    let (resumed, jobs) = match plan {
        None => {
            st.enter(State::Submitted);
            (Resumed::Ingest, vec![Job::Ingest { title: t.clone() }])
        }
        Some(plan) => {
            let done = store.list(&keys::done_prefix(t))?;
            let is_done = |part: &str| done.contains(&keys::done(t, part));
            let mut parts = Vec::new();
            for c in &plan.chunks {
                let part = format!("c{}", c.index);
                if !is_done(&part) {
                    parts.push(part);
                }
            }
            if !plan.audio.is_empty() && !is_done(AUDIO_PART) {
                parts.push(AUDIO_PART.to_string());
            }
            // The failed attempt's claims: whoever held them is gone.
            store.delete(&keys::claim(t, "packager"))?;
            store.delete(&keys::claim(t, "package"))?;
            if parts.is_empty() {
                st.enter(State::Packaging);
                (Resumed::Package, vec![Job::Package { title: t.clone() }])
            } else {
                st.enter(State::Encoding);
                let jobs = parts
                    .iter()
                    .map(|p| match p.strip_prefix('c').and_then(|i| i.parse().ok()) {
                        Some(chunk) => Job::Encode {
                            title: t.clone(),
                            chunk,
                        },
                        None => Job::Audio { title: t.clone() },
                    })
                    .collect();
                (Resumed::Parts(parts), jobs)
            }
        }
    };
    status::write(store, &st)?;
    crate::events::emit(store, t, crate::events::retried(&resumed));
    for job in jobs {
        send(job)?;
    }
    Ok(resumed)
}

/// The audio part's done-marker name (see the audio stage).
pub const AUDIO_PART: &str = crate::stages::AUDIO_PART;
