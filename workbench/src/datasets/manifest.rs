//! Dataset manifests (`datasets/NAME.toml`): which files, where they live, their
//! checksums, and where the labels come from.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use serde::Deserialize;
use sha2::{Digest, Sha256};

use super::Dataset;
use crate::labels::{AttackType, Episode, HostSpec};
use crate::simulate::{Scenario, SimConfig, Simulator};

/// Manifests compiled into the binary, so the names work from any directory.
const BUILT_IN: &[(&str, &str)] = &[
    (
        "synthetic",
        include_str!("../../../datasets/synthetic.toml"),
    ),
    (
        "public-samples",
        include_str!("../../../datasets/public-samples.toml"),
    ),
];

/// The repository's `datasets/` directory (or `WORKBENCH_DATASETS`).
fn manifest_dir() -> PathBuf {
    std::env::var_os("WORKBENCH_DATASETS")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../datasets"))
}

/// A parsed manifest.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    pub description: String,
    pub obtain: String,
    /// Directory the relative paths are under, relative to the manifest's directory.
    pub root: Option<String>,
    /// Environment variable that overrides `root`.
    pub root_env: Option<String>,
    #[serde(default)]
    pub captures: Vec<CaptureEntry>,
    #[serde(default)]
    pub episodes: Vec<EpisodeEntry>,
    #[serde(default)]
    pub simulations: Vec<SimulationEntry>,
    #[serde(default)]
    pub labels: Vec<LabelsEntry>,
    /// Feature tables (`workbench features` output) whose rows the episodes label: a
    /// dataset kept as features when its captures are too large to ship.
    #[serde(default)]
    pub tables: Vec<CaptureEntry>,
    /// Where the manifest was read from (not in the file).
    #[serde(skip)]
    pub source: PathBuf,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CaptureEntry {
    pub path: String,
    pub sha256: Option<String>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EpisodeEntry {
    pub attack_type: String,
    pub attacker: String,
    pub victim: String,
    pub start_ts: f64,
    pub end_ts: f64,
    #[serde(default)]
    pub detail: String,
    /// The capture the episode is in (documentation only).
    pub file: Option<String>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SimulationEntry {
    pub scenario: String,
    pub seconds: f64,
    pub seed: u64,
    pub intensity: Option<f64>,
}

/// Labels imported from a public dataset's own files.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LabelsEntry {
    /// `episodes-csv`, `cicids2017-flows`, `cicids2017-schedule`, `unsw-nb15`,
    /// `ctu13-binetflow`, `zeek-conn`.
    pub format: String,
    /// File, relative to the root (not for `cicids2017-schedule`).
    pub path: Option<String>,
    pub sha256: Option<String>,
    /// Offset of the file's clock from UTC, seconds (formats with local times).
    pub utc_offset_s: Option<i64>,
    /// UNSW-NB15: label rows without label columns by the testbed's address plan.
    pub address_plan: Option<bool>,
}

fn parse(name: &str, text: &str, source: PathBuf) -> Result<Manifest> {
    let mut m: Manifest =
        toml::from_str(text).with_context(|| format!("manifest {name} ({})", source.display()))?;
    m.source = source;
    Ok(m)
}

/// Finds the manifest of a dataset name: the manifest directory first, then the
/// built-in copies.
pub(super) fn find(name: &str) -> Result<Option<Manifest>> {
    let path = manifest_dir().join(format!("{name}.toml"));
    if path.is_file() {
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("reading {}", path.display()))?;
        return parse(name, &text, path).map(Some);
    }
    for (n, text) in BUILT_IN {
        if *n == name {
            let source =
                Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("../datasets/{n}.toml"));
            return parse(name, text, source).map(Some);
        }
    }
    Ok(None)
}

/// Every known manifest name with its manifest, sorted by name.
pub fn known_manifests() -> Vec<(String, Result<Manifest>)> {
    let mut names: Vec<String> = BUILT_IN.iter().map(|(n, _)| n.to_string()).collect();
    if let Ok(rd) = std::fs::read_dir(manifest_dir()) {
        for e in rd.flatten() {
            let p = e.path();
            if p.extension().and_then(|x| x.to_str()) == Some("toml") {
                if let Some(stem) = p.file_stem().and_then(|s| s.to_str()) {
                    names.push(stem.to_string());
                }
            }
        }
    }
    names.sort();
    names.dedup();
    names
        .into_iter()
        .map(|n| {
            let m = find(&n).and_then(|m| m.ok_or_else(|| anyhow::anyhow!("vanished")));
            (n, m)
        })
        .collect()
}

impl Manifest {
    /// The directory relative paths resolve against.
    pub fn root(&self, data_dir: Option<&Path>) -> PathBuf {
        if let Some(d) = data_dir {
            return d.to_path_buf();
        }
        if let Some(v) = self.root_env.as_ref().and_then(std::env::var_os) {
            return PathBuf::from(v);
        }
        let base = self.source.parent().unwrap_or(Path::new("."));
        match &self.root {
            Some(r) => base.join(r),
            None => base.to_path_buf(),
        }
    }

    /// Builds the dataset: files must exist (a missing one is an error that says where
    /// to obtain it), episodes parse, simulations are valid.
    pub fn into_dataset(self, name: &str, data_dir: Option<&Path>) -> Result<Dataset> {
        let root = self.root(data_dir);
        let mut captures = Vec::new();
        let mut missing = Vec::new();
        for c in &self.captures {
            let p = root.join(&c.path);
            if p.is_file() {
                captures.push(p);
            } else if p.is_dir() {
                captures.extend(crate::pipeline::expand_inputs(&[p])?);
            } else {
                missing.push(p);
            }
        }
        if !missing.is_empty() {
            bail!(
                "dataset {name}: {} of {} capture files missing under {} (first: {}). {}",
                missing.len(),
                self.captures.len(),
                root.display(),
                missing[0].display(),
                self.obtain
            );
        }
        let mut episodes = Vec::new();
        for (i, e) in self.episodes.iter().enumerate() {
            episodes.push(
                e.to_episode()
                    .with_context(|| format!("dataset {name}: episode #{}", i + 1))?,
            );
        }
        for l in &self.labels {
            episodes.extend(
                super::import::import_for_manifest(l, &root)
                    .with_context(|| format!("dataset {name}: labels ({})", l.format))?,
            );
        }
        let mut simulations = Vec::new();
        for s in &self.simulations {
            let scenario: Scenario = s
                .scenario
                .parse()
                .map_err(|e| anyhow::anyhow!("dataset {name}: {e}"))?;
            let cfg = SimConfig {
                scenario,
                seconds: s.seconds,
                seed: s.seed,
                intensity: s.intensity.unwrap_or(1.0),
                ..SimConfig::default()
            };
            // The simulator plans its episodes up front: the ground truth is known
            // before a packet is generated.
            episodes.extend(Simulator::new(&cfg).episodes().iter().cloned());
            simulations.push(cfg);
        }
        let mut tables = Vec::new();
        for t in &self.tables {
            let p = root.join(&t.path);
            if !p.is_file() {
                bail!(
                    "dataset {name}: feature table {} is missing. {}",
                    p.display(),
                    self.obtain
                );
            }
            tables.push(p);
        }
        if captures.is_empty() && simulations.is_empty() && tables.is_empty() {
            bail!("dataset {name}: the manifest lists no captures, simulations or tables");
        }
        Ok(Dataset {
            name: name.to_string(),
            description: self.description,
            captures,
            simulations,
            tables,
            episodes,
        })
    }
}

impl EpisodeEntry {
    fn to_episode(&self) -> Result<Episode> {
        let host = |s: &str, what: &str| -> Result<HostSpec> {
            if s.trim() == "*" {
                Ok(HostSpec::Any)
            } else {
                Ok(HostSpec::Addr(s.trim().parse().with_context(|| {
                    format!("{what} {s:?} is not an IP address or *")
                })?))
            }
        };
        if !(self.end_ts >= self.start_ts) {
            bail!(
                "end_ts {} is before start_ts {}",
                self.end_ts,
                self.start_ts
            );
        }
        Ok(Episode {
            attack_type: AttackType::parse(&self.attack_type),
            attacker: host(&self.attacker, "attacker")?,
            victim: host(&self.victim, "victim")?,
            start_ts: self.start_ts,
            end_ts: self.end_ts,
            detail: self.detail.clone(),
        })
    }
}

/// One line per known dataset: name, files present, description, where to obtain.
pub fn list(data_dir: Option<&Path>) -> Vec<serde_json::Value> {
    known_manifests()
        .into_iter()
        .map(|(name, m)| match m {
            Ok(m) => {
                let root = m.root(data_dir);
                let present = m.captures.iter().filter(|c| root.join(&c.path).exists()).count();
                serde_json::json!({
                    "name": name,
                    "description": m.description,
                    "files": m.captures.len() + m.labels.iter().filter(|l| l.path.is_some()).count(),
                    "files_present": present + m.labels.iter().filter(|l| l.path.as_ref().is_some_and(|p| root.join(p).is_file())).count(),
                    "simulated": !m.simulations.is_empty(),
                    "root": root.display().to_string(),
                    "obtain": m.obtain,
                })
            }
            Err(e) => serde_json::json!({ "name": name, "error": format!("{e:#}") }),
        })
        .collect()
}

/// Checks every file of a dataset: present, and its sha256 where the manifest has one.
/// Returns (path, problem) for each file that fails; empty means all good.
pub fn check(name: &str, data_dir: Option<&Path>) -> Result<Vec<(String, String)>> {
    let Some(m) = find(name)? else {
        bail!("unknown dataset {name:?}");
    };
    let root = m.root(data_dir);
    let mut problems = Vec::new();
    let entries = m
        .captures
        .iter()
        .chain(&m.tables)
        .map(|c| (c.path.clone(), c.sha256.clone()))
        .chain(
            m.labels
                .iter()
                .filter_map(|l| l.path.clone().map(|p| (p, l.sha256.clone()))),
        );
    for (path, sha) in entries {
        let p = root.join(&path);
        if p.is_dir() {
            continue;
        }
        match std::fs::read(&p) {
            Err(e) => problems.push((p.display().to_string(), format!("cannot read: {e}"))),
            Ok(bytes) => {
                if let Some(want) = sha {
                    let got = hex(&Sha256::digest(&bytes));
                    if !got.eq_ignore_ascii_case(&want) {
                        problems.push((
                            p.display().to_string(),
                            format!("sha256 {got}, manifest says {want}"),
                        ));
                    }
                }
            }
        }
    }
    Ok(problems)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
