//! Command-line arguments: clap types only. Option groups shared by several
//! subcommands (`common`) are defined once and flattened into each. Every argument
//! struct converts to the library's plain configuration (`config()`), so nothing below
//! `commands/` sees clap types or raw strings. Only `main.rs` and `commands/` import
//! this module.

pub mod common;
pub mod data;
pub mod kpi;
pub mod live;
pub mod models;
pub mod stack;

use clap::{Args, Parser, Subcommand};

pub use common::{SimArgs, WindowArgs};
pub use data::{DatasetsArgs, DatasetsCommand, FeaturesArgs, SchemaArgs, SimulateArgs};
pub use kpi::KpiArgs;
pub use live::{AlertArgs, AlertTimingArgs, BackendArg, DemoArgs, LiveArgs, ReplayArgs};
pub use models::{CompareArgs, EvalArgs, TrainArgs};
pub use stack::{BusArgs, NotifyArgs, PublishArgs, ServeArgs};

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
    #[arg(long, global = true, value_enum, default_value_t = LogFormatArg::Text, env = "WORKBENCH_LOG_FORMAT")]
    pub log_format: LogFormatArg,
}

/// How log events are written to stderr.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormatArg {
    Text,
    Json,
}

impl GlobalArgs {
    /// The logging settings these options describe.
    pub fn logging(&self) -> crate::logging::LogSettings {
        crate::logging::LogSettings {
            format: match self.log_format {
                LogFormatArg::Text => crate::logging::LogFormat::Text,
                LogFormatArg::Json => crate::logging::LogFormat::Json,
            },
            quiet: self.quiet,
            verbose: self.verbose,
        }
    }
}

/// The subcommands: one variant per file in `commands/`.
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
    Kpi(KpiArgs),
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
    Live(LiveArgs),
    /// Push captures through the live pipeline in (scaled) real time: alerts and
    /// endpoints as in `live`, without privileges.
    ///
    /// Examples:
    ///   workbench replay capture.pcap --speed 10x --notify-console
    ///   workbench replay captures/ --speed max --alertmanager http://127.0.0.1:9093/api/v2/alerts
    #[command(verbatim_doc_comment)]
    Replay(ReplayArgs),
    /// Simulate a port scan, replay it in real time, alert, and report the delay from
    /// the first scan packet to the alert (reports/demo/report.json).
    ///
    /// Examples:
    ///   workbench demo
    ///   workbench demo --alertmanager http://127.0.0.1:9093/api/v2/alerts
    #[command(verbatim_doc_comment)]
    Demo(DemoArgs),
    /// Seed 000's notifier: receive Alertmanager's webhook on /alert and print alerts.
    ///
    /// Examples:
    ///   workbench notify --listen 0.0.0.0:8080
    #[command(verbatim_doc_comment)]
    Notify(NotifyArgs),
    /// A sensor without privileges: replay captures or a simulation to NATS JetStream.
    ///
    /// Examples:
    ///   workbench publish capture.pcap --nats nats://127.0.0.1:4222 --sensor-id edge-1
    ///   workbench publish --simulate portscan --seconds 30 --nats nats://nats:4222 --speed 1
    #[command(verbatim_doc_comment)]
    Publish(PublishArgs),
    /// Score telemetry from NATS JetStream (scale-out scorer) and serve the seeds' APIs.
    ///
    /// Examples:
    ///   workbench serve --nats nats://127.0.0.1:4222 --scorers 2 --scorer-index 0
    #[command(verbatim_doc_comment)]
    Serve(ServeArgs),
}
