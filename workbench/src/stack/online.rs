//! Seed 003's unsupervised loop for `workbench serve`: the ensemble
//! (`model::unsupervised`) retrained on a sliding window of the last `/detect` samples
//! (the six global features), persisted atomically, with a synthetic baseline (the
//! simulator's benign traffic) when no model exists yet. Shared by the HTTP handlers
//! behind an `RwLock` (scores read concurrently; a retrain swaps the model at once).

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use anyhow::{Context, Result};

use crate::engine::{FeatureRow, WindowConfig, F};
use crate::eval::ThreatType;
use crate::model::unsupervised::UnsupervisedModel;
use crate::pipeline::{self, Driver, Input, SimSource};
use crate::progress::Progress;

/// The six global features of `/detect`, in request order.
pub const FEATURES: [&str; 6] = [
    "packets_per_second",
    "bytes_per_second",
    "unique_ips",
    "unique_ports",
    "tcp_ratio",
    "syn_packets",
];
/// Samples kept for retraining (seed 003: the last 1000).
pub const WINDOW: usize = 1000;
/// Fewer samples than this: the baseline rows are added (the ensemble needs ≥ 20).
const MIN_SAMPLES: usize = 100;
/// Seconds of simulated benign traffic behind the synthetic baseline.
const BASELINE_SECONDS: f64 = 120.0;
/// Baseline rows kept (evenly spaced in time): LOF is quadratic in the rows.
const BASELINE_ROWS: usize = 1500;
const SEED: u64 = 3;

/// The online model and its training window.
pub struct Online {
    model: RwLock<Arc<UnsupervisedModel>>,
    samples: Mutex<VecDeque<Vec<f64>>>,
    baseline: Vec<Vec<f64>>,
    path: PathBuf,
    /// Completed trainings (baseline included).
    pub trainings: AtomicU64,
    /// One training at a time (POST /train and the timer may meet).
    train_lock: Mutex<()>,
    /// The model was fitted on this deployment's own samples, not the synthetic
    /// baseline (persisted as the absence of `dir/BASELINE`).
    local: std::sync::atomic::AtomicBool,
}

impl Online {
    /// Loads `dir/model.json`, or fits and saves the synthetic baseline.
    pub fn open(dir: &Path) -> Result<Online> {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("cannot create --model-dir {}", dir.display()))?;
        let path = dir.join("model.json");
        let marker = dir.join("BASELINE");
        let baseline = baseline_rows()?;
        let model = if path.exists() {
            UnsupervisedModel::load(&path)
                .with_context(|| format!("cannot load {}", path.display()))?
        } else {
            let m = fit(&baseline)?;
            std::fs::write(&marker, b"model.json is the synthetic baseline\n")
                .with_context(|| format!("cannot write {}", marker.display()))?;
            m.save(&path)
                .with_context(|| format!("cannot write {}", path.display()))?;
            m
        };
        let local = !marker.exists();
        Ok(Online {
            model: RwLock::new(Arc::new(model)),
            samples: Mutex::new(VecDeque::with_capacity(WINDOW)),
            baseline,
            path,
            trainings: AtomicU64::new(0),
            train_lock: Mutex::new(()),
            local: std::sync::atomic::AtomicBool::new(local),
        })
    }

    /// True once the model was fitted on this deployment's `/detect` samples. The
    /// synthetic baseline (simulated traffic) is a poor picture of an unknown network
    /// — the seed says to adjust with real traffic to cut false positives — so its
    /// scores are reported (`ml_score`) but raise no threat until then.
    pub fn trained_locally(&self) -> bool {
        self.local.load(Ordering::Relaxed)
    }

    /// Where the model is persisted.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Remembers one `/detect` sample (the oldest beyond [`WINDOW`] is forgotten).
    pub fn push(&self, row: &[f64; 6]) {
        if let Ok(mut s) = self.samples.lock() {
            if s.len() >= WINDOW {
                s.pop_front();
            }
            s.push_back(row.to_vec());
        }
    }

    /// The ensemble score in [0, 1] and its risk level (`ml_*_risk`).
    pub fn score(&self, row: &[f64; 6]) -> (f64, Option<ThreatType>) {
        let m = match self.model.read() {
            Ok(m) => m.clone(),
            Err(p) => p.into_inner().clone(),
        };
        m.score(row)
    }

    /// Retrains on the sliding window (plus the baseline while it is short), saves
    /// atomically, then swaps the model in. CPU-bound: run it on a blocking thread.
    pub fn train(&self) -> Result<serde_json::Value> {
        let _one = self
            .train_lock
            .lock()
            .map_err(|_| anyhow::anyhow!("training lock poisoned"))?;
        let t0 = std::time::Instant::now();
        let samples: Vec<Vec<f64>> = match self.samples.lock() {
            Ok(s) => s.iter().cloned().collect(),
            Err(_) => Vec::new(),
        };
        let n = samples.len();
        let rows = if n >= MIN_SAMPLES {
            samples
        } else {
            // Too few samples to describe normal traffic alone: the baseline keeps
            // the ensemble anchored until the window fills.
            let mut r = self.baseline.clone();
            r.extend(samples);
            r
        };
        let m = fit(&rows)?;
        m.save(&self.path)
            .with_context(|| format!("cannot write {}", self.path.display()))?;
        let local = n >= MIN_SAMPLES;
        if local {
            if let Some(d) = self.path.parent() {
                let _ = std::fs::remove_file(d.join("BASELINE"));
            }
        }
        match self.model.write() {
            Ok(mut g) => *g = Arc::new(m),
            Err(p) => *p.into_inner() = Arc::new(m),
        }
        self.local.fetch_or(local, Ordering::Relaxed);
        self.trainings.fetch_add(1, Ordering::Relaxed);
        Ok(serde_json::json!({
            "status": "success",
            "samples": n,
            "training_rows": rows.len(),
            "baseline_used": n < MIN_SAMPLES,
            "model_path": self.path.display().to_string(),
            "seconds": t0.elapsed().as_secs_f64(),
        }))
    }
}

fn fit(rows: &[Vec<f64>]) -> Result<UnsupervisedModel> {
    let names: Vec<String> = FEATURES.iter().map(|s| s.to_string()).collect();
    UnsupervisedModel::fit(rows, &names, SEED).context("training the unsupervised ensemble")
}

/// The six features of simulated benign traffic: the network's (global) windows and
/// every host's, so the baseline spans both scales a `/detect` sample may describe (a
/// whole network at hundreds of packets per second, one quiet host at ten).
fn baseline_rows() -> Result<Vec<Vec<f64>>> {
    let cfg = crate::simulate::SimConfig {
        scenario: crate::simulate::Scenario::Benign,
        seconds: BASELINE_SECONDS,
        seed: SEED,
        ..crate::simulate::SimConfig::default()
    };
    let mut driver = Driver::new(WindowConfig::default()).context("window settings")?;
    let mut rows: Vec<FeatureRow> = Vec::new();
    let inputs = vec![Input::Source(
        "baseline".into(),
        Box::new(SimSource::new(&cfg)),
    )];
    let run = pipeline::run(inputs, &mut driver, &mut rows, &Progress::bytes(0, true));
    if let Some(e) = run.inputs.iter().find_map(|i| i.error.clone()) {
        anyhow::bail!("simulating the baseline: {e}");
    }
    let fs = [
        F::PacketsPerSecond,
        F::BytesPerSecond,
        F::UniqueIps,
        F::UniquePorts,
        F::TcpRatio,
        F::SynPackets,
    ];
    let step = rows.len().div_ceil(BASELINE_ROWS).max(1);
    Ok(rows
        .into_iter()
        .step_by(step)
        .map(|r| {
            fs.iter()
                .map(|f| r.values.get(*f as usize).copied().unwrap_or(0.0))
                .collect()
        })
        .collect())
}
