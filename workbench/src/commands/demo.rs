//! `workbench demo`: the seed's demo (simulated scan → real-time replay → alert).

use std::process::ExitCode;

use anyhow::Result;

use crate::cli::{DemoArgs, GlobalArgs};
use crate::live::run_demo;

pub fn run(g: &GlobalArgs, a: &DemoArgs) -> Result<ExitCode> {
    let met = run_demo(&a.config()?, g.quiet)?;
    Ok(if met {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
