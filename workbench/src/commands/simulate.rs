//! `workbench simulate`: a labelled synthetic capture (DIR/capture.pcap, DIR/labels.csv).

use std::io::Write;
use std::process::ExitCode;

use anyhow::Result;

use crate::cli::{GlobalArgs, SimulateArgs};
use crate::progress::Progress;
use crate::simulate::{self, Scenario};

pub fn run(g: &GlobalArgs, a: &SimulateArgs) -> Result<ExitCode> {
    let mut out = std::io::stdout();
    if a.list {
        for s in Scenario::all() {
            writeln!(out, "{:<18} {}", s.name(), s.describe())?;
        }
        return Ok(ExitCode::SUCCESS);
    }
    let Some(dir) = &a.out else {
        anyhow::bail!("--out DIR is required");
    };
    let cfg = a.sim.config(a.scenario);
    let progress = Progress::bytes(0, g.quiet);
    let summary = simulate::write_scenario(&cfg, dir, &mut |frames| {
        if frames & 0xffff == 0 {
            progress.message(format!("{frames} frames"));
        }
    })?;
    progress.finish();
    if g.json {
        writeln!(
            out,
            "{}",
            serde_json::json!({
                "frames": summary.frames, "bytes": summary.bytes, "episodes": summary.episodes,
                "pcap": summary.pcap, "labels": summary.labels,
            })
        )?;
    } else {
        writeln!(
            out,
            "wrote {} frames ({} bytes) to {} and {} episode(s) to {}",
            summary.frames,
            summary.bytes,
            summary.pcap.display(),
            summary.episodes,
            summary.labels.display()
        )?;
    }
    Ok(ExitCode::SUCCESS)
}
