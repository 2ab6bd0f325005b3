//! `workbench eval`: one scorer on a dataset, printed for people or as JSON.

use std::io::Write;
use std::process::ExitCode;

use anyhow::Result;

use super::fmt_opt;
use crate::cli::{EvalArgs, GlobalArgs};
use crate::experiment::{run_eval, EvalOutcome};

pub fn run(g: &GlobalArgs, a: &EvalArgs) -> Result<ExitCode> {
    let cfg = a.config();
    let report = cfg
        .report
        .clone()
        .unwrap_or_else(|| cfg.default_report_dir());
    let o = run_eval(&cfg, g.quiet, Some(report))?;
    if g.json {
        let mut v = serde_json::to_value(&o.result)?;
        v["report"] = o
            .report_index
            .as_ref()
            .map(|p| p.display().to_string())
            .into();
        super::print_json(&v)?;
    } else {
        print_eval(&mut std::io::stdout(), &o)?;
    }
    Ok(super::partial_if(o.run.failed_inputs()))
}

/// Prints an evaluation for people.
pub fn print_eval(out: &mut dyn Write, o: &EvalOutcome) -> Result<()> {
    let r = &o.result;
    let f = fmt_opt;
    writeln!(
        out,
        "dataset {}: {}, {} host windows, {} attack (base rate {:.4})",
        o.dataset.name,
        o.run.input_text(),
        r.windows,
        r.positives,
        r.base_rate
    )?;
    writeln!(
        out,
        "model {}: PR-AUC {}  ROC-AUC {}",
        r.model,
        f(r.pr_auc),
        f(r.roc_auc)
    )?;
    writeln!(
        out,
        "  at 1% FPR: threshold {:.4}  TPR {:.3}  precision {:.3}  F1 {:.3}",
        r.threshold_at_fpr_1pct, r.tpr_at_fpr_1pct, r.precision_at_fpr_1pct, r.f1_at_fpr_1pct
    )?;
    let m = &r.at_model_threshold;
    writeln!(
        out,
        "  at its own threshold {:.3}: TPR {:.3}  FPR {:.4}  precision {:.3}  F1 {:.3}",
        m.threshold, m.tpr, m.fpr, m.precision, m.f1
    )?;
    writeln!(
        out,
        "  episodes: {}/{} detected, delay median {} s p95 {} s; {:.2} false alerts per hour; label coverage {}/{}",
        r.episodes.iter().filter(|e| e.detected).count(),
        r.episodes_total,
        f(r.detection_delay_s.median),
        f(r.detection_delay_s.p95),
        r.false_alerts_per_hour,
        r.episodes_matched,
        r.episodes_total
    )?;
    for p in &r.per_attack {
        writeln!(
            out,
            "  {:<20} windows {:>7}  recall@1%FPR {:.3}  episodes {}/{} detected",
            p.attack_type, p.windows, p.recall_at_fpr_1pct, p.episodes_detected, p.episodes
        )?;
    }
    for i in &o.run.inputs {
        if let Some(e) = &i.error {
            writeln!(out, "  warning: {e}")?;
        }
    }
    if let Some(p) = &o.report_index {
        writeln!(out, "report: {}", p.display())?;
    }
    Ok(())
}
