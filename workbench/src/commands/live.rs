//! `workbench live`: capture (or simulate), score, alert, serve the endpoints.

use std::io::Write;
use std::process::ExitCode;

use anyhow::Result;

use super::EXIT_PARTIAL;
use crate::cli::{GlobalArgs, LiveArgs};
use crate::live::{run_live, RunReport};

pub fn run(g: &GlobalArgs, a: &LiveArgs) -> Result<ExitCode> {
    let r = run_live(&a.config()?, g.quiet)?;
    finish(g, &r)
}

/// Prints a live/replay run's summary; exit 3 when the source failed or alerts were left
/// undelivered.
pub(super) fn finish(g: &GlobalArgs, r: &RunReport) -> Result<ExitCode> {
    print_report(r, g.json)?;
    Ok(if r.engine.error.is_some() || r.undelivered > 0 {
        ExitCode::from(EXIT_PARTIAL)
    } else {
        ExitCode::SUCCESS
    })
}

/// Prints a run's summary (human or JSON).
fn print_report(r: &RunReport, json: bool) -> Result<()> {
    let mut out = std::io::stdout();
    if json {
        writeln!(out, "{}", serde_json::to_string_pretty(r)?)?;
        return Ok(());
    }
    let e = &r.engine;
    writeln!(
        out,
        "{} packets → {} host windows scored ({} at or above {}), {} late packets; {} alert event(s){}",
        e.engine.packets,
        e.host_rows,
        e.threat_rows,
        r.threshold,
        e.engine.late_packets,
        r.alerts.len(),
        if r.undelivered > 0 {
            format!(", {} undelivered", r.undelivered)
        } else {
            String::new()
        }
    )?;
    if let Some(p) = &e.publish {
        writeln!(
            out,
            "published {} records in {} batches ({} bytes), {} unacknowledged",
            p["records"], p["batches"], p["bytes"], p["unacknowledged"]
        )?;
    }
    if let Some(err) = &e.error {
        writeln!(out, "source error: {err}")?;
    }
    Ok(())
}
