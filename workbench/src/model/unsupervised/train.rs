//! `workbench train --algo unsupervised` (alias `ensemble`): the same collect → time
//! split → fit → threshold on validation → save → reload → evaluate on the test split
//! as the supervised algorithms, except that fitting sees only the benign rows of the
//! training split and the normalisers are calibrated on the benign validation rows.

use std::io::Write;
use std::path::PathBuf;
use std::time::Instant;

use anyhow::{bail, Result};
use serde::Serialize;

use super::{
    UnsupervisedFile, UnsupervisedModel, UnsupervisedParams, UnsupervisedScorer,
    UnsupervisedTraining, KIND, MEMBERS,
};
use crate::cli::TrainArgs;
use crate::commands_train::{
    check_out_window_split, collect_and_split, evaluate_and_report, fmt_opt, onnx_paths,
    onnx_sample, print_files, print_test, validation_threshold, write_checked_onnx, OnnxExport,
    Timings,
};
use crate::datasets::Dataset;
use crate::eval::metrics::average_precision;
use crate::eval::{EvalResult, Scorer};
use crate::model::file::{FORMAT, FORMAT_VERSION};
use crate::model::{model_name, TrainingData};

/// The `--algo` values that select this trainer.
pub fn is_algo(algo: &str) -> bool {
    matches!(algo, "unsupervised" | "ensemble")
}

/// Everything an unsupervised training run produced.
pub struct UnsupervisedOutcome {
    pub model: UnsupervisedFile,
    pub path: PathBuf,
    pub test_name: String,
    pub test: EvalResult,
    pub rules_test: EvalResult,
    /// PR-AUC of each member alone on the test rows ([`MEMBERS`] order).
    pub test_member_pr_auc: Vec<Option<f64>>,
    pub report_index: Option<PathBuf>,
    pub onnx: Vec<OnnxExport>,
    pub timings: Timings,
    pub warnings: Vec<String>,
}

fn row_f64(row: &[f32]) -> Vec<f64> {
    row.iter().map(|&v| f64::from(v)).collect()
}

fn rows_f64(data: &TrainingData, rows: &[usize]) -> Vec<Vec<f64>> {
    rows.iter().map(|&i| row_f64(data.row(i))).collect()
}

/// `workbench train --algo unsupervised`: resolves the datasets and trains.
pub fn run_unsupervised(a: &TrainArgs, quiet: bool) -> Result<UnsupervisedOutcome> {
    let ds = crate::datasets::resolve(&a.dataset, a.data_dir.as_deref())?;
    let test_ds = match &a.test_dataset {
        Some(t) => Some(crate::datasets::resolve(t, a.data_dir.as_deref())?),
        None => None,
    };
    train_unsupervised(a, &ds, test_ds.as_ref(), quiet)
}

/// Runs training on resolved datasets (`test_ds` plays `--test-dataset`).
pub fn train_unsupervised(
    a: &TrainArgs,
    ds: &Dataset,
    test_ds: Option<&Dataset>,
    quiet: bool,
) -> Result<UnsupervisedOutcome> {
    let started = Instant::now();
    if !is_algo(&a.algo) {
        bail!("--algo {} is not the unsupervised ensemble", a.algo);
    }
    let (cfg, shares) = check_out_window_split(a, test_ds.is_some())?;
    // One graph of standard operators (`x.onnx`): there is no tree form to choose.
    let onnx_path = match a.export {
        Some(_) => onnx_paths(&a.out, "plain")?.pop().map(|(p, _)| p),
        None => None,
    };
    let c = collect_and_split(ds, test_ds, &cfg, shares, quiet, started)?;
    let (data, split) = (&c.data, &c.split);

    // Benign rows only: the ensemble learns what normal looks like.
    let benign = |rows: &[usize]| -> Vec<usize> {
        rows.iter()
            .copied()
            .filter(|&i| !data.is_positive(i))
            .collect()
    };
    let (fit_rows, cal_rows) = (benign(&split.train), benign(&split.validation));
    if fit_rows.len() < 2 || cal_rows.is_empty() {
        bail!(
            "{}: {} benign training and {} benign validation windows; the unsupervised ensemble needs both",
            data.dataset,
            fit_rows.len(),
            cal_rows.len()
        );
    }
    let params = UnsupervisedParams {
        seed: a.seed,
        ..UnsupervisedParams::default()
    };
    let fit_started = Instant::now();
    let model = UnsupervisedModel::fit_split(
        &rows_f64(data, &fit_rows),
        &rows_f64(data, &cal_rows),
        &data.schema.names,
        &params,
    )?;
    let fit_s = fit_started.elapsed().as_secs_f64();

    // Threshold on the whole validation split (benign and attack), as for GBDT.
    let val_labels = c.validation_labels();
    let val_members: Vec<[f64; 4]> = rows_f64(data, &split.validation)
        .iter()
        .map(|r| model.member_scores(r))
        .collect();
    let val_scores: Vec<f64> = val_members
        .iter()
        .map(|m| m.iter().sum::<f64>() / 4.0)
        .collect();
    let member_auc = |members: &[[f64; 4]], labels: &[bool]| -> Vec<Option<f64>> {
        (0..MEMBERS.len())
            .map(|j| {
                let s: Vec<f64> = members.iter().map(|m| m[j]).collect();
                average_precision(labels, &s)
            })
            .collect()
    };

    let test = c.test_part();
    let tdata = c.tdata();
    let file = UnsupervisedFile {
        format: FORMAT.into(),
        format_version: FORMAT_VERSION,
        kind: KIND.into(),
        workbench_version: env!("CARGO_PKG_VERSION").into(),
        schema_fingerprint: data.schema.fingerprint(),
        schema: data.schema.clone(),
        window: cfg.clone(),
        threshold: {
            let (reference, name) = c.reference_negatives();
            validation_threshold(&val_labels, &val_scores, &reference, name)
        },
        training: UnsupervisedTraining {
            datasets: vec![data.dataset.clone()],
            test_dataset: test.dataset.clone(),
            data_sha256: c.data_sha256(),
            split: c.split_info(),
            rows: c.row_counts(&test.rows),
            benign_fit_rows: fit_rows.len() as u64,
            benign_calibration_rows: cal_rows.len() as u64,
            validation_pr_auc: average_precision(&val_labels, &val_scores),
            validation_member_pr_auc: member_auc(&val_members, &val_labels),
        },
        model,
    };
    file.save(&a.out)?;
    let loaded = UnsupervisedFile::load(&a.out)?;
    if loaded != file {
        bail!(
            "model file {} does not read back as it was written",
            a.out.display()
        );
    }
    loaded.check_schema(&tdata.schema)?;
    let scorer = UnsupervisedScorer::new(model_name(&a.out), &loaded);

    let mut onnx = Vec::new();
    if let Some(path) = onnx_path {
        let bytes = super::onnx::export(&loaded)?;
        let (sample, values) = onnx_sample(tdata, &test.rows);
        onnx.push(write_checked_onnx(
            path,
            "plain",
            &bytes,
            tdata,
            (&sample, &values),
            &|row| scorer.score(&row_f64(row)).value,
        )?);
    }

    let tested = evaluate_and_report(a, &c, &test, &scorer, None)?;
    // Members alone on the test rows, with the labels the evaluation used.
    let test_labels: Vec<bool> = tested
        .model_windows
        .iter()
        .map(|w| w.label.is_some())
        .collect();
    let mut sorted_rows = test.rows.clone();
    sorted_rows.sort_unstable();
    let test_members: Vec<[f64; 4]> = rows_f64(tdata, &sorted_rows)
        .iter()
        .map(|r| loaded.model.member_scores(r))
        .collect();
    let test_member_pr_auc = member_auc(&test_members, &test_labels);
    let (_, warnings) = c.input_warnings();
    Ok(UnsupervisedOutcome {
        model: file,
        path: a.out.clone(),
        test_name: test.name,
        test: tested.test,
        rules_test: tested.rules_test,
        test_member_pr_auc,
        report_index: Some(tested.report_index),
        onnx,
        timings: Timings {
            features_s: c.features_s,
            fit_s,
            total_s: started.elapsed().as_secs_f64(),
        },
        warnings,
    })
}

/// Prints a training run for people.
pub fn print_unsupervised(out: &mut dyn Write, o: &UnsupervisedOutcome) -> Result<()> {
    let t = &o.model.training;
    let r = &t.rows;
    writeln!(
        out,
        "trained on {}: split ({}) train {} windows ({} benign used), validation {} ({} benign calibrate the normalisers), test {} ({} attack); {:.2} s features, {:.2} s fit",
        t.datasets.join(", "),
        t.split.mode,
        r.train,
        t.benign_fit_rows,
        r.validation,
        t.benign_calibration_rows,
        r.test,
        r.test_positives,
        o.timings.features_s,
        o.timings.fit_s
    )?;
    let m = &o.model.model;
    writeln!(
        out,
        "unsupervised: k-means k={}, LOF k={} over {} reference rows, linear one-class SVM ν={}, isolation forest {} trees × {} rows",
        m.kmeans.k,
        m.lof.k,
        m.lof.k_distance.len(),
        m.ocsvm.nu,
        m.iforest.trees.trees.len(),
        m.iforest.sample_size
    )?;
    let th = &o.model.threshold;
    writeln!(
        out,
        "validation: PR-AUC {} (members {}); threshold at {}% FPR {:.6} (TPR {:.3}, FPR {:.4})",
        fmt_opt(t.validation_pr_auc),
        member_list(&t.validation_member_pr_auc),
        th.target_fpr * 100.0,
        th.value,
        th.tpr,
        th.fpr
    )?;
    let members = format!("  members alone: {}", member_list(&o.test_member_pr_auc));
    print_test(out, &o.test_name, &o.test, Some(&members), &o.rules_test)?;
    print_files(
        out,
        &o.warnings,
        &o.path,
        &o.onnx,
        o.report_index.as_deref(),
    )
}

fn member_list(v: &[Option<f64>]) -> String {
    MEMBERS
        .iter()
        .zip(v)
        .map(|(n, a)| format!("{n} {}", fmt_opt(*a)))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The run as one JSON object (`--json`).
pub fn unsupervised_json(o: &UnsupervisedOutcome) -> serde_json::Value {
    #[derive(Serialize)]
    struct Members<'a> {
        names: [&'a str; 4],
        test_pr_auc: &'a [Option<f64>],
    }
    serde_json::json!({
        "model": o.path.display().to_string(),
        "kind": KIND,
        "training": o.model.training,
        "threshold": o.model.threshold,
        "members": Members { names: MEMBERS, test_pr_auc: &o.test_member_pr_auc },
        "test_name": o.test_name,
        "test": o.test,
        "rules_test": o.rules_test,
        "report": o.report_index.as_ref().map(|p| p.display().to_string()),
        "onnx": o.onnx,
        "timings": o.timings,
    })
}
