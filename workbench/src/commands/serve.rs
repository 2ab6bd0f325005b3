//! `workbench serve`: the NATS scorer and/or the seeds' HTTP APIs.

use std::io::Write;
use std::process::ExitCode;

use anyhow::Result;

use crate::cli::{GlobalArgs, ServeArgs};

pub fn run(_g: &GlobalArgs, a: &ServeArgs) -> Result<ExitCode> {
    let counters = crate::stack::serve(&a.config()?)?;
    writeln!(std::io::stdout(), "{}", serde_json::to_string(&counters)?)?;
    Ok(ExitCode::SUCCESS)
}
