//! What a learning algorithm provides to `workbench train`. A [`Trainer`] fits the
//! training rows into a [`Trained`] model; the training run (crate `train` module) picks
//! its threshold on the validation split and has it [`Trained::save`] itself as a model
//! file with the shared facts ([`FileFacts`]); the [`SavedModel`] read back from disk is
//! what is exported and evaluated. Algorithms are listed in [`super::registry`].

use std::any::Any;
use std::path::Path;

use anyhow::Result;
use serde::Serialize;

use super::dataset::TrainingData;
use super::file::{RowCounts, SplitInfo, Threshold};
use super::gbdt::{GbdtParams, PositiveWeight};
use super::onnx::OnnxForm;
use super::tree::FeatureImportance;
use crate::engine::{FeatureSchema, WindowConfig};
use crate::eval::scorer::Scorer;

/// Every algorithm's knobs, as the command line gives them; each algorithm reads the
/// ones it has.
#[derive(Clone, Debug, PartialEq)]
pub struct TrainParams {
    /// Most trees (boosting rounds for `gbdt`, trees for `forest`).
    pub trees: usize,
    /// Most depth of a boosted tree.
    pub depth: usize,
    pub learning_rate: f32,
    pub min_child_weight: f32,
    pub l2: f32,
    pub subsample: f32,
    pub colsample: f64,
    /// Rounds without validation improvement before boosting stops (0: never).
    pub early_stopping: usize,
    pub positive_weight: PositiveWeight,
    pub seed: u64,
    /// Boosted ensembles averaged.
    pub bag: usize,
    /// Most depth of a forest tree.
    pub forest_depth: usize,
    /// Bootstrap rows per forest tree.
    pub sample_rows: usize,
}

impl Default for TrainParams {
    /// The command line's defaults.
    fn default() -> Self {
        TrainParams {
            trees: 200,
            depth: 6,
            learning_rate: 0.1,
            min_child_weight: 1.0,
            l2: 1.0,
            subsample: 1.0,
            colsample: 1.0,
            early_stopping: 20,
            positive_weight: PositiveWeight::Sqrt,
            seed: 0,
            bag: 1,
            forest_depth: 12,
            sample_rows: 200_000,
        }
    }
}

impl TrainParams {
    /// The boosting parameters these describe.
    pub fn gbdt(&self) -> GbdtParams {
        GbdtParams {
            trees: self.trees,
            depth: self.depth,
            learning_rate: self.learning_rate,
            min_child_weight: self.min_child_weight,
            l2: self.l2,
            subsample: self.subsample,
            colsample: self.colsample,
            early_stopping_rounds: (self.early_stopping > 0).then_some(self.early_stopping),
            positive_weight: self.positive_weight,
            seed: self.seed,
            bag: self.bag,
            ..GbdtParams::default()
        }
    }

    /// The weight of an attack row on the training rows `train` of `data`.
    pub fn positive_weight_for(&self, data: &TrainingData, train: &[usize]) -> f64 {
        let pos = data.positives(train).max(1) as f64;
        let neg = (train.len() as f64 - pos).max(1.0);
        match self.positive_weight {
            PositiveWeight::Balanced => neg / pos,
            PositiveWeight::Sqrt => (neg / pos).sqrt(),
            PositiveWeight::Fixed(w) => w,
        }
    }
}

/// The rows a fit sees.
pub struct FitJob<'a> {
    pub data: &'a TrainingData,
    /// Rows to fit on.
    pub train: &'a [usize],
    /// Rows for early stopping and calibration (never the test rows).
    pub validation: &'a [usize],
    pub params: &'a TrainParams,
}

/// Where a model came from: the part of every model file that is the same for all
/// algorithms.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct FileFacts {
    pub schema: FeatureSchema,
    pub window: WindowConfig,
    pub threshold: Threshold,
    /// The training dataset(s).
    pub datasets: Vec<String>,
    /// The test dataset in cross-dataset mode.
    pub test_dataset: Option<String>,
    /// sha256 over the train and validation rows.
    pub data_sha256: String,
    pub split: SplitInfo,
    pub rows: RowCounts,
    /// PR-AUC on the validation split.
    pub validation_pr_auc: Option<f64>,
}

/// Feature importance and what it measures.
#[derive(Clone, Debug)]
pub struct Importance {
    /// Most important first.
    pub features: Vec<FeatureImportance>,
    /// `total split gain`, `|coefficient| × std`, ...
    pub measure: &'static str,
}

/// A learning algorithm.
pub trait Trainer: Sync {
    /// Checks the parameters before any data is read (errors name the option).
    fn check(&self, _params: &TrainParams) -> Result<()> {
        Ok(())
    }

    /// Fits the model on `job.train` (using `job.validation` only as the algorithm
    /// documents: early stopping, calibration).
    fn fit(&self, job: &FitJob<'_>) -> Result<Box<dyn Trained>>;
}

/// A fitted model, before it has a threshold and a file.
pub trait Trained {
    /// The attack probability of a training row.
    fn predict_proba(&self, row: &[f32]) -> f64;

    /// Lines describing the fit, for people (`fit_s`: seconds it took).
    fn describe(&self, fit_s: f64) -> Vec<String>;

    /// A note on the validation split appended to its line (e.g. members' PR-AUC).
    fn validation_note(
        &self,
        _data: &TrainingData,
        _rows: &[usize],
        _labels: &[bool],
    ) -> Option<String> {
        None
    }

    /// Feature importance, when the algorithm has one.
    fn importance(&self, names: &[String]) -> Option<Importance>;

    /// Writes the model file at `path` and reads it back: what is returned is the
    /// file as loaded, refused unless it equals what was written.
    fn save(self: Box<Self>, path: &Path, facts: FileFacts) -> Result<Box<dyn SavedModel>>;
}

/// A model file as read back after training.
pub trait SavedModel: Any {
    /// The `kind` of the file (the algorithm's registry name).
    fn kind(&self) -> &str;
    /// The stored threshold.
    fn threshold(&self) -> &Threshold;
    /// The scorer of the file, named `name` in reports.
    fn scorer(&self, name: String) -> Result<Box<dyn Scorer>>;
    /// The file's `training` section (printed by `train --json`).
    fn training_json(&self) -> serde_json::Value;
    /// The ONNX bytes of the file, its facts as metadata, in `form` or in the one form
    /// the kind has; returns the form written.
    fn onnx(&self, form: OnnxForm) -> Result<(OnnxForm, Vec<u8>)>;
    /// The file's own attack probability of a training row (checks the ONNX export).
    fn proba(&self, row: &[f32]) -> f64;
    /// Figures on the test rows besides the evaluation (a line for people, and JSON
    /// under `name`).
    fn test_note(
        &self,
        _data: &TrainingData,
        _rows: &[usize],
        _labels: &[bool],
    ) -> Option<TestNote> {
        None
    }
    /// For callers that know the concrete file type.
    fn as_any(&self) -> &dyn Any;
}

/// Extra test figures of an algorithm (see [`SavedModel::test_note`]).
#[derive(Clone, Debug)]
pub struct TestNote {
    /// Printed after the model's test line.
    pub line: String,
    /// JSON key of `value` in `train --json`.
    pub name: &'static str,
    pub value: serde_json::Value,
}
