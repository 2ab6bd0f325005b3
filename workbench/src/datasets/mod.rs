//! Datasets: `--dataset NAME|PATH` resolution, manifests, and the label formats of
//! public IDS datasets, all turned into [`crate::labels::Episode`]s.
//!
//! A NAME is a manifest `datasets/NAME.toml` (the repository's `datasets/` directory,
//! or `WORKBENCH_DATASETS`; the built-in manifests are also compiled in). A PATH is a
//! directory of captures with a `labels.csv` in the episode format. Nothing is ever
//! downloaded: manifests point at files the user already has.

pub mod formats;
mod import;
mod manifest;

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

use crate::labels::{read_episodes, Episode};
use crate::simulate::SimConfig;
use crate::sources::expand_inputs;

pub use manifest::{check, known_manifests, list, Manifest};

/// A dataset ready to evaluate: where its packets come from and its ground truth.
#[derive(Clone, Debug)]
pub struct Dataset {
    /// Name for reports.
    pub name: String,
    /// One line about it.
    pub description: String,
    /// Capture files, in order.
    pub captures: Vec<PathBuf>,
    /// Simulations to run (synthetic datasets).
    pub simulations: Vec<SimConfig>,
    /// Ground truth.
    pub episodes: Vec<Episode>,
}

/// Resolves `--dataset`: an existing directory, else a manifest name.
pub fn resolve(spec: &str, data_dir: Option<&Path>) -> Result<Dataset> {
    let as_path = Path::new(spec);
    if as_path.is_dir() {
        return from_directory(as_path);
    }
    let Some(m) = manifest::find(spec)? else {
        let names: Vec<String> = known_manifests().into_iter().map(|(n, _)| n).collect();
        bail!(
            "unknown dataset {spec:?}: not a directory, and no manifest of that name (known: {})",
            names.join(", ")
        );
    };
    m.into_dataset(spec, data_dir)
}

/// A directory holding captures and a `labels.csv` is a dataset by itself.
pub fn from_directory(dir: &Path) -> Result<Dataset> {
    let labels = dir.join("labels.csv");
    if !labels.is_file() {
        bail!(
            "{}: a dataset directory needs a labels.csv (attack_type,attacker_ip,victim_ip,start_ts,end_ts; see datasets/README.md)",
            dir.display()
        );
    }
    let episodes =
        read_episodes(&labels).with_context(|| format!("reading {}", labels.display()))?;
    let captures = expand_inputs(&[dir.to_path_buf()])?;
    Ok(Dataset {
        name: dir.display().to_string(),
        description: format!("captures and labels.csv in {}", dir.display()),
        captures,
        simulations: Vec::new(),
        episodes,
    })
}
