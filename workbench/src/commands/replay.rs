//! `workbench replay`: captures through the live pipeline in (scaled) real time.

use std::process::ExitCode;

use anyhow::Result;

use crate::cli::{GlobalArgs, ReplayArgs};
use crate::live::run_replay;

pub fn run(g: &GlobalArgs, a: &ReplayArgs) -> Result<ExitCode> {
    let r = run_replay(&a.config()?, g.quiet)?;
    super::live::finish(g, &r)
}
