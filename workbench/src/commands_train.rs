//! `workbench train`: glue between datasets, the training data, the split, GBDT
//! training, the model file and the test evaluation + report.

use std::io::Write;
use std::path::PathBuf;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use serde::Serialize;

use crate::cli::TrainArgs;
use crate::datasets::{self, Dataset};
use crate::engine::{WindowConfig, F};
use crate::eval::metrics::{average_precision, threshold_at_fpr};
use crate::eval::scorer::RulesScorer;
use crate::eval::{evaluate, EvalResult, Labeler, ScoredWindow, Scorer};
use crate::model::file::write_atomic;
use crate::model::file::{RowCounts, SplitInfo, Threshold, TrainingInfo, FORMAT, FORMAT_VERSION};
use crate::model::gbdt::{self, FitInfo};
use crate::model::onnx::{self, OnnxForm, OnnxOptions, OnnxScorer};
use crate::model::{
    collect, cross_split, model_name, model_scorer, rows_sha256, time_split, FeatureImportance,
    GbdtParams, ModelFile, ModelKind, SplitConfig, TrainingData, MODEL_SUFFIX,
};
use crate::model::{forest, logistic, TreeEnsemble};
use crate::report::{write_report_with, ImportanceInfo, ModelRun};

/// The false-positive budget the stored threshold is chosen for (the evaluation's).
const TARGET_FPR: f64 = 0.01;

/// What `--algo` accepts.
const ALGOS_LATER: &str =
    "unknown algorithm: use gbdt, forest or logistic (the unsupervised ensemble comes with the training issue)";

/// Wall time of each phase, seconds.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Timings {
    pub features_s: f64,
    pub fit_s: f64,
    pub total_s: f64,
}

/// Everything a training run produced.
pub struct TrainOutcome {
    /// The model as trained (and as written: the file is checked to read back equal).
    pub model: ModelFile,
    /// Where.
    pub path: PathBuf,
    /// Describes the test rows (`synthetic, last 20% by time`).
    pub test_name: String,
    /// The model on the test rows.
    pub test: EvalResult,
    /// The rules baseline on the same test rows.
    pub rules_test: EvalResult,
    pub report_index: Option<PathBuf>,
    /// ONNX exports (`--export onnx`).
    pub onnx: Vec<OnnxExport>,
    pub timings: Timings,
    /// Inputs that failed (partially read) in either dataset.
    pub failed_inputs: usize,
    /// Input errors, for printing.
    pub warnings: Vec<String>,
}

/// One ONNX file written by `--export onnx`.
#[derive(Clone, Debug, Serialize)]
pub struct OnnxExport {
    pub path: PathBuf,
    /// `tree_ensemble` or `plain`.
    pub form: String,
    pub bytes: u64,
    /// Rows of the test split scored through tract to check the file.
    pub checked_rows: usize,
    /// Largest |native - tract| probability on them.
    pub max_abs_diff: f64,
}

/// Rows checked against the native model after an ONNX export.
const ONNX_CHECK_ROWS: usize = 512;
/// Largest probability difference accepted between the file and the native model.
const ONNX_TOLERANCE: f64 = 1e-5;

/// The ONNX paths for a model file: `x.wbm.json` → `x.onnx` (and `x.plain.onnx` when
/// both forms are written).
pub fn onnx_paths(out: &std::path::Path, form: &str) -> Result<Vec<(PathBuf, OnnxForm)>> {
    let s = out.to_string_lossy();
    let stem = s
        .strip_suffix(MODEL_SUFFIX)
        .with_context(|| format!("{}: not a *{MODEL_SUFFIX} path", out.display()))?;
    Ok(match form {
        "both" => vec![
            (
                PathBuf::from(format!("{stem}.onnx")),
                OnnxForm::TreeEnsemble,
            ),
            (PathBuf::from(format!("{stem}.plain.onnx")), OnnxForm::Plain),
        ],
        f => vec![(
            PathBuf::from(format!("{stem}.onnx")),
            f.parse::<OnnxForm>().map_err(anyhow::Error::msg)?,
        )],
    })
}

/// Up to [`ONNX_CHECK_ROWS`] rows spread over `rows`, and their values row-major.
pub(crate) fn onnx_sample(data: &TrainingData, rows: &[usize]) -> (Vec<usize>, Vec<f32>) {
    let step = (rows.len() / ONNX_CHECK_ROWS).max(1);
    let sample: Vec<usize> = rows
        .iter()
        .step_by(step)
        .take(ONNX_CHECK_ROWS)
        .copied()
        .collect();
    let mut values = Vec::with_capacity(sample.len() * data.n_features());
    for &i in &sample {
        values.extend_from_slice(data.row(i));
    }
    (sample, values)
}

/// Writes an exported ONNX file and checks it through tract against `native` (the
/// model's own score of a row) on the sampled rows; a file further than
/// [`ONNX_TOLERANCE`] from the model is refused.
pub(crate) fn write_checked_onnx(
    path: PathBuf,
    form: &str,
    bytes: &[u8],
    data: &TrainingData,
    (sample, values): (&[usize], &[f32]),
    native: &dyn Fn(&[f32]) -> f64,
) -> Result<OnnxExport> {
    write_atomic(&path, bytes)?;
    let scorer = OnnxScorer::load_with(&path, &data.schema, &OnnxOptions::default())?;
    let probs = scorer.score_rows(values, sample.len())?;
    let mut worst = 0f64;
    for (&i, p) in sample.iter().zip(&probs) {
        let d = (native(data.row(i)) - p).abs();
        worst = if d.is_nan() {
            f64::INFINITY
        } else {
            worst.max(d)
        };
    }
    if worst > ONNX_TOLERANCE {
        bail!(
            "the ONNX export {} ({form}) scores up to {worst:e} away from the model on test rows (tolerance {ONNX_TOLERANCE:e}); refusing it",
            path.display()
        );
    }
    Ok(OnnxExport {
        path,
        form: form.into(),
        bytes: bytes.len() as u64,
        checked_rows: sample.len(),
        max_abs_diff: worst,
    })
}

/// Writes the ONNX exports of `model` and checks each through tract on some rows.
fn export_onnx(
    a: &TrainArgs,
    model: &ModelFile,
    data: &TrainingData,
    rows: &[usize],
) -> Result<Vec<OnnxExport>> {
    if a.export.is_none() {
        return Ok(Vec::new());
    }
    let (sample, values) = onnx_sample(data, rows);
    let mut out = Vec::new();
    let mut paths = onnx_paths(&a.out, &a.onnx_form)?;
    if model.kind == ModelKind::Logistic {
        // One graph of standard operators; there is no tree form to choose.
        paths.truncate(1);
        paths[0].1 = OnnxForm::Plain;
    }
    for (path, form) in paths {
        let bytes = onnx::export(model, form)?;
        out.push(write_checked_onnx(
            path,
            form.name(),
            &bytes,
            data,
            (&sample, &values),
            &|row| model.predict_proba(row),
        )?);
    }
    Ok(out)
}

/// Scored, labelled windows of some rows of `data` for evaluating on them: labels come
/// from the episodes overlapping those rows' time span only (so episodes of the
/// training period do not count as missed), rows keep emission order.
pub(crate) fn test_windows(
    data: &TrainingData,
    rows: &[usize],
    scorers: &[&dyn Scorer],
) -> (Vec<Vec<ScoredWindow>>, Labeler, Vec<bool>) {
    let width_s = data.window.widths_s[0];
    let mut rows = rows.to_vec();
    rows.sort_unstable();
    let (lo, hi) = rows.iter().fold((u64::MAX, 0u64), |(lo, hi), &i| {
        (lo.min(data.end_ns[i]), hi.max(data.end_ns[i]))
    });
    let (span_start, span_end) = (lo as f64 / 1e9 - width_s, hi as f64 / 1e9);
    let episodes = data
        .episodes
        .iter()
        .filter(|e| e.end_ts >= span_start && e.start_ts < span_end)
        .cloned()
        .collect();
    let labeler = Labeler::new(episodes);
    let mut matched = vec![false; labeler.episodes().len()];
    let mut out = vec![Vec::with_capacity(rows.len()); scorers.len()];
    let mut values = vec![0f64; data.n_features()];
    for &i in &rows {
        let host = data.hosts[i];
        let end_s = data.end_ns[i] as f64 / 1e9;
        let label = labeler.label(host, end_s - width_s, end_s);
        for e in labeler.all_labels(host, end_s - width_s, end_s) {
            matched[e] = true;
        }
        for (v, &x) in values.iter_mut().zip(data.row(i)) {
            *v = f64::from(x);
        }
        for (s, windows) in scorers.iter().zip(out.iter_mut()) {
            let score = s.score(&values);
            windows.push(ScoredWindow {
                end_ns: data.end_ns[i],
                host,
                score: if score.value.is_finite() {
                    score.value
                } else {
                    0.0
                },
                threat: score.threat,
                label: label.map(|(e, r)| (e as u32, r)),
            });
        }
    }
    (out, labeler, matched)
}

/// Writes every row of `data` (with its split part) and of `test` (part `test`) as CSV:
/// `dataset,part,end_ns,host,label,attack_type,<features...>` (the hidden
/// `train --dump-rows`, for benchmarks against other trainers on the same rows).
fn dump_rows(
    path: &std::path::Path,
    data: &TrainingData,
    split: &crate::model::Split,
    test: Option<&TrainingData>,
) -> Result<()> {
    let f = std::fs::File::create(path).with_context(|| format!("creating {}", path.display()))?;
    let mut w = std::io::BufWriter::with_capacity(1 << 20, f);
    let mut part = vec!["unused"; data.len()];
    for (rows, name) in [
        (&split.train, "train"),
        (&split.validation, "validation"),
        (&split.test, "test"),
    ] {
        for &i in rows {
            part[i] = name;
        }
    }
    let err = |e: std::io::Error| anyhow::anyhow!("writing {}: {e}", path.display());
    write!(w, "dataset,part,end_ns,host,label,attack_type").map_err(err)?;
    for n in &data.schema.names {
        write!(w, ",{n}").map_err(err)?;
    }
    writeln!(w).map_err(err)?;
    let sets: Vec<(&TrainingData, Option<&[&str]>)> = std::iter::once((data, Some(&part[..])))
        .chain(test.map(|t| (t, None)))
        .collect();
    for (d, parts) in sets {
        for i in 0..d.len() {
            let p = parts.map_or("test", |p| p[i]);
            let (label, attack) = match d.labels[i] {
                Some((e, _)) => (1, d.episodes[e as usize].attack_type.name()),
                None => (0, ""),
            };
            write!(
                w,
                "{},{p},{},{},{label},{attack}",
                d.dataset.replace(',', "_"),
                d.end_ns[i],
                d.hosts[i]
            )
            .map_err(err)?;
            for v in d.row(i) {
                write!(w, ",{v}").map_err(err)?;
            }
            writeln!(w).map_err(err)?;
        }
    }
    w.flush().map_err(err)?;
    Ok(())
}

/// What `--algo` fitted: the model's kind and the payload fields of its file.
struct FittedAlgo {
    kind: ModelKind,
    /// The trees (`gbdt`, `forest`), or none.
    ensemble: TreeEnsemble,
    logistic: Option<logistic::LogisticModel>,
    gbdt: Option<(GbdtParams, FitInfo)>,
    forest: Option<forest::ForestParams>,
    logistic_fit: Option<logistic::LogisticFit>,
}

impl FittedAlgo {
    fn predict_proba(&self, row: &[f32]) -> f64 {
        match (&self.logistic, self.kind) {
            (Some(l), _) => l.predict_proba(row),
            (None, ModelKind::Forest) => forest::forest_proba(&self.ensemble, row),
            (None, _) => self.ensemble.predict_proba(row),
        }
    }
}

/// The positive-row weight `--positive-weight` asks for on the training split.
fn positive_weight(a: &TrainArgs, data: &TrainingData, train: &[usize]) -> f64 {
    let pos = data.positives(train).max(1) as f64;
    let neg = (train.len() as f64 - pos).max(1.0);
    match a.positive_weight {
        crate::model::PositiveWeight::Balanced => neg / pos,
        crate::model::PositiveWeight::Sqrt => (neg / pos).sqrt(),
        crate::model::PositiveWeight::Fixed(w) => w,
    }
}

/// Fits the algorithm `--algo` names on the training split (GBDT early-stops on the
/// validation split).
fn fit_algo(
    a: &TrainArgs,
    params: &GbdtParams,
    data: &TrainingData,
    split: &crate::model::Split,
) -> Result<FittedAlgo> {
    let mut f = FittedAlgo {
        kind: ModelKind::Gbdt,
        ensemble: crate::model::file::no_trees(),
        logistic: None,
        gbdt: None,
        forest: None,
        logistic_fit: None,
    };
    match a.algo.as_str() {
        "forest" => {
            let p = forest::ForestParams {
                trees: a.trees,
                depth: a.forest_depth,
                sample_rows: a.sample_rows,
                positive_weight: positive_weight(a, data, &split.train),
                seed: a.seed,
                ..forest::ForestParams::default()
            };
            f.kind = ModelKind::Forest;
            f.ensemble = forest::train(data, &split.train, &p)?;
            f.forest = Some(p);
        }
        "logistic" => {
            let p = logistic::LogisticParams {
                positive_weight: positive_weight(a, data, &split.train),
                ..logistic::LogisticParams::default()
            };
            let (m, fit) = logistic::train(data, &split.train, &p)?;
            f.kind = ModelKind::Logistic;
            f.logistic = Some(m);
            f.logistic_fit = Some(fit);
        }
        _ => {
            let (ensemble, fit) = gbdt::train(data, &split.train, &split.validation, params)?;
            f.ensemble = ensemble;
            f.gbdt = Some((params.clone(), fit));
        }
    }
    Ok(f)
}

/// Checks the arguments that need no data: algorithm, parameters, output name,
/// window settings and split shares.
fn check_args(a: &TrainArgs, cross: bool) -> Result<(GbdtParams, WindowConfig, SplitConfig)> {
    if !matches!(a.algo.as_str(), "gbdt" | "forest" | "logistic") {
        bail!("--algo {}: {ALGOS_LATER}", a.algo);
    }
    let params = a.gbdt_params();
    params.validate()?;
    let (cfg, shares) = check_out_window_split(a, cross)?;
    if a.export.is_some() {
        onnx_paths(&a.out, &a.onnx_form)?;
    }
    Ok((params, cfg, shares))
}

/// Checks what every algorithm needs: the output name, the window settings and the
/// split shares (the defaults depend on whether a test dataset is given).
pub(crate) fn check_out_window_split(
    a: &TrainArgs,
    cross: bool,
) -> Result<(WindowConfig, SplitConfig)> {
    if !a.out.to_string_lossy().ends_with(MODEL_SUFFIX) {
        bail!(
            "--out {}: model files must be named *{MODEL_SUFFIX} (that is how `eval --model` recognises them)",
            a.out.display()
        );
    }
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
    Ok((cfg, shares))
}

/// Runs `workbench train`.
pub fn run_train(a: &TrainArgs, quiet: bool) -> Result<TrainOutcome> {
    // Refuse bad arguments before spending minutes on features.
    check_args(a, a.test_dataset.is_some())?;
    let ds = datasets::resolve(&a.dataset, a.data_dir.as_deref())?;
    let test_ds = match &a.test_dataset {
        Some(t) => Some(datasets::resolve(t, a.data_dir.as_deref())?),
        None => None,
    };
    train_datasets(a, &ds, test_ds.as_ref(), quiet)
}

/// The training data of a run: features of the dataset (and of `--test-dataset`),
/// split by time with a purge gap of the longest window.
pub(crate) struct Collected {
    pub data: TrainingData,
    pub test_data: Option<TrainingData>,
    pub split: crate::model::Split,
    pub shares: SplitConfig,
    /// The purge gap, seconds (the longest window).
    pub longest: f64,
    pub features_s: f64,
    /// The window settings the features were computed with.
    pub cfg: WindowConfig,
}

/// Computes the features (one pass per dataset) and splits them.
pub(crate) fn collect_and_split(
    ds: &Dataset,
    test_ds: Option<&Dataset>,
    cfg: &WindowConfig,
    shares: SplitConfig,
    quiet: bool,
    started: Instant,
) -> Result<Collected> {
    let data = collect(ds, cfg, quiet)?;
    let test_data = match test_ds {
        Some(t) => Some(collect(t, cfg, quiet)?),
        None => None,
    };
    let features_s = started.elapsed().as_secs_f64();
    let longest = cfg.widths_s.iter().copied().fold(0.0, f64::max);
    let gap_ns = (longest * 1e9).round() as u64;
    let split = match &test_data {
        None => time_split(&data.end_ns, &data.timeline, shares, gap_ns)?,
        Some(_) => cross_split(&data.end_ns, &data.timeline, shares, gap_ns)?,
    };
    Ok(Collected {
        data,
        test_data,
        split,
        shares,
        longest,
        features_s,
        cfg: cfg.clone(),
    })
}

/// The rows a model is tested on: all of `--test-dataset`, else the test split.
pub(crate) struct TestPart {
    pub rows: Vec<usize>,
    /// Describes them (`synthetic (test split: last 20% of the time span)`).
    pub name: String,
    /// `--test-dataset`'s name.
    pub dataset: Option<String>,
}

impl Collected {
    /// The data the test rows index.
    pub fn tdata(&self) -> &TrainingData {
        self.test_data.as_ref().unwrap_or(&self.data)
    }

    pub fn test_part(&self) -> TestPart {
        let (data, shares) = (&self.data, &self.shares);
        match &self.test_data {
            Some(t) => TestPart {
                rows: (0..t.len()).collect(),
                name: format!("{} (cross-dataset test)", t.dataset),
                dataset: Some(t.dataset.clone()),
            },
            None => TestPart {
                rows: self.split.test.clone(),
                name: format!(
                    "{} (test split: last {:.0}% of the {})",
                    data.dataset,
                    (1.0 - shares.train - shares.validation) * 100.0,
                    match shares.by {
                        crate::model::split::SplitBy::Time => "time span",
                        crate::model::split::SplitBy::Rows => "rows in time order",
                        crate::model::split::SplitBy::Capture => "time span of every capture",
                    }
                ),
                dataset: None,
            },
        }
    }

    /// Labels of the validation rows (attack = true).
    pub fn validation_labels(&self) -> Vec<bool> {
        self.split
            .validation
            .iter()
            .map(|&i| self.data.is_positive(i))
            .collect()
    }

    /// Which validation windows' scores set the stored threshold's false-positive rate,
    /// as a mask over the validation rows, and its name for the model file.
    ///
    /// Simulated benign hosts are quieter than real ones: a threshold at 1% FPR on them
    /// alerts on a large share of a real LAN's windows (measured: half of the attack
    /// lab's benign host windows). So when the validation split holds enough windows of
    /// captured traffic (files, feature tables), only those count, and only windows of
    /// hosts that both sent and received: spoofed one-packet sources and idle hosts are
    /// trivially benign and would make 1% of them a much lower bar.
    pub fn reference_negatives(&self) -> (Vec<bool>, &'static str) {
        let data = &self.data;
        let (out, inn) = (F::PktsOut as usize, F::PktsIn as usize);
        let mask: Vec<bool> = self
            .split
            .validation
            .iter()
            .map(|&i| {
                let row = data.row(i);
                data.is_captured(i) && row[out] >= 1.0 && row[inn] >= 1.0
            })
            .collect();
        let negatives = mask
            .iter()
            .zip(&self.split.validation)
            .filter(|(&m, &i)| m && !data.is_positive(i))
            .count();
        if negatives >= MIN_REFERENCE_NEGATIVES {
            (mask, "captured_two_way")
        } else {
            (vec![true; self.split.validation.len()], "all")
        }
    }

    /// The model file's `training.split`.
    pub fn split_info(&self) -> SplitInfo {
        SplitInfo {
            mode: if self.test_data.is_some() {
                "cross_dataset".into()
            } else {
                "time".into()
            },
            shares: self.shares,
            purge_gap_s: self.longest,
        }
    }

    /// The model file's `training.rows`.
    pub fn row_counts(&self, test_rows: &[usize]) -> RowCounts {
        let (data, split) = (&self.data, &self.split);
        RowCounts {
            train: split.train.len() as u64,
            train_positives: data.positives(&split.train) as u64,
            validation: split.validation.len() as u64,
            validation_positives: data.positives(&split.validation) as u64,
            test: test_rows.len() as u64,
            test_positives: self.tdata().positives(test_rows) as u64,
            purged: split.purged as u64,
            unused: split.unused as u64,
        }
    }

    /// The model file's `training.data_sha256` (train and validation rows).
    pub fn data_sha256(&self) -> String {
        rows_sha256(&self.data, &[&self.split.train, &self.split.validation])
    }

    /// Inputs that failed in either dataset, and their errors.
    pub fn input_warnings(&self) -> (usize, Vec<String>) {
        let mut warnings = Vec::new();
        let mut failed_inputs = 0;
        for d in std::iter::once(&self.data).chain(self.test_data.as_ref()) {
            failed_inputs += d.run.failed_inputs();
            warnings.extend(d.run.inputs.iter().filter_map(|i| i.error.clone()));
        }
        (failed_inputs, warnings)
    }
}

/// Captured two-way negative windows needed before they alone set the threshold.
const MIN_REFERENCE_NEGATIVES: usize = 1000;

/// The stored threshold: the one reaching [`TARGET_FPR`] on the validation split's
/// reference negatives ([`Collected::reference_negatives`]); TPR over all validation
/// attack windows.
pub(crate) fn validation_threshold(
    labels: &[bool],
    scores: &[f64],
    reference: &[bool],
    negatives: &str,
) -> Threshold {
    let (l, s): (Vec<bool>, Vec<f64>) = labels
        .iter()
        .zip(scores)
        .zip(reference)
        .filter(|((&y, _), &r)| y || r)
        .map(|((&y, &s), _)| (y, s))
        .unzip();
    let at = threshold_at_fpr(&l, &s, TARGET_FPR);
    Threshold {
        value: at.threshold,
        target_fpr: TARGET_FPR,
        chosen_on: "validation".into(),
        negatives: Some(negatives.to_string()),
        tpr: at.tpr,
        fpr: at.fpr,
    }
}

/// A model evaluated on the test rows next to the rules baseline.
pub(crate) struct Tested {
    pub test: EvalResult,
    pub rules_test: EvalResult,
    /// The model's scored windows (rows in emission order).
    pub model_windows: Vec<ScoredWindow>,
    pub report_index: PathBuf,
}

/// Scores the test rows with the model (as loaded from disk) and the rules, evaluates
/// both and writes the report (`--report`, else `reports/<dataset>-<model>-test`).
pub(crate) fn evaluate_and_report(
    a: &TrainArgs,
    c: &Collected,
    test: &TestPart,
    scorer: &dyn Scorer,
    importance: Option<&ImportanceInfo>,
) -> Result<Tested> {
    let (tdata, cfg) = (c.tdata(), &c.cfg);
    let rules = RulesScorer::new(&tdata.schema)?;
    let (mut windows, labeler, matched) = test_windows(tdata, &test.rows, &[scorer, &rules]);
    let rules_windows = windows.pop().unwrap_or_default();
    let model_windows = windows.pop().unwrap_or_default();
    let (width_s, hop_s) = (cfg.widths_s[0], cfg.hop_s);
    let result = evaluate(
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
    let report_dir = a.report.clone().unwrap_or_else(|| {
        let ds_name = std::path::Path::new(&tdata.dataset)
            .file_name()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "dataset".into());
        PathBuf::from("reports").join(format!("{ds_name}-{}-test", model_name(&a.out)))
    });
    let report_index = write_report_with(
        &report_dir,
        &tdata.info(test.name.clone()),
        cfg,
        &[
            ModelRun {
                result: result.clone(),
                windows: &model_windows,
            },
            ModelRun {
                result: rules_test.clone(),
                windows: &rules_windows,
            },
        ],
        importance,
    )?;
    Ok(Tested {
        test: result,
        rules_test,
        model_windows,
        report_index,
    })
}

/// `workbench train` on resolved datasets (`test_ds` plays `--test-dataset`).
pub fn train_datasets(
    a: &TrainArgs,
    ds: &Dataset,
    test_ds: Option<&Dataset>,
    quiet: bool,
) -> Result<TrainOutcome> {
    let started = Instant::now();
    let (params, cfg, shares) = check_args(a, test_ds.is_some())?;
    let c = collect_and_split(ds, test_ds, &cfg, shares, quiet, started)?;
    let (data, split) = (&c.data, &c.split);

    if let Some(path) = &a.dump_rows {
        dump_rows(path, data, split, c.test_data.as_ref())?;
    }

    // Fit.
    let fit_started = Instant::now();
    let fitted = fit_algo(a, &params, data, split)?;
    let fit_s = fit_started.elapsed().as_secs_f64();

    // Threshold on the validation split.
    let val_labels = c.validation_labels();
    let val_scores: Vec<f64> = split
        .validation
        .iter()
        .map(|&i| fitted.predict_proba(data.row(i)))
        .collect();
    let validation_pr_auc = average_precision(&val_labels, &val_scores);

    let test = c.test_part();
    let tdata = c.tdata();
    let feature_importance = match &fitted.logistic {
        Some(l) => l.feature_importance(&data.schema.names),
        None => fitted.ensemble.feature_importance(&data.schema.names),
    };
    let model = ModelFile {
        format: FORMAT.into(),
        format_version: FORMAT_VERSION,
        kind: fitted.kind,
        workbench_version: env!("CARGO_PKG_VERSION").into(),
        schema_fingerprint: data.schema.fingerprint(),
        schema: data.schema.clone(),
        window: cfg.clone(),
        threshold: {
            let (reference, name) = c.reference_negatives();
            validation_threshold(&val_labels, &val_scores, &reference, name)
        },
        training: TrainingInfo {
            datasets: vec![data.dataset.clone()],
            test_dataset: test.dataset.clone(),
            data_sha256: c.data_sha256(),
            split: c.split_info(),
            rows: c.row_counts(&test.rows),
            params: fitted.gbdt.as_ref().map(|g| g.0.clone()),
            fit: fitted.gbdt.map(|g| g.1),
            validation_pr_auc,
            forest: fitted.forest,
            logistic: fitted.logistic_fit,
        },
        feature_importance,
        ensemble: fitted.ensemble,
        logistic: fitted.logistic,
    };
    model.save(&a.out)?;
    let onnx = export_onnx(a, &model, tdata, &test.rows)?;

    // Evaluate what is on disk, on the test rows.
    let loaded = ModelFile::load(&a.out)?;
    if loaded != model {
        bail!(
            "model file {} does not read back as it was written",
            a.out.display()
        );
    }
    loaded.check_schema(&tdata.schema)?;
    let scorer = model_scorer(model_name(&a.out), &loaded)?;
    let importance = ImportanceInfo {
        model: model_name(&a.out),
        measure: if model.kind == ModelKind::Logistic {
            "|coefficient| × std".into()
        } else {
            "total split gain".into()
        },
        features: model.feature_importance.clone(),
    };
    let tested = evaluate_and_report(a, &c, &test, scorer.as_ref(), Some(&importance))?;
    let (failed_inputs, warnings) = c.input_warnings();
    Ok(TrainOutcome {
        model,
        path: a.out.clone(),
        test_name: test.name,
        test: tested.test,
        rules_test: tested.rules_test,
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

pub(crate) fn fmt_opt(x: Option<f64>) -> String {
    x.map_or("n/a".to_string(), |v| format!("{v:.4}"))
}

/// Prints a training run for people.
pub fn print_train(out: &mut dyn Write, o: &TrainOutcome) -> Result<()> {
    let t = &o.model.training;
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
            crate::model::split::SplitBy::Time => "time span",
            crate::model::split::SplitBy::Rows => "rows",
            crate::model::split::SplitBy::Capture => "time span of every capture",
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
    if let (Some(p), Some(f)) = (&t.params, &t.fit) {
        writeln!(
            out,
            "gbdt: {} of {} trees kept (max {}{}, depth {}, learning rate {}), positive weight {:.1}, fitted in {:.2} s",
            f.trees_kept,
            f.trees_fitted,
            p.trees,
            if p.bag > 1 { format!(" in each of {} bagged ensembles", p.bag) } else { String::new() },
            p.depth,
            p.learning_rate,
            f.positive_weight,
            o.timings.fit_s
        )?;
    }
    if let Some(p) = &t.forest {
        writeln!(
            out,
            "forest: {} trees (depth {}, {} bootstrap rows each), positive weight {:.1}, fitted in {:.2} s",
            p.trees, p.depth, p.sample_rows, p.positive_weight, o.timings.fit_s
        )?;
    }
    if let Some(l) = &t.logistic {
        writeln!(
            out,
            "logistic: {} Newton iterations ({}), L2 {}, positive weight {:.1}, fitted in {:.2} s",
            l.iterations,
            if l.converged {
                "converged"
            } else {
                "not converged"
            },
            l.params.l2,
            l.params.positive_weight,
            o.timings.fit_s
        )?;
    }
    let th = &o.model.threshold;
    writeln!(
        out,
        "validation: PR-AUC {}; threshold at {}% FPR {} (TPR {:.3}, FPR {:.4})",
        fmt_opt(t.validation_pr_auc),
        th.target_fpr * 100.0,
        if th.value.abs() >= 1e-3 || th.value == 0.0 {
            format!("{:.6}", th.value)
        } else {
            format!("{:.3e}", th.value)
        },
        th.tpr,
        th.fpr
    )?;
    print_test(out, &o.test_name, &o.test, None, &o.rules_test)?;
    let top: Vec<String> = o
        .model
        .feature_importance
        .iter()
        .take(5)
        .filter(|i| i.gain > 0.0)
        .map(|i: &FeatureImportance| format!("{} {:.1}%", i.feature, i.gain_share * 100.0))
        .collect();
    writeln!(
        out,
        "top features by {}: {}",
        if o.model.kind == ModelKind::Logistic {
            "|coefficient| x std"
        } else {
            "gain"
        },
        top.join(", ")
    )?;
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
pub(crate) fn print_test(
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
pub(crate) fn print_files(
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
pub fn train_json(o: &TrainOutcome) -> serde_json::Value {
    serde_json::json!({
        "model": o.path.display().to_string(),
        "training": o.model.training,
        "threshold": o.model.threshold,
        "feature_importance": o.model.feature_importance,
        "test_name": o.test_name,
        "test": o.test,
        "rules_test": o.rules_test,
        "report": o.report_index.as_ref().map(|p| p.display().to_string()),
        "onnx": o.onnx,
        "timings": o.timings,
    })
}
