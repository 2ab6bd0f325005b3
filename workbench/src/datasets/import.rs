//! Dispatch from a manifest's `[[labels]]` entry to the label format readers.

use std::path::Path;

use anyhow::{bail, Context, Result};

use crate::labels::{read_episodes, Episode};

/// Reads the episodes a manifest's labels entry points at.
pub(super) fn import_for_manifest(
    format: &str,
    path: Option<&str>,
    root: &Path,
) -> Result<Vec<Episode>> {
    let file = || -> Result<std::path::PathBuf> {
        let Some(p) = path else {
            bail!("format {format} needs a path");
        };
        Ok(root.join(p))
    };
    match format {
        "episodes-csv" => {
            let f = file()?;
            read_episodes(&f).with_context(|| format!("reading {}", f.display()))
        }
        other => bail!(
            "unknown label format {other:?} (known: episodes-csv, cicids2017-flows, cicids2017-schedule, unsw-nb15, ctu13-binetflow, zeek-conn)"
        ),
    }
}
