//! `workbench publish`: a sensor without privileges, replaying to NATS JetStream.

use std::io::Write;
use std::process::ExitCode;

use anyhow::Result;

use crate::cli::{GlobalArgs, PublishArgs};

pub fn run(_g: &GlobalArgs, a: &PublishArgs) -> Result<ExitCode> {
    let counters = crate::stack::publish(&a.config()?)?;
    writeln!(std::io::stdout(), "{counters}")?;
    Ok(ExitCode::SUCCESS)
}
