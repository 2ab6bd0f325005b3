//! Arguments of the commands that score and train models: `eval`, `compare`, `train`.
//! Each converts to the library's plain configuration before anything runs.

use std::path::PathBuf;

use clap::Args;

use super::common::WindowArgs;
use crate::experiment::{CompareConfig, EvalConfig};
use crate::model::TrainParams;
use crate::train::TrainConfig;

/// `workbench eval` options.
#[derive(Debug, Args)]
pub struct EvalArgs {
    /// A manifest name (see `workbench datasets list`) or a directory of captures with
    /// a labels.csv.
    #[arg(short, long, default_value = "synthetic", value_name = "NAME|DIR")]
    pub dataset: String,
    /// Scorer: `default` (the trained model shipped in models/ and built into the
    /// binary), `rules` (seed 003), `formula` (seed 000), a model file (`*.wbm.json`)
    /// written by `workbench train`, or an ONNX model (`*.onnx`, from `train --export
    /// onnx`). ONNX runs with tract; WORKBENCH_ONNX_ENGINE=ort uses onnxruntime
    /// (builds with `--features ort`, library from ORT_DYLIB_PATH).
    /// --foreign-model accepts ONNX models without workbench metadata.
    #[arg(short, long, default_value = "default", value_name = "MODEL")]
    pub model: String,
    /// Accept an ONNX model without workbench metadata (XGBoost via onnxmltools,
    /// scikit-learn via skl2onnx with zipmap off): its input must be float [N, k] with
    /// k = the schema's width, columns in `workbench schema` order (the column order
    /// of `workbench features --out x.parquet`); column 1 of its `probabilities`
    /// output is the attack probability; threshold 0.5. Nothing checks that it was
    /// trained on these features: that is on you.
    #[arg(long)]
    pub foreign_model: bool,
    /// Report directory [default: reports/<dataset>-<model>].
    #[arg(long, value_name = "DIR")]
    pub report: Option<PathBuf>,
    /// Where a manifest's files live (overrides its root).
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Also write every scored window (window_end, host, score, label, attack_type) as
    /// CSV, for checking the metrics with other tools.
    #[arg(long, value_name = "FILE")]
    pub scores: Option<PathBuf>,
    #[command(flatten)]
    pub window: WindowArgs,
}

/// `workbench compare` options.
#[derive(Debug, Args)]
pub struct CompareArgs {
    /// A manifest name or a directory of captures with a labels.csv.
    #[arg(short, long, default_value = "synthetic", value_name = "NAME|DIR")]
    pub dataset: String,
    /// Comma-separated scorers, as for `eval --model`: rules, formula, *.wbm.json,
    /// *.onnx.
    #[arg(short, long, value_name = "A,B,...")]
    pub models: String,
    /// Report directory [default: reports/<dataset>-compare].
    #[arg(long, value_name = "DIR")]
    pub report: Option<PathBuf>,
    /// Where a manifest's files live (overrides its root).
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Accept ONNX models without workbench metadata (see `eval --foreign-model`).
    #[arg(long)]
    pub foreign_model: bool,
    #[command(flatten)]
    pub window: WindowArgs,
}

/// `workbench train` options.
#[derive(Debug, Args)]
pub struct TrainArgs {
    /// Dataset to train on: a manifest name or a directory of captures with labels.csv.
    #[arg(short, long, value_name = "NAME|DIR")]
    pub dataset: String,
    /// Test on this dataset instead of the last part of --dataset (cross-dataset mode:
    /// --dataset is then split 80/20 into train and validation, by time).
    #[arg(long, value_name = "NAME|DIR")]
    pub test_dataset: Option<String>,
    /// Learning algorithm: `gbdt` (gradient-boosted trees), `forest` (random forest:
    /// --trees, --forest-depth, --sample-rows, --seed) or `logistic` (L2 logistic
    /// regression on standardised features). --positive-weight applies to all three.
    /// `unsupervised` (alias `ensemble`): seed 003's k-means / LOF / one-class SVM
    /// ensemble plus an isolation forest, fitted on benign windows only (--seed).
    #[arg(long, default_value = "gbdt", value_name = "ALGO")]
    pub algo: String,
    /// Model file to write (must end in .wbm.json).
    #[arg(short, long, value_name = "FILE")]
    pub out: PathBuf,
    /// Also export the model: `onnx` writes `<out>.onnx` next to the model file (the
    /// `.wbm.json` replaced by `.onnx`), with the model file's facts (schema
    /// fingerprint, threshold, window, training data) as ONNX metadata; `eval --model
    /// FILE.onnx` scores with it. Checked against the native model on test rows.
    #[arg(long, value_name = "FORMAT", value_parser = ["onnx"])]
    pub export: Option<String>,
    /// ONNX graph for --export onnx: `tree_ensemble` (one standard ai.onnx.ml
    /// TreeEnsembleClassifier, portable), `plain` (standard operators only, much faster
    /// in tract), or `both` (`<out>.onnx` as tree_ensemble plus `<out>.plain.onnx`).
    #[arg(long, default_value = "tree_ensemble", value_name = "FORM",
          value_parser = ["tree_ensemble", "plain", "both"])]
    pub onnx_form: String,
    /// Report directory for the test evaluation [default: reports/<test data>-<model>].
    #[arg(long, value_name = "DIR")]
    pub report: Option<PathBuf>,
    /// Where a manifest's files live (overrides its root).
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Train and validation shares, `TRAIN,VALIDATION`, in time order; the test split
    /// is the rest [default: 0.6,0.2, or 0.8,0.2 with --test-dataset].
    #[arg(long, value_name = "TRAIN,VAL")]
    pub split: Option<crate::model::SplitConfig>,
    /// Whether the shares are of the time span (`time`: first 60% of the time), of
    /// the rows (`rows`: earliest 60% of the windows; flood bursts with one row per
    /// spoofed source then dominate), or of each capture's own time span (`capture`:
    /// the first 60% of every capture, simulation and feature table, for datasets
    /// whose captures were made years apart).
    #[arg(long, default_value = "time", value_name = "time|rows|capture")]
    pub split_by: crate::model::split::SplitBy,
    /// Most trees (boosting rounds).
    #[arg(long, default_value_t = 200, value_name = "N")]
    pub trees: usize,
    /// Most depth of a tree.
    #[arg(long, default_value_t = 6, value_name = "N")]
    pub depth: usize,
    /// Learning rate (shrinkage of each tree).
    #[arg(long, default_value_t = 0.1, value_name = "X")]
    pub learning_rate: f32,
    /// Smallest sum of (weighted) hessians in a leaf.
    #[arg(long, default_value_t = 1.0, value_name = "X")]
    pub min_child_weight: f32,
    /// L2 regularisation of leaf weights.
    #[arg(long, default_value_t = 1.0, value_name = "X")]
    pub l2: f32,
    /// Share of rows sampled for each tree (1 = no sampling).
    #[arg(long, default_value_t = 1.0, value_name = "X")]
    pub subsample: f32,
    /// Share of feature columns sampled for each tree (1 = all).
    #[arg(long, default_value_t = 1.0, value_name = "X")]
    pub colsample: f64,
    /// Stop after this many trees without improvement of the validation log loss
    /// (0 = train all --trees).
    #[arg(long, default_value_t = 20, value_name = "N")]
    pub early_stopping: usize,
    /// Weight of attack windows: `balanced` (benign/attack count of the training
    /// split), `sqrt` (its square root) or a number (1 = unweighted).
    #[arg(long, default_value = "sqrt", value_name = "W")]
    pub positive_weight: crate::model::PositiveWeight,
    /// Seed of the row/column sampling: the same seed and data give the same file.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// `--algo gbdt`: average this many boosted ensembles trained with seeds SEED,
    /// SEED+1, ... (bagging; their margins are averaged into one ensemble of all their
    /// trees). Costs N times the training and scoring time; reduces the variance
    /// sampling puts into one ensemble.
    #[arg(long, default_value_t = 1, value_name = "N")]
    pub bag: usize,
    /// `--algo forest`: most depth of a tree.
    #[arg(long, default_value_t = 12, value_name = "N")]
    pub forest_depth: usize,
    /// `--algo forest`: bootstrap rows drawn for each tree (at most the training rows).
    #[arg(long, default_value_t = 200_000, value_name = "N")]
    pub sample_rows: usize,
    /// Also write every labelled row (split part, window end, host, label, features)
    /// as CSV, for benchmarks and experiments with other trainers.
    #[arg(long, value_name = "FILE", hide = true)]
    pub dump_rows: Option<PathBuf>,
    #[command(flatten)]
    pub window: WindowArgs,
}

impl TrainArgs {
    /// The training run these arguments describe.
    pub fn config(&self) -> TrainConfig {
        TrainConfig {
            dataset: self.dataset.clone(),
            test_dataset: self.test_dataset.clone(),
            algo: self.algo.clone(),
            out: self.out.clone(),
            export_onnx: self.export.is_some(),
            onnx_form: self.onnx_form.clone(),
            report: self.report.clone(),
            data_dir: self.data_dir.clone(),
            split: self.split,
            split_by: self.split_by,
            params: TrainParams {
                trees: self.trees,
                depth: self.depth,
                learning_rate: self.learning_rate,
                min_child_weight: self.min_child_weight,
                l2: self.l2,
                subsample: self.subsample,
                colsample: self.colsample,
                early_stopping: self.early_stopping,
                positive_weight: self.positive_weight,
                seed: self.seed,
                bag: self.bag,
                forest_depth: self.forest_depth,
                sample_rows: self.sample_rows,
            },
            dump_rows: self.dump_rows.clone(),
            window: self.window.config(),
        }
    }
}

impl EvalArgs {
    /// The evaluation these arguments describe.
    pub fn config(&self) -> EvalConfig {
        EvalConfig {
            dataset: self.dataset.clone(),
            model: self.model.clone(),
            foreign_model: self.foreign_model,
            report: self.report.clone(),
            data_dir: self.data_dir.clone(),
            scores: self.scores.clone(),
            window: self.window.config(),
        }
    }
}

impl CompareArgs {
    /// The comparison these arguments describe (an empty `--models` item is an error).
    pub fn config(&self) -> anyhow::Result<CompareConfig> {
        Ok(CompareConfig {
            dataset: self.dataset.clone(),
            models: crate::experiment::parse_models(&self.models)?,
            report: self.report.clone(),
            data_dir: self.data_dir.clone(),
            foreign_model: self.foreign_model,
            window: self.window.config(),
        })
    }
}
