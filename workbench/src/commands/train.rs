//! `workbench train`: printed for people or as JSON.

use std::io::Write;
use std::process::ExitCode;

use anyhow::Result;

use super::fmt_opt;
use crate::cli::{GlobalArgs, TrainArgs};
use crate::eval::EvalResult;
use crate::model::split::SplitBy;
use crate::train::{run_train, OnnxExport, TrainOutcome};

pub fn run(g: &GlobalArgs, a: &TrainArgs) -> Result<ExitCode> {
    let o = run_train(&a.config(), g.quiet)?;
    if g.json {
        super::print_json(&train_json(&o))?;
    } else {
        print_train(&mut std::io::stdout(), &o)?;
    }
    Ok(super::partial_if(o.failed_inputs))
}

/// Prints a training run for people.
fn print_train(out: &mut dyn Write, o: &TrainOutcome) -> Result<()> {
    let t = &o.facts;
    let r = &t.rows;
    let pct = |p: u64, n: u64| {
        if n > 0 {
            100.0 * p as f64 / n as f64
        } else {
            0.0
        }
    };
    writeln!(
        out,
        "trained on {}: {} host windows ({:.2} s to compute features)",
        t.datasets.join(", "),
        r.train
            + r.validation
            + r.purged
            + r.unused
            + if t.test_dataset.is_some() { 0 } else { r.test },
        o.timings.features_s
    )?;
    writeln!(
        out,
        "split ({}, shares of the {}): train {} ({:.2}% attack), validation {} ({:.2}%), test {} ({:.2}%); {} purged at the boundaries{}",
        t.split.mode,
        match t.split.shares.by {
            SplitBy::Time => "time span",
            SplitBy::Rows => "rows",
            SplitBy::Capture => "time span of every capture",
        },
        r.train,
        pct(r.train_positives, r.train),
        r.validation,
        pct(r.validation_positives, r.validation),
        r.test,
        pct(r.test_positives, r.test),
        r.purged,
        if r.unused > 0 { format!(", {} unused", r.unused) } else { String::new() }
    )?;
    for line in &o.fit_lines {
        writeln!(out, "{line}")?;
    }
    let th = o.threshold();
    writeln!(
        out,
        "validation: PR-AUC {}{}; threshold at {}% FPR {} (TPR {:.3}, FPR {:.4})",
        fmt_opt(t.validation_pr_auc),
        o.validation_note
            .as_ref()
            .map(|n| format!(" ({n})"))
            .unwrap_or_default(),
        th.target_fpr * 100.0,
        if th.value.abs() >= 1e-3 || th.value == 0.0 {
            format!("{:.6}", th.value)
        } else {
            format!("{:.3e}", th.value)
        },
        th.tpr,
        th.fpr
    )?;
    print_test(
        out,
        &o.test_name,
        &o.test,
        o.test_note.as_ref().map(|n| n.line.as_str()),
        &o.rules_test,
    )?;
    if let Some(imp) = &o.importance {
        let top: Vec<String> = imp
            .features
            .iter()
            .take(5)
            .filter(|i| i.gain > 0.0)
            .map(|i| format!("{} {:.1}%", i.feature, i.gain_share * 100.0))
            .collect();
        writeln!(out, "top features by {}: {}", imp.measure, top.join(", "))?;
    }
    print_files(
        out,
        &o.warnings,
        &o.path,
        &o.onnx,
        o.report_index.as_deref(),
    )
}

/// Prints the test evaluation: the model (then `after_model`, a line about it), its
/// episodes and attack types, and the rules on the same windows.
fn print_test(
    out: &mut dyn Write,
    test_name: &str,
    e: &EvalResult,
    after_model: Option<&str>,
    rules_test: &EvalResult,
) -> Result<()> {
    writeln!(
        out,
        "test on {}: {} windows, {} attack (base rate {:.4})",
        test_name, e.windows, e.positives, e.base_rate
    )?;
    let m = &e.at_model_threshold;
    writeln!(
        out,
        "  model {}: PR-AUC {}  ROC-AUC {}; at its threshold: TPR {:.3}  FPR {:.4}  precision {:.3}",
        e.model,
        fmt_opt(e.pr_auc),
        fmt_opt(e.roc_auc),
        m.tpr,
        m.fpr,
        m.precision
    )?;
    if let Some(line) = after_model {
        writeln!(out, "{line}")?;
    }
    writeln!(
        out,
        "  episodes: {}/{} detected at the test's 1%-FPR threshold, delay median {} s; {:.2} false alerts per hour",
        e.episodes.iter().filter(|x| x.detected).count(),
        e.episodes_total,
        fmt_opt(e.detection_delay_s.median),
        e.false_alerts_per_hour
    )?;
    for p in &e.per_attack {
        writeln!(
            out,
            "  {:<20} windows {:>7}  recall@1%FPR {:.3}  recall at model threshold {:.3}",
            p.attack_type, p.windows, p.recall_at_fpr_1pct, p.recall_at_model_threshold
        )?;
    }
    writeln!(
        out,
        "  rules on the same windows: PR-AUC {}",
        fmt_opt(rules_test.pr_auc)
    )?;
    Ok(())
}

/// Prints the input warnings and the files a run wrote.
fn print_files(
    out: &mut dyn Write,
    warnings: &[String],
    path: &std::path::Path,
    onnx: &[OnnxExport],
    report_index: Option<&std::path::Path>,
) -> Result<()> {
    for w in warnings {
        writeln!(out, "  warning: {w}")?;
    }
    writeln!(out, "model: {}", path.display())?;
    for x in onnx {
        writeln!(
            out,
            "onnx ({}): {} ({} bytes; {} test rows within {:.1e} of the model through tract)",
            x.form,
            x.path.display(),
            x.bytes,
            x.checked_rows,
            x.max_abs_diff
        )?;
    }
    if let Some(p) = report_index {
        writeln!(out, "report: {}", p.display())?;
    }
    Ok(())
}

/// The training run as one JSON object (`--json`).
fn train_json(o: &TrainOutcome) -> serde_json::Value {
    let mut v = serde_json::json!({
        "model": o.path.display().to_string(),
        "kind": o.saved.kind(),
        "training": o.saved.training_json(),
        "threshold": o.threshold(),
        "test_name": o.test_name,
        "test": o.test,
        "rules_test": o.rules_test,
        "report": o.report_index.as_ref().map(|p| p.display().to_string()),
        "onnx": o.onnx,
        "timings": o.timings,
    });
    if let Some(imp) = &o.importance {
        v["feature_importance"] = serde_json::to_value(&imp.features).unwrap_or_default();
    }
    if let Some(n) = &o.test_note {
        v[n.name] = n.value.clone();
    }
    v
}
