//! `eval`: one scorer on a dataset.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use crate::datasets::{self, Dataset};
use crate::engine::WindowConfig;
use crate::eval::{evaluate, EvalResult, EvalSink, ScoredWindow};
use crate::labels::Labeler;
use crate::model::onnx::OnnxOptions;
use crate::model::scorer_for_with;
use crate::pipeline::{self, Driver, RunSummary};
use crate::progress::Progress;
use crate::report::{write_report, ModelRun};

/// What to evaluate.
#[derive(Clone, Debug)]
pub struct EvalConfig {
    /// A manifest name or a directory of captures with a labels.csv.
    pub dataset: String,
    /// `default`, `rules`, `formula`, a model file or an ONNX model.
    pub model: String,
    /// Accept ONNX models without workbench metadata.
    pub foreign_model: bool,
    /// Report directory [default: reports/<dataset>-<model>].
    pub report: Option<PathBuf>,
    /// Where a manifest's files live (overrides its root).
    pub data_dir: Option<PathBuf>,
    /// Also write every scored window as CSV here.
    pub scores: Option<PathBuf>,
    pub window: WindowConfig,
}

impl EvalConfig {
    /// `reports/<dataset>-<model>`: the default report directory.
    pub fn default_report_dir(&self) -> PathBuf {
        let ds = super::file_stem_of(&self.dataset, "dataset");
        let model = super::file_stem_of(&self.model, "model");
        let model = model.strip_suffix(".wbm.json").unwrap_or(&model);
        let model = model.strip_suffix(".onnx").unwrap_or(model);
        PathBuf::from("reports").join(format!("{ds}-{model}"))
    }
}

/// Everything an evaluation produced.
pub struct EvalOutcome {
    pub result: EvalResult,
    pub windows: Vec<ScoredWindow>,
    pub run: RunSummary,
    pub dataset: Dataset,
    pub report_index: Option<PathBuf>,
}

/// Runs one evaluation and (unless `report` is None) writes its report.
pub fn run_eval(a: &EvalConfig, quiet: bool, report: Option<PathBuf>) -> Result<EvalOutcome> {
    let dataset = datasets::resolve(&a.dataset, a.data_dir.as_deref())?;
    let cfg = a.window.clone();
    let mut driver = Driver::new(cfg.clone()).context("invalid window settings")?;
    let onnx = OnnxOptions {
        allow_foreign: a.foreign_model,
        ..OnnxOptions::from_env()?
    };
    let scorer = scorer_for_with(&a.model, driver.schema(), &onnx)?;
    let labeler = Labeler::new(dataset.episodes.clone());
    let mut sink = EvalSink::new(scorer.as_ref(), &labeler, cfg.widths_s[0]);
    let inputs = dataset.inputs();
    let progress = Progress::bytes(pipeline::total_bytes(&inputs), quiet);
    let run = pipeline::run(inputs, &mut driver, &mut sink, &progress);
    // The sink scores in batches: score the last partial one.
    sink.flush();
    progress.finish();
    super::check_evaluable(&dataset, &run, sink.windows.len(), &sink.matched)?;
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
    let report_index = match report {
        Some(dir) => Some(write_report(
            &dir,
            &super::dataset_info(&dataset, &run),
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

/// Writes scored windows as CSV; scores use Rust's shortest round-trip formatting, so a
/// reader gets the exact f64 back.
fn write_scores(path: &Path, windows: &[ScoredWindow], labeler: &Labeler) -> Result<()> {
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
