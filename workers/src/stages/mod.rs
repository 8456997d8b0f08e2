//! The stages. Each takes one message's job, is idempotent (deterministic keys, done
//! markers, claims by conditional create) and may be delivered more than once.

mod audio;
mod encode;
mod ingest;
mod package;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::messages::{Job, Message};
use crate::plan::Plan;
use crate::queue::Queue;
use crate::store::{ObjectStore, StoreError};
use crate::{keys, StageError, TitleId};

/// The audio part's done-marker name (`work/<title>/done/audio`).
pub const AUDIO_PART: &str = audio::PART;

/// What a stage may touch.
pub struct Ctx {
    /// Where titles' objects are read and written.
    pub store: Arc<dyn ObjectStore>,
    /// Where follow-on jobs are sent.
    pub queue: Arc<dyn Queue>,
    /// Local scratch space for downloads and FFmpeg's files.
    pub scratch: PathBuf,
}

impl Ctx {
    /// Queue `job` on the queue its stage is served from.
    pub fn send(&self, job: Job) -> Result<(), StageError> {
        let m = Message::new(job);
        self.queue.send(m.queue(), &m.encode())?;
        Ok(())
    }

    /// Read and parse the JSON object at `key`; a missing object is a permanent error.
    pub fn get_json<T: serde::de::DeserializeOwned>(&self, key: &str) -> Result<T, StageError> {
        let bytes = self.store.get(key).map_err(|e| match e {
            StoreError::NotFound { key } => StageError::Permanent(format!("{key} is missing")),
            other => other.into(),
        })?;
        serde_json::from_slice(&bytes).map_err(|source| StageError::Json {
            key: key.to_string(),
            source,
        })
    }

    /// Store `value` at `key` as pretty-printed JSON.
    pub fn put_json<T: serde::Serialize>(&self, key: &str, value: &T) -> Result<(), StageError> {
        self.store.put(
            key,
            &serde_json::to_vec_pretty(value).expect("serialisable"),
        )?;
        Ok(())
    }

    /// The title's plan, as ingest wrote it.
    pub fn plan(&self, t: &TitleId) -> Result<Plan, StageError> {
        self.get_json(&keys::plan(t))
    }

    /// A local file holding `key`: the object itself when the backend is local,
    /// else a download into `dir`.
    pub fn local_copy(&self, key: &str, dir: &Path) -> Result<PathBuf, StageError> {
        if let Some(p) = self.store.local_path(key) {
            return Ok(p);
        }
        let name = key.rsplit('/').next().unwrap_or("object");
        let dst = dir.join(name);
        self.store.get_to_file(key, &dst)?;
        Ok(dst)
    }

    /// A new temporary folder in the scratch space (made if missing), removed on drop.
    pub fn scratch_dir(&self) -> Result<tempfile::TempDir, StageError> {
        let what = || format!("scratch space {}", self.scratch.display());
        std::fs::create_dir_all(&self.scratch).map_err(StageError::io(what()))?;
        tempfile::tempdir_in(&self.scratch).map_err(StageError::io(what()))
    }
}

/// Run one job. `message_id` is the delivered message's id (the same on redelivery).
pub fn handle(ctx: &Ctx, job: &Job, message_id: &str) -> Result<(), StageError> {
    match job {
        Job::Ingest { title } => ingest::run(ctx, title),
        Job::Encode { title, chunk } => encode::run(ctx, title, *chunk),
        Job::Audio { title } => audio::run(ctx, title),
        Job::Package { title } => package::run(ctx, title, message_id),
        Job::Place { title } => place(ctx, title),
    }
}

/// The placement stage, run after each publish: re-plan the fleet kept in the store
/// (nothing to do when none is configured). The title is published whatever happens
/// here, so a broken fleet file is logged, not turned into a failed title; transient
/// store errors are retried.
fn place(ctx: &Ctx, t: &TitleId) -> Result<(), StageError> {
    match crate::place::replan_stored(ctx.store.as_ref()) {
        Ok(Some((catalogue, placed))) => {
            let holders = placed
                .iter()
                .filter(|p| p.diff.add.iter().any(|f| f.title == t.as_str()))
                .count();
            tracing::info!(title = %t, titles = catalogue.titles.len(), appliances = placed.len(), new_copies = holders, "placement re-planned");
            crate::events::emit(ctx.store.as_ref(), t, crate::events::placed(t, &placed));
            Ok(())
        }
        Ok(None) => {
            tracing::debug!(title = %t, "no fleet configured; nothing to place");
            Ok(())
        }
        Err(e) if !e.is_transient() => {
            tracing::error!(title = %t, error = %e, "placement failed; the title stays published; fix the fleet and run `vodfarm place`");
            Ok(())
        }
        Err(e) => Err(e),
    }
}

/// Called after a part (chunk or audio) is marked done. When every part is done, the
/// package job is enqueued: the claim is a conditional create, so exactly one part
/// wins; the winner re-sends on redelivery (its body names it), so a crash between
/// claim and send cannot lose the package job, and packaging is idempotent.
pub(crate) fn part_done(
    ctx: &Ctx,
    t: &TitleId,
    plan: &Plan,
    part: &str,
    newly: bool,
) -> Result<(), StageError> {
    let done = ctx.store.list(&keys::done_prefix(t))?.len();
    // A part found done already (a redelivery, a duplicate message, a retry of a
    // stalled title) reports no progress: its own first run did, and a duplicate's
    // 100% could come after the title is published.
    if newly {
        crate::events::progress(ctx.store.as_ref(), t, done, plan.parts());
    }
    if done < plan.parts() {
        return Ok(());
    }
    let claim = keys::claim(t, "package");
    let won = ctx.store.create_if_absent(&claim, part.as_bytes())?
        || ctx.store.get(&claim)? == part.as_bytes();
    if won {
        tracing::info!(title = %t, part, "all parts done; packaging");
        crate::status::set(ctx.store.as_ref(), t, crate::status::State::Packaging, None)?;
        ctx.send(Job::Package { title: t.clone() })?;
    }
    Ok(())
}
