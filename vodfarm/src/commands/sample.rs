//! `vodfarm sample`: a deterministic synthetic master for trying vodfarm (testsrc2 and
//! a sine tone), or a clip of the per-title content set. Rendered beside the target and
//! renamed, so an interrupted run leaves no partial master under the final name.

use std::path::Path;

use anyhow::{Context as _, Result};

pub fn write(
    out: &Path,
    seconds: u32,
    width: u32,
    height: u32,
    content: Option<&str>,
) -> Result<()> {
    let spec = match content {
        Some(name) => media::samples::content(name, width, height, seconds as u64 * 24)
            .with_context(|| {
                format!(
                    "unknown --content '{name}' (known: {})",
                    media::samples::CONTENT
                        .iter()
                        .map(|c| c.0)
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            })?,
        None => media::samples::test_card(seconds, width, height),
    };
    let tmp = out.with_extension("partial.mp4");
    media::render_synthetic(&spec, &tmp)
        .with_context(|| format!("writing sample master {}", out.display()))?;
    std::fs::rename(&tmp, out)
        .with_context(|| format!("writing sample master {}", out.display()))?;
    println!("{}", out.display());
    Ok(())
}
