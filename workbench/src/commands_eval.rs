//! `workbench eval` and `workbench datasets`: glue between datasets, the pipeline, the
//! evaluation and the report.

use std::io::Write;
use std::path::PathBuf;

use anyhow::{bail, Context, Result};

use crate::cli::{DatasetsArgs, DatasetsCommand, EvalArgs};
use crate::datasets::{self, Dataset};
use crate::engine::WindowEngine;
use crate::eval::{evaluate, EvalResult, EvalSink, Labeler, ScoredWindow};
use crate::pipeline::{self, Input, RunSummary};
use crate::progress::Progress;
use crate::report::{write_report, DatasetInfo, ModelRun};
use crate::sources::SimSource;

/// Everything an evaluation produced.
pub struct EvalOutcome {
    pub result: EvalResult,
    pub windows: Vec<ScoredWindow>,
    pub run: RunSummary,
    pub dataset: Dataset,
    pub report_index: Option<PathBuf>,
}

/// The pipeline inputs of a dataset.
pub fn dataset_inputs(ds: &Dataset) -> Vec<Input> {
    let mut inputs: Vec<Input> = ds.captures.iter().cloned().map(Input::File).collect();
    for sim in &ds.simulations {
        inputs.push(Input::Source(
            format!(
                "simulated {} ({} s, seed {})",
                sim.scenario.name(),
                sim.seconds,
                sim.seed
            ),
            Box::new(SimSource::new(sim)),
        ));
    }
    inputs.extend(ds.tables.iter().cloned().map(Input::Table));
    inputs
}

/// Runs one evaluation and (unless `report` is None) writes its report.
pub fn run_eval(a: &EvalArgs, quiet: bool, report: Option<PathBuf>) -> Result<EvalOutcome> {
    let dataset = datasets::resolve(&a.dataset, a.data_dir.as_deref())?;
    let cfg = a.window.config();
    let mut engine = WindowEngine::new(cfg.clone()).context("invalid window settings")?;
    let onnx = crate::model::onnx::OnnxOptions {
        allow_foreign: a.foreign_model,
        ..crate::model::onnx::OnnxOptions::from_env()?
    };
    let scorer = crate::eval::scorer::scorer_for_with(&a.model, engine.schema(), &onnx)?;
    let labeler = Labeler::new(dataset.episodes.clone());
    let mut sink = EvalSink::new(scorer.as_ref(), &labeler, cfg.widths_s[0]);
    let inputs = dataset_inputs(&dataset);
    let progress = Progress::bytes(pipeline::total_bytes(&inputs), quiet);
    let run = pipeline::run(inputs, &mut engine, &mut sink, &progress);
    // The sink scores in batches: score the last partial one.
    sink.flush();
    progress.finish();
    if sink.windows.is_empty() {
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
    if !sink.matched.iter().any(|&m| m) {
        bail!(
            "dataset {}: none of its {} episodes matches any host window (wrong addresses or times, or a time zone off?); refusing to report a meaningless score",
            dataset.name,
            dataset.episodes.len()
        );
    }
    let result = evaluate(
        scorer.name(),
        &sink.windows,
        &labeler,
        &sink.matched,
        scorer.default_threshold(),
        cfg.widths_s[0],
        cfg.hop_s,
    );
    let windows = std::mem::take(&mut sink.windows);
    if let Some(path) = &a.scores {
        write_scores(path, &windows, &labeler)?;
    }
    let info = DatasetInfo {
        name: dataset.name.clone(),
        description: dataset.description.clone(),
        packets: run.packets,
        skipped_frames: run.skipped,
        inputs: run.inputs.clone(),
    };
    let report_index = match report {
        Some(dir) => Some(write_report(
            &dir,
            &info,
            &cfg,
            &[ModelRun {
                result: result.clone(),
                windows: &windows,
            }],
        )?),
        None => None,
    };
    Ok(EvalOutcome {
        result,
        windows,
        run,
        dataset,
        report_index,
    })
}

/// Prints an evaluation for people.
pub fn print_eval(out: &mut dyn Write, o: &EvalOutcome) -> Result<()> {
    let r = &o.result;
    let f = |x: Option<f64>| x.map_or("n/a".to_string(), |v| format!("{v:.4}"));
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

/// `workbench datasets list|check`.
pub fn datasets_cmd(a: &DatasetsArgs, json: bool, out: &mut dyn Write) -> Result<bool> {
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

/// Writes scored windows as CSV; scores use Rust's shortest round-trip formatting, so a
/// reader gets the exact f64 back.
fn write_scores(path: &std::path::Path, windows: &[ScoredWindow], labeler: &Labeler) -> Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    let file =
        std::fs::File::create(path).with_context(|| format!("creating {}", path.display()))?;
    let mut w = std::io::BufWriter::new(file);
    writeln!(w, "window_end,host,score,label,attack_type")?;
    for s in windows {
        let (label, kind) = match s.label {
            Some((i, _)) => (
                1,
                labeler.episodes()[i as usize]
                    .attack_type
                    .name()
                    .to_string(),
            ),
            None => (0, String::new()),
        };
        writeln!(
            w,
            "{},{},{:?},{},{}",
            s.end_ns as f64 / 1e9,
            s.host,
            s.score,
            label,
            kind
        )?;
    }
    w.flush()
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}
