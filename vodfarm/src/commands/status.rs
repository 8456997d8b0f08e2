//! `vodfarm status`: one line per title, or with `--json` the machine-readable report
//! (`workers::progress::Report`, the same as the console's `/api/titles`).

use anyhow::{bail, Result};
use workers::store::ObjectStore;
use workers::{keys, progress, TitleId};

pub fn show(store: &dyn ObjectStore, title: Option<&str>, json: bool) -> Result<()> {
    let titles: Vec<TitleId> = match title {
        Some(t) => vec![TitleId::parse(t)?],
        None => progress::titles(store)?,
    };
    let mut reports = Vec::new();
    let mut unreadable = Vec::new();
    for t in titles {
        let Some(p) = progress::read(store, &t)? else {
            if !store.exists(&keys::status(&t))? {
                bail!("no title '{t}' in the store");
            }
            // One damaged record must not hide every other title: said, and the
            // command fails at the end.
            eprintln!("{t}: status record {} does not parse", keys::status(&t));
            unreadable.push(t.to_string());
            continue;
        };
        if json {
            reports.push(p.report());
        } else {
            println!("{}", p.line());
        }
    }
    if json {
        // One title asked for: its object; all titles: an array.
        let text = match (title, reports.as_slice()) {
            (Some(_), [one]) => serde_json::to_string_pretty(one)?,
            (Some(_), []) => String::new(),
            _ => serde_json::to_string_pretty(&reports)?,
        };
        if !text.is_empty() {
            println!("{text}");
        }
    }
    if !unreadable.is_empty() {
        bail!(
            "unreadable status record(s): {} (control/titles/<ID>.json)",
            unreadable.join(", ")
        );
    }
    Ok(())
}
