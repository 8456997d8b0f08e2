//! `vodfarm status`: one line per title, or with `--json` the machine-readable report
//! (`workers::progress::Report`, the same as the console's `/api/titles`).

use anyhow::{bail, Result};
use workers::progress;
use workers::store::ObjectStore;
use workers::TitleId;

pub fn show(store: &dyn ObjectStore, title: Option<&str>, json: bool) -> Result<()> {
    let titles: Vec<TitleId> = match title {
        Some(t) => vec![TitleId::parse(t)?],
        None => progress::titles(store)?,
    };
    let mut reports = Vec::new();
    for t in titles {
        let Some(p) = progress::read(store, &t)? else {
            bail!("no title '{t}' in the store");
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
            _ => serde_json::to_string_pretty(&reports)?,
        };
        println!("{text}");
    }
    Ok(())
}
