//! Arguments of the commands that read or make traffic: `features`, `simulate`,
//! `schema`, `datasets`.

use std::path::PathBuf;

use clap::{Args, Subcommand};

use super::common::{SimArgs, WindowArgs};
use crate::simulate::Scenario;

/// `workbench features` options.
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

/// `workbench simulate` options.
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

/// `workbench schema` options.
#[derive(Debug, Args)]
pub struct SchemaArgs {
    #[command(flatten)]
    pub window: WindowArgs,
}

/// `workbench datasets` options.
#[derive(Debug, Args)]
pub struct DatasetsArgs {
    #[command(subcommand)]
    pub command: DatasetsCommand,
    /// Where the manifests' files live (overrides their root).
    #[arg(long, value_name = "DIR", global = true)]
    pub data_dir: Option<PathBuf>,
}

/// `workbench datasets` subcommands.
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
