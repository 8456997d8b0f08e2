//! `vodfarm status`: one line per title, from progress data.

use anyhow::{bail, Result};
use workers::progress;
use workers::store::ObjectStore;
use workers::TitleId;

pub fn show(store: &dyn ObjectStore, title: Option<&str>) -> Result<()> {
    let titles: Vec<TitleId> = match title {
        Some(t) => vec![TitleId::parse(t)?],
        None => progress::titles(store)?,
    };
    for t in titles {
        let Some(p) = progress::read(store, &t)? else {
            bail!("no title '{t}' in the store");
        };
        println!("{}", p.line());
    }
    Ok(())
}
