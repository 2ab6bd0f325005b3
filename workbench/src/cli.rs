//! Command-line arguments. Options shared by several subcommands are defined once here
//! and flattened into each; the rest of the program never sees raw strings.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::engine::WindowConfig;
use crate::simulate::{Scenario, SimConfig};

/// Offline-first pcap replay and evaluation workbench for network intrusion detection.
///
/// Replays captures (pcap/pcapng) or simulated traffic through one event-time window
/// and feature engine. Exit status: 0 success, 2 error, 3 partial (some input was bad,
/// the rest was processed).
#[derive(Debug, Parser)]
#[command(
    name = "workbench",
    version,
    propagate_version = true,
    max_term_width = 100
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

/// Options every subcommand takes.
#[derive(Debug, Args)]
pub struct GlobalArgs {
    /// Print the result as one JSON object on stdout (for scripts).
    #[arg(long, global = true)]
    pub json: bool,
    /// No progress bars or notes on stderr.
    #[arg(short, long, global = true)]
    pub quiet: bool,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Compute windowed per-host feature rows from captures or simulated traffic.
    ///
    /// Examples:
    ///   workbench features capture.pcap --out features.parquet
    ///   workbench features ../shared/datasets/public --out public.csv --window 2,10
    ///   workbench features --simulate portscan --seconds 30 --out scan.csv
    #[command(verbatim_doc_comment)]
    Features(FeaturesArgs),
    /// Write a labelled synthetic capture: DIR/capture.pcap and DIR/labels.csv.
    ///
    /// Examples:
    ///   workbench simulate --scenario mixed --seconds 120 --seed 7 --out data/mixed
    ///   workbench simulate --list
    #[command(verbatim_doc_comment)]
    Simulate(SimulateArgs),
    /// Evaluate a scorer on a dataset: PR-AUC, threshold at 1% FPR, detection delay.
    ///
    /// Scores every host window, labels it from the dataset's attack episodes, and
    /// writes report.json, PNG charts and a self-contained index.html.
    ///
    /// Examples:
    ///   workbench eval --dataset synthetic --model rules
    ///   workbench eval --dataset public-samples --model formula --report reports/pub
    ///   workbench eval --dataset path/to/dir-with-pcaps-and-labels.csv
    #[command(verbatim_doc_comment)]
    Eval(EvalArgs),
    /// List the known datasets, or check a dataset's files and checksums.
    Datasets(DatasetsArgs),
    /// Print the feature schema: every column, its unit and what it measures.
    Schema(SchemaArgs),
}

#[derive(Debug, Args)]
pub struct EvalArgs {
    /// A manifest name (see `workbench datasets list`) or a directory of captures with
    /// a labels.csv.
    #[arg(short, long, default_value = "synthetic", value_name = "NAME|DIR")]
    pub dataset: String,
    /// Scorer: `rules` (seed 003), `formula` (seed 000).
    #[arg(short, long, default_value = "rules", value_name = "MODEL")]
    pub model: String,
    /// Report directory [default: reports/<dataset>-<model>].
    #[arg(long, value_name = "DIR")]
    pub report: Option<PathBuf>,
    /// Where a manifest's files live (overrides its root).
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Also write every scored window (window_end, host, score, label, attack_type) as
    /// CSV, for checking the metrics with other tools.
    #[arg(long, value_name = "FILE")]
    pub scores: Option<PathBuf>,
    #[command(flatten)]
    pub window: WindowArgs,
}

#[derive(Debug, Args)]
pub struct DatasetsArgs {
    #[command(subcommand)]
    pub command: DatasetsCommand,
    /// Where the manifests' files live (overrides their root).
    #[arg(long, value_name = "DIR", global = true)]
    pub data_dir: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum DatasetsCommand {
    /// Every known dataset, whether its files are present, and where to obtain them.
    List,
    /// Validate a dataset's files (presence and sha256).
    Check {
        /// Dataset name.
        name: String,
    },
}

/// Window settings (shared by every subcommand that computes features).
#[derive(Clone, Debug, Args)]
pub struct WindowArgs {
    /// Window widths in seconds, comma-separated; several give multi-scale features
    /// (names suffixed with the width). The first is the primary window.
    #[arg(
        short = 'w',
        long = "window",
        value_delimiter = ',',
        default_value = "2",
        value_name = "SECONDS"
    )]
    pub widths: Vec<f64>,
    /// Seconds between window ends (each width must be a multiple of it).
    #[arg(long, default_value_t = 0.5, value_name = "SECONDS")]
    pub hop: f64,
    /// Most hosts tracked at once; under a spoofed-source flood further hosts are
    /// counted (untracked) instead of growing memory.
    #[arg(long, default_value_t = 32_768, value_name = "N")]
    pub max_hosts: usize,
    /// Most distinct ports/peers remembered per host and counter.
    #[arg(
        long,
        default_value_t = 16_384,
        value_name = "N",
        hide_short_help = true
    )]
    pub max_keys_per_host: usize,
}

impl WindowArgs {
    /// The engine configuration these arguments describe.
    pub fn config(&self) -> WindowConfig {
        WindowConfig {
            widths_s: self.widths.clone(),
            hop_s: self.hop,
            max_hosts: self.max_hosts,
            max_keys_per_host: self.max_keys_per_host,
        }
    }
}

/// Simulation settings (shared by `simulate` and `features --simulate`).
#[derive(Clone, Debug, Args)]
pub struct SimArgs {
    /// Seconds of traffic to generate.
    #[arg(long, default_value_t = 60.0, value_name = "SECONDS")]
    pub seconds: f64,
    /// Random seed: the same seed gives byte-identical output.
    #[arg(long, default_value_t = 7)]
    pub seed: u64,
    /// Multiplier for attack packet rates (floods at 10 reach ~200k packets/s).
    #[arg(long, default_value_t = 1.0)]
    pub intensity: f64,
}

impl SimArgs {
    /// The simulator configuration for a scenario.
    pub fn config(&self, scenario: Scenario) -> SimConfig {
        SimConfig {
            scenario,
            seconds: self.seconds,
            seed: self.seed,
            intensity: self.intensity,
            ..SimConfig::default()
        }
    }
}

#[derive(Debug, Args)]
pub struct FeaturesArgs {
    /// Capture files (pcap or pcapng, any name) or directories of them.
    #[arg(value_name = "PCAP|DIR", required_unless_present = "simulate")]
    pub inputs: Vec<PathBuf>,
    /// Use simulated traffic of this scenario instead of files.
    #[arg(long, value_name = "SCENARIO", conflicts_with = "inputs")]
    pub simulate: Option<Scenario>,
    #[command(flatten)]
    pub sim: SimArgs,
    /// Output table: .parquet or .csv.
    #[arg(short, long, value_name = "FILE")]
    pub out: PathBuf,
    #[command(flatten)]
    pub window: WindowArgs,
}

#[derive(Debug, Args)]
pub struct SimulateArgs {
    /// Traffic scenario (see --list).
    #[arg(long, default_value = "mixed", value_name = "NAME")]
    pub scenario: Scenario,
    #[command(flatten)]
    pub sim: SimArgs,
    /// Output directory (created if missing).
    #[arg(short, long, value_name = "DIR", required_unless_present = "list")]
    pub out: Option<PathBuf>,
    /// List the scenarios and exit.
    #[arg(long)]
    pub list: bool,
}

#[derive(Debug, Args)]
pub struct SchemaArgs {
    #[command(flatten)]
    pub window: WindowArgs,
}
