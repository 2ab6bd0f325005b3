//! `workbench schema`: every feature column, its unit and what it measures.

use std::io::Write;
use std::process::ExitCode;

use anyhow::Result;

use crate::cli::{GlobalArgs, SchemaArgs};
use crate::engine::{FeatureSchema, BASE_FEATURES};

pub fn run(g: &GlobalArgs, a: &SchemaArgs) -> Result<ExitCode> {
    let cfg = a.window.config();
    cfg.validate()?;
    let schema = FeatureSchema::for_widths(&cfg.widths_s);
    if g.json {
        super::print_json(&schema)?;
        return Ok(ExitCode::SUCCESS);
    }
    let mut out = std::io::stdout();
    writeln!(
        out,
        "feature schema {} ({} columns; entity rows per host plus `*` for the whole network)",
        schema.fingerprint(),
        schema.len()
    )?;
    for (i, name) in schema.names.iter().enumerate() {
        let def = &BASE_FEATURES[i % BASE_FEATURES.len()];
        writeln!(out, "{:<34} {:<7} {}", name, def.unit, def.doc)?;
    }
    Ok(ExitCode::SUCCESS)
}
