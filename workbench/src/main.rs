//! The `workbench` binary: parse the command line, run the command, map errors to the
//! exit status. Everything else is in the library (`workbench::commands` first).

use std::process::ExitCode;

use clap::Parser;

use workbench::cli::Cli;
use workbench::commands::{self, EXIT_ERROR};

fn main() -> ExitCode {
    let cli = Cli::parse();
    workbench::logging::init(&cli.global.logging());
    match commands::run(&cli) {
        Ok(code) => code,
        Err(e) => {
            // A closed pipe (e.g. `| head`) is not an error worth reporting.
            if e.chain().any(|c| {
                c.downcast_ref::<std::io::Error>()
                    .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
            }) {
                return ExitCode::SUCCESS;
            }
            eprintln!("error: {e:#}");
            ExitCode::from(EXIT_ERROR)
        }
    }
}
