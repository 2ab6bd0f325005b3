//! `workbench compare`: several scorers side by side on one dataset. The features are
//! computed once; every model scores the same rows in the same [`EvalSink`] (batched),
//! each is evaluated with [`evaluate`] (the numbers `eval` reports), and one report
//! overlays their PR and ROC curves with one table.

use std::io::Write;
use std::path::PathBuf;

use anyhow::{bail, Context, Result};

use crate::cli::CompareArgs;
use crate::commands_eval::dataset_inputs;
use crate::datasets::{self, Dataset};
use crate::engine::WindowEngine;
use crate::eval::scorer::scorer_for_with;
use crate::eval::{evaluate, EvalResult, EvalSink, Labeler, Scorer};
use crate::model::onnx::OnnxOptions;
use crate::pipeline::{self, RunSummary};
use crate::progress::Progress;
use crate::report::{write_report, DatasetInfo, ModelRun};

/// Everything a comparison produced.
pub struct CompareOutcome {
    pub dataset: Dataset,
    pub run: RunSummary,
    /// One result per model, in `--models` order.
    pub results: Vec<EvalResult>,
    pub report_index: PathBuf,
}

/// The `--models` list: comma-separated, empty items refused, at least one.
pub fn parse_models(s: &str) -> Result<Vec<String>> {
    let v: Vec<String> = s.split(',').map(|m| m.trim().to_string()).collect();
    if v.iter().any(|m| m.is_empty()) {
        bail!("--models {s:?}: an empty model name (two commas, or a trailing comma?)");
    }
    Ok(v)
}

/// Report names: a scorer's own name, or the `--models` item when two would be equal
/// (`m.onnx` and `m.wbm.json` are both called `m`).
fn unique_names(scorers: &[Box<dyn Scorer>], given: &[String]) -> Vec<String> {
    let names: Vec<String> = scorers.iter().map(|s| s.name()).collect();
    names
        .iter()
        .zip(given)
        .map(|(n, g)| {
            if names.iter().filter(|m| *m == n).count() > 1 {
                g.clone()
            } else {
                n.clone()
            }
        })
        .collect()
}

/// Runs `workbench compare`.
pub fn run_compare(a: &CompareArgs, quiet: bool) -> Result<CompareOutcome> {
    let models = parse_models(&a.models)?;
    let dataset = datasets::resolve(&a.dataset, a.data_dir.as_deref())?;
    let cfg = a.window.config();
    let mut engine = WindowEngine::new(cfg.clone()).context("invalid window settings")?;
    let opts = OnnxOptions {
        allow_foreign: a.foreign_model,
        ..OnnxOptions::from_env()?
    };
    let scorers: Vec<Box<dyn Scorer>> = models
        .iter()
        .map(|m| {
            scorer_for_with(m, engine.schema(), &opts).with_context(|| format!("--models {m}"))
        })
        .collect::<Result<_>>()?;
    let names = unique_names(&scorers, &models);
    let labeler = Labeler::new(dataset.episodes.clone());
    let mut sink = EvalSink::with_scorers(
        scorers.iter().map(|s| s.as_ref()).collect(),
        &labeler,
        cfg.widths_s[0],
    );
    let inputs = dataset_inputs(&dataset);
    let progress = Progress::bytes(pipeline::total_bytes(&inputs), quiet);
    let run = pipeline::run(inputs, &mut engine, &mut sink, &progress);
    progress.finish();
    let (runs, matched) = sink.into_runs();
    if runs[0].is_empty() {
        bail!(
            "dataset {}: no host windows ({})",
            dataset.name,
            run.why_no_rows()
        );
    }
    if dataset.episodes.is_empty() {
        bail!(
            "dataset {}: no attack episodes, so there is nothing to detect",
            dataset.name
        );
    }
    if !matched.iter().any(|&m| m) {
        bail!(
            "dataset {}: none of its {} episodes matches any host window (wrong addresses or times, or a time zone off?); refusing to report a meaningless score",
            dataset.name,
            dataset.episodes.len()
        );
    }
    let results: Vec<EvalResult> = scorers
        .iter()
        .zip(&runs)
        .zip(&names)
        .map(|((s, windows), name)| {
            evaluate(
                name.clone(),
                windows,
                &labeler,
                &matched,
                s.default_threshold(),
                cfg.widths_s[0],
                cfg.hop_s,
            )
        })
        .collect();
    let info = DatasetInfo {
        name: dataset.name.clone(),
        description: dataset.description.clone(),
        packets: run.packets,
        skipped_frames: run.skipped,
        inputs: run.inputs.clone(),
    };
    let dir = a.report.clone().unwrap_or_else(|| {
        let ds = std::path::Path::new(&a.dataset)
            .file_name()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "dataset".into());
        PathBuf::from("reports").join(format!("{ds}-compare"))
    });
    let model_runs: Vec<ModelRun<'_>> = results
        .iter()
        .zip(&runs)
        .map(|(r, w)| ModelRun {
            result: r.clone(),
            windows: w,
        })
        .collect();
    let report_index = write_report(&dir, &info, &cfg, &model_runs)?;
    Ok(CompareOutcome {
        dataset,
        run,
        results,
        report_index,
    })
}

fn f4(x: Option<f64>) -> String {
    x.map_or("n/a".to_string(), |v| format!("{v:.4}"))
}

/// Prints the comparison table for people.
pub fn print_compare(out: &mut dyn Write, o: &CompareOutcome) -> Result<()> {
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
pub fn compare_json(o: &CompareOutcome) -> serde_json::Value {
    serde_json::json!({
        "dataset": o.dataset.name,
        "models": o.results,
        "report": o.report_index.display().to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn model_lists_parse() {
        assert_eq!(
            parse_models("rules, formula").unwrap(),
            ["rules", "formula"]
        );
        assert!(parse_models("rules,,formula").is_err());
        assert!(parse_models("rules,").is_err());
    }
}
