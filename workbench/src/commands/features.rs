//! `workbench features`: windowed per-host feature rows of captures or a simulation.

use std::io::Write;
use std::process::ExitCode;

use anyhow::{Context, Result};

use super::{EXIT_ERROR, EXIT_PARTIAL};
use crate::cli::{FeaturesArgs, GlobalArgs};
use crate::pipeline::{self, expand_inputs, Driver, Input, RunSummary, SimSource};
use crate::progress::Progress;
use crate::table::TableWriter;

pub fn run(g: &GlobalArgs, a: &FeaturesArgs) -> Result<ExitCode> {
    let mut driver = Driver::new(a.window.config()).context("invalid window settings")?;
    let inputs: Vec<Input> = match a.simulate {
        Some(scenario) => {
            let sim = a.sim.config(scenario);
            vec![Input::Source(
                format!(
                    "simulated {} ({} s, seed {})",
                    scenario.name(),
                    sim.seconds,
                    sim.seed
                ),
                Box::new(SimSource::new(&sim)),
            )]
        }
        None => expand_inputs(&a.inputs)?
            .into_iter()
            .map(Input::File)
            .collect(),
    };
    let mut writer = TableWriter::create(&a.out, driver.schema())?;
    let progress = Progress::bytes(pipeline::total_bytes(&inputs), g.quiet);
    let summary = pipeline::run(inputs, &mut driver, &mut writer, &progress);
    progress.finish();
    let rows = writer.finish()?;
    report_run(g, &summary, Some((&a.out, rows)))
}

/// Prints the summary of a pipeline run and picks the exit status.
fn report_run(
    g: &GlobalArgs,
    s: &RunSummary,
    table: Option<(&std::path::Path, u64)>,
) -> Result<ExitCode> {
    let mut out = std::io::stdout();
    if g.json {
        let mut v = serde_json::to_value(s)?;
        if let Some((path, rows)) = table {
            v["out"] = serde_json::json!({ "path": path.display().to_string(), "rows": rows });
        }
        writeln!(out, "{}", serde_json::to_string_pretty(&v)?)?;
    } else {
        for i in &s.inputs {
            if let Some(e) = &i.error {
                eprintln!("warning: {e}");
            }
        }
        if g.verbose > 0 {
            for i in &s.inputs {
                let skipped: Vec<String> =
                    i.skipped.iter().map(|(k, v)| format!("{k} {v}")).collect();
                writeln!(
                    out,
                    "  {}: {} packets{}{}",
                    i.name,
                    i.packets,
                    if skipped.is_empty() {
                        String::new()
                    } else {
                        format!(", skipped {}", skipped.join(", "))
                    },
                    if i.transport_truncated > 0 {
                        format!(", {} with a cut transport header", i.transport_truncated)
                    } else {
                        String::new()
                    }
                )?;
            }
        }
        let rate = s.packets as f64 / s.elapsed_s.max(1e-9);
        writeln!(
            out,
            "read {} packets from {} input(s) in {:.2} s ({:.2} Mpkt/s); skipped {} frame(s)",
            s.packets,
            s.inputs.len(),
            s.elapsed_s,
            rate / 1e6,
            s.skipped
        )?;
        let skips = s.source_totals.skip_breakdown();
        if !skips.is_empty() {
            let parts: Vec<String> = skips.iter().map(|(k, v)| format!("{k} {v}")).collect();
            writeln!(out, "  skipped by reason: {}", parts.join(", "))?;
        }
        let e = &s.engine;
        writeln!(
            out,
            "  hosts: {} admitted, peak {}, {} packet sides untracked (host cap); {} late packets",
            e.hosts_admitted, e.hosts_peak, e.untracked_host_sides, e.late_packets
        )?;
        if let Some((path, rows)) = table {
            writeln!(out, "wrote {rows} rows to {}", path.display())?;
        }
    }
    Ok(match s.failed_inputs() {
        0 => ExitCode::SUCCESS,
        n if n == s.inputs.len() && s.packets == 0 => ExitCode::from(EXIT_ERROR),
        _ => ExitCode::from(EXIT_PARTIAL),
    })
}
