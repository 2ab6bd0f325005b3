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
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,
    /// More detail: per-input packet and skip counts, engine counters.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// Log line format on stderr: `text` for people, `json` (one object per line with
    /// level, target, fields such as src/threat_type/score) for Promtail/Loki.
    /// RUST_LOG overrides the level (default: info, or debug with -v).
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text, env = "WORKBENCH_LOG_FORMAT")]
    pub log_format: LogFormat,
}

/// How log events are written to stderr.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the KPI suite of the 60-day plan and write reports/kpi/{index.html,kpi.json}.
    ///
    /// Each KPI (detection quality, threshold at 1% FPR, speed and memory, the demo's
    /// alert delay, fault-injection SLOs) is measured by running the workbench's own
    /// commands; the report shows target, measured value, pass/fail and the command that
    /// reproduces it. KPIs that cannot run here are skipped with the reason.
    /// Exit status: 0 all ran KPIs passed, 1 some failed.
    ///
    /// Examples:
    ///   workbench kpi
    ///   workbench kpi --dataset public-samples --only quality
    #[command(verbatim_doc_comment)]
    Kpi(crate::kpi::KpiArgs),
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
    /// Train a model on a dataset's labelled windows and evaluate it on held-out data.
    ///
    /// Computes the features once, splits the rows by time (never shuffled: earliest
    /// 60% train, next 20% validation, last 20% test by default), fits gradient-boosted
    /// trees with early stopping on the validation split, picks the threshold at 1% FPR
    /// on the validation split, writes the model file, then evaluates it on the test
    /// split (or on --test-dataset) and writes the usual report.
    ///
    /// The threshold's 1% is of the validation split's benign windows of captured
    /// traffic (capture files, feature tables) whose host both sent and received, when
    /// there are at least 1000 of them; else of all its benign windows. Simulated hosts
    /// are quieter than real ones, and spoofed or idle one-way hosts are trivially
    /// benign: either would give a threshold that alerts all day on a real network.
    ///
    /// Examples:
    ///   workbench train --dataset synthetic --out models/synthetic.wbm.json
    ///   workbench train --dataset cic-ids2017 --test-dataset public-samples --out m.wbm.json
    ///   workbench eval --dataset public-samples --model models/synthetic.wbm.json
    #[command(verbatim_doc_comment)]
    Train(TrainArgs),
    /// Compare scorers on one dataset: one pass of features, every model scores the
    /// same windows; one report with PR and ROC curves overlaid and one table.
    ///
    /// Examples:
    ///   workbench compare --dataset public-samples --models rules,formula,m.wbm.json,m.onnx
    ///   workbench compare --dataset synthetic --models a.onnx,b.wbm.json --report reports/cmp
    #[command(verbatim_doc_comment)]
    Compare(CompareArgs),
    /// List the known datasets, or check a dataset's files and checksums.
    Datasets(DatasetsArgs),
    /// Print the feature schema: every column, its unit and what it measures.
    Schema(SchemaArgs),
    /// Live detection: capture (XDP → AF_PACKET) or simulate, score every host window,
    /// alert Alertmanager; serves /health /ready /stats /metrics.
    ///
    /// Examples:
    ///   workbench live --iface eth0 --alertmanager http://127.0.0.1:9093/api/v2/alerts
    ///   workbench live --simulate portscan --seconds 30 --notify-console
    ///   workbench live --iface lo --backend xdp-skb --record out.pcap --duration 20
    #[command(verbatim_doc_comment)]
    Live(crate::live::LiveArgs),
    /// Push captures through the live pipeline in (scaled) real time: alerts and
    /// endpoints as in `live`, without privileges.
    ///
    /// Examples:
    ///   workbench replay capture.pcap --speed 10x --notify-console
    ///   workbench replay captures/ --speed max --alertmanager http://127.0.0.1:9093/api/v2/alerts
    #[command(verbatim_doc_comment)]
    Replay(crate::live::ReplayArgs),
    /// Simulate a port scan, replay it in real time, alert, and report the delay from
    /// the first scan packet to the alert (reports/demo/report.json).
    ///
    /// Examples:
    ///   workbench demo
    ///   workbench demo --alertmanager http://127.0.0.1:9093/api/v2/alerts
    #[command(verbatim_doc_comment)]
    Demo(crate::live::DemoArgs),
    /// Seed 000's notifier: receive Alertmanager's webhook on /alert and print alerts.
    ///
    /// Examples:
    ///   workbench notify --listen 0.0.0.0:8080
    #[command(verbatim_doc_comment)]
    Notify(crate::stack::args::NotifyArgs),
    /// A sensor without privileges: replay captures or a simulation to NATS JetStream.
    ///
    /// Examples:
    ///   workbench publish capture.pcap --nats nats://127.0.0.1:4222 --sensor-id edge-1
    ///   workbench publish --simulate portscan --seconds 30 --nats nats://nats:4222 --speed 1
    #[command(verbatim_doc_comment)]
    Publish(crate::stack::args::PublishArgs),
    /// Score telemetry from NATS JetStream (scale-out scorer) and serve the seeds' APIs.
    ///
    /// Examples:
    ///   workbench serve --nats nats://127.0.0.1:4222 --scorers 2 --scorer-index 0
    #[command(verbatim_doc_comment)]
    Serve(crate::stack::args::ServeArgs),
}

#[derive(Debug, Args)]
pub struct EvalArgs {
    /// A manifest name (see `workbench datasets list`) or a directory of captures with
    /// a labels.csv.
    #[arg(short, long, default_value = "synthetic", value_name = "NAME|DIR")]
    pub dataset: String,
    /// Scorer: `default` (the trained model shipped in models/ and built into the
    /// binary), `rules` (seed 003), `formula` (seed 000), a model file (`*.wbm.json`)
    /// written by `workbench train`, or an ONNX model (`*.onnx`, from `train --export
    /// onnx`). ONNX runs with tract; WORKBENCH_ONNX_ENGINE=ort uses onnxruntime
    /// (builds with `--features ort`, library from ORT_DYLIB_PATH).
    /// --foreign-model accepts ONNX models without workbench metadata.
    #[arg(short, long, default_value = "default", value_name = "MODEL")]
    pub model: String,
    /// Accept an ONNX model without workbench metadata (XGBoost via onnxmltools,
    /// scikit-learn via skl2onnx with zipmap off): its input must be float [N, k] with
    /// k = the schema's width, columns in `workbench schema` order (the column order
    /// of `workbench features --out x.parquet`); column 1 of its `probabilities`
    /// output is the attack probability; threshold 0.5. Nothing checks that it was
    /// trained on these features: that is on you.
    #[arg(long)]
    pub foreign_model: bool,
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

/// `workbench compare` options.
#[derive(Debug, Args)]
pub struct CompareArgs {
    /// A manifest name or a directory of captures with a labels.csv.
    #[arg(short, long, default_value = "synthetic", value_name = "NAME|DIR")]
    pub dataset: String,
    /// Comma-separated scorers, as for `eval --model`: rules, formula, *.wbm.json,
    /// *.onnx.
    #[arg(short, long, value_name = "A,B,...")]
    pub models: String,
    /// Report directory [default: reports/<dataset>-compare].
    #[arg(long, value_name = "DIR")]
    pub report: Option<PathBuf>,
    /// Where a manifest's files live (overrides its root).
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Accept ONNX models without workbench metadata (see `eval --foreign-model`).
    #[arg(long)]
    pub foreign_model: bool,
    #[command(flatten)]
    pub window: WindowArgs,
}

/// `workbench train` options.
#[derive(Debug, Args)]
pub struct TrainArgs {
    /// Dataset to train on: a manifest name or a directory of captures with labels.csv.
    #[arg(short, long, value_name = "NAME|DIR")]
    pub dataset: String,
    /// Test on this dataset instead of the last part of --dataset (cross-dataset mode:
    /// --dataset is then split 80/20 into train and validation, by time).
    #[arg(long, value_name = "NAME|DIR")]
    pub test_dataset: Option<String>,
    /// Learning algorithm: `gbdt` (gradient-boosted trees), `forest` (random forest:
    /// --trees, --forest-depth, --sample-rows, --seed) or `logistic` (L2 logistic
    /// regression on standardised features). --positive-weight applies to all three.
    /// `unsupervised` (alias `ensemble`): seed 003's k-means / LOF / one-class SVM
    /// ensemble plus an isolation forest, fitted on benign windows only (--seed).
    #[arg(long, default_value = "gbdt", value_name = "ALGO")]
    pub algo: String,
    /// Model file to write (must end in .wbm.json).
    #[arg(short, long, value_name = "FILE")]
    pub out: PathBuf,
    /// Also export the model: `onnx` writes `<out>.onnx` next to the model file (the
    /// `.wbm.json` replaced by `.onnx`), with the model file's facts (schema
    /// fingerprint, threshold, window, training data) as ONNX metadata; `eval --model
    /// FILE.onnx` scores with it. Checked against the native model on test rows.
    #[arg(long, value_name = "FORMAT", value_parser = ["onnx"])]
    pub export: Option<String>,
    /// ONNX graph for --export onnx: `tree_ensemble` (one standard ai.onnx.ml
    /// TreeEnsembleClassifier, portable), `plain` (standard operators only, much faster
    /// in tract), or `both` (`<out>.onnx` as tree_ensemble plus `<out>.plain.onnx`).
    #[arg(long, default_value = "tree_ensemble", value_name = "FORM",
          value_parser = ["tree_ensemble", "plain", "both"])]
    pub onnx_form: String,
    /// Report directory for the test evaluation [default: reports/<test data>-<model>].
    #[arg(long, value_name = "DIR")]
    pub report: Option<PathBuf>,
    /// Where a manifest's files live (overrides its root).
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Train and validation shares, `TRAIN,VALIDATION`, in time order; the test split
    /// is the rest [default: 0.6,0.2, or 0.8,0.2 with --test-dataset].
    #[arg(long, value_name = "TRAIN,VAL")]
    pub split: Option<crate::model::SplitConfig>,
    /// Whether the shares are of the time span (`time`: first 60% of the time), of
    /// the rows (`rows`: earliest 60% of the windows; flood bursts with one row per
    /// spoofed source then dominate), or of each capture's own time span (`capture`:
    /// the first 60% of every capture, simulation and feature table, for datasets
    /// whose captures were made years apart).
    #[arg(long, default_value = "time", value_name = "time|rows|capture")]
    pub split_by: crate::model::split::SplitBy,
    /// Most trees (boosting rounds).
    #[arg(long, default_value_t = 200, value_name = "N")]
    pub trees: usize,
    /// Most depth of a tree.
    #[arg(long, default_value_t = 6, value_name = "N")]
    pub depth: usize,
    /// Learning rate (shrinkage of each tree).
    #[arg(long, default_value_t = 0.1, value_name = "X")]
    pub learning_rate: f32,
    /// Smallest sum of (weighted) hessians in a leaf.
    #[arg(long, default_value_t = 1.0, value_name = "X")]
    pub min_child_weight: f32,
    /// L2 regularisation of leaf weights.
    #[arg(long, default_value_t = 1.0, value_name = "X")]
    pub l2: f32,
    /// Share of rows sampled for each tree (1 = no sampling).
    #[arg(long, default_value_t = 1.0, value_name = "X")]
    pub subsample: f32,
    /// Share of feature columns sampled for each tree (1 = all).
    #[arg(long, default_value_t = 1.0, value_name = "X")]
    pub colsample: f64,
    /// Stop after this many trees without improvement of the validation log loss
    /// (0 = train all --trees).
    #[arg(long, default_value_t = 20, value_name = "N")]
    pub early_stopping: usize,
    /// Weight of attack windows: `balanced` (benign/attack count of the training
    /// split), `sqrt` (its square root) or a number (1 = unweighted).
    #[arg(long, default_value = "sqrt", value_name = "W")]
    pub positive_weight: crate::model::PositiveWeight,
    /// Seed of the row/column sampling: the same seed and data give the same file.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// `--algo gbdt`: average this many boosted ensembles trained with seeds SEED,
    /// SEED+1, ... (bagging; their margins are averaged into one ensemble of all their
    /// trees). Costs N times the training and scoring time; reduces the variance
    /// sampling puts into one ensemble.
    #[arg(long, default_value_t = 1, value_name = "N")]
    pub bag: usize,
    /// `--algo forest`: most depth of a tree.
    #[arg(long, default_value_t = 12, value_name = "N")]
    pub forest_depth: usize,
    /// `--algo forest`: bootstrap rows drawn for each tree (at most the training rows).
    #[arg(long, default_value_t = 200_000, value_name = "N")]
    pub sample_rows: usize,
    /// Also write every labelled row (split part, window end, host, label, features)
    /// as CSV, for benchmarks and experiments with other trainers.
    #[arg(long, value_name = "FILE", hide = true)]
    pub dump_rows: Option<PathBuf>,
    #[command(flatten)]
    pub window: WindowArgs,
}

impl TrainArgs {
    /// The GBDT parameters these arguments describe.
    pub fn gbdt_params(&self) -> crate::model::GbdtParams {
        crate::model::GbdtParams {
            trees: self.trees,
            depth: self.depth,
            learning_rate: self.learning_rate,
            min_child_weight: self.min_child_weight,
            l2: self.l2,
            subsample: self.subsample,
            colsample: self.colsample,
            early_stopping_rounds: (self.early_stopping > 0).then_some(self.early_stopping),
            positive_weight: self.positive_weight,
            seed: self.seed,
            bag: self.bag,
            ..crate::model::GbdtParams::default()
        }
    }
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
