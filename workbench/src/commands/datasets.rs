//! `workbench datasets list|check`.

use std::io::Write;
use std::process::ExitCode;

use anyhow::Result;

use super::EXIT_ERROR;
use crate::cli::{DatasetsArgs, DatasetsCommand, GlobalArgs};
use crate::datasets;

pub fn run(g: &GlobalArgs, a: &DatasetsArgs) -> Result<ExitCode> {
    let ok = datasets_cmd(a, g.json, &mut std::io::stdout())?;
    Ok(if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(EXIT_ERROR)
    })
}

/// `workbench datasets list|check`.
fn datasets_cmd(a: &DatasetsArgs, json: bool, out: &mut dyn Write) -> Result<bool> {
    match &a.command {
        DatasetsCommand::List => {
            let rows = datasets::list(a.data_dir.as_deref());
            if json {
                writeln!(out, "{}", serde_json::to_string_pretty(&rows)?)?;
                return Ok(true);
            }
            for r in rows {
                if let Some(e) = r.get("error") {
                    writeln!(
                        out,
                        "{:<16} error: {}",
                        r["name"].as_str().unwrap_or("?"),
                        e
                    )?;
                    continue;
                }
                let files = if r["simulated"].as_bool() == Some(true) {
                    "generated, no files".to_string()
                } else {
                    format!("{}/{} files present", r["files_present"], r["files"])
                };
                writeln!(
                    out,
                    "{:<16} {:<24} {}",
                    r["name"].as_str().unwrap_or("?"),
                    files,
                    r["description"].as_str().unwrap_or("")
                )?;
                if r["files_present"] != r["files"] {
                    writeln!(
                        out,
                        "{:<16} obtain: {}",
                        "",
                        r["obtain"].as_str().unwrap_or("")
                    )?;
                }
            }
            Ok(true)
        }
        DatasetsCommand::Check { name } => {
            let problems = datasets::check(name, a.data_dir.as_deref())?;
            if json {
                let v: Vec<_> = problems
                    .iter()
                    .map(|(p, e)| serde_json::json!({"file": p, "problem": e}))
                    .collect();
                writeln!(
                    out,
                    "{}",
                    serde_json::json!({"dataset": name, "ok": problems.is_empty(), "problems": v})
                )?;
            } else if problems.is_empty() {
                writeln!(out, "{name}: every file present and matching its checksum")?;
            } else {
                for (p, e) in &problems {
                    writeln!(out, "{p}: {e}")?;
                }
            }
            Ok(problems.is_empty())
        }
    }
}
