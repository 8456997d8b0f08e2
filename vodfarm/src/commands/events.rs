//! `vodfarm events`: the job events in the store as JSON lines, every title's or one
//! title's, each title's in `seq` order; with `--follow`, new ones as they are stored,
//! until SIGINT or SIGTERM.

use std::collections::BTreeMap;
use std::io::Write;
use std::time::Duration;

use anyhow::{Context as _, Result};
use workers::events;
use workers::store::ObjectStore;
use workers::TitleId;

/// How often `--follow` lists the store again.
const POLL: Duration = Duration::from_millis(500);

pub fn print(store: &dyn ObjectStore, title: Option<&str>, follow: bool) -> Result<()> {
    let title = title.map(TitleId::parse).transpose()?;
    if follow {
        crate::signals::install();
    }
    // The highest number printed per title: a title's numbers are claimed in order
    // (one is only tried once the one before it exists), so anything above it is new.
    let mut printed: BTreeMap<String, u64> = BTreeMap::new();
    let mut out = std::io::stdout().lock();
    loop {
        for key in events::keys_of(store, title.as_ref())? {
            let (Some(seq), Some(t)) = (events::seq_of(&key), title_of(&key)) else {
                continue;
            };
            if printed.get(t).is_some_and(|&last| seq <= last) {
                continue;
            }
            let bytes = store.get(&key).with_context(|| format!("reading {key}"))?;
            let line = String::from_utf8_lossy(&bytes);
            if let Err(e) = writeln!(out, "{}", line.trim_end()).and_then(|()| out.flush()) {
                // The reader went away (`| head`): nothing more to do.
                if e.kind() == std::io::ErrorKind::BrokenPipe {
                    return Ok(());
                }
                return Err(e).context("writing to stdout");
            }
            printed.insert(t.to_string(), seq);
        }
        if !follow {
            return Ok(());
        }
        let started = std::time::Instant::now();
        while started.elapsed() < POLL {
            if crate::signals::stopped() {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// The title part of `control/events/<title>/<seq>.json`.
fn title_of(key: &str) -> Option<&str> {
    key.strip_prefix(workers::keys::EVENTS)?.split('/').next()
}
