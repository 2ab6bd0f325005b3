//! Dispatch from a manifest's `[[labels]]` entry to the label format readers.

use std::path::Path;

use anyhow::{bail, Context, Result};

use super::formats::{cicids2017, ctu13, schedule, unsw_nb15, zeek};
use super::manifest::LabelsEntry;
use crate::labels::{read_episodes, Episode};

/// The label formats a manifest can name.
pub const FORMATS: &[&str] = &[
    "episodes-csv",
    "cicids2017-flows",
    "cicids2017-schedule",
    "unsw-nb15",
    "ctu13-binetflow",
    "zeek-conn",
];

/// Reads the episodes a manifest's labels entry points at.
pub(super) fn import_for_manifest(entry: &LabelsEntry, root: &Path) -> Result<Vec<Episode>> {
    let format = entry.format.as_str();
    let file = || -> Result<std::path::PathBuf> {
        let Some(p) = &entry.path else {
            bail!("label format {format} needs a path");
        };
        let f = root.join(p);
        if !f.is_file() {
            bail!("label file {} is missing", f.display());
        }
        Ok(f)
    };
    let episodes = match format {
        "episodes-csv" => {
            let f = file()?;
            read_episodes(&f).with_context(|| format!("reading {}", f.display()))?
        }
        "cicids2017-schedule" => schedule::cicids2017_schedule(),
        "cicids2017-flows" => {
            let mut opts = cicids2017::CicOptions::default();
            if let Some(o) = entry.utc_offset_s {
                opts.utc_offset_s = o;
            }
            cicids2017::read(&file()?, &opts)?.episodes
        }
        "unsw-nb15" => {
            let opts = unsw_nb15::UnswOptions {
                address_plan: entry.address_plan.unwrap_or(false),
                ..Default::default()
            };
            unsw_nb15::read(&file()?, &opts)?.episodes
        }
        "ctu13-binetflow" => {
            let mut opts = ctu13::Ctu13Options::default();
            if let Some(o) = entry.utc_offset_s {
                opts.utc_offset_s = o;
            }
            ctu13::read(&file()?, &opts)?.episodes
        }
        "zeek-conn" => zeek::read(&file()?, &zeek::ZeekOptions::default())?.episodes,
        other => bail!(
            "unknown label format {other:?} (known: {})",
            FORMATS.join(", ")
        ),
    };
    Ok(episodes)
}
