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
use crate::pipeline::{expand_inputs, Input, SimSource};
use crate::simulate::SimConfig;

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
    /// Feature tables whose rows are replayed as they are (see `table::feed_table`).
    pub tables: Vec<PathBuf>,
    /// Ground truth.
    pub episodes: Vec<Episode>,
}

impl Dataset {
    /// The pipeline inputs of the dataset: its captures, then its simulations, then its
    /// feature tables.
    pub fn inputs(&self) -> Vec<Input> {
        let mut inputs: Vec<Input> = self.captures.iter().cloned().map(Input::File).collect();
        for sim in &self.simulations {
            inputs.push(Input::Source(
                format!(
                    "simulated {} ({} s, seed {})",
                    sim.scenario.name(),
                    sim.seconds,
                    sim.seed
                ),
                Box::new(SimSource::new(sim)),
            ));
        }
        inputs.extend(self.tables.iter().cloned().map(Input::Table));
        inputs
    }
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

/// A directory holding captures (or feature tables, `*.parquet`) and a `labels.csv` is
/// a dataset by itself.
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
    let tables = parquet_files(dir)?;
    let captures = if tables.is_empty() {
        expand_inputs(&[dir.to_path_buf()])?
    } else {
        // Tables alone are a dataset too; captures beside them are used as well.
        expand_inputs(&[dir.to_path_buf()]).unwrap_or_default()
    };
    Ok(Dataset {
        name: dir.display().to_string(),
        description: format!("captures and labels.csv in {}", dir.display()),
        captures,
        simulations: Vec::new(),
        tables,
        episodes,
    })
}

/// The `*.parquet` feature tables directly in `dir`, sorted by name.
fn parquet_files(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("reading directory {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.is_file()
                && p.extension()
                    .and_then(|e| e.to_str())
                    .is_some_and(|e| e.eq_ignore_ascii_case("parquet"))
        })
        .collect();
    out.sort();
    Ok(out)
}
