//! `workbench kpi`: the 60-day plan's KPIs, each measured by running this binary.

use std::io::Write;
use std::process::ExitCode;

use anyhow::Result;

use crate::cli::{GlobalArgs, KpiArgs};
use crate::kpi::run_kpi;

pub fn run(g: &GlobalArgs, a: &KpiArgs) -> Result<ExitCode> {
    let (rep, index) = run_kpi(&a.config(), g.quiet)?;
    if g.json {
        super::print_json(&rep)?;
    } else {
        writeln!(
            std::io::stdout(),
            "{} KPIs: {} passed, {} failed, {} skipped, {} errors; report {}",
            rep.kpis.len(),
            rep.passed,
            rep.failed,
            rep.skipped,
            rep.errors,
            index.display()
        )?;
    }
    Ok(if rep.ok() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
