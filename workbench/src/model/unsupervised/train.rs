//! `workbench train --algo unsupervised` (alias `ensemble`): the same collect → time
//! split → fit → threshold on validation → save → reload → evaluate on the test split
//! as the supervised algorithms, except that fitting sees only the benign rows of the
//! training split and the normalisers are calibrated on the benign validation rows.

use std::io::Write;
use std::path::PathBuf;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use serde::Serialize;

use super::{
    UnsupervisedFile, UnsupervisedModel, UnsupervisedParams, UnsupervisedScorer,
    UnsupervisedTraining, KIND, MEMBERS,
};
use crate::cli::TrainArgs;
use crate::commands_train::{test_windows, OnnxExport, Timings};
use crate::datasets::Dataset;
use crate::eval::metrics::{average_precision, threshold_at_fpr};
use crate::eval::scorer::RulesScorer;
use crate::eval::{evaluate, EvalResult, Scorer};
use crate::model::file::{write_atomic, RowCounts, SplitInfo, Threshold, FORMAT, FORMAT_VERSION};
use crate::model::onnx::{OnnxOptions, OnnxScorer};
use crate::model::split::SplitBy;
use crate::model::{
    collect, cross_split, model_name, rows_sha256, time_split, SplitConfig, TrainingData,
    MODEL_SUFFIX,
};
use crate::report::{write_report, ModelRun};

/// The `--algo` values that select this trainer.
pub fn is_algo(algo: &str) -> bool {
    matches!(algo, "unsupervised" | "ensemble")
}

const TARGET_FPR: f64 = 0.01;
const ONNX_CHECK_ROWS: usize = 512;
const ONNX_TOLERANCE: f64 = 1e-5;

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

fn rows_f64(data: &TrainingData, rows: &[usize]) -> Vec<Vec<f64>> {
    rows.iter()
        .map(|&i| data.row(i).iter().map(|&v| f64::from(v)).collect())
        .collect()
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
    if !a.out.to_string_lossy().ends_with(MODEL_SUFFIX) {
        bail!(
            "--out {}: model files must be named *{MODEL_SUFFIX} (that is how `eval --model` recognises them)",
            a.out.display()
        );
    }
    let cross = test_ds.is_some();
    let cfg = a.window.config();
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
    let onnx_path = a.export.as_ref().map(|_| {
        PathBuf::from(format!(
            "{}.onnx",
            a.out
                .to_string_lossy()
                .strip_suffix(MODEL_SUFFIX)
                .unwrap_or_default()
        ))
    });

    let data = collect(ds, &cfg, quiet)?;
    let test_data = match test_ds {
        Some(t) => Some(collect(t, &cfg, quiet)?),
        None => None,
    };
    let features_s = started.elapsed().as_secs_f64();
    let longest = cfg.widths_s.iter().copied().fold(0.0, f64::max);
    let gap_ns = (longest * 1e9).round() as u64;
    let split = match &test_data {
        None => time_split(&data.end_ns, shares, gap_ns)?,
        Some(_) => cross_split(&data.end_ns, shares, gap_ns)?,
    };

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
        &rows_f64(&data, &fit_rows),
        &rows_f64(&data, &cal_rows),
        &data.schema.names,
        &params,
    )?;
    let fit_s = fit_started.elapsed().as_secs_f64();

    // Threshold on the whole validation split (benign and attack), as for GBDT.
    let val_labels: Vec<bool> = split
        .validation
        .iter()
        .map(|&i| data.is_positive(i))
        .collect();
    let val_rows = rows_f64(&data, &split.validation);
    let val_members: Vec<[f64; 4]> = val_rows.iter().map(|r| model.member_scores(r)).collect();
    let val_scores: Vec<f64> = val_members
        .iter()
        .map(|m| m.iter().sum::<f64>() / 4.0)
        .collect();
    let at = threshold_at_fpr(&val_labels, &val_scores, TARGET_FPR);
    let member_auc = |members: &[[f64; 4]], labels: &[bool]| -> Vec<Option<f64>> {
        (0..MEMBERS.len())
            .map(|j| {
                let s: Vec<f64> = members.iter().map(|m| m[j]).collect();
                average_precision(labels, &s)
            })
            .collect()
    };

    let (test_rows, test_name, test_dataset_name): (Vec<usize>, String, Option<String>) =
        match &test_data {
            Some(t) => (
                (0..t.len()).collect(),
                format!("{} (cross-dataset test)", t.dataset),
                Some(t.dataset.clone()),
            ),
            None => (
                split.test.clone(),
                format!(
                    "{} (test split: last {:.0}% of the {})",
                    data.dataset,
                    (1.0 - shares.train - shares.validation) * 100.0,
                    match shares.by {
                        SplitBy::Time => "time span",
                        SplitBy::Rows => "rows in time order",
                    }
                ),
                None,
            ),
        };
    let tdata = test_data.as_ref().unwrap_or(&data);
    let file = UnsupervisedFile {
        format: FORMAT.into(),
        format_version: FORMAT_VERSION,
        kind: KIND.into(),
        workbench_version: env!("CARGO_PKG_VERSION").into(),
        schema_fingerprint: data.schema.fingerprint(),
        schema: data.schema.clone(),
        window: cfg.clone(),
        threshold: Threshold {
            value: at.threshold,
            target_fpr: TARGET_FPR,
            chosen_on: "validation".into(),
            tpr: at.tpr,
            fpr: at.fpr,
        },
        training: UnsupervisedTraining {
            datasets: vec![data.dataset.clone()],
            test_dataset: test_dataset_name,
            data_sha256: rows_sha256(&data, &[&split.train, &split.validation]),
            split: SplitInfo {
                mode: if cross { "cross_dataset" } else { "time" }.into(),
                shares,
                purge_gap_s: longest,
            },
            rows: RowCounts {
                train: split.train.len() as u64,
                train_positives: data.positives(&split.train) as u64,
                validation: split.validation.len() as u64,
                validation_positives: data.positives(&split.validation) as u64,
                test: test_rows.len() as u64,
                test_positives: tdata.positives(&test_rows) as u64,
                purged: split.purged as u64,
                unused: split.unused as u64,
            },
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
        write_atomic(&path, &bytes)?;
        let step = (test_rows.len() / ONNX_CHECK_ROWS).max(1);
        let sample: Vec<usize> = test_rows
            .iter()
            .step_by(step)
            .take(ONNX_CHECK_ROWS)
            .copied()
            .collect();
        let mut values = Vec::with_capacity(sample.len() * tdata.n_features());
        for &i in &sample {
            values.extend_from_slice(tdata.row(i));
        }
        let onnx_scorer = OnnxScorer::load_with(&path, &tdata.schema, &OnnxOptions::default())?;
        let theirs = onnx_scorer.score_rows(&values, sample.len())?;
        let mut worst = 0f64;
        for (r, t) in rows_f64(tdata, &sample).iter().zip(&theirs) {
            let d = (scorer.score(r).value - t).abs();
            worst = if d.is_nan() {
                f64::INFINITY
            } else {
                worst.max(d)
            };
        }
        if worst > ONNX_TOLERANCE {
            bail!(
                "the ONNX export {} scores up to {worst:e} away from the model on test rows (tolerance {ONNX_TOLERANCE:e}); refusing it",
                path.display()
            );
        }
        onnx.push(OnnxExport {
            path,
            form: "plain".into(),
            bytes: bytes.len() as u64,
            checked_rows: sample.len(),
            max_abs_diff: worst,
        });
    }

    let rules = RulesScorer::new(&tdata.schema)?;
    let (mut windows, labeler, matched) = test_windows(tdata, &test_rows, &[&scorer, &rules]);
    let rules_windows = windows.pop().unwrap_or_default();
    let model_windows = windows.pop().unwrap_or_default();
    let (width_s, hop_s) = (cfg.widths_s[0], cfg.hop_s);
    let test = evaluate(
        scorer.name(),
        &model_windows,
        &labeler,
        &matched,
        scorer.default_threshold(),
        width_s,
        hop_s,
    );
    let rules_test = evaluate(
        rules.name(),
        &rules_windows,
        &labeler,
        &matched,
        rules.default_threshold(),
        width_s,
        hop_s,
    );
    // Members alone on the test rows, with the labels the evaluation used.
    let test_labels: Vec<bool> = model_windows.iter().map(|w| w.label.is_some()).collect();
    let mut sorted_rows = test_rows.clone();
    sorted_rows.sort_unstable();
    let test_members: Vec<[f64; 4]> = rows_f64(tdata, &sorted_rows)
        .iter()
        .map(|r| loaded.model.member_scores(r))
        .collect();
    let test_member_pr_auc = member_auc(&test_members, &test_labels);

    let report_dir = a.report.clone().unwrap_or_else(|| {
        let ds_name = std::path::Path::new(&tdata.dataset)
            .file_name()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "dataset".into());
        PathBuf::from("reports").join(format!("{ds_name}-{}-test", model_name(&a.out)))
    });
    let report_index = write_report(
        &report_dir,
        &tdata.info(test_name.clone()),
        &cfg,
        &[
            ModelRun {
                result: test.clone(),
                windows: &model_windows,
            },
            ModelRun {
                result: rules_test.clone(),
                windows: &rules_windows,
            },
        ],
    )?;
    let mut warnings = Vec::new();
    for d in std::iter::once(&data).chain(test_data.as_ref()) {
        warnings.extend(d.run.inputs.iter().filter_map(|i| i.error.clone()));
    }
    Ok(UnsupervisedOutcome {
        model: file,
        path: a.out.clone(),
        test_name,
        test,
        rules_test,
        test_member_pr_auc,
        report_index: Some(report_index),
        onnx,
        timings: Timings {
            features_s,
            fit_s,
            total_s: started.elapsed().as_secs_f64(),
        },
        warnings,
    })
}

fn fmt_opt(x: Option<f64>) -> String {
    x.map_or("n/a".to_string(), |v| format!("{v:.4}"))
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
    let e = &o.test;
    writeln!(
        out,
        "test on {}: {} windows, {} attack (base rate {:.4})",
        o.test_name, e.windows, e.positives, e.base_rate
    )?;
    let at = &e.at_model_threshold;
    writeln!(
        out,
        "  model {}: PR-AUC {}  ROC-AUC {}; at its threshold: TPR {:.3}  FPR {:.4}  precision {:.3}",
        e.model,
        fmt_opt(e.pr_auc),
        fmt_opt(e.roc_auc),
        at.tpr,
        at.fpr,
        at.precision
    )?;
    writeln!(
        out,
        "  members alone: {}",
        member_list(&o.test_member_pr_auc)
    )?;
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
        fmt_opt(o.rules_test.pr_auc)
    )?;
    for w in &o.warnings {
        writeln!(out, "  warning: {w}")?;
    }
    writeln!(out, "model: {}", o.path.display())?;
    for x in &o.onnx {
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
    if let Some(p) = &o.report_index {
        writeln!(out, "report: {}", p.display())?;
    }
    Ok(())
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
