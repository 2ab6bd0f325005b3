//! One file per subcommand: arguments → the library's configuration → library calls →
//! output for people or `--json`, and the exit status. Adding a subcommand is a file
//! here plus its variant in [`crate::cli::Command`] (and the arm in [`run`] the
//! compiler then asks for).
//!
//! Exit status everywhere: 0 success, 2 error, 3 partial (an input was bad, the rest
//! was processed).

mod compare;
mod datasets;
mod demo;
mod eval;
mod features;
mod kpi;
mod live;
mod notify;
mod publish;
mod replay;
mod schema;
mod serve;
mod simulate;
mod train;

use std::io::Write;
use std::process::ExitCode;

use anyhow::Result;

use crate::cli::{Cli, Command};

/// Exit status when some inputs failed but the rest was processed.
pub const EXIT_PARTIAL: u8 = 3;
/// Exit status on error.
pub const EXIT_ERROR: u8 = 2;

/// Runs the parsed command line.
pub fn run(cli: &Cli) -> Result<ExitCode> {
    let g = &cli.global;
    match &cli.command {
        Command::Features(a) => features::run(g, a),
        Command::Simulate(a) => simulate::run(g, a),
        Command::Schema(a) => schema::run(g, a),
        Command::Eval(a) => eval::run(g, a),
        Command::Train(a) => train::run(g, a),
        Command::Compare(a) => compare::run(g, a),
        Command::Datasets(a) => datasets::run(g, a),
        Command::Live(a) => live::run(g, a),
        Command::Replay(a) => replay::run(g, a),
        Command::Demo(a) => demo::run(g, a),
        Command::Kpi(a) => kpi::run(g, a),
        Command::Notify(a) => notify::run(g, a),
        Command::Publish(a) => publish::run(g, a),
        Command::Serve(a) => serve::run(g, a),
    }
}

/// Prints `v` as pretty JSON on stdout (`--json`).
fn print_json(v: &impl serde::Serialize) -> Result<()> {
    writeln!(std::io::stdout(), "{}", serde_json::to_string_pretty(v)?)?;
    Ok(())
}

/// 0, or 3 when `failed` inputs were read only in part.
fn partial_if(failed: usize) -> ExitCode {
    if failed > 0 {
        ExitCode::from(EXIT_PARTIAL)
    } else {
        ExitCode::SUCCESS
    }
}

/// `n/a` or four decimals.
fn fmt_opt(x: Option<f64>) -> String {
    x.map_or("n/a".to_string(), |v| format!("{v:.4}"))
}
