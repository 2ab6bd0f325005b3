//! `workbench compare`: several scorers on the same windows, one table, one report.

use std::io::Write;
use std::process::ExitCode;

use anyhow::Result;

use crate::cli::{CompareArgs, GlobalArgs};
use crate::experiment::{run_compare, CompareOutcome};

pub fn run(g: &GlobalArgs, a: &CompareArgs) -> Result<ExitCode> {
    let o = run_compare(&a.config()?, g.quiet)?;
    if g.json {
        super::print_json(&compare_json(&o))?;
    } else {
        print_compare(&mut std::io::stdout(), &o)?;
    }
    Ok(super::partial_if(o.run.failed_inputs()))
}

fn f4(x: Option<f64>) -> String {
    x.map_or("n/a".to_string(), |v| format!("{v:.4}"))
}

/// Prints the comparison table for people.
fn print_compare(out: &mut dyn Write, o: &CompareOutcome) -> Result<()> {
    let first = &o.results[0];
    writeln!(
        out,
        "dataset {}: {}, {} host windows, {} attack (base rate {:.4})",
        o.dataset.name,
        o.run.input_text(),
        first.windows,
        first.positives,
        first.base_rate
    )?;
    writeln!(
        out,
        "{:<24} {:>7} {:>7} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9}",
        "model",
        "PR-AUC",
        "ROC-AUC",
        "TPR@1%",
        "prec@1%",
        "episodes",
        "delay p50",
        "delay p95",
        "FA/h"
    )?;
    for r in &o.results {
        writeln!(
            out,
            "{:<24} {:>7} {:>7} {:>9.3} {:>9.3} {:>9} {:>9} {:>9} {:>9.2}",
            r.model,
            f4(r.pr_auc),
            f4(r.roc_auc),
            r.tpr_at_fpr_1pct,
            r.precision_at_fpr_1pct,
            format!(
                "{}/{}",
                r.episodes.iter().filter(|e| e.detected).count(),
                r.episodes_total
            ),
            f4(r.detection_delay_s.median),
            f4(r.detection_delay_s.p95),
            r.false_alerts_per_hour
        )?;
    }
    for i in &o.run.inputs {
        if let Some(e) = &i.error {
            writeln!(out, "  warning: {e}")?;
        }
    }
    writeln!(out, "report: {}", o.report_index.display())?;
    Ok(())
}

/// The comparison as one JSON object (`--json`): dataset, every model's numbers (the
/// `EvalResult` keys of report.json), the report path.
fn compare_json(o: &CompareOutcome) -> serde_json::Value {
    serde_json::json!({
        "dataset": o.dataset.name,
        "models": o.results,
        "report": o.report_index.display().to_string(),
    })
}
