//! `compare`: several scorers side by side on one dataset. The features are computed
//! once; every model scores the same rows in the same [`EvalSink`] (batched), each is
//! evaluated with [`evaluate`] (the numbers `eval` reports), and one report overlays
//! their PR and ROC curves with one table.

use std::path::PathBuf;

use anyhow::{bail, Context, Result};

use crate::datasets::{self, Dataset};
use crate::engine::WindowConfig;
use crate::eval::Scorer;
use crate::eval::{evaluate, EvalResult, EvalSink};
use crate::labels::Labeler;
use crate::model::onnx::OnnxOptions;
use crate::model::scorer_for_with;
use crate::pipeline::{self, Driver, RunSummary};
use crate::progress::Progress;
use crate::report::{write_report, ModelRun};

/// What to compare.
#[derive(Clone, Debug)]
pub struct CompareConfig {
    /// A manifest name or a directory of captures with a labels.csv.
    pub dataset: String,
    /// Scorers, as for `eval --model`, in report order.
    pub models: Vec<String>,
    /// Report directory [default: reports/<dataset>-compare].
    pub report: Option<PathBuf>,
    /// Where a manifest's files live (overrides its root).
    pub data_dir: Option<PathBuf>,
    /// Accept ONNX models without workbench metadata.
    pub foreign_model: bool,
    pub window: WindowConfig,
}

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
pub fn run_compare(a: &CompareConfig, quiet: bool) -> Result<CompareOutcome> {
    let models = &a.models;
    if models.is_empty() {
        bail!("--models: give at least one model");
    }
    let dataset = datasets::resolve(&a.dataset, a.data_dir.as_deref())?;
    let cfg = a.window.clone();
    let mut driver = Driver::new(cfg.clone()).context("invalid window settings")?;
    let opts = OnnxOptions {
        allow_foreign: a.foreign_model,
        ..OnnxOptions::from_env()?
    };
    let scorers: Vec<Box<dyn Scorer>> = models
        .iter()
        .map(|m| {
            scorer_for_with(m, driver.schema(), &opts).with_context(|| format!("--models {m}"))
        })
        .collect::<Result<_>>()?;
    let names = unique_names(&scorers, models);
    let labeler = Labeler::new(dataset.episodes.clone());
    let mut sink = EvalSink::with_scorers(
        scorers.iter().map(|s| s.as_ref()).collect(),
        &labeler,
        cfg.widths_s[0],
    );
    let inputs = dataset.inputs();
    let progress = Progress::bytes(pipeline::total_bytes(&inputs), quiet);
    let run = pipeline::run(inputs, &mut driver, &mut sink, &progress);
    progress.finish();
    let (runs, matched) = sink.into_runs();
    super::check_evaluable(&dataset, &run, runs[0].len(), &matched)?;
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
    let info = super::dataset_info(&dataset, &run);
    let dir = a.report.clone().unwrap_or_else(|| {
        let ds = super::file_stem_of(&a.dataset, "dataset");
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
