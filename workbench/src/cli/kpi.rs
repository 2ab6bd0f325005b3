//! Arguments of `workbench kpi`.

use std::path::PathBuf;

use clap::Args;

use crate::kpi::KpiConfig;

/// `workbench kpi` options.
#[derive(Debug, Args)]
pub struct KpiArgs {
    /// Also measure detection quality on these datasets (manifest names or directories;
    /// repeat or separate with commas). The embedded synthetic data is always measured.
    #[arg(short, long, value_delimiter = ',', value_name = "NAME|DIR")]
    pub dataset: Vec<String>,
    /// Model the quality KPIs measure (`default`, `rules`, a model file).
    #[arg(short, long, default_value = "default", value_name = "MODEL")]
    pub model: String,
    /// Report directory (kpi.json, index.html, and each step's own report).
    #[arg(long, default_value = "reports/kpi", value_name = "DIR")]
    pub report: PathBuf,
    /// Alertmanager binary for the alert-delivery SLOs; the suite starts its own on a
    /// free loopback port. Without one these KPIs are skipped with the reason.
    #[arg(long, env = "WORKBENCH_ALERTMANAGER_BIN", value_name = "FILE")]
    pub alertmanager_bin: Option<PathBuf>,
    /// Run only the KPIs whose id contains one of these words (e.g. `quality,slo`).
    #[arg(long, value_delimiter = ',', value_name = "WORDS")]
    pub only: Vec<String>,
}

impl KpiArgs {
    /// The suite these arguments describe.
    pub fn config(&self) -> KpiConfig {
        KpiConfig {
            datasets: self.dataset.clone(),
            model: self.model.clone(),
            report: self.report.clone(),
            alertmanager_bin: self.alertmanager_bin.clone(),
            only: self.only.clone(),
        }
    }
}
