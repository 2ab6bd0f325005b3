//! `workbench kpi`: the seed's 60-day plan as evidence. Every KPI is measured by running
//! the workbench's own public commands (this binary, as a child process, with `--json`),
//! so the "command to reproduce" printed next to each value is exactly what ran. A KPI
//! that cannot run here (no Alertmanager binary, no privileges for XDP) is `skipped` with
//! the reason — never silently passed.

mod items;
mod report;
mod run;
pub mod services;

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, Result};
use serde::Serialize;

pub use run::CommandRun;

/// What `workbench kpi` measures and where it writes.
#[derive(Clone, Debug)]
pub struct KpiConfig {
    /// Datasets whose quality is measured besides the embedded synthetic data.
    pub datasets: Vec<String>,
    /// The model the quality KPIs measure.
    pub model: String,
    /// Report directory.
    pub report: PathBuf,
    /// Alertmanager binary for the alert-delivery SLOs (found on PATH when None).
    pub alertmanager_bin: Option<PathBuf>,
    /// Only KPIs whose id contains one of these words (all when empty).
    pub only: Vec<String>,
}

/// How a KPI came out.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "snake_case", tag = "status", content = "reason")]
pub enum Outcome {
    Pass,
    Fail,
    /// Could not run here; the reason says what is missing.
    Skipped(String),
    /// The measuring command itself failed; the reason says how.
    Error(String),
}

impl Outcome {
    pub fn label(&self) -> &'static str {
        match self {
            Outcome::Pass => "pass",
            Outcome::Fail => "FAIL",
            Outcome::Skipped(_) => "skipped",
            Outcome::Error(_) => "ERROR",
        }
    }
}

/// One KPI with its evidence.
#[derive(Clone, Debug, Serialize)]
pub struct Kpi {
    /// Stable identifier, e.g. `quality.synthetic.pr_auc`.
    pub id: String,
    /// The plan's week range and deliverable this KPI belongs to.
    pub plan: &'static str,
    pub title: String,
    /// The target in words, e.g. `≥ 0.6`.
    pub target: String,
    /// The measured value in words (with unit), or empty when it could not be measured.
    pub measured: String,
    /// The measured number, when there is one (for scripts).
    pub value: Option<f64>,
    pub outcome: Outcome,
    /// The command that reproduces the measurement.
    pub command: String,
    /// Where the step's own report or evidence lives, if it wrote one.
    pub evidence: Option<String>,
}

/// The whole suite's result (kpi.json).
#[derive(Debug, Serialize)]
pub struct KpiReport {
    pub workbench_version: &'static str,
    pub started_unix_s: u64,
    pub elapsed_s: f64,
    pub passed: usize,
    pub failed: usize,
    pub skipped: usize,
    pub errors: usize,
    pub kpis: Vec<Kpi>,
}

impl KpiReport {
    /// True when nothing failed or errored (skips are allowed and listed).
    pub fn ok(&self) -> bool {
        self.failed == 0 && self.errors == 0
    }
}

/// Runs the suite and writes `kpi.json` and `index.html` under `a.report`.
pub fn run_kpi(a: &KpiConfig, quiet: bool) -> Result<(KpiReport, PathBuf)> {
    std::fs::create_dir_all(&a.report)
        .with_context(|| format!("creating report directory {}", a.report.display()))?;
    let exe = std::env::current_exe().context("finding the workbench binary")?;
    let started = Instant::now();
    let started_unix_s = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let ctx = items::Ctx {
        exe,
        dir: a.report.clone(),
        model: a.model.clone(),
        alertmanager_bin: a.alertmanager_bin.clone().or_else(items::find_alertmanager),
    };
    let mut kpis = Vec::new();
    for item in items::all(&a.datasets) {
        if !a.only.is_empty() && !a.only.iter().any(|w| item.id.contains(w.as_str())) {
            continue;
        }
        if !quiet {
            eprintln!("== kpi {}: {}", item.id, item.title);
        }
        let produced = (item.run)(&ctx);
        for k in &produced {
            if !quiet {
                eprintln!(
                    "   {} {}: {} (target {})",
                    k.outcome.label(),
                    k.id,
                    if k.measured.is_empty() {
                        "-"
                    } else {
                        &k.measured
                    },
                    k.target
                );
            }
        }
        kpis.extend(produced);
    }
    let count = |f: fn(&Outcome) -> bool| kpis.iter().filter(|k| f(&k.outcome)).count();
    let rep = KpiReport {
        workbench_version: env!("CARGO_PKG_VERSION"),
        started_unix_s,
        elapsed_s: started.elapsed().as_secs_f64(),
        passed: count(|o| matches!(o, Outcome::Pass)),
        failed: count(|o| matches!(o, Outcome::Fail)),
        skipped: count(|o| matches!(o, Outcome::Skipped(_))),
        errors: count(|o| matches!(o, Outcome::Error(_))),
        kpis,
    };
    let index = report::write(&a.report, &rep)?;
    Ok((rep, index))
}
