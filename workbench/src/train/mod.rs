//! `workbench train`: collect → split → fit → threshold on validation → save → reload
//! → export → evaluate on the test rows → report. Every algorithm of
//! [`crate::model::registry`] goes through the same run; what differs is behind
//! [`crate::model::Trainer`]. Printing is the command's business.

pub mod collect;
pub mod dump;
pub mod export;
pub mod test;

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use serde::Serialize;

pub use collect::{collect, collect_and_split, validation_threshold, Collected, TestPart};
pub use export::{onnx_paths, OnnxExport};

use crate::datasets::{self, Dataset};
use crate::engine::WindowConfig;
use crate::eval::metrics::average_precision;
use crate::eval::EvalResult;
use crate::model::file::Threshold;
use crate::model::split::SplitBy;
use crate::model::trainer::{FileFacts, FitJob, Importance, TestNote};
use crate::model::{
    algorithm, model_name, ModelFile, SavedModel, SplitConfig, TrainParams, ALGORITHMS,
    MODEL_SUFFIX,
};
use crate::report::ImportanceInfo;

/// The false-positive budget the stored threshold is chosen for (the evaluation's).
pub const TARGET_FPR: f64 = 0.01;

/// What to train.
#[derive(Clone, Debug)]
pub struct TrainConfig {
    /// Dataset to train on: a manifest name or a directory.
    pub dataset: String,
    /// Test on this dataset instead of the last part of `dataset`.
    pub test_dataset: Option<String>,
    /// The algorithm (`--algo`), by registry name or alias.
    pub algo: String,
    /// Model file to write (`*.wbm.json`).
    pub out: PathBuf,
    /// Also write ONNX next to the model file.
    pub export_onnx: bool,
    /// `tree_ensemble`, `plain` or `both`.
    pub onnx_form: String,
    /// Report directory [default: reports/<test data>-<model>-test].
    pub report: Option<PathBuf>,
    /// Where a manifest's files live (overrides its root).
    pub data_dir: Option<PathBuf>,
    /// Train and validation shares [default: 0.6,0.2, or 0.8,0.2 with a test dataset].
    pub split: Option<SplitConfig>,
    pub split_by: SplitBy,
    pub params: TrainParams,
    /// Also write every labelled row as CSV here.
    pub dump_rows: Option<PathBuf>,
    pub window: WindowConfig,
}

/// Wall time of each phase, seconds.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Timings {
    pub features_s: f64,
    pub fit_s: f64,
    pub total_s: f64,
}

/// Everything a training run produced.
pub struct TrainOutcome {
    /// The model file as read back from disk.
    pub saved: Box<dyn SavedModel>,
    /// Where.
    pub path: PathBuf,
    /// What the file records about the run (datasets, split, rows, threshold).
    pub facts: FileFacts,
    /// How the fit went, for people.
    pub fit_lines: Vec<String>,
    /// Appended to the validation line (e.g. the members' PR-AUC).
    pub validation_note: Option<String>,
    pub importance: Option<Importance>,
    /// Describes the test rows (`synthetic, last 20% by time`).
    pub test_name: String,
    /// The model on the test rows.
    pub test: EvalResult,
    /// The rules baseline on the same test rows.
    pub rules_test: EvalResult,
    /// Further test figures of the algorithm.
    pub test_note: Option<TestNote>,
    pub report_index: Option<PathBuf>,
    /// ONNX exports.
    pub onnx: Vec<OnnxExport>,
    pub timings: Timings,
    /// Inputs that failed (partially read) in either dataset.
    pub failed_inputs: usize,
    /// Input errors, for printing.
    pub warnings: Vec<String>,
}

impl TrainOutcome {
    /// The model file, when the algorithm stores the shared layout.
    pub fn model_file(&self) -> Option<&ModelFile> {
        self.file::<ModelFile>()
    }

    /// The saved file as its concrete type `T`, if it is one.
    pub fn file<T: 'static>(&self) -> Option<&T> {
        self.saved.as_any().downcast_ref::<T>()
    }

    /// The stored threshold.
    pub fn threshold(&self) -> &Threshold {
        self.saved.threshold()
    }
}

/// What `--algo` accepts, for errors: `use gbdt, forest or logistic (supervised), or
/// unsupervised (alias ensemble; benign windows only)`.
fn algorithms_text() -> String {
    let list = |sup: bool| -> Vec<String> {
        ALGORITHMS
            .iter()
            .filter(|a| a.supervised == sup)
            .map(|a| {
                if a.aliases.is_empty() {
                    a.name.to_string()
                } else {
                    format!("{} (alias {})", a.name, a.aliases.join(", "))
                }
            })
            .collect()
    };
    let join = |v: Vec<String>| match v.split_last() {
        Some((last, [])) => last.clone(),
        Some((last, rest)) => format!("{} or {last}", rest.join(", ")),
        None => String::new(),
    };
    let (sup, unsup) = (join(list(true)), join(list(false)));
    if unsup.is_empty() {
        format!("use {sup}")
    } else {
        format!("use {sup} (supervised), or {unsup} (benign windows only)")
    }
}

/// Checks what needs no data: the algorithm and its parameters, the output name, the
/// window settings and the split shares (the defaults depend on whether a test dataset
/// is given).
fn check_config(a: &TrainConfig, cross: bool) -> Result<(WindowConfig, SplitConfig)> {
    let Some(algo) = algorithm(&a.algo) else {
        bail!(
            "--algo {}: unknown algorithm: {}",
            a.algo,
            algorithms_text()
        );
    };
    algo.trainer.check(&a.params)?;
    if !a.out.to_string_lossy().ends_with(MODEL_SUFFIX) {
        bail!(
            "--out {}: model files must be named *{MODEL_SUFFIX} (that is how `eval --model` recognises them)",
            a.out.display()
        );
    }
    let cfg = a.window.clone();
    cfg.validate().context("invalid window settings")?;
    let shares = SplitConfig {
        by: a.split_by,
        ..a.split.unwrap_or(if cross {
            SplitConfig::CROSS_DEFAULT
        } else {
            SplitConfig::TIME_DEFAULT
        })
    };
    shares.validate(!cross)?;
    if a.export_onnx {
        onnx_paths(&a.out, &a.onnx_form)?;
    }
    Ok((cfg, shares))
}

/// Runs `workbench train`.
pub fn run_train(a: &TrainConfig, quiet: bool) -> Result<TrainOutcome> {
    // Refuse bad arguments before spending minutes on features.
    check_config(a, a.test_dataset.is_some())?;
    let ds = datasets::resolve(&a.dataset, a.data_dir.as_deref())?;
    let test_ds = match &a.test_dataset {
        Some(t) => Some(datasets::resolve(t, a.data_dir.as_deref())?),
        None => None,
    };
    train_datasets(a, &ds, test_ds.as_ref(), quiet)
}

/// `workbench train` on resolved datasets (`test_ds` plays `--test-dataset`).
pub fn train_datasets(
    a: &TrainConfig,
    ds: &Dataset,
    test_ds: Option<&Dataset>,
    quiet: bool,
) -> Result<TrainOutcome> {
    let started = Instant::now();
    let (cfg, shares) = check_config(a, test_ds.is_some())?;
    let algo = algorithm(&a.algo).context("unknown algorithm")?;
    let c = collect_and_split(ds, test_ds, &cfg, shares, quiet, started)?;
    let (data, split) = (&c.data, &c.split);
    if let Some(path) = &a.dump_rows {
        dump::dump_rows(path, data, split, c.test_data.as_ref())?;
    }

    let fit_started = Instant::now();
    let trained = algo.trainer.fit(&FitJob {
        data,
        train: &split.train,
        validation: &split.validation,
        params: &a.params,
    })?;
    let fit_s = fit_started.elapsed().as_secs_f64();

    // Threshold on the validation split.
    let val_labels = c.validation_labels();
    let val_scores: Vec<f64> = split
        .validation
        .iter()
        .map(|&i| trained.predict_proba(data.row(i)))
        .collect();
    let test = c.test_part();
    let tdata = c.tdata();
    let facts = FileFacts {
        schema: data.schema.clone(),
        window: cfg.clone(),
        threshold: {
            let (reference, name) = c.reference_negatives();
            validation_threshold(&val_labels, &val_scores, &reference, name)
        },
        datasets: vec![data.dataset.clone()],
        test_dataset: test.dataset.clone(),
        data_sha256: c.data_sha256(),
        split: c.split_info(),
        rows: c.row_counts(&test.rows),
        validation_pr_auc: average_precision(&val_labels, &val_scores),
    };
    let fit_lines = trained.describe(fit_s);
    let validation_note = trained.validation_note(data, &split.validation, &val_labels);
    let importance = trained.importance(&data.schema.names);
    let saved = trained.save(&a.out, facts.clone())?;
    if let Some(m) = saved.as_any().downcast_ref::<ModelFile>() {
        m.check_schema(&tdata.schema)?;
    }
    let onnx = if a.export_onnx {
        export::export_onnx(&a.out, &a.onnx_form, saved.as_ref(), tdata, &test.rows)?
    } else {
        Vec::new()
    };

    // Evaluate what is on disk, on the test rows.
    let scorer = saved.scorer(model_name(&a.out))?;
    let importance_info = importance.as_ref().map(|i| ImportanceInfo {
        model: model_name(&a.out),
        measure: i.measure.into(),
        features: i.features.clone(),
    });
    let tested =
        test::evaluate_and_report(a, &c, &test, scorer.as_ref(), importance_info.as_ref())?;
    let test_labels: Vec<bool> = tested
        .model_windows
        .iter()
        .map(|w| w.label.is_some())
        .collect();
    let mut sorted_rows = test.rows.clone();
    sorted_rows.sort_unstable();
    let test_note = saved.test_note(tdata, &sorted_rows, &test_labels);
    let (failed_inputs, warnings) = c.input_warnings();
    Ok(TrainOutcome {
        saved,
        path: a.out.clone(),
        facts,
        fit_lines,
        validation_note,
        importance,
        test_name: test.name,
        test: tested.test,
        rules_test: tested.rules_test,
        test_note,
        report_index: Some(tested.report_index),
        onnx,
        timings: Timings {
            features_s: c.features_s,
            fit_s,
            total_s: started.elapsed().as_secs_f64(),
        },
        failed_inputs,
        warnings,
    })
}
