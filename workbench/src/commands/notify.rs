//! `workbench notify`: seed 000's notifier (Alertmanager webhook receiver).

use std::process::ExitCode;

use anyhow::Result;

use crate::cli::{GlobalArgs, NotifyArgs};

pub fn run(_g: &GlobalArgs, a: &NotifyArgs) -> Result<ExitCode> {
    crate::stack::notify::run(a.listen, a.max_body)?;
    Ok(ExitCode::SUCCESS)
}
